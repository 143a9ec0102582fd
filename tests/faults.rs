//! The fault matrix: each fault must give the host a clear error (or retry notice), leave the session usable, and
//! lose nothing the session already had.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::http_mock::{openai_chunk, openai_reply, serve, Reply};
use common::*;
use serde_json::{json, Value};
use tandem::events::dispatch::{EventSink, Prepared};
use tandem::session::transcript::ContentPart;
use tandem::tools::host::{HostToolSink, HostToolSpec, Invocation};

const KEY: &str = "sk-test-FAULTS-7777";

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// How a fault shows itself to the host.
enum Expect {
    /// The turn completes after a retry notice containing this.
    Retried(&'static str),
    /// The turn ends with an `error` event containing this.
    Error(&'static str),
}

struct Case {
    name: &'static str,
    faults: Vec<Reply>,
    expect: Expect,
}

fn cases() -> Vec<Case> {
    let body = |s: &str| s.to_string();
    vec![
        Case {
            name: "429 with Retry-After",
            faults: vec![Reply::Send(
                429,
                vec![("retry-after", "0".into())],
                json!({"error": {"message": "Rate limit reached"}}).to_string(),
                4096,
            )],
            expect: Expect::Retried("HTTP 429: Rate limit reached"),
        },
        Case {
            name: "500",
            faults: vec![Reply::Send(500, vec![], body("internal error"), 4096)],
            expect: Expect::Retried("HTTP 500"),
        },
        Case {
            name: "529 overloaded",
            faults: vec![Reply::Send(
                529,
                vec![],
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                    .to_string(),
                4096,
            )],
            expect: Expect::Retried("HTTP 529"),
        },
        Case {
            name: "500 until the retries run out",
            faults: vec![
                Reply::Send(500, vec![], body("down"), 4096),
                Reply::Send(500, vec![], body("down"), 4096),
                Reply::Send(500, vec![], body("still down"), 4096),
            ],
            expect: Expect::Error("HTTP 500: still down"),
        },
        Case {
            name: "reset mid-stream",
            faults: vec![Reply::Send(
                200,
                vec![],
                openai_chunk(json!({"content": "Half of a long answer"}), Value::Null),
                7,
            )],
            expect: Expect::Error("Stream interrupted: "),
        },
        Case {
            name: "malformed SSE",
            faults: vec![Reply::Send(200, vec![], body("data: {\"choices\": [\n\n"), 3)],
            expect: Expect::Error("malformed event"),
        },
        Case {
            name: "invalid tool arguments JSON",
            faults: vec![Reply::Send(
                200,
                vec![],
                openai_chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                        "function": {"name": "read_file", "arguments": "{\"path\": "}}]}),
                    Value::Null,
                ) + &openai_chunk(json!({}), json!("tool_calls"))
                    + "data: [DONE]\n\n",
                5,
            )],
            expect: Expect::Error("invalid arguments for tool \"read_file\""),
        },
    ]
}

