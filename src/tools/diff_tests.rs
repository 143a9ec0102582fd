//! Tests of `apply_diff`: parsing, fuzzy placement, all-or-nothing, boundaries and file changes.

use super::*;
use crate::tools::testutil::{err, ok, run, run_with, TempDir};
use crate::vocab::files::Boundary;
use crate::vocab::files::LineEdit;
use serde_json::json;

fn ten() -> String {
    (1..=10).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn parses_hunks_and_skips_file_headers() {
    let hunks = parse(
        "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@ fn main\n a\n-b\n+c\n\\ No newline at end of file\n\n",
    )
    .unwrap();
    assert_eq!(hunks.len(), 1);
    assert_eq!(hunks[0].header, "@@ -1,2 +1,2 @@");
    assert_eq!(hunks[0].old_start, 1);
    assert_eq!(
        hunks[0].lines,
        vec![Line::Context("a"), Line::Remove("b"), Line::Add("c")]
    );
    let h = parse("@@ -3 +3 @@\n-x\n\n+y\n").unwrap();
    assert_eq!(
        h[0].lines,
        vec![Line::Remove("x"), Line::Context(""), Line::Add("y")]
    );
    assert_eq!(
        parse("just prose").unwrap_err(),
        "apply_diff: no hunks found (expected lines starting with \"@@ -a,b +c,d @@\")"
    );
    assert_eq!(
        parse("@@ -x +1 @@\n").unwrap_err(),
        "apply_diff: malformed hunk header \"@@ -x +1 @@\" (expected \"@@ -a,b +c,d @@\")"
    );
    assert_eq!(
        parse("@@ -1 +1 @@\n a\n*b\n").unwrap_err(),
        "apply_diff: hunk 1 has a line that does not start with ' ', '-' or '+': \"*b\""
    );
    assert_eq!(
        parse("@@ -1 +1 @@\n-a\n+b\n@@ -5 +5 @@\n c\n").unwrap_err(),
        "apply_diff: hunk 2 has no added or removed lines"
    );
}

#[test]
fn applies_hunks_at_their_line_or_a_few_lines_off() {
    let t = TempDir::new("diff");
    let root = t.path();
    std::fs::write(root.join("f.txt"), ten()).unwrap();
    // The first hunk is stated 2 lines early; the second exactly.
    let diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n line 3\n-line 4\n+LINE 4\n line 5\n@@ -8,2 +8,3 @@\n line 8\n+line 8.5\n line 9\n";
    let out = run(root, "apply_diff", json!({"path": "f.txt", "diff": diff}));
    assert_eq!(out.text, "applied 2 diff hunk(s) to f.txt");
    let expected = ten()
        .replace("line 4\n", "LINE 4\n")
        .replace("line 8\n", "line 8\nline 8.5\n");
    assert_eq!(
        std::fs::read_to_string(root.join("f.txt")).unwrap(),
        expected
    );
    assert_eq!(
        out.line_edits,
        vec![
            LineEdit {
                edit_line: 3,
                delta_lines: 0
            },
            LineEdit {
                edit_line: 8,
                delta_lines: 1
            }
        ]
    );
    let fc = out.file_change.unwrap();
    assert_eq!((fc.before, fc.after), (Some(ten()), Some(expected)));
}

#[test]
fn context_matches_modulo_trailing_whitespace_and_keeps_the_files_bytes() {
    let t = TempDir::new("diff");
    let root = t.path();
    std::fs::write(root.join("w.txt"), "a  \r\nb\r\nc").unwrap();
    let diff = "@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c  \n";
    assert_eq!(
        ok(root, "apply_diff", json!({"path": "w.txt", "diff": diff})),
        "applied 1 diff hunk(s) to w.txt"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("w.txt")).unwrap(),
        "a  \r\nB\r\nB2\r\nc",
        "CRLF kept, no final newline added"
    );
}

#[test]
fn a_hunk_that_does_not_fit_leaves_the_file_untouched() {
    let t = TempDir::new("diff");
    let root = t.path();
    std::fs::write(root.join("f.txt"), ten()).unwrap();
    let diff = "@@ -2,1 +2,1 @@\n-line 2\n+two\n@@ -9,1 +9,1 @@\n-line nine\n+nine\n";
    assert_eq!(
        err(root, "apply_diff", json!({"path": "f.txt", "diff": diff})),
        "hunk 2 of 2 (@@ -9,1 +9,1 @@) does not apply to f.txt: its context and removed lines were not found \
         within 5 lines of line 9; no hunks were applied"
    );
    // Too far from its stated line (fuzz is 5).
    let far = "@@ -1,1 +1,1 @@\n-line 8\n+eight\n";
    assert_eq!(
        err(root, "apply_diff", json!({"path": "f.txt", "diff": far})),
        "hunk 1 of 1 (@@ -1,1 +1,1 @@) does not apply to f.txt: its context and removed lines were not found \
         within 5 lines of line 1; no hunks were applied"
    );
    // Hunks apply in order and may not overlap.
    let overlap = "@@ -2,1 +2,1 @@\n-line 2\n+two\n@@ -2,1 +2,1 @@\n-line 2\n+deux\n";
    assert!(err(
        root,
        "apply_diff",
        json!({"path": "f.txt", "diff": overlap})
    )
    .starts_with("hunk 2 of 2 "));
    assert_eq!(std::fs::read_to_string(root.join("f.txt")).unwrap(), ten());
    assert_eq!(
        err(root, "apply_diff", json!({"path": "f.txt"})),
        "apply_diff: missing required argument \"diff\""
    );
}

