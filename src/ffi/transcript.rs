//! Exported transcript-shaping functions: branches, collapse toggles, edit boundaries and touched files.
//!
//! Thread-safe; callable from callbacks. Branching and switching are refused with `TANDEM_ERR_BUSY` while a turn
//! runs; unknown message IDs and branch numbers are `TANDEM_ERR_NOT_FOUND`.

use std::ffi::c_char;

use super::boundary::{
    arg_str, client as client_ref, guard, session_arg, session_do, session_json, Out,
};
use super::types::{tandem_client, tandem_status};
use crate::session::machine::state::EditOp;

/// Saves the whole transcript as a new branch (`branch-N`) and cuts the transcript after message `message_id`.
/// `*out` is `{"number", "name", "message_count"}` (the count kept), owned by the caller. The next turn's context is
/// the cut transcript.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_branch_at(
    client: *mut tandem_client,
    id: *const c_char,
    message_id: u64,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write_json(&client_ref(client)?.edit(id, EditOp::BranchAt(message_id))?)
    })
}

/// The branches as a JSON array of `{"number", "name", "message_count", "created_at"}` (numbers from 1), owned by
/// the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_list_branches(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.list_branches(id))
}

/// Replaces the transcript with branch `branch_number` (1-based; 0 and numbers past the last branch are
/// `TANDEM_ERR_NOT_FOUND`). Messages keep their IDs. The current transcript is not saved: branch it first to keep it.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_switch_branch(
    client: *mut tandem_client,
    id: *const c_char,
    branch_number: u32,
) -> tandem_status {
    session_do(client, id, |c, id| {
        c.edit(id, EditOp::SwitchBranch(branch_number)).map(drop)
    })
}

/// Toggles whether tool call or thinking message `message_id` is collapsed (`TANDEM_ERR_INVALID_ARGUMENT` for other
/// kinds of message).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_toggle_tool_collapse(
    client: *mut tandem_client,
    id: *const c_char,
    message_id: u64,
) -> tandem_status {
    session_do(client, id, |c, id| {
        c.edit(id, EditOp::ToggleCollapse(message_id)).map(drop)
    })
}

/// Expands every tool call and thinking block if any is collapsed; otherwise collapses them all.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_toggle_all_tool_collapses(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| {
        c.edit(id, EditOp::ToggleAllCollapses).map(drop)
    })
}

/// Limits edits of `path` to lines `start_line..=end_line` (0-based, inclusive; `start_line > end_line` is
/// `TANDEM_ERR_INVALID_ARGUMENT`). Relative paths are taken from the session's workdir. Edits above or inside the
/// range move it as lines are added or removed.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_set_boundary(
    client: *mut tandem_client,
    id: *const c_char,
    path: *const c_char,
    start_line: u32,
    end_line: u32,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let path = arg_str(path, "path")?;
        client_ref(client)?.set_boundary(id, path, start_line, end_line)
    })
}

/// Removes the boundary of `path` (a no-op when it has none).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_clear_boundary(
    client: *mut tandem_client,
    id: *const c_char,
    path: *const c_char,
) -> tandem_status {
    session_arg(client, id, path, "path", |c, id, path| {
        c.clear_boundary(id, path)
    })
}

/// Removes every boundary of the session.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_clear_all_boundaries(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| {
        c.edit(id, EditOp::ClearAllBoundaries).map(drop)
    })
}

/// The boundary of `path`: `null` or `{"start_line", "end_line"}`, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_boundary_for(
    client: *mut tandem_client,
    id: *const c_char,
    path: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        let path = arg_str(path, "path")?;
        out.write_json(&client_ref(client)?.boundary_for(id, path)?)
    })
}

/// Files the session's tools created, modified or deleted: `[{"path", "action", "timestamp_ms"}]`, newest first,
/// one entry per path (its latest change). Owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_touched_files(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.touched_files(id))
}
