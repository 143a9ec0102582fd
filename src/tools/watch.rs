//! Bounded files watched around work that cannot be bounded in advance (a `shell` command, a tool pi runs): their
//! content is read before, compared after, and every change is reported, with the changed lines that leave the
//! file's edit boundary as a violation.
//!
//! Files are read through the confined workdir handle ([`Root`]), so a boundary on a path outside the workdir is
//! not watched (no tool of the session can reach it either, except a shell command outside the sandbox's view).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::change::{check_all, spans_between, Span};
use super::confine::Root;
use super::files::{is_binary, MAX_EDIT_BYTES};
use crate::vocab::files::{Boundary, BoundaryViolation, LineRange};
use crate::vocab::model::FileChange;

/// What a bounded file held.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// There was no regular file to read.
    Missing,
    /// Its text.
    Text(String),
    /// A file too large, binary or not UTF-8, known by a hash of what was read of it.
    Opaque(u64),
}

/// The bounded files of a workdir as they were when [`Watch::snapshot`] read them.
#[derive(Debug, Clone)]
pub struct Watch {
    workdir: PathBuf,
    files: Vec<(PathBuf, Boundary, Seen)>,
}

/// One bounded file the watched work changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The change (before and after capped like a tool's; line edits of every changed run).
    pub change: FileChange,
    /// The changed lines outside the boundary, if any.
    pub violation: Option<BoundaryViolation>,
}

impl Watch {
    /// Reads the bounded files of `boundaries` (absolute, canonical paths) that lie inside `workdir`.
    pub fn snapshot(workdir: &Path, boundaries: &BTreeMap<String, Boundary>) -> Watch {
        let root = Root::open(workdir).ok();
        let files = boundaries
            .iter()
            .map(|(p, b)| (PathBuf::from(p), *b))
            .filter(|(p, _)| p.starts_with(workdir) && p != workdir)
            .map(|(p, b)| {
                let seen = read(root.as_ref(), &p);
                (p, b, seen)
            })
            .collect();
        Watch {
            workdir: workdir.to_path_buf(),
            files,
        }
    }

    /// Whether no bounded file is watched (nothing to compare).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads the files again and reports those that changed, attributed to call `tool_call_id`. The snapshot
    /// becomes the files as they are now, so a later call reports only its own changes.
    pub fn changes(&mut self, tool_call_id: &str) -> Vec<Observed> {
        if self.files.is_empty() {
            return Vec::new();
        }
        let root = Root::open(&self.workdir).ok();
        let mut out = Vec::new();
        for (path, boundary, seen) in &mut self.files {
            let now = read(root.as_ref(), path);
            if now != *seen {
                out.push(observe(tool_call_id, path, *boundary, seen, &now));
                *seen = now;
            }
        }
        out
    }
}

/// The sentence appended to a tool result (and shown to the model) for `violations`, or `None` when there are none.
pub fn violation_note(violations: &[&BoundaryViolation]) -> Option<String> {
    if violations.is_empty() {
        return None;
    }
    let lines: Vec<String> = violations.iter().map(|v| v.message.clone()).collect();
    Some(format!(
        "[boundary violation] This call changed lines outside the edit boundary the user set; the change was \
         reported to the user. Do not edit outside the allowed range.\n{}",
        lines.join("\n")
    ))
}

fn read(root: Option<&Root>, path: &Path) -> Seen {
    let Some(root) = root else {
        return Seen::Missing;
    };
    let arg = path.to_string_lossy();
    match root.read_capped(path, &arg, MAX_EDIT_BYTES, false) {
        Err(_) => Seen::Missing,
        Ok((bytes, more)) if more || is_binary(&bytes) => Seen::Opaque(hash(&bytes, more)),
        Ok((bytes, _)) => match String::from_utf8(bytes) {
            Ok(text) => Seen::Text(text),
            Err(e) => Seen::Opaque(hash(e.as_bytes(), false)),
        },
    }
}

fn hash(bytes: &[u8], more: bool) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    more.hash(&mut h);
    h.finish()
}

