//! The session's state and `apply(input, now) -> (reply, effects)`: no I/O, no locks, no awaits.

use serde::Serialize;
use serde_json::{json, Value};

pub use super::inputs::{Command, EditOp, Effect, Input, PromptOutcome, QueueOp, Reply};
use super::journal::When;
use super::transcript::{Body, ContentPart, Level, Transcript, Usage};
use crate::events::{Payload, TurnEnd};
pub use crate::time::Now;
use crate::vocab::model::ProviderEvent;
pub use crate::vocab::settings::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Turn {
    pub(super) id: u64,
    pub(super) had_error: bool,
    /// A budget of the session's tree ran out.
    pub(super) over_budget: bool,
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
    pub(super) thinking: crate::vocab::settings::ThinkingLevel,
    pub(super) models: Vec<String>,
    pub(super) skills: std::collections::BTreeMap<String, String>,
    /// A compaction or summary call is running.
    pub(super) side_call: bool,
    /// When compaction happens by itself.
    pub(super) auto_compact: super::compaction::AutoCompact,
    /// What the OS sandbox enforces for the session's `shell` commands (`None` without a shell tool).
    pub(super) sandbox: Option<Value>,
    /// The turn waiting for an automatic compaction before its first model call.
    pub(super) compacting_for: Option<u64>,
    /// How the last turn was cut off, if it was (a stream failure, the turn limit): the prompt `continue` resumes
    /// it with.
    pub(super) interrupted: Option<&'static str>,
    /// Turns ended so far, and how the last one ended (sub-agents report their answers to their parent then).
    pub(super) turn_ends: (u64, Option<TurnEnd>),
    /// The current conversation.
    pub(super) conversation_id: String,
    /// Structural transcript changes the store has not taken yet.
    pub(super) journal_ops: Vec<super::conversations::JournalOp>,
    /// Whether changes go to the store, and when the last batch did.
    pub(super) journal: super::journal::JournalClock,
    /// The model context kept between turns.
    pub(super) context: super::context::Kept,
}

impl SessionState {
    /// Sets the configured thinking level and model rotation (at start, before any input).
    pub fn configure(
        &mut self,
        thinking: crate::vocab::settings::ThinkingLevel,
        models: Vec<String>,
    ) {
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
            thinking: crate::vocab::settings::ThinkingLevel::Off,
            models: Vec::new(),
            skills: Default::default(),
            side_call: false,
            auto_compact: Default::default(),
            sandbox: None,
            compacting_for: None,
            interrupted: None,
            turn_ends: (0, None),
            conversation_id: String::new(),
            journal_ops: Vec::new(),
            journal: Default::default(),
            context: Default::default(),
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
            "sandbox": self.sandbox,
        })
    }

    /// Records what the shell's OS sandbox enforces (at start, before any input); the snapshot shows it.
    pub fn set_sandbox(&mut self, report: Option<Value>) {
        self.sandbox = report;
    }

    /// What the shell's OS sandbox does not enforce on this machine (empty when everything is, or without a shell).
    pub fn sandbox_gaps(&self) -> Vec<String> {
        self.sandbox
            .as_ref()
            .and_then(|r| r["not_enforced"].as_array())
            .map(|gaps| {
                gaps.iter()
                    .filter_map(|g| g.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
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
        let streaming = matches!(
            &input,
            Input::Provider {
                event: ProviderEvent::TextDelta(_)
                    | ProviderEvent::ThinkingDelta(_)
                    | ProviderEvent::ToolUpdate { .. },
                ..
            }
        );
        let mut flush = None;
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
            Input::Flush { durable } => {
                flush = Some(if durable { When::Durable } else { When::Now });
                Reply::Ok
            }
        };
        for e in &fx {
            if let Effect::Emit(Payload::TurnEnded { reason, .. }) = e {
                self.turn_ends = (self.turn_ends.0 + 1, Some(*reason));
            }
        }
        let turn_ended = fx
            .iter()
            .any(|e| matches!(e, Effect::Emit(Payload::TurnEnded { .. })));
        let when = flush.unwrap_or(if turn_ended || self.turn.is_none() {
            When::Durable
        } else if streaming {
            When::Lazy
        } else {
            When::Now
        });
        self.persist(when, now, &mut fx);
        (reply, fx)
    }

    fn command(&mut self, cmd: Command, now: Now, fx: &mut Vec<Effect>) -> Reply {
        match cmd {
            Command::Prompt(_) | Command::FollowUp(_) if self.side_call && self.turn.is_none() => {
                Reply::Failed(crate::error::Error::Busy(
                    "a compaction or summary is running; send the prompt when it finishes".into(),
                ))
            }
            Command::Prompt(parts) | Command::FollowUp(parts) if is_empty_prompt(&parts) => {
                Reply::Failed(crate::error::Error::invalid(
                    "the prompt is empty: send some text or an image",
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
                // A compaction or summary in flight is cancelled first: its answer must not land afterwards.
                self.cancel_side_call(fx);
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
            Command::RevokeTrust(name) => self.revoke_trust(name.as_deref()),
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
        self.interrupted = None;
        self.push_user(parts);
        self.messages_changed(now, fx);
        let turn_id = self.next_turn_id;
        self.next_turn_id += 1;
        self.turn = Some(Turn {
            id: turn_id,
            had_error: false,
            over_budget: false,
        });
        if self.auto_compaction(turn_id, now, fx) {
            return;
        }
        fx.push(Effect::StartTurn {
            turn_id,
            context: self.model_context(),
        });
    }

    /// Adds a user message to the transcript, with a system note when it has images the model does not take
    /// (SPEC Decision 19: such a model gets the text). Returns the parts as the model gets them.
    pub(super) fn push_user(&mut self, parts: Vec<ContentPart>) -> Vec<ContentPart> {
        let images = parts
            .iter()
            .filter(|p| matches!(p, ContentPart::Image { .. }))
            .count();
        let mut sent = parts.clone();
        self.transcript.push(Body::user(parts));
        if images > 0 && !self.takes_images() {
            self.transcript.push(Body::system(
                format!(
                    "{} does not take images: the prompt went to it as text, without its {images} image(s).",
                    self.ident.model
                ),
                Level::Info,
            ));
            super::context::leave_out_images(&mut sent);
        }
        sent
    }

    /// Whether the session's current model takes images.
    fn takes_images(&self) -> bool {
        crate::provider::accepts_images(&self.ident.provider, &self.ident.model)
    }

    /// The context the next model call sends (images left out for a model that does not take them), from the
    /// context kept since the last call plus the messages added since.
    pub(super) fn model_context(&mut self) -> crate::vocab::model::SharedContext {
        let images = self.takes_images();
        self.context.context(&mut self.transcript, images)
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

/// Whether a prompt has nothing for the model: no parts, or only text parts that are blank.
fn is_empty_prompt(parts: &[ContentPart]) -> bool {
    parts
        .iter()
        .all(|p| matches!(p, ContentPart::Text { text } if text.trim().is_empty()))
}
