//! Benchmark: MCP servers. Session start with 3 stdio servers (time from `start_session` until all three have
//! listed their tools: three `mcp_server_status` events with state `ready`), and the round trip of one MCP tool call
//! through a session (scripted model calling the tool, gate, call, result into the transcript) against the same call
//! from a minimal rmcp client on the same server.
//!
//! The server is tests/mcp/fake_server.py (python3), so the numbers measure tandem and rmcp rather than a Node.js
//! server's start; when the pinned reference servers are installed (scripts/install-mcp.sh, found in
//! `TANDEM_MCP_DIR` or target/mcp), session start is measured with 3 × server-everything too, and the call round
//! trip with its `echo` tool. Run with `cargo bench --bench mcp`.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use support::{header, median, ms, row};
use tandem::session::transcript::ContentPart;

const CALLS: usize = 50;
const RUNS: usize = 7;

fn server_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/fake_server.py")
}

/// A server: its command line and the arguments of its `echo` tool.
#[derive(Clone)]
struct Server {
    command: Vec<String>,
    echo_args: Value,
}

fn fake() -> Server {
    Server {
        command: vec![
            "python3".into(),
            server_script().display().to_string(),
            "ok".into(),
        ],
        echo_args: json!({"text": "hi"}),
    }
}

/// server-everything over stdio, when scripts/install-mcp.sh has installed it.
fn everything() -> Option<Server> {
    let dir = std::env::var_os("TANDEM_MCP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mcp"));
    let js = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    js.exists().then(|| Server {
        command: vec!["node".into(), js.display().to_string(), "stdio".into()],
        echo_args: json!({"message": "hi"}),
    })
}

fn entry(s: &Server) -> Value {
    json!({"command": s.command[0], "args": s.command[1..]})
}

fn wait(c: &tandem::Client, mut done: impl FnMut(&Value) -> bool) {
    loop {
        let e = c.next_event(Duration::from_secs(30)).expect("an event");
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        if done(&v) {
            return;
        }
    }
}

/// Milliseconds from `start_session` until its 3 servers (each running `s`) are ready.
fn session_start(c: &tandem::Client, s: &Server) -> f64 {
    let servers: serde_json::Map<String, Value> = ["a", "b", "c"]
        .iter()
        .map(|n| (n.to_string(), entry(s)))
        .collect();
    let opts = json!({"mcp_servers": servers});
    let t = Instant::now();
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let mut ready = std::collections::HashSet::new();
    wait(c, |e| {
        if e["kind"] == "mcp_server_status" && e["state"] == "ready" && e["session_id"] == id {
            ready.insert(e["server"].as_str().unwrap_or_default().to_string());
        }
        ready.len() == 3
    });
    let took = ms(t.elapsed());
    c.stop_session(&id).unwrap();
    took
}

/// Milliseconds per MCP tool call (the server's `echo`) in a turn of `CALLS` calls (each its own model step).
fn calls_in_session(c: &tandem::Client, s: &Server) -> f64 {
    let mut script: Vec<Value> = (0..CALLS)
        .map(|i| json!([{"tool_call": {"name": "mcp__f__echo", "args": s.echo_args, "id": format!("c{i}")}}]))
        .collect();
    script.push(json!([{"text": "done"}]));
    let servers = json!({"f": entry(s)});
    let opts = json!({"mcp_servers": servers, "script": script, "max_turns": CALLS + 5});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    wait(c, |e| {
        e["kind"] == "mcp_server_status" && e["state"] == "ready" && e["session_id"] == id
    });
    let t = Instant::now();
    c.send_prompt(&id, vec![ContentPart::Text { text: "go".into() }])
        .unwrap();
    wait(c, |e| e["kind"] == "turn_ended" && e["session_id"] == id);
    let per_call = ms(t.elapsed()) / CALLS as f64;
    c.stop_session(&id).unwrap();
    per_call
}

/// Milliseconds per call of the same tool from a bare rmcp client.
fn calls_direct(rt: &tokio::runtime::Runtime, s: &Server) -> f64 {
    rt.block_on(async {
        let mut child = tokio::process::Command::new(&s.command[0])
            .args(&s.command[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let io = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
        let client = ().serve(io).await.unwrap();
        let args = s.echo_args.as_object().unwrap().clone();
        let t = Instant::now();
        for _ in 0..CALLS {
            client
                .peer()
                .call_tool(CallToolRequestParams::new("echo").with_arguments(args.clone()))
                .await
                .unwrap();
        }
        let per_call = ms(t.elapsed()) / CALLS as f64;
        drop(client);
        per_call
    })
}

/// Medians of `RUNS` runs for server `s`: (session start, call in a session, call from bare rmcp).
fn measure(c: &tandem::Client, rt: &tokio::runtime::Runtime, s: &Server) -> (f64, f64, f64) {
    session_start(c, s); // warm-up: the interpreter's own caches
    let mut start: Vec<f64> = (0..RUNS).map(|_| session_start(c, s)).collect();
    let mut session: Vec<f64> = (0..RUNS).map(|_| calls_in_session(c, s)).collect();
    let mut direct: Vec<f64> = (0..RUNS).map(|_| calls_direct(rt, s)).collect();
    (
        median(&mut start),
        median(&mut session),
        median(&mut direct),
    )
}

fn main() {
    let c = tandem::Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = vec![("fake_server.py (python3)", fake())];
    match everything() {
        Some(s) => servers.push(("server-everything (node)", s)),
        None => eprintln!(
            "server-everything is not installed (scripts/install-mcp.sh): its rows are left out"
        ),
    }
    let results: Vec<(&str, (f64, f64, f64))> = servers
        .iter()
        .map(|(name, s)| (*name, measure(&c, &rt, s)))
        .collect();
    println!("| server | 3 stdio servers: start_session until all ready | one `echo` call in a session ({CALLS} in a turn) | the same call from a bare rmcp client | tandem's overhead per call |");
    println!("|---|---|---|---|---|");
    for (name, (start, session, direct)) in &results {
        println!(
            "| {name} | {start:.1} ms | {session:.2} ms | {direct:.2} ms | {:+.2} ms |",
            session - direct
        );
    }
    println!();
    header();
    for (name, (start, session, direct)) in &results {
        row(
            &format!("6. MCP session start, 3 stdio servers ready: {name}"),
            &format!("{start:.1} ms"),
            "reported",
            None,
        );
        row(
            &format!("6. MCP tool call round trip in a session / bare rmcp client: {name}"),
            &format!(
                "{session:.2} ms / {direct:.2} ms ({:+.2} ms)",
                session - direct
            ),
            "reported",
            None,
        );
    }
}
