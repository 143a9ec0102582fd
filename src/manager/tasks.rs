//! The `task` tool: the model hands a prompt to a background sub-agent, which runs in its own session (inheriting
//! the parent's settings, counted in the parent's budget) until its first turn ends; its final answer is the tool
//! result. Several `task` calls of one model response run concurrently; the parent's abort drops the calls, and a
//! dropped call stops its sub-agent. Offered to sessions of the native and host providers that have a workdir and are
//! not themselves sub-agents (so a model delegates one level deep; hosts may start deeper trees); `tools` and
//! `tool_permissions` (`"task": "deny"`) take it away like any tool.

use std::sync::{Arc, Mutex, Weak};

use serde_json::{json, Map, Value};

use super::Manager;
use crate::events::{StopReason, TurnEnd};
use crate::session::Finished;
use crate::sync::lock;
use crate::tools::{SourceFuture, ToolContext, ToolOutcome, ToolSource};
use crate::vocab::model::ToolSpec;

/// The tool's name.
pub(super) use crate::tools::TASK_TOOL as TASK;

/// The `task` tool of one session.
#[derive(Debug)]
pub(super) struct Tasks {
    pub(super) manager: Weak<Manager>,
    pub(super) parent: String,
}

fn spec() -> ToolSpec {
    ToolSpec {
        name: TASK.into(),
        description: "Delegate a self-contained piece of work to a sub-agent that runs in the background with the \
                      same project and tools, and get its final answer back. Give it everything it needs in the \
                      prompt: it does not see this conversation. Several task calls in one response run at the \
                      same time."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "description": "The task, complete and self-contained."},
                "description": {"type": "string", "description": "A short label for the task (3-5 words)."},
                "model": {"type": "string", "description": "provider:model for the sub-agent (default: yours)."},
                "tools": {"type": "array", "items": {"type": "string"},
                          "description": "The only tools the sub-agent may use (default: yours)."}
            },
            "required": ["prompt"],
            "additionalProperties": false
        }),
    }
}

/// The sub-agent options a call asks for, or why its arguments are wrong.
fn options(args: &Value) -> Result<(String, Map<String, Value>), String> {
    let prompt = match args.get("prompt").and_then(Value::as_str) {
        Some(p) if !p.trim().is_empty() => p.to_string(),
        _ => return Err("task needs a non-empty string \"prompt\"".into()),
    };
    let mut given = Map::new();
    match args.get("model") {
        None => {}
        Some(Value::String(m)) => {
            given.insert("model".into(), Value::String(m.clone()));
        }
        Some(_) => return Err("task: \"model\" must be a string (provider:model)".into()),
    }
    match args.get("tools") {
        None => {}
        Some(Value::Array(t)) if t.iter().all(Value::is_string) => {
            given.insert("tools".into(), Value::Array(t.clone()));
        }
        Some(_) => return Err("task: \"tools\" must be an array of tool names".into()),
    }
    Ok((prompt, given))
}

/// What a call and the blocking thread starting its sub-agent share: whether the call is gone, and the sub-agent
/// once started. Whichever comes second stops the sub-agent, so an abort during the start leaves none behind.
#[derive(Default)]
struct Started {
    call_gone: bool,
    child: Option<String>,
}

/// Stops sub-agent `child` of `manager` (from a blocking thread: stopping waits for its actor).
fn stop(manager: &Manager, child: &str) {
    let why = Some("its task call ended".to_string());
    let _ = manager.stop_with(child, StopReason::Stopped, why);
}

/// Stops the sub-agent when the call ends, however it ends (answered, or dropped by the parent's abort), on a
/// blocking thread.
struct StopOnDrop {
    manager: Weak<Manager>,
    started: Arc<Mutex<Started>>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let child = {
            let mut s = lock(&self.started);
            s.call_gone = true;
            s.child.take()
        };
        let (Some(child), Some(m)) = (child, self.manager.upgrade()) else {
            return;
        };
        let me = self.manager.clone();
        m.rt.spawn_blocking(move || {
            if let Some(m) = me.upgrade() {
                stop(&m, &child);
            }
        });
    }
}

