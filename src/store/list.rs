//! Listing stored conversations from each journal's header and the newest `meta` line in its tail, without reading
//! whole files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{json, Value};

use super::record::{Entry, Header, Meta};
use crate::error::{Error, Result};

/// How much of a file's end is read first when looking for its newest `meta` line.
const TAIL: u64 = 16 * 1024;
/// A header line longer than this is not a tandem header.
const HEADER_MAX: u64 = 64 * 1024;

/// Metadata of every conversation in `dir` (the `conversations` directory of the store at `root`), newest first.
/// A file that is not a tandem journal is skipped; one that cannot be read, a directory that cannot be listed, and
/// a store that is gone are errors, so a dead store never looks like an empty one.
pub fn list(root: &Path, dir: &Path) -> Result<Vec<Value>> {
    let io = |p: &Path, e: std::io::Error| Error::Io(format!("cannot read {}: {e}", p.display()));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        // No conversation was ever stored, as long as the store itself is there.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match std::fs::metadata(root) {
                Ok(m) if m.is_dir() => Ok(Vec::new()),
                Ok(_) => Err(Error::Io(format!(
                    "the store {} is not a directory",
                    root.display()
                ))),
                Err(e) => Err(io(root, e)),
            }
        }
        Err(e) => return Err(io(dir, e)),
    };
    let mut rows: Vec<(u64, Value)> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        // A file deleted while listing is simply gone; any other failure to open it is the store's.
        match File::open(&path) {
            Ok(file) => rows.extend(summarize(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&path, e)),
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(rows.into_iter().map(|(_, v)| v).collect())
}

/// One conversation's metadata and its last-message time (for sorting); `None` for a file that is not a journal.
pub fn summarize(mut file: File) -> Option<(u64, Value)> {
    let len = file.metadata().ok()?.len();
    let header = read_header(&mut file)?;
    let meta = newest_meta(&mut file, len);
    let created_ms = crate::time::parse_rfc3339(&header.created_at).unwrap_or(0);
    let (title, model, last_ms, messages, turns, cost) = match &meta {
        Some(m) => (
            m.title.clone(),
            m.model.clone(),
            m.last_message_at_ms,
            m.message_count,
            m.turn_count,
            m.usage.cost,
        ),
        None => (
            header.title.clone(),
            header.model.clone(),
            created_ms,
            0,
            0,
            0.0,
        ),
    };
    Some((
        last_ms,
        json!({
            "id": header.conversation_id,
            "session_id": header.session_id,
            "title": title,
            "model": model,
            "created_at": header.created_at,
            "last_message_at": crate::time::rfc3339(last_ms),
            "message_count": messages,
            "turn_count": turns,
            "cost": cost,
        }),
    ))
}

fn read_header(file: &mut File) -> Option<Header> {
    let mut buf = Vec::new();
    file.by_ref().take(HEADER_MAX).read_to_end(&mut buf).ok()?;
    let end = buf.iter().position(|b| *b == b'\n')?;
    match serde_json::from_slice::<Entry>(&buf[..end]).ok()? {
        Entry::Header(h) => Some(h),
        _ => None,
    }
}

/// The newest complete `meta` line, reading a growing window from the end (the whole file at worst).
fn newest_meta(file: &mut File, len: u64) -> Option<Meta> {
    let mut window = TAIL;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut buf = Vec::new();
        file.by_ref().take(window).read_to_end(&mut buf).ok()?;
        // The first line of a window that starts mid-file may be partial: skip it.
        let body = if start == 0 {
            &buf[..]
        } else {
            match buf.iter().position(|b| *b == b'\n') {
                Some(i) => &buf[i + 1..],
                None => &[][..],
            }
        };
        let found = body
            .split(|b| *b == b'\n')
            .rev()
            .filter(|l| l.starts_with(b"{\"meta\""))
            .find_map(|l| match serde_json::from_slice::<Entry>(l) {
                Ok(Entry::Meta(m)) => Some(m),
                _ => None,
            });
        if found.is_some() || start == 0 {
            return found;
        }
        window *= 4;
    }
}
