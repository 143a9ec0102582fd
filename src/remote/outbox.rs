//! A connection's outbox: the attached session's events on their way to one WebSocket, bounded in count and bytes.
//!
//! The dispatcher thread pushes (it must never wait for a network peer); the connection's writer pops. Past half
//! the bound, deltas of the same message are merged (coalesced); at the bound every queued event is dropped and an
//! `events_dropped` marker takes their place, so a slow viewer costs the session, the driver and other viewers
//! nothing and its memory stays bounded. The viewer resumes with `session.catch_up` from the marker's cursor.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::events::dispatch::{EventSink, Prepared};
use crate::events::Event;
use crate::sync::lock;

/// What the writer sends next.
#[derive(Debug)]
pub enum Item {
    /// An event; `first` is the seq of the oldest event merged into it (its own seq when none was).
    Event {
        /// The event (its seq is the newest one merged in).
        event: Arc<Event>,
        /// The oldest seq it covers.
        first: u64,
        /// The event's JSON as the dispatcher rendered it (`None` once merged: the writer renders it again).
        json: Option<String>,
    },
    /// A gateway notification, already rendered (role changes). Never dropped.
    Note(String),
    /// Events were dropped here: the writer announces `events_dropped` and sends no more events until the client
    /// catches up.
    Dropped,
}

/// Bounds of an outbox.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most queued events.
    pub max_events: usize,
    /// Most queued bytes of event JSON.
    pub max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    session: Option<Arc<str>>,
    items: VecDeque<(Item, usize)>,
    bytes: usize,
    events: usize,
    /// Buffering a catch-up: events are kept as they are (never merged) until the writer resumes.
    paused: bool,
    /// Overflowed: events are discarded until the next catch-up.
    dropped: bool,
}

/// See the module documentation.
pub struct Outbox {
    inner: Mutex<Inner>,
    notify: tokio::sync::Notify,
    limits: Limits,
}

impl Outbox {
    /// An empty outbox attached to no session.
    pub fn new(limits: Limits) -> Arc<Outbox> {
        Arc::new(Outbox {
            inner: Mutex::new(Inner::default()),
            notify: tokio::sync::Notify::new(),
            limits,
        })
    }

    /// Starts a catch-up for `session`: queued events are discarded and new ones buffered until
    /// [`Outbox::resume`].
    pub fn begin_catch_up(&self, session: &Arc<str>) {
        let mut inner = lock(&self.inner);
        inner.session = Some(session.clone());
        inner.items.retain(|(i, _)| matches!(i, Item::Note(_)));
        inner.bytes = 0;
        inner.events = 0;
        inner.paused = true;
        inner.dropped = false;
    }

    /// Ends the catch-up: buffered events flow to the writer.
    pub fn resume(&self) {
        lock(&self.inner).paused = false;
        self.notify.notify_one();
    }

    /// Queues a gateway notification.
    pub fn note(&self, frame: String) {
        lock(&self.inner).items.push_back((Item::Note(frame), 0));
        self.notify.notify_one();
    }

    /// Waits until something may have been queued.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// The next item for the writer (events only while not paused).
    pub fn pop(&self) -> Option<Item> {
        let mut inner = lock(&self.inner);
        if inner.paused {
            let i = inner
                .items
                .iter()
                .position(|(i, _)| matches!(i, Item::Note(_)))?;
            return inner.items.remove(i).map(|(i, _)| i);
        }
        let (item, bytes) = inner.items.pop_front()?;
        if matches!(item, Item::Event { .. }) {
            inner.bytes -= bytes;
            inner.events -= 1;
        }
        Some(item)
    }

    /// Marks an overflow found by the writer (a gap the history no longer covers).
    pub fn overflow(&self) {
        let mut inner = lock(&self.inner);
        Self::drop_events(&mut inner);
        drop(inner);
        self.notify.notify_one();
    }

    fn drop_events(inner: &mut Inner) {
        inner.items.retain(|(i, _)| matches!(i, Item::Note(_)));
        inner.items.push_back((Item::Dropped, 0));
        inner.bytes = 0;
        inner.events = 0;
        inner.dropped = true;
    }

