//! Builds stored conversations for the benchmarks: a journal of N messages in a realistic mix.

use serde_json::json;
use tandem::session::transcript::{Body, ContentPart, Message, ToolStatus, Usage};
use tandem::store::record::{line, Entry, Header, Meta, StoredMessage};
use tandem::store::{SessionRecord, Store};

/// A realistic mix by `i % 5`: prompts, thinking, tool calls with results of a few KB, answers, usage.
pub fn body(i: u64) -> Body {
    match i % 5 {
        0 => Body::user(vec![ContentPart::Text {
            text: format!("Please change function {i} so that it handles the empty case. ")
                .repeat(3),
        }]),
        1 => Body::Thinking {
            text: "Considering the call sites and the tests first. ".repeat(8),
            collapsed: true,
            signature: None,
            redacted: false,
        },
        2 => Body::ToolCall {
            tool_call_id: format!("call-{i}"),
            name: "read_file".into(),
            args: json!({"path": format!("src/module_{i}.rs")}),
            status: ToolStatus::Complete,
            result: "fn example() { let x = compute(); println!(\"{x}\"); }\n".repeat(40),
            is_error: false,
            collapsed: true,
            auto_approved_scope: None,
            duration_ms: Some(3),
            started_ms: 0,
        },
        3 => Body::Assistant {
            text: "I changed the function and added a test for the empty input. ".repeat(12),
        },
        _ => Body::Usage(Usage {
            input: 1200,
            output: 300,
            cache_read: 0,
            cache_write: 0,
            cost: 0.004,
        }),
    }
}

/// Writes conversation `conv` of `messages` messages, owned by session `session`; returns the journal's size.
pub fn build(store: &Store, conv: &str, session: &str, messages: u64) -> u64 {
    let header = Header {
        version: 1,
        conversation_id: conv.into(),
        session_id: session.into(),
        token: "x".repeat(43),
        created_at: tandem::time::rfc3339(tandem::time::wall_ms()),
        model: "scripted:echo".into(),
        provider: "native".into(),
        workdir: None,
        title: Some(conv.into()),
    };
    let mut j = store.create_journal(&header).unwrap();
    let mut buf = Vec::new();
    for id in 1..=messages {
        let m = Message { id, body: body(id) };
        buf.extend(line(&Entry::Msg(StoredMessage::from(&m))));
        if id % 50 == 0 || id == messages {
            buf.extend(line(&Entry::Meta(Meta {
                title: Some(conv.into()),
                model: "scripted:echo".into(),
                usage: Usage::default(),
                message_count: id as usize,
                turn_count: (id / 5) as usize,
                last_message_at_ms: tandem::time::wall_ms(),
                turn_active: false,
                next_id: id + 1,
            })));
        }
    }
    j.append(&buf, true).unwrap();
    store
        .save_session_record(&SessionRecord {
            session_id: session.into(),
            token: "x".repeat(43),
            token_issued_ms: None,
            conversation_id: conv.into(),
            options: None,
        })
        .unwrap();
    buf.len() as u64
}
