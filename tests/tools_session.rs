//! Built-in and host tools inside real sessions: file-change events and touched files, boundaries enforced and
//! moved, shell streaming and abort, concurrency of read-only calls, approvals in call order, plan mode.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::tools::host::{self, HostToolSink, HostToolSpec, Invocation};
use tandem::Client;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-tools-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}

fn session(c: &Client, dir: &Path, extra: Value, script: Value) -> String {
    let mut opts = json!({"model": "scripted:x", "workdir": dir, "script": script});
    for (k, v) in extra.as_object().unwrap() {
        opts[k] = v.clone();
    }
    c.start_session(Some(&opts.to_string())).unwrap()
}

fn tool(name: &str, args: Value) -> Value {
    json!({"tool_call": {"name": name, "args": args}})
}

fn results(events: &[Value]) -> Vec<(String, String, bool)> {
    events
        .iter()
        .filter(|e| e["kind"] == "tool_ended")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["result"].as_str().unwrap().to_string(),
                e["is_error"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn file_changes_are_reported_for_create_modify_and_delete() {
    let dir = workdir("changes");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "none"}),
        json!([
            [tool("write_file", json!({"path": "a/new.txt", "content": "one\ntwo\n"}))],
            [tool("edit_file", json!({"path": "a/new.txt", "old_text": "two", "new_text": "2"}))],
            [tool("delete_file", json!({"path": "a/new.txt"}))],
            [{"text": "done"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "file_changed")
        .collect();
    let path = dir.join("a/new.txt").display().to_string();
    let summary: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["before"].as_str().unwrap(),
                e["after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (path.as_str(), "created", "", "one\ntwo\n"),
            (path.as_str(), "modified", "one\ntwo\n", "one\n2\n"),
            (path.as_str(), "deleted", "one\n2\n", ""),
        ]
    );
    assert_eq!(changes[1]["tool_name"], "edit_file");
    assert!(!dir.join("a/new.txt").exists());
    let touched = c.touched_files(&id).unwrap();
    assert_eq!(touched[0]["path"], path.as_str());
    assert_eq!(touched[0]["action"], "deleted");
}

#[test]
fn boundaries_refuse_edits_outside_and_move_with_edits_inside() {
    let dir = workdir("bounds");
    std::fs::write(dir.join("f.txt"), "a\nb\nc\nd\ne\n").unwrap();
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "none"}),
        json!([
            [tool("edit_file", json!({"path": "f.txt", "old_text": "e", "new_text": "E"}))],
            [tool("edit_file", json!({"path": "f.txt", "old_text": "b", "new_text": "b1\nb2"}))],
            [{"text": "done"}]
        ]),
    );
    c.set_boundary(&id, "f.txt", 1, 2).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert_eq!(
        r[0].1,
        "edit outside boundary: lines 4-4, allowed range is 1-2"
    );
    assert!(r[0].2);
    assert!(!r[1].2, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("f.txt")).unwrap(),
        "a\nb1\nb2\nc\nd\ne\n"
    );
    assert_eq!(
        c.boundary_for(&id, "f.txt").unwrap(),
        json!({"start_line": 1, "end_line": 3})
    );
}

