//! The OpenAI Responses API (`POST {base}/responses`): request bodies (stateless, reasoning items sent back) and
//! the streamed semantic events.
//!
//! Requests are stateless (`store: false`): every call carries the whole conversation as input items. A reasoning
//! item comes back with its `encrypted_content` when thinking is on (`include: ["reasoning.encrypted_content"]`);
//! tandem keeps the item, tagged with [`REASONING_TAG`], as the signature of the thinking block its summary
//! streamed into, and sends it back unchanged before the turn's text and function calls on later calls.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::prices::Prices;
use super::sse::SseEvent;
use super::{parse_args, parse_data, Decoder};
use crate::provider::native::model::{Chunk, ModelError, ModelRequest};
use crate::provider::{ModelMessage, ThinkingBlock, ToolCallRequest};
use crate::vocab::content::{ContentPart, Usage};

/// Marks a thinking block's signature as a Responses API reasoning item (the JSON after the tag), so that other
/// backends leave it out and this one sends back only its own.
pub const REASONING_TAG: &str = "openai-responses:";

/// The Responses API reasoning item kept in `block`, if it holds one.
pub fn reasoning_item(block: &ThinkingBlock) -> Option<Value> {
    let json = block.signature.as_deref()?.strip_prefix(REASONING_TAG)?;
    serde_json::from_str::<Value>(json)
        .ok()
        .filter(Value::is_object)
}

/// The JSON body of a streamed `POST /responses`.
pub fn request_body(model: &str, req: &ModelRequest<'_>) -> Value {
    let mut body = json!({
        "model": model,
        "input": input(req.messages),
        "stream": true,
        // Stateless: nothing is kept on OpenAI's side (works with Zero Data Retention); reasoning travels encrypted.
        "store": false,
    });
    if let Some(system) = req.system_prompt.filter(|s| !s.is_empty()) {
        body["instructions"] = json!(system);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                    // tandem's tool schemas have optional properties, which strict mode does not allow.
                    "strict": false,
                })
            })
            .collect();
        body["tool_choice"] = json!("auto");
        body["parallel_tool_calls"] = json!(true);
    }
    if let Some(e) = super::openai::reasoning_effort(req.thinking) {
        body["reasoning"] = json!({"effort": e, "summary": "auto"});
        body["include"] = json!(["reasoning.encrypted_content"]);
    }
    body
}

/// The conversation as input items: messages, reasoning items, function calls and their outputs, in order.
fn input(context: &[ModelMessage]) -> Vec<Value> {
    let mut items = Vec::new();
    for m in context {
        match m {
            ModelMessage::User(parts) => {
                let content: Vec<Value> = parts.iter().filter_map(part).collect();
                if !content.is_empty() {
                    items.push(json!({"type": "message", "role": "user", "content": content}));
                }
            }
            ModelMessage::Assistant {
                thinking,
                text,
                tool_calls,
            } => {
                // Only items with their encrypted content can be sent back: with `store: false` the server has no
                // copy to look an ID up in. Thinking of other backends has no item and is left out.
                items.extend(
                    thinking
                        .iter()
                        .filter_map(reasoning_item)
                        .filter(|i| i["encrypted_content"].is_string()),
                );
                if !text.is_empty() {
                    items.push(json!({"type": "message", "role": "assistant", "content": text}));
                }
                for c in tool_calls {
                    items.push(json!({
                        "type": "function_call",
                        "call_id": c.id,
                        "name": c.name,
                        "arguments": c.args.to_string(),
                    }));
                }
            }
            ModelMessage::ToolResult {
                tool_call_id,
                content,
                ..
            } => items.push(json!({
                "type": "function_call_output",
                "call_id": tool_call_id,
                "output": content,
            })),
        }
    }
    items
}

fn part(p: &ContentPart) -> Option<Value> {
    match p {
        ContentPart::Text { text } if text.is_empty() => None,
        ContentPart::Text { text } => Some(json!({"type": "input_text", "text": text})),
        ContentPart::Image { media_type, data } => Some(json!({
            "type": "input_image",
            "image_url": format!("data:{media_type};base64,{data}"),
            "detail": "auto",
        })),
    }
}

/// A function call being streamed.
#[derive(Default)]
struct PartialCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// Decodes `response.*` events up to `response.completed` (or `response.incomplete`).
pub struct StreamDecoder {
    prices: Option<Prices>,
    /// Function calls by output index.
    calls: BTreeMap<u64, PartialCall>,
    /// Output indexes whose text or summary streamed as deltas (their `done` item repeats it).
    streamed: Vec<u64>,
    /// The reasoning item and summary part the last summary delta belonged to.
    summary_at: Option<(u64, u64)>,
}

impl StreamDecoder {
    /// A decoder that prices usage with `prices` (no cost when unknown).
    pub fn new(prices: Option<Prices>) -> Self {
        StreamDecoder {
            prices,
            calls: BTreeMap::new(),
            streamed: Vec::new(),
            summary_at: None,
        }
    }

    fn usage(&self, u: &Value) -> Usage {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let input = n(&u["input_tokens"]);
        let cached = n(&u["input_tokens_details"]["cached_tokens"]).min(input);
        let written = n(&u["input_tokens_details"]["cache_write_tokens"]).min(input - cached);
        let mut usage = Usage {
            // Input tokens include the cached ones, which are priced apart; output tokens include reasoning.
            input: input - cached - written,
            output: n(&u["output_tokens"]),
            cache_read: cached,
            cache_write: written,
            ..Usage::default()
        };
        usage.cost = self.prices.map_or(0.0, |p| p.cost(&usage));
        usage
    }

