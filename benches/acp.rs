//! Benchmark 10: ACP (issue 17). One scripted turn of 10,000 text deltas through `tandem-acp`, driven over its
//! stdio the way an editor drives it, against the same turn through the C API in process: time to the first chunk,
//! time to the end of the turn, and what each chunk costs on top.
//!
//! Run with `cargo bench --bench acp` (or `scripts/bench.sh`).

mod support;

use std::ffi::{c_void, CStr, CString};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use support::{check, median, row};
use tandem::events::EventKind;
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::events::{tandem_client_subscribe, tandem_client_unsubscribe};
use tandem::ffi::session::{tandem_session_send_prompt, tandem_session_start, tandem_session_stop};
use tandem::ffi::types::{tandem_client, tandem_event};

const DELTAS: usize = 10_000;
const RUNS: usize = 5;

/// The scripted turn: DELTAS text deltas of a few bytes each.
fn script() -> Value {
    let steps: Vec<Value> = (0..DELTAS)
        .map(|i| json!({"text": format!("t{i} ")}))
        .collect();
    json!([steps])
}

/// One run's measurements, in milliseconds from sending the prompt.
struct Run {
    first_ms: f64,
    end_ms: f64,
    chunks: usize,
}

/// What the C callback sees.
#[derive(Default)]
struct Counter {
    t0_us: AtomicU64,
    first_us: AtomicU64,
    deltas: AtomicU64,
    ended: Mutex<bool>,
    cv: Condvar,
}

fn now_us() -> u64 {
    support::mock::epoch().elapsed().as_micros() as u64
}

unsafe extern "C" fn on_event(userdata: *mut c_void, e: *const tandem_event) {
    let c = &*(userdata as *const Counter);
    let e = &*e;
    if e.kind == EventKind::TextDelta as u32 {
        if c.deltas.fetch_add(1, Ordering::Relaxed) == 0 {
            c.first_us.store(now_us(), Ordering::Relaxed);
        }
    } else if e.kind == EventKind::TurnEnded as u32 {
        *c.ended.lock().unwrap() = true;
        c.cv.notify_all();
    }
}

/// The turn through the C API: a client in this process, a callback counting deltas.
fn c_api_run() -> Run {
    let counter = Counter::default();
    let mut c: *mut tandem_client = ptr::null_mut();
    // A queue that holds the whole stream, so every delta is its own callback, as every delta is its own ACP chunk.
    let config =
        CString::new(r#"{"store_dir": null, "pull_events": false, "event_queue_capacity": 65536}"#)
            .unwrap();
    check(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) },
        "client_new",
    );
    let options =
        CString::new(json!({"model": "scripted:script", "script": script()}).to_string()).unwrap();
    let mut id_ptr = ptr::null_mut();
    check(
        unsafe { tandem_session_start(c, options.as_ptr(), &mut id_ptr) },
        "start",
    );
    let id = unsafe { CStr::from_ptr(id_ptr) }.to_owned();
    unsafe { tandem_string_free(id_ptr) };
    let mut sub = 0;
    let ud = &counter as *const Counter as *mut c_void;
    check(
        unsafe { tandem_client_subscribe(c, id.as_ptr(), Some(on_event), ud, None, &mut sub) },
        "subscribe",
    );
    let prompt = CString::new("go").unwrap();
    counter.t0_us.store(now_us(), Ordering::Relaxed);
    check(
        unsafe { tandem_session_send_prompt(c, id.as_ptr(), prompt.as_ptr(), ptr::null_mut()) },
        "prompt",
    );
    let mut ended = counter.ended.lock().unwrap();
    while !*ended {
        ended = counter.cv.wait(ended).unwrap();
    }
    drop(ended);
    let end_us = now_us();
    unsafe {
        tandem_client_unsubscribe(c, sub);
        tandem_session_stop(c, id.as_ptr());
        tandem_client_free(c);
    }
    let t0 = counter.t0_us.load(Ordering::Relaxed);
    Run {
        first_ms: (counter.first_us.load(Ordering::Relaxed) - t0) as f64 / 1000.0,
        end_ms: (end_us - t0) as f64 / 1000.0,
        chunks: counter.deltas.load(Ordering::Relaxed) as usize,
    }
}

