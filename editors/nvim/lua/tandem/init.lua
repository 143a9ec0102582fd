-- tandem: a Neovim plugin hosting tandem agent sessions in-process through LuaJIT's FFI. One client per Neovim, one
-- session per working directory (the stable workdir session ID, so a conversation resumes from the store when
-- Neovim starts again), a chat buffer per session. Minimum Neovim: 0.7.2 (LuaJIT build).
local C = require("tandem.client")
local Session = require("tandem.session")

local M = {}

M.MIN_NVIM = "0.7.2"

local defaults = {
  -- Path of libtandem.so; nil searches the build (target/release, target/debug), pkg-config's libdir, /usr/local/lib.
  library = nil,
  -- The client config (tandem_client_new): store_dir, worker_threads, session_defaults, ...
  client = {},
  -- Session options (tandem_session_start_or_get) besides `workdir`: model, script, approval, base_url, ...
  session = {},
  -- How the chat opens: "vertical" (a split on the right), "horizontal", "tab" or "current".
  layout = "vertical",
  -- Width (vertical) or height (horizontal) of the chat window; the input window below it has `input_height` lines.
  size = 80,
  input_height = 3,
  -- At most one buffer update per this many milliseconds while text streams (one frame at 60 Hz).
  render_interval_ms = 16,
  -- Fold tool calls (their arguments and results) under one line.
  fold_tools = true,
  -- Called after every render and every turn end (for tests and benchmarks).
  on_render = nil,
  on_turn_ended = nil,
}

M.config = vim.deepcopy(defaults)
M.client = nil
M.sessions = {} -- by session ID
M.by_buf = {} -- chat or input buffer -> session

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  return M
end

local function err(msg)
  vim.notify("tandem: " .. tostring(msg), vim.log.levels.ERROR)
end

local function deliver(ev)
  local s = ev.session_id and M.sessions[ev.session_id]
  if s then
    local ok, e = pcall(s.handle, s, ev)
    if not ok then
      err("event " .. tostring(ev.kind) .. ": " .. tostring(e))
    end
  end
end

local function is_delta(ev)
  return ev.kind == "text_delta" or ev.kind == "thinking_delta"
end

