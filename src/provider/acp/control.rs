//! What tandem knows of and wants from an ACP agent's session settings: the model and thinking config options and
//! the modes its session advertised, and the switches the host asked for that the agent has not made yet.
//!
//! One [`Control`] lives as long as the tandem session (it is shared by the session's options, so the client's
//! calls and every incarnation of the provider see the same one). The client checks a switch against what the
//! agent advertised and records it; the provider sends it (`session/set_config_option`, `session/set_mode`) at
//! once when its agent is idle, else before the next prompt.

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::sync::lock;
use crate::vocab::settings::ThinkingLevel;

/// One select config option of the agent's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    /// Its config ID (what `session/set_config_option` names).
    pub id: String,
    /// Its current value ID.
    pub current: String,
    /// The value IDs the agent offers, in its order.
    pub values: Vec<String>,
}

impl Select {
    fn parse(o: &Value) -> Option<Select> {
        if o["type"] != "select" {
            return None;
        }
        let mut values = Vec::new();
        for v in o["options"].as_array().into_iter().flatten() {
            // Options come as a flat list or in groups.
            match v["options"].as_array() {
                Some(group) => values.extend(group.iter().filter_map(|g| g["value"].as_str())),
                None => values.extend(v["value"].as_str()),
            }
        }
        Some(Select {
            id: o["id"].as_str()?.to_string(),
            current: o["currentValue"].as_str().unwrap_or("").to_string(),
            values: values.into_iter().map(str::to_string).collect(),
        })
    }

    /// The agent's value for thinking level `level`: the value with the level's name, ignoring case.
    pub fn level_value(&self, level: ThinkingLevel) -> Option<String> {
        self.values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(level.name()))
            .cloned()
    }
}

/// The two config options tandem switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Category `model`.
    Model,
    /// Category `thought_level`.
    Thought,
}

#[derive(Debug, Default)]
struct State {
    /// An agent session has been opened, so what it advertises is known.
    known: bool,
    model: Option<Select>,
    thought: Option<Select>,
    /// The agent's mode IDs, and the current one.
    modes: Vec<String>,
    mode: Option<String>,
    /// The mode to go back to when plan mode ends.
    before_plan: Option<String>,
    want_model: Option<String>,
    want_thought: Option<String>,
    want_mode: Option<String>,
    /// What the host should be told at the next turn (a switch sent between turns that the agent refused).
    notes: Vec<String>,
}

type Kick = Box<dyn Fn(&tokio::runtime::Handle) + Send + Sync>;

/// The agent's session settings of one tandem session (see the module documentation).
#[derive(Default)]
pub struct Control {
    state: Mutex<State>,
    /// Asks the provider to send pending switches now (set by the provider; a no-op before it exists).
    kick: Mutex<Option<Kick>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

/// Whether `id` (or `name`) of a mode clearly means plan mode.
fn is_plan(id: &str) -> bool {
    id.eq_ignore_ascii_case("plan")
}

/// Mode IDs that clearly mean "run normally", tried when there is no mode to go back to.
const EXEC_MODES: &[&str] = &["exec", "default", "code", "agent", "build"];

impl Control {
    /// The agent's option `which`: outer `None` while no agent session has been opened (it is not known yet),
    /// inner `None` when the agent has no such option.
    pub fn select(&self, which: Which) -> Option<Option<Select>> {
        let s = lock(&self.state);
        s.known.then(|| match which {
            Which::Model => s.model.clone(),
            Which::Thought => s.thought.clone(),
        })
    }

    /// Records a switch of `which` to the agent's `value`, and asks the provider to send it (on `rt`) if it can.
    pub fn want(&self, which: Which, value: String, rt: Option<&tokio::runtime::Handle>) {
        {
            let mut s = lock(&self.state);
            match which {
                Which::Model => s.want_model = Some(value),
                Which::Thought => s.want_thought = Some(value),
            }
        }
        self.kick(rt);
    }

