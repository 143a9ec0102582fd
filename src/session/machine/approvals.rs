//! Tool gating in the session state machine: plan-mode refusals, trust scopes, pending approvals and their answers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::state::{Effect, Now, Reply, SessionState, Status};
use super::transcript::{Body, Level};
use crate::error::Error;
use crate::events::Payload;
pub use crate::vocab::gate::{Decision, Gate, GateRequest, Scope};

/// An approval waiting for the host, as hosts see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingApproval {
    /// The approval's ID (the tool call's ID).
    pub approval_id: String,
    /// The tool call.
    pub tool_call_id: String,
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub args: Value,
    /// Preview `{kind, summary, lines}`.
    pub preview: Value,
}

/// Pending approval and granted trust.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Approvals {
    pub(super) pending: Option<PendingApproval>,
    pub(super) trust: BTreeMap<String, Scope>,
}

const PLAN_ON: &str = "Plan mode enabled. Destructive tools are blocked before execution. Read-only and search tools \
                       still work. Use exec mode when you are ready to make changes.";
const PLAN_OFF: &str =
    "Execution mode enabled. Destructive tools can run again after normal approval checks.";

impl SessionState {
    /// The pending approval as JSON, or `null`.
    pub fn pending_approval(&self) -> Value {
        self.approvals.pending.as_ref().map_or(Value::Null, |p| {
            serde_json::to_value(p).expect("approvals serialize")
        })
    }

    /// Granted trust: `{tool name: "session" | "turn"}`.
    pub fn trust(&self) -> Value {
        serde_json::to_value(&self.approvals.trust).expect("trust serializes")
    }

    /// Revokes the trust `approve-for-turn` or `approve-for-session` granted to tool `name` (`None`: every tool), so
    /// its next call asks again. `NotFound` for a tool that holds no trust, naming those that do.
    pub(super) fn revoke_trust(&mut self, name: Option<&str>) -> Reply {
        match name {
            None => self.approvals.trust.clear(),
            Some(name) if self.approvals.trust.remove(name).is_some() => {}
            Some(name) => {
                let trusted: Vec<&str> = self.approvals.trust.keys().map(String::as_str).collect();
                return Reply::Failed(Error::NotFound(format!(
                    "tool {name:?} is not trusted in this session; trusted tools: [{}]",
                    trusted.join(", ")
                )));
            }
        }
        Reply::Ok
    }

