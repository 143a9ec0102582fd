//! Benchmark: reopening a stored 10,000-message conversation (replay of the journal and restore of the session),
//! and the bytes and time a turn's save costs on a long conversation.
//!
//! Run with `cargo bench --bench store_reopen`; it prints a Markdown table for BENCHMARKS.md.

use std::time::{Duration, Instant};

use serde_json::json;
use tandem::session::transcript::{Body, ContentPart, Level, Message, ToolStatus, Usage};
use tandem::store::record::{line, Entry, Header, Meta, StoredMessage};
use tandem::store::{FsyncPolicy, SessionRecord, Store};

const MESSAGES: u64 = 10_000;

/// A realistic mix: prompts, answers, thinking, tool calls with results of a few KB, usage.
fn body(i: u64) -> Body {
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

fn build(dir: &std::path::Path) -> u64 {
    let store = Store::new(dir.to_path_buf(), FsyncPolicy::Never);
    let header = Header {
        version: 1,
        conversation_id: "bench-conv".into(),
        session_id: "bench".into(),
        token: "x".repeat(43),
        created_at: tandem::time::rfc3339(tandem::time::wall_ms()),
        model: "scripted:echo".into(),
        provider: "native".into(),
        workdir: None,
        title: Some("bench".into()),
    };
    let mut j = store.create_journal(&header).unwrap();
    let mut buf = Vec::new();
    for id in 1..=MESSAGES {
        let m = Message { id, body: body(id) };
        buf.extend(line(&Entry::Msg(StoredMessage::from(&m))));
        if id % 50 == 0 {
            buf.extend(line(&Entry::Meta(Meta {
                title: Some("bench".into()),
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
            session_id: "bench".into(),
            token: "x".repeat(43),
            conversation_id: "bench-conv".into(),
        })
        .unwrap();
    buf.len() as u64
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 95 / 100]))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let size = build(&dir);
    let store = Store::new(dir.clone(), FsyncPolicy::Turn);
    let runs = 30;

    let mut replay = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (j, r) = store.open_journal("bench-conv").unwrap();
        replay.push(t.elapsed());
        assert_eq!(r.messages.len() as u64, MESSAGES);
        drop(j);
    }

    let cfg = json!({"store_dir": dir}).to_string();
    let client = tandem::Client::new(Some(&cfg)).unwrap();
    let mut reopen = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let id = client
            .start_or_get_session("bench", Some(r#"{"model": "scripted:echo"}"#))
            .unwrap();
        reopen.push(t.elapsed());
        client.stop_session(&id).unwrap();
    }

    // A turn on the long conversation: how many bytes it appends and how long until turn_ended (fsync included).
    let id = client
        .start_or_get_session("bench", Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let path = dir.join("conversations/bench-conv.jsonl");
    let mut turn = Vec::new();
    let mut appended = Vec::new();
    for i in 0..runs {
        let before = std::fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        client
            .send_prompt(
                &id,
                vec![ContentPart::Text {
                    text: format!("one more change {i}"),
                }],
            )
            .unwrap();
        loop {
            let e = client.next_event(Duration::from_secs(10)).unwrap();
            if e.to_json().contains("\"turn_ended\"") {
                break;
            }
        }
        turn.push(t.elapsed());
        appended.push(std::fs::metadata(&path).unwrap().len() - before);
    }
    client.add_system_message(&id, "done", Level::Info).unwrap();
    client.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let (rp50, rp95) = stats(replay);
    let (op50, op95) = stats(reopen);
    let (tp50, tp95) = stats(turn);
    appended.sort();
    println!("| measurement | median | p95 |");
    println!("|---|---|---|");
    println!(
        "| replay a {MESSAGES}-message journal ({:.1} MB) | {rp50:.1} ms | {rp95:.1} ms |",
        size as f64 / 1e6
    );
    println!("| `start_or_get` restoring it (lock, replay, session start) | {op50:.1} ms | {op95:.1} ms |");
    println!("| one echo turn on it, prompt to `turn_ended` (fsync included) | {tp50:.1} ms | {tp95:.1} ms |");
    println!(
        "| bytes one turn appends to it | {} B | {} B |",
        appended[appended.len() / 2],
        appended[appended.len() * 95 / 100]
    );
}
