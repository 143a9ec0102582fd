//! One gateway connection: the WebSocket handshake, authentication before anything else, and the request loop;
//! its writer task sends responses in order and the attached session's events from the outbox.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::attach::Attached;
use super::outbox::Outbox;
use super::rpc::{self, Params, RpcError};
use super::Shared;
use crate::client::Client;

/// How long a peer has for the WebSocket handshake and for its first (authenticating) request.
const AUTH_WAIT: Duration = Duration::from_secs(10);

/// What the request loop hands the writer.
pub enum Out {
    /// A rendered frame.
    Frame(String),
    /// The catch-up is written up to `floor`: send live events after it.
    Resume {
        /// The newest seq the client has now.
        floor: u64,
    },
    /// Close the connection with this code and reason.
    Close(CloseCode, &'static str),
}

/// What a connection has proven.
enum Auth {
    None,
    /// The gateway token: listing and starting sessions, and attaching with a session's token.
    Gateway,
    /// A session token, checked by the attach that carried it.
    Session,
}

/// Serves one accepted stream until it closes.
pub async fn serve<S>(shared: Arc<Shared>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // tungstenite closes frames past twice the limit; between the limit and that, the request is refused and the
    // connection stays usable.
    let hard = shared.max_message.saturating_mul(2);
    // Small buffers: tungstenite's defaults (128 KiB to read, 128 KiB before a write) cost ~200 KiB per idle
    // viewer; peers send little, and the writer flushes after each batch anyway.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(hard))
        .max_frame_size(Some(hard));
    let ws = tokio::time::timeout(
        AUTH_WAIT,
        tokio_tungstenite::accept_async_with_config(stream, Some(config)),
    )
    .await;
    let Ok(Ok(ws)) = ws else { return };
    let (sink, mut stream) = ws.split();
    let (tx, rx) = mpsc::channel(64);
    let outbox = Outbox::new(shared.limits);
    let conn = shared.next_conn();
    let writer = tokio::spawn(super::writer::run(
        sink,
        rx,
        outbox.clone(),
        shared.client.clone(),
        shared.ping,
    ));
    let mut state = Conn {
        shared: shared.clone(),
        id: conn,
        peer,
        tx,
        outbox,
        auth: Auth::None,
        attached: None,
    };
    // One deadline for the whole authentication, however many frames come before it.
    let auth_deadline = tokio::time::Instant::now() + AUTH_WAIT;
    loop {
        let next = if matches!(state.auth, Auth::None) {
            match tokio::time::timeout_at(auth_deadline, stream.next()).await {
                Ok(m) => m,
                Err(_) => {
                    state
                        .close(CloseCode::Policy, "no authentication in time")
                        .await;
                    break;
                }
            }
        } else {
            // The writer pings every `ping`; a live peer answers (its pong is a frame), a vanished one does not, and
            // its connection (and driver role) must not linger.
            match tokio::time::timeout(shared.ping * 2, stream.next()).await {
                Ok(m) => m,
                Err(_) => {
                    state.close(CloseCode::Away, "no answer to pings").await;
                    break;
                }
            }
        };
        let text = match next {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                let e = RpcError::new(
                    rpc::INVALID_REQUEST,
                    "invalid_request",
                    "binary frames are not accepted: send JSON-RPC as text",
                );
                state.send(rpc::error(&Value::Null, &e)).await;
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(WsError::Capacity(_))) => {
                state.close(CloseCode::Size, "message too big").await;
                break;
            }
            Some(Err(_)) => break,
        };
        if text.len() > shared.max_message {
            let e = RpcError::new(
                rpc::INVALID_REQUEST,
                "too_large",
                format!("the request is larger than {} bytes", shared.max_message),
            );
            state.send(rpc::error(&Value::Null, &e)).await;
            continue;
        }
        if !state.request(text.as_str()).await {
            break;
        }
        if matches!(state.auth, Auth::None) {
            // The first request did not authenticate (malformed, or bad params): no second chance on this
            // connection, so nobody holds one open unauthenticated.
            state.close(CloseCode::Policy, "authenticate first").await;
            break;
        }
    }
    // Dropping the state detaches (see `Drop for Conn`) and ends the writer once it sent what is queued.
    drop(state);
    let _ = writer.await;
}

