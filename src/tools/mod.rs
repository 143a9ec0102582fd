//! Tools the agent can call, confined to the session's workdir.

pub mod fs;
pub mod host;
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
    allow: Option<Vec<String>>,
    host: Option<(Arc<host::HostTools>, String)>,
}

/// Every built-in tool's name (host tools may not take them).
const ALL_BUILTIN: &[&str] = &[
    "read_file",
    "write_file",
    "edit_file",
    "multi_edit_file",
    "apply_diff",
    "delete_file",
    "list_directory",
    "find",
    "grep",
    "shell",
];

/// Whether `name` is a built-in tool's name.
pub fn is_builtin(name: &str) -> bool {
    ALL_BUILTIN.contains(&name)
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
            allow: allow.map(<[String]>::to_vec),
            host: None,
        }
    }

    /// Adds the client's host tools (limited by the same allow-list) for calls from session `session_id`.
    pub fn with_host(mut self, tools: Arc<host::HostTools>, session_id: &str) -> Self {
        self.host = Some((tools, session_id.to_string()));
        self
    }

    /// The workdir the tools are confined to.
    pub fn workdir(&self) -> Option<&std::path::Path> {
        self.workdir.as_deref().map(|p| p.as_path())
    }

    /// Whether `name` changes files or shell state (such calls ask for approval in the default mode and are
    /// refused in plan mode).
    pub fn is_destructive(&self, name: &str) -> bool {
        DESTRUCTIVE.contains(&name)
            || self
                .host
                .as_ref()
                .is_some_and(|(h, _)| h.destructive(name) == Some(true))
    }

    /// Specs of the enabled tools: built-in ones, then the host's.
    pub fn specs(&self) -> Vec<ToolSpec> {
        let mut specs: Vec<ToolSpec> = self.enabled.iter().map(|name| fs::spec(name)).collect();
        if let Some((h, _)) = &self.host {
            specs.extend(h.specs(self.allow.as_deref()));
        }
        specs
    }

    /// Runs a tool call: a built-in tool, or a host tool (which the host answers). Returns the result text and
    /// whether it is an error.
    pub async fn call(&self, call: &crate::provider::ToolCallRequest) -> (String, bool) {
        if let Some((h, session_id)) = &self.host {
            let admitted = self.allow.as_ref().is_none_or(|a| a.contains(&call.name));
            if !is_builtin(&call.name) && admitted && h.destructive(&call.name).is_some() {
                return h.call(&call.name, session_id, &call.id, &call.args).await;
            }
        }
        match self.execute(&call.name, &call.args).await {
            Ok(out) => (out, false),
            Err(err) => (err, true),
        }
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
