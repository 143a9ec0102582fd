//! File vocabulary: edit boundaries, line edits and what a tool did to a file.

use serde::Serialize;

use crate::error::{Error, Result};

/// An inclusive, 0-based line range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Boundary {
    /// First line an edit may touch.
    pub start_line: u32,
    /// Last line an edit may touch.
    pub end_line: u32,
}

impl Boundary {
    /// A boundary, if `start <= end`.
    pub fn new(start_line: u32, end_line: u32) -> Result<Boundary> {
        if start_line > end_line {
            return Err(Error::invalid(format!(
                "invalid boundary: start_line ({start_line}) must be <= end_line ({end_line})"
            )));
        }
        Ok(Boundary {
            start_line,
            end_line,
        })
    }

    /// Whether lines `start..=end` lie inside.
    pub fn contains_range(&self, start: u32, end: u32) -> bool {
        start >= self.start_line && end <= self.end_line
    }

    /// The boundary after an edit at `edit_line` changed the line count by `delta`: edits below leave it, edits
    /// above shift it, edits inside stretch or shrink its end (never below its start). `None` when it vanished.
    pub fn adjust(&self, edit_line: u32, delta: i64) -> Option<Boundary> {
        let shift = |v: u32| (i64::from(v) + delta).clamp(0, i64::from(u32::MAX)) as u32;
        if edit_line > self.end_line {
            Some(*self)
        } else if edit_line < self.start_line {
            let (s, e) = (shift(self.start_line), shift(self.end_line));
            (e >= s).then_some(Boundary {
                start_line: s,
                end_line: e,
            })
        } else {
            Some(Boundary {
                start_line: self.start_line,
                end_line: shift(self.end_line).max(self.start_line),
            })
        }
    }
}

/// What a tool did to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    /// It did not exist before.
    Created,
    /// It changed.
    Modified,
    /// It no longer exists.
    Deleted,
}

impl FileAction {
    /// The action's name, as JSON and the store write it.
    pub fn name(self) -> &'static str {
        match self {
            FileAction::Created => "created",
            FileAction::Modified => "modified",
            FileAction::Deleted => "deleted",
        }
    }

    /// Classifies a change from its before and after content (`None` = the file did not exist).
    pub fn of(before: Option<&str>, after: Option<&str>) -> FileAction {
        match (before, after) {
            (None, _) => FileAction::Created,
            (Some(_), None) => FileAction::Deleted,
            _ => FileAction::Modified,
        }
    }
}

/// One edit's effect on a file's line numbering, for [`Boundary::adjust`]: at 0-based line `edit_line` (in the file
/// as the previous edits of the same call left it) the line count changed by `delta_lines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineEdit {
    /// The first line the edit touched.
    pub edit_line: u32,
    /// Lines added minus lines removed.
    pub delta_lines: i64,
}

/// An inclusive, 0-based range of lines that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineRange {
    /// First changed line (in the file as it was before).
    pub start_line: u32,
    /// Last changed line.
    pub end_line: u32,
}

/// A change to a bounded file that left its boundary, found after the fact (a `shell` command, a tool pi ran):
/// such work cannot be refused in advance like an edit, so it is reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundaryViolation {
    /// The call that made the change.
    pub tool_call_id: String,
    /// Absolute path.
    pub path: String,
    /// The boundary the change left.
    pub boundary: Boundary,
    /// The changed line ranges outside it; empty when the file was deleted, created again or cannot be compared by
    /// lines (the message says which).
    pub changed: Vec<LineRange>,
    /// What changed, naming both ranges (the text the model is shown).
    pub message: String,
}
