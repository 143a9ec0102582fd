//! Unit tests of the Responses API request body and stream decoder.

use serde_json::json;

use super::*;
use crate::provider::native::http::{decode_split, merged};
use crate::vocab::model::ToolSpec;
use crate::vocab::settings::ThinkingLevel;

fn ev(v: Value) -> String {
    format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap())
}

const ENC: &str = "gAAAAB-encrypted==";

/// `merged` with each reasoning signature's JSON in a canonical key order: the order serde_json writes depends on
/// whether a crate in the build turns on its `preserve_order` feature, and the API does not care about it.
fn canonical(chunks: Vec<Chunk>) -> Vec<Chunk> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    merged(chunks)
        .into_iter()
        .map(|c| match c {
            Chunk::ThinkingSignature(s) if s.starts_with(REASONING_TAG) => {
                let v: Value = serde_json::from_str(&s[REASONING_TAG.len()..]).unwrap();
                Chunk::ThinkingSignature(format!("{REASONING_TAG}{}", sorted(&v)))
            }
            c => c,
        })
        .collect()
}

/// Reasoning with two summary parts, text, a function call in argument deltas, and `response.completed`.
fn stream() -> String {
    let reasoning = json!({"type": "reasoning", "id": "rs_1", "status": "completed", "encrypted_content": ENC,
        "summary": [{"type": "summary_text", "text": "Plan é"}, {"type": "summary_text", "text": "Then read."}]});
    [
        json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_part.added", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Plan é"}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 1, "delta": "Then read."}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning}),
        json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "On "}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "it."}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant",
            "content": [{"type": "output_text", "text": "On it.", "annotations": []}]}}),
        json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "read_file", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "{\"path\":"}),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "\"a.rs\"}"}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "read_file", "arguments": "{\"path\":\"a.rs\"}", "status": "completed"}}),
        json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": {"input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 400, "cache_write_tokens": 0}, "output_tokens": 50,
            "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 1050}}}),
    ]
    .into_iter()
    .map(ev)
    .collect()
}

fn decode(input: &[u8], cuts: &[usize]) -> (Vec<Chunk>, Result<bool, ModelError>) {
    decode_split(
        &mut StreamDecoder::new(Some(Prices {
            input: 2.0,
            output: 8.0,
            cache_read: 0.5,
            cache_write: 0.0,
        })),
        input,
        cuts,
    )
}

fn tagged_reasoning() -> String {
    let item = json!({"type": "reasoning", "id": "rs_1", "encrypted_content": ENC,
        "summary": [{"type": "summary_text", "text": "Plan é"}, {"type": "summary_text", "text": "Then read."}]});
    format!("{REASONING_TAG}{item}")
}

#[test]
fn decodes_summaries_text_calls_and_usage_at_every_split() {
    let expected = vec![
        Chunk::Thinking("Plan é\n\nThen read.".into()),
        Chunk::ThinkingSignature(tagged_reasoning()),
        Chunk::Text("On it.".into()),
        Chunk::ToolCall(ToolCallRequest {
            id: "call_a".into(),
            name: "read_file".into(),
            args: json!({"path": "a.rs"}),
        }),
        Chunk::Usage(Usage {
            input: 600,
            output: 50,
            cache_read: 400,
            cache_write: 0,
            cost: (600.0 * 2.0 + 50.0 * 8.0 + 400.0 * 0.5) / 1e6,
        }),
    ];
    let input = stream();
    let input = input.as_bytes();
    let (chunks, r) = decode(input, &[]);
    assert_eq!(r, Ok(true));
    let expected = canonical(expected);
    assert_eq!(canonical(chunks), expected);
    for i in (0..input.len()).step_by(7) {
        let (chunks, r) = decode(input, &[i]);
        assert_eq!(r, Ok(true), "split at {i}");
        assert_eq!(canonical(chunks), expected, "split at {i}");
    }
}

#[test]
fn reasoning_without_summary_is_redacted_and_without_encryption_is_not_kept() {
    let item = json!({"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": ENC});
    let plain = json!({"type": "reasoning", "id": "rs_3", "summary": [{"type": "summary_text", "text": "Whole."}]});
    let body = [
        // An empty summary delta streams nothing: the item still gets a block of its own.
        json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": ""}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": plain}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "message", "content": [{"type": "output_text", "text": "Unstreamed."}]}}),
        json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}),
    ]
    .into_iter()
    .map(ev)
    .collect::<String>();
    let (chunks, r) = decode(body.as_bytes(), &[]);
    assert_eq!(r, Ok(true));
    assert_eq!(
        chunks,
        vec![
            Chunk::RedactedThinking(format!("{REASONING_TAG}{item}")),
            Chunk::Thinking("Whole.".into()),
            Chunk::Text("Unstreamed.".into()),
            Chunk::MaxTokens,
        ]
    );
}

