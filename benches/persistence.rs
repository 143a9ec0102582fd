//! Benchmark 4: persistence. The cost of persisting one turn after 10 versus 10,000 earlier messages (time from
//! prompt to `turn_ended`, which waits for the fsynced append, and the bytes appended), reopening a 10,000-message
//! conversation, and listing 1,000 stored conversations.
//!
//! Run with `cargo bench --bench persistence` (or `scripts/bench.sh`).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{median, ms, row};
use tandem::session::transcript::ContentPart;
use tandem::store::{FsyncPolicy, Store};
use tandem::Client;

const RUNS: usize = 31;

/// Prompt-to-`turn_ended` times and appended bytes of RUNS echo turns on session `session`.
fn turns(client: &Client, session: &str, journal: &std::path::Path) -> (Vec<f64>, Vec<f64>) {
    let id = client
        .start_or_get_session(session, Some(r#"{"model": "scripted:echo", "tools": []}"#))
        .unwrap();
    let (mut times, mut bytes) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        let before = std::fs::metadata(journal).unwrap().len();
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
            if e.session_id.as_deref() == Some(id.as_str())
                && e.to_json().contains("\"kind\":\"turn_ended\"")
            {
                break;
            }
        }
        times.push(ms(t.elapsed()));
        bytes.push((std::fs::metadata(journal).unwrap().len() - before) as f64);
    }
    client.stop_session(&id).unwrap();
    (times, bytes)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::new(dir.clone(), FsyncPolicy::Never);
    support::journal::build(&store, "short", "short", 10);
    let size = support::journal::build(&store, "long", "long", 10_000);

    let cfg = json!({"store_dir": dir}).to_string();
    let client = Client::new(Some(&cfg)).unwrap();
    let conv = |c: &str| dir.join(format!("conversations/{c}.jsonl"));
    // Interleave the two so that disk noise hits both alike.
    let (mut short_t, mut short_b, mut long_t, mut long_b) = (vec![], vec![], vec![], vec![]);
    for _ in 0..3 {
        let (t, b) = turns(&client, "short", &conv("short"));
        short_t.extend(t);
        short_b.extend(b);
        let (t, b) = turns(&client, "long", &conv("long"));
        long_t.extend(t);
        long_b.extend(b);
    }
    let (st, lt) = (median(&mut short_t), median(&mut long_t));
    let (sb, lb) = (median(&mut short_b), median(&mut long_b));

    let mut reopen = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let id = client
            .start_or_get_session("long", Some(r#"{"model": "scripted:echo"}"#))
            .unwrap();
        reopen.push(ms(t.elapsed()));
        client.stop_session(&id).unwrap();
    }
    let reopen = median(&mut reopen);
    client.shutdown(Duration::from_secs(5)).unwrap();

    // 1,000 stored conversations of 20 messages each, listed through a fresh client.
    let many = dir.join("many");
    let store = Store::new(many.clone(), FsyncPolicy::Never);
    for i in 0..1000 {
        support::journal::build(&store, &format!("conv-{i:04}"), &format!("s-{i:04}"), 20);
    }
    let client = Client::new(Some(&json!({"store_dir": many}).to_string())).unwrap();
    let mut list = Vec::new();
    let mut listed = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let v = client.list_conversations().unwrap();
        let text = serde_json::to_string(&v).unwrap();
        list.push(ms(t.elapsed()));
        listed = v.len();
        drop(text);
    }
    let list = median(&mut list);
    client.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| measurement | median |");
    println!("|---|---|");
    println!("| echo turn after 10 messages, prompt to `turn_ended` (fsync included), {} turns | {st:.2} ms, {sb:.0} B appended |", short_t.len());
    println!("| echo turn after 10,000 messages ({:.1} MB journal), {} turns | {lt:.2} ms, {lb:.0} B appended |", size as f64 / 1e6, long_t.len());
    println!();
    support::header();
    row(
        "4. persisting a turn: after 10,000 / after 10 messages",
        &format!("{:.2}x ({lt:.2} ms / {st:.2} ms; bytes {:.2}x)", lt / st, lb / sb),
        "<= 2x",
        Some(lt / st <= 2.0),
    );
    row(
        "4. reopen a 10,000-message conversation (`start_or_get`)",
        &format!("{reopen:.1} ms"),
        "<= 100 ms",
        Some(reopen <= 100.0),
    );
    row(
        &format!("4. list {listed} stored conversations (with JSON rendering)"),
        &format!("{list:.1} ms"),
        "<= 200 ms",
        Some(list <= 200.0),
    );
}
