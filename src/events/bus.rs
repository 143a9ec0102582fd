//! The client's event bus: per-session sequence numbers and history, the pull queue, and hand-off to the dispatcher.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::dispatch::Dispatcher;
use super::queue::{EventQueue, Popped};
use super::{Event, Payload};
use crate::error::{Error, Result};
use crate::sync::lock;

/// A session's event stream: its next sequence number and a bounded history for `events_since`.
///
/// It outlives restarts of the session, so sequence numbers never repeat within the session's life in a client.
#[derive(Debug)]
pub struct SessionLog {
    id: Arc<str>,
    inner: Mutex<LogInner>,
}

#[derive(Debug)]
struct LogInner {
    next_seq: u64,
    history: VecDeque<Arc<Event>>,
    capacity: usize,
}

impl SessionLog {
    /// A new stream for session `id` keeping the last `capacity` events.
    pub fn new(id: &str, capacity: usize) -> Arc<Self> {
        Arc::new(SessionLog {
            id: id.into(),
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

/// Fans events out to the pull queue and to subscriptions.
pub struct EventBus {
    pull: Mutex<EventQueue>,
    /// Threads blocked in `next_event`, changed under the `pull` lock; publishers notify only when there are
    /// some (a condvar notify is a syscall even without waiters).
    pull_waiters: AtomicUsize,
    pull_enabled: bool,
    pull_cv: Condvar,
    client_seq: Arc<AtomicU64>,
    shutting_down: AtomicBool,
    history_capacity: usize,
    dispatcher: Arc<Dispatcher>,
}

impl EventBus {
    /// A bus whose queues hold about `queue_capacity` events and whose session histories keep `history_capacity`.
    /// With `pull_enabled` false nothing is kept for `next_event` (for hosts that only use callbacks).
    pub fn new(queue_capacity: usize, history_capacity: usize, pull_enabled: bool) -> Arc<Self> {
        let client_seq = Arc::new(AtomicU64::new(1));
        Arc::new(EventBus {
            pull: Mutex::new(EventQueue::new(queue_capacity)),
            pull_waiters: AtomicUsize::new(0),
            pull_enabled,
            pull_cv: Condvar::new(),
            client_seq: client_seq.clone(),
            shutting_down: AtomicBool::new(false),
            history_capacity,
            dispatcher: Dispatcher::start(queue_capacity, client_seq),
        })
    }

    /// A new per-session stream sized by this bus's configuration.
    pub fn new_log(&self, session_id: &str) -> Arc<SessionLog> {
        SessionLog::new(session_id, self.history_capacity)
    }

    /// The subscription dispatcher.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.dispatcher
    }

    /// Emits `payload` on `log`'s stream and returns its sequence number.
    ///
    /// Sequence assignment, history and enqueueing happen under the stream's lock, so every consumer sees a
    /// session's events in sequence order.
    pub fn publish(&self, log: &SessionLog, payload: Payload) -> u64 {
        let mut inner = lock(&log.inner);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let event = Arc::new(Event {
            seq,
            session_id: Some(log.id.clone()),
            payload,
        });
        if inner.history.len() == inner.capacity {
            inner.history.pop_front();
        }
        inner.history.push_back(event.clone());
        self.enqueue(event);
        seq
    }

    fn enqueue(&self, event: Arc<Event>) {
        if self.pull_enabled {
            let mut pull = lock(&self.pull);
            pull.push(event.clone());
            if self.pull_waiters.load(Ordering::Relaxed) > 0 {
                self.pull_cv.notify_one();
            }
        }
        self.dispatcher.enqueue(event);
    }

    /// Blocks up to `timeout` for the next event of the pull queue.
    pub fn next_event(&self, timeout: Duration) -> Result<Arc<Event>> {
        let deadline = Instant::now() + timeout;
        let mut queue = lock(&self.pull);
        loop {
            match queue.pop() {
                Some(Popped::Event(e)) => return Ok(e),
                Some(Popped::Dropped(count)) => {
                    let seq = self.client_seq.fetch_add(1, Ordering::Relaxed);
                    return Ok(Arc::new(Event {
                        seq,
                        session_id: None,
                        payload: Payload::EventsDropped { count },
                    }));
                }
                None => {}
            }
            if self.shutting_down.load(Ordering::Acquire) {
                return Err(Error::ShuttingDown);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout(format!(
                    "no event arrived within {} ms",
                    timeout.as_millis()
                )));
            }
            self.pull_waiters.fetch_add(1, Ordering::Relaxed);
            queue = self
                .pull_cv
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            self.pull_waiters.fetch_sub(1, Ordering::Relaxed);
        }
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

    /// Wakes every `next_event` waiter with `ShuttingDown` once the queue is empty, and stops the dispatcher after
    /// it delivered everything queued.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        {
            let _guard = lock(&self.pull);
            self.pull_cv.notify_all();
        }
        self.dispatcher.shutdown();
    }

    /// Whether [`EventBus::shutdown`] ran.
    pub fn is_shut_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::TurnEnd;

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

    #[test]
    fn shutdown_wakes_a_blocked_puller() {
        let bus = EventBus::new(16, 8, true);
        let waiter = {
            let bus = bus.clone();
            std::thread::spawn(move || bus.next_event(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(50));
        bus.shutdown();
        assert!(matches!(waiter.join().unwrap(), Err(Error::ShuttingDown)));
    }

    #[test]
    fn overflow_reports_events_dropped_on_the_client_stream() {
        let bus = EventBus::new(2, 8, true);
        let log = bus.new_log("s");
        for i in 0..3 {
            bus.publish(
                &log,
                Payload::TextDelta {
                    message_id: 1,
                    delta: format!("{i}"),
                },
            );
        }
        let first = bus.next_event(Duration::from_millis(10)).unwrap();
        assert_eq!(first.payload, Payload::EventsDropped { count: 1 });
        assert!(first.session_id.is_none());
        let text: String = (0..2)
            .map(
                |_| match &bus.next_event(Duration::from_millis(10)).unwrap().payload {
                    Payload::TextDelta { delta, .. } => delta.clone(),
                    p => panic!("{p:?}"),
                },
            )
            .collect();
        assert_eq!(text, "012", "coalescing loses no text");
        bus.shutdown();
    }
}
