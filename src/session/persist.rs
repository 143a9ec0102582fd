//! The session's link to the store: it writes the batches the machine returns (`Effect::Persist`: only what
//! changed, never the whole conversation) to the current conversation's journal, durably when the batch says so,
//! and retries what could not be written. It never reads the session's state.

use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::machine::journal::{Batch, STREAM_FLUSH_MS};
use crate::error::Result;
use crate::store::journal::Journal;
use crate::store::record::{line, Entry, Header, FORMAT_VERSION};
use crate::store::{FsyncPolicy, SessionRecord, Store};

/// How long a failed write waits before it is retried.
const RETRY_AFTER: Duration = Duration::from_millis(STREAM_FLUSH_MS);

/// Writes one session's conversation to the store.
#[derive(Debug)]
pub struct Persister {
    store: Arc<Store>,
    session_id: String,
    token: crate::ids::BrokerToken,
    conversation_id: String,
    journal: Option<Journal>,
    session_lock: Option<File>,
    options: serde_json::Map<String, serde_json::Value>,
    record_saved: bool,
    /// Lines of batches not yet in the file.
    pending: Vec<u8>,
    /// The header of a journal not created yet.
    header: Option<Header>,
    /// Whether a pending batch must be made durable.
    durable: bool,
    retry_at: Option<Instant>,
    failing: bool,
    last_error: Option<String>,
}

impl Persister {
    /// A persister for session `session_id`, writing conversation `conversation_id` (`journal` when it was opened
    /// from the store, `None` for a new one, created on the first write). `session_lock` is the session's lock file;
    /// `options` go into the session's record for a later resume.
    pub fn new(
        store: Arc<Store>,
        session_id: String,
        token: crate::ids::BrokerToken,
        conversation_id: String,
        journal: Option<Journal>,
        session_lock: Option<File>,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> Persister {
        Persister {
            store,
            session_id,
            token,
            conversation_id,
            journal,
            session_lock,
            options,
            record_saved: false,
            pending: Vec::new(),
            header: None,
            durable: false,
            retry_at: None,
            failing: false,
            last_error: None,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Whether every batch received is in the file.
    pub fn is_clean(&self) -> bool {
        self.pending.is_empty() && self.record_saved && !self.failing
    }

    /// Closes the journal and lets go of the session's lock file: the session stopped, nothing more is written.
    pub fn close(&mut self) {
        self.journal = None;
        self.session_lock = None;
    }

    /// Why the last write failed, while writes are failing.
    pub fn failure(&self) -> Option<&str> {
        self.last_error.as_deref().filter(|_| self.failing)
    }

    /// When a failed write is retried.
    pub fn deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Closes the current journal (the caller saved it first) and writes `conversation_id` from now on: `journal`
    /// when it was opened from the store, else a new file on the first write.
    pub fn switch(&mut self, conversation_id: String, journal: Option<Journal>) {
        self.journal = journal;
        self.conversation_id = conversation_id;
        self.record_saved = false;
        self.pending.clear();
        self.header = None;
        self.durable = false;
        self.retry_at = None;
    }

    /// Writes `batch` after whatever is still pending (`None`: retries only). Returns an error text the first time
    /// a write fails (the caller reports it); unwritten lines are kept and retried.
    pub fn save(&mut self, batch: Option<&Batch>) -> Option<String> {
        if let Some(b) = batch {
            if self.journal.is_none() && self.header.is_none() {
                self.header = Some(self.header(b));
            }
            for entry in &b.entries {
                self.pending.extend(line(entry));
            }
            self.pending.extend(line(&Entry::Meta(b.meta.clone())));
            self.durable |= b.durable;
        }
        if self.pending.is_empty() && self.record_saved {
            return None;
        }
        let sync = match self.store.fsync() {
            FsyncPolicy::Always => true,
            FsyncPolicy::Turn => self.durable,
            FsyncPolicy::Never => false,
        };
        let written = if self.pending.is_empty() {
            Ok(())
        } else {
            let bytes = std::mem::take(&mut self.pending);
            let written = self.append(&bytes, sync);
            if written.is_ok() {
                // Cleared as soon as the lines are in the file, so a failing record write cannot duplicate them.
                self.durable = false;
            } else {
                self.pending = bytes;
            }
            written
        };
        match written.and_then(|()| self.save_record()) {
            Ok(()) => {
                self.retry_at = None;
                self.failing = false;
                None
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                self.last_error = Some(e.to_string());
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

    fn append(&mut self, bytes: &[u8], sync: bool) -> Result<()> {
        if self.session_lock.is_none() {
            self.session_lock = Some(self.store.lock_session(&self.session_id)?);
        }
        if self.journal.is_none() {
            if let Some(h) = &self.header {
                self.journal = Some(self.store.create_journal(h)?);
                self.header = None;
            }
        }
        self.journal
            .as_mut()
            .expect("journal exists")
            .append(bytes, sync)
    }

    /// Replaces the session's token. A record already in the store is rewritten now (write, then rename); when
    /// that fails the old token stays, here and in the store.
    pub fn set_token(&mut self, token: &crate::ids::BrokerToken) -> Result<()> {
        let old = std::mem::replace(&mut self.token, token.clone());
        if self.record_saved {
            self.record_saved = false;
            if let Err(e) = self.save_record() {
                self.token = old;
                self.record_saved = true;
                return Err(e);
            }
        }
        Ok(())
    }

    fn save_record(&mut self) -> Result<()> {
        if !self.record_saved {
            self.store.save_session_record(&SessionRecord {
                session_id: self.session_id.clone(),
                token: self.token.token.clone(),
                token_issued_ms: Some(self.token.issued_ms),
                conversation_id: self.conversation_id.clone(),
                options: Some(self.options.clone()),
            })?;
            self.record_saved = true;
        }
        Ok(())
    }

    fn header(&self, b: &Batch) -> Header {
        Header {
            version: FORMAT_VERSION,
            conversation_id: self.conversation_id.clone(),
            session_id: self.session_id.clone(),
            token: self.token.token.clone(),
            created_at: crate::time::rfc3339(crate::time::wall_ms()),
            model: b.origin.model.clone(),
            provider: b.origin.provider.clone(),
            workdir: b.origin.workdir.clone(),
            title: b.meta.title.clone(),
        }
    }
}
