//! HTTP model backends end to end, against local mock servers that speak each wire format byte by byte.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::http_mock::{openai_reply, read_request, serve, Reply};
use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn sse(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

/// An Anthropic response: optional signed thinking, text, optional tool call (arguments in 3-byte deltas).
fn anthropic_reply(
    thinking: Option<(&str, &str)>,
    say: &str,
    tool: Option<(&str, &str, Value)>,
) -> String {
    let mut ev = vec![
        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [],
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 1}}}),
        json!({"type": "ping"}),
    ];
    let mut i = 0;
    if let Some((t, sig)) = thinking {
        ev.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}));
        ev.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": t}}));
        ev.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": sig}}));
        ev.push(json!({"type": "content_block_stop", "index": i}));
        i += 1;
    }
    ev.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}));
    ev.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": say}}));
    ev.push(json!({"type": "content_block_stop", "index": i}));
    i += 1;
    let stop = if let Some((id, name, args)) = tool {
        ev.push(json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}));
        let args = args.to_string();
        for piece in args.as_bytes().chunks(3) {
            let piece = String::from_utf8(piece.to_vec()).unwrap();
            ev.push(json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}}));
        }
        ev.push(json!({"type": "content_block_stop", "index": i}));
        "tool_use"
    } else {
        "end_turn"
    };
    ev.push(json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 20}}));
    ev.push(json!({"type": "message_stop"}));
    sse(&ev)
}

const KEY: &str = "sk-test-SECRET-4242";

#[test]
fn anthropic_turn_streams_thinking_and_tools_and_replays_them_exactly() {
    std::env::set_var("TANDEM_TEST_ANTHROPIC_KEY", KEY);
    let dir = std::env::temp_dir().join(format!("tandem-prov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
    let first = anthropic_reply(
        Some(("Need the file.", "SIG-1")),
        "Reading.",
        Some(("toolu_1", "read_file", json!({"path": "a.txt"}))),
    );
    let second = anthropic_reply(None, "It says alpha.", None);
    let (url, seen) = serve(vec![
        Reply::Send(200, vec![], first, 1),
        Reply::Send(200, vec![], second, 7),
        Reply::Send(200, vec![], anthropic_reply(None, "Bye.", None), 4096),
    ]);
    let c = client();
    let opts = json!({"model": "anthropic:claude-sonnet-4-20250514", "base_url": url, "thinking_level": "low",
        "api_key_env": "TANDEM_TEST_ANTHROPIC_KEY", "workdir": dir, "tools": ["read_file"], "system_prompt": "Be brief."});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("what is in a.txt?")).unwrap();
    let (end, events) = read_round(&c, &id);
    let usage = &end["usage"];
    assert_eq!(
        (usage["input"].as_u64(), usage["output"].as_u64()),
        (Some(20), Some(40))
    );
    assert_eq!(
        (usage["cache_read"].as_u64(), usage["cache_write"].as_u64()),
        (Some(200), Some(10))
    );
    let cost = 2.0 * (10.0 * 3.0 + 20.0 * 15.0 + 100.0 * 0.3 + 5.0 * 3.75) / 1e6;
    assert!((usage["cost"].as_f64().unwrap() - cost).abs() < 1e-12);
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(KEY) && !all.contains("SIG-1"),
        "key or signature leaked into events"
    );

    let r1 = seen.recv().unwrap();
    assert!(r1.head.starts_with("POST /v1/messages HTTP/1.1"));
    let head = r1.head.to_ascii_lowercase();
    assert!(head.contains(&format!("x-api-key: {}", KEY.to_ascii_lowercase())));
    assert!(head.contains("anthropic-version: 2023-06-01"));
    assert_eq!(
        r1.body["system"],
        json!([{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        r1.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(r1.body["tools"][0]["name"], "read_file");
    assert_eq!(
        r1.body["tools"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        r1.body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "what is in a.txt?"}]}])
    );
    let r2 = seen.recv().unwrap();
    let tool_result = r2.body["messages"][2]["content"][0].clone();
    assert_eq!(
        r2.body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "what is in a.txt?"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need the file.", "signature": "SIG-1"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.txt"}},
            ]},
            {"role": "user", "content": [tool_result.clone()]},
        ])
    );
    assert_eq!(tool_result["tool_use_id"], "toolu_1");
    assert_eq!(tool_result["is_error"], false);
    assert!(tool_result["content"].as_str().unwrap().contains("alpha"));

    // The next turn rebuilds the same replay from the transcript (signature included).
    c.send_prompt(&id, text("thanks")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    let r3 = seen.recv().unwrap();
    let mut expected = r2.body["messages"].clone();
    expected.as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": [{"type": "text", "text": "It says alpha."}]}),
        json!({"role": "user", "content": [{"type": "text", "text": "thanks"}]}),
    ]);
    assert_eq!(r3.body["messages"], expected);
}

