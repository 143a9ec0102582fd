//! A session actor's mailbox: an unbounded multi-producer queue that allocates nothing until the first message
//! (tokio's unbounded channel allocates a block of 32 slots per channel, most of an idle session's memory), and
//! that the actor drains a whole batch at a time (one lock for everything queued, not one per message).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::sync::lock;

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Wakes the receiver: signalled on the empty -> non-empty edge and when the last sender goes.
    ready: Notify,
    senders: AtomicUsize,
}

struct Queue<T> {
    items: VecDeque<T>,
    /// No more sends are taken (the receiver closed or was dropped).
    closed: bool,
}

/// The sending side; clones share the queue.
pub struct Sender<T>(Arc<Shared<T>>);

/// The receiving side (one per mailbox).
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Messages taken from the queue in one go, handed out one by one.
    taken: VecDeque<T>,
}

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued now.
    Empty,
    /// Nothing queued, and every sender is gone.
    Disconnected,
}

/// A message the receiver no longer takes (it closed), given back.
pub struct SendError<T>(pub T);

impl<T> std::fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendError(the mailbox is closed)")
    }
}

/// A new, empty mailbox.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            closed: false,
        }),
        ready: Notify::new(),
        senders: AtomicUsize::new(1),
    });
    (
        Sender(shared.clone()),
        Receiver {
            shared,
            taken: VecDeque::new(),
        },
    )
}

impl<T> Sender<T> {
    /// Queues `value`; gives it back if the receiver closed. A message is either refused or queued before a
    /// closing receiver drains the queue (both happen under the queue's lock), so none is left behind.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut q = lock(&self.0.queue);
        if q.closed {
            return Err(SendError(value));
        }
        let was_empty = q.items.is_empty();
        q.items.push_back(value);
        drop(q);
        if was_empty {
            // The receiver waits only after it found the queue empty; a notification with no waiter is kept.
            self.0.ready.notify_one();
        }
        Ok(())
    }

    /// Whether the receiver closed (sends fail from now on).
    pub fn is_closed(&self) -> bool {
        lock(&self.0.queue).closed
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ready.notify_one();
        }
    }
}

impl<T> Receiver<T> {
    /// The next message, waiting for one; `None` once every sender is gone and nothing is queued. Cancel-safe:
    /// a message is only taken by the poll that returns it.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            match self.try_recv() {
                Ok(v) => return Some(v),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => self.shared.ready.notified().await,
            }
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.taken.pop_front() {
            return Ok(v);
        }
        let mut q = lock(&self.shared.queue);
        // Everything queued at once: the caller takes the rest without locking again.
        std::mem::swap(&mut q.items, &mut self.taken);
        drop(q);
        match self.taken.pop_front() {
            Some(v) => Ok(v),
            None if self.shared.senders.load(Ordering::Acquire) == 0 => {
                Err(TryRecvError::Disconnected)
            }
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses further sends; what is queued can still be received (tests: a receiver going away).
    #[cfg(test)]
    pub fn close(&mut self) {
        lock(&self.shared.queue).closed = true;
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let left = {
            let mut q = lock(&self.shared.queue);
            q.closed = true;
            std::mem::take(&mut q.items)
        };
        // Dropped outside the lock: a message's drop may answer a waiting caller.
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_in_order_across_batches_and_senders() {
        let (tx, mut rx) = channel();
        let tx2 = tx.clone();
        for i in 0..5 {
            tx.send(i).unwrap();
            tx2.send(100 + i).unwrap();
        }
        assert_eq!(rx.try_recv(), Ok(0));
        tx.send(7).unwrap();
        let rest: Vec<i32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(rest, vec![100, 1, 101, 2, 102, 3, 103, 4, 104, 7]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop((tx, tx2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn a_closed_or_dropped_receiver_refuses_sends_and_drops_what_was_queued() {
        let (tx, mut rx) = channel();
        tx.send(Arc::new(1)).unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert!(tx.send(Arc::new(2)).is_err());
        assert_eq!(
            *rx.try_recv().unwrap(),
            1,
            "what was queued can still be received"
        );
        let kept = Arc::new(3);
        let (tx, rx) = channel();
        tx.send(kept.clone()).unwrap();
        drop(rx);
        assert_eq!(
            Arc::strong_count(&kept),
            1,
            "the queued message was dropped with the receiver"
        );
        assert!(tx.send(kept).is_err());
    }

    #[test]
    fn recv_waits_for_a_send_from_another_thread_and_ends_when_the_senders_are_gone() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.send("hello").unwrap();
        });
        rt.block_on(async {
            assert_eq!(rx.recv().await, Some("hello"));
            sender.join().unwrap();
            assert_eq!(rx.recv().await, None);
        });
    }
}
