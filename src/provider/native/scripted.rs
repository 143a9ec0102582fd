//! The deterministic scripted model: host-supplied responses, the built-in `echo` and `demo` scripts, and faults.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::model::{BoxFuture, Chunk, Model, ModelError, ModelRequest};
use crate::error::{Error, Result};
use crate::provider::{ModelMessage, ToolCallRequest};
use crate::vocab::content::{parts_text, Usage};

/// One step of a scripted response.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Stream text.
    Text(String),
    /// Stream thinking.
    Thinking(String),
    /// Call a tool.
    ToolCall {
        /// Tool name.
        name: String,
        /// Arguments.
        args: Value,
        /// Call ID (generated when absent).
        id: Option<String>,
    },
    /// Report usage.
    Usage(Usage),
    /// Pause, then go on.
    DelayMs(u64),
    /// Fail the call like an HTTP error.
    Error {
        /// Status code.
        status: u16,
        /// Message.
        message: String,
        /// Retry-After, in milliseconds.
        retry_after_ms: Option<u64>,
    },
    /// Stop sending anything for this long (a stalled stream).
    StallMs(u64),
    /// Panic inside the session's task (for supervision tests).
    Panic(String),
}

/// A whole script: one list of steps per model call.
pub type Script = Vec<Vec<Step>>;

/// Parses the `script` session option.
pub fn parse_script(value: &Value) -> Result<Script> {
    let responses = value
        .as_array()
        .ok_or_else(|| Error::invalid("script must be an array of responses"))?;
    responses
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let steps = r
                .as_array()
                .ok_or_else(|| Error::invalid(format!("script[{i}] must be an array of steps")))?;
            steps
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    parse_step(s).map_err(|e| Error::invalid(format!("script[{i}][{j}]: {e}")))
                })
                .collect()
        })
        .collect()
}

fn parse_step(step: &Value) -> std::result::Result<Step, String> {
    let obj = step
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("a step is an object with exactly one key")?;
    let (key, v) = obj.iter().next().expect("one key");
    let string = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .ok_or(format!("{key} takes a string"))
    };
    let millis = |v: &Value| {
        v.as_u64()
            .filter(|n| *n <= 3_600_000)
            .ok_or(format!("{key} takes milliseconds (0 to 3600000)"))
    };
    Ok(match key.as_str() {
        "text" => Step::Text(string(v)?),
        "thinking" => Step::Thinking(string(v)?),
        "tool_call" => {
            let o = v.as_object().ok_or("tool_call takes an object")?;
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or("tool_call needs a string name")?
                .to_string();
            let args = o.get("args").cloned().unwrap_or_else(|| json!({}));
            if !args.is_object() {
                return Err("tool_call args must be an object".into());
            }
            let id = match o.get("id") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err("tool_call id must be a string".into()),
            };
            if let Some(k) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "name" | "args" | "id"))
            {
                return Err(format!("unknown tool_call field {k:?}"));
            }
            Step::ToolCall { name, args, id }
        }
        "usage" => {
            Step::Usage(serde_json::from_value(v.clone()).map_err(|e| format!("usage: {e}"))?)
        }
        "delay_ms" => Step::DelayMs(millis(v)?),
        "stall_ms" => Step::StallMs(millis(v)?),
        "error" => {
            let o = v.as_object().ok_or("error takes an object")?;
            let status = o
                .get("status")
                .and_then(Value::as_u64)
                .filter(|s| (100..=599).contains(s))
                .ok_or("error needs a status (100-599)")?;
            let message = o
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("scripted error")
                .to_string();
            let retry_after_ms = o.get("retry_after_ms").and_then(Value::as_u64);
            Step::Error {
                status: status as u16,
                message,
                retry_after_ms,
            }
        }
        "panic" => Step::Panic(string(v)?),
        other => return Err(format!("unknown step {other:?}")),
    })
}

/// Which responses the model gives.
#[derive(Debug, Clone)]
enum Source {
    Script(Arc<Script>),
    Echo,
    Demo,
}

/// The scripted model. Its cursor is shared with the session's supervisor, so a restarted session goes on with the
/// next response instead of replaying the one that crashed it.
pub struct ScriptedModel {
    source: Source,
    cursor: Arc<AtomicUsize>,
    ids: AtomicUsize,
}

impl ScriptedModel {
    /// `name` is the part after `scripted:`; `script`, when given, wins over the built-ins.
    pub fn new(name: &str, script: Option<Script>, cursor: Arc<AtomicUsize>) -> Result<Self> {
        let source = match (script, name) {
            (Some(s), _) => Source::Script(Arc::new(s)),
            (None, "echo") => Source::Echo,
            (None, "demo") => Source::Demo,
            (None, other) => {
                return Err(Error::invalid(format!(
                    "scripted:{other} has no built-in script (use scripted:echo, scripted:demo, or pass a script)"
                )))
            }
        };
        Ok(ScriptedModel {
            source,
            cursor,
            ids: AtomicUsize::new(0),
        })
    }

