//! JSON-RPC 2.0 framing for the gateway: parsing a request frame, and rendering results, errors and notifications.

use serde_json::{json, Map, Value};

use crate::error::Error;

/// A JSON-RPC error object, with the gateway's name for it in `data.error`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC code: the standard ones (-32700 .. -32600) or the gateway's (-32000 .. -32099).
    pub code: i64,
    /// A snake_case name clients switch on (`not_driver`, `unauthorized`, `not_found`, ...).
    pub name: &'static str,
    /// Human-readable detail (never holds a token).
    pub message: String,
}

/// Frame is not JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON, but not a request object.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// The params do not fit the method.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// A tandem call failed; `data.error` names the tandem status.
pub(crate) const CALL_FAILED: i64 = -32000;
/// Authentication is missing or failed.
pub(crate) const UNAUTHORIZED: i64 = -32001;
/// A driver call from a viewer.
pub(crate) const NOT_DRIVER: i64 = -32002;
/// Too many failed authentications from this address.
pub(crate) const RATE_LIMITED: i64 = -32003;
/// A session call before `session.attach`.
pub(crate) const NOT_ATTACHED: i64 = -32004;

impl RpcError {
    /// An error with `code`, `name` and `message`.
    pub fn new(code: i64, name: &'static str, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            name,
            message: message.into(),
        }
    }

    /// `invalid_params` with `message`.
    pub fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, "invalid_params", message)
    }

    /// The refusal every failed authentication gets, whatever failed (so it tells nothing about which sessions
    /// exist).
    pub fn unauthorized() -> RpcError {
        RpcError::new(
            UNAUTHORIZED,
            "unauthorized",
            "authentication failed: wrong or missing token",
        )
    }

    /// The error object's JSON.
    pub fn to_value(&self) -> Value {
        json!({"code": self.code, "message": self.message, "data": {"error": self.name}})
    }
}

impl From<Error> for RpcError {
    fn from(e: Error) -> RpcError {
        let name = match &e {
            Error::NullArgument(_) | Error::InvalidUtf8(..) | Error::InvalidArgument(_) => {
                "invalid_argument"
            }
            Error::InvalidJson(..) => "invalid_json",
            Error::NotFound(_) => "not_found",
            Error::AlreadyExists(_) => "already_exists",
            Error::RestartPending(_) => "restart_pending",
            Error::ProviderNotReady(_) => "provider_not_ready",
            Error::NotSupported(_) => "not_supported",
            Error::NoPendingApproval(_) => "no_pending_approval",
            Error::Busy(_) => "busy",
            Error::Timeout(_) => "timeout",
            Error::ReentrantCall(_) => "reentrant_call",
            Error::ShuttingDown => "shutting_down",
            Error::Forked(_) => "forked",
            Error::Io(_) => "io",
            Error::Provider(_) => "provider",
            Error::Panic(_) => "panic",
            Error::Internal(_) => "internal",
        };
        RpcError::new(CALL_FAILED, name, e.to_string())
    }
}

/// A parsed request: `id` is `None` for a notification (which gets no answer).
#[derive(Debug)]
pub struct Request {
    /// The request ID as sent (number or string).
    pub id: Option<Value>,
    /// The method name.
    pub method: String,
    /// The params object (an absent params is an empty object).
    pub params: Map<String, Value>,
}

/// Parses one text frame. On failure, the ID to answer with (`null` when it could not be read) and the error.
pub fn parse(text: &str) -> Result<Request, (Value, RpcError)> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        (
            Value::Null,
            RpcError::new(PARSE_ERROR, "parse_error", format!("not JSON: {e}")),
        )
    })?;
    let invalid = |id: Value, why: &str| {
        (
            id,
            RpcError::new(INVALID_REQUEST, "invalid_request", why.to_string()),
        )
    };
    let Value::Object(mut o) = v else {
        return Err(invalid(
            Value::Null,
            "a request must be a JSON object (batches are not supported)",
        ));
    };
    let id = match o.remove("id") {
        None => None,
        Some(id @ (Value::Number(_) | Value::String(_) | Value::Null)) => Some(id),
        Some(_) => {
            return Err(invalid(
                Value::Null,
                "id must be a number, a string or null",
            ))
        }
    };
    let answer_id = id.clone().unwrap_or(Value::Null);
    if o.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(answer_id, "jsonrpc must be \"2.0\""));
    }
    let Some(Value::String(method)) = o.remove("method") else {
        return Err(invalid(answer_id, "method must be a string"));
    };
    let params = match o.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err((
                answer_id,
                RpcError::params("params must be an object (by-name parameters)"),
            ))
        }
    };
    Ok(Request { id, method, params })
}

/// A success response.
pub fn result(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// An error response.
pub fn error(id: &Value, e: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": e.to_value()}).to_string()
}

/// A notification with already-rendered JSON params (events are rendered once for every viewer).
pub fn notification_raw(method: &str, params_json: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params_json}}}"#)
}

/// A notification.
pub fn notification(method: &str, params: &Value) -> String {
    notification_raw(method, &params.to_string())
}

/// Parameter accessors that answer `invalid_params` naming the parameter.
pub trait Params {
    /// A required string.
    fn str_of(&self, key: &str) -> Result<&str, RpcError>;
    /// An optional string (absent or null: `None`).
    fn opt_str(&self, key: &str) -> Result<Option<&str>, RpcError>;
    /// An optional unsigned integer.
    fn opt_u64(&self, key: &str) -> Result<Option<u64>, RpcError>;
}

impl Params for Map<String, Value> {
    fn str_of(&self, key: &str) -> Result<&str, RpcError> {
        self.opt_str(key)?
            .ok_or_else(|| RpcError::params(format!("{key} is required")))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&str>, RpcError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(RpcError::params(format!("{key} must be a string"))),
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>, RpcError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| RpcError::params(format!("{key} must be a non-negative integer"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_frames_name_their_fault() {
        let r = parse(r#"{"jsonrpc":"2.0","id":7,"method":"status"}"#).unwrap();
        assert_eq!((r.id, r.method.as_str()), (Some(json!(7)), "status"));
        assert!(r.params.is_empty());
        assert_eq!(parse("{").unwrap_err().1.code, PARSE_ERROR);
        assert_eq!(parse("[]").unwrap_err().1.code, INVALID_REQUEST);
        let (id, e) = parse(r#"{"jsonrpc":"1.0","id":"x","method":"m"}"#).unwrap_err();
        assert_eq!((id, e.code), (json!("x"), INVALID_REQUEST));
        let (_, e) = parse(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}"#).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS);
        assert!(parse(r#"{"jsonrpc":"2.0","method":"m"}"#)
            .unwrap()
            .id
            .is_none());
    }

    #[test]
    fn tandem_errors_keep_their_status_name() {
        let e = RpcError::from(Error::NotFound("no session x".into()));
        assert_eq!(e.to_value()["data"]["error"], "not_found");
        assert_eq!(e.code, CALL_FAILED);
    }
}
