//! Background sub-agents and their parents: what a sub-agent inherits and what its options override, stopping with
//! the parent (or not, detached), and each answer reaching the parent as an event and a transcript note.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::{Client, Error};

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// A fresh workdir holding `notes.txt` and a `review` skill.
fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-sub-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    std::fs::create_dir_all(d.join(".tandem/skills/review")).unwrap();
    std::fs::write(
        d.join(".tandem/skills/review/SKILL.md"),
        "---\ndescription: Careful review\n---\nReview every line.",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "hello from the parent's workdir\n").unwrap();
    d.canonicalize().unwrap()
}

fn tool(name: &str, args: Value) -> Value {
    json!({"tool_call": {"name": name, "args": args}})
}

/// A parent on a script that reads `notes.txt` and tries to write a file, with only `read_file` enabled, the
/// `review` skill active, switched to model `scripted:switched` and thinking level `high` after its start.
fn parent(c: &Client, dir: &PathBuf) -> String {
    let opts = json!({
        "model": "scripted:x",
        "workdir": dir,
        "tools": ["read_file"],
        "approval": "none",
        "thinking_level": "low",
        "script": [
            [tool("read_file", json!({"path": "notes.txt"})), tool("write_file", json!({"path": "new.txt", "content": "x"}))],
            [{"text": "read it"}]
        ]
    });
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.set_model(&id, "scripted:switched").unwrap();
    c.set_thinking_level(&id, "high").unwrap();
    c.activate_skill(&id, "review").unwrap();
    id
}

fn start(c: &Client, parent: Option<&str>, task: &str, opts: Value) -> String {
    let h = c
        .start_subagent(parent, task, Some(&opts.to_string()))
        .unwrap();
    h["session_id"].as_str().unwrap().to_string()
}

/// `(model, provider, thinking_level, active_skills, workdir)` of session `id`.
fn settings(c: &Client, id: &str) -> (Value, Value, Value, Value, Value) {
    let m = c.metadata(id).unwrap();
    (
        m["model"].clone(),
        m["provider"].clone(),
        m["thinking_level"].clone(),
        m["active_skills"].clone(),
        m["workdir"].clone(),
    )
}

