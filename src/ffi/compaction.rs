//! Exported compaction, continue and summarize functions.
//!
//! Thread-safe. `compact` and `summarize` make one model call and block until it answers (at most 120 s); call them
//! from a thread that may block, not from an event callback that the host needs for other work. While one runs,
//! prompts are refused with `TANDEM_ERR_BUSY`.

use std::ffi::c_char;

use super::boundary::{session_do, session_json};
use super::types::{tandem_client, tandem_status};

/// Compacts the model context: everything before a recent user prompt is replaced by a model-written summary,
/// keeping at least the session's `compaction.keep_recent` messages (default 6) verbatim; a tool call is never
/// separated from its result. The transcript keeps every message and gains a notice. `*out` is
/// `{"compacted": bool, "info": str, "summary"?: str}`, owned by the caller. `TANDEM_ERR_BUSY` while a turn runs.
/// `tandem_session_abort` or `tandem_session_stop` from another thread cancels it: this call returns
/// `TANDEM_ERR_PROVIDER` ("cancelled …") and the transcript is left as it was.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_compact(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.compact(id))
}

/// Resumes a turn that a stream failure cut off (the partial answer was kept) or that reached `max_turns`: starts a
/// turn (with a fresh tool-round count) asking the model to continue where it stopped. `TANDEM_ERR_INVALID_ARGUMENT`
/// when the last turn was neither, `TANDEM_ERR_BUSY` while a turn runs.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_continue(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.continue_turn(id))
}

/// Writes a Markdown summary of the conversation to
/// `<workdir>/.tandem/context/session-summary-<6 random hex digits>-<YYYY-MM-DD>.md` (e.g.
/// `session-summary-3fa9c1-2026-12-04.md`; the random part keeps two summaries of one day apart). `*out` is
/// `{"text", "path"}`, owned by the caller. `TANDEM_ERR_NOT_SUPPORTED` for a session without a workdir and for a pi
/// session, `TANDEM_ERR_INVALID_ARGUMENT` when there is nothing to summarize yet. Cancelled like
/// `tandem_session_compact` by an abort or a stop (`TANDEM_ERR_PROVIDER`, nothing written).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_summarize(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.summarize(id))
}
