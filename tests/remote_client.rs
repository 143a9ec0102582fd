//! A remote client (config key `remote`) against an in-process gateway: the same events (kinds and seqs) as the
//! serving client, a second remote client as a viewer getting `not_driver`, reconnection after the gateway drops
//! every connection mid-turn without a lost or repeated seq, calls with no remote form, and bad configs.
#![cfg(feature = "remote")]

#[path = "common/ws.rs"]
mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tandem::session::state::PromptOutcome;
use tandem::session::transcript::{ContentPart, Level};
use tandem::vocab::settings::Status;
use tandem::{Client, Error};

const TOKEN: &str = "remote-client-gateway-token-0123";

fn tempdir(what: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-remote-client-{what}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A serving client listening on loopback with the gateway token in a file: (client, URL, token file).
fn gateway(what: &str) -> (Arc<Client>, String, std::path::PathBuf) {
    let dir = tempdir(what);
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let c = ws::client(None);
    let url = c
        .listen(Some(&json!({"gateway_token_file": file}).to_string()))
        .unwrap();
    (c, url, file)
}

fn remote(url: &str, file: &std::path::Path) -> Client {
    let config = json!({"remote": {"url": url, "gateway_token_file": file}});
    Client::new(Some(&config.to_string())).expect("remote client connects")
}

/// Pulls session `id`'s events from `c` until `turn_ended`: their (seq, kind JSON).
fn until_turn_end(c: &Client, id: &str) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    loop {
        let e = c
            .next_session_event(id, ws::WAIT)
            .expect("an event in time");
        let v = e.to_value();
        let kind = v["kind"].as_str().unwrap().to_string();
        seen.push((e.seq, kind.clone()));
        if kind == "turn_ended" {
            return seen;
        }
    }
}

