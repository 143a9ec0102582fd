//! Session token lifetimes at the remote gateway: `token_max_age_s` refuses an old token before any data,
//! `sessions.renew_token` replaces it, and both hold across a restart on the same store.
#![cfg(feature = "remote")]

#[path = "common/ws.rs"]
mod ws;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use ws::{client, error_name, rt, Peer};

const GATEWAY_TOKEN: &str = "tokens-test-gateway-token-0123";

fn tempdir(what: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tandem-tokens-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Serves `c` anew with `max_age` (seconds, or none) and returns the URL.
fn relisten(c: &Arc<tandem::Client>, token_file: &std::path::Path, max_age: Option<u64>) -> String {
    c.stop_listening().unwrap();
    let mut o = json!({"gateway_token_file": token_file});
    if let Some(s) = max_age {
        o["token_max_age_s"] = json!(s);
    }
    c.listen(Some(&o.to_string())).unwrap()
}

/// Attaching with `token` is refused as unauthorized, with nothing sent before and the connection closed.
async fn refused(url: &str, id: &str, token: &str, label: &str) {
    let mut p = Peer::connect(url).await;
    let e = p
        .call(
            "session.attach",
            json!({"session_id": id, "token": token, "cursor": 0}),
        )
        .await
        .unwrap_err();
    assert_eq!(error_name(&e), "unauthorized", "{label}: {e}");
    assert!(
        p.notes.is_empty(),
        "{label}: sent before the refusal: {:?}",
        p.notes
    );
    assert_eq!(p.close_code().await, Some(1008), "{label}");
}

async fn attaches(url: &str, id: &str, token: &str) -> Value {
    let mut p = Peer::connect(url).await;
    p.ok("session.attach", json!({"session_id": id, "token": token}))
        .await
}

#[test]
fn old_tokens_are_refused_before_any_data_and_renewal_holds_across_a_restart() {
    let dir = tempdir("expiry");
    let store = dir.join("store");
    let token_file = dir.join("gateway-token");
    std::fs::write(&token_file, format!("{GATEWAY_TOKEN}\n")).unwrap();
    let rt = rt();

    let c = client(Some(&store));
    for bad in [
        json!({"token_max_age_s": 0}),
        json!({"token_max_age_s": "1h"}),
    ] {
        assert!(
            matches!(
                c.listen(Some(&bad.to_string())),
                Err(tandem::Error::InvalidArgument(_))
            ),
            "{bad}"
        );
    }
    let url = relisten(&c, &token_file, None);
    let (id, first) = rt.block_on(async {
        let mut admin = Peer::connect(&url).await;
        admin.ok("auth", json!({"token": GATEWAY_TOKEN})).await;
        let started = admin
            .ok(
                "sessions.start",
                json!({"options": {"script": [[{"text": "kept"}]]}}),
            )
            .await;
        let id = started["session_id"].as_str().unwrap().to_string();
        let token = started["token"].as_str().unwrap().to_string();
        let mut p = Peer::connect(&url).await;
        p.ok("session.attach", json!({"session_id": id, "token": token}))
            .await;
        p.ok("send_prompt", json!({"text": "go"})).await;
        p.events_until("turn_ended").await;
        (id, token)
    });

    // Older than the gateway's maximum age: refused exactly like a wrong token.
    std::thread::sleep(Duration::from_millis(1100));
    let url = relisten(&c, &token_file, Some(1));
    rt.block_on(refused(&url, &id, &first, "expired"));

    // Renewal needs the gateway token; the new token attaches, the old one never again.
    let url = relisten(&c, &token_file, Some(3600));
    let second = rt.block_on(async {
        let mut p = Peer::connect(&url).await;
        let e = p
            .call("sessions.renew_token", json!({"session_id": id}))
            .await
            .unwrap_err();
        assert_eq!(error_name(&e), "unauthorized");
        let mut admin = Peer::connect(&url).await;
        admin.ok("auth", json!({"token": GATEWAY_TOKEN})).await;
        let e = admin
            .call(
                "sessions.renew_token",
                json!({"session_id": "no-such-session"}),
            )
            .await
            .unwrap_err();
        assert_eq!(error_name(&e), "not_found");
        let renewed = admin
            .ok("sessions.renew_token", json!({"session_id": id}))
            .await;
        assert_eq!(renewed["session_id"], id.as_str());
        let second = renewed["token"].as_str().unwrap().to_string();
        assert_ne!(second, first);
        assert_eq!(second.len(), first.len());
        let at = attaches(&url, &id, &second).await;
        assert_eq!(at["role"], "driver");
        refused(&url, &id, &first, "replaced").await;
        second
    });
    assert_eq!(
        c.token(&id).unwrap(),
        second,
        "the session itself has the new token"
    );
    drop(c);

    // A new process on the same store: the renewed token and its issue time were kept.
    let c = client(Some(&store));
    let url = relisten(&c, &token_file, Some(3600));
    rt.block_on(async {
        let mut p = Peer::connect(&url).await;
        p.ok("session.attach", json!({"session_id": id, "token": second}))
            .await;
        let messages = p.ok("messages", json!({})).await;
        assert!(messages.to_string().contains("kept"), "{messages}");
        refused(&url, &id, &first, "replaced, after the restart").await;
    });
    std::thread::sleep(Duration::from_millis(1100));
    let url = relisten(&c, &token_file, Some(1));
    rt.block_on(refused(
        &url,
        &id,
        &second,
        "expired: its issue time came from the store, not from the restart",
    ));
    // The Rust API renews too, and the store keeps what it renewed.
    let third = c.renew_token(&id).unwrap();
    assert_ne!(third, second);
    assert_eq!(
        c.broker_token(&id).unwrap().map(|t| t.token),
        Some(third.clone())
    );
    drop(c);
    let c = client(Some(&store));
    assert_eq!(
        c.broker_token(&id).unwrap().map(|t| t.token),
        Some(third),
        "a stored session's token is the renewed one"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
