//! Benchmark 7: tandem against the peers a user would pick instead, offline, on the same mock streams: Codex
//! (`codex app-server` over stdio, OpenAI Responses API) against tandem's `openai-responses` backend, and Claude Code
//! (`claude -p --output-format stream-json --include-partial-messages`, Anthropic Messages API) against tandem's
//! `anthropic` backend (both through the C host, `benches/c/stream_host.c`). Runs are interleaved (tandem, Codex,
//! tandem, Claude Code, then again) and every run is a fresh process and a new session; the first round is a
//! discarded warm-up.
//!
//! Run by `scripts/bench.sh`, which builds the C host and installs the pinned peers (`scripts/install-peers.sh`);
//! by hand: `TANDEM_BENCH_HOST=target/bench/stream_host TANDEM_BENCH_PEERS=$(scripts/install-peers.sh)
//! cargo bench --bench peers`.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use support::mock::MockServer;
use support::{cpu_of, median, ms, row};

/// One run's measurements; times in ms from sending the prompt (start-up: from nothing to the session's first event).
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    startup: f64,
    first: f64,
    last: f64,
    end: f64,
    cpu: f64,
    bytes: f64,
    deltas: f64,
    rss_kib: f64,
}

fn medians(runs: &[Run]) -> Run {
    let m = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Run {
        startup: m(|r| r.startup),
        first: m(|r| r.first),
        last: m(|r| r.last),
        end: m(|r| r.end),
        cpu: m(|r| r.cpu),
        bytes: m(|r| r.bytes),
        deltas: m(|r| r.deltas),
        rss_kib: m(|r| r.rss_kib),
    }
}

