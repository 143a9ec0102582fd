//! The session's pure state machine: `apply(input) -> effects`, no I/O, no runtime.

use serde::Serialize;
use serde_json::{json, Value};

use super::approvals::{Decision, Gate, GateRequest};
use super::context::context_from_transcript;
use super::transcript::{Body, ContentPart, Level, Transcript, Usage};
use crate::events::{Payload, TurnEnd};
pub use crate::time::Now;
use crate::vocab::model::{ModelMessage, ProviderEvent};
pub use crate::vocab::settings::Status;

/// The outcome of a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptOutcome {
    /// A turn started with it.
    Sent,
    /// A turn is running; it was queued as steering.
    QueuedSteering,
    /// A turn is running; it was queued as a follow-up.
    QueuedFollowUp,
}

/// What the host asks of a session.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send a prompt (queued as steering while a turn runs).
    Prompt(Vec<ContentPart>),
    /// Stop the running turn.
    Abort,
    /// Append a system message.
    AddSystemMessage(String, Level),
    /// Queue a follow-up (sent as a turn right away when idle).
    FollowUp(Vec<ContentPart>),
    /// Look at or take back the queues.
    Queue(QueueOp),
    /// Change the transcript's shape or the session's file rules.
    Edit(EditOp),
    /// Answer the pending approval (optionally naming it).
    Respond {
        /// The approval answered; `None` = whichever is pending.
        approval_id: Option<String>,
        /// The answer.
        decision: Decision,
    },
    /// Switch model (validated by the caller).
    SetModel(String),
    /// Next model of the rotation.
    CycleModel,
    /// Set the thinking level.
    SetThinking(super::options::ThinkingLevel),
    /// Next thinking level.
    CycleThinking,
    /// Activate a skill (content read by the caller).
    ActivateSkill {
        /// Skill name.
        name: String,
        /// SKILL.md content.
        content: String,
    },
    /// Deactivate a skill.
    DeactivateSkill(String),
    /// Compact the model context, keeping at least this many recent messages.
    Compact {
        /// Messages kept verbatim.
        keep_recent: usize,
    },
    /// Summarize the conversation into a file.
    Summarize,
    /// Resume an interrupted answer.
    Continue,
    /// Enter plan mode.
    EnterPlan,
    /// Leave plan mode.
    EnterExec,
    /// Archive the conversation and start `conversation_id` (the caller created the ID and flushed the old one).
    NewConversation {
        /// The new conversation's ID.
        conversation_id: String,
    },
    /// Make a stored conversation (opened and replayed by the caller) the transcript.
    LoadConversation(Box<super::conversations::Loaded>),
}

/// Host edits of the transcript and of edit boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOp {
    /// Save the transcript as a branch and cut it after this message.
    BranchAt(u64),
    /// Restore branch N (1-based).
    SwitchBranch(u32),
    /// Toggle one tool call's or thinking block's collapsed flag.
    ToggleCollapse(u64),
    /// Expand all if any is collapsed, else collapse all.
    ToggleAllCollapses,
    /// Set a boundary for an absolute path.
    SetBoundary {
        /// Normalized absolute path.
        path: String,
        /// First line (0-based).
        start_line: u32,
        /// Last line (inclusive).
        end_line: u32,
    },
    /// Remove one path's boundary.
    ClearBoundary(String),
    /// Remove every boundary.
    ClearAllBoundaries,
}

/// Host operations on the prompt queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOp {
    /// Take back the queued steering entries.
    DequeueSteering,
    /// Both queues, unchanged.
    Show,
    /// Take back both queues.
    Recall,
    /// Empty both queues.
    Clear,
}

