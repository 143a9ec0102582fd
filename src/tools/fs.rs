//! Read-only file tools: `read_file` and `list_directory`.

use serde_json::Value;

use super::args::Args;
use super::confine::Root;
use super::files::is_binary;
use super::sandbox::resolve;
use super::ToolOutcome;

/// Bytes of a file `read_file` returns.
const READ_CAP: usize = 256 * 1024;

/// `read_file {path, offset?, limit?}`: a text file, whole or a 1-based slice of lines, cut at 256 KB.
pub(super) fn read_file(root: &Root, args: &Value) -> Result<ToolOutcome, String> {
    let a = Args::new("read_file", args, &["path", "offset", "limit"])?;
    let arg = a.string("path")?;
    let offset = a.opt_int("offset", 1)?.map(|n| n as usize);
    let limit = a.opt_int("limit", 1)?.map(|n| n as usize);
    let path = resolve(root.path(), arg)?;
    let (bytes, truncated) = root.read_capped(&path, arg, READ_CAP, false)?;
    if is_binary(&bytes) {
        return Err(format!("{arg} is a binary file"));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = if offset.is_some() || limit.is_some() {
        let lines: Vec<&str> = text.lines().collect();
        let start = offset.unwrap_or(1);
        if start > lines.len() {
            return Ok(ToolOutcome::ok(format!(
                "[offset {start} is past the end of {arg} ({} lines)]",
                lines.len()
            )));
        }
        let end = limit.map_or(lines.len(), |l| {
            (start - 1).saturating_add(l).min(lines.len())
        });
        format!(
            "[lines {start}-{end} of {}]\n{}",
            lines.len(),
            lines[start - 1..end].join("\n")
        )
    } else {
        text.into_owned()
    };
    if truncated {
        out.push_str("\n\n[truncated at 256KB]");
    }
    Ok(ToolOutcome::ok(out))
}

/// `list_directory {path?}`: one entry per line, directories first with a trailing `/`, each group sorted.
pub(super) fn list_directory(root: &Root, args: &Value) -> Result<ToolOutcome, String> {
    let a = Args::new("list_directory", args, &["path"])?;
    let arg = a.opt_string("path")?.unwrap_or(".");
    let path = resolve(root.path(), arg)?;
    let dir = root.open_dir(&path, arg, "list")?;
    let entries = dir
        .entries()
        .map_err(|e| format!("cannot list {arg}: {e}"))?;
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry's own type: a symlink to a directory is listed as a plain entry, not followed.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(name + "/");
        } else {
            files.push(name);
        }
    }
    dirs.sort();
    files.sort();
    dirs.extend(files);
    Ok(ToolOutcome::ok(dirs.join("\n")))
}

#[cfg(test)]
mod tests {
    use crate::tools::testutil::{err, ok, TempDir};
    use serde_json::json;

    #[test]
    fn lists_dirs_first() {
        let t = TempDir::new("fs");
        let root = t.path();
        std::fs::create_dir_all(root.join("zdir/inner")).unwrap();
        std::fs::write(root.join("a.txt"), "one\n").unwrap();
        std::fs::write(root.join("bin"), b"\x00\x01").unwrap();
        assert_eq!(ok(root, "list_directory", json!({})), "zdir/\na.txt\nbin");
        assert_eq!(
            ok(root, "list_directory", json!({"path": "zdir"})),
            "inner/"
        );
        assert_eq!(
            ok(root, "list_directory", json!({"path": "zdir/inner"})),
            ""
        );
        assert_eq!(
            err(root, "list_directory", json!({"path": "nope"})),
            "cannot list nope: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "list_directory", json!({"path": "a.txt"})),
            "cannot list a.txt: Not a directory (os error 20)"
        );
        assert_eq!(
            err(root, "list_directory", json!({"path": "../"})),
            "path escapes workdir: ../"
        );
    }

    #[test]
    fn reads_whole_files_and_slices() {
        let t = TempDir::new("fs");
        let root = t.path();
        std::fs::write(root.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(root.join("bin"), b"\x00\x01").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        assert_eq!(
            ok(root, "read_file", json!({"path": "a.txt"})),
            "one\ntwo\nthree\n"
        );
        assert_eq!(
            ok(
                root,
                "read_file",
                json!({"path": "a.txt", "offset": 2, "limit": 1})
            ),
            "[lines 2-2 of 3]\ntwo"
        );
        assert_eq!(
            ok(root, "read_file", json!({"path": "a.txt", "offset": 2})),
            "[lines 2-3 of 3]\ntwo\nthree"
        );
        assert_eq!(
            ok(root, "read_file", json!({"path": "a.txt", "offset": 9})),
            "[offset 9 is past the end of a.txt (3 lines)]"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "bin"})),
            "bin is a binary file"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "d"})),
            "d is a directory"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "nope"})),
            "cannot read nope: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "../x"})),
            "path escapes workdir: ../x"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": 3})),
            "read_file: \"path\" must be a string"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "a.txt", "offset": 0})),
            "read_file: \"offset\" must be a positive integer"
        );
        assert_eq!(
            err(root, "read_file", json!({"path": "a.txt", "lines": 3})),
            "read_file: unknown argument \"lines\""
        );
    }

    #[test]
    fn big_files_are_cut_at_256k_with_a_marker() {
        let t = TempDir::new("fs");
        let root = t.path();
        std::fs::write(root.join("big"), "x".repeat(300 * 1024)).unwrap();
        let text = ok(root, "read_file", json!({"path": "big"}));
        assert_eq!(text.len(), 256 * 1024 + "\n\n[truncated at 256KB]".len());
        assert!(text.ends_with("x\n\n[truncated at 256KB]"));
    }
}
