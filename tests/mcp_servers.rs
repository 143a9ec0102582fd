//! MCP servers no one here wrote, driven by the scripted model: `@modelcontextprotocol/server-everything` over stdio
//! and over streamable HTTP, and `@modelcontextprotocol/server-filesystem` rooted in a temp dir (both pinned in
//! tools/mcp/package-lock.json and installed by scripts/install-mcp.sh, or found through `TANDEM_MCP_DIR`).
#![cfg(feature = "mcp")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::Client;

const WAIT: Duration = Duration::from_secs(60);

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// The install directory and the `node` to run the servers with. Fails, never skips, without npm.
fn install() -> &'static (PathBuf, String) {
    static DIR: OnceLock<(PathBuf, String)> = OnceLock::new();
    DIR.get_or_init(|| npm_install("install-mcp.sh", "TANDEM_MCP_DIR"))
}

fn server_js(package: &str) -> String {
    install()
        .0
        .join("node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js")
        .display()
        .to_string()
}

fn everything_stdio() -> Value {
    json!({"command": install().1, "args": [server_js("server-everything"), "stdio"]})
}

/// A temp directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("tandem-mcp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p.canonicalize().unwrap())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A session whose scripted model runs `steps` (each a model response) with `servers`.
fn session(c: &Client, servers: Value, steps: Value) -> String {
    let opts = json!({"model": "scripted:x", "script": steps, "mcp_servers": servers});
    c.start_session(Some(&opts.to_string())).unwrap()
}

fn call(name: &str, args: Value, id: &str) -> Value {
    json!([{"tool_call": {"name": name, "args": args, "id": id}}])
}

fn results(c: &Client, id: &str) -> Vec<(String, bool)> {
    tool_calls(c, id)
        .iter()
        .map(|m| {
            (
                m["result"].as_str().unwrap_or("").to_string(),
                m["is_error"] == true,
            )
        })
        .collect()
}

/// Runs the shared checks against server-everything configured as `server`.
fn everything_checks(server: Value) {
    let c = client();
    let steps = json!([
        call("mcp__ev__echo", json!({"message": "hello mcp"}), "c0"),
        call("mcp__ev__get-sum", json!({"a": 2, "b": 3}), "c1"),
        call("mcp__ev__get-tiny-image", json!({}), "c2"),
        call("mcp__ev__get-structured-content", json!({"location": "New York"}), "c3"),
        call("mcp__ev__get-sum", json!({"a": "two", "b": 3}), "c4"),
        call("mcp__ev__read_resource", json!({}), "c5"),
        [{"text": "done"}]
    ]);
    let id = session(&c, json!({"ev": server}), steps);
    c.send_prompt(&id, text("go")).unwrap();
    turn_end_within(&c, &id);
    let r = results(&c, &id);
    assert_eq!(r[0], ("Echo: hello mcp".to_string(), false), "{r:?}");
    assert!(r[1].0.contains('5') && !r[1].1, "{r:?}");
    assert!(r[2].0.contains("[image image/png"), "{}", r[2].0);
    assert!(r[3].0.contains("temperature"), "{}", r[3].0);
    assert!(r[4].1, "a bad argument is an error result: {:?}", r[4]);
    assert!(r[5].0.contains("demo://resource"), "{}", r[5].0);
    let listed = c.mcp_servers(&id).unwrap();
    let tools: Vec<&str> = listed[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"mcp__ev__trigger-long-running-operation"),
        "{tools:?}"
    );
    let gated = |name: &str| {
        listed[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tool"] == name)
            .map(|t| t["gated"].clone())
    };
    assert_eq!(gated("echo"), Some(json!(false)), "readOnlyHint: true");
    assert_eq!(gated("toggle-simulated-logging"), Some(json!(true)));
}

fn turn_end_within(c: &Client, id: &str) -> Vec<Value> {
    wait_for(c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    })
    .1
}

#[test]
fn everything_over_stdio() {
    everything_checks(everything_stdio());
}

