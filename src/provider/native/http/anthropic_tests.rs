//! Unit tests of the Anthropic request body and stream decoder.

use serde_json::json;

use super::*;
use crate::provider::native::http::merged;
use crate::provider::native::http::sse::SseParser;
use crate::provider::ThinkingBlock;
use crate::vocab::model::ToolSpec;

/// A stream with a ping, signed thinking, text and a tool call whose arguments arrive in many pieces.
pub const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":20,\"cache_read_input_tokens\":300,\"output_tokens\":1}}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me th\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"ink é.\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3h\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Reading \"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"it.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"read_file\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"pa\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"th\\\": \\\"src/\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"lib.rs\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn decode(input: &[u8], cuts: &[usize]) -> (Vec<Chunk>, Result<bool, ModelError>) {
    let mut parser = SseParser::default();
    let mut decoder = StreamDecoder::new(Some(Prices {
        input: 3.0,
        output: 15.0,
        cache_read: 0.3,
        cache_write: 3.75,
    }));
    let mut chunks = Vec::new();
    let mut events = Vec::new();
    let mut start = 0;
    let mut done = Ok(false);
    for end in cuts.iter().copied().chain([input.len()]) {
        parser.feed(&input[start..end], &mut events);
        start = end;
        for e in events.drain(..) {
            done = decoder.event(&e, &mut |c| chunks.push(c));
            if !matches!(done, Ok(false)) {
                return (chunks, done);
            }
        }
    }
    (chunks, done)
}

#[test]
fn decodes_thinking_text_tools_and_usage_at_every_split() {
    let expected = vec![
        Chunk::Thinking("Let me think é.".into()),
        Chunk::ThinkingSignature("EqQBCgIYAhIM1gbcDa9GJwZA2b3h".into()),
        Chunk::Text("Reading it.".into()),
        Chunk::ToolCall(ToolCallRequest {
            id: "toolu_01".into(),
            name: "read_file".into(),
            args: json!({"path": "src/lib.rs"}),
        }),
        Chunk::Usage(Usage {
            input: 100,
            output: 42,
            cache_read: 300,
            cache_write: 20,
            cost: (100.0 * 3.0 + 42.0 * 15.0 + 300.0 * 0.3 + 20.0 * 3.75) / 1e6,
        }),
    ];
    let bytes = STREAM.as_bytes();
    for cut in 0..=bytes.len() {
        let (chunks, done) = decode(bytes, &[cut]);
        assert_eq!(done, Ok(true), "split at {cut}");
        assert_eq!(merged(chunks), expected, "split at {cut}");
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    let (chunks, done) = decode(bytes, &every);
    assert_eq!(done, Ok(true));
    assert_eq!(merged(chunks), expected);
}

#[test]
fn error_events_and_malformed_lines_fail_the_call() {
    let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (_, r) = decode(overloaded.as_bytes(), &[]);
    let e = r.unwrap_err();
    assert_eq!((e.status, e.retryable), (Some(529), true));
    assert_eq!(e.to_string(), "HTTP 529: Overloaded");
    let invalid = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad\"}}\n\n";
    let e = decode(invalid.as_bytes(), &[]).1.unwrap_err();
    assert!(!e.retryable);
    assert_eq!(e.message, "invalid_request_error: bad");
    let e = decode(b"data: {not json\n\n", &[]).1.unwrap_err();
    assert!(e.message.starts_with("malformed event"), "{}", e.message);
    let cut = "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":1}}\n\ndata: {\"type\":\"message_stop\"}\n\n";
    let (chunks, done) = decode(cut.as_bytes(), &[]);
    assert_eq!(done, Ok(true));
    assert_eq!(chunks.last(), Some(&Chunk::MaxTokens));
    let refusal = "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"refusal\"},\"usage\":{\"output_tokens\":1}}\n\ndata: {\"type\":\"message_stop\"}\n\n";
    assert!(decode(refusal.as_bytes(), &[]).1.is_err());
    assert!(
        StreamDecoder::new(None)
            .eof(&mut |_| {})
            .unwrap_err()
            .retryable
    );
}

#[test]
fn request_body_caches_replays_thinking_and_groups_tool_results() {
    let messages = vec![
        ModelMessage::User(vec![
            ContentPart::Text {
                text: "look".into(),
            },
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "iVBO".into(),
            },
        ]),
        ModelMessage::Assistant {
            thinking: vec![
                ThinkingBlock {
                    text: "hmm".into(),
                    signature: Some("sig1".into()),
                    redacted: false,
                },
                ThinkingBlock {
                    text: "[redacted thinking]".into(),
                    signature: Some("ENCRYPTED==".into()),
                    redacted: true,
                },
                ThinkingBlock {
                    text: "unsigned".into(),
                    signature: None,
                    redacted: false,
                },
            ],
            text: "".into(),
            tool_calls: vec![
                ToolCallRequest {
                    id: "t1".into(),
                    name: "read_file".into(),
                    args: json!({"path": "a"}),
                },
                ToolCallRequest {
                    id: "t2".into(),
                    name: "grep".into(),
                    args: json!({}),
                },
            ],
        },
        ModelMessage::ToolResult {
            tool_call_id: "t1".into(),
            name: "read_file".into(),
            content: "A".into(),
            is_error: false,
        },
        ModelMessage::ToolResult {
            tool_call_id: "t2".into(),
            name: "grep".into(),
            content: "no".into(),
            is_error: true,
        },
        ModelMessage::User(vec![ContentPart::Text {
            text: "also this".into(),
        }]),
    ];
    let tools = vec![
        ToolSpec {
            name: "read_file".into(),
            description: "Read".into(),
            input_schema: json!({"type": "object"}),
        },
        ToolSpec {
            name: "grep".into(),
            description: "Search".into(),
            input_schema: json!({"type": "object"}),
        },
    ];
    let req = ModelRequest {
        system_prompt: Some("Be brief."),
        messages: &messages,
        tools: &tools,
        thinking: ThinkingLevel::Low,
    };
    assert_eq!(
        request_body("claude-sonnet-4-20250514", &req),
        json!({
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 16384 + 4096,
            "stream": true,
            "thinking": {"type": "enabled", "budget_tokens": 4096},
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {"name": "read_file", "description": "Read", "input_schema": {"type": "object"}},
                {"name": "grep", "description": "Search", "input_schema": {"type": "object"},
                 "cache_control": {"type": "ephemeral"}},
            ],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                    {"type": "redacted_thinking", "data": "ENCRYPTED=="},
                    {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a"}},
                    {"type": "tool_use", "id": "t2", "name": "grep", "input": {}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "A", "is_error": false},
                    {"type": "tool_result", "tool_use_id": "t2", "content": "no", "is_error": true},
                    {"type": "text", "text": "also this"},
                ]},
            ],
        })
    );
    let off = ModelRequest {
        system_prompt: None,
        messages: &messages[..2],
        tools: &[],
        thinking: ThinkingLevel::Off,
    };
    let body = request_body("m", &off);
    assert_eq!(body["max_tokens"], 16384);
    assert!(
        body.get("thinking").is_none()
            && body.get("system").is_none()
            && body.get("tools").is_none()
    );
    assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
}

#[test]
fn redacted_thinking_blocks_are_kept_whole() {
    let stream = concat!(
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy3va\"}}\n\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"Hi\"}}\n\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );
    let (chunks, done) = decode(stream.as_bytes(), &[]);
    assert_eq!(done, Ok(true));
    assert_eq!(
        chunks[..2],
        [
            Chunk::RedactedThinking("EmwKAhgBEgy3va".into()),
            Chunk::Text("Hi".into())
        ]
    );
}
