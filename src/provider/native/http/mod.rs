//! HTTP model backends: the Anthropic Messages API, OpenAI-compatible Chat Completions and the OpenAI Responses API,
//! streamed over SSE.

pub mod anthropic;
pub mod models;
pub mod openai;
pub mod prices;
pub mod responses;
pub mod retry;
pub mod sse;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use once_cell::sync::OnceCell;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde_json::Value;

use super::model::{BoxFuture, Chunk, Model, ModelError, ModelRequest};
use crate::error::{Error, Result};
use prices::Prices;
use sse::{SseEvent, SseParser};

/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for how long a stream may send nothing (reasoning models can be silent for a while; Anthropic pings).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// How much of an error body is kept when it is not the API's JSON error shape.
const ERROR_BODY_CHARS: usize = 500;

/// The session options HTTP backends use.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Overrides the backend's default base URL.
    pub base_url: Option<String>,
    /// Overrides the environment variable the API key is read from.
    pub api_key_env: Option<String>,
    /// Overrides the model's list prices.
    pub prices: Option<Prices>,
    /// How long a response may stay silent before the call fails.
    pub idle_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            base_url: None,
            api_key_env: None,
            prices: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// One HTTP client (connection pool, TLS config) shared by every model a session builds, created on first use so
/// sessions on scripted models pay nothing.
#[derive(Clone, Default)]
pub struct SharedClient(Arc<OnceCell<reqwest::Client>>);

impl SharedClient {
    fn get(&self) -> std::result::Result<reqwest::Client, ModelError> {
        self.0
            .get_or_try_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .redirect(same_origin_redirects())
                    .build()
            })
            .cloned()
            .map_err(|e| ModelError::fatal(format!("cannot set up the HTTP client: {e}")))
    }
}

/// Redirects are followed only within the origin (scheme, host, port) of the first request, at most 5: the
/// requests carry the API key (`x-api-key`, `authorization`), and reqwest's own policy keeps custom headers such as
/// `x-api-key` on a redirect to another host. A redirect elsewhere is not followed; the call fails with it.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if first.as_ref() != Some(&attempt.url().origin()) {
            attempt.stop()
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// `message` with `key` and its encoded forms (base64 in all four alphabets/paddings, percent-encoding) replaced
/// by `[redacted]`: servers and transports may echo what they were sent in any of these forms.
pub(crate) fn redact(message: &str, key: &str) -> String {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    if key.len() < 4 {
        return message.to_string();
    }
    let percent: String = key
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let mut forms = vec![key.to_string(), percent.clone(), percent.to_lowercase()];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(key));
    }
    // Longest first, so a form that contains another is replaced whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.iter().fold(message.to_string(), |m, f| {
        m.replace(f.as_str(), "[redacted]")
    })
}

/// The wire format a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `POST {base}/v1/messages` (base defaults to `https://api.anthropic.com`).
    Anthropic,
    /// `POST {base}/chat/completions` (base defaults to `https://api.openai.com/v1`).
    OpenAi,
    /// `POST {base}/responses` (base defaults to `https://api.openai.com/v1`).
    Responses,
}

