//! A bounded event queue that coalesces deltas and drops only droppable events when full.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Event, Payload};

/// How far back a new delta looks for an earlier delta of the same message to merge into.
const COALESCE_SCAN: usize = 64;

/// What [`EventQueue::pop`] yields.
#[derive(Debug, PartialEq)]
pub enum Popped {
    /// The next event.
    Event(Arc<Event>),
    /// This many events were dropped since the last pop; report it before anything else.
    Dropped(u64),
}

impl Popped {
    /// The event to hand out: a drop count becomes an `events_dropped` event (session_id null) numbered on the
    /// client's own sequence `client_seq`.
    pub fn into_event(self, client_seq: &AtomicU64) -> Arc<Event> {
        match self {
            Popped::Event(e) => e,
            Popped::Dropped(count) => Arc::new(Event {
                seq: client_seq.fetch_add(1, Ordering::Relaxed),
                session_id: None,
                parent_session_id: None,
                payload: Payload::EventsDropped { count },
            }),
        }
    }
}

/// A FIFO of events with a soft capacity.
///
/// When full, a new delta is merged into the newest queued event of the same session if that is a delta of the same
/// message; otherwise the oldest droppable event makes room. Events that must never be lost are queued even past
/// the capacity, so the bound holds for everything that can be summarized by an `events_dropped` count.
#[derive(Debug)]
pub struct EventQueue {
    items: VecDeque<Arc<Event>>,
    capacity: usize,
    dropped: u64,
}

