//! The host provider: the model side of the native loop answered by a callback the host registers on its client.
//!
//! Each model call of a session whose model is `host:<name>` becomes one request to the callback (messages, tools,
//! model, thinking level, system prompt as JSON). The host streams the answer back with
//! [`HostProvider::emit`] from any thread; tandem's loop runs the tool calls it asks for (approvals included), so an
//! editor brings its own LLM client and keeps tandem's tools, transcript and persistence.

pub mod model;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::sync::lock;
pub use wire::HostEvent;

/// One model call as the host sees it (borrowed for the callback).
#[derive(Debug, Clone)]
pub struct Request {
    /// The calling session.
    pub session_id: String,
    /// Names the call in [`HostProvider::emit`]; unique within the client.
    pub request_id: u64,
    /// The request document (see [`wire::request_json`]).
    pub json: String,
}

/// The host side of the provider: the C callback and its userdata.
pub trait HostProviderSink: Send + Sync {
    /// Runs the host's callback for one request (on a tandem-owned thread).
    fn invoke(&self, request: &Request);
    /// Frees the userdata (called once, after the last callback).
    fn release(&self);
}

struct Registered(Box<dyn HostProviderSink>);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A request waiting for the host's events.
struct Pending {
    session_id: String,
    events: mpsc::UnboundedSender<HostEvent>,
}

/// A client's host provider: the registered callback and the requests it has not finished.
#[derive(Default)]
pub struct HostProvider {
    sink: RwLock<Option<Arc<Registered>>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    /// Set at client shutdown: later registrations are refused.
    closed: AtomicBool,
}

/// An open request; dropping it (the call finished, or its turn was aborted) makes the request ID stale.
pub struct OpenRequest<'a> {
    owner: &'a HostProvider,
    /// The request's ID.
    pub id: u64,
    /// The host's events for it, in emit order.
    pub events: mpsc::UnboundedReceiver<HostEvent>,
}

impl Drop for OpenRequest<'_> {
    fn drop(&mut self) {
        lock(&self.owner.pending).remove(&self.id);
    }
}

impl HostProvider {
    /// Registers `sink` (replacing and releasing any previous one after its running callbacks), or unregisters
    /// with `None`. After shutdown the sink is released at once and `ShuttingDown` returned.
    pub fn set(&self, sink: Option<Box<dyn HostProviderSink>>) -> Result<()> {
        let new = sink.map(|s| Arc::new(Registered(s)));
        if self.closed.load(Ordering::Acquire) {
            drop(new);
            return Err(Error::ShuttingDown);
        }
        let old = std::mem::replace(
            &mut *self.sink.write().unwrap_or_else(|e| e.into_inner()),
            new,
        );
        // Released outside the lock: the userdata_free callback may call back into tandem.
        drop(old);
        Ok(())
    }

    /// Unregisters the callback for good (client shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let old = self.sink.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(old);
    }

    fn sink(&self) -> Option<Arc<Registered>> {
        self.sink.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Opens a request of `session_id`.
    fn open(&self, session_id: &str) -> OpenRequest<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.pending).insert(
            id,
            Pending {
                session_id: session_id.into(),
                events: tx,
            },
        );
        OpenRequest {
            owner: self,
            id,
            events: rx,
        }
    }

    /// Passes the host's event `event_json` to request `request_id` of `session_id`. `done` and `error` finish the
    /// request. `NotFound` when the request is finished, aborted, never issued or another session's.
    pub fn emit(&self, session_id: &str, request_id: u64, event_json: &str) -> Result<()> {
        self.emit_event(session_id, request_id, HostEvent::parse(event_json)?)
    }

    /// Passes an already checked event of request `request_id` of `session_id`.
    pub fn emit_event(&self, session_id: &str, request_id: u64, event: HostEvent) -> Result<()> {
        let mut pending = lock(&self.pending);
        let stale = || {
            Error::NotFound(format!(
                "no open provider request {request_id} of session {session_id:?} (finished, aborted or never issued)"
            ))
        };
        let p = pending
            .get(&request_id)
            .filter(|p| p.session_id == session_id)
            .ok_or_else(stale)?;
        let last = event.is_last();
        let sent = p.events.send(event).is_ok();
        if last || !sent {
            pending.remove(&request_id);
        }
        if sent {
            Ok(())
        } else {
            Err(stale())
        }
    }

    /// Ends every open request of `session_id` (its turn was aborted): later emits are `NotFound`.
    pub fn cancel_session(&self, session_id: &str) {
        lock(&self.pending).retain(|_, p| p.session_id != session_id);
    }

    /// Whether request `request_id` no longer wants events: finished, aborted (its turn was aborted or its session
    /// stopped) or never issued.
    pub fn is_cancelled(&self, request_id: u64) -> bool {
        lock(&self.pending)
            .get(&request_id)
            .is_none_or(|p| p.events.is_closed())
    }

    /// Requests waiting for the host (tests).
    pub fn open_requests(&self) -> usize {
        lock(&self.pending).len()
    }
}
