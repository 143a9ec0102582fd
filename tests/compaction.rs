//! Automatic compaction: a prompt that finds the context over `threshold` × the context window compacts first,
//! and its turn runs on the summary plus the kept messages. A host model shows what each model call received.

mod common;

use std::sync::{mpsc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::provider::host::{HostProviderSink, Request};
use tandem::session::transcript::ContentPart;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

struct Channel(Mutex<mpsc::Sender<Request>>);

impl HostProviderSink for Channel {
    fn invoke(&self, request: &Request) {
        let _ = self.0.lock().unwrap().send(request.clone());
    }
    fn release(&self) {}
}

/// Answers the next request with `say`; returns what it asked.
fn answer(c: &tandem::Client, rx: &mpsc::Receiver<Request>, say: &str) -> Value {
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a model call");
    for e in [
        json!({"type": "text_delta", "text": say}),
        json!({"type": "done"}),
    ] {
        c.provider_emit(&r.session_id, r.request_id, &e.to_string())
            .unwrap();
    }
    serde_json::from_str(&r.json).unwrap()
}

#[test]
fn a_prompt_over_the_threshold_compacts_first_and_the_turn_sees_the_summary() {
    let store = std::env::temp_dir().join(format!("tandem-autocompact-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let c = tandem::Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let (tx, rx) = mpsc::channel();
    c.set_provider(Some(Box::new(Channel(Mutex::new(tx)))))
        .unwrap();
    let opts = json!({"session_id": "auto", "provider": "host", "tools": [],
        "compaction": {"context_limit": 100, "threshold": 0.5, "keep_recent": 1}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let long = "word ".repeat(40); // ~57 estimated tokens per answer
    c.send_prompt(&id, text("first")).unwrap();
    answer(&c, &rx, &long);
    turn_end(&c, &id);
    // The first answer alone is over half the window: this prompt compacts first.
    c.send_prompt(&id, text("second")).unwrap();
    let summary_call = answer(&c, &rx, "They said first; the answer was long.");
    assert_eq!(summary_call["tools"], json!([]));
    assert!(summary_call["system_prompt"]
        .as_str()
        .unwrap()
        .contains("summarizer"));
    let turn_call = answer(&c, &rx, "ok");
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(
        turn_call["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text":
                "[Conversation summary: earlier context was compacted]\n\nThey said first; the answer was long."}]},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ])
    );
    let messages = c.messages(&id).unwrap();
    let notices: Vec<&Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "system")
        .collect();
    assert!(notices.iter().any(|m| m["text"]
        .as_str()
        .unwrap()
        .contains("compacting before the next model call")));
    let recorded = notices
        .iter()
        .find(|m| !m["compaction"].is_null())
        .expect("a compaction notice");
    assert_eq!(
        recorded["compaction"]["summary"],
        "They said first; the answer was long."
    );

    // The compaction is stored: a reload builds the same context.
    c.stop_session(&id).unwrap();
    c.start_or_get_session(&id, Some(&opts.to_string()))
        .unwrap();
    assert!(c
        .messages(&id)
        .unwrap()
        .to_string()
        .contains("\"first_kept_id\""));
    c.send_prompt(&id, text("third")).unwrap();
    let next = answer(&c, &rx, "fine");
    turn_end(&c, &id);
    assert!(next["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("[Conversation summary"));
    c.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn scripted_sessions_compact_by_themselves_and_a_failed_compaction_does_not_block_the_turn() {
    let c = client();
    let long = "word ".repeat(40);
    let opts = json!({"compaction": {"context_limit": 100, "threshold": 0.5, "keep_recent": 1},
        "script": [[{"text": long}], [{"text": "Summary."}], [{"text": "B"}],
                   [{"text": long}], [{"error": {"status": 400, "message": "no summary"}}], [{"text": "D"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    for p in ["one", "two"] {
        c.send_prompt(&id, text(p)).unwrap();
        assert_eq!(turn_end(&c, &id).0["reason"], "completed");
    }
    let messages = c.messages(&id).unwrap().to_string();
    assert!(messages.contains("\"summary\":\"Summary.\""), "{messages}");
    // Third prompt: over the threshold again; the summary call fails, the turn still answers.
    c.send_prompt(&id, text("three")).unwrap();
    turn_end(&c, &id);
    c.send_prompt(&id, text("four")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "D");
    assert!(c
        .messages(&id)
        .unwrap()
        .to_string()
        .contains("Automatic compaction failed: HTTP 400: no summary"));
}

/// A host session whose first answer is long enough that the next prompt compacts first.
fn hanging_host(c: &tandem::Client, rx: &mpsc::Receiver<Request>, auto: bool) -> String {
    let threshold = if auto { 0.5 } else { 0.99 };
    let opts = json!({"provider": "host", "tools": [],
        "compaction": {"context_limit": 100, "threshold": threshold, "keep_recent": 1}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("first")).unwrap();
    answer(c, rx, &"word ".repeat(if auto { 40 } else { 5 }));
    turn_end(c, &id);
    id
}

#[test]
fn abort_during_an_automatic_compaction_the_model_never_answers_frees_the_session_at_once() {
    let c = client();
    let (tx, rx) = mpsc::channel();
    c.set_provider(Some(Box::new(Channel(Mutex::new(tx)))))
        .unwrap();
    let id = hanging_host(&c, &rx, true);
    c.send_prompt(&id, text("second")).unwrap();
    let summary = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(summary.json.contains("summarizer"), "the summary call");
    let before = c.messages(&id).unwrap();
    // The host never answers; abort must not wait for it.
    c.abort(&id).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "aborted");
    assert_eq!(c.status(&id).unwrap(), tandem::session::Status::Idle);
    assert!(
        c.provider_request_is_cancelled(summary.request_id),
        "the summary request is ended for the host"
    );
    let after = c.messages(&id).unwrap();
    assert!(!after.to_string().contains("first_kept_id"), "{after}");
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1,
        "only the Aborted notice was added"
    );
    // The next prompt is taken at once (not Busy): it compacts again, and this time the host answers.
    assert!(c.send_prompt(&id, text("third")).is_ok());
    answer(&c, &rx, "A summary.");
    answer(&c, &rx, "ok");
    assert_eq!(turn_end(&c, &id).0["reason"], "completed");
}

#[test]
fn abort_and_stop_cancel_a_manual_compact_or_summarize_that_hangs() {
    let c = std::sync::Arc::new(client());
    let (tx, rx) = mpsc::channel();
    c.set_provider(Some(Box::new(Channel(Mutex::new(tx)))))
        .unwrap();
    let id = hanging_host(&c, &rx, false);
    c.send_prompt(&id, text("second")).unwrap();
    answer(&c, &rx, "short");
    turn_end(&c, &id);
    let before = c.messages(&id).unwrap();
    let (c2, id2) = (c.clone(), id.clone());
    let compact = std::thread::spawn(move || c2.compact(&id2));
    let call = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    c.abort(&id).unwrap();
    let err = compact.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(c.provider_request_is_cancelled(call.request_id));
    assert_eq!(
        c.messages(&id).unwrap(),
        before,
        "the transcript is unchanged"
    );
    assert_eq!(c.status(&id).unwrap(), tandem::session::Status::Idle);
    // Stopping the session cancels a hanging compaction the same way.
    let (c2, id2) = (c.clone(), id.clone());
    let compact = std::thread::spawn(move || c2.compact(&id2));
    let call = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    c.stop_session(&id).unwrap();
    assert!(compact.join().unwrap().is_err());
    assert!(c.provider_request_is_cancelled(call.request_id));
}
