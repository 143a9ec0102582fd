//! Host provider exports: register the callback that answers model calls, emit its events, and ask whether a
//! request was cancelled.

use std::ffi::{c_char, c_void};

use super::boundary::{arg_str, client as client_ref, guard, guard_value};
use super::foreign::{c_string, ForeignData};
use super::types::{tandem_client, tandem_status, tandem_userdata_free};
use crate::provider::host::{HostProviderSink, Request};

/// One model call for the host provider. Borrowed: valid only during the callback (copy what you keep).
#[repr(C)]
pub struct tandem_provider_request {
    /// The calling session's ID.
    pub session_id: *const c_char,
    /// The request's ID: put it in every `tandem_provider_emit` event as `"request_id"` (unique within the client,
    /// never reused).
    pub request_id: u64,
    /// The request, a JSON object: `{"session_id", "request_id", "model" ("host:<name>"), "thinking_level"
    /// ("off"|"low"|"medium"|"high"), "system_prompt" (string or null), "messages": [...], "tools": [{"name",
    /// "description", "input_schema"}]}`. Messages, oldest first: `{"role": "user", "content": [content parts]}`,
    /// `{"role": "assistant", "text", "thinking": [{"text", "signature"}], "tool_calls": [{"id", "name", "args"}]}`,
    /// `{"role": "tool_result", "tool_call_id", "name", "content", "is_error"}`.
    pub request_json: *const c_char,
}

/// The host provider's callback: runs on a tandem-owned thread once per model call (calls of different sessions
/// may run at once, on different threads). Answer with `tandem_provider_emit`, before returning or later from any
/// thread.
pub type tandem_provider_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, request: *const tandem_provider_request)>;

// The callback runs on tandem's threads, concurrently for concurrent requests (documented on
// tandem_client_set_provider).
struct CallbackProvider {
    callback: unsafe extern "C" fn(*mut c_void, *const tandem_provider_request),
    data: ForeignData,
}

impl HostProviderSink for CallbackProvider {
    fn invoke(&self, request: &Request) {
        let (session_id, json) = (c_string(&request.session_id), c_string(&request.json));
        let req = tandem_provider_request {
            session_id: session_id.as_ptr(),
            request_id: request.request_id,
            request_json: json.as_ptr(),
        };
        // SAFETY: the host registered this callback for exactly this use; `req` outlives the call.
        unsafe { (self.callback)(self.data.get(), &req) }
    }

    fn release(&self) {
        self.data.release();
    }
}

/// Registers the host provider: sessions started with `"provider": "host"` (models `host:<name>`) run tandem's
/// agent loop with the host as the model. Each model call (each step of a turn, and compaction or summary calls)
/// becomes one `callback` with a `tandem_provider_request`; the host answers it with `tandem_provider_emit` events
/// and tandem runs the tool calls it asks for (with the session's approvals), then makes the next call.
///
/// Replaces any registered callback (the old one's `userdata_free` runs after its running callbacks). A NULL
/// `callback` unregisters; `userdata` and `userdata_free` are then ignored, and prompts of host sessions end with an
/// error until a callback is registered again. `userdata_free` (may be NULL) is called exactly once: after the
/// callback is replaced or unregistered and its last running call returned, at client shutdown or free, or at once
/// when this call fails after its arguments were checked (`TANDEM_ERR_SHUTTING_DOWN`). `callback` runs on
/// tandem-owned threads, possibly several at once; it may call any tandem function.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_set_provider(
    client: *mut tandem_client,
    callback: tandem_provider_callback,
    userdata: *mut c_void,
    userdata_free: tandem_userdata_free,
) -> tandem_status {
    guard(|| {
        let c = client_ref(client)?;
        let sink = callback.map(|callback| {
            Box::new(CallbackProvider {
                callback,
                data: ForeignData::new(userdata, userdata_free),
            }) as Box<dyn HostProviderSink>
        });
        c.set_provider(sink)
    })
}

/// Passes one event of a host provider request of session `session_id` to tandem. `event_json` is an object with
/// the request's ID, `"request_id"` (from the `tandem_provider_request`; it keeps a late event of an aborted request
/// out of the next one), and one of: `{"type": "text_delta", "text"}`, `{"type": "thinking_delta", "text"}`,
/// `{"type": "thinking_signature", "signature"}`, `{"type": "tool_call", "id", "name", "args": {...}}` (a complete
/// call; tandem runs it after the request is done), `{"type": "usage", "input", "output", "cache_read",
/// "cache_write", "cost"}` (all optional), `{"type": "done", "stop_reason"?}` (`"max_tokens"` marks a cut answer) or
/// `{"type": "error", "message", "retryable"?}`. `done` and `error` end the request; every request must end with one
/// of them. Example: `{"request_id": 7, "type": "text_delta", "text": "Hello"}`.
///
/// `TANDEM_ERR_INVALID_JSON` for malformed JSON, `TANDEM_ERR_INVALID_ARGUMENT` for a missing or malformed
/// `request_id`, an unknown type, or missing or extra fields, `TANDEM_ERR_NOT_FOUND` for a request that ended, was
/// aborted (see `tandem_provider_request_is_cancelled`), belongs to another session or was never issued.
/// `event_json` is borrowed for the call. Any thread, also inside the callback.
#[no_mangle]
pub unsafe extern "C" fn tandem_provider_emit(
    client: *mut tandem_client,
    session_id: *const c_char,
    event_json: *const c_char,
) -> tandem_status {
    guard(|| {
        let c = client_ref(client)?;
        let id = arg_str(session_id, "session_id")?;
        let event = arg_str(event_json, "event_json")?;
        c.provider_emit_json(id, event)
    })
}

/// Whether host provider request `request_id` no longer takes events: it ended, its turn was aborted or its
/// session stopped (the host may stop generating), or it was never issued. True for a NULL client. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_provider_request_is_cancelled(
    client: *mut tandem_client,
    request_id: u64,
) -> bool {
    guard_value(true, || match client_ref(client) {
        Ok(c) => c.provider_request_is_cancelled(request_id),
        Err(_) => true,
    })
}
