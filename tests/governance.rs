//! Agent governance through the public API: project context files on a real directory tree (precedence, the
//! subdirectories tools touch, changes between turns, the option), the `task` tool (sub-agents the model launches,
//! concurrently, their answers as tool results, the parent's abort), and budgets across a session tree.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::provider::host::{HostProviderSink, Request};
use tandem::session::transcript::ContentPart;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn tool(name: &str, args: Value) -> Value {
    json!({"tool_call": {"name": name, "args": args}})
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-gov-{tag}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}

fn write(p: &Path, t: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, t).unwrap();
}

/// Hands each host provider request to the test.
struct Requests(std::sync::Mutex<mpsc::Sender<Request>>);

impl HostProviderSink for Requests {
    fn invoke(&self, request: &Request) {
        let _ = self.0.lock().unwrap().send(request.clone());
    }
    fn release(&self) {}
}

fn system_prompt(r: &Request) -> String {
    let v: Value = serde_json::from_str(&r.json).unwrap();
    v["system_prompt"].as_str().unwrap_or_default().to_string()
}

/// `(file name relative to root, reason)` of a loaded list.
fn listed(files: &Value, root: &Path) -> Vec<(String, String)> {
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f["path"].as_str().unwrap();
            let rel = Path::new(p)
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            (rel, f["reason"].as_str().unwrap().to_string())
        })
        .collect()
}

fn before(hay: &str, order: &[&str]) -> bool {
    let at: Vec<Option<usize>> = order.iter().map(|s| hay.find(s)).collect();
    at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn nested_context_files_load_outermost_first_and_follow_the_agent_and_changes() {
    let root = tmp("ctx");
    std::fs::create_dir_all(root.join(".git")).unwrap();
    write(&root.join("AGENTS.md"), "ROOT-RULE");
    write(
        &root.join("CLAUDE.md"),
        "ROOT-CLAUDE: shadowed by AGENTS.md",
    );
    write(&root.join("pkg/CLAUDE.md"), "PKG-RULE");
    let app = root.join("pkg/app");
    write(&app.join("AGENTS.md"), "APP-RULE");
    write(&app.join("sub/AGENTS.md"), "SUB-RULE");
    write(&app.join("sub/x.txt"), "x");
    let c = client();
    let (tx, rx) = mpsc::channel();
    c.set_provider(Some(Box::new(Requests(std::sync::Mutex::new(tx)))))
        .unwrap();
    let opts = json!({"provider": "host", "workdir": app, "tools": ["read_file"], "system_prompt": "BASE-PROMPT"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let (loaded, _) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "context_files_loaded"
    });
    let start = vec![
        ("AGENTS.md".to_string(), "ancestor".to_string()),
        ("pkg/CLAUDE.md".into(), "ancestor".into()),
        ("pkg/app/AGENTS.md".into(), "workdir".into()),
    ];
    assert_eq!(listed(&loaded["files"], &root), start);
    assert_eq!(listed(&c.context_files(&id).unwrap(), &root), start);
    assert_eq!(loaded["files"][2]["bytes"], 8);
    assert_eq!(loaded["files"][2]["truncated"], false);

    c.send_prompt(&id, text("go")).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let p = system_prompt(&r);
    assert!(
        before(&p, &["BASE-PROMPT", "ROOT-RULE", "PKG-RULE", "APP-RULE"]),
        "{p}"
    );
    assert!(!p.contains("SUB-RULE") && !p.contains("ROOT-CLAUDE"), "{p}");
    for e in [
        json!({"type": "tool_call", "id": "c1", "name": "read_file", "args": {"path": "sub/x.txt"}}),
        json!({"type": "done", "stop_reason": "tool_use"}),
    ] {
        let mut e = e;
        e["request_id"] = json!(r.request_id);
        c.provider_emit_json(&id, &e.to_string()).unwrap();
    }
    // The read under sub/ loads sub/AGENTS.md for the next model call, nearest last.
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let p = system_prompt(&r);
    assert!(before(&p, &["ROOT-RULE", "APP-RULE", "SUB-RULE"]), "{p}");
    let files = c.context_files(&id).unwrap();
    assert_eq!(
        listed(&files, &root).last().unwrap(),
        &(
            "pkg/app/sub/AGENTS.md".to_string(),
            "subdirectory".to_string()
        )
    );
    let done = json!({"request_id": r.request_id, "type": "done", "stop_reason": "end_turn"});
    c.provider_emit_json(&id, &done.to_string()).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "context_files_loaded")
            .count(),
        1,
        "reported once more, when sub/ was touched"
    );
    // Changed between turns: the next call sees the new text.
    write(&app.join("AGENTS.md"), "APP-RULE-V2");
    c.send_prompt(&id, text("again")).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(system_prompt(&r).contains("APP-RULE-V2"));
    let done = json!({"request_id": r.request_id, "type": "done", "stop_reason": "end_turn"});
    c.provider_emit_json(&id, &done.to_string()).unwrap();
    turn_end(&c, &id);

    // Turned off: nothing loads; pointed elsewhere: other names and a configured file first.
    let off = json!({"provider": "host", "workdir": app, "context_files": false});
    let off = c.start_session(Some(&off.to_string())).unwrap();
    assert_eq!(c.context_files(&off).unwrap(), json!([]));
    write(&root.join("extra.md"), "EXTRA");
    write(&app.join("RULES.md"), "RULES");
    let other = json!({"provider": "host", "workdir": app,
        "context_files": {"names": ["RULES.md"], "paths": [root.join("extra.md")], "max_bytes": 3}});
    let other = c.start_session(Some(&other.to_string())).unwrap();
    let files = c.context_files(&other).unwrap();
    assert_eq!(
        listed(&files, &root),
        vec![
            ("extra.md".to_string(), "configured".to_string()),
            ("pkg/app/RULES.md".into(), "workdir".into())
        ]
    );
    assert_eq!(files[1]["loaded_bytes"], 3);
    assert_eq!(files[1]["truncated"], true);
    for bad in [
        json!({"context_files": 1}),
        json!({"context_files": {"names": ["../x"]}}),
    ] {
        assert!(c.start_session(Some(&bad.to_string())).is_err(), "{bad}");
    }
    let _ = c.set_provider(None);
    std::fs::remove_dir_all(root).unwrap();
}

