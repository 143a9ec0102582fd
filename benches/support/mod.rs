//! Shared helpers of the benchmarks: medians and percentiles, process RSS and CPU time, the mock server.

#![allow(dead_code)] // each bench binary uses a different subset

pub mod journal;
pub mod mock;
pub mod wire;

use std::time::Duration;

/// The value at quantile `q` (0.0 to 1.0) of `v`, sorted in place.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in timings"));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

/// The median of `v`.
pub fn median(v: &mut [f64]) -> f64 {
    quantile(v, 0.5)
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident memory of this process in KiB (VmRSS).
pub fn rss_kib() -> u64 {
    status_field(std::process::id(), "VmRSS:")
}

/// A `kB` field of /proc/<pid>/status.
pub fn status_field(pid: u32, name: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of process `pid` so far, from /proc/<pid>/stat (clock-tick resolution).
pub fn cpu_of(pid: u32) -> Duration {
    stat_cpu(std::path::Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU time (user + system) in a /proc `stat` file: a process's, or a thread's (/proc/<pid>/task/<tid>/stat).
pub fn stat_cpu(path: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name (state is 0).
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// CPU time (user + system, all threads) of this process, from getrusage (microsecond resolution).
pub fn self_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Sends `text` to session `id` and waits (on the pull queue) for that session's `turn_ended`; returns the time.
pub fn echo_turn(client: &tandem::Client, id: &str, text: &str) -> Duration {
    let t = std::time::Instant::now();
    client
        .send_prompt(
            id,
            vec![tandem::session::transcript::ContentPart::Text { text: text.into() }],
        )
        .unwrap();
    loop {
        let e = client.next_event(Duration::from_secs(10)).unwrap();
        if e.session_id.as_deref() == Some(id) && e.to_json().contains("\"kind\":\"turn_ended\"") {
            return t.elapsed();
        }
    }
}

/// A row of the summary table: what was measured, the number, the target and whether it was met.
pub fn row(what: &str, measured: &str, target: &str, met: Option<bool>) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "",
    };
    println!("| {what} | {measured} | {target} | {verdict} |");
}

/// The table header every bench prints before its rows.
pub fn header() {
    println!("| benchmark | measured (median) | target | |");
    println!("|---|---|---|---|");
}

/// Panics with tandem's last error message when a C call did not succeed.
pub fn check(status: tandem::ffi::types::tandem_status, what: &str) {
    if status as u32 != 0 {
        let msg =
            unsafe { std::ffi::CStr::from_ptr(tandem::ffi::client::tandem_last_error_message()) };
        panic!("{what}: {}", msg.to_string_lossy());
    }
}
