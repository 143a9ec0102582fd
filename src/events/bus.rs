//! The client's event bus: publishing on session streams (numbered and kept by history.rs), the pull queue and its
//! readiness fd, and hand-off to the dispatcher.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::dispatch::Dispatcher;
use super::queue::EventQueue;
use super::{Event, EventKind, Payload};
use crate::error::{Error, Result};
use crate::sync::lock;
use crate::sys::ReadyFd;

pub use super::history::{EventsSince, SessionLog};

/// The pull queue and the sessions whose streams are open (announced by `session_started`, not yet ended by
/// `session_stopped`), under one lock so a filtered puller sees a session's last event and its end atomically.
struct Pull {
    queue: EventQueue,
    open: HashSet<Arc<str>>,
    /// The readiness descriptor, created by the first [`EventBus::ready_fd`] call.
    ready: Option<ReadyFd>,
    /// Whether `ready` was last made readable (so publishers write to it only on the empty -> non-empty edge).
    signaled: bool,
}

/// Fans events out to the pull queue and to subscriptions.
pub struct EventBus {
    pull: Mutex<Pull>,
    /// Threads blocked in `next_event`, changed under the `pull` lock; publishers notify only when there are
    /// some (a condvar notify is a syscall even without waiters).
    pull_waiters: AtomicUsize,
    /// Threads blocked in `next_session_event`, changed under the `pull` lock. While there are some, publishers
    /// wake every waiter: a single wake-up could reach a puller of another session and be lost.
    filtered_waiters: AtomicUsize,
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
            pull: Mutex::new(Pull {
                queue: EventQueue::new(queue_capacity),
                open: HashSet::new(),
                ready: None,
                signaled: false,
            }),
            pull_waiters: AtomicUsize::new(0),
            filtered_waiters: AtomicUsize::new(0),
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

    /// A new event stream for sub-agent `session_id` of `parent` (its events carry the parent's ID).
    pub fn new_log_under(&self, session_id: &str, parent: Option<&str>) -> Arc<SessionLog> {
        SessionLog::under(session_id, parent, self.history_capacity)
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
        let mut batch = Vec::with_capacity(1);
        let seq = self.publish_all(log, std::iter::once(payload), &mut batch);
        seq.unwrap_or_default()
    }

    /// Emits `payloads` on `log`'s stream, in order, as one batch: the stream's lock, the pull queue's lock and
    /// the dispatcher's queue are each taken once for all of them (and the dispatcher woken at most once), with
    /// the same sequence numbers and order as publishing them one by one. `scratch` is a buffer the caller reuses
    /// between batches (left empty). Returns the last sequence number, `None` for no payloads.
    pub fn publish_all(
        &self,
        log: &SessionLog,
        payloads: impl IntoIterator<Item = Payload>,
        scratch: &mut Vec<Arc<Event>>,
    ) -> Option<u64> {
        let mut inner = lock(&log.inner);
        for payload in payloads {
            let seq = inner.next_seq;
            scratch.push(log.record(&mut inner, seq, payload));
        }
        let last = scratch.last().map(|e| e.seq);
        self.enqueue(scratch);
        last
    }

    /// Emits `payload` on `log`'s stream with the sequence number `seq` another process gave it (a remote gateway's
    /// event): the stream continues from there. Events at or below the stream's newest seq are ignored (a duplicate
    /// of one already published) unless `restart` says the remote stream began anew. Returns whether it was
    /// published.
    pub fn publish_at(&self, log: &SessionLog, seq: u64, payload: Payload, restart: bool) -> bool {
        let mut inner = lock(&log.inner);
        if seq < inner.next_seq && !restart {
            return false;
        }
        let event = log.record(&mut inner, seq, payload);
        self.enqueue(&mut vec![event]);
        true
    }

    /// Hands `events` (drained) to the pull queue and the dispatcher.
    fn enqueue(&self, events: &mut Vec<Arc<Event>>) {
        // By kind, so events republished from a remote gateway open and close streams too.
        let lifecycle = |e: &Event| {
            matches!(
                e.kind(),
                EventKind::SessionStarted | EventKind::SessionStopped
            )
        };
        if self.pull_enabled || events.iter().any(|e| lifecycle(e)) {
            let mut pull = lock(&self.pull);
            for event in events.iter() {
                if let Some(id) = event.session_id.as_ref().filter(|_| lifecycle(event)) {
                    if event.kind() == EventKind::SessionStarted {
                        pull.open.insert(id.clone());
                    } else {
                        pull.open.remove(id);
                    }
                }
                if self.pull_enabled {
                    pull.queue.push(event.clone());
                }
            }
            if self.pull_enabled {
                self.sync_ready(&mut pull);
                if self.filtered_waiters.load(Ordering::Relaxed) > 0 {
                    self.pull_cv.notify_all();
                } else if self.pull_waiters.load(Ordering::Relaxed) > 0 {
                    self.pull_cv.notify_one();
                }
            }
        }
        self.dispatcher.enqueue(events);
    }