-- Handles a burst of events, oldest first. A run of deltas of one message becomes one delta: the chat changes once
-- per run instead of once per token.
local function on_events(events)
  local i, n = 1, #events
  while i <= n do
    local ev = events[i]
    i = i + 1
    if is_delta(ev) then
      local parts
      while i <= n do
        local nx = events[i]
        if nx.kind ~= ev.kind or nx.session_id ~= ev.session_id or nx.message_id ~= ev.message_id then
          break
        end
        parts = parts or { ev.delta }
        parts[#parts + 1] = nx.delta
        i = i + 1
      end
      if parts then
        ev = { kind = ev.kind, session_id = ev.session_id, message_id = ev.message_id, delta = table.concat(parts) }
      end
    end
    deliver(ev)
  end
end

-- The client, created on first use.
function M.get_client()
  if M.client then
    return M.client
  end
  local client, e = C.new(M.config.client, M.config.library, on_events)
  if not client then
    return nil, e
  end
  M.client = client
  vim.api.nvim_create_autocmd("VimLeavePre", {
    group = vim.api.nvim_create_augroup("tandem_shutdown", { clear = true }),
    callback = function()
      M.shutdown()
    end,
  })
  return client
end

-- Stops every session (flushing it to the store) and frees the client.
function M.shutdown()
  for _, s in pairs(M.sessions) do
    s.chat:close()
  end
  if M.client then
    M.client:close(5000)
  end
  M.client = nil
  M.sessions, M.by_buf = {}, {}
end

-- The session of working directory `dir` (default: the current one), started or resumed.
function M.session(dir)
  local client, e = M.get_client()
  if not client then
    return nil, e
  end
  dir = vim.fn.fnamemodify(dir or vim.fn.getcwd(), ":p"):gsub("/$", "")
  if dir == "" then
    dir = "/"
  end
  local id, e2 = C.workdir_session_id(dir)
  if not id then
    return nil, e2
  end
  if M.sessions[id] then
    return M.sessions[id]
  end
  local options = vim.tbl_extend("force", vim.deepcopy(M.config.session), { workdir = dir })
  local got, e3 = client:string("session_start_or_get", id, vim.json.encode(options))
  if not got then
    return nil, e3
  end
  local s = Session.new(client, got, dir, M.config)
  M.sessions[got] = s
  M.by_buf[s.chat.buf] = s
  return s
end

-- The session of the current buffer (a chat or input buffer), else of the current directory.
function M.current()
  local s = M.by_buf[vim.api.nvim_get_current_buf()]
  if s then
    return s
  end
  return M.session()
end

local function win_of(buf)
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(win) == buf then
      return win
    end
  end
end

local function input_buffer(s)
  if s.input_buf and vim.api.nvim_buf_is_valid(s.input_buf) then
    return s.input_buf
  end
  local buf = require("tandem.chat").scratch("tandem-input://" .. s.workdir, "tandem-input")
  local submit = function()
    M.submit_input(s)
  end
  vim.keymap.set("n", "<CR>", submit, { buffer = buf, desc = "tandem: send (steering while a turn runs)" })
  vim.keymap.set({ "n", "i" }, "<C-s>", submit, { buffer = buf, desc = "tandem: send" })
  vim.keymap.set("n", "<C-c>", function()
    s:abort()
  end, { buffer = buf, desc = "tandem: abort the turn" })
  s.input_buf = buf
  M.by_buf[buf] = s
  return buf
end

-- Sends the input buffer's text: a new turn when idle, steering while a turn runs.
function M.submit_input(s)
  local buf = input_buffer(s)
  local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  if text:match("^%s*$") then
    return
  end
  if s:send(text) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
  end
end

local function setup_chat_window(win)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  if M.config.fold_tools then
    vim.wo[win].foldmethod = "expr"
    vim.wo[win].foldexpr = "getline(v:lnum)=~#'^  │'?1:0"
    vim.wo[win].foldlevel = 0
    vim.wo[win].foldenable = true
  end
end

-- Opens (or focuses) the chat of the current directory's session, with its input window below it.
function M.open()
  local s, e = M.session()
  if not s then
    return nil, e
  end
  local win = win_of(s.chat.buf)
  if not win then
    local layout = M.config.layout
    if layout == "vertical" then
      vim.cmd("botright " .. M.config.size .. "vsplit")
    elseif layout == "horizontal" then
      vim.cmd("botright " .. M.config.size .. "split")
    elseif layout == "tab" then
      vim.cmd("tabnew")
    end
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, s.chat.buf)
    setup_chat_window(win)
    local n = vim.api.nvim_buf_line_count(s.chat.buf)
    vim.api.nvim_win_set_cursor(win, { n, 0 })
    vim.cmd("belowright " .. M.config.input_height .. "split")
    vim.api.nvim_win_set_buf(0, input_buffer(s))
  else
    local iwin = win_of(input_buffer(s))
    vim.api.nvim_set_current_win(iwin or win)
  end
  return s
end

-- :Tandem [prompt]
function M.command(prompt)
  local s, e = M.open()
  if not s then
    return err(e)
  end
  if prompt and prompt ~= "" then
    s:send(prompt)
  end
end

-- After a change made by a command or picker: report the error, or re-read what the chat and statusline show.
local function changed(s, ok, e, reload)
  if not ok then
    return err(e)
  end
  if reload then
    s:reload()
  end
  s:refresh_info()
  return ok
end

local function with_session(fn)
  return function(...)
    local s, e = M.current()
    if not s then
      return err(e)
    end
    return fn(s, ...)
  end
end

M.abort = with_session(function(s)
  local ok, e = s:abort()
  if not ok then
    err(e)
  end
end)

M.follow_up = with_session(function(s, text)
  if not text or text == "" then
    local buf = input_buffer(s)
    text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
  end
  s:send(text, true)
end)

-- Asks again about the pending approval (after the picker was dismissed).
M.approve = with_session(function(s)
  if not s.pending_approval then
    return vim.notify("tandem: no approval is pending")
  end
  s:ask_approval(s.pending_approval)
end)

