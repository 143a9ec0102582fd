//! Pre-rendered N-delta answers in the two wire formats the peers speak: the OpenAI Responses API (Codex) and the
//! Anthropic Messages API (Claude Code), served by [`super::mock`] under `/r/<N>/…` and `/a/<N>/…`.
//!
//! Both carry the same words as the Chat Completions body of `mock.rs`, one per delta, with the events each API
//! sends around them (item and content-part added/done, usage at the end), so that every client parses a
//! complete, well-formed response.

const WORD: &str = " alpha";

fn event(out: &mut String, kind: &str, data: &str) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\ndata: ");
    out.push_str(data);
    out.push_str("\n\n");
}

/// A streamed `POST /responses` answer of N `response.output_text.delta` events.
pub fn responses(n: usize) -> Vec<u8> {
    let mut s = String::new();
    let resp = |status: &str, extra: &str| {
        format!(
            "{{\"id\":\"resp_b\",\"object\":\"response\",\"created_at\":0,\"status\":\"{status}\",\"model\":\"bench\",\"output\":[]{extra}}}"
        )
    };
    event(
        &mut s,
        "response.created",
        &format!(
            "{{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{}}}",
            resp("in_progress", "")
        ),
    );
    event(&mut s, "response.output_item.added", "{\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_b\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}");
    event(&mut s, "response.content_part.added", "{\"type\":\"response.content_part.added\",\"sequence_number\":2,\"item_id\":\"msg_b\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}");
    for i in 0..n {
        event(&mut s, "response.output_text.delta", &format!(
            "{{\"type\":\"response.output_text.delta\",\"sequence_number\":{},\"item_id\":\"msg_b\",\"output_index\":0,\"content_index\":0,\"delta\":\"{WORD}\"}}",
            3 + i
        ));
    }
    let text = WORD.repeat(n);
    event(&mut s, "response.output_item.done", &format!(
        "{{\"type\":\"response.output_item.done\",\"sequence_number\":{},\"output_index\":0,\"item\":{{\"id\":\"msg_b\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{{\"type\":\"output_text\",\"text\":\"{text}\",\"annotations\":[]}}]}}}}",
        3 + n
    ));
    let usage = format!(
        ",\"usage\":{{\"input_tokens\":10,\"input_tokens_details\":{{\"cached_tokens\":0}},\"output_tokens\":{n},\"output_tokens_details\":{{\"reasoning_tokens\":0}},\"total_tokens\":{}}}",
        n + 10
    );
    event(
        &mut s,
        "response.completed",
        &format!(
            "{{\"type\":\"response.completed\",\"sequence_number\":{},\"response\":{}}}",
            4 + n,
            resp("completed", &usage)
        ),
    );
    s.into_bytes()
}

/// A streamed `POST /v1/messages` answer of N `text_delta` events.
pub fn anthropic(n: usize) -> Vec<u8> {
    let mut s = String::new();
    event(&mut s, "message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bench\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}");
    event(&mut s, "content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
    let delta = format!(
        "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{WORD}\"}}}}"
    );
    for _ in 0..n {
        event(&mut s, "content_block_delta", &delta);
    }
    event(
        &mut s,
        "content_block_stop",
        "{\"type\":\"content_block_stop\",\"index\":0}",
    );
    event(&mut s, "message_delta", &format!(
        "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{n}}}}}"
    ));
    event(&mut s, "message_stop", "{\"type\":\"message_stop\"}");
    s.into_bytes()
}