/// Everything that drives the state machine.
#[derive(Debug, Clone)]
pub enum Input {
    /// A host command.
    Command(Command),
    /// An event from the provider for turn `turn_id` (events of other turns are stale and ignored).
    Provider {
        /// The turn the event belongs to.
        turn_id: u64,
        /// The event.
        event: ProviderEvent,
    },
    /// The provider of turn `turn_id` takes the pending steering between tool batches.
    TakeSteering {
        /// The asking turn (a stale turn gets nothing).
        turn_id: u64,
    },
    /// The provider of turn `turn_id` asks whether a tool call may run.
    Gate {
        /// The asking turn.
        turn_id: u64,
        /// The call.
        request: GateRequest,
    },
    /// A side call finished.
    SideCallDone {
        /// What it was for.
        kind: super::compaction::SideKind,
        /// Its result or error text.
        result: Result<super::compaction::SideResult, String>,
    },
    /// The session was restarted after `reason`; whatever was in flight did not survive.
    Restarted {
        /// What the previous incarnation died of.
        reason: String,
    },
}

/// What the actor must do after an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish an event.
    Emit(Payload),
    /// Ask the provider to run a turn over `context`.
    StartTurn {
        /// The new turn's ID.
        turn_id: u64,
        /// The model context: the transcript as the model sees it, ending with the prompt.
        context: Vec<ModelMessage>,
    },
    /// Cancel the provider's turn `turn_id`.
    CancelTurn {
        /// The turn to cancel.
        turn_id: u64,
    },
    /// Make one model call outside any turn.
    SideCall {
        /// What for.
        kind: super::compaction::SideKind,
        /// The context to send.
        context: Vec<ModelMessage>,
    },
    /// Steering was queued while a turn runs (providers that deliver it at once go and take it).
    SteeringQueued,
    /// Use this model, thinking level and skills from the next model call on.
    ConfigureProvider(super::models::ProviderConfig),
    /// Answer the tool call waiting on approval `approval_id`.
    ResolveApproval {
        /// The approval.
        approval_id: String,
        /// Run or refuse.
        gate: Gate,
    },
}

/// The reply to a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done.
    Ok,
    /// A prompt's outcome.
    Prompt(PromptOutcome),
    /// A JSON document (queue contents and other queries).
    Json(Value),
    /// Steering entries handed to the provider between tool batches.
    Steering(Vec<Vec<ContentPart>>),
    /// The command was refused.
    Failed(crate::error::Error),
    /// The gate's answer to a tool call.
    Gate(Gate),
    /// The answer comes later (when a side call finishes).
    Deferred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Turn {
    pub(super) id: u64,
    pub(super) had_error: bool,
}

/// Identity and configuration fixed at start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    /// Session ID.
    pub id: String,
    /// `provider:model`.
    pub model: String,
    /// Provider kind, e.g. `native`.
    pub provider: String,
    /// Absolute workdir, if any.
    pub workdir: Option<String>,
    /// A background sub-agent.
    pub background: bool,
    /// Its parent, for sub-agents.
    pub parent_session_id: Option<String>,
}

/// A session's metadata document (`tandem_session_metadata`, rows of `tandem_session_list`). Fields are in
/// alphabetical order, the order the same document had when it was built as a `serde_json::Value`.
#[derive(Debug, Serialize)]
pub struct SessionMetadata<'a> {
    /// Names of the active skills.
    pub active_skills: Vec<&'a str>,
    /// A background sub-agent.
    pub background: bool,
    /// The current conversation.
    pub conversation_id: &'a str,
    /// Cost so far in USD.
    pub cost: f64,
    /// RFC 3339 start time.
    pub created_at: String,
    /// The first prompt's text.
    pub first_prompt: Option<&'a str>,
    /// Session ID.
    pub id: &'a str,
    /// RFC 3339 time of the last message.
    pub last_message_at: String,
    /// Messages in the transcript.
    pub message_count: usize,
    /// `provider:model`.
    pub model: &'a str,
    /// The parent, for sub-agents.
    pub parent_session_id: Option<&'a str>,
    /// Provider kind.
    pub provider: &'a str,
    /// Current status.
    pub status: Status,
    /// Thinking level.
    pub thinking_level: &'static str,
    /// Title from the first prompt.
    pub title: Option<String>,
    /// Prompts so far.
    pub turn_count: usize,
    /// Workdir, if any.
    pub workdir: Option<&'a str>,
}

