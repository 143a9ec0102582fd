//! The dispatcher thread that runs subscription callbacks, one at a time, in sequence order.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::queue::EventQueue;
use super::Event;
use crate::error::{Error, Result};
use crate::sync::lock;

/// An event ready for delivery, borrowed for the call: its JSON is rendered once per event, whatever the number of
/// subscribers, into a buffer the dispatcher reuses for every batch (no allocation per event).
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The event itself.
    pub event: &'a Event,
    /// NUL-terminated session ID, if any (shared between consecutive events of the same session).
    pub session_id: Option<&'a CStr>,
    /// NUL-terminated JSON document.
    pub json: &'a CStr,
}

/// Receives events on the dispatcher thread.
pub trait EventSink: Send + Sync {
    /// Called for each event, never concurrently with itself and never while tandem holds a lock.
    fn deliver(&self, event: &Prepared<'_>);
    /// Called exactly once, when the subscription ends; nothing is delivered afterwards.
    fn release(&self);
}

struct Subscription {
    id: u64,
    filter: Option<Arc<str>>,
    sink: Box<dyn EventSink>,
    /// Cleared (under the subscription lock) when the subscription ends; checked before every delivery.
    active: AtomicBool,
}

struct Subs {
    list: Arc<Vec<Arc<Subscription>>>,
    running: Option<u64>,
    /// Threads in `unsubscribe` waiting for a running callback; deliveries notify only when there are some.
    waiting: usize,
    next_id: u64,
    closed: bool,
}

struct Work {
    queue: EventQueue,
    stop: bool,
    /// The dispatcher thread is blocked on `work_cv`. Publishers notify only then: a condvar notify is a futex
    /// syscall even without waiters, which at a million events per second costs more than the delivery itself.
    idle: bool,
}

static NEXT_DISPATCHER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// On a dispatcher thread: (dispatcher id, subscription whose callback is running).
    static CURRENT: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Owns the dispatcher thread and the subscription list of one client.
pub struct Dispatcher {
    id: u64,
    work: Mutex<Work>,
    work_cv: Condvar,
    subs: Mutex<Subs>,
    subs_cv: Condvar,
    has_subs: AtomicBool,
    client_seq: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts the dispatcher thread.
    pub fn start(capacity: usize, client_seq: Arc<AtomicU64>) -> Arc<Self> {
        let d = Arc::new(Dispatcher {
            id: NEXT_DISPATCHER.fetch_add(1, Ordering::Relaxed),
            work: Mutex::new(Work {
                queue: EventQueue::new(capacity),
                stop: false,
                idle: false,
            }),
            work_cv: Condvar::new(),
            subs: Mutex::new(Subs {
                list: Arc::new(Vec::new()),
                running: None,
                waiting: 0,
                next_id: 1,
                closed: false,
            }),
            subs_cv: Condvar::new(),
            has_subs: AtomicBool::new(false),
            client_seq,
            thread: Mutex::new(None),
        });
        let runner = d.clone();
        let handle = std::thread::Builder::new()
            .name("tandem-dispatch".into())
            .spawn(move || runner.run())
            .expect("spawning the dispatcher thread");
        *lock(&d.thread) = Some(handle);
        d
    }

    /// True when called from inside one of this dispatcher's callbacks.
    pub fn on_dispatcher_thread(&self) -> bool {
        CURRENT.with(|c| matches!(c.get(), Some((id, _)) if id == self.id))
    }

    /// Queues `events` (drained) for subscribers, waking the dispatcher at most once (a no-op while there are no
    /// subscribers).
    pub fn enqueue(&self, events: &mut Vec<Arc<Event>>) {
        if !self.has_subs.load(Ordering::Acquire) {
            events.clear();
            return;
        }
        let mut work = lock(&self.work);
        if work.stop {
            events.clear();
            return;
        }
        for event in events.drain(..) {
            work.queue.push(event);
        }
        let idle = work.idle;
        drop(work);
        if idle {
            self.work_cv.notify_one();
        }
    }

    /// Adds a subscription; `filter` limits it to one session's events (plus client-level ones).
    pub fn subscribe(&self, filter: Option<&str>, sink: Box<dyn EventSink>) -> Result<u64> {
        let mut subs = lock(&self.subs);
        if subs.closed {
            drop(subs);
            sink.release();
            return Err(Error::ShuttingDown);
        }
        let id = subs.next_id;
        subs.next_id += 1;
        let mut list = (*subs.list).clone();
        list.push(Arc::new(Subscription {
            id,
            filter: filter.map(Into::into),
            sink,
            active: AtomicBool::new(true),
        }));
        subs.list = Arc::new(list);
        self.has_subs.store(true, Ordering::Release);
        Ok(id)
    }

