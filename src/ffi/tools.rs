//! Host tool exports: register and unregister tools the host implements, and complete their calls.

use std::ffi::{c_char, c_void};

use super::boundary::{arg_str, client as client_ref, guard, guard_value};
use super::foreign::{c_string, ForeignData};
use super::types::{tandem_client, tandem_status, tandem_userdata_free};
use crate::error::Error;
use crate::tools::host::{self, HostToolSink, HostToolSpec, Invocation};

/// A host tool call in progress. Opaque: a handle, valid from the callback until `tandem_tool_call_complete`
/// accepts it (tandem never dereferences it, so a stale handle is an error, not a crash).
pub struct tandem_tool_call {
    _never_constructed: (),
}

/// What a host tool call is about. Borrowed: valid only during the callback (copy what you keep).
#[repr(C)]
pub struct tandem_tool_invocation {
    /// The calling session's ID.
    pub session_id: *const c_char,
    /// The model's ID for this call (the `tool_call_id` of the session's events).
    pub tool_call_id: *const c_char,
    /// The tool's name.
    pub name: *const c_char,
    /// The arguments the model sent, a JSON object.
    pub args_json: *const c_char,
}

/// A host tool's callback: runs on a thread tandem owns (several calls may run at once, on different threads). It
/// may answer before returning or later from any thread with `tandem_tool_call_complete`.
pub type tandem_tool_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        call: *mut tandem_tool_call,
        invocation: *const tandem_tool_invocation,
    ),
>;

// The callback runs on tandem's threads, concurrently for concurrent calls (documented on
// tandem_client_register_tool).
struct CallbackTool {
    callback:
        unsafe extern "C" fn(*mut c_void, *mut tandem_tool_call, *const tandem_tool_invocation),
    data: ForeignData,
}

impl HostToolSink for CallbackTool {
    fn invoke(&self, call: &Invocation) {
        let (session_id, tool_call_id, name, args) = (
            c_string(&call.session_id),
            c_string(&call.tool_call_id),
            c_string(&call.name),
            c_string(&call.args_json),
        );
        let inv = tandem_tool_invocation {
            session_id: session_id.as_ptr(),
            tool_call_id: tool_call_id.as_ptr(),
            name: name.as_ptr(),
            args_json: args.as_ptr(),
        };
        // The handle is a number dressed as a pointer; the host only passes it back.
        let handle = call.handle as usize as *mut tandem_tool_call;
        // SAFETY: the host registered this callback for exactly this use; `inv` outlives the call.
        unsafe { (self.callback)(self.data.get(), handle, &inv) }
    }

    fn release(&self) {
        self.data.release();
    }
}

/// Registers a tool the host implements. `spec_json` is `{"name", "description", "parameters" (a JSON Schema with
/// "type": "object"), "destructive" (default false)}`; names are 1-64 characters from `[A-Za-z0-9_-]` and may not
/// be a built-in tool's nor `task` (the sub-agent tool, docs/governance.md). Every session of the client offers the tool to its model unless the session's `tools`
/// option leaves it out; destructive tools go through the session's approval policy and are refused in plan mode.
///
/// `callback` runs on a tandem-owned thread for each call, possibly on several threads at once; answer each call
/// exactly once with `tandem_tool_call_complete`, before returning or later from any thread. An aborted turn
/// cancels its calls (see `tandem_tool_call_is_cancelled`); they must still be completed. `userdata_free` (may be
/// NULL) is called exactly once: after `tandem_client_unregister_tool` and the last running callback, at client
/// shutdown or free, or right away if this call fails after its arguments were checked (e.g.
/// `TANDEM_ERR_ALREADY_EXISTS`). Errors before that (NULL, invalid UTF-8, malformed or invalid spec) leave
/// `userdata` with the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_register_tool(
    client: *mut tandem_client,
    spec_json: *const c_char,
    callback: tandem_tool_callback,
    userdata: *mut c_void,
    userdata_free: tandem_userdata_free,
) -> tandem_status {
    guard(|| {
        let c = client_ref(client)?;
        let spec = HostToolSpec::parse(arg_str(spec_json, "spec_json")?)?;
        let callback = callback.ok_or(Error::NullArgument("callback"))?;
        let sink = CallbackTool {
            callback,
            data: ForeignData::new(userdata, userdata_free),
        };
        c.register_tool(spec, Box::new(sink))
    })
}

/// Unregisters host tool `name`: new model calls no longer see it; calls already running finish. `TANDEM_ERR_NOT_FOUND`
/// for unknown names.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_unregister_tool(
    client: *mut tandem_client,
    name: *const c_char,
) -> tandem_status {
    guard(|| {
        let name = arg_str(name, "name")?;
        client_ref(client)?.unregister_tool(name)
    })
}

/// Answers a host tool call with `result_text` (UTF-8; an error message when `is_error`). After `TANDEM_OK` the
/// handle is spent. `TANDEM_ERR_NOT_FOUND` for a handle that was already completed or never issued; on any error the
/// handle stays as it was. A cancelled call accepts its answer and drops it. Any thread, also inside the callback.
#[no_mangle]
pub unsafe extern "C" fn tandem_tool_call_complete(
    call: *mut tandem_tool_call,
    result_text: *const c_char,
    is_error: bool,
) -> tandem_status {
    guard(|| {
        if call.is_null() {
            return Err(Error::NullArgument("call"));
        }
        let text = arg_str(result_text, "result_text")?;
        host::complete(call as usize as u64, text.to_string(), is_error)
    })
}

/// Whether the call was cancelled (its turn was aborted or its session stopped): the host may stop working on it
/// but must still complete it. True for NULL and for handles that are no longer pending. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_tool_call_is_cancelled(call: *const tandem_tool_call) -> bool {
    guard_value(true, || {
        call.is_null() || host::is_cancelled(call as usize as u64)
    })
}