/// Turns a stream's events into chunks.
pub trait Decoder: Send {
    /// Handles one event; `Ok(true)` once the response is complete.
    fn event(
        &mut self,
        event: &SseEvent,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> std::result::Result<bool, ModelError>;
    /// The connection closed before the end marker: fine if the response was complete anyway (by default it is
    /// not: the stream was cut off).
    fn eof(&mut self, _out: &mut (dyn FnMut(Chunk) + Send)) -> std::result::Result<(), ModelError> {
        Err(ModelError::transient(
            "connection closed before the response was complete",
        ))
    }
}

/// A model served over HTTP.
pub struct HttpModel {
    wire: Wire,
    name: String,
    url: String,
    /// The provider's model list endpoint.
    models_url: String,
    /// The variable holding the key, and whether calls need one (a local ollama does not).
    key_env: String,
    key_required: bool,
    client: SharedClient,
    idle_timeout: Duration,
    prices: Option<Prices>,
}

impl HttpModel {
    /// The model `name` of `provider` (`anthropic`, `openai`, `openai-responses` or `ollama`).
    pub fn new(
        provider: &str,
        name: &str,
        options: &HttpOptions,
        client: SharedClient,
    ) -> Result<HttpModel> {
        let (wire, base, key_env, key_required) = match provider {
            "anthropic" => (
                Wire::Anthropic,
                "https://api.anthropic.com",
                "ANTHROPIC_API_KEY",
                true,
            ),
            "openai" => (
                Wire::OpenAi,
                "https://api.openai.com/v1",
                "OPENAI_API_KEY",
                true,
            ),
            "openai-responses" => (
                Wire::Responses,
                "https://api.openai.com/v1",
                "OPENAI_API_KEY",
                true,
            ),
            "ollama" => (
                Wire::OpenAi,
                "http://localhost:11434/v1",
                "OLLAMA_API_KEY",
                false,
            ),
            other => return Err(Error::invalid(format!("unknown model provider {other:?}"))),
        };
        if name.is_empty() {
            return Err(Error::invalid(format!(
                "{provider}: needs a model name, e.g. {provider}:<model>"
            )));
        }
        let base = options.base_url.as_deref().unwrap_or(base);
        let base = base.trim_end_matches('/');
        let (url, models_url) = match wire {
            Wire::Anthropic => (
                format!("{base}/v1/messages"),
                format!("{base}/v1/models?limit=1000"),
            ),
            Wire::OpenAi => (format!("{base}/chat/completions"), format!("{base}/models")),
            Wire::Responses => (format!("{base}/responses"), format!("{base}/models")),
        };
        Ok(HttpModel {
            wire,
            name: name.to_string(),
            url,
            models_url,
            key_env: options
                .api_key_env
                .clone()
                .unwrap_or_else(|| key_env.into()),
            key_required: key_required || options.api_key_env.is_some(),
            client,
            idle_timeout: options.idle_timeout,
            prices: options
                .prices
                .or_else(|| prices::prices_for(provider, name)),
        })
    }

    /// Reads the key at call time, so a host can set it after the session started.
    fn key(&self) -> std::result::Result<Option<String>, ModelError> {
        match std::env::var(&self.key_env) {
            Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_string())),
            _ if !self.key_required => Ok(None),
            _ => Err(ModelError::fatal(format!(
                "no API key: set the environment variable {} (or name another one with the api_key_env option)",
                self.key_env
            ))),
        }
    }

    fn headers(&self, key: Option<&str>) -> std::result::Result<HeaderMap, ModelError> {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let secret = |v: String| {
            let mut v = HeaderValue::from_str(&v).map_err(|_| {
                ModelError::fatal(format!(
                    "the API key in {} contains characters not allowed in a header",
                    self.key_env
                ))
            })?;
            // Keeps the key out of any Debug output of the request.
            v.set_sensitive(true);
            Ok::<_, ModelError>(v)
        };
        match self.wire {
            Wire::Anthropic => {
                h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
                if let Some(k) = key {
                    h.insert("x-api-key", secret(k.to_string())?);
                }
            }
            Wire::OpenAi | Wire::Responses => {
                if let Some(k) = key {
                    h.insert("authorization", secret(format!("Bearer {k}"))?);
                }
            }
        }
        Ok(h)
    }

    async fn call(
        &self,
        key: Option<&str>,
        req: &ModelRequest<'_>,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> std::result::Result<(), ModelError> {
        let (body, mut decoder): (Value, Box<dyn Decoder>) = match self.wire {
            Wire::Anthropic => (
                anthropic::request_body(&self.name, req),
                Box::new(anthropic::StreamDecoder::new(self.prices)),
            ),
            Wire::OpenAi => (
                openai::request_body(&self.name, req),
                Box::new(openai::StreamDecoder::new(self.prices)),
            ),
            Wire::Responses => (
                responses::request_body(&self.name, req),
                Box::new(responses::StreamDecoder::new(self.prices)),
            ),
        };
        let request = self
            .client
            .get()?
            .post(&self.url)
            .headers(self.headers(key)?)
            .body(body.to_string());
        let idle = self.idle_timeout;
        let silent = |what: &str| {
            ModelError::transient(format!("timeout: {what} for {:.1} s", idle.as_secs_f64()))
        };
        let mut response = tokio::time::timeout(idle, request.send())
            .await
            .map_err(|_| silent("no response"))?
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| response.url().join(l).ok())
                .map_or_else(
                    || "nowhere".to_string(),
                    |u| u.origin().ascii_serialization(),
                );
            return Err(ModelError::fatal(format!(
                "HTTP {}: redirected to {to}, another origin than base_url; not followed, so the API key is not \
                 sent there",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = tokio::time::timeout(idle, response.bytes())
                .await
                .ok()
                .and_then(|b| b.ok())
                .unwrap_or_default();
            let message = error_message(&body)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
            return Err(ModelError::http(status.as_u16(), message, retry_after));
        }
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        loop {
            // Dropping this future (abort) drops `response`, which closes the connection.
            let chunk = tokio::time::timeout(idle, response.chunk())
                .await
                .map_err(|_| silent("the stream sent nothing"))?
                .map_err(|e| {
                    ModelError::transient(format!(
                        "connection lost while streaming: {}",
                        error_chain(&e)
                    ))
                })?;
            match &chunk {
                Some(bytes) => parser.feed(bytes, &mut events),
                None => parser.finish(&mut events),
            }
            for event in events.drain(..) {
                if decoder.event(&event, out)? {
                    drain(&mut response).await;
                    return Ok(());
                }
            }
            if chunk.is_none() {
                return decoder.eof(out);
            }
        }
    }
}

