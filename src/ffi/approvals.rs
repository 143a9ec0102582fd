//! Exported approval and plan-mode functions.
//!
//! Thread-safe; callable from callbacks. A tool call that needs approval emits `approval_pending` with
//! `{approval_id, tool_call_id, name, args, preview}` and waits (up to the session's `approval_timeout_ms`, default
//! 300000) for `tandem_session_respond_to_approval`.

use std::ffi::c_char;

use super::boundary::{arg_str, client as client_ref, guard, opt_str, session_do, session_json};
use super::types::{approval_decision, tandem_client, tandem_status, RawApprovalDecision};

/// Answers the pending approval. `approval_id_or_null` names the approval being answered (recommended: an answer
/// meant for an approval that is no longer pending is refused with `TANDEM_ERR_NO_PENDING_APPROVAL` instead of
/// approving a different call); NULL answers whichever is pending. `decision` is a `tandem_approval_decision`
/// (other values are `TANDEM_ERR_INVALID_ARGUMENT`): approve once, approve this tool until the turn ends or for the
/// whole conversation, or reject (the agent gets "Tool rejected by user"). Emits `approval_resolved`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_respond_to_approval(
    client: *mut tandem_client,
    id: *const c_char,
    approval_id_or_null: *const c_char,
    decision: RawApprovalDecision,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let approval_id = opt_str(approval_id_or_null, "approval_id")?;
        let decision = approval_decision(decision)?;
        client_ref(client)?.respond_to_approval(id, approval_id, decision)
    })
}

/// The tools the session trusts, granted by `TANDEM_APPROVAL_DECISION_APPROVE_TURN` (until the turn ends) or
/// `…_APPROVE_SESSION` (for the conversation: until revoked, a new conversation or a load): `*out` is a JSON object
/// `{"<tool name>": "turn" | "session"}`, owned by the caller (free with `tandem_string_free`). Thread-safe;
/// callable from callbacks.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_trusted_tools(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.trusted_tools(id))
}

/// Revokes the trust granted to tool `name_or_null` (NULL: to every tool), so its next call asks for approval
/// again (a call already approved is not affected). `TANDEM_ERR_NOT_FOUND` when that tool holds no trust (the
/// message lists those that do). Borrows its arguments; thread-safe; callable from callbacks.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_revoke_trust(
    client: *mut tandem_client,
    id: *const c_char,
    name_or_null: *const c_char,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let name = opt_str(name_or_null, "name")?;
        client_ref(client)?.revoke_trust(id, name)
    })
}

/// Enters plan mode (from any status, also mid-turn): destructive tools are refused before they run, a pending
/// approval is cancelled (its tool gets a "cancelled" result), and the status becomes
/// `TANDEM_SESSION_STATUS_PLAN`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_enter_plan(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.enter_plan(id))
}

/// Leaves plan mode; destructive tools go through the normal approval checks again. A no-op outside plan mode.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_enter_exec(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.enter_exec(id))
}