#[test]
fn openai_retries_429_with_retry_after_and_prices_from_options() {
    std::env::set_var("TANDEM_TEST_OPENAI_KEY", KEY);
    let (url, seen) = serve(vec![
        Reply::Send(
            429,
            vec![("retry-after", "0".into())],
            json!({"error": {"message": "Rate limit reached"}}).to_string(),
            4096,
        ),
        Reply::Send(503, vec![], "upstream down".into(), 4096),
        Reply::Send(
            200,
            vec![],
            openai_reply("Hello there.", (1000, 10, 400)),
            1,
        ),
    ]);
    let c = client();
    let opts = json!({"model": "openai:gpt-4o", "base_url": format!("{url}/v1"), "api_key_env": "TANDEM_TEST_OPENAI_KEY",
        "retry": {"base_delay_ms": 1}, "prices": {"input": 1.0, "output": 2.0, "cache_read": 0.5, "cache_write": 0.0}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("hi")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Hello there.");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "context_usage" && e["context_limit"] == 128000));
    let cost = (600.0 * 1.0 + 10.0 * 2.0 + 400.0 * 0.5) / 1e6;
    assert!((end["usage"]["cost"].as_f64().unwrap() - cost).abs() < 1e-12);
    let notices: Vec<String> = c
        .messages(&id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "system" && m["text"].as_str().unwrap().starts_with("Retrying in"))
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        notices,
        vec![
            "Retrying in 0.0 s (attempt 1 of 3): HTTP 429: Rate limit reached".to_string(),
            notices[1].clone(),
        ]
    );
    assert!(
        notices[1].ends_with("(attempt 2 of 3): HTTP 503: upstream down"),
        "{}",
        notices[1]
    );
    // Each retry is also an event a host can show without reading the transcript.
    let retries: Vec<&Value> = events.iter().filter(|e| e["kind"] == "retrying").collect();
    assert_eq!(retries.len(), 2, "{events:#?}");
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[0]["max_retries"], 3);
    assert_eq!(retries[0]["delay_ms"], 0, "Retry-After: 0 is honoured");
    assert_eq!(retries[0]["reason"], "HTTP 429: Rate limit reached");
    assert_eq!(retries[1]["attempt"], 2);
    assert_eq!(retries[1]["reason"], "HTTP 503: upstream down");
    for _ in 0..3 {
        let r = seen.recv().unwrap();
        assert!(r.head.starts_with("POST /v1/chat/completions HTTP/1.1"));
        assert!(r.head.to_ascii_lowercase().contains(&format!(
            "authorization: bearer {}",
            KEY.to_ascii_lowercase()
        )));
        // No system_prompt option: the default coding prompt goes first (this session has no workdir).
        let system = r.body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(system.contains("no file tools"), "{system}");
        assert_eq!(
            r.body,
            json!({"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]})
        );
    }
}

#[test]
fn missing_keys_stalls_drops_and_budgets_end_the_turn_cleanly() {
    let c = client();
    // No key: an error at prompt time, and the session stays usable.
    let opts = json!({"model": "anthropic:claude-sonnet-4", "api_key_env": "TANDEM_TEST_UNSET_KEY_VAR", "base_url": "http://127.0.0.1:9"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("x")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error");
    assert!(events.iter().any(|e| e["kind"] == "error"
        && e["message"]
            .as_str()
            .unwrap()
            .contains("TANDEM_TEST_UNSET_KEY_VAR")));

    std::env::set_var("TANDEM_TEST_OLLAMA_KEY", KEY);
    let (tx, gone) = mpsc::channel();
    let (url, _seen) = serve(vec![
        Reply::Stall(tx),
        Reply::Send(
            200,
            vec![],
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n".into(),
            1,
        ),
        Reply::Send(200, vec![], "data: {broken\n\n".into(), 1),
        Reply::Send(200, vec![], openai_reply("Paid.", (1_000_000, 0, 0)), 64),
    ]);
    let opts = json!({"model": "ollama:llama3", "base_url": format!("{url}/v1"), "api_key_env": "TANDEM_TEST_OLLAMA_KEY",
        "stream_idle_timeout_ms": 300, "retry": {"max_retries": 0}, "max_cost": 0.5, "prices": {"input": 1.0, "output": 1.0}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    for expect in [
        "timeout: the stream sent nothing",
        "connection closed before the response was complete",
        "malformed event",
    ] {
        c.send_prompt(&id, text("x")).unwrap();
        let (end, events) = turn_end(&c, &id);
        assert_eq!(end["reason"], "error", "{events:#?}");
        let err = events.iter().find(|e| e["kind"] == "error").unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(err.contains(expect), "{err} lacks {expect}");
        assert!(!err.contains(KEY));
    }
    gone.recv_timeout(Duration::from_secs(5))
        .expect("the stalled connection was closed");
    c.send_prompt(&id, text("x")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    // The session has spent $1 of its $0.50: the next turn ends at once, over budget.
    c.send_prompt(&id, text("more")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "budget_exhausted");
    let stop = events
        .iter()
        .find(|e| e["kind"] == "budget_exhausted")
        .unwrap();
    assert_eq!(
        (
            stop["limit"].as_str(),
            stop["spent"].as_f64(),
            stop["allowed"].as_f64()
        ),
        (Some("max_cost"), Some(1.0), Some(0.5))
    );
    assert_eq!(stop["budget_session_id"], id.as_str());
    assert!(events.iter().any(|e| e["kind"] == "error"
        && e["message"].as_str().unwrap().starts_with(&format!(
            "Budget exhausted: the session tree of {id} has spent $1.00 of its max_cost ($0.50)"
        ))));
}

#[test]
fn abort_closes_the_http_stream_promptly() {
    std::env::set_var("TANDEM_TEST_ABORT_KEY", KEY);
    let (tx, gone) = mpsc::channel();
    let (url, seen) = serve(vec![Reply::Stall(tx)]);
    let c = client();
    let opts =
        json!({"model": "openai:gpt-4o", "base_url": url, "api_key_env": "TANDEM_TEST_ABORT_KEY"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("x")).unwrap();
    seen.recv_timeout(Duration::from_secs(5)).unwrap();
    thread::sleep(Duration::from_millis(100));
    c.abort(&id).unwrap();
    gone.recv_timeout(Duration::from_secs(2))
        .expect("abort closed the connection");
    turn_end(&c, &id);
}

#[test]
fn available_models_come_from_the_models_endpoint_with_the_rotation_as_fallback() {
    std::env::set_var("TANDEM_TEST_MODELS_KEY", KEY);
    let list = json!({"data": [{"id": "claude-a", "type": "model"}, {"id": "claude-sonnet-4"}], "has_more": false});
    let (url, seen) = serve(vec![
        Reply::Send(
            200,
            vec![("content-type", "application/json".into())],
            list.to_string(),
            4096,
        ),
        Reply::Send(500, vec![], "down".into(), 4096),
    ]);
    let c = client();
    let opts = json!({"model": "anthropic:claude-sonnet-4", "base_url": url, "api_key_env": "TANDEM_TEST_MODELS_KEY",
        "models": ["anthropic:claude-sonnet-4", "openai:gpt-4o"]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    let listed = c.available_models(&id).unwrap();
    assert_eq!(
        listed,
        json!([
            {"model": "anthropic:claude-a", "provider": "anthropic", "name": "claude-a", "current": false},
            {"model": "anthropic:claude-sonnet-4", "provider": "anthropic", "name": "claude-sonnet-4", "current": true},
        ])
    );
    let r = seen.recv().unwrap();
    assert!(
        r.head.starts_with("GET /v1/models?limit=1000 HTTP/1.1"),
        "{}",
        r.head
    );
    assert!(r
        .head
        .to_ascii_lowercase()
        .contains(&format!("x-api-key: {}", KEY.to_ascii_lowercase())));
    // The endpoint fails: the configured rotation answers.
    let fallback = c.available_models(&id).unwrap();
    assert_eq!(fallback[0]["model"], "anthropic:claude-sonnet-4");
    assert_eq!(fallback[1]["model"], "openai:gpt-4o");
    assert_eq!(fallback.as_array().unwrap().len(), 2);
}

#[test]
fn set_model_checks_the_model_against_the_backends_list() {
    std::env::set_var("TANDEM_TEST_MODELS_KEY", KEY);
    let list = json!({"data": [{"id": "claude-a"}, {"id": "claude-sonnet-4-5-20250929"}], "has_more": false});
    let reply = || {
        Reply::Send(
            200,
            vec![("content-type", "application/json".into())],
            list.to_string(),
            4096,
        )
    };
    let (url, _seen) = serve(vec![reply(), reply(), reply()]);
    let c = client();
    let opts = json!({"model": "anthropic:claude-a", "base_url": url, "api_key_env": "TANDEM_TEST_MODELS_KEY"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    match c.set_model(&id, "anthropic:claude-nope") {
        Err(tandem::Error::NotFound(m)) => assert_eq!(
            m,
            "the provider does not list model \"anthropic:claude-nope\"; it has: anthropic:claude-a, \
             anthropic:claude-sonnet-4-5-20250929"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.metadata(&id).unwrap()["model"], "anthropic:claude-a");
    // An alias without the date names the dated model.
    c.set_model(&id, "anthropic:claude-sonnet-4-5").unwrap();
    c.set_model(&id, "anthropic:claude-a").unwrap();
    // Another backend's model is not checked against this one's list (the base URL is this backend's).
    c.set_model(&id, "scripted:echo").unwrap();
    assert_eq!(c.metadata(&id).unwrap()["model"], "scripted:echo");
}

/// A keep-alive server answering every request on a connection with `body`; counts accepted connections.
fn serve_keep_alive(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            thread::spawn(move || loop {
                let mut peek = [0u8; 1];
                // The client closed the connection: this one is done.
                if !matches!(s.peek(&mut peek), Ok(n) if n > 0) {
                    return;
                }
                read_request(&mut s);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if s.write_all(head.as_bytes())
                    .and_then(|_| s.write_all(body.as_bytes()))
                    .is_err()
                {
                    return;
                }
            });
        }
    });
    (url, accepted)
}

#[test]
fn sessions_of_one_client_share_its_connections() {
    std::env::set_var("TANDEM_TEST_POOL_KEY", KEY);
    let (url, accepted) = serve_keep_alive(openai_reply("Hi.", (1, 1, 0)));
    let c = client();
    let opts =
        json!({"model": "openai:gpt-4o", "base_url": url, "api_key_env": "TANDEM_TEST_POOL_KEY"});
    let a = c.start_session(Some(&opts.to_string())).unwrap();
    let b = c.start_session(Some(&opts.to_string())).unwrap();
    for id in [&a, &b, &a] {
        c.send_prompt(id, text("hi")).unwrap();
        let (end, _) = turn_end(&c, id);
        assert_eq!(end["reason"], "completed");
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "three calls of two sessions reuse one connection"
    );
}

#[test]
fn continue_resumes_a_turn_cut_off_by_an_idle_timeout() {
    std::env::set_var("TANDEM_TEST_OLLAMA_KEY", KEY);
    let (tx, gone) = mpsc::channel();
    let (url, seen) = serve(vec![
        Reply::Stall(tx),
        Reply::Send(200, vec![], openai_reply("Resumed.", (10, 2, 0)), 64),
    ]);
    let c = client();
    let opts = json!({"model": "ollama:llama3", "base_url": format!("{url}/v1"), "api_key_env": "TANDEM_TEST_OLLAMA_KEY",
        "stream_idle_timeout_ms": 300, "retry": {"max_retries": 0}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    // Nothing was streamed before the stall: the cut-off is still resumable, like a dropped stream.
    c.send_prompt(&id, text("question")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error", "{events:#?}");
    let err = events.iter().find(|e| e["kind"] == "error").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.starts_with("Stream interrupted: timeout:"), "{err}");
    gone.recv_timeout(Duration::from_secs(5))
        .expect("the stalled connection was closed");
    c.continue_turn(&id)
        .expect("continue after an idle timeout");
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Resumed.");
    seen.recv().unwrap();
    let second = seen.recv().unwrap();
    let messages = second.body["messages"].as_array().unwrap();
    assert!(messages.iter().any(|m| m["content"] == "question"));
    assert!(messages.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
}