    /// Decides whether a tool call of turn `turn_id` may run.
    pub(super) fn gate(
        &mut self,
        turn_id: u64,
        req: GateRequest,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> Reply {
        if self.turn.is_none_or(|t| t.id != turn_id) {
            return Reply::Gate(Gate::Refuse("Tool call cancelled: the turn is over".into()));
        }
        if self.status == Status::Plan && req.destructive {
            let text = format!(
                "Plan mode is active. Refusing destructive tool {}. Leave plan mode before running tools that change \
                 files or shell state.",
                req.name
            );
            self.transcript
                .push(Body::system(text.clone(), Level::Info));
            self.messages_changed(now, fx);
            return Reply::Gate(Gate::Refuse(text));
        }
        if !req.ask {
            self.start_tool(&req.tool_call_id, now, fx);
            return Reply::Gate(Gate::Run);
        }
        let trusted = self.approvals.trust.get(&req.name).copied();
        if let Some(scope) = trusted.filter(|_| !req.protected) {
            let scope_name = if scope == Scope::Session {
                "session"
            } else {
                "turn"
            };
            if let Some(Body::ToolCall {
                auto_approved_scope,
                ..
            }) = self.transcript.tool_call_mut(&req.tool_call_id)
            {
                *auto_approved_scope = Some(scope_name.into());
            }
            fx.push(Effect::Emit(Payload::ToolAutoApproved {
                tool_call_id: req.tool_call_id.clone(),
                name: req.name,
                scope,
            }));
            self.messages_changed(now, fx);
            self.start_tool(&req.tool_call_id, now, fx);
            return Reply::Gate(Gate::Run);
        }
        let pending = PendingApproval {
            approval_id: req.tool_call_id.clone(),
            tool_call_id: req.tool_call_id,
            name: req.name,
            args: req.args,
            preview: req.preview,
        };
        fx.push(Effect::Emit(Payload::ApprovalPending {
            approval: serde_json::to_value(&pending).expect("serializes"),
        }));
        self.approvals.pending = Some(pending);
        Reply::Gate(Gate::Wait)
    }

    /// The host's answer to the pending approval (or to `approval_id`, which must be the pending one).
    pub(super) fn respond(
        &mut self,
        approval_id: Option<String>,
        decision: Decision,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> Reply {
        let Some(pending) = self.approvals.pending.as_ref() else {
            return Reply::Failed(Error::NoPendingApproval("no approval is pending".into()));
        };
        if let Some(id) = approval_id.filter(|id| *id != pending.approval_id) {
            return Reply::Failed(Error::NoPendingApproval(format!(
                "approval {id:?} is not pending (the pending approval is {:?})",
                pending.approval_id
            )));
        }
        let pending = self.approvals.pending.take().expect("checked above");
        match decision {
            Decision::ApproveSession => {
                self.approvals
                    .trust
                    .insert(pending.name.clone(), Scope::Session);
            }
            Decision::ApproveTurn => {
                self.approvals
                    .trust
                    .insert(pending.name.clone(), Scope::Turn);
            }
            Decision::Approve | Decision::Reject => {}
        }
        let gate = if decision == Decision::Reject {
            self.transcript.push(Body::system(
                format!(
                    "Denied {}: the tool was refused and the agent was notified.",
                    pending.name
                ),
                Level::Info,
            ));
            Gate::Refuse("Tool rejected by user".into())
        } else {
            Gate::Run
        };
        self.messages_changed(now, fx);
        fx.push(Effect::Emit(Payload::ApprovalResolved {
            approval_id: pending.approval_id.clone(),
            decision: decision.name(),
        }));
        if matches!(gate, Gate::Run) {
            self.start_tool(&pending.tool_call_id, now, fx);
        }
        fx.push(Effect::ResolveApproval {
            approval_id: pending.approval_id,
            gate,
        });
        Reply::Ok
    }

    /// Cancels the pending approval, if any: the tool gets a "cancelled" error result.
    pub(super) fn cancel_approval(&mut self, why: &str, fx: &mut Vec<Effect>) {
        if let Some(p) = self.approvals.pending.take() {
            fx.push(Effect::Emit(Payload::ApprovalResolved {
                approval_id: p.approval_id.clone(),
                decision: "cancelled",
            }));
            fx.push(Effect::ResolveApproval {
                approval_id: p.approval_id,
                gate: Gate::Refuse(format!("Tool call cancelled: {why}")),
            });
        }
    }

    /// The loop gave up waiting for approval `tool_call_id`.
    pub(super) fn approval_timed_out(&mut self, tool_call_id: &str, fx: &mut Vec<Effect>) {
        if self
            .approvals
            .pending
            .as_ref()
            .is_some_and(|p| p.approval_id == tool_call_id)
        {
            self.approvals.pending = None;
            fx.push(Effect::Emit(Payload::ApprovalResolved {
                approval_id: tool_call_id.into(),
                decision: "timed_out",
            }));
        }
    }

    /// Drops turn-scoped trust (at every turn end).
    pub(super) fn clear_turn_trust(&mut self) {
        self.approvals
            .trust
            .retain(|_, scope| *scope == Scope::Session);
    }

    /// Enters plan mode (from any status, also mid-turn): a pending approval is cancelled.
    pub(super) fn enter_plan(&mut self, now: Now, fx: &mut Vec<Effect>) -> Reply {
        self.cancel_approval("plan mode was entered", fx);
        self.transcript.push(Body::system(PLAN_ON, Level::Info));
        self.messages_changed(now, fx);
        self.set_status(Status::Plan, fx);
        Reply::Ok
    }

    /// Leaves plan mode; a no-op outside it.
    pub(super) fn enter_exec(&mut self, now: Now, fx: &mut Vec<Effect>) -> Reply {
        if self.status != Status::Plan {
            return Reply::Ok;
        }
        self.transcript.push(Body::system(PLAN_OFF, Level::Info));
        self.messages_changed(now, fx);
        let next = match (self.turn.is_some(), self.error_message.is_some()) {
            (true, _) => Status::Thinking,
            (false, true) => Status::Error,
            (false, false) => Status::Idle,
        };
        self.set_status(next, fx);
        Reply::Ok
    }
}
