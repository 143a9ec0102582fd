//! The client side of the gateway protocol: one WebSocket connection to a gateway that is kept open across drops.
//! Its owner (a [`Peer`]) says what to send first on every (re)connect (`auth`, or `session.attach` with its
//! cursor) and receives the notifications; host threads make blocking JSON-RPC calls through it.

pub mod wire;

use std::collections::HashMap;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::error::Error;
use crate::sync::lock;
use wire::{Frame, Target};

/// Why a call through a link failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The gateway answered with an error: its `data.error` name and message.
    Rpc {
        /// `data.error` (`not_found`, `not_driver`, ...).
        name: String,
        /// The error's message.
        message: String,
    },
    /// The connection failed, or was lost before the answer came (the call may or may not have run).
    Lost(String),
}

impl Failure {
    fn from_error(e: &Value) -> Failure {
        Failure::Rpc {
            name: e["data"]["error"]
                .as_str()
                .unwrap_or("internal")
                .to_string(),
            message: e["message"].as_str().unwrap_or("").to_string(),
        }
    }

    /// The C-API error the same failure of a local call would be.
    pub fn into_error(self) -> Error {
        let (name, message) = match self {
            Failure::Lost(why) => return Error::Io(why),
            Failure::Rpc { name, message } => (name, message),
        };
        match name.as_str() {
            "not_found" => Error::NotFound(message),
            "already_exists" => Error::AlreadyExists(message),
            "restart_pending" => Error::RestartPending(message),
            "provider_not_ready" => Error::ProviderNotReady(message),
            "not_supported" => Error::NotSupported(message),
            "no_pending_approval" => Error::NoPendingApproval(message),
            "busy" => Error::Busy(message),
            "timeout" => Error::Timeout(message),
            "reentrant_call" => Error::ReentrantCall(message),
            "shutting_down" => Error::ShuttingDown,
            "io" => Error::Io(message),
            "provider" => Error::Provider(message),
            "panic" => Error::Panic(message),
            "invalid_argument" | "invalid_params" | "too_large" => Error::InvalidArgument(message),
            "invalid_json" => Error::InvalidJson("a remote call's argument", message),
            // A viewer's driver call: the session is in use by another connection.
            "not_driver" => Error::Busy(format!("not_driver: {message}")),
            "unauthorized" => Error::InvalidArgument(format!("unauthorized: {message}")),
            "rate_limited" => Error::Busy(format!("rate_limited: {message}")),
            "method_not_found" => Error::NotSupported(format!(
                "the gateway does not know this call (an older tandem?): {message}"
            )),
            other => Error::Internal(format!("the gateway answered {other}: {message}")),
        }
    }
}