-- :'<,'>TandemBoundary: limits the session's edits of the current file to the given lines (1-based, inclusive).
function M.boundary(line1, line2, clear)
  local path = vim.api.nvim_buf_get_name(0)
  if path == "" then
    return err("the current buffer has no file")
  end
  local s, e = M.session()
  if not s then
    return err(e)
  end
  local ok, e2
  if clear then
    ok, e2 = s.client:call("session_clear_boundary", s.id, path)
  else
    ok, e2 = s.client:call("session_set_boundary", s.id, path, line1 - 1, line2 - 1)
  end
  if not ok then
    return err(e2)
  end
  vim.notify(
    clear and ("tandem: boundary of " .. path .. " cleared")
      or string.format("tandem: edits of %s limited to lines %d-%d", vim.fn.fnamemodify(path, ":~:."), line1, line2)
  )
  return true
end

-- :TandemTouched: the files the session changed, newest first, in the quickfix list.
M.touched = with_session(function(s, open)
  local files, e = s.client:json("session_touched_files", s.id)
  if not files then
    return err(e)
  end
  local items = {}
  for _, f in ipairs(files) do
    items[#items + 1] = { filename = s:abspath(f.path), lnum = 1, text = tostring(f.action) }
  end
  vim.fn.setqflist({}, " ", { title = "tandem: touched files", items = items })
  if open ~= false and #items > 0 then
    vim.cmd("copen")
  end
  return items
end)

-- :TandemModel [model]: sets the model, or picks one of the session's available models.
M.model = with_session(function(s, name)
  local function set(model)
    changed(s, s.client:call("session_set_model", s.id, model))
  end
  if name and name ~= "" then
    return set(name)
  end
  local models, e = s.client:json("session_available_models", s.id)
  if not models then
    return err(e)
  end
  vim.ui.select(models, {
    prompt = "tandem model",
    kind = "tandem.model",
    format_item = function(m)
      return m.model .. (m.current and " (current)" or "")
    end,
  }, function(m)
    if m then
      set(m.model)
    end
  end)
end)

M.LEVELS = { "off", "low", "medium", "high" }

-- :TandemThinking [level]
M.thinking = with_session(function(s, level)
  local function set(l)
    if changed(s, s.client:call("session_set_thinking_level", s.id, l)) then
      s.thinking = l
      vim.cmd("redrawstatus!")
    end
  end
  if level and level ~= "" then
    return set(level)
  end
  vim.ui.select(M.LEVELS, { prompt = "tandem thinking level", kind = "tandem.thinking" }, function(l)
    if l then
      set(l)
    end
  end)
end)

-- :TandemBranch: branch at the message under the cursor (in the chat) or the last one; :TandemBranches switches.
M.branch_at = with_session(function(s)
  local b
  if vim.api.nvim_get_current_buf() == s.chat.buf then
    b = s.chat:block_at(vim.api.nvim_win_get_cursor(0)[1])
  end
  if not (b and b.message_id) then
    for i = #s.chat.blocks, 1, -1 do
      if s.chat.blocks[i].message_id then
        b = s.chat.blocks[i]
        break
      end
    end
  end
  if not b then
    return err("no message to branch at")
  end
  local res, e = s.client:json("session_branch_at", s.id, b.message_id)
  if not changed(s, res, e, true) then
    return
  end
  vim.notify(string.format("tandem: saved the transcript as %s", tostring(res.name)))
  return res
end)

M.branches = with_session(function(s)
  local list, e = s.client:json("session_list_branches", s.id)
  if not list then
    return err(e)
  end
  if #list == 0 then
    return vim.notify("tandem: no branches yet (:TandemBranch makes one)")
  end
  vim.ui.select(list, {
    prompt = "tandem branch",
    kind = "tandem.branch",
    format_item = function(b)
      return string.format("%d. %s (%d messages)", b.number, b.name, b.message_count)
    end,
  }, function(b)
    if not b then
      return
    end
    local ok, e2 = s.client:call("session_switch_branch", s.id, b.number)
    changed(s, ok, e2, true)
  end)
end)

-- For 'statusline': "tandem idle │ model │ usage │ branches", or "" when no session is open here.
function M.statusline()
  local s = M.by_buf[vim.api.nvim_get_current_buf()]
  if not s then
    for _, any in pairs(M.sessions) do
      s = any
      break
    end
  end
  return s and s:statusline() or ""
end

return M
