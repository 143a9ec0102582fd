//! Benchmark 2: event dispatch. A scripted stream of 1,000,000 deltas into a C-ABI callback, beside a baseline in
//! the same run (a plain Rust thread rendering the same event JSON and sending it over a channel to the same
//! callback); then the latency from a model delta (written by the mock server) to the callback, 100 sessions at once.
//!
//! Run with `cargo bench --bench dispatch` (or `scripts/bench.sh`).

mod support;

use std::ffi::{c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use support::mock::{epoch, MockServer};
use support::{check, median, quantile, row};
use tandem::events::EventKind;
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::events::{tandem_client_subscribe, tandem_client_unsubscribe};
use tandem::ffi::session::{tandem_session_send_prompt, tandem_session_start, tandem_session_stop};
use tandem::ffi::types::{tandem_client, tandem_event};

const DELTAS: usize = 1_000_000;

/// What the callback sees; shared by the tandem run and the baseline.
#[derive(Default)]
struct Counter {
    deltas: AtomicU64,
    bytes: AtomicU64,
    /// The first text_delta's JSON (to give the baseline the same payload).
    sample: Mutex<Option<String>>,
    /// Latency samples in microseconds (paced streams only).
    latencies: Mutex<Vec<u64>>,
    ended: Mutex<usize>,
    /// Microseconds since [`epoch`] of the first and the last text_delta.
    first_us: AtomicU64,
    last_us: AtomicU64,
    cv: Condvar,
}

/// The callback both sides deliver to: counts deltas and bytes, notes turn ends, and for paced deltas
/// (`"delta":"@<micros> "`) records the latency since the mock server wrote them.
unsafe extern "C" fn on_event(userdata: *mut c_void, e: *const tandem_event) {
    let c = &*(userdata as *const Counter);
    let e = &*e;
    let json = CStr::from_ptr(e.json).to_bytes();
    c.bytes.fetch_add(json.len() as u64, Ordering::Relaxed);
    if e.kind == EventKind::TextDelta as u32 {
        let now = epoch().elapsed().as_micros() as u64;
        if c.deltas.fetch_add(1, Ordering::Relaxed) == 0 {
            *c.sample.lock().unwrap() = Some(String::from_utf8_lossy(json).into_owned());
            c.first_us.store(now, Ordering::Relaxed);
        }
        c.last_us.store(now, Ordering::Relaxed);
        if let Some(at) = memchr::memmem::find(json, b"\"delta\":\"@") {
            let digits = &json[at + 10..];
            let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(0);
            if let Ok(stamp) = std::str::from_utf8(&digits[..end]).unwrap().parse::<u64>() {
                c.latencies.lock().unwrap().push(now.saturating_sub(stamp));
            }
        }
    } else if e.kind == EventKind::TurnEnded as u32 {
        *c.ended.lock().unwrap() += 1;
        c.cv.notify_all();
    }
}

fn client(config: &str) -> *mut tandem_client {
    let mut c = ptr::null_mut();
    let config = CString::new(config).unwrap();
    check(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) },
        "client_new",
    );
    c
}

fn start(c: *mut tandem_client, options: &str) -> CString {
    let mut id = ptr::null_mut();
    let o = CString::new(options).unwrap();
    check(
        unsafe { tandem_session_start(c, o.as_ptr(), &mut id) },
        "start",
    );
    let owned = unsafe { CStr::from_ptr(id) }.to_owned();
    unsafe { tandem_string_free(id) };
    owned
}

fn wait_ended(counter: &Counter, n: usize) {
    let mut ended = counter.ended.lock().unwrap();
    while *ended < n {
        ended = counter.cv.wait(ended).unwrap();
    }
}

