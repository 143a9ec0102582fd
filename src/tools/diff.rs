//! `apply_diff`: unified diff hunks applied to one file, each found near its stated line, all or nothing.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::args::Args;
use super::change::{check_all, file_change, to_u32, LineEdit, Span};
use super::confine::Root;
use super::files::{read_text, write_text};
use super::sandbox::resolve;
use super::{ToolContext, ToolOutcome};
use crate::vocab::files::Boundary;

/// How many lines from its stated position a hunk may be found.
const FUZZ: usize = 5;

/// One line of a hunk body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Context(&'a str),
    Remove(&'a str),
    Add(&'a str),
}

/// A parsed hunk: its header (for messages), its stated old start (1-based) and body.
#[derive(Debug)]
struct Hunk<'a> {
    header: &'a str,
    old_start: usize,
    lines: Vec<Line<'a>>,
}

impl Hunk<'_> {
    /// The lines the file must have where the hunk applies: context and removed lines.
    fn old(&self) -> impl Iterator<Item = &str> + '_ {
        self.lines.iter().filter_map(|l| match l {
            Line::Context(t) | Line::Remove(t) => Some(*t),
            Line::Add(_) => None,
        })
    }
}

fn header_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@").expect("valid hunk header regex")
    })
}

/// Splits `diff` into hunks. Lines before the first `@@` (`---`/`+++` headers, prose) are skipped. The counts in
/// headers are not enforced, since models often get them wrong; the body decides.
fn parse(diff: &str) -> Result<Vec<Hunk<'_>>, String> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut lines: Vec<&str> = diff.lines().collect();
    // A blank line ending the diff is the diff's own trailing newline, not an empty context line.
    while lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        if line.starts_with("@@") {
            let caps = header_re().captures(line).ok_or_else(|| {
                format!("apply_diff: malformed hunk header {line:?} (expected \"@@ -a,b +c,d @@\")")
            })?;
            hunks.push(Hunk {
                header: caps.get(0).map_or(line, |m| m.as_str()),
                old_start: caps[1].parse().unwrap_or(usize::MAX),
                lines: Vec::new(),
            });
            continue;
        }
        let Some(hunk) = hunks.last_mut() else {
            continue;
        };
        let parsed = match line.as_bytes().first() {
            None => Line::Context(""),
            Some(b' ') => Line::Context(&line[1..]),
            Some(b'-') => Line::Remove(&line[1..]),
            Some(b'+') => Line::Add(&line[1..]),
            // "\ No newline at end of file": the file keeps its own final newline (or lack of one).
            Some(b'\\') => continue,
            Some(_) => {
                return Err(format!(
                "apply_diff: hunk {} has a line that does not start with ' ', '-' or '+': {line:?}",
                hunks.len()
            ))
            }
        };
        hunk.lines.push(parsed);
    }
    if hunks.is_empty() {
        return Err(
            "apply_diff: no hunks found (expected lines starting with \"@@ -a,b +c,d @@\")".into(),
        );
    }
    if let Some(i) = hunks
        .iter()
        .position(|h| h.lines.iter().all(|l| matches!(l, Line::Context(_))))
    {
        return Err(format!(
            "apply_diff: hunk {} has no added or removed lines",
            i + 1
        ));
    }
    Ok(hunks)
}

/// Where `hunk` applies in `file` (line bodies without terminators), at or after `min`: the stated position first,
/// then 1, 2, … `FUZZ` lines before or after it. Lines compare equal modulo trailing whitespace.
fn locate(file: &[&str], hunk: &Hunk, min: usize) -> Option<usize> {
    let old: Vec<&str> = hunk.old().map(str::trim_end).collect();
    if old.is_empty() {
        // `-a,0`: insert after line a.
        return Some(hunk.old_start.clamp(min, file.len()));
    }
    let stated = hunk.old_start.saturating_sub(1);
    // Checked: a stated line near usize::MAX (a header like "@@ -99999999999999999999,1") must not wrap around to
    // a small end and slice the file backwards.
    let fits = |pos: usize| {
        pos >= min
            && pos
                .checked_add(old.len())
                .is_some_and(|end| end <= file.len())
            && file[pos..pos + old.len()]
                .iter()
                .zip(&old)
                .all(|(f, o)| f.trim_end() == *o)
    };
    (0..=FUZZ)
        .flat_map(|d| [stated.checked_sub(d), stated.checked_add(d)])
        .flatten()
        .find(|&pos| fits(pos))
}

