//! The ACP provider against an agent nobody here wrote: `@zed-industries/codex-acp` (pinned in
//! tools/codex-acp/package-lock.json, installed by scripts/install-codex-acp.sh, or found through
//! `TANDEM_CODEX_ACP_DIR`), its model pointed through Codex's own configuration (`CODEX_HOME/config.toml`, a model
//! provider with `base_url`) at a mock OpenAI Responses API server of ours.
#![cfg(feature = "acp")]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::http_mock::{read_request, serve, Reply};
use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::session::transcript::ContentPart;
use tandem::Client;

const WAIT: Duration = Duration::from_secs(120);

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// The Responses API `response` object in state `status`.
fn response(status: &str) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 0, "status": status, "model": "mock-model",
        "output": [], "usage": {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8}})
}

/// `items` (output item events) as a whole streamed answer: created, the items, completed; numbered.
fn stream(items: Vec<Value>) -> String {
    let mut events = vec![json!({"type": "response.created", "response": response("in_progress")})];
    events.extend(items);
    events.push(json!({"type": "response.completed", "response": response("completed")}));
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e["sequence_number"] = json!(i);
            format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap())
        })
        .collect()
}

/// A streamed Responses API answer whose one output item is `item` (complete, no deltas).
fn item_answer(item: Value) -> String {
    stream(vec![
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ])
}

/// A streamed Responses API answer saying `words` as one message, one delta per word.
fn answer(words: &[&str]) -> String {
    let all: String = words.concat();
    let mut events = vec![
        json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"id": "m1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": "m1", "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    for w in words {
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "m1", "output_index": 0,
            "content_index": 0, "delta": w}),
        );
    }
    events.push(
        json!({"type": "response.output_item.done", "output_index": 0,
        "item": {"id": "m1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": all, "annotations": []}]}}),
    );
    stream(events)
}

/// A Codex home whose model provider is the mock at `url`, and a workdir; removed on drop.
struct Codex(PathBuf);

impl Codex {
    fn new(name: &str, url: &str) -> Codex {
        Codex::with_config(name, url, "")
    }

    /// A Codex home whose config.toml also has `top` (top-level keys, one a line).
    fn with_config(name: &str, url: &str, top: &str) -> Codex {
        let p = std::env::temp_dir().join(format!("tandem-codex-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("home")).unwrap();
        std::fs::create_dir_all(p.join("work")).unwrap();
        let config = format!(
            "model = \"gpt-5.4\"\nmodel_provider = \"mock\"\n{top}\n[model_providers.mock]\nname = \"mock\"\n\
             base_url = \"{url}/v1\"\nwire_api = \"responses\"\nenv_key = \"TANDEM_MOCK_KEY\"\n"
        );
        std::fs::write(p.join("home/config.toml"), config).unwrap();
        Codex(p.canonicalize().unwrap())
    }

    /// Session options running codex-acp with this home.
    fn options(&self) -> String {
        let (dir, node) = npm_install("install-codex-acp.sh", "TANDEM_CODEX_ACP_DIR");
        let launcher = dir.join("node_modules/@zed-industries/codex-acp/bin/codex-acp.js");
        let home = format!("CODEX_HOME={}", self.0.join("home").display());
        let command = json!([
            "env",
            home,
            "TANDEM_MOCK_KEY=not-a-real-key",
            node,
            launcher
        ]);
        json!({"provider": "acp", "acp_command": command, "workdir": self.0.join("work")})
            .to_string()
    }
}

impl Drop for Codex {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn codex_streams_an_answer_from_the_mock_responses_api() {
    let (url, seen) = serve(vec![Reply::Send(
        200,
        vec![],
        answer(&["Hello ", "from ", "the mock"]),
        64,
    )]);
    let codex = Codex::new("stream", &url);
    let c = Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let id = c.start_session(Some(&codex.options())).unwrap();
    c.send_prompt(&id, text("say hello")).unwrap();
    let (_, events) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    let ended = events.last().unwrap();
    assert_eq!(ended["reason"], "completed", "{events:?}");
    assert_eq!(text_of(&events, &id), "Hello from the mock");
    let msgs = c.messages(&id).unwrap();
    let last = msgs
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["kind"] == "assistant")
        .unwrap();
    assert_eq!(last["text"], "Hello from the mock");
    let request = seen.recv_timeout(WAIT).unwrap();
    assert!(
        request.head.starts_with("POST /v1/responses"),
        "{}",
        request.head
    );
    assert_eq!(request.body["model"], "gpt-5.4");
    assert!(
        request.body.to_string().contains("say hello"),
        "the prompt reached the model"
    );
}

/// A mock whose first answer streams the word `start` and then nothing more (its connection held open until the
/// client closes it), and whose second answer is `then`.
fn stall_then(then: String) -> String {
    let started = answer(&["start"]);
    // Everything up to the first delta: the answer's end never comes.
    let started = started[..started.find("event: response.output_item.done").unwrap()].to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // One request per connection, answered with an event stream whose body is `body`.
        let reply = |body: &str| {
            let (mut s, _) = listener.accept().ok()?;
            read_request(&mut s);
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            s.write_all(head.as_bytes()).ok()?;
            s.write_all(body.as_bytes()).and_then(|_| s.flush()).ok()?;
            Some(s)
        };
        let Some(mut held) = reply(&started) else {
            return;
        };
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while matches!(held.read(&mut buf), Ok(n) if n > 0) {}
        });
        reply(&then);
    });
    url
}