impl Model for HttpModel {
    fn context_limit(&self) -> Option<u64> {
        prices::context_limit(&self.name)
    }

    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest<'a>,
        out: &'a mut (dyn FnMut(Chunk) + Send),
    ) -> BoxFuture<'a, std::result::Result<(), ModelError>> {
        Box::pin(async move {
            let key = self.key()?;
            self.call(key.as_deref(), req, out).await.map_err(|mut e| {
                // Servers and transports may echo what they were sent; the key must not travel on.
                if let Some(k) = key.as_deref() {
                    e.message = redact(&e.message, k);
                }
                e
            })
        })
    }
}

/// Reads what is left of a complete response (usually just its end), briefly, so that the connection goes back to
/// the client's pool for the next call instead of being closed.
async fn drain(response: &mut reqwest::Response) {
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await;
}

fn transport_error(e: reqwest::Error) -> ModelError {
    let text = error_chain(&e);
    if e.is_builder() {
        ModelError::fatal(format!("invalid request: {text}"))
    } else {
        ModelError::transient(format!("connection error: {text}"))
    }
}

/// An error with its causes, which reqwest keeps out of its own message.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The server's retry hint: `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms as u64);
        }
    }
    get("retry-after").and_then(|v| retry::parse_retry_after(v, SystemTime::now()))
}

/// The message of an API error body (`{"error": {"message": …}}` in both APIs), else the start of the body.
pub fn error_message(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let err = v.get("error").unwrap_or(&v);
        if let Some(m) = err.get("message").and_then(Value::as_str) {
            return Some(m.to_string());
        }
        if let Some(m) = err.as_str() {
            return Some(m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(ERROR_BODY_CHARS).collect())
}

/// Parses an event's JSON data; a line that is not JSON breaks the stream.
pub fn parse_data(event: &SseEvent) -> std::result::Result<Value, ModelError> {
    serde_json::from_str(&event.data).map_err(|e| {
        let start: String = event.data.chars().take(80).collect();
        ModelError::fatal(format!(
            "malformed event from the model server ({e}): {start}"
        ))
    })
}

/// Parses a tool call's streamed arguments: empty means no arguments; anything else must be a JSON object.
pub fn parse_args(name: &str, json: &str) -> std::result::Result<Value, ModelError> {
    if json.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(Value::Null) => Ok(Value::Object(Default::default())),
        _ => Err(ModelError::fatal(format!(
            "the model sent invalid arguments for tool {name:?} (not a JSON object)"
        ))),
    }
}

