//! The manager's side of persistence: restoring a session's conversation at start, moving a session to a new or
//! stored conversation, and listing and deleting stored conversations.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::Manager;
use crate::error::{Error, Result};
use crate::session::machine::conversations::Loaded;
use crate::session::machine::state::{Command, Input, Now, Reply, SessionState};
use crate::session::machine::transcript::Level;
use crate::session::options::Resolved;
use crate::session::persist::Persister;
use crate::session::{read, SharedPersister};
use crate::store::new_conversation_id;
use crate::store::record::{Header, FORMAT_VERSION};
use crate::sync::lock;

impl Manager {
    /// Gives a starting session its token and conversation: the stored ones when the store knows session `id`,
    /// else new ones. Problems short of another writer holding the session are notes in the transcript, not errors.
    pub(super) fn restore(
        &self,
        id: &str,
        opts: &Resolved,
        state: &mut SessionState,
        now: Now,
    ) -> Result<(super::BrokerToken, Option<SharedPersister>)> {
        let Some(store) = self.store.as_ref().filter(|_| opts.persist) else {
            state.set_conversation_id(new_conversation_id(now.wall_ms)?);
            return Ok((super::BrokerToken::fresh()?, None));
        };
        // An unwritable store is not fatal: the session works in memory and saving is retried.
        let session_lock = match store.lock_session(id) {
            Ok(f) => Some(f),
            Err(e @ Error::Busy(_)) => return Err(e),
            Err(_) => None,
        };
        let mut notes = Vec::new();
        let record = store.session_record(id).unwrap_or_else(|e| {
            notes.push(format!("Could not read this session's stored record: {e}"));
            None
        });
        let token = match record.as_ref().filter(|r| !r.token.is_empty()) {
            Some(r) => super::BrokerToken {
                token: r.token.clone(),
                // A record from before issue times were kept: counted from now (see `broker_token`).
                issued_ms: r.token_issued_ms.unwrap_or(now.wall_ms),
            },
            None => super::BrokerToken::fresh()?,
        };
        let mut journal = None;
        let mut conversation_id = None;
        if let Some(rec) = &record {
            match store.open_journal(&rec.conversation_id) {
                Ok((j, replayed)) => {
                    let loaded = Loaded {
                        conversation_id: rec.conversation_id.clone(),
                        replayed,
                    };
                    state.load_conversation(loaded, now, &mut Vec::new());
                    journal = Some(j);
                    conversation_id = Some(rec.conversation_id.clone());
                }
                Err(e @ Error::Busy(_)) => return Err(e),
                // A good conversation that cannot be opened for writing (read-only or failing store): starting a
                // new one would repoint the session away from it, so the start fails and nothing changes.
                Err(e @ Error::Io(_)) if store.conversation_replays(&rec.conversation_id) => {
                    return Err(Error::Io(format!(
                        "cannot reopen this session's conversation: {e}"
                    )))
                }
                Err(e) => notes.push(format!(
                    "Could not restore conversation {}: {e}. A new conversation was started.",
                    rec.conversation_id
                )),
            }
        }
        let conversation_id = match conversation_id {
            Some(c) => c,
            None => {
                let c = new_conversation_id(now.wall_ms)?;
                state.set_conversation_id(c.clone());
                c
            }
        };
        for note in notes {
            state.apply(
                Input::Command(Command::AddSystemMessage(note, Level::Error)),
                now,
            );
        }
        let persister = Persister::new(
            store.clone(),
            id.to_string(),
            token.clone(),
            conversation_id,
            journal,
            session_lock,
            opts.stored(),
        );
        Ok((token, Some(Arc::new(Mutex::new(persister)))))
    }

    fn expect_ok(reply: Reply) -> Result<()> {
        match reply {
            Reply::Failed(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Archives session `id`'s conversation and starts a new one (a running turn is aborted first). A persisted
    /// session's new journal is created first: when the store cannot create it, this fails and nothing changes.
    pub fn new_conversation(&self, id: &str) -> Result<String> {
        let (handle, persist, token) = {
            let reg = lock(&self.reg);
            let (h, seed) = reg.active(id)?;
            let token = lock(&seed.token).token.clone();
            (h.clone(), seed.persist.clone(), token)
        };
        let conversation_id = new_conversation_id(crate::time::wall_ms())?;
        let store = persist.as_ref().map(|p| lock(p).store().clone());
        let journal = match &store {
            Some(store) => {
                let ident = read(&handle.state).identity().clone();
                let header = Header {
                    version: FORMAT_VERSION,
                    conversation_id: conversation_id.clone(),
                    session_id: id.to_string(),
                    token,
                    created_at: crate::time::rfc3339(crate::time::wall_ms()),
                    model: ident.model,
                    provider: ident.provider,
                    workdir: ident.workdir,
                    title: None,
                };
                Some(
                    store
                        .create_journal(&header)
                        .map_err(|e| Error::Io(format!("cannot start a new conversation: {e}")))?,
                )
            }
            None => None,
        };
        let cmd = Command::NewConversation {
            conversation_id: conversation_id.clone(),
        };
        let switched = handle
            .switch_conversation(cmd, journal)
            .and_then(Self::expect_ok);
        if let (Err(_), Some(store)) = (&switched, &store) {
            // The session stayed where it was: the new, empty journal is not a conversation anyone had.
            let _ = store.delete(&conversation_id);
        }
        switched.map(|()| conversation_id)
    }

    /// Loads stored conversation `conversation_id` into session `id` (a running turn is aborted first).
    pub fn load_conversation(&self, id: &str, conversation_id: &str) -> Result<()> {
        crate::ids::validate_id("conversation id", conversation_id)?;
        let (handle, persist) = {
            let reg = lock(&self.reg);
            let (h, seed) = reg.active(id)?;
            (h.clone(), seed.persist.clone())
        };
        let persist = persist.ok_or_else(|| {
            Error::NotFound(format!(
                "session {id:?} does not persist conversations (persist: false or store_dir: null)"
            ))
        })?;
        if read(&handle.state).conversation_id() == conversation_id {
            return Ok(());
        }
        let store = lock(&persist).store().clone();
        let (journal, replayed) = store.open_journal(conversation_id)?;
        let loaded = Loaded {
            conversation_id: conversation_id.to_string(),
            replayed,
        };
        let cmd = Command::LoadConversation(Box::new(loaded));
        Self::expect_ok(handle.switch_conversation(cmd, Some(journal))?)
    }

    /// Stored conversations, newest first (empty without a store).
    pub fn conversations(&self) -> Result<Vec<Value>> {
        match &self.store {
            Some(s) => s.list(),
            None => Ok(Vec::new()),
        }
    }

    /// Deletes a stored conversation; `Busy` while a session has it open.
    pub fn delete_conversation(&self, conversation_id: &str) -> Result<()> {
        crate::ids::validate_id("conversation id", conversation_id)?;
        match &self.store {
            Some(s) => s.delete(conversation_id),
            None => Err(Error::NotFound(format!(
                "no stored conversation {conversation_id}: this client has no store (store_dir: null)"
            ))),
        }
    }
}