fn message_texts(c: &tandem::Client, id: &str) -> Vec<String> {
    c.messages(id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}: {}",
                m["kind"].as_str().unwrap(),
                m["text"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn http_faults_are_reported_and_the_session_carries_on() {
    std::env::set_var("TANDEM_TEST_FAULTS_KEY", KEY);
    let c = client();
    for case in cases() {
        let mut replies = case.faults;
        replies.push(Reply::Send(
            200,
            vec![],
            openai_reply("Recovered.", (10, 2, 0)),
            5,
        ));
        let (url, _seen) = serve(replies);
        let opts = json!({"model": "openai:gpt-4o", "base_url": url, "api_key_env": "TANDEM_TEST_FAULTS_KEY",
            "retry": {"max_retries": 2, "base_delay_ms": 1}, "persist": false});
        let id = c.start_session(Some(&opts.to_string())).unwrap();
        c.add_system_message(&id, "kept", tandem::session::transcript::Level::Info)
            .unwrap();
        c.send_prompt(&id, text("first")).unwrap();
        let (end, events) = turn_end(&c, &id);
        let errors: Vec<&str> = events
            .iter()
            .filter(|e| e["kind"] == "error" && e["session_id"] == id.as_str())
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        let before = message_texts(&c, &id);
        match case.expect {
            Expect::Retried(notice) => {
                assert_eq!(end["reason"], "completed", "{}: {events:#?}", case.name);
                assert!(
                    before
                        .iter()
                        .any(|m| m.starts_with("system: Retrying in") && m.contains(notice)),
                    "{}: no retry notice with {notice:?} in {before:#?}",
                    case.name
                );
                assert_eq!(text_of(&events, &id), "Recovered.", "{}", case.name);
                continue;
            }
            Expect::Error(message) => {
                assert_eq!(end["reason"], "error", "{}: {events:#?}", case.name);
                assert!(
                    errors.iter().any(|e| e.contains(message)),
                    "{}: no error with {message:?} in {errors:?}",
                    case.name
                );
            }
        }
        assert!(
            errors.iter().all(|e| !e.contains(KEY)),
            "{}: the key leaked",
            case.name
        );
        // Usable afterwards, with everything it had.
        if case.name == "reset mid-stream" {
            assert!(
                before.contains(&"assistant: Half of a long answer".to_string()),
                "{before:#?}"
            );
            c.continue_turn(&id).unwrap();
        } else {
            c.send_prompt(&id, text("again")).unwrap();
        }
        let (end, events) = turn_end(&c, &id);
        assert_eq!(end["reason"], "completed", "{}: {events:#?}", case.name);
        let after = message_texts(&c, &id);
        assert_eq!(after[..before.len()], before[..], "{}", case.name);
        assert!(after.contains(&"assistant: Recovered.".to_string()));
        c.stop_session(&id).unwrap();
    }
}

#[test]
fn a_stalled_stream_times_out_and_the_connection_is_closed() {
    std::env::set_var("TANDEM_TEST_FAULTS_KEY", KEY);
    let (tx, gone) = mpsc::channel();
    let (url, _seen) = serve(vec![
        Reply::Stall(tx),
        Reply::Send(200, vec![], openai_reply("Back.", (1, 1, 0)), 64),
    ]);
    let c = client();
    let opts = json!({"model": "openai:gpt-4o", "base_url": url, "api_key_env": "TANDEM_TEST_FAULTS_KEY",
        "stream_idle_timeout_ms": 300, "retry": {"max_retries": 0}, "persist": false});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("x")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "error" && e["message"].as_str().unwrap().contains("timeout")));
    gone.recv_timeout(Duration::from_secs(5))
        .expect("the stalled connection was closed");
    c.send_prompt(&id, text("y")).unwrap();
    assert_eq!(turn_end(&c, &id).0["reason"], "completed");
}

#[test]
fn a_host_tool_that_never_answers_is_cancelled_by_abort() {
    let c = client();
    let called = Arc::new(AtomicBool::new(false));
    // The host takes the call and never completes it.
    c.register_tool(
        HostToolSpec::parse(
            r#"{"name": "hang", "description": "Never answers.", "parameters": {"type": "object"}}"#,
        )
        .unwrap(),
        Box::new(Hang(called.clone())),
    )
    .unwrap();
    let script = json!([[{"tool_call": {"name": "hang", "args": {}}}], [{"text": "after"}]]);
    let id = c
        .start_session(Some(
            &json!({"model": "scripted:x", "script": script, "persist": false}).to_string(),
        ))
        .unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !called.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the host tool was never called");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.abort(&id).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "aborted");
    c.send_prompt(&id, text("again")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "after");
}

/// A host tool that takes its calls and never answers them.
struct Hang(Arc<AtomicBool>);

impl HostToolSink for Hang {
    fn invoke(&self, _call: &Invocation) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn release(&self) {}
}

/// A subscriber that blocks for a second on its first event.
struct Blocking {
    delivered: Arc<AtomicUsize>,
    turn_ended: Arc<AtomicUsize>,
}

impl EventSink for Blocking {
    fn deliver(&self, event: &Prepared) {
        if self.delivered.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        if event.event.payload.kind() == tandem::events::EventKind::TurnEnded {
            self.turn_ended.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn release(&self) {}
}

#[test]
fn a_callback_that_blocks_for_a_second_delays_only_itself() {
    let c = client();
    let delivered = Arc::new(AtomicUsize::new(0));
    let turn_ended = Arc::new(AtomicUsize::new(0));
    c.subscribe(
        None,
        Box::new(Blocking {
            delivered: delivered.clone(),
            turn_ended: turn_ended.clone(),
        }),
    )
    .unwrap();
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo", "persist": false}"#))
        .unwrap();
    // While the callback sleeps, API calls and the pull stream go on.
    let started = Instant::now();
    c.send_prompt(&id, text("one two three")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(text_of(&events, &id), "one two three");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the blocked callback held up the session: {:?}",
        started.elapsed()
    );
    // The callback still gets everything once it returns.
    let deadline = Instant::now() + Duration::from_secs(5);
    while turn_ended.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the callback never got turn_ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(delivered.load(Ordering::SeqCst) >= events.len());
}
