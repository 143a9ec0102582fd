//! The provider contract (events a provider sends its session) and the model context built from a transcript.

pub mod contract;
pub mod host;
pub mod native;
pub mod pi;

pub use contract::{Provider, TurnLink};

use serde::Serialize;
use serde_json::Value;

use crate::session::transcript::{Body, ContentPart, Level, Message, Usage};

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

/// What a client shares with the providers of all its sessions.
#[derive(Clone, Default)]
pub struct Shared {
    /// One HTTP client (connection pool) for every session's model calls.
    pub http: native::http::SharedClient,
    /// The host provider callback and its open requests.
    pub host: std::sync::Arc<host::HostProvider>,
}

/// A provider's view of its client: the shared parts and the session it serves.
#[derive(Clone)]
pub struct Env {
    /// The client's shared parts.
    pub shared: Shared,
    /// The session's ID.
    pub session_id: String,
}

/// Builds the provider the session options ask for, set to the session's current model, thinking level and skills
/// (`config`: a restarted session keeps what it had switched to).
pub fn build(
    o: &crate::session::options::Resolved,
    cursor: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tools: std::sync::Arc<crate::tools::ToolSet>,
    config: &crate::session::models::ProviderConfig,
    env: &Env,
) -> crate::error::Result<std::sync::Arc<dyn Provider>> {
    match o.provider.as_str() {
        // The host provider is the native loop over `host:<name>` models.
        "native" | "host" => native::Native::new(o, cursor, tools, env)?
            .reconfigure(config)
            .map(|n| {
                let provider: std::sync::Arc<dyn Provider> = std::sync::Arc::new(n);
                provider
            }),
        "pi" => Ok(std::sync::Arc::new(pi::Pi::new(o, config)?)),
        other => Err(crate::error::Error::invalid(format!(
            "the {other} provider is not available in this build of tandem"
        ))),
    }
}

