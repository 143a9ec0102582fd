//! Sessions: the pure state machine (`machine/`), the actor that executes its effects (`actor.rs`), the handle
//! hosts call it through (`handle.rs`), its options and its persister.

pub mod actor;
pub mod handle;
mod link;
pub mod machine;
mod mailbox;
pub mod options;
pub mod persist;
mod publish;

use std::sync::{Arc, Mutex, MutexGuard};

// The machine's parts that hosts' Rust code and the tests name by their earlier paths.
pub use machine::{approvals, boundaries, state, transcript};

pub use actor::{panic_message, spawn, Finished, Idle, OnFinished, Restart, Start};
pub use handle::{Exit, ReplyTo, SessionHandle};
use machine::state::SessionState;
pub use machine::state::Status;
pub use publish::{apply_all, apply_and_publish, flush};

use crate::sync::lock;

/// A session's state, shared by its actor (which mutates it) and host queries (which read it under the lock).
/// It belongs to the supervisor's entry, so it survives restarts of the actor.
pub type SharedState = Arc<Mutex<SessionState>>;

/// A session's persister, shared by its incarnations and the manager (which saves once more at stop).
pub type SharedPersister = Arc<Mutex<persist::Persister>>;

/// Locks a session's state.
pub fn read(state: &SharedState) -> MutexGuard<'_, SessionState> {
    lock(state)
}
