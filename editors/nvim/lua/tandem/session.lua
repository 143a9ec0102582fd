-- tandem.session: one tandem session shown in a chat buffer: turns its events into chat blocks, answers approvals
-- with vim.ui.select, reloads buffers of files it changed, and keeps what the statusline shows (status, model,
-- thinking level, usage, branches) up to date from events, never by polling.
local C = require("tandem.client")
local T = require("tandem.ffi")
local Chat = require("tandem.chat")

local M = {}

local Session = {}
Session.__index = Session

M.APPROVAL_CHOICES = {
  { label = "Approve once", decision = "approve" },
  { label = "Approve for this turn", decision = "approve_turn" },
  { label = "Approve for this session", decision = "approve_session" },
  { label = "Reject", decision = "reject" },
}

local function one_line(s, max)
  s = tostring(s or ""):gsub("%s+", " ")
  if #s > max then
    s = s:sub(1, max - 1) .. "…"
  end
  return s
end

local function json_text(v)
  if C.null(v) then
    return ""
  end
  if type(v) == "string" then
    return v
  end
  local ok, s = pcall(vim.json.encode, v)
  return ok and s or tostring(v)
end

-- A short summary of a tool call's arguments for its header line: the path or command when there is one.
local function tool_summary(args)
  if type(args) ~= "table" then
    return ""
  end
  return one_line(args.path or args.command or args.pattern or json_text(args), 60)
end