#[test]
fn delete_refuses_bounded_files_and_shell_changes_outside_a_boundary_are_reported() {
    let dir = workdir("shell-bounds");
    std::fs::write(dir.join("f.txt"), "a\nb\nc\nd\n").unwrap();
    std::fs::write(dir.join("g.txt"), "x\ny\n").unwrap();
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "none"}),
        json!([
            [tool("delete_file", json!({"path": "f.txt"}))],
            [tool("shell", json!({"command": "printf 'a\\nB\\nc\\nd\\n' > f.txt"}))],
            [tool("shell", json!({"command": "printf 'A\\nB\\nc\\nD\\n' > f.txt; rm g.txt"}))],
            [{"text": "done"}]
        ]),
    );
    c.set_boundary(&id, "f.txt", 1, 2).unwrap();
    c.set_boundary(&id, "g.txt", 0, 1).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert_eq!(
        (r[0].1.as_str(), r[0].2),
        (
            "cannot delete f.txt: it has an edit boundary (allowed range is 1-2); deleting removes every line",
            true
        )
    );
    assert_eq!(
        r[1].1, "(no output)",
        "a change inside the boundary is no violation"
    );
    let f = dir.join("f.txt").display().to_string();
    let g = dir.join("g.txt").display().to_string();
    let violations: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "boundary_violated")
        .collect();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert_eq!(violations[0]["path"], f.as_str());
    assert_eq!(violations[0]["tool_name"], "shell");
    assert_eq!(
        violations[0]["boundary"],
        json!({"start_line": 1, "end_line": 2})
    );
    assert_eq!(
        violations[0]["changed"],
        json!([{"start_line": 0, "end_line": 0}, {"start_line": 3, "end_line": 3}])
    );
    assert_eq!(violations[1]["path"], g.as_str());
    assert_eq!(violations[1]["changed"], json!([]));
    assert!(violations[1]["message"]
        .as_str()
        .unwrap()
        .contains("the file was deleted"));
    assert!(
        r[2].1.contains("[boundary violation]")
            && r[2]
                .1
                .contains("lines 0-0, 3-3 changed outside the boundary; allowed range is 1-2"),
        "the model is told: {}",
        r[2].1
    );
    // Every change the shell made to a bounded file is a file change too, the violating ones just before their
    // violation.
    let changed: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "file_changed" || e["kind"] == "boundary_violated")
        .map(|e| (e["kind"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changed,
        vec![
            ("file_changed", f.as_str()),
            ("file_changed", f.as_str()),
            ("boundary_violated", f.as_str()),
            ("file_changed", g.as_str()),
            ("boundary_violated", g.as_str()),
        ]
    );
}

#[test]
fn a_call_of_a_tool_the_session_lacks_is_refused_before_the_host_is_asked() {
    let dir = workdir("lacks");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "all", "tools": ["read_file"]}),
        json!([
            [tool("shell", json!({"command": "true"}))],
            [tool("no_such_tool", json!({}))],
            [{"text": "done"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert!(
        !events.iter().any(|e| e["kind"] == "approval_pending"),
        "{events:#?}"
    );
    let r = results(&events);
    assert_eq!(
        r,
        vec![
            ("shell".into(), "Tool 'shell' not found".into(), true),
            (
                "no_such_tool".into(),
                "Tool 'no_such_tool' not found".into(),
                true
            ),
        ]
    );
}

#[test]
fn shell_streams_progress_and_reports_exit_codes() {
    let dir = workdir("shell");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "none"}),
        json!([
            [tool("shell", json!({"command": "for i in 1 2 3; do echo line$i; sleep 0.3; done"}))],
            [tool("shell", json!({"command": "echo oops >&2; exit 3"}))],
            [{"text": "done"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let updates: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "tool_update")
        .map(|e| e["partial_result"].as_str().unwrap())
        .collect();
    assert!(updates.len() >= 2, "{updates:?}");
    assert!(updates[0].starts_with("line1"));
    let r = results(&events);
    assert_eq!(
        r[0],
        ("shell".into(), "line1\nline2\nline3\n".into(), false)
    );
    assert_eq!(r[1], ("shell".into(), "oops\n\nexit code 3".into(), true));
}

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: it only waits for its parent to reap it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn abort_kills_the_shell_and_its_children() {
    let dir = workdir("abort");
    let c = client();
    // Sandbox off: `$$` and `$!` are then pids of this process's namespace (in the sandbox, of the call's own).
    let id = session(
        &c,
        &dir,
        json!({"approval": "none", "sandbox": "off"}),
        json!([[tool(
            "shell",
            json!({"command": "sleep 30 & echo $! > child.pid; echo $$ > shell.pid; wait"})
        )]]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(dir.join("child.pid").exists() && dir.join("shell.pid").exists()) {
        assert!(Instant::now() < deadline, "the shell never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let pid = |f: &str| -> u32 {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (shell, child) = (pid("shell.pid"), pid("child.pid"));
    assert!(alive(shell) && alive(child));
    c.abort(&id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(shell) || alive(child) {
        assert!(
            Instant::now() < deadline,
            "left running: shell {shell} {}, child {child} {}",
            alive(shell),
            alive(child)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let call = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "tool_call")
        .cloned()
        .unwrap();
    assert_eq!(call["result"], "aborted");
}

/// Pids of this machine's processes whose command line is exactly `argv` (NUL-separated).
fn running(argv: &[&str]) -> Vec<String> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits up to 5 s for no process to run `argv`.
fn gone(argv: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !running(argv).is_empty() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn setsid_daemons_end_with_the_aborted_turn_and_with_the_client() {
    for (i, end) in ["abort", "client freed"].into_iter().enumerate() {
        let dir = workdir("daemon");
        let c = client();
        // A daemon that left the process group and the output pipes, as a swap loop hidden in a command would.
        let arg = format!("{}", 31_400 + i);
        let command =
            format!("setsid sleep {arg} </dev/null >/dev/null 2>&1 & touch started; sleep 30");
        let id = session(
            &c,
            &dir,
            json!({"approval": "none"}),
            json!([[tool("shell", json!({ "command": command }))]]),
        );
        c.send_prompt(&id, text("go")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.join("started").exists() || running(&["sleep", &arg]).is_empty() {
            assert!(Instant::now() < deadline, "the daemon never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        if end == "abort" {
            c.abort(&id).unwrap();
        } else {
            drop(c);
        }
        assert!(gone(&["sleep", &arg]), "the daemon outlived the {end}");
    }
}

struct Recorder(Arc<Mutex<Vec<Invocation>>>);

impl HostToolSink for Recorder {
    fn invoke(&self, call: &Invocation) {
        self.0.lock().unwrap().push(call.clone());
    }
    fn release(&self) {}
}

#[test]
fn read_only_calls_run_concurrently_and_results_keep_call_order() {
    let dir = workdir("concurrent");
    let c = client();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let spec = HostToolSpec::parse(
        r#"{"name": "lookup", "description": "Looks something up.", "parameters": {"type": "object"}}"#,
    )
    .unwrap();
    c.register_tool(spec, Box::new(Recorder(seen.clone())))
        .unwrap();
    let id = session(
        &c,
        &dir,
        json!({}),
        json!([
            [{"tool_call": {"name": "lookup", "args": {"n": 1}, "id": "first"}},
             {"tool_call": {"name": "lookup", "args": {"n": 2}, "id": "second"}}],
            [{"text": "done"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    // Both calls are with the host before either is answered: they run at the same time.
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "calls ran one after the other");
        std::thread::sleep(Duration::from_millis(5));
    }
    let calls = seen.lock().unwrap().clone();
    let handle = |id: &str| calls.iter().find(|c| c.tool_call_id == id).unwrap().handle;
    host::complete(handle("second"), "two".into(), false).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    host::complete(handle("first"), "one".into(), false).unwrap();
    let (_, events) = turn_end(&c, &id);
    let ended: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "tool_ended")
        .map(|e| e["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ended, vec!["second", "first"], "events follow completion");
    // The transcript (and so the model's next context) keeps call order.
    let msgs = c.messages(&id).unwrap();
    let order: Vec<(&str, &str)> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "tool_call")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap(),
                m["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(order, vec![("first", "one"), ("second", "two")]);
}

#[test]
fn approvals_come_one_at_a_time_in_call_order_and_plan_mode_refuses_writes() {
    let dir = workdir("order");
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({}),
        json!([
            [tool("write_file", json!({"path": "one.txt", "content": "1"})),
             tool("write_file", json!({"path": "two.txt", "content": "2"}))],
            [{"text": "done"}],
            [tool("write_file", json!({"path": "three.txt", "content": "3"}))],
            [{"text": "refused"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (first, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(first["approval"]["args"]["path"], "one.txt");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        c.snapshot(&id).unwrap()["pending_approval"]["args"]["path"],
        "one.txt",
        "the second call waits for the first"
    );
    c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    let (second, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(second["approval"]["args"]["path"], "two.txt");
    assert!(dir.join("one.txt").exists());
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    turn_end(&c, &id);
    assert!(!dir.join("two.txt").exists());

    c.enter_plan(&id).unwrap();
    c.send_prompt(&id, text("again")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let r = results(&events);
    assert!(r[0].2, "{r:?}");
    assert!(!dir.join("three.txt").exists());
}

#[test]
fn writes_into_git_and_tandem_ask_every_time_even_with_approval_none_and_trust() {
    let dir = workdir("protected");
    std::fs::create_dir_all(dir.join(".git/hooks")).unwrap();
    let c = client();
    let id = session(
        &c,
        &dir,
        json!({"approval": "none"}),
        json!([
            [tool("write_file", json!({"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"}))],
            [tool("write_file", json!({"path": ".git/hooks/pre-push", "content": "#!/bin/sh\n"}))],
            [tool("write_file", json!({"path": "plain.txt", "content": "x"}))],
            [{"text": "done"}]
        ]),
    );
    c.send_prompt(&id, text("go")).unwrap();
    let (first, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(first["approval"]["args"]["path"], ".git/hooks/pre-commit");
    let lines = first["approval"]["preview"]["lines"].to_string();
    assert!(
        lines.contains("is inside .git/, a protected path"),
        "{lines}"
    );
    c.respond_to_approval(&id, None, Decision::ApproveSession)
        .unwrap();
    let (second, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(
        second["approval"]["args"]["path"], ".git/hooks/pre-push",
        "trust granted for write_file does not cover a protected path"
    );
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert!(dir.join(".git/hooks/pre-commit").exists());
    assert!(!dir.join(".git/hooks/pre-push").exists());
    assert!(
        dir.join("plain.txt").exists(),
        "other writes still run unasked"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "approval_pending")
            .count(),
        0,
        "no approval was asked after the two protected ones"
    );
}

#[test]
fn a_session_whose_workdir_holds_the_store_is_refused() {
    let dir = workdir("store-inside");
    let store = dir.join(".local/share/tandem");
    let config = json!({"store_dir": store}).to_string();
    let c = Client::new(Some(&config)).unwrap();
    let opts = json!({"model": "scripted:echo", "workdir": dir}).to_string();
    let e = c.start_session(Some(&opts)).unwrap_err();
    assert!(
        matches!(e, tandem::Error::InvalidArgument(_)) && e.to_string().contains("overlap"),
        "{e}"
    );
    let elsewhere = workdir("store-apart");
    let opts = json!({"model": "scripted:echo", "workdir": elsewhere}).to_string();
    c.start_session(Some(&opts)).unwrap();
}

#[test]
fn the_snapshot_says_what_the_shell_sandbox_enforces() {
    let c = client();
    let dir = std::env::temp_dir().join(format!("tandem-snap-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = serde_json::json!({"workdir": dir, "sandbox": {"mode": "read-only"}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let snap = c.snapshot(&id).unwrap();
    let sandbox = &snap["sandbox"];
    assert_eq!(sandbox["mode"], "read-only", "{snap}");
    assert!(sandbox["not_enforced"].is_array(), "{snap}");
    // This machine's kernel has Landlock: writes are confined, and nothing is reported missing for that.
    if sandbox["landlock_abi"].as_u64().is_some() {
        assert_eq!(sandbox["filesystem"], "landlock");
    }
    // No shell tool, no report.
    let no_shell = serde_json::json!({"workdir": dir, "tools": ["read_file"]});
    let other = c.start_session(Some(&no_shell.to_string())).unwrap();
    assert!(c.snapshot(&other).unwrap()["sandbox"].is_null());
    let bare = c.start_session(None).unwrap();
    assert!(c.snapshot(&bare).unwrap()["sandbox"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}
