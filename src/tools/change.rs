//! What an edit did to a file: the changed line ranges, their check against the file's edit boundary, the line
//! edits the caller applies to that boundary, and the capped before/after file change.

use std::path::Path;
use std::time::Duration;

use super::ToolContext;
use crate::vocab::files::Boundary;
pub use crate::vocab::files::LineEdit;
use crate::vocab::model::FileChange;

/// Cap on each of a file change's before and after contents.
const CHANGE_CAP: usize = 64 * 1024;

/// A changed span of a file: 0-based lines `first..=last` were replaced and the line count changed by `delta`.
/// A pure insertion has `first == last ==` the line it was inserted before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub first: u32,
    pub last: u32,
    pub delta: i64,
}

pub(super) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Number of line breaks in `s`: the difference in this between replaced and replacing text is the line delta.
pub(super) fn newlines(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'\n').count()
}

/// The span of replacing `content[start..end]` (non-empty) with `new_text`.
pub(super) fn span_of_replacement(content: &str, start: usize, end: usize, new_text: &str) -> Span {
    let first = newlines(&content[..start]);
    let old = &content[start..end];
    // The last line touched is the one holding the replaced text's last character, even when that is a newline.
    // (Not `old[..len - 1]`: the last character may be several bytes long.)
    let last = first + newlines(old) - usize::from(old.ends_with('\n'));
    Span {
        first: to_u32(first),
        last: to_u32(last),
        delta: newlines(new_text) as i64 - newlines(old) as i64,
    }
}

/// The changed spans between two versions of a file, top to bottom, in `before`'s line numbers.
pub(super) fn spans_between(before: &str, after: &str) -> Vec<Span> {
    let diff = similar::TextDiff::configure()
        .timeout(Duration::from_secs(1))
        .diff_lines(before, after);
    diff.ops()
        .iter()
        .filter_map(|op| {
            let (tag, old, new) = op.as_tag_tuple();
            let delta = new.len() as i64 - old.len() as i64;
            match tag {
                similar::DiffTag::Equal => None,
                similar::DiffTag::Insert => Some(Span {
                    first: to_u32(old.start),
                    last: to_u32(old.start),
                    delta,
                }),
                similar::DiffTag::Delete | similar::DiffTag::Replace => Some(Span {
                    first: to_u32(old.start),
                    last: to_u32(old.end - 1),
                    delta,
                }),
            }
        })
        .collect()
}

/// Refuses `span` when it leaves `boundary`.
pub(super) fn check(boundary: Option<Boundary>, span: Span) -> Result<(), String> {
    match boundary {
        Some(b) if !b.contains_range(span.first, span.last) => Err(format!(
            "edit outside boundary: lines {}-{}, allowed range is {}-{}",
            span.first, span.last, b.start_line, b.end_line
        )),
        _ => Ok(()),
    }
}

/// Checks spans that all number lines of the same original file (top to bottom, not overlapping) and returns their
/// line edits in application order. On failure, the index of the span outside the boundary and the message.
pub(super) fn check_all(
    boundary: Option<Boundary>,
    spans: &[Span],
) -> Result<Vec<LineEdit>, (usize, String)> {
    let mut shift = 0i64;
    let mut edits = Vec::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        check(boundary, *span).map_err(|e| (i, e))?;
        // Earlier spans already moved this one by `shift` lines.
        let line = (i64::from(span.first) + shift).clamp(0, i64::from(u32::MAX)) as u32;
        edits.push(LineEdit {
            edit_line: line,
            delta_lines: span.delta,
        });
        shift += span.delta;
    }
    Ok(edits)
}

fn cap(text: Option<&str>) -> (Option<String>, bool) {
    match text {
        None => (None, false),
        Some(t) if t.len() <= CHANGE_CAP => (Some(t.to_string()), false),
        Some(t) => {
            let mut end = CHANGE_CAP;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            (Some(t[..end].to_string()), true)
        }
    }
}