    /// Ends a subscription. On return its callback is not running and never runs again, and its sink was released.
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        if CURRENT.with(|c| c.get()) == Some((self.id, id)) {
            return Err(Error::ReentrantCall(
                "a callback cannot unsubscribe its own subscription; unsubscribe from another thread or after it returns"
                    .into(),
            ));
        }
        let mut subs = lock(&self.subs);
        let Some(sub) = subs.list.iter().find(|s| s.id == id).cloned() else {
            return Err(Error::NotFound(format!("no subscription {id}")));
        };
        let list: Vec<_> = subs.list.iter().filter(|s| s.id != id).cloned().collect();
        self.has_subs.store(!list.is_empty(), Ordering::Release);
        subs.list = Arc::new(list);
        sub.active.store(false, Ordering::Release);
        while subs.running == Some(id) {
            subs.waiting += 1;
            subs = self.subs_cv.wait(subs).unwrap_or_else(|e| e.into_inner());
            subs.waiting -= 1;
        }
        drop(subs);
        sub.sink.release();
        Ok(())
    }

    /// Delivers everything queued, stops the thread, and releases every remaining subscription.
    /// Must not be called from a callback (the caller checks [`Dispatcher::on_dispatcher_thread`]).
    pub fn shutdown(&self) {
        {
            let mut work = lock(&self.work);
            work.stop = true;
        }
        self.work_cv.notify_all();
        if let Some(handle) = lock(&self.thread).take() {
            // Dropping the last client reference inside a callback must not make the thread join itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        let remaining = {
            let mut subs = lock(&self.subs);
            subs.closed = true;
            let list = std::mem::take(&mut subs.list);
            for s in list.iter() {
                s.active.store(false, Ordering::Release);
            }
            self.has_subs.store(false, Ordering::Release);
            list
        };
        for s in remaining.iter() {
            s.sink.release();
        }
    }

    fn run(&self) {
        let mut batch = Batch::default();
        // The C form of the last session ID seen: a stream's consecutive events reuse it instead of allocating.
        let mut sid: Option<(Arc<str>, Arc<CStr>)> = None;
        loop {
            {
                let mut work = lock(&self.work);
                while work.queue.is_empty() && !work.stop {
                    work.idle = true;
                    work = self.work_cv.wait(work).unwrap_or_else(|e| e.into_inner());
                    work.idle = false;
                }
                if work.queue.is_empty() && work.stop {
                    return;
                }
                while let Some(item) = work.queue.pop() {
                    batch.events.push(item.into_event(&self.client_seq));
                    if batch.events.len() == BATCH {
                        break;
                    }
                }
            }
            batch.render(&mut sid);
            self.deliver(&batch);
            batch.clear();
        }
    }

    /// Delivers a rendered batch: to each subscription in turn, the batch's events it wants, in sequence order.
    /// A subscription is marked running once for its share of the batch (not per event), and its `active` flag is
    /// checked before every event, so an unsubscribe still returns only when its callback has run for the last time.
    fn deliver(&self, batch: &Batch) {
        let list = lock(&self.subs).list.clone();
        for sub in list.iter() {
            {
                let mut subs = lock(&self.subs);
                if !sub.active.load(Ordering::Acquire) {
                    continue;
                }
                subs.running = Some(sub.id);
            }
            CURRENT.with(|c| c.set(Some((self.id, sub.id))));
            for prepared in batch.iter() {
                let wanted = match (&sub.filter, &prepared.event.session_id) {
                    (Some(f), Some(s)) => f == s,
                    _ => true,
                };
                if !wanted {
                    continue;
                }
                if !sub.active.load(Ordering::Acquire) {
                    break;
                }
                // A panicking Rust sink must not kill the dispatcher; C callbacks cannot unwind into us.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sub.sink.deliver(&prepared)
                }));
            }
            CURRENT.with(|c| c.set(None));
            let mut subs = lock(&self.subs);
            subs.running = None;
            if subs.waiting > 0 {
                self.subs_cv.notify_all();
            }
        }
    }
}

/// Most events the dispatcher takes from its queue at once (one lock of the queue, one rendering pass).
const BATCH: usize = 256;

/// Events taken from the queue together, rendered into one buffer: each event's JSON followed by a NUL, so the
/// callbacks get pointers into the buffer instead of a string allocated per event.
#[derive(Default)]
struct Batch {
    events: Vec<Arc<Event>>,
    /// The NUL-terminated JSON documents, one after another.
    json: Vec<u8>,
    /// Where each event's document ends in `json` (after its NUL).
    ends: Vec<usize>,
    /// Each event's session ID in C form.
    sids: Vec<Option<Arc<CStr>>>,
}

