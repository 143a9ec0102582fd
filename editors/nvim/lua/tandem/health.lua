-- :checkhealth tandem: Neovim version and LuaJIT, where libtandem was found, and whether a client starts.
local M = {}

-- Neovim 0.10+ has vim.health.start/ok/...; 0.7-0.9 have require("health").report_*.
local function reporter()
  local h = vim.health
  if h and h.start then
    return h.start, h.ok, h.warn, h.error, h.info
  end
  h = require("health")
  return h.report_start, h.report_ok, h.report_warn, h.report_error, h.report_info
end

function M.check()
  local start, ok, warn, error, info = reporter()
  local tandem = require("tandem")
  start("tandem")
  if vim.fn.has("nvim-" .. tandem.MIN_NVIM) == 1 then
    ok("Neovim " .. tostring(vim.version()) .. " (at least " .. tandem.MIN_NVIM .. ")")
  else
    error("Neovim " .. tandem.MIN_NVIM .. " or newer is needed")
  end
  if not jit then
    error("this Neovim is not built with LuaJIT: the plugin needs its FFI")
    return
  end
  ok("LuaJIT " .. jit.version)
  local T = require("tandem.ffi")
  local lib, e = T.load(tandem.config.library)
  if not lib then
    error(e, { "cargo build --release in the tandem repository", "or require('tandem').setup{library = '/path/to/libtandem.so'}" })
    return
  end
  ok(string.format("libtandem %s loaded from %s (%s)", T.ffi.string(lib.tandem_version()), T.path, T.how))
  if tandem.client then
    local n = 0
    for _ in pairs(tandem.sessions) do
      n = n + 1
    end
    ok(string.format("client running, readiness descriptor %d, %d session(s) open", tandem.client.fd, n))
  else
    local client, e2 = require("tandem.client").new(tandem.config.client, tandem.config.library, nil)
    if not client then
      error("tandem_client_new failed with the configured client options: " .. tostring(e2))
      return
    end
    ok("a client starts with the configured options (readiness descriptor " .. client.fd .. ")")
    client:close(1000)
  end
  local cwd = vim.fn.getcwd()
  local id = require("tandem.client").workdir_session_id(cwd)
  info("session of " .. cwd .. ": " .. tostring(id))
  if vim.fn.executable("pkg-config") ~= 1 then
    warn("pkg-config not found: an installed libtandem is found only in /usr/local/lib or /usr/lib")
  end
end

return M
