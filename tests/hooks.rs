//! Hooks in real sessions on the scripted model: Claude Code command hooks written like a user's (a python script
//! reading the JSON on stdin: exit 2 blocks a write, JSON on stdout adds context), in-process hooks that deny,
//! rewrite and add context, a Stop hook that keeps the turn going, PreCompact refusing a compaction, and the
//! documented defaults for hooks that fail, answer garbage or time out.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::hooks::{HookSink, HookSpec};
use tandem::session::transcript::ContentPart;
use tandem::Client;

fn text(t: &str) -> Vec<ContentPart> {
    prompt(t)
}

fn workdir(name: &str) -> PathBuf {
    fresh_dir("hooks", name)
}

fn tool(name: &str, args: Value) -> Value {
    json!({"tool_call": {"name": name, "args": args}})
}

fn session(c: &Client, dir: &Path, extra: Value, script: Value) -> String {
    let mut opts =
        json!({"model": "scripted:x", "workdir": dir, "script": script, "approval": "none"});
    for (k, v) in extra.as_object().unwrap() {
        opts[k] = v.clone();
    }
    c.start_session(Some(&opts.to_string())).unwrap()
}

fn results(events: &[Value]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter(|e| e["kind"] == "tool_ended")
        .map(|e| {
            (
                e["result"].as_str().unwrap().to_string(),
                e["is_error"].as_bool().unwrap(),
            )
        })
        .collect()
}

type Answerer = Box<dyn Fn(&Value) -> Option<String> + Send + Sync>;

/// An in-process hook: records every input and answers with `answer(input)` (`None`: no answer).
struct Probe {
    seen: Arc<Mutex<Vec<Value>>>,
    answer: Answerer,
    released: Arc<AtomicUsize>,
}

impl HookSink for Probe {
    fn call(&self, input: &str) -> Result<Option<String>, String> {
        let v: Value = serde_json::from_str(input).unwrap();
        let out = (self.answer)(&v);
        self.seen.lock().unwrap().push(v);
        Ok(out)
    }
    fn release(&self) {
        self.released.fetch_add(1, Ordering::SeqCst);
    }
}

fn probe(
    c: &Client,
    session: Option<&str>,
    spec: Value,
    answer: impl Fn(&Value) -> Option<String> + Send + Sync + 'static,
) -> (u64, Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let released = Arc::new(AtomicUsize::new(0));
    let sink = Probe {
        seen: seen.clone(),
        answer: Box::new(answer),
        released: released.clone(),
    };
    let spec = HookSpec::parse(&spec.to_string()).unwrap();
    let id = c.add_hook(&spec, session, Box::new(sink)).unwrap();
    (id, seen, released)
}

/// A hook script as a Claude Code user writes one: python reading the event from stdin.
const GUARD: &str = r#"#!/usr/bin/env python3
import json, sys
event = json.load(sys.stdin)
name = event["hook_event_name"]
if name == "PreToolUse":
    path = event["tool_input"].get("file_path", "")
    if path.endswith(".env"):
        print(f"Refusing to write {path}: secrets live there", file=sys.stderr)
        sys.exit(2)
elif name == "PostToolUse":
    print(json.dumps({"hookSpecificOutput": {"hookEventName": "PostToolUse",
        "additionalContext": "formatted " + event["tool_input"]["file_path"] + " (" + event["tool_name"] + ")"}}))
elif name == "UserPromptSubmit":
    if "deploy" in event["prompt"]:
        print(json.dumps({"decision": "block", "reason": "no deploys on Friday"}))
    else:
        print("Project codename: tandem; cwd " + event["cwd"])
sys.exit(0)
"#;

