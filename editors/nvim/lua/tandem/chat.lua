-- tandem.chat: the chat buffer of one session. The transcript is a list of blocks (a prompt, an answer, a thinking
-- block, a tool call with its result, a notice); streamed deltas change blocks in memory and the buffer is rewritten
-- at most once per frame (`render_interval_ms`), only the lines that changed. Rendering is driven by events: the
-- one-shot timer that defers a render is armed only when a change arrives less than a frame after the last render.
local uv = vim.uv or vim.loop

local M = {}

-- Line prefixes. Tool bodies (arguments, results) are indented with TOOL_BODY so that the chat window's foldexpr
-- folds them under their header line.
M.TOOL_BODY = "  │ "
local PREFIX = { user = "> ", thinking = "┆ ", approval = "  ┊ " }

local Chat = {}
Chat.__index = Chat

local function split(s)
  return vim.split(s or "", "\n", { plain = true })
end

-- A scratch buffer named `name` (a chat or input buffer); one left by an earlier client of this Neovim is wiped
-- first, since buffer names are unique.
function M.scratch(name, filetype)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(b) == name then
      vim.api.nvim_buf_delete(b, { force = true })
    end
  end
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, name)
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = filetype
  return buf
end

function M.new(opts)
  local buf = M.scratch(opts.name, "tandem")
  vim.bo[buf].modifiable = false
  local self = setmetatable({
    buf = buf,
    blocks = {},
    by_key = {},
    interval = opts.render_interval_ms or 16,
    last_render = 0,
    timer = nil,
    dirty = false,
    local_seq = 0,
    empty = true,
    on_render = opts.on_render,
  }, Chat)
  return self
end