#[test]
fn abort_cancels_codex_while_its_model_streams_and_the_next_prompt_runs() {
    let url = stall_then(answer(&["after"]));
    let codex = Codex::new("cancel", &url);
    let c = Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let id = c.start_session(Some(&codex.options())).unwrap();
    c.send_prompt(&id, text("think forever")).unwrap();
    wait_for(&c, WAIT, |e| {
        e["kind"] == "text_delta" && e["delta"] == "start"
    });
    c.abort(&id).unwrap();
    let (ended, _) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    assert_eq!(ended["reason"], "aborted");
    c.send_prompt(&id, text("again")).unwrap();
    let (_, events) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    assert_eq!(events.last().unwrap()["reason"], "completed", "{events:?}");
    assert_eq!(text_of(&events, &id), "after");
}

/// Codex's policy letting it write anything without asking: codex-acp's mode `full-access`.
const FULL_ACCESS: &str = "approval_policy = \"never\"\nsandbox_mode = \"danger-full-access\"\n";

/// A session running codex-acp (its config.toml with `top` added) whose model first calls `apply_patch` to add
/// hello.txt (call `call_1`), then says `patched`; prompted to add the file.
fn patch_session(name: &str, top: &str) -> (Codex, Client, String) {
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi there\n*** End Patch\n";
    let call = json!({"id": "ct1", "type": "custom_tool_call", "status": "completed", "call_id": "call_1",
        "name": "apply_patch", "input": patch});
    let (url, _) = serve(vec![
        Reply::Send(200, vec![], item_answer(call), 4096),
        Reply::Send(200, vec![], answer(&["patched"]), 64),
    ]);
    let codex = Codex::with_config(name, &url, top);
    let c = Client::new(Some(r#"{"store_dir": null}"#)).unwrap();
    let id = c.start_session(Some(&codex.options())).unwrap();
    c.send_prompt(&id, text("add hello")).unwrap();
    (codex, c, id)
}

/// Checks that the turn of `events` completed, codex said `patched`, and its patch is on disk and recorded once as
/// call_1's change.
fn assert_patched(codex: &Codex, c: &Client, id: &str, events: &[Value]) {
    assert_eq!(events.last().unwrap()["reason"], "completed", "{events:?}");
    assert_eq!(text_of(events, id), "patched");
    assert_eq!(
        std::fs::read_to_string(codex.0.join("work/hello.txt")).unwrap(),
        "hi there\n",
        "codex wrote the file itself"
    );
    let changed: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "file_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(changed[0]["tool_call_id"], "call_1");
    assert_eq!(changed[0]["action"], "created");
    assert_eq!(changed[0]["after"], "hi there\n");
    let touched = c.touched_files(id).unwrap().to_string();
    assert!(touched.contains("hello.txt"), "{touched}");
}

/// Under a policy that lets it write everything (codex-acp's `full-access` mode, set in its config.toml), codex
/// applies a patch itself: no `fs/write_text_file`, no permission request. tandem records the edit from the call's
/// `diff` content.
#[test]
fn codexs_own_patch_is_recorded_as_a_file_change_from_its_diff() {
    let (codex, c, id) = patch_session("patch", FULL_ACCESS);
    let (_, events) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    assert!(
        events.iter().all(|e| e["kind"] != "approval_pending"),
        "{events:?}"
    );
    assert_patched(&codex, &c, &id, &events);
}

/// Under its default policy in a workdir it does not trust (codex-acp's `read-only` mode), codex asks before
/// applying a patch: the host gets an `approval_pending` for the call, with the patch's changes, and codex waits.
/// Answers it with `decision`; returns the events up to the end of the turn.
fn patch_answered(name: &str, decision: Decision) -> (Codex, Client, String, Vec<Value>) {
    let (codex, c, id) = patch_session(name, "");
    let (ev, before) = wait_for(&c, WAIT, |e| {
        e["kind"] == "approval_pending" || e["kind"] == "turn_ended"
    });
    assert_eq!(ev["kind"], "approval_pending", "{before:?}");
    let approval = &ev["approval"];
    assert_eq!(approval["tool_call_id"], "call_1", "{approval}");
    let path = codex.0.join("work/hello.txt");
    let change = &approval["args"]["changes"][path.to_str().unwrap()];
    assert_eq!(change["content"], "hi there\n", "{approval}");
    assert!(!path.exists(), "codex waits for the answer");
    c.respond_to_approval(&id, None, decision).unwrap();
    let (_, events) = wait_for(&c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    (codex, c, id, events)
}

#[test]
fn codexs_patch_asks_first_and_an_approval_lets_it_apply() {
    let (codex, c, id, events) = patch_answered("approve", Decision::Approve);
    assert_patched(&codex, &c, &id, &events);
}

#[test]
fn a_rejected_codex_patch_leaves_the_file_alone_and_ends_the_turn() {
    let (codex, _c, id, events) = patch_answered("reject", Decision::Reject);
    assert!(!codex.0.join("work/hello.txt").exists());
    assert!(
        events.iter().all(|e| e["kind"] != "file_changed"),
        "{events:?}"
    );
    let ended = events
        .iter()
        .find(|e| e["kind"] == "tool_ended" && e["tool_call_id"] == "call_1")
        .expect("the call ended");
    assert_eq!(ended["is_error"], true, "{ended}");
    // codex answers a refused patch by stopping the turn (its `abort` option): the model is not asked again.
    assert_eq!(text_of(&events, &id), "");
    assert_eq!(events.last().unwrap()["reason"], "completed", "{events:?}");
}
