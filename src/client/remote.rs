//! A client's remote mode (config key `remote`): its session calls go to a remote gateway and the gateway's events
//! are republished on the client's own bus with the gateway's sequence numbers, so hosts use the same C API for
//! local and remote sessions. The connection is [`crate::remote::link`]; docs/remote.md, "Remote clients", says
//! which calls have no remote form.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::events::bus::{EventBus, EventsSince, SessionLog};
use crate::events::{EventKind, Payload, RemotePayload};
use crate::remote::link::wire::Target;
use crate::remote::link::{Answer, Failure, Link, Peer};
use crate::sync::lock;

/// The `remote` config object. The gateway token is never in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteConfig {
    url: Option<String>,
    gateway_token_file: Option<String>,
    gateway_token_env: Option<String>,
    ca_file: Option<String>,
}

const TOKEN_WHERE: &str =
    "the gateway token is never in the config JSON: name a file whose first line is the token \
     (remote.gateway_token_file) or an environment variable holding it (remote.gateway_token_env)";

/// Checks the `remote` config value without connecting.
pub fn check_config(v: &Value) -> Result<()> {
    parse(v).map(drop)
}

fn parse(v: &Value) -> Result<RemoteConfig> {
    let Value::Object(o) = v else {
        return Err(Error::invalid(
            "remote must be an object: {\"url\", \"gateway_token_file\" | \"gateway_token_env\", \"ca_file\"}",
        ));
    };
    if o.contains_key("token") || o.contains_key("gateway_token") {
        return Err(Error::invalid(TOKEN_WHERE));
    }
    let c: RemoteConfig =
        serde_json::from_value(v.clone()).map_err(|e| Error::invalid(format!("remote: {e}")))?;
    if c.url.is_none() {
        return Err(Error::invalid(
            "remote.url is required (ws://host:port or wss://host:port)",
        ));
    }
    if c.gateway_token_file.is_none() && c.gateway_token_env.is_none() {
        return Err(Error::invalid(TOKEN_WHERE));
    }
    Ok(c)
}

/// The control connection (`auth`, then `sessions.*`).
struct Control {
    token: crate::remote::auth::Secret,
}

impl Peer for Control {
    fn hello(&self) -> (&'static str, Value) {
        ("auth", json!({"token": self.token.expose()}))
    }

    fn answered(&self, answer: Result<Value, Failure>) -> Result<Answer, Failure> {
        answer.map(|_| Answer::default())
    }

    fn notified(&self, _: &str, _: Value) -> Option<(&'static str, Value)> {
        None
    }

    fn finished(&self) -> bool {
        false
    }
}

/// One attached session's side of its connection: its cursor (the newest seq published on its log) and stream,
/// and whether it ended.
struct Session {
    id: String,
    token: String,
    bus: Arc<EventBus>,
    log: Arc<SessionLog>,
    state: Mutex<State>,
    ended: Condvar,
}

#[derive(Default)]
struct State {
    /// The gateway's stream the cursor counts in, after the first attach.
    stream: Option<String>,
    /// The next event starts a new stream (the gateway restarted): its seq may be below the cursor.
    restart: bool,
    /// Whether this connection drove the session at its last attach.
    driver: bool,
    ended: bool,
}

impl Session {
    fn is_ended(&self) -> bool {
        lock(&self.state).ended
    }

    /// Waits until the session's `session_stopped` was published here.
    fn wait_ended(&self, limit: Duration) -> bool {
        let st = lock(&self.state);
        let (st, _) = self
            .ended
            .wait_timeout_while(st, limit, |s| !s.ended)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.ended
    }

    fn publish(&self, event: Value) {
        let Value::Object(fields) = event else { return };
        if fields.get("session_id").and_then(Value::as_str) != Some(self.id.as_str()) {
            return;
        }
        let Some(seq) = fields.get("seq").and_then(Value::as_u64) else {
            return;
        };
        // A kind this build does not know (a newer gateway) cannot be typed for hosts: it is skipped.
        let Some(payload) = RemotePayload::from_event(fields) else {
            return;
        };
        let stopped = payload.kind == EventKind::SessionStopped;
        let mut st = lock(&self.state);
        if st.ended {
            // Its stream ended here (session_stopped, or this client's shutdown): nothing comes after that.
            return;
        }
        let restart = std::mem::take(&mut st.restart);
        self.bus
            .publish_at(&self.log, seq, Payload::Remote(payload), restart);
        if stopped {
            st.ended = true;
            self.ended.notify_all();
        }
    }
}