/// The whole state of one session.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub(super) ident: Identity,
    pub(super) status: Status,
    pub(super) transcript: Transcript,
    pub(super) usage: Usage,
    pub(super) error_message: Option<String>,
    pub(super) turn: Option<Turn>,
    pub(super) next_turn_id: u64,
    pub(super) active_tools: Vec<(String, String)>,
    pub(super) steering: Vec<Vec<ContentPart>>,
    pub(super) follow_up: Vec<Vec<ContentPart>>,
    pub(super) created_at_ms: u64,
    pub(super) last_message_at_ms: u64,
    pub(super) branches: Vec<super::branches::Branch>,
    pub(super) files: super::boundaries::FileState,
    pub(super) approvals: super::approvals::Approvals,
    pub(super) thinking: super::options::ThinkingLevel,
    pub(super) models: Vec<String>,
    pub(super) skills: std::collections::BTreeMap<String, String>,
    /// A compaction or summary call is running.
    pub(super) side_call: bool,
    /// When compaction happens by itself.
    pub(super) auto_compact: super::compaction::AutoCompact,
    /// The turn waiting for an automatic compaction before its first model call.
    pub(super) compacting_for: Option<u64>,
    /// The last turn's answer was cut off by a stream failure (`continue` resumes it).
    pub(super) interrupted: bool,
    /// The current conversation.
    pub(super) conversation_id: String,
    /// Structural transcript changes the store has not taken yet.
    pub(super) journal_ops: Vec<super::conversations::JournalOp>,
}

impl SessionState {
    /// Sets the configured thinking level and model rotation (at start, before any input).
    pub fn configure(&mut self, thinking: super::options::ThinkingLevel, models: Vec<String>) {
        self.thinking = thinking;
        self.models = models;
    }

    /// A fresh session whose transcript starts with a "Session started" notice.
    pub fn new(ident: Identity, now: Now) -> Self {
        let mut transcript = Transcript::default();
        transcript.push(Body::system(
            format!("Session started · {}", crate::time::hms_utc(now.wall_ms)),
            Level::Info,
        ));
        SessionState {
            ident,
            status: Status::Idle,
            transcript,
            usage: Usage::default(),
            error_message: None,
            turn: None,
            next_turn_id: 1,
            active_tools: Vec::new(),
            steering: Vec::new(),
            follow_up: Vec::new(),
            created_at_ms: now.wall_ms,
            last_message_at_ms: now.wall_ms,
            branches: Vec::new(),
            files: Default::default(),
            approvals: Default::default(),
            thinking: super::options::ThinkingLevel::Off,
            models: Vec::new(),
            skills: Default::default(),
            side_call: false,
            auto_compact: Default::default(),
            compacting_for: None,
            interrupted: false,
            conversation_id: String::new(),
            journal_ops: Vec::new(),
        }
    }

    /// Identity and configuration.
    pub fn identity(&self) -> &Identity {
        &self.ident
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The transcript.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Accumulated usage.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether a turn is running.
    pub fn turn_active(&self) -> bool {
        self.turn.is_some()
    }

    /// The editor snapshot: status, pending approval, last error, active tool.
    pub fn snapshot(&self) -> Value {
        json!({
            "status": self.status,
            "pending_approval": self.pending_approval(),
            "error": self.error_message,
            "active_tool_name": self.active_tools.last().map(|(_, name)| name),
        })
    }

    /// The first prompt's text and the number of prompts.
    pub(super) fn prompts(&self) -> (Option<&str>, usize) {
        let mut users = self
            .transcript
            .messages()
            .iter()
            .filter_map(|m| match &m.body {
                Body::User { text, .. } => Some(text.as_str()),
                _ => None,
            });
        let first = users.next();
        (first, first.map_or(0, |_| 1 + users.count()))
    }

    /// Session metadata as hosts see it.
    pub fn metadata(&self) -> Value {
        serde_json::to_value(self.metadata_doc()).expect("metadata serializes")
    }

    /// The metadata document, borrowed from the state: serialized directly it skips building a `Value` map, which
    /// dominated `tandem_session_list` on thousands of sessions.
    pub fn metadata_doc(&self) -> SessionMetadata<'_> {
        let (first_prompt, turn_count) = self.prompts();
        SessionMetadata {
            active_skills: self.skills.keys().map(String::as_str).collect(),
            background: self.ident.background,
            conversation_id: &self.conversation_id,
            cost: self.usage.cost,
            created_at: crate::time::rfc3339(self.created_at_ms),
            first_prompt,
            id: &self.ident.id,
            last_message_at: crate::time::rfc3339(self.last_message_at_ms),
            message_count: self.transcript.len(),
            model: &self.ident.model,
            parent_session_id: self.ident.parent_session_id.as_deref(),
            provider: &self.ident.provider,
            status: self.status,
            thinking_level: self.thinking.name(),
            title: first_prompt.and_then(title_from),
            turn_count,
            workdir: self.ident.workdir.as_deref(),
        }
    }

