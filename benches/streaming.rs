//! Benchmark 1: streaming N = 1,000 and 10,000 deltas from the local mock server, tandem (a C host with a callback,
//! `benches/c/stream_host.c`) against the real `pi --mode rpc` driven by a minimal JSONL client (here).
//!
//! Run by `scripts/bench.sh`, which builds the C host and installs the pinned pi; by hand:
//! `TANDEM_BENCH_HOST=build/bench/stream_host TANDEM_BENCH_PI=$(scripts/install-pi.sh) cargo bench --bench streaming`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::mock::MockServer;
use support::{cpu_of, median, row};

/// One run's measurements.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    deltas: f64,
    bytes: f64,
    last_delta_ms: f64,
    end_ms: f64,
    cpu_ms: f64,
}

/// Medians of each field.
fn medians(runs: &[Run]) -> Run {
    let m = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Run {
        deltas: m(|r| r.deltas),
        bytes: m(|r| r.bytes),
        last_delta_ms: m(|r| r.last_delta_ms),
        end_ms: m(|r| r.end_ms),
        cpu_ms: m(|r| r.cpu_ms),
    }
}

fn tandem_runs(host: &str, url: &str, n: usize, runs: usize) -> Vec<Run> {
    let out = Command::new(host)
        .args([url, &n.to_string(), &runs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("running the C host");
    assert!(out.status.success(), "stream_host failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("run "))
        .map(|l| {
            let f: Vec<f64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
            Run {
                deltas: f[0],
                bytes: f[1],
                last_delta_ms: f[2],
                end_ms: f[3],
                cpu_ms: f[4],
            }
        })
        .collect()
}

/// A private agent dir for pi: a models.json with one provider per N pointing at the mock server.
fn pi_home(server: &MockServer, sizes: &[usize]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-bench-pi-{}", std::process::id()));
    let agent = dir.join("agent");
    std::fs::create_dir_all(&agent).unwrap();
    let providers: serde_json::Map<String, serde_json::Value> = sizes
        .iter()
        .map(|&n| {
            (
                format!("mock{n}"),
                serde_json::json!({
                    "baseUrl": server.base_url(n),
                    "api": "openai-completions",
                    "apiKey": "bench",
                    "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
                    "models": [{"id": "bench", "reasoning": false}],
                }),
            )
        })
        .collect();
    std::fs::write(
        agent.join("models.json"),
        serde_json::json!({ "providers": providers }).to_string(),
    )
    .unwrap();
    dir
}

/// One prompt to a fresh `pi --mode rpc`, timed from writing the prompt line to the last text delta and to
/// `agent_end`; every byte of its stdout is read and framed on `\n`.
fn pi_run(pi: &str, home: &Path, n: usize) -> Run {
    let mut child = Command::new(pi)
        .args([
            "--mode",
            "rpc",
            "--no-session",
            "--no-tools",
            "--no-extensions",
            "--no-skills",
        ])
        .args([
            "--no-prompt-templates",
            "--no-themes",
            "--no-context-files",
            "--offline",
        ])
        .args(["--provider", &format!("mock{n}"), "--model", "bench"])
        .current_dir(home)
        .env("HOME", home)
        .env("PI_CODING_AGENT_DIR", home.join("agent"))
        .env("PI_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pi");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut line = Vec::new();
    // Wait until pi answers a command, so its start-up is not timed.
    stdin
        .write_all(b"{\"id\":\"ready\",\"type\":\"get_state\"}\n")
        .unwrap();
    loop {
        line.clear();
        assert!(out.read_until(b'\n', &mut line).unwrap() > 0, "pi exited");
        if line.starts_with(b"{\"id\":\"ready\"") || contains(&line, b"\"id\":\"ready\"") {
            break;
        }
    }
    let pid = child.id();
    let cpu0 = cpu_of(pid);
    let t0 = Instant::now();
    stdin
        .write_all(b"{\"id\":\"p\",\"type\":\"prompt\",\"message\":\"stream please\"}\n")
        .unwrap();
    let mut run = Run::default();
    loop {
        line.clear();
        let got = out.read_until(b'\n', &mut line).unwrap();
        assert!(got > 0, "pi exited before agent_end");
        run.bytes += got as f64;
        if line.starts_with(b"{\"type\":\"message_update\"")
            && contains(&line, b"\"assistantMessageEvent\":{\"type\":\"text_delta\"")
        {
            run.deltas += 1.0;
            run.last_delta_ms = support::ms(t0.elapsed());
        } else if line.starts_with(b"{\"type\":\"agent_end\"") {
            run.end_ms = support::ms(t0.elapsed());
            break;
        }
    }
    run.cpu_ms = support::ms(cpu_of(pid) - cpu0);
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    run
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    // pi's lines reach megabytes; a naive scan would make the driver, not pi, the bottleneck.
    memchr::memmem::find(hay, needle).is_some()
}

fn main() {
    let sizes = [1_000usize, 10_000];
    let server = MockServer::start(&sizes);
    let host = std::env::var("TANDEM_BENCH_HOST").ok();
    let pi = std::env::var("TANDEM_BENCH_PI").ok();
    let runs: usize = std::env::var("TANDEM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let pi_runs: usize = std::env::var("TANDEM_BENCH_PI_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let home = pi.as_ref().map(|_| pi_home(&server, &sizes));

    println!(
        "| N | side | deltas | to last delta | to turn end | CPU | host bytes | bytes / delta |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for &n in &sizes {
        let t = host.as_ref().map(|h| {
            let url = server.base_url(n);
            medians(&tandem_runs(h, &url, n, runs))
        });
        let p = pi.as_ref().map(|pi| {
            let runs: Vec<Run> = (0..pi_runs)
                .map(|_| pi_run(pi, home.as_ref().unwrap(), n))
                .collect();
            medians(&runs)
        });
        for (side, r, k) in [("tandem", t, runs), ("pi", p, pi_runs)] {
            if let Some(r) = r {
                println!(
                    "| {n} | {side} ({k} runs) | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} | {:.0} |",
                    r.deltas,
                    r.last_delta_ms,
                    r.end_ms,
                    r.cpu_ms,
                    r.bytes,
                    r.bytes / r.deltas.max(1.0)
                );
            }
        }
        summary.push((n, t, p));
    }
    println!();
    support::header();
    for (n, t, p) in &summary {
        if let (Some(t), Some(p)) = (t, p) {
            let ratio = p.end_ms / t.end_ms;
            let target = if *n >= 10_000 { 100.0 } else { 10.0 };
            row(
                &format!("1. streaming N={n}: pi / tandem, prompt to turn end"),
                &format!(
                    "{ratio:.1}x (to last delta {:.1}x, CPU {:.1}x)",
                    p.last_delta_ms / t.last_delta_ms,
                    p.cpu_ms / t.cpu_ms.max(0.001)
                ),
                &format!(">= {target:.0}x"),
                Some(ratio >= target),
            );
        }
    }
    if let [(n1, Some(a), _), (n2, Some(b), _)] = summary.as_slice() {
        // Linear: bytes per delta do not grow with N (allowing 10% for the fixed events of a turn).
        let (pa, pb) = (a.bytes / *n1 as f64, b.bytes / *n2 as f64);
        row(
            "1. tandem host bytes linear in N",
            &format!("{pa:.1} B/delta at N={n1}, {pb:.1} B/delta at N={n2}"),
            "bytes/delta constant",
            Some(pb <= pa * 1.1),
        );
    }
    if let [(n1, Some(a), _), (n2, Some(b), _)] = summary.as_slice() {
        // What one more delta costs: the difference of the two turns over the difference of their deltas (the
        // fixed cost of a turn cancels out).
        let us = (b.end_ms - a.end_ms) * 1000.0 / (*n2 - *n1) as f64;
        row(
            "1. tandem streaming cost per extra delta, prompt to turn end",
            &format!("{us:.2} µs ((N={n2} - N={n1}) / {} deltas)", n2 - n1),
            "<= 0.5 µs",
            Some(us <= 0.5),
        );
    }
    if let Some(h) = home {
        let _ = std::fs::remove_dir_all(h);
    }
}
