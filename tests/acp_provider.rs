//! The ACP provider (`"provider": "acp"`) against a real ACP agent: tandem-acp itself running the scripted model (a
//! round trip: ACP provider → tandem-acp → scripted model), so the transcript can be compared with the same
//! scripted conversation run directly; its permission requests become this session's approvals and its file writes
//! go through this session's file tools (confined, bounded, recorded).
#![cfg(feature = "acp")]

mod common;

use std::time::Duration;

use common::acp::*;
use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::Client;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

impl Dirs {
    /// Options of a session whose provider is tandem-acp running `script`.
    fn acp_options(&self, script: &Value) -> String {
        self.acp_options_with(script, json!({}))
    }

    /// Options of a session whose provider is tandem-acp running `script`, its sessions' defaults with `extra`.
    fn acp_options_with(&self, script: &Value, extra: Value) -> String {
        let config = self.0.join("inner.json");
        let mut c = json!({"session_defaults": {"model": "scripted:script", "script": script}});
        for (k, v) in extra.as_object().unwrap() {
            c["session_defaults"][k] = v.clone();
        }
        std::fs::write(&config, c.to_string()).unwrap();
        let command = [
            env!("CARGO_BIN_EXE_tandem-acp"),
            "--store-dir",
            &self.0.join("inner-store").display().to_string(),
            "--config",
            &config.display().to_string(),
        ];
        json!({"provider": "acp", "acp_command": command, "workdir": self.work()}).to_string()
    }
}

/// Asserts that `hay` contains `needle`; `what` says why it should.
fn contains(hay: &str, needle: &str, what: &str) {
    assert!(hay.contains(needle), "{what}: {needle:?} not in {hay}");
}

/// Starts a session with `options` whose first turn fails with an error naming `why`; returns its client.
fn first_turn_fails(options: &str, why: &str) -> Client {
    let (c, id) = session(options);
    c.send_prompt(&id, text("hi")).unwrap();
    let (err, _) = wait_for(&c, WAIT, |e| e["kind"] == "error");
    contains(err["message"].as_str().unwrap(), why, "the turn's error");
    assert_eq!(turn_ended(&c, &id)["reason"], "error");
    c
}

#[test]
fn a_round_trip_through_tandem_acp_says_what_the_direct_run_says() {
    let d = Dirs::new("trip");
    let script =
        json!([[{"thinking": "plan"}, {"text": "Hello "}, {"text": "there"}], [{"text": "again"}]]);
    let c = Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let via = c.start_session(Some(&d.acp_options(&script))).unwrap();
    let direct_opts = json!({"model": "scripted:script", "script": script, "workdir": d.work()});
    let direct = c.start_session(Some(&direct_opts.to_string())).unwrap();
    for id in [&via, &direct] {
        for prompt in ["hi", "more"] {
            c.send_prompt(id, text(prompt)).unwrap();
            assert_eq!(turn_ended(&c, id)["reason"], "completed");
        }
    }
    assert_eq!(said(&c, &via), said(&c, &direct));
    assert_eq!(
        said(&c, &via),
        [
            json!({"user": "hi"}),
            json!({"thinking": "plan"}),
            json!({"assistant": "Hello there"}),
            json!({"user": "more"}),
            json!({"assistant": "again"})
        ]
    );
}