    /// Asks the agent for plan mode (`plan`) or out of it, when it advertises a mode that clearly matches; `false`
    /// when it does not (or no agent session is open yet), and tandem's own plan mode is all there is.
    pub fn want_plan(&self, plan: bool, rt: Option<&tokio::runtime::Handle>) -> bool {
        {
            let mut s = lock(&self.state);
            let Some(plan_id) = s.modes.iter().find(|m| is_plan(m)).cloned() else {
                return false;
            };
            let target = if plan {
                if s.mode.as_deref() != Some(plan_id.as_str()) {
                    s.before_plan = s.mode.clone();
                }
                plan_id
            } else {
                let back = s.before_plan.take().or_else(|| {
                    EXEC_MODES
                        .iter()
                        .find_map(|e| s.modes.iter().find(|m| m.eq_ignore_ascii_case(e)).cloned())
                });
                match back {
                    Some(b) => b,
                    None => return false,
                }
            };
            s.want_mode = Some(target);
        }
        self.kick(rt);
        true
    }

    fn kick(&self, rt: Option<&tokio::runtime::Handle>) {
        let current = tokio::runtime::Handle::try_current().ok();
        if let (Some(rt), Some(kick)) = (rt.or(current.as_ref()), &*lock(&self.kick)) {
            kick(rt);
        }
    }

    /// What the agent reported last, for the session's metadata: `{model, thought_level, mode}` (each `null` when
    /// the agent has none or no session is open yet).
    pub fn report(&self) -> Value {
        let s = lock(&self.state);
        json!({
            "model": s.model.as_ref().map(|m| m.current.clone()),
            "thought_level": s.thought.as_ref().map(|m| m.current.clone()),
            "mode": s.mode,
        })
    }

    /// Sets the provider's way to send pending switches now.
    pub(crate) fn set_kick(&self, kick: Kick) {
        *lock(&self.kick) = Some(kick);
    }

