//! Benchmark: reopening a stored 10,000-message conversation (replay of the journal and restore of the session),
//! and the bytes and time a turn's save costs on a long conversation.
//!
//! Run with `cargo bench --bench store_reopen`; it prints a Markdown table for BENCHMARKS.md.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use tandem::session::transcript::Level;
use tandem::store::{FsyncPolicy, Store};

const MESSAGES: u64 = 10_000;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 95 / 100]))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let size = support::journal::build(
        &Store::new(dir.clone(), FsyncPolicy::Never),
        "bench-conv",
        "bench",
        MESSAGES,
    );
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
        turn.push(support::echo_turn(
            &client,
            &id,
            &format!("one more change {i}"),
        ));
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
