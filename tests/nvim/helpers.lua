-- Assertions and waits for the plugin tests. Waits are hang guards (a generous limit that only a broken plugin
-- reaches), never timing assertions: every condition waited for is a state the plugin must reach.
local H = {}

H.LIMIT_MS = 30000

function H.eq(a, b, what)
  if not vim.deep_equal(a, b) then
    error(string.format("%s: expected %s, got %s", what or "eq", vim.inspect(b), vim.inspect(a)), 2)
  end
end

function H.truthy(v, what)
  if not v then
    error((what or "expected a true value") .. ", got " .. vim.inspect(v), 2)
  end
  return v
end

function H.contains(haystack, needle, what)
  if not tostring(haystack):find(needle, 1, true) then
    error(string.format("%s: %q not found in:\n%s", what or "contains", needle, haystack), 2)
  end
end

function H.not_contains(haystack, needle, what)
  if tostring(haystack):find(needle, 1, true) then
    error(string.format("%s: %q found in:\n%s", what or "not_contains", needle, haystack), 2)
  end
end

-- Runs Neovim's loop (events, scheduled callbacks, the plugin's poll handle) until `cond()` is true.
function H.wait_for(cond, what)
  local ok = vim.wait(H.LIMIT_MS, cond, 5)
  if not ok then
    error("never happened: " .. (what or "condition"), 2)
  end
end

-- Sets the plugin up with a store in the test's directory and `session` options.
function H.setup(ctx, session, extra)
  local t = require("tandem")
  t.setup(vim.tbl_extend("force", { client = { store_dir = ctx.store }, session = session or {} }, extra or {}))
  return t
end

-- The turn is over: the session is idle and the chat holds the stored transcript.
function H.wait_idle(s)
  H.wait_for(function()
    return not s.running and s.status ~= "thinking" and s.status ~= "tool_executing"
  end, "the turn to end")
end

-- Replaces vim.ui.select: records each call; answers with `pick(items, opts)` (an index, or nil to hold the call).
function H.stub_select(pick)
  local calls = {}
  vim.ui.select = function(items, opts, on_choice)
    local call = { items = items, opts = opts, on_choice = on_choice }
    calls[#calls + 1] = call
    local idx = pick and pick(items, opts)
    if idx then
      on_choice(items[idx], idx)
      call.answered = idx
    end
  end
  return calls
end

function H.answer(call, label)
  for i, item in ipairs(call.items) do
    if item == label then
      call.answered = i
      return call.on_choice(item, i)
    end
  end
  error("no choice " .. label)
end

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

return H