/// An ACP client on a `tandem-acp` child's stdio: one JSON-RPC message per line each way.
struct Editor {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Editor {
    fn send(&mut self, id: u64, method: &str, params: Value) {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Reads up to the answer to `id`, handing every other message to `seen`.
    fn answer(&mut self, id: u64, mut seen: impl FnMut(&Value)) -> Value {
        loop {
            let line = self
                .lines
                .next()
                .expect("tandem-acp closed its stdout")
                .unwrap();
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id && v.get("method").is_none() {
                assert!(v.get("error").is_none(), "{v}");
                return v["result"].clone();
            }
            seen(&v);
        }
    }
}

/// The turn through `tandem-acp`: initialize, a new session, then the prompt; each `agent_message_chunk` is a
/// delta. The editor side parses every line as JSON, as an editor does.
fn acp_run(dir: &std::path::Path) -> Run {
    let config = dir.join("config.json");
    let c = json!({"session_defaults": {"model": "scripted:script", "script": script()}});
    std::fs::write(&config, c.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem-acp"))
        .arg("--store-dir")
        .arg(dir.join("store"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run tandem-acp");
    let mut ed = Editor {
        stdin: child.stdin.take().unwrap(),
        lines: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
    };
    ed.send(
        1,
        "initialize",
        json!({"protocolVersion": 1, "clientCapabilities": {}}),
    );
    ed.answer(1, |_| {});
    // The workdir and the store lie apart (tandem refuses a workdir holding its own store).
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    ed.send(2, "session/new", json!({"cwd": work, "mcpServers": []}));
    let session = ed.answer(2, |_| {})["sessionId"].clone();
    let mut chunks = 0;
    let mut first = None;
    let t0 = Instant::now();
    ed.send(
        3,
        "session/prompt",
        json!({"sessionId": session, "prompt": [{"type": "text", "text": "go"}]}),
    );
    let done = ed.answer(3, |v| {
        if v["params"]["update"]["sessionUpdate"] == "agent_message_chunk" {
            chunks += 1;
            first.get_or_insert_with(|| t0.elapsed());
        }
    });
    let end = t0.elapsed();
    assert_eq!(done["stopReason"], "end_turn", "{done}");
    drop(ed.stdin);
    ed.child.wait().unwrap();
    Run {
        first_ms: support::ms(first.expect("no chunk")),
        end_ms: support::ms(end),
        chunks,
    }
}

fn medians(runs: &[Run]) -> (f64, f64) {
    let mut first: Vec<f64> = runs.iter().map(|r| r.first_ms).collect();
    let mut end: Vec<f64> = runs.iter().map(|r| r.end_ms).collect();
    (median(&mut first), median(&mut end))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-acp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let mut c_runs = Vec::new();
    let mut acp_runs = Vec::new();
    // Interleaved, so a change in the machine's load falls on both sides alike.
    for _ in 0..RUNS {
        c_runs.push(c_api_run());
        acp_runs.push(acp_run(&dir));
    }
    for r in c_runs.iter().chain(&acp_runs) {
        assert!(r.chunks > 0 && r.chunks <= DELTAS, "{} chunks", r.chunks);
    }
    let chunks_acp = acp_runs.iter().map(|r| r.chunks).min().unwrap();
    let chunks_c = c_runs.iter().map(|r| r.chunks).min().unwrap();
    let (c_first, c_end) = medians(&c_runs);
    let (a_first, a_end) = medians(&acp_runs);
    let per_chunk_us = (a_end - c_end) * 1000.0 / DELTAS as f64;
    let _ = std::fs::remove_dir_all(&dir);

    println!("| {DELTAS} scripted deltas, median of {RUNS} | C API (callback, in process) | tandem-acp (stdio, JSON lines) |");
    println!("|---|---|---|");
    println!("| prompt to first chunk | {c_first:.2} ms | {a_first:.2} ms |");
    println!("| prompt to end of turn | {c_end:.1} ms | {a_end:.1} ms |");
    println!("| chunks received (fewest of the runs) | {chunks_c} | {chunks_acp} |");
    println!(
        "| per delta | {:.2} µs | {:.2} µs |",
        c_end * 1000.0 / DELTAS as f64,
        a_end * 1000.0 / DELTAS as f64
    );
    println!();
    support::header();
    row(
        "10. ACP: prompt to first chunk, tandem-acp / C API (10,000 deltas)",
        &format!("{a_first:.2} ms / {c_first:.2} ms"),
        "reported",
        None,
    );
    row(
        "10. ACP: overhead per chunk through tandem-acp over the C API (turn end, 10,000 deltas)",
        &format!("{per_chunk_us:.2} µs ({a_end:.1} ms / {c_end:.1} ms)"),
        "reported",
        None,
    );
}
