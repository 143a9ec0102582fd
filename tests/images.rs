//! Images end to end: a prompt's image reaches the HTTP request body of both HTTP backends, a model that does not
//! take images gets the text and the transcript a note, follow-ups keep their images, and a host can fetch a user
//! message's image parts back (also after the conversation was stored and loaded again).

mod common;

use common::http_mock::{openai_reply, serve, Reply};
use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::Client;

/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

fn image_prompt(t: &str) -> Vec<ContentPart> {
    vec![
        ContentPart::Text { text: t.into() },
        ContentPart::Image {
            media_type: "image/png".into(),
            data: PNG.into(),
        },
    ]
}

/// An Anthropic stream answering `say`.
fn anthropic_reply(say: &str) -> String {
    [
        json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [],
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": say}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
        json!({"type": "message_stop"}),
    ]
    .iter()
    .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
    .collect()
}

/// The last user message of a request body.
fn last_user(body: &Value) -> Value {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .cloned()
        .unwrap()
}

/// Sends an image prompt to a session of `model` whose backend (at `path` on a mock server) answers `reply`; returns
/// the client, the session and the request body the backend received.
fn image_turn(model: &str, path: &str, reply: String) -> (Client, String, Value) {
    std::env::set_var("TANDEM_TEST_IMAGE_KEY", "sk-test-image");
    let (url, seen) = serve(vec![Reply::Send(200, vec![], reply, 4096)]);
    let c = client();
    let opts = json!({"model": model, "base_url": format!("{url}{path}"), "api_key_env": "TANDEM_TEST_IMAGE_KEY"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, image_prompt("what is this?")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    let body = seen.recv().unwrap().body;
    (c, id, body)
}

#[test]
fn an_image_reaches_the_anthropic_request_body() {
    let (_, _, body) = image_turn("anthropic:claude-sonnet-4-5", "", anthropic_reply("A dot."));
    assert_eq!(
        last_user(&body)["content"],
        json!([{"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}])
    );
}

#[test]
fn an_image_reaches_the_openai_request_body() {
    let (_, _, body) = image_turn("openai:gpt-4.1", "/v1", openai_reply("A dot.", (5, 2, 0)));
    assert_eq!(
        last_user(&body)["content"],
        json!([{"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}}])
    );
}

#[test]
fn a_model_without_images_gets_the_text_and_the_transcript_a_note() {
    let (c, id, body) = image_turn(
        "ollama:qwen2.5-coder",
        "/v1",
        openai_reply("Text only.", (5, 2, 0)),
    );
    assert!(!body.to_string().contains(PNG), "no image data is sent");
    let text = last_user(&body)["content"].to_string();
    assert!(
        text.contains("what is this?") && text.contains("image/png image left out"),
        "{text}"
    );
    let messages = c.messages(&id).unwrap();
    let kinds: Vec<(&str, &str)> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap(),
                m["text"].as_str().unwrap_or(""),
            )
        })
        .filter(|(k, _)| *k == "user" || *k == "system")
        .skip(1)
        .collect();
    assert_eq!(
        kinds[..2],
        [
            ("user", "what is this?"),
            (
                "system",
                "ollama:qwen2.5-coder does not take images: the prompt went to it as text, without its 1 image(s)."
            )
        ],
        "the note follows the prompt"
    );
    // The transcript keeps the image itself.
    let user = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "user")
        .unwrap();
    assert_eq!(
        user["attachments"],
        json!([{"media_type": "image/png", "size_bytes": 70}])
    );
}

#[test]
fn follow_ups_keep_their_images_and_hosts_can_fetch_them_after_a_reload() {
    let store = std::env::temp_dir().join(format!("tandem-images-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let opts = json!({"session_id": "pictures", "model": "scripted:x",
        "script": [[{"delay_ms": 300}, {"text": "first"}], [{"text": "second"}]]});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, vec![ContentPart::Text { text: "hi".into() }])
        .unwrap();
    let queued = c.queue_follow_up(&id, image_prompt("and this")).unwrap();
    assert_eq!(format!("{queued:?}"), "QueuedFollowUp");
    turn_end(&c, &id);
    turn_end(&c, &id);
    let user_ids = |c: &Client| -> Vec<u64> {
        user_messages(c, "pictures")
            .iter()
            .map(|m| m["id"].as_u64().unwrap())
            .collect()
    };
    let ids = user_ids(&c);
    assert_eq!(ids.len(), 2);
    let want = json!([{"type": "text", "text": "and this"}, {"type": "image", "media_type": "image/png", "data": PNG}]);
    assert_eq!(json!(c.message_parts(&id, ids[1]).unwrap()), want);
    assert_eq!(
        c.message_parts(&id, ids[0]).unwrap(),
        vec![ContentPart::Text { text: "hi".into() }]
    );
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);

    let c = Client::new(Some(&json!({"store_dir": store}).to_string())).unwrap();
    let id = c.start_or_get_session("pictures", None).unwrap();
    let ids = user_ids(&c);
    assert_eq!(json!(c.message_parts(&id, ids[1]).unwrap()), want);
    let err = c.message_parts(&id, 99_999).unwrap_err();
    assert!(matches!(err, tandem::Error::NotFound(_)), "{err}");
    drop(c);
    let _ = std::fs::remove_dir_all(&store);
}