/// Checks that `model` names a model the `provider` kind can be asked for.
pub fn check_model(provider: &str, model: &str) -> crate::error::Result<()> {
    match provider {
        "pi" => pi::check_model(model),
        _ => native::check_model(model),
    }
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
    pub line_edits: Vec<crate::tools::LineEdit>,
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

/// The model context for a transcript: user prompts, assistant responses with their tool calls, and tool results.
/// Thinking goes back with its response (providers that sign it need it); system notices and usage entries are the
/// host's, not the model's.
pub fn context_from_transcript(messages: &[Message]) -> Vec<ModelMessage> {
    let mut out = Vec::new();
    // After a compaction the model sees its summary, then the messages it kept.
    let last_compaction = messages.iter().rev().find_map(|m| match &m.body {
        Body::System {
            compaction: Some(c),
            ..
        } => Some(c),
        _ => None,
    });
    let messages: Vec<&Message> = match last_compaction {
        Some(c) => {
            out.push(ModelMessage::User(vec![ContentPart::Text {
                text: format!(
                    "[Conversation summary: earlier context was compacted]\n\n{}",
                    c.summary
                ),
            }]));
            messages
                .iter()
                .filter(|m| m.id >= c.first_kept_id)
                .collect()
        }
        None => messages.iter().collect(),
    };
    let mut pending: Option<Pending> = None;
    let mut results: Vec<ModelMessage> = Vec::new();
    let flush = |out: &mut Vec<ModelMessage>,
                 pending: &mut Option<Pending>,
                 results: &mut Vec<ModelMessage>| {
        if let Some(p) = pending.take() {
            out.push(ModelMessage::Assistant {
                thinking: p.thinking,
                text: p.text,
                tool_calls: p.calls,
            });
        }
        out.append(results);
    };
    for m in messages {
        match &m.body {
            Body::User { parts, .. } => {
                flush(&mut out, &mut pending, &mut results);
                out.push(ModelMessage::User(parts.clone()));
            }
            Body::Thinking {
                text,
                signature,
                redacted,
                ..
            } => {
                // Thinking opens a response: after text or tool calls it belongs to the next one.
                if pending
                    .as_ref()
                    .is_some_and(|p| !p.calls.is_empty() || !p.text.is_empty())
                {
                    flush(&mut out, &mut pending, &mut results);
                }
                pending
                    .get_or_insert_with(Default::default)
                    .thinking
                    .push(ThinkingBlock {
                        text: text.clone(),
                        signature: signature.clone(),
                        redacted: *redacted,
                    });
            }
            Body::Assistant { text } => {
                if pending.as_ref().is_some_and(|p| !p.calls.is_empty()) {
                    flush(&mut out, &mut pending, &mut results);
                }
                pending
                    .get_or_insert_with(Default::default)
                    .text
                    .push_str(text);
            }
            Body::ToolCall {
                tool_call_id,
                name,
                args,
                status,
                result,
                is_error,
                ..
            } => {
                pending
                    .get_or_insert_with(Default::default)
                    .calls
                    .push(ToolCallRequest {
                        id: tool_call_id.clone(),
                        name: name.clone(),
                        args: args.clone(),
                    });
                let content = if status.is_open() {
                    "aborted".to_string()
                } else {
                    result.clone()
                };
                results.push(ModelMessage::ToolResult {
                    tool_call_id: tool_call_id.clone(),
                    name: name.clone(),
                    content,
                    is_error: *is_error || status.is_open(),
                });
            }
            Body::System { .. } | Body::Usage(_) => {}
        }
    }
    flush(&mut out, &mut pending, &mut results);
    out
}

/// An assistant response being rebuilt from transcript entries.
#[derive(Default)]
struct Pending {
    thinking: Vec<ThinkingBlock>,
    text: String,
    calls: Vec<ToolCallRequest>,
}

/// A rough token estimate (characters / 3.5 + 4 per message), as the seed computes it.
pub fn estimate_tokens(context: &[ModelMessage], system_prompt: Option<&str>) -> u64 {
    let chars = |s: &str| s.chars().count() as f64;
    let mut total = system_prompt.map_or(0.0, |s| chars(s) / 3.5 + 12.0);
    for m in context {
        total += 4.0
            + match m {
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
            } / 3.5;
    }
    total.round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::transcript::{ToolStatus, Transcript};

    #[test]
    fn context_groups_tool_calls_with_their_assistant_turn() {
        let mut t = Transcript::default();
        t.push(Body::system("Session started", Level::Info));
        t.push(Body::user(vec![ContentPart::Text { text: "hi".into() }]));
        t.push(Body::Thinking {
            text: "hmm".into(),
            collapsed: true,
            signature: Some("sig".into()),
            redacted: false,
        });
        t.push(Body::Assistant {
            text: "Looking.".into(),
        });
        t.push(Body::ToolCall {
            tool_call_id: "c1".into(),
            name: "read_file".into(),
            args: serde_json::json!({"path": "a"}),
            status: ToolStatus::Complete,
            result: "A".into(),
            is_error: false,
            collapsed: true,
            auto_approved_scope: None,
            duration_ms: Some(1),
            started_ms: 0,
        });
        t.push(Body::Assistant {
            text: "Done.".into(),
        });
        t.push(Body::Usage(Usage::default()));
        let ctx = context_from_transcript(t.messages());
        assert_eq!(ctx.len(), 4);
        assert!(matches!(&ctx[0], ModelMessage::User(p) if p.len() == 1));
        assert!(
            matches!(&ctx[1], ModelMessage::Assistant { thinking, text, tool_calls } if text == "Looking." && tool_calls.len() == 1
                && thinking == &[ThinkingBlock { text: "hmm".into(), signature: Some("sig".into()), redacted: false }])
        );
        assert!(matches!(&ctx[2], ModelMessage::ToolResult { content, .. } if content == "A"));
        assert!(
            matches!(&ctx[3], ModelMessage::Assistant { thinking, text, tool_calls } if text == "Done." && tool_calls.is_empty() && thinking.is_empty())
        );
        assert!(estimate_tokens(&ctx, None) > 0);
    }
}
