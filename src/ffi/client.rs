//! Exported library and client functions: version, status names, errors, strings, client life cycle.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{
    arg_str, client as client_ref, free_string, guard, guard_value, last_error_ptr, opt_str,
    set_last_error, static_str, Out,
};
use super::types::{tandem_client, tandem_status, RawStatus};
use crate::client::Client;
use crate::error::Error;

/// The library version, e.g. "0.1.0". Static: never free it.
#[no_mangle]
pub extern "C" fn tandem_version() -> *const c_char {
    guard_value(std::ptr::null(), || static_str(c"0.1.0"))
}

/// The name of a status value, e.g. "TANDEM_ERR_NOT_FOUND"; "TANDEM_UNKNOWN_STATUS" for values that are not
/// statuses. Static: never free it.
#[no_mangle]
pub extern "C" fn tandem_status_name(status: RawStatus) -> *const c_char {
    guard_value(std::ptr::null(), || match tandem_status::from_raw(status) {
        Some(s) => static_str(s.name()),
        None => static_str(c"TANDEM_UNKNOWN_STATUS"),
    })
}

/// The detail of the last failed tandem call on the calling thread; "" if none failed yet. Never NULL.
/// Borrowed: valid until the next failing tandem call on this thread. Do not free it.
#[no_mangle]
pub extern "C" fn tandem_last_error_message() -> *const c_char {
    guard_value(static_str(c""), last_error_ptr)
}

/// Frees a string returned by tandem (any `char **out` result). NULL is a no-op. Freeing a string twice, or one
/// tandem did not return, is undefined behaviour.
#[no_mangle]
pub unsafe extern "C" fn tandem_string_free(s: *mut c_char) {
    guard_value((), || free_string(s))
}

/// The stable session ID for a working directory: "workdir-" + the first 16 hex digits of the SHA-256 of the
/// normalized absolute path (`~` expanded, `.` and `..` removed, symlinks not resolved).
///
/// On success `*out` is a plain string the caller owns; free it with `tandem_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_workdir_session_id(
    path: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let path = arg_str(path, "path")?;
        out.write_string(crate::ids::workdir_session_id(path)?)
    })
}

/// Creates a client: a runtime with its own worker threads, a session manager and an event dispatcher thread.
///
/// `config_json` may be NULL for defaults. Keys: `store_dir` (the conversation store; default
/// `$XDG_DATA_HOME/tandem`, else `~/.local/share/tandem`; `null` = nothing is written to disk; created if missing, and
/// `TANDEM_ERR_IO` when it cannot be created or written), `fsync` (`always`,
/// `turn` (default: a turn is durable before its `turn_ended` event) or `never`), `worker_threads` (1-64, default 2),
/// `event_queue_capacity` (default 65536), `event_history_capacity` (per session, default 1024), `pull_events`
/// (default true; set false if you only use callbacks), `restart` {`max_attempts`, `base_delay_ms`, `max_delay_ms`,
/// `window_ms`}, `session_defaults` (session options merged under every start), `mcp_servers` (MCP servers every
/// session of the client gets, in the forms of the session option; docs/options.md; `TANDEM_ERR_NOT_SUPPORTED` in a
/// build without the Cargo feature `mcp`), `remote` (a remote client: `{"url": "ws://host:port" | "wss://...",
/// "gateway_token_file": PATH | "gateway_token_env": NAME, "ca_file": PATH}`; its session calls go to that gateway
/// and its events come from it, with the gateway's seqs; docs/remote.md, "Remote clients", lists the calls with no
/// remote form (`TANDEM_ERR_NOT_SUPPORTED`). The gateway token is never in the JSON itself. A gateway that cannot be
/// reached is `TANDEM_ERR_IO`, a refused token `TANDEM_ERR_INVALID_ARGUMENT` ("unauthorized: ..."); a viewer's driver
/// call is `TANDEM_ERR_BUSY` with a message starting "not_driver:". `TANDEM_ERR_NOT_SUPPORTED` in a build without
/// the Cargo feature `remote`). Unknown keys are rejected.
///
/// On success `*out` is a new client the caller owns: free it with `tandem_client_free`. Several clients may
/// coexist. The client must not be used in a forked child (calls return `TANDEM_ERR_FORKED`).
#[no_mangle]
pub unsafe extern "C" fn tandem_client_new(
    config_json: *const c_char,
    out: *mut *mut tandem_client,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let config = opt_str(config_json, "config_json")?;
        let inner = Client::new(config)?;
        out.write(Box::into_raw(Box::new(tandem_client {
            inner: std::sync::Arc::new(inner),
        })));
        Ok(())
    })
}

/// Stops every session (flushing each), delivers the callbacks already queued, wakes every thread blocked in
/// `tandem_client_next_event` (they get `TANDEM_ERR_SHUTTING_DOWN` once the queue is empty), releases every
/// subscription (calling its `userdata_free`), and stops the runtime, waiting up to `timeout_ms` for its tasks.
/// Idempotent. Afterwards only `tandem_client_next_event` (to drain) and `tandem_client_free` are useful.
///
/// Returns `TANDEM_ERR_REENTRANT_CALL` at once when called from one of the client's callbacks (an event callback, a
/// host tool or a host provider callback): those run on threads the shutdown waits for. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_shutdown(
    client: *mut tandem_client,
    timeout_ms: u32,
) -> tandem_status {
    guard(|| client_ref(client)?.shutdown(Duration::from_millis(timeout_ms.into())))
}

/// Shuts the client down (if it was not) and frees it. NULL is a no-op.
///
/// Must not be called from one of the client's callbacks (event, host tool or host provider): that is detected at
/// once, reported through `tandem_last_error_message`
/// (`TANDEM_ERR_REENTRANT_CALL`), and the client is left alive. In a forked child the client's memory is leaked
/// rather than touched. No other thread may use the client during or after this call.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_free(client: *mut tandem_client) {
    guard_value((), || {
        if client.is_null() {
            return;
        }
        let c = &(*client).inner;
        if c.in_callback() {
            set_last_error(&Error::ReentrantCall(
                "tandem_client_free cannot be called from one of the client's callbacks (event, host tool or host provider)".into(),
            ));
            return;
        }
        let boxed = Box::from_raw(client);
        if boxed.inner.check_process().is_err() {
            std::mem::forget(boxed);
            return;
        }
        // Shut down here, on the caller's thread: a gateway task holding the client for a moment must never be
        // the one that drops it (that would stop the runtime from one of its own threads).
        let _ = boxed.inner.shutdown(Duration::from_secs(5));
        drop(boxed);
    })
}
