-- tandem.client: one tandem client per Neovim process and its event pump. Events are pulled on Neovim's own loop:
-- a libuv poll handle waits on the client's readiness descriptor, and each wakeup drains the pull queue with
-- tandem_client_next_events. Nothing runs while no event is queued (no timer, no thread of ours, no callback from
-- tandem's threads).
local T = require("tandem.ffi")
local uv = vim.uv or vim.loop

local M = {}

local BATCH = 256

-- vim.json turns JSON null into vim.NIL; the plugin treats it as nil.
function M.decode(s)
  local ok, v = pcall(vim.json.decode, s)
  if not ok then
    return nil
  end
  return v
end

function M.null(v)
  return v == nil or v == vim.NIL
end

local Client = {}
Client.__index = Client

-- Creates the client. `config` is the client config table (nil for tandem's defaults); `on_events(list)` is called
-- on the main loop (scheduled, so it may use every API) with the events of one or more wakeups, oldest first.
function M.new(config, library, on_events)
  local lib, err = T.load(library)
  if not lib then
    return nil, err
  end
  local out = T.ffi.new("tandem_client *[1]")
  local json = config and next(config) and vim.json.encode(config) or nil
  local st = lib.tandem_client_new(json, out)
  if st ~= T.OK then
    return nil, T.error(st)
  end
  local self = setmetatable({ ptr = out[0], pending = {}, scheduled = false, on_events = on_events }, Client)
  local fd = T.ffi.new("int[1]")
  st = lib.tandem_client_ready_fd(self.ptr, fd)
  if st ~= T.OK then
    local e = T.error(st)
    lib.tandem_client_free(self.ptr)
    return nil, e
  end
  self.fd = fd[0]
  self.poll = uv.new_poll(self.fd)
  self.poll:start("r", function()
    self:drain()
  end)
  return self
end

-- Runs in the poll callback (a fast libuv callback): only C calls and table appends here; the events are handled
-- in one scheduled callback per wakeup burst. Draining until [] also drains the descriptor (level-like contract).
function Client:drain()
  if not self.ptr then
    return
  end
  local out = T.ffi.new("char *[1]")
  while true do
    local st = T.lib.tandem_client_next_events(self.ptr, BATCH, out)
    if st ~= T.OK then
      -- Shut down (or forked): nothing more will come; stop waiting on the descriptor.
      if self.poll and not self.poll:is_closing() then
        self.poll:stop()
      end
      break
    end
    local s = T.ffi.string(out[0])
    T.lib.tandem_string_free(out[0])
    if s == "[]" then
      break
    end
    self.pending[#self.pending + 1] = s
  end
  if #self.pending > 0 and not self.scheduled then
    self.scheduled = true
    vim.schedule(function()
      self:dispatch()
    end)
  end
end

function Client:dispatch()
  self.scheduled = false
  local batches = self.pending
  self.pending = {}
  local events = {}
  for _, s in ipairs(batches) do
    local list = M.decode(s)
    if type(list) == "table" then
      for _, ev in ipairs(list) do
        events[#events + 1] = ev
      end
    end
  end
  if #events > 0 and self.on_events then
    self.on_events(events)
  end
end

local function invoke(how, self, name, ...)
  if not self.ptr then
    return nil, "tandem: the client is shut down"
  end
  return how("tandem_" .. name, self.ptr, ...)
end

-- Calls tandem_<name>(client, ...) returning a status; true or nil, error, status.
function Client:call(name, ...)
  return invoke(T.call, self, name, ...)
end

-- Calls tandem_<name>(client, ..., &out); the string or nil, error, status.
function Client:string(name, ...)
  return invoke(T.string_call, self, name, ...)
end

-- Like Client:string, decoded from JSON.
function Client:json(name, ...)
  local s, err, st = self:string(name, ...)
  if not s then
    return nil, err, st
  end
  return M.decode(s)
end

-- Sends a prompt; returns the tandem_prompt_result or nil, error.
function Client:prompt(fname, id, text)
  local res = T.ffi.new("tandem_prompt_result[1]")
  local ok, err = self:call(fname, id, text, res)
  if not ok then
    return nil, err
  end
  return tonumber(res[0])
end

-- Stops every session (flushing them to the store) and frees the client; the poll handle goes first because the
-- descriptor is closed by tandem_client_free.
function Client:close(timeout_ms)
  if not self.ptr then
    return
  end
  if self.poll and not self.poll:is_closing() then
    self.poll:stop()
    self.poll:close()
  end
  T.lib.tandem_client_shutdown(self.ptr, timeout_ms or 5000)
  T.lib.tandem_client_free(self.ptr)
  self.ptr = nil
end

-- The stable session ID of a working directory.
function M.workdir_session_id(path)
  return T.string_call("tandem_workdir_session_id", path)
end

return M
