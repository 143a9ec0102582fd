//! Unit tests of the Chat Completions request body and stream decoder.

use serde_json::json;

use super::*;
use crate::provider::native::http::{decode_split, merged};
use crate::provider::ThinkingBlock;
use crate::vocab::model::ToolSpec;

/// Reasoning (both field names), text, two tool calls interleaved by index, a finish chunk and the usage chunk.
pub const STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Plan é\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\" more\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"On it.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"grep\",\"arguments\":\"{\\\"pat\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"path\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"a.rs\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"tern\\\":\\\"x\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":50,\"total_tokens\":1050,\"prompt_tokens_details\":{\"cached_tokens\":400}}}\n\n",
    "data: [DONE]\n\n",
);

fn decode(input: &[u8], cuts: &[usize]) -> (Vec<Chunk>, Result<bool, ModelError>) {
    decode_split(
        &mut StreamDecoder::new(Some(Prices {
            input: 2.5,
            output: 10.0,
            cache_read: 1.25,
            cache_write: 0.0,
        })),
        input,
        cuts,
    )
}

#[test]
fn decodes_reasoning_text_indexed_tool_calls_and_usage_at_every_split() {
    let expected = vec![
        Chunk::Thinking("Plan é more".into()),
        Chunk::Text("On it.".into()),
        Chunk::ToolCall(ToolCallRequest {
            id: "call_a".into(),
            name: "read_file".into(),
            args: json!({"path": "a.rs"}),
        }),
        Chunk::ToolCall(ToolCallRequest {
            id: "call_b".into(),
            name: "grep".into(),
            args: json!({"pattern": "x"}),
        }),
        Chunk::Usage(Usage {
            input: 600,
            output: 50,
            cache_read: 400,
            cache_write: 0,
            cost: (600.0 * 2.5 + 50.0 * 10.0 + 400.0 * 1.25) / 1e6,
        }),
    ];
    let bytes = STREAM.as_bytes();
    for cut in 0..=bytes.len() {
        let (chunks, done) = decode(bytes, &[cut]);
        assert_eq!(done, Ok(true), "split at {cut}");
        assert_eq!(merged(chunks), expected, "split at {cut}");
    }
    let every: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(merged(decode(bytes, &every).0), expected);
}

#[test]
fn missing_done_errors_and_ids_are_handled() {
    // Closed before finishing: the call failed and can be retried.
    let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    let (_, r) = decode(cut.as_bytes(), &[]);
    assert!(r.unwrap_err().retryable);
    // Finished but no [DONE]: complete; a call without ID gets one.
    let no_done = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"t\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n";
    let (chunks, r) = decode(no_done.as_bytes(), &[]);
    assert_eq!(r, Ok(false));
    assert!(
        matches!(&chunks[0], Chunk::ToolCall(c) if c.id.starts_with("call_0_") && c.name == "t")
    );
    let err = "data: {\"error\":{\"message\":\"model overloaded\",\"code\":503}}\n\n";
    let e = decode(err.as_bytes(), &[]).1.unwrap_err();
    assert_eq!((e.status, e.retryable), (Some(503), true));
    let e = decode(b"data: nope\n\n", &[]).1.unwrap_err();
    assert!(e.message.starts_with("malformed event"));
}

#[test]
fn request_body_replays_tool_calls_and_results() {
    let messages = vec![
        ModelMessage::User(vec![ContentPart::Text { text: "hi".into() }]),
        ModelMessage::Assistant {
            thinking: vec![ThinkingBlock {
                text: "r".into(),
                ..ThinkingBlock::default()
            }],
            text: "".into(),
            tool_calls: vec![ToolCallRequest {
                id: "call_a".into(),
                name: "read_file".into(),
                args: json!({"path": "a"}),
            }],
        },
        ModelMessage::ToolResult {
            tool_call_id: "call_a".into(),
            name: "read_file".into(),
            content: "A".into(),
            is_error: false,
        },
        ModelMessage::Assistant {
            thinking: vec![],
            text: "Done.".into(),
            tool_calls: vec![],
        },
        ModelMessage::User(vec![
            ContentPart::Text { text: "see".into() },
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "iVBO".into(),
            },
        ]),
    ];
    let tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Read".into(),
        input_schema: json!({"type": "object"}),
    }];
    let req = ModelRequest {
        system_prompt: Some("Sys"),
        messages: &messages,
        tools: &tools,
        thinking: ThinkingLevel::High,
    };
    assert_eq!(
        request_body("gpt-4o", &req),
        json!({
            "model": "gpt-4o",
            "stream": true,
            "stream_options": {"include_usage": true},
            "reasoning_effort": "high",
            "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read",
                       "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "system", "content": "Sys"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "A"},
                {"role": "assistant", "content": "Done."},
                {"role": "user", "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                ]},
            ],
        })
    );
}