/// One session streaming DELTAS scripted deltas; returns deltas delivered, seconds from prompt to turn_ended,
/// milliseconds from prompt to the first delta, and the process's CPU milliseconds in between.
fn tandem_run(counter: &Counter) -> (u64, f64, f64, f64) {
    // A queue that holds the whole stream, so that every delta is its own callback (with the default 65,536 a
    // producer that outruns the callback gets merged deltas, which would flatter the rate).
    let c = client(r#"{"store_dir": null, "pull_events": false, "event_queue_capacity": 2097152}"#);
    let script = format!("[[{}]]", vec![r#"{"text":"tok "}"#; DELTAS].join(","));
    let id = start(
        c,
        &format!(r#"{{"model": "scripted:bench", "tools": [], "script": {script}}}"#),
    );
    let mut sub = 0;
    let ud = counter as *const Counter as *mut c_void;
    check(
        unsafe { tandem_client_subscribe(c, id.as_ptr(), Some(on_event), ud, None, &mut sub) },
        "subscribe",
    );
    let prompt = CString::new("go").unwrap();
    let cpu = support::self_cpu();
    let t = Instant::now();
    let t_us = epoch().elapsed().as_micros() as u64;
    check(
        unsafe { tandem_session_send_prompt(c, id.as_ptr(), prompt.as_ptr(), ptr::null_mut()) },
        "prompt",
    );
    wait_ended(counter, 1);
    let first_ms = (counter.first_us.load(Ordering::Relaxed) - t_us) as f64 / 1000.0;
    let secs = t.elapsed().as_secs_f64();
    let cpu = support::ms(support::self_cpu() - cpu);
    unsafe {
        tandem_client_unsubscribe(c, sub);
        tandem_session_stop(c, id.as_ptr());
        tandem_client_free(c);
    }
    (counter.deltas.load(Ordering::Relaxed), secs, first_ms, cpu)
}

/// The baseline: a thread renders the same text_delta JSON (sequence number varying) and sends it over a channel;
/// the receiving thread hands it to the same callback. Returns seconds from start to the last callback and the
/// process's CPU milliseconds.
fn baseline_run(counter: &Counter, sample: &str) -> (f64, f64) {
    let rest = &sample[sample.find(',').unwrap()..];
    let sid = CString::new("bench").unwrap();
    let cpu = support::self_cpu();
    let t = Instant::now();
    let (tx, rx) = mpsc::channel::<CString>();
    let rest = rest.to_string();
    let producer = std::thread::spawn(move || {
        for seq in 1..=DELTAS {
            let json = CString::new(format!("{{\"seq\":{seq}{rest}")).unwrap();
            tx.send(json).unwrap();
        }
    });
    let ud = counter as *const Counter as *mut c_void;
    for (seq, json) in rx.iter().enumerate() {
        let e = tandem_event {
            seq: seq as u64 + 1,
            kind: EventKind::TextDelta as u32,
            session_id: sid.as_ptr(),
            json: json.as_ptr(),
        };
        unsafe { on_event(ud, &e) };
    }
    producer.join().unwrap();
    (
        t.elapsed().as_secs_f64(),
        support::ms(support::self_cpu() - cpu),
    )
}

/// `sessions` sessions on the paced mock stream at once; returns latency samples in microseconds. With `spread`
/// the sessions' deltas are evenly staggered over the interval; without, every session's delta is written in the
/// same instant (a burst of `sessions` deltas each interval).
fn latency_run(
    server: &MockServer,
    sessions: usize,
    deltas: usize,
    interval: Duration,
    spread: bool,
) -> Vec<u64> {
    std::env::set_var("TANDEM_BENCH_KEY", "bench");
    let counter = Counter::default();
    let c = client(r#"{"store_dir": null, "pull_events": false}"#);
    let ids: Vec<CString> = (0..sessions)
        .map(|k| {
            let phase = if spread {
                interval * k as u32 / sessions as u32
            } else {
                Duration::ZERO
            };
            let url = server.paced_url(deltas, interval, phase);
            start(
                c,
                &format!(
                    r#"{{"model": "openai:bench", "base_url": "{url}", "api_key_env": "TANDEM_BENCH_KEY", "tools": [], "retry": {{"max_retries": 0}}}}"#
                ),
            )
        })
        .collect();
    let mut sub = 0;
    let ud = &counter as *const Counter as *mut c_void;
    check(
        unsafe { tandem_client_subscribe(c, ptr::null(), Some(on_event), ud, None, &mut sub) },
        "subscribe",
    );
    let prompt = CString::new("go").unwrap();
    for id in &ids {
        check(
            unsafe { tandem_session_send_prompt(c, id.as_ptr(), prompt.as_ptr(), ptr::null_mut()) },
            "prompt",
        );
    }
    wait_ended(&counter, sessions);
    unsafe {
        tandem_client_unsubscribe(c, sub);
        tandem_client_free(c);
    }
    let v = std::mem::take(&mut *counter.latencies.lock().unwrap());
    v
}

fn main() {
    let runs = 5;
    let mut tandem_secs = Vec::new();
    let mut base_secs = Vec::new();
    let mut delivered = Vec::new();
    let mut sample = None;
    let mut firsts = Vec::new();
    let (mut tandem_cpu, mut base_cpu) = (Vec::new(), Vec::new());
    let only = std::env::var("TANDEM_BENCH_DISPATCH_ONLY").is_ok();
    let skip_rate = std::env::var("TANDEM_BENCH_LATENCY_ONLY").is_ok();
    for _ in 0..if skip_rate { 1 } else { runs } {
        let counter = Counter::default();
        let (n, secs, first, cpu) = tandem_run(&counter);
        firsts.push(first);
        tandem_cpu.push(cpu);
        if only {
            // For profiling the library alone: one tandem run, nothing else.
            println!(
                "{n} deltas in {:.1} ms, first after {first:.1} ms, {cpu:.0} ms CPU",
                secs * 1e3
            );
            return;
        }
        delivered.push(n as f64);
        tandem_secs.push(secs);
        sample = counter.sample.lock().unwrap().clone();
        let counter = Counter::default();
        let (secs, cpu) = baseline_run(&counter, sample.as_deref().unwrap());
        base_secs.push(secs);
        base_cpu.push(cpu);
    }
    let t = median(&mut tandem_secs);
    let b = median(&mut base_secs);
    let d = median(&mut delivered);
    let first = median(&mut firsts);
    let (tcpu, bcpu) = (median(&mut tandem_cpu), median(&mut base_cpu));
    let rate = d / t;

    let server = MockServer::start(&[]);
    let sessions = std::env::var("TANDEM_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (deltas, interval) = (200, Duration::from_millis(5));
    // Three runs of each pattern; the quantiles are over all their samples together.
    let latencies = |spread: bool| {
        let mut lat: Vec<f64> = (0..3)
            .flat_map(|_| latency_run(&server, sessions, deltas, interval, spread))
            .map(|us| us as f64 / 1000.0)
            .collect();
        let q = |l: &mut Vec<f64>, x| quantile(l, x);
        (
            lat.len(),
            q(&mut lat, 0.5),
            q(&mut lat, 0.99),
            q(&mut lat, 1.0),
        )
    };
    // The machine's load while the sessions stream (1-minute load average, read before the runs).
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into());
    let (samples, p50, p99, max) = latencies(true);
    let (bsamples, bp50, bp99, bmax) = latencies(false);

    println!("| measurement | median of {runs} runs |");
    println!("|---|---|");
    println!(
        "| tandem: {DELTAS} scripted deltas, prompt to `turn_ended` | {:.1} ms |",
        t * 1e3
    );
    println!("| tandem: prompt to the first delta's callback | {first:.1} ms |");
    println!("| tandem: CPU time of the process, prompt to `turn_ended` | {tcpu:.0} ms |");
    println!("| tandem: callbacks that received a text_delta (the rest were merged by the coalescing queue) | {d:.0} |");
    println!(
        "| baseline: same JSON over a std channel to the same callback | {:.1} ms |",
        b * 1e3
    );
    println!("| baseline: CPU time of the process | {bcpu:.0} ms |");
    println!(
        "| latency, {sessions} sessions x {deltas} deltas every {} ms over HTTP, staggered (mock server write to callback), {samples} samples | p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms |",
        interval.as_millis()
    );
    println!(
        "| latency, the same with all {sessions} sessions' deltas written in the same instant (bursts of {sessions}), {bsamples} samples | p50 {bp50:.3} ms, p99 {bp99:.3} ms, max {bmax:.3} ms |"
    );
    if let Some(s) = &sample {
        println!("\nOne delta as the callback received it: `{s}`");
    }
    println!();
    support::header();
    row(
        "2. dispatch rate, 1M scripted deltas into a C callback",
        &format!("{:.2} M events/s", rate / 1e6),
        ">= 5 M events/s",
        Some(rate >= 5e6 && d >= DELTAS as f64),
    );
    row(
        "2. tandem time / baseline time (same run)",
        &format!("{:.2}x ({:.1} ms / {:.1} ms)", t / b, t * 1e3, b * 1e3),
        "<= 1.5x",
        Some(t / b <= 1.5),
    );
    row(
        &format!("2. delta-to-callback latency, {sessions} sessions streaming (staggered; load average {load})"),
        &format!("p50 {p50:.3} ms, p99 {p99:.3} ms"),
        "p99 < 1 ms",
        Some(p99 < 1.0),
    );
}
