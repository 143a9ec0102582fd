//! The conversation store: one append-only JSONL journal per conversation under `<store_dir>/conversations/`, and
//! one small record per session under `<store_dir>/sessions/` naming its token and current conversation.
//!
//! Files are 0600 in 0700 directories. Every ID is validated before it becomes part of a path.

pub mod journal;
pub mod list;
pub mod record;

use std::fs::{DirBuilder, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use journal::{Journal, Replayed};
use record::Header;

/// When appends are made durable with fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// After every write.
    Always,
    /// When a turn ends and after changes made outside a turn (default): an acknowledged turn is durable.
    #[default]
    Turn,
    /// Never (the OS decides; a power loss may lose recent turns).
    Never,
}

/// What the store remembers of a session between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// Session ID.
    pub session_id: String,
    /// Its token (stable across restarts and reloads; replaced only by a renewal).
    pub token: String,
    /// When the token was issued (ms since the epoch); absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_issued_ms: Option<u64>,
    /// Its current conversation.
    pub conversation_id: String,
    /// The options it was started with (see `Resolved::stored`); absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A store directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    fsync: FsyncPolicy,
}

/// Best effort: makes a directory's entries (a new or renamed file) durable.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Replaces `path` with `body` atomically: written to `tmp` (0600), synced, renamed over `path`; a crash leaves the
/// old content or the new, never a part. The error says which step failed (`create`, `write`, `sync`, `rename`).
pub fn replace_file(
    tmp: &Path,
    path: &Path,
    body: &[u8],
) -> std::result::Result<(), (&'static str, std::io::Error)> {
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| ("create", e))
        .and_then(|mut f| {
            f.write_all(body).map_err(|e| ("write", e))?;
            f.sync_all().map_err(|e| ("sync", e))
        })
        .and_then(|()| std::fs::rename(tmp, path).map_err(|e| ("rename", e)));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// How long a lock held by someone else is waited for before that is an error. A lock is tied to its open file,
/// and a child the host process forks (any child, by any library) holds a copy of every open file until it execs:
/// a session stopped a moment ago may look held for that long.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes `file`'s exclusive advisory lock, waiting up to [`LOCK_PATIENCE`] for another holder to let go; `busy`
/// words the error when it does not.
pub fn try_lock(file: &File, path: &Path, busy: impl FnOnce() -> String) -> Result<()> {
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Busy(busy())),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::Io(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }
}

fn make_dir(path: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::Io(format!("cannot create {}: {e}", path.display())))?;
    // An existing directory may have been created looser (by hand, or by an older umask).
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::Io(format!("cannot restrict {}: {e}", path.display())))?;
    }
    Ok(())
}

impl Store {
    /// A store at `root` (created lazily, on the first write).
    pub fn new(root: PathBuf, fsync: FsyncPolicy) -> Store {
        Store { root, fsync }
    }

    /// Where the store lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the store directory if needed and proves it writable by creating and removing a file in it, so a
    /// client on a store it could never write fails when it is created instead of losing every conversation later.
    pub fn check_writable(&self) -> Result<()> {
        make_dir(&self.root)?;
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Error::Internal(format!("the OS random generator failed: {e}")))?;
        let probe = self.root.join(format!(
            ".write-probe-{}",
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&probe)
            .map_err(|e| {
                Error::Io(format!(
                    "store_dir {} is not writable: {e}",
                    self.root.display()
                ))
            })?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// The fsync policy.
    pub fn fsync(&self) -> FsyncPolicy {
        self.fsync
    }

    fn conversations(&self) -> PathBuf {
        self.root.join("conversations")
    }

    fn sessions(&self) -> PathBuf {
        self.root.join("sessions")
    }

    /// The journal path of conversation `id` (validated).
    pub fn conversation_path(&self, id: &str) -> Result<PathBuf> {
        crate::ids::validate_id("conversation id", id)?;
        Ok(self.conversations().join(format!("{id}.jsonl")))
    }

    fn session_path(&self, id: &str) -> Result<PathBuf> {
        crate::ids::validate_id("session id", id)?;
        Ok(self.sessions().join(format!("{id}.json")))
    }

    /// Where an ACP session keeps its agent's ACP session ID, beside the session's record (`id` validated):
    /// `<id>.acp`, a name no record (`.json`) or lock (`.lock`) of any session ID can have.
    pub fn acp_session_path(&self, id: &str) -> Result<PathBuf> {
        Ok(self.session_path(id)?.with_extension("acp"))
    }

    /// Whether a session record exists for `id` (generated IDs skip those).
    pub fn has_session(&self, id: &str) -> bool {
        self.session_path(id).is_ok_and(|p| p.exists())
    }

    /// The record of session `id`, if stored. A record that cannot be read or parsed is an error.
    pub fn session_record(&self, id: &str) -> Result<Option<SessionRecord>> {
        let path = self.session_path(id)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
        };
        let rec: SessionRecord = serde_json::from_str(&text)
            .map_err(|e| Error::Io(format!("{} is corrupt: {e}", path.display())))?;
        if rec.session_id != id {
            return Err(Error::Io(format!(
                "{} belongs to session {:?}",
                path.display(),
                rec.session_id
            )));
        }
        crate::ids::validate_id("conversation id", &rec.conversation_id)?;
        Ok(Some(rec))
    }

