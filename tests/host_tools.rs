//! Host tools through the safe API: answered in the callback, later from another thread, cancelled by abort,
//! limited per session, gated by approval when destructive, and released exactly once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::tools::host::{self, HostToolSink, HostToolSpec, Invocation};
use tandem::Error;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// How a test sink answers.
#[derive(Clone, Copy)]
enum Mode {
    /// Completes inside the callback with the arguments echoed.
    Now,
    /// Keeps the handle for the test to complete.
    Later,
}

struct Sink {
    mode: Mode,
    seen: Arc<Mutex<Vec<Invocation>>>,
    released: Arc<AtomicUsize>,
}

impl HostToolSink for Sink {
    fn invoke(&self, call: &Invocation) {
        self.seen.lock().unwrap().push(call.clone());
        if let Mode::Now = self.mode {
            host::complete(
                call.handle,
                format!("weather for {}", call.args_json),
                false,
            )
            .unwrap();
        }
    }
    fn release(&self) {
        self.released.fetch_add(1, Ordering::SeqCst);
    }
}

fn spec(name: &str, destructive: bool) -> HostToolSpec {
    HostToolSpec::parse(
        &json!({"name": name, "description": "Looks up the weather.", "destructive": destructive,
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}})
        .to_string(),
    )
    .unwrap()
}

type Seen = Arc<Mutex<Vec<Invocation>>>;

fn register(
    c: &tandem::Client,
    name: &str,
    mode: Mode,
    destructive: bool,
) -> (Seen, Arc<AtomicUsize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let released = Arc::new(AtomicUsize::new(0));
    c.register_tool(
        spec(name, destructive),
        Box::new(Sink {
            mode,
            seen: seen.clone(),
            released: released.clone(),
        }),
    )
    .unwrap();
    (seen, released)
}

fn calling(name: &str) -> String {
    json!({"model": "scripted:x", "script": [
        [{"tool_call": {"name": name, "args": {"city": "Oslo"}, "id": "w1"}}],
        [{"text": "done"}]
    ]})
    .to_string()
}

fn tool_message(c: &tandem::Client, id: &str) -> Value {
    c.messages(id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "tool_call")
        .cloned()
        .expect("a tool call message")
}

#[test]
fn a_host_tool_answered_in_its_callback() {
    let c = client();
    let (seen, released) = register(&c, "weather", Mode::Now, false);
    let id = c.start_session(Some(&calling("weather"))).unwrap();
    c.send_prompt(&id, text("weather?")).unwrap();
    turn_end(&c, &id);
    let m = tool_message(&c, &id);
    assert_eq!(m["status"], "complete");
    assert_eq!(m["result"], r#"weather for {"city":"Oslo"}"#);
    let calls = seen.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].session_id, id);
    assert_eq!(calls[0].tool_call_id, "w1");
    assert_eq!(calls[0].name, "weather");
    assert!(
        host::is_cancelled(calls[0].handle),
        "a completed handle is no longer pending"
    );
    assert!(matches!(
        host::complete(calls[0].handle, "again".into(), false),
        Err(Error::NotFound(_))
    ));
    drop(calls);
    c.unregister_tool("weather").unwrap();
    released_within(&released, 1);
    assert!(matches!(
        c.unregister_tool("weather"),
        Err(Error::NotFound(_))
    ));
    assert_eq!(released.load(Ordering::SeqCst), 1);
}