/// What a peer makes of an answer to its own request.
#[derive(Debug, Default)]
pub struct Answer {
    /// How many notifications that belong to it follow (a catch-up's events).
    pub events: usize,
    /// A request to send next (its answer comes back to [`Peer::answered`] too).
    pub then: Option<(&'static str, Value)>,
}

/// What owns a link: the first request of each connection, its answers, and the notifications.
pub trait Peer: Send + Sync + 'static {
    /// The request that opens every connection (`auth`, `session.attach`): method and params.
    fn hello(&self) -> (&'static str, Value);
    /// The answer to `hello` or to a request the peer asked for; an error gives the connection up for good.
    fn answered(&self, answer: Result<Value, Failure>) -> Result<Answer, Failure>;
    /// A notification; may ask for a request to be sent (its answer goes to [`Peer::answered`]).
    fn notified(&self, method: &str, params: Value) -> Option<(&'static str, Value)>;
    /// Whether there is nothing left to reconnect for.
    fn finished(&self) -> bool;
}

struct Call {
    method: String,
    params: Value,
    reply: std_mpsc::SyncSender<Result<Value, Failure>>,
}

/// A connection to a gateway, reconnected with backoff while its owner holds it.
pub struct Link {
    calls: mpsc::UnboundedSender<Call>,
    /// Why the link gave up for good, once it did.
    dead: Arc<Mutex<Option<Failure>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl Link {
    /// Connects to `target` on runtime `rt` and waits until `peer`'s hello is answered (and the notifications it
    /// announced arrived). Must not be called on one of `rt`'s threads.
    pub fn open(
        rt: &tokio::runtime::Handle,
        target: Target,
        peer: Arc<dyn Peer>,
    ) -> Result<Link, Failure> {
        let (calls, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready) = std_mpsc::sync_channel(1);
        let dead = Arc::new(Mutex::new(None));
        let task = rt.spawn(run(target, peer, rx, ready_tx, dead.clone()));
        match ready.recv() {
            Ok(Ok(())) => Ok(Link { calls, dead, task }),
            Ok(Err(f)) => Err(f),
            Err(_) => Err(Failure::Lost("the client's runtime stopped".into())),
        }
    }

    /// Calls `method` with `params` on the gateway and waits for the answer. While the link reconnects the call
    /// waits for the connection; it fails with [`Failure::Lost`] when a connection attempt fails or the
    /// connection drops before the answer.
    pub fn call(&self, method: &str, params: Value) -> Result<Value, Failure> {
        let (reply, answer) = std_mpsc::sync_channel(1);
        let call = Call {
            method: method.to_string(),
            params,
            reply,
        };
        if self.calls.send(call).is_err() {
            return Err(self.gone());
        }
        answer.recv().unwrap_or_else(|_| Err(self.gone()))
    }

    /// Closes the connection (at once, without a close handshake); calls fail from now on.
    pub fn close(&self) {
        self.task.abort();
    }

    fn gone(&self) -> Failure {
        lock(&self.dead)
            .clone()
            .unwrap_or_else(|| Failure::Lost("the connection to the gateway is closed".into()))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lost(url: &str) -> Failure {
    Failure::Lost(format!(
        "the connection to the gateway at {url} was lost before the answer came (the call may or may not have run)"
    ))
}

/// How one connection ended.
enum End {
    /// The owner dropped the link.
    Closed,
    /// The connection could not be made.
    Unreachable(Failure),
    /// It was made and then dropped; `greeted`: after the hello was answered.
    Dropped { greeted: bool },
    /// The gateway refused the hello: nothing to retry.
    Refused(Failure),
}

async fn run(
    target: Target,
    peer: Arc<dyn Peer>,
    mut calls: mpsc::UnboundedReceiver<Call>,
    ready: std_mpsc::SyncSender<Result<(), Failure>>,
    dead: Arc<Mutex<Option<Failure>>>,
) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(50);
    loop {
        let failed = match connection(&target, &*peer, &mut calls, &mut ready).await {
            End::Closed => return,
            End::Refused(f) => {
                give_up(f, &dead, &mut ready);
                return;
            }
            End::Dropped { greeted: true } => {
                delay = Duration::from_millis(50);
                None
            }
            End::Unreachable(f) => Some(f),
            // Closed before the hello was answered (a gateway at its connection limit, say): like a failed
            // connection.
            End::Dropped { greeted: false } => Some(Failure::Lost(format!(
                "the gateway at {} closed the connection before answering",
                target.url()
            ))),
        };
        if let Some(f) = failed {
            if ready.is_some() {
                // The first connection: `Link::open` reports it.
                give_up(f, &dead, &mut ready);
                return;
            }
            // Calls made while the gateway cannot be reached fail rather than wait without bound.
            while let Ok(c) = calls.try_recv() {
                let _ = c.reply.send(Err(f.clone()));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
        }
        if peer.finished() {
            return;
        }
    }
}

/// Ends the link for good with `f`: later calls fail with it, and a `Link::open` still waiting gets it.
fn give_up(
    f: Failure,
    dead: &Mutex<Option<Failure>>,
    ready: &mut Option<std_mpsc::SyncSender<Result<(), Failure>>>,
) {
    *lock(dead) = Some(f.clone());
    if let Some(r) = ready.take() {
        let _ = r.send(Err(f));
    }
}

async fn connection(
    target: &Target,
    peer: &dyn Peer,
    calls: &mut mpsc::UnboundedReceiver<Call>,
    ready: &mut Option<std_mpsc::SyncSender<Result<(), Failure>>>,
) -> End {
    let ws = match target.connect().await {
        Ok(ws) => ws,
        Err(e) => return End::Unreachable(Failure::Lost(e.to_string())),
    };
    let (mut sink, mut stream) = ws.split();
    // Answers are routed by request ID: `Some` to a caller, `None` to the peer.
    let mut pending: HashMap<u64, Option<std_mpsc::SyncSender<Result<Value, Failure>>>> =
        HashMap::new();
    let mut next = 1u64;
    let (method, params) = peer.hello();
    if sink
        .send(Message::text(wire::request(next, method, &params)))
        .await
        .is_err()
    {
        return End::Dropped { greeted: false };
    }
    pending.insert(next, None);
    next += 1;
    // Calls wait until the hello is answered and its notifications arrived, so they run on an attached session.
    let mut greeted = false;
    let mut following = 0usize;
    let end = loop {
        tokio::select! {
            call = calls.recv(), if greeted => {
                let Some(call) = call else {
                    let _ = sink.close().await;
                    return End::Closed;
                };
                let frame = wire::request(next, &call.method, &call.params);
                pending.insert(next, Some(call.reply));
                next += 1;
                if sink.send(Message::text(frame)).await.is_err() {
                    break End::Dropped { greeted };
                }
            }
            frame = stream.next() => {
                let text = match frame {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break End::Dropped { greeted },
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                };
                let mut ask = None;
                match wire::parse(text.as_str()) {
                    Some(Frame::Answer(id, answer)) => {
                        let answer = answer.map_err(|e| Failure::from_error(&e));
                        match pending.remove(&id) {
                            Some(Some(reply)) => {
                                let _ = reply.send(answer);
                            }
                            Some(None) => match peer.answered(answer) {
                                Ok(a) => {
                                    following = a.events;
                                    ask = a.then;
                                }
                                Err(f) if !greeted => return End::Refused(f),
                                Err(_) => {}
                            },
                            None => {}
                        }
                    }
                    Some(Frame::Note(method, params)) => {
                        let event = method == "event";
                        ask = peer.notified(&method, params);
                        if event && following > 0 {
                            following -= 1;
                        }
                    }
                    None => {}
                }
                if !greeted && ask.is_none() && !pending.values().any(Option::is_none) && following == 0 {
                    greeted = true;
                    if let Some(r) = ready.take() {
                        let _ = r.send(Ok(()));
                    }
                }
                if let Some((method, params)) = ask {
                    pending.insert(next, None);
                    let frame = wire::request(next, method, &params);
                    next += 1;
                    if sink.send(Message::text(frame)).await.is_err() {
                        break End::Dropped { greeted };
                    }
                }
            }
        }
    };
    for reply in pending.into_values().flatten() {
        let _ = reply.send(Err(lost(target.url())));
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_errors_map_to_the_local_calls_statuses() {
        let rpc = |name: &str| Failure::Rpc {
            name: name.into(),
            message: "why".into(),
        };
        assert_eq!(rpc("not_found").into_error(), Error::NotFound("why".into()));
        assert_eq!(rpc("busy").into_error(), Error::Busy("why".into()));
        assert_eq!(
            rpc("no_pending_approval").into_error(),
            Error::NoPendingApproval("why".into())
        );
        assert_eq!(
            rpc("not_driver").into_error(),
            Error::Busy("not_driver: why".into())
        );
        assert!(matches!(
            rpc("unauthorized").into_error(),
            Error::InvalidArgument(m) if m.starts_with("unauthorized:")
        ));
        assert!(matches!(
            rpc("method_not_found").into_error(),
            Error::NotSupported(_)
        ));
        assert!(matches!(
            rpc("something_new").into_error(),
            Error::Internal(_)
        ));
        assert_eq!(
            Failure::Lost("gone".into()).into_error(),
            Error::Io("gone".into())
        );
        let from = Failure::from_error(
            &serde_json::json!({"code": -32002, "message": "m", "data": {"error": "not_driver"}}),
        );
        assert_eq!(
            from,
            Failure::Rpc {
                name: "not_driver".into(),
                message: "m".into()
            }
        );
    }
}
