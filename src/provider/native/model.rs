//! The `Model` trait the native agent loop drives: one streamed model call per invocation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::vocab::content::Usage;
use crate::vocab::model::{ModelMessage, ToolCallRequest, ToolSpec};
use crate::vocab::settings::ThinkingLevel;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One model call's input.
#[derive(Debug)]
pub struct ModelRequest<'a> {
    /// System prompt.
    pub system_prompt: Option<&'a str>,
    /// Conversation so far.
    pub messages: &'a [ModelMessage],
    /// Tools the model may call.
    pub tools: &'a [ToolSpec],
    /// How hard the model should think (backends without reasoning ignore it).
    pub thinking: ThinkingLevel,
}

/// A piece of a streamed response.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Assistant text.
    Text(String),
    /// Thinking text.
    Thinking(String),
    /// The signature that closes the current thinking block.
    ThinkingSignature(String),
    /// A redacted (encrypted) thinking block: its opaque data, sent back unchanged on later calls.
    RedactedThinking(String),
    /// The answer stopped at the output token limit (`max_tokens` / `length`): it is cut.
    MaxTokens,
    /// A complete tool call.
    ToolCall(ToolCallRequest),
    /// Usage of this call.
    Usage(Usage),
}

/// A failed model call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    /// HTTP-like status, when there is one.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
    /// Server-suggested delay before retrying.
    pub retry_after_ms: Option<u64>,
    /// Whether trying the same call again may succeed (overload, rate limit, dropped connection).
    pub retryable: bool,
    /// Whether the stream was cut off (a stall or a dropped connection) rather than refused: the turn keeps what it
    /// produced and `continue` resumes it.
    pub cut_off: bool,
}

impl ModelError {
    /// An error that retrying will not fix.
    pub fn fatal(message: impl Into<String>) -> ModelError {
        ModelError {
            status: None,
            message: message.into(),
            retry_after_ms: None,
            retryable: false,
            cut_off: false,
        }
    }

    /// A transport failure (connection, stall) that a new attempt may get past.
    pub fn transient(message: impl Into<String>) -> ModelError {
        ModelError {
            retryable: true,
            cut_off: true,
            ..ModelError::fatal(message)
        }
    }

    /// A stream that went silent and is not worth waiting for again: not retried, but resumable with `continue`.
    pub fn stalled(message: impl Into<String>) -> ModelError {
        ModelError {
            cut_off: true,
            ..ModelError::fatal(message)
        }
    }

    /// An HTTP error status; 429, 500, 502, 503 and 529 are worth retrying.
    pub fn http(
        status: u16,
        message: impl Into<String>,
        retry_after_ms: Option<u64>,
    ) -> ModelError {
        ModelError {
            status: Some(status),
            message: message.into(),
            retry_after_ms,
            retryable: matches!(status, 429 | 500 | 502 | 503 | 529),
            cut_off: false,
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A language model the native loop can call.
pub trait Model: Send + Sync {
    /// The model's context window in tokens, if known.
    fn context_limit(&self) -> Option<u64> {
        None
    }

    /// Whether the model can be called now (`Err(why)`: not yet, e.g. nothing answers it); see
    /// [`crate::provider::Provider::readiness`].
    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    /// Streams one response to `req`, passing each chunk to `out` as it arrives.
    fn stream<'a>(
        &'a self,
        req: &'a ModelRequest<'a>,
        out: &'a mut (dyn FnMut(Chunk) + Send),
    ) -> BoxFuture<'a, Result<(), ModelError>>;
}
