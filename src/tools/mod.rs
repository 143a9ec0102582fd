//! Tools the agent can call, confined to the session's workdir.

pub mod fs;
pub mod preview;
pub mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::provider::native::model::ToolSpec;

/// A tool's outcome: its result text, or an error text for the model.
pub type ToolResult = Result<String, String>;

/// The tools of one session.
#[derive(Debug, Default)]
pub struct ToolSet {
    workdir: Option<Arc<PathBuf>>,
    enabled: Vec<&'static str>,
}

/// Tools that change files or shell state.
const DESTRUCTIVE: &[&str] = &[
    "write_file",
    "edit_file",
    "multi_edit_file",
    "apply_diff",
    "delete_file",
    "shell",
];

/// Built-in tools, in the order they are offered to the model.
const BUILTIN: &[&str] = &["read_file", "list_directory"];

impl ToolSet {
    /// The file tools for `workdir` (none without one), limited to `allow` when given.
    pub fn new(workdir: Option<PathBuf>, allow: Option<&[String]>) -> Self {
        let enabled = match &workdir {
            None => Vec::new(),
            Some(_) => BUILTIN
                .iter()
                .copied()
                .filter(|t| allow.is_none_or(|a| a.iter().any(|x| x == t)))
                .collect(),
        };
        ToolSet {
            workdir: workdir.map(Arc::new),
            enabled,
        }
    }

    /// The workdir the tools are confined to.
    pub fn workdir(&self) -> Option<&std::path::Path> {
        self.workdir.as_deref().map(|p| p.as_path())
    }

    /// Whether `name` changes files or shell state (such calls ask for approval in the default mode and are
    /// refused in plan mode).
    pub fn is_destructive(&self, name: &str) -> bool {
        DESTRUCTIVE.contains(&name)
    }

    /// Specs of the enabled tools.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.enabled.iter().map(|name| fs::spec(name)).collect()
    }

    /// Runs tool `name`. Unknown tools and bad arguments are error results for the model, never a crash.
    pub async fn execute(&self, name: &str, args: &Value) -> ToolResult {
        let (Some(root), true) = (&self.workdir, self.enabled.contains(&name)) else {
            return Err(format!("Tool '{name}' not found"));
        };
        let root = root.clone();
        let name = name.to_string();
        let args = args.clone();
        tokio::task::spawn_blocking(move || fs::run(&root, &name, &args))
            .await
            .unwrap_or_else(|e| Err(format!("Tool task failed: {e}")))
    }
}
