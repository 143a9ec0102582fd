//! The remote gateway in process, driven by tokio-tungstenite's WebSocket client: authentication before any data,
//! driver and viewer roles, first-writer-wins approvals, malformed and oversized requests, the loopback rule, and
//! listen/stop.
#![cfg(feature = "remote")]

#[path = "common/ws.rs"]
mod ws;

use serde_json::{json, Value};
use tandem::Error;
use ws::{client, error_name, rt, Peer};

const STREAMING: &str = r#"{"script": [[{"text": "Hello"}, {"text": " world"}]]}"#;

fn listen(c: &std::sync::Arc<tandem::Client>, options: Value) -> String {
    c.listen(Some(&options.to_string())).expect("listen")
}

/// A client serving one session started with `session_options`: (client, session ID, its token, gateway URL).
fn served(
    session_options: &str,
    listen_options: Value,
) -> (std::sync::Arc<tandem::Client>, String, String, String) {
    let c = client(None);
    let id = c.start_session(Some(session_options)).unwrap();
    let token = c.token(&id).unwrap();
    let url = listen(&c, listen_options);
    (c, id, token, url)
}

#[test]
fn attaching_needs_the_sessions_own_token_and_nothing_is_sent_before() {
    let c = client(None);
    let a = c.start_session(Some(STREAMING)).unwrap();
    let b = c.start_session(Some(STREAMING)).unwrap();
    let token_b = c.token(&b).unwrap();
    let url = listen(&c, json!({}));
    rt().block_on(async {
        for (label, params) in [
            ("wrong", json!({"session_id": a, "token": "x".repeat(43)})),
            ("missing", json!({"session_id": a})),
            (
                "other session's",
                json!({"session_id": a, "token": token_b}),
            ),
            (
                "unknown session",
                json!({"session_id": "nope", "token": token_b}),
            ),
        ] {
            let mut p = Peer::connect(&url).await;
            let e = p.call("session.attach", params).await.unwrap_err();
            assert_eq!(error_name(&e), "unauthorized", "{label}");
            assert!(
                !e.to_string().contains(&token_b),
                "an error never echoes a token"
            );
            // Nothing else came before the refusal, and the gateway closes (policy violation).
            assert!(p.notes.is_empty(), "{label}: {:?}", p.notes);
            assert_eq!(p.close_code().await, Some(1008), "{label}");
        }
        // A session call before any authentication is refused and closes too.
        let mut p = Peer::connect(&url).await;
        let e = p.call("snapshot", json!({})).await.unwrap_err();
        assert_eq!(error_name(&e), "unauthorized");
        assert_eq!(p.close_code().await, Some(1008));
        // A malformed first frame is answered, and the connection closed: authentication gets one try.
        let mut p = Peer::connect(&url).await;
        p.send_raw("{").await;
        assert_eq!(p.recv().await.unwrap()["error"]["code"], -32700);
        assert_eq!(p.close_code().await, Some(1008));
        // No gateway token configured: `auth` can never succeed, and listing needs it.
        let mut p = Peer::connect(&url).await;
        assert_eq!(
            error_name(
                &p.call("auth", json!({"token": "x".repeat(20)}))
                    .await
                    .unwrap_err()
            ),
            "unauthorized"
        );
        // The right token attaches, and the session's calls answer.
        let mut p = Peer::connect(&url).await;
        let at = p
            .ok("session.attach", json!({"session_id": b, "token": token_b}))
            .await;
        assert_eq!(at["role"], "driver");
        assert_eq!(p.ok("get_status", json!({})).await, "idle");
        let e = p.call("sessions.list", json!({})).await.unwrap_err();
        assert_eq!(
            error_name(&e),
            "unauthorized",
            "a session token does not list sessions"
        );
    });
}