#[test]
fn claude_code_command_hooks_block_writes_add_context_and_gate_prompts() {
    let dir = workdir("command");
    let script = dir.join(".claude/guard.py");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(&script, GUARD).unwrap();
    let entry = |matcher: &str| json!([{"matcher": matcher, "hooks": [{"type": "command", "command": "python3 \"$CLAUDE_PROJECT_DIR/.claude/guard.py\"", "timeout": 30}]}]);
    // The settings file as Claude Code has it, found through hook_settings_files (relative to the workdir).
    let settings = json!({"permissions": {}, "hooks": {
        "PreToolUse": entry("Write|Edit"),
        "PostToolUse": entry("Write|Edit"),
        "UserPromptSubmit": entry(""),
        "Notification": entry("")
    }});
    std::fs::write(dir.join(".claude/settings.json"), settings.to_string()).unwrap();
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"hook_settings_files": [".claude/settings.json", ".claude/settings.local.json"]}),
        json!([
            [tool("write_file", json!({"path": ".env", "content": "KEY=1\n"}))],
            [tool("write_file", json!({"path": "a.txt", "content": "hello\n"}))],
            [tool("read_file", json!({"path": "a.txt"}))],
            [{"text": "done"}]
        ]),
    );
    let err = c.send_prompt(&id, text("deploy it")).unwrap_err();
    assert!(err.to_string().contains("no deploys on Friday"), "{err}");
    assert!(
        user_messages(&c, &id).is_empty(),
        "a blocked prompt is not sent"
    );

    c.send_prompt(&id, text("write the files")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert_eq!(r.len(), 3, "{r:?}");
    let env = dir.join(".env").display().to_string();
    assert_eq!(
        r[0],
        (
            format!("Blocked by a PreToolUse hook: Refusing to write {env}: secrets live there"),
            true
        )
    );
    assert!(
        !dir.join(".env").exists(),
        "the blocked write did not happen"
    );
    assert!(
        r[1].0.ends_with(&format!(
            "\n\nformatted {} (Write)",
            dir.join("a.txt").display()
        )),
        "{:?}",
        r[1]
    );
    assert!(!r[1].1);
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(r[2], ("hello\n".to_string(), false), "Read is not matched");
    let prompt = user_messages(&c, &id).pop().unwrap().to_string();
    assert!(
        prompt.contains(&format!("Project codename: tandem; cwd {}", dir.display())),
        "plain stdout of a UserPromptSubmit hook is context with the prompt: {prompt}"
    );
}

#[test]
fn in_process_hooks_deny_rewrite_and_add_context() {
    let dir = workdir("callbacks");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({}),
        json!([
            [tool("write_file", json!({"path": "secret.txt", "content": "x"}))],
            [tool("write_file", json!({"path": "draft.txt", "content": "draft"}))],
            [tool("list_directory", json!({}))],
            [{"text": "done"}]
        ]),
    );
    let (_, pre, _) = probe(
        &c,
        Some(&id),
        json!({"event": "PreToolUse", "matcher": "write_file"}),
        |v| {
            let path = v["tool_input"]["path"].as_str().unwrap();
            Some(if path == "secret.txt" {
                json!({"decision": "deny", "reason": "not that one"}).to_string()
            } else {
                json!({"tool_input": {"path": "final.txt", "content": "rewritten"}}).to_string()
            })
        },
    );
    let (_, post, _) = probe(
        &c,
        None,
        json!({"event": "PostToolUse", "matcher": "LS"}),
        |_| {
            Some(json!({"tool_result": "(listing hidden)", "additional_context": "ask before reading"}).to_string())
        },
    );
    let (_, prompts, _) = probe(&c, None, json!({"event": "UserPromptSubmit"}), |v| {
        Some(json!({"prompt": format!("{} please", v["prompt"].as_str().unwrap())}).to_string())
    });
    c.send_prompt(&id, text("write")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert_eq!(
        r[0],
        ("Blocked by a PreToolUse hook: not that one".into(), true)
    );
    assert!(!dir.join("secret.txt").exists() && !dir.join("draft.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("final.txt")).unwrap(),
        "rewritten"
    );
    assert_eq!(
        r[2],
        ("(listing hidden)\n\nask before reading".into(), false)
    );
    let seen = pre.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "list_directory does not match write_file");
    assert_eq!(seen[0]["hook_event_name"], "PreToolUse");
    assert_eq!(seen[0]["session_id"], id.as_str());
    assert_eq!(seen[0]["tool_name"], "Write");
    assert_eq!(seen[0]["tandem_tool_name"], "write_file");
    assert_eq!(seen[0]["cwd"], dir.display().to_string());
    assert_eq!(post.lock().unwrap()[0]["tool_response"]["is_error"], false);
    assert_eq!(prompts.lock().unwrap()[0]["prompt"], "write");
    assert!(user_messages(&c, &id)[0]
        .to_string()
        .contains("write please"));
}