/// Feeds `input` to `decoder` in pieces cut at `cuts`, then ends the stream: the chunks, and how it ended (decoder
/// tests).
#[cfg(test)]
pub(crate) fn decode_split(
    decoder: &mut dyn Decoder,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Chunk>, std::result::Result<bool, ModelError>) {
    let mut parser = SseParser::default();
    let mut chunks = Vec::new();
    let mut events = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        parser.feed(&input[start..end], &mut events);
        start = end;
        for e in events.drain(..) {
            match decoder.event(&e, &mut |c| chunks.push(c)) {
                Ok(false) => {}
                other => return (chunks, other),
            }
        }
    }
    let r = decoder.eof(&mut |c| chunks.push(c)).map(|_| false);
    (chunks, r)
}

/// Merges adjacent text and thinking pieces so that streams split differently compare equal (decoder tests).
#[cfg(test)]
pub(crate) fn merged(chunks: Vec<Chunk>) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    for c in chunks {
        match (out.last_mut(), c) {
            (Some(Chunk::Text(a)), Chunk::Text(b)) => a.push_str(&b),
            (Some(Chunk::Thinking(a)), Chunk::Thinking(b)) => a.push_str(&b),
            (_, c) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keys_and_defaults_per_provider() {
        let o = HttpOptions::default();
        let m = HttpModel::new("anthropic", "claude-x", &o, SharedClient::default()).unwrap();
        assert_eq!(m.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(m.key_env, "ANTHROPIC_API_KEY");
        let m = HttpModel::new("openai-responses", "gpt-5", &o, SharedClient::default()).unwrap();
        assert_eq!(
            (m.url.as_str(), m.key_env.as_str(), m.wire),
            (
                "https://api.openai.com/v1/responses",
                "OPENAI_API_KEY",
                Wire::Responses
            )
        );
        let m = HttpModel::new("ollama", "llama3", &o, SharedClient::default()).unwrap();
        assert_eq!(m.url, "http://localhost:11434/v1/chat/completions");
        assert!(!m.key_required);
        assert_eq!(m.prices, Some(Prices::default()));
        let o = HttpOptions {
            base_url: Some("http://127.0.0.1:9/v1/".into()),
            api_key_env: Some("TANDEM_TEST_NO_SUCH_KEY".into()),
            ..HttpOptions::default()
        };
        let m = HttpModel::new("ollama", "llama3", &o, SharedClient::default()).unwrap();
        assert_eq!(m.url, "http://127.0.0.1:9/v1/chat/completions");
        let err = m.key().unwrap_err();
        assert!(!err.retryable);
        assert!(err.message.contains("TANDEM_TEST_NO_SUCH_KEY"));
        assert!(HttpModel::new("openai", "", &o, SharedClient::default()).is_err());
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            Some("Overloaded".into())
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            Some("Rate limit reached".into())
        );
        assert_eq!(
            error_message(b"  bad gateway \n"),
            Some("bad gateway".into())
        );
        assert_eq!(error_message(b""), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(2000));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(150));
    }

    #[test]
    fn keys_are_redacted_in_every_encoded_form() {
        use base64::Engine;
        let key = "sk-ant/key+with=odd chars";
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
        let message = format!(
            "raw {key} b64 {b64} url {url} pct sk-ant%2Fkey%2Bwith%3Dodd%20chars lower sk-ant%2fkey%2bwith%3dodd%20chars"
        );
        assert_eq!(
            redact(&message, key),
            "raw [redacted] b64 [redacted] url [redacted] pct [redacted] lower [redacted]"
        );
        assert_eq!(redact("abc", "ab"), "abc", "too short to be a key");
    }

    #[test]
    fn tool_arguments_must_be_objects() {
        assert_eq!(parse_args("t", "").unwrap(), serde_json::json!({}));
        assert_eq!(
            parse_args("t", r#"{"a":[1]}"#).unwrap(),
            serde_json::json!({"a": [1]})
        );
        assert!(parse_args("t", r#"{"a":"#).is_err());
        assert!(parse_args("t", "[1]").is_err());
    }
}
