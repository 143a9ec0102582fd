//! Events: the typed payloads sessions and the manager emit, their JSON form, and delivery (queue, bus, dispatcher).

pub mod bus;
mod coalesce;
pub mod dispatch;
mod history;
mod json;
mod kinds;
pub mod queue;

pub use kinds::RemotePayload;

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

use crate::vocab::content::Usage;

/// One event as hosts see it: a per-session sequence number, the session it belongs to, and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Monotonic per session, starting at 1; events without a session count on the client's own sequence.
    pub seq: u64,
    /// The session this event belongs to, or `None` for client-level events.
    pub session_id: Option<Arc<str>>,
    /// The parent of a sub-agent's session (so a host can show the tree), `parent_id` in the JSON; `None` for
    /// top-level sessions.
    pub parent_session_id: Option<Arc<str>>,
    /// What happened.
    pub payload: Payload,
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        self.payload.kind()
    }
}

/// Why a session stopped, as reported in `session_stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Stopped by the host.
    Stopped,
    /// Reclaimed while idle.
    Idle,
    /// Crashed more often than the restart policy allows.
    RestartExhausted,
    /// The client shut down.
    Shutdown,
}

/// How a turn ended, as reported in `turn_ended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnEnd {
    /// The model gave its final answer.
    Completed,
    /// The turn ended with an error (reported by an `error` event before this one).
    Error,
    /// The host aborted the turn.
    Aborted,
    /// The session crashed mid-turn; the turn was marked interrupted on restart.
    Interrupted,
    /// A budget of the session's tree (`max_cost`, `max_tokens_total`) ran out before a model call (a
    /// `budget_exhausted` event came first).
    BudgetExhausted,
    /// The turn ran, but its end could not be written to the store (an `error` event says why): the host must not
    /// take it as saved. The session keeps working in memory and retries the write.
    StorageError,
}

