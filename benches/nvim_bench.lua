-- The Neovim plugin benchmark's in-editor half (driven by benches/nvim.sh): one prompt to a session on the mock
-- OpenAI-compatible server, which streams N deltas; measures Neovim's CPU time for the turn (the main thread,
-- where the plugin's Lua and the rendering run, and the whole process, tandem's threads included), how many buffer
-- updates the deltas became, and the wall-clock time at which the chat buffer first shows the last delta. Writes
-- one line of JSON to $TANDEM_BENCH_OUT and then stays open and idle (the shell measures idle CPU, then kills it).
local ffi = require("ffi")
ffi.cdef([[
struct tandem_bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct tandem_bench_timespec *tp);
]])
local ts = ffi.new("struct tandem_bench_timespec")
local function thread_cpu()
  ffi.C.clock_gettime(3, ts) -- CLOCK_THREAD_CPUTIME_ID
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end
local uv = vim.uv or vim.loop
local function process_cpu()
  local r = uv.getrusage()
  return r.utime.sec + r.utime.usec / 1e6 + r.stime.sec + r.stime.usec / 1e6
end
local function wall()
  local sec, usec = uv.gettimeofday()
  return sec + usec / 1e6
end

local root = vim.env.TANDEM_BENCH_ROOT
vim.opt.rtp:prepend(root .. "/editors/nvim")
vim.cmd("runtime plugin/tandem.lua")
local n = tonumber(vim.env.TANDEM_BENCH_DELTAS)
local last = "w" .. (n - 1) .. " "
local result = { deltas = n, renders = 0 }
local t = require("tandem")
local shown = false
t.setup({
  client = { store_dir = vim.env.TANDEM_BENCH_STORE },
  session = {
    model = "openai:mock",
    base_url = "http://127.0.0.1:" .. vim.env.TANDEM_BENCH_PORT .. "/v1",
    api_key_env = "TANDEM_BENCH_KEY",
  },
  on_render = function(chat)
    result.renders = result.renders + 1
    if not shown then
      local line = vim.api.nvim_buf_get_lines(chat.buf, -3, -1, false)
      for _, l in ipairs(line) do
        if l:sub(-#last) == last then
          shown = true
          result.shown_at = wall()
        end
      end
    end
  end,
})
vim.cmd("Tandem")
local s = t.current()
result.renders = 0
local cpu0, main0 = process_cpu(), thread_cpu()
local w0 = wall()
t.config.on_turn_ended = function()
  result.process_cpu_s = process_cpu() - cpu0
  result.main_thread_cpu_s = thread_cpu() - main0
  result.turn_s = wall() - w0
  result.shown = shown
  result.pid = vim.fn.getpid()
  local f = assert(io.open(vim.env.TANDEM_BENCH_OUT, "w"))
  f:write(vim.json.encode(result), "\n")
  f:close()
end
s:send("stream")
