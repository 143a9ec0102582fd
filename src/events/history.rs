//! A session's event stream: its sequence numbers, its name among all streams, and the bounded history
//! `events_since` answers from.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::bus::EventBus;
use super::{Event, Payload};
use crate::sync::lock;

/// A session's event stream: its next sequence number and a bounded history for `events_since`.
///
/// It outlives restarts of the session, so sequence numbers never repeat within the session's life in a client.
#[derive(Debug)]
pub struct SessionLog {
    id: Arc<str>,
    /// A sub-agent's parent session, carried by each of its events.
    parent: Option<Arc<str>>,
    /// Names this stream among every stream of every process: a session stopped and started again gets a new
    /// stream whose sequence numbers start at 1 again, so a remote cursor names the stream it counts in.
    stream: Arc<str>,
    pub(super) inner: Mutex<LogInner>,
}

/// A new stream name: a random per-process prefix (from the OS RNG, a counter if that fails) and a counter.
fn next_stream() -> Arc<str> {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        crate::ids::new_token()
            .map(|t| t.chars().take(16).collect())
            .unwrap_or_else(|_| format!("p{}", std::process::id()))
    });
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed)).into()
}

#[derive(Debug)]
pub(super) struct LogInner {
    pub(super) next_seq: u64,
    history: VecDeque<Arc<Event>>,
    capacity: usize,
}

impl SessionLog {
    /// A new stream for session `id` keeping the last `capacity` events.
    pub fn new(id: &str, capacity: usize) -> Arc<Self> {
        SessionLog::under(id, None, capacity)
    }

    /// A new stream for sub-agent `id` of `parent` (`None`: a top-level session).
    pub fn under(id: &str, parent: Option<&str>, capacity: usize) -> Arc<Self> {
        Arc::new(SessionLog {
            id: id.into(),
            parent: parent.map(Into::into),
            stream: next_stream(),
            inner: Mutex::new(LogInner {
                next_seq: 1,
                history: VecDeque::new(),
                capacity: capacity.max(1),
            }),
        })
    }

    /// The session ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The stream's name (see the field): equal names mean comparable sequence numbers.
    pub fn stream(&self) -> &Arc<str> {
        &self.stream
    }

    /// Makes `payload` event `seq` of this stream (the next one continues after it) and keeps it in the history.
    pub(super) fn record(&self, inner: &mut LogInner, seq: u64, payload: Payload) -> Arc<Event> {
        inner.next_seq = seq + 1;
        let event = Arc::new(Event {
            seq,
            session_id: Some(self.id.clone()),
            parent_session_id: self.parent.clone(),
            payload,
        });
        if inner.history.len() == inner.capacity {
            inner.history.pop_front();
        }
        inner.history.push_back(event.clone());
        event
    }
}

/// The answer of [`EventBus::events_since`].
#[derive(Debug, serde::Serialize)]
pub struct EventsSince {
    /// Raw JSON of the events after the requested sequence number, oldest first.
    pub events: Vec<serde_json::Value>,
    /// The newest sequence number the session has emitted (0 if none).
    pub latest_seq: u64,
    /// True when older events the caller asked for are no longer in the history.
    pub truncated: bool,
}

// The bus's queries of one stream: they read only the stream's own state, so they live beside it.
impl EventBus {
    /// The newest sequence number published on `log` (0 before any).
    pub fn latest_seq(&self, log: &SessionLog) -> u64 {
        lock(&log.inner).next_seq - 1
    }

    /// The events of `log` newer than `seq`, from its bounded history.
    pub fn events_since(&self, log: &SessionLog, seq: u64) -> EventsSince {
        let inner = lock(&log.inner);
        let latest_seq = inner.next_seq - 1;
        let oldest = inner.history.front().map_or(inner.next_seq, |e| e.seq);
        let events = inner
            .history
            .iter()
            .filter(|e| e.seq > seq)
            .map(|e| e.to_value())
            .collect();
        EventsSince {
            events,
            latest_seq,
            truncated: seq.saturating_add(1) < oldest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::events::TurnEnd;
    use std::time::Duration;

    #[test]
    fn sequence_numbers_are_per_session_and_start_at_one() {
        let bus = EventBus::new(16, 8, true);
        let a = bus.new_log("a");
        let b = bus.new_log("b");
        assert_eq!(bus.publish(&a, Payload::MessagesChanged), 1);
        assert_eq!(bus.publish(&a, Payload::MessagesChanged), 2);
        assert_eq!(bus.publish(&b, Payload::MessagesChanged), 1);
        let got: Vec<(String, u64)> = (0..3)
            .map(|_| bus.next_event(Duration::from_millis(10)).unwrap())
            .map(|e| (e.session_id.as_deref().unwrap().to_string(), e.seq))
            .collect();
        assert_eq!(got, vec![("a".into(), 1), ("a".into(), 2), ("b".into(), 1)]);
        assert!(matches!(
            bus.next_event(Duration::from_millis(5)),
            Err(Error::Timeout(_))
        ));
        bus.shutdown();
    }

    #[test]
    fn events_since_reports_truncation_from_the_bounded_history() {
        let bus = EventBus::new(16, 3, false);
        let log = bus.new_log("s");
        for _ in 0..5 {
            bus.publish(
                &log,
                Payload::TurnEnded {
                    usage: None,
                    reason: TurnEnd::Completed,
                },
            );
        }
        let all = bus.events_since(&log, 0);
        assert_eq!(all.latest_seq, 5);
        assert!(all.truncated);
        assert_eq!(
            all.events
                .iter()
                .map(|e| e["seq"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        let recent = bus.events_since(&log, 3);
        assert!(!recent.truncated);
        assert_eq!(recent.events.len(), 2);
        assert!(bus.events_since(&log, 5).events.is_empty());
        bus.shutdown();
    }
}
