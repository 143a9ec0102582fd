//! The pi provider end to end: the real pi (installed by scripts/install-pi.sh, or `TANDEM_PI`) in RPC mode, its
//! models.json pointing at a local OpenAI-compatible mock server.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::Client;

/// pi starts slowly on a busy machine; every wait allows for that.
const WAIT: Duration = Duration::from_secs(90);

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// The pi executable: `TANDEM_PI`, or the pinned install (made on first use). Fails, never skips, without npm.
fn pi_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TANDEM_PI") {
            return PathBuf::from(p);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-pi.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .expect("run scripts/install-pi.sh");
        assert!(
            out.status.success(),
            "scripts/install-pi.sh failed (the pi provider tests need npm, Node.js >= 20, or TANDEM_PI set to a pi \
             executable): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// What the mock answers to one model call.
enum Reply {
    /// Stream these text pieces, `gap` apart, then usage and `[DONE]`.
    Say(Vec<String>, Duration),
    /// Send the stream's headers and one empty delta, then nothing until the client goes away.
    Hang,
    /// Call tool `.0` with arguments `.1`.
    Tool(&'static str, Value),
}

fn say(t: &str) -> Reply {
    Reply::Say(vec![t.into()], Duration::ZERO)
}

/// An OpenAI-compatible Chat Completions server: each request takes the next reply (an answer "ok" when none are
/// left) and its body is sent on the channel.
struct Mock {
    url: String,
    seen: mpsc::Receiver<Value>,
}

impl Mock {
    fn start(replies: Vec<Reply>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
        let (tx, seen) = mpsc::channel();
        let queue = replies.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(s) = conn else { return };
                let queue = queue.clone();
                let tx = tx.clone();
                thread::spawn(move || serve(s, &queue, &tx));
            }
        });
        Mock { url, seen }
    }

    /// The body of the next model call.
    fn next_request(&self) -> Value {
        self.seen
            .recv_timeout(WAIT)
            .expect("the mock got no model call")
    }
}

fn serve(mut s: TcpStream, queue: &Mutex<VecDeque<Reply>>, tx: &mpsc::Sender<Value>) {
    let Some(body) = read_body(&mut s) else {
        return;
    };
    let reply = queue
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| say("ok"));
    let _ = tx.send(body);
    let _ = s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
    );
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "model": "m1",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let _ = s.write_all(chunk(json!({"role": "assistant", "content": ""}), Value::Null).as_bytes());
    match reply {
        Reply::Say(pieces, gap) => {
            for p in pieces {
                thread::sleep(gap);
                if s.write_all(chunk(json!({"content": p}), Value::Null).as_bytes())
                    .is_err()
                {
                    return;
                }
            }
            let usage = json!({"id": "c", "object": "chat.completion.chunk", "model": "m1",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
            let _ = s.write_all(format!("data: {usage}\n\ndata: [DONE]\n\n").as_bytes());
        }
        Reply::Tool(name, args) => {
            let call = json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": name, "arguments": args.to_string()}}]});
            let _ = s.write_all(chunk(call, Value::Null).as_bytes());
            let _ = s.write_all(chunk(json!({}), json!("tool_calls")).as_bytes());
            let _ = s.write_all(b"data: [DONE]\n\n");
        }
        Reply::Hang => {
            let mut buf = [0u8; 64];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    }
}

fn read_body(s: &mut TcpStream) -> Option<Value> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while data.len() < end + 4 + len {
                let n = s.read(&mut buf).ok().filter(|n| *n > 0)?;
                data.extend_from_slice(&buf[..n]);
            }
            return serde_json::from_slice(&data[end + 4..end + 4 + len]).ok();
        }
    }
}

