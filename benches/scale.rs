//! Benchmark 3: scale. 10,000 idle sessions on one client (start all, resident memory per session, session_list,
//! stop all), and the CPU an idle client with 1,000 sessions uses over 5 s. Everything goes through the C ABI.
//!
//! Run with `cargo bench --bench scale` (or `scripts/bench.sh`).

mod support;

use std::ffi::{CStr, CString};
use std::ptr;
use std::time::{Duration, Instant};

use support::{check, median, ms, row, rss_kib, self_cpu};
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::session::{tandem_session_list, tandem_session_start, tandem_session_stop};
use tandem::ffi::types::tandem_client;

const SESSIONS: usize = 10_000;
const IDLE_SESSIONS: usize = 1_000;
const OPTIONS: &str = r#"{"model": "scripted:echo", "tools": []}"#;

fn client() -> *mut tandem_client {
    let mut c = ptr::null_mut();
    let config = CString::new(r#"{"store_dir": null}"#).unwrap();
    check(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) },
        "client_new",
    );
    c
}

fn start_all(c: *mut tandem_client, n: usize) -> Vec<*mut std::ffi::c_char> {
    let o = CString::new(OPTIONS).unwrap();
    (0..n)
        .map(|_| {
            let mut id = ptr::null_mut();
            check(
                unsafe { tandem_session_start(c, o.as_ptr(), &mut id) },
                "start",
            );
            id
        })
        .collect()
}

fn stop_all(c: *mut tandem_client, ids: Vec<*mut std::ffi::c_char>) {
    for id in ids {
        check(unsafe { tandem_session_stop(c, id) }, "stop");
        unsafe { tandem_string_free(id) };
    }
}

/// Measurements of one round with SESSIONS sessions.
struct Round {
    start_ms: f64,
    kib_per_session: f64,
    list_ms: f64,
    list_bytes: f64,
    stop_ms: f64,
}

fn round() -> Round {
    let c = client();
    // Let the runtime's threads settle before the baseline RSS.
    std::thread::sleep(Duration::from_millis(50));
    let rss0 = rss_kib();
    let t = Instant::now();
    let ids = start_all(c, SESSIONS);
    let start_ms = ms(t.elapsed());
    std::thread::sleep(Duration::from_millis(200));
    let kib_per_session = (rss_kib() as f64 - rss0 as f64) / SESSIONS as f64;
    let mut lists = Vec::new();
    let mut list_bytes = 0.0;
    for _ in 0..5 {
        let mut out = ptr::null_mut();
        let t = Instant::now();
        check(unsafe { tandem_session_list(c, &mut out) }, "list");
        lists.push(ms(t.elapsed()));
        list_bytes = unsafe { CStr::from_ptr(out) }.to_bytes().len() as f64;
        unsafe { tandem_string_free(out) };
    }
    let t = Instant::now();
    stop_all(c, ids);
    let stop_ms = ms(t.elapsed());
    unsafe { tandem_client_free(c) };
    Round {
        start_ms,
        kib_per_session,
        list_ms: median(&mut lists),
        list_bytes,
        stop_ms,
    }
}

/// CPU time the whole process uses in 5 s while a client holds IDLE_SESSIONS idle sessions.
fn idle_cpu_ms() -> f64 {
    let c = client();
    let ids = start_all(c, IDLE_SESSIONS);
    std::thread::sleep(Duration::from_millis(500));
    let cpu0 = self_cpu();
    std::thread::sleep(Duration::from_secs(5));
    let used = ms(self_cpu() - cpu0);
    stop_all(c, ids);
    unsafe { tandem_client_free(c) };
    used
}

fn main() {
    let runs = 3;
    let rounds: Vec<Round> = (0..runs).map(|_| round()).collect();
    let m = |f: fn(&Round) -> f64| median(&mut rounds.iter().map(f).collect::<Vec<_>>());
    // Memory only from the first round: later rounds reuse the heap the first one freed, so their RSS barely grows.
    let kib = rounds[0].kib_per_session;
    let (start, list, bytes, stop) = (
        m(|r| r.start_ms),
        m(|r| r.list_ms),
        m(|r| r.list_bytes),
        m(|r| r.stop_ms),
    );
    let mut idle: Vec<f64> = (0..runs).map(|_| idle_cpu_ms()).collect();
    let idle = median(&mut idle);

    support::header();
    row(
        &format!("3. start {SESSIONS} idle sessions (scripted:echo)"),
        &format!("{start:.0} ms"),
        "<= 2000 ms",
        Some(start <= 2000.0),
    );
    row(
        "3. resident memory per idle session (VmRSS delta / sessions, first round)",
        &format!("{kib:.1} KiB"),
        "<= 64 KiB",
        Some(kib <= 64.0),
    );
    row(
        &format!(
            "3. `tandem_session_list` with {SESSIONS} sessions ({:.1} MB of JSON)",
            bytes / 1e6
        ),
        &format!("{list:.1} ms"),
        "<= 20 ms",
        Some(list <= 20.0),
    );
    row(
        &format!("3. stop {SESSIONS} sessions one by one"),
        &format!("{stop:.0} ms"),
        "<= 2000 ms",
        Some(stop <= 2000.0),
    );
    row(
        &format!("3. CPU of an idle client with {IDLE_SESSIONS} sessions over 5 s"),
        &format!("{idle:.1} ms"),
        "0 (no polling; < 1 ms of process CPU)",
        Some(idle < 1.0),
    );
}
