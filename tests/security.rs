//! Secrets stay secret: after a run with a fake API key (including a server that echoes the key back in an error), no
//! event, stored file or tool output holds the key, commands run by the agent do not inherit it, and every stored
//! file is private to its owner.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::http_mock::{openai_chunk, openai_reply, serve, Reply};
use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::Client;

/// Not named `*_API_KEY`: the variable is secret because a session reads its key from it.
const VAR: &str = "TANDEM_SECURITY_TEST_LLM_TOKEN";
const KEY: &str = "sk-fake-SECRET-0123456789abcdef";

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// Every file under `dir` with its contents, and checks its mode: 0600 files in 0700 directories.
fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} has mode {mode:o}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_key_in_events_files_or_commands() {
    std::env::set_var(VAR, KEY);
    let base = std::env::temp_dir().join(format!("tandem-security-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let store = base.join("store");
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();

    let tool_call = openai_chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_env", "type": "function",
            "function": {"name": "shell", "arguments": "{\"command\": \"env\"}"}}]}),
        Value::Null,
    ) + &openai_chunk(json!({}), json!("tool_calls"))
        + "data: [DONE]\n\n";
    let (url, seen) = serve(vec![
        // A server that puts the key it was sent into its error.
        Reply::Send(
            401,
            vec![],
            json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}}).to_string(),
            4096,
        ),
        Reply::Send(200, vec![], tool_call, 16),
        Reply::Send(200, vec![], openai_reply("Done.", (5, 1, 0)), 16),
    ]);
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let opts = json!({"model": "openai:gpt-4o", "base_url": url, "api_key_env": VAR, "workdir": work,
        "approval": "none", "retry": {"max_retries": 0}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let mut events = Vec::new();
    for prompt in ["first", "second"] {
        c.send_prompt(&id, text(prompt)).unwrap();
        events.extend(turn_end(&c, &id).1);
    }
    // The key did reach the server, so the run really used it.
    let first = seen.recv().unwrap();
    assert!(first.head.to_ascii_lowercase().contains(&format!(
        "authorization: bearer {}",
        KEY.to_ascii_lowercase()
    )));
    assert!(events.iter().any(|e| e["kind"] == "error"
        && e["message"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key provided")));

    // The command's output is in the transcript: it ran, without the key's variable.
    let messages = c.messages(&id).unwrap();
    let env_output = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "tool_call" && m["name"] == "shell")
        .expect("the shell call ran")["result"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env_output.contains("PATH="), "{env_output}");
    assert!(!env_output.contains(VAR), "the command inherited {VAR}");

    let mut log = serde_json::to_string(&events).unwrap();
    log.push_str(&serde_json::to_string(&c.events_since(&id, 0).unwrap().events).unwrap());
    log.push_str(&messages.to_string());
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);
    assert!(!log.contains(KEY), "the key is in an event or message");

    let mut files = Vec::new();
    walk(&store, &mut files);
    assert!(
        files.iter().any(|(p, _)| p.ends_with(".jsonl")),
        "{files:?}"
    );
    for (path, bytes) in &files {
        assert!(!contains(bytes, KEY), "the key is in {path}");
    }
    let _ = std::fs::remove_dir_all(&base);
}
