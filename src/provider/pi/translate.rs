//! Pure translation between pi's RPC protocol and tandem's provider contract: line framing, command payloads, and
//! pi events mapped onto [`ProviderEvent`]s.

use serde_json::{json, Value};

use crate::provider::ProviderEvent;
use crate::vocab::content::{ContentPart, Level, Usage};

/// Splits pi's stdout into records on `\n` only. pi writes JSON with U+2028/U+2029 unescaped inside strings, so a
/// generic line reader that treats those as line breaks would cut records apart.
#[derive(Default)]
pub(crate) struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Adds `data` and returns the complete records it closed (a trailing `\r` stripped, empty records skipped).
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let mut line = &self.buf[start..start + pos];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if !line.is_empty() {
                out.push(line.to_vec());
            }
            start += pos + 1;
        }
        self.buf.drain(..start);
        out
    }
}

/// The `message` and `images` fields of a `prompt`, `steer` or `follow_up` command for `parts`.
pub(crate) fn message_fields(parts: &[ContentPart]) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut images = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text: t } => text.push_str(t),
            ContentPart::Image { media_type, data } => {
                images.push(json!({"type": "image", "data": data, "mimeType": media_type}));
            }
        }
    }
    (text, images)
}

/// A command carrying user content (`prompt`, `steer`), with `prefix` (earlier conversation) before the text.
pub(crate) fn content_command(kind: &str, prefix: Option<&str>, parts: &[ContentPart]) -> Value {
    let (text, images) = message_fields(parts);
    let message = match prefix {
        Some(p) => format!("{p}{text}"),
        None => text,
    };
    let mut cmd = json!({"type": kind, "message": message});
    if !images.is_empty() {
        cmd["images"] = Value::Array(images);
    }
    cmd
}

/// The answer to an extension UI request, if it needs one: dialogs are cancelled so pi never waits for a user
/// tandem does not have; fire-and-forget requests get none.
pub(crate) fn ui_answer(request: &Value) -> Option<Value> {
    if request["type"] != "extension_ui_request" {
        return None;
    }
    match request["method"].as_str() {
        Some("select" | "confirm" | "input" | "editor") => Some(json!({
            "type": "extension_ui_response",
            "id": request["id"],
            "cancelled": true,
        })),
        _ => None,
    }
}

