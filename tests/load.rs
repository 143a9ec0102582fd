//! Load: 1,000 sessions streaming at once into one slow callback subscriber. Every `turn_ended` arrives, the
//! `events_dropped` counts account exactly for every event that was coalesced or dropped, memory stays bounded, and
//! a watchdog fails the test instead of letting a deadlock hang it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tandem::events::dispatch::{EventSink, Prepared};
use tandem::session::transcript::ContentPart;
use tandem::Client;

const SESSIONS: usize = 1_000;
const WORDS: usize = 100;
/// The subscriber's cost per event: far slower than 1,000 sessions produce events.
const SLOW: Duration = Duration::from_micros(100);
const WATCHDOG: Duration = Duration::from_secs(240);
/// Event queue capacity: small, so the slow subscriber forces coalescing and drops.
const CAPACITY: usize = 512;

/// What the subscriber saw of one session.
#[derive(Default)]
struct Seen {
    /// Sequence numbers delivered, in order.
    seqs: Vec<u64>,
    text: String,
    turn_ended: bool,
    stopped: bool,
}

#[derive(Default)]
struct Tally {
    sessions: HashMap<String, Seen>,
    dropped: u64,
}

struct SlowSink(Arc<Mutex<Tally>>);

impl EventSink for SlowSink {
    fn deliver(&self, event: &Prepared) {
        std::thread::sleep(SLOW);
        let e = &event.event;
        let v: Value = serde_json::from_str(&e.to_json()).expect("events are JSON");
        let mut t = self.0.lock().unwrap();
        match &e.session_id {
            None => {
                if v["kind"] == "events_dropped" {
                    t.dropped += v["count"].as_u64().expect("a count");
                }
            }
            Some(id) => {
                let s = t.sessions.entry(id.to_string()).or_default();
                s.seqs.push(e.seq);
                match v["kind"].as_str() {
                    Some("text_delta") => s.text.push_str(v["delta"].as_str().unwrap()),
                    Some("turn_ended") => s.turn_ended = true,
                    Some("session_stopped") => s.stopped = true,
                    _ => {}
                }
            }
        }
    }

    fn release(&self) {}
}

/// Peak resident memory of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn wait_until(what: &str, tally: &Mutex<Tally>, pred: impl Fn(&Tally) -> bool) {
    let deadline = Instant::now() + WATCHDOG;
    while !pred(&tally.lock().unwrap()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_thousand_streaming_sessions_and_a_slow_subscriber() {
    // The watchdog turns a deadlock into a failure with a message instead of a CI timeout.
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Acquire) {
                if start.elapsed() > WATCHDOG + Duration::from_secs(30) {
                    eprintln!("load test watchdog: no progress after {WATCHDOG:?}; deadlock?");
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let c = Client::new(Some(
        &json!({"store_dir": null, "event_queue_capacity": CAPACITY}).to_string(),
    ))
    .unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    c.subscribe(None, Box::new(SlowSink(tally.clone())))
        .unwrap();
    let rss_before = peak_rss_kib();

    let words: Vec<String> = (0..WORDS).map(|i| format!("w{i} ")).collect();
    let expected: String = words.concat();
    let script = json!([words.iter().map(|w| json!({"text": w})).collect::<Vec<_>>()]);
    let options = json!({"model": "scripted:load", "script": script, "persist": false}).to_string();
    let ids: Vec<String> = (0..SESSIONS)
        .map(|_| c.start_session(Some(&options)).unwrap())
        .collect();
    for id in &ids {
        c.send_prompt(id, vec![ContentPart::Text { text: "go".into() }])
            .unwrap();
    }
    wait_until("every turn_ended", &tally, |t| {
        ids.iter()
            .all(|id| t.sessions.get(id).is_some_and(|s| s.turn_ended))
    });
    // Nothing was lost from the sessions themselves, whatever the subscriber missed.
    for id in ids.iter().step_by(97) {
        let msgs = c.messages(id).unwrap();
        let answer = msgs
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "assistant")
            .expect("an answer");
        assert_eq!(answer["text"], expected.as_str());
    }
    for id in &ids {
        c.stop_session(id).unwrap();
    }
    wait_until("every session_stopped", &tally, |t| {
        ids.iter()
            .all(|id| t.sessions.get(id).is_some_and(|s| s.stopped))
    });
    let peak = peak_rss_kib();
    done.store(true, Ordering::Release);
    watchdog.join().unwrap();

    let t = tally.lock().unwrap();
    let mut gaps = 0u64;
    let mut coalesced_sessions = 0;
    for id in &ids {
        let s = &t.sessions[id];
        assert!(
            s.seqs.windows(2).all(|w| w[0] < w[1]),
            "{id}: events out of order"
        );
        // Every sequence number from 1 to the last delivered one is either delivered or counted as dropped.
        let last = *s.seqs.last().unwrap();
        gaps += last - s.seqs.len() as u64;
        // Coalesced deltas keep their text, dropped ones lose whole words: what arrived is the answer's words, in
        // order, with at most some missing.
        let mut rest = words.iter();
        for got in s.text.split_inclusive(' ') {
            assert!(
                rest.any(|w| w == got),
                "{id}: delivered text {:?} is not the answer's words in order",
                s.text
            );
        }
        if s.text == expected && s.seqs.len() < last as usize {
            coalesced_sessions += 1;
        }
    }
    println!(
        "load: {SESSIONS} sessions x {WORDS} deltas; events_dropped total {}, sequence gaps {gaps}, \
         {coalesced_sessions} sessions got their full text through coalescing; peak RSS {} MiB \
         (before sessions: {} MiB)",
        t.dropped,
        peak / 1024,
        rss_before / 1024
    );
    assert!(
        gaps > 0,
        "the slow subscriber never fell behind: the test proves nothing"
    );
    assert_eq!(
        t.dropped, gaps,
        "events_dropped must count exactly the events the subscriber did not get"
    );
    // Bounded: the queue holds ~CAPACITY events, not the 100,000+ the sessions produced.
    assert!(
        peak < 1024 * 1024,
        "peak RSS {} MiB: the event queue is not bounded",
        peak / 1024
    );
}
