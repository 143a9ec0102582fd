//! Background sub-agents: started under a parent whose provider, model, thinking level, skills, workdir and tool
//! settings they inherit unless their options say otherwise; handed their task asynchronously (retrying while the
//! session restarts or its provider is not ready); reporting each answer to the parent (a `subagent_finished` event
//! and a note in its transcript); stopped with their parent unless started `detached`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::registry::{subagent_prompt_step, RetryStep, SubagentHandle};
use super::{IfExists, Manager};
use crate::error::{Error, Result};
use crate::events::{Payload, StopReason};
use crate::session::machine::state::{Command, Reply};
use crate::session::machine::transcript::{ContentPart, Level};
use crate::session::options::resolve;
use crate::session::{read, Finished, OnFinished};
use crate::sync::lock;

impl Manager {
    /// Starts a background sub-agent and delivers `task` to it asynchronously.
    pub fn start_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        options_json: Option<&str>,
    ) -> Result<Value> {
        let given = super::start_options::given_options(options_json)?;
        self.launch_subagent(parent, task, given, None)
    }

    /// [`Manager::start_subagent`] with the options given as an object; `waiter` (a `task` tool call) gets the
    /// sub-agent's first finished turn instead of the parent's transcript, and is dropped if it stops first.
    pub(super) fn launch_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        mut given: Map<String, Value>,
        waiter: Option<Waiter>,
    ) -> Result<Value> {
        // Not a session option: it says how the sub-agent relates to its parent, and is not stored for a resume.
        let detached = match given.remove("detached") {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(Error::invalid("detached must be true or false")),
        };
        let (options, skills) = match parent {
            Some(p) => self.inherited(p, given)?,
            None => (given, Vec::new()),
        };
        if task.trim().is_empty() {
            return Err(Error::invalid("task must not be empty"));
        }
        let json = Value::Object(options).to_string();
        let opts = resolve(Some(&json), &self.defaults, &self.restart)?;
        let model = opts.model.clone();
        let sub = Sub {
            parent: parent.map(Into::into),
            skills,
        };
        let id = self.start_resolved(opts, IfExists::Fail, Some(sub), None)?;
        let handle = SubagentHandle {
            session_id: id.clone(),
            parent_session_id: parent.map(Into::into),
            task: task.into(),
            model,
            started_at: crate::time::rfc3339(crate::time::wall_ms()),
            detached,
        };
        let json = serde_json::to_value(&handle).expect("handles serialize");
        if let Some(w) = waiter {
            // Before the task is handed over, so even the quickest answer finds it.
            lock(&self.waiters).insert(id.clone(), w);
        }
        let log = {
            let mut reg = lock(&self.reg);
            reg.add_subagent(handle);
            reg.active(&id)?.1.log.clone()
        };
        self.bus.publish(
            &log,
            Payload::SubagentStarted {
                handle: json.clone(),
            },
        );
        let me = self.me.clone();
        let task = task.to_string();
        self.rt.spawn(async move {
            let parts = vec![ContentPart::Text { text: task }];
            for attempt in 0.. {
                let Some(m) = me.upgrade() else { return };
                let handle = lock(&m.reg).active(&id).map(|(h, _)| h.clone());
                let result = match handle {
                    // A refused prompt (provider not ready, …) is its error, not a delivery.
                    Ok(h) => match h.call_async(Command::Prompt(parts.clone())).await {
                        Ok(Reply::Failed(e)) | Err(e) => Err(e),
                        Ok(_) => Ok(()),
                    },
                    Err(e) => Err(e),
                };
                match subagent_prompt_step(attempt, &result) {
                    RetryStep::Done => return,
                    RetryStep::RetryAfter(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await
                    }
                    RetryStep::GiveUp(msg) => {
                        // A task call waiting for this sub-agent gets its error now.
                        lock(&m.waiters).remove(&id);
                        let handle = lock(&m.reg).active(&id).map(|(h, _)| h.clone());
                        if let Ok(h) = handle {
                            let _ = h
                                .call_async(Command::AddSystemMessage(msg, Level::Error))
                                .await;
                        }
                        return;
                    }
                }
            }
        });
        Ok(json)
    }

    /// Sub-agent handles, oldest first.
    pub fn subagents(&self, parent: Option<&str>) -> Vec<SubagentHandle> {
        lock(&self.reg).subagents(parent)
    }

    /// The options of a sub-agent of `parent`: the parent's (as the host gave them, workdir absolute) with its
    /// current model and thinking level, under `given`; and the parent's active skills. A sub-agent that names
    /// another provider does not take the parent's model or model rotation, and one that names a model or another
    /// provider not the parent's script.
    fn inherited(
        &self,
        parent: &str,
        given: Map<String, Value>,
    ) -> Result<(Map<String, Value>, Skills)> {
        let (mut base, config, provider) = self.active(parent, |h, seed| {
            let s = read(&h.state);
            (
                seed.options.stored(),
                s.provider_config(),
                seed.options.provider.clone(),
            )
        })?;
        base.insert("model".into(), Value::String(config.model));
        base.insert(
            "thinking_level".into(),
            Value::String(config.thinking_level.name().into()),
        );
        let other_provider = given
            .get("provider")
            .and_then(Value::as_str)
            .is_some_and(|p| p != provider);
        if other_provider {
            // The parent's models belong to its provider.
            base.remove("model");
            base.remove("models");
        }
        if other_provider || given.contains_key("model") {
            // A script is the parent's scripted model: it would win over the model the sub-agent names.
            base.remove("script");
        }
        let (options, _) = super::start_options::overlay(&base, &given);
        Ok((options, config.skills))
    }

    /// What sub-agent `child` of `parent` calls when it finishes a turn: the answer goes to the parent.
    pub(super) fn finished_hook(&self, child: &str, parent: &str) -> OnFinished {
        let (me, rt) = (self.me.clone(), self.rt.clone());
        let (child, parent) = (child.to_string(), parent.to_string());
        Arc::new(move |finished: Finished| {
            let (me, child, parent) = (me.clone(), child.clone(), parent.clone());
            rt.spawn(async move {
                if let Some(m) = me.upgrade() {
                    m.deliver(&parent, &child, finished).await;
                }
            });
        })
    }

    /// Tells `parent` that sub-agent `child` finished a turn: a note in its transcript, then `subagent_finished`. A
    /// parent that is gone (or restarting) is not told; the answer stays in the sub-agent's transcript.
    async fn deliver(&self, parent: &str, child: &str, finished: Finished) {
        let found = lock(&self.reg)
            .active(parent)
            .map(|(h, s)| (h.clone(), s.log.clone()));
        let waiter = lock(&self.waiters).remove(child);
        if let Some(w) = waiter {
            // A `task` call: the answer is its tool result, so the parent's transcript gets no note.
            if let Ok((_, log)) = &found {
                self.bus
                    .publish(log, finished_event(parent, child, &finished));
            }
            let _ = w.send(finished);
            return;
        }
        let Ok((handle, log)) = found else { return };
        let how = serde_json::to_value(finished.reason).expect("turn ends serialize");
        let how = how.as_str().unwrap_or("ended");
        let answer = match finished.answer.trim() {
            "" => "(no text output)",
            text => text,
        };
        let note = format!("Sub-agent {child} finished ({how}): {answer}");
        let _ = handle
            .call_async(Command::AddSystemMessage(note, Level::Info))
            .await;
        self.bus
            .publish(&log, finished_event(parent, child, &finished));
    }

    /// [`Manager::stop_children`] from a task on the runtime: stopping a session waits for its actor, which may be
    /// queued behind this very worker (tokio does not let other workers steal a task from a worker's LIFO slot),
    /// so the wait happens on a blocking thread.
    pub(super) fn stop_children_off_runtime(&self, parent: &str) {
        let (me, parent) = (self.me.clone(), parent.to_string());
        self.rt.spawn_blocking(move || {
            if let Some(m) = me.upgrade() {
                m.stop_children(&parent);
            }
        });
    }

    /// Stops the sub-agents of `parent` that were not started detached (after the parent stopped).
    pub(super) fn stop_children(&self, parent: &str) {
        let children: Vec<String> = lock(&self.reg)
            .subagents(Some(parent))
            .into_iter()
            .filter(|h| !h.detached)
            .map(|h| h.session_id)
            .collect();
        for child in children {
            let why = format!("its parent session {parent} was stopped");
            let _ = self.stop_with(&child, StopReason::Stopped, Some(why));
        }
    }
}

/// `subagent_finished` of sub-agent `child` of `parent`.
fn finished_event(parent: &str, child: &str, finished: &Finished) -> Payload {
    Payload::SubagentFinished {
        subagent_session_id: child.into(),
        parent_session_id: parent.into(),
        answer: finished.answer.clone(),
        reason: finished.reason,
    }
}

/// Where a `task` call waits for its sub-agent's answer.
pub(super) type Waiter = tokio::sync::oneshot::Sender<Finished>;

/// Active skills, (name, SKILL.md content).
type Skills = Vec<(String, String)>;

/// A sub-agent's relation to its parent, fixed at start.
pub(super) struct Sub {
    /// The parent session.
    pub(super) parent: Option<String>,
    /// The parent's active skills.
    pub(super) skills: Skills,
}
