//! Turns in the session state machine: how provider events build the transcript, and how a turn ends, is aborted
//! or is interrupted by a crash.

use super::state::{Effect, Now, SessionState, Status};
use super::transcript::{Body, ContentPart, Level, Message, ToolStatus, Usage};
use crate::events::{Payload, TurnEnd};
use crate::provider::ProviderEvent;
use crate::vocab::content::combine_entries;
use serde_json::Value;

/// The text a redacted thinking block shows in the transcript.
pub const REDACTED_TEXT: &str = "[redacted thinking]";

impl SessionState {
    /// How many turns have ended, and how the last one ended: a changed count after an input means a turn ended.
    pub fn turn_ends(&self) -> (u64, Option<TurnEnd>) {
        self.turn_ends
    }

    /// The answer of the last turn: the text of the last assistant message after the last prompt (empty when the
    /// model said nothing).
    pub fn last_answer(&self) -> String {
        let recent = self.transcript.messages().iter().rev();
        let mut since_prompt = recent.take_while(|m| !matches!(m.body, Body::User { .. }));
        since_prompt
            .find_map(|m| match &m.body {
                Body::Assistant { text } => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub(super) fn provider_event(&mut self, event: ProviderEvent, now: Now, fx: &mut Vec<Effect>) {
        match event {
            ProviderEvent::AgentStart => {
                self.error_message = None;
                self.set_working(Status::Thinking, fx);
            }
            ProviderEvent::TextDelta(delta) => {
                let message_id = match self
                    .transcript
                    .last_mut_if(|b| matches!(b, Body::Assistant { .. }))
                {
                    Some(Message {
                        id,
                        body: Body::Assistant { text },
                    }) => {
                        text.push_str(&delta);
                        *id
                    }
                    _ => self.transcript.push(Body::Assistant {
                        text: delta.clone(),
                    }),
                };
                fx.push(Effect::Emit(Payload::TextDelta { message_id, delta }));
            }
            ProviderEvent::ThinkingDelta(delta) => {
                // A signed block is complete: thinking after it is a new block.
                let message_id = match self.transcript.last_mut_if(|b| {
                    matches!(
                        b,
                        Body::Thinking {
                            signature: None,
                            ..
                        }
                    )
                }) {
                    Some(Message {
                        id,
                        body:
                            Body::Thinking {
                                text,
                                collapsed,
                                signature: None,
                                ..
                            },
                    }) => {
                        text.push_str(&delta);
                        *collapsed = false;
                        *id
                    }
                    _ => self.transcript.push(Body::Thinking {
                        text: delta.clone(),
                        collapsed: false,
                        signature: None,
                        redacted: false,
                    }),
                };
                fx.push(Effect::Emit(Payload::ThinkingDelta { message_id, delta }));
            }
            ProviderEvent::ThinkingSignature(sig) => {
                if let Some(Message {
                    body: Body::Thinking { signature, .. },
                    ..
                }) = self
                    .transcript
                    .last_mut_if(|b| matches!(b, Body::Thinking { .. }))
                {
                    *signature = Some(sig);
                }
            }
            ProviderEvent::RedactedThinking(data) => {
                // Nothing readable to stream: the block appears whole, with a placeholder text.
                self.transcript.push(Body::Thinking {
                    text: REDACTED_TEXT.into(),
                    collapsed: false,
                    signature: Some(data),
                    redacted: true,
                });
                self.messages_changed(now, fx);
            }
            ProviderEvent::ToolProposed { id, name, args } => {
                self.propose_tool(id, name, args, now, fx);
                self.messages_changed(now, fx);
            }
            ProviderEvent::ToolStart { id, name, args } => {
                self.propose_tool(id.clone(), name, args, now, fx);
                self.start_tool(&id, now, fx);
            }
            ProviderEvent::ToolUpdate { id, name, partial } => {
                if let Some(Body::ToolCall {
                    result, collapsed, ..
                }) = self.transcript.tool_call_mut(&id)
                {
                    result.clone_from(&partial);
                    *collapsed = false;
                }
                fx.push(Effect::Emit(Payload::ToolUpdate {
                    tool_call_id: id,
                    name,
                    partial_result: partial,
                }));
            }
            ProviderEvent::ToolEnd {
                id,
                name,
                result,
                is_error,
            } => {
                if let Some(Body::ToolCall {
                    status,
                    result: r,
                    is_error: e,
                    collapsed,
                    duration_ms,
                    started_ms,
                    ..
                }) = self.transcript.tool_call_mut(&id)
                {
                    *status = if is_error {
                        ToolStatus::Error
                    } else {
                        ToolStatus::Complete
                    };
                    r.clone_from(&result);
                    *e = is_error;
                    *collapsed = true;
                    *duration_ms = Some(now.mono_ms.saturating_sub(*started_ms));
                }
                self.active_tools.retain(|(tid, _)| *tid != id);
                fx.push(Effect::Emit(Payload::ToolEnded {
                    tool_call_id: id,
                    name,
                    result,
                    is_error,
                }));
                self.messages_changed(now, fx);
            }
            ProviderEvent::SystemMessage { text, level } => {
                self.transcript.push(Body::system(text, level));
                self.messages_changed(now, fx);
            }
            ProviderEvent::FileChanged(change) => self.file_changed(change, now, fx),
            ProviderEvent::BoundaryViolated(v) => self.boundary_violated(v, fx),
            ProviderEvent::BudgetExhausted(stop) => {
                if let Some(t) = self.turn.as_mut() {
                    t.over_budget = true;
                }
                let message = stop.message();
                fx.push(Effect::Emit(Payload::BudgetExhausted(stop)));
                self.provider_event(ProviderEvent::Error(message), now, fx);
            }
            ProviderEvent::HookFailed(f) => fx.push(Effect::Emit(Payload::HookFailed(f))),
            ProviderEvent::ApprovalTimedOut { tool_call_id } => {
                self.approval_timed_out(&tool_call_id, fx)
            }
            ProviderEvent::StreamInterrupted(message) => {
                self.interrupted = Some(super::compaction::CONTINUE_PROMPT);
                let text = format!("Stream interrupted: {message}. What the turn produced is kept; continue to resume it.");
                self.provider_event(ProviderEvent::Error(text), now, fx);
            }
            ProviderEvent::ContextUsage {
                estimated_tokens,
                context_limit,
            } => {
                fx.push(Effect::Emit(Payload::ContextUsage {
                    estimated_tokens,
                    context_limit,
                }));
            }
            ProviderEvent::TurnLimitReached { current, limit } => {
                // As in the seed, a turn cut off by the limit is one `continue` resumes (with a new count).
                self.interrupted = Some(super::compaction::CONTINUE_AFTER_LIMIT);
                fx.push(Effect::Emit(Payload::TurnLimitReached { current, limit }));
            }
            ProviderEvent::Retrying {
                attempt,
                max_retries,
                delay_ms,
                reason,
            } => {
                let delay = std::time::Duration::from_millis(delay_ms);
                let text = crate::provider::native::http::retry::notice(
                    delay,
                    attempt,
                    max_retries,
                    &reason,
                );
                self.transcript.push(Body::system(text, Level::Info));
                fx.push(Effect::Emit(Payload::Retrying {
                    attempt,
                    max_retries,
                    delay_ms,
                    reason,
                }));
                self.messages_changed(now, fx);
            }
            ProviderEvent::Error(message) => {
                if let Some(t) = self.turn.as_mut() {
                    t.had_error = true;
                }
                self.error_message = Some(message.clone());
                self.transcript
                    .push(Body::system(message.clone(), Level::Error));
                self.set_status(
                    if self.status == Status::Plan {
                        Status::Plan
                    } else {
                        Status::Error
                    },
                    fx,
                );
                fx.push(Effect::Emit(Payload::Error { message }));
                self.messages_changed(now, fx);
            }
            ProviderEvent::AgentEnd { usage } => self.end_turn(usage, now, fx),
        }
    }

    fn end_turn(&mut self, usage: Option<Usage>, now: Now, fx: &mut Vec<Effect>) {
        let Some(turn) = self.turn.take() else { return };
        self.transcript.update_each(|body| match body {
            Body::Thinking { collapsed, .. } if !*collapsed => {
                *collapsed = true;
                true
            }
            _ => false,
        });
        self.close_turn("the turn ended", fx);
        if let Some(u) = usage {
            self.usage.add(&u);
            self.transcript.push(Body::Usage(u));
        }
        self.messages_changed(now, fx);
        let pending: Vec<Vec<ContentPart>> = self
            .steering
            .drain(..)
            .chain(self.follow_up.drain(..))
            .collect();
        if pending.is_empty() {
            self.settle_status(fx);
        }
        let reason = if turn.over_budget {
            TurnEnd::BudgetExhausted
        } else if turn.had_error {
            TurnEnd::Error
        } else {
            TurnEnd::Completed
        };
        fx.push(Effect::Emit(Payload::TurnEnded { usage, reason }));
        if !pending.is_empty() {
            self.start_turn(combine_entries(pending), now, fx);
        }
    }

    /// After a crash: the turn in flight is gone, so it is closed as interrupted in the transcript and for the host.
    pub(super) fn interrupt(&mut self, reason: &str, now: Now, fx: &mut Vec<Effect>) {
        // A side call in flight died with the old incarnation: its answer will not come.
        self.side_call = false;
        self.compacting_for = None;
        let Some(_) = self.turn.take() else { return };
        self.close_turn("the session restarted", fx);
        self.transcript.push(Body::system(
            format!("The session restarted after a crash ({reason}); the turn in progress was interrupted."),
            Level::Error,
        ));
        self.messages_changed(now, fx);
        self.settle_status(fx);
        fx.push(Effect::Emit(Payload::TurnEnded {
            usage: None,
            reason: TurnEnd::Interrupted,
        }));
    }

    /// What every end of a turn shares: running tools are marked aborted, a pending approval is cancelled, and
    /// turn-scoped trust lapses.
    pub(super) fn close_turn(&mut self, why: &str, fx: &mut Vec<Effect>) {
        self.abort_running_tools();
        self.cancel_approval(why, fx);
        self.clear_turn_trust();
    }

    fn abort_running_tools(&mut self) {
        self.transcript.update_each(abort_if_running);
        self.active_tools.clear();
    }
}

impl SessionState {
    /// Shows a tool call the model made, not started yet.
    fn propose_tool(
        &mut self,
        id: String,
        name: String,
        args: Value,
        now: Now,
        fx: &mut Vec<Effect>,
    ) {
        self.transcript.push(Body::ToolCall {
            tool_call_id: id.clone(),
            name: name.clone(),
            args,
            status: ToolStatus::Pending,
            result: String::new(),
            is_error: false,
            collapsed: true,
            auto_approved_scope: None,
            duration_ms: None,
            started_ms: now.mono_ms,
        });
        self.active_tools.push((id, name));
        self.set_working(Status::ToolExecuting, fx);
    }

    /// The gate let pending call `id` run: `tool_started` is sent now, and its duration counts from here.
    pub(super) fn start_tool(&mut self, id: &str, now: Now, fx: &mut Vec<Effect>) {
        let Some((message_id, body)) = self.transcript.tool_call_with_id_mut(id) else {
            return;
        };
        let Body::ToolCall {
            status: status @ ToolStatus::Pending,
            started_ms,
            name,
            args,
            ..
        } = body
        else {
            return;
        };
        *status = ToolStatus::Running;
        *started_ms = now.mono_ms;
        let started = Payload::ToolStarted {
            tool_call_id: id.to_string(),
            name: name.clone(),
            args: args.clone(),
            message_id,
        };
        fx.push(Effect::Emit(started));
        self.messages_changed(now, fx);
    }
}

/// Marks a pending or running tool call aborted; returns whether it was one.
pub(super) fn abort_if_running(body: &mut Body) -> bool {
    match body {
        Body::ToolCall {
            status,
            result,
            is_error,
            ..
        } if status.is_open() => {
            *status = ToolStatus::Error;
            *result = "aborted".into();
            *is_error = true;
            true
        }
        _ => false,
    }
}
