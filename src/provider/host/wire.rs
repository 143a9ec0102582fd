//! The host provider's JSON: the request a host callback receives and the events it emits back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::provider::native::model::ModelRequest;
use crate::provider::ModelMessage;
use crate::vocab::content::{ContentPart, Usage};

/// The request document: `{session_id, request_id, model, thinking_level, system_prompt, messages, tools}`.
#[derive(Debug, Serialize)]
pub struct RequestDoc<'a> {
    /// The calling session.
    pub session_id: &'a str,
    /// The ID to emit events for.
    pub request_id: u64,
    /// `host:<name>`, the session's current model.
    pub model: &'a str,
    /// `off`, `low`, `medium` or `high`.
    pub thinking_level: &'static str,
    /// The system prompt (configured prompt plus active skills), or null.
    pub system_prompt: Option<&'a str>,
    /// The conversation, oldest first.
    pub messages: Vec<MessageDoc<'a>>,
    /// The tools the model may call.
    pub tools: Vec<ToolDoc<'a>>,
}

/// A message of the model context.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum MessageDoc<'a> {
    /// A prompt (or steering): content parts as `tandem_session_send_prompt_parts` takes them.
    User {
        /// Text and image parts.
        content: &'a [ContentPart],
    },
    /// An earlier answer: its thinking blocks, text and tool calls.
    Assistant {
        /// Thinking blocks in order; `signature`/`redacted` as the host emitted them.
        thinking: Vec<ThinkingDoc<'a>>,
        /// The answer's text.
        text: &'a str,
        /// The tool calls it made.
        tool_calls: Vec<ToolCallDoc<'a>>,
    },
    /// The result of a tool call.
    ToolResult {
        /// The call it answers.
        tool_call_id: &'a str,
        /// The tool.
        name: &'a str,
        /// The result text.
        content: &'a str,
        /// Whether the call failed.
        is_error: bool,
    },
}

/// A thinking block sent back to the host.
#[derive(Debug, Serialize)]
pub struct ThinkingDoc<'a> {
    /// The text.
    pub text: &'a str,
    /// The signature the host emitted for it, if any.
    pub signature: Option<&'a str>,
}

/// A tool call of an earlier answer.
#[derive(Debug, Serialize)]
pub struct ToolCallDoc<'a> {
    /// Call ID.
    pub id: &'a str,
    /// Tool name.
    pub name: &'a str,
    /// Arguments object.
    pub args: &'a Value,
}

/// A tool the model may call.
#[derive(Debug, Serialize)]
pub struct ToolDoc<'a> {
    /// Name.
    pub name: &'a str,
    /// What it does.
    pub description: &'a str,
    /// JSON Schema of the arguments.
    pub input_schema: &'a Value,
}

/// The request document of one model call.
pub fn request_json(
    session_id: &str,
    request_id: u64,
    model: &str,
    req: &ModelRequest<'_>,
) -> String {
    let messages = req
        .messages
        .iter()
        .map(|m| match m {
            ModelMessage::User(parts) => MessageDoc::User { content: parts },
            ModelMessage::Assistant {
                thinking,
                text,
                tool_calls,
            } => MessageDoc::Assistant {
                thinking: thinking
                    .iter()
                    .map(|b| ThinkingDoc {
                        text: &b.text,
                        signature: b.signature.as_deref(),
                    })
                    .collect(),
                text,
                tool_calls: tool_calls
                    .iter()
                    .map(|c| ToolCallDoc {
                        id: &c.id,
                        name: &c.name,
                        args: &c.args,
                    })
                    .collect(),
            },
            ModelMessage::ToolResult {
                tool_call_id,
                name,
                content,
                is_error,
            } => MessageDoc::ToolResult {
                tool_call_id,
                name,
                content,
                is_error: *is_error,
            },
        })
        .collect();
    let doc = RequestDoc {
        session_id,
        request_id,
        model,
        thinking_level: req.thinking.name(),
        system_prompt: req.system_prompt,
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| ToolDoc {
                name: &t.name,
                description: &t.description,
                input_schema: &t.input_schema,
            })
            .collect(),
    };
    serde_json::to_string(&doc).expect("the request serializes")
}

