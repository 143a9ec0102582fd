//! tandem-acp: tandem sessions as an Agent Client Protocol agent on stdin/stdout, for ACP editors.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tandem::acp::{serve, AgentOptions};

const HELP: &str = "\
tandem-acp: tandem's coding-agent sessions for editors that speak the Agent Client Protocol (ACP).

Usage: tandem-acp [--store-dir DIR] [--model PROVIDER:MODEL] [--config FILE]

Speaks ACP (JSON-RPC, one message per line) on stdin and stdout; logs go to stderr. Each ACP session is a tandem
session working in the session's cwd, stored under the store directory so the editor can load it again.

Options:
  --store-dir DIR   where conversations are stored (default $XDG_DATA_HOME/tandem, else ~/.local/share/tandem)
  --model MODEL     the model of new sessions, e.g. anthropic:claude-sonnet-4-5, openai:gpt-4.1, ollama:llama3.2
  --config FILE     a tandem client config (JSON; see docs/options.md, \"Client config\"); its session_defaults
                    apply to every session. --store-dir and --model win over it.
  -h, --help        this text
  -V, --version     the version

API keys are read from the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, or a session's api_key_env), never from
the editor: `authenticate` has nothing to do. With no --model, no model in the config's session_defaults and
neither key set, sessions run tandem's offline scripted demo model (scripted:demo), so an editor can try it
offline.
";

fn fail(msg: &str) -> ! {
    eprintln!("tandem-acp: {msg}");
    std::process::exit(2)
}

/// The client config: the file's, with the store directory and event settings this front end needs.
fn config(store_dir: Option<String>, file: Option<String>) -> Value {
    let mut c = match file {
        Some(f) => {
            let text = std::fs::read_to_string(&f).unwrap_or_else(|e| fail(&format!("{f}: {e}")));
            serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{f}: {e}")))
        }
        None => json!({}),
    };
    if !c.is_object() {
        fail("the config must be a JSON object");
    }
    if let Some(d) = store_dir {
        c["store_dir"] = json!(d);
    }
    // Events reach the agent by subscription only; nobody pulls them.
    c["pull_events"] = json!(false);
    c
}

/// The model of new sessions: the one asked for, else none when the config's defaults name one, else the model of
/// the key in the environment, else the offline demo.
fn model(asked: Option<String>, config: &Value) -> Option<String> {
    if asked.is_some() {
        return asked;
    }
    if config["session_defaults"].get("model").is_some() {
        return None;
    }
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    Some(if set("ANTHROPIC_API_KEY") {
        "anthropic:claude-sonnet-4-5".into()
    } else if set("OPENAI_API_KEY") {
        "openai:gpt-4.1".into()
    } else {
        "scripted:demo".into()
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut store_dir, mut asked, mut file) = (None, None, None);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return;
            }
            "-V" | "--version" => {
                println!("tandem-acp {}", tandem::VERSION);
                return;
            }
            "--store-dir" => store_dir = Some(value("--store-dir")),
            "--model" => asked = Some(value("--model")),
            "--config" => file = Some(value("--config")),
            other => fail(&format!("unknown argument {other} (see --help)")),
        }
    }
    let config = config(store_dir, file);
    let options = AgentOptions {
        model: model(asked, &config),
    };
    let client = tandem::Client::new(Some(&config.to_string()))
        .unwrap_or_else(|e| fail(&format!("cannot start: {e}")));
    let client = Arc::new(client);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start a runtime: {e}")));
    runtime.block_on(serve(
        client.clone(),
        options,
        tokio::io::stdin(),
        tokio::io::stdout(),
    ));
    // The client closed stdin: the sessions were stopped; let their journals be written.
    let _ = client.shutdown(Duration::from_secs(5));
}
