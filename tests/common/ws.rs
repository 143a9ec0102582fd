//! A remote gateway peer for the tests: tokio-tungstenite's WebSocket client (not written here) speaking the
//! gateway's JSON-RPC, with every wait bounded so a broken gateway fails a test instead of hanging it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tandem::Client;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single wait of a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// A client with its own store directory (or none) and a large event history, shared for listening.
pub fn client(store: Option<&std::path::Path>) -> Arc<Client> {
    let store = store.map_or(Value::Null, |p| json!(p));
    let config = json!({"store_dir": store, "event_history_capacity": 100_000});
    Arc::new(Client::new(Some(&config.to_string())).expect("client starts"))
}

/// A runtime for the peers (the client has its own).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One connection to a gateway.
pub struct Peer {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next: u64,
    /// Notifications read while waiting for a response, oldest first.
    pub notes: VecDeque<Value>,
    /// Whether the gateway closed the connection.
    pub closed: bool,
    /// Every frame received, in order.
    pub log: Vec<Value>,
}

impl Peer {
    /// Connects over plain ws.
    pub async fn connect(url: &str) -> Peer {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Peer::from(ws)
    }

    /// Connects over plain ws with a small socket receive buffer (a peer that stops reading backs up sooner).
    pub async fn connect_small_buffer(url: &str) -> Peer {
        let addr: std::net::SocketAddr = url
            .trim_start_matches("ws://")
            .parse()
            .expect("ws://IP:port");
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(addr).await.expect("connect");
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)),
        )
        .await
        .expect("handshake in time")
        .expect("handshake");
        Peer::from(ws)
    }

    /// Wraps an established WebSocket.
    pub fn from(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Peer {
        Peer {
            ws,
            next: 1,
            notes: VecDeque::new(),
            closed: false,
            log: Vec::new(),
        }
    }

    /// Sends one text frame as it is.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next frame as JSON; `None` once the connection is closed (a close frame, its code in `close_code`).
    pub async fn recv(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time");
            match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("frames are JSON");
                    self.log.push(v.clone());
                    return Some(v);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The close code the gateway sent, reading until the connection ends.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("the close in time");
            match m {
                Some(Ok(Message::Close(f))) => {
                    self.closed = true;
                    return f.map(|f| f.code.into());
                }
                None | Some(Err(_)) => {
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Calls `method`; the result, or the error object. Notifications on the way are kept in `notes`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next;
        self.next += 1;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(&req.to_string()).await;
        self.answer(id).await
    }

    /// Reads until the response to request `id`.
    pub async fn answer(&mut self, id: u64) -> Result<Value, Value> {
        loop {
            let v = self
                .recv()
                .await
                .unwrap_or_else(|| panic!("closed before answering request {id}"));
            if v.get("id") == Some(&json!(id)) {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
            self.notes.push_back(v);
        }
    }

    /// The next response (a frame with an `id`, null for requests that could not be read); notifications on the
    /// way are kept in `notes`.
    pub async fn reply(&mut self) -> Value {
        loop {
            let v = self
                .recv()
                .await
                .expect("a response before the connection closed");
            if v.get("id").is_some() {
                return v;
            }
            self.notes.push_back(v);
        }
    }

    /// Calls `method` and expects success.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        match self.call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}"),
        }
    }

    /// The next notification (kept ones first).
    pub async fn note(&mut self) -> Option<Value> {
        if let Some(n) = self.notes.pop_front() {
            return Some(n);
        }
        self.recv().await
    }

    /// The next `event` notification's params, skipping other notifications.
    pub async fn event(&mut self) -> Option<Value> {
        loop {
            let n = self.note().await?;
            if n["method"] == "event" {
                return Some(n["params"].clone());
            }
        }
    }

    /// Events until one of `kind` (inclusive).
    pub async fn events_until(&mut self, kind: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = self
                .event()
                .await
                .unwrap_or_else(|| panic!("closed before {kind}: {out:?}"));
            let done = e["kind"] == kind;
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

/// The error name (`data.error`) of an error object.
pub fn error_name(e: &Value) -> &str {
    e["data"]["error"].as_str().unwrap_or("")
}

/// The seqs an event notification covers (a merged one covers `coalesced_from..=seq`).
pub fn seqs_of(e: &Value) -> std::ops::RangeInclusive<u64> {
    let seq = e["seq"].as_u64().expect("events have a seq");
    e["coalesced_from"].as_u64().unwrap_or(seq)..=seq
}
