//! `host:<name>` models: one model call of the native loop is one request to the host's provider callback.

use std::sync::Arc;
use std::time::Duration;

use super::{HostEvent, HostProvider, Request};
use crate::provider::native::model::{BoxFuture, Chunk, Model, ModelError, ModelRequest};
use crate::provider::ToolCallRequest;

/// A model the host answers.
pub struct HostModel {
    host: Arc<HostProvider>,
    session_id: String,
    /// `host:<name>`, as the request names it.
    model: String,
    /// How long the host may stay silent before the call fails (the session's `stream_idle_timeout_ms`).
    idle_timeout: Duration,
}

impl HostModel {
    /// Model `host:<name>` of session `session_id`.
    pub fn new(
        host: Arc<HostProvider>,
        session_id: &str,
        model: &str,
        idle_timeout: Duration,
    ) -> Self {
        HostModel {
            host,
            session_id: session_id.into(),
            model: model.into(),
            idle_timeout,
        }
    }

    async fn call(
        &self,
        req: &ModelRequest<'_>,
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> Result<(), ModelError> {
        let sink = self
            .host
            .sink()
            .ok_or_else(|| ModelError::fatal(NO_HOST_PROVIDER))?;
        // Dropping `open` (abort, or the end of this call) makes the request stale for the host.
        let mut open = self.host.open(&self.session_id);
        let request = Request {
            session_id: self.session_id.clone(),
            request_id: open.id,
            json: super::wire::request_json(&self.session_id, open.id, &self.model, req),
        };
        // The callback may block or emit from inside; it runs on the blocking pool, never on a worker, and this
        // call reads the events meanwhile.
        tokio::task::spawn_blocking(move || sink.0.invoke(&request));
        loop {
            let event = tokio::time::timeout(self.idle_timeout, open.events.recv())
                .await
                // Not retried: a host that stays silent this long would only be waited for again, the whole
                // timeout per retry, while the user sees nothing; the turn fails now and `continue` can resume it.
                .map_err(|_| {
                    ModelError::stalled(format!(
                        "timeout: the host provider sent nothing for {:.1} s",
                        self.idle_timeout.as_secs_f64()
                    ))
                })?
                .ok_or_else(|| ModelError::fatal("the host provider request was dropped"))?;
            match event {
                HostEvent::TextDelta { text } => out(Chunk::Text(text)),
                HostEvent::ThinkingDelta { text } => out(Chunk::Thinking(text)),
                HostEvent::ThinkingSignature { signature } => {
                    out(Chunk::ThinkingSignature(signature))
                }
                HostEvent::ToolCall { id, name, args } => {
                    out(Chunk::ToolCall(ToolCallRequest { id, name, args }))
                }
                HostEvent::Usage(u) => out(Chunk::Usage(u)),
                HostEvent::Done { stop_reason } => {
                    if matches!(stop_reason.as_deref(), Some("max_tokens" | "length")) {
                        out(Chunk::MaxTokens);
                    }
                    return Ok(());
                }
                HostEvent::Error { message, retryable } => {
                    return Err(ModelError {
                        retryable,
                        ..ModelError::fatal(message)
                    })
                }
            }
        }
    }
}

/// Why a host model cannot be called: nothing is registered to answer it.
const NO_HOST_PROVIDER: &str =
    "no host provider is registered on this client: register one with tandem_client_set_provider";

impl Model for HostModel {
    fn readiness(&self) -> Result<(), String> {
        match self.host.sink() {
            Some(_) => Ok(()),
            None => Err(NO_HOST_PROVIDER.into()),
        }
    }

    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest<'a>,
        out: &'a mut (dyn FnMut(Chunk) + Send),
    ) -> BoxFuture<'a, Result<(), ModelError>> {
        Box::pin(self.call(req, out))
    }
}