/// The text of a tool result (`{content: [{type: "text", text}, …]}`); images become a placeholder.
fn result_text(result: &Value) -> String {
    match &result["content"] {
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p["type"].as_str() {
                Some("text") => p["text"].as_str().unwrap_or_default().to_string(),
                Some("image") => "[image]".to_string(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The usage of an assistant message (`usage: {input, output, cacheRead, cacheWrite, cost: {total}}`).
fn usage_of(message: &Value) -> Option<Usage> {
    let u = message.get("usage")?;
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    Some(Usage {
        input: n("input"),
        output: n("output"),
        cache_read: n("cacheRead"),
        cache_write: n("cacheWrite"),
        cost: u["cost"]["total"].as_f64().unwrap_or(0.0),
    })
}

/// What one line from pi means for the running turn.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Report these events and keep going.
    Emit(Vec<ProviderEvent>),
    /// The turn is over; `error` is why it failed, if it did.
    End {
        /// The failure, if any.
        error: Option<String>,
    },
}

/// A turn's view of pi's event stream: it starts listening when pi accepts its prompt (events before that belong
/// to an earlier, aborted run), sums usage and remembers the last model error.
pub(crate) struct Turn {
    prompt_id: String,
    started: bool,
    /// Usage summed over the turn's assistant messages.
    pub(crate) usage: Option<Usage>,
    error: Option<String>,
}

impl Turn {
    /// A turn whose prompt command carries `prompt_id`.
    pub(crate) fn new(prompt_id: String) -> Turn {
        Turn {
            prompt_id,
            started: false,
            usage: None,
            error: None,
        }
    }

    /// Translates one line from pi.
    pub(crate) fn step(&mut self, v: &Value) -> Step {
        let kind = v["type"].as_str().unwrap_or_default();
        if kind == "response" {
            return self.response(v);
        }
        if !self.started {
            if kind == "agent_start" {
                self.started = true;
            }
            return Step::Emit(Vec::new());
        }
        let str_of = |key: &str| v[key].as_str().unwrap_or_default().to_string();
        let events = match kind {
            "message_update" => {
                let e = &v["assistantMessageEvent"];
                let delta = e["delta"].as_str().unwrap_or_default().to_string();
                match e["type"].as_str() {
                    Some("text_delta") if !delta.is_empty() => {
                        vec![ProviderEvent::TextDelta(delta)]
                    }
                    Some("thinking_delta") if !delta.is_empty() => {
                        vec![ProviderEvent::ThinkingDelta(delta)]
                    }
                    _ => Vec::new(),
                }
            }
            "message_end" if v["message"]["role"] == "assistant" => {
                let m = &v["message"];
                if let Some(u) = usage_of(m) {
                    self.usage.get_or_insert_with(Usage::default).add(&u);
                }
                // A later successful message (pi retried) clears an earlier failure.
                self.error = match m["stopReason"].as_str() {
                    Some("error") => Some(
                        m["errorMessage"]
                            .as_str()
                            .unwrap_or("the model call failed")
                            .to_string(),
                    ),
                    _ => None,
                };
                Vec::new()
            }
            "tool_execution_start" => vec![ProviderEvent::ToolStart {
                id: str_of("toolCallId"),
                name: str_of("toolName"),
                args: v["args"].clone(),
            }],
            "tool_execution_update" => vec![ProviderEvent::ToolUpdate {
                id: str_of("toolCallId"),
                name: str_of("toolName"),
                partial: result_text(&v["partialResult"]),
            }],
            "tool_execution_end" => vec![ProviderEvent::ToolEnd {
                id: str_of("toolCallId"),
                name: str_of("toolName"),
                result: result_text(&v["result"]),
                is_error: v["isError"].as_bool().unwrap_or(false),
            }],
            "compaction_end" => vec![compaction_notice(v)],
            "auto_retry_start" => vec![ProviderEvent::SystemMessage {
                text: format!(
                    "pi retries in {:.1} s (attempt {} of {}): {}",
                    v["delayMs"].as_f64().unwrap_or(0.0) / 1000.0,
                    v["attempt"],
                    v["maxAttempts"],
                    str_of("errorMessage")
                ),
                level: Level::Info,
            }],
            "extension_error" => vec![ProviderEvent::SystemMessage {
                text: format!(
                    "pi extension {} failed: {}",
                    str_of("extensionPath"),
                    str_of("error")
                ),
                level: Level::Error,
            }],
            "agent_end" => {
                return Step::End {
                    error: self.error.take(),
                }
            }
            _ => Vec::new(),
        };
        Step::Emit(events)
    }

    fn response(&mut self, v: &Value) -> Step {
        let ok = v["success"].as_bool().unwrap_or(false);
        let error = v["error"].as_str().unwrap_or("no reason given").to_string();
        if v["id"].as_str() == Some(self.prompt_id.as_str()) {
            if ok {
                self.started = true;
                return Step::Emit(Vec::new());
            }
            return Step::End {
                error: Some(format!("pi refused the prompt: {error}")),
            };
        }
        if !ok && v["command"] == "steer" {
            return Step::Emit(vec![ProviderEvent::SystemMessage {
                text: format!("pi did not take the steering message: {error}"),
                level: Level::Error,
            }]);
        }
        Step::Emit(Vec::new())
    }
}

fn compaction_notice(v: &Value) -> ProviderEvent {
    let reason = v["reason"].as_str().unwrap_or("manual");
    match v["errorMessage"].as_str() {
        Some(e) => ProviderEvent::SystemMessage {
            text: format!("pi could not compact its context ({reason}): {e}"),
            level: Level::Error,
        },
        None if v["aborted"] == true => ProviderEvent::SystemMessage {
            text: format!("pi's context compaction ({reason}) was aborted"),
            level: Level::Info,
        },
        None => ProviderEvent::SystemMessage {
            text: format!("pi compacted its context ({reason})"),
            level: Level::Info,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_splits_on_newline_only() {
        let mut f = Framer::default();
        let line = "{\"type\":\"x\",\"s\":\"a\u{2028}b\u{2029}c\"}";
        let bytes = format!("{line}\r\n{line}\n{{\"par");
        let (a, b) = bytes.as_bytes().split_at(7);
        assert!(f.push(a).is_empty());
        let out = f.push(b);
        assert_eq!(out.len(), 2);
        for rec in &out {
            let v: Value = serde_json::from_slice(rec).unwrap();
            assert_eq!(v["s"], "a\u{2028}b\u{2029}c");
        }
        assert_eq!(f.push(b"tial\":1}\n\n"), vec![b"{\"partial\":1}".to_vec()]);
    }

    #[test]
    fn content_becomes_message_and_images() {
        let parts = vec![
            ContentPart::Text {
                text: "look".into(),
            },
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "AAAA".into(),
            },
        ];
        assert_eq!(
            content_command("prompt", Some("before\n"), &parts),
            json!({"type": "prompt", "message": "before\nlook",
                "images": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]})
        );
        assert_eq!(
            content_command("steer", None, &parts[..1]),
            json!({"type": "steer", "message": "look"})
        );
    }

    #[test]
    fn dialogs_are_cancelled_and_notifications_ignored() {
        let ask =
            json!({"type": "extension_ui_request", "id": "u1", "method": "confirm", "title": "?"});
        assert_eq!(
            ui_answer(&ask),
            Some(json!({"type": "extension_ui_response", "id": "u1", "cancelled": true}))
        );
        let note = json!({"type": "extension_ui_request", "id": "u2", "method": "notify", "message": "hi"});
        assert_eq!(ui_answer(&note), None);
        assert_eq!(ui_answer(&json!({"type": "agent_start"})), None);
    }

    fn emitted(t: &mut Turn, v: Value) -> Vec<ProviderEvent> {
        match t.step(&v) {
            Step::Emit(e) => e,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_turn_maps_deltas_tools_usage_and_ends_once() {
        let mut t = Turn::new("p1".into());
        // Leftovers of an aborted run before the prompt was accepted are not this turn's.
        assert!(emitted(&mut t, json!({"type": "message_update", "assistantMessageEvent": {"type": "text_delta", "delta": "old"}})).is_empty());
        assert_eq!(
            t.step(&json!({"type": "agent_end", "messages": []})),
            Step::Emit(vec![])
        );
        assert!(emitted(
            &mut t,
            json!({"type": "response", "id": "p1", "command": "prompt", "success": true})
        )
        .is_empty());
        assert_eq!(
            emitted(
                &mut t,
                json!({"type": "message_update", "assistantMessageEvent": {"type": "thinking_delta", "delta": "hm"}})
            ),
            vec![ProviderEvent::ThinkingDelta("hm".into())]
        );
        assert_eq!(
            emitted(
                &mut t,
                json!({"type": "message_update", "assistantMessageEvent": {"type": "text_delta", "delta": "Hi\u{2028}"}})
            ),
            vec![ProviderEvent::TextDelta("Hi\u{2028}".into())]
        );
        emitted(
            &mut t,
            json!({"type": "message_end", "message": {"role": "assistant", "stopReason": "toolUse",
                "usage": {"input": 10, "output": 5, "cacheRead": 2, "cacheWrite": 1, "cost": {"total": 0.5}}}}),
        );
        assert_eq!(
            emitted(
                &mut t,
                json!({"type": "tool_execution_start", "toolCallId": "c1", "toolName": "bash", "args": {"command": "ls"}})
            ),
            vec![ProviderEvent::ToolStart {
                id: "c1".into(),
                name: "bash".into(),
                args: json!({"command": "ls"})
            }]
        );
        assert_eq!(
            emitted(
                &mut t,
                json!({"type": "tool_execution_update", "toolCallId": "c1", "toolName": "bash",
                "partialResult": {"content": [{"type": "text", "text": "a"}]}})
            ),
            vec![ProviderEvent::ToolUpdate {
                id: "c1".into(),
                name: "bash".into(),
                partial: "a".into()
            }]
        );
        assert_eq!(
            emitted(
                &mut t,
                json!({"type": "tool_execution_end", "toolCallId": "c1", "toolName": "bash",
                "result": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "isError": true})
            ),
            vec![ProviderEvent::ToolEnd {
                id: "c1".into(),
                name: "bash".into(),
                result: "a\nb".into(),
                is_error: true
            }]
        );
        emitted(
            &mut t,
            json!({"type": "message_end", "message": {"role": "assistant", "stopReason": "error", "errorMessage": "boom",
                "usage": {"input": 1, "output": 1, "cacheRead": 0, "cacheWrite": 0, "cost": {"total": 0.25}}}}),
        );
        assert_eq!(
            t.step(&json!({"type": "agent_end", "messages": []})),
            Step::End {
                error: Some("boom".into())
            }
        );
        assert_eq!(
            t.usage,
            Some(Usage {
                input: 11,
                output: 6,
                cache_read: 2,
                cache_write: 1,
                cost: 0.75
            })
        );
    }

    #[test]
    fn refused_prompts_end_the_turn_and_notices_are_reported() {
        let mut t = Turn::new("p2".into());
        assert_eq!(
            t.step(&json!({"type": "response", "id": "p2", "command": "prompt", "success": false, "error": "busy"})),
            Step::End {
                error: Some("pi refused the prompt: busy".into())
            }
        );
        let mut t = Turn::new("p3".into());
        emitted(&mut t, json!({"type": "agent_start"}));
        let retry = emitted(
            &mut t,
            json!({"type": "auto_retry_start", "attempt": 1, "maxAttempts": 3, "delayMs": 2000, "errorMessage": "529"}),
        );
        assert!(
            matches!(&retry[..], [ProviderEvent::SystemMessage { text, level: Level::Info }] if text.contains("2.0 s") && text.contains("529"))
        );
        let steer = emitted(
            &mut t,
            json!({"type": "response", "id": "s1", "command": "steer", "success": false, "error": "no"}),
        );
        assert!(matches!(
            &steer[..],
            [ProviderEvent::SystemMessage {
                level: Level::Error,
                ..
            }]
        ));
        let compacted = emitted(
            &mut t,
            json!({"type": "compaction_end", "reason": "threshold", "result": {}, "aborted": false}),
        );
        assert!(
            matches!(&compacted[..], [ProviderEvent::SystemMessage { text, .. }] if text.contains("threshold"))
        );
        assert_eq!(
            t.step(&json!({"type": "agent_end"})),
            Step::End { error: None }
        );
    }
}
