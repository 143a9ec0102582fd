//! Exported approval and plan-mode functions.
//!
//! Thread-safe; callable from callbacks. A tool call that needs approval emits `approval_pending` with
//! `{approval_id, tool_call_id, name, args, preview}` and waits (up to the session's `approval_timeout_ms`, default
//! 300000) for `tandem_session_respond_to_approval`.

use std::ffi::c_char;

use super::boundary::{arg_str, client as client_ref, guard, opt_str, session_do};
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