    /// Makes the readiness descriptor (if any) match the queue: readable while anything is queued for pulling or
    /// after shutdown, drained otherwise. Called under the pull lock after every change of the queue.
    fn sync_ready(&self, pull: &mut Pull) {
        let want = !pull.queue.is_empty() || self.shutting_down.load(Ordering::Acquire);
        if want == pull.signaled {
            return;
        }
        if let Some(ready) = &pull.ready {
            if want {
                ready.set();
            } else {
                ready.clear();
            }
        }
        pull.signaled = want;
    }

    /// The readiness descriptor, created on first use: readable while the pull queue holds events (or a drop
    /// count), drained by the pulls that empty it, and readable for good after shutdown. It is owned by the bus and
    /// closed when the bus is dropped. `InvalidArgument` when nothing is kept for pulling (`pull_events` off).
    pub fn ready_fd(&self) -> Result<i32> {
        if !self.pull_enabled {
            return Err(Error::invalid(
                "the client's pull_events option is off: nothing is queued for pulling",
            ));
        }
        let mut pull = lock(&self.pull);
        if let Some(ready) = &pull.ready {
            return Ok(ready.fd());
        }
        let ready = ReadyFd::new()
            .map_err(|e| Error::Io(format!("cannot create the readiness descriptor: {e}")))?;
        let fd = ready.fd();
        pull.ready = Some(ready);
        pull.signaled = false;
        self.sync_ready(&mut pull);
        Ok(fd)
    }

    /// Takes the next item of the queue (a drop count becomes an `events_dropped` event on the client's stream).
    fn pop_one(&self, pull: &mut Pull) -> Option<Arc<Event>> {
        let popped = pull.queue.pop()?.into_event(&self.client_seq);
        self.sync_ready(pull);
        Some(popped)
    }

    /// Takes up to `max` events of the pull queue without waiting, oldest first (possibly none).
    /// `ShuttingDown` once the client is shut down and the queue is drained.
    pub fn next_events(&self, max: usize) -> Result<Vec<Arc<Event>>> {
        let mut pull = lock(&self.pull);
        let mut out = Vec::new();
        while out.len() < max {
            match self.pop_one(&mut pull) {
                Some(e) => out.push(e),
                None => break,
            }
        }
        if out.is_empty() && self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        Ok(out)
    }

    /// Blocks up to `timeout` for the next event of the pull queue.
    pub fn next_event(&self, timeout: Duration) -> Result<Arc<Event>> {
        let deadline = Instant::now() + timeout;
        let mut pull = lock(&self.pull);
        loop {
            if let Some(e) = self.pop_one(&mut pull) {
                return Ok(e);
            }
            pull = self.wait_pull(pull, deadline, &self.pull_waiters, || {
                format!("no event arrived within {} ms", timeout.as_millis())
            })?;
        }
    }

