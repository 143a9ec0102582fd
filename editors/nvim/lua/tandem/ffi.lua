-- tandem.ffi: the LuaJIT FFI declarations of the C API this plugin calls (copied from include/tandem.h; the test
-- suite checks that every prototype below appears in the header) and the loader that finds libtandem.
local ffi = require("ffi")

local M = {}

-- Enums cross the ABI as uint32_t (the header's C99/C11 typedefs); the prototypes are the header's, one a line.
M.cdef = [[
typedef uint32_t tandem_status;
typedef uint32_t tandem_prompt_result;
typedef uint32_t tandem_approval_decision;
typedef struct tandem_client tandem_client;
const char *tandem_version(void);
const char *tandem_status_name(tandem_status status);
const char *tandem_last_error_message(void);
void tandem_string_free(char *s);
tandem_status tandem_workdir_session_id(const char *path, char **out);
tandem_status tandem_client_new(const char *config_json, tandem_client **out);
tandem_status tandem_client_shutdown(tandem_client *client, uint32_t timeout_ms);
void tandem_client_free(tandem_client *client);
tandem_status tandem_client_ready_fd(tandem_client *client, int *out_fd);
tandem_status tandem_client_next_events(tandem_client *client, uint32_t max, char **out);
tandem_status tandem_session_start_or_get(tandem_client *client, const char *id, const char *options_json, char **out_id);
tandem_status tandem_session_stop(tandem_client *client, const char *id);
tandem_status tandem_session_send_prompt(tandem_client *client, const char *id, const char *prompt, tandem_prompt_result *out_or_null);
tandem_status tandem_session_queue_follow_up(tandem_client *client, const char *id, const char *prompt, tandem_prompt_result *out_or_null);
tandem_status tandem_session_abort(tandem_client *client, const char *id);
tandem_status tandem_session_messages(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_usage(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_metadata(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_snapshot(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_respond_to_approval(tandem_client *client, const char *id, const char *approval_id_or_null, tandem_approval_decision decision);
tandem_status tandem_session_set_boundary(tandem_client *client, const char *id, const char *path, uint32_t start_line, uint32_t end_line);
tandem_status tandem_session_clear_boundary(tandem_client *client, const char *id, const char *path);
tandem_status tandem_session_boundary_for(tandem_client *client, const char *id, const char *path, char **out);
tandem_status tandem_session_touched_files(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_set_model(tandem_client *client, const char *id, const char *model);
tandem_status tandem_session_available_models(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_set_thinking_level(tandem_client *client, const char *id, const char *level);
tandem_status tandem_session_list_branches(tandem_client *client, const char *id, char **out);
tandem_status tandem_session_switch_branch(tandem_client *client, const char *id, uint32_t branch_number);
tandem_status tandem_session_branch_at(tandem_client *client, const char *id, uint64_t message_id, char **out);
tandem_status tandem_session_toggle_all_tool_collapses(tandem_client *client, const char *id);
]]

-- Status values of the header that the plugin tells apart.
M.OK = 0
M.ERR_TIMEOUT = 12
M.ERR_SHUTTING_DOWN = 14
M.PROMPT_SENT = 0
M.PROMPT_QUEUED_STEERING = 1
M.PROMPT_QUEUED_FOLLOW_UP = 2
M.PROMPT_COMMAND = 3
M.DECISION = { approve = 0, approve_turn = 1, approve_session = 2, reject = 3 }

local declared = false
local function declare()
  if not declared then
    ffi.cdef(M.cdef)
    declared = true
  end
end

-- The directory of this plugin checkout: editors/nvim/lua/tandem/ffi.lua -> the repository root is four up.
local function source_dir()
  local src = debug.getinfo(1, "S").source:sub(2)
  return vim.fn.fnamemodify(src, ":p:h")
end

local function readable(path)
  return path and path ~= "" and vim.fn.filereadable(path) == 1
end

-- Where libtandem may be, in order: the configured path, $TANDEM_LIB, the build of the repository this plugin sits
-- in (the newer of target/release and target/debug), the `make install` prefix that pkg-config reports, and finally
-- the dynamic linker's own search path. Returns a list of {path, how}.
function M.candidates(configured)
  local list = {}
  local function add(path, how)
    if readable(path) then
      list[#list + 1] = { path = path, how = how }
    end
  end
  add(configured, "setup{library}")
  add(os.getenv("TANDEM_LIB"), "$TANDEM_LIB")
  local root = vim.fn.fnamemodify(source_dir(), ":h:h:h:h")
  local builds = {}
  for _, profile in ipairs({ "release", "debug" }) do
    local p = root .. "/target/" .. profile .. "/libtandem.so"
    if readable(p) then
      builds[#builds + 1] = { path = p, mtime = vim.fn.getftime(p), how = "build (target/" .. profile .. ")" }
    end
  end
  table.sort(builds, function(a, b)
    return a.mtime > b.mtime
  end)
  for _, b in ipairs(builds) do
    add(b.path, b.how)
  end
  if vim.fn.executable("pkg-config") == 1 then
    local libdir = vim.fn.systemlist({ "pkg-config", "--variable=libdir", "tandem" })[1]
    if vim.v.shell_error == 0 and libdir then
      add(libdir .. "/libtandem.so", "install (pkg-config libdir)")
    end
  end
  for _, prefix in ipairs({ "/usr/local/lib", "/usr/lib" }) do
    add(prefix .. "/libtandem.so", "install (" .. prefix .. ")")
  end
  return list
end

M.lib = nil
M.path = nil
M.how = nil

-- Loads the library once (the first candidate that loads). Returns lib or nil, error.
function M.load(configured)
  if M.lib then
    return M.lib
  end
  declare()
  local errors = {}
  for _, c in ipairs(M.candidates(configured)) do
    local ok, lib = pcall(ffi.load, c.path)
    if ok then
      M.lib, M.path, M.how = lib, c.path, c.how
      return lib
    end
    errors[#errors + 1] = c.path .. ": " .. tostring(lib)
  end
  local ok, lib = pcall(ffi.load, "tandem")
  if ok then
    M.lib, M.path, M.how = lib, "libtandem (linker search path)", "system"
    return lib
  end
  errors[#errors + 1] = "ffi.load('tandem'): " .. tostring(lib)
  return nil, "libtandem not found; build it (cargo build) or set require('tandem').setup{library = ...}:\n"
    .. table.concat(errors, "\n")
end

-- The error of the last failed call: "TANDEM_ERR_...: detail".
function M.error(status)
  local lib = M.lib
  return ffi.string(lib.tandem_status_name(status)) .. ": " .. ffi.string(lib.tandem_last_error_message())
end

-- Calls a `char **out` function; returns the Lua string (the C one is freed) or nil, error, status.
function M.string_call(fname, ...)
  local lib = M.lib
  local out = ffi.new("char *[1]")
  local n = select("#", ...)
  local args = { ... }
  args[n + 1] = out
  local st = lib[fname](unpack(args, 1, n + 1))
  if st ~= M.OK then
    return nil, M.error(st), st
  end
  local s = ffi.string(out[0])
  lib.tandem_string_free(out[0])
  return s
end

-- Calls a function returning only a status; returns true or nil, error, status.
function M.call(fname, ...)
  local st = M.lib[fname](...)
  if st ~= M.OK then
    return nil, M.error(st), st
  end
  return true
end

M.ffi = ffi
return M
