//! Conversations in the session state machine: starting a fresh one, loading a stored one, and the changes the
//! store must write (structural operations, changed messages, the summary line).

use super::branches::Branch;
use super::state::{Effect, Now, SessionState, Status};
use super::transcript::{Body, Level, Transcript, Usage};
use crate::events::{Payload, TurnEnd};
use crate::store::journal::Replayed;
use crate::store::record::Meta;

/// A transcript change the store cannot express as "message N now reads …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalOp {
    /// Branch at this index (0-based) was saved.
    Branch(usize),
    /// Messages after this ID were cut off.
    Truncate {
        /// The last message kept.
        after_id: u64,
    },
    /// The transcript was replaced by branch `number` (1-based).
    Switch(u32),
    /// A tool changed the file at this absolute path (its touched-files entry is written as it reads then).
    Touched(String),
}

/// A stored conversation, replayed and ready to become the session's transcript.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its ID.
    pub conversation_id: String,
    /// The replayed journal.
    pub replayed: Replayed,
}

impl SessionState {
    /// The current conversation's ID.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// Sets the conversation ID of a fresh session (at start, before any input).
    pub fn set_conversation_id(&mut self, id: String) {
        self.conversation_id = id;
    }

    /// The summary line the store writes after each batch.
    pub fn journal_meta(&self) -> Meta {
        let (first_prompt, turn_count) = self.prompts();
        Meta {
            title: first_prompt.and_then(super::state::title_from),
            model: self.ident.model.clone(),
            usage: self.usage,
            message_count: self.transcript.len(),
            turn_count,
            last_message_at_ms: self.last_message_at_ms,
            turn_active: self.turn.is_some(),
            next_id: self.transcript.next_id(),
        }
    }

    /// Saved branches (for the store).
    pub fn branches(&self) -> &[super::branches::Branch] {
        &self.branches
    }

    /// Starts conversation `conversation_id`: an empty transcript, no usage, queues, trust, boundaries or touched
    /// files. As in the seed, the saved branches are kept (written to the new conversation's journal, so they are
    /// stored with it) and plan mode ends (the status is `idle`, announced by `status_changed`).
    pub(super) fn new_conversation(
        &mut self,
        conversation_id: String,
        now: Now,
        fx: &mut Vec<Effect>,
    ) {
        self.leave_conversation("a new conversation was started", fx);
        self.journal_switched();
        self.conversation_id = conversation_id;
        self.transcript = Transcript::default();
        self.transcript.push(Body::system(
            format!(
                "Conversation started · {}",
                crate::time::hms_utc(now.wall_ms)
            ),
            Level::Info,
        ));
        self.usage = Usage::default();
        self.journal_ops
            .extend((0..self.branches.len()).map(JournalOp::Branch));
        self.created_at_ms = now.wall_ms;
        self.settle_status(fx);
        self.messages_changed(now, fx);
    }

    /// Makes a stored conversation the session's transcript. A journal that ended mid-turn gets its running tool
    /// calls marked aborted and a notice; repaired or skipped lines are reported as notices too.
    pub fn load_conversation(&mut self, loaded: Loaded, now: Now, fx: &mut Vec<Effect>) {
        self.leave_conversation("another conversation was loaded", fx);
        let Loaded {
            conversation_id,
            replayed,
        } = loaded;
        self.journal_switched();
        let meta = replayed.meta.clone();
        let next_id = meta.as_ref().map_or(1, |m| m.next_id);
        self.conversation_id = conversation_id;
        self.transcript = Transcript::restored(replayed.messages, next_id);
        self.branches = replayed
            .branches
            .into_iter()
            .map(|b| Branch {
                name: b.name,
                messages: b.messages,
                created_at_ms: b.created_at_ms,
            })
            .collect();
        self.files.touched = replayed
            .touched
            .iter()
            .filter_map(super::boundaries::Touched::from_stored)
            .map(|t| (t.path.clone(), t))
            .collect();
        self.usage = match &meta {
            Some(m) => m.usage,
            None => self
                .transcript
                .messages()
                .iter()
                .fold(Usage::default(), |mut u, m| {
                    if let Body::Usage(x) = &m.body {
                        u.add(x);
                    }
                    u
                }),
        };
        self.created_at_ms =
            crate::time::parse_rfc3339(&replayed.header.created_at).unwrap_or(now.wall_ms);
        self.last_message_at_ms = meta
            .as_ref()
            .map_or(self.created_at_ms, |m| m.last_message_at_ms);
        let mut aborted = false;
        self.transcript.update_each(|b| {
            let hit = super::turns::abort_if_running(b);
            aborted |= hit;
            hit
        });
        if aborted || meta.as_ref().is_some_and(|m| m.turn_active) {
            self.transcript.push(Body::system(
                "The previous run ended while a turn was in progress; that turn was interrupted.",
                Level::Error,
            ));
        }
        if replayed.skipped > 0 {
            self.transcript.push(Body::system(
                format!(
                    "Skipped {} corrupt entr{} while loading this conversation.",
                    replayed.skipped,
                    if replayed.skipped == 1 { "y" } else { "ies" }
                ),
                Level::Error,
            ));
        }
        if replayed.repaired_bytes > 0 {
            self.transcript.push(Body::system(
                format!(
                    "Repaired the conversation file: a torn last entry ({} bytes) was cut off.",
                    replayed.repaired_bytes
                ),
                Level::Error,
            ));
        }
        self.settle_status(fx);
        fx.push(Effect::Emit(Payload::MessagesChanged));
    }

    /// What leaving a conversation resets: a running turn is aborted (its approval cancelled), and queues, trust,
    /// errors, boundaries and touched files belong to the conversation left behind. Plan mode ends, as in the seed.
    fn leave_conversation(&mut self, why: &str, fx: &mut Vec<Effect>) {
        // A compaction of the conversation left behind must not land in the next one.
        self.cancel_side_call(fx);
        if let Some(turn) = self.turn.take() {
            fx.push(Effect::CancelTurn { turn_id: turn.id });
            fx.push(Effect::Emit(Payload::TurnEnded {
                usage: None,
                reason: TurnEnd::Aborted,
            }));
        }
        self.close_turn(why, fx);
        self.approvals.trust.clear();
        self.steering.clear();
        self.follow_up.clear();
        self.error_message = None;
        self.interrupted = None;
        self.files = Default::default();
        self.journal_ops.clear();
        self.set_status(Status::Idle, fx);
    }
}