impl EventQueue {
    /// An empty queue holding about `capacity` events (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventQueue {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued and nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.dropped == 0
    }

    /// Queues `event`, coalescing or dropping when full.
    pub fn push(&mut self, event: Arc<Event>) {
        if self.items.len() < self.capacity {
            self.items.push_back(event);
            return;
        }
        if self.coalesce_into_tail(&event) {
            return;
        }
        if self.make_room_losslessly() {
            self.items.push_back(event);
            return;
        }
        if let Some(pos) = self.items.iter().position(|e| e.payload.droppable()) {
            self.items.remove(pos);
            self.dropped += 1;
            self.items.push_back(event);
        } else if event.payload.droppable() {
            self.dropped += 1;
        } else {
            self.items.push_back(event);
        }
    }

    /// Merges a delta into the newest queued event of its session, if that event is a delta of the same message.
    /// The merged event takes the newer sequence number, so `events_since` bookkeeping stays monotonic.
    fn coalesce_into_tail(&mut self, event: &Arc<Event>) -> bool {
        if !event.payload.droppable() {
            return false;
        }
        let newest_same_session = self
            .items
            .iter_mut()
            .rev()
            .take(COALESCE_SCAN)
            .find(|e| e.session_id == event.session_id);
        match newest_same_session {
            Some(slot) => {
                let merged = Arc::make_mut(slot);
                if merged.payload.coalesce(&event.payload) {
                    merged.seq = event.seq;
                    self.dropped += 1;
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }

    /// Frees one slot without losing content: drops the oldest pure notification, or merges the oldest delta into
    /// the next event of its session when that is a delta of the same message. Counts it as dropped either way.
    fn make_room_losslessly(&mut self) -> bool {
        if let Some(pos) = self
            .items
            .iter()
            .position(|e| e.payload.superseded_by_state())
        {
            self.items.remove(pos);
            self.dropped += 1;
            return true;
        }
        for i in 0..self.items.len() {
            if !self.items[i].payload.droppable() {
                continue;
            }
            let session = self.items[i].session_id.clone();
            let Some(j) = (i + 1..self.items.len()).find(|&j| self.items[j].session_id == session)
            else {
                continue;
            };
            let mut merged = (*self.items[i]).clone();
            if merged.payload.coalesce(&self.items[j].payload) {
                merged.seq = self.items[j].seq;
                self.items[j] = Arc::new(merged);
                self.items.remove(i);
                self.dropped += 1;
                return true;
            }
        }
        false
    }

    /// Takes the oldest queued event of session `session_id`, leaving every other event (and a pending drop count)
    /// in place and in order. Client-level events (`session_id` null) are never taken here.
    pub fn pop_session(&mut self, session_id: &str) -> Option<Arc<Event>> {
        let pos = self
            .items
            .iter()
            .position(|e| e.session_id.as_deref() == Some(session_id))?;
        self.items.remove(pos)
    }

    /// Takes the next item: a pending drop count first, then the oldest event.
    pub fn pop(&mut self) -> Option<Popped> {
        if self.dropped > 0 {
            let n = self.dropped;
            self.dropped = 0;
            return Some(Popped::Dropped(n));
        }
        self.items.pop_front().map(Popped::Event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Payload, TurnEnd};

    fn ev(seq: u64, session: &str, payload: Payload) -> Arc<Event> {
        Arc::new(Event {
            seq,
            session_id: Some(session.into()),
            parent_session_id: None,
            payload,
        })
    }
    fn delta(seq: u64, session: &str, msg: u64, text: &str) -> Arc<Event> {
        ev(
            seq,
            session,
            Payload::TextDelta {
                message_id: msg,
                delta: text.into(),
            },
        )
    }
    fn end(seq: u64, session: &str) -> Arc<Event> {
        ev(
            seq,
            session,
            Payload::TurnEnded {
                usage: None,
                reason: TurnEnd::Completed,
            },
        )
    }
    fn drain(q: &mut EventQueue) -> Vec<Popped> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn below_capacity_is_plain_fifo() {
        let mut q = EventQueue::new(4);
        q.push(delta(1, "s", 1, "a"));
        q.push(delta(2, "s", 1, "b"));
        let out = drain(&mut q);
        assert_eq!(out.len(), 2);
        assert!(matches!(&out[0], Popped::Event(e) if e.seq == 1));
    }

    #[test]
    fn full_queue_coalesces_same_message_deltas_and_counts_them() {
        let mut q = EventQueue::new(2);
        q.push(delta(1, "s", 1, "a"));
        q.push(delta(2, "s", 1, "b"));
        q.push(delta(3, "s", 1, "c"));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(Popped::Dropped(1)));
        assert!(matches!(q.pop(), Some(Popped::Event(e)) if e.seq == 1));
        match q.pop() {
            Some(Popped::Event(e)) => {
                assert_eq!(e.seq, 3);
                assert_eq!(
                    e.payload,
                    Payload::TextDelta {
                        message_id: 1,
                        delta: "bc".into()
                    }
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn deltas_never_merge_across_another_event_of_the_same_session() {
        let mut q = EventQueue::new(2);
        q.push(delta(1, "s", 1, "a"));
        q.push(end(2, "s"));
        q.push(delta(3, "s", 1, "b"));
        // The oldest droppable (seq 1) made room; order is preserved.
        let seqs: Vec<u64> = drain(&mut q)
            .into_iter()
            .filter_map(|p| match p {
                Popped::Event(e) => Some(e.seq),
                Popped::Dropped(_) => None,
            })
            .collect();
        assert_eq!(seqs, vec![2, 3]);
    }

    #[test]
    fn a_full_queue_merges_old_deltas_before_dropping_any_text() {
        let mut q = EventQueue::new(3);
        q.push(delta(1, "s", 1, "a"));
        q.push(delta(2, "s", 1, "b"));
        q.push(end(3, "s"));
        q.push(end(4, "s"));
        let out: Vec<Payload> = drain(&mut q)
            .into_iter()
            .filter_map(|p| match p {
                Popped::Event(e) => Some(e.payload.clone()),
                Popped::Dropped(n) => {
                    assert_eq!(n, 1);
                    None
                }
            })
            .collect();
        assert_eq!(
            out[0],
            Payload::TextDelta {
                message_id: 1,
                delta: "ab".into()
            }
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn undroppable_events_are_kept_past_capacity() {
        let mut q = EventQueue::new(2);
        for i in 1..=5 {
            q.push(end(i, "s"));
        }
        assert_eq!(q.len(), 5);
        q.push(delta(6, "s", 9, "x"));
        assert_eq!(q.len(), 5, "a delta with no room is dropped");
        assert_eq!(q.pop(), Some(Popped::Dropped(1)));
    }

    #[test]
    fn pop_session_takes_that_sessions_oldest_and_leaves_the_rest_in_order() {
        let mut q = EventQueue::new(16);
        q.push(end(1, "a"));
        q.push(end(1, "b"));
        q.push(delta(2, "a", 1, "x"));
        q.push(end(2, "b"));
        q.push(end(3, "a"));
        let a: Vec<u64> = std::iter::from_fn(|| q.pop_session("a"))
            .map(|e| e.seq)
            .collect();
        assert_eq!(a, vec![1, 2, 3]);
        assert_eq!(q.pop_session("nobody"), None);
        let rest: Vec<(String, u64)> = drain(&mut q)
            .into_iter()
            .filter_map(|p| match p {
                Popped::Event(e) => Some((e.session_id.as_deref().unwrap().to_string(), e.seq)),
                Popped::Dropped(_) => None,
            })
            .collect();
        assert_eq!(rest, vec![("b".to_string(), 1), ("b".to_string(), 2)]);
    }

    #[test]
    fn other_sessions_do_not_block_coalescing() {
        let mut q = EventQueue::new(3);
        q.push(delta(1, "a", 1, "x"));
        q.push(delta(1, "b", 1, "y"));
        q.push(delta(1, "c", 1, "z"));
        q.push(delta(2, "a", 1, "x2"));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some(Popped::Dropped(1)));
        match q.pop() {
            Some(Popped::Event(e)) => assert_eq!(
                e.payload,
                Payload::TextDelta {
                    message_id: 1,
                    delta: "xx2".into()
                }
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}