#[test]
fn insertions_and_new_files() {
    let t = TempDir::new("diff");
    let root = t.path();
    let out = run(
        root,
        "apply_diff",
        json!({"path": "new/n.txt", "diff": "@@ -0,0 +1,2 @@\n+hello\n+world\n"}),
    );
    assert_eq!(out.text, "applied 1 diff hunk(s) to new/n.txt");
    let fc = out.file_change.unwrap();
    assert_eq!(
        (fc.before, fc.after.as_deref()),
        (None, Some("hello\nworld\n"))
    );
    assert!(out.line_edits.is_empty());
    assert_eq!(
        ok(
            root,
            "apply_diff",
            json!({"path": "new/n.txt", "diff": "@@ -2,0 +3 @@\n+!\n"})
        ),
        "applied 1 diff hunk(s) to new/n.txt"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("new/n.txt")).unwrap(),
        "hello\nworld\n!\n"
    );
    assert!(err(
        root,
        "apply_diff",
        json!({"path": "other.txt", "diff": "@@ -1 +1 @@\n-a\n+b\n"})
    )
    .starts_with("hunk 1 of 1 (@@ -1 +1 @@) does not apply to other.txt"));
    assert!(!root.join("other.txt").exists());
}

#[test]
fn every_changed_run_must_lie_inside_the_boundary() {
    let t = TempDir::new("diff");
    let root = t.path();
    let file = root.join("f.txt");
    std::fs::write(&file, ten()).unwrap();
    let f = file.clone();
    let ctx = ToolContext::new("c")
        .with_boundaries(move |p| (p == f).then(|| Boundary::new(2, 5).unwrap()));
    let inside_then_outside =
        "@@ -3,2 +3,2 @@\n line 3\n-line 4\n+four\n@@ -7,1 +7,1 @@\n-line 7\n+seven\n";
    let out = run_with(
        root,
        "apply_diff",
        json!({"path": "f.txt", "diff": inside_then_outside}),
        &ctx,
    );
    assert_eq!(
        out.text,
        "hunk 2 of 2: edit outside boundary: lines 6-6, allowed range is 2-5; no hunks were applied"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ten());
    // Context lines outside the boundary are fine: only changed lines count.
    let inside =
        "@@ -1,4 +1,6 @@\n line 1\n line 2\n+new a\n+new b\n line 3\n-line 4\n+line four\n";
    let out = run_with(
        root,
        "apply_diff",
        json!({"path": "f.txt", "diff": inside}),
        &ctx,
    );
    assert_eq!(out.text, "applied 1 diff hunk(s) to f.txt");
    assert_eq!(
        out.line_edits,
        vec![
            LineEdit {
                edit_line: 2,
                delta_lines: 2
            },
            LineEdit {
                edit_line: 5,
                delta_lines: 0
            }
        ]
    );
    assert_eq!(
        out.adjust(Boundary::new(2, 5).unwrap()),
        Some(Boundary::new(2, 7).unwrap())
    );
}

/// Found by the `edit` fuzz target: a hunk header whose line number does not fit in usize (parsed as usize::MAX)
/// overflowed `pos + len` while the hunk was searched for near it; in a release build the sum wrapped and the file
/// was sliced backwards, a panic. Such a hunk simply does not apply.
#[test]
fn a_stated_line_beyond_usize_does_not_apply_rather_than_panic() {
    let file = "fn a() {}\nfn b() {}\n";
    for header in [
        "@@ -277777777777777777777777777777,1 +2,2 @@",
        "@@ -18446744073709551615,1 +1 @@",
        "@@ -18446744073709551614,2 +1 @@",
    ] {
        let diff = format!("{header}\n-fn b() {{}}\n+fn b() {{ 1 }}\n");
        let e = apply_to_text(Some(file), &diff, None).unwrap_err();
        assert!(e.contains("does not apply"), "{header}: {e}");
    }
}