#[test]
fn the_agents_write_is_an_approval_here_and_goes_through_tandems_file_tools() {
    let d = Dirs::new("write");
    let write = |id: &str, path: &str| json!({"tool_call": {"id": id, "name": "write_file", "args": {"path": path, "content": "x\n"}}});
    let script =
        json!([[write("w1", "a.txt")], [write("w2", "../escape.txt")], [{"text": "done"}]]);
    let (c, id) = session(&d.acp_options(&script));
    c.send_prompt(&id, text("write")).unwrap();
    let mut seen = Vec::new();
    for call in ["w1", "w2"] {
        let (ev, before) = wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
        seen.extend(before);
        assert_eq!(ev["approval"]["tool_call_id"], call);
        assert_eq!(
            ev["approval"]["name"], "write_file",
            "the agent's own tool name"
        );
        c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    }
    let (ended, rest) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    seen.extend(rest);
    assert_eq!(ended["reason"], "completed");
    let changes = seen.iter().filter(|e| e["kind"] == "file_changed").count();
    assert_eq!(
        changes, 1,
        "the write is recorded once, not again from the agent's diff: {seen:?}"
    );
    assert_eq!(
        std::fs::read_to_string(d.work().join("a.txt")).unwrap(),
        "x\n"
    );
    assert!(
        !d.0.join("escape.txt").exists(),
        "the escape was refused by tandem's file code"
    );
    let said = said(&c, &id);
    assert_eq!(said[1]["status"], "complete", "{said:?}");
    assert_eq!(said[2]["is_error"], true, "{said:?}");
    let touched = c.touched_files(&id).unwrap().to_string();
    contains(&touched, "a.txt", "the write is recorded here");
}

#[test]
fn a_rejected_permission_fails_the_agents_call_and_abort_cancels_its_turn() {
    let d = Dirs::new("reject");
    let write = json!({"tool_call": {"id": "w1", "name": "write_file", "args": {"path": "a.txt", "content": "x"}}});
    let script = json!([[write], [{"text": "ok"}], [{"text": "slow"}, {"delay_ms": 600000}]]);
    let (c, id) = session(&d.acp_options(&script));
    c.send_prompt(&id, text("write")).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    assert!(!d.work().join("a.txt").exists());
    c.send_prompt(&id, text("slow")).unwrap();
    wait_for(&c, WAIT, |e| {
        e["kind"] == "text_delta" && e["delta"] == "slow"
    });
    c.abort(&id).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "aborted");
}