    fn push(&self, event: &Event, json: &str) {
        let size = json.len();
        let mut inner = lock(&self.inner);
        if inner.dropped || inner.session.as_deref() != event.session_id.as_deref() {
            return;
        }
        // Merging keeps the bytes (a merged delta holds the text of all it merged), so the byte bound comes first.
        if inner.bytes + size > self.limits.max_bytes {
            Self::drop_events(&mut inner);
            drop(inner);
            self.notify.notify_one();
            return;
        }
        let half =
            inner.events * 2 >= self.limits.max_events || inner.bytes * 2 >= self.limits.max_bytes;
        if half && !inner.paused {
            if let Some((
                Item::Event {
                    event: last, json, ..
                },
                bytes,
            )) = inner.items.back_mut()
            {
                let mut merged = Event::clone(last);
                if merged.payload.coalesce(&event.payload) {
                    merged.seq = event.seq;
                    *last = Arc::new(merged);
                    *json = None;
                    *bytes += size;
                    inner.bytes += size;
                    return;
                }
            }
        }
        if inner.events >= self.limits.max_events {
            Self::drop_events(&mut inner);
        } else {
            let item = Item::Event {
                event: Arc::new(event.clone()),
                first: event.seq,
                json: Some(json.to_string()),
            };
            inner.items.push_back((item, size));
            inner.events += 1;
            inner.bytes += size;
        }
        drop(inner);
        self.notify.notify_one();
    }
}

/// The subscription sink feeding an outbox.
pub struct Sink(pub Arc<Outbox>);

impl EventSink for Sink {
    fn deliver(&self, event: &Prepared) {
        // The JSON is ASCII-safe UTF-8 as serde_json wrote it; a failed conversion only costs a re-render.
        match event.json.to_str() {
            Ok(json) => self.0.push(event.event, json),
            Err(_) => self.0.push(event.event, &event.event.to_json()),
        }
    }

    fn release(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Payload;

    fn delta(seq: u64, text: &str) -> Arc<Event> {
        Arc::new(Event {
            seq,
            session_id: Some("s".into()),
            parent_session_id: None,
            payload: Payload::TextDelta {
                message_id: 1,
                delta: text.into(),
            },
        })
    }

    fn drain(o: &Outbox) -> Vec<String> {
        std::iter::from_fn(|| o.pop())
            .map(|i| match i {
                Item::Event { event, first, .. } => match &event.payload {
                    Payload::TextDelta { delta, .. } => format!("{first}-{}:{delta}", event.seq),
                    _ => unreachable!(),
                },
                Item::Note(n) => n,
                Item::Dropped => "dropped".into(),
            })
            .collect()
    }

    #[test]
    fn past_half_the_bound_deltas_merge_and_at_the_bound_events_drop() {
        let o = Outbox::new(Limits {
            max_events: 4,
            max_bytes: 1 << 20,
        });
        o.begin_catch_up(&"s".into());
        o.resume();
        for (seq, t) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
            o.push(&delta(seq, t), "0123456789");
        }
        // Two kept as they are, then the rest merged into the second.
        assert_eq!(drain(&o), vec!["1-1:a", "2-4:bcd"]);
        let other = |seq| {
            Arc::new(Event {
                seq,
                session_id: Some("s".into()),
                parent_session_id: None,
                payload: Payload::MessagesChanged,
            })
        };
        o.push(&delta(5, "e"), "0123456789");
        o.push(&other(6), "0123456789");
        o.push(&delta(7, "f"), "0123456789");
        o.push(&other(8), "0123456789");
        o.push(&delta(9, "g"), "0123456789");
        o.note("note".into());
        o.push(&delta(10, "h"), "0123456789");
        let got = drain(&o);
        assert_eq!(got, vec!["dropped", "note"]);
        // Nothing more until the next catch-up.
        o.push(&delta(11, "i"), "0123456789");
        assert!(o.pop().is_none());
    }

    #[test]
    fn merged_deltas_count_their_bytes_against_the_bound() {
        let o = Outbox::new(Limits {
            max_events: 100,
            max_bytes: 35,
        });
        o.begin_catch_up(&"s".into());
        o.resume();
        // 10 bytes each: two kept, the third merged (past half the bytes), the fourth would pass 35.
        for (seq, t) in [(1, "a"), (2, "b"), (3, "c")] {
            o.push(&delta(seq, t), "0123456789");
        }
        o.push(&delta(4, "d"), "0123456789");
        assert_eq!(drain(&o), vec!["dropped"]);
    }

    #[test]
    fn a_paused_outbox_buffers_exact_events_and_passes_notes() {
        let o = Outbox::new(Limits {
            max_events: 100,
            max_bytes: 1 << 20,
        });
        o.begin_catch_up(&"s".into());
        for seq in 1..=60 {
            o.push(&delta(seq, "x"), "0123456789");
        }
        o.note("n".into());
        assert_eq!(drain(&o), vec!["n"]);
        o.resume();
        assert_eq!(drain(&o).len(), 60);
        // Events of other sessions are not this outbox's.
        let mut e = Event::clone(&delta(61, "y"));
        e.session_id = Some("t".into());
        o.push(&Arc::new(e), "0123456789");
        assert!(o.pop().is_none());
    }
}
