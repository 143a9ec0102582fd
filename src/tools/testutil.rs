//! Test helpers: unique temporary directories that remove themselves, and a synchronous way to run a tool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::{ToolContext, ToolOutcome};

/// A fresh, canonical directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory named for `tag`, this process and a counter, so parallel tests never share one.
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandem-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs file tool `name` (not `shell`) synchronously with `ctx`.
pub fn run_with(root: &Path, name: &str, args: Value, ctx: &ToolContext) -> ToolOutcome {
    super::run_file_tool(root, name, &args, ctx)
}

/// Runs file tool `name` synchronously with no boundaries.
pub fn run(root: &Path, name: &str, args: Value) -> ToolOutcome {
    run_with(root, name, args, &ToolContext::new("call-1"))
}

/// The result text of a call that must succeed.
pub fn ok(root: &Path, name: &str, args: Value) -> String {
    let out = run(root, name, args);
    assert!(!out.is_error, "{name} failed: {}", out.text);
    out.text
}

/// The error text of a call that must fail.
pub fn err(root: &Path, name: &str, args: Value) -> String {
    let out = run(root, name, args);
    assert!(out.is_error, "{name} succeeded: {}", out.text);
    assert!(out.file_change.is_none() && out.line_edits.is_empty());
    out.text
}
