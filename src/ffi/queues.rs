//! Exported prompt-queue functions: steering and follow-ups, and the host's view of the queues.
//!
//! Thread-safe; callable from callbacks. Queue entries are JSON arrays of content parts, as accepted by
//! `tandem_session_send_prompt_parts`.

use std::ffi::c_char;

use super::boundary::{arg_str, guard, session_do, session_json, Out};
use super::prompt::{parts_prompt, session_prompt, text_prompt};
use super::types::{tandem_client, tandem_prompt_result, tandem_status};
use crate::session::machine::state::QueueOp;

/// Same as `tandem_session_send_prompt`: starts a turn when idle, otherwise queues `prompt` as steering, which the
/// agent sees after its current tool calls (one user message combining every queued entry).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_queue_steering(
    client: *mut tandem_client,
    id: *const c_char,
    prompt: *const c_char,
    out_or_null: *mut tandem_prompt_result,
) -> tandem_status {
    session_prompt(client, id, || text_prompt(prompt), out_or_null, false)
}

/// Starts a turn with `prompt` when idle (`TANDEM_PROMPT_RESULT_SENT`); while a turn runs, queues it as a follow-up
/// (`TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP`), sent when the turn ends together with any pending steering.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_queue_follow_up(
    client: *mut tandem_client,
    id: *const c_char,
    prompt: *const c_char,
    out_or_null: *mut tandem_prompt_result,
) -> tandem_status {
    session_prompt(client, id, || text_prompt(prompt), out_or_null, true)
}

/// Like `tandem_session_queue_follow_up` with a JSON array of content parts (as `tandem_session_send_prompt_parts`
/// takes): images stay with the entry when the queues are combined at the end of the turn. Malformed JSON is
/// `TANDEM_ERR_INVALID_JSON`; an empty array, an unknown part type, a media type not starting with `image/` or data that is not base64
/// is `TANDEM_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_queue_follow_up_parts(
    client: *mut tandem_client,
    id: *const c_char,
    parts_json: *const c_char,
    out_or_null: *mut tandem_prompt_result,
) -> tandem_status {
    session_prompt(client, id, || parts_prompt(parts_json), out_or_null, true)
}

/// The text of queue entries, for display or for putting back in the host's prompt input (the seed's
/// `combine_queue_entries_to_text`): `entries_json` is a JSON array whose entries are strings or arrays of content
/// parts (what `tandem_session_recall_queues` and `tandem_session_dequeue_steering` return); `*out` is each entry's
/// text, entries separated by a blank line, empty entries and images left out. Owned by the caller; free it with
/// `tandem_string_free`. Malformed JSON is `TANDEM_ERR_INVALID_JSON`, another shape `TANDEM_ERR_INVALID_ARGUMENT`.
/// Needs no client; any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_queue_entries_to_text(
    entries_json: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let json = arg_str(entries_json, "entries_json")?;
        let entries = crate::error::Error::parse_json("entries_json", json)?;
        out.write_string(crate::vocab::content::entries_text(entries))
    })
}

/// Takes back the queued steering entries (follow-ups stay): `*out` is a JSON array of entries, each an array of
/// content parts, owned by the caller. Emits `queues_recalled` when something was taken.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_dequeue_steering(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| {
        c.queues(id, QueueOp::DequeueSteering)
    })
}

/// The queues, unchanged: `{"steering": [entry...], "follow_up": [entry...]}`, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_queued_messages(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.queues(id, QueueOp::Show))
}

/// Takes back both queues: `*out` is `{"steering": [...], "follow_up": [...]}`, owned by the caller; the queues are
/// empty afterwards and `queues_recalled` is emitted.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_recall_queues(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.queues(id, QueueOp::Recall))
}

/// Empties both queues and emits `queues_recalled`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_clear_queues(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.queues(id, QueueOp::Clear).map(drop))
}
