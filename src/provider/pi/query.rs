//! One-off questions to pi outside any turn (its model list, its commands), asked of a short-lived pi process of
//! their own: the session's process is held by a running turn, and a question must not wait for that turn.

use serde_json::{json, Value};

use super::process::PiProcess;
use super::{PiOptions, SETUP_LIMIT};

/// Sends `cmd` to a new pi and returns its answer's `data`; the process is killed when this returns.
async fn ask(o: &PiOptions, cmd: Value) -> Result<Value, String> {
    let mut p = PiProcess::spawn(&o.command, o.workdir.as_deref())?;
    p.request(cmd, SETUP_LIMIT).await.map_err(|e| e.to_string())
}

/// The models pi can use (`get_available_models`), as `provider:id` names in pi's order.
pub async fn models(o: &PiOptions) -> Result<Vec<String>, String> {
    let data = ask(o, json!({"type": "get_available_models"})).await?;
    Ok(models_of(&data))
}

/// The commands pi runs when a prompt starts with `/name` (`get_commands`: extension commands, prompt templates,
/// skills), as `{name, description, kind: "pi"}`.
pub async fn commands(o: &PiOptions) -> Result<Vec<Value>, String> {
    let data = ask(o, json!({"type": "get_commands"})).await?;
    Ok(commands_of(&data))
}

fn models_of(data: &Value) -> Vec<String> {
    data["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some(format!("{}:{}", m["provider"].as_str()?, m["id"].as_str()?)))
        .collect()
}

fn commands_of(data: &Value) -> Vec<Value> {
    data["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let name = c["name"].as_str()?;
            let description = c["description"].as_str().unwrap_or_default();
            Some(json!({"name": name, "description": description, "kind": "pi"}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_model_names_and_commands() {
        let models = json!({"models": [{"id": "m1", "provider": "mock"}, {"id": "x"}, {"id": "c", "provider": "anthropic"}]});
        assert_eq!(models_of(&models), ["mock:m1", "anthropic:c"]);
        let commands = json!({"commands": [
            {"name": "skill:search", "description": "Web search", "source": "skill"},
            {"name": "session-name", "source": "extension"},
            {"description": "nameless"}]});
        assert_eq!(
            commands_of(&commands),
            vec![
                json!({"name": "skill:search", "description": "Web search", "kind": "pi"}),
                json!({"name": "session-name", "description": "", "kind": "pi"}),
            ]
        );
        assert!(models_of(&json!({})).is_empty());
    }
}