/// Every event payload. The JSON tag `kind` is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// A session came up for the first time in this client.
    SessionStarted {
        /// `provider:model`.
        model: String,
        /// Provider kind (`native`, ...).
        provider: String,
        /// Whether it is a background sub-agent.
        background: bool,
    },
    /// A session went away for good.
    SessionStopped {
        /// Why.
        reason: StopReason,
        /// The last crash reason, for `restart_exhausted`.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A crashed session was restarted and its state restored.
    SessionRestarted {
        /// What the previous incarnation died of.
        reason: String,
        /// Attempt number within the current restart window (1-based).
        attempt: u32,
    },
    /// A background sub-agent was started.
    SubagentStarted {
        /// The sub-agent handle.
        handle: Value,
    },
    /// A background sub-agent of this session finished a turn (its task, or a later prompt): its answer, also noted
    /// in this session's transcript.
    SubagentFinished {
        /// The sub-agent's session ID.
        subagent_session_id: String,
        /// This session's ID (the parent's).
        parent_session_id: String,
        /// The text of the sub-agent's last assistant message in that turn (empty when it said nothing).
        answer: String,
        /// How the sub-agent's turn ended.
        reason: TurnEnd,
    },
    /// The session's status changed.
    StatusChanged {
        /// The new status.
        status: crate::vocab::settings::Status,
    },
    /// The transcript changed in a way other than a streamed delta.
    MessagesChanged,
    /// Streamed assistant text.
    TextDelta {
        /// The assistant message it extends.
        message_id: u64,
        /// The new text.
        delta: String,
    },
    /// Streamed thinking text.
    ThinkingDelta {
        /// The thinking message it extends.
        message_id: u64,
        /// The new text.
        delta: String,
    },
    /// A tool call started.
    ToolStarted {
        /// The tool call's ID.
        tool_call_id: String,
        /// The tool's name.
        name: String,
        /// Its arguments.
        args: Value,
        /// The transcript message that shows it.
        message_id: u64,
    },
    /// Partial output of a running tool.
    ToolUpdate {
        /// The tool call's ID.
        tool_call_id: String,
        /// The tool's name.
        name: String,
        /// Output so far (replaces earlier partial results).
        partial_result: String,
    },
    /// A tool call finished.
    ToolEnded {
        /// The tool call's ID.
        tool_call_id: String,
        /// The tool's name.
        name: String,
        /// Its result text.
        result: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// A trusted tool ran without asking.
    ToolAutoApproved {
        /// The tool call.
        tool_call_id: String,
        /// Its tool.
        name: String,
        /// The trust that approved it.
        scope: crate::vocab::gate::Scope,
    },
    /// A tool call waits for the host's approval.
    ApprovalPending {
        /// `{approval_id, tool_call_id, name, args, preview}`.
        approval: Value,
    },
    /// An approval was answered, cancelled or timed out.
    ApprovalResolved {
        /// The approval.
        approval_id: String,
        /// `approve`, `approve_turn`, `approve_session`, `reject`, `cancelled` or `timed_out`.
        decision: &'static str,
    },
    /// A tool changed a file.
    FileChanged {
        /// The tool call.
        tool_call_id: String,
        /// Its tool.
        tool_name: String,
        /// Absolute path.
        path: String,
        /// `created`, `modified` or `deleted`.
        action: crate::vocab::files::FileAction,
        /// Content before ("" when created).
        before: String,
        /// Content after ("" when deleted).
        after: String,
        /// Whether before or after were cut to the size cap.
        truncated: bool,
    },
    /// A bounded file changed outside its edit boundary, found after the fact: a `shell` command (or a tool the pi
    /// provider ran) changed it, which could not be refused in advance like an edit. The file's `file_changed` came
    /// just before; the model was told too (the note is appended to the tool's result).
    BoundaryViolated {
        /// The tool call that made the change.
        tool_call_id: String,
        /// Its tool.
        tool_name: String,
        /// Absolute path.
        path: String,
        /// `{start_line, end_line}`: the boundary the change left.
        boundary: crate::vocab::files::Boundary,
        /// `[{start_line, end_line}]`: the changed line ranges outside it (0-based, in the file as it was before);
        /// empty when the file was deleted, created again or cannot be compared by lines.
        changed: Vec<crate::vocab::files::LineRange>,
        /// What changed, naming both ranges.
        message: String,
    },
    /// The model's context size was estimated before a model call.
    ContextUsage {
        /// Estimated tokens in the context.
        estimated_tokens: u64,
        /// The model's context window, when known.
        context_limit: Option<u64>,
    },
    /// The agent loop hit `max_turns`.
    TurnLimitReached {
        /// Model calls made in this turn.
        current: u32,
        /// The limit.
        limit: u32,
    },
    /// A prompt was queued because a turn is running.
    PromptQueued {
        /// `steering` or `follow_up`.
        queue: &'static str,
        /// The queued content parts.
        content: Value,
    },
    /// Queued prompts were taken back or cleared by the host.
    QueuesRecalled,
    /// A turn ended. Exactly one per accepted prompt, whatever happened.
    TurnEnded {
        /// Usage reported for the turn, if any.
        usage: Option<Usage>,
        /// How it ended.
        reason: TurnEnd,
    },
    /// Something failed; the text is meant for the user.
    Error {
        /// Human-readable message.
        message: String,
    },
    /// Events were coalesced or dropped because a queue was full.
    EventsDropped {
        /// How many events were lost.
        count: u64,
    },
    /// A failed model call is retried after a delay (HTTP backends and host providers).
    Retrying {
        /// The retry this is, from 1.
        attempt: u32,
        /// Retries the policy allows for this call.
        max_retries: u32,
        /// Milliseconds until the retry.
        delay_ms: u64,
        /// Why the call failed.
        reason: String,
    },
    /// A stored session was resumed with the options it was started with: what came from the store and what the
    /// options given on resume changed.
    OptionsRestored {
        /// The option keys taken from the store.
        restored: Vec<String>,
        /// `{key: {"stored": value, "given": value}}` for every stored option the resume overrode.
        overridden: Value,
        /// Touched files restored with the conversation.
        touched_files: usize,
    },
    /// The shell's OS sandbox cannot enforce everything its mode asks on this machine (sent after
    /// `session_started`; the snapshot's `sandbox` has the whole report).
    SandboxLimited {
        /// What is not enforced, one sentence each.
        not_enforced: Vec<String>,
    },
    /// An MCP server of the session changed state: it is ready (again, or with a new tool list), it failed and
    /// will be restarted, it failed for good, or it was disabled. A failing server is reported once per streak of
    /// failures, not on every restart attempt.
    McpServerStatus {
        /// The server's configured name.
        server: String,
        /// `ready`, `restarting`, `failed` or `disabled`.
        state: String,
        /// Why it failed (null when ready or disabled).
        detail: Option<String>,
        /// The last lines the server wrote to stderr (stdio servers; at most 20).
        stderr: Vec<String>,
        /// The names the server's tools are offered under (`mcp__<server>__<tool>`); empty unless ready.
        tools: Vec<String>,
    },
    /// A hook failed (timed out, exited with an error, answered malformed JSON) and its `on_failure` default was
    /// taken (docs/hooks.md).
    HookFailed(crate::vocab::model::HookFailure),
    /// The session's project context files (AGENTS.md, ...) were loaded, or changed since the last model call:
    /// the whole list as `tandem_session_context_files` returns it.
    ContextFilesLoaded {
        /// `[{path, reason, bytes, loaded_bytes, truncated, error?}]`, lowest precedence first.
        files: Value,
    },
    /// A budget of the session's tree ran out: the turn ends with reason `budget_exhausted`.
    BudgetExhausted(crate::vocab::settings::BudgetStop),
    /// The agent's plan changed (an ACP agent's `plan` update): the whole plan as the agent has it now. Not kept in
    /// the transcript.
    PlanUpdated {
        /// `[{content, priority, status}]`: priority `high`, `medium` or `low`; status `pending`, `in_progress` or
        /// `completed`.
        entries: Value,
    },
    /// A slash command sent as a prompt (`/plan`, `/compact`, ...) was run instead of being sent to the model.
    CommandRan {
        /// The command's name, without the slash.
        command: String,
        /// The text after the name (trimmed; empty when none).
        args: String,
        /// What the command returned (null for commands that return nothing).
        result: Value,
    },
    /// An event a remote gateway sent (see `crate::client::remote`), republished as it came: its JSON fields
    /// other than `seq`, `session_id` and `parent_id`, and its kind.
    #[serde(untagged)]
    Remote(RemotePayload),
}

impl Payload {
    /// The payload's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::SessionStarted { .. } => EventKind::SessionStarted,
            Payload::SessionStopped { .. } => EventKind::SessionStopped,
            Payload::SessionRestarted { .. } => EventKind::SessionRestarted,
            Payload::SubagentStarted { .. } => EventKind::SubagentStarted,
            Payload::StatusChanged { .. } => EventKind::StatusChanged,
            Payload::MessagesChanged => EventKind::MessagesChanged,
            Payload::TextDelta { .. } => EventKind::TextDelta,
            Payload::ThinkingDelta { .. } => EventKind::ThinkingDelta,
            Payload::ToolStarted { .. } => EventKind::ToolStarted,
            Payload::ToolUpdate { .. } => EventKind::ToolUpdate,
            Payload::ToolEnded { .. } => EventKind::ToolEnded,
            Payload::ToolAutoApproved { .. } => EventKind::ToolAutoApproved,
            Payload::ApprovalPending { .. } => EventKind::ApprovalPending,
            Payload::ApprovalResolved { .. } => EventKind::ApprovalResolved,
            Payload::FileChanged { .. } => EventKind::FileChanged,
            Payload::BoundaryViolated { .. } => EventKind::BoundaryViolated,
            Payload::ContextUsage { .. } => EventKind::ContextUsage,
            Payload::TurnLimitReached { .. } => EventKind::TurnLimitReached,
            Payload::PromptQueued { .. } => EventKind::PromptQueued,
            Payload::QueuesRecalled => EventKind::QueuesRecalled,
            Payload::TurnEnded { .. } => EventKind::TurnEnded,
            Payload::Error { .. } => EventKind::Error,
            Payload::EventsDropped { .. } => EventKind::EventsDropped,
            Payload::Retrying { .. } => EventKind::Retrying,
            Payload::OptionsRestored { .. } => EventKind::OptionsRestored,
            Payload::CommandRan { .. } => EventKind::CommandRan,
            Payload::SandboxLimited { .. } => EventKind::SandboxLimited,
            Payload::SubagentFinished { .. } => EventKind::SubagentFinished,
            Payload::McpServerStatus { .. } => EventKind::McpServerStatus,
            Payload::HookFailed(_) => EventKind::HookFailed,
            Payload::ContextFilesLoaded { .. } => EventKind::ContextFilesLoaded,
            Payload::BudgetExhausted(_) => EventKind::BudgetExhausted,
            Payload::Remote(r) => r.kind,
            Payload::PlanUpdated { .. } => EventKind::PlanUpdated,
        }
    }
}

