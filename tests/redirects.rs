//! Redirects never carry an API key to another origin: each HTTP backend, sent a 302, 307 or 308 to another port,
//! fails the turn without connecting there, and says why.

mod common;

use std::sync::mpsc::Receiver;
use std::time::Duration;

use common::http_mock::{openai_reply, serve, Reply, Seen};
use common::*;
use serde_json::json;
use tandem::session::transcript::ContentPart;

const KEY: &str = "sk-redirect-SECRET-4242";

/// A server on another port that would answer one request, and reports any request it gets.
fn elsewhere() -> (String, Receiver<Seen>) {
    serve(vec![Reply::Send(
        200,
        vec![],
        openai_reply("stolen", (1, 1, 0)),
        64,
    )])
}

/// Runs one turn of `model` against a server that redirects with `status` to `target`; returns the error text.
fn redirected_turn(model: &str, path: &str, status: u16, target: &str) -> (String, Vec<Seen>) {
    let (url, seen) = serve(vec![Reply::Send(
        status,
        vec![("location", format!("{target}{path}"))],
        String::new(),
        1,
    )]);
    let var = format!(
        "TANDEM_TEST_REDIRECT_KEY_{}",
        model.replace(':', "_").to_uppercase()
    );
    std::env::set_var(&var, KEY);
    let base = if model.starts_with("openai") {
        format!("{url}/v1")
    } else {
        url
    };
    let c = client();
    let opts =
        json!({"model": model, "base_url": base, "api_key_env": var, "retry": {"max_retries": 0}});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, vec![ContentPart::Text { text: "x".into() }])
        .unwrap();
    let (end, events) = turn_end(&c, &id);
    let errors: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "error")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(
        (end["reason"].as_str(), errors.len()),
        (Some("error"), 1),
        "{events:#?}"
    );
    let err = errors[0].to_string();
    (err, seen.try_iter().collect())
}

#[test]
fn cross_origin_redirects_are_not_followed_by_any_backend() {
    for (model, path) in [
        ("anthropic:claude-sonnet-4", "/v1/messages"),
        ("openai:gpt-4o", "/v1/chat/completions"),
    ] {
        for status in [302, 307, 308] {
            let (target, reached) = elsewhere();
            let (err, asked) = redirected_turn(model, path, status, &target);
            assert!(
                err.contains(&format!("HTTP {status}: redirected to {target}")),
                "{model} {status}: {err}"
            );
            assert!(!err.contains(KEY));
            // The first server did get the key: it is the configured base_url.
            assert_eq!(asked.len(), 1);
            let header = if model.starts_with("anthropic") {
                "x-api-key"
            } else {
                "authorization"
            };
            assert!(asked[0].head.to_ascii_lowercase().contains(header));
            assert!(
                reached.recv_timeout(Duration::from_millis(300)).is_err(),
                "{model} followed a {status} to another origin"
            );
        }
    }
}
