//! A local OpenAI-compatible streaming server for the benchmarks (std only, one thread per connection).
//!
//! `POST /n/<N>/v1/chat/completions` answers with a pre-generated stream of N content deltas (rendered once per N,
//! written with one `write_all`, so the socket and not the server sets the pace).
//! `POST /paced/<N>/<interval_us>/<phase_us>/v1/chat/completions` streams N deltas, one every `interval_us` after
//! a first wait of `phase_us`, each carrying the microseconds since [`epoch`] at which it was written, for latency
//! measurements in the same process.
//! `POST /r/<N>/v1/responses` and `POST /a/<N>/v1/messages` answer with the same N deltas in the OpenAI Responses
//! API and the Anthropic Messages API formats ([`super::wire`]), for the peers benchmark.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The time base of paced deltas.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A running mock server; it lives as long as the process.
pub struct MockServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    bodies: Arc<Mutex<Bodies>>,
    /// The body length of the last request served (what the model was sent).
    last_request: Arc<AtomicUsize>,
}

/// Pre-rendered bodies by wire (`n`: Chat Completions, `r`: Responses, `a`: Anthropic) and N.
type Bodies = HashMap<(char, usize), Arc<Vec<u8>>>;

fn render(wire: char, n: usize) -> Arc<Vec<u8>> {
    Arc::new(match wire {
        'r' => super::wire::responses(n),
        'a' => super::wire::anthropic(n),
        _ => body(n),
    })
}

const WORDS: [&str; 8] = [
    " alpha", " bravo", " delta", " gamma", " omega", " sigma", " kappa", " theta",
];

fn chunk(content: &str) -> String {
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n"
    )
}

fn head() -> &'static str {
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
}

fn tail(n: usize, usage: bool) -> String {
    let mut s = String::from(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    );
    if usage {
        s.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\",\"choices\":[],\"usage\":{{\"prompt_tokens\":10,\"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n",
            n + 10
        ));
    }
    s.push_str("data: [DONE]\n\n");
    s
}

/// The whole SSE body of an N-delta answer (usage chunk included).
pub fn body(n: usize) -> Vec<u8> {
    let mut s = String::from(head());
    for i in 0..n {
        s.push_str(&chunk(WORDS[i % WORDS.len()]));
    }
    s.push_str(&tail(n, true));
    s.into_bytes()
}

impl MockServer {
    /// Binds an ephemeral port and serves until the process exits; `sizes` are pre-generated now.
    pub fn start(sizes: &[usize]) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the mock server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies: Bodies = sizes.iter().map(|&n| (('n', n), render('n', n))).collect();
        let bodies = Arc::new(Mutex::new(bodies));
        let b = bodies.clone();
        let last_request = Arc::new(AtomicUsize::new(0));
        let last = last_request.clone();
        epoch();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (b, last) = (b.clone(), last.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &b, &last);
                });
            }
        });
        MockServer {
            url,
            bodies,
            last_request,
        }
    }

    /// The body length of the last request served.
    pub fn last_request_bytes(&self) -> usize {
        self.last_request.load(Ordering::SeqCst)
    }

    /// The base URL that streams N deltas.
    pub fn base_url(&self, n: usize) -> String {
        self.wire_url('n', n)
    }

    /// The base URL that streams N deltas in wire format `wire` (`n`, `r` or `a`, see [`Bodies`]): with `/v1` for
    /// the OpenAI APIs, without it for Anthropic's (whose clients add it).
    pub fn wire_url(&self, wire: char, n: usize) -> String {
        self.bodies
            .lock()
            .unwrap()
            .entry((wire, n))
            .or_insert_with(|| render(wire, n));
        let v1 = if wire == 'a' { "" } else { "/v1" };
        format!("{}/{wire}/{n}{v1}", self.url)
    }

    /// The base URL that streams N timestamped deltas, one every `interval`, the first after `phase`.
    pub fn paced_url(&self, n: usize, interval: Duration, phase: Duration) -> String {
        format!(
            "{}/paced/{n}/{}/{}/v1",
            self.url,
            interval.as_micros(),
            phase.as_micros()
        )
    }
}

fn serve(
    conn: TcpStream,
    bodies: &Mutex<Bodies>,
    last_request: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        // Request line and headers.
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut req = vec![0; length];
        reader.read_exact(&mut req)?;
        last_request.store(length, Ordering::SeqCst);
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["", wire @ ("n" | "r" | "a"), n, ..] => {
                let n: usize = n.parse().unwrap_or(0);
                let wire = wire.chars().next().unwrap_or('n');
                let body = bodies
                    .lock()
                    .unwrap()
                    .entry((wire, n))
                    .or_insert_with(|| render(wire, n))
                    .clone();
                let mut out = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(&body);
                conn.write_all(&out)?;
            }
            ["", "paced", n, us, phase, ..] => {
                let n: usize = n.parse().unwrap_or(0);
                let interval = Duration::from_micros(us.parse().unwrap_or(1000));
                let phase = Duration::from_micros(phase.parse().unwrap_or(0));
                // Close-delimited body: the length is not known up front.
                conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
                )?;
                conn.write_all(head().as_bytes())?;
                let start = Instant::now() + phase;
                for i in 0..n {
                    let due = start + interval * i as u32;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let stamp = epoch().elapsed().as_micros();
                    conn.write_all(chunk(&format!("@{stamp} ")).as_bytes())?;
                }
                conn.write_all(tail(n, true).as_bytes())?;
                return Ok(());
            }
            _ => {
                conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            }
        }
    }
}
