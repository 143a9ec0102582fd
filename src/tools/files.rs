//! Text I/O shared by the file tools, on top of the confined handle ([`Root`]): reading text to edit, the current
//! content a write replaces, and writing a whole file atomically.

use std::path::Path;

use super::confine::Root;

/// Bytes scanned for a NUL to call a file binary.
const BINARY_SNIFF: usize = 8192;
/// Largest file the editing tools read whole (and the largest old content `write_file` reads to diff).
pub(super) const MAX_EDIT_BYTES: usize = 8 * 1024 * 1024;

/// Whether `bytes` look binary (a NUL byte near the start).
pub(super) fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

/// The whole content of an existing text file the editing tools are about to change: binary, non-UTF-8 and
/// oversized files are refused, since editing them as text would corrupt them (or take unbounded memory).
pub(super) fn read_text(root: &Root, path: &Path, arg: &str) -> Result<String, String> {
    let (bytes, more) = root.read_capped(path, arg, MAX_EDIT_BYTES, false)?;
    if more {
        return Err(format!(
            "{arg} is larger than {} MiB; too large to edit",
            MAX_EDIT_BYTES >> 20
        ));
    }
    if is_binary(&bytes) {
        return Err(format!("{arg} is a binary file"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{arg} is not valid UTF-8 text"))
}

/// What a write replaces: nothing (`Ok(None)`), or the current content of a regular file (lossy text). An entry
/// that exists but cannot be read (a directory, a FIFO, another hard link, an oversized file, no permission) is
/// an error: a write must not replace what it could not check.
pub(super) fn read_before(root: &Root, path: &Path, arg: &str) -> Result<Option<String>, String> {
    if root.entry(path, arg)?.is_none() {
        return Ok(None);
    }
    let (bytes, more) = root.read_capped(path, arg, MAX_EDIT_BYTES, false)?;
    if more {
        return Err(format!(
            "{arg} is larger than {} MiB; too large to overwrite",
            MAX_EDIT_BYTES >> 20
        ));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Replaces the content of `path` (resolved by the sandbox), creating the file and its missing parent directories;
/// see [`Root::write_atomic`].
pub(super) fn write_text(root: &Root, path: &Path, arg: &str, content: &str) -> Result<(), String> {
    root.write_atomic(path, arg, content.as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_refuse_a_final_symlink_and_parents_that_moved() {
        let t = TempDir::new("files");
        let r = Root::open(t.path()).unwrap();
        let root = t.path();
        let outside = TempDir::new("files-outside");
        std::fs::write(outside.path().join("v"), "keep").unwrap();
        std::os::unix::fs::symlink(outside.path().join("v"), root.join("link")).unwrap();
        // As if the link appeared after the sandbox resolved `link` to a plain path inside: refused, not followed.
        assert_eq!(
            write_text(&r, &root.join("link"), "link", "x").unwrap_err(),
            "link is not a regular file"
        );
        std::os::unix::fs::symlink(outside.path(), root.join("dirlink")).unwrap();
        assert_eq!(
            write_text(&r, &root.join("dirlink/new"), "dirlink/new", "x").unwrap_err(),
            "path escapes workdir: dirlink/new"
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("v")).unwrap(),
            "keep"
        );
        assert!(!outside.path().join("new").exists());
        std::os::unix::fs::symlink(outside.path().join("v"), root.join("link2")).unwrap();
        assert_eq!(
            read_before(&r, &root.join("link2"), "link2").unwrap_err(),
            "path escapes workdir: link2"
        );
    }

    #[test]
    fn writes_replace_the_inode_keep_the_mode_and_leave_other_links_alone() {
        use std::os::unix::fs::PermissionsExt;
        let t = TempDir::new("files");
        let r = Root::open(t.path()).unwrap();
        let root = t.path();
        let outside = TempDir::new("files-outside");
        std::fs::write(outside.path().join("v"), "keep").unwrap();
        std::fs::hard_link(outside.path().join("v"), root.join("hl")).unwrap();
        write_text(&r, &root.join("hl"), "hl", "new").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.path().join("v")).unwrap(),
            "keep"
        );
        assert_eq!(std::fs::read_to_string(root.join("hl")).unwrap(), "new");
        std::fs::write(root.join("x.sh"), "old").unwrap();
        std::fs::set_permissions(root.join("x.sh"), std::fs::Permissions::from_mode(0o751))
            .unwrap();
        let ino = std::fs::metadata(root.join("x.sh")).unwrap().ino();
        write_text(&r, &root.join("x.sh"), "x.sh", "new").unwrap();
        let meta = std::fs::metadata(root.join("x.sh")).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.ino() != ino), (0o751, true));
        let leftovers: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn reads_refuse_directories_fifos_hard_links_and_binary_text() {
        let t = TempDir::new("files");
        let r = Root::open(t.path()).unwrap();
        let root = t.path();
        std::fs::create_dir(root.join("d")).unwrap();
        assert_eq!(
            r.open_regular(&root.join("d"), "d", false).unwrap_err(),
            "d is a directory"
        );
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        // Opening a FIFO with no writer would block without O_NONBLOCK; this returns at once.
        assert_eq!(
            r.open_regular(&root.join("fifo"), "fifo", false)
                .unwrap_err(),
            "fifo is not a regular file"
        );
        std::fs::write(root.join("b"), b"a\0b").unwrap();
        assert_eq!(
            read_text(&r, &root.join("b"), "b").unwrap_err(),
            "b is a binary file"
        );
        std::fs::write(root.join("l"), b"caf\xe9").unwrap();
        assert_eq!(
            read_text(&r, &root.join("l"), "l").unwrap_err(),
            "l is not valid UTF-8 text"
        );
        assert_eq!(
            read_before(&r, &root.join("l"), "l").unwrap().unwrap(),
            "caf\u{fffd}"
        );
        std::fs::hard_link(root.join("l"), root.join("l2")).unwrap();
        assert_eq!(
            read_text(&r, &root.join("l2"), "l2").unwrap_err(),
            "l2 has other hard links (one may be outside the workdir); it is not read"
        );
        assert_eq!(read_before(&r, &root.join("none"), "none").unwrap(), None);
    }
}
