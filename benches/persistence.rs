//! Benchmark 4: persistence. The cost of persisting one turn after 10 versus 10,000 earlier messages (the journal
//! append of a turn's lines with its fsync, as the session's persister does it; and, for context, a whole echo turn
//! from prompt to `turn_ended`), reopening a 10,000-message conversation, and listing 1,000 stored conversations.
//!
//! Run with `cargo bench --bench persistence` (or `scripts/bench.sh`).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{median, ms, row};
use tandem::session::transcript::{Message, Usage};
use tandem::store::record::{line, Entry, Meta, StoredMessage};
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
        times.push(ms(support::echo_turn(
            client,
            &id,
            &format!("one more change {i}"),
        )));
        bytes.push((std::fs::metadata(journal).unwrap().len() - before) as f64);
    }
    client.stop_session(&id).unwrap();
    (times, bytes)
}

/// The lines the session's persister writes for one echo turn (prompt, answer, usage, and the closing `meta`),
/// the first message taking ID `next`.
fn turn_lines(next: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    for (i, kind) in [0, 3, 4].into_iter().enumerate() {
        let m = Message {
            id: next + i as u64,
            body: support::journal::body(kind),
        };
        buf.extend(line(&Entry::Msg(StoredMessage::from(&m))));
    }
    buf.extend(line(&Entry::Meta(Meta {
        title: Some("bench".into()),
        model: "scripted:echo".into(),
        usage: Usage::default(),
        message_count: next as usize + 2,
        turn_count: (next / 3) as usize,
        last_message_at_ms: tandem::time::wall_ms(),
        turn_active: false,
        next_id: next + 3,
    })));
    buf
}

/// Persisting turns on two conversations, alternating turn by turn so that file-system noise hits both alike:
/// each time covers rendering a turn's lines and appending them with fsync, on the journal opened as a session
/// opens it. Returns the times of each conversation (after a few unmeasured warm-up turns).
fn persist_only(store: &Store, convs: [(&str, u64); 2]) -> [Vec<f64>; 2] {
    let mut journals = convs.map(|(c, n)| (store.open_journal(c).unwrap().0, n + 1));
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..(3 * RUNS + 5) {
        for (k, (journal, next)) in journals.iter_mut().enumerate() {
            let t = Instant::now();
            journal.append(&turn_lines(*next), true).unwrap();
            *next += 3;
            if round >= 5 {
                times[k].push(ms(t.elapsed()));
            }
        }
    }
    times
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::new(dir.clone(), FsyncPolicy::Never);
    support::journal::build(&store, "short", "short", 10);
    let size = support::journal::build(&store, "long", "long", 10_000);
    support::journal::build(&store, "short-p", "short-p", 10);
    support::journal::build(&store, "long-p", "long-p", 10_000);
    // The builds above wrote 16 MB; let the file system settle before timing fsyncs.
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    let [mut short_p, mut long_p] = persist_only(&store, [("short-p", 10), ("long-p", 10_000)]);
    let (sp, lp) = (median(&mut short_p), median(&mut long_p));

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
    println!(
        "| persisting a turn (3 messages + meta, fsync) after 10 messages, {} runs | {sp:.3} ms |",
        short_p.len()
    );
    println!(
        "| persisting a turn after 10,000 messages ({:.1} MB journal), {} runs | {lp:.3} ms |",
        size as f64 / 1e6,
        long_p.len()
    );
    println!("| echo turn after 10 messages, prompt to `turn_ended` (fsync included), {} turns | {st:.2} ms, {sb:.0} B appended |", short_t.len());
    println!("| echo turn after 10,000 messages ({:.1} MB journal), {} turns | {lt:.2} ms, {lb:.0} B appended |", size as f64 / 1e6, long_t.len());
    println!();
    support::header();
    row(
        "4. persisting a turn (append + fsync): after 10,000 / after 10 messages",
        &format!(
            "{:.2}x ({lp:.3} ms / {sp:.3} ms; bytes appended by a real turn {:.2}x)",
            lp / sp,
            lb / sb
        ),
        "<= 2x",
        Some(lp / sp <= 2.0),
    );
    row(
        "4. whole echo turn, prompt to `turn_ended`: after 10,000 / after 10 (context building included)",
        &format!("{:.1}x ({lt:.2} ms / {st:.2} ms)", lt / st),
        "(not a target)",
        None,
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