    /// Notes that output item `index` streamed deltas (a response has a handful of items, so a scan is cheap).
    fn mark_streamed(&mut self, index: u64) {
        if !self.streamed.contains(&index) {
            self.streamed.push(index);
        }
    }

    fn summary_delta(&mut self, v: &Value, out: &mut (dyn FnMut(Chunk) + Send)) {
        let index = v["output_index"].as_u64().unwrap_or(0);
        let part = v["summary_index"].as_u64().unwrap_or(0);
        let delta = v["delta"].as_str().unwrap_or("");
        // Summary parts of one item are paragraphs of one thinking block.
        if matches!(self.summary_at, Some((i, p)) if i == index && p != part) {
            out(Chunk::Thinking("\n\n".into()));
        }
        self.summary_at = Some((index, part));
        // Only text counts: the item's signature must land on a thinking block of its own.
        if !delta.is_empty() {
            self.mark_streamed(index);
            out(Chunk::Thinking(delta.into()));
        }
    }

    fn item_done(
        &mut self,
        v: &Value,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> Result<(), ModelError> {
        let index = v["output_index"].as_u64().unwrap_or(0);
        let item = &v["item"];
        let streamed = self.streamed.contains(&index);
        match item["type"].as_str() {
            Some("reasoning") => self.reasoning_done(item, streamed, out),
            Some("function_call") => {
                let partial = self.calls.remove(&index).unwrap_or_default();
                let s = |k: &str, fallback: String| {
                    item[k]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map_or(fallback, str::to_string)
                };
                let name = s("name", partial.name);
                let arguments = s("arguments", partial.arguments);
                let args = parse_args(&name, &arguments)?;
                let id = s("call_id", partial.call_id);
                if id.is_empty() {
                    return Err(ModelError::fatal(format!(
                        "the model server sent a call of tool {name:?} without a call_id"
                    )));
                }
                out(Chunk::ToolCall(ToolCallRequest { id, name, args }));
            }
            Some("message") if !streamed => {
                // A server that sends the message whole, without deltas.
                for c in item["content"].as_array().into_iter().flatten() {
                    let t = c["text"].as_str().or(c["refusal"].as_str()).unwrap_or("");
                    if !t.is_empty() {
                        out(Chunk::Text(t.into()));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A complete reasoning item: its summary (unless it streamed), then the item itself as the block's signature.
    fn reasoning_done(
        &mut self,
        item: &Value,
        streamed: bool,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) {
        self.summary_at = None;
        let summary: Vec<&str> = item["summary"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["text"].as_str())
            .filter(|t| !t.is_empty())
            .collect();
        if !streamed && !summary.is_empty() {
            out(Chunk::Thinking(summary.join("\n\n")));
        }
        if !item["encrypted_content"].is_string() {
            // Nothing that could be sent back (see `input`): the summary, if any, is all there is.
            return;
        }
        let mut kept: Map<String, Value> = item.as_object().cloned().unwrap_or_default();
        kept.remove("status");
        let tagged = format!("{REASONING_TAG}{}", Value::Object(kept));
        if streamed || !summary.is_empty() {
            out(Chunk::ThinkingSignature(tagged));
        } else {
            // Reasoning without a summary: nothing readable, like Anthropic's redacted thinking.
            out(Chunk::RedactedThinking(tagged));
        }
    }
}

/// An API error (`{code, message}`) as a model error; rate limits and server errors are worth retrying.
fn api_error(err: &Value) -> ModelError {
    let code = err["code"]
        .as_str()
        .or(err["type"].as_str())
        .unwrap_or("error");
    let message = err["message"].as_str().unwrap_or(code).to_string();
    match code {
        "rate_limit_exceeded" => ModelError::http(429, message, None),
        "server_error" | "internal_error" => ModelError::http(500, message, None),
        "server_is_overloaded" | "slow_down" => ModelError::http(503, message, None),
        _ => ModelError::fatal(format!("{code}: {message}")),
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
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                self.mark_streamed(v["output_index"].as_u64().unwrap_or(0));
                if let Some(t) = v["delta"].as_str().filter(|t| !t.is_empty()) {
                    out(Chunk::Text(t.into()));
                }
            }
            "response.reasoning_summary_text.delta" => self.summary_delta(&v, out),
            "response.output_item.added" if v["item"]["type"] == "function_call" => {
                let item = &v["item"];
                let s = |k: &str| item[k].as_str().unwrap_or("").to_string();
                self.calls.insert(
                    v["output_index"].as_u64().unwrap_or(0),
                    PartialCall {
                        call_id: s("call_id"),
                        name: s("name"),
                        arguments: s("arguments"),
                    },
                );
            }
            "response.function_call_arguments.delta" => {
                let index = v["output_index"].as_u64().unwrap_or(0);
                let call = self.calls.entry(index).or_default();
                call.arguments.push_str(v["delta"].as_str().unwrap_or(""));
            }
            "response.output_item.done" => self.item_done(&v, out)?,
            "response.completed" | "response.incomplete" => {
                let response = &v["response"];
                if response["usage"].is_object() {
                    out(Chunk::Usage(self.usage(&response["usage"])));
                }
                if kind == "response.incomplete" {
                    let reason = response["incomplete_details"]["reason"]
                        .as_str()
                        .unwrap_or("unknown");
                    if reason != "max_output_tokens" {
                        return Err(ModelError::fatal(format!(
                            "the response is incomplete ({reason})"
                        )));
                    }
                    out(Chunk::MaxTokens);
                }
                return Ok(true);
            }
            "response.failed" => return Err(api_error(&v["response"]["error"])),
            "error" => return Err(api_error(v.get("error").unwrap_or(&v))),
            // `response.created`, `*.done` repeats, content parts and event types added after this was written
            // carry nothing we need.
            _ => {}
        }
        Ok(false)
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
