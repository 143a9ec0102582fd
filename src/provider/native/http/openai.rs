//! OpenAI Chat Completions (and compatible servers such as ollama): request bodies and the streamed chunks.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::prices::Prices;
use super::sse::SseEvent;
use super::{parse_args, parse_data, Decoder};
use crate::provider::native::model::{Chunk, ModelError, ModelRequest};
use crate::provider::{ModelMessage, ToolCallRequest};
use crate::vocab::content::{parts_text, ContentPart, Usage};
use crate::vocab::settings::ThinkingLevel;

/// The JSON body of a streamed `POST /chat/completions`.
pub fn request_body(model: &str, req: &ModelRequest<'_>) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = req.system_prompt.filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in req.messages {
        match m {
            ModelMessage::User(parts) => {
                messages.push(json!({"role": "user", "content": user_content(parts)}))
            }
            // Reasoning is not sent back: Chat Completions has no field for it.
            ModelMessage::Assistant {
                text, tool_calls, ..
            } => {
                if text.is_empty() && tool_calls.is_empty() {
                    continue;
                }
                let mut msg = json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) },
                });
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.args.to_string()},
                            })
                        })
                        .collect();
                }
                messages.push(msg);
            }
            ModelMessage::ToolResult {
                tool_call_id,
                content,
                ..
            } => messages.push(json!({
                "role": "tool",
                "tool_call_id": tool_call_id,
                "content": content,
            })),
        }
    }
    let mut body = json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.input_schema,
                    },
                })
            })
            .collect();
    }
    if let Some(e) = reasoning_effort(req.thinking) {
        body["reasoning_effort"] = json!(e);
    }
    body
}

/// OpenAI's reasoning effort for a thinking level (`None`: leave it to the model), in both APIs.
pub fn reasoning_effort(level: ThinkingLevel) -> Option<&'static str> {
    match level {
        ThinkingLevel::Off => None,
        ThinkingLevel::Low => Some("low"),
        ThinkingLevel::Medium => Some("medium"),
        ThinkingLevel::High => Some("high"),
    }
}

/// Plain text as a string (what every compatible server accepts); with images, the parts array.
fn user_content(parts: &[ContentPart]) -> Value {
    if parts.iter().all(|p| matches!(p, ContentPart::Text { .. })) {
        return json!(parts_text(parts));
    }
    parts
        .iter()
        .map(|p| match p {
            ContentPart::Text { text } => json!({"type": "text", "text": text}),
            ContentPart::Image { media_type, data } => json!({
                "type": "image_url",
                "image_url": {"url": format!("data:{media_type};base64,{data}")},
            }),
        })
        .collect()
}

/// A tool call assembled from deltas that share its `index`.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Decodes `chat.completion.chunk` events up to `[DONE]`.
pub struct StreamDecoder {
    prices: Option<Prices>,
    calls: BTreeMap<u64, PartialCall>,
    finished: bool,
}

impl StreamDecoder {
    /// A decoder that prices usage with `prices` (no cost when unknown).
    pub fn new(prices: Option<Prices>) -> Self {
        StreamDecoder {
            prices,
            calls: BTreeMap::new(),
            finished: false,
        }
    }

    /// Reports the assembled tool calls in index order.
    fn flush_calls(&mut self, out: &mut (dyn FnMut(Chunk) + Send)) -> Result<(), ModelError> {
        for (index, call) in std::mem::take(&mut self.calls) {
            let args = parse_args(&call.name, &call.arguments)?;
            let id = if call.id.is_empty() {
                generated_id(index)
            } else {
                call.id
            };
            let name = if call.name.is_empty() {
                "unknown".into()
            } else {
                call.name
            };
            out(Chunk::ToolCall(ToolCallRequest { id, name, args }));
        }
        Ok(())
    }

    fn usage(&self, u: &Value) -> Usage {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let prompt = n(&u["prompt_tokens"]);
        let cached = n(&u["prompt_tokens_details"]["cached_tokens"]).min(prompt);
        let mut usage = Usage {
            // Prompt tokens include the cached ones, which are priced apart.
            input: prompt - cached,
            output: n(&u["completion_tokens"]),
            cache_read: cached,
            ..Usage::default()
        };
        usage.cost = self.prices.map_or(0.0, |p| p.cost(&usage));
        usage
    }
}

/// An ID for a server that sent a tool call without one (IDs must be unique within a conversation).
fn generated_id(index: u64) -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::getrandom(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("call_{index}_{hex}")
}

impl Decoder for StreamDecoder {
    fn event(
        &mut self,
        event: &SseEvent,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> Result<bool, ModelError> {
        if event.data.trim() == "[DONE]" {
            self.flush_calls(out)?;
            return Ok(true);
        }
        let v = parse_data(event)?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let message = err["message"].as_str().unwrap_or("error").to_string();
            return Err(match err["code"].as_u64() {
                Some(code) if (100..=599).contains(&code) => {
                    ModelError::http(code as u16, message, None)
                }
                _ => ModelError::fatal(message),
            });
        }
        if let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) {
            let d = &choice["delta"];
            for key in ["reasoning_content", "reasoning"] {
                if let Some(t) = d[key].as_str().filter(|t| !t.is_empty()) {
                    out(Chunk::Thinking(t.into()));
                }
            }
            if let Some(t) = d["content"].as_str().filter(|t| !t.is_empty()) {
                out(Chunk::Text(t.into()));
            }
            for (pos, tc) in d["tool_calls"].as_array().into_iter().flatten().enumerate() {
                let index = tc["index"].as_u64().unwrap_or(pos as u64);
                let call = self.calls.entry(index).or_default();
                if let Some(id) = tc["id"].as_str() {
                    call.id = id.into();
                }
                let f = &tc["function"];
                if let Some(name) = f["name"].as_str() {
                    call.name.push_str(name);
                }
                if let Some(args) = f["arguments"].as_str() {
                    call.arguments.push_str(args);
                }
            }
            if !choice["finish_reason"].is_null() {
                self.finished = true;
                self.flush_calls(out)?;
                if choice["finish_reason"] == "length" {
                    out(Chunk::MaxTokens);
                }
            }
        }
        if v["usage"].is_object() {
            out(Chunk::Usage(self.usage(&v["usage"])));
        }
        Ok(false)
    }

    fn eof(&mut self, out: &mut (dyn FnMut(Chunk) + Send)) -> Result<(), ModelError> {
        // Some compatible servers close without `[DONE]`; a finished choice is still a complete answer.
        if self.finished {
            return self.flush_calls(out);
        }
        Err(ModelError::transient(
            "connection closed before the response was complete",
        ))
    }
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
