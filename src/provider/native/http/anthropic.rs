//! The Anthropic Messages API: request bodies (prompt caching, thinking, tool use) and the streamed events.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::prices::Prices;
use super::sse::SseEvent;
use super::{parse_args, parse_data, Decoder};
use crate::provider::native::model::{Chunk, ModelError, ModelRequest};
use crate::provider::{ModelMessage, ToolCallRequest};
use crate::vocab::content::{ContentPart, Usage};
use crate::vocab::settings::ThinkingLevel;

/// Output tokens a response may use besides thinking.
const MAX_TOKENS: u64 = 16_384;

/// The thinking budget of a level (`None`: thinking off).
pub fn thinking_budget(level: ThinkingLevel) -> Option<u64> {
    match level {
        ThinkingLevel::Off => None,
        ThinkingLevel::Low => Some(4_096),
        ThinkingLevel::Medium => Some(10_240),
        ThinkingLevel::High => Some(20_480),
    }
}

/// The JSON body of a streamed `POST /v1/messages`.
pub fn request_body(model: &str, req: &ModelRequest<'_>) -> Value {
    let budget = thinking_budget(req.thinking);
    let mut body = json!({
        "model": model,
        // max_tokens includes the thinking budget, which must stay below it.
        "max_tokens": MAX_TOKENS + budget.unwrap_or(0),
        "stream": true,
        "messages": messages(req.messages, budget.is_some()),
    });
    // Cache breakpoints on the system prompt and the last tool: both are the same on every call of a session.
    if let Some(system) = req.system_prompt.filter(|s| !s.is_empty()) {
        body["system"] = json!([{
            "type": "text",
            "text": system,
            "cache_control": {"type": "ephemeral"},
        }]);
    }
    if !req.tools.is_empty() {
        let mut tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.input_schema,
                })
            })
            .collect();
        if let Some(last) = tools.last_mut() {
            last["cache_control"] = json!({"type": "ephemeral"});
        }
        body["tools"] = Value::Array(tools);
    }
    if let Some(b) = budget {
        body["thinking"] = json!({"type": "enabled", "budget_tokens": b});
    }
    body
}

/// The conversation as alternating user and assistant messages: tool results go in a user message, and
/// consecutive messages of one role are merged.
fn messages(context: &[ModelMessage], thinking: bool) -> Vec<Value> {
    let mut out: Vec<(&str, Vec<Value>)> = Vec::new();
    for m in context {
        let (role, blocks) = match m {
            ModelMessage::User(parts) => ("user", parts.iter().filter_map(part).collect()),
            ModelMessage::Assistant {
                thinking: blocks,
                text,
                tool_calls,
            } => {
                let mut content = Vec::new();
                // Signed blocks go back unchanged; unsigned ones and reasoning items of the Responses API (other
                // backends) would be rejected.
                if thinking {
                    for b in blocks {
                        match &b.signature {
                            Some(s) if s.starts_with(super::responses::REASONING_TAG) => {}
                            Some(data) if b.redacted => content.push(json!({
                                "type": "redacted_thinking",
                                "data": data,
                            })),
                            Some(sig) => content.push(json!({
                                "type": "thinking",
                                "thinking": b.text,
                                "signature": sig,
                            })),
                            None => {}
                        }
                    }
                }
                if !text.is_empty() {
                    content.push(json!({"type": "text", "text": text}));
                }
                for c in tool_calls {
                    content.push(json!({
                        "type": "tool_use",
                        "id": c.id,
                        "name": c.name,
                        "input": c.args,
                    }));
                }
                ("assistant", content)
            }
            ModelMessage::ToolResult {
                tool_call_id,
                content,
                is_error,
                ..
            } => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": tool_call_id,
                    "content": content,
                    "is_error": is_error,
                })],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn part(p: &ContentPart) -> Option<Value> {
    match p {
        ContentPart::Text { text } if text.is_empty() => None,
        ContentPart::Text { text } => Some(json!({"type": "text", "text": text})),
        ContentPart::Image { media_type, data } => Some(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        })),
    }
}

/// A content block being streamed.
enum Block {
    Text,
    Thinking {
        signature: String,
    },
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Decodes `message_start`, `content_block_*`, `message_delta`, `message_stop`, `ping` and `error` events.
pub struct StreamDecoder {
    prices: Option<Prices>,
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop_reason: Option<String>,
}

impl StreamDecoder {
    /// A decoder that prices usage with `prices` (no cost when unknown).
    pub fn new(prices: Option<Prices>) -> Self {
        StreamDecoder {
            prices,
            blocks: BTreeMap::new(),
            usage: Usage::default(),
            stop_reason: None,
        }
    }