#[test]
fn the_gateway_token_lists_and_starts_sessions_and_failures_are_rate_limited() {
    let dir = tempdir("gwtoken");
    let file = dir.join("token");
    std::fs::write(&file, "gateway-token-0123456789\n").unwrap();
    let c = client(None);
    let url = listen(
        &c,
        json!({"gateway_token_file": file, "auth_failures_per_minute": 2}),
    );
    rt().block_on(async {
        let mut p = Peer::connect(&url).await;
        p.ok("auth", json!({"token": "gateway-token-0123456789"}))
            .await;
        let started = p
            .ok(
                "sessions.start",
                json!({"options": {"model": "scripted:echo"}}),
            )
            .await;
        let id = started["session_id"].as_str().unwrap().to_string();
        assert_eq!(started["token"], c.token(&id).unwrap());
        let list = p.ok("sessions.list", json!({})).await;
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id || s["session_id"] == id),
            "{list}"
        );
        // The same connection attaches with the session's token.
        let at = p
            .ok(
                "session.attach",
                json!({"session_id": id, "token": started["token"]}),
            )
            .await;
        assert_eq!(at["role"], "driver");
        // Two failures from this address, then even the right token waits out the window.
        for _ in 0..2 {
            let mut bad = Peer::connect(&url).await;
            let e = bad
                .call("auth", json!({"token": "wrong-token-0123456789"}))
                .await
                .unwrap_err();
            assert_eq!(error_name(&e), "unauthorized");
        }
        let mut late = Peer::connect(&url).await;
        let e = late
            .call("auth", json!({"token": "gateway-token-0123456789"}))
            .await
            .unwrap_err();
        assert_eq!(error_name(&e), "rate_limited");
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn viewers_read_but_only_the_driver_drives_and_roles_can_change_hands() {
    let (_c, id, token, url) = served(STREAMING, json!({}));
    rt().block_on(async {
        let mut d = Peer::connect(&url).await;
        let mut v = Peer::connect(&url).await;
        let att = json!({"session_id": id, "token": token});
        let da = d.ok("session.attach", att.clone()).await;
        let va = v.ok("session.attach", att.clone()).await;
        assert_eq!(
            (da["role"].as_str(), va["role"].as_str()),
            (Some("driver"), Some("viewer"))
        );
        assert_eq!(va["driver"], da["client_id"]);
        let e = v
            .call("send_prompt", json!({"text": "hi"}))
            .await
            .unwrap_err();
        assert_eq!(error_name(&e), "not_driver");
        assert_eq!(e["code"], -32002);
        for m in [
            "abort",
            "set_model",
            "respond_to_approval",
            "enter_plan",
            "stop",
        ] {
            let e = v
                .call(m, json!({"model": "scripted:echo", "decision": "approve"}))
                .await
                .unwrap_err();
            assert_eq!(error_name(&e), "not_driver", "{m}");
        }
        assert!(v.ok("snapshot", json!({})).await.is_object());
        // The driver's prompt streams to both.
        assert_eq!(d.ok("send_prompt", json!({"text": "hi"})).await, "sent");
        let seen_d: Vec<u64> = d
            .events_until("turn_ended")
            .await
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        let seen_v: Vec<u64> = v
            .events_until("turn_ended")
            .await
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seen_d, seen_v);
        // The viewer takes over; the former driver is now refused.
        v.ok("session.take_over", json!({})).await;
        let e = d.call("abort", json!({})).await.unwrap_err();
        assert_eq!(error_name(&e), "not_driver");
        assert_eq!(
            d.call("session.hand_over", json!({"to": va["client_id"]}))
                .await
                .map_err(|e| error_name(&e).to_string()),
            Err("not_driver".into())
        );
        // And hands it back.
        v.ok("session.hand_over", json!({"to": da["client_id"]}))
            .await;
        d.ok("enter_plan", json!({})).await;
        // Everyone hears each change (notifications may pass the answers).
        loop {
            let n = v.note().await.expect("a roles notification");
            if n["method"] == "roles" && n["params"]["driver"] == da["client_id"] {
                assert_eq!(n["params"]["viewers"], json!([va["client_id"]]));
                break;
            }
        }
        // A driver that leaves frees the role; the next attach takes it.
        drop(d);
        // The remaining viewer hears that nobody drives any more.
        loop {
            let n = v.note().await.expect("a roles notification");
            if n["method"] == "roles" && n["params"]["driver"].is_null() {
                break;
            }
        }
        let mut n = Peer::connect(&url).await;
        let role = n.ok("session.attach", att.clone()).await["role"].clone();
        assert_eq!(role, "driver");
    });
}

