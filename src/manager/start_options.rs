//! The options a session starts with. Resuming a stored session: the store keeps the options a host gave (never
//! secrets: keys stay environment variable names), a resume without options gets them back, and options given on
//! resume override them key by key, the difference reported in an `options_restored` event. Tool names: those in
//! `tools` and `tool_permissions` must be tools the session can have.

use serde_json::{Map, Value};

use super::Manager;
use crate::error::{Error, Result};
use crate::events::Payload;
use crate::session::options::Resolved;

/// What the client configures for every session.
pub struct Settings {
    /// Session options merged under each start.
    pub defaults: Value,
    /// The client-wide restart policy.
    pub restart: super::policy::RestartPolicy,
    /// The client's MCP servers.
    pub mcp: Vec<crate::mcp::ServerConfig>,
}

/// What a resume took from the store, for the `options_restored` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    /// Keys taken from the stored options.
    pub restored: Vec<String>,
    /// `{key: {"stored", "given"}}` for stored keys the given options changed.
    pub overridden: Value,
}

impl Resumed {
    /// The event announcing it, with the number of touched files the conversation brought back.
    pub fn event(self, touched_files: usize) -> Payload {
        Payload::OptionsRestored {
            restored: self.restored,
            overridden: self.overridden,
            touched_files,
        }
    }
}

/// Parses the host's options JSON (`None` = `{}`) into an object.
pub fn given_options(json: Option<&str>) -> Result<Map<String, Value>> {
    let given: Value = match json {
        Some(text) => Error::parse_json("options_json", text)?,
        None => Value::Object(Map::new()),
    };
    match given {
        Value::Object(map) => Ok(map),
        _ => Err(Error::invalid("options_json must be a JSON object")),
    }
}

/// `given` over `stored`, key by key, and what that did. Pure, so the rules are tested without a store.
pub fn overlay(
    stored: &Map<String, Value>,
    given: &Map<String, Value>,
) -> (Map<String, Value>, Resumed) {
    let mut merged = stored.clone();
    let mut restored = Vec::new();
    let mut overridden = Map::new();
    for (key, value) in stored {
        match given.get(key) {
            None => restored.push(key.clone()),
            Some(g) if g != value => {
                overridden.insert(
                    key.clone(),
                    serde_json::json!({"stored": value, "given": g}),
                );
            }
            Some(_) => {}
        }
    }
    for (key, value) in given {
        merged.insert(key.clone(), value.clone());
    }
    let resumed = Resumed {
        restored,
        overridden: Value::Object(overridden),
    };
    (merged, resumed)
}

impl Manager {
    /// Refuses names in `tools` and `tool_permissions` that are neither built-in tools nor host tools registered
    /// on the client, as unknown option keys are refused: a typo must not silently leave a tool on or ungated.
    pub(super) fn check_tool_names(&self, opts: &Resolved) -> Result<()> {
        let host = self.host_tools.names();
        let known = |name: &str| {
            crate::tools::is_builtin(name)
                || name == super::tasks::TASK
                || host.iter().any(|h| h == name)
                || self.is_mcp_name(opts, name)
        };
        let listed = opts.tools.iter().flatten().map(|n| ("tools", n));
        let permitted = opts
            .tool_permissions
            .keys()
            .map(|n| ("tool_permissions", n));
        match listed.chain(permitted).find(|(_, n)| !known(n)) {
            None => Ok(()),
            Some((field, name)) => {
                let mut all: Vec<String> =
                    crate::tools::builtin_names().map(str::to_string).collect();
                all.extend(host);
                Err(Error::invalid(format!(
                    "{field}: unknown tool {name:?}; known tools: {} (host tools must be registered before the \
                     session starts)",
                    all.join(", ")
                )))
            }
        }
    }

    /// The options to start session `id` with: `given` over the options the store kept for it, if it is stored
    /// and not running. A record that cannot be read restores nothing (the start reports it in the transcript).
    pub(super) fn with_stored_options(
        &self,
        id: &str,
        given: Map<String, Value>,
    ) -> (Map<String, Value>, Option<Resumed>) {
        let stored = self
            .store
            .as_ref()
            .filter(|_| !self.is_live(id))
            .and_then(|s| s.session_record(id).ok().flatten())
            .and_then(|r| r.options);
        match stored {
            Some(stored) => {
                let (merged, resumed) = overlay(&stored, &given);
                (merged, Some(resumed))
            }
            None => (given, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn given_keys_override_stored_ones_and_the_rest_is_restored() {
        let stored = obj(json!({"model": "openai:gpt-4.1", "workdir": "/p", "approval": "all"}));
        let (merged, r) = overlay(
            &stored,
            &obj(json!({"model": "anthropic:x", "approval": "all"})),
        );
        assert_eq!(
            Value::Object(merged),
            json!({"model": "anthropic:x", "workdir": "/p", "approval": "all"})
        );
        assert_eq!(r.restored, ["workdir"]);
        assert_eq!(
            r.overridden,
            json!({"model": {"stored": "openai:gpt-4.1", "given": "anthropic:x"}})
        );
        let (merged, r) = overlay(&stored, &Map::new());
        assert_eq!(Value::Object(merged), Value::Object(stored.clone()));
        assert_eq!(r.restored.len(), 3);
        assert_eq!(r.overridden, json!({}));
    }
}