/// A parent whose first response launches two sub-agents (echo models answer with their prompt) and whose second
/// answers with what came back.
fn parent_opts(dir: &Path, script: Value) -> Value {
    json!({"model": "scripted:x", "workdir": dir, "approval": "none", "tools": ["read_file", "task"], "script": script})
}

#[test]
fn the_model_launches_two_sub_agents_in_one_turn_and_gets_both_answers() {
    let dir = tmp("task");
    let c = client();
    let script = json!([
        [tool("task", json!({"prompt": "alpha answer", "model": "scripted:echo"})),
         tool("task", json!({"prompt": "beta answer", "model": "scripted:echo"}))],
        [{"text": "both done"}]
    ]);
    let id = c
        .start_session(Some(&parent_opts(&dir, script).to_string()))
        .unwrap();
    c.send_prompt(&id, text("delegate")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    // They end in whichever order the sub-agents finish (the model gets them in call order).
    let mut results: Vec<(String, bool)> = events
        .iter()
        .filter(|e| e["kind"] == "tool_ended" && e["session_id"] == id.as_str())
        .map(|e| {
            (
                e["result"].as_str().unwrap().to_string(),
                e["is_error"].as_bool().unwrap(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        vec![
            ("alpha answer".to_string(), false),
            ("beta answer".into(), false)
        ]
    );
    // Their events name the parent; their answers are reported, and they are stopped once answered.
    let children: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "subagent_finished")
        .map(|e| e["subagent_session_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(children.len(), 2);
    for child in &children {
        assert!(events.iter().any(|e| e["session_id"] == child.as_str()
            && e["kind"] == "turn_ended"
            && e["parent_id"] == id.as_str()));
    }
    // Stopped before or after the parent's turn ended: both `session_stopped` events, in whichever order.
    let mut stopped: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| e["kind"] == "session_stopped")
        .map(|e| e["session_id"].as_str().unwrap().to_string())
        .collect();
    while !children.iter().all(|ch| stopped.contains(ch)) {
        let (e, _) = wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "session_stopped"
        });
        stopped.insert(e["session_id"].as_str().unwrap().to_string());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_parents_abort_stops_all_three() {
    let dir = tmp("task-abort");
    let c = client();
    // The sub-agents inherit the script: their first response asks for a tool they lack, their second waits.
    let script = json!([
        [tool("task", json!({"prompt": "one"})), tool("task", json!({"prompt": "two"}))],
        [{"delay_ms": 3_600_000}]
    ]);
    let id = c
        .start_session(Some(&parent_opts(&dir, script).to_string()))
        .unwrap();
    c.send_prompt(&id, text("delegate")).unwrap();
    // Both sub-agents get to their waiting response (each after its two refused calls): they run at the same time.
    let mut children = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let (e, _) = wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "tool_ended" && e["parent_id"] == id.as_str()
        });
        children.insert(e["session_id"].as_str().unwrap().to_string());
    }
    assert_eq!(children.len(), 2);
    c.abort(&id).unwrap();
    let mut stopped = std::collections::BTreeSet::new();
    let mut aborted = false;
    while stopped.len() < 2 || !aborted {
        let (e, _) = wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "session_stopped" || e["kind"] == "turn_ended"
        });
        let sid = e["session_id"].as_str().unwrap().to_string();
        if e["kind"] == "turn_ended" && sid == id {
            assert_eq!(e["reason"], "aborted");
            aborted = true;
        } else if e["kind"] == "session_stopped" {
            stopped.insert(sid);
        }
    }
    assert_eq!(stopped, children);
    assert!(c.metadata(&id).is_ok(), "the parent itself lives on");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_task_asks_for_approval_like_a_destructive_tool() {
    let dir = tmp("task-gate");
    let c = client();
    let script =
        json!([[tool("task", json!({"prompt": "x", "model": "scripted:echo"}))], [{"text": "ok"}]]);
    let opts = json!({"model": "scripted:x", "workdir": dir, "script": script});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (pending, _) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(pending["approval"]["name"], "task", "{pending}");
    c.abort(&id).unwrap();
    turn_end(&c, &id);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_tree_that_reaches_its_budget_stops_with_the_reason_and_no_sub_agent_escapes_it() {
    let dir = tmp("budget");
    let c = client();
    // The echo sub-agent reports 5 input and 5 output tokens: the tree's 10 tokens are spent.
    let script = json!([
        [tool("task", json!({"prompt": "one two three four five", "model": "scripted:echo"}))],
        [{"text": "after the raise"}]
    ]);
    let mut opts = parent_opts(&dir, script);
    opts["max_tokens_total"] = json!(10);
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("delegate")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "budget_exhausted", "{events:#?}");
    let stop = events
        .iter()
        .find(|e| e["kind"] == "budget_exhausted" && e["session_id"] == id.as_str())
        .unwrap();
    assert_eq!(stop["limit"], "max_tokens_total");
    assert_eq!(stop["budget_session_id"], id.as_str());
    assert_eq!(
        (stop["spent"].as_f64(), stop["allowed"].as_f64()),
        (Some(10.0), Some(10.0))
    );
    assert!(!text_of(&events, &id).contains("after the raise"));
    let budget = &c.snapshot(&id).unwrap()["budget"];
    assert_eq!(budget["tree_tokens"], 10);
    assert_eq!(budget["own"]["input"], 0);
    assert_eq!(budget["children"][0]["own"]["input"], 5);
    assert_eq!(budget["exhausted"]["limit"], "max_tokens_total");
    // A sub-agent the host starts under the exhausted parent stops before its first model call.
    let h = c
        .start_subagent(Some(&id), "more", Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let child = h["session_id"].as_str().unwrap().to_string();
    let (end, events) = turn_end(&c, &child);
    assert_eq!(end["reason"], "budget_exhausted");
    let stop = events
        .iter()
        .find(|e| e["kind"] == "budget_exhausted" && e["session_id"] == child.as_str())
        .unwrap();
    assert_eq!(stop["budget_session_id"], id.as_str());
    // Raised at runtime, the tree goes on.
    let report = c.set_budget(&id, r#"{"max_tokens_total": 1000}"#).unwrap();
    assert_eq!(report["max_tokens_total"], 1000);
    assert!(c.set_budget(&id, r#"{"max_tokens_total": 0}"#).is_err());
    assert!(c.set_budget(&id, r#"{"max_cost": "lots"}"#).is_err());
    assert!(c.set_budget(&id, "[").is_err());
    assert!(c.set_budget("nope", "{}").is_err());
    c.send_prompt(&id, text("continue")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert!(text_of(&events, &id).contains("after the raise"));
    std::fs::remove_dir_all(dir).unwrap();
}
