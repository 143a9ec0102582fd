//! Long conversations: a whole echo turn (prompt to `turn_ended`, the turn's journal write and fsync included)
//! after 10,000 earlier messages against the same turn after 10. The model context is kept between turns and
//! extended by the new messages, so the long turn should cost at most twice the short one (issue 21; before, the
//! context was rebuilt from the whole transcript every turn: 10.9x). The request bytes are the same as with a
//! rebuild: a session reopened before every turn (its context built from scratch) and one kept open (its context
//! extended), on copies of the same conversation and with the same prompts, send the mock server requests of the
//! same length.
//!
//! Run with `cargo bench --bench long_conversation` (or `scripts/bench.sh`).

mod support;

use std::time::Duration;

use serde_json::json;
use support::mock::MockServer;
use support::{median, ms, row};
use tandem::store::{FsyncPolicy, Store};
use tandem::Client;

const TURNS: usize = 101;
const LONG: u64 = 10_000;

/// Sends `text` to `id` and waits for the turn's end.
fn turn(client: &Client, id: &str, text: &str) -> f64 {
    ms(support::echo_turn(client, id, text))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-long-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::new(dir.clone(), FsyncPolicy::Never);
    support::journal::build(&store, "short", "short", 10);
    let size = support::journal::build(&store, "long", "long", LONG);
    support::journal::build(&store, "kept", "kept", LONG);
    support::journal::build(&store, "rebuilt", "rebuilt", LONG);
    let client = Client::new(Some(&json!({"store_dir": dir}).to_string())).unwrap();
    let echo = Some(r#"{"model": "scripted:echo", "tools": []}"#);
    let short = client.start_or_get_session("short", echo).unwrap();
    let long = client.start_or_get_session("long", echo).unwrap();
    // Turn by turn, alternating, so that load and disk noise hit both alike; the first turns are warm-up (the
    // long session's first turn builds its context from the whole transcript).
    let (mut short_t, mut long_t) = (Vec::new(), Vec::new());
    let mut first_long = 0.0;
    for i in 0..TURNS + 3 {
        let s = turn(&client, &short, &format!("one more change {i}"));
        let l = turn(&client, &long, &format!("one more change {i}"));
        if i == 0 {
            first_long = l;
        }
        if i >= 3 {
            short_t.push(s);
            long_t.push(l);
        }
    }
    let (st, lt) = (median(&mut short_t), median(&mut long_t));

    // The same requests: an OpenAI-compatible session kept open against one reopened before every turn.
    std::env::set_var("TANDEM_BENCH_KEY", "bench");
    let server = MockServer::start(&[1]);
    let openai = json!({
        "model": "openai:bench", "base_url": server.base_url(1), "api_key_env": "TANDEM_BENCH_KEY",
        "tools": [], "retry": {"max_retries": 0}
    })
    .to_string();
    let kept = client.start_or_get_session("kept", Some(&openai)).unwrap();
    let (mut same, mut request) = (true, 0);
    for i in 0..5 {
        let prompt = format!("and another change {i}");
        turn(&client, &kept, &prompt);
        let kept_bytes = server.last_request_bytes();
        let rebuilt = client
            .start_or_get_session("rebuilt", Some(&openai))
            .unwrap();
        turn(&client, &rebuilt, &prompt);
        let rebuilt_bytes = server.last_request_bytes();
        client.stop_session(&rebuilt).unwrap();
        same &= kept_bytes == rebuilt_bytes;
        request = kept_bytes;
    }
    client.shutdown(Duration::from_secs(5)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| measurement | median |");
    println!("|---|---|");
    println!(
        "| echo turn after 10 messages, prompt to `turn_ended` (journal write and fsync included), {} turns | {st:.3} ms |",
        short_t.len()
    );
    println!(
        "| echo turn after {LONG} messages ({:.1} MB journal), {} turns | {lt:.3} ms |",
        size as f64 / 1e6,
        long_t.len()
    );
    println!("| the long session's first turn (its context built from the whole transcript) | {first_long:.2} ms |");
    println!(
        "| request of an `openai:bench` turn after {LONG} messages: kept context / rebuilt context (5 turns each) | {request} B / {} |",
        if same { "the same length every turn" } else { "**different**" }
    );
    println!();
    support::header();
    row(
        "4. whole echo turn, prompt to `turn_ended`: after 10,000 / after 10 messages (context kept between turns)",
        &format!("{:.2}x ({lt:.3} ms / {st:.3} ms)", lt / st),
        "<= 2x, same request bytes",
        Some(lt / st <= 2.0 && same),
    );
}