#[test]
fn errors_failures_and_early_ends_fail_the_call() {
    let failed = ev(
        json!({"type": "response.failed", "response": {"status": "failed",
        "error": {"code": "rate_limit_exceeded", "message": "Slow down"}}}),
    );
    let (_, r) = decode(failed.as_bytes(), &[]);
    let e = r.unwrap_err();
    assert_eq!((e.status, e.retryable), (Some(429), true));
    assert_eq!(e.message, "Slow down");
    let error =
        ev(json!({"type": "error", "code": "invalid_prompt", "message": "No.", "param": null}));
    let (_, r) = decode(error.as_bytes(), &[]);
    let e = r.unwrap_err();
    assert!(!e.retryable);
    assert_eq!(e.message, "invalid_prompt: No.");
    let filtered = ev(
        json!({"type": "response.incomplete", "response": {"incomplete_details": {"reason": "content_filter"}}}),
    );
    assert!(decode(filtered.as_bytes(), &[]).1.is_err());
    let cut = stream();
    let cut = &cut.as_bytes()[..cut.len() / 2];
    let (_, r) = decode(cut, &[]);
    let e = r.unwrap_err();
    assert!(e.retryable && e.cut_off, "{e:?}");
    let bad_args = ev(
        json!({"type": "response.output_item.done", "output_index": 0,
        "item": {"type": "function_call", "call_id": "c", "name": "t", "arguments": "[1]"}}),
    );
    assert!(decode(bad_args.as_bytes(), &[]).1.is_err());
}

#[test]
fn request_carries_instructions_items_tools_and_encrypted_reasoning() {
    let tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Reads.".into(),
        input_schema: json!({"type": "object"}),
    }];
    let thinking = vec![
        // Anthropic's signed thinking and Chat Completions' unsigned reasoning are not Responses items.
        ThinkingBlock {
            text: "other".into(),
            signature: Some("SIG".into()),
            redacted: false,
        },
        ThinkingBlock {
            text: "Plan é\n\nThen read.".into(),
            signature: Some(tagged_reasoning()),
            redacted: false,
        },
    ];
    let messages = vec![
        ModelMessage::User(vec![
            ContentPart::Text { text: "hi".into() },
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "AAAA".into(),
            },
        ]),
        ModelMessage::Assistant {
            thinking,
            text: "On it.".into(),
            tool_calls: vec![ToolCallRequest {
                id: "call_a".into(),
                name: "read_file".into(),
                args: json!({"path": "a.rs"}),
            }],
        },
        ModelMessage::ToolResult {
            tool_call_id: "call_a".into(),
            name: "read_file".into(),
            content: "alpha".into(),
            is_error: false,
        },
    ];
    let req = ModelRequest {
        system_prompt: Some("Be brief."),
        messages: &messages,
        tools: &tools,
        thinking: ThinkingLevel::High,
    };
    let reasoning = reasoning_item(&ThinkingBlock {
        signature: Some(tagged_reasoning()),
        ..ThinkingBlock::default()
    })
    .unwrap();
    assert_eq!(
        request_body("gpt-5", &req),
        json!({
            "model": "gpt-5", "stream": true, "store": false, "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                ]},
                reasoning,
                {"type": "message", "role": "assistant", "content": "On it."},
                {"type": "function_call", "call_id": "call_a", "name": "read_file", "arguments": "{\"path\":\"a.rs\"}"},
                {"type": "function_call_output", "call_id": "call_a", "output": "alpha"},
            ],
            "tools": [{"type": "function", "name": "read_file", "description": "Reads.",
                "parameters": {"type": "object"}, "strict": false}],
            "tool_choice": "auto", "parallel_tool_calls": true,
            "reasoning": {"effort": "high", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
        })
    );
    let off = ModelRequest {
        system_prompt: None,
        messages: &messages[..1],
        tools: &[],
        thinking: ThinkingLevel::Off,
    };
    let body = request_body("gpt-4.1", &off);
    for absent in ["instructions", "tools", "reasoning", "include"] {
        assert!(body.get(absent).is_none(), "{absent} in {body}");
    }
}

#[test]
fn other_backends_leave_reasoning_items_out() {
    let messages = vec![
        ModelMessage::User(vec![ContentPart::Text { text: "hi".into() }]),
        ModelMessage::Assistant {
            thinking: vec![
                ThinkingBlock {
                    text: "Plan".into(),
                    signature: Some(tagged_reasoning()),
                    redacted: false,
                },
                ThinkingBlock {
                    text: String::new(),
                    signature: Some(tagged_reasoning()),
                    redacted: true,
                },
            ],
            text: "Done.".into(),
            tool_calls: vec![],
        },
    ];
    let req = ModelRequest {
        system_prompt: None,
        messages: &messages,
        tools: &[],
        thinking: ThinkingLevel::High,
    };
    // Anthropic would reject a signature it did not make (and an item as redacted data).
    let body = super::super::anthropic::request_body("claude-x", &req);
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
    );
    let body = super::super::openai::request_body("gpt-x", &req);
    assert!(!body.to_string().contains(ENC));
}