/// A connection's state, owned by its request loop.
pub struct Conn {
    pub(super) shared: Arc<Shared>,
    pub(super) id: u64,
    peer: SocketAddr,
    tx: mpsc::Sender<Out>,
    pub(super) outbox: Arc<Outbox>,
    auth: Auth,
    pub(super) attached: Option<Attached>,
}

impl Conn {
    pub(super) async fn send(&self, frame: String) {
        let _ = self.tx.send(Out::Frame(frame)).await;
    }

    pub(super) async fn resume(&self, floor: u64) {
        let _ = self.tx.send(Out::Resume { floor }).await;
    }

    async fn close(&self, code: CloseCode, reason: &'static str) {
        let _ = self.tx.send(Out::Close(code, reason)).await;
    }

    /// Handles one request frame; false when the connection must close.
    async fn request(&mut self, text: &str) -> bool {
        let req = match rpc::parse(text) {
            Ok(r) => r,
            Err((id, e)) => {
                self.send(rpc::error(&id, &e)).await;
                return true;
            }
        };
        let id = req.id.clone().unwrap_or(Value::Null);
        if matches!(self.auth, Auth::None)
            && !matches!(req.method.as_str(), "auth" | "session.attach")
        {
            self.send(rpc::error(&id, &RpcError::unauthorized())).await;
            self.close(CloseCode::Policy, "authenticate first").await;
            return false;
        }
        let answer = match req.method.as_str() {
            "auth" => self.authenticate(&req.params),
            "session.attach" => self.attach(&id, &req.params).await,
            "session.catch_up" => self.catch_up(&id, &req.params).await,
            _ => self.call(&req.method, req.params).await,
        };
        match answer {
            // The attach and catch-up answers were sent with their events.
            Ok(None) => {}
            Ok(Some(v)) => {
                if req.id.is_some() {
                    self.send(rpc::result(&id, v)).await;
                }
            }
            Err(e) => {
                let refused = e.code == rpc::UNAUTHORIZED || e.code == rpc::RATE_LIMITED;
                if req.id.is_some() || refused {
                    self.send(rpc::error(&id, &e)).await;
                }
                if refused && !matches!(self.auth, Auth::Gateway | Auth::Session) {
                    self.close(CloseCode::Policy, "authentication failed").await;
                    return false;
                }
            }
        }
        true
    }

    /// Checks `given` with `matches` under the rate limit, recording a failure. A refused address is refused before
    /// its token is looked at.
    pub(super) fn check_token(
        &self,
        given: Option<&str>,
        matches: impl FnOnce(&str) -> bool,
    ) -> Result<(), RpcError> {
        let ip = self.peer.ip();
        if !self.shared.rate.allows(ip) {
            return Err(RpcError::new(
                rpc::RATE_LIMITED,
                "rate_limited",
                "too many failed authentications from this address; try again later",
            ));
        }
        if !given.is_some_and(matches) {
            self.shared.rate.failed(ip);
            return Err(RpcError::unauthorized());
        }
        Ok(())
    }

    fn authenticate(&mut self, p: &Map<String, Value>) -> Result<Option<Value>, RpcError> {
        let secret = self.shared.gateway_token.as_ref();
        self.check_token(p.opt_str("token")?, |g| {
            secret.is_some_and(|s| s.matches(g))
        })?;
        self.auth = Auth::Gateway;
        Ok(Some(json!({"client_id": self.id})))
    }

    pub(super) fn mark_session_auth(&mut self) {
        if matches!(self.auth, Auth::None) {
            self.auth = Auth::Session;
        }
    }