    /// Takes in a `session/new` or `session/load` answer: its config options and modes.
    pub(crate) fn opened(&self, answer: &Value) {
        let mut s = lock(&self.state);
        s.known = true;
        s.modes = answer["modes"]["availableModes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        s.mode = answer["modes"]["currentModeId"]
            .as_str()
            .map(str::to_string);
        s.model = None;
        s.thought = None;
        Self::take_options(&mut s, &answer["configOptions"]);
    }

    /// Takes in a `session/set_config_option` answer (or a `config_option_update`): the options as they are now.
    pub(crate) fn options_changed(&self, options: &Value) {
        Self::take_options(&mut lock(&self.state), options);
    }

    /// The agent changed its mode (`session/set_mode` succeeded, or it said so).
    pub(crate) fn mode_changed(&self, mode: &str) {
        lock(&self.state).mode = Some(mode.to_string());
    }

    fn take_options(s: &mut State, options: &Value) {
        for o in options.as_array().into_iter().flatten() {
            let Some(select) = Select::parse(o) else {
                continue;
            };
            match o["category"].as_str() {
                Some("model") => s.model = Some(select),
                Some("thought_level") => s.thought = Some(select),
                _ => {}
            }
        }
    }

    /// Keeps `notes` for the next turn to tell the host.
    pub(crate) fn keep_notes(&self, notes: Vec<String>) {
        lock(&self.state).notes.extend(notes);
    }

    /// The notes kept for this turn.
    pub(crate) fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.state).notes)
    }

    /// The switches still to send, as (method, params without `sessionId`); taking them clears them. A value the
    /// agent does not list (a switch made before its session was open) is left out with a note.
    pub(crate) fn take_pending(&self) -> (Vec<(&'static str, Value)>, Vec<String>) {
        let mut s = lock(&self.state);
        let (mut calls, mut notes) = (Vec::new(), Vec::new());
        let wants = [
            (s.want_model.take(), s.model.clone(), "model"),
            (s.want_thought.take(), s.thought.clone(), "thinking level"),
        ];
        for (want, select, what) in wants {
            let Some(want) = want else { continue };
            match select {
                Some(sel) if sel.current.eq_ignore_ascii_case(&want) => {}
                Some(sel) if sel.values.iter().any(|v| v.eq_ignore_ascii_case(&want)) => {
                    let value = sel.values.iter().find(|v| v.eq_ignore_ascii_case(&want));
                    calls.push((
                        "session/set_config_option",
                        json!({"configId": sel.id, "value": value}),
                    ))
                }
                Some(sel) => notes.push(format!(
                    "The ACP agent does not offer {what} {want:?} (it has: {}); it keeps {:?}",
                    sel.values.join(", "),
                    sel.current
                )),
                None if what == "model" => {}
                None => notes.push(format!(
                    "The ACP agent has no {what} option; {want:?} does not reach it"
                )),
            }
        }
        if let Some(mode) = s.want_mode.take() {
            if s.mode.as_deref() != Some(mode.as_str()) && s.modes.contains(&mode) {
                calls.push(("session/set_mode", json!({"modeId": mode})));
            }
        }
        (calls, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> Control {
        let c = Control::default();
        c.opened(&json!({
            "sessionId": "s",
            "modes": {"currentModeId": "exec", "availableModes": [{"id": "exec", "name": "Exec"}, {"id": "plan", "name": "Plan"}]},
            "configOptions": [
                {"id": "model", "name": "Model", "category": "model", "type": "select", "currentValue": "a",
                 "options": [{"value": "a", "name": "A"}, {"group": "g", "name": "G", "options": [{"value": "b", "name": "B"}]}]},
                {"id": "effort", "name": "Effort", "category": "thought_level", "type": "select", "currentValue": "Low",
                 "options": [{"value": "Low", "name": "Low"}, {"value": "High", "name": "High"}]},
                {"id": "flag", "name": "Flag", "type": "boolean", "currentValue": true}
            ]
        }));
        c
    }

    #[test]
    fn advertised_options_are_read_with_their_groups_and_categories() {
        assert_eq!(
            Control::default().select(Which::Model),
            None,
            "not known yet"
        );
        let c = opened();
        let model = c.select(Which::Model).unwrap().unwrap();
        assert_eq!(
            (model.current.as_str(), model.values.clone()),
            ("a", vec!["a".into(), "b".into()])
        );
        let thought = c.select(Which::Thought).unwrap().unwrap();
        assert_eq!(
            thought.level_value(ThinkingLevel::High).as_deref(),
            Some("High")
        );
        assert_eq!(thought.level_value(ThinkingLevel::Off), None);
        assert_eq!(
            c.report(),
            json!({"model": "a", "thought_level": "Low", "mode": "exec"})
        );
    }

    #[test]
    fn pending_switches_become_calls_once_and_unlisted_values_a_note() {
        let c = opened();
        c.want(Which::Model, "b".into(), None);
        c.want(Which::Thought, "Medium".into(), None);
        let (calls, notes) = c.take_pending();
        assert_eq!(
            calls,
            [(
                "session/set_config_option",
                json!({"configId": "model", "value": "b"})
            )]
        );
        assert!(
            notes[0].contains("does not offer thinking level \"Medium\""),
            "{notes:?}"
        );
        assert_eq!(c.take_pending(), (vec![], vec![]));
    }

    #[test]
    fn plan_mode_goes_to_the_agents_plan_and_back_to_where_it_was() {
        let c = opened();
        assert!(c.want_plan(true, None));
        assert_eq!(
            c.take_pending().0,
            [("session/set_mode", json!({"modeId": "plan"}))]
        );
        c.mode_changed("plan");
        assert!(c.want_plan(false, None));
        assert_eq!(
            c.take_pending().0,
            [("session/set_mode", json!({"modeId": "exec"}))]
        );
        assert!(!Control::default().want_plan(true, None), "no modes known");
    }
}