#[test]
fn a_host_tool_answered_later_from_another_thread_with_an_error() {
    let c = client();
    let (seen, _) = register(&c, "slow", Mode::Later, false);
    let id = c.start_session(Some(&calling("slow"))).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    wait_for(&c, Duration::from_secs(5), |e| e["kind"] == "tool_started");
    let handle = loop {
        if let Some(call) = seen.lock().unwrap().first() {
            break call.handle;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(!host::is_cancelled(handle));
    std::thread::spawn(move || host::complete(handle, "no signal".into(), true).unwrap())
        .join()
        .unwrap();
    turn_end(&c, &id);
    let m = tool_message(&c, &id);
    assert_eq!(m["status"], "error");
    assert_eq!(m["result"], "no signal");
    assert_eq!(m["is_error"], true);
}

#[test]
fn abort_cancels_a_pending_host_call_which_still_accepts_its_answer() {
    let c = client();
    let (seen, _) = register(&c, "stuck", Mode::Later, false);
    let id = c.start_session(Some(&calling("stuck"))).unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    let handle = loop {
        if let Some(call) = seen.lock().unwrap().first() {
            break call.handle;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    c.abort(&id).unwrap();
    let mut cancelled = false;
    for _ in 0..200 {
        if host::is_cancelled(handle) {
            cancelled = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(cancelled, "abort did not cancel the host call");
    host::complete(handle, "too late".into(), false).unwrap();
    let m = tool_message(&c, &id);
    assert_eq!(m["result"], "aborted");
}

#[test]
fn sessions_see_host_tools_unless_their_tools_option_leaves_them_out() {
    let c = client();
    let (seen, _) = register(&c, "weather", Mode::Now, false);
    let opts = json!({"model": "scripted:x", "tools": ["read_file"], "script": [
        [{"tool_call": {"name": "weather", "args": {}, "id": "w1"}}], [{"text": "ok"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("weather?")).unwrap();
    turn_end(&c, &id);
    assert_eq!(tool_message(&c, &id)["result"], "Tool 'weather' not found");
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn destructive_host_tools_wait_for_approval() {
    let c = client();
    let (seen, _) = register(&c, "deploy", Mode::Now, true);
    let id = c.start_session(Some(&calling("deploy"))).unwrap();
    c.send_prompt(&id, text("ship it")).unwrap();
    let (pending, _) = wait_for(&c, Duration::from_secs(5), |e| {
        e["kind"] == "approval_pending"
    });
    assert_eq!(pending["approval"]["name"], "deploy");
    assert!(seen.lock().unwrap().is_empty(), "ran before approval");
    c.respond_to_approval(&id, None, Decision::Reject).unwrap();
    turn_end(&c, &id);
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(tool_message(&c, &id)["is_error"], true);
}

#[test]
fn registration_is_validated_and_released_exactly_once() {
    let c = client();
    for bad in [
        r#"{"name": "", "description": "d", "parameters": {"type": "object"}}"#,
        r#"{"name": "has space", "description": "d", "parameters": {"type": "object"}}"#,
        r#"{"name": "t", "description": " ", "parameters": {"type": "object"}}"#,
        r#"{"name": "t", "description": "d", "parameters": {"type": "string"}}"#,
        r#"{"name": "t", "description": "d", "parameters": {"type": "object"}, "extra": 1}"#,
        r#"{"name": "t", "description": "d"}"#,
    ] {
        assert!(
            matches!(HostToolSpec::parse(bad), Err(Error::InvalidArgument(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        HostToolSpec::parse("{"),
        Err(Error::InvalidJson(..))
    ));
    let (_, first) = register(&c, "weather", Mode::Now, false);
    let released = Arc::new(AtomicUsize::new(0));
    let dup = Box::new(Sink {
        mode: Mode::Now,
        seen: Default::default(),
        released: released.clone(),
    });
    assert!(matches!(
        c.register_tool(spec("weather", false), dup),
        Err(Error::AlreadyExists(_))
    ));
    assert_eq!(
        released.load(Ordering::SeqCst),
        1,
        "a refused registration releases at once"
    );
    let builtin = Box::new(Sink {
        mode: Mode::Now,
        seen: Default::default(),
        released: released.clone(),
    });
    assert!(matches!(
        c.register_tool(spec("read_file", false), builtin),
        Err(Error::AlreadyExists(_))
    ));
    let task = Box::new(Sink {
        mode: Mode::Now,
        seen: Default::default(),
        released: released.clone(),
    });
    assert!(
        matches!(
            c.register_tool(spec("task", false), task),
            Err(Error::AlreadyExists(_))
        ),
        "task is the sub-agent tool's name"
    );
    c.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(
        first.load(Ordering::SeqCst),
        1,
        "shutdown releases registered tools"
    );
}

/// A sink that tries to shut its own client down from inside the callback, then answers with what it got.
struct ShutsDown {
    client: std::sync::Weak<tandem::Client>,
}

impl HostToolSink for ShutsDown {
    fn invoke(&self, call: &Invocation) {
        let c = self.client.upgrade().expect("the client is alive");
        let got = c.shutdown(Duration::from_secs(5));
        host::complete(call.handle, format!("{got:?}"), false).unwrap();
    }
    fn release(&self) {}
}

#[test]
fn shutting_the_client_down_from_a_host_tool_callback_fails_at_once() {
    let c = Arc::new(client());
    c.register_tool(
        spec("stopper", false),
        Box::new(ShutsDown {
            client: Arc::downgrade(&c),
        }),
    )
    .unwrap();
    let id = c.start_session(Some(&calling("stopper"))).unwrap();
    c.send_prompt(&id, text("stop yourself")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    let result = tool_message(&c, &id)["result"]
        .as_str()
        .unwrap()
        .to_string();
    // Refused, not carried out: a shutdown from here would wait for this very thread.
    assert!(result.starts_with("Err(ReentrantCall("), "{result}");
    // The client is still alive and usable after the refused call.
    c.send_prompt(&id, text("still there?")).unwrap();
    turn_end(&c, &id);
}
