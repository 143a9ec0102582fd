//! Catch-up from a cursor under connection kills, and the gateway over TLS (a throwaway rcgen certificate).
#![cfg(feature = "remote")]

#[path = "common/ws.rs"]
mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tandem::vocab::settings::Status;
use ws::{client, rt, seqs_of, Peer};

/// A turn of bursts of small deltas with short pauses between them, so kills land mid-stream and events keep
/// arriving while a reconnect catches up.
fn long_turns(turns: usize, steps: usize) -> String {
    let turn: Vec<Value> = (0..steps)
        .flat_map(|i| {
            let burst = (0..8).map(move |j| json!({"text": format!("t{i}.{j} ")}));
            burst.chain([json!({"delay_ms": 1})])
        })
        .collect();
    json!({"script": vec![turn; turns]}).to_string()
}

/// xorshift64: the kill points, the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn wait_idle(c: &tandem::Client, id: &str) {
    let deadline = Instant::now() + ws::WAIT;
    while c.status(id).unwrap() != Status::Idle {
        assert!(Instant::now() < deadline, "the session never went idle");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn fifty_random_kills_then_reconnects_with_the_cursor_lose_and_repeat_nothing() {
    let c = client(None);
    let id = c.start_session(Some(&long_turns(40, 60))).unwrap();
    let token = c.token(&id).unwrap();
    let url = c.listen(None).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut got: Vec<u64> = Vec::new();
    let mut stream = Value::Null;
    let mut final_latest = 0;
    rt().block_on(async {
        for kill in 0..=50 {
            let mut p = Peer::connect(&url).await;
            let cursor = got.last().copied().unwrap_or(0);
            let at = p
                .ok(
                    "session.attach",
                    json!({"session_id": id, "token": token, "cursor": cursor, "stream": stream}),
                )
                .await;
            assert_eq!(at["resync"], false, "reconnect {kill}: {at}");
            stream = at["stream"].clone();
            let catch_up = at["events"].as_u64().unwrap();
            if kill == 50 {
                // The last connection reads everything there is once the session is quiet.
                final_latest = at["latest_seq"].as_u64().unwrap();
                for _ in 0..catch_up {
                    got.extend(seqs_of(&p.event().await.unwrap()));
                }
                break;
            }
            // Another connection may still hold the driver role for a moment: take it.
            p.ok("session.take_over", json!({})).await;
            if p.ok("get_status", json!({})).await == "idle" {
                p.ok(
                    "send_prompt",
                    json!({"text": format!("turn for connection {kill}")}),
                )
                .await;
            }
            let read = 1 + rng.below(200);
            for _ in 0..catch_up + read {
                let e = p.event().await.expect("events until the kill");
                got.extend(seqs_of(&e));
                if e["kind"] == "turn_ended"
                    && got.last() > Some(&at["latest_seq"].as_u64().unwrap())
                {
                    break;
                }
            }
            // Killed: the socket goes away without a close handshake.
            drop(p);
            if kill == 49 {
                wait_idle(&c, &id);
            }
        }
    });
    let server = c.events_since(&id, 0).unwrap();
    assert!(!server.truncated);
    // Up to what the last attach reported (an idle session may still publish a late notice after it).
    let expected: Vec<u64> = server
        .events
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .filter(|s| *s <= final_latest)
        .collect();
    assert!(
        expected.len() > 500,
        "the kills landed in a long stream ({} events)",
        expected.len()
    );
    if got != expected {
        let at = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        let window = |v: &[u64]| v[at.saturating_sub(3)..(at + 5).min(v.len())].to_vec();
        panic!(
            "the concatenated seqs differ from the server's at index {at}: got {:?}, server {:?} ({} vs {} seqs)",
            window(&got),
            window(&expected),
            got.len(),
            expected.len()
        );
    }
    c.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn the_gateway_speaks_tls_with_the_given_certificate() {
    let dir = std::env::temp_dir().join(format!("tandem-remote-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let c = client(None);
    let id = c
        .start_session(Some(r#"{"script": [[{"text": "over tls"}]]}"#))
        .unwrap();
    let token = c.token(&id).unwrap();
    let opts = json!({"tls": {"cert_file": dir.join("cert.pem"), "key_file": dir.join("key.pem")}});
    let url = c.listen(Some(&opts.to_string())).unwrap();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    rt().block_on(async {
        // Plain ws to the TLS port gets no WebSocket.
        assert!(
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}"))
                .await
                .is_err()
        );
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{port}"), tls)
            .await
            .unwrap();
        use futures_util::{SinkExt, StreamExt};
        let attach = json!({"jsonrpc": "2.0", "id": 1, "method": "session.attach",
                            "params": {"session_id": id, "token": token}});
        ws.send(attach.to_string().into()).await.unwrap();
        let prompt =
            json!({"jsonrpc": "2.0", "id": 2, "method": "send_prompt", "params": {"text": "hi"}});
        ws.send(prompt.to_string().into()).await.unwrap();
        let mut text = String::new();
        while let Some(Ok(m)) = tokio::time::timeout(ws::WAIT, ws.next()).await.unwrap() {
            let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
            if v["id"] == 1 {
                assert_eq!(v["result"]["role"], "driver", "{v}");
            }
            if v["params"]["kind"] == "text_delta" {
                text.push_str(v["params"]["delta"].as_str().unwrap());
            }
            if v["params"]["kind"] == "turn_ended" {
                break;
            }
        }
        assert_eq!(text, "over tls");
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_viewer_that_does_not_read_gets_events_dropped_and_catches_up_while_the_driver_streams_on() {
    // 16 MB of deltas, paced so a reading driver keeps up: more than the socket buffers hold, so the silent viewer's
    // outbox fills.
    let chunk = "x".repeat(16 * 1024);
    let turn: Vec<Value> = (0..1000)
        .flat_map(|_| [json!({"text": chunk}), json!({"delay_ms": 1})])
        .collect();
    let c = client(None);
    let id = c
        .start_session(Some(&json!({"script": [turn]}).to_string()))
        .unwrap();
    let token = c.token(&id).unwrap();
    let url = c.listen(Some(r#"{"max_queued_bytes": 2097152}"#)).unwrap();
    rt().block_on(async {
        let att = json!({"session_id": id, "token": token, "cursor": 0});
        let mut driver = Peer::connect(&url).await;
        let mut viewer = Peer::connect_small_buffer(&url).await;
        driver.ok("session.attach", att.clone()).await;
        viewer.ok("session.attach", att).await;
        driver.ok("send_prompt", json!({"text": "stream"})).await;
        // The driver follows the turn to its end while the viewer reads nothing (so it never held the session up).
        let (seqs, _) = follow(&mut driver).await;
        assert_eq!(seqs, (1..=*seqs.last().unwrap()).collect::<Vec<_>>());
        // The viewer finds the marker after what it was sent, resumes from its cursor, and has every seq once.
        let (got, drops) = follow(&mut viewer).await;
        assert!(drops >= 1, "16 MB never fit the viewer's buffers");
        assert_eq!(got[..seqs.len()], seqs[..]);
    });
}

/// Reads a peer's events until `turn_ended`, resuming with `session.catch_up` after each `events_dropped` (whose
/// cursor must be the last seq it was sent); the seqs it got and how many drops it saw.
async fn follow(p: &mut Peer) -> (Vec<u64>, usize) {
    let mut seqs: Vec<u64> = Vec::new();
    let mut drops = 0;
    let mut pending = 0;
    let mut ended = false;
    loop {
        let n = p.note().await.expect("the stream goes on");
        match n["method"].as_str() {
            Some("event") => {
                pending = pending.max(1) - 1;
                seqs.extend(seqs_of(&n["params"]));
                ended |= n["params"]["kind"] == "turn_ended";
                if ended && pending == 0 {
                    return (seqs, drops);
                }
            }
            Some("events_dropped") => {
                drops += 1;
                let resume_from = n["params"]["resume_from"].as_u64().unwrap();
                assert_eq!(seqs.last().copied().unwrap_or(0), resume_from);
                let up = p
                    .ok("session.catch_up", json!({"cursor": resume_from}))
                    .await;
                assert_eq!(up["resync"], false, "{up}");
                pending = up["events"].as_u64().unwrap();
            }
            _ => {}
        }
    }
}