impl Peer for Session {
    fn hello(&self) -> (&'static str, Value) {
        let st = lock(&self.state);
        let mut p = json!({"session_id": self.id, "token": self.token, "role": "auto"});
        // First attach: every event the gateway's history holds; later ones: those after the cursor.
        p["cursor"] = json!(self.bus.latest_seq(&self.log));
        if let Some(s) = &st.stream {
            p["stream"] = json!(s);
        }
        ("session.attach", p)
    }

    fn answered(&self, answer: Result<Value, Failure>) -> Result<Answer, Failure> {
        let v = answer?;
        let mut st = lock(&self.state);
        let Some(stream) = v.get("stream").and_then(Value::as_str) else {
            // The answer to a take-over.
            st.driver = true;
            return Ok(Answer::default());
        };
        if st.stream.as_deref().is_some_and(|s| s != stream) {
            st.restart = true;
        }
        let again = st.stream.is_some();
        st.stream = Some(stream.to_string());
        let was_driver = st.driver;
        st.driver = v["role"] == "driver";
        // Reconnected before the gateway noticed the old connection's end, the driver came back as a viewer.
        let take_over =
            (again && was_driver && !st.driver).then(|| ("session.take_over", json!({})));
        Ok(Answer {
            events: v["events"].as_u64().unwrap_or(0) as usize,
            then: take_over,
        })
    }

    fn notified(&self, method: &str, params: Value) -> Option<(&'static str, Value)> {
        match method {
            "event" => {
                self.publish(params);
                None
            }
            "events_dropped" => {
                let stream = lock(&self.state).stream.clone();
                let cursor = params["resume_from"]
                    .as_u64()
                    .unwrap_or_else(|| self.bus.latest_seq(&self.log));
                Some((
                    "session.catch_up",
                    json!({"cursor": cursor, "stream": stream}),
                ))
            }
            _ => None,
        }
    }

    fn finished(&self) -> bool {
        self.is_ended()
    }
}

struct Attached {
    session: Arc<Session>,
    link: Link,
}

/// A client's connection to its gateway and its attached sessions.
pub struct Remote {
    rt: tokio::runtime::Handle,
    target: Target,
    bus: Arc<EventBus>,
    control: Link,
    sessions: Mutex<HashMap<String, Arc<Attached>>>,
    /// Held while a session is started and attached, so two starts of one ID do not attach it twice.
    starting: Mutex<()>,
}

/// How long a remote stop waits for the session's `session_stopped` to arrive.
const STOP_WAIT: Duration = Duration::from_secs(30);

impl Remote {
    /// Connects to the gateway `config` names and authenticates with its token.
    pub fn connect(
        rt: tokio::runtime::Handle,
        bus: Arc<EventBus>,
        config: &Value,
    ) -> Result<Remote> {
        let c = parse(config)?;
        let token = crate::remote::auth::gateway_token(
            c.gateway_token_file.as_deref(),
            c.gateway_token_env.as_deref(),
        )?
        .ok_or_else(|| Error::invalid(TOKEN_WHERE))?;
        let target = Target::new(c.url.as_deref().unwrap_or_default(), c.ca_file.as_deref())?;
        let control =
            Link::open(&rt, target.clone(), Arc::new(Control { token })).map_err(|f| match f {
                Failure::Rpc { name, .. } if name == "unauthorized" || name == "rate_limited" => {
                    Error::invalid(format!(
                        "{name}: the gateway at {} refused the gateway token",
                        target.url()
                    ))
                }
                f => f.into_error(),
            })?;
        Ok(Remote {
            rt,
            target,
            bus,
            control,
            sessions: Mutex::new(HashMap::new()),
            starting: Mutex::new(()),
        })
    }