    /// `message_start` carries the input side, `message_delta` the cumulative totals: later values win.
    fn read_usage(&mut self, u: &Value) {
        let field = |k: &str| u.get(k).and_then(Value::as_u64);
        if let Some(n) = field("input_tokens") {
            self.usage.input = n;
        }
        if let Some(n) = field("output_tokens") {
            self.usage.output = n;
        }
        if let Some(n) = field("cache_read_input_tokens") {
            self.usage.cache_read = n;
        }
        if let Some(n) = field("cache_creation_input_tokens") {
            self.usage.cache_write = n;
        }
    }

    fn block_stop(
        &mut self,
        index: u64,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> Result<(), ModelError> {
        match self.blocks.remove(&index) {
            Some(Block::Thinking { signature }) if !signature.is_empty() => {
                out(Chunk::ThinkingSignature(signature))
            }
            Some(Block::Tool { id, name, json }) => {
                let args = parse_args(&name, &json)?;
                out(Chunk::ToolCall(ToolCallRequest { id, name, args }));
            }
            _ => {}
        }
        Ok(())
    }
}

/// An `error` event's error as a model error; overload and rate limits are worth retrying.
fn stream_error(v: &Value) -> ModelError {
    let err = &v["error"];
    let kind = err["type"].as_str().unwrap_or("error");
    let message = err["message"].as_str().unwrap_or(kind).to_string();
    match kind {
        "overloaded_error" => ModelError::http(529, message, None),
        "rate_limit_error" => ModelError::http(429, message, None),
        "api_error" => ModelError::http(500, message, None),
        _ => ModelError::fatal(format!("{kind}: {message}")),
    }
}

impl Decoder for StreamDecoder {
    fn event(
        &mut self,
        event: &SseEvent,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> Result<bool, ModelError> {
        let v = parse_data(event)?;
        let kind = v["type"].as_str().or(event.event.as_deref()).unwrap_or("");
        let index = v["index"].as_u64().unwrap_or(0);
        match kind {
            "message_start" => self.read_usage(&v["message"]["usage"]),
            "content_block_start" => {
                let b = &v["content_block"];
                let block = match b["type"].as_str() {
                    Some("text") => {
                        if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                            out(Chunk::Text(t.into()));
                        }
                        Block::Text
                    }
                    Some("thinking") => {
                        if let Some(t) = b["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out(Chunk::Thinking(t.into()));
                        }
                        Block::Thinking {
                            signature: b["signature"].as_str().unwrap_or("").into(),
                        }
                    }
                    Some("redacted_thinking") => {
                        // Encrypted thinking arrives whole in the start event and goes back unchanged.
                        if let Some(data) = b["data"].as_str() {
                            out(Chunk::RedactedThinking(data.into()));
                        }
                        Block::Other
                    }
                    Some("tool_use") => Block::Tool {
                        id: b["id"].as_str().unwrap_or("").into(),
                        name: b["name"].as_str().unwrap_or("unknown").into(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = &v["delta"];
                let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
                match (d["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => out(Chunk::Text(s("text"))),
                    (Some("thinking_delta"), _) => out(Chunk::Thinking(s("thinking"))),
                    (Some("signature_delta"), Some(Block::Thinking { signature })) => {
                        signature.push_str(&s("signature"))
                    }
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(&s("partial_json"))
                    }
                    _ => {}
                }
            }
            "content_block_stop" => self.block_stop(index, out)?,
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(r.to_string());
                }
                self.read_usage(&v["usage"]);
            }
            "message_stop" => {
                let mut usage = self.usage;
                usage.cost = self.prices.map_or(0.0, |p| p.cost(&usage));
                out(Chunk::Usage(usage));
                if self.stop_reason.as_deref() == Some("max_tokens") {
                    out(Chunk::MaxTokens);
                }
                if self.stop_reason.as_deref() == Some("refusal") {
                    return Err(ModelError::fatal(
                        "the model declined to answer (stop_reason: refusal)",
                    ));
                }
                return Ok(true);
            }
            "error" => return Err(stream_error(&v)),
            // `ping` and event types added after this was written carry nothing we need.
            _ => {}
        }
        Ok(false)
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
