//! Idle reclamation: a session at rest that the host leaves alone for its `idle_timeout_ms` is stopped with reason
//! `idle`, and the next `start_or_get` with its ID brings back its stored conversation.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::{Client, Error};

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn stored_client(name: &str) -> (Client, std::path::PathBuf) {
    let store = std::env::temp_dir().join(format!("tandem-idle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    (c, store)
}

fn stopped(c: &Client, id: &str) -> Value {
    wait_for(c, Duration::from_secs(20), |e| {
        e["kind"] == "session_stopped" && e["session_id"] == id
    })
    .0
}

#[test]
fn an_idle_session_is_reclaimed_and_comes_back_with_its_conversation() {
    let (c, store) = stored_client("back");
    let opts = json!({"session_id": "quiet", "idle_timeout_ms": 100});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let token = c.token(&id).unwrap();
    c.send_prompt(&id, text("remember the pelican")).unwrap();
    turn_end(&c, &id);
    assert_eq!(stopped(&c, &id)["reason"], "idle");
    assert!(matches!(c.status(&id), Err(Error::NotFound(_))));
    assert!(c.list_sessions().unwrap().is_empty());

    let again = c.start_or_get_session(&id, None).unwrap();
    assert_eq!(again, id);
    assert_eq!(c.token(&id).unwrap(), token, "the same session");
    let messages = c.messages(&id).unwrap().to_string();
    assert!(messages.contains("remember the pelican"), "{messages}");
    c.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn a_pending_approval_or_a_host_that_keeps_calling_keeps_a_session() {
    let (c, store) = stored_client("kept");
    let dir = std::env::temp_dir().join(format!("tandem-idle-wd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Waits for approval to write a file: never reclaimable while the approval is pending.
    let waiting = json!({"idle_timeout_ms": 50, "workdir": dir,
        "script": [[{"tool_call": {"name": "write_file", "args": {"path": "a.txt", "content": "x"}}}]]});
    let waiting = c.start_session(Some(&waiting.to_string())).unwrap();
    c.send_prompt(&waiting, text("write it")).unwrap();
    wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_pending" && e["session_id"] == waiting.as_str()
    });
    // Called on by the host all the time: its period keeps starting over.
    let polled = c
        .start_session(Some(r#"{"idle_timeout_ms": 300}"#))
        .unwrap();
    // Left alone, with the longest period: once it is reclaimed, the other two had every chance to be.
    let alone = c
        .start_session(Some(r#"{"idle_timeout_ms": 600}"#))
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.status(&polled).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let (first, seen) = wait_for(&c, Duration::from_secs(20), |e| {
            e["kind"] == "session_stopped"
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(first["session_id"], alone.as_str(), "{seen:#?}");
        assert_eq!(first["reason"], "idle");
    });
    assert!(c.snapshot(&waiting).unwrap()["pending_approval"].is_object());
    assert!(c.status(&polled).is_ok());
    c.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_idle_timeout_is_checked() {
    let c = client();
    let err = c
        .start_session(Some(r#"{"idle_timeout_ms": 99999999999999}"#))
        .unwrap_err();
    assert!(err.to_string().contains("idle_timeout_ms"), "{err}");
    let id = c.start_session(Some(r#"{"idle_timeout_ms": 0}"#)).unwrap();
    assert!(c.status(&id).is_ok());
}
