//! Helpers of the ACP provider's tests (tests/acp_provider.rs, tests/acp_permissions.rs): their temp directories,
//! sessions on the SDK fault agent (tests/acp/fault_agent.mjs), and what a conversation said.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tandem::Client;

/// How long a test waits for an event: generous, since the agent runs under Node.js on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// A temp directory (the workdir and the agent's store, config and state) removed on drop.
pub struct Dirs(pub PathBuf);

impl Dirs {
    /// A fresh directory for test `name`, with an empty `work` directory in it.
    pub fn new(name: &str) -> Dirs {
        let p = std::env::temp_dir().join(format!("tandem-acpp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("work")).unwrap();
        Dirs(p.canonicalize().unwrap())
    }

    /// The session's workdir.
    pub fn work(&self) -> PathBuf {
        self.0.join("work")
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options of a session whose agent is tests/acp/fault_agent.mjs in `mode`, with the options in `extra` added.
pub fn fault_options(d: &Dirs, mode: &str, extra: Value) -> String {
    let (sdk, node) = super::npm_install("install-acp.sh", "TANDEM_ACP_SDK_DIR");
    let agent = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/acp/fault_agent.mjs");
    let command = json!([node, agent, sdk, mode, d.0.join("state")]);
    let mut o = json!({"provider": "acp", "acp_command": command, "workdir": d.work()});
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o.to_string()
}

/// A client without a store and a session started with `options`.
pub fn session(options: &str) -> (Client, String) {
    let c = Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let id = c.start_session(Some(options)).unwrap();
    (c, id)
}

/// Waits (up to [`WAIT`]) for the `turn_ended` of session `id` and returns it.
pub fn turn_ended(c: &Client, id: &str) -> Value {
    let (ev, _) = super::wait_for(c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    ev
}

/// The transcript without IDs, times and the session-start notice: what the conversation said.
pub fn said(c: &Client, id: &str) -> Vec<Value> {
    let msgs = c.messages(id).unwrap();
    msgs.as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] != "system" && m["kind"] != "usage")
        .map(|m| match m["kind"].as_str().unwrap() {
            "tool_call" => json!({"tool": m["name"], "args": m["args"], "status": m["status"],
                "is_error": m["is_error"]}),
            k => json!({k: m["text"]}),
        })
        .collect()
}