#[test]
fn session_hooks_go_with_their_session_and_removal_releases_once() {
    let dir = workdir("lifecycle");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({}),
        json!([[{"text": "a"}], [{"text": "b"}]]),
    );
    let (hook, seen, released) = probe(&c, Some(&id), json!({"event": "Stop"}), |_| None);
    let (client_hook, _, client_released) = probe(&c, None, json!({"event": "Stop"}), |_| None);
    c.send_prompt(&id, text("one")).unwrap();
    turn_end(&c, &id);
    assert_eq!(seen.lock().unwrap()[0]["last_assistant_message"], "a");
    c.remove_hook(hook).unwrap();
    released_within(&released, 1);
    assert!(matches!(
        c.remove_hook(hook),
        Err(tandem::Error::NotFound(_))
    ));
    c.send_prompt(&id, text("two")).unwrap();
    turn_end(&c, &id);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "a removed hook is not called"
    );
    // A session hook for a session that is not live is refused, and its sink released at once.
    let (sink_released, spec) = (
        Arc::new(AtomicUsize::new(0)),
        HookSpec::parse(r#"{"event": "Stop"}"#).unwrap(),
    );
    let sink = Probe {
        seen: Default::default(),
        answer: Box::new(|_| None),
        released: sink_released.clone(),
    };
    assert!(matches!(
        c.add_hook(&spec, Some("nope"), Box::new(sink)),
        Err(tandem::Error::NotFound(_))
    ));
    assert_eq!(sink_released.load(Ordering::SeqCst), 1);
    let (_, _, session_released) = probe(&c, Some(&id), json!({"event": "Stop"}), |_| None);
    c.stop_session(&id).unwrap();
    released_within(&session_released, 1);
    assert_eq!(
        client_released.load(Ordering::SeqCst),
        0,
        "client hooks outlive sessions"
    );
    c.remove_hook(client_hook).unwrap();
    released_within(&client_released, 1);
}

#[test]
fn a_stop_hook_keeps_the_turn_going_once_with_its_reason() {
    let dir = workdir("stop");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({}),
        json!([[{"text": "first"}], [{"text": "second"}]]),
    );
    let (_, seen, _) = probe(&c, None, json!({"event": "Stop"}), |v| {
        (v["stop_hook_active"] == false)
            .then(|| json!({"decision": "deny", "reason": "run the tests first"}).to_string())
    });
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert_eq!(text_of(&events, &id), "firstsecond");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1]["stop_hook_active"], true);
    assert_eq!(seen[1]["last_assistant_message"], "second");
    let all = c.messages(&id).unwrap().to_string();
    assert!(
        all.contains("A Stop hook kept the turn going: run the tests first"),
        "{all}"
    );
}

#[test]
fn pre_compact_hooks_can_refuse_a_compaction() {
    let dir = workdir("compact");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"compaction": {"keep_recent": 1}}),
        json!([[{"text": "a"}], [{"text": "b"}], [{"text": "summary"}]]),
    );
    for p in ["one", "two"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    let (hook, seen, _) = probe(
        &c,
        None,
        json!({"event": "PreCompact", "matcher": "manual"}),
        |_| Some(json!({"decision": "deny", "reason": "keep everything"}).to_string()),
    );
    let err = c.compact(&id).unwrap_err().to_string();
    assert!(
        err.contains("blocked by a PreCompact hook: keep everything"),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap()[0]["trigger"], "manual");
    c.remove_hook(hook).unwrap();
    assert_eq!(c.compact(&id).unwrap()["compacted"], true);
}