/// server-everything in its streamable HTTP mode on a free port, killed on drop.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start() -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&install().1)
            .args([server_js("server-everything").as_str(), "streamableHttp"])
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains("listening on port") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        HttpServer {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn everything_over_streamable_http() {
    let server = HttpServer::start();
    std::env::set_var("TANDEM_MCP_TEST_HEADER", "from-env");
    everything_checks(
        json!({"type": "http", "url": server.url, "headers": {"X-Test": "$TANDEM_MCP_TEST_HEADER"}}),
    );
}

/// The JSON-RPC lines of a wire log (`tee` of the server's stdin or stdout).
fn wire(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_long_running_tool_reports_progress_and_is_aborted_on_the_server() {
    // server-everything behind `tee`s, to see what crosses the wire in both directions.
    let dir = TempDir::new("wire");
    let (sent, answered) = (dir.0.join("in.jsonl"), dir.0.join("out.jsonl"));
    let pipeline = format!(
        "tee '{}' | '{}' '{}' stdio | tee '{}'",
        sent.display(),
        install().1,
        server_js("server-everything"),
        answered.display()
    );
    let server = json!({"command": "sh", "args": ["-c", pipeline]});
    let c = client();
    let steps = json!([
        call("mcp__ev__trigger-long-running-operation", json!({"duration": 3, "steps": 30}), "c0"),
        [{"text": "done"}]
    ]);
    let id = session(&c, json!({"ev": server}), steps);
    c.send_prompt(&id, text("go")).unwrap();
    let (update, _) = wait_for(&c, WAIT, |e| e["kind"] == "tool_update");
    assert!(
        update["partial_result"].as_str().unwrap().ends_with("/30"),
        "{update}"
    );
    let aborted_at = std::time::Instant::now();
    c.abort(&id).unwrap();
    let events = turn_end_within(&c, &id);
    let ended = events.iter().find(|e| e["kind"] == "turn_ended").unwrap();
    assert_eq!(ended["reason"], "aborted");
    // The server got notifications/cancelled for that very request...
    let call_id = wire(&sent)
        .into_iter()
        .find(|m| m["method"] == "tools/call")
        .expect("the call went out")["id"]
        .clone();
    let deadline = std::time::Instant::now() + WAIT;
    while !wire(&sent)
        .iter()
        .any(|m| m["method"] == "notifications/cancelled" && m["params"]["requestId"] == call_id)
    {
        assert!(std::time::Instant::now() < deadline, "{:#?}", wire(&sent));
        std::thread::sleep(Duration::from_millis(20));
    }
    // ...and, cancelled, never answered it, though the operation's 3 s have passed.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(aborted_at.elapsed()));
    let answers: Vec<Value> = wire(&answered)
        .into_iter()
        .filter(|m| m["id"] == call_id)
        .collect();
    assert!(answers.is_empty(), "answered after the cancel: {answers:?}");
    // The session and the server go on.
    let listed = c.mcp_servers(&id).unwrap();
    assert_eq!(listed[0]["state"], "ready");
}

#[test]
fn filesystem_writes_wait_for_approval() {
    let dir = TempDir::new("fs");
    std::fs::write(dir.0.join("hello.txt"), "hello from disk\n").unwrap();
    let c = client();
    let server = json!({"command": install().1, "args": [server_js("server-filesystem"), dir.0]});
    let steps = json!([
        call("mcp__fs__read_text_file", json!({"path": dir.0.join("hello.txt")}), "c0"),
        call("mcp__fs__write_file", json!({"path": dir.0.join("yes.txt"), "content": "approved"}), "c1"),
        call("mcp__fs__write_file", json!({"path": dir.0.join("no.txt"), "content": "rejected"}), "c2"),
        [{"text": "done"}]
    ]);
    let id = session(&c, json!({"fs": server}), steps);
    c.send_prompt(&id, text("go")).unwrap();
    let (pending, _) = wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    assert_eq!(pending["approval"]["name"], "mcp__fs__write_file");
    c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    turn_end_within(&c, &id);
    let r = results(&c, &id);
    assert_eq!(r[0], ("hello from disk\n".to_string(), false), "{r:?}");
    assert!(!r[1].1, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(dir.0.join("yes.txt")).unwrap(),
        "approved"
    );
    assert!(r[2].1);
    assert!(!dir.0.join("no.txt").exists());
}

#[test]
fn plan_mode_refuses_gated_mcp_tools_but_runs_read_only_ones() {
    let dir = TempDir::new("plan");
    let c = client();
    let server = json!({"command": install().1, "args": [server_js("server-filesystem"), dir.0]});
    let steps = json!([
        call("mcp__fs__write_file", json!({"path": dir.0.join("x.txt"), "content": "x"}), "c0"),
        call("mcp__fs__list_directory", json!({"path": dir.0}), "c1"),
        [{"text": "done"}]
    ]);
    let id = session(&c, json!({"fs": server}), steps);
    c.enter_plan(&id).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    turn_end_within(&c, &id);
    let r = results(&c, &id);
    assert!(r[0].1 && r[0].0.contains("Plan mode"), "{r:?}");
    assert!(!r[1].1, "{r:?}");
    assert!(!dir.0.join("x.txt").exists());
}

#[test]
fn everything_announces_late_tools_with_list_changed_and_offers_its_prompts() {
    let c = client();
    let steps = json!([[{"text": "one"}], [{"text": "two"}]]);
    let id = session(&c, json!({"ev": everything_stdio()}), steps);
    // server-everything registers its task tool once the client is initialized, which announces it with
    // notifications/tools/list_changed: tandem lists again and reports the server ready a second time.
    let mut ready = 0;
    let (again, _) = wait_for(&c, WAIT, |e| {
        ready += usize::from(e["kind"] == "mcp_server_status" && e["state"] == "ready");
        ready == 2
    });
    assert!(
        again["tools"]
            .as_array()
            .unwrap()
            .contains(&json!("mcp__ev__simulate-research-query")),
        "{again}"
    );
    c.send_prompt(&id, text("go")).unwrap();
    turn_end_within(&c, &id);
    let commands = c.commands(&id).unwrap();
    let prompts: Vec<&str> = commands
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "mcp_prompt")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(prompts.contains(&"mcp__ev__simple-prompt"), "{prompts:?}");
    assert!(prompts.contains(&"mcp__ev__args-prompt"), "{prompts:?}");
    c.send_prompt(&id, text("/mcp__ev__args-prompt Paris"))
        .unwrap();
    turn_end_within(&c, &id);
    let last_user = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| m["kind"] == "user")
        .unwrap()["text"]
        .clone();
    assert_eq!(last_user, "What's weather in Paris?");
}
