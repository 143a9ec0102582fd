//! Exact-text edits: `edit_file` (one replacement) and `multi_edit_file` (several, in order, all or nothing).

use std::path::Path;

use serde_json::Value;

use super::args::{count, Args};
use super::change::{check, file_change, span_of_replacement, LineEdit, Span};
use super::confine::Root;
use super::files::{read_text, write_text};
use super::sandbox::resolve;
use super::{ToolContext, ToolOutcome};
use crate::vocab::files::Boundary;

/// Byte offsets where `needle` starts in `hay`, overlapping ones included (`aa` occurs twice in `aaa`, and an
/// edit of it would be ambiguous).
fn occurrences(hay: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let at = from + i;
        found.push(at);
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Replaces the single occurrence of `old` in `content`, returning the new content and the changed span.
fn replace_once(content: &str, old: &str, new: &str, arg: &str) -> Result<(String, Span), String> {
    if old.is_empty() {
        return Err("old_text must not be empty".into());
    }
    let at = match occurrences(content, old)[..] {
        [] => return Err(format!("old_text not found in {arg}")),
        [at] => at,
        ref many => {
            return Err(format!(
                "old_text matches {} times in {arg}; add context to make it unique",
                many.len()
            ))
        }
    };
    let span = span_of_replacement(content, at, at + old.len(), new);
    let mut out = String::with_capacity(content.len() + new.len());
    out.push_str(&content[..at]);
    out.push_str(new);
    out.push_str(&content[at + old.len()..]);
    Ok((out, span))
}

fn done(
    ctx: &ToolContext,
    path: &Path,
    text: String,
    before: &str,
    after: &str,
    line_edits: Vec<LineEdit>,
) -> ToolOutcome {
    ToolOutcome {
        text,
        is_error: false,
        file_change: Some(file_change(ctx, path, Some(before), Some(after))),
        line_edits,
    }
}

/// `edit_file {path, old_text, new_text}`: replaces the one occurrence of `old_text`; the lines it covers must lie
/// inside the file's boundary.
pub(super) fn edit_file(
    root: &Root,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, String> {
    let a = Args::new("edit_file", args, &["path", "old_text", "new_text"])?;
    let arg = a.string("path")?;
    let old = a.string("old_text")?;
    let new = a.string("new_text")?;
    let path = resolve(root.path(), arg)?;
    let before = read_text(root, &path, arg)?;
    let (after, span) = replace_once(&before, old, new, arg)?;
    check(ctx.boundary_for(&path), span)?;
    write_text(root, &path, arg, &after)?;
    let edit = LineEdit {
        edit_line: span.first,
        delta_lines: span.delta,
    };
    Ok(done(
        ctx,
        &path,
        format!("edited {arg}"),
        &before,
        &after,
        vec![edit],
    ))
}

/// `multi_edit_file {path, edits: [{old_text, new_text}]}`: each edit applies to the previous one's result and is
/// checked against the boundary as the previous edits moved it. Nothing is written unless every edit succeeds.
pub(super) fn multi_edit_file(
    root: &Root,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, String> {
    let a = Args::new("multi_edit_file", args, &["path", "edits"])?;
    let arg = a.string("path")?;
    let edits = a
        .get("edits")
        .ok_or("multi_edit_file: missing required argument \"edits\"")?
        .as_array()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| a.bad("edits", "a non-empty array"))?;
    let mut pairs = Vec::with_capacity(edits.len());
    for (i, edit) in edits.iter().enumerate() {
        let label = format!("multi_edit_file: edits[{i}]");
        let e = Args::new(&label, edit, &["old_text", "new_text"])?;
        pairs.push((e.string("old_text")?, e.string("new_text")?));
    }
    let path = resolve(root.path(), arg)?;
    let before = read_text(root, &path, arg)?;
    let (current, line_edits) = edit_text(&before, &pairs, ctx.boundary_for(&path), arg)?;
    write_text(root, &path, arg, &current)?;
    let text = format!("applied {} to {arg}", count(line_edits.len(), "edit"));
    Ok(done(ctx, &path, text, &before, &current, line_edits))
}

/// `multi_edit_file` without the file system: each `(old_text, new_text)` of `edits` applied to the previous
/// one's result (`content`, named `arg` in messages), within `boundary` as the previous edits moved it. The fuzz
/// targets call this too (through `crate::fuzzing`).
pub(crate) fn edit_text(
    content: &str,
    edits: &[(&str, &str)],
    mut boundary: Option<Boundary>,
    arg: &str,
) -> Result<(String, Vec<LineEdit>), String> {
    let mut current = content.to_string();
    let mut line_edits = Vec::with_capacity(edits.len());
    for (i, &(old, new)) in edits.iter().enumerate() {
        let failed = |e: String| format!("edits[{i}]: {e}; no edits were applied");
        let (next, span) = replace_once(&current, old, new, arg).map_err(failed)?;
        check(boundary, span).map_err(failed)?;
        boundary = boundary.and_then(|b| b.adjust(span.first, span.delta));
        line_edits.push(LineEdit {
            edit_line: span.first,
            delta_lines: span.delta,
        });
        current = next;
    }
    Ok((current, line_edits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::{err, ok, run, run_with, TempDir};
    use crate::vocab::files::Boundary;
    use serde_json::json;

    fn bounded(file: std::path::PathBuf, s: u32, e: u32) -> ToolContext {
        ToolContext::new("c")
            .with_boundaries(move |p| (p == file).then(|| Boundary::new(s, e).unwrap()))
    }

    /// Found by the `edit` fuzz target: an old text ending in a multi-byte character made the changed-span
    /// computation slice inside that character (a panic, so the model got "Tool task failed").
    #[test]
    fn an_old_text_ending_in_a_multibyte_character_is_replaced() {
        let (after, edits) =
            edit_text("a\nb\u{1dfff}\nc\n", &[("b\u{1dfff}", "x")], None, "f").unwrap();
        assert_eq!(after, "a\nx\nc\n");
        assert_eq!(
            edits,
            vec![LineEdit {
                edit_line: 1,
                delta_lines: 0
            }]
        );
        let (after, _) = edit_text("é\né\n", &[("é\né", "e")], None, "f").unwrap();
        assert_eq!(after, "e\n");
    }

    #[test]
    fn occurrences_overlap() {
        assert_eq!(occurrences("aaa", "aa"), vec![0, 1]);
        assert_eq!(occurrences("é-é", "é"), vec![0, 3]);
        assert!(occurrences("abc", "x").is_empty());
    }

    #[test]
    fn edit_file_replaces_exactly_one_match() {
        let t = TempDir::new("edit");
        let root = t.path();
        std::fs::write(root.join("a.rs"), "fn a() {}\nfn b() {}\nfn b() {}\n").unwrap();
        let out = run(
            root,
            "edit_file",
            json!({"path": "a.rs", "old_text": "fn a() {}\n", "new_text": "fn a() {\n}\n"}),
        );
        assert_eq!(out.text, "edited a.rs");
        assert_eq!(
            out.line_edits,
            vec![LineEdit {
                edit_line: 0,
                delta_lines: 1
            }]
        );
        let fc = out.file_change.unwrap();
        assert_eq!(
            fc.before.as_deref(),
            Some("fn a() {}\nfn b() {}\nfn b() {}\n")
        );
        assert_eq!(
            fc.after.as_deref(),
            Some("fn a() {\n}\nfn b() {}\nfn b() {}\n")
        );
        assert_eq!(
            err(
                root,
                "edit_file",
                json!({"path": "a.rs", "old_text": "fn c", "new_text": ""})
            ),
            "old_text not found in a.rs"
        );
        assert_eq!(
            err(
                root,
                "edit_file",
                json!({"path": "a.rs", "old_text": "fn b() {}", "new_text": ""})
            ),
            "old_text matches 2 times in a.rs; add context to make it unique"
        );
        assert_eq!(
            err(
                root,
                "edit_file",
                json!({"path": "a.rs", "old_text": "", "new_text": "x"})
            ),
            "old_text must not be empty"
        );
        assert_eq!(
            err(
                root,
                "edit_file",
                json!({"path": "nope.rs", "old_text": "a", "new_text": "b"})
            ),
            "cannot read nope.rs: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "edit_file", json!({"path": "a.rs", "old_text": "a"})),
            "edit_file: missing required argument \"new_text\""
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a.rs")).unwrap(),
            "fn a() {\n}\nfn b() {}\nfn b() {}\n"
        );
    }

    #[test]
    fn edit_file_respects_the_boundary_and_reports_its_adjustment() {
        let t = TempDir::new("edit");
        let root = t.path();
        let file = root.join("f.txt");
        std::fs::write(&file, "l0\nl1\nl2\nl3\nl4\nl5\n").unwrap();
        let ctx = bounded(file.clone(), 2, 3);
        let out = run_with(
            root,
            "edit_file",
            json!({"path": "f.txt", "old_text": "l1\nl2", "new_text": "x"}),
            &ctx,
        );
        assert_eq!(
            out.text,
            "edit outside boundary: lines 1-2, allowed range is 2-3"
        );
        assert!(out.is_error && out.file_change.is_none());
        let out = run_with(
            root,
            "edit_file",
            json!({"path": "f.txt", "old_text": "l3\nl4\n", "new_text": ""}),
            &ctx,
        );
        assert_eq!(
            out.text,
            "edit outside boundary: lines 3-4, allowed range is 2-3"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "l0\nl1\nl2\nl3\nl4\nl5\n"
        );
        let out = run_with(
            root,
            "edit_file",
            json!({"path": "f.txt", "old_text": "l3\n", "new_text": "a\nb\nc\n"}),
            &ctx,
        );
        assert_eq!(out.text, "edited f.txt");
        assert_eq!(
            out.line_edits,
            vec![LineEdit {
                edit_line: 3,
                delta_lines: 2
            }]
        );
        assert_eq!(
            out.adjust(Boundary::new(2, 3).unwrap()),
            Some(Boundary::new(2, 5).unwrap())
        );
    }

    #[test]
    fn multi_edit_applies_in_order_or_not_at_all() {
        let t = TempDir::new("edit");
        let root = t.path();
        std::fs::write(root.join("m.txt"), "alpha\nbeta\ngamma\n").unwrap();
        let out = run(
            root,
            "multi_edit_file",
            json!({"path": "m.txt", "edits": [
                {"old_text": "alpha\n", "new_text": "alpha\nalpha2\n"},
                {"old_text": "alpha2", "new_text": "ALPHA2"},
                {"old_text": "gamma\n", "new_text": ""}]}),
        );
        assert_eq!(out.text, "applied 3 edits to m.txt");
        assert_eq!(
            out.line_edits,
            vec![
                LineEdit {
                    edit_line: 0,
                    delta_lines: 1
                },
                LineEdit {
                    edit_line: 1,
                    delta_lines: 0
                },
                LineEdit {
                    edit_line: 3,
                    delta_lines: -1
                }
            ]
        );
        assert_eq!(
            std::fs::read_to_string(root.join("m.txt")).unwrap(),
            "alpha\nALPHA2\nbeta\n"
        );
        assert_eq!(
            err(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": [
                    {"old_text": "beta", "new_text": "BETA"},
                    {"old_text": "beta", "new_text": "x"}]})
            ),
            "edits[1]: old_text not found in m.txt; no edits were applied"
        );
        assert_eq!(
            err(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": [{"old_text": "a", "new_text": "b"}]})
            ),
            "edits[0]: old_text matches 3 times in m.txt; add context to make it unique; no edits were applied"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("m.txt")).unwrap(),
            "alpha\nALPHA2\nbeta\n"
        );
        assert_eq!(
            err(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": []})
            ),
            "multi_edit_file: \"edits\" must be a non-empty array"
        );
        assert_eq!(
            err(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": [{"old_text": "a"}]})
            ),
            "multi_edit_file: edits[0]: missing required argument \"new_text\""
        );
        assert_eq!(
            err(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": [{"old_text": "a", "new_text": "b", "x": 1}]})
            ),
            "multi_edit_file: edits[0]: unknown argument \"x\""
        );
        assert_eq!(
            ok(
                root,
                "multi_edit_file",
                json!({"path": "m.txt", "edits": [{"old_text": "beta", "new_text": "b"}]})
            ),
            "applied 1 edit to m.txt"
        );
    }

    #[test]
    fn multi_edit_checks_each_edit_against_the_boundary_as_it_moves() {
        let t = TempDir::new("edit");
        let root = t.path();
        let file = root.join("f.txt");
        std::fs::write(&file, "l0\nl1\nl2\nl3\nl4\n").unwrap();
        let ctx = bounded(file.clone(), 1, 2);
        // The first edit stretches the boundary to 1-3 and moves l3 to line 4, outside it.
        let out = run_with(
            root,
            "multi_edit_file",
            json!({"path": "f.txt", "edits": [
                {"old_text": "l1\n", "new_text": "a\nb\n"},
                {"old_text": "l2\n", "new_text": "c\n"},
                {"old_text": "l3", "new_text": "d"}]}),
            &ctx,
        );
        assert_eq!(
            out.text,
            "edits[2]: edit outside boundary: lines 4-4, allowed range is 1-3; no edits were applied"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "l0\nl1\nl2\nl3\nl4\n"
        );
        let out = run_with(
            root,
            "multi_edit_file",
            json!({"path": "f.txt", "edits": [
                {"old_text": "l1\n", "new_text": "a\nb\n"},
                {"old_text": "l2\n", "new_text": "c\n"}]}),
            &ctx,
        );
        assert_eq!(out.text, "applied 2 edits to f.txt");
        assert_eq!(
            out.adjust(Boundary::new(1, 2).unwrap()),
            Some(Boundary::new(1, 3).unwrap())
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "l0\na\nb\nc\nl3\nl4\n"
        );
    }
}
