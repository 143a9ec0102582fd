//! Background sub-agents: started under a parent, handed their task asynchronously (retrying while the session
//! restarts or its provider is not ready).

use std::time::Duration;

use serde_json::Value;

use super::registry::{subagent_prompt_step, RetryStep, SubagentHandle};
use super::{IfExists, Manager};
use crate::error::{Error, Result};
use crate::events::Payload;
use crate::session::machine::state::{Command, Reply};
use crate::session::machine::transcript::{ContentPart, Level};
use crate::session::options::resolve;
use crate::sync::lock;

impl Manager {
    /// Starts a background sub-agent and delivers `task` to it asynchronously.
    pub fn start_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        options_json: Option<&str>,
    ) -> Result<Value> {
        if let Some(p) = parent {
            self.handle(p)?;
        }
        if task.trim().is_empty() {
            return Err(Error::invalid("task must not be empty"));
        }
        let opts = resolve(options_json, &self.defaults, &self.restart)?;
        let model = opts.model.clone();
        let id = self.start_resolved(opts, IfExists::Fail, Some(parent.map(Into::into)), None)?;
        let handle = SubagentHandle {
            session_id: id.clone(),
            parent_session_id: parent.map(Into::into),
            task: task.into(),
            model,
            started_at: crate::time::rfc3339(crate::time::wall_ms()),
        };
        let json = serde_json::to_value(&handle).expect("handles serialize");
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
}
