//! The workdir sandbox: every path a tool touches resolves inside the session's workdir, symlinks included.

use std::path::{Component, Path, PathBuf};

/// Longest path argument accepted, in bytes (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;
/// Longest path component accepted, in bytes (Linux's `NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

/// Resolves a tool's path argument against `root` (an absolute, canonical directory), following symlinks.
///
/// Refuses `..` that climbs out, absolute paths elsewhere, and paths whose existing part leads outside through a
/// symlink; dangling symlinks and symlink loops are refused too, since where they lead cannot be checked. The error
/// text is `path escapes workdir: <arg>`. An empty argument, a NUL byte or an overlong path or component is
/// `invalid path: <reason>` instead (such arguments are not echoed). The part of the path that does not exist yet
/// is appended as given, so the result is where a write would create it.
pub fn resolve(root: &Path, arg: &str) -> Result<PathBuf, String> {
    let lexical = lexical(root, arg)?;
    real(root, &lexical, arg)
}

/// Like [`resolve`], but the final component is not followed: the result names the directory entry itself (a
/// symlink stays a symlink), under a parent that is resolved and inside the workdir. The whole path must still
/// pass [`resolve`], so an entry that is a symlink leading outside is refused. `delete_file` removes this entry.
pub fn resolve_entry(root: &Path, arg: &str) -> Result<PathBuf, String> {
    let full = resolve(root, arg)?;
    let lexical = lexical(root, arg)?;
    match (lexical.parent(), lexical.file_name()) {
        (Some(parent), Some(name)) if lexical.as_path() != root => {
            Ok(real(root, parent, arg)?.join(name))
        }
        _ => Ok(full),
    }
}

fn invalid(reason: &str) -> String {
    format!("invalid path: {reason}")
}

fn escape(arg: &str) -> String {
    format!("path escapes workdir: {arg}")
}

/// The argument joined to `root` with `.` and `..` applied by name, refusing what climbs out of `root`.
fn lexical(root: &Path, arg: &str) -> Result<PathBuf, String> {
    if arg.is_empty() {
        return Err(invalid("empty"));
    }
    if arg.contains('\0') {
        return Err(invalid("contains a NUL byte"));
    }
    if arg.len() > MAX_PATH_BYTES {
        return Err(invalid(&format!("longer than {MAX_PATH_BYTES} bytes")));
    }
    if arg.split('/').any(|c| c.len() > MAX_NAME_BYTES) {
        return Err(invalid(&format!(
            "a component is longer than {MAX_NAME_BYTES} bytes"
        )));
    }
    let joined = if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        root.join(arg)
    };
    let mut lexical = PathBuf::new();
    for comp in joined.components() {
        match comp {
            Component::ParentDir => {
                if !lexical.pop() {
                    return Err(escape(arg));
                }
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    if !lexical.starts_with(root) {
        return Err(escape(arg));
    }
    Ok(lexical)
}

/// Where `lexical` really leads: its longest existing prefix canonicalized (and checked to be inside `root`), then
/// the rest, which does not exist yet.
fn real(root: &Path, lexical: &Path, arg: &str) -> Result<PathBuf, String> {
    let mut existing = lexical;
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                if !real.starts_with(root) {
                    return Err(escape(arg));
                }
                let mut out = real;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => {
                // A dangling symlink or a loop is refused rather than guessed at.
                if existing.symlink_metadata().is_ok() {
                    return Err(escape(arg));
                }
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_os_string());
                        existing = parent;
                    }
                    _ => return Err(escape(arg)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;
    use std::os::unix::fs::symlink;

    #[test]
    fn inside_paths_resolve() {
        let t = TempDir::new("sandbox");
        let root = t.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "x").unwrap();
        symlink("sub/a.txt", root.join("alias")).unwrap();
        assert_eq!(resolve(root, "sub/a.txt").unwrap(), root.join("sub/a.txt"));
        assert_eq!(
            resolve(root, "./sub/../sub/a.txt").unwrap(),
            root.join("sub/a.txt")
        );
        assert_eq!(resolve(root, ".").unwrap(), root);
        assert_eq!(
            resolve(root, "new/dir/file").unwrap(),
            root.join("new/dir/file")
        );
        assert_eq!(
            resolve(root, root.join("sub").to_str().unwrap()).unwrap(),
            root.join("sub")
        );
        assert_eq!(resolve(root, "alias").unwrap(), root.join("sub/a.txt"));
        assert_eq!(resolve_entry(root, "alias").unwrap(), root.join("alias"));
        assert_eq!(
            resolve_entry(root, "sub/../alias").unwrap(),
            root.join("alias")
        );
        assert_eq!(resolve_entry(root, ".").unwrap(), root);
    }

    #[test]
    fn escapes_and_invalid_paths_are_refused() {
        let t = TempDir::new("sandbox");
        let root = t.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        symlink("/etc", root.join("link")).unwrap();
        symlink("/nonexistent/x", root.join("dangling")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        for bad in [
            "..",
            "../x",
            "sub/../../x",
            "/etc/passwd",
            "link/passwd",
            "link",
            "dangling",
            "dangling/x",
            "loop",
            "loop/x",
        ] {
            assert_eq!(resolve(root, bad).unwrap_err(), escape(bad));
            assert_eq!(resolve_entry(root, bad).unwrap_err(), escape(bad));
        }
        assert_eq!(resolve(root, "").unwrap_err(), "invalid path: empty");
        assert_eq!(
            resolve(root, "a\0b").unwrap_err(),
            "invalid path: contains a NUL byte"
        );
        assert_eq!(
            resolve(root, &"a/".repeat(2049)).unwrap_err(),
            "invalid path: longer than 4096 bytes"
        );
        assert_eq!(
            resolve(root, &"x".repeat(256)).unwrap_err(),
            "invalid path: a component is longer than 255 bytes"
        );
        assert!(resolve(root, &"x".repeat(255)).is_ok());
    }
}
