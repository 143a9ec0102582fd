//! A session's ACP config options: the model (a select over the models the session can switch to) and the thinking
//! level, read from the client and set with `session/set_config_option`.

use agent_client_protocol_schema::v1::{
    SessionConfigOption, SessionConfigOptionCategory, SessionConfigSelectOption,
};
use serde_json::Value;

/// tandem's thinking levels, in order.
const LEVELS: &[(&str, &str)] = &[
    ("off", "Off"),
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
];

/// The options of a session whose `available_models` are `models` (`[{model, current}]`) and whose metadata is
/// `meta` (`thinking_level`).
pub fn options(models: &Value, meta: &Value) -> Vec<SessionConfigOption> {
    let mut current = String::new();
    let mut choices = Vec::new();
    for m in models.as_array().into_iter().flatten() {
        let Some(name) = m["model"].as_str() else {
            continue;
        };
        if m["current"] == true {
            current = name.to_string();
        }
        choices.push(SessionConfigSelectOption::new(
            name.to_string(),
            name.to_string(),
        ));
    }
    let level = meta["thinking_level"].as_str().unwrap_or("off").to_string();
    let levels: Vec<SessionConfigSelectOption> = LEVELS
        .iter()
        .map(|(v, n)| SessionConfigSelectOption::new(*v, *n))
        .collect();
    vec![
        SessionConfigOption::select("model", "Model", current, choices)
            .category(SessionConfigOptionCategory::Model),
        SessionConfigOption::select("thinking", "Thinking", level, levels)
            .category(SessionConfigOptionCategory::ThoughtLevel),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_and_thinking_are_selects_with_their_current_values() {
        let models = json!([{"model": "a:x", "current": false}, {"model": "b:y", "current": true}]);
        let opts = options(&models, &json!({"thinking_level": "low"}));
        let v = serde_json::to_value(&opts).unwrap();
        assert_eq!(v[0]["id"], "model");
        assert_eq!(v[0]["currentValue"], "b:y");
        assert_eq!(v[0]["options"][0]["value"], "a:x");
        assert_eq!(v[0]["category"], "model");
        assert_eq!(v[1]["currentValue"], "low");
        assert_eq!(v[1]["options"].as_array().unwrap().len(), 4);
        assert_eq!(v[1]["category"], "thought_level");
    }
}
