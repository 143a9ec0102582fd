//! The remote gateway's frames validate against schemas/remote.schema.json, whose method lists are the gateway's,
//! and docs/remote.md names every method.
#![cfg(feature = "remote")]

mod common;
#[path = "common/ws.rs"]
mod ws;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tandem::remote::methods::METHODS;
use ws::{client, rt, Peer};

const GATEWAY_METHODS: &[&str] = &[
    "auth",
    "sessions.list",
    "sessions.start",
    "sessions.renew_token",
    "session.attach",
    "session.catch_up",
    "session.detach",
    "session.hand_over",
    "session.take_over",
];

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string("schemas/remote.schema.json").unwrap()).unwrap()
}

fn check(def: &str, doc: &Value) {
    common::check_schema("schemas/remote.schema.json", def, doc);
}

fn names(v: &Value) -> BTreeSet<String> {
    v["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_schema_lists_exactly_the_gateways_methods_and_the_docs_name_them() {
    let s = schema();
    let all: BTreeSet<String> = GATEWAY_METHODS
        .iter()
        .map(|m| m.to_string())
        .chain(METHODS.iter().map(|m| m.name.to_string()))
        .collect();
    assert_eq!(names(&s["$defs"]["method"]), all);
    let driver: BTreeSet<String> = METHODS
        .iter()
        .filter(|m| m.driver)
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(names(&s["$defs"]["driver_method"]), driver);
    let doc = std::fs::read_to_string("docs/remote.md").unwrap();
    for m in &all {
        assert!(
            doc.contains(&format!("`{m}`")),
            "docs/remote.md does not name `{m}`"
        );
    }
}

#[test]
fn real_frames_validate() {
    let dir = std::env::temp_dir().join(format!("tandem-remote-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "schema-gateway-token-0123\n").unwrap();
    let options = json!({"gateway_token_file": dir.join("token"), "max_message_bytes": 4096, "max_queued_events": 64});
    check("listen_options", &options);
    check(
        "listen_options",
        &json!({"tls": {"cert_file": "c.pem", "key_file": "k.pem"}, "address": "[::1]:0", "token_max_age_s": 86400}),
    );
    let c = client(None);
    let url = c.listen(Some(&options.to_string())).unwrap();
    rt().block_on(async {
        let mut p = Peer::connect(&url).await;
        let mut v = Peer::connect(&url).await;
        p.ok("auth", json!({"token": "schema-gateway-token-0123"})).await;
        let start = json!({"options": {"script": [[{"text": "a"}, {"text": "b"}]]}});
        check("sessions_start_params", &start);
        let started = p.ok("sessions.start", start).await;
        check("sessions_start_result", &started);
        let renew = json!({"session_id": started["session_id"]});
        check("sessions_renew_token_params", &renew);
        let started = p.ok("sessions.renew_token", renew).await;
        check("sessions_renew_token_result", &started);
        let att = json!({"session_id": started["session_id"], "token": started["token"], "cursor": 0});
        check("attach_params", &att);
        check("attach_result", &p.ok("session.attach", att.clone()).await);
        check("attach_result", &v.ok("session.attach", json!({"session_id": started["session_id"], "token": started["token"], "role": "viewer"})).await);
        p.ok("send_prompt", json!({"text": "go"})).await;
        p.events_until("turn_ended").await;
        v.events_until("turn_ended").await;
        let _ = v.call("abort", json!({})).await;
        let _ = p.call("no_such_method", json!({})).await;
        p.send_raw("{").await;
        p.reply().await;
        p.send_raw(&"x".repeat(5000)).await;
        p.reply().await;
        let up = json!({"cursor": 1});
        check("catch_up_params", &up);
        p.ok("session.catch_up", up).await;
        p.ok("get_status", json!({})).await;
        for f in p.log.iter().chain(&v.log) {
            let def = match f {
                f if f.get("error").is_some() => "error_response",
                f if f.get("result").is_some() => "result_response",
                _ => "notification",
            };
            check(def, f);
        }
        assert!(p.log.len() > 10, "{}", p.log.len());
        assert!(v.log.iter().any(|f| f["method"] == "roles"), "{:?}", v.log);
    });
    std::fs::remove_dir_all(dir).unwrap();
}