-- Stored messages to chat blocks.
function M.blocks_from_messages(messages)
  local blocks = {}
  for _, m in ipairs(messages or {}) do
    local key = "m" .. tostring(m.id)
    if m.kind == "user" then
      blocks[#blocks + 1] = { key = key, kind = "user", text = m.text or "", message_id = m.id }
    elseif m.kind == "assistant" then
      blocks[#blocks + 1] = { key = key, kind = "assistant", text = m.text or "", message_id = m.id }
    elseif m.kind == "thinking" then
      blocks[#blocks + 1] = { key = key, kind = "thinking", text = m.text or "", message_id = m.id }
    elseif m.kind == "tool_call" then
      blocks[#blocks + 1] = {
        key = "t" .. tostring(m.tool_call_id),
        kind = "tool",
        name = m.name,
        summary = tool_summary(m.args),
        args = json_text(m.args),
        status = m.status,
        result = not C.null(m.result) and json_text(m.result) or nil,
        is_error = m.is_error == true,
        message_id = m.id,
      }
    elseif m.kind == "system" then
      blocks[#blocks + 1] = { key = key, kind = "system", text = m.text or "", level = m.level, message_id = m.id }
    end
  end
  return blocks
end

function M.new(client, id, workdir, config)
  local self = setmetatable({
    client = client,
    id = id,
    workdir = workdir,
    config = config,
    status = "idle",
    usage = nil,
    model = nil,
    thinking = nil,
    branches = 0,
    running = false,
    pending_approval = nil,
  }, Session)
  self.chat = Chat.new({
    name = "tandem://" .. workdir,
    render_interval_ms = config.render_interval_ms,
    on_render = config.on_render,
  })
  self:refresh_info()
  self:reload()
  return self
end

-- Re-reads the transcript from tandem and re-renders the whole buffer (on open, after a turn, after a branch switch).
function Session:reload()
  local messages = self.client:json("session_messages", self.id)
  self.chat:reset(M.blocks_from_messages(messages))
end

-- Model, thinking level, usage, branches: read after a turn and after a picker changed them.
function Session:refresh_info()
  local meta = self.client:json("session_metadata", self.id)
  if type(meta) == "table" then
    self.model = meta.model
    self.thinking = meta.thinking_level
    if type(meta.status) == "string" then
      self.status = meta.status
    end
  end
  local usage = self.client:json("session_usage", self.id)
  if type(usage) == "table" then
    self.usage = usage
  end
  local branches = self.client:json("session_list_branches", self.id)
  if type(branches) == "table" then
    self.branches = #branches
  end
  vim.cmd("redrawstatus!")
end

local function notify(msg, level)
  vim.notify("tandem: " .. msg, level or vim.log.levels.INFO)
end

-- Sends a prompt: starts a turn when idle, queues it as steering while a turn runs (or as a follow-up).
function Session:send(text, follow_up)
  if not text or text:match("^%s*$") then
    return nil, "empty prompt"
  end
  local res, err = self.client:prompt(follow_up and "session_queue_follow_up" or "session_send_prompt", self.id, text)
  if not res then
    notify(err, vim.log.levels.ERROR)
    return nil, err
  end
  if res == T.PROMPT_SENT then
    self.running = true
    self.chat:add({ kind = "user", text = text })
  elseif res == T.PROMPT_QUEUED_STEERING then
    self.chat:add({ kind = "system", text = "queued (steering): " .. text })
  elseif res == T.PROMPT_QUEUED_FOLLOW_UP then
    self.chat:add({ kind = "system", text = "queued (follow-up): " .. text })
  end
  return res
end

function Session:abort()
  return self.client:call("session_abort", self.id)
end

-- Shows the approval's preview in the chat and asks with vim.ui.select.
function Session:ask_approval(approval)
  self.pending_approval = approval
  local preview = type(approval.preview) == "table" and approval.preview or {}
  local b = self.chat:block("a" .. tostring(approval.approval_id), {
    kind = "approval",
    name = approval.name,
    summary = one_line(preview.summary or "", 80),
    preview = type(preview.lines) == "table" and preview.lines or {},
  })
  self.chat:changed(b)
  -- The render is deferred to the end of this batch; show the preview before the picker blocks the UI.
  self.chat:render()
  local labels = {}
  for i, c in ipairs(M.APPROVAL_CHOICES) do
    labels[i] = c.label
  end
  local prompt = string.format("tandem: %s %s", approval.name or "tool", preview.summary or "")
  vim.ui.select(labels, { prompt = prompt, kind = "tandem.approval" }, function(_, idx)
    if not idx then
      return -- dismissed: still pending; :TandemApprove asks again
    end
    self:respond(approval.approval_id, M.APPROVAL_CHOICES[idx].decision)
  end)
end

function Session:respond(approval_id, decision)
  local ok, err = self.client:call("session_respond_to_approval", self.id, approval_id, T.DECISION[decision])
  if not ok then
    notify(err, vim.log.levels.WARN)
  end
  return ok, err
end

-- Reloads loaded, unmodified buffers of a file the session changed (autoread makes checktime silent).
local function reload_file(path)
  local buf = vim.fn.bufnr(path)
  if buf > 0 and vim.api.nvim_buf_is_loaded(buf) and not vim.bo[buf].modified then
    vim.bo[buf].autoread = true
    vim.cmd("checktime " .. buf)
  end
end

function Session:abspath(path)
  if path:sub(1, 1) == "/" then
    return path
  end
  return self.workdir .. "/" .. path
end

-- Handles one event of this session.
function Session:handle(ev)
  local chat, kind = self.chat, ev.kind
  if kind == "text_delta" then
    chat:append("m" .. tostring(ev.message_id), "assistant", ev.delta or "")
  elseif kind == "thinking_delta" then
    chat:append("m" .. tostring(ev.message_id), "thinking", ev.delta or "")
  elseif kind == "tool_started" then
    local b = chat:block("t" .. tostring(ev.tool_call_id), { kind = "tool" })
    b.name, b.summary, b.args, b.status = ev.name, tool_summary(ev.args), json_text(ev.args), "running"
    b.message_id = ev.message_id
    chat:changed(b)
  elseif kind == "tool_update" then
    local b = chat:block("t" .. tostring(ev.tool_call_id), { kind = "tool", name = ev.name, status = "running" })
    b.partial = (b.partial or "") .. (ev.partial_result or "")
    chat:changed(b)
  elseif kind == "tool_ended" then
    local b = chat:block("t" .. tostring(ev.tool_call_id), { kind = "tool", name = ev.name })
    b.result, b.is_error = json_text(ev.result), ev.is_error == true
    b.status = b.is_error and "error" or "complete"
    chat:changed(b)
  elseif kind == "approval_pending" then
    self:ask_approval(ev.approval)
  elseif kind == "approval_resolved" then
    local b = chat.by_key["a" .. tostring(ev.approval_id)]
    if b then
      b.decision = ev.decision
      chat:changed(b)
    end
    if self.pending_approval and self.pending_approval.approval_id == ev.approval_id then
      self.pending_approval = nil
    end
  elseif kind == "file_changed" then
    reload_file(self:abspath(ev.path))
  elseif kind == "status_changed" then
    self.status = ev.status
    vim.cmd("redrawstatus!")
  elseif kind == "error" then
    chat:add({ kind = "system", level = "error", text = ev.message or "error" })
  elseif kind == "command_ran" then
    chat:add({ kind = "system", text = "/" .. tostring(ev.command) .. ": " .. one_line(json_text(ev.result), 200) })
    self:refresh_info()
  elseif kind == "turn_ended" then
    self.running = false
    self.pending_approval = nil
    -- The stored transcript is the truth (steering merged in, aborted notices): render it whole once per turn.
    chat:render()
    self:reload()
    self:refresh_info()
    if self.config.on_turn_ended then
      self.config.on_turn_ended(self, ev)
    end
  elseif kind == "session_restarted" then
    chat:add({ kind = "system", level = "error", text = "session restarted: " .. tostring(ev.reason) })
  elseif kind == "session_stopped" then
    self.status = "stopped"
    vim.cmd("redrawstatus!")
  end
end

-- The statusline text of this session.
function Session:statusline()
  local parts = { "tandem " .. tostring(self.status) }
  if self.pending_approval then
    parts[#parts + 1] = "approval pending"
  end
  if self.model then
    parts[#parts + 1] = self.model
  end
  if self.thinking and self.thinking ~= "off" then
    parts[#parts + 1] = "think " .. self.thinking
  end
  local u = self.usage
  if type(u) == "table" and ((u.input or 0) + (u.output or 0)) > 0 then
    parts[#parts + 1] = string.format("↑%d ↓%d $%.4f", u.input or 0, u.output or 0, u.cost or 0)
  end
  if self.branches > 0 then
    parts[#parts + 1] = self.branches .. " branch" .. (self.branches == 1 and "" or "es")
  end
  return table.concat(parts, " │ ")
end

return M
