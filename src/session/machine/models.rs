//! Models and thinking levels in the session state machine: switching, cycling through the configured rotation,
//! and the catalogue of commands a host can offer.

use serde_json::{json, Value};

use super::state::{Effect, Reply, SessionState};
use crate::error::Error;
pub use crate::vocab::settings::ProviderConfig;
use crate::vocab::settings::ThinkingLevel;

/// Splits a rotation entry `provider:model[:level]` into the model and its optional level.
pub fn rotation_entry(entry: &str) -> (String, Option<ThinkingLevel>) {
    if let Some((model, level)) = entry.rsplit_once(':') {
        if model.contains(':') {
            if let Ok(l) = ThinkingLevel::parse(level) {
                return (model.to_string(), Some(l));
            }
        }
    }
    (entry.to_string(), None)
}

/// Slash commands every session understands (hosts map them onto the API).
const COMMANDS: &[(&str, &str)] = &[
    ("skills", "List, activate or deactivate skills"),
    ("abort", "Stop the running turn"),
    (
        "branch",
        "Save the conversation as a branch and continue from a message",
    ),
    ("branches", "List saved branches, or switch to branch N"),
    ("compact", "Summarize older messages to free context"),
    ("continue", "Resume an answer that was cut off"),
    (
        "summarize",
        "Write a Markdown summary of the session under .tandem/context",
    ),
    ("exec", "Leave plan mode"),
    ("model", "Switch to another model"),
    ("models", "Cycle through the configured models"),
    ("plan", "Enter plan mode: destructive tools are refused"),
    ("queue", "Show queued prompts"),
    ("thinking", "Set or cycle the thinking level"),
];

impl SessionState {
    /// The current thinking level.
    pub fn thinking_level(&self) -> ThinkingLevel {
        self.thinking
    }

    /// What the provider needs from the session: model, thinking level and active skills.
    pub fn provider_config(&self) -> ProviderConfig {
        ProviderConfig {
            model: self.ident.model.clone(),
            thinking_level: self.thinking,
            skills: self
                .skills
                .iter()
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
        }
    }

    fn provider_changed(&self, fx: &mut Vec<Effect>) {
        fx.push(Effect::ConfigureProvider(self.provider_config()));
    }

    /// Starts with these active skills, (name, SKILL.md content) pairs (a sub-agent takes its parent's; at start,
    /// before any input).
    pub fn inherit_skills(&mut self, skills: Vec<(String, String)>) {
        self.skills.extend(skills);
    }

    /// Activates skill `name` with its `content` (read by the caller); it joins the system prompt from the next
    /// model call on.
    pub(super) fn activate_skill(
        &mut self,
        name: String,
        content: String,
        fx: &mut Vec<Effect>,
    ) -> Reply {
        if let Some(no) =
            self.pi_has_its_own("skills (from its skill directories; its commands list them)")
        {
            return no;
        }
        self.skills.insert(name, content);
        self.provider_changed(fx);
        Reply::Ok
    }

    /// `NotSupported` for a pi session, which has its own `what`.
    pub(super) fn pi_has_its_own(&self, what: &str) -> Option<Reply> {
        (self.ident.provider == "pi").then(|| {
            Reply::Failed(Error::NotSupported(format!(
                "a pi session uses pi's own {what}; tandem cannot change them"
            )))
        })
    }

    /// Deactivates skill `name`.
    pub(super) fn deactivate_skill(&mut self, name: &str, fx: &mut Vec<Effect>) -> Reply {
        if self.skills.remove(name).is_none() {
            return Reply::Failed(Error::NotFound(format!("skill {name:?} is not active")));
        }
        self.provider_changed(fx);
        Reply::Ok
    }

    /// Names of the active skills.
    pub fn active_skills(&self) -> Vec<String> {
        self.skills.keys().cloned().collect()
    }

    /// Switches to `model` (already checked by the caller against the available backends).
    pub(super) fn set_model(&mut self, model: String, fx: &mut Vec<Effect>) -> Reply {
        self.ident.model = model;
        self.provider_changed(fx);
        Reply::Ok
    }

    /// Moves to the next entry of the `models` rotation after the current model.
    pub(super) fn cycle_model(&mut self, fx: &mut Vec<Effect>) -> Reply {
        if self.models.is_empty() {
            return Reply::Failed(Error::NotSupported(
                "no model rotation is configured: set the session's \"models\" option".into(),
            ));
        }
        let current = self
            .models
            .iter()
            .position(|e| rotation_entry(e).0 == self.ident.model);
        let index = current.map_or(0, |i| (i + 1) % self.models.len());
        let (model, level) = rotation_entry(&self.models[index]);
        self.ident.model = model.clone();
        if let Some(l) = level {
            self.thinking = l;
        }
        self.provider_changed(fx);
        Reply::Json(json!({
            "model": model,
            "index": index + 1,
            "total": self.models.len(),
            "thinking_level": self.thinking.name(),
        }))
    }

    /// Sets the thinking level for the next model calls.
    pub(super) fn set_thinking(&mut self, level: ThinkingLevel, fx: &mut Vec<Effect>) -> Reply {
        self.thinking = level;
        self.provider_changed(fx);
        Reply::Ok
    }

    /// off → low → medium → high → off.
    pub(super) fn cycle_thinking(&mut self, fx: &mut Vec<Effect>) -> Reply {
        self.thinking = self.thinking.next();
        self.provider_changed(fx);
        Reply::Json(json!({"level": self.thinking.name()}))
    }

    /// The models a host can offer: the rotation (or just the current model), marking the current one.
    pub fn available_models(&self) -> Value {
        self.models_json(self.models.iter().map(|e| rotation_entry(e).0).collect())
    }

    /// `models` (`provider:model` names, e.g. from the provider's list) with the current one first if missing.
    pub fn models_json(&self, mut models: Vec<String>) -> Value {
        if !models.contains(&self.ident.model) {
            models.insert(0, self.ident.model.clone());
        }
        models.dedup();
        Value::Array(
            models
                .into_iter()
                .map(|m| {
                    let (provider, name) = m.split_once(':').unwrap_or(("", &m));
                    json!({"model": m, "provider": provider, "name": name, "current": m == self.ident.model})
                })
                .collect(),
        )
    }

    /// The slash commands a host can offer: `[{name, description}]`.
    pub fn commands(&self) -> Value {
        Value::Array(
            COMMANDS
                .iter()
                .map(|(n, d)| json!({"name": n, "description": d, "kind": "builtin"}))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_entries_may_carry_a_level() {
        assert_eq!(
            rotation_entry("scripted:echo"),
            ("scripted:echo".into(), None)
        );
        assert_eq!(
            rotation_entry("scripted:echo:high"),
            ("scripted:echo".into(), Some(ThinkingLevel::High))
        );
        assert_eq!(
            rotation_entry("scripted:echo:nope"),
            ("scripted:echo:nope".into(), None)
        );
        assert_eq!(
            rotation_entry("ollama:qwen:7b"),
            ("ollama:qwen:7b".into(), None)
        );
    }

    #[test]
    fn levels_parse_and_cycle() {
        assert_eq!(
            ThinkingLevel::parse("medium").unwrap(),
            ThinkingLevel::Medium
        );
        assert!(ThinkingLevel::parse("extreme")
            .unwrap_err()
            .to_string()
            .contains("Valid: off, low, medium, high"));
        assert_eq!(ThinkingLevel::High.next(), ThinkingLevel::Off);
    }
}
