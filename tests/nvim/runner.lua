-- A small test runner for the plugin's headless Neovim tests (mini.test and plenary are not packaged in a registry
-- this project uses). A spec file returns a list of {name, fn}; each test runs in a fresh temporary workdir and
-- store, with the plugin's client shut down and vim.ui.select restored afterwards. Prints TAP-like lines and the
-- closing "N passed, N failed" line, and exits non-zero when a test failed.
local M = {}

local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")
M.root = root

local original_select = vim.ui.select
local original_notify = vim.notify

function M.main(spec_path, filter)
  vim.opt.rtp:prepend(root .. "/editors/nvim")
  vim.cmd("runtime plugin/tandem.lua")
  vim.o.swapfile = false
  local specs = dofile(spec_path)
  local passed, failed = 0, 0
  for _, t in ipairs(specs) do
    local name, fn = t[1], t[2]
    if not filter or filter == "" or name:find(filter, 1, true) then
      local dir = vim.fn.tempname()
      local ctx = { dir = dir, work = dir .. "/work", store = dir .. "/store" }
      vim.fn.mkdir(ctx.work, "p")
      vim.fn.mkdir(ctx.store, "p")
      ctx.work = vim.fn.resolve(ctx.work)
      vim.cmd("cd " .. vim.fn.fnameescape(ctx.work))
      -- Notifications are kept with the test and shown only when it fails.
      ctx.notes = {}
      vim.notify = function(msg)
        ctx.notes[#ctx.notes + 1] = tostring(msg)
      end
      local ok, err = xpcall(fn, debug.traceback, ctx)
      local tandem = package.loaded["tandem"]
      if tandem then
        pcall(tandem.shutdown)
      end
      vim.ui.select = original_select
      vim.notify = original_notify
      pcall(vim.cmd, "silent! only | silent! %bwipeout!")
      if ctx.cleanup then
        pcall(ctx.cleanup)
      end
      vim.fn.delete(dir, "rf")
      if ok then
        passed = passed + 1
        io.stdout:write("ok - " .. name .. "\n")
      else
        failed = failed + 1
        local notes = #ctx.notes > 0 and ("\nnotifications:\n" .. table.concat(ctx.notes, "\n")) or ""
        local detail = (tostring(err) .. notes):gsub("\n", "\n    ")
        io.stdout:write("not ok - " .. name .. "\n    " .. detail .. "\n")
      end
    end
  end
  io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
  vim.cmd((failed == 0 and passed > 0) and "qa!" or "cquit!")
end

return M
