//! Benchmark 9: the remote gateway (issue 18). Attach with a catch-up of 10,000 events; one streaming session fanned
//! out to 100 viewers (delta latency to the median and the slowest viewer, the gateway's CPU per delta); the memory
//! of 1,000 idle attached viewers, measured on a gateway in a child process.
//!
//! Run with `cargo bench --bench remote` (or `scripts/bench.sh`). Viewers are tokio-tungstenite clients.

mod support;

#[path = "../tests/common/ws.rs"]
mod ws;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{median, ms, quantile, row, status_field};
use tandem::events::dispatch::{EventSink, Prepared};
use tandem::vocab::settings::Status;
use ws::Peer;

/// Set in the child process that serves the idle-viewer benchmark.
const SERVE_ENV: &str = "TANDEM_BENCH_REMOTE_SERVE";

fn wait_idle(c: &tandem::Client, id: &str) {
    while c.status(id).unwrap() != Status::Idle {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn peers_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-peer")
        .enable_all()
        .build()
        .unwrap()
}

/// CPU time of this process's threads named `names` (the client's runtime and dispatcher: the gateway's work).
fn threads_cpu(names: &[&str]) -> Duration {
    let mut total = Duration::ZERO;
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !names.contains(&comm.trim()) {
            continue;
        }
        total += support::stat_cpu(&t.path().join("stat"));
    }
    total
}

/// Attach with `cursor: 0` to a session whose history holds 10,000+ events, until the last catch-up event is read.
fn catch_up() -> (f64, u64) {
    let c = ws::client(None);
    let turn: Vec<Value> = (0..10_000).map(|_| json!({"text": "tok "})).collect();
    let id = c
        .start_session(Some(&json!({"script": [turn]}).to_string()))
        .unwrap();
    let token = c.token(&id).unwrap();
    c.send_prompt(
        &id,
        vec![tandem::session::transcript::ContentPart::Text { text: "go".into() }],
    )
    .unwrap();
    wait_idle(&c, &id);
    let url = c.listen(None).unwrap();
    let rt = ws::rt();
    let (mut times, mut events) = (Vec::new(), 0);
    for _ in 0..5 {
        rt.block_on(async {
            let t = Instant::now();
            let mut p = Peer::connect(&url).await;
            let at = p
                .ok(
                    "session.attach",
                    json!({"session_id": id, "token": token, "cursor": 0}),
                )
                .await;
            events = at["events"].as_u64().unwrap();
            for _ in 0..events {
                p.event().await.unwrap();
            }
            times.push(ms(t.elapsed()));
        });
    }
    (median(&mut times), events)
}

/// `n` viewers attached to session `id` of the gateway at `url`, connected one after the other.
fn attach_viewers(
    rt: &tokio::runtime::Runtime,
    url: &str,
    id: &str,
    token: &str,
    n: usize,
) -> Vec<Peer> {
    rt.block_on(async {
        let mut peers = Vec::new();
        for _ in 0..n {
            let mut p = Peer::connect(url).await;
            p.ok(
                "session.attach",
                json!({"session_id": id, "token": token, "role": "viewer"}),
            )
            .await;
            peers.push(p);
        }
        peers
    })
}

/// When each seq reached a local subscriber (the dispatcher's delivery: where the gateway's outboxes get it too).
struct Published(Arc<Mutex<HashMap<u64, Instant>>>);

impl EventSink for Published {
    fn deliver(&self, e: &Prepared) {
        self.0.lock().unwrap().insert(e.event.seq, Instant::now());
    }
    fn release(&self) {}
}

struct FanOut {
    median_viewer: (f64, f64),
    slowest_viewer: (f64, f64),
    deltas: usize,
    cpu_per_delta_us: f64,
}