/// Event kinds, as carried in `tandem_event.kind`. The values never change; new kinds get new values.
/// cbindgen:rename-all=QualifiedScreamingSnakeCase
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `session_started`
    SessionStarted = 1,
    /// `session_stopped`
    SessionStopped = 2,
    /// `session_restarted`
    SessionRestarted = 3,
    /// `subagent_started`
    SubagentStarted = 4,
    /// `status_changed`
    StatusChanged = 5,
    /// `messages_changed`
    MessagesChanged = 6,
    /// `text_delta`
    TextDelta = 7,
    /// `thinking_delta`
    ThinkingDelta = 8,
    /// `tool_started`
    ToolStarted = 9,
    /// `tool_update`
    ToolUpdate = 10,
    /// `tool_ended`
    ToolEnded = 11,
    /// `tool_auto_approved`
    ToolAutoApproved = 12,
    /// `approval_pending`
    ApprovalPending = 13,
    /// `approval_resolved`
    ApprovalResolved = 14,
    /// `file_changed`
    FileChanged = 15,
    /// `prompt_queued`
    PromptQueued = 16,
    /// `queues_recalled`
    QueuesRecalled = 17,
    /// `context_usage`
    ContextUsage = 18,
    /// `turn_limit_reached`
    TurnLimitReached = 19,
    /// `turn_ended`
    TurnEnded = 20,
    /// `error`
    Error = 21,
    /// `events_dropped`
    EventsDropped = 22,
    /// `retrying`
    Retrying = 23,
    /// `options_restored`
    OptionsRestored = 24,
    /// `command_ran`
    CommandRan = 25,
    /// `sandbox_limited`
    SandboxLimited = 26,
    /// `subagent_finished`
    SubagentFinished = 27,
    /// `boundary_violated`
    BoundaryViolated = 28,
    /// `mcp_server_status`
    McpServerStatus = 29,
    /// `hook_failed`
    HookFailed = 30,
    /// `plan_updated`
    PlanUpdated = 31,
    /// `context_files_loaded`
    ContextFilesLoaded = 32,
    /// `budget_exhausted`
    BudgetExhausted = 33,
}