    /// `sessions.start` (with `session_id`: start or get), then `session.attach`; returns the session's ID.
    pub fn start(&self, options_json: Option<&str>, id: Option<&str>) -> Result<String> {
        let mut params = json!({});
        if let Some(text) = options_json {
            let options: Value = Error::parse_json("options_json", text)?;
            if !options.is_object() {
                return Err(Error::invalid("options_json must be a JSON object"));
            }
            if let Some(id) = id {
                if options
                    .get("session_id")
                    .is_some_and(|given| given.as_str() != Some(id))
                {
                    return Err(Error::invalid(
                        "options_json carries a session_id different from id",
                    ));
                }
            }
            params["options"] = options;
        }
        let _starting = lock(&self.starting);
        if let Some(id) = id {
            if self.attached(id).is_ok() {
                return Ok(id.to_string());
            }
        }
        if let Some(id) = id {
            params["session_id"] = json!(id);
        }
        let started = self
            .control
            .call("sessions.start", params)
            .map_err(Failure::into_error)?;
        let (Some(sid), Some(token)) = (started["session_id"].as_str(), started["token"].as_str())
        else {
            return Err(Error::Internal(
                "sessions.start answered no session_id and token".into(),
            ));
        };
        self.attach(sid, token)?;
        Ok(sid.to_string())
    }

    fn attach(&self, id: &str, token: &str) -> Result<()> {
        let session = Arc::new(Session {
            id: id.to_string(),
            token: token.to_string(),
            bus: self.bus.clone(),
            log: self.bus.new_log(id),
            state: Mutex::new(State::default()),
            ended: Condvar::new(),
        });
        let link = Link::open(&self.rt, self.target.clone(), session.clone())
            .map_err(Failure::into_error)?;
        lock(&self.sessions).insert(id.to_string(), Arc::new(Attached { session, link }));
        Ok(())
    }

    /// The attached session `id`; `NotFound` when it is not attached or has ended.
    fn attached(&self, id: &str) -> Result<Arc<Attached>> {
        let mut sessions = lock(&self.sessions);
        match sessions.get(id) {
            Some(a) if !a.session.is_ended() => Ok(a.clone()),
            Some(_) => {
                sessions.remove(id);
                Err(Error::no_session(id))
            }
            None => Err(Error::no_session(id)),
        }
    }

    /// Session method `method` of session `id` on the gateway.
    pub fn call(&self, id: &str, method: &str, params: Value) -> Result<Value> {
        let a = self.attached(id)?;
        a.link.call(method, params).map_err(Failure::into_error)
    }

    /// The error of call `name` (no remote form) on session `id`: `NotFound` when it is not attached, as locally.
    pub fn unsupported_for(&self, id: &str, name: &str) -> Error {
        match self.attached(id) {
            Err(e) => e,
            Ok(_) => unsupported(name),
        }
    }

    /// Stops session `id` on the gateway and returns once its `session_stopped` was published here.
    pub fn stop(&self, id: &str) -> Result<()> {
        let a = self.attached(id)?;
        let result = a
            .link
            .call("stop", json!({}))
            .map(drop)
            .map_err(Failure::into_error);
        if result.is_ok() && !a.session.wait_ended(STOP_WAIT) {
            return Err(Error::Timeout(format!(
                "session {id} stopped on the gateway, but its session_stopped event did not arrive within {} s",
                STOP_WAIT.as_secs()
            )));
        }
        if result.is_ok() || matches!(result, Err(Error::NotFound(_))) {
            lock(&self.sessions).remove(id);
        }
        result
    }

    /// The gateway's session list.
    pub fn list(&self) -> Result<Value> {
        self.control
            .call("sessions.list", json!({}))
            .map_err(Failure::into_error)
    }

    /// The session's broker token, as the gateway gave it.
    pub fn token(&self, id: &str) -> Result<String> {
        Ok(self.attached(id)?.session.token.clone())
    }