    /// Runs a client call off the runtime's workers (session calls wait for the session's actor).
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Client) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        let weak = self.shared.client.clone();
        let run = move || match weak.upgrade() {
            Some(c) => f(&c),
            None => Err(crate::error::Error::ShuttingDown.into()),
        };
        tokio::task::spawn_blocking(run).await.unwrap_or_else(|e| {
            Err(RpcError::new(
                rpc::CALL_FAILED,
                "internal",
                format!("the call failed: {e}"),
            ))
        })
    }

    /// Gateway-level methods, then the attached session's methods.
    async fn call(
        &mut self,
        method: &str,
        p: Map<String, Value>,
    ) -> Result<Option<Value>, RpcError> {
        match method {
            "sessions.list" => {
                self.need_gateway()?;
                return self
                    .blocking(|c| Ok(json!(c.list_sessions()?)))
                    .await
                    .map(Some);
            }
            "sessions.start" => {
                self.need_gateway()?;
                let options = p.get("options").map(Value::to_string);
                let id = p.opt_str("session_id")?.map(str::to_string);
                return self
                    .blocking(move |c| {
                        let sid = match id {
                            Some(id) => c.start_or_get_session(&id, options.as_deref())?,
                            None => c.start_session(options.as_deref())?,
                        };
                        let token = c.token(&sid)?;
                        Ok(json!({"session_id": sid, "token": token}))
                    })
                    .await
                    .map(Some);
            }
            "sessions.renew_token" => {
                self.need_gateway()?;
                let id = p.str_of("session_id")?.to_string();
                return self
                    .blocking(move |c| {
                        // Only a session the client runs or stores has a token to renew; a start restores it.
                        if c.broker_token(&id)?.is_none() {
                            return Err(
                                crate::error::Error::NotFound(format!("no session {id}")).into()
                            );
                        }
                        c.start_or_get_session(&id, None)?;
                        let token = c.renew_token(&id)?;
                        Ok(json!({"session_id": id, "token": token}))
                    })
                    .await
                    .map(Some);
            }
            "session.hand_over" => {
                let to = p.opt_u64("to")?;
                let s = self.session()?;
                return self
                    .shared
                    .roles
                    .hand_over(&s, self.id, to)
                    .map(|()| Some(Value::Null));
            }
            "session.take_over" => {
                let s = self.session()?;
                return self
                    .shared
                    .roles
                    .take_over(&s, self.id)
                    .map(|()| Some(Value::Null));
            }
            "session.detach" => {
                self.detach();
                return Ok(Some(Value::Null));
            }
            _ => {}
        }
        let Some(m) = super::methods::find(method) else {
            return Err(RpcError::new(
                rpc::METHOD_NOT_FOUND,
                "method_not_found",
                format!("no method {method:?}"),
            ));
        };
        let session = self.session()?;
        if m.driver && !self.shared.roles.is_driver(&session, self.id) {
            return Err(super::roles::not_driver());
        }
        let run = m.run;
        self.blocking(move |c| run(c, &session, &p)).await.map(Some)
    }

    fn need_gateway(&self) -> Result<(), RpcError> {
        match self.auth {
            Auth::Gateway => Ok(()),
            _ => Err(RpcError::new(
                rpc::UNAUTHORIZED,
                "unauthorized",
                "listing and starting sessions needs the gateway token (method auth)",
            )),
        }
    }

    /// The attached session, or `not_attached`.
    pub(super) fn session(&self) -> Result<Arc<str>, RpcError> {
        self.attached
            .as_ref()
            .map(|a| a.session.clone())
            .ok_or_else(|| {
                RpcError::new(
                    rpc::NOT_ATTACHED,
                    "not_attached",
                    "call session.attach first",
                )
            })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Also when the gateway stops and aborts this connection's task mid-request.
        self.detach();
    }
}
