//! Attaching a connection to a session: the broker token check, restoring a stored session, the role, and the
//! catch-up (snapshot, then every event after the client's cursor, then live events) that makes a reconnect lose
//! and repeat nothing.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::conn::Conn;
use super::outbox::Sink;
use super::roles::Want;
use super::rpc::{self, Params, RpcError};

/// The session a connection is attached to, and its event subscription.
pub struct Attached {
    /// The session ID.
    pub session: Arc<str>,
    sub: u64,
}

/// What a catch-up read from the session, under one look at its stream.
struct CatchUp {
    stream: Arc<str>,
    from: u64,
    latest: u64,
    events: Vec<Value>,
    resync: bool,
    snapshot: Value,
    messages: Option<Value>,
}

impl Conn {
    /// `session.attach {session_id, token, cursor?, stream?, role?}`.
    pub(super) async fn attach(
        &mut self,
        id: &Value,
        p: &Map<String, Value>,
    ) -> Result<Option<Value>, RpcError> {
        let session = p.str_of("session_id")?.to_string();
        let want = match p.opt_str("role")? {
            None | Some("auto") => Want::Auto,
            Some("viewer") => Want::Viewer,
            Some(other) => {
                return Err(RpcError::params(format!(
                    "role must be auto or viewer, not {other:?}"
                )))
            }
        };
        let sid = session.clone();
        // An ID that is not a valid session ID has no token: refused like a wrong token, telling nothing.
        let expected = self
            .blocking(move |c| Ok(c.broker_token(&sid).ok().flatten()))
            .await?;
        // An expired token is refused exactly like a wrong one (and counts as a failure for the rate limit).
        let max_age = self.shared.token_max_age_ms;
        let now = crate::time::wall_ms();
        self.check_token(p.opt_str("token")?, |g| {
            expected.as_ref().is_some_and(|e| {
                super::auth::tokens_equal(&e.token, g)
                    && !max_age.is_some_and(|m| e.expired(m, now))
            })
        })?;
        self.mark_session_auth();
        if let Some(a) = &self.attached {
            if *a.session != *session {
                return Err(RpcError::params(format!(
                    "this connection is attached to session {:?}: call session.detach first",
                    a.session
                )));
            }
        }
        let sid = session.clone();
        self.blocking(move |c| Ok(c.start_or_get_session(&sid, None)?))
            .await?;
        if self.attached.is_none() {
            let session: Arc<str> = session.into();
            self.outbox.begin_catch_up(&session);
            let sink = Box::new(Sink(self.outbox.clone()));
            let s = session.clone();
            let sub = self
                .blocking(move |c| Ok(c.subscribe(Some(&s), sink)?))
                .await?;
            self.shared
                .roles
                .join(&session, self.id, &self.outbox, want);
            self.attached = Some(Attached { session, sub });
        }
        self.send_catch_up(id, p).await?;
        Ok(None)
    }

    /// `session.catch_up {cursor?, stream?}`: the catch-up of an attach again (after `events_dropped`).
    pub(super) async fn catch_up(
        &mut self,
        id: &Value,
        p: &Map<String, Value>,
    ) -> Result<Option<Value>, RpcError> {
        self.send_catch_up(id, p).await?;
        Ok(None)
    }

    /// Pauses live events, reads the catch-up, sends the answer and the events after the cursor, then lets live
    /// events after them flow. The subscription is older than the read, so nothing falls between the two.
    async fn send_catch_up(&mut self, id: &Value, p: &Map<String, Value>) -> Result<(), RpcError> {
        let session = self.session()?;
        let cursor = p.opt_u64("cursor")?;
        let stream = p.opt_str("stream")?.map(str::to_string);
        self.outbox.begin_catch_up(&session);
        let s = session.clone();
        let read = self.blocking(move |c| {
            let (current, probe) = c.stream_since(&s, u64::MAX)?;
            let same = stream.as_deref().is_none_or(|x| x == &*current);
            let (from, mut resync) = match cursor {
                None => (probe.latest_seq, false),
                Some(n) if same && n <= probe.latest_seq => (n, false),
                // Another stream (the session or its gateway was restarted), or a seq it never reached.
                Some(_) => (0, true),
            };
            let (_, since) = c.stream_since(&s, from)?;
            resync |= since.truncated;
            let snapshot = c.snapshot(&s)?;
            let messages = if resync { Some(c.messages(&s)?) } else { None };
            Ok(CatchUp {
                stream: current,
                from,
                latest: since.latest_seq,
                events: since.events,
                resync,
                snapshot,
                messages,
            })
        });
        let up = match read.await {
            Ok(up) => up,
            Err(e) => {
                // Live events flow again from where they were; the client may retry.
                self.outbox.resume();
                return Err(e);
            }
        };
        let driver = self.shared.roles.driver(&session);
        let mut answer = json!({
            "session_id": &*session,
            "client_id": self.id,
            "role": if driver == Some(self.id) { "driver" } else { "viewer" },
            "driver": driver,
            "stream": &*up.stream,
            "cursor": up.from,
            "latest_seq": up.latest,
            "events": up.events.len(),
            "resync": up.resync,
            "snapshot": up.snapshot,
        });
        if let Some(m) = up.messages {
            answer["messages"] = m;
        }
        self.send(rpc::result(id, answer)).await;
        for e in &up.events {
            self.send(rpc::notification("event", e)).await;
        }
        self.resume(up.latest).await;
        Ok(())
    }

    /// Leaves the attached session: its role, then its subscription.
    pub(super) fn detach(&mut self) {
        let Some(a) = self.attached.take() else {
            return;
        };
        self.shared.roles.leave(&a.session, self.id);
        if let Some(c) = self.shared.client.upgrade() {
            let _ = c.unsubscribe(a.sub);
        }
    }
}