    /// Session `id`'s events after `seq`, from this client's own history of them.
    pub fn events_since(&self, id: &str, seq: u64) -> Result<EventsSince> {
        let a = self.attached(id)?;
        Ok(self.bus.events_since(&a.session.log, seq))
    }

    /// Closes every session's connection; the sessions keep running on the gateway. Each attached session's stream
    /// ends here as a local client's does at shutdown: with a `session_stopped` (reason `shutdown`) this client
    /// publishes itself, one seq past the last it saw.
    pub fn close(&self) {
        let attached: Vec<Arc<Attached>> = lock(&self.sessions).drain().map(|(_, a)| a).collect();
        for a in attached {
            a.link.close();
            let session = &a.session;
            let mut st = lock(&session.state);
            if !st.ended {
                st.ended = true;
                self.bus.publish(
                    &session.log,
                    Payload::SessionStopped {
                        reason: crate::events::StopReason::Shutdown,
                        detail: None,
                    },
                );
            }
        }
    }
}

/// The error of a call a remote client has no form for.
pub fn unsupported(call: &str) -> Error {
    Error::NotSupported(format!(
        "{call} is not supported by a remote client (the gateway protocol has no method for it; docs/remote.md, \
         \"Remote clients\", lists the calls that are)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let bus = EventBus::new(1024, 1024, true);
        Session {
            id: "s".into(),
            token: "t".into(),
            log: bus.new_log("s"),
            bus,
            state: Mutex::new(State::default()),
            ended: Condvar::new(),
        }
    }

    fn event(seq: u64, kind: &str) -> Value {
        json!({"seq": seq, "session_id": "s", "kind": kind, "message_id": 1, "delta": "x"})
    }

    #[test]
    fn the_cursor_is_the_last_seq_published_and_duplicates_are_skipped() {
        let s = session();
        assert_eq!(s.hello().1["cursor"], 0);
        assert!(s.hello().1.get("stream").is_none());
        let a = s
            .answered(Ok(json!({"stream": "A", "role": "driver", "events": 2})))
            .unwrap();
        assert_eq!((a.events, a.then), (2, None));
        for seq in [1, 2, 2, 1, 3] {
            s.notified("event", event(seq, "text_delta"));
        }
        // Another session's event is not this one's.
        s.notified(
            "event",
            json!({"seq": 9, "session_id": "other", "kind": "text_delta"}),
        );
        let since = s.bus.events_since(&s.log, 0);
        let seqs: Vec<u64> = since
            .events
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        let (method, p) = s.hello();
        assert_eq!(
            (method, &p["cursor"], &p["stream"]),
            ("session.attach", &json!(3), &json!("A"))
        );
        // Dropped events are caught up from where the gateway says.
        let (method, p) = s
            .notified("events_dropped", json!({"resume_from": 3}))
            .unwrap();
        assert_eq!(
            (method, &p["cursor"], &p["stream"]),
            ("session.catch_up", &json!(3), &json!("A"))
        );
    }

    #[test]
    fn a_driver_back_as_a_viewer_takes_over_and_a_new_stream_restarts_seqs() {
        let s = session();
        s.answered(Ok(json!({"stream": "A", "role": "driver", "events": 0})))
            .unwrap();
        s.notified("event", event(5, "text_delta"));
        let again = s
            .answered(Ok(json!({"stream": "B", "role": "viewer", "events": 1})))
            .unwrap();
        assert_eq!(again.then.map(|(m, _)| m), Some("session.take_over"));
        s.answered(Ok(Value::Null)).unwrap();
        assert!(lock(&s.state).driver);
        // The gateway restarted: its new stream counts from 1 again.
        s.notified("event", event(1, "text_delta"));
        assert_eq!(s.bus.latest_seq(&s.log), 1);
        // session_stopped ends it: nothing after, and no reconnecting.
        s.notified(
            "event",
            json!({"seq": 2, "session_id": "s", "kind": "session_stopped", "reason": "stopped"}),
        );
        s.notified("event", event(3, "text_delta"));
        assert!(s.finished());
        assert_eq!(s.bus.latest_seq(&s.log), 2);
        assert!(s.answered(Err(Failure::Lost("x".into()))).is_err());
    }
}