    /// Applies one input, returning the host reply (for commands) and the effects to execute, in order.
    pub fn apply(&mut self, input: Input, now: Now) -> (Reply, Vec<Effect>) {
        let mut fx = Vec::new();
        let reply = match input {
            Input::Command(cmd) => self.command(cmd, now, &mut fx),
            Input::Provider { turn_id, event } => {
                if self.turn.is_some_and(|t| t.id == turn_id) {
                    self.provider_event(event, now, &mut fx);
                }
                Reply::Ok
            }
            Input::Gate { turn_id, request } => self.gate(turn_id, request, now, &mut fx),
            Input::SideCallDone { kind, result } => self.side_call_done(kind, result, now, &mut fx),
            Input::TakeSteering { turn_id } => self.take_steering(turn_id, now, &mut fx),
            Input::Restarted { reason } => {
                self.interrupt(&reason, now, &mut fx);
                Reply::Ok
            }
        };
        (reply, fx)
    }

    fn command(&mut self, cmd: Command, now: Now, fx: &mut Vec<Effect>) -> Reply {
        match cmd {
            Command::Prompt(_) | Command::FollowUp(_) if self.side_call && self.turn.is_none() => {
                Reply::Failed(crate::error::Error::Busy(
                    "a compaction or summary is running; send the prompt when it finishes".into(),
                ))
            }
            Command::Prompt(parts) => {
                if self.turn.is_some() {
                    fx.push(Effect::Emit(Payload::PromptQueued {
                        queue: "steering",
                        content: parts_json(&parts),
                    }));
                    self.steering.push(parts);
                    fx.push(Effect::SteeringQueued);
                    return Reply::Prompt(PromptOutcome::QueuedSteering);
                }
                self.start_turn(parts, now, fx);
                Reply::Prompt(PromptOutcome::Sent)
            }
            Command::Abort => {
                if let Some(turn) = self.turn.take() {
                    fx.push(Effect::CancelTurn { turn_id: turn.id });
                    self.close_turn("the turn was aborted", fx);
                    self.transcript.push(Body::system("Aborted", Level::Info));
                    self.messages_changed(now, fx);
                    self.settle_status(fx);
                    fx.push(Effect::Emit(Payload::TurnEnded {
                        usage: None,
                        reason: TurnEnd::Aborted,
                    }));
                }
                Reply::Ok
            }
            Command::AddSystemMessage(text, level) => {
                self.transcript.push(Body::system(text, level));
                self.messages_changed(now, fx);
                Reply::Ok
            }
            Command::FollowUp(parts) => {
                if self.turn.is_some() {
                    fx.push(Effect::Emit(Payload::PromptQueued {
                        queue: "follow_up",
                        content: parts_json(&parts),
                    }));
                    self.follow_up.push(parts);
                    return Reply::Prompt(PromptOutcome::QueuedFollowUp);
                }
                self.start_turn(parts, now, fx);
                Reply::Prompt(PromptOutcome::Sent)
            }
            Command::Queue(op) => self.queue_command(op, fx),
            Command::Respond {
                approval_id,
                decision,
            } => self.respond(approval_id, decision, now, fx),
            Command::EnterPlan => self.enter_plan(now, fx),
            Command::Compact { keep_recent } => self.compact(keep_recent, fx),
            Command::Summarize => self.summarize(fx),
            Command::Continue => self.continue_turn(now, fx),
            Command::SetModel(m) => self.set_model(m, fx),
            Command::CycleModel => self.cycle_model(fx),
            Command::SetThinking(l) => self.set_thinking(l, fx),
            Command::CycleThinking => self.cycle_thinking(fx),
            Command::ActivateSkill { name, content } => self.activate_skill(name, content, fx),
            Command::DeactivateSkill(name) => self.deactivate_skill(&name, fx),
            Command::EnterExec => self.enter_exec(now, fx),
            Command::NewConversation { conversation_id } => {
                self.new_conversation(conversation_id, now, fx);
                Reply::Ok
            }
            Command::LoadConversation(loaded) => {
                self.load_conversation(*loaded, now, fx);
                Reply::Ok
            }
            Command::Edit(op) => {
                let result = match op {
                    EditOp::BranchAt(id) => self.branch_at(id, now, fx).map(Reply::Json),
                    EditOp::SwitchBranch(n) => self.switch_branch(n, now, fx).map(|()| Reply::Ok),
                    EditOp::ToggleCollapse(id) => {
                        self.toggle_collapse(id, now, fx).map(|()| Reply::Ok)
                    }
                    EditOp::ToggleAllCollapses => {
                        self.toggle_all_collapses(now, fx);
                        Ok(Reply::Ok)
                    }
                    EditOp::SetBoundary {
                        path,
                        start_line,
                        end_line,
                    } => self
                        .set_boundary(path, start_line, end_line)
                        .map(|()| Reply::Ok),
                    EditOp::ClearBoundary(path) => {
                        self.clear_boundary(&path);
                        Ok(Reply::Ok)
                    }
                    EditOp::ClearAllBoundaries => {
                        self.clear_all_boundaries();
                        Ok(Reply::Ok)
                    }
                };
                result.unwrap_or_else(Reply::Failed)
            }
        }
    }