impl Batch {
    fn render(&mut self, sid: &mut Option<(Arc<str>, Arc<CStr>)>) {
        for event in &self.events {
            event.write_json(&mut self.json);
            // serde_json escapes NUL in strings, so the terminator is the document's only NUL.
            self.json.push(0);
            self.ends.push(self.json.len());
            self.sids.push(event.session_id.as_ref().map(|s| match sid {
                Some((id, c)) if Arc::ptr_eq(id, s) || **id == **s => c.clone(),
                _ => {
                    let c: Arc<CStr> = CString::new(&**s).expect("session IDs have no NUL").into();
                    *sid = Some((s.clone(), c.clone()));
                    c
                }
            }));
        }
    }

    fn iter(&self) -> impl Iterator<Item = Prepared<'_>> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.events
            .iter()
            .zip(starts.zip(&self.ends))
            .zip(&self.sids)
            .map(|((event, (start, &end)), sid)| Prepared {
                event,
                session_id: sid.as_deref(),
                json: CStr::from_bytes_with_nul(&self.json[start..end])
                    .expect("one NUL, at the end"),
            })
    }

    fn clear(&mut self) {
        self.events.clear();
        self.json.clear();
        self.ends.clear();
        self.sids.clear();
    }
}

/// A sink backed by a Rust closure, for the safe API and tests.
pub struct FnSink<F: Fn(&Prepared<'_>) + Send + Sync>(pub F);

impl<F: Fn(&Prepared<'_>) + Send + Sync> EventSink for FnSink<F> {
    fn deliver(&self, event: &Prepared<'_>) {
        (self.0)(event)
    }
    fn release(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::bus::EventBus;
    use crate::events::{Event, Payload};
    use std::sync::mpsc;
    use std::time::Duration;

    struct Probe {
        tx: Mutex<mpsc::Sender<String>>,
        released: Arc<AtomicU64>,
    }
    impl EventSink for Probe {
        fn deliver(&self, e: &Prepared<'_>) {
            let _ = lock(&self.tx).send(e.json.to_str().unwrap().to_string());
        }
        fn release(&self) {
            self.released.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn subscribers_get_events_in_order_and_release_exactly_once() {
        let bus = EventBus::new(64, 8, false);
        let (tx, rx) = mpsc::channel();
        let released = Arc::new(AtomicU64::new(0));
        let id = bus
            .dispatcher()
            .subscribe(
                Some("a"),
                Box::new(Probe {
                    tx: Mutex::new(tx),
                    released: released.clone(),
                }),
            )
            .unwrap();
        let a = bus.new_log("a");
        let b = bus.new_log("b");
        for _ in 0..3 {
            bus.publish(&a, Payload::MessagesChanged);
            bus.publish(&b, Payload::MessagesChanged);
        }
        let seqs: Vec<u64> = (0..3)
            .map(|_| {
                let v: serde_json::Value =
                    serde_json::from_str(&rx.recv_timeout(Duration::from_secs(5)).unwrap())
                        .unwrap();
                assert_eq!(v["session_id"], "a");
                v["seq"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        bus.dispatcher().unsubscribe(id).unwrap();
        assert_eq!(released.load(Ordering::SeqCst), 1);
        assert!(matches!(
            bus.dispatcher().unsubscribe(id),
            Err(Error::NotFound(_))
        ));
        bus.shutdown();
        assert_eq!(released.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_callback_cannot_unsubscribe_itself_but_can_unsubscribe_others() {
        let bus = EventBus::new(64, 8, false);
        let d = bus.dispatcher().clone();
        let other = d.subscribe(None, Box::new(FnSink(|_| {}))).unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let d2 = d.clone();
        let me = Arc::new(AtomicU64::new(0));
        let me2 = me.clone();
        let id = d
            .subscribe(
                None,
                Box::new(FnSink(move |_| {
                    let own = d2.unsubscribe(me2.load(Ordering::SeqCst));
                    let theirs = d2.unsubscribe(other);
                    let _ = lock(&tx).send((own.err(), theirs.is_ok()));
                })),
            )
            .unwrap();
        me.store(id, Ordering::SeqCst);
        let log = bus.new_log("s");
        bus.publish(&log, Payload::MessagesChanged);
        let (own, theirs) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(matches!(own, Some(Error::ReentrantCall(_))), "{own:?}");
        assert!(theirs);
        bus.shutdown();
    }

    type Seen = Arc<Mutex<Vec<(u64, Option<String>, String)>>>;

    /// A sink recording (seq, session ID, JSON) of every event it gets.
    fn recorder() -> (Seen, Box<dyn EventSink>) {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let sink = FnSink(move |p: &Prepared<'_>| {
            lock(&s).push((
                p.event.seq,
                p.session_id.map(|c| c.to_str().unwrap().to_string()),
                p.json.to_str().unwrap().to_string(),
            ))
        });
        (seen, Box::new(sink))
    }

    #[test]
    fn batches_render_each_event_as_its_own_document_for_every_subscription() {
        let bus = EventBus::new(1 << 16, 8, false);
        let d = bus.dispatcher().clone();
        let (all, sink) = recorder();
        d.subscribe(None, sink).unwrap();
        let (only_b, sink) = recorder();
        d.subscribe(Some("b"), sink).unwrap();
        // `a` is a sub-agent's log: its deltas carry `parent_id` on the hand-rendered path too.
        let a = bus.new_log_under("a", Some("b"));
        let b = bus.new_log("b");
        let mut published = Vec::new();
        for i in 0..2000 {
            let (log, payload) = match i % 4 {
                0 => (&b, Payload::MessagesChanged),
                1 => (
                    &b,
                    Payload::ThinkingDelta {
                        message_id: i,
                        delta: format!("\\t{i}\u{7f}é"),
                    },
                ),
                _ => (
                    &a,
                    Payload::TextDelta {
                        message_id: 1,
                        delta: format!("d{i}\u{0}\"\n"),
                    },
                ),
            };
            let seq = bus.publish(log, payload.clone());
            let event = Event {
                seq,
                session_id: Some(log.id().into()),
                parent_session_id: (log.id() == "a").then(|| "b".into()),
                payload,
            };
            published.push((seq, Some(log.id().to_string()), event.to_json()));
        }
        bus.shutdown();
        assert_eq!(*lock(&all), published);
        let wanted: Vec<_> = published
            .into_iter()
            .filter(|(_, id, _)| id.as_deref() == Some("b"))
            .collect();
        assert_eq!(*lock(&only_b), wanted);
    }

    #[test]
    fn a_subscription_ended_by_another_callback_gets_nothing_after_the_unsubscribe() {
        let bus = EventBus::new(1 << 16, 8, false);
        let d = bus.dispatcher().clone();
        let (victim_seen, victim) = recorder();
        let target = Arc::new(AtomicU64::new(0));
        let at_unsubscribe = Arc::new(Mutex::new(None));
        let (d2, t2, v2, at2) = (
            d.clone(),
            target.clone(),
            victim_seen.clone(),
            at_unsubscribe.clone(),
        );
        let calls = AtomicU64::new(0);
        d.subscribe(
            None,
            Box::new(FnSink(move |_: &Prepared<'_>| {
                if calls.fetch_add(1, Ordering::SeqCst) == 300 {
                    d2.unsubscribe(t2.load(Ordering::SeqCst)).unwrap();
                    *lock(&at2) = Some(lock(&v2).len());
                }
            })),
        )
        .unwrap();
        target.store(d.subscribe(None, victim).unwrap(), Ordering::SeqCst);
        let log = bus.new_log("s");
        for _ in 0..1000 {
            bus.publish(&log, Payload::MessagesChanged);
        }
        bus.shutdown();
        let at = lock(&at_unsubscribe).expect("the unsubscribe ran");
        assert_eq!(
            lock(&victim_seen).len(),
            at,
            "nothing after the unsubscribe returned"
        );
        let seqs: Vec<u64> = lock(&victim_seen).iter().map(|(s, ..)| *s).collect();
        assert_eq!(
            seqs,
            (1..=at as u64).collect::<Vec<_>>(),
            "in order, none skipped"
        );
    }

    #[test]
    fn shutdown_delivers_what_was_queued_first() {
        let bus = EventBus::new(64, 8, false);
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        bus.dispatcher()
            .subscribe(
                None,
                Box::new(FnSink(move |_| {
                    std::thread::sleep(Duration::from_millis(1));
                    c.fetch_add(1, Ordering::SeqCst);
                })),
            )
            .unwrap();
        let log = bus.new_log("s");
        for _ in 0..20 {
            bus.publish(
                &log,
                Payload::TurnEnded {
                    usage: None,
                    reason: crate::events::TurnEnd::Completed,
                },
            );
        }
        bus.shutdown();
        assert_eq!(count.load(Ordering::SeqCst), 20);
    }
}
