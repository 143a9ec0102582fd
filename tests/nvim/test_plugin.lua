-- Headless tests of the Neovim plugin (editors/nvim) against the real libtandem, run by tests/nvim/run.sh.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h") .. "/helpers.lua")
local root = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h:h:h")

local function write_call(path, content)
  return { tool_call = { name = "write_file", args = { path = path, content = content } } }
end

local function edit_call(path, old, new)
  return { tool_call = { name = "edit_file", args = { path = path, old_text = old, new_text = new } } }
end

-- The approval picker is held (not answered) until the test answers it.
local function held_approvals()
  return H.stub_select(function(_, opts)
    return opts.kind == "tandem.approval" and nil or nil
  end)
end

local function approval_calls(calls)
  return vim.tbl_filter(function(c)
    return c.opts.kind == "tandem.approval"
  end, calls)
end

local function lines_of(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

return {
  {
    "the FFI declarations are include/tandem.h's prototypes",
    function()
      local header = H.read(root .. "/include/tandem.h"):gsub("/%*.-%*/", ""):gsub("//[^\n]*", "")
      header = header:gsub("%s+", " ")
      local n = 0
      for line in require("tandem.ffi").cdef:gmatch("[^\n]+") do
        if line:find("%(") then
          n = n + 1
          H.contains(header, line, "prototype in the header")
        end
      end
      H.truthy(n > 25, "prototypes checked")
    end,
  },
  {
    "a scripted conversation streams into the chat buffer",
    function(ctx)
      H.setup(ctx, {
        model = "scripted:chat",
        script = { { { thinking = "Let me think." }, { text = "Hello " }, { text = "world.\nSecond line." } } },
      })
      vim.cmd("Tandem say hello")
      local s = require("tandem").current()
      H.wait_idle(s)
      local text = s.chat:text()
      H.contains(text, "> say hello\n")
      H.contains(text, "┆ Let me think.\n")
      H.contains(text, "\nHello world.\nSecond line.\n")
      -- The chat and input windows are open; the statusline names the session's state and model.
      H.eq(vim.bo.filetype, "tandem-input", "focused window")
      H.contains(require("tandem").statusline(), "tandem idle │ scripted:chat")
      -- :Tandem again focuses the same chat instead of opening another.
      local wins = #vim.api.nvim_list_wins()
      vim.cmd("wincmd p")
      vim.cmd("Tandem")
      H.eq(#vim.api.nvim_list_wins(), wins, "windows after :Tandem again")
    end,
  },
  {
    "an approval shows the preview diff, streams text before it, and is answered through vim.ui.select",
    function(ctx)
      H.setup(ctx, {
        model = "scripted:approve",
        script = { { { text = "Let me write it." }, write_call("a.txt", "alpha\n") }, { { text = "Written." } } },
      })
      local calls = held_approvals()
      vim.cmd("Tandem write a.txt")
      local s = require("tandem").current()
      H.wait_for(function()
        return #approval_calls(calls) == 1
      end, "the approval picker")
      local call = approval_calls(calls)[1]
      H.eq(call.items, { "Approve once", "Approve for this turn", "Approve for this session", "Reject" }, "choices")
      H.contains(call.opts.prompt, "write_file")
      -- Streamed before the turn ended, and the preview is in the chat.
      local text = s.chat:text()
      H.contains(text, "Let me write it.")
      H.contains(text, "? approval: write_file")
      H.contains(text, "  ┊ +alpha")
      H.contains(require("tandem").statusline(), "approval pending")
      H.eq(vim.fn.filereadable(ctx.work .. "/a.txt"), 0, "a.txt before approval")
      H.answer(call, "Approve once")
      H.wait_idle(s)
      H.eq(H.read(ctx.work .. "/a.txt"), "alpha\n", "a.txt")
      text = s.chat:text()
      H.contains(text, "⚙ write_file a.txt [complete]")
      H.contains(text, "Written.")
      -- The tool call's body is folded under its header in the chat window.
      local chat_win = vim.fn.bufwinid(s.chat.buf)
      local body
      for i, l in ipairs(lines_of(s.chat.buf)) do
        if l:find("^  │ ") then
          body = i
          break
        end
      end
      H.truthy(body, "a tool body line")
      vim.api.nvim_win_call(chat_win, function()
        H.truthy(vim.fn.foldclosed(body) ~= -1, "tool body folded")
      end)
    end,
  },
  {
    "a rejected call does not run",
    function(ctx)
      H.setup(ctx, { model = "scripted:reject", script = { { write_call("b.txt", "no\n") }, { { text = "OK." } } } })
      H.stub_select(function(items, opts)
        return opts.kind == "tandem.approval" and 4 or nil
      end)
      vim.cmd("Tandem write b.txt")
      local s = require("tandem").current()
      H.wait_idle(s)
      H.eq(vim.fn.filereadable(ctx.work .. "/b.txt"), 0, "b.txt")
      H.contains(s.chat:text(), "⚙ write_file b.txt [error]")
      H.contains(s.chat:text(), "Tool rejected by user")
    end,
  },
  {
    "typing while a turn runs queues steering, which the agent gets in the same turn",
    function(ctx)
      H.setup(ctx, {
        model = "scripted:steer",
        script = { { { text = "Step one." }, write_call("c.txt", "c\n") }, { { text = "Steered." } } },
      })
      local calls = held_approvals()
      vim.cmd("Tandem start")
      local s = require("tandem").current()
      H.wait_for(function()
        return #approval_calls(calls) == 1
      end, "the approval picker")
      -- The turn is running (held at the approval): type into the input window and press <CR>.
      H.eq(vim.bo.filetype, "tandem-input", "focused window")
      vim.api.nvim_buf_set_lines(0, 0, -1, false, { "also add a header" })
      vim.cmd("normal \r")
      H.eq(vim.api.nvim_buf_get_lines(0, 0, -1, false), { "" }, "input after sending")
      H.wait_for(function()
        return s.chat:text():find("queued (steering): also add a header", 1, true) ~= nil
      end, "the queued steering notice")
      H.answer(approval_calls(calls)[1], "Approve once")
      H.wait_idle(s)
      local messages = s.client:json("session_messages", s.id)
      local users = {}
      for _, m in ipairs(messages) do
        if m.kind == "user" then
          users[#users + 1] = m.text
        end
      end
      H.eq(users, { "start", "also add a header" }, "user messages of the one turn")
      local text = s.chat:text()
      H.contains(text, "> also add a header\n")
      H.contains(text, "Steered.")
    end,
  },
  {
    ":TandemAbort ends the running turn",
    function(ctx)
      H.setup(ctx, { model = "scripted:abort", script = { { { text = "Working." }, write_call("d.txt", "d\n") } } })
      local calls = held_approvals()
      vim.cmd("Tandem go")
      local s = require("tandem").current()
      H.wait_for(function()
        return #approval_calls(calls) == 1
      end, "the approval picker")
      H.truthy(s.running, "running before the abort")
      vim.cmd("TandemAbort")
      H.wait_idle(s)
      H.eq(vim.fn.filereadable(ctx.work .. "/d.txt"), 0, "d.txt")
      H.contains(s.chat:text(), "Aborted")
      H.eq(s.pending_approval, nil, "pending approval after the abort")
    end,
  },
  {
    ":TandemFollowUp queues a prompt that runs when the turn ends",
    function(ctx)
      H.setup(ctx, {
        model = "scripted:follow",
        script = { { write_call("e.txt", "e\n") }, { { text = "First done." } }, { { text = "Second done." } } },
      })
      local calls = held_approvals()
      vim.cmd("Tandem first")
      local s = require("tandem").current()
      H.wait_for(function()
        return #approval_calls(calls) == 1
      end, "the approval picker")
      vim.cmd("TandemFollowUp then the second")
      H.wait_for(function()
        return s.chat:text():find("queued (follow-up): then the second", 1, true) ~= nil
      end, "the queued follow-up notice")
      H.answer(approval_calls(calls)[1], "Approve for this session")
      H.wait_for(function()
        return s.chat:text():find("Second done.", 1, true) ~= nil and not s.running
      end, "the follow-up's answer")
      local text = s.chat:text()
      H.truthy(text:find("First done.", 1, true) < text:find("> then the second", 1, true), "order")
    end,
  },
  {
    "a boundary from a visual selection refuses an edit outside it; changed buffers are reloaded; touched files in quickfix",
    function(ctx)
      local lines = {}
      for i = 1, 9 do
        lines[i] = "row " .. i
      end
      H.write(ctx.work .. "/f.txt", table.concat(lines, "\n") .. "\n")
      H.setup(ctx, {
        model = "scripted:boundary",
        approval = "none",
        script = {
          { edit_call("f.txt", "row 8", "ROW 8") },
          { edit_call("f.txt", "row 3", "ROW 3") },
          { write_call("g.txt", "new\n") },
          { { text = "Edited." } },
        },
      })
      vim.cmd("silent edit f.txt")
      local fbuf = vim.api.nvim_get_current_buf()
      -- Select rows 2-4 linewise and run the command on the selection, as :'<,'>TandemBoundary.
      vim.cmd("normal! 2GVjj\27")
      vim.cmd("'<,'>TandemBoundary")
      vim.cmd("Tandem edit f.txt")
      local s = require("tandem").current()
      H.eq(s.client:json("session_boundary_for", s.id, ctx.work .. "/f.txt"), { start_line = 1, end_line = 3 }, "boundary")
      H.wait_idle(s)
      local text = s.chat:text()
      H.contains(text, "Edited.")
      local file = H.read(ctx.work .. "/f.txt")
      H.contains(file, "row 8\n", "outside the boundary: unchanged")
      H.contains(file, "ROW 3\n", "inside the boundary: edited")
      -- The f.txt buffer was reloaded with tandem's edit.
      H.eq(vim.api.nvim_buf_get_lines(fbuf, 2, 3, false), { "ROW 3" }, "f.txt buffer line 3")
      H.eq(vim.api.nvim_buf_get_lines(fbuf, 7, 8, false), { "row 8" }, "f.txt buffer line 8")
      vim.cmd("TandemTouched")
      local qf = vim.fn.getqflist()
      local names = {}
      for _, item in ipairs(qf) do
        names[#names + 1] = vim.fn.fnamemodify(vim.fn.bufname(item.bufnr), ":t") .. " " .. item.text
      end
      -- Newest first; both may carry the same millisecond, so compare them as a set.
      table.sort(names)
      H.eq(names, { "f.txt modified", "g.txt created" }, "quickfix")
    end,
  },
  {
    "model and thinking level pickers, branches and usage in the statusline",
    function(ctx)
      H.setup(ctx, {
        model = "scripted:one",
        models = { "scripted:one", "scripted:two" },
        script = {
          { { text = "First." }, { usage = { input = 120, output = 30, cost = 0.5 } } },
          { { text = "Second." } },
        },
      })
      vim.cmd("Tandem one")
      local t = require("tandem")
      local s = t.current()
      H.wait_idle(s)
      H.contains(t.statusline(), "↑120 ↓30 $0.5000", "usage")
      local calls = H.stub_select(function(items, opts)
        if opts.kind == "tandem.model" then
          for i, m in ipairs(items) do
            if m.model == "scripted:two" then
              return i
            end
          end
        elseif opts.kind == "tandem.thinking" then
          return 4
        elseif opts.kind == "tandem.branch" then
          return 1
        end
      end)
      vim.cmd("TandemModel")
      H.eq(calls[1].opts.kind, "tandem.model", "model picker")
      H.contains(t.statusline(), "scripted:two", "model")
      vim.cmd("TandemThinking")
      H.eq(calls[2].items, { "off", "low", "medium", "high" }, "levels")
      H.contains(t.statusline(), "think high", "thinking level")
      -- A branch at the first answer keeps the transcript up to it; switching back restores the second turn.
      vim.cmd("Tandem two")
      H.wait_idle(s)
      H.contains(s.chat:text(), "Second.")
      local first_answer
      for _, b in ipairs(s.chat.blocks) do
        if b.kind == "assistant" and b.text == "First." then
          first_answer = b
        end
      end
      local chat_win = vim.fn.bufwinid(s.chat.buf)
      vim.api.nvim_set_current_win(chat_win)
      local off = 0
      for _, b in ipairs(s.chat.blocks) do
        if b == first_answer then
          break
        end
        off = off + b.rendered + 1
      end
      vim.api.nvim_win_set_cursor(chat_win, { off + 1, 0 })
      vim.cmd("TandemBranch")
      H.not_contains(s.chat:text(), "Second.", "after the cut")
      H.contains(s.chat:text(), "First.")
      H.contains(t.statusline(), "1 branch", "branches")
      vim.cmd("TandemBranches")
      H.contains(s.chat:text(), "Second.", "after switching to branch 1")
    end,
  },
  {
    ":checkhealth tandem reports the library and a working client",
    function(ctx)
      H.setup(ctx, {})
      vim.cmd("silent checkhealth tandem")
      local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
      H.contains(text, "OK")
      H.contains(text, "libtandem ")
      H.contains(text, "a client starts with the configured options")
      H.not_contains(text, "ERROR")
    end,
  },
  {
    "a session on a mock OpenAI-compatible server over HTTP",
    function(ctx)
      local port
      local job = vim.fn.jobstart({ "python3", root .. "/tests/nvim/mock_openai.py", "--text", "Hello over HTTP from the mock." }, {
        on_stdout = function(_, data)
          port = port or tonumber(data[1])
        end,
      })
      ctx.cleanup = function()
        vim.fn.jobstop(job)
      end
      H.wait_for(function()
        return port ~= nil
      end, "the mock server's port")
      vim.env.TANDEM_NVIM_TEST_KEY = "test-key"
      H.setup(ctx, {
        model = "openai:mock",
        base_url = "http://127.0.0.1:" .. port .. "/v1",
        api_key_env = "TANDEM_NVIM_TEST_KEY",
      })
      vim.cmd("Tandem hello server")
      local s = require("tandem").current()
      H.wait_idle(s)
      H.contains(s.chat:text(), "\nHello over HTTP from the mock.\n")
      H.contains(require("tandem").statusline(), "openai:mock")
    end,
  },
  {
    "restarting Neovim brings the conversation back from the store",
    function(ctx)
      local init = ctx.dir .. "/init.lua"
      H.write(
        init,
        string.format(
          [[
vim.opt.rtp:prepend(%q)
vim.cmd("runtime plugin/tandem.lua")
require("tandem").setup{ client = { store_dir = %q }, session = { model = "scripted:resume",
  script = { { { text = "Remembered answer." } } } } }
]],
          root .. "/editors/nvim",
          ctx.store
        )
      )
      local function nvim(cmds)
        local argv = { vim.v.progpath, "--headless", "-u", init, "-i", "NONE", "-n" }
        for _, c in ipairs(cmds) do
          vim.list_extend(argv, { "-c", c })
        end
        local out = vim.fn.system(argv)
        H.eq(vim.v.shell_error, 0, "nvim exit status (" .. out .. ")")
      end
      local dump = ctx.dir .. "/chat.txt"
      local wait = "lua local s = require('tandem').current(); vim.wait(30000, function() return not s.running end, 5)"
      nvim({ "Tandem remember this", wait, "qa!" })
      nvim({ "Tandem", string.format("lua vim.fn.writefile(vim.api.nvim_buf_get_lines(require('tandem').current().chat.buf, 0, -1, false), %q)", dump), "qa!" })
      local text = H.read(dump)
      H.contains(text, "> remember this\n")
      H.contains(text, "\nRemembered answer.\n")
    end,
  },
  {
    "deltas arriving in one loop iteration become one buffer update, and nothing stays armed when idle",
    function(ctx)
      local renders = 0
      H.setup(ctx, { model = "scripted:idle", script = { { { text = "Short answer." } } } }, {
        on_render = function()
          renders = renders + 1
        end,
      })
      vim.cmd("Tandem ask")
      local t = require("tandem")
      local s = t.current()
      H.wait_idle(s)
      H.wait_for(function()
        return not s.chat.timer_armed
      end, "the last render")
      renders = 0
      for i = 1, 1000 do
        s.chat:append("m-bench", "assistant", "t" .. i .. (i % 100 == 0 and "\n" or " "))
      end
      H.wait_for(function()
        return renders > 0 and not s.chat.timer_armed
      end, "the render of the appended deltas")
      H.eq(renders, 1, "buffer updates for 1000 deltas in one iteration")
      local lines = vim.api.nvim_buf_get_lines(s.chat.buf, 0, -1, false)
      local at = vim.fn.index(lines, "Short answer.") + 1
      H.truthy(at > 0, "the answer's line")
      H.eq(lines[at + 1], "", "separator")
      H.eq(lines[at + 2]:sub(1, 9), "t1 t2 t3 ", "first appended line")
      local last = {}
      for i = 901, 1000 do
        last[#last + 1] = "t" .. i
      end
      H.eq(lines[at + 11], table.concat(last, " "), "last full line")
      H.eq(#lines, at + 13, "lines (the block ends with an empty line after the last newline, then its separator)")
      -- Idle: the render timer is not running; only the poll handle on the readiness descriptor is active.
      H.truthy(s.chat.timer == nil or not s.chat.timer:is_active(), "render timer stopped")
      H.truthy(t.client.poll:is_active(), "poll handle waiting on the descriptor")
    end,
  },
  {
    "the statusline function works in 'statusline' through v:lua",
    function(ctx)
      H.setup(ctx, { model = "scripted:echo" })
      vim.cmd("Tandem hi")
      local s = require("tandem").current()
      H.wait_idle(s)
      local res = vim.api.nvim_eval_statusline("%{v:lua.require'tandem'.statusline()}", {})
      H.eq(res.str, require("tandem").statusline(), "statusline")
      H.contains(res.str, "tandem idle │ scripted:echo │ ↑")
    end,
  },
  {
    "the library is found in the build and through pkg-config's libdir",
    function(ctx)
      local T = require("tandem.ffi")
      local saved = vim.env.TANDEM_LIB
      vim.env.TANDEM_LIB = nil
      local hows = {}
      for _, c in ipairs(T.candidates(nil)) do
        hows[#hows + 1] = c.how
      end
      H.truthy(vim.tbl_contains(hows, "build (target/debug)"), "the build is a candidate: " .. table.concat(hows, ", "))
      -- An install: a pkg-config file whose libdir holds libtandem.so, as `make install` writes.
      local prefix = ctx.dir .. "/prefix"
      vim.fn.mkdir(prefix .. "/lib/pkgconfig", "p")
      vim.loop.fs_symlink(saved, prefix .. "/lib/libtandem.so")
      H.write(prefix .. "/lib/pkgconfig/tandem.pc", "prefix=" .. prefix .. "\nlibdir=${prefix}/lib\n"
        .. "Name: tandem\nDescription: test\nVersion: 0.1.0\nLibs: -L${libdir} -ltandem\n")
      local saved_pc = vim.env.PKG_CONFIG_PATH
      vim.env.PKG_CONFIG_PATH = prefix .. "/lib/pkgconfig"
      local found
      for _, c in ipairs(T.candidates("/nonexistent/libtandem.so")) do
        if c.how == "install (pkg-config libdir)" then
          found = c.path
        end
      end
      vim.env.TANDEM_LIB, vim.env.PKG_CONFIG_PATH = saved, saved_pc
      if vim.fn.executable("pkg-config") == 1 then
        H.eq(found, prefix .. "/lib/libtandem.so", "pkg-config candidate")
      end
    end,
  },
  {
    "every command is documented in doc/tandem.txt, whose help tags build",
    function(ctx)
      local doc = H.read(root .. "/editors/nvim/doc/tandem.txt")
      local cmds = vim.api.nvim_get_commands({})
      local n = 0
      for name in pairs(cmds) do
        if name:match("^Tandem") then
          n = n + 1
          H.contains(doc, "*:" .. name .. "*", "help tag of :" .. name)
        end
      end
      H.truthy(n >= 10, "commands")
      vim.fn.mkdir(ctx.dir .. "/doc", "p")
      H.write(ctx.dir .. "/doc/tandem.txt", doc)
      vim.cmd("helptags " .. vim.fn.fnameescape(ctx.dir .. "/doc"))
      local tags = H.read(ctx.dir .. "/doc/tags")
      H.contains(tags, "tandem.setup()\t")
      H.contains(tags, "tandem-statusline\t")
    end,
  },
  {
    "after the client is shut down, :Tandem starts a new one on the same buffers' names and the same conversation",
    function(ctx)
      H.setup(ctx, { model = "scripted:again", script = { { { text = "Kept." } } } })
      vim.cmd("Tandem keep")
      local t = require("tandem")
      H.wait_idle(t.current())
      t.shutdown()
      vim.cmd("Tandem")
      local s = t.current()
      H.contains(s.chat:text(), "> keep\n")
      H.contains(s.chat:text(), "\nKept.\n")
      H.eq(vim.api.nvim_buf_get_name(s.chat.buf), "tandem://" .. ctx.work, "chat buffer name")
    end,
  },
}
