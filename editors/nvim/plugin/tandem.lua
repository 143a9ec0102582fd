-- The tandem commands (the plugin itself loads on first use: require("tandem")).
if vim.g.loaded_tandem then
  return
end
vim.g.loaded_tandem = true
-- The minimum this plugin supports (doc/tandem.txt): older versions lack the APIs it uses.
if vim.fn.has("nvim-0.7.2") == 0 then
  vim.api.nvim_err_writeln("tandem: Neovim 0.7.2 or newer is needed")
  return
end

local function t()
  return require("tandem")
end
local cmd = vim.api.nvim_create_user_command

cmd("Tandem", function(o)
  t().command(o.args)
end, { nargs = "*", desc = "tandem: open the chat of this directory's session, or send a prompt" })
cmd("TandemFollowUp", function(o)
  t().follow_up(o.args)
end, { nargs = "*", desc = "tandem: queue a follow-up prompt (sent when the turn ends)" })
cmd("TandemAbort", function()
  t().abort()
end, { desc = "tandem: abort the running turn" })
cmd("TandemApprove", function()
  t().approve()
end, { desc = "tandem: answer the pending approval" })
cmd("TandemBoundary", function(o)
  t().boundary(o.line1, o.line2, o.bang)
end, { range = true, bang = true, desc = "tandem: limit edits of this file to the range (! clears)" })
cmd("TandemTouched", function()
  t().touched()
end, { desc = "tandem: files the session changed, in the quickfix list" })
cmd("TandemModel", function(o)
  t().model(o.args)
end, { nargs = "?", desc = "tandem: pick or set the model" })
cmd("TandemThinking", function(o)
  t().thinking(o.args)
end, {
  nargs = "?",
  complete = function()
    return { "off", "low", "medium", "high" }
  end,
  desc = "tandem: pick or set the thinking level",
})
cmd("TandemBranch", function()
  t().branch_at()
end, { desc = "tandem: save the transcript as a branch and cut it after the message under the cursor" })
cmd("TandemBranches", function()
  t().branches()
end, { desc = "tandem: switch to a branch" })
