//! The session's link to the store: after each input it writes what changed (never the whole conversation) to the
//! current conversation's journal, defers streaming deltas to at most one write a second, and makes turn ends
//! durable before the host hears of them.

use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::machine::conversations::JournalOp;
use super::SharedState;
use crate::error::Result;
use crate::store::journal::Journal;
use crate::store::record::{
    line, Entry, Header, Meta, StoredBranch, StoredMessage, FORMAT_VERSION,
};
use crate::store::{FsyncPolicy, SessionRecord, Store};
use crate::sync::lock;

/// How long streamed text may wait in memory before it is written.
pub const STREAM_FLUSH: Duration = Duration::from_secs(1);

/// How urgently the changes of an input must reach the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A streaming delta: written at most once per [`STREAM_FLUSH`].
    Lazy,
    /// Written now.
    Now,
    /// Written now and made durable (under the `turn` policy): a turn ended, or a change was made outside a turn.
    Durable,
}

/// Writes one session's conversation to the store.
#[derive(Debug)]
pub struct Persister {
    store: Arc<Store>,
    session_id: String,
    token: String,
    conversation_id: String,
    journal: Option<Journal>,
    session_lock: Option<File>,
    record_saved: bool,
    ops: Vec<JournalOp>,
    dirty: std::collections::BTreeSet<u64>,
    last_meta: Option<Meta>,
    deferred_since: Option<Instant>,
    last_write: Instant,
    failing: bool,
}

impl Persister {
    /// A persister for session `session_id`, writing conversation `conversation_id` (`journal` when it was opened
    /// from the store, `None` for a new one, created on the first write). `session_lock` is the session's lock file.
    pub fn new(
        store: Arc<Store>,
        session_id: String,
        token: String,
        conversation_id: String,
        journal: Option<Journal>,
        session_lock: Option<File>,
    ) -> Persister {
        Persister {
            store,
            session_id,
            token,
            conversation_id,
            journal,
            session_lock,
            record_saved: false,
            ops: Vec::new(),
            dirty: Default::default(),
            last_meta: None,
            deferred_since: None,
            last_write: Instant::now(),
            failing: false,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Whether every change taken from the state is in the file.
    pub fn is_clean(&self) -> bool {
        self.ops.is_empty() && self.dirty.is_empty() && self.record_saved && !self.failing
    }

    /// When deferred changes must be written at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.deferred_since.map(|t| t + STREAM_FLUSH)
    }

    /// Closes the current journal (the caller saved it first) and writes `conversation_id` from now on: `journal`
    /// when it was opened from the store, else a new file on the first write.
    pub fn switch(&mut self, conversation_id: String, journal: Option<Journal>) {
        self.journal = journal;
        self.conversation_id = conversation_id;
        self.record_saved = false;
        self.ops.clear();
        self.dirty.clear();
        self.last_meta = None;
        self.deferred_since = None;
    }

    /// Takes the state's changes and writes them as `when` asks. Returns an error text the first time a write
    /// fails (the caller reports it); unwritten changes are kept and retried with the next save.
    pub fn save(&mut self, state: &SharedState, when: When) -> Option<String> {
        let (bytes, meta, header) = {
            let mut s = lock(state);
            let changes = s.take_changes();
            self.ops.extend(changes.ops);
            self.dirty.extend(changes.dirty);
            // Decided before the summary is built: deltas arrive by the thousand and most are deferred.
            if when == When::Lazy && self.last_write.elapsed() < STREAM_FLUSH {
                if !self.ops.is_empty() || !self.dirty.is_empty() {
                    self.deferred_since.get_or_insert_with(Instant::now);
                }
                return None;
            }
            let meta = s.journal_meta();
            let unchanged = self.ops.is_empty()
                && self.dirty.is_empty()
                && self.last_meta.as_ref() == Some(&meta)
                && self.record_saved;
            if unchanged {
                return None;
            }
            let header = self.journal.is_none().then(|| self.header(&s));
            (self.render(&s, &meta), meta, header)
        };
        let sync = match self.store.fsync() {
            FsyncPolicy::Always => true,
            FsyncPolicy::Turn => when == When::Durable,
            FsyncPolicy::Never => false,
        };
        let written = self.append(&bytes, header, sync);
        if written.is_ok() {
            // Cleared as soon as the lines are in the file, so a failing record write cannot duplicate them.
            self.ops.clear();
            self.dirty.clear();
            self.last_meta = Some(meta);
        }
        match written.and_then(|()| self.save_record()) {
            Ok(()) => {
                self.deferred_since = None;
                self.last_write = Instant::now();
                self.failing = false;
                None
            }
            Err(e) => {
                self.deferred_since.get_or_insert_with(Instant::now);
                self.last_write = Instant::now();
                let first = !self.failing;
                self.failing = true;
                first.then(|| {
                    format!(
                        "Could not save conversation {}: {e}. The session keeps working; saving is retried.",
                        self.conversation_id
                    )
                })
            }
        }
    }

    fn append(&mut self, bytes: &[u8], header: Option<Header>, sync: bool) -> Result<()> {
        if self.session_lock.is_none() {
            self.session_lock = Some(self.store.lock_session(&self.session_id)?);
        }
        if let Some(h) = header {
            self.journal = Some(self.store.create_journal(&h)?);
        }
        self.journal
            .as_mut()
            .expect("journal exists")
            .append(bytes, sync)
    }

    fn save_record(&mut self) -> Result<()> {
        if !self.record_saved {
            self.store.save_session_record(&SessionRecord {
                session_id: self.session_id.clone(),
                token: self.token.clone(),
                conversation_id: self.conversation_id.clone(),
            })?;
            self.record_saved = true;
        }
        Ok(())
    }

    fn header(&self, s: &super::state::SessionState) -> Header {
        let ident = s.identity();
        Header {
            version: FORMAT_VERSION,
            conversation_id: self.conversation_id.clone(),
            session_id: self.session_id.clone(),
            token: self.token.clone(),
            created_at: crate::time::rfc3339(crate::time::wall_ms()),
            model: ident.model.clone(),
            provider: ident.provider.clone(),
            workdir: ident.workdir.clone(),
            title: s.journal_meta().title,
        }
    }

    /// The lines for the pending changes: structural operations first, then every changed message as it reads now,
    /// then the summary. Replaying them turns the stored transcript into the current one.
    fn render(&self, s: &super::state::SessionState, meta: &Meta) -> Vec<u8> {
        let mut out = Vec::new();
        for op in &self.ops {
            let entry = match *op {
                JournalOp::Branch(i) => match s.branches().get(i) {
                    Some(b) => Entry::Branch(StoredBranch {
                        name: b.name.clone(),
                        created_at_ms: b.created_at_ms,
                        messages: b.messages.iter().map(StoredMessage::from).collect(),
                    }),
                    None => continue,
                },
                JournalOp::Truncate { after_id } => Entry::Truncate { after_id },
                JournalOp::Switch(number) => Entry::Switch { number },
            };
            out.extend(line(&entry));
        }
        for id in &self.dirty {
            if let Some(m) = s.transcript().get(*id) {
                out.extend(line(&Entry::Msg(StoredMessage::from(m))));
            }
        }
        out.extend(line(&Entry::Meta(meta.clone())));
        out
    }
}