#[test]
fn an_agent_that_cannot_start_fails_the_turn_with_its_reason() {
    let bad = json!({"provider": "acp", "acp_command": ["/nonexistent/tandem-test/agent"]});
    let c = first_turn_fails(&bad.to_string(), "cannot start the ACP agent");
    let missing = c.start_session(Some(r#"{"provider": "acp"}"#)).unwrap_err();
    assert!(missing.to_string().contains("acp_command"), "{missing}");
}

#[test]
fn an_agent_crashing_mid_turn_fails_that_turn_and_the_next_loads_its_session_again() {
    let d = Dirs::new("crash");
    let (c, id) = session(&fault_options(&d, "crash", json!({})));
    c.send_prompt(&id, text("one")).unwrap();
    let (err, _) = wait_for(&c, WAIT, |e| e["kind"] == "error");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("exited mid-turn") && msg.contains("crashing on purpose"),
        "{msg}"
    );
    assert_eq!(turn_ended(&c, &id)["reason"], "error");
    // The provider is not ready while the restart waits out its backoff.
    while let Err(e) = c.send_prompt(&id, text("two")) {
        assert!(matches!(e, tandem::Error::ProviderNotReady(_)), "{e}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    let msgs = c.messages(&id).unwrap().to_string();
    contains(
        &msgs,
        "loaded fault-1",
        "the new process loaded the session",
    );
    contains(&msgs, "loaded its session", "the host is told");
}

#[test]
fn garbage_on_the_agents_stdout_does_not_break_the_turn() {
    let d = Dirs::new("garbage");
    let (c, id) = session(&fault_options(&d, "garbage", json!({})));
    c.send_prompt(&id, text("hi")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    assert_eq!(said(&c, &id)[1], json!({"assistant": "still here"}));
}

#[test]
fn an_agent_that_never_answers_initialize_fails_the_turn() {
    let d = Dirs::new("silent");
    let opts = fault_options(&d, "silent", json!({"stream_idle_timeout_ms": 500}));
    first_turn_fails(&opts, "did not initialize within 500 ms");
}

#[test]
fn a_permission_asked_after_cancel_is_answered_cancelled_and_never_reaches_the_host() {
    let d = Dirs::new("late");
    let (c, id) = session(&fault_options(&d, "late_permission", json!({})));
    c.send_prompt(&id, text("one")).unwrap();
    wait_for(&c, WAIT, |e| {
        e["kind"] == "text_delta" && e["delta"] == "waiting"
    });
    c.abort(&id).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "aborted");
    c.send_prompt(&id, text("two")).unwrap();
    let (_, seen) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    assert!(
        seen.iter().all(|e| e["kind"] != "approval_pending"),
        "{seen:?}"
    );
    let msgs = c.messages(&id).unwrap().to_string();
    contains(
        &msgs,
        "late permission: cancelled",
        "the late request was answered",
    );
}

/// Waits until the agent reports `want` (its model, thought level or mode, in the session's metadata).
fn agent_reports(c: &Client, id: &str, key: &str, want: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let meta = c.metadata(id).unwrap();
        if meta["acp_agent"][key] == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never reported {key} {want}: {meta}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn model_thinking_and_plan_switches_reach_the_agents_config_options_and_modes() {
    let d = Dirs::new("config");
    // The agent runs the built-in echo model, and can switch to the demo (no script: it would win over both).
    let inner = json!({"model": "scripted:echo", "script": null,
        "models": ["scripted:echo", "scripted:demo"]});
    let (c, id) = session(&d.acp_options_with(&json!([]), inner));
    c.send_prompt(&id, text("hi")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    assert_eq!(said(&c, &id)[1], json!({"assistant": "hi"}));
    // The agent's session is open: its model option is the list, its current value marked.
    assert_eq!(
        c.available_models(&id).unwrap(),
        json!([
            {"model": "acp:scripted:echo", "provider": "acp", "name": "scripted:echo", "current": true},
            {"model": "acp:scripted:demo", "provider": "acp", "name": "scripted:demo", "current": false}
        ])
    );
    let unknown = c.set_model(&id, "acp:scripted:nope").unwrap_err();
    assert!(matches!(unknown, tandem::Error::NotFound(_)), "{unknown}");
    assert!(unknown.to_string().contains("scripted:demo"), "{unknown}");
    c.set_model(&id, "acp:scripted:demo").unwrap();
    c.set_thinking_level(&id, "high").unwrap();
    // Sent to the agent at once, between turns.
    agent_reports(&c, &id, "model", "scripted:demo");
    agent_reports(&c, &id, "thought_level", "high");
    assert_eq!(c.available_models(&id).unwrap()[1]["current"], true);
    assert_eq!(
        c.cycle_thinking_level(&id).unwrap(),
        json!({"level": "off"})
    );
    agent_reports(&c, &id, "thought_level", "off");
    // The agent now runs the demo: it lists the (empty) workdir and says so.
    c.send_prompt(&id, text("look around")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    let last = said(&c, &id).last().unwrap().to_string();
    contains(&last, "no regular files to read", "the demo model answered");
    // tandem-acp has plan and exec modes: plan mode switches the agent's mode too, and back.
    agent_reports(&c, &id, "mode", "exec");
    c.enter_plan(&id).unwrap();
    agent_reports(&c, &id, "mode", "plan");
    c.enter_exec(&id).unwrap();
    agent_reports(&c, &id, "mode", "exec");
    // Without a rotation of its own, the session cycles through the agent's models.
    let cycled = c.cycle_model(&id).unwrap();
    assert_eq!(cycled["model"], "acp:scripted:echo", "{cycled}");
    agent_reports(&c, &id, "model", "scripted:echo");
}

#[test]
fn an_agent_without_config_options_cannot_switch_model_or_thinking() {
    let d = Dirs::new("noconfig");
    let (c, id) = session(&fault_options(&d, "garbage", json!({})));
    c.send_prompt(&id, text("hi")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    for e in [
        c.set_model(&id, "acp:other").unwrap_err(),
        c.set_thinking_level(&id, "high").unwrap_err(),
    ] {
        assert!(matches!(e, tandem::Error::NotSupported(_)), "{e}");
        assert!(e.to_string().contains("offers no"), "{e}");
    }
    // No modes: plan mode stays tandem's own.
    c.enter_plan(&id).unwrap();
    assert_eq!(c.metadata(&id).unwrap()["acp_agent"]["mode"], Value::Null);
}

#[test]
fn a_session_started_again_after_tandem_restarts_loads_the_agents_session() {
    let d = Dirs::new("resume");
    let store = d.0.join("outer-store");
    let config = json!({"store_dir": store}).to_string();
    let options = d.acp_options_with(
        &json!([]),
        json!({"model": "scripted:echo", "script": null}),
    );
    let c = Client::new(Some(&config)).unwrap();
    let id = c.start_or_get_session("resumed", Some(&options)).unwrap();
    c.send_prompt(&id, text("first")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    drop(c);
    // The agent's session ID is kept beside the session's record.
    let kept = std::fs::read_to_string(store.join("sessions/resumed.acp")).unwrap();
    let agent_session = serde_json::from_str::<Value>(&kept).unwrap()["acp_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = Client::new(Some(&config)).unwrap();
    let id = c.start_or_get_session("resumed", Some(&options)).unwrap();
    c.send_prompt(&id, text("second")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    let msgs = c.messages(&id).unwrap().to_string();
    contains(&msgs, "loaded its earlier session", "the host is told");
    assert!(!msgs.contains("without the earlier conversation"), "{msgs}");
    drop(c);
    // The agent (tandem-acp) went on with the same session: its stored conversation has both prompts.
    let inner = json!({"store_dir": d.0.join("inner-store")}).to_string();
    let agent = Client::new(Some(&inner)).unwrap();
    let sessions = agent.list_conversations().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    agent.start_or_get_session(&agent_session, None).unwrap();
    let users: Vec<Value> = said(&agent, &agent_session)
        .into_iter()
        .filter(|m| m.get("user").is_some())
        .collect();
    assert_eq!(users, [json!({"user": "first"}), json!({"user": "second"})]);
}

#[test]
fn an_agents_terminal_runs_as_an_approved_shell_call_and_a_rejected_one_is_an_error() {
    let d = Dirs::new("terminal");
    let (c, id) = session(&fault_options(&d, "terminal", json!({})));
    c.send_prompt(&id, text("run it")).unwrap();
    let (ev, _) = wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    assert_eq!(ev["approval"]["name"], "shell");
    contains(
        &ev["approval"]["args"].to_string(),
        "printf",
        "the host sees the command",
    );
    c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    let said1 = said(&c, &id);
    assert_eq!(
        said1.last().unwrap(),
        &json!({"assistant": "exit=3 output=three truncated=true"}),
        "{said1:?}"
    );
    assert_eq!(said1[1]["tool"], "run", "the agent's call: {said1:?}");
    assert_eq!(
        said1[2]["tool"], "shell",
        "the terminal's own call: {said1:?}"
    );
    assert_eq!(
        said1[2]["is_error"], true,
        "the command exited 3: {said1:?}"
    );
    assert_eq!(
        tool_calls(&c, &id)[0]["result"],
        "one two three",
        "the call showing the terminal has its whole output"
    );
    c.send_prompt(&id, text("again")).unwrap();
    wait_for(&c, WAIT, |e| e["kind"] == "approval_pending");
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    let last = said(&c, &id).last().unwrap().to_string();
    contains(&last, "terminal error:", "the agent got an error");
}

#[test]
fn a_session_without_a_workdir_offers_no_terminal() {
    let d = Dirs::new("noterminal");
    let opts = fault_options(&d, "terminal", json!({}));
    let mut o: Value = serde_json::from_str(&opts).unwrap();
    o.as_object_mut().unwrap().remove("workdir");
    let (c, id) = session(&o.to_string());
    c.send_prompt(&id, text("run it")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    assert_eq!(
        said(&c, &id).last().unwrap(),
        &json!({"assistant": "no terminal capability"})
    );
}

#[test]
fn the_agents_plan_updates_become_plan_updated_events() {
    let d = Dirs::new("plan");
    let (c, id) = session(&fault_options(&d, "plan", json!({})));
    c.send_prompt(&id, text("plan it")).unwrap();
    let (_, seen) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    let plans: Vec<&Value> = seen
        .iter()
        .filter(|e| e["kind"] == "plan_updated")
        .collect();
    let entry = |content: &str, status: &str| json!({"content": content, "priority": "high", "status": status});
    assert_eq!(plans.len(), 2, "{seen:?}");
    assert_eq!(
        plans[0]["entries"],
        json!([entry("read", "in_progress"), entry("write", "pending")]),
        "the malformed entry is left out"
    );
    assert_eq!(
        plans[1]["entries"],
        json!([entry("read", "completed"), entry("write", "in_progress")])
    );
    for p in plans {
        check_schema("schemas/tandem.schema.json", "event", p);
    }
    assert_eq!(
        said(&c, &id).last().unwrap(),
        &json!({"assistant": "planned"})
    );
}

#[test]
fn terminals_follow_the_sessions_rule_for_the_shell_tool() {
    for (rule, said_last) in [
        ("allow", "exit=3 output=three truncated=true"),
        ("deny", "terminal error:"),
    ] {
        let d = Dirs::new(&format!("termrule-{rule}"));
        let extra = json!({"tool_permissions": {"shell": rule}});
        let (c, id) = session(&fault_options(&d, "terminal", extra));
        c.send_prompt(&id, text("run it")).unwrap();
        let (_, seen) = wait_for(&c, WAIT, |e| {
            e["kind"] == "turn_ended" && e["session_id"] == id
        });
        assert!(
            seen.iter().all(|e| e["kind"] != "approval_pending"),
            "{rule}: {seen:?}"
        );
        let last = said(&c, &id).last().unwrap().to_string();
        contains(&last, said_last, rule);
    }
}

#[test]
fn a_terminal_left_running_is_killed_when_the_turn_ends() {
    let d = Dirs::new("termleak");
    let extra = json!({"tool_permissions": {"shell": "allow"}});
    let (c, id) = session(&fault_options(&d, "terminal_leak", extra));
    c.send_prompt(&id, text("run it")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    assert_eq!(
        said(&c, &id).last().unwrap(),
        &json!({"assistant": "left it running"})
    );
    // The command held the lock while the turn ran; killed with the turn, it lets go.
    let lock = std::fs::File::open(d.work().join("held.lock")).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while lock.try_lock().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the terminal's command still runs after the turn ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_new_conversation_opens_a_new_acp_session() {
    let d = Dirs::new("newconv");
    let options = d.acp_options_with(
        &json!([]),
        json!({"model": "scripted:echo", "script": null}),
    );
    let (c, id) = session(&options);
    c.send_prompt(&id, text("first")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    c.send_prompt(&id, text("more")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    c.new_conversation(&id).unwrap();
    c.send_prompt(&id, text("second")).unwrap();
    assert_eq!(turn_ended(&c, &id)["reason"], "completed");
    drop(c);
    // tandem-acp kept two sessions: the first conversation's two turns, then the new one's.
    let inner = json!({"store_dir": d.0.join("inner-store")}).to_string();
    let agent = Client::new(Some(&inner)).unwrap();
    let stored = agent.list_conversations().unwrap();
    let mut turns: Vec<u64> = stored
        .iter()
        .map(|s| s["turn_count"].as_u64().unwrap())
        .collect();
    turns.sort_unstable();
    assert_eq!(turns, [1, 2], "{stored:?}");
    assert_ne!(stored[0]["session_id"], stored[1]["session_id"]);
}
