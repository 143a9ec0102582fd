//! One conversation's append-only journal file: exclusive writer lock, appends that never leave a torn line
//! behind, and replay that repairs a torn tail and skips corrupt lines.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::record::{line, Entry, Header, Meta, StoredBranch, StoredTouched};
use crate::error::{Error, Result};
use crate::vocab::content::Message;

/// An open journal. Holding it holds the conversation's writer lock (released when dropped).
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Length of the file up to its last complete entry.
    len: u64,
}

/// A saved branch as replayed (the session turns it into its own branch).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedBranch {
    /// `branch-N`.
    pub name: String,
    /// The transcript as it was when the branch was made.
    pub messages: Vec<Message>,
    /// Wall-clock creation time (ms).
    pub created_at_ms: u64,
}

/// What replaying a journal produced.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The header.
    pub header: Header,
    /// The transcript.
    pub messages: Vec<Message>,
    /// Saved branches.
    pub branches: Vec<ReplayedBranch>,
    /// The newest summary line.
    pub meta: Option<Meta>,
    /// Touched files, the latest entry per path, in the order they were first touched.
    pub touched: Vec<StoredTouched>,
    /// Corrupt lines in the middle that were skipped.
    pub skipped: usize,
    /// Bytes of a torn or corrupt tail that were cut off.
    pub repaired_bytes: u64,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("cannot {what} {}: {e}", path.display()))
}

fn lock(file: &File, path: &Path) -> Result<()> {
    super::try_lock(file, path, || {
        format!(
            "conversation {} is open in another session or client",
            path.file_stem().unwrap_or_default().to_string_lossy()
        )
    })
}

/// Opens `path` for appending with mode 0600 (`create` = it must not exist yet).
fn open_file(path: &Path, create: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).mode(0o600);
    if create {
        o.create_new(true);
    }
    o.open(path)
}

impl Journal {
    /// Creates the journal of a new conversation, writing its header.
    pub fn create(path: &Path, header: &Header, sync: bool) -> Result<Journal> {
        let file = open_file(path, true).map_err(|e| io_error("create", path, e))?;
        lock(&file, path)?;
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            len: 0,
        };
        if let Err(e) = j.append(&line(&Entry::Header(header.clone())), sync) {
            // A journal without its header is useless; do not leave it behind.
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        if sync {
            super::sync_dir(path.parent().unwrap_or(Path::new(".")));
        }
        Ok(j)
    }

    /// Opens and replays an existing journal, cutting off a torn or corrupt tail.
    pub fn open(path: &Path) -> Result<(Journal, Replayed)> {
        let mut file = open_file(path, false).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!(
                "no stored conversation {}",
                path.file_stem().unwrap_or_default().to_string_lossy()
            )),
            _ => io_error("open", path, e),
        })?;
        lock(&file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error("read", path, e))?;
        let (replayed, good_len) = replay(&bytes, path)?;
        drop(bytes);
        if good_len < file_len(&file) {
            file.set_len(good_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("repair", path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| io_error("seek", path, e))?;
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                len: good_len,
            },
            replayed,
        ))
    }

    /// Appends complete lines. On failure the file is cut back to its last complete entry, so a later append never
    /// lands after half a line.
    pub fn append(&mut self, bytes: &[u8], sync: bool) -> Result<()> {
        let result = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(bytes))
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(io_error("write", &self.path, e))
            }
        }
    }
}

fn file_len(file: &File) -> u64 {
    file.metadata().map(|m| m.len()).unwrap_or(0)
}

/// Replays journal bytes; returns the state and the length up to the last good entry.
pub fn replay(bytes: &[u8], path: &Path) -> Result<(Replayed, u64)> {
    let corrupt = |why: &str| {
        Error::Io(format!(
            "{} is not a tandem conversation: {why}",
            path.display()
        ))
    };
    let mut lines = bytes.split_inclusive(|b| *b == b'\n');
    let first = lines.next().ok_or_else(|| corrupt("the file is empty"))?;
    let header = match serde_json::from_slice::<Entry>(first) {
        Ok(Entry::Header(h)) if first.ends_with(b"\n") => h,
        _ => return Err(corrupt("its first line is not a header")),
    };
    let mut r = Replayed {
        header,
        messages: Vec::new(),
        branches: Vec::new(),
        meta: None,
        touched: Vec::new(),
        skipped: 0,
        repaired_bytes: 0,
    };
    let mut offset = first.len() as u64;
    let mut good_len = offset;
    // Corrupt lines are only "in the middle" once a good line follows them; until then they are the tail.
    let mut bad_run = 0;
    for l in lines {
        offset += l.len() as u64;
        let entry = if l.ends_with(b"\n") {
            serde_json::from_slice::<Entry>(l).ok()
        } else {
            None
        };
        match entry {
            Some(e) => {
                apply(&mut r, e);
                r.skipped += bad_run;
                bad_run = 0;
                good_len = offset;
            }
            None => bad_run += 1,
        }
    }
    r.repaired_bytes = offset - good_len;
    Ok((r, good_len))
}

fn apply(r: &mut Replayed, entry: Entry) {
    match entry {
        Entry::Header(_) => {}
        Entry::Msg(m) => put(&mut r.messages, m.into()),
        Entry::Truncate { after_id } => r.messages.retain(|m| m.id <= after_id),
        Entry::Branch(StoredBranch {
            name,
            created_at_ms,
            messages,
        }) => r.branches.push(ReplayedBranch {
            name,
            created_at_ms,
            messages: messages.into_iter().map(Into::into).collect(),
        }),
        Entry::Switch { number } => {
            if let Some(b) = (number as usize)
                .checked_sub(1)
                .and_then(|i| r.branches.get(i))
            {
                r.messages = b.messages.clone();
            }
        }
        Entry::Meta(m) => r.meta = Some(m),
        Entry::Touched(t) => match r.touched.iter_mut().find(|x| x.path == t.path) {
            Some(x) => *x = t,
            None => r.touched.push(t),
        },
    }
}

/// Inserts or replaces by ID, keeping the list sorted (appends are the common case).
fn put(messages: &mut Vec<Message>, m: Message) {
    match messages.last() {
        Some(last) if last.id >= m.id => match messages.binary_search_by_key(&m.id, |x| x.id) {
            Ok(i) => messages[i] = m,
            Err(i) => messages.insert(i, m),
        },
        _ => messages.push(m),
    }
}