/// 100 viewers of one session streaming 200 deltas, one every 5 ms.
fn fan_out(viewers: usize) -> FanOut {
    let c = ws::client(None);
    let turn: Vec<Value> = (0..200)
        .flat_map(|i| [json!({"text": format!("d{i} ")}), json!({"delay_ms": 5})])
        .collect();
    let id = c
        .start_session(Some(&json!({"script": [turn]}).to_string()))
        .unwrap();
    let token = c.token(&id).unwrap();
    let published = Arc::new(Mutex::new(HashMap::new()));
    c.subscribe(Some(&id), Box::new(Published(published.clone())))
        .unwrap();
    let url = c.listen(None).unwrap();
    let rt = peers_runtime();
    let peers = attach_viewers(&rt, &url, &id, &token, viewers);
    let gateway = ["tandem-worker", "tandem-dispatch"];
    let cpu0 = threads_cpu(&gateway);
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|mut p| {
            rt.spawn(async move {
                let mut got = Vec::new();
                loop {
                    let e = p.event().await.unwrap();
                    if e["kind"] == "text_delta" {
                        got.push((e["seq"].as_u64().unwrap(), Instant::now()));
                    }
                    if e["kind"] == "turn_ended" {
                        return got;
                    }
                }
            })
        })
        .collect();
    c.send_prompt(
        &id,
        vec![tandem::session::transcript::ContentPart::Text { text: "go".into() }],
    )
    .unwrap();
    let received: Vec<Vec<(u64, Instant)>> = rt.block_on(async {
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let cpu = threads_cpu(&gateway) - cpu0;
    // A copy: the dispatcher still delivers to the sink until the client is shut down below.
    let published = published.lock().unwrap().clone();
    let mut per_viewer: Vec<(f64, f64)> = received
        .iter()
        .map(|got| {
            let mut lat: Vec<f64> = got
                .iter()
                .map(|(seq, at)| ms(at.saturating_duration_since(published[seq])))
                .collect();
            (quantile(&mut lat, 0.5), quantile(&mut lat, 0.99))
        })
        .collect();
    let deltas = received[0].len();
    per_viewer.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let median_viewer = per_viewer[per_viewer.len() / 2];
    let slowest_viewer = *per_viewer
        .iter()
        .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap())
        .unwrap();
    c.shutdown(Duration::from_secs(5)).unwrap();
    FanOut {
        median_viewer,
        slowest_viewer,
        deltas,
        cpu_per_delta_us: cpu.as_secs_f64() * 1e6 / deltas as f64,
    }
}

/// The child: a gateway with one session, its URL, session ID and token on one line; exits when stdin closes.
fn serve() {
    let c = ws::client(None);
    let id = c.start_session(None).unwrap();
    let token = c.token(&id).unwrap();
    let url = c.listen(Some(r#"{"max_connections": 4096}"#)).unwrap();
    println!("{url} {id} {token}");
    std::io::stdout().flush().unwrap();
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
}

/// Resident memory of a gateway process per idle attached viewer, and its CPU over 2 s with them attached.
fn idle_viewers(n: usize) -> (f64, f64) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(SERVE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let (url, id, token) = (parts[0].to_string(), parts[1], parts[2]);
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(200));
    let rss0 = status_field(pid, "VmRSS:");
    let rt = peers_runtime();
    let peers = attach_viewers(&rt, &url, id, token, n);
    std::thread::sleep(Duration::from_millis(500));
    let rss1 = status_field(pid, "VmRSS:");
    let cpu0 = support::cpu_of(pid);
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = support::cpu_of(pid) - cpu0;
    drop(peers);
    drop(child.stdin.take());
    child.wait().unwrap();
    ((rss1 as f64 - rss0 as f64) / n as f64, ms(idle_cpu))
}

fn main() {
    if std::env::var_os(SERVE_ENV).is_some() {
        return serve();
    }
    let (catch_up_ms, events) = catch_up();
    let fan = fan_out(100);
    let (kib_per_viewer, idle_cpu_ms) = idle_viewers(1000);

    println!("| attach | value |");
    println!("|---|---|");
    println!("| events in the catch-up | {events} |");
    println!(
        "| connect + attach + read them all (median of 5) | {catch_up_ms:.1} ms ({:.0} events/s) |",
        events as f64 / catch_up_ms * 1000.0
    );
    println!();
    println!(
        "| fan-out to 100 viewers, {} deltas 5 ms apart | p50 | p99 |",
        fan.deltas
    );
    println!("|---|---|---|");
    println!(
        "| median viewer (by p50) | {:.3} ms | {:.3} ms |",
        fan.median_viewer.0, fan.median_viewer.1
    );
    println!(
        "| slowest viewer (by p99) | {:.3} ms | {:.3} ms |",
        fan.slowest_viewer.0, fan.slowest_viewer.1
    );
    println!();
    support::header();
    row(
        "9. remote attach with catch-up of 10,000 events (connect, attach, read all)",
        &format!("{catch_up_ms:.1} ms"),
        "reported",
        None,
    );
    row(
        "9. one session fanned out to 100 viewers: delta latency p50 / p99, median viewer",
        &format!(
            "{:.3} ms / {:.3} ms",
            fan.median_viewer.0, fan.median_viewer.1
        ),
        "reported",
        None,
    );
    row(
        "9. same, slowest viewer",
        &format!(
            "{:.3} ms / {:.3} ms",
            fan.slowest_viewer.0, fan.slowest_viewer.1
        ),
        "reported",
        None,
    );
    row(
        "9. gateway CPU per delta fanned out to 100 viewers (client runtime and dispatcher threads)",
        &format!("{:.1} µs ({:.2} µs per viewer)", fan.cpu_per_delta_us, fan.cpu_per_delta_us / 100.0),
        "reported",
        None,
    );
    row(
        "9. gateway memory per idle attached viewer, 1,000 viewers (VmRSS delta of the gateway process)",
        &format!("{kib_per_viewer:.1} KiB (gateway CPU over 2 s idle: {idle_cpu_ms:.0} ms)"),
        "reported",
        None,
    );
}