/// The change from `before` to `after` and its check against `boundary`.
fn observe(id: &str, path: &Path, boundary: Boundary, before: &Seen, after: &Seen) -> Observed {
    let text = |s: &Seen| match s {
        Seen::Text(t) => Some(t.clone()),
        Seen::Opaque(_) => Some(String::new()),
        Seen::Missing => None,
    };
    let mut change =
        super::change::file_change_of(id, path, text(before).as_deref(), text(after).as_deref());
    let whole = |why: &str| {
        Some(BoundaryViolation {
            tool_call_id: id.to_string(),
            path: path.to_string_lossy().into_owned(),
            boundary,
            changed: Vec::new(),
            message: format!(
                "{}: {why}; allowed range is {}-{}",
                path.display(),
                boundary.start_line,
                boundary.end_line
            ),
        })
    };
    let violation = match (before, after) {
        (Seen::Text(b), Seen::Text(a)) => {
            let spans = spans_between(b, a);
            change.line_edits = check_all(None, &spans).unwrap_or_default();
            let outside: Vec<&Span> = spans
                .iter()
                .filter(|s| !boundary.contains_range(s.first, s.last))
                .collect();
            (!outside.is_empty()).then(|| {
                let changed: Vec<LineRange> = outside
                    .iter()
                    .map(|s| LineRange {
                        start_line: s.first,
                        end_line: s.last,
                    })
                    .collect();
                let ranges: Vec<String> = changed
                    .iter()
                    .map(|r| format!("{}-{}", r.start_line, r.end_line))
                    .collect();
                BoundaryViolation {
                    tool_call_id: id.to_string(),
                    path: path.to_string_lossy().into_owned(),
                    boundary,
                    message: format!(
                        "{}: lines {} changed outside the boundary; allowed range is {}-{}",
                        path.display(),
                        ranges.join(", "),
                        boundary.start_line,
                        boundary.end_line
                    ),
                    changed,
                }
            })
        }
        (_, Seen::Missing) => whole("the file was deleted"),
        (Seen::Missing, _) => whole("the file was created again"),
        _ => whole("the file changed and cannot be compared by lines (binary or too large)"),
    };
    Observed { change, violation }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;

    fn bounds(path: &Path, s: u32, e: u32) -> BTreeMap<String, Boundary> {
        BTreeMap::from([(
            path.to_string_lossy().into_owned(),
            Boundary::new(s, e).unwrap(),
        )])
    }

    #[test]
    fn changes_inside_the_boundary_are_reported_without_a_violation() {
        let t = TempDir::new("watch");
        let f = t.path().join("a.txt");
        std::fs::write(&f, "0\n1\n2\n3\n").unwrap();
        let mut w = Watch::snapshot(t.path(), &bounds(&f, 1, 2));
        assert!(w.changes("c1").is_empty(), "nothing changed yet");
        std::fs::write(&f, "0\none\nuno\n2\n3\n").unwrap();
        let seen = w.changes("c1");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].violation, None);
        assert_eq!(seen[0].change.after.as_deref(), Some("0\none\nuno\n2\n3\n"));
        assert_eq!(seen[0].change.line_edits.len(), 1);
        assert!(w.changes("c2").is_empty(), "the snapshot moved on");
    }

    #[test]
    fn changes_outside_and_deletions_are_violations_naming_both_ranges() {
        let t = TempDir::new("watch");
        let f = t.path().join("a.txt");
        std::fs::write(&f, "0\n1\n2\n3\n").unwrap();
        let mut w = Watch::snapshot(t.path(), &bounds(&f, 1, 2));
        std::fs::write(&f, "zero\n1\n2\nthree\n").unwrap();
        let v = w.changes("c1").remove(0).violation.unwrap();
        assert_eq!(
            v.changed,
            vec![
                LineRange {
                    start_line: 0,
                    end_line: 0
                },
                LineRange {
                    start_line: 3,
                    end_line: 3
                }
            ]
        );
        assert_eq!(
            v.message,
            format!(
                "{}: lines 0-0, 3-3 changed outside the boundary; allowed range is 1-2",
                f.display()
            )
        );
        std::fs::remove_file(&f).unwrap();
        let seen = w.changes("c2");
        assert_eq!(seen[0].change.after, None);
        let v = seen[0].violation.as_ref().unwrap();
        assert_eq!(v.tool_call_id, "c2");
        assert!(v
            .message
            .ends_with("the file was deleted; allowed range is 1-2"));
        assert!(violation_note(&[v])
            .unwrap()
            .contains("the file was deleted"));
        assert_eq!(violation_note(&[]), None);
    }

    #[test]
    fn files_outside_the_workdir_are_not_watched() {
        let t = TempDir::new("watch");
        let other = TempDir::new("watch-out");
        let f = other.path().join("b.txt");
        std::fs::write(&f, "x\n").unwrap();
        let w = Watch::snapshot(t.path(), &bounds(&f, 0, 0));
        assert!(w.is_empty());
    }
}
