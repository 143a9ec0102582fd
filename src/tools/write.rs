//! Whole-file tools: `write_file` (create or overwrite) and `delete_file`.

use serde_json::Value;

use super::args::{count, Args};
use super::change::{check_all, file_change, spans_between};
use super::confine::Root;
use super::files::{read_before, write_text};
use super::sandbox::{resolve, resolve_entry};
use super::{ToolContext, ToolOutcome};

/// `write_file {path, content}`: creates the file (and missing parent directories) or overwrites it.
///
/// Overwriting is an edit: the lines that differ from the current content (a line diff) must lie inside the
/// file's boundary, and their line edits are reported. An existing entry whose content cannot be read (not a
/// regular file, other hard links, too large, no permission) is refused, so the boundary check is never skipped
/// and an overwrite is never reported as a creation.
pub(super) fn write_file(
    root: &Root,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, String> {
    let a = Args::new("write_file", args, &["path", "content"])?;
    let arg = a.string("path")?;
    let content = a.string("content")?;
    let path = resolve(root.path(), arg)?;
    let before = read_before(root, &path, arg)?;
    let line_edits = match &before {
        Some(old) => {
            let spans = spans_between(old, content);
            check_all(ctx.boundary_for(&path), &spans).map_err(|(_, e)| e)?
        }
        None => Vec::new(),
    };
    write_text(root, &path, arg, content)?;
    let verb = if before.is_some() {
        "overwrote"
    } else {
        "created"
    };
    Ok(ToolOutcome {
        text: format!(
            "{verb} {arg} ({}, {})",
            count(content.len(), "byte"),
            count(content.lines().count(), "line")
        ),
        is_error: false,
        file_change: Some(file_change(ctx, &path, before.as_deref(), Some(content))),
        line_edits,
    })
}

/// `delete_file {path}`: removes a file, or a symlink (the link itself) whose target is a file inside the workdir.
/// Directories are refused. The content reported as `before` is read only from a file with no other hard link.
///
/// Deleting removes every line, so a file with an edit boundary is refused like an edit outside it (only the host
/// can lift the boundary). Deleting a symlink to a bounded file is not an edit of that file, and goes.
pub(super) fn delete_file(
    root: &Root,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, String> {
    let a = Args::new("delete_file", args, &["path"])?;
    let arg = a.string("path")?;
    let target = resolve(root.path(), arg)?;
    let entry = resolve_entry(root.path(), arg)?;
    let is_dir = |m: Option<cap_std::fs::Metadata>| m.is_some_and(|m| m.is_dir());
    let Some(meta) = root.entry(&entry, arg)? else {
        return Err(format!(
            "cannot delete {arg}: No such file or directory (os error 2)"
        ));
    };
    if meta.is_dir() || (meta.is_symlink() && is_dir(root.entry(&target, arg)?)) {
        return Err(format!(
            "{arg} is a directory; delete_file only deletes files"
        ));
    }
    if let Some(b) = ctx.boundary_for(&entry) {
        return Err(format!(
            "cannot delete {arg}: it has an edit boundary (allowed range is {}-{}); deleting removes every line",
            b.start_line, b.end_line
        ));
    }
    let before = root
        .read_capped(&target, arg, super::files::MAX_EDIT_BYTES, false)
        .map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    root.remove(&entry, arg)?;
    Ok(ToolOutcome {
        text: format!("deleted {arg}"),
        is_error: false,
        file_change: Some(file_change(ctx, &entry, Some(&before), None)),
        line_edits: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::tools::testutil::{err, ok, run, run_with, TempDir};
    use crate::tools::{LineEdit, ToolContext};
    use crate::vocab::files::Boundary;
    use crate::vocab::model::FileChange;
    use serde_json::json;

    #[test]
    fn writes_create_with_parents_then_overwrite() {
        let t = TempDir::new("write");
        let root = t.path();
        let out = run(
            root,
            "write_file",
            json!({"path": "a/b/c.txt", "content": "one\ntwo\n"}),
        );
        assert_eq!(out.text, "created a/b/c.txt (8 bytes, 2 lines)");
        assert_eq!(
            out.file_change,
            Some(FileChange {
                tool_call_id: "call-1".into(),
                path: root.join("a/b/c.txt").to_string_lossy().into_owned(),
                before: None,
                after: Some("one\ntwo\n".into()),
                truncated: false,
                line_edits: Vec::new(),
            })
        );
        assert!(out.line_edits.is_empty());
        let out = run(
            root,
            "write_file",
            json!({"path": "a/b/c.txt", "content": "one\n2\nthree\n"}),
        );
        assert_eq!(out.text, "overwrote a/b/c.txt (12 bytes, 3 lines)");
        let fc = out.file_change.unwrap();
        assert_eq!(
            (fc.before.as_deref(), fc.after.as_deref()),
            (Some("one\ntwo\n"), Some("one\n2\nthree\n"))
        );
        assert_eq!(
            out.line_edits,
            vec![LineEdit {
                edit_line: 1,
                delta_lines: 1
            }]
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a/b/c.txt")).unwrap(),
            "one\n2\nthree\n"
        );
        assert_eq!(
            ok(root, "write_file", json!({"path": "e", "content": ""})),
            "created e (0 bytes, 0 lines)"
        );
        assert_eq!(
            ok(root, "write_file", json!({"path": "e", "content": "x"})),
            "overwrote e (1 byte, 1 line)"
        );
    }

    #[test]
    fn write_errors_are_exact() {
        let t = TempDir::new("write");
        let root = t.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("f"), "x").unwrap();
        assert_eq!(
            err(root, "write_file", json!({"path": "d", "content": ""})),
            "d is a directory"
        );
        assert_eq!(
            err(root, "write_file", json!({"path": "f/g", "content": ""})),
            "cannot write f/g: File exists (os error 17)"
        );
        assert_eq!(
            err(root, "write_file", json!({"path": "x"})),
            "write_file: missing required argument \"content\""
        );
    }

    #[test]
    fn writes_through_an_inside_symlink_change_its_target() {
        let t = TempDir::new("write");
        let root = t.path();
        std::fs::write(root.join("real.txt"), "old\n").unwrap();
        std::os::unix::fs::symlink("real.txt", root.join("alias")).unwrap();
        assert_eq!(
            ok(
                root,
                "write_file",
                json!({"path": "alias", "content": "new\n"})
            ),
            "overwrote alias (4 bytes, 1 line)"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("real.txt")).unwrap(),
            "new\n"
        );
        assert!(root
            .join("alias")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn overwrites_must_keep_their_changes_inside_the_boundary() {
        let t = TempDir::new("write");
        let root = t.path();
        let file = root.join("f.txt");
        std::fs::write(&file, "0\n1\n2\n3\n4\n").unwrap();
        let f = file.clone();
        let ctx = ToolContext::new("c")
            .with_boundaries(move |p| (p == f).then(|| Boundary::new(1, 2).unwrap()));
        let out = run_with(
            root,
            "write_file",
            json!({"path": "f.txt", "content": "0\n1\n2\n3\nfour\n"}),
            &ctx,
        );
        assert_eq!(
            (out.text.as_str(), out.is_error),
            (
                "edit outside boundary: lines 4-4, allowed range is 1-2",
                true
            )
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "0\n1\n2\n3\n4\n");
        let out = run_with(
            root,
            "write_file",
            json!({"path": "f.txt", "content": "0\none\nuno\n2\n3\n4\n"}),
            &ctx,
        );
        assert!(!out.is_error, "{}", out.text);
        assert_eq!(
            out.adjust(Boundary::new(1, 2).unwrap()),
            Some(Boundary::new(1, 3).unwrap())
        );
        let out = run_with(
            root,
            "write_file",
            json!({"path": "other.txt", "content": "x"}),
            &ctx,
        );
        assert!(!out.is_error, "creating is not an edit of a bounded file");
    }

    #[test]
    fn deletes_files_and_links_but_not_directories() {
        let t = TempDir::new("write");
        let root = t.path();
        std::fs::write(root.join("a.txt"), "bye\n").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("target.txt"), "t").unwrap();
        std::os::unix::fs::symlink("target.txt", root.join("alias")).unwrap();
        std::os::unix::fs::symlink("d", root.join("dlink")).unwrap();
        let out = run(root, "delete_file", json!({"path": "a.txt"}));
        assert_eq!(out.text, "deleted a.txt");
        assert_eq!(
            out.file_change,
            Some(FileChange {
                tool_call_id: "call-1".into(),
                path: root.join("a.txt").to_string_lossy().into_owned(),
                before: Some("bye\n".into()),
                after: None,
                truncated: false,
                line_edits: Vec::new(),
            })
        );
        assert!(!root.join("a.txt").exists());
        assert_eq!(
            err(root, "delete_file", json!({"path": "a.txt"})),
            "cannot delete a.txt: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "delete_file", json!({"path": "d"})),
            "d is a directory; delete_file only deletes files"
        );
        assert_eq!(
            err(root, "delete_file", json!({"path": "dlink"})),
            "dlink is a directory; delete_file only deletes files"
        );
        assert_eq!(
            err(root, "delete_file", json!({"path": "."})),
            ". is a directory; delete_file only deletes files"
        );
        let out = run(root, "delete_file", json!({"path": "alias"}));
        assert_eq!(out.text, "deleted alias");
        assert_eq!(out.file_change.unwrap().before.as_deref(), Some("t"));
        assert!(
            root.join("target.txt").exists(),
            "the link went, not its target"
        );
        assert!(root.join("alias").symlink_metadata().is_err());
    }

    #[test]
    fn deleting_a_bounded_file_is_refused_but_not_a_link_to_it() {
        let t = TempDir::new("write");
        let root = t.path();
        let file = root.join("kept.txt");
        std::fs::write(&file, "0\n1\n").unwrap();
        std::os::unix::fs::symlink("kept.txt", root.join("alias")).unwrap();
        std::fs::write(root.join("free.txt"), "x").unwrap();
        let f = file.clone();
        let ctx = ToolContext::new("c")
            .with_boundaries(move |p| (p == f).then(|| Boundary::new(0, 0).unwrap()));
        let out = run_with(root, "delete_file", json!({"path": "kept.txt"}), &ctx);
        assert_eq!(
            (out.text.as_str(), out.is_error),
            (
                "cannot delete kept.txt: it has an edit boundary (allowed range is 0-0); deleting removes every line",
                true
            )
        );
        assert!(file.exists());
        let out = run_with(root, "delete_file", json!({"path": "alias"}), &ctx);
        assert_eq!(out.text, "deleted alias");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "0\n1\n");
        let out = run_with(root, "delete_file", json!({"path": "free.txt"}), &ctx);
        assert_eq!(out.text, "deleted free.txt", "files without a boundary go");
    }
}
