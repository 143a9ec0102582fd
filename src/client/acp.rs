//! The client's model, thinking and plan calls on an ACP session (`"provider": "acp"`): checked against the config
//! options and modes the agent's session advertised, and passed on to the agent by its provider.

use std::sync::Arc;

use serde_json::{json, Value};

use super::Client;
use crate::error::{Error, Result};
use crate::provider::acp::control::{Control, Select, Which};
use crate::session::machine::state::Command;
use crate::sync::lock;
use crate::vocab::settings::ThinkingLevel;

/// What an ACP session's agent offers for one option.
pub(super) enum Offer {
    /// Not an ACP session, or its agent has not opened a session yet: tandem's own rules apply.
    Unknown,
    /// The agent's session has no such option.
    Missing,
    /// The agent's option.
    Select(Select),
}

impl Client {
    /// The agent settings of session `id`, when it is an ACP session.
    pub(super) fn acp_control(&self, id: &str) -> Result<Option<Arc<Control>>> {
        let o = self.live()?.provider_options(id)?;
        Ok((o.kind == "acp").then_some(o.acp.control))
    }

    /// What session `id`'s agent offers for `which`.
    pub(super) fn acp_offer(&self, id: &str, which: Which) -> Result<Offer> {
        Ok(match self.acp_control(id)?.and_then(|c| c.select(which)) {
            None => Offer::Unknown,
            Some(None) => Offer::Missing,
            Some(Some(s)) => Offer::Select(s),
        })
    }

    /// Checks a switch of ACP session `id` to `model` (`acp:<value>`) against the agent's model option.
    pub(super) fn check_acp_model(&self, id: &str, model: &str) -> Result<()> {
        let Some(value) = crate::provider::acp::agent_model(model) else {
            return Ok(());
        };
        match self.acp_offer(id, Which::Model)? {
            Offer::Unknown => Ok(()),
            Offer::Missing => Err(not_supported("model")),
            Offer::Select(s) if s.values.iter().any(|v| v == value) => Ok(()),
            Offer::Select(s) => Err(Error::NotFound(format!(
                "the ACP agent does not offer model {value:?}; it has: {}",
                s.values.join(", ")
            ))),
        }
    }

    /// The models of ACP session `id` as its agent lists them (`acp:<value>`, the agent's current one marked);
    /// `None` when the agent's list is not known.
    pub(super) fn acp_models(&self, id: &str) -> Result<Option<Value>> {
        let Offer::Select(s) = self.acp_offer(id, Which::Model)? else {
            return Ok(None);
        };
        Ok(Some(Value::Array(
            s.values
                .iter()
                .map(|v| {
                    json!({"model": format!("acp:{v}"), "provider": "acp", "name": v,
                        "current": *v == s.current})
                })
                .collect(),
        )))
    }

    /// Checks a switch of ACP session `id` to thinking `level` against the agent's thought-level option.
    pub(super) fn check_acp_thinking(&self, id: &str, level: ThinkingLevel) -> Result<()> {
        match self.acp_offer(id, Which::Thought)? {
            Offer::Unknown => Ok(()),
            Offer::Missing => Err(not_supported("thinking level")),
            Offer::Select(s) if s.level_value(level).is_some() => Ok(()),
            Offer::Select(s) => Err(Error::NotFound(format!(
                "the ACP agent does not offer thinking level {:?}; it has: {}",
                level.name(),
                s.values.join(", ")
            ))),
        }
    }

    /// The next thinking level of ACP session `id` its agent offers, after the current one; `None` when tandem's own
    /// cycle applies (not an ACP session, or the agent's options are not known yet).
    pub(super) fn acp_next_thinking(&self, id: &str) -> Result<Option<ThinkingLevel>> {
        let s = match self.acp_offer(id, Which::Thought)? {
            Offer::Unknown => return Ok(None),
            Offer::Missing => return Err(not_supported("thinking level")),
            Offer::Select(s) => s,
        };
        let mut level = self.live()?.with_state(id, |st| st.thinking_level())?;
        for _ in 0..4 {
            level = level.next();
            if s.level_value(level).is_some() {
                return Ok(Some(level));
            }
        }
        Err(Error::NotFound(format!(
            "the ACP agent offers none of tandem's thinking levels (off, low, medium, high); it has: {}",
            s.values.join(", ")
        )))
    }

    /// Cycles ACP session `id` through its agent's models (when no `models` rotation is configured); `None` when
    /// the agent's list is not known.
    pub(super) fn acp_cycle_model(&self, id: &str) -> Result<Option<Value>> {
        let s = match self.acp_offer(id, Which::Model)? {
            Offer::Unknown => return Ok(None),
            Offer::Missing => return Err(not_supported("model")),
            Offer::Select(s) if s.values.is_empty() => return Err(not_supported("model")),
            Offer::Select(s) => s,
        };
        let index = s
            .values
            .iter()
            .position(|v| *v == s.current)
            .map_or(0, |i| (i + 1) % s.values.len());
        let model = format!("acp:{}", s.values[index]);
        let manager = self.live()?;
        manager.call(id, Command::SetModel(model.clone()))?;
        let level = manager.with_state(id, |st| st.thinking_level().name())?;
        Ok(Some(
            json!({"model": model, "index": index + 1, "total": s.values.len(),
            "thinking_level": level}),
        ))
    }

    /// Passes plan mode (`plan`) or its end on to ACP session `id`'s agent when it has a matching mode.
    pub(super) fn acp_plan(&self, id: &str, plan: bool) -> Result<()> {
        if let Some(c) = self.acp_control(id)? {
            let rt = lock(&self.runtime).as_ref().map(|rt| rt.handle().clone());
            c.want_plan(plan, rt.as_ref());
        }
        Ok(())
    }
}

fn not_supported(what: &str) -> Error {
    Error::NotSupported(format!(
        "the ACP agent's session offers no {what} option (no config option of that category), so tandem cannot \
         switch it"
    ))
}