    /// Writes a session record atomically (temporary file, fsync, rename).
    pub fn save_session_record(&self, rec: &SessionRecord) -> Result<()> {
        let path = self.session_path(&rec.session_id)?;
        make_dir(&self.sessions())?;
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec(rec).expect("session records serialize");
        replace_file(&tmp, &path, &body)
            .map_err(|(what, e)| Error::Io(format!("cannot {what} {}: {e}", tmp.display())))?;
        sync_dir(&self.sessions());
        Ok(())
    }

    /// Holds session `id`'s lock file: a second client starting the same stored session gets `Busy`.
    pub fn lock_session(&self, id: &str) -> Result<File> {
        let path = self.session_path(id)?.with_extension("lock");
        make_dir(&self.sessions())?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        try_lock(&file, &path, || {
            format!("session {id:?} is open in another client of this store")
        })?;
        Ok(file)
    }

    /// Creates the journal of a new conversation.
    pub fn create_journal(&self, header: &Header) -> Result<Journal> {
        let path = self.conversation_path(&header.conversation_id)?;
        make_dir(&self.conversations())?;
        Journal::create(&path, header, self.fsync != FsyncPolicy::Never)
    }

    /// Opens and replays conversation `id` (`NotFound`, `Busy` when another writer holds it).
    pub fn open_journal(&self, id: &str) -> Result<(Journal, Replayed)> {
        Journal::open(&self.conversation_path(id)?)
    }

    /// Whether conversation `id` exists and replays (read only): tells an unwritable store from a corrupt journal.
    pub fn conversation_replays(&self, id: &str) -> bool {
        self.conversation_path(id)
            .ok()
            .and_then(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
            .is_some_and(|(p, bytes)| journal::replay(&bytes, &p).is_ok())
    }

    /// Deletes conversation `id`; `Busy` while a session (of any client) has it open.
    pub fn delete(&self, id: &str) -> Result<()> {
        let path = self.conversation_path(id)?;
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("no stored conversation {id}")),
            _ => Error::Io(format!("cannot open {}: {e}", path.display())),
        })?;
        try_lock(&file, &path, || {
            format!("conversation {id} is open in a session; stop it or switch it to another conversation first")
        })?;
        std::fs::remove_file(&path)
            .map_err(|e| Error::Io(format!("cannot delete {}: {e}", path.display())))?;
        sync_dir(&self.conversations());
        Ok(())
    }

    /// Metadata of every stored conversation, newest first.
    pub fn list(&self) -> Result<Vec<serde_json::Value>> {
        list::list(&self.root, &self.conversations())
    }
}

/// A new conversation ID: UTC time to the second and 64 random bits, e.g. `20261120T101500Z-1f2e3d4c5b6a7988`.
pub fn new_conversation_id(wall_ms: u64) -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Error::Internal(format!("the OS random generator failed: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}-{hex}", crate::time::compact_utc(wall_ms)))
}

#[cfg(test)]
mod tests;
