//! A thin JSON-RPC 2.0 connection over newline-delimited JSON (ACP's stdio transport), on the caller's tokio
//! runtime: one task reads lines, one writes them; requests we send wait on a oneshot for their response.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// Longest line read: a bigger message is a protocol error (and cannot exhaust memory).
const MAX_LINE: usize = 64 << 20;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The code: -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid params,
    /// -32603 internal error, -32800 request cancelled; ACP adds -32000 auth required, -32002 resource not found.
    pub code: i64,
    /// What went wrong.
    pub message: String,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// -32602: the params do not fit the method.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(-32602, message)
    }

    /// -32603: the request was fine, handling it failed.
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(-32603, message)
    }

    /// The error a request gets when the connection closes before its response.
    fn closed() -> RpcError {
        RpcError::new(-32603, "the connection closed")
    }

    fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A message from the peer that is not a response to one of ours.
#[derive(Debug)]
pub enum Incoming {
    /// A request: answer it with [`Connection::respond`].
    Request {
        /// Its ID, echoed in the response.
        id: Value,
        /// The method.
        method: String,
        /// Its params (`null` when absent).
        params: Value,
    },
    /// A notification.
    Notification {
        /// The method.
        method: String,
        /// Its params.
        params: Value,
    },
}

type Waiters = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<Value, RpcError>>>>>>;

/// One side of a connection: sends requests, notifications and responses; incoming messages arrive on the
/// receiver [`spawn`] returns. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Connection {
    out: mpsc::UnboundedSender<String>,
    waiters: Waiters,
    next_id: AtomicU64,
}

/// How many bytes of queued messages one write gathers at most.
const WRITE_BATCH: usize = 256 * 1024;

/// Starts a connection reading `reader` and writing `writer` on the current runtime. The receiver ends (`None`)
/// when the peer closes its end or sends a line too long to be a message; requests still waiting then fail.
pub fn spawn<R, W>(reader: R, writer: W) -> (Arc<Connection>, mpsc::UnboundedReceiver<Incoming>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut lines) = mpsc::unbounded_channel::<String>();
    let (incoming, rx) = mpsc::unbounded_channel();
    let waiters: Waiters = Arc::new(Mutex::new(Some(HashMap::new())));
    let conn = Arc::new(Connection {
        out,
        waiters: waiters.clone(),
        next_id: AtomicU64::new(1),
    });
    tokio::spawn(async move {
        let mut writer = writer;
        let mut buf = Vec::new();
        while let Some(line) = lines.recv().await {
            // Every message already queued goes out in the same write: a streamed turn queues its chunks faster
            // than one write each can carry them (tokio's stdout makes each write a hand-off to another thread).
            buf.clear();
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            while buf.len() < WRITE_BATCH {
                let Ok(more) = lines.try_recv() else { break };
                buf.extend_from_slice(more.as_bytes());
                buf.push(b'\n');
            }
            if writer.write_all(&buf).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let replies = conn.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .await;
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) if buf.len() > MAX_LINE => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(msg) => route(msg, &waiters, &incoming, &replies),
                Err(e) => replies.send(json!({"jsonrpc": "2.0", "id": null,
                    "error": RpcError::new(-32700, format!("parse error: {e}")).to_json()})),
            }
        }
        // Whatever still waits for an answer gets none: fail it, and refuse later requests.
        let pending = waiters.lock().unwrap_or_else(|e| e.into_inner()).take();
        for (_, w) in pending.into_iter().flatten() {
            let _ = w.send(Err(RpcError::closed()));
        }
    });
    (conn, rx)
}

/// Sorts one parsed message: a response goes to its waiter, a request or notification to the receiver.
fn route(
    msg: Value,
    waiters: &Waiters,
    incoming: &mpsc::UnboundedSender<Incoming>,
    conn: &Connection,
) {
    let method = msg
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string);
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    match (method, msg.get("id")) {
        (Some(method), Some(id)) => {
            let _ = incoming.send(Incoming::Request {
                id: id.clone(),
                method,
                params,
            });
        }
        (Some(method), None) => {
            let _ = incoming.send(Incoming::Notification { method, params });
        }
        (None, Some(id)) => {
            let Some(id) = id.as_u64() else { return };
            let waiter = waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
                .and_then(|w| w.remove(&id));
            let Some(waiter) = waiter else { return };
            let answer = match msg.get("error") {
                Some(e) => Err(RpcError::new(
                    e.get("code").and_then(Value::as_i64).unwrap_or(-32603),
                    e.get("message").and_then(Value::as_str).unwrap_or("error"),
                )),
                None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = waiter.send(answer);
        }
        (None, None) => conn.send(json!({"jsonrpc": "2.0", "id": null,
            "error": RpcError::new(-32600, "invalid request: neither a method nor an id").to_json()})),
    }
}

impl Connection {
    fn send(&self, msg: Value) {
        // A closed writer means the peer is gone; the reader's end tells the owner.
        let _ = self.out.send(msg.to_string());
    }

    /// Sends request `method` and waits for its result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            let Some(w) = waiters.as_mut() else {
                return Err(RpcError::closed());
            };
            w.insert(id, tx);
        }
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        rx.await.unwrap_or_else(|_| Err(RpcError::closed()))
    }

    /// Sends notification `method`.
    pub fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Answers request `id`.
    pub fn respond(&self, id: Value, result: Result<Value, RpcError>) {
        self.send(match result {
            Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
            Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_meet_their_responses_and_notifications_arrive() {
        let (a_io, b_io) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a_io);
        let (br, bw) = tokio::io::split(b_io);
        let (a, _a_in) = spawn(ar, aw);
        let (b, mut b_in) = spawn(br, bw);
        let ask = tokio::spawn({
            let a = a.clone();
            async move { a.request("echo", json!({"x": 1})).await }
        });
        let Some(Incoming::Request { id, method, params }) = b_in.recv().await else {
            panic!("no request")
        };
        assert_eq!((method.as_str(), &params), ("echo", &json!({"x": 1})));
        b.respond(id, Err(RpcError::invalid_params("no")));
        assert_eq!(ask.await.unwrap(), Err(RpcError::invalid_params("no")));
        a.notify("note", json!([]));
        let Some(Incoming::Notification { method, .. }) = b_in.recv().await else {
            panic!("no notification")
        };
        assert_eq!(method, "note");
    }

    #[tokio::test]
    async fn a_request_fails_when_the_peer_closes_without_answering() {
        let (a_io, b_io) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a_io);
        let (a, _a_in) = spawn(ar, aw);
        let ask = tokio::spawn(async move { a.request("never", Value::Null).await });
        let mut b = BufReader::new(b_io);
        let mut line = String::new();
        b.read_line(&mut line).await.unwrap();
        assert!(line.contains("\"never\""), "{line}");
        drop(b);
        assert_eq!(ask.await.unwrap(), Err(RpcError::closed()));
    }

    #[tokio::test]
    async fn garbage_gets_a_parse_error_and_the_connection_goes_on() {
        let (a_io, b_io) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a_io);
        let (a, mut a_in) = spawn(ar, aw);
        let (mut br, mut bw) = tokio::io::split(b_io);
        bw.write_all(b"not json\n{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\n")
            .await
            .unwrap();
        let mut reader = BufReader::new(&mut br);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["error"]["code"], -32700);
        assert!(matches!(
            a_in.recv().await,
            Some(Incoming::Notification { .. })
        ));
        drop(a);
    }
}
