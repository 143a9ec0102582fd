//! Hook exports: add and remove hook callbacks (for every session or one), and answer a hook call.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use super::boundary::{arg_str, client as client_ref, guard, opt_str, Out};
use super::foreign::{c_string, ForeignData};
use super::types::{tandem_client, tandem_status, tandem_userdata_free};
use crate::error::Error;
use crate::hooks::{HookSink, HookSpec};

/// The answer slot of one hook call. Opaque: a number dressed as a pointer, valid only inside the callback that
/// received it and on its thread (tandem never dereferences it, so a stale one is an error, not a crash).
pub struct tandem_hook_reply {
    _never_constructed: (),
}

/// A hook's callback. `input_json` (borrowed for the call) is the hook input document; the callback answers by
/// calling `tandem_hook_reply_set(reply, answer_json)` before it returns, or not at all to let the step go on
/// unchanged. Runs on a thread of the client's blocking pool, never on the thread that made the call being hooked
/// and never on the event dispatcher.
pub type tandem_hook_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        input_json: *const c_char,
        reply: *mut tandem_hook_reply,
    ),
>;

thread_local! {
    /// The reply number of the hook callback running on this thread (0: none), and what it answered.
    static REPLY: Cell<u64> = const { Cell::new(0) };
    static ANSWER: RefCell<Option<String>> = const { RefCell::new(None) };
}

static NEXT_REPLY: AtomicU64 = AtomicU64::new(1);

struct CallbackHook {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut tandem_hook_reply),
    data: ForeignData,
}

impl HookSink for CallbackHook {
    fn call(&self, input: &str) -> std::result::Result<Option<String>, String> {
        let input = c_string(input);
        let number = NEXT_REPLY.fetch_add(1, Ordering::Relaxed);
        // Saved and restored, so a hook that (through tandem) ends up running another on this thread keeps its own.
        let outer = REPLY.with(|r| r.replace(number));
        let outer_answer = ANSWER.with(|a| a.borrow_mut().take());
        // SAFETY: the host registered this callback for exactly this use; `input` outlives the call. The reply
        // handle is a number the host only passes back.
        unsafe {
            (self.callback)(
                self.data.get(),
                input.as_ptr(),
                number as usize as *mut tandem_hook_reply,
            )
        };
        REPLY.with(|r| r.set(outer));
        Ok(ANSWER.with(|a| a.replace(outer_answer)))
    }

    fn release(&self) {
        self.data.release();
    }
}

/// Adds a hook: for every session of the client when `session_id_or_null` is NULL, else for that live session only
/// (the hook goes with the session: when it stops, the hook is removed and `userdata_free` called;
/// `TANDEM_ERR_NOT_FOUND`, with `userdata_free` called at once, when no such session is live). `spec_json` is
/// `{"event": "PreToolUse" | "PostToolUse" | "UserPromptSubmit" | "Stop" | "SessionStart" | "PreCompact",
/// "matcher" (optional regex over the tool name, tandem's or Claude Code's; the session start's source; the
/// compaction's trigger), "timeout_ms" (default 60000, 1 to 3600000), "on_failure": "continue" (default) |
/// "deny"}` (`hook_spec` in the schema). The callback gets the hook input (`hook_input`) and answers with
/// `tandem_hook_reply_set` (`hook_answer`); see docs/hooks.md for what each event's answer may do.
///
/// Threading: the callback runs on a thread of the client's blocking pool, possibly on several threads at once
/// (concurrent sessions, read-only tool calls run together), never on the thread whose call is hooked and never on
/// the event dispatcher. The hooked step waits for it up to `timeout_ms`; a callback that overruns is left to return
/// on its own and its answer is dropped. A hook that times out, answers malformed JSON or answers
/// `{"error": "..."}` takes its `on_failure` default, and the session gets a system message saying so. The
/// callback may call any tandem function (`tandem_client_shutdown` and `tandem_client_free` return
/// `TANDEM_ERR_REENTRANT_CALL` there); a call that runs hooks itself (a prompt sent from a UserPromptSubmit hook)
/// runs them again, so beware of loops.
///
/// On success `*out_hook_id` gets the hook's ID (never 0) for `tandem_client_remove_hook`. `userdata_free` (may be
/// NULL) is called exactly once: after the hook is removed (or its session stopped) and its last running call
/// returned, at shutdown or free, or right away if this call fails after its arguments were checked (shutdown,
/// unknown session). Errors before that (NULL, invalid UTF-8, malformed or invalid spec) leave `userdata` with the
/// caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_add_hook(
    client: *mut tandem_client,
    session_id_or_null: *const c_char,
    spec_json: *const c_char,
    callback: tandem_hook_callback,
    userdata: *mut c_void,
    userdata_free: tandem_userdata_free,
    out_hook_id: *mut u64,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out_hook_id, "out_hook_id")?;
        let c = client_ref(client)?;
        let session = opt_str(session_id_or_null, "session_id")?;
        let spec = HookSpec::parse(arg_str(spec_json, "spec_json")?)?;
        let callback = callback.ok_or(Error::NullArgument("callback"))?;
        let sink = CallbackHook {
            callback,
            data: ForeignData::new(userdata, userdata_free),
        };
        out.write(c.add_hook(&spec, session, Box::new(sink))?);
        Ok(())
    })
}

/// Removes hook `hook_id` (a client's or a session's): it is not called for steps that start after this returns.
/// A call already running finishes, and `userdata_free` runs after it (so a hook may remove itself).
/// `TANDEM_ERR_NOT_FOUND` for unknown or already removed IDs. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_remove_hook(
    client: *mut tandem_client,
    hook_id: u64,
) -> tandem_status {
    guard(|| client_ref(client)?.remove_hook(hook_id))
}

/// Answers the hook call `reply` with `answer_json` (`hook_answer` in the schema; copied, so the host keeps its
/// string). Only inside the callback that received `reply`, on its thread: anywhere else `TANDEM_ERR_NOT_FOUND`.
/// Setting it again replaces the answer. Malformed JSON is `TANDEM_ERR_INVALID_JSON` and is still recorded, so the
/// hook's `on_failure` default applies unless a later call replaces it.
#[no_mangle]
pub unsafe extern "C" fn tandem_hook_reply_set(
    reply: *mut tandem_hook_reply,
    answer_json: *const c_char,
) -> tandem_status {
    guard(|| {
        if reply.is_null() {
            return Err(Error::NullArgument("reply"));
        }
        let current = REPLY.with(Cell::get);
        if current == 0 || current != reply as usize as u64 {
            return Err(Error::NotFound(
                "no hook call with this reply is running on this thread".into(),
            ));
        }
        let text = arg_str(answer_json, "answer_json")?;
        ANSWER.with(|a| *a.borrow_mut() = Some(text.to_string()));
        serde_json::from_str::<serde_json::Value>(text)
            .map(drop)
            .map_err(|e| Error::InvalidJson("answer_json", e.to_string()))
    })
}