/// A workdir with a pi config dir (models.json naming the mock) and a wrapper that logs each pi's pid and points
/// pi at that config dir, so the real home is never touched.
struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new(name: &str, mock: &Mock) -> Setup {
        let dir = std::env::temp_dir().join(format!("tandem-pi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("agent")).unwrap();
        let models = json!({"providers": {"mock": {
            "baseUrl": mock.url, "api": "openai-completions", "apiKey": "test-key",
            "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
            "models": [{"id": "m1", "contextWindow": 100000, "maxTokens": 1000,
                "cost": {"input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0}}]}}});
        std::fs::write(dir.join("agent/models.json"), models.to_string()).unwrap();
        let wrapper = dir.join("pi.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho $$ >> '{d}/pids'\nPI_CODING_AGENT_DIR='{d}/agent' PI_OFFLINE=1 PI_SKIP_VERSION_CHECK=1 \
                 exec '{pi}' \"$@\"\n",
                d = dir.display(),
                pi = pi_bin().display()
            ),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", wrapper.to_str().unwrap()])
            .status()
            .unwrap();
        Setup { dir }
    }

    fn options(&self) -> String {
        json!({"provider": "pi", "model": "mock:m1", "workdir": self.dir,
            "pi_command": [self.dir.join("pi.sh")], "compaction": {"keep_recent": 1}})
        .to_string()
    }

    /// The pids of the pi processes started so far.
    fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split(' ').nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

fn turn_ended(c: &Client, id: &str) -> (Value, Vec<Value>) {
    wait_for(c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    })
}

fn errors(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "error")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// The `user` messages of a Chat Completions request body, as text.
fn user_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn a_turn_streams_pi_text_and_pi_keeps_the_history() {
    let mock = Mock::start(vec![
        Reply::Say(
            vec!["Hel".into(), "lo\u{2028}there".into()],
            Duration::from_millis(50),
        ),
        say("Second."),
        say("Summary: a greeting."),
    ]);
    let s = Setup::new("turn", &mock);
    let c = client();
    let id = c.start_session(Some(&s.options())).unwrap();
    c.send_prompt(&id, text("hello pi")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    // U+2028 inside a JSON string does not cut pi's record apart.
    assert_eq!(text_of(&events, &id), "Hello\u{2028}there");
    assert_eq!(
        (
            end["usage"]["input"].as_u64(),
            end["usage"]["output"].as_u64()
        ),
        (Some(11), Some(7))
    );
    let first = mock.next_request();
    assert_eq!(first["model"], "m1");
    assert_eq!(user_texts(&first), ["hello pi"]);
    let messages = c.messages(&id).unwrap();
    assert!(messages
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "assistant" && m["text"] == "Hello\u{2028}there"));

    // The next prompt sends only the new message: the history pi sends the model is its own.
    c.send_prompt(&id, text("and again")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Second.");
    let second = mock.next_request();
    assert_eq!(user_texts(&second), ["hello pi", "and again"]);
    assert!(second.to_string().contains("Hello\u{2028}there"));
    assert_eq!(s.pids().len(), 1, "one pi serves every turn");

    // Compaction is pi's own: its summary becomes tandem's, and the next turn goes on with pi's history.
    let compacted = c.compact(&id).unwrap();
    assert_eq!(compacted["compacted"], true, "{compacted}");
    assert_eq!(compacted["summary"], "Summary: a greeting.");
    // (pi decides what its summary covers; on a conversation this short it keeps every message.)
    let req = mock.next_request();
    assert!(req.to_string().contains("summar"), "{req}");
    c.send_prompt(&id, text("after compaction")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    let body = mock.next_request();
    assert_eq!(
        user_texts(&body).last().map(String::as_str),
        Some("after compaction"),
        "no replay after a compaction"
    );
    assert!(body.to_string().contains("Summary: a greeting."));

    // A new conversation starts pi's over.
    c.new_conversation(&id).unwrap();
    c.send_prompt(&id, text("fresh start")).unwrap();
    let (end, _) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed");
    assert_eq!(user_texts(&mock.next_request()), ["fresh start"]);

    let pid = s.pids()[0];
    c.stop_session(&id).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "pi outlived its session");
}

#[test]
fn pi_changes_outside_a_boundary_are_reported_and_pi_is_told() {
    let mock = Mock::start(vec![
        Reply::Tool("bash", json!({"command": "printf 'A\\nb\\nc\\n' > f.txt"})),
        // A model that takes a second to answer after the tool: pi reads the steering message tandem sends when
        // the tool ends before this answer ends its run (on a loaded machine an instant answer could beat it).
        Reply::Say(vec!["Changed it.".into()], Duration::from_secs(1)),
    ]);
    let s = Setup::new("bounds", &mock);
    std::fs::write(s.dir.join("f.txt"), "a\nb\nc\n").unwrap();
    let c = client();
    let id = c.start_session(Some(&s.options())).unwrap();
    c.set_boundary(&id, "f.txt", 1, 2).unwrap();
    c.send_prompt(&id, text("change f.txt")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(
        std::fs::read_to_string(s.dir.join("f.txt")).unwrap(),
        "A\nb\nc\n",
        "pi ran the command"
    );
    let path = s
        .dir
        .canonicalize()
        .unwrap()
        .join("f.txt")
        .display()
        .to_string();
    let v = events
        .iter()
        .find(|e| e["kind"] == "boundary_violated")
        .unwrap_or_else(|| panic!("no violation in {events:#?}"));
    assert_eq!(v["path"], path.as_str());
    assert_eq!(v["tool_name"], "bash");
    assert_eq!(v["changed"], json!([{"start_line": 0, "end_line": 0}]));
    assert!(events.iter().any(|e| e["kind"] == "file_changed"
        && e["path"] == path.as_str()
        && e["after"] == "A\nb\nc\n"));
    let ended = events.iter().find(|e| e["kind"] == "tool_ended").unwrap();
    assert!(ended["result"]
        .as_str()
        .unwrap()
        .contains("[boundary violation]"));
    // pi was told with a steering message: pi takes it before its next model call (here, after the answer that
    // followed the tool, so the run goes on with one more call), all within the turn.
    let told: Vec<Value> = mock.seen.try_iter().collect();
    assert!(
        told.iter().any(|r| user_texts(r)
            .iter()
            .any(|t| t.contains("[boundary violation]") && t.contains("allowed range is 1-2"))),
        "{told:#?}"
    );
}

#[test]
fn steering_reaches_pi_during_a_turn() {
    let slow: Vec<String> = (0..8).map(|i| format!("w{i} ")).collect();
    let mock = Mock::start(vec![
        Reply::Say(slow, Duration::from_millis(250)),
        say("Steered."),
    ]);
    let s = Setup::new("steer", &mock);
    let c = client();
    let id = c.start_session(Some(&s.options())).unwrap();
    c.send_prompt(&id, text("write slowly")).unwrap();
    wait_for(&c, WAIT, |e| {
        e["kind"] == "text_delta" && e["session_id"] == id
    });
    let queued = c
        .send_prompt(&id, text("STEER-4711 change course"))
        .unwrap();
    assert_eq!(format!("{queued:?}"), "QueuedSteering");
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(user_texts(&mock.next_request()), ["write slowly"]);
    let next = mock.next_request();
    assert_eq!(
        user_texts(&next).last().map(String::as_str),
        Some("STEER-4711 change course")
    );
    assert!(text_of(&events, &id).ends_with("Steered."));
}

#[test]
fn abort_ends_the_turn_quickly_and_the_session_goes_on() {
    let mock = Mock::start(vec![Reply::Hang, say("After abort.")]);
    let s = Setup::new("abort", &mock);
    let c = client();
    let mut options: Value = serde_json::from_str(&s.options()).unwrap();
    options["models"] = json!(["mock:m1", "mock:nope"]);
    let id = c.start_session(Some(&options.to_string())).unwrap();
    c.send_prompt(&id, text("never answered")).unwrap();
    mock.next_request();
    let t = Instant::now();
    c.abort(&id).unwrap();
    let (end, _) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "aborted");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "abort took {:?}",
        t.elapsed()
    );

    c.send_prompt(&id, text("next one")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "After abort.");
    let body = mock.next_request();
    assert_eq!(
        user_texts(&body).last().map(String::as_str),
        Some("next one")
    );
    assert_eq!(s.pids().len(), 1, "the aborted pi was reused");

    // A model pi does not list is refused, naming the ones it has; switches reach the same process at the next turn.
    match c.set_model(&id, "mock:nope") {
        Err(tandem::Error::NotFound(m)) => assert!(m.contains("mock:m1"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.metadata(&id).unwrap()["model"], "mock:m1");
    let models = c.available_models(&id).unwrap();
    assert!(
        models
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["model"] == "mock:m1" && m["current"] == true),
        "{models}"
    );
    // Skills and summaries are pi's own business.
    assert!(matches!(
        c.activate_skill(&id, "anything"),
        Err(tandem::Error::NotSupported(_))
    ));
    assert!(matches!(
        c.summarize(&id),
        Err(tandem::Error::NotSupported(_))
    ));
    let commands = c.commands(&id).unwrap();
    assert!(
        commands
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] == "builtin" || c["kind"] == "pi"),
        "{commands}"
    );
    // A model a rotation picks is not checked in advance: one pi does not know fails that turn.
    assert_eq!(c.cycle_model(&id).unwrap()["model"], "mock:nope");
    c.send_prompt(&id, text("with a bad model")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "error");
    let errs = errors(&events);
    assert!(
        errs.iter()
            .any(|e| e.contains("pi cannot use model mock:nope")),
        "{errs:?}"
    );
    c.set_model(&id, "mock:m1").unwrap();
    c.set_thinking_level(&id, "high").unwrap();
    // (Each question about models and commands ran a pi of its own, which has exited.)
    let started = s.pids();
    c.send_prompt(&id, text("good model again")).unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(s.pids(), started, "switching models keeps the process");
    assert!(alive(started[0]), "the session's pi is the first one");
    assert!(
        started[1..].iter().all(|p| !alive(*p)),
        "the questions' pis are gone"
    );
}

#[test]
fn a_killed_pi_ends_the_turn_and_the_next_turn_gets_a_new_one() {
    let mock = Mock::start(vec![say("First answer."), Reply::Hang, say("Back again.")]);
    let s = Setup::new("kill", &mock);
    let c = client();
    let id = c.start_session(Some(&s.options())).unwrap();
    c.send_prompt(&id, text("remember PELICAN")).unwrap();
    assert_eq!(turn_ended(&c, &id).0["reason"], "completed");
    mock.next_request();

    c.send_prompt(&id, text("this one dies")).unwrap();
    mock.next_request();
    let pid = s.pids()[0];
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "error", "{events:#?}");
    let errs = errors(&events);
    assert!(
        errs.iter()
            .any(|e| e.contains("pi exited") && e.contains("SIGKILL") || e.contains("signal: 9")),
        "{errs:?}"
    );

    // While the restart's backoff runs the prompt is refused as not ready (docs/providers.md), as a host sees it.
    send_when_ready(&c, &id, "still there?", "pi is being restarted");
    let (end, events) = turn_ended(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Back again.");
    assert_eq!(s.pids().len(), 2, "a new pi was started");
    let messages = c.messages(&id).unwrap().to_string();
    assert!(messages.contains("Started a new pi process"), "{messages}");
    // The new pi gets the earlier conversation replayed with the new message.
    let body = mock.next_request();
    let last = user_texts(&body).pop().unwrap();
    assert!(
        last.contains("remember PELICAN")
            && last.contains("First answer.")
            && last.ends_with("still there?"),
        "{last}"
    );
}

/// Sends `prompt` as a host would after a pi failure: while pi waits out its backoff the prompt is refused with
/// `ProviderNotReady` naming `why`, and accepted once the backoff has run.
fn send_when_ready(c: &tandem::Client, id: &str, prompt: &str, why: &str) {
    loop {
        match c.send_prompt(id, text(prompt)) {
            Err(tandem::Error::ProviderNotReady(m)) => {
                assert!(m.contains(why), "{m}");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.map(drop).unwrap(),
        }
    }
}

#[test]
fn a_missing_pi_is_an_error_at_prompt_time() {
    let c = client();
    let dir = std::env::temp_dir();
    let opts = json!({"provider": "pi", "model": "mock:m1", "workdir": dir,
        "pi_command": ["/nonexistent/tandem-test/pi"]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    for _ in 0..2 {
        // While the failed start waits out its backoff the provider is not ready; the prompt is accepted after.
        send_when_ready(&c, &id, "hi", "cannot start pi");
        let (end, events) = turn_ended(&c, &id);
        assert_eq!(end["reason"], "error");
        let errs = errors(&events);
        assert!(
            errs.iter().any(|e| e.contains("cannot start pi") && e.contains("/nonexistent/tandem-test/pi")),
            "{errs:?}"
        );
    }
    // Everything that does not need pi still works.
    assert!(c.messages(&id).unwrap().as_array().unwrap().len() >= 2);
    c.stop_session(&id).unwrap();
}