-- Block text to buffer lines (without the blank separator every block ends with).
local function format_block(b)
  M.text(b)
  if b.kind == "user" or b.kind == "thinking" then
    local out = {}
    for i, l in ipairs(split(b.text)) do
      out[i] = PREFIX[b.kind] .. l
    end
    return out
  elseif b.kind == "tool" then
    local out = { string.format("⚙ %s %s [%s]", b.name or "tool", b.summary or "", b.status or "running") }
    for _, l in ipairs(split(b.args or "")) do
      out[#out + 1] = M.TOOL_BODY .. l
    end
    if b.partial and not b.result then
      for _, l in ipairs(split(b.partial)) do
        out[#out + 1] = M.TOOL_BODY .. l
      end
    end
    if b.result then
      out[#out + 1] = M.TOOL_BODY .. (b.is_error and "error:" or "result:")
      for _, l in ipairs(split(b.result)) do
        out[#out + 1] = M.TOOL_BODY .. l
      end
    end
    return out
  elseif b.kind == "approval" then
    local out = { string.format("? approval: %s %s [%s]", b.name or "", b.summary or "", b.decision or "pending") }
    for _, l in ipairs(b.preview or {}) do
      out[#out + 1] = PREFIX.approval .. l
    end
    return out
  elseif b.kind == "system" then
    local out = {}
    for i, l in ipairs(split(b.text)) do
      out[i] = (b.level == "error" and "! " or "· ") .. l
    end
    return out
  end
  return split(b.text)
end

-- The block with `key`, created at the end of the transcript with `fields` when missing.
function Chat:block(key, fields)
  local b = self.by_key[key]
  if not b then
    b = fields or {}
    b.key = key
    b.lines = nil
    self.blocks[#self.blocks + 1] = b
    self.by_key[key] = b
  end
  return b
end

-- Marks a block for a full rewrite of its lines.
function Chat:changed(b)
  b.dirty_from = 1
  self.dirty = true
  self:request_render()
end

-- Appends streamed text to a text or thinking block. Only its last line and the new ones are rewritten.
function Chat:append(key, kind, delta)
  local b = self:block(key, { kind = kind, text = "" })
  -- Deltas are kept as chunks (joined when the whole text is needed): appending to one growing string would copy
  -- the answer once per delta.
  local chunks = b.chunks or {}
  b.chunks = chunks
  chunks[#chunks + 1] = delta
  if b.lines and b.rendered then
    local first = #b.lines
    if not delta:find("\n", 1, true) then
      b.lines[first] = b.lines[first] .. delta
    else
      local parts = split(delta)
      local prefix = PREFIX[b.kind] or ""
      b.lines[first] = b.lines[first] .. parts[1]
      for i = 2, #parts do
        b.lines[#b.lines + 1] = prefix .. parts[i]
      end
    end
    b.dirty_from = math.min(b.dirty_from or first, first)
  else
    b.dirty_from = 1
  end
  self.dirty = true
  self:request_render()
  return b
end

-- The whole text of a block (streamed chunks joined).
function M.text(b)
  if b.chunks then
    b.text = (b.text or "") .. table.concat(b.chunks)
    b.chunks = nil
  end
  return b.text
end

-- A new local block (a prompt just sent, a notice) at the end.
function Chat:add(fields)
  self.local_seq = self.local_seq + 1
  local b = self:block("local-" .. self.local_seq, fields)
  self:changed(b)
  return b
end

-- Replaces the whole transcript with `blocks` (from the stored messages) and renders at once.
function Chat:reset(blocks)
  self.blocks, self.by_key = {}, {}
  for _, b in ipairs(blocks) do
    self:block(b.key, b)
  end
  local lines = {}
  for _, b in ipairs(self.blocks) do
    b.lines = format_block(b)
    b.rendered = #b.lines
    b.dirty_from = nil
    for _, l in ipairs(b.lines) do
      lines[#lines + 1] = l
    end
    lines[#lines + 1] = ""
  end
  self:write(0, -1, lines)
  self.empty = #self.blocks == 0
  self.dirty = false
  self.last_render = uv.hrtime() / 1e6
  if self.on_render then
    self.on_render(self)
  end
end

-- Writes lines into the (otherwise read-only) buffer, keeping windows that were at the end following the end.
function Chat:write(first, last, lines)
  local buf = self.buf
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local follow = {}
  local count = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == buf and vim.api.nvim_win_get_cursor(win)[1] >= count - 1 then
      follow[#follow + 1] = win
    end
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, first, last, false, lines)
  vim.bo[buf].modifiable = false
  local n = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(follow) do
    vim.api.nvim_win_set_cursor(win, { n, 0 })
  end
end

-- Renders now if a frame has passed since the last render, else arms the one-shot timer for the rest of the frame.
function Chat:request_render()
  if self.timer_armed then
    return
  end
  local now = uv.hrtime() / 1e6
  local wait = self.last_render + self.interval - now
  if wait <= 0 then
    -- Deferred to the end of the current batch of events (they are handled in one scheduled callback).
    self.timer_armed = true
    vim.schedule(function()
      self.timer_armed = false
      self:render()
    end)
    return
  end
  self.timer = self.timer or uv.new_timer()
  self.timer_armed = true
  self.timer:start(math.ceil(wait), 0, function()
    vim.schedule(function()
      self.timer_armed = false
      self:render()
    end)
  end)
end

-- Writes every changed block's changed lines.
function Chat:render()
  if not self.dirty then
    return
  end
  self.dirty = false
  self.last_render = uv.hrtime() / 1e6
  local off = 0
  for _, b in ipairs(self.blocks) do
    if not b.rendered then
      b.lines = format_block(b)
      local lines = vim.list_extend({}, b.lines)
      lines[#lines + 1] = ""
      -- A fresh buffer has one empty line: the first block replaces it.
      if self.empty then
        self.empty = false
        self:write(0, -1, lines)
      else
        self:write(off, off, lines)
      end
      b.rendered = #b.lines
      b.dirty_from = nil
    elseif b.dirty_from then
      if b.kind ~= "assistant" and b.kind ~= "thinking" then
        b.lines = format_block(b)
      end
      local from = b.dirty_from
      self:write(off + from - 1, off + b.rendered, vim.list_slice(b.lines, from, #b.lines))
      b.rendered = #b.lines
      b.dirty_from = nil
    end
    off = off + b.rendered + 1
  end
  if self.on_render then
    self.on_render(self)
  end
end

-- The block whose lines include buffer line `lnum` (1-based).
function Chat:block_at(lnum)
  local off = 0
  for _, b in ipairs(self.blocks) do
    local n = (b.rendered or 0) + 1
    if lnum > off and lnum <= off + n then
      return b
    end
    off = off + n
  end
end

-- The buffer's text, one string (for tests and :TandemYank-like uses).
function Chat:text()
  return table.concat(vim.api.nvim_buf_get_lines(self.buf, 0, -1, false), "\n")
end

function Chat:close()
  if self.timer then
    self.timer:stop()
    if not self.timer:is_closing() then
      self.timer:close()
    end
    self.timer = nil
  end
end

M.format_block = format_block
return M