    fn next_id(&self) -> String {
        format!("call_{}", self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Borrowed for host scripts, so a long response is not copied in one piece before its first step.
    fn steps_for(&self, req: &ModelRequest<'_>) -> Cow<'_, [Step]> {
        match &self.source {
            Source::Script(script) => {
                let i = self.cursor.fetch_add(1, Ordering::SeqCst);
                match script.get(i) {
                    Some(steps) => Cow::Borrowed(steps.as_slice()),
                    None => Cow::Owned(vec![Step::Text("(script exhausted)".into())]),
                }
            }
            Source::Echo => Cow::Owned(echo(req.messages)),
            Source::Demo => Cow::Owned(super::demo::demo(req.messages)),
        }
    }
}

impl Model for ScriptedModel {
    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest<'a>,
        out: &'a mut (dyn FnMut(Chunk) + Send),
    ) -> BoxFuture<'a, std::result::Result<(), ModelError>> {
        Box::pin(async move {
            let steps = self.steps_for(req);
            for step in steps.iter().cloned() {
                // A long script would otherwise emit every chunk before the session's actor (woken on this worker)
                // runs; using the task's budget lets them interleave like a real stream's socket reads do.
                tokio::task::consume_budget().await;
                match step {
                    Step::Text(t) => out(Chunk::Text(t)),
                    Step::Thinking(t) => out(Chunk::Thinking(t)),
                    Step::ToolCall { name, args, id } => {
                        let id = id.unwrap_or_else(|| self.next_id());
                        out(Chunk::ToolCall(ToolCallRequest { id, name, args }))
                    }
                    Step::Usage(u) => out(Chunk::Usage(u)),
                    Step::DelayMs(ms) | Step::StallMs(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await
                    }
                    Step::Error {
                        status,
                        message,
                        retry_after_ms,
                    } => return Err(ModelError::http(status, message, retry_after_ms)),
                    Step::Panic(msg) => panic!("{msg}"),
                }
            }
            Ok(())
        })
    }
}

fn last_user_text(messages: &[ModelMessage]) -> String {
    messages
        .iter()
        .rev()
        .find_map(|m| match m {
            ModelMessage::User(parts) => Some(parts_text(parts)),
            _ => None,
        })
        .unwrap_or_default()
}

/// Streams the last prompt back, one word per delta.
fn echo(messages: &[ModelMessage]) -> Vec<Step> {
    let text = last_user_text(messages);
    if text.is_empty() {
        return vec![Step::Text("(empty prompt)".into())];
    }
    let mut steps: Vec<Step> = text
        .split_inclusive(' ')
        .map(|w| Step::Text(w.to_string()))
        .collect();
    let words = steps.len() as u64;
    steps.push(Step::Usage(Usage {
        input: words,
        output: words,
        ..Usage::default()
    }));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step_kind() {
        let v = json!([[{"text": "a"}, {"thinking": "b"}, {"tool_call": {"name": "t", "args": {"x": 1}, "id": "c"}},
            {"usage": {"input": 1, "output": 2, "cost": 0.5}}, {"delay_ms": 5}, {"stall_ms": 6},
            {"error": {"status": 429, "message": "slow down", "retry_after_ms": 10}}, {"panic": "boom"}]]);
        let s = parse_script(&v).unwrap();
        assert_eq!(s[0].len(), 8);
        assert_eq!(
            s[0][2],
            Step::ToolCall {
                name: "t".into(),
                args: json!({"x": 1}),
                id: Some("c".into())
            }
        );
        assert_eq!(
            s[0][6],
            Step::Error {
                status: 429,
                message: "slow down".into(),
                retry_after_ms: Some(10)
            }
        );
    }

    #[test]
    fn rejects_malformed_steps_with_their_position() {
        for (bad, needle) in [
            (json!({}), "array of responses"),
            (json!([{}]), "script[0]"),
            (json!([[{"text": 1}]]), "script[0][0]"),
            (json!([[{"text": "a", "thinking": "b"}]]), "exactly one key"),
            (json!([[{"nope": 1}]]), "unknown step"),
            (json!([[{"error": {"status": 42}}]]), "status"),
            (
                json!([[{"tool_call": {"name": "x", "args": []}}]]),
                "object",
            ),
            (json!([[{"usage": {"bogus": 1}}]]), "usage"),
        ] {
            let err = parse_script(&bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn echo_streams_words_and_demo_starts_by_listing() {
        let msgs = vec![ModelMessage::User(vec![
            crate::vocab::content::ContentPart::Text {
                text: "hello big world".into(),
            },
        ])];
        let steps = echo(&msgs);
        assert_eq!(
            &steps[..3],
            &[
                Step::Text("hello ".into()),
                Step::Text("big ".into()),
                Step::Text("world".into())
            ]
        );
        let steps = super::super::demo::demo(&msgs);
        assert!(steps
            .iter()
            .any(|s| matches!(s, Step::ToolCall { name, .. } if name == "list_directory")));
    }
}