    pub(super) fn start_turn(&mut self, parts: Vec<ContentPart>, now: Now, fx: &mut Vec<Effect>) {
        self.interrupted = false;
        self.transcript.push(Body::user(parts));
        self.messages_changed(now, fx);
        let turn_id = self.next_turn_id;
        self.next_turn_id += 1;
        self.turn = Some(Turn {
            id: turn_id,
            had_error: false,
        });
        if self.auto_compaction(turn_id, now, fx) {
            return;
        }
        fx.push(Effect::StartTurn {
            turn_id,
            context: context_from_transcript(self.transcript.messages()),
        });
    }

    /// The status at rest: plan stays plan, an error stays visible until the next turn, otherwise idle.
    pub(super) fn settle_status(&mut self, fx: &mut Vec<Effect>) {
        let next = match self.status {
            Status::Plan => Status::Plan,
            _ if self.error_message.is_some() => Status::Error,
            _ => Status::Idle,
        };
        self.set_status(next, fx);
    }

    pub(super) fn set_working(&mut self, status: Status, fx: &mut Vec<Effect>) {
        if self.status != Status::Plan {
            self.set_status(status, fx);
        }
    }

    pub(super) fn set_status(&mut self, status: Status, fx: &mut Vec<Effect>) {
        if self.status != status {
            self.status = status;
            fx.push(Effect::Emit(Payload::StatusChanged { status }));
        }
    }

    pub(super) fn messages_changed(&mut self, now: Now, fx: &mut Vec<Effect>) {
        self.last_message_at_ms = now.wall_ms;
        fx.push(Effect::Emit(Payload::MessagesChanged));
    }
}

/// A title from the first prompt: first line, trimmed, at most 80 characters.
pub(super) fn title_from(prompt: &str) -> Option<String> {
    let line = prompt.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.chars().count() <= 80 {
        Some(line.to_string())
    } else {
        Some(line.chars().take(77).collect::<String>() + "...")
    }
}

pub(super) fn parts_json(parts: &[ContentPart]) -> Value {
    serde_json::to_value(parts).expect("content parts serialize")
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
