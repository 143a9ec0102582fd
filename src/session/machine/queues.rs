//! Prompt queues of the session state machine: steering (delivered between tool batches) and follow-ups (delivered
//! when the turn ends), and the host's view of them.

use serde_json::{json, Value};

use super::state::{parts_json, Effect, Now, QueueOp, Reply, SessionState};
use super::transcript::ContentPart;
use crate::events::Payload;

fn entries_json(entries: &[Vec<ContentPart>]) -> Value {
    Value::Array(entries.iter().map(|e| parts_json(e)).collect())
}

impl SessionState {
    /// The queued prompts: `{"steering": [[parts...]...], "follow_up": [...]}`.
    pub fn queued(&self) -> Value {
        json!({"steering": entries_json(&self.steering), "follow_up": entries_json(&self.follow_up)})
    }

    pub(super) fn queue_command(&mut self, op: QueueOp, fx: &mut Vec<Effect>) -> Reply {
        match op {
            QueueOp::Show => Reply::Json(self.queued()),
            QueueOp::DequeueSteering => {
                let taken = std::mem::take(&mut self.steering);
                if !taken.is_empty() {
                    fx.push(Effect::Emit(Payload::QueuesRecalled));
                }
                Reply::Json(entries_json(&taken))
            }
            QueueOp::Recall => {
                let out = self.queued();
                self.steering.clear();
                self.follow_up.clear();
                fx.push(Effect::Emit(Payload::QueuesRecalled));
                Reply::Json(out)
            }
            QueueOp::Clear => {
                self.steering.clear();
                self.follow_up.clear();
                fx.push(Effect::Emit(Payload::QueuesRecalled));
                Reply::Ok
            }
        }
    }

    /// Hands the pending steering to the running turn: one transcript message per entry, and the entries for the
    /// provider to combine into one user message of its context.
    pub(super) fn take_steering(&mut self, turn_id: u64, now: Now, fx: &mut Vec<Effect>) -> Reply {
        if self.turn.is_none_or(|t| t.id != turn_id) || self.steering.is_empty() {
            return Reply::Steering(Vec::new());
        }
        let entries = std::mem::take(&mut self.steering)
            .into_iter()
            .map(|e| self.push_user(e))
            .collect();
        self.messages_changed(now, fx);
        Reply::Steering(entries)
    }
}
