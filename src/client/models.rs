//! The client's model calls that ask the provider: the model list (an HTTP backend's `GET …/models`, pi's
//! `get_available_models`), switches checked against it, and the slash commands (tandem's, the skills', pi's).

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::{Client, MODEL_LIST_WAIT};
use crate::error::{Error, Result};
use crate::session::machine::state::Command;
use crate::sync::lock;

/// Whether listed model `known` is `model`, or a version `model` names: an alias without a date
/// (`anthropic:claude-sonnet-4-5` for `…-4-5-20250929`) or without a tag (`ollama:qwen2.5-coder` for `…:latest`).
fn names(known: &str, model: &str) -> bool {
    known
        .strip_prefix(model)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-') || rest.starts_with(':'))
}

/// How long a question to pi (a process of its own, slow to start on a busy machine) may take.
const PI_LIST_WAIT: Duration = Duration::from_secs(30);

impl Client {
    /// Switches the session's model for its next model calls. When the provider lists its models (an HTTP backend
    /// for a model of the session's own backend, pi), a model missing from the list is `NotFound` naming the known
    /// ones; when the list cannot be had, the model is taken and a model the provider does not know fails the next
    /// turn. An ACP session's model is one its agent offers (`acp:<value>`; `NotSupported` when it has no model
    /// option).
    pub fn set_model(&self, id: &str, model: &str) -> Result<()> {
        via_remote!(self, r => {
            self.alive()?;
            r.call(id, "set_model", serde_json::json!({"model": model})).map(drop)
        });
        let manager = self.live()?;
        crate::provider::check_model(&manager.provider_kind(id)?, model)?;
        self.check_acp_model(id, model)?;
        if let Some(known) = self.provider_models(id, Some(model))? {
            if !known.iter().any(|k| names(k, model)) {
                return Err(Error::NotFound(format!(
                    "the provider does not list model {model:?}; it has: {}",
                    known.join(", ")
                )));
            }
        }
        manager.call(id, Command::SetModel(model.into())).map(drop)
    }

    /// Models the session can switch to: the provider's own list (an HTTP backend's `GET …/models`, pi's
    /// `get_available_models`), else, or when that fails, the configured `models` rotation. Blocks for the
    /// provider's answer (at most 10 s; 30 s for pi, which starts a process to answer). An ACP session lists the
    /// models its agent offers, once its agent's session is open.
    pub fn available_models(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => {
            self.alive()?;
            r.call(id, "available_models", serde_json::json!({}))
        });
        let m = self.live()?;
        if let Some(list) = self.acp_models(id)? {
            return Ok(list);
        }
        match self.provider_models(id, None)? {
            Some(list) => m.with_state(id, |s| s.models_json(list)),
            None => m.with_state(id, |s| s.available_models()),
        }
    }

    /// The models the provider of session `id` lists, as `provider:model` names: for a native session the list of
    /// the HTTP backend of `model` (default the current one) when it is the session's own backend (its base URL and
    /// key apply); for pi, pi's list. `None` when there is no list or it could not be had in time.
    fn provider_models(&self, id: &str, model: Option<&str>) -> Result<Option<Vec<String>>> {
        let m = self.live()?;
        let current = m.with_state(id, |s| s.identity().model.clone())?;
        let options = m.provider_options(id)?;
        if options.kind == "pi" {
            return self.on_runtime(PI_LIST_WAIT, async move {
                crate::provider::pi::query::models(&options.pi).await.ok()
            });
        }
        let backend = current.split_once(':').map_or("", |(b, _)| b);
        let target = model.unwrap_or(&current);
        let same = target.split_once(':').is_some_and(|(b, _)| b == backend);
        if !(same
            && matches!(
                backend,
                "anthropic" | "openai" | "openai-responses" | "ollama"
            ))
        {
            return Ok(None);
        }
        let name = current.split_once(':').map_or("", |(_, n)| n);
        let http = crate::provider::native::http::HttpModel::new(
            backend,
            name,
            &options.native.http,
            self.shared.http.clone(),
        )?;
        let backend = backend.to_string();
        self.on_runtime(MODEL_LIST_WAIT, async move {
            let ids = http.list_models().await.ok()?;
            Some(ids.iter().map(|i| format!("{backend}:{i}")).collect())
        })
    }

    /// Runs `work` on the client's runtime and waits for it from this (host) thread, at most `wait`.
    fn on_runtime<T: Send + 'static>(
        &self,
        wait: Duration,
        work: impl Future<Output = Option<T>> + Send + 'static,
    ) -> Result<Option<T>> {
        let Some(rt) = lock(&self.runtime).as_ref().map(|rt| rt.handle().clone()) else {
            return Err(Error::ShuttingDown);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let done = tokio::time::timeout(wait, work).await.ok().flatten();
            let _ = tx.send(done);
        });
        Ok(rx
            .recv_timeout(wait + Duration::from_secs(1))
            .ok()
            .flatten())
    }

    /// Slash commands a host can offer: the built-ins, then one per skill found and one per MCP server prompt (for
    /// a pi session: the commands pi lists, which a prompt `/name` reaches pi with). Blocks for pi's answer (at most 30 s).
    pub fn commands(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => {
            self.alive()?;
            r.call(id, "commands", serde_json::json!({}))
        });
        let mut all = self.tandem_commands(id)?;
        let options = self.live()?.provider_options(id)?;
        if options.kind == "pi" {
            let pi = self.on_runtime(PI_LIST_WAIT, async move {
                crate::provider::pi::query::commands(&options.pi).await.ok()
            })?;
            if let Value::Array(list) = &mut all {
                list.extend(pi.unwrap_or_default());
            }
        }
        Ok(all)
    }

    /// The commands tandem itself runs: the built-ins, then one per skill found (none for a pi session, which
    /// loads its own skills), then one per prompt of the session's ready MCP servers.
    pub(crate) fn tandem_commands(&self, id: &str) -> Result<Value> {
        let m = self.live()?;
        let mut all = m.with_state(id, |s| s.commands())?;
        if m.provider_kind(id)? == "pi" {
            return Ok(all);
        }
        let skills = crate::skills::discover(&m.skill_dirs(id)?);
        let prompts = m.mcp_prompts(id)?;
        if let Value::Array(list) = &mut all {
            list.extend(skills.into_iter().map(|s| {
                serde_json::json!({"name": s.name, "description": s.description, "kind": "skill"})
            }));
            list.extend(prompts.into_iter().map(|(name, description)| {
                serde_json::json!({"name": name, "description": description, "kind": "mcp_prompt"})
            }));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn aliases_name_dated_and_tagged_models() {
        assert!(names(
            "anthropic:claude-sonnet-4-5-20250929",
            "anthropic:claude-sonnet-4-5"
        ));
        assert!(names("ollama:qwen2.5-coder:latest", "ollama:qwen2.5-coder"));
        assert!(names("openai:gpt-4.1", "openai:gpt-4.1"));
        assert!(!names("openai:gpt-4.1", "openai:gpt-4"));
        assert!(!names("openai:gpt-4.1-mini", "openai:gpt-4.1-mi"));
    }
}