fn seqs_and_kinds(events: &[Value]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_remote_client_drives_a_session_and_sees_the_gateways_events() {
    let (g, url, file) = gateway("same");
    let rc = remote(&url, &file);
    assert!(rc.is_remote());
    let script = r#"{"script": [[{"text": "Hello"}, {"text": " world"}]]}"#;
    let id = rc.start_session(Some(script)).unwrap();
    // The session runs on the gateway's client.
    assert!(g
        .list_sessions()
        .unwrap()
        .iter()
        .any(|s| s["id"] == id.as_str()));
    assert_eq!(rc.list_sessions().unwrap().len(), 1);
    let sent = rc
        .send_prompt(&id, vec![ContentPart::Text { text: "hi".into() }])
        .unwrap();
    assert_eq!(sent, PromptOutcome::Sent);
    let seen = until_turn_end(&rc, &id);
    assert_eq!(seen[0], (1, "session_started".to_string()));
    assert!(seen.iter().any(|(_, k)| k == "text_delta"));
    // Exactly the serving client's events, kinds and seqs, up to the turn's end.
    let local = g.events_since(&id, 0).unwrap();
    let local = seqs_and_kinds(&local.events);
    assert_eq!(seen, local[..seen.len()].to_vec());
    // events_since answers from the remote client's own history, with the gateway's seqs.
    let since = rc.events_since(&id, 1).unwrap();
    assert_eq!(seqs_and_kinds(&since.events), seen[1..].to_vec());
    // Session calls go over the wire and answer as locally.
    assert_eq!(rc.status(&id).unwrap(), g.status(&id).unwrap());
    assert_eq!(rc.messages(&id).unwrap(), g.messages(&id).unwrap());
    assert_eq!(rc.token(&id).unwrap(), g.token(&id).unwrap());
    assert!(matches!(rc.status("nope"), Err(Error::NotFound(_))));
    // A call the protocol has no method for names itself.
    match rc.list_conversations() {
        Err(Error::NotSupported(m)) => assert!(m.contains("tandem_conversation_list"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Stop: once it returns, the session_stopped event is here and the session is gone on both sides.
    rc.stop_session(&id).unwrap();
    let mut last = None;
    while let Ok(e) = rc.next_session_event(&id, Duration::ZERO) {
        last = Some(e.to_value()["kind"].clone());
    }
    assert_eq!(last, Some(json!("session_stopped")));
    assert!(matches!(rc.stop_session(&id), Err(Error::NotFound(_))));
    assert!(matches!(rc.status(&id), Err(Error::NotFound(_))));
    assert!(g.list_sessions().unwrap().is_empty());
    assert_eq!(rc.list_sessions().unwrap(), Vec::<Value>::new());
    // start_or_get starts it again under the same ID.
    assert_eq!(rc.start_or_get_session(&id, None).unwrap(), id);
    assert_eq!(rc.start_or_get_session(&id, None).unwrap(), id);
    rc.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_second_remote_client_is_a_viewer() {
    let (_g, url, file) = gateway("viewer");
    let driver = remote(&url, &file);
    let viewer = remote(&url, &file);
    let script = r#"{"script": [[{"text": "one"}], [{"text": "two"}]]}"#;
    let id = driver.start_session(Some(script)).unwrap();
    assert_eq!(viewer.start_or_get_session(&id, None).unwrap(), id);
    let prompt = || vec![ContentPart::Text { text: "go".into() }];
    match viewer.send_prompt(&id, prompt()) {
        Err(Error::Busy(m)) => assert!(m.starts_with("not_driver:"), "{m}"),
        other => panic!("a viewer's prompt: {other:?}"),
    }
    // The viewer reads, and sees the driver's turn with the same seqs.
    assert!(viewer.snapshot(&id).is_ok());
    driver.send_prompt(&id, prompt()).unwrap();
    let d = until_turn_end(&driver, &id);
    let v = until_turn_end(&viewer, &id);
    assert_eq!(d, v);
}

#[test]
fn a_remote_client_reconnects_without_losing_or_repeating_events() {
    let (g, url, file) = gateway("reconnect");
    let rc = remote(&url, &file);
    let mut steps = Vec::new();
    for i in 0..40 {
        steps.push(json!({"text": format!("t{i} ")}));
        steps.push(json!({"delay_ms": 15}));
    }
    let id = rc
        .start_session(Some(&json!({"script": [steps]}).to_string()))
        .unwrap();
    rc.send_prompt(&id, vec![ContentPart::Text { text: "go".into() }])
        .unwrap();
    let mut seen = Vec::new();
    // Mid-stream (a few deltas in), the gateway drops every connection and listens again on the same address.
    while seen.iter().filter(|(_, k)| k == "text_delta").count() < 5 {
        let e = rc.next_session_event(&id, ws::WAIT).unwrap();
        seen.push((e.seq, e.to_value()["kind"].as_str().unwrap().to_string()));
    }
    g.stop_listening().unwrap();
    let address = url.trim_start_matches("ws://").to_string();
    let options = json!({"address": address, "gateway_token_file": file}).to_string();
    // The old listener closes as its task ends; until then its port is taken.
    let deadline = Instant::now() + ws::WAIT;
    loop {
        match g.listen(Some(&options)) {
            Ok(u) => break assert_eq!(u, url),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("listening again: {e}"),
        }
    }
    loop {
        let e = rc.next_session_event(&id, ws::WAIT).unwrap();
        let kind = e.to_value()["kind"].as_str().unwrap().to_string();
        seen.push((e.seq, kind.clone()));
        if kind == "turn_ended" {
            break;
        }
    }
    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want, "every seq once, in order");
    // 35 of the 40 deltas came after the drop, over the new connection.
    let deltas = seen.iter().filter(|(_, k)| k == "text_delta").count();
    assert_eq!(deltas, 40);
    let local = seqs_and_kinds(&g.events_since(&id, 0).unwrap().events);
    assert_eq!(seen, local[..seen.len()].to_vec());
    // The reconnected client still drives.
    assert_eq!(rc.status(&id).unwrap(), Status::Idle);
    rc.add_system_message(&id, "still driving", Level::Info)
        .unwrap();
}

#[test]
fn bad_remote_configs_are_refused_with_clear_messages() {
    let (_g, url, file) = gateway("bad");
    let new = |remote: Value| Client::new(Some(&json!({ "remote": remote }).to_string()));
    let err = |remote: Value| match new(remote) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    match err(json!({"gateway_token_file": file})) {
        Error::InvalidArgument(m) => assert!(m.contains("remote.url"), "{m}"),
        e => panic!("{e:?}"),
    }
    for key in ["token", "gateway_token"] {
        match err(json!({"url": url, key: TOKEN})) {
            Error::InvalidArgument(m) => {
                assert!(m.contains("never in the config JSON"), "{m}");
                assert!(m.contains("gateway_token_file") && m.contains("gateway_token_env"));
                assert!(!m.contains(TOKEN));
            }
            e => panic!("{e:?}"),
        }
    }
    match err(json!({"url": url})) {
        Error::InvalidArgument(m) => assert!(m.contains("gateway_token_file"), "{m}"),
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        err(json!({"url": url, "gateway_token_file": "/nonexistent/token"})),
        Error::Io(_)
    ));
    assert!(matches!(
        err(json!({"url": url, "gateway_token_env": "TANDEM_REMOTE_CLIENT_TEST_UNSET"})),
        Error::InvalidArgument(_)
    ));
    let wrong = tempdir("bad-wrong").join("token");
    std::fs::write(&wrong, "a-wrong-gateway-token-456789").unwrap();
    match err(json!({"url": url, "gateway_token_file": wrong})) {
        Error::InvalidArgument(m) => assert!(m.starts_with("unauthorized"), "{m}"),
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        err(json!({"url": "http://127.0.0.1:1", "gateway_token_file": file})),
        Error::InvalidArgument(_)
    ));
    // Nothing listens there: a connection failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    match err(json!({"url": format!("ws://127.0.0.1:{port}"), "gateway_token_file": file})) {
        Error::Io(m) => assert!(m.contains("cannot connect"), "{m}"),
        e => panic!("{e:?}"),
    }
    // Settings that belong to the gateway are refused rather than ignored.
    let with_defaults =
        json!({"remote": {"url": url, "gateway_token_file": file}, "session_defaults": {}});
    assert!(matches!(
        Client::new(Some(&with_defaults.to_string())),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_remote_client_speaks_tls_with_a_private_ca() {
    let dir = tempdir("tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, TOKEN).unwrap();
    let g = ws::client(None);
    let opts = json!({"tls": {"cert_file": dir.join("cert.pem"), "key_file": dir.join("key.pem")},
                      "gateway_token_file": file});
    let url = g.listen(Some(&opts.to_string())).unwrap();
    let port = url.rsplit(':').next().unwrap();
    let url = format!("wss://localhost:{port}");
    // The webpki roots alone do not know a private CA.
    let plain = json!({"remote": {"url": url, "gateway_token_file": file}});
    match Client::new(Some(&plain.to_string())) {
        Err(Error::Io(m)) => assert!(m.contains("TLS"), "{m}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let config = json!({"remote": {"url": url, "gateway_token_file": file, "ca_file": dir.join("cert.pem")}});
    let rc = Client::new(Some(&config.to_string())).expect("wss with the CA file");
    let id = rc
        .start_session(Some(r#"{"script": [[{"text": "over tls"}]]}"#))
        .unwrap();
    rc.send_prompt(&id, vec![ContentPart::Text { text: "hi".into() }])
        .unwrap();
    let seen = until_turn_end(&rc, &id);
    assert!(seen.iter().any(|(_, k)| k == "text_delta"));
    assert_eq!(
        seen,
        seqs_and_kinds(&g.events_since(&id, 0).unwrap().events)[..seen.len()].to_vec()
    );
}
