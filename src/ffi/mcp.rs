//! Exported MCP server functions: a session's servers with their state and tools, and enabling or disabling one at
//! run time.
//!
//! Thread-safe; callable from callbacks. Servers are configured with `mcp_servers` in the client config and the
//! session options (docs/options.md); their changes of state arrive as `mcp_server_status` events.

use std::ffi::c_char;

use super::boundary::{session_arg, session_json};
use super::types::{tandem_client, tandem_status};

/// The session's MCP servers: `[{"name", "transport" ("stdio" or "http"), "enabled", "state" ("starting",
/// "ready", "restarting", "failed" or "disabled"), "detail" (why it failed, or null), "stderr" (its last stderr
/// lines), "tools": [{"name" (as offered: mcp__<server>__<tool>), "tool" (the server's name for it),
/// "description", "gated" (asks for approval)}]}]`, `[]` without servers. `*out` is owned by the caller (free with
/// `tandem_string_free`). `TANDEM_ERR_NOT_FOUND` for an unknown session.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_mcp_servers(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.mcp_servers(id))
}

/// Enables or disables the session's MCP server `name`. Disabling closes its connection (a stdio server's whole
/// process group is killed) and takes its tools out of the session from the next model call on; enabling starts it
/// again. Returns at once; the change is reported by an `mcp_server_status` event. `TANDEM_ERR_NOT_FOUND` for an
/// unknown session or a server the session does not have. Borrowed arguments; any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_mcp_set_enabled(
    client: *mut tandem_client,
    id: *const c_char,
    name: *const c_char,
    enabled: bool,
) -> tandem_status {
    session_arg(client, id, name, "name", |c, id, name| {
        c.mcp_set_enabled(id, name, enabled)
    })
}