#[test]
fn approvals_are_answered_once_and_every_peer_sees_the_resolution() {
    let dir = tempdir("approve");
    std::fs::write(dir.join("a.txt"), "x").unwrap();
    let opts = json!({"workdir": dir, "approval": "all", "script": [
        [{"tool_call": {"name": "read_file", "args": {"path": "a.txt"}}}], [{"text": "done"}]]});
    let (c, id, token, url) = served(&opts.to_string(), json!({}));
    rt().block_on(async {
        let mut d = Peer::connect(&url).await;
        let mut v = Peer::connect(&url).await;
        let att = json!({"session_id": id, "token": token});
        d.ok("session.attach", att.clone()).await;
        v.ok("session.attach", att).await;
        d.ok("send_prompt", json!({"text": "read it"})).await;
        let pending = d.events_until("approval_pending").await.pop().unwrap();
        let approval_id = pending["approval"]["approval_id"].clone();
        v.events_until("approval_pending").await;
        // The host of the client answers first; the remote driver's answer comes second and is refused.
        c.respond_to_approval(
            &id,
            approval_id.as_str(),
            tandem::session::machine::approvals::Decision::Approve,
        )
        .unwrap();
        let e = d
            .call(
                "respond_to_approval",
                json!({"approval_id": approval_id, "decision": "reject"}),
            )
            .await
            .unwrap_err();
        assert_eq!(error_name(&e), "no_pending_approval");
        for p in [&mut d, &mut v] {
            let resolved = p.events_until("approval_resolved").await.pop().unwrap();
            assert_eq!(resolved["decision"], "approve");
            p.events_until("turn_ended").await;
        }
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn malformed_and_oversized_requests_get_errors_and_the_connection_stays_or_closes_cleanly() {
    let (_c, id, token, url) = served(STREAMING, json!({"max_message_bytes": 2048}));
    rt().block_on(async {
        let mut p = Peer::connect(&url).await;
        p.ok("session.attach", json!({"session_id": id, "token": token})).await;
        let cases = [
            ("{", -32700),
            ("[1, 2]", -32600),
            (r#"{"jsonrpc": "2.0", "id": 5}"#, -32600),
            (r#"{"jsonrpc": "1.0", "id": 5, "method": "snapshot"}"#, -32600),
            (r#"{"jsonrpc": "2.0", "id": 5, "method": "snapshot", "params": [1]}"#, -32602),
            (r#"{"jsonrpc": "2.0", "id": 5, "method": "no_such_method"}"#, -32601),
            (r#"{"jsonrpc": "2.0", "id": 5, "method": "messages_page", "params": {"limit": "x"}}"#, -32602),
        ];
        for (frame, code) in cases {
            p.send_raw(frame).await;
            let answer = p.reply().await;
            assert_eq!(answer["error"]["code"], code, "{frame}: {answer}");
            assert_eq!(answer["jsonrpc"], "2.0");
        }
        // A request over the limit is refused and the connection goes on.
        let big = json!({"jsonrpc": "2.0", "id": 9, "method": "add_system_message",
                         "params": {"text": "y".repeat(3000)}});
        p.send_raw(&big.to_string()).await;
        let answer = p.reply().await;
        assert_eq!(answer["error"]["data"]["error"], "too_large", "{answer}");
        assert_eq!(p.ok("get_status", json!({})).await, "idle");
        // Far over it, the gateway closes with 1009 (message too big).
        p.send_raw(&"z".repeat(10_000)).await;
        assert_eq!(p.close_code().await, Some(1009));
    });
}

#[test]
fn plain_ws_is_refused_off_loopback_and_the_gateway_listens_once() {
    let c = client(None);
    let e = c.listen(Some(r#"{"address": "0.0.0.0:0"}"#)).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(e.to_string().contains("insecure"), "{e}");
    assert!(matches!(
        c.listen(Some(r#"{"gateway_token": "abc"}"#)),
        Err(Error::InvalidArgument(_))
    ));
    let url = c.listen(None).unwrap();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert!(matches!(c.listen(None), Err(Error::AlreadyExists(_))));
    let id = c.start_session(Some(STREAMING)).unwrap();
    let token = c.token(&id).unwrap();
    rt().block_on(async {
        let mut p = Peer::connect(&url).await;
        p.ok("session.attach", json!({"session_id": id, "token": token}))
            .await;
        // Stopping disconnects attached peers; listening again works.
        c.stop_listening().unwrap();
        // Frames already on their way (the roles notification) may come first; then the connection ends.
        while p.recv().await.is_some() {}
        assert!(p.closed);
        let again = c.listen(None).unwrap();
        let mut p = Peer::connect(&again).await;
        p.ok("session.attach", json!({"session_id": id, "token": token}))
            .await;
    });
    c.stop_listening().unwrap();
    c.stop_listening().unwrap();
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tandem-remote-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn tandem_server_documents_its_flags_and_refuses_bad_ones() {
    let bin = env!("CARGO_BIN_EXE_tandem-server");
    let out = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--store-dir",
        "--listen",
        "--cert",
        "--key",
        "--gateway-token-file",
        "--insecure",
        "TANDEM_GATEWAY_TOKEN",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    let out = std::process::Command::new(bin)
        .args([
            "--listen",
            "0.0.0.0:0",
            "--config",
            r#"{"store_dir": null}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("tandem-server: ") && err.contains("insecure"),
        "{err}"
    );
    let out = std::process::Command::new(bin)
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_peer_that_stops_answering_pings_is_disconnected_and_its_driver_role_freed() {
    let (_c, id, token, url) = served(STREAMING, json!({"ping_interval_ms": 100}));
    rt().block_on(async {
        let att = json!({"session_id": id, "token": token});
        let mut gone = Peer::connect(&url).await;
        assert_eq!(
            gone.ok("session.attach", att.clone()).await["role"],
            "driver"
        );
        let mut v = Peer::connect(&url).await;
        v.ok("session.attach", att).await;
        // `gone` is never read again, so it never answers a ping; `v` keeps reading (and answering).
        loop {
            let n = v.note().await.expect("v stays connected");
            if n["method"] == "roles" && n["params"]["driver"].is_null() {
                break;
            }
        }
        assert!(!v.closed);
        v.ok("session.take_over", json!({})).await;
        // Its connection is over (what it reads first are the pings it left unanswered).
        while gone.recv().await.is_some() {}
        assert!(gone.closed);
    });
}