/// One C host process: a start-up measurement, then one streamed turn on `model` at `url`.
fn tandem_run(host: &str, url: &str, n: usize, model: &str) -> Run {
    let out = Command::new(host)
        .args([url, &n.to_string(), "1", model])
        .stderr(Stdio::inherit())
        .output()
        .expect("running the C host");
    assert!(out.status.success(), "stream_host failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut run = Run::default();
    for line in text.lines() {
        let f: Vec<f64> = line
            .split(' ')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        if line.starts_with("startup ") {
            run.startup = f[0];
        } else if line.starts_with("run ") {
            (run.deltas, run.bytes, run.last, run.end, run.cpu) = (f[0], f[1], f[2], f[3], f[4]);
            (run.first, run.rss_kib) = (f[5], f[6]);
        }
    }
    run
}

/// Ends `child` and returns its peak RSS in KiB (the kernel's account of the waited-for process).
fn reap(child: &mut Child) -> f64 {
    let _ = child.kill();
    let mut status = 0;
    // SAFETY: wait4 writes the status and the zeroed rusage we pass, for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    ru.ru_maxrss as f64
}

/// Reads `out` line by line into `line`, returning the bytes read (0 at EOF).
fn next_line(out: &mut impl BufRead, line: &mut Vec<u8>) -> usize {
    line.clear();
    out.read_until(b'\n', line).expect("reading the peer")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Codex's home: a config.toml with a provider for the mock server (its URL given per run with `-c`) and everything
/// that would go elsewhere off (plugins and apps, which sync catalogs from chatgpt.com and api.github.com at start;
/// analytics; feedback; the update check). Verified with `strace -f -e trace=connect,sendto`: no DNS lookup, one
/// connection, to the mock.
fn codex_home(dir: &Path) -> PathBuf {
    let home = dir.join("codex");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        concat!(
            "model = \"bench\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n",
            "[analytics]\nenabled = false\n[feedback]\nenabled = false\n",
            "[features]\nplugins = false\napps = false\n",
            "[model_providers.mock]\nname = \"mock\"\nbase_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"responses\"\n",
            "env_key = \"OPENAI_API_KEY\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
        ),
    )
    .unwrap();
    home
}

/// One `codex app-server`: initialize, an ephemeral thread (start-up ends at its `thread/started`), one turn.
fn codex_run(codex: &Path, home: &Path, url: &str) -> Run {
    let t_spawn = Instant::now();
    let mut child = Command::new(codex)
        .args([
            "app-server",
            "-c",
            &format!("model_providers.mock.base_url=\"{url}\""),
        ])
        .current_dir(home)
        .env("HOME", home)
        .env("CODEX_HOME", home)
        .env("OPENAI_API_KEY", "bench")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting codex");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut line = Vec::new();
    let mut send = |s: &str| {
        stdin.write_all(s.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    };
    send(
        r#"{"method":"initialize","id":0,"params":{"clientInfo":{"name":"bench","version":"0"}}}"#,
    );
    send(r#"{"method":"initialized"}"#);
    send(r#"{"method":"thread/start","id":1,"params":{"ephemeral":true}}"#);
    let mut run = Run::default();
    let mut thread = String::new();
    while thread.is_empty() || run.startup == 0.0 {
        assert!(next_line(&mut out, &mut line) > 0, "codex exited");
        if contains(&line, br#""id":1,"result""#) {
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
            thread = v["result"]["thread"]["id"].as_str().unwrap().to_string();
        } else if contains(&line, br#""method":"thread/started""#) {
            run.startup = ms(t_spawn.elapsed());
        }
    }
    let pid = child.id();
    let cpu0 = cpu_of(pid);
    let t0 = Instant::now();
    send(&format!(
        r#"{{"method":"turn/start","id":2,"params":{{"threadId":"{thread}","input":[{{"type":"text","text":"stream please"}}]}}}}"#
    ));
    loop {
        let got = next_line(&mut out, &mut line);
        assert!(got > 0, "codex exited before turn/completed");
        run.bytes += got as f64;
        if contains(&line, br#""method":"item/agentMessage/delta""#) {
            run.deltas += 1.0;
            run.last = ms(t0.elapsed());
            if run.deltas == 1.0 {
                run.first = run.last;
            }
        } else if contains(&line, br#""method":"turn/completed""#) {
            run.end = ms(t0.elapsed());
            break;
        }
    }
    run.cpu = ms(cpu_of(pid) - cpu0);
    run.rss_kib = reap(&mut child);
    run
}

/// One `claude -p`: the prompt is on the command line, so start-up ends at the first event (`system`/`init`) and the
/// turn is timed from there. Offline: `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` (no update check, telemetry, error
/// reporting or feature flags) plus the individual switches; a private `HOME`/`CLAUDE_CONFIG_DIR`. Verified with
/// strace as for Codex.
fn claude_run(claude: &Path, home: &Path, url: &str) -> Run {
    let t_spawn = Instant::now();
    let mut child = Command::new(claude)
        .args(["-p", "stream please", "--output-format", "stream-json"])
        .args([
            "--include-partial-messages",
            "--verbose",
            "--model",
            "bench",
        ])
        .arg("--no-session-persistence")
        .current_dir(home)
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("ANTHROPIC_BASE_URL", url)
        .env("ANTHROPIC_API_KEY", "bench")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting claude");
    let mut out = BufReader::with_capacity(1 << 20, child.stdout.take().unwrap());
    let mut line = Vec::new();
    assert!(next_line(&mut out, &mut line) > 0, "claude exited");
    let mut run = Run {
        startup: ms(t_spawn.elapsed()),
        ..Run::default()
    };
    let pid = child.id();
    let cpu0 = cpu_of(pid);
    let t0 = Instant::now();
    loop {
        let got = next_line(&mut out, &mut line);
        assert!(got > 0, "claude exited before its result");
        run.bytes += got as f64;
        if line.starts_with(br#"{"type":"stream_event","event":{"type":"content_block_delta""#)
            && contains(&line, br#""type":"text_delta""#)
        {
            run.deltas += 1.0;
            run.last = ms(t0.elapsed());
            if run.deltas == 1.0 {
                run.first = run.last;
            }
        } else if !line.starts_with(br#"{"type":"stream_event""#)
            && contains(&line, br#""type":"result""#)
        {
            // The result line's keys come in no fixed order.
            run.end = ms(t0.elapsed());
            break;
        }
    }
    run.cpu = ms(cpu_of(pid) - cpu0);
    run.rss_kib = reap(&mut child);
    run
}

/// The pinned version of an npm package installed under `peers`.
fn version(peers: &Path, package: &str) -> String {
    let manifest = peers
        .join("node_modules")
        .join(package)
        .join("package.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).unwrap_or_default())
            .unwrap_or_default();
    v["version"].as_str().unwrap_or("?").to_string()
}

fn print_run(n: usize, side: &str, k: usize, r: &Run) {
    println!(
        "| {n} | {side} ({k} runs) | {:.0} | {:.1} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} ms | {:.0} | {:.1} MiB |",
        r.deltas,
        r.startup,
        r.first,
        r.last,
        r.end,
        r.cpu,
        r.bytes / r.deltas.max(1.0),
        r.rss_kib / 1024.0
    );
}

fn main() {
    let (Ok(host), Ok(peers)) = (
        std::env::var("TANDEM_BENCH_HOST"),
        std::env::var("TANDEM_BENCH_PEERS"),
    ) else {
        println!("(peers not run: TANDEM_BENCH_HOST and TANDEM_BENCH_PEERS are needed; see scripts/bench.sh)");
        return;
    };
    let peers = PathBuf::from(peers);
    // The native binaries, as the npm launchers would exec them (Codex's launcher is a node script).
    let codex = peers
        .join("node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex");
    let claude = peers.join("node_modules/@anthropic-ai/claude-code/bin/claude.exe");
    let runs: usize = std::env::var("TANDEM_BENCH_PEER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let sizes = [1_000usize, 10_000];
    let server = MockServer::start(&[]);
    let dir = std::env::temp_dir().join(format!("tandem-bench-peers-{}", std::process::id()));
    let home = codex_home(&dir);
    let claude_home = dir.join("claude");
    std::fs::create_dir_all(&claude_home).unwrap();
    println!(
        "Peers: Codex {} (`@openai/codex`), Claude Code {} (`@anthropic-ai/claude-code`), pinned in tools/peers.",
        version(&peers, "@openai/codex"),
        version(&peers, "@anthropic-ai/claude-code")
    );
    println!();
    println!("| N | side | deltas | start-up | to first delta | to last delta | to turn end | CPU | host bytes / delta | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for &n in &sizes {
        let (r_url, a_url) = (server.wire_url('r', n), server.wire_url('a', n));
        let mut sides: [Vec<Run>; 4] = Default::default();
        for round in 0..=runs {
            let got = [
                tandem_run(&host, &r_url, n, "openai-responses:bench"),
                codex_run(&codex, &home, &r_url),
                tandem_run(&host, &a_url, n, "anthropic:bench"),
                claude_run(&claude, &claude_home, &a_url),
            ];
            for (side, r) in sides.iter_mut().zip(got) {
                assert_eq!(
                    r.deltas as usize, n,
                    "a side saw {} of {n} deltas",
                    r.deltas
                );
                if round > 0 {
                    side.push(r);
                }
            }
        }
        let m: Vec<Run> = sides.iter().map(|s| medians(s)).collect();
        let names = [
            "tandem, openai-responses",
            "Codex, app-server",
            "tandem, anthropic",
            "Claude Code, -p stream-json",
        ];
        for (name, r) in names.iter().zip(&m) {
            print_run(n, name, runs, r);
        }
        summary.push((n, m));
    }
    println!();
    println!("Ratios peer / tandem on the same wire (medians; > 1: tandem is ahead):");
    println!();
    println!("| N | peer | start-up | to first delta | to last delta | to turn end | CPU | bytes / delta | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (n, m) in &summary {
        for (peer, (p, t)) in [("Codex", (&m[1], &m[0])), ("Claude Code", (&m[3], &m[2]))] {
            let r = |a: f64, b: f64| a / b.max(1e-3);
            println!(
                "| {n} | {peer} | {:.0}x | {:.1}x | {:.1}x | {:.1}x | {:.1}x | {:.1}x | {:.1}x |",
                r(p.startup, t.startup),
                r(p.first, t.first),
                r(p.last, t.last),
                r(p.end, t.end),
                r(p.cpu, t.cpu),
                r(p.bytes / p.deltas, t.bytes / t.deltas),
                r(p.rss_kib, t.rss_kib)
            );
        }
    }
    println!();
    support::header();
    for (n, m) in &summary {
        for (peer, (p, t)) in [("Codex", (&m[1], &m[0])), ("Claude Code", (&m[3], &m[2]))] {
            let ratio = p.end / t.end;
            row(
                &format!("7. peers N={n}: {peer} / tandem, prompt to turn end"),
                &format!(
                    "{ratio:.1}x (CPU {:.1}x, peak RSS {:.1}x, start-up {:.0}x)",
                    p.cpu / t.cpu.max(1e-3),
                    p.rss_kib / t.rss_kib,
                    p.startup / t.startup
                ),
                "tandem ahead (> 1x)",
                Some(ratio > 1.0),
            );
        }
    }
    if let [(n1, a), (n2, b)] = summary.as_slice() {
        // What one more delta costs each side, from the two sizes' turn ends.
        let per = |i: usize| (b[i].end - a[i].end) / (n2 - n1) as f64 * 1000.0;
        row(
            &format!("7. cost per extra delta, turn end N={n1} to N={n2}"),
            &format!(
                "tandem {:.1} / {:.1} µs (Responses / Anthropic), Codex {:.1} µs, Claude Code {:.1} µs",
                per(0),
                per(2),
                per(1),
                per(3)
            ),
            "below every peer",
            Some(per(0) < per(1) && per(2) < per(3)),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
