//! The host provider end to end: a host answers model calls through `provider_emit`, tandem runs the tools.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::provider::host::{HostProviderSink, Request};
use tandem::session::transcript::ContentPart;
use tandem::Error;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// A host that hands every request to the test thread.
struct Channel {
    tx: Mutex<mpsc::Sender<Request>>,
    released: Arc<AtomicUsize>,
}

impl HostProviderSink for Channel {
    fn invoke(&self, request: &Request) {
        let _ = self.tx.lock().unwrap().send(request.clone());
    }
    fn release(&self) {
        self.released.fetch_add(1, Ordering::SeqCst);
    }
}

fn register(c: &tandem::Client) -> (mpsc::Receiver<Request>, Arc<AtomicUsize>) {
    let (tx, rx) = mpsc::channel();
    let released = Arc::new(AtomicUsize::new(0));
    c.set_provider(Some(Box::new(Channel {
        tx: Mutex::new(tx),
        released: released.clone(),
    })))
    .unwrap();
    (rx, released)
}

fn next(rx: &mpsc::Receiver<Request>) -> (Request, Value) {
    let r = rx.recv_timeout(Duration::from_secs(10)).expect("a request");
    let v = serde_json::from_str(&r.json).unwrap();
    (r, v)
}

#[test]
fn host_answers_with_text_and_a_tool_call_that_tandem_runs() {
    let dir = std::env::temp_dir().join(format!("tandem-hostprov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
    let c = client();
    let opts = json!({"provider": "host", "model": "host:test", "workdir": dir, "tools": ["read_file"],
        "thinking_level": "low", "system_prompt": "Be brief."});
    let id = c.start_session(Some(&opts.to_string())).unwrap();

    // No callback yet: the provider is not ready, and the error names the fix.
    let err = c.send_prompt(&id, text("hi")).unwrap_err();
    assert!(
        err.to_string().contains("tandem_client_set_provider"),
        "{err}"
    );

    let (rx, released) = register(&c);
    c.send_prompt(&id, text("what is in a.txt?")).unwrap();
    let (r1, v1) = next(&rx);
    assert_eq!(r1.session_id, id);
    assert_eq!(v1["model"], "host:test");
    assert_eq!(v1["thinking_level"], "low");
    assert_eq!(v1["system_prompt"], "Be brief.");
    assert_eq!(v1["tools"][0]["name"], "read_file");
    assert_eq!(v1["request_id"], r1.request_id);
    let msgs = v1["messages"].as_array().unwrap();
    assert_eq!(
        msgs.last().unwrap(),
        &json!({"role": "user", "content": [{"type": "text", "text": "what is in a.txt?"}]})
    );
    let emit = |r: &Request, e: Value| c.provider_emit(&r.session_id, r.request_id, &e.to_string());
    // Events may come from another thread while the callback is long gone.
    emit(
        &r1,
        json!({"type": "thinking_delta", "text": "Need the file."}),
    )
    .unwrap();
    emit(
        &r1,
        json!({"type": "thinking_signature", "signature": "S1"}),
    )
    .unwrap();
    emit(&r1, json!({"type": "text_delta", "text": "Reading."})).unwrap();
    emit(
        &r1,
        json!({"type": "tool_call", "id": "c1", "name": "read_file", "args": {"path": "a.txt"}}),
    )
    .unwrap();
    emit(
        &r1,
        json!({"type": "usage", "input": 10, "output": 5, "cost": 0.25}),
    )
    .unwrap();
    assert!(!c.provider_request_is_cancelled(r1.request_id));
    emit(&r1, json!({"type": "done"})).unwrap();
    assert!(c.provider_request_is_cancelled(r1.request_id));
    assert!(matches!(
        emit(&r1, json!({"type": "text_delta", "text": "late"})),
        Err(Error::NotFound(_))
    ));

    let (r2, v2) = next(&rx);
    assert_ne!(r2.request_id, r1.request_id);
    let msgs = v2["messages"].as_array().unwrap();
    assert_eq!(
        msgs[msgs.len() - 2],
        json!({"role": "assistant", "text": "Reading.",
            "thinking": [{"text": "Need the file.", "signature": "S1"}],
            "tool_calls": [{"id": "c1", "name": "read_file", "args": {"path": "a.txt"}}]})
    );
    let result = &msgs[msgs.len() - 1];
    assert_eq!(result["role"], "tool_result");
    assert_eq!(result["tool_call_id"], "c1");
    assert!(result["content"].as_str().unwrap().contains("alpha"));
    // Bad input is refused with a reason and does not end the request.
    assert!(matches!(
        c.provider_emit(&id, r2.request_id, "{"),
        Err(Error::InvalidJson(..))
    ));
    assert!(matches!(
        emit(&r2, json!({"type": "bogus"})),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.provider_emit("other-session", r2.request_id, r#"{"type":"done"}"#),
        Err(Error::NotFound(_))
    ));
    emit(&r2, json!({"type": "text_delta", "text": "It says alpha."})).unwrap();
    emit(
        &r2,
        json!({"type": "usage", "input": 20, "output": 5, "cost": 0.5}),
    )
    .unwrap();
    emit(&r2, json!({"type": "done", "stop_reason": "max_tokens"})).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Reading.It says alpha.");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "tool_ended" && e["result"].as_str().unwrap().contains("alpha")));
    assert_eq!(end["usage"]["input"], 30);
    assert_eq!(end["usage"]["cost"], 0.75);
    let messages = c.messages(&id).unwrap();
    assert!(messages.as_array().unwrap().iter().any(
        |m| m["kind"] == "system" && m["text"].as_str().unwrap().contains("output token limit")
    ));

    // Replacing the callback releases the old one; shutdown releases the new one.
    let (_rx2, released2) = register(&c);
    released_within(&released, 1);
    c.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(released2.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_cancels_the_request_and_retryable_errors_ask_again() {
    let c = client();
    let opts = json!({"provider": "host", "retry": {"base_delay_ms": 1}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let (rx, _) = register(&c);
    c.send_prompt(&id, text("x")).unwrap();
    let (r1, v1) = next(&rx);
    assert_eq!(v1["model"], "host:default");
    c.provider_emit(&id, r1.request_id, r#"{"type":"text_delta","text":"Hm"}"#)
        .unwrap();
    c.abort(&id).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "aborted");
    assert!(c.provider_request_is_cancelled(r1.request_id));
    assert!(matches!(
        c.provider_emit(&id, r1.request_id, r#"{"type":"done"}"#),
        Err(Error::NotFound(_))
    ));
    assert_eq!(c.provider_shared().host.open_requests(), 0);

    // A retryable error before any output is retried with a new request; a fatal one ends the turn.
    c.send_prompt(&id, text("y")).unwrap();
    let (r2, _) = next(&rx);
    c.provider_emit(
        &id,
        r2.request_id,
        r#"{"type":"error","message":"busy","retryable":true}"#,
    )
    .unwrap();
    let (r3, _) = next(&rx);
    assert_ne!(r3.request_id, r2.request_id);
    c.provider_emit(
        &id,
        r3.request_id,
        r#"{"type":"error","message":"no credit"}"#,
    )
    .unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "error" && e["message"] == "no credit"));
    assert!(c
        .messages(&id)
        .unwrap()
        .to_string()
        .contains("(attempt 1 of 3): busy"));
    let retry = events
        .iter()
        .find(|e| e["kind"] == "retrying")
        .expect("a retrying event");
    assert_eq!(
        (&retry["attempt"], &retry["max_retries"], &retry["reason"]),
        (&json!(1), &json!(3), &json!("busy"))
    );
}

#[test]
fn a_host_that_never_answers_fails_the_turn_after_its_idle_timeout_and_continue_resumes() {
    let c = client();
    let opts = json!({"provider": "host", "stream_idle_timeout_ms": 200});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let (rx, _) = register(&c);
    c.send_prompt(&id, text("hello?")).unwrap();
    let (r1, _) = next(&rx);
    let started = std::time::Instant::now();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error", "{events:#?}");
    // Failed after one idle timeout: no silent retries, no second request.
    assert!(
        !events.iter().any(|e| e["kind"] == "retrying"),
        "{events:#?}"
    );
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = events.iter().find(|e| e["kind"] == "error").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("the host provider sent nothing"), "{err}");
    assert!(c.provider_request_is_cancelled(r1.request_id));
    // The cut-off turn resumes with `continue` as after a dropped stream.
    c.continue_turn(&id)
        .expect("continue after the host's idle timeout");
    let (r2, v2) = next(&rx);
    assert!(v2.to_string().contains("interrupted"), "{v2}");
    for e in [
        r#"{"type":"text_delta","text":"Here."}"#,
        r#"{"type":"done"}"#,
    ] {
        c.provider_emit(&id, r2.request_id, e).unwrap();
    }
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
}

#[test]
fn host_options_are_checked() {
    let c = client();
    assert!(matches!(
        c.start_session(Some(r#"{"provider": "host", "model": "scripted:echo"}"#)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.start_session(Some(r#"{"provider": "host", "model": "host:"}"#)),
        Err(Error::InvalidArgument(_))
    ));
    // Unregistering with None is fine with nothing registered; emits for unknown requests are NotFound.
    c.set_provider(None).unwrap();
    assert!(matches!(
        c.provider_emit("s", 999, r#"{"type":"done"}"#),
        Err(Error::NotFound(_))
    ));
    assert!(c.provider_request_is_cancelled(999));
}

#[test]
fn without_a_registered_host_provider_prompts_are_not_ready_and_sub_agents_wait_for_it() {
    let c = client();
    let id = c
        .start_session(Some(r#"{"provider": "host", "tools": []}"#))
        .unwrap();
    let before = c.messages(&id).unwrap();
    let err = c.send_prompt(&id, text("hello?")).unwrap_err();
    assert!(
        matches!(&err, Error::ProviderNotReady(m) if m.contains("tandem_client_set_provider")),
        "{err:?}"
    );
    assert_eq!(c.messages(&id).unwrap(), before, "nothing was recorded");
    c.add_system_message(
        &id,
        "still usable",
        tandem::session::transcript::Level::Info,
    )
    .unwrap();

    // A sub-agent's task waits while the provider is not ready, and is delivered once the host registers one.
    let handle = c
        .start_subagent(
            Some(&id),
            "count the files",
            Some(r#"{"provider": "host", "tools": []}"#),
        )
        .unwrap();
    let child = handle["session_id"].as_str().unwrap().to_string();
    let (rx, _) = register(&c);
    let (request, body) = next(&rx);
    assert_eq!(request.session_id, child);
    assert!(body.to_string().contains("count the files"), "{body}");
}

#[test]
fn a_sub_agent_whose_provider_never_becomes_ready_says_so_in_its_transcript() {
    let c = client();
    let handle = c
        .start_subagent(
            None,
            "never runs",
            Some(r#"{"provider": "host", "tools": []}"#),
        )
        .unwrap();
    let child = handle["session_id"].as_str().unwrap().to_string();
    wait_for(&c, Duration::from_secs(20), |e| {
        e["session_id"] == child.as_str()
            && e["kind"] == "messages_changed"
            && c.messages(&child)
                .unwrap()
                .to_string()
                .contains("failed to accept its task after 101 attempts")
    });
    let messages = c.messages(&child).unwrap().to_string();
    assert!(
        messages.contains("no host provider is registered"),
        "{messages}"
    );
    assert!(
        !messages.contains("never runs"),
        "the task was never recorded as a prompt"
    );
}
