//! Every JSON document tandem returns validates against schemas/tandem.schema.json, and the documented inputs do too.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::state::{EditOp, QueueOp};
use tandem::session::transcript::ContentPart;

fn validator(def: &str) -> jsonschema::Validator {
    schema_validator("schemas/tandem.schema.json", def)
}

fn check(def: &str, doc: &Value) {
    check_schema("schemas/tandem.schema.json", def, doc);
}

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

#[test]
fn real_outputs_validate() {
    let dir = std::env::temp_dir().join(format!("tandem-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "hello\n").unwrap();
    let c = client();
    let mut events = Vec::new();

    let demo = c
        .start_session(Some(
            &json!({"model": "scripted:demo", "workdir": dir, "approval": "none"}).to_string(),
        ))
        .unwrap();
    c.send_prompt(&demo, text("tour")).unwrap();
    events.extend(turn_end(&c, &demo).1);

    // A shell command that changes a bounded file outside its boundary (boundary_violated).
    std::fs::write(dir.join("bounded.txt"), "a\nb\n").unwrap();
    let shell =
        json!({"tool_call": {"name": "shell", "args": {"command": "echo c >> bounded.txt"}}});
    let bounded = c
        .start_session(Some(
            &json!({"model": "scripted:x", "workdir": dir, "approval": "none",
                "script": [[shell], [{"text": "done"}]]})
            .to_string(),
        ))
        .unwrap();
    c.set_boundary(&bounded, "bounded.txt", 0, 0).unwrap();
    c.send_prompt(&bounded, text("append")).unwrap();
    events.extend(turn_end(&c, &bounded).1);

    // A prompt sent while a turn runs is queued (prompt_queued) and answered in a turn of its own.
    let slow = c
        .start_session(Some(
            r#"{"script": [[{"delay_ms": 300}, {"text": "a"}], [{"text": "b"}]]}"#,
        ))
        .unwrap();
    c.send_prompt(&slow, text("first")).unwrap();
    c.send_prompt(&slow, text("queued")).unwrap();
    c.queue_follow_up(&slow, text("follow")).unwrap();
    check("queued_messages", &c.queues(&slow, QueueOp::Show).unwrap());
    check(
        "queue_entries",
        &c.queues(&slow, QueueOp::DequeueSteering).unwrap(),
    );
    c.send_prompt(&slow, text("queued again")).unwrap();
    events.extend(turn_end(&c, &slow).1);
    events.extend(turn_end(&c, &slow).1);

    let failing = json!({"max_turns": 1, "script": [[{"tool_call": {"name": "nope"}}], [{"error": {"status": 500}}]]});
    let s = c.start_session(Some(&failing.to_string())).unwrap();
    c.send_prompt(&s, text("x")).unwrap();
    events.extend(turn_end(&c, &s).1);
    c.send_prompt(&s, text("y")).unwrap();
    events.extend(turn_end(&c, &s).1);

    let crashy = c
        .start_session(Some(
            r#"{"script": [[{"panic": "p"}], [{"stall_ms": 60000}]]}"#,
        ))
        .unwrap();
    c.send_prompt(&crashy, text("x")).unwrap();
    events.extend(
        wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "session_restarted"
        })
        .1,
    );
    retry_pending(|| c.send_prompt(&crashy, text("y"))).unwrap();
    events.extend(
        wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "context_usage" && e["session_id"] == crashy.as_str()
        })
        .1,
    );
    c.abort(&crashy).unwrap();
    events.extend(turn_end(&c, &crashy).1);

    // Approvals: one rejected, one approved for the session (the next call is auto-approved), one timed out.
    let call =
        |id: &str| json!([{"tool_call": {"name": "shell", "args": {"command": "ls"}, "id": id}}]);
    let opts = json!({"approval_timeout_ms": 300, "workdir": dir, "script": [call("r"), call("s"), call("t"), [{"text": "x"}]]});
    let ask = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&ask, text("x")).unwrap();
    let (p, seen) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    events.extend(seen);
    check("snapshot", &c.snapshot(&ask).unwrap());
    c.respond_to_approval(
        &ask,
        p["approval"]["approval_id"].as_str(),
        tandem::session::approvals::Decision::Reject,
    )
    .unwrap();
    events.extend(
        wait_for(&c, Duration::from_secs(5), |e| {
            e["kind"] == "approval_pending"
        })
        .1,
    );
    c.respond_to_approval(
        &ask,
        None,
        tandem::session::approvals::Decision::ApproveSession,
    )
    .unwrap();
    events.extend(turn_end(&c, &ask).1);
    c.enter_plan(&ask).unwrap();
    c.enter_exec(&ask).unwrap();

    let h = c.start_subagent(Some(&demo), "sub task", None).unwrap();
    check("subagent_handle", &h);
    events.extend(
        wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "subagent_finished"
        })
        .1,
    );
    check("subagent_handles", &c.list_subagents(None).unwrap());

    for id in [&demo, &s, &crashy] {
        check("messages", &c.messages(id).unwrap());
        check("messages_page", &c.messages_page(id, 0, 3).unwrap());
        check("metadata", &c.metadata(id).unwrap());
        check("snapshot", &c.snapshot(id).unwrap());
        check("usage", &c.usage(id).unwrap());
        check(
            "events_since",
            &serde_json::to_value(c.events_since(id, 2).unwrap()).unwrap(),
        );
    }
    check("session_list", &Value::Array(c.list_sessions().unwrap()));
    {
        let store = dir.join("store");
        let stored = tandem::Client::new(Some(
            &json!({"store_dir": store, "fsync": "always"}).to_string(),
        ))
        .unwrap();
        let id = stored.start_session(None).unwrap();
        stored.send_prompt(&id, text("listed")).unwrap();
        turn_end(&stored, &id);
        stored.new_conversation(&id).unwrap();
        let list = stored.list_conversations().unwrap();
        assert_eq!(list.len(), 2);
        check("conversation_list", &Value::Array(list));
        check("metadata", &stored.metadata(&id).unwrap());
    }
    let opts = json!({"workdir": dir, "compaction": {"keep_recent": 2},
        "script": [[{"text": "A"}], [{"text": "B"}], [{"text": "sum"}], [{"text": "# S"}]]});
    let comp = c.start_session(Some(&opts.to_string())).unwrap();
    check("compacted", &c.compact(&comp).unwrap());
    for p in ["one", "two"] {
        c.send_prompt(&comp, text(p)).unwrap();
        events.extend(turn_end(&c, &comp).1);
    }
    check("compacted", &c.compact(&comp).unwrap());
    check("messages", &c.messages(&comp).unwrap());
    check("summary", &c.summarize(&comp).unwrap());
    let rot = c
        .start_session(Some(
            r#"{"models": ["scripted:echo", "scripted:demo:high"]}"#,
        ))
        .unwrap();
    check("cycled_model", &c.cycle_model(&rot).unwrap());
    check(
        "cycled_thinking_level",
        &c.cycle_thinking_level(&rot).unwrap(),
    );
    check("available_models", &c.available_models(&rot).unwrap());
    check("commands", &c.commands(&rot).unwrap());
    check("skills", &c.list_skills(&demo).unwrap());
    check(
        "branch_created",
        &c.edit(&demo, EditOp::BranchAt(2)).unwrap(),
    );
    check("branches", &c.list_branches(&demo).unwrap());
    let user_id = user_messages(&c, &demo)[0]["id"].as_u64().unwrap();
    check(
        "content_parts",
        &json!(c.message_parts(&demo, user_id).unwrap()),
    );
    c.set_boundary(&demo, "notes.txt", 1, 2).unwrap();
    check("boundary", &c.boundary_for(&demo, "notes.txt").unwrap());
    check("boundary", &c.boundary_for(&demo, "other.txt").unwrap());
    check("touched_files", &c.touched_files(&demo).unwrap());
    c.stop_session(&s).unwrap();
    c.shutdown(Duration::from_secs(5)).unwrap();
    let batch = c.next_events(4).unwrap();
    assert!(!batch.is_empty());
    let batch: Value = serde_json::from_str(&tandem::events::Event::batch_to_json(&batch)).unwrap();
    check("event_batch", &batch);
    events.extend(batch.as_array().unwrap().iter().cloned());
    check("event_batch", &json!([]));
    while let Ok(e) = c.next_event(Duration::from_millis(100)) {
        events.push(serde_json::from_str(&e.to_json()).unwrap());
    }

    let mut kinds = BTreeSet::new();
    for e in &events {
        check("event", e);
        kinds.insert(e["kind"].as_str().unwrap().to_string());
    }
    let expected = [
        "boundary_violated",
        "context_usage",
        "error",
        "messages_changed",
        "prompt_queued",
        "session_restarted",
        "session_started",
        "session_stopped",
        "status_changed",
        "subagent_finished",
        "subagent_started",
        "text_delta",
        "thinking_delta",
        "tool_ended",
        "tool_started",
        "turn_ended",
        "turn_limit_reached",
    ];
    for k in expected {
        assert!(
            kinds.contains(k),
            "no {k} event was produced; saw {kinds:?}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dropped_events_are_reported_in_schema() {
    let c =
        tandem::Client::new(Some(r#"{"store_dir": null, "event_queue_capacity": 16}"#)).unwrap();
    let steps: Vec<Value> = (0..200).map(|i| json!({"text": format!("{i} ")})).collect();
    let id = c
        .start_session(Some(&json!({"script": [steps]}).to_string()))
        .unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (_, events) = turn_end(&c, &id);
    let dropped = events
        .iter()
        .find(|e| e["kind"] == "events_dropped")
        .expect("an events_dropped event");
    check("event", dropped);
    let streamed = text_of(&events, &id);
    assert_eq!(
        streamed,
        (0..200).map(|i| format!("{i} ")).collect::<String>(),
        "coalescing keeps every character"
    );
}

#[test]
fn documented_inputs_validate_and_bad_ones_do_not() {
    check(
        "client_config",
        &json!({"store_dir": null, "worker_threads": 2, "restart": {"max_attempts": 5}, "session_defaults": {"model": "scripted:echo"}}),
    );
    check(
        "session_options",
        &json!({"session_id": "s-1", "model": "scripted:demo", "workdir": "/tmp", "thinking_level": "low", "approval": "all",
            "tool_permissions": {"shell": "deny"}, "max_turns": 3, "max_cost": 1.5,
            "script": [[{"text": "a"}, {"tool_call": {"name": "t", "args": {}}}, {"error": {"status": 429, "retry_after_ms": 5}}]]}),
    );
    check(
        "session_options",
        &json!({"provider": "pi", "model": "anthropic:claude-sonnet-4-5", "pi_command": ["npx", "pi"]}),
    );
    check(
        "content_parts",
        &json!([{"type": "text", "text": "hi"}, {"type": "image", "media_type": "image/png", "data": "aGk="}]),
    );
    check(
        "subagent_options",
        &json!({"model": "scripted:echo", "tools": ["read_file"], "detached": true}),
    );
    let sub = validator("subagent_options");
    for bad in [json!({"detached": "yes"}), json!({"modle": "x"})] {
        assert!(!sub.is_valid(&bad), "schema accepts {bad}");
        assert!(
            client()
                .start_subagent(None, "t", Some(&bad.to_string()))
                .is_err(),
            "library accepts {bad}"
        );
    }
    assert!(
        !validator("session_options").is_valid(&json!({"detached": true})),
        "detached is a sub-agent option only"
    );
    assert!(client()
        .start_session(Some(r#"{"detached": true}"#))
        .is_err());
    check(
        "queue_entries_text_input",
        &json!(["typed text", [{"type": "text", "text": "hi"}, {"type": "image", "media_type": "image/png", "data": "aGk="}]]),
    );
    assert!(!validator("queue_entries_text_input").is_valid(&json!([1])));
    let v = validator("session_options");
    for bad in [
        json!({"modle": "x"}),
        json!({"session_id": "../x"}),
        json!({"max_turns": 0}),
        json!({"script": [[{"text": "a", "panic": "b"}]]}),
    ] {
        assert!(!v.is_valid(&bad), "schema accepts {bad}");
        assert!(
            tandem::Client::new(None)
                .unwrap()
                .start_session(Some(&bad.to_string()))
                .is_err(),
            "library accepts {bad}"
        );
    }
}

/// Hands each host provider request to the test.
struct RequestSink(std::sync::Mutex<std::sync::mpsc::Sender<tandem::provider::host::Request>>);

impl tandem::provider::host::HostProviderSink for RequestSink {
    fn invoke(&self, request: &tandem::provider::host::Request) {
        let _ = self.0.lock().unwrap().send(request.clone());
    }
    fn release(&self) {}
}

#[test]
fn host_provider_requests_and_events_follow_the_schema() {
    let c = client();
    let (tx, rx) = std::sync::mpsc::channel();
    c.set_provider(Some(Box::new(RequestSink(std::sync::Mutex::new(tx)))))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("tandem-schema-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts =
        json!({"provider": "host", "workdir": dir, "tools": ["read_file"], "system_prompt": "S"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("hi")).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    check("provider_request", &serde_json::from_str(&r.json).unwrap());
    let rid = r.request_id;
    let events = [
        json!({"request_id": rid, "type": "thinking_delta", "text": "t"}),
        json!({"request_id": rid, "type": "thinking_signature", "signature": "s"}),
        json!({"request_id": rid, "type": "text_delta", "text": "x"}),
        json!({"request_id": rid, "type": "tool_call", "id": "c1", "name": "read_file", "args": {"path": "nope"}}),
        json!({"request_id": rid, "type": "usage", "input": 1, "output": 2, "cost": 0.1}),
        json!({"request_id": rid, "type": "done", "stop_reason": "tool_use"}),
    ];
    for e in &events {
        check("provider_event", e);
        c.provider_emit_json(&id, &e.to_string()).unwrap();
    }
    // The second request carries every message shape: user, assistant with thinking and a call, tool result.
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second: Value = serde_json::from_str(&r.json).unwrap();
    check("provider_request", &second);
    assert_eq!(second["messages"].as_array().unwrap().len(), 3);
    let end =
        json!({"request_id": r.request_id, "type": "error", "message": "m", "retryable": false});
    check("provider_event", &end);
    c.provider_emit_json(&id, &end.to_string()).unwrap();
    turn_end(&c, &id);
    let v = validator("provider_event");
    for bad in [
        json!({"request_id": 1, "type": "nope"}),
        json!({"request_id": 1, "type": "text_delta"}),
        json!({"request_id": 1, "type": "tool_call", "id": "", "name": "x"}),
        json!({"request_id": 1, "type": "usage", "tokens": 1}),
        json!({"type": "done"}),
        json!({"request_id": -1, "type": "done"}),
    ] {
        assert!(!v.is_valid(&bad), "schema accepts {bad}");
        assert!(
            matches!(
                c.provider_emit_json(&id, &bad.to_string()),
                Err(tandem::Error::InvalidArgument(_))
            ),
            "library accepts {bad}"
        );
    }
}

#[test]
#[cfg(feature = "mcp")] // starts MCP servers; tests/no_mcp.rs covers the build without them
fn mcp_servers_follow_the_schema() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/fake_server.py");
    let servers = json!({
        "ok": {"command": "python3", "args": [script, "ok"], "env": {"HOME": "$HOME"}, "trust": "untrusted"},
        "exits": {"command": "python3", "args": [script, "exit"], "startup_timeout_ms": 5000}
    });
    let as_array = json!([
        {"name": "ok", "command": "python3", "args": [script, "ok"], "env": [{"name": "HOME", "value": "$HOME"}]},
        {"name": "web", "type": "http", "url": "https://example.com/mcp", "headers": [{"name": "X", "value": "1"}],
         "bearer_token_env": "TOKEN", "timeout_ms": 5000, "disabled": true}
    ]);
    check("session_options", &json!({"mcp_servers": servers}));
    check("session_options", &json!({"mcp_servers": as_array}));
    check("client_config", &json!({"mcp_servers": as_array}));
    let v = validator("session_options");
    for bad in [
        json!({"mcp_servers": {"x": {"command": "c", "bogus": 1}}}),
        json!({"mcp_servers": [{"command": "c"}]}),
        json!({"mcp_servers": {"x": {"type": "ws", "url": "http://h"}}}),
        json!({"mcp_servers": {"x": {"command": "c", "timeout_ms": 0}}}),
    ] {
        assert!(!v.is_valid(&bad), "schema accepts {bad}");
        assert!(
            client().start_session(Some(&bad.to_string())).is_err(),
            "library accepts {bad}"
        );
    }
    let c = client();
    let id = c
        .start_session(Some(
            &json!({"mcp_servers": servers, "script": [[{"text": "hi"}]]}).to_string(),
        ))
        .unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (_, events) = turn_end(&c, &id);
    let statuses: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "mcp_server_status")
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    for e in statuses {
        check("event", e);
    }
    let listed = c.mcp_servers(&id).unwrap();
    check("mcp_server_list", &listed);
    let commands = c.commands(&id).unwrap();
    assert!(
        commands.to_string().contains("\"mcp_prompt\""),
        "{commands}"
    );
    check("commands", &commands);
    let ok = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ok")
        .unwrap();
    assert_eq!(ok["tools"][0]["gated"], true, "untrusted");
}

#[test]
fn governance_documents_follow_the_schema() {
    let c = client();
    let dir = std::env::temp_dir().join(format!("tandem-schema-gov-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join("AGENTS.md"), "Be brief.\n").unwrap();
    let script = json!([[{"tool_call": {"name": "task", "args": {"prompt": "a b", "model": "scripted:echo"}}}], [{"text": "x"}]]);
    let opts = json!({"model": "scripted:x", "workdir": dir, "approval": "none", "max_tokens_total": 4, "script": script});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    check("context_files", &c.context_files(&id).unwrap());
    c.send_prompt(&id, vec![ContentPart::Text { text: "go".into() }])
        .unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "budget_exhausted");
    let kinds: BTreeSet<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "context_files_loaded",
        "budget_exhausted",
        "subagent_finished",
    ] {
        assert!(kinds.contains(k), "no {k}: {kinds:?}");
    }
    assert!(events.iter().any(|e| e["parent_id"] == id.as_str()));
    for e in &events {
        check("event", e);
    }
    check("snapshot", &c.snapshot(&id).unwrap());
    check("budget", &c.set_budget(&id, r#"{"max_cost": 1}"#).unwrap());
    check(
        "budget_input",
        &json!({"max_cost": null, "max_tokens_total": 5}),
    );
    assert!(!validator("budget_input").is_valid(&json!({"max_tokens_total": 0})));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Records every hook input it sees.
struct InputProbe(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl tandem::hooks::HookSink for InputProbe {
    fn call(&self, input: &str) -> Result<Option<String>, String> {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::from_str(input).unwrap());
        Ok(None)
    }
    fn release(&self) {}
}

#[test]
fn hook_documents_follow_the_schema() {
    let dir = fresh_dir("schemas", "hooks");
    let c = client();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let events = [
        "PreToolUse",
        "PostToolUse",
        "UserPromptSubmit",
        "Stop",
        "SessionStart",
        "PreCompact",
    ];
    for event in events {
        let spec =
            json!({"event": event, "matcher": "", "timeout_ms": 5000, "on_failure": "continue"});
        check("hook_spec", &spec);
        let reg = tandem::hooks::HookSpec::parse(&spec.to_string()).unwrap();
        c.add_hook(&reg, None, Box::new(InputProbe(seen.clone())))
            .unwrap();
    }
    let hooks = json!({"Stop": [{"matcher": null, "hooks": [{"type": "command", "command": "true", "timeout": 5}]}]});
    let options = json!({"workdir": dir, "approval": "none", "hooks": hooks, "compaction": {"keep_recent": 1},
        "hook_settings_files": [".claude/settings.json"],
        "script": [[{"tool_call": {"name": "write_file", "args": {"path": "a.txt", "content": "x"}}}],
                   [{"text": "done"}], [{"text": "two"}], [{"text": "summary"}]]});
    check("session_options", &options);
    let id = c.start_session(Some(&options.to_string())).unwrap();
    for p in ["one", "two"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    c.compact(&id).unwrap();
    let seen = seen.lock().unwrap().clone();
    let names: BTreeSet<&str> = seen
        .iter()
        .map(|v| v["hook_event_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, events.into_iter().collect(), "{seen:?}");
    for input in &seen {
        check("hook_input", input);
    }
    for answer in [
        json!({}),
        json!({"decision": "deny", "reason": "no"}),
        json!({"decision": "allow", "tool_input": {"path": "b.txt"}}),
        json!({"prompt": "p", "additional_context": "c", "tool_result": "r", "is_error": false}),
        json!({"error": "crashed"}),
    ] {
        check("hook_answer", &answer);
        assert!(
            tandem::hooks::Answer::parse(&answer.to_string()).is_ok()
                != answer.get("error").is_some()
        );
    }
    // A failing hook is reported by a hook_failed event.
    let failing =
        tandem::hooks::HookSpec::parse(r#"{"event": "UserPromptSubmit", "on_failure": "deny"}"#)
            .unwrap();
    struct Broken;
    impl tandem::hooks::HookSink for Broken {
        fn call(&self, _: &str) -> Result<Option<String>, String> {
            Ok(Some("{not json".into()))
        }
        fn release(&self) {}
    }
    c.add_hook(&failing, Some(&id), Box::new(Broken)).unwrap();
    assert!(c.send_prompt(&id, text("three")).is_err());
    let (failed, _) = wait_for(&c, Duration::from_secs(10), |e| e["kind"] == "hook_failed");
    check("event", &failed);
    assert_eq!(failed["on_failure"], "deny");
    let v = validator("hook_answer");
    for bad in [json!({"decision": "maybe"}), json!({"bogus": 1})] {
        assert!(!v.is_valid(&bad), "schema accepts {bad}");
        assert!(tandem::hooks::Answer::parse(&bad.to_string()).is_err());
    }
}
