//! What drives the session machine and what it answers: host commands and their edit and queue operations, inputs,
//! replies and the effects the actor executes.

use serde_json::Value;

use crate::events::Payload;
use crate::vocab::content::{ContentPart, Level};
use crate::vocab::gate::{Decision, Gate, GateRequest};
use crate::vocab::model::{ModelMessage, ProviderEvent};

/// The outcome of a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptOutcome {
    /// A turn started with it.
    Sent,
    /// A turn is running; it was queued as steering.
    QueuedSteering,
    /// A turn is running; it was queued as a follow-up.
    QueuedFollowUp,
    /// It was a slash command (`/plan`, `/compact`, ...), run instead of being sent (see `command_ran`).
    Command,
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
    /// Revoke the trust granted to a tool (`None`: to every tool).
    RevokeTrust(Option<String>),
    /// Switch model (validated by the caller).
    SetModel(String),
    /// Next model of the rotation.
    CycleModel,
    /// Set the thinking level.
    SetThinking(crate::vocab::settings::ThinkingLevel),
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
    /// Write what is pending now (`durable`: and make it durable): the actor's flush timer, a stop, a switch.
    Flush {
        /// Whether the batch must be made durable.
        durable: bool,
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
    /// Write this batch to the store before publishing the input's events.
    Persist(Box<super::journal::Batch>),
    /// Publish an event.
    Emit(Payload),
    /// Ask the provider to run a turn over `context`.
    StartTurn {
        /// The new turn's ID.
        turn_id: u64,
        /// The model context: the transcript as the model sees it, ending with the prompt (shared with the
        /// session, which keeps it between turns).
        context: crate::vocab::model::SharedContext,
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
    /// Cancel the running side call; a host call waiting for it gets `reply` (`None`: nobody waits, it was an
    /// automatic compaction).
    CancelSideCall {
        /// The answer for the waiting `compact` or `summarize` call.
        reply: Option<Reply>,
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