/// The tool result for a sub-agent's finished turn.
fn outcome(child: &str, finished: Finished) -> ToolOutcome {
    let answer = match finished.answer.trim() {
        "" => "(no text output)",
        text => text,
    };
    match finished.reason {
        TurnEnd::Completed => ToolOutcome::ok(answer),
        other => {
            let how = serde_json::to_value(other).unwrap_or_default();
            ToolOutcome::error(format!(
                "Sub-agent {child} ended ({}) without finishing its task. Its last output: {answer}",
                how.as_str().unwrap_or("ended")
            ))
        }
    }
}

impl Tasks {
    async fn run(&self, args: &Value) -> ToolOutcome {
        let (prompt, given) = match options(args) {
            Ok(o) => o,
            Err(e) => return ToolOutcome::error(e),
        };
        let Some(m) = self.manager.upgrade() else {
            return ToolOutcome::error("the client is shutting down");
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _stop = StopOnDrop {
            manager: self.manager.clone(),
            started: Arc::default(),
        };
        let (parent, shared) = (self.parent.clone(), _stop.started.clone());
        // A start reads the store and the project's context files: off the async workers.
        let started = tokio::task::spawn_blocking(move || {
            let handle = m.launch_subagent(Some(&parent), &prompt, given, Some(tx))?;
            let child = handle["session_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut s = lock(&shared);
            if s.call_gone {
                drop(s);
                stop(&m, &child);
            } else {
                s.child = Some(child.clone());
            }
            Ok::<_, crate::error::Error>(child)
        })
        .await;
        let child = match started {
            Ok(Ok(child)) => child,
            Ok(Err(e)) => return ToolOutcome::error(format!("could not start the sub-agent: {e}")),
            Err(e) => return ToolOutcome::error(format!("could not start the sub-agent: {e}")),
        };
        match rx.await {
            Ok(finished) => outcome(&child, finished),
            Err(_) => ToolOutcome::error(format!("sub-agent {child} stopped before it answered")),
        }
    }
}

impl ToolSource for Tasks {
    fn ready(&self) -> SourceFuture<'_, ()> {
        Box::pin(async {})
    }

    fn specs(&self) -> Vec<ToolSpec> {
        vec![spec()]
    }

    fn unavailable(&self, _name: &str) -> Option<String> {
        None
    }

    fn destructive(&self, name: &str) -> Option<bool> {
        // It acts with the session's tools, so it is gated like them.
        (name == TASK).then_some(true)
    }

    fn concurrent(&self, name: &str) -> bool {
        name == TASK
    }

    fn call<'a>(
        &'a self,
        _name: &'a str,
        args: &'a Value,
        _ctx: &'a ToolContext,
    ) -> SourceFuture<'a, ToolOutcome> {
        Box::pin(self.run(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_sub_agent_options_or_a_clear_error() {
        let (p, o) =
            options(&json!({"prompt": "Count files", "model": "scripted:echo", "tools": ["find"]}))
                .unwrap();
        assert_eq!(p, "Count files");
        assert_eq!(
            Value::Object(o),
            json!({"model": "scripted:echo", "tools": ["find"]})
        );
        for bad in [
            json!({}),
            json!({"prompt": "  "}),
            json!({"prompt": "x", "model": 3}),
            json!({"prompt": "x", "tools": "find"}),
            json!({"prompt": "x", "tools": [1]}),
        ] {
            assert!(options(&bad).is_err(), "{bad}");
        }
        let done = |reason| Finished {
            answer: " 42 ".into(),
            reason,
        };
        assert_eq!(
            outcome("s", done(TurnEnd::Completed)),
            ToolOutcome::ok("42")
        );
        let over = outcome("s", done(TurnEnd::BudgetExhausted));
        assert!(
            over.is_error && over.text.contains("(budget_exhausted)"),
            "{}",
            over.text
        );
    }
}