#[test]
fn failing_hooks_take_their_documented_default() {
    let dir = workdir("failures");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": "exit 1"},
            {"type": "command", "command": "echo '{not json'"},
            {"type": "command", "command": "sleep 30 & echo $! > bg.pid; sleep 30", "timeout": 0.5}
        ]}]}}),
        json!([
            [tool("shell", json!({"command": "echo ran"}))],
            [tool("write_file", json!({"path": "x.txt", "content": "x"}))],
            [tool("read_file", json!({"path": "x.txt"}))],
            [{"text": "done"}]
        ]),
    );
    // A callback that overruns its timeout, one that answers garbage (fail closed), one that reports an error.
    probe(
        &c,
        None,
        json!({"event": "PreToolUse", "matcher": "write_file", "timeout_ms": 50}),
        |_| {
            std::thread::sleep(Duration::from_millis(500));
            Some(json!({"decision": "deny"}).to_string())
        },
    );
    probe(
        &c,
        None,
        json!({"event": "PreToolUse", "matcher": "Read", "on_failure": "deny"}),
        |_| Some("{\"decision\": ".into()),
    );
    probe(
        &c,
        None,
        json!({"event": "PostToolUse", "matcher": "Write"}),
        |_| Some(json!({"error": "linter crashed"}).to_string()),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert_eq!(
        r[0],
        ("ran\n".into(), false),
        "three failing command hooks continue"
    );
    assert!(
        !r[1].1 && dir.join("x.txt").exists(),
        "a timed-out callback continues: {r:?}"
    );
    assert!(
        r[2].1
            && r[2]
                .0
                .starts_with("Blocked by a PreToolUse hook: hook failed: malformed answer"),
        "{r:?}"
    );
    // The timed-out command's process group was killed: its background sleep is gone.
    let pid: i32 = std::fs::read_to_string(dir.join("bg.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    let mut waited = 0;
    while !gone() && waited < 1000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    assert!(gone(), "the hook's background process outlived its timeout");
    let failed: Vec<(String, Value, String)> = events
        .iter()
        .filter(|e| e["kind"] == "hook_failed")
        .map(|e| {
            (
                e["hook_event"].as_str().unwrap().to_string(),
                e["command"].clone(),
                e["on_failure"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 6, "{failed:?}");
    assert_eq!(
        failed[0],
        ("PreToolUse".into(), json!("exit 1"), "continue".into())
    );
    assert!(
        failed.contains(&("PreToolUse".into(), Value::Null, "deny".into())),
        "{failed:?}"
    );
    assert!(
        failed.contains(&("PostToolUse".into(), Value::Null, "continue".into())),
        "{failed:?}"
    );
    let notes = c.messages(&id).unwrap().to_string();
    for why in [
        "exit code 1",
        "malformed JSON on stdout",
        "timed out after 500 ms",
        "no answer within 50 ms",
        "linter crashed",
    ] {
        assert!(notes.contains(why), "no system message for {why}: {notes}");
    }
}

#[test]
fn session_start_context_reaches_the_first_prompt_only() {
    let dir = workdir("start");
    let c = client();
    let (_, seen, _) = probe(
        &c,
        None,
        json!({"event": "SessionStart", "matcher": "startup"}),
        |_| Some(json!({"additional_context": "from the callback"}).to_string()),
    );
    let hooks = json!({"SessionStart": [{"hooks": [{"type": "command", "command": "echo \"branch: main ($TANDEM_SESSION_ID)\""}]}]});
    let id = session(
        &c,
        &dir,
        json!({"hooks": hooks}),
        json!([[{"text": "a"}], [{"text": "b"}]]),
    );
    assert_eq!(seen.lock().unwrap()[0]["source"], "startup");
    for p in ["first", "second"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    let users = user_messages(&c, &id);
    let first = users[0].to_string();
    assert!(first.contains("from the callback"), "{first}");
    assert!(first.contains(&format!("branch: main ({id})")), "{first}");
    assert!(!users[1].to_string().contains("branch: main"));
}

#[test]
fn a_session_that_comes_back_from_the_store_starts_with_source_resume() {
    let dir = workdir("resume");
    let store = workdir("resume-store");
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let (_, seen, _) = probe(&c, None, json!({"event": "SessionStart"}), |_| None);
    let opts = json!({"session_id": "kept", "model": "scripted:echo", "workdir": dir});
    c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt("kept", text("remember me")).unwrap();
    turn_end(&c, "kept");
    c.stop_session("kept").unwrap();
    c.start_session(Some(&opts.to_string())).unwrap();
    let sources: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["source"].clone())
        .collect();
    assert_eq!(sources, vec![json!("startup"), json!("resume")]);
}