/// The file change of call `ctx` to `path`: contents before (`None`: created) and after (`None`: deleted), each
/// cut to 64 KB.
pub(super) fn file_change(
    ctx: &ToolContext,
    path: &Path,
    before: Option<&str>,
    after: Option<&str>,
) -> FileChange {
    file_change_of(&ctx.tool_call_id, path, before, after)
}

/// The file change of call `tool_call_id` to `path` (see [`file_change`]); also what an ACP agent that edits files
/// itself reports.
pub fn file_change_of(
    tool_call_id: &str,
    path: &Path,
    before: Option<&str>,
    after: Option<&str>,
) -> FileChange {
    let (before, cut_before) = cap(before);
    let (after, cut_after) = cap(after);
    FileChange {
        tool_call_id: tool_call_id.to_string(),
        path: path.to_string_lossy().into_owned(),
        before,
        after,
        truncated: cut_before || cut_after,
        line_edits: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: u32, last: u32, delta: i64) -> Span {
        Span { first, last, delta }
    }

    #[test]
    fn replacements_span_the_lines_their_text_covers() {
        let c = "a\nb\nc\nd\n";
        assert_eq!(span_of_replacement(c, 2, 3, "x"), span(1, 1, 0));
        assert_eq!(span_of_replacement(c, 2, 4, "x"), span(1, 1, -1), "b\\n");
        assert_eq!(span_of_replacement(c, 2, 5, "x\ny\nz\n"), span(1, 2, 2));
        assert_eq!(span_of_replacement(c, 1, 3, ""), span(0, 1, -1));
    }

    #[test]
    fn spans_between_versions_follow_the_line_diff() {
        assert_eq!(spans_between("a\nb\nc\n", "a\nB\nc\n"), vec![span(1, 1, 0)]);
        assert_eq!(
            spans_between("a\nb\nc\n", "x\na\nc\nd\ne\n"),
            vec![span(0, 0, 1), span(1, 1, -1), span(3, 3, 2)]
        );
        assert_eq!(spans_between("a\nb", "a\nb\nc"), vec![span(1, 1, 1)]);
        assert!(spans_between("same\n", "same\n").is_empty());
    }

    #[test]
    fn boundaries_refuse_spans_outside_and_shift_later_edits() {
        let b = Some(Boundary::new(2, 5).unwrap());
        assert_eq!(check(b, span(2, 5, 0)), Ok(()));
        assert_eq!(
            check(b, span(1, 3, 0)).unwrap_err(),
            "edit outside boundary: lines 1-3, allowed range is 2-5"
        );
        assert_eq!(check(None, span(100, 200, 0)), Ok(()));
        assert_eq!(
            check_all(b, &[span(2, 2, 2), span(4, 4, -1), span(5, 5, 0)]).unwrap(),
            vec![
                LineEdit {
                    edit_line: 2,
                    delta_lines: 2
                },
                LineEdit {
                    edit_line: 6,
                    delta_lines: -1
                },
                LineEdit {
                    edit_line: 6,
                    delta_lines: 0
                }
            ]
        );
        assert_eq!(
            check_all(b, &[span(2, 2, 0), span(6, 6, 0)]).unwrap_err(),
            (
                1,
                "edit outside boundary: lines 6-6, allowed range is 2-5".into()
            )
        );
    }

    #[test]
    fn file_changes_are_capped_on_a_char_boundary() {
        let ctx = ToolContext::new("c1");
        let big = "é".repeat(CHANGE_CAP);
        let fc = file_change(&ctx, Path::new("/w/a"), None, Some(&big));
        assert!(fc.truncated && fc.before.is_none());
        assert_eq!(fc.after.unwrap().len(), CHANGE_CAP);
        let fc = file_change(&ctx, Path::new("/w/a"), Some("x"), None);
        assert_eq!(
            (fc.before.as_deref(), fc.after, fc.truncated),
            (Some("x"), None, false)
        );
    }
}
