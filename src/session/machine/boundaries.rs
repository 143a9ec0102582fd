//! Edit boundaries (line ranges an agent may edit, per file) and the files a session's tools touched.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::state::{Effect, Now, SessionState};
use crate::error::Result;
pub use crate::vocab::files::{Boundary, FileAction};

/// A file the session's tools changed, latest change only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Touched {
    /// Absolute path.
    pub path: String,
    /// The latest change.
    pub action: FileAction,
    /// When (wall-clock ms).
    pub timestamp_ms: u64,
}

impl Touched {
    /// The entry the store writes.
    pub fn to_stored(&self) -> crate::store::record::StoredTouched {
        crate::store::record::StoredTouched {
            path: self.path.clone(),
            action: self.action.name().into(),
            timestamp_ms: self.timestamp_ms,
        }
    }

    /// A stored entry (`None` for an action this version does not know).
    pub fn from_stored(t: &crate::store::record::StoredTouched) -> Option<Touched> {
        let action = [
            FileAction::Created,
            FileAction::Modified,
            FileAction::Deleted,
        ]
        .into_iter()
        .find(|a| a.name() == t.action)?;
        Some(Touched {
            path: t.path.clone(),
            action,
            timestamp_ms: t.timestamp_ms,
        })
    }
}

/// Boundaries by absolute path, and touched files by path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileState {
    pub(super) boundaries: BTreeMap<String, Boundary>,
    pub(super) touched: BTreeMap<String, Touched>,
}

impl SessionState {
    /// Sets the boundary for `path` (absolute, already normalized by the caller).
    pub fn set_boundary(&mut self, path: String, start_line: u32, end_line: u32) -> Result<()> {
        let b = Boundary::new(start_line, end_line)?;
        self.files.boundaries.insert(path, b);
        Ok(())
    }

    /// Removes the boundary for `path` (a no-op when there is none).
    pub fn clear_boundary(&mut self, path: &str) {
        self.files.boundaries.remove(path);
    }

    /// Removes every boundary.
    pub fn clear_all_boundaries(&mut self) {
        self.files.boundaries.clear();
    }

    /// The boundary for `path`: `null` or `{start_line, end_line}`.
    pub fn boundary_for(&self, path: &str) -> Value {
        self.files
            .boundaries
            .get(path)
            .map_or(Value::Null, |b| json!(b))
    }

    /// The boundary of `path` (absolute, canonical), if any.
    pub fn boundary(&self, path: &str) -> Option<Boundary> {
        self.files.boundaries.get(path).copied()
    }

    /// Every edit boundary, by resolved absolute path (what a tool call checks its edits against).
    pub fn boundaries(&self) -> BTreeMap<String, Boundary> {
        self.files.boundaries.clone()
    }

    /// Adjusts `path`'s boundary after an edit (used by the file tools).
    pub fn adjust_boundary(&mut self, path: &str, edit_line: u32, delta: i64) {
        if let Some(b) = self.files.boundaries.get(path).copied() {
            match b.adjust(edit_line, delta) {
                Some(nb) => self.files.boundaries.insert(path.to_string(), nb),
                None => self.files.boundaries.remove(path),
            };
        }
    }

    /// How many files the session's tools touched.
    pub fn touched_count(&self) -> usize {
        self.files.touched.len()
    }

    /// The touched-files entry of `path`.
    pub fn touched(&self, path: &str) -> Option<&Touched> {
        self.files.touched.get(path)
    }

    /// Touched files, newest first.
    pub fn touched_files(&self) -> Value {
        let mut all: Vec<&Touched> = self.files.touched.values().collect();
        all.sort_by(|a, b| {
            b.timestamp_ms
                .cmp(&a.timestamp_ms)
                .then_with(|| a.path.cmp(&b.path))
        });
        serde_json::to_value(all).expect("touched files serialize")
    }

    /// The name of running tool call `id` ("unknown" when it is not running).
    fn active_tool_name(&self, id: &str) -> String {
        self.active_tools
            .iter()
            .find(|(tid, _)| tid == id)
            .map_or_else(|| "unknown".to_string(), |(_, n)| n.clone())
    }

    /// Emits `boundary_violated` for a change found after the fact outside a boundary. The boundary itself stays
    /// (only the host sets and clears boundaries).
    pub(super) fn boundary_violated(
        &mut self,
        v: crate::vocab::files::BoundaryViolation,
        fx: &mut Vec<Effect>,
    ) {
        let tool_name = self.active_tool_name(&v.tool_call_id);
        fx.push(Effect::Emit(crate::events::Payload::BoundaryViolated {
            tool_call_id: v.tool_call_id,
            tool_name,
            path: v.path,
            boundary: v.boundary,
            changed: v.changed,
            message: v.message,
        }));
    }

    /// Records a file change reported by a tool, and emits `file_changed`.
    pub(super) fn file_changed(
        &mut self,
        change: crate::vocab::model::FileChange,
        now: Now,
        fx: &mut Vec<Effect>,
    ) {
        let action = FileAction::of(change.before.as_deref(), change.after.as_deref());
        for edit in &change.line_edits {
            self.adjust_boundary(&change.path, edit.edit_line, edit.delta_lines);
        }
        let tool_name = self.active_tool_name(&change.tool_call_id);
        self.files.touched.insert(
            change.path.clone(),
            Touched {
                path: change.path.clone(),
                action,
                timestamp_ms: now.wall_ms,
            },
        );
        self.journal_ops
            .push(super::conversations::JournalOp::Touched(
                change.path.clone(),
            ));
        fx.push(Effect::Emit(crate::events::Payload::FileChanged {
            tool_call_id: change.tool_call_id,
            tool_name,
            path: change.path,
            action,
            before: change.before.unwrap_or_default(),
            after: change.after.unwrap_or_default(),
            truncated: change.truncated,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: u32, e: u32) -> Boundary {
        Boundary::new(s, e).unwrap()
    }

    #[test]
    fn adjusts_like_the_seed() {
        assert_eq!(b(10, 20).adjust(5, 3), Some(b(13, 23)));
        assert_eq!(b(10, 20).adjust(5, -3), Some(b(7, 17)));
        assert_eq!(b(10, 20).adjust(15, 2), Some(b(10, 22)));
        assert_eq!(b(10, 20).adjust(10, -2), Some(b(10, 18)));
        assert_eq!(b(10, 20).adjust(21, 5), Some(b(10, 20)));
        assert_eq!(b(5, 5).adjust(5, -1), Some(b(5, 5)));
        assert_eq!(b(2, 3).adjust(0, -10), Some(b(0, 0)), "clamped at line 0");
    }

    #[test]
    fn validates_and_contains() {
        assert!(Boundary::new(3, 2)
            .unwrap_err()
            .to_string()
            .contains("start_line (3) must be <= end_line (2)"));
        assert!(b(2, 4).contains_range(2, 4));
        assert!(!b(2, 4).contains_range(1, 3));
        assert!(!b(2, 4).contains_range(3, 5));
    }

    #[test]
    fn classifies_file_actions() {
        assert_eq!(FileAction::of(None, Some("x")), FileAction::Created);
        assert_eq!(FileAction::of(Some("x"), None), FileAction::Deleted);
        assert_eq!(FileAction::of(Some(""), Some("x")), FileAction::Modified);
    }
}
