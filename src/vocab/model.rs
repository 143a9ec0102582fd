//! Provider vocabulary: the events a provider reports to its session, the messages of a model's context, tool
//! calls, tool specs and file changes.

use serde::Serialize;
use serde_json::Value;

use super::content::{ContentPart, Level, Usage};

/// What a provider reports while it runs a turn. Every accepted prompt yields `AgentStart`, then deltas and tool
/// events, and exactly one `AgentEnd` (an error is an `Error` followed by `AgentEnd`).
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    /// The turn started.
    AgentStart,
    /// Assistant text.
    TextDelta(String),
    /// Thinking text.
    ThinkingDelta(String),
    /// The signature closing the current thinking block (kept to send the block back on later calls).
    ThinkingSignature(String),
    /// A redacted thinking block's opaque data (kept to send the block back unchanged).
    RedactedThinking(String),
    /// A tool call the loop will put through the session's gate first: it is shown as pending, and
    /// `tool_started` follows only when the gate lets it run.
    ToolProposed {
        /// Tool call ID.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        args: Value,
    },
    /// A tool call started (one that no gate of tandem's holds back, e.g. pi's own tools).
    ToolStart {
        /// Tool call ID.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        args: Value,
    },
    /// Partial tool output.
    ToolUpdate {
        /// Tool call ID.
        id: String,
        /// Tool name.
        name: String,
        /// Output so far.
        partial: String,
    },
    /// A tool call finished.
    ToolEnd {
        /// Tool call ID.
        id: String,
        /// Tool name.
        name: String,
        /// Result text.
        result: String,
        /// Whether it failed.
        is_error: bool,
    },
    /// A notice for the transcript.
    SystemMessage {
        /// The text.
        text: String,
        /// Severity.
        level: Level,
    },
    /// A tool changed a file.
    FileChanged(FileChange),
    /// A change a tool made (reported by a `FileChanged` just before) left the file's edit boundary.
    BoundaryViolated(super::files::BoundaryViolation),
    /// A budget of the session's tree ran out: the turn ends (an `AgentEnd` follows) with reason
    /// `budget_exhausted`.
    BudgetExhausted(super::settings::BudgetStop),
    /// A hook failed (timeout, error, malformed answer) and its `on_failure` default was taken.
    HookFailed(HookFailure),
    /// The loop stopped waiting for approval of this tool call.
    ApprovalTimedOut {
        /// The tool call.
        tool_call_id: String,
    },
    /// Estimated context size before a model call.
    ContextUsage {
        /// Estimated tokens.
        estimated_tokens: u64,
        /// The model's window, if known.
        context_limit: Option<u64>,
    },
    /// `max_turns` was reached.
    TurnLimitReached {
        /// Model calls made.
        current: u32,
        /// The limit.
        limit: u32,
    },
    /// A failed model call will be retried after `delay_ms`.
    Retrying {
        /// The retry, from 1.
        attempt: u32,
        /// Retries allowed.
        max_retries: u32,
        /// Milliseconds until it.
        delay_ms: u64,
        /// Why the call failed.
        reason: String,
    },
    /// The turn failed.
    Error(String),
    /// The model's stream failed after a partial answer, which is kept (`continue` resumes it).
    StreamInterrupted(String),
    /// The turn is over.
    AgentEnd {
        /// Usage summed over the turn's model calls, if any was reported.
        usage: Option<Usage>,
    },
}

/// A file change made by a tool.
#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    /// The tool call that made it.
    pub tool_call_id: String,
    /// Absolute path.
    pub path: String,
    /// Content before (`None`: the file did not exist).
    pub before: Option<String>,
    /// Content after (`None`: the file no longer exists).
    pub after: Option<String>,
    /// Whether before or after were cut to the size cap.
    pub truncated: bool,
    /// The edits to the file's lines, in order (they move the file's edit boundary).
    pub line_edits: Vec<super::files::LineEdit>,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallRequest {
    /// Call ID (echoed back with the result).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments object.
    pub args: Value,
}