    /// One wait of a puller on the pull queue until `deadline`, counted in `waiters`: `ShuttingDown` after
    /// shutdown, `Timeout` (with `what`) once the deadline passed, else the lock again after a wake-up.
    fn wait_pull<'a>(
        &self,
        pull: MutexGuard<'a, Pull>,
        deadline: Instant,
        waiters: &AtomicUsize,
        what: impl FnOnce() -> String,
    ) -> Result<MutexGuard<'a, Pull>> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout(what()));
        }
        waiters.fetch_add(1, Ordering::Relaxed);
        let pull = self
            .pull_cv
            .wait_timeout(pull, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        waiters.fetch_sub(1, Ordering::Relaxed);
        Ok(pull)
    }

    /// Blocks up to `timeout` for the oldest event of session `session_id` in the pull queue, leaving every other
    /// event queued in order (for other pullers and unfiltered pulls). Client-level events are not returned here.
    ///
    /// `NotFound` when the session's stream is not open (never started in this client, or its `session_stopped`
    /// was published, as it is for every session at shutdown) and none of its events are queued: a puller gets a
    /// session's `session_stopped` and then `NotFound`, never a wait for events that cannot come.
    pub fn next_session_event(&self, session_id: &str, timeout: Duration) -> Result<Arc<Event>> {
        let deadline = Instant::now() + timeout;
        let mut pull = lock(&self.pull);
        loop {
            if let Some(e) = pull.queue.pop_session(session_id) {
                self.sync_ready(&mut pull);
                return Ok(e);
            }
            if !pull.open.contains(session_id) {
                return Err(Error::no_session(session_id));
            }
            pull = self.wait_pull(pull, deadline, &self.filtered_waiters, || {
                format!(
                    "no event of session {session_id:?} arrived within {} ms",
                    timeout.as_millis()
                )
            })?;
        }
    }

    /// Wakes every `next_event` waiter with `ShuttingDown` once the queue is empty, and stops the dispatcher after
    /// it delivered everything queued.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        {
            let mut pull = lock(&self.pull);
            self.sync_ready(&mut pull);
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

    fn started() -> Payload {
        Payload::SessionStarted {
            model: "scripted:echo".into(),
            provider: "native".into(),
            background: false,
        }
    }

    fn stopped() -> Payload {
        Payload::SessionStopped {
            reason: crate::events::StopReason::Stopped,
            detail: None,
        }
    }

    fn ids_and_seqs(events: Vec<Arc<Event>>) -> Vec<(String, u64)> {
        events
            .into_iter()
            .map(|e| (e.session_id.as_deref().unwrap_or("-").to_string(), e.seq))
            .collect()
    }

    #[test]
    fn filtered_pulls_take_one_sessions_events_and_leave_the_rest_in_order() {
        let bus = EventBus::new(64, 8, true);
        let a = bus.new_log("a");
        let b = bus.new_log("b");
        bus.publish(&a, started());
        bus.publish(&b, started());
        for _ in 0..2 {
            bus.publish(&a, Payload::MessagesChanged);
            bus.publish(&b, Payload::MessagesChanged);
        }
        bus.publish(&a, stopped());
        let short = Duration::from_millis(5);
        let from_a: Vec<Arc<Event>> = (0..4)
            .map(|_| bus.next_session_event("a", short).unwrap())
            .collect();
        assert_eq!(
            ids_and_seqs(from_a),
            vec![
                ("a".into(), 1),
                ("a".into(), 2),
                ("a".into(), 3),
                ("a".into(), 4)
            ]
        );
        // a's stream ended and nothing of it is queued: NotFound, not a wait.
        assert!(matches!(
            bus.next_session_event("a", Duration::from_secs(30)),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            bus.next_session_event("never", short),
            Err(Error::NotFound(_))
        ));
        // b is open and drained by nobody yet: the unfiltered pull still sees all of it, in order.
        let rest: Vec<Arc<Event>> = (0..3).map(|_| bus.next_event(short).unwrap()).collect();
        assert_eq!(
            ids_and_seqs(rest),
            vec![("b".into(), 1), ("b".into(), 2), ("b".into(), 3)]
        );
        assert!(matches!(
            bus.next_session_event("b", short),
            Err(Error::Timeout(_))
        ));
        bus.shutdown();
    }

    #[test]
    fn a_filtered_waiter_is_woken_by_its_session_even_when_others_publish() {
        let bus = EventBus::new(64, 8, true);
        let a = bus.new_log("a");
        let b = bus.new_log("b");
        bus.publish(&a, started());
        bus.publish(&b, started());
        assert_eq!(bus.next_event(Duration::ZERO).unwrap().seq, 1);
        assert_eq!(bus.next_event(Duration::ZERO).unwrap().seq, 1);
        let waiters: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|id| {
                let bus = bus.clone();
                std::thread::spawn(move || bus.next_session_event(id, Duration::from_secs(30)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        bus.publish(&b, Payload::MessagesChanged);
        bus.publish(&a, Payload::MessagesChanged);
        bus.publish(&a, Payload::MessagesChanged);
        let got: Vec<Arc<Event>> = waiters
            .into_iter()
            .map(|w| w.join().unwrap().unwrap())
            .collect();
        assert_eq!(ids_and_seqs(got), vec![("a".into(), 2), ("b".into(), 2)]);
        let left = bus.next_event(Duration::ZERO).unwrap();
        assert_eq!(ids_and_seqs(vec![left]), vec![("a".into(), 3)]);
        bus.shutdown();
    }

    fn readable(fd: i32) -> bool {
        crate::sys::poll_readable(fd, 0)
    }

    #[test]
    fn the_ready_fd_follows_the_pull_queue_and_wakes_for_shutdown() {
        let bus = EventBus::new(64, 8, true);
        let log = bus.new_log("s");
        bus.publish(&log, Payload::MessagesChanged);
        let fd = bus.ready_fd().unwrap();
        assert_eq!(bus.ready_fd().unwrap(), fd, "one descriptor per bus");
        assert!(readable(fd), "events queued before the first call count");
        for _ in 0..4 {
            bus.publish(&log, Payload::MessagesChanged);
        }
        let batch = bus.next_events(3).unwrap();
        assert_eq!(
            batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(readable(fd), "still readable while events remain");
        assert_eq!(bus.next_events(10).unwrap().len(), 2);
        assert!(!readable(fd), "drained when the queue became empty");
        assert!(bus.next_events(10).unwrap().is_empty());
        bus.publish(&log, Payload::MessagesChanged);
        assert!(readable(fd));
        bus.next_event(Duration::ZERO).unwrap();
        assert!(!readable(fd), "single pulls drain it too");
        bus.publish(&log, Payload::MessagesChanged);
        bus.shutdown();
        assert!(readable(fd));
        assert_eq!(bus.next_events(10).unwrap().len(), 1);
        assert!(readable(fd), "readable for good after shutdown");
        assert!(matches!(bus.next_events(10), Err(Error::ShuttingDown)));
    }

    #[test]
    fn no_ready_fd_without_pulling() {
        let bus = EventBus::new(16, 8, false);
        assert!(matches!(bus.ready_fd(), Err(Error::InvalidArgument(_))));
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
