//! Branches and collapse toggles of the session state machine.

use serde::Serialize;
use serde_json::{json, Value};

use super::conversations::JournalOp;
use super::state::{Effect, Now, SessionState};
use super::transcript::{Body, Message};
use crate::error::{Error, Result};

/// A saved copy of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// `branch-N`.
    pub name: String,
    /// The transcript as it was when the branch was made.
    pub messages: Vec<Message>,
    /// Wall-clock creation time (ms).
    pub created_at_ms: u64,
}

#[derive(Serialize)]
struct BranchInfo<'a> {
    number: usize,
    name: &'a str,
    message_count: usize,
    created_at: String,
}

impl SessionState {
    fn refuse_mid_turn(&self, what: &str) -> Result<()> {
        if self.turn.is_some() {
            return Err(Error::Busy(format!(
                "cannot {what} while a turn is running; abort it or wait for turn_ended"
            )));
        }
        Ok(())
    }

    fn known(&self, message_id: u64) -> Result<usize> {
        self.transcript
            .position(message_id)
            .ok_or_else(|| Error::NotFound(format!("no message with id {message_id}")))
    }

    /// Saves the whole transcript as a new branch and keeps messages up to and including `message_id`.
    pub fn branch_at(&mut self, message_id: u64, now: Now, fx: &mut Vec<Effect>) -> Result<Value> {
        self.refuse_mid_turn("branch")?;
        let pos = self.known(message_id)?;
        let name = format!("branch-{}", self.branches.len() + 1);
        self.branches.push(Branch {
            name: name.clone(),
            messages: self.transcript.messages().to_vec(),
            created_at_ms: now.wall_ms,
        });
        self.transcript.truncate(pos + 1);
        self.journal_ops.extend([
            JournalOp::Branch(self.branches.len() - 1),
            JournalOp::Truncate {
                after_id: message_id,
            },
        ]);
        self.messages_changed(now, fx);
        Ok(json!({"number": self.branches.len(), "name": name, "message_count": pos + 1}))
    }

    /// The branches, numbered from 1.
    pub fn list_branches(&self) -> Value {
        let infos: Vec<BranchInfo<'_>> = self
            .branches
            .iter()
            .enumerate()
            .map(|(i, b)| BranchInfo {
                number: i + 1,
                name: &b.name,
                message_count: b.messages.len(),
                created_at: crate::time::rfc3339(b.created_at_ms),
            })
            .collect();
        serde_json::to_value(infos).expect("branch infos serialize")
    }

    /// Replaces the transcript with branch `number` (1-based). The next turn's context is exactly the branch.
    pub fn switch_branch(&mut self, number: u32, now: Now, fx: &mut Vec<Effect>) -> Result<()> {
        self.refuse_mid_turn("switch branches")?;
        let branch = (number as usize)
            .checked_sub(1)
            .and_then(|i| self.branches.get(i))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no branch {number}; branches are numbered 1 to {}",
                    self.branches.len()
                ))
            })?;
        self.transcript.replace(branch.messages.clone());
        self.journal_ops.push(JournalOp::Switch(number));
        self.messages_changed(now, fx);
        Ok(())
    }

    /// Toggles the collapsed flag of tool call or thinking message `message_id`.
    pub fn toggle_collapse(
        &mut self,
        message_id: u64,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> Result<()> {
        self.known(message_id)?;
        match self.transcript.body_mut(message_id) {
            Some(Body::ToolCall { collapsed, .. } | Body::Thinking { collapsed, .. }) => {
                *collapsed = !*collapsed
            }
            _ => {
                return Err(Error::invalid(format!(
                    "message {message_id} is not a tool call or thinking block"
                )))
            }
        }
        self.messages_changed(now, fx);
        Ok(())
    }

    /// Expands every tool call and thinking block if any is collapsed, else collapses them all.
    pub fn toggle_all_collapses(&mut self, now: Now, fx: &mut Vec<Effect>) {
        let any_collapsed = self.transcript.messages().iter().any(|m| {
            matches!(
                m.body,
                Body::ToolCall {
                    collapsed: true,
                    ..
                } | Body::Thinking {
                    collapsed: true,
                    ..
                }
            )
        });
        self.transcript.update_each(|body| match body {
            Body::ToolCall { collapsed, .. } | Body::Thinking { collapsed, .. }
                if *collapsed == any_collapsed =>
            {
                *collapsed = !any_collapsed;
                true
            }
            _ => false,
        });
        self.messages_changed(now, fx);
    }
}
