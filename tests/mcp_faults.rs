//! MCP servers that misbehave (tests/mcp/fake_server.py): one that crashes mid-call, never answers initialize,
//! writes garbage on stdout, exits at once, or answers 10 MB; the session stays usable, only the failing server's
//! tools and calls fail, each failure is reported once, and no server process (nor a child of one) outlives the
//! client. Also list_changed, abort with `notifications/cancelled`, run-time disable, the call timeout, trust scopes
//! and server prompts as slash commands.
#![cfg(feature = "mcp")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::Client;

const WAIT: Duration = Duration::from_secs(30);

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// A server entry running the fake server in `mode`, marked with `marker` to find its processes.
fn fake(mode: &str, marker: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/fake_server.py");
    json!({"command": "python3", "args": [script, mode, marker], "startup_timeout_ms": 3000})
}

/// A unique marker for this test's processes.
fn marker(name: &str) -> String {
    format!("tandem-mcp-test-{name}-{}", std::process::id())
}

/// PIDs of processes whose command line contains `marker`.
fn processes(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // A zombie has exited (its parent has not reaped it yet): it is not running.
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// Waits until no process carries `marker`.
fn none_left(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes(marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes outlived the client: {:?}",
            processes(marker)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A session with `servers` whose scripted model makes `calls` (one per model step), then says "done".
fn session(c: &Client, servers: Value, calls: &[(&str, Value)]) -> String {
    let mut script: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| json!([{"tool_call": {"name": name, "args": args, "id": format!("c{i}")}}]))
        .collect();
    script.push(json!([{"text": "done"}]));
    let opts = json!({"model": "scripted:x", "script": script, "mcp_servers": servers});
    c.start_session(Some(&opts.to_string())).unwrap()
}

/// The first event in `seen` matching `pred`, else the next one to arrive (added to `seen`).
fn seen_or_wait(c: &Client, seen: &mut Vec<Value>, pred: impl Fn(&Value) -> bool) -> Value {
    if let Some(e) = seen.iter().find(|e| pred(e)) {
        return e.clone();
    }
    let (e, more) = wait_for(c, WAIT, &pred);
    seen.extend(more);
    e
}

fn status_events(events: &[Value], server: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["kind"] == "mcp_server_status" && e["server"] == server)
        .cloned()
        .collect()
}

#[test]
fn a_working_server_lists_calls_and_gates_its_tools() {
    let m = marker("ok");
    let c = client();
    let id = session(
        &c,
        json!({"fake": fake("ok", &m)}),
        &[
            ("mcp__fake__echo", json!({"text": "hi"})),
            ("mcp__fake__write", json!({})),
            ("mcp__fake__write", json!({})),
        ],
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (pending, events) = wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    let ready = status_events(&events, "fake");
    assert_eq!(ready[0]["state"], "ready", "{ready:?}");
    assert!(ready[0]["tools"]
        .as_array()
        .unwrap()
        .contains(&json!("mcp__fake__echo")));
    // The read-only echo ran without asking; write is gated.
    assert_eq!(pending["approval"]["name"], "mcp__fake__write");
    c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    turn_end(&c, &id);
    let calls = tool_calls(&c, &id);
    assert_eq!(calls[0]["result"], "echo: hi");
    assert_eq!(calls[0]["is_error"], false);
    assert_eq!(calls[1]["result"], "written");
    assert_eq!(calls[2]["is_error"], true);
    let listed = c.mcp_servers(&id).unwrap();
    assert_eq!(listed[0]["name"], "fake");
    assert_eq!(listed[0]["state"], "ready");
    let write = listed[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "write")
        .unwrap()
        .clone();
    assert_eq!(write["gated"], true);
    assert!(!processes(&m).is_empty());
    drop(c);
    none_left(&m);
}

#[test]
fn a_crash_mid_call_fails_that_call_and_the_server_comes_back() {
    let m = marker("crash");
    let c = client();
    let id = session(
        &c,
        json!({"fake": fake("ok", &m), "other": fake("ok", &m)}),
        &[
            ("mcp__fake__crash", json!({})),
            ("mcp__other__echo", json!({"text": "still here"})),
        ],
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (_, mut events) = turn_end(&c, &id);
    let calls = tool_calls(&c, &id);
    assert_eq!(calls[0]["is_error"], true);
    assert!(
        calls[0]["result"]
            .as_str()
            .unwrap()
            .contains("closed the connection"),
        "{}",
        calls[0]["result"]
    );
    assert_eq!(calls[1]["result"], "echo: still here");
    let restarting = seen_or_wait(&c, &mut events, |e| {
        e["kind"] == "mcp_server_status" && e["server"] == "fake" && e["state"] == "restarting"
    });
    let stderr = restarting["stderr"].as_array().unwrap();
    assert!(stderr.contains(&json!("crashing on purpose")), "{stderr:?}");
    assert!(status_events(&events, "other")
        .iter()
        .all(|e| e["state"] == "ready"));
    // Restarted with backoff: ready again (the second ready of this server).
    let mut ready = 0;
    seen_or_wait(&c, &mut events, |e| {
        e["kind"] == "mcp_server_status" && e["server"] == "fake" && e["state"] == "restarting"
    });
    wait_for(&c, WAIT, |e| {
        ready += usize::from(
            e["kind"] == "mcp_server_status" && e["server"] == "fake" && e["state"] == "ready",
        );
        e["kind"] == "mcp_server_status" && e["server"] == "fake" && e["state"] == "ready"
    });
    assert_eq!(ready, 1);
    drop(c);
    none_left(&m);
}

#[test]
fn servers_that_never_start_are_reported_once_and_leave_the_others_working() {
    let m = marker("broken");
    let c = client();
    let servers = json!({
        "exits": fake("exit", &m),
        "silent": fake("no_init", &m),
        "garbage": fake("garbage", &m),
        "good": fake("ok", &m),
    });
    let id = session(
        &c,
        servers,
        &[
            ("mcp__exits__echo", json!({"text": "x"})),
            ("mcp__good__echo", json!({"text": "fine"})),
        ],
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let calls = tool_calls(&c, &id);
    assert_eq!(calls[0]["is_error"], true);
    assert_eq!(calls[1]["result"], "echo: fine");
    let listed = c.mcp_servers(&id).unwrap();
    for s in listed.as_array().unwrap() {
        let want_ready = s["name"] == "good";
        assert_eq!(s["state"] == "ready", want_ready, "{s}");
        if !want_ready {
            assert!(s["tools"].as_array().unwrap().is_empty(), "{s}");
        }
    }
    let exits = status_events(&events, "exits");
    assert_eq!(exits.len(), 1, "reported once: {exits:?}");
    assert!(exits[0]["stderr"]
        .as_array()
        .unwrap()
        .contains(&json!("fatal: nothing to serve")));
    for name in ["silent", "garbage"] {
        assert_eq!(status_events(&events, name).len(), 1, "{name}: {events:#?}");
    }
    // The session goes on.
    c.send_prompt(&id, text("again")).unwrap();
    turn_end(&c, &id);
    drop(c);
    none_left(&m);
}

#[test]
fn a_ten_megabyte_result_is_cut_for_the_model() {
    let m = marker("big");
    let c = client();
    let id = session(
        &c,
        json!({"fake": fake("ok", &m)}),
        &[("mcp__fake__big", json!({}))],
    );
    c.send_prompt(&id, text("go")).unwrap();
    turn_end(&c, &id);
    let result = tool_calls(&c, &id)[0]["result"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(result.len() < 200_000, "{}", result.len());
    assert!(
        result.contains("[result cut: 10485760 bytes"),
        "{}",
        &result[result.len() - 100..]
    );
    drop(c);
    none_left(&m);
}

#[test]
fn abort_cancels_the_call_on_the_server_and_progress_reaches_the_host() {
    let m = marker("abort");
    let c = client();
    let id = session(
        &c,
        json!({"fake": fake("ok", &m)}),
        &[("mcp__fake__slow", json!({}))],
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (update, _) = wait_for(&c, WAIT, |e| e["kind"] == "tool_update");
    assert!(
        update["partial_result"]
            .as_str()
            .unwrap()
            .ends_with("/300 working"),
        "{update}"
    );
    c.abort(&id).unwrap();
    turn_end(&c, &id);
    // The server logs the cancellation it received.
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = c.mcp_servers(&id).unwrap();
        let stderr = listed[0]["stderr"].as_array().unwrap().clone();
        if stderr
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("cancelled request"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "never cancelled: {stderr:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    none_left(&m);
}

#[test]
fn a_call_past_its_timeout_fails_with_a_clear_message() {
    let m = marker("timeout");
    let c = client();
    let mut server = fake("ok", &m);
    server["timeout_ms"] = json!(300);
    let id = session(
        &c,
        json!({"fake": server}),
        &[("mcp__fake__slow", json!({}))],
    );
    c.send_prompt(&id, text("go")).unwrap();
    turn_end(&c, &id);
    let call = &tool_calls(&c, &id)[0];
    assert_eq!(call["is_error"], true);
    assert!(
        call["result"]
            .as_str()
            .unwrap()
            .contains("timed out after 300 ms"),
        "{call}"
    );
    drop(c);
    none_left(&m);
}

#[test]
fn list_changed_updates_the_tools_offered() {
    let m = marker("changed");
    let c = client();
    let script = json!([
        [{"tool_call": {"name": "mcp__fake__add_tool", "args": {}, "id": "c0"}}],
        [{"text": "added"}],
        [{"tool_call": {"name": "mcp__fake__extra", "args": {}, "id": "c1"}}],
        [{"text": "done"}]
    ]);
    let opts =
        json!({"model": "scripted:x", "script": script, "mcp_servers": {"fake": fake("ok", &m)}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (_, mut events) = turn_end(&c, &id);
    let changed = seen_or_wait(&c, &mut events, |e| {
        e["kind"] == "mcp_server_status"
            && e["tools"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("mcp__fake__extra")))
    });
    assert_eq!(changed["state"], "ready");
    c.send_prompt(&id, text("again")).unwrap();
    turn_end(&c, &id);
    let calls = tool_calls(&c, &id);
    assert_eq!(calls[1]["result"], "extra ran");
    drop(c);
    none_left(&m);
}

#[test]
fn disabling_a_server_at_run_time_kills_it_and_its_children() {
    let m = marker("disable");
    let c = client();
    let id = session(
        &c,
        json!({"fake": fake("ok", &m)}),
        &[("mcp__fake__spawn", json!({}))],
    );
    c.send_prompt(&id, text("go")).unwrap();
    turn_end(&c, &id);
    // The server and its sleeping child (the child may still be starting when the result is in).
    let deadline = Instant::now() + WAIT;
    while processes(&m).len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", tool_calls(&c, &id));
        std::thread::sleep(Duration::from_millis(20));
    }
    c.mcp_set_enabled(&id, "fake", false).unwrap();
    none_left(&m);
    wait_for(&c, WAIT, |e| {
        e["kind"] == "mcp_server_status" && e["state"] == "disabled"
    });
    assert_eq!(c.mcp_servers(&id).unwrap()[0]["state"], "disabled");
    assert!(matches!(
        c.mcp_set_enabled(&id, "nope", true),
        Err(tandem::Error::NotFound(_))
    ));
    c.mcp_set_enabled(&id, "fake", true).unwrap();
    wait_for(&c, WAIT, |e| {
        e["kind"] == "mcp_server_status" && e["state"] == "ready"
    });
    c.stop_session(&id).unwrap();
    none_left(&m);
}

#[test]
fn trust_scopes_cover_mcp_tools_for_a_turn_or_the_session() {
    let m = marker("scopes");
    let c = client();
    let write = |i: usize| json!([{"tool_call": {"name": "mcp__fake__write", "args": {}, "id": format!("c{i}")}}]);
    let script = json!([
        write(0), write(1), [{"text": "turn 1"}],
        write(2), [{"text": "turn 2"}],
        write(3), [{"text": "turn 3"}]
    ]);
    let opts =
        json!({"model": "scripted:x", "script": script, "mcp_servers": {"fake": fake("ok", &m)}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let pending = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["kind"] == "approval_pending")
            .count()
    };
    let auto = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["kind"] == "tool_auto_approved")
            .map(|e| e["scope"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // Turn 1: approved for the turn, the second call runs without asking.
    c.send_prompt(&id, text("one")).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::ApproveTurn)
        .unwrap();
    let (_, events) = turn_end(&c, &id);
    assert_eq!(pending(&events), 0, "{events:#?}");
    assert_eq!(auto(&events), ["turn"]);
    // Turn 2: the turn's approval is gone, so it asks again; approved for the session.
    c.send_prompt(&id, text("two")).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::ApproveSession)
        .unwrap();
    turn_end(&c, &id);
    // Turn 3: runs without asking.
    c.send_prompt(&id, text("three")).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert_eq!(pending(&events), 0, "{events:#?}");
    assert_eq!(auto(&events), ["session"]);
    let calls = tool_calls(&c, &id);
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c["result"] == "written"), "{calls:#?}");
    drop(c);
    none_left(&m);
}

#[test]
fn server_prompts_are_slash_commands_that_send_their_text() {
    let m = marker("prompts");
    let c = client();
    let script = json!([[{"text": "a"}], [{"text": "b"}], [{"text": "c"}]]);
    let opts =
        json!({"model": "scripted:x", "script": script, "mcp_servers": {"fake": fake("ok", &m)}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    // The server is listed once the session's first turn waited for it; before that its prompts may be missing.
    c.send_prompt(&id, text("warm up")).unwrap();
    turn_end(&c, &id);
    let commands = c.commands(&id).unwrap();
    let review = commands
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mcp__fake__review")
        .unwrap_or_else(|| panic!("{commands:#}"))
        .clone();
    assert_eq!(
        review,
        json!({"name": "mcp__fake__review", "description": "fake review prompt", "kind": "mcp_prompt"})
    );
    let outcome = c
        .send_prompt(&id, text("/mcp__fake__review the parser"))
        .unwrap();
    assert_eq!(outcome, tandem::session::state::PromptOutcome::Command);
    let (_, events) = turn_end(&c, &id);
    let ran = events.iter().find(|e| e["kind"] == "command_ran").unwrap();
    assert_eq!(ran["result"]["text"], "Please review the parser.");
    let users: Vec<Value> = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(
        users,
        [json!("warm up"), json!("Please review the parser.")]
    );
    // A JSON object names the arguments; a prompt the server lacks is not a command.
    c.send_prompt(&id, text(r#"/mcp__fake__review {"topic": "the lexer"}"#))
        .unwrap();
    turn_end(&c, &id);
    assert!(matches!(
        c.send_prompt(&id, text(r#"/mcp__fake__review {"topic": 1}"#)),
        Err(tandem::Error::InvalidArgument(_))
    ));
    drop(c);
    none_left(&m);
}
