//! File I/O shared by the file tools: opening resolved paths without following a final symlink (so a link swapped in
//! after the sandbox checked the path is not followed), reading text, and writing in place.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Bytes scanned for a NUL to call a file binary.
const BINARY_SNIFF: usize = 8192;

/// Whether `bytes` look binary (a NUL byte near the start).
pub(super) fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

/// Opens `path` (already resolved by the sandbox) for reading, refusing anything but a regular file: reading a
/// FIFO or device would block or never end.
pub(super) fn open_regular(path: &Path, arg: &str) -> Result<File, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {arg}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{arg} is a directory"));
    }
    if !meta.is_file() {
        return Err(format!("{arg} is not a regular file"));
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot read {arg}: {e}"))
}

/// Reads at most `limit` bytes of `file`; the flag says whether more was left.
pub(super) fn read_capped(file: File, arg: &str, limit: usize) -> Result<(Vec<u8>, bool), String> {
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {arg}: {e}"))?;
    let more = bytes.len() > limit;
    bytes.truncate(limit);
    Ok((bytes, more))
}

/// The whole content of an existing text file the editing tools are about to change: binary and non-UTF-8 files
/// are refused, since editing them as text would corrupt them.
pub(super) fn read_text(path: &Path, arg: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    open_regular(path, arg)?
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {arg}: {e}"))?;
    if is_binary(&bytes) {
        return Err(format!("{arg} is a binary file"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{arg} is not valid UTF-8 text"))
}

/// The current content of `path` for a file change, or `None` when there is no regular file there.
pub(super) fn read_before(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Replaces the content of `path` (resolved by the sandbox), creating the file and its missing parent directories.
///
/// The file is written in place (keeping its inode, permissions and links) and opened with `O_NOFOLLOW`. New parent
/// directories are checked to be exactly where the sandbox resolved them, so one swapped for a symlink between the
/// check and the write is not followed.
pub(super) fn write_text(path: &Path, arg: &str, content: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {arg}: {e}");
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
        if parent.canonicalize().map_err(fail)? != parent {
            return Err(format!("path escapes workdir: {arg}"));
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(fail)?;
    file.write_all(content.as_bytes()).map_err(fail)?;
    file.flush().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;

    #[test]
    fn writes_refuse_a_final_symlink_and_parents_that_moved() {
        let t = TempDir::new("files");
        let root = t.path();
        let outside = TempDir::new("files-outside");
        std::fs::write(outside.path().join("v"), "keep").unwrap();
        std::os::unix::fs::symlink(outside.path().join("v"), root.join("link")).unwrap();
        // As if the link appeared after the sandbox resolved `link` to a plain path inside.
        assert!(write_text(&root.join("link"), "link", "x")
            .unwrap_err()
            .starts_with("cannot write link: "));
        std::os::unix::fs::symlink(outside.path(), root.join("dirlink")).unwrap();
        assert_eq!(
            write_text(&root.join("dirlink/new"), "dirlink/new", "x").unwrap_err(),
            "path escapes workdir: dirlink/new"
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("v")).unwrap(),
            "keep"
        );
        assert!(!outside.path().join("new").exists());
        assert!(read_before(&root.join("link")).is_none());
    }

    #[test]
    fn reads_refuse_directories_fifos_and_binary_text() {
        let t = TempDir::new("files");
        let root = t.path();
        assert_eq!(open_regular(root, "d").unwrap_err(), "d is a directory");
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            open_regular(&root.join("fifo"), "fifo").unwrap_err(),
            "fifo is not a regular file"
        );
        std::fs::write(root.join("b"), b"a\0b").unwrap();
        assert_eq!(
            read_text(&root.join("b"), "b").unwrap_err(),
            "b is a binary file"
        );
        std::fs::write(root.join("l"), b"caf\xe9").unwrap();
        assert_eq!(
            read_text(&root.join("l"), "l").unwrap_err(),
            "l is not valid UTF-8 text"
        );
        assert_eq!(read_before(&root.join("l")).unwrap(), "caf\u{fffd}");
    }
}
