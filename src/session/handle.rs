//! The calling side of a session actor: commands sent over its channel, answered on a std channel (blocking host
//! threads) or a oneshot (tasks on the runtime).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::actor::Msg;
use super::machine::state::{Command, Reply};
use super::mailbox;
use super::SharedState;
use crate::error::{Error, Result};

/// A reply channel: a blocking host thread or an async task waits on the other end.
pub type ReplyTo = Box<dyn FnOnce(Reply) + Send>;

/// How an actor ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// Stopped on request.
    Stopped,
    /// Its provider task panicked (the message says how).
    Crashed(String),
    /// It was idle, with no host activity, for its idle timeout, and its state is saved: the manager reclaims it.
    Idle,
}

/// The sending side of a running actor.
#[derive(Clone)]
pub struct SessionHandle {
    pub(super) tx: mailbox::Sender<Msg>,
    /// The shared state.
    pub state: SharedState,
    pub(super) id: Arc<str>,
    /// Set by the actor before it stops on request, so calls that lose the race against a stop report the session
    /// as gone rather than as crashed.
    pub(super) stopped: Arc<AtomicBool>,
}

impl SessionHandle {
    fn gone(&self) -> Error {
        if self.stopped.load(Ordering::Acquire) {
            Error::no_session(&self.id)
        } else {
            Error::RestartPending(self.id.to_string())
        }
    }

    /// Sends `cmd` and blocks the calling (non-runtime) thread for the reply.
    pub fn call(&self, cmd: Command) -> Result<Reply> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send(Msg::Command(cmd, Box::new(move |r| drop(tx.send(r)))))
            .map_err(|_| self.gone())?;
        self.wait(rx)
    }

    /// Waits for the reply to a message just sent. A send that races the actor's exit can succeed and still leave
    /// its message in the channel after the dropped receiver drained it (tokio counts a message in before it links
    /// it), and then nothing drops the message, or the reply sender inside it, while this handle keeps the channel
    /// alive: `recv` would block forever. So once the channel is closed, only a reply that already came counts.
    /// (Found by the TSan run of tests/c/test_sessions.c: a prompt racing a stop hung; see RELIABILITY.md.)
    fn wait<T>(&self, rx: std::sync::mpsc::Receiver<T>) -> Result<T> {
        if self.tx.is_closed() {
            return rx.try_recv().map_err(|_| self.gone());
        }
        // Still open after the send completed: the receiver's drop, if it comes, drains this message too.
        rx.recv().map_err(|_| self.gone())
    }

    /// Sends `cmd` and awaits the reply (for tasks on the runtime); see [`SessionHandle::wait`] for the closed case.
    pub async fn call_async(&self, cmd: Command) -> Result<Reply> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Msg::Command(cmd, Box::new(move |r| drop(tx.send(r)))))
            .map_err(|_| self.gone())?;
        if self.tx.is_closed() {
            return rx.try_recv().map_err(|_| self.gone());
        }
        rx.await.map_err(|_| self.gone())
    }

    /// Moves the session to another conversation (see [`Command::NewConversation`] and
    /// [`Command::LoadConversation`]); `journal` is the loaded conversation's open journal. Blocks for the reply.
    pub fn switch_conversation(
        &self,
        cmd: Command,
        journal: Option<crate::store::journal::Journal>,
    ) -> Result<Reply> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.tx
            .send(Msg::Switch {
                cmd,
                journal,
                reply: Box::new(move |r| drop(tx.send(r))),
            })
            .map_err(|_| self.gone())?;
        self.wait(rx)
    }

    /// Asks the actor to close any running turn and exit; blocks until it did (or was already gone).
    pub fn stop(&self) {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if self
            .tx
            .send(Msg::Stop(Box::new(move || {
                let _ = tx.send(());
            })))
            .is_ok()
        {
            let _ = self.wait(rx);
        }
    }
}

#[cfg(test)]
#[path = "handle_tests.rs"]
mod handle_tests;
