//! The OpenAI Responses API backend (`openai-responses:<model>`) end to end, against a local mock server speaking
//! the wire format byte by byte. Every request body tandem sends and every event the mock sends are checked against
//! OpenAI's published schemas (`CreateResponse`, `ResponseStreamEvent` in tests/openai/responses-api.schema.json,
//! extracted from github.com/openai/openai-openapi at a pinned commit by tests/openai/extract.py).

mod common;

use std::sync::OnceLock;

use common::http_mock::{serve, Reply, Seen};
use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::Client;

const KEY: &str = "sk-test-RESPONSES-4242";
const ENC: &str = "gAAAAABencrypted-reasoning-ONE==";

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

/// The events as a stream, numbered (`sequence_number`) and each checked against the published event schema.
fn sse(events: &[Value]) -> String {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e["sequence_number"] = json!(i);
            check("ResponseStreamEvent", &e);
            format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap())
        })
        .collect()
}

/// A complete response object (every field the schema requires) with `status` and, when given, `usage`.
fn response(status: &str, usage: Option<Value>) -> Value {
    let mut r = json!({"id": "resp_1", "object": "response", "created_at": 0, "status": status, "model": "gpt-5",
        "output": [], "error": null, "incomplete_details": null, "instructions": null, "metadata": {},
        "parallel_tool_calls": true, "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "tools": []});
    if let Some(u) = usage {
        r["usage"] = u;
    }
    r
}

fn usage(input: u64, cached: u64, output: u64) -> Value {
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output, "output_tokens_details": {"reasoning_tokens": output / 2}, "total_tokens": input + output})
}

