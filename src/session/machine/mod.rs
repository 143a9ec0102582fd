//! The session's pure state machine: [`state::SessionState::apply`] takes an input and the time and returns a
//! reply and effects, with no I/O, no locks and no awaits; the other files are its parts (transcript, approvals,
//! boundaries, branches, compaction, conversations, models, queues, turns, model context).

pub mod approvals;
pub mod boundaries;
pub mod branches;
pub mod compaction;
pub mod context;
pub mod conversations;
pub mod inputs;
pub mod journal;
pub mod models;
pub mod queues;
pub mod state;
pub mod transcript;
pub mod turns;
