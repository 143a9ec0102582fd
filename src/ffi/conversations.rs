//! Conversation exports: new and load (per session), list and delete (per store).

use std::ffi::c_char;

use super::boundary::{arg_str, client as client_ref, guard, session_arg, session_do, Out};
use super::types::{tandem_client, tandem_status};

/// Archives the session's conversation in the store and starts a new, empty one (its ID is in the session's
/// metadata as `conversation_id`). A running turn is aborted first and a pending approval cancelled; queues, trust,
/// boundaries and touched files are reset. As the seed's `new_session` does, the saved branches are kept (and stored
/// with the new conversation, so `tandem_session_switch_branch` still reaches them) and plan mode ends: the status
/// becomes `TANDEM_SESSION_STATUS_IDLE` (a `status_changed` event says so). The session's ID and token do not
/// change. Fails with `TANDEM_ERR_IO` (and keeps the current conversation) when the current
/// conversation cannot be saved. Blocks until done; any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_new_conversation(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.new_conversation(id).map(drop))
}

/// Loads stored conversation `conversation_id` into the session, which becomes its writer: a running turn is
/// aborted first, a pending approval cancelled, queues, trust, boundaries and touched files reset, plan mode ended
/// (status `TANDEM_SESSION_STATUS_IDLE`), and the branches are the loaded conversation's. Errors:
/// `TANDEM_ERR_INVALID_ARGUMENT` for a malformed ID, `TANDEM_ERR_NOT_FOUND` when it is not stored (or the session
/// does not persist), `TANDEM_ERR_BUSY` when another session or client has it open, `TANDEM_ERR_IO` when the current
/// conversation cannot be saved. Loading the current conversation is a no-op. Blocks until done; any thread.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_load_conversation(
    client: *mut tandem_client,
    id: *const c_char,
    conversation_id: *const c_char,
) -> tandem_status {
    session_arg(
        client,
        id,
        conversation_id,
        "conversation_id",
        |c, id, conv| c.load_conversation(id, conv),
    )
}

/// Stored conversations, newest first, as a JSON array of `{id, session_id, title, model, created_at,
/// last_message_at, message_count, turn_count, cost}` (read from each file's header and tail, not whole files).
/// `[]` for a client with `store_dir: null`. `*out` is owned by the caller (`tandem_string_free`).
#[no_mangle]
pub unsafe extern "C" fn tandem_conversation_list(
    client: *mut tandem_client,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        out.write_json(&client_ref(client)?.list_conversations()?)
    })
}

/// Deletes stored conversation `conversation_id`. `TANDEM_ERR_BUSY` while a session (of any client) has it open,
/// `TANDEM_ERR_NOT_FOUND` when it is not stored, `TANDEM_ERR_INVALID_ARGUMENT` for a malformed ID.
#[no_mangle]
pub unsafe extern "C" fn tandem_conversation_delete(
    client: *mut tandem_client,
    conversation_id: *const c_char,
) -> tandem_status {
    guard(|| {
        let conv = arg_str(conversation_id, "conversation_id")?;
        client_ref(client)?.delete_conversation(conv)
    })
}