/// A streamed response: optional reasoning (summary, encrypted content), text in 2 deltas, optional function call
/// (arguments in 3-byte deltas), `response.completed` with usage.
fn reply(reasoning: Option<(&str, &str)>, say: &str, call: Option<(&str, &str, Value)>) -> String {
    let mut ev = vec![
        json!({"type": "response.created", "response": response("in_progress", None)}),
        json!({"type": "response.in_progress", "response": response("in_progress", None)}),
    ];
    let mut i = 0;
    if let Some((summary, enc)) = reasoning {
        ev.push(json!({"type": "response.output_item.added", "output_index": i, "item": {"type": "reasoning", "id": "rs_1", "summary": [], "status": "in_progress"}}));
        ev.push(json!({"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "output_index": i, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}));
        ev.push(json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": i, "summary_index": 0, "delta": summary}));
        ev.push(json!({"type": "response.reasoning_summary_text.done", "item_id": "rs_1", "output_index": i, "summary_index": 0, "text": summary}));
        ev.push(json!({"type": "response.output_item.done", "output_index": i, "item": {"type": "reasoning", "id": "rs_1", "status": "completed",
            "summary": [{"type": "summary_text", "text": summary}], "encrypted_content": enc}}));
        i += 1;
    }
    let (a, b) = say.split_at(say.len() / 2);
    ev.push(json!({"type": "response.output_item.added", "output_index": i, "item": {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}}));
    for d in [a, b] {
        ev.push(json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": i, "content_index": 0, "delta": d, "logprobs": []}));
    }
    ev.push(json!({"type": "response.output_item.done", "output_index": i, "item": {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": say, "annotations": [], "logprobs": []}]}}));
    i += 1;
    if let Some((call_id, name, args)) = call {
        ev.push(json!({"type": "response.output_item.added", "output_index": i, "item": {"type": "function_call", "id": "fc_1", "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"}}));
        let args = args.to_string();
        for piece in args.as_bytes().chunks(3) {
            let piece = String::from_utf8(piece.to_vec()).unwrap();
            ev.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": i, "delta": piece}));
        }
        ev.push(json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": i, "name": name, "arguments": args}));
        ev.push(json!({"type": "response.output_item.done", "output_index": i, "item": {"type": "function_call", "id": "fc_1", "call_id": call_id,
            "name": name, "arguments": args, "status": "completed"}}));
    }
    ev.push(json!({"type": "response.completed", "response": response("completed", Some(usage(1000, 400, 50)))}));
    sse(&ev)
}

/// OpenAI's published schema `def` (`CreateResponse`: a request body; `ResponseStreamEvent`: a streamed event).
fn schema(def: &str) -> jsonschema::Validator {
    static DEFS: OnceLock<Value> = OnceLock::new();
    let mut root = DEFS
        .get_or_init(|| {
            let text = std::fs::read_to_string("tests/openai/responses-api.schema.json").unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .clone();
    root["$ref"] = json!(format!("#/$defs/{def}"));
    jsonschema::validator_for(&root).unwrap()
}

/// Asserts that `doc` is valid by the published schema `def`.
fn check(def: &str, doc: &Value) {
    static VALIDATORS: OnceLock<std::collections::HashMap<&str, jsonschema::Validator>> =
        OnceLock::new();
    let v = &VALIDATORS.get_or_init(|| {
        ["CreateResponse", "ResponseStreamEvent"]
            .into_iter()
            .map(|d| (d, schema(d)))
            .collect()
    })[def];
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{def}: {errors:#?}\n{doc:#}");
}

#[test]
fn the_published_schemas_reject_malformed_items_and_events() {
    let request = schema("CreateResponse");
    let ok = json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "t", "arguments": "{}"}],
        "tools": [{"type": "function", "name": "t", "parameters": {}, "strict": false}]});
    assert!(request.is_valid(&ok));
    let mut no_call_id = ok.clone();
    no_call_id["input"][0]
        .as_object_mut()
        .unwrap()
        .remove("call_id");
    assert!(!request.is_valid(&no_call_id));
    let mut no_strict = ok.clone();
    no_strict["tools"][0]
        .as_object_mut()
        .unwrap()
        .remove("strict");
    assert!(!request.is_valid(&no_strict));
    let mut bad_image = ok;
    bad_image["input"] = json!([{"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]);
    assert!(!request.is_valid(&bad_image), "input_image needs detail");
    let events = schema("ResponseStreamEvent");
    let delta = json!({"type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0,
        "delta": "x", "logprobs": [], "sequence_number": 3});
    assert!(events.is_valid(&delta));
    let mut no_seq = delta.clone();
    no_seq.as_object_mut().unwrap().remove("sequence_number");
    assert!(!events.is_valid(&no_seq));
    let mut bad_kind = delta;
    bad_kind["type"] = json!("response.output_text.deltas");
    assert!(!events.is_valid(&bad_kind));
}

fn recv(seen: &std::sync::mpsc::Receiver<Seen>) -> Seen {
    let r = seen.recv().unwrap();
    check("CreateResponse", &r.body);
    r
}

fn session(c: &Client, url: &str, extra: Value) -> String {
    let mut opts = json!({"model": "openai-responses:gpt-5", "base_url": format!("{url}/v1"),
        "api_key_env": "TANDEM_TEST_RESPONSES_KEY", "system_prompt": "Be brief."});
    opts.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c.start_session(Some(&opts.to_string())).unwrap()
}

#[test]
fn reasoning_round_trips_encrypted_across_tool_rounds_turns_and_reloads() {
    std::env::set_var("TANDEM_TEST_RESPONSES_KEY", KEY);
    let dir = std::env::temp_dir().join(format!("tandem-responses-{}", std::process::id()));
    let store = std::env::temp_dir().join(format!("tandem-responses-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
    let (url, seen) = serve(vec![
        Reply::Send(
            200,
            vec![],
            reply(
                Some(("Need the file.", ENC)),
                "Reading.",
                Some(("call_1", "read_file", json!({"path": "a.txt"}))),
            ),
            1,
        ),
        Reply::Send(200, vec![], reply(None, "It says alpha.", None), 7),
        Reply::Send(200, vec![], reply(None, "Bye.", None), 4096),
    ]);
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let id = session(
        &c,
        &url,
        json!({"thinking_level": "low", "workdir": dir, "tools": ["read_file"],
            "prices": {"input": 2.0, "output": 8.0, "cache_read": 0.5, "cache_write": 0.0}}),
    );
    c.send_prompt(&id, text("what is in a.txt?")).unwrap();
    let (end, events) = read_round(&c, &id);
    // Two calls, each 600 new + 400 cached input tokens and 50 output tokens (reasoning included).
    let u = &end["usage"];
    assert_eq!(
        (
            u["input"].as_u64(),
            u["cache_read"].as_u64(),
            u["output"].as_u64()
        ),
        (Some(1200), Some(800), Some(100))
    );
    let cost = 2.0 * (600.0 * 2.0 + 400.0 * 0.5 + 50.0 * 8.0) / 1e6;
    assert!((u["cost"].as_f64().unwrap() - cost).abs() < 1e-12, "{u}");
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(KEY) && !all.contains(ENC),
        "key or encrypted reasoning leaked into events"
    );

    let r1 = recv(&seen);
    assert!(
        r1.head.starts_with("POST /v1/responses HTTP/1.1"),
        "{}",
        r1.head
    );
    assert!(r1.head.to_ascii_lowercase().contains(&format!(
        "authorization: bearer {}",
        KEY.to_ascii_lowercase()
    )));
    assert_eq!(r1.body["store"], false);
    assert_eq!(r1.body["stream"], true);
    assert_eq!(r1.body["instructions"], "Be brief.");
    assert_eq!(r1.body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(
        r1.body["reasoning"],
        json!({"effort": "low", "summary": "auto"})
    );
    assert_eq!(r1.body["tools"][0]["name"], "read_file");
    assert_eq!(r1.body["tools"][0]["type"], "function");
    let user = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what is in a.txt?"}]});
    assert_eq!(r1.body["input"], json!([user]));

    // The tool round sends the reasoning item back unchanged (less its status), before the call it led to.
    let r2 = recv(&seen);
    let output = r2.body["input"][4].clone();
    let expected = json!([
        user,
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Need the file."}], "encrypted_content": ENC},
        {"type": "message", "role": "assistant", "content": "Reading."},
        {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"a.txt\"}"},
        output.clone(),
    ]);
    assert_eq!(r2.body["input"], expected);
    assert_eq!(output["type"], "function_call_output");
    assert_eq!(output["call_id"], "call_1");
    assert!(output["output"].as_str().unwrap().contains("alpha"));

    // A new client on the same store loads the conversation: the reasoning item comes back from the journal.
    let conv = c.metadata(&id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(c);
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let id = session(
        &c,
        &url,
        json!({"thinking_level": "low", "workdir": dir, "tools": ["read_file"]}),
    );
    c.load_conversation(&id, &conv).unwrap();
    c.send_prompt(&id, text("thanks")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    let r3 = recv(&seen);
    let mut expected = expected.as_array().unwrap().clone();
    expected.extend([
        json!({"type": "message", "role": "assistant", "content": "It says alpha."}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}),
    ]);
    assert_eq!(r3.body["input"], Value::Array(expected));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn unencrypted_reasoning_is_not_sent_back_and_thinking_off_asks_for_none() {
    std::env::set_var("TANDEM_TEST_RESPONSES_KEY", KEY);
    // A reasoning item without encrypted content (thinking off: none was asked for) cannot be sent back with
    // `store: false` (the server keeps no copy to look its ID up in).
    let plain = sse(&[
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "id": "rs_9",
            "summary": [{"type": "summary_text", "text": "Hmm."}]}}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message", "id": "m", "role": "assistant",
            "status": "completed", "content": [{"type": "output_text", "text": "One.", "annotations": [], "logprobs": []}]}}),
        json!({"type": "response.completed", "response": response("completed", Some(usage(10, 0, 5)))}),
    ]);
    let (url, seen) = serve(vec![
        Reply::Send(200, vec![], plain, 64),
        Reply::Send(200, vec![], reply(Some(("Think.", ENC)), "Two.", None), 64),
        Reply::Send(200, vec![], reply(None, "Three.", None), 64),
    ]);
    let c = client();
    let id = session(&c, &url, json!({}));
    for (prompt, answer) in [("one", "One."), ("two", "Two.")] {
        c.send_prompt(&id, text(prompt)).unwrap();
        let (end, events) = turn_end(&c, &id);
        assert_eq!(end["reason"], "completed", "{events:#?}");
        assert_eq!(text_of(&events, &id), answer);
    }
    let r1 = recv(&seen);
    assert!(r1.body.get("reasoning").is_none() && r1.body.get("include").is_none());
    let r2 = recv(&seen);
    assert_eq!(
        r2.body["input"],
        json!([
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]},
            {"type": "message", "role": "assistant", "content": "One."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]},
        ])
    );
    // An item that came with its encrypted content is sent back.
    c.send_prompt(&id, text("three")).unwrap();
    let (end, _) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed");
    let r3 = recv(&seen);
    let items: Vec<&Value> = r3.body["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "reasoning")
        .collect();
    assert_eq!(items.len(), 1, "{:#}", r3.body);
    assert_eq!(items[0]["encrypted_content"], ENC);
}

#[test]
fn overloads_are_retried_and_stream_errors_end_the_turn() {
    std::env::set_var("TANDEM_TEST_RESPONSES_KEY", KEY);
    let mut failure = response("failed", None);
    failure["error"] = json!({"code": "server_error", "message": "The server had an error"});
    let failed = sse(&[
        json!({"type": "response.created", "response": response("in_progress", None)}),
        json!({"type": "response.failed", "response": failure}),
    ]);
    let error = sse(&[
        json!({"type": "error", "code": "context_length_exceeded", "message": "Too long.", "param": "input"}),
    ]);
    let mut cut = reply(None, "A partial answer that is long enough to keep.", None);
    cut.truncate(cut.find("response.output_item.done").unwrap());
    let (url, seen) = serve(vec![
        Reply::Send(
            429,
            vec![("retry-after-ms", "1".into())],
            json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
                .to_string(),
            4096,
        ),
        Reply::Send(200, vec![], failed, 16),
        Reply::Send(200, vec![], reply(None, "Finally.", None), 16),
        Reply::Send(200, vec![], error, 16),
        Reply::Send(200, vec![], cut, 16),
    ]);
    let c = client();
    let id = session(&c, &url, json!({"retry": {"base_delay_ms": 1}}));
    c.send_prompt(&id, text("hi")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert_eq!(text_of(&events, &id), "Finally.");
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "retrying")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "HTTP 429: Rate limit reached",
            "HTTP 500: The server had an error"
        ]
    );
    for _ in 0..3 {
        recv(&seen);
    }

    c.send_prompt(&id, text("again")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "error", "{events:#?}");
    let err = events.iter().find(|e| e["kind"] == "error").unwrap();
    assert_eq!(err["message"], "context_length_exceeded: Too long.");
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "retrying").count(),
        0,
        "a refused request is not retried"
    );
    recv(&seen);

    // Cut off after streaming: kept as an interrupted answer, not repeated.
    c.send_prompt(&id, text("more")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_ne!(end["reason"], "completed", "{events:#?}");
    assert_eq!(
        text_of(&events, &id),
        "A partial answer that is long enough to keep."
    );
    assert!(
        events.iter().all(|e| e["kind"] != "retrying"),
        "{events:#?}"
    );
    recv(&seen);
}
