//! The crate's error type and its mapping onto the C `tandem_status` codes.

use thiserror::Error;

/// Everything that can go wrong in a tandem call.
///
/// Each variant maps onto exactly one `tandem_status` code (see [`Error::code`]); the `Display` text becomes the
/// thread's last-error message at the C boundary.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A required pointer argument was NULL.
    #[error("{0} must not be NULL")]
    NullArgument(&'static str),
    /// A string argument was not valid UTF-8.
    #[error("{0} is not valid UTF-8: {1}")]
    InvalidUtf8(&'static str, String),
    /// A JSON argument did not parse.
    #[error("{0} is not valid JSON: {1}")]
    InvalidJson(&'static str, String),
    /// An argument was well-formed but not acceptable.
    #[error("{0}")]
    InvalidArgument(String),
    /// No live session (or other object) has that ID.
    #[error("{0}")]
    NotFound(String),
    /// The ID is already taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The session crashed and its restart is scheduled; try again shortly.
    #[error("session {0} is restarting")]
    RestartPending(String),
    /// The session's provider is not running.
    #[error("{0}")]
    ProviderNotReady(String),
    /// The operation is not supported by this session or build.
    #[error("{0}")]
    NotSupported(String),
    /// `respond_to_approval` was called with nothing pending (or a stale approval ID).
    #[error("{0}")]
    NoPendingApproval(String),
    /// The resource is in use.
    #[error("{0}")]
    Busy(String),
    /// A blocking call timed out.
    #[error("{0}")]
    Timeout(String),
    /// The call would wait for the thread it was made on (from inside an event callback).
    #[error("{0}")]
    ReentrantCall(String),
    /// The client is shutting down or has shut down.
    #[error("the client is shut down")]
    ShuttingDown,
    /// The client was created in another process (the caller is a forked child).
    #[error("the client was created in process {0}; it cannot be used after fork()")]
    Forked(u32),
    /// A filesystem operation failed.
    #[error("{0}")]
    Io(String),
    /// The model provider reported an error.
    #[error("{0}")]
    Provider(String),
    /// A panic was caught at the C boundary.
    #[error("internal panic: {0}")]
    Panic(String),
    /// A bug in tandem: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias used throughout tandem.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// The error for an unknown or stopped session ID.
    pub fn no_session(id: &str) -> Self {
        Error::NotFound(format!("no live session with id {id:?}"))
    }

    /// Parses JSON for the argument `what`: a syntax error is `InvalidJson` (with line and column), a well-formed
    /// document of the wrong shape is `InvalidArgument`.
    pub fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::InvalidJson(what, e.to_string()))?;
        serde_json::from_value(value).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_win_over_shape_errors() {
        let e = Error::parse_json::<Vec<u32>>("x", "[\"a\",").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidJson("x", m) if m.contains("line 1")),
            "{e:?}"
        );
        assert!(matches!(
            Error::parse_json::<Vec<u32>>("x", "[\"a\"]"),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(Error::parse_json::<Vec<u32>>("x", "[1]").unwrap(), vec![1]);
    }
}