/// The changed spans of `hunk` applied at `pos`, one per run of added and removed lines.
fn spans(hunk: &Hunk, pos: usize) -> Vec<Span> {
    let mut out = Vec::new();
    let mut old_i = 0;
    let mut run: Option<(usize, usize, usize)> = None; // (start, removed, added)
    let close = |run: Option<(usize, usize, usize)>, out: &mut Vec<Span>| {
        if let Some((start, removed, added)) = run {
            let first = to_u32(pos + start);
            out.push(Span {
                first,
                last: to_u32(pos + start + removed.max(1) - 1),
                delta: added as i64 - removed as i64,
            });
        }
    };
    for line in &hunk.lines {
        match line {
            Line::Context(_) => {
                close(run.take(), &mut out);
                old_i += 1;
            }
            Line::Remove(_) => {
                run.get_or_insert((old_i, 0, 0)).1 += 1;
                old_i += 1;
            }
            Line::Add(_) => run.get_or_insert((old_i, 0, 0)).2 += 1,
        }
    }
    close(run, &mut out);
    out
}

/// `apply_diff {path, diff}`: applies every hunk or none. A missing file counts as empty (so a diff of added lines
/// creates it). Every run of changed lines must lie inside the file's boundary.
pub(super) fn apply_diff(
    root: &Root,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, String> {
    let a = Args::new("apply_diff", args, &["path", "diff"])?;
    let arg = a.string("path")?;
    let hunks = parse(a.string("diff")?)?;
    let path = resolve(root.path(), arg)?;
    let before = match root.entry(&path, arg)? {
        None => None,
        Some(_) => Some(read_text(root, &path, arg)?),
    };
    let boundary = before.as_ref().and_then(|_| ctx.boundary_for(&path));
    let (after, line_edits) = patch(before.as_deref(), &hunks, boundary, arg)?;
    write_text(root, &path, arg, &after)?;
    Ok(ToolOutcome {
        text: format!("applied {} diff hunk(s) to {arg}", hunks.len()),
        is_error: false,
        file_change: Some(file_change(ctx, &path, before.as_deref(), Some(&after))),
        line_edits,
    })
}

/// `apply_diff` without the file system: `diff` applied to `before` (`None`: the file does not exist) within
/// `boundary`, giving the new content and the line edits. The fuzz targets call this (through `crate::fuzzing`).
pub(crate) fn apply_to_text(
    before: Option<&str>,
    diff: &str,
    boundary: Option<Boundary>,
) -> Result<(String, Vec<LineEdit>), String> {
    patch(before, &parse(diff)?, boundary, "the file")
}

/// Places every hunk in `before` (named `arg` in messages) and builds the patched text; all or nothing.
fn patch(
    before: Option<&str>,
    hunks: &[Hunk],
    boundary: Option<Boundary>,
    arg: &str,
) -> Result<(String, Vec<LineEdit>), String> {
    let content = before.unwrap_or("");
    let file: Vec<&str> = content.lines().collect();
    let raw: Vec<&str> = content.split_inclusive('\n').collect();
    let eol = if content.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let total = hunks.len();

    let mut placed = Vec::with_capacity(total);
    let mut all_spans = Vec::new();
    let mut span_hunk = Vec::new();
    let mut min = 0;
    for (i, hunk) in hunks.iter().enumerate() {
        let pos = locate(&file, hunk, min).ok_or_else(|| {
            format!(
                "hunk {} of {total} ({}) does not apply to {arg}: its context and removed lines were not found \
                 within {FUZZ} lines of line {}; no hunks were applied",
                i + 1,
                hunk.header,
                hunk.old_start
            )
        })?;
        min = pos + hunk.old().count();
        placed.push(pos);
        for span in spans(hunk, pos) {
            all_spans.push(span);
            span_hunk.push(i);
        }
    }
    let line_edits = match before {
        Some(_) => check_all(boundary, &all_spans).map_err(|(s, e)| {
            format!(
                "hunk {} of {total}: {e}; no hunks were applied",
                span_hunk[s] + 1
            )
        })?,
        None => Vec::new(),
    };

    // Untouched and context lines keep their own bytes (whitespace, line ending); added lines get the file's.
    let mut pieces: Vec<String> = Vec::with_capacity(raw.len());
    let mut cursor = 0;
    for (hunk, &pos) in hunks.iter().zip(&placed) {
        pieces.extend(raw[cursor..pos].iter().map(|s| s.to_string()));
        let mut old_i = pos;
        for line in &hunk.lines {
            match line {
                Line::Context(_) => {
                    pieces.push(raw[old_i].to_string());
                    old_i += 1;
                }
                Line::Remove(_) => old_i += 1,
                Line::Add(t) => pieces.push(format!("{t}{eol}")),
            }
        }
        cursor = old_i;
    }
    pieces.extend(raw[cursor..].iter().map(|s| s.to_string()));
    let n = pieces.len();
    for piece in pieces.iter_mut().take(n.saturating_sub(1)) {
        if !piece.ends_with('\n') {
            piece.push_str(eol);
        }
    }
    // The result ends with a newline exactly when the file did (a new file gets one).
    let final_newline = content.is_empty() || content.ends_with('\n');
    if let Some(last) = pieces.last_mut() {
        if final_newline && !last.ends_with('\n') {
            last.push_str(eol);
        } else if !final_newline {
            let body_len = last.trim_end_matches(['\r', '\n']).len();
            last.truncate(body_len);
        }
    }
    Ok((pieces.concat(), line_edits))
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
