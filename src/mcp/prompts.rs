//! Server prompts as slash commands: `/mcp__<server>__<prompt> ARGS` fetches the prompt (`prompts/get`) and its
//! messages' text becomes the user's prompt.

use rmcp::model::{GetPromptRequestParams, Prompt};
use serde_json::{Map, Value};

use super::server::Conn;
use crate::error::{Error, Result};

/// The `arguments` of a `prompts/get` for `prompt` from what followed the command: nothing, a JSON object of
/// strings, or free text given to the prompt's first argument.
pub fn arguments(prompt: &Prompt, args: &str) -> Result<Option<Map<String, Value>>> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(None);
    }
    if args.starts_with('{') {
        return match serde_json::from_str::<Value>(args) {
            Ok(Value::Object(m)) if m.values().all(Value::is_string) => Ok(Some(m)),
            _ => Err(Error::invalid(format!(
                "the arguments of prompt {} must be a JSON object of strings",
                prompt.name
            ))),
        };
    }
    let first = prompt
        .arguments
        .as_ref()
        .and_then(|a| a.first())
        .ok_or_else(|| Error::invalid(format!("prompt {} takes no arguments", prompt.name)))?;
    let mut m = Map::new();
    m.insert(first.name.clone(), Value::String(args.to_string()));
    Ok(Some(m))
}

/// The text of prompt `prompt` of the server `conn` is connected to, given `arguments`: each message's text (images
/// and other content as a note), blank-line separated.
pub async fn text(
    server: &str,
    conn: &Conn,
    prompt: &str,
    arguments: Option<Map<String, Value>>,
) -> Result<String> {
    let mut params = serde_json::json!({"name": prompt});
    if let Some(a) = arguments {
        params["arguments"] = Value::Object(a);
    }
    let params: GetPromptRequestParams =
        serde_json::from_value(params).map_err(|e| Error::Internal(e.to_string()))?;
    let got =
        conn.peer.get_prompt(params).await.map_err(|e| {
            Error::Provider(format!("MCP server {server}: prompts/get {prompt}: {e}"))
        })?;
    let got = serde_json::to_value(&got).unwrap_or_default();
    Ok(render(&got["messages"]))
}

/// Messages' content as text: a message's content is one part or a list of parts.
fn render(messages: &Value) -> String {
    let mut out: Vec<String> = Vec::new();
    for m in messages.as_array().into_iter().flatten() {
        let parts = match &m["content"] {
            Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        for p in parts {
            out.push(match p["type"].as_str().unwrap_or("") {
                "text" => p["text"].as_str().unwrap_or("").to_string(),
                "resource" => p["resource"]["text"].as_str().map_or_else(
                    || format!("[resource {}]", p["resource"]["uri"]),
                    str::to_string,
                ),
                other => format!("[{other} content]"),
            });
        }
    }
    out.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt(args: Value) -> Prompt {
        serde_json::from_value(json!({"name": "p", "arguments": args})).unwrap()
    }

    #[test]
    fn arguments_are_json_or_free_text_for_the_first() {
        let p = prompt(json!([{"name": "city", "required": true}, {"name": "state"}]));
        assert_eq!(arguments(&p, "  ").unwrap(), None);
        assert_eq!(
            Value::Object(arguments(&p, "New York").unwrap().unwrap()),
            json!({"city": "New York"})
        );
        assert_eq!(
            Value::Object(
                arguments(&p, r#"{"city": "Albany", "state": "NY"}"#)
                    .unwrap()
                    .unwrap()
            ),
            json!({"city": "Albany", "state": "NY"})
        );
        assert!(arguments(&p, r#"{"city": 3}"#).is_err());
        assert!(arguments(&prompt(json!([])), "x").is_err());
    }

    #[test]
    fn messages_render_as_text() {
        let m = json!([
            {"role": "user", "content": {"type": "text", "text": "one"}},
            {"role": "assistant", "content": [{"type": "image", "data": "", "mimeType": "image/png"}]},
            {"role": "user", "content": {"type": "resource", "resource": {"uri": "x://a", "text": "two"}}}
        ]);
        assert_eq!(render(&m), "one\n\n[image content]\n\ntwo");
    }
}