/// An event the host emits for a request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostEvent {
    /// `{"type":"text_delta","text":…}`: answer text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// `{"type":"thinking_delta","text":…}`: thinking text.
    ThinkingDelta {
        /// The text.
        text: String,
    },
    /// `{"type":"thinking_signature","signature":…}`: closes the current thinking block; sent back with it.
    ThinkingSignature {
        /// The signature.
        signature: String,
    },
    /// `{"type":"tool_call","id":…,"name":…,"args":{…}}`: a complete tool call for tandem to run.
    ToolCall {
        /// Call ID, unique within the conversation.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments object (default `{}`).
        #[serde(default = "empty_object")]
        args: Value,
    },
    /// `{"type":"usage","input":…,"output":…,"cache_read":…,"cache_write":…,"cost":…}` (all optional).
    Usage(Usage),
    /// `{"type":"done"}`, optionally with `"stop_reason"` (`"max_tokens"` or `"length"`: the answer was cut).
    Done {
        /// Why the answer ended.
        #[serde(default)]
        stop_reason: Option<String>,
    },
    /// `{"type":"error","message":…,"retryable":false}`: the call failed; retryable errors are retried like HTTP
    /// overloads (a new request).
    Error {
        /// What went wrong.
        message: String,
        /// Whether a new attempt may succeed.
        #[serde(default)]
        retryable: bool,
    },
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl HostEvent {
    /// Parses and checks an event document.
    pub fn parse(json: &str) -> Result<HostEvent> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidJson("event_json", e.to_string()))?;
        HostEvent::from_value(value)
    }

    /// Checks an already parsed event document.
    pub fn from_value(value: Value) -> Result<HostEvent> {
        let event: HostEvent = serde_json::from_value(value)
            .map_err(|e| Error::InvalidArgument(format!("event_json: {e}")))?;
        if let HostEvent::ToolCall { id, name, args } = &event {
            if id.is_empty() || name.is_empty() {
                return Err(Error::invalid("tool_call needs a non-empty id and name"));
            }
            if !args.is_object() {
                return Err(Error::invalid("tool_call args must be a JSON object"));
            }
        }
        Ok(event)
    }

    /// Whether the event ends its request.
    pub fn is_last(&self) -> bool {
        matches!(self, HostEvent::Done { .. } | HostEvent::Error { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn events_parse_and_bad_ones_say_why() {
        assert_eq!(
            HostEvent::parse(r#"{"type":"text_delta","text":"hi"}"#).unwrap(),
            HostEvent::TextDelta { text: "hi".into() }
        );
        assert_eq!(
            HostEvent::parse(r#"{"type":"tool_call","id":"c1","name":"read_file"}"#).unwrap(),
            HostEvent::ToolCall {
                id: "c1".into(),
                name: "read_file".into(),
                args: serde_json::json!({})
            }
        );
        assert_eq!(
            HostEvent::parse(r#"{"type":"usage","input":3,"cost":0.5}"#).unwrap(),
            HostEvent::Usage(Usage {
                input: 3,
                cost: 0.5,
                ..Usage::default()
            })
        );
        assert!(HostEvent::parse(r#"{"type":"done"}"#).unwrap().is_last());
        assert!(matches!(HostEvent::parse("{"), Err(Error::InvalidJson(..))));
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"text":"x"}"#,
            r#"{"type":"text_delta"}"#,
            r#"{"type":"text_delta","text":"x","extra":1}"#,
            r#"{"type":"tool_call","id":"","name":"x"}"#,
            r#"{"type":"tool_call","id":"c","name":"x","args":[1]}"#,
            r#"{"type":"usage","tokens":1}"#,
        ] {
            assert!(
                matches!(HostEvent::parse(bad), Err(Error::InvalidArgument(_))),
                "{bad} was accepted"
            );
        }
    }
}
