//! End-to-end behaviour of sessions on the scripted model, through the safe Rust API.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::state::PromptOutcome;
use tandem::session::transcript::ContentPart;
use tandem::session::Status;
use tandem::Error;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

#[test]
fn an_echo_turn_streams_in_order_and_ends_idle() {
    let c = client();
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    assert_eq!(id, "session-1");
    assert_eq!(
        c.send_prompt(&id, text("hello big world")).unwrap(),
        PromptOutcome::Sent
    );
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "hello big world");
    let seqs: Vec<u64> = events
        .iter()
        .filter(|e| e["session_id"] == id.as_str())
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "per-session sequence numbers are dense from 1"
    );
    assert_eq!(events[0]["kind"], "session_started");
    assert_eq!(c.status(&id).unwrap(), Status::Idle);
    let status_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .collect();
    assert_eq!(
        status_events
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["thinking", "idle"]
    );
    let msgs = c.messages(&id).unwrap();
    let kinds: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["system", "user", "assistant", "usage"]);
    assert_eq!(msgs[2]["text"], "hello big world");
    assert_eq!(c.usage(&id).unwrap()["input"], 3);
}

#[test]
fn the_demo_lists_reads_and_summarizes_its_workdir() {
    let dir = std::env::temp_dir().join(format!("tandem-demo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("README.md"), "# Widget\n\nA widget factory.\n").unwrap();
    let c = client();
    let opts = json!({"model": "scripted:demo", "workdir": dir}).to_string();
    let id = c.start_session(Some(&opts)).unwrap();
    c.send_prompt(&id, text("Tell me about this project."))
        .unwrap();
    // Counting lines runs `shell`, which asks first.
    let (pending, mut events) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(pending["approval"]["name"], "shell");
    assert_eq!(
        pending["approval"]["preview"]["summary"],
        "wc -l < 'README.md'"
    );
    c.respond_to_approval(&id, None, tandem::session::approvals::Decision::Approve)
        .unwrap();
    let (end, rest) = turn_end(&c, &id);
    events.extend(rest);
    assert_eq!(end["reason"], "completed");
    let tools: Vec<(String, bool)> = events
        .iter()
        .filter(|e| e["kind"] == "tool_ended")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["is_error"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tools,
        vec![
            ("list_directory".into(), false),
            ("read_file".into(), false),
            ("grep".into(), false),
            ("shell".into(), false)
        ]
    );
    assert!(events.iter().any(|e| e["kind"] == "thinking_delta"));
    assert!(
        text_of(&events, &id).contains(
            "the file starts with \"# Widget\", it is 3 lines long, and the workdir has no open TODOs."
        ),
        "{}",
        text_of(&events, &id)
    );
    let msgs = c.messages(&id).unwrap();
    let listing = msgs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "tool_call")
        .unwrap();
    assert_eq!(listing["result"], "src/\nREADME.md");
    assert_eq!(listing["status"], "complete");
    assert!(c.usage(&id).unwrap()["cost"].as_f64().unwrap() > 0.0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_tools_and_missing_workdirs_are_error_results_not_crashes() {
    let c = client();
    let script = json!({"script": [[{"tool_call": {"name": "nope", "args": {}}}], [{"tool_call": {"name": "read_file", "args": {"path": "x"}}}], [{"text": "ok"}]]});
    let id = c.start_session(Some(&script.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    let results: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "tool_ended")
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        vec!["Tool 'nope' not found", "Tool 'read_file' not found"]
    );
    assert_eq!(text_of(&events, &id), "ok");
}

#[test]
fn max_turns_ends_the_turn_cleanly_with_an_error() {
    let c = client();
    let call = json!([{"tool_call": {"name": "nope", "args": {}}}]);
    let opts = json!({"max_turns": 2, "script": [call, call, call, [{"text": "resumed"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    let limit = events
        .iter()
        .find(|e| e["kind"] == "turn_limit_reached")
        .expect("turn_limit_reached");
    assert_eq!(
        (limit["current"].as_u64(), limit["limit"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(events.iter().any(|e| e["kind"] == "error"
        && e["message"]
            .as_str()
            .unwrap()
            .contains("Turn limit reached (2/2)")));
    assert_eq!(c.status(&id).unwrap(), Status::Error);
    assert!(c.snapshot(&id).unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("Turn limit"));
    // As in the seed, `continue` resumes a turn the limit ended, with a fresh count.
    c.continue_turn(&id).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "resumed");
    let last_prompt = user_messages(&c, &id).pop().unwrap();
    assert!(last_prompt["text"]
        .as_str()
        .unwrap()
        .starts_with("You reached the limit of tool rounds"));
    assert!(matches!(
        c.continue_turn(&id),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_model_error_ends_the_turn_and_the_session_stays_usable() {
    let c = client();
    let opts = json!({"script": [[{"text": "par"}, {"error": {"status": 529, "message": "overloaded"}}], [{"text": "fine"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "error" && e["message"] == "HTTP 529: overloaded"));
    assert_eq!(c.status(&id).unwrap(), Status::Error);
    c.send_prompt(&id, text("again")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "fine");
    assert_eq!(c.status(&id).unwrap(), Status::Idle);
}

#[test]
fn abort_stops_a_stalled_turn_promptly() {
    let c = client();
    let id = c
        .start_session(Some(
            r#"{"script": [[{"text": "a"}, {"stall_ms": 60000}, {"text": "never"}]]}"#,
        ))
        .unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    wait_for(&c, Duration::from_secs(5), |e| e["kind"] == "text_delta");
    let t = std::time::Instant::now();
    c.abort(&id).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(end["reason"], "aborted");
    assert!(!text_of(&events, &id).contains("never"));
    assert_eq!(c.status(&id).unwrap(), Status::Idle);
    let msgs = c.messages(&id).unwrap();
    assert_eq!(msgs.as_array().unwrap().last().unwrap()["text"], "Aborted");
    c.abort(&id).unwrap();
    assert_eq!(
        c.messages(&id).unwrap().as_array().unwrap().len(),
        msgs.as_array().unwrap().len(),
        "idle abort is a no-op"
    );
}

#[test]
fn prompts_during_a_turn_are_steering_and_run_next() {
    let c = client();
    let opts = json!({"script": [[{"delay_ms": 200}, {"text": "one"}], [{"text": "two"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    assert_eq!(
        c.send_prompt(&id, text("first")).unwrap(),
        PromptOutcome::Sent
    );
    assert_eq!(
        c.send_prompt(&id, text("second")).unwrap(),
        PromptOutcome::QueuedSteering
    );
    let (_, first) = turn_end(&c, &id);
    assert!(first
        .iter()
        .any(|e| e["kind"] == "prompt_queued" && e["queue"] == "steering"));
    let (end, second) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&second, &id), "two");
    let users: Vec<String> = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users, vec!["first", "second"]);
}

#[test]
fn a_panicking_session_restarts_with_its_conversation_and_token() {
    let c = client();
    let opts = json!({"script": [[{"text": "before"}], [{"text": "x"}, {"panic": "boom"}], [{"text": "after"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let token = c.token(&id).unwrap();
    c.send_prompt(&id, text("one")).unwrap();
    turn_end(&c, &id);
    c.send_prompt(&id, text("two")).unwrap();
    let (restarted, events) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "session_restarted"
    });
    assert_eq!(restarted["attempt"], 1);
    assert!(restarted["reason"].as_str().unwrap().contains("boom"));
    let interrupted = events
        .iter()
        .find(|e| e["kind"] == "turn_ended")
        .expect("the interrupted turn is closed first");
    assert_eq!(interrupted["reason"], "interrupted");
    assert_eq!(retry_pending(|| c.token(&id)).unwrap(), token);
    let msgs = retry_pending(|| c.messages(&id)).unwrap();
    assert!(msgs
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "assistant" && m["text"] == "before"));
    retry_pending(|| c.send_prompt(&id, text("three"))).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "after");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence numbers continue across the restart"
    );
}

#[test]
fn repeated_crashes_exhaust_the_restart_policy() {
    let c = client();
    let panic = json!([{"panic": "again"}]);
    let opts = json!({"script": [panic, panic, panic, panic], "restart": {"max_attempts": 3}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let mut restarts = 0;
    for _ in 0..4 {
        retry_pending(|| c.send_prompt(&id, text("go"))).unwrap();
        let (e, _) = wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "session_restarted" || e["kind"] == "session_stopped"
        });
        if e["kind"] == "session_stopped" {
            assert_eq!(e["reason"], "restart_exhausted");
            assert!(e["detail"].as_str().unwrap().contains("again"));
            assert_eq!(restarts, 3);
            assert!(matches!(c.status(&id), Err(Error::NotFound(_))));
            return;
        }
        restarts += 1;
        assert_eq!(e["attempt"], restarts);
    }
    panic!("never exhausted");
}

#[test]
fn ids_are_generated_unique_and_explicit_ids_are_checked() {
    let c = client();
    assert_eq!(c.start_session(None).unwrap(), "session-1");
    assert_eq!(
        c.start_session(Some(r#"{"session_id": "session-2"}"#))
            .unwrap(),
        "session-2"
    );
    assert_eq!(
        c.start_session(None).unwrap(),
        "session-3",
        "generated IDs skip live ones"
    );
    assert!(matches!(
        c.start_session(Some(r#"{"session_id": "session-1"}"#)),
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(
        c.start_or_get_session("session-1", None).unwrap(),
        "session-1"
    );
    assert_eq!(
        c.start_or_get_session("workdir-abc", None).unwrap(),
        "workdir-abc"
    );
    assert!(matches!(
        c.start_or_get_session("../x", None),
        Err(Error::InvalidArgument(_))
    ));
    let list = c.list_sessions().unwrap();
    let ids: Vec<&str> = list.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec!["session-1", "session-2", "session-3", "workdir-abc"]
    );
    let tokens: std::collections::HashSet<String> =
        ids.iter().map(|id| c.token(id).unwrap()).collect();
    assert_eq!(tokens.len(), 4);
    assert!(tokens.iter().all(|t| t.len() == 43));
}

#[test]
fn stop_and_shutdown_are_announced() {
    let c = client();
    let a = c.start_session(None).unwrap();
    let b = c.start_session(None).unwrap();
    c.stop_session(&a).unwrap();
    let (e, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "session_stopped"
    });
    assert_eq!(
        (e["session_id"].as_str(), e["reason"].as_str()),
        (Some(a.as_str()), Some("stopped"))
    );
    assert!(matches!(c.stop_session(&a), Err(Error::NotFound(_))));
    assert!(matches!(
        c.send_prompt(&a, text("x")),
        Err(Error::NotFound(_))
    ));
    c.shutdown(Duration::from_secs(5)).unwrap();
    let (e, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "session_stopped"
    });
    assert_eq!(
        (e["session_id"].as_str(), e["reason"].as_str()),
        (Some(b.as_str()), Some("shutdown"))
    );
    assert!(matches!(
        c.next_event(Duration::from_secs(5)),
        Err(Error::ShuttingDown)
    ));
    assert!(matches!(c.start_session(None), Err(Error::ShuttingDown)));
    c.shutdown(Duration::from_secs(1)).unwrap();
}

#[test]
fn subagents_run_their_task_and_track_their_parent() {
    let c = client();
    let parent = c.start_session(None).unwrap();
    let h = c
        .start_subagent(
            Some(&parent),
            "count the files",
            Some(r#"{"model": "scripted:echo"}"#),
        )
        .unwrap();
    let sub = h["session_id"].as_str().unwrap().to_string();
    assert_eq!(h["parent_session_id"], parent.as_str());
    assert_eq!(h["task"], "count the files");
    let (_, events) = turn_end(&c, &sub);
    assert!(events
        .iter()
        .any(|e| e["kind"] == "subagent_started" && e["handle"]["session_id"] == sub.as_str()));
    assert_eq!(text_of(&events, &sub), "count the files");
    let meta = c.metadata(&sub).unwrap();
    assert_eq!(
        (
            meta["background"].as_bool(),
            meta["parent_session_id"].as_str()
        ),
        (Some(true), Some(parent.as_str()))
    );
    let orphan = c.start_subagent(None, "alone", None).unwrap();
    assert_eq!(
        c.list_subagents(Some(&parent))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(c.list_subagents(None).unwrap().as_array().unwrap().len(), 2);
    assert!(matches!(
        c.start_subagent(Some("nobody"), "x", None),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.start_subagent(None, "  ", None),
        Err(Error::InvalidArgument(_))
    ));
    c.stop_session(orphan["session_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        c.list_subagents(None).unwrap().as_array().unwrap().len(),
        1,
        "stopping removes the handle"
    );
}

#[test]
fn events_since_replays_the_session_history() {
    let c = client();
    let id = c.start_session(None).unwrap();
    c.send_prompt(&id, text("a b")).unwrap();
    let (end, _) = turn_end(&c, &id);
    let latest = end["seq"].as_u64().unwrap();
    let all = c.events_since(&id, 0).unwrap();
    assert_eq!(all.latest_seq, latest);
    assert!(!all.truncated);
    assert_eq!(all.events.len() as u64, latest);
    assert_eq!(all.events.last().unwrap(), &end);
    assert!(c.events_since(&id, latest).unwrap().events.is_empty());
    assert_eq!(c.events_since(&id, latest - 2).unwrap().events.len(), 2);
}

#[test]
fn filtered_pulls_get_one_sessions_events_and_leave_the_others_queued() {
    let c = client();
    let a = c.start_session(None).unwrap();
    let b = c.start_session(None).unwrap();
    c.send_prompt(&a, text("alpha one")).unwrap();
    c.send_prompt(&b, text("beta two")).unwrap();
    let pull = |id: &str| -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let e = c
                .next_session_event(id, Duration::from_secs(10))
                .expect("the session's events until its turn ends");
            let v: Value = serde_json::from_str(&e.to_json()).unwrap();
            let end = v["kind"] == "turn_ended";
            got.push(v);
            if end {
                return got;
            }
        }
    };
    let events = pull(&b);
    assert!(events.iter().all(|e| e["session_id"] == b.as_str()));
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(text_of(&events, &b), "beta two");
    // a's events were left queued, in order, for an unfiltered puller.
    let (_, rest) = turn_end(&c, &a);
    assert!(rest.iter().all(|e| e["session_id"] == a.as_str()));
    let seqs: Vec<u64> = rest.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(text_of(&rest, &a), "alpha one");
    // A filtered pull of a session ends with its session_stopped, then NotFound.
    c.stop_session(&a).unwrap();
    let stopped = c.next_session_event(&a, Duration::from_secs(10)).unwrap();
    assert_eq!(stopped.kind(), tandem::events::EventKind::SessionStopped);
    assert!(matches!(
        c.next_session_event(&a, Duration::from_secs(10)),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.next_session_event(&b, Duration::from_millis(20)),
        Err(Error::Timeout(_))
    ));
    assert!(matches!(
        c.next_session_event("no-such-session", Duration::ZERO),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn message_pages_walk_backwards() {
    let c = client();
    let id = c.start_session(None).unwrap();
    for p in ["a", "b"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    let page = c.messages_page(&id, 0, 3).unwrap();
    let ids: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![7, 6, 5]);
    assert_eq!(page["has_more"], true);
    let page = c.messages_page(&id, 5, 10).unwrap();
    assert_eq!(page["messages"].as_array().unwrap().len(), 4);
    assert_eq!(page["has_more"], false);
    assert!(matches!(
        c.messages_page(&id, 0, 0),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn steering_reaches_the_agent_between_tool_calls_in_the_same_turn() {
    let c = client();
    let opts = json!({"script": [[{"tool_call": {"name": "nope", "args": {}}}, {"delay_ms": 300}], [{"text": "adjusted"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("start")).unwrap();
    wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "status_changed" && e["status"] == "thinking"
    });
    assert_eq!(
        c.send_prompt(&id, text("use tabs")).unwrap(),
        PromptOutcome::QueuedSteering
    );
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "adjusted");
    let kinds: Vec<String> = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["kind"].as_str().unwrap(),
                m["text"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        &kinds[1..],
        [
            "user:start",
            "tool_call:",
            "user:use tabs",
            "assistant:adjusted"
        ]
    );
    assert_eq!(
        c.queues(&id, tandem::session::state::QueueOp::Show)
            .unwrap(),
        json!({"steering": [], "follow_up": []})
    );
    // Only one turn: the steering did not start another.
    assert!(matches!(
        c.next_event(Duration::from_millis(200)),
        Err(Error::Timeout(_))
    ));
}

#[test]
fn branches_and_boundaries_through_the_client() {
    use tandem::session::state::EditOp;
    let dir = std::env::temp_dir().join(format!("tandem-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.rs"), "fn main() {}\n").unwrap();
    let c = client();
    let id = c
        .start_session(Some(&json!({"workdir": dir}).to_string()))
        .unwrap();
    c.send_prompt(&id, text("one")).unwrap();
    turn_end(&c, &id);
    let b = c.edit(&id, EditOp::BranchAt(2)).unwrap();
    assert_eq!(b["message_count"], 2);
    assert_eq!(c.messages(&id).unwrap().as_array().unwrap().len(), 2);
    assert_eq!(c.list_branches(&id).unwrap().as_array().unwrap().len(), 1);
    c.edit(&id, EditOp::SwitchBranch(1)).unwrap();
    assert_eq!(c.messages(&id).unwrap().as_array().unwrap().len(), 4);
    assert!(matches!(
        c.edit(&id, EditOp::SwitchBranch(0)),
        Err(Error::NotFound(_))
    ));

    c.set_boundary(&id, "a.rs", 0, 3).unwrap();
    let abs = dir.canonicalize().unwrap().join("a.rs");
    assert_eq!(
        c.boundary_for(&id, abs.to_str().unwrap()).unwrap(),
        json!({"start_line": 0, "end_line": 3})
    );
    assert_eq!(
        c.boundary_for(&id, "./x/../a.rs").unwrap(),
        json!({"start_line": 0, "end_line": 3})
    );
    assert!(matches!(
        c.set_boundary(&id, "a.rs", 4, 3),
        Err(Error::InvalidArgument(_))
    ));
    c.clear_boundary(&id, "a.rs").unwrap();
    assert_eq!(c.boundary_for(&id, "a.rs").unwrap(), Value::Null);
    assert_eq!(c.touched_files(&id).unwrap(), json!([]));
    std::fs::remove_dir_all(dir).unwrap();
}

/// An empty directory for a session's workdir.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-sessions-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn approvals_gate_destructive_tools_end_to_end() {
    use tandem::session::approvals::Decision;
    let c = client();
    let shell = |id: &str| json!([{"tool_call": {"name": "shell", "args": {"command": "echo built"}, "id": id}}]);
    let opts = json!({"workdir": scratch_dir("approvals"), "script": [shell("a"), shell("b"), [{"text": "done"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("build it")).unwrap();
    let (pending, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(pending["approval"]["approval_id"], "a");
    assert_eq!(pending["approval"]["preview"]["kind"], "command");
    assert_eq!(pending["approval"]["preview"]["lines"][0], "$ echo built");
    assert_eq!(
        c.snapshot(&id).unwrap()["pending_approval"]["tool_call_id"],
        "a"
    );
    assert!(matches!(
        c.respond_to_approval(&id, Some("zzz"), Decision::Approve),
        Err(Error::NoPendingApproval(_))
    ));
    c.respond_to_approval(&id, Some("a"), Decision::Reject)
        .unwrap();
    let (ended, _) = wait_for(&c, Duration::from_secs(5), |e| e["kind"] == "tool_ended");
    assert_eq!(
        (ended["result"].as_str(), ended["is_error"].as_bool()),
        (Some("Tool rejected by user"), Some(true))
    );
    wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    c.respond_to_approval(&id, None, Decision::Approve).unwrap();
    let (ended, _) = wait_for(&c, Duration::from_secs(5), |e| e["kind"] == "tool_ended");
    assert_eq!(ended["result"], "built\n", "approved, so it ran");
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
}

#[test]
fn approvals_time_out_and_plan_mode_refuses_without_asking() {
    let c = client();
    let shell = json!([{"tool_call": {"name": "shell", "args": {"command": "rm -rf x"}}}]);
    let opts = json!({"approval_timeout_ms": 100, "workdir": scratch_dir("plan"),
        "script": [shell, [{"text": "ok"}], shell, [{"text": "ok"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "approval_resolved" && e["decision"] == "timed_out"));
    assert!(events
        .iter()
        .any(|e| e["kind"] == "tool_ended" && e["result"] == "Tool approval timed out"));

    c.enter_plan(&id).unwrap();
    assert_eq!(c.status(&id).unwrap(), Status::Plan);
    c.send_prompt(&id, text("again")).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert!(
        !events.iter().any(|e| e["kind"] == "approval_pending"),
        "plan mode refuses before asking"
    );
    let refused = events.iter().find(|e| e["kind"] == "tool_ended").unwrap();
    assert!(refused["result"]
        .as_str()
        .unwrap()
        .starts_with("Plan mode is active"));
    assert_eq!(
        c.status(&id).unwrap(),
        Status::Plan,
        "the turn ends in plan mode"
    );
    c.enter_exec(&id).unwrap();
    assert_eq!(c.status(&id).unwrap(), Status::Idle);
}

#[test]
fn switching_models_takes_effect_next_turn_and_survives_a_restart() {
    let c = client();
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    assert!(matches!(
        c.set_model(&id, "bogus:claude-sonnet-4-5"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.set_model(&id, "no-prefix"),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        c.metadata(&id).unwrap()["model"],
        "scripted:echo",
        "a refused model changes nothing"
    );
    c.set_model(&id, "scripted:demo").unwrap();
    c.send_prompt(&id, text("what is here?")).unwrap();
    let (_, events) = turn_end(&c, &id);
    assert!(
        events.iter().any(|e| e["kind"] == "thinking_delta"),
        "the demo model answered, not echo"
    );
    assert!(matches!(
        c.set_thinking_level(&id, "extreme"),
        Err(Error::InvalidArgument(_))
    ));
    c.set_thinking_level(&id, "high").unwrap();
    assert_eq!(
        c.cycle_thinking_level(&id).unwrap(),
        json!({"level": "off"})
    );
    assert!(matches!(c.cycle_model(&id), Err(Error::NotSupported(_))));

    let crashy = c
        .start_session(Some(
            r#"{"model": "scripted:a", "script": [[{"panic": "x"}], [{"text": "ok"}]]}"#,
        ))
        .unwrap();
    c.set_model(&crashy, "scripted:b").unwrap();
    c.send_prompt(&crashy, text("go")).unwrap();
    wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "session_restarted"
    });
    assert_eq!(
        retry_pending(|| c.metadata(&crashy)).unwrap()["model"],
        "scripted:b"
    );
}

#[test]
fn skills_are_found_activated_into_the_system_prompt_and_deactivated() {
    let dir = std::env::temp_dir().join(format!("tandem-skill-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".tandem/skills/review")).unwrap();
    let body = "Review every change line by line. ".repeat(40);
    std::fs::write(
        dir.join(".tandem/skills/review/SKILL.md"),
        format!("---\ndescription: Careful review\n---\n{body}"),
    )
    .unwrap();
    let c = client();
    let id = c
        .start_session(Some(&json!({"workdir": dir}).to_string()))
        .unwrap();
    let skills = c.list_skills(&id).unwrap();
    assert_eq!(skills[0]["name"], "review");
    assert_eq!(skills[0]["description"], "Careful review");
    assert_eq!(skills[0]["active"], false);
    assert!(c
        .commands(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "review" && c["kind"] == "skill"));
    let estimate = |c: &tandem::Client| {
        c.send_prompt(&id, text("hi")).unwrap();
        let (_, events) = turn_end(c, &id);
        events
            .iter()
            .find(|e| e["kind"] == "context_usage")
            .unwrap()["estimated_tokens"]
            .as_u64()
            .unwrap()
    };
    let before = estimate(&c);
    c.activate_skill(&id, "review").unwrap();
    assert_eq!(c.list_skills(&id).unwrap()[0]["active"], true);
    assert_eq!(c.metadata(&id).unwrap()["active_skills"], json!(["review"]));
    let with_skill = estimate(&c);
    assert!(
        with_skill > before + 300,
        "the skill joined the system prompt ({before} -> {with_skill})"
    );
    c.deactivate_skill(&id, "review").unwrap();
    assert!(matches!(
        c.deactivate_skill(&id, "review"),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.activate_skill(&id, "nope"),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.activate_skill(&id, "../x"),
        Err(Error::InvalidArgument(_))
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn compaction_continue_and_summaries_through_the_client() {
    let dir = std::env::temp_dir().join(format!("tandem-compact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = client();
    let opts = json!({
        "workdir": dir,
        "compaction": {"keep_recent": 2},
        "script": [
            [{"text": "A"}], [{"text": "B"}], [{"text": "C"}],
            [{"text": "Summary of one and two."}],
            [{"text": "a partial answer"}, {"error": {"status": 502, "message": "reset"}}],
            [{"text": " and the rest."}],
            [{"text": "# Session\n\nWe talked."}]
        ]
    });
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    for p in ["one", "two", "three"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    let r = c.compact(&id).unwrap();
    assert_eq!(r["compacted"], true);
    assert_eq!(r["summary"], "Summary of one and two.");
    let notice = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(notice["compaction"]["first_kept_id"], 6);
    assert!(notice["text"]
        .as_str()
        .unwrap()
        .starts_with("Context compacted"));

    c.send_prompt(&id, text("four")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    c.continue_turn(&id).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), " and the rest.");
    assert!(matches!(
        c.continue_turn(&id),
        Err(Error::InvalidArgument(_))
    ));

    let s = c.summarize(&id).unwrap();
    let path = std::path::PathBuf::from(s["path"].as_str().unwrap());
    assert!(path.starts_with(dir.canonicalize().unwrap().join(".tandem/context")));
    // The name the header documents: session-summary-<6 hex digits>-<YYYY-MM-DD>.md.
    let name = path.file_name().unwrap().to_str().unwrap();
    let middle = name
        .strip_prefix("session-summary-")
        .and_then(|n| n.strip_suffix(".md"))
        .unwrap_or_else(|| panic!("{name}"));
    let (hex, date) = middle.split_at(6);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    let date: Vec<&str> = date.strip_prefix('-').unwrap_or("").split('-').collect();
    assert_eq!(
        date.iter().map(|d| d.len()).collect::<Vec<_>>(),
        [4, 2, 2],
        "{name}"
    );
    assert!(date.concat().chars().all(|c| c.is_ascii_digit()), "{name}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# Session\n\nWe talked.\n"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn slash_commands_are_run_not_sent_to_the_model() {
    let c = client();
    let id = c
        .start_session(Some(
            r#"{"model": "scripted:echo", "models": ["scripted:echo", "scripted:demo"]}"#,
        ))
        .unwrap();
    let ran =
        |c: &tandem::Client| wait_for(c, Duration::from_secs(5), |e| e["kind"] == "command_ran").0;
    assert_eq!(
        c.send_prompt(&id, text("/plan")).unwrap(),
        PromptOutcome::Command
    );
    assert_eq!(c.status(&id).unwrap(), Status::Plan);
    let e = ran(&c);
    assert_eq!((&e["command"], &e["args"]), (&json!("plan"), &json!("")));
    assert_eq!(
        c.send_prompt(&id, text("/thinking high")).unwrap(),
        PromptOutcome::Command
    );
    assert_eq!(ran(&c)["result"], json!({"level": "high"}));
    assert_eq!(c.metadata(&id).unwrap()["thinking_level"], "high");
    assert_eq!(
        c.queue_follow_up(&id, text(" /exec ")).unwrap(),
        PromptOutcome::Command
    );
    assert_eq!(c.status(&id).unwrap(), Status::Idle);
    ran(&c);
    c.send_prompt(&id, text("/models")).unwrap();
    assert_eq!(ran(&c)["result"]["model"], "scripted:demo");
    // Every listed built-in runs (none of them reaches the model as text).
    for cmd in c.commands(&id).unwrap().as_array().unwrap() {
        let name = cmd["name"].as_str().unwrap();
        if matches!(name, "branch" | "continue" | "compact" | "summarize") {
            continue; // need arguments, an interrupted turn, or a longer conversation: checked below
        }
        assert_eq!(
            c.send_prompt(&id, text(&format!("/{name}"))).unwrap(),
            PromptOutcome::Command,
            "/{name}"
        );
        assert_eq!(ran(&c)["command"], name);
    }
    // A command's own failure is the prompt's error; nothing is sent.
    assert!(matches!(
        c.send_prompt(&id, text("/continue")),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.send_prompt(&id, text("/branch x")),
        Err(Error::InvalidArgument(m)) if m.contains("usage: /branch MESSAGE_ID")
    ));
    assert!(matches!(
        c.send_prompt(&id, text("/thinking extreme")),
        Err(Error::InvalidArgument(_))
    ));
    // What is not a listed command is an ordinary prompt.
    c.send_prompt(&id, text("/scripted:demo")).unwrap();
    c.send_prompt(&id, text("/nosuchcommand hi")).unwrap();
    turn_end(&c, &id);
    let prompts: Vec<String> = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert!(prompts
        .iter()
        .all(|p| !p.starts_with("/plan") && !p.starts_with("/thinking")));
    let sent = prompts.join("\n");
    assert!(
        sent.contains("/scripted:demo") && sent.contains("/nosuchcommand hi"),
        "{prompts:?}"
    );
}