/// A thinking block of an assistant response, as the provider must see it again on later calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThinkingBlock {
    /// The thinking text.
    pub text: String,
    /// The provider's signature, if it sent one (Anthropic requires it to accept the block back); for a redacted
    /// block, its opaque data.
    pub signature: Option<String>,
    /// A redacted block: no readable text, `signature` holds the data to send back.
    pub redacted: bool,
}

/// A message of the model's context.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelMessage {
    /// User content.
    User(Vec<ContentPart>),
    /// An assistant response: its thinking blocks, text and the tool calls it made.
    Assistant {
        /// Thinking blocks, in order.
        thinking: Vec<ThinkingBlock>,
        /// Text.
        text: String,
        /// Tool calls.
        tool_calls: Vec<ToolCallRequest>,
    },
    /// The result of a tool call.
    ToolResult {
        /// The call it answers.
        tool_call_id: String,
        /// Tool name.
        name: String,
        /// Result text.
        content: String,
        /// Whether the call failed.
        is_error: bool,
    },
}

impl ModelMessage {
    /// The message's share of the rough token estimate: 4 plus its characters / 3.5 (text, thinking, tool calls'
    /// names and arguments, results; images count nothing), as the seed computes it.
    pub fn estimate_weight(&self) -> f64 {
        let chars = |s: &str| s.chars().count() as f64;
        4.0 + match self {
            ModelMessage::User(parts) => parts
                .iter()
                .map(|p| match p {
                    ContentPart::Text { text } => chars(text),
                    ContentPart::Image { .. } => 0.0,
                })
                .sum::<f64>(),
            ModelMessage::Assistant {
                thinking,
                text,
                tool_calls,
            } => {
                chars(text)
                    + thinking.iter().map(|b| chars(&b.text)).sum::<f64>()
                    + tool_calls
                        .iter()
                        .map(|c| chars(&c.args.to_string()) + chars(&c.name))
                        .sum::<f64>()
            }
            ModelMessage::ToolResult { content, .. } => chars(content),
        } / 3.5
    }
}

/// A model context shared between a session, which keeps it between turns, and its turns: cloning it copies
/// nothing, and a turn that adds to it copies it on its first push. It carries the running sum of its messages'
/// [`ModelMessage::estimate_weight`], so the token estimate of a model call does not read the whole context.
#[derive(Debug, Clone, Default)]
pub struct SharedContext {
    messages: std::sync::Arc<Vec<ModelMessage>>,
    weight: f64,
}

impl SharedContext {
    /// A context of `messages`.
    pub fn new(messages: Vec<ModelMessage>) -> Self {
        let mut c = SharedContext::default();
        c.extend(messages);
        c
    }

    /// Adds a message at the end (copying the messages first if another holder shares them).
    pub fn push(&mut self, m: ModelMessage) {
        self.weight += m.estimate_weight();
        std::sync::Arc::make_mut(&mut self.messages).push(m);
    }

    /// Adds messages at the end, in order.
    pub fn extend(&mut self, messages: impl IntoIterator<Item = ModelMessage>) {
        for m in messages {
            self.push(m);
        }
    }

    /// The sum of the messages' estimate weights, in order (what [`crate::vocab::model`] users add a system
    /// prompt's share to).
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl std::ops::Deref for SharedContext {
    type Target = [ModelMessage];
    fn deref(&self) -> &[ModelMessage] {
        &self.messages
    }
}

impl PartialEq for SharedContext {
    fn eq(&self, other: &Self) -> bool {
        self.messages == other.messages
    }
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    pub input_schema: Value,
}

/// A hook that failed: the `hook_failed` event's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookFailure {
    /// The hook's ID (what `tandem_client_add_hook` returned; command hooks have one too).
    pub hook_id: u64,
    /// The event it ran on (`PreToolUse`, ...).
    pub hook_event: String,
    /// The command line of a command hook; null for a callback.
    pub command: Option<String>,
    /// Why it failed.
    pub reason: String,
    /// The default that was taken: `continue` or `deny`.
    pub on_failure: String,
}