/// `(name, is_error, result)` of the tool calls that ended in `events` for session `id`.
fn tool_results(events: &[Value], id: &str) -> Vec<(String, bool, String)> {
    events
        .iter()
        .filter(|e| e["kind"] == "tool_ended" && e["session_id"] == id)
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["is_error"].as_bool().unwrap(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_sub_agent_takes_its_parents_provider_model_thinking_skills_workdir_and_tools() {
    let dir = workdir("inherit");
    let c = client();
    let p = parent(&c, &dir);
    let h = c.start_subagent(Some(&p), "look around", None).unwrap();
    assert_eq!(
        h["model"], "scripted:switched",
        "the parent's current model"
    );
    assert_eq!(h["detached"], false);
    let sub = h["session_id"].as_str().unwrap().to_string();
    assert_eq!(
        settings(&c, &sub),
        (
            json!("scripted:switched"),
            json!("native"),
            json!("high"),
            json!(["review"]),
            json!(dir.display().to_string())
        )
    );
    // The parent's script, workdir, tool allow-list and approval mode: it reads the parent's file without asking,
    // and may not write.
    let (end, events) = turn_end(&c, &sub);
    assert_eq!(end["reason"], "completed");
    assert!(!events
        .iter()
        .any(|e| e["kind"] == "approval_pending" && e["session_id"] == sub.as_str()));
    let results = tool_results(&events, &sub);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!((results[0].0.as_str(), results[0].1), ("read_file", false));
    assert!(results[0].2.contains("hello from the parent's workdir"));
    assert_eq!((results[1].0.as_str(), results[1].1), ("write_file", true));
    assert!(results[1].2.contains("not found"), "{}", results[1].2);
    assert!(!dir.join("new.txt").exists());
    // The inherited skill is in the sub-agent's system prompt, not just listed.
    assert_eq!(c.list_skills(&sub).unwrap()[0]["active"], true);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_sub_agents_options_override_what_they_name_and_it_keeps_the_rest() {
    let dir = workdir("override");
    let other = workdir("override-other");
    let c = client();
    let p = parent(&c, &dir);
    let sub = start(
        &c,
        Some(&p),
        "write it",
        json!({"model": "scripted:echo", "thinking_level": "off", "workdir": other}),
    );
    assert_eq!(
        settings(&c, &sub),
        (
            json!("scripted:echo"),
            json!("native"),
            json!("off"),
            json!(["review"]),
            json!(other.display().to_string())
        )
    );
    // Naming a model drops the parent's script: the echo model answers with the task.
    let (_, events) = turn_end(&c, &sub);
    assert_eq!(text_of(&events, &sub), "write it");

    // Tool settings: its own allow-list and approval mode replace the parent's.
    let tools = start(
        &c,
        Some(&p),
        "write",
        json!({"tools": ["read_file", "write_file"], "approval": "all",
               "script": [[tool("write_file", json!({"path": "new.txt", "content": "x"}))], [{"text": "ok"}]]}),
    );
    let (pending, _) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_pending" && e["session_id"] == tools.as_str()
    });
    assert_eq!(pending["approval"]["name"], "write_file");
    c.respond_to_approval(&tools, None, tandem::session::approvals::Decision::Approve)
        .unwrap();
    turn_end(&c, &tools);
    assert!(dir.join("new.txt").exists(), "the parent's workdir");

    // Another provider brings its own default model (and not the parent's script or rotation).
    let host = start(&c, Some(&p), "elsewhere", json!({"provider": "host"}));
    let (model, provider, thinking, skills, workdir) = settings(&c, &host);
    assert_eq!(
        (model, provider, thinking, skills, workdir),
        (
            json!("host:default"),
            json!("host"),
            json!("high"),
            json!(["review"]),
            json!(dir.display().to_string())
        )
    );
    for d in [dir, other] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_sub_agent_stops_with_its_parent_unless_detached() {
    let c = client();
    let p = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let attached = start(&c, Some(&p), "one", json!({}));
    let grandchild = start(&c, Some(&attached), "two", json!({}));
    let detached = start(&c, Some(&p), "three", json!({"detached": true}));
    let handles = c.list_subagents(Some(&p)).unwrap();
    assert_eq!(handles[1]["detached"], true);
    c.stop_session(&p).unwrap();
    for child in [&attached, &grandchild] {
        let (stopped, _) = wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "session_stopped" && e["session_id"] == child.as_str()
        });
        assert_eq!(stopped["reason"], "stopped");
        assert!(
            stopped["detail"].as_str().unwrap().contains("was stopped"),
            "{stopped}"
        );
        assert!(matches!(c.status(child), Err(Error::NotFound(_))));
    }
    assert!(c.status(&detached).is_ok(), "a detached sub-agent goes on");
    let left = c.list_subagents(None).unwrap();
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["session_id"], detached.as_str());
    assert!(matches!(
        c.start_subagent(None, "x", Some(r#"{"detached": "yes"}"#)),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_sub_agent_stops_when_its_parent_exhausts_its_restarts() {
    let c = client();
    let p = c
        .start_session(Some(
            r#"{"script": [[{"panic": "boom"}]], "restart": {"max_attempts": 0}}"#,
        ))
        .unwrap();
    let child = start(&c, Some(&p), "wait", json!({"model": "scripted:echo"}));
    let detached = start(
        &c,
        Some(&p),
        "wait",
        json!({"model": "scripted:echo", "detached": true}),
    );
    c.send_prompt(&p, text("crash")).unwrap();
    let (stopped, _) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "session_stopped" && e["session_id"] == child.as_str()
    });
    assert_eq!(stopped["reason"], "stopped");
    assert!(
        stopped["detail"].as_str().unwrap().contains(&p),
        "{stopped}"
    );
    assert!(matches!(c.status(&p), Err(Error::NotFound(_))));
    assert!(c.status(&detached).is_ok());
}

#[test]
fn each_answer_of_a_sub_agent_reaches_its_parent_as_an_event_and_a_note() {
    let c = client();
    let p = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let sub = start(&c, Some(&p), "count the files", json!({}));
    let finished = |c: &Client| {
        wait_for(c, Duration::from_secs(10), |e| {
            e["kind"] == "subagent_finished"
        })
        .0
    };
    let e = finished(&c);
    assert_eq!(e["session_id"], p.as_str(), "sent to the parent");
    assert_eq!(e["subagent_session_id"], sub.as_str());
    assert_eq!(e["parent_session_id"], p.as_str());
    assert_eq!(e["answer"], "count the files");
    assert_eq!(e["reason"], "completed");
    let notes = |c: &Client| -> Vec<String> {
        c.messages(&p)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "system")
            .map(|m| m["text"].as_str().unwrap().to_string())
            .filter(|t| t.starts_with("Sub-agent"))
            .collect()
    };
    assert_eq!(
        notes(&c),
        [format!(
            "Sub-agent {sub} finished (completed): count the files"
        )],
        "the note is in the parent's transcript when the event comes"
    );

    // A later prompt's answer is delivered too.
    c.send_prompt(&sub, text("and the dirs")).unwrap();
    let e = finished(&c);
    assert_eq!(e["answer"], "and the dirs");
    assert_eq!(notes(&c).len(), 2);

    // An aborted turn is reported as such, with what it said so far (nothing here).
    let slow = start(
        &c,
        Some(&p),
        "take your time",
        json!({"script": [[{"delay_ms": 60000}, {"text": "late"}]]}),
    );
    wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "status_changed"
            && e["session_id"] == slow.as_str()
            && e["status"] == "thinking"
    });
    c.abort(&slow).unwrap();
    let e = finished(&c);
    assert_eq!(
        (&e["subagent_session_id"], &e["answer"], &e["reason"]),
        (&json!(slow), &json!(""), &json!("aborted"))
    );
    assert!(notes(&c)[2].ends_with("(aborted): (no text output)"));
}
