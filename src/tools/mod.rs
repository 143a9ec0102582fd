//! Tools the agent can call, confined to the session's workdir.
//!
//! Each tool takes the canonical workdir, a JSON arguments object and a [`ToolContext`], and returns a
//! [`ToolOutcome`]: the result text for the model, whether it is an error, and for file-modifying tools the file
//! change and the line edits the caller applies to the file's edit boundary. Every path argument goes through
//! [`sandbox`]. File tools run on tokio's blocking pool; `shell` runs on the caller's task and kills its whole
//! process group when it ends, times out or is dropped.

mod args;
mod change;
pub use change::file_change_of;
pub mod confine;
pub mod context;
pub(crate) mod diff;
pub(crate) mod edit;
mod files;
mod find;
pub mod fs;
mod grep;
pub mod host;
pub mod preview;
mod protect;
pub mod sandbox;
pub(crate) mod shell;
mod specs;
mod walk;
pub mod watch;
mod write;

#[cfg(test)]
mod editor_tests;
#[cfg(test)]
mod escape_tests;
#[cfg(test)]
mod testutil;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::vocab::files::Boundary;
use crate::vocab::model::FileChange;
use crate::vocab::model::ToolSpec;

pub use change::LineEdit;
pub use protect::{protected_path, store_conflict};

/// How long a file tool may take before its call fails: a file system that never answers (a hung network mount)
/// must not hold the session, and the blocking thread it is stuck on is left behind.
pub const FILE_TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Tools that change files or shell state: they ask for approval in the default mode, are refused in plan mode,
/// and must not run concurrently with other calls (the others only read, so they may).
const DESTRUCTIVE: &[&str] = &[
    "write_file",
    "edit_file",
    "multi_edit_file",
    "apply_diff",
    "delete_file",
    "shell",
];

/// Built-in tools, in the order they are offered to the model.
const BUILTIN: &[&str] = &[
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

/// An editor that holds the session's files (an ACP client advertising `fs.readTextFile` / `fs.writeTextFile`):
/// the file tools read its buffers, unsaved changes included, and write through it. Paths reach it only after the
/// workdir handle has checked them ([`confine::Root::with_editor`]), so it is never asked for a file outside the
/// workdir, and edit boundaries are checked on the text it returns. Calls run on the blocking pool and may block.
pub trait EditorFiles: Send + Sync {
    /// Whether reads go to the editor.
    fn reads(&self) -> bool;
    /// Whether writes go to the editor.
    fn writes(&self) -> bool;
    /// The text of the file at `path` (absolute, inside the workdir).
    fn read(&self, path: &Path) -> Result<String, String>;
    /// Replaces the text of the file at `path` (absolute, inside the workdir), creating it.
    fn write(&self, path: &Path, content: &str) -> Result<(), String>;
}

/// What a tool call may ask of its caller while it runs.
///
/// Cheap to clone (the callbacks are shared), `Send + Sync`, and `'static`, so file tools can carry it onto the
/// blocking pool. Both callbacks must be quick and must not block on the session: the boundary lookup runs on a
/// blocking thread, the progress callback on the tool's async task.
#[derive(Clone)]
pub struct ToolContext {
    /// The tool call this is (copied into the [`FileChange`] a tool reports).
    pub tool_call_id: String,
    boundary_for: Arc<BoundaryLookup>,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
    editor: Option<Arc<dyn EditorFiles>>,
}

/// Finds the edit boundary of a file from its resolved absolute path.
type BoundaryLookup = dyn Fn(&Path) -> Option<Boundary> + Send + Sync;

impl ToolContext {
    /// A context for call `tool_call_id` with no boundaries and progress ignored.
    pub fn new(tool_call_id: impl Into<String>) -> ToolContext {
        ToolContext {
            tool_call_id: tool_call_id.into(),
            boundary_for: Arc::new(|_| None),
            progress: Arc::new(|_| {}),
            editor: None,
        }
    }

    /// Sends the file tools' reads and writes to `editor` (see [`EditorFiles`]).
    pub fn with_editor(mut self, editor: Option<Arc<dyn EditorFiles>>) -> ToolContext {
        self.editor = editor;
        self
    }

    /// Looks up edit boundaries: `f` gets the resolved absolute path of the file an editing tool is about to change.
    pub fn with_boundaries(
        mut self,
        f: impl Fn(&Path) -> Option<Boundary> + Send + Sync + 'static,
    ) -> ToolContext {
        self.boundary_for = Arc::new(f);
        self
    }

    /// Receives progress: `shell` calls `f` with the whole output so far, at most every 200 ms.
    pub fn with_progress(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> ToolContext {
        self.progress = Arc::new(f);
        self
    }

    /// The boundary of `path` (resolved, absolute), if any.
    pub fn boundary_for(&self, path: &Path) -> Option<Boundary> {
        (self.boundary_for)(path)
    }

    /// Reports progress text.
    pub fn progress(&self, text: &str) {
        (self.progress)(text)
    }
}

impl fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolContext")
            .field("tool_call_id", &self.tool_call_id)
            .finish_non_exhaustive()
    }
}

/// What a tool call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// The result text for the model.
    pub text: String,
    /// Whether the call failed (the text then says why).
    pub is_error: bool,
    /// The file a successful file-modifying call changed: absolute path, before (`None` when created) and after
    /// (`None` when deleted), each capped at 64 KB.
    pub file_change: Option<FileChange>,
    /// The edits to the changed file's lines, in order: apply each with [`Boundary::adjust`] to the file's boundary
    /// (see [`ToolOutcome::adjust`]). Empty when nothing was edited in place (creation, deletion, reads).
    pub line_edits: Vec<LineEdit>,
}

impl ToolOutcome {
    /// A successful call with plain result text.
    pub fn ok(text: impl Into<String>) -> ToolOutcome {
        ToolOutcome {
            text: text.into(),
            is_error: false,
            file_change: None,
            line_edits: Vec::new(),
        }
    }

    /// A failed call.
    pub fn error(text: impl Into<String>) -> ToolOutcome {
        ToolOutcome {
            is_error: true,
            ..ToolOutcome::ok(text)
        }
    }

    /// `boundary` after this call's line edits (`None` when it vanished).
    pub fn adjust(&self, boundary: Boundary) -> Option<Boundary> {
        self.line_edits
            .iter()
            .try_fold(boundary, |b, e| b.adjust(e.edit_line, e.delta_lines))
    }
}

/// The built-in tools' names, in the order they are offered to the model.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().copied()
}

/// Whether `name` is a built-in tool's name (host tools may not take them).
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.contains(&name)
}

/// The name of the sub-agent tool a session's manager adds (`manager::tasks`); host tools may not take it either.
pub const TASK_TOOL: &str = "task";

/// A boxed future a [`ToolSource`] returns.
pub type SourceFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Tools that come from elsewhere than tandem itself (MCP servers): their list may change while the session runs.
pub trait ToolSource: Send + Sync + fmt::Debug {
    /// Waits until the source has finished starting (its tools are listed, or it failed), so a turn offers what
    /// is there.
    fn ready(&self) -> SourceFuture<'_, ()>;
    /// The specs of the tools offered now.
    fn specs(&self) -> Vec<ToolSpec>;
    /// Why a call of `name` (a tool it owns) cannot run now (its server is down), so the call fails at once
    /// instead of asking for approval first; `None` when it can.
    fn unavailable(&self, name: &str) -> Option<String>;
    /// `Some(gated)` when the source owns tool `name` (whether a call is destructive: asks for approval, refused
    /// in plan mode); `None` when it does not.
    fn destructive(&self, name: &str) -> Option<bool>;
    /// Whether calls of `name` (a tool it owns) may run concurrently with each other and with reading calls even
    /// though they are gated (they are approved one at a time, in call order, then run together). Sub-agent tasks
    /// are: each works in its own session.
    fn concurrent(&self, _name: &str) -> bool {
        false
    }
    /// Runs a call of tool `name` (one it owns) with `args`, reporting progress through `ctx`; dropping the future
    /// cancels the call.
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        ctx: &'a ToolContext,
    ) -> SourceFuture<'a, ToolOutcome>;
}

/// The tools of one session.
#[derive(Debug, Default)]
pub struct ToolSet {
    workdir: Option<Arc<PathBuf>>,
    enabled: Vec<&'static str>,
    allow: Option<Vec<String>>,
    host: Option<(Arc<host::HostTools>, String)>,
    sources: Vec<Arc<dyn ToolSource>>,
    shell: crate::sandbox::Policy,
}

impl ToolSet {
    /// The built-in tools for `workdir` (none without one), limited to `allow` when given.
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
            sources: Vec::new(),
            shell: crate::sandbox::Policy::default(),
        }
    }

    /// Confines `shell` commands by `policy` (the `sandbox` and `shell_env` options); default `workspace-write`.
    pub fn with_shell(mut self, policy: crate::sandbox::Policy) -> Self {
        self.shell = policy;
        self
    }

    /// The policy `shell` commands run under.
    pub fn shell_policy(&self) -> &crate::sandbox::Policy {
        &self.shell
    }

    /// What the sandbox enforces on this machine for this session's `shell` commands (`None` when the session has
    /// no `shell` tool): for the session snapshot and a start-up event ([`crate::sandbox::report`]).
    pub fn sandbox_report(&self) -> Option<Value> {
        let root = self.workdir.as_deref()?;
        self.enabled
            .contains(&"shell")
            .then(|| shell::sandbox_report(&self.shell, root))
    }

    /// Adds the client's host tools (limited by the same allow-list) for calls from session `session_id`.
    pub fn with_host(mut self, tools: Arc<host::HostTools>, session_id: &str) -> Self {
        self.host = Some((tools, session_id.to_string()));
        self
    }

    /// Adds tools from `source` (MCP servers, sub-agent tasks), limited by the same allow-list. A name two sources
    /// offer is the earlier source's.
    pub fn with_source(mut self, source: Arc<dyn ToolSource>) -> Self {
        self.sources.push(source);
        self
    }

    fn admitted(&self, name: &str) -> bool {
        self.allow
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == name))
    }

    /// The source that owns `name`, if it is admitted, with whether the tool is destructive.
    fn source_tool(&self, name: &str) -> Option<(&Arc<dyn ToolSource>, bool)> {
        if !self.admitted(name) {
            return None;
        }
        self.sources
            .iter()
            .find_map(|s| s.destructive(name).map(|d| (s, d)))
    }

    /// Whether calls of `name` run concurrently although gated (see [`ToolSource::concurrent`]).
    pub fn concurrent(&self, name: &str) -> bool {
        self.source_tool(name)
            .is_some_and(|(s, _)| s.concurrent(name))
    }

    /// Why a call of `name` cannot run now (a tool of a source that is down), checked before the gate.
    pub fn unavailable(&self, name: &str) -> Option<String> {
        let (source, _) = self.source_tool(name)?;
        source.unavailable(name)
    }

    /// Waits until the tool sources (if any) have finished starting.
    pub async fn ready(&self) {
        for s in &self.sources {
            s.ready().await;
        }
    }

    fn host_tool(&self, name: &str) -> Option<&(Arc<host::HostTools>, String)> {
        let admitted = self.admitted(name);
        self.host
            .as_ref()
            .filter(|(h, _)| admitted && !is_builtin(name) && h.destructive(name).is_some())
    }

    /// The workdir the tools are confined to.
    pub fn workdir(&self) -> Option<&Path> {
        self.workdir.as_deref().map(|p| p.as_path())
    }

    /// Whether the session has tool `name`: an enabled built-in tool (there are none without a workdir), an
    /// admitted host tool, or an admitted tool of the session's tool source (its MCP servers).
    pub fn has(&self, name: &str) -> bool {
        self.enabled.contains(&name)
            || self.host_tool(name).is_some()
            || self.source_tool(name).is_some()
    }

    /// Whether `name` changes files or shell state (such calls ask for approval in the default mode and are
    /// refused in plan mode). Calls of other tools only read, so they may run concurrently.
    pub fn is_destructive(&self, name: &str) -> bool {
        DESTRUCTIVE.contains(&name)
            || self
                .host
                .as_ref()
                .is_some_and(|(h, _)| h.destructive(name) == Some(true))
            || self.source_tool(name).is_some_and(|(_, d)| d)
    }

    /// Why a call of `name` with `args` writes a protected path (`.git/`, `.tandem/`; see [`protected_path`]), or
    /// `None`. Such a call needs its own approval even when the tool is trusted or allowed.
    pub fn protected(&self, name: &str, args: &Value) -> Option<String> {
        protected_path(self.workdir()?, name, args)
    }

    /// Specs of the enabled tools.
    pub fn specs(&self) -> Vec<ToolSpec> {
        let mut out: Vec<ToolSpec> = self.enabled.iter().map(|name| specs::spec(name)).collect();
        if let Some((h, _)) = &self.host {
            out.extend(h.specs(self.allow.as_deref()));
        }
        for s in &self.sources {
            out.extend(s.specs().into_iter().filter(|t| self.admitted(&t.name)));
        }
        out
    }

    /// Runs a tool call: a built-in tool, a host tool (which the host answers), or a tool of the source.
    pub async fn call(&self, name: &str, args: &Value, ctx: &ToolContext) -> ToolOutcome {
        if let Some((source, _)) = self.source_tool(name) {
            return source.call(name, args, ctx).await;
        }
        if let Some((h, session_id)) = self.host_tool(name) {
            let (text, is_error) = h.call(name, session_id, &ctx.tool_call_id, args).await;
            return ToolOutcome {
                is_error,
                ..ToolOutcome::ok(text)
            };
        }
        self.execute(name, args, ctx).await
    }

    /// Runs tool `name`. Unknown tools and bad arguments are error outcomes for the model, never a crash.
    ///
    /// File tools run on the blocking pool and fail after [`FILE_TOOL_TIMEOUT`]; dropping the future does not stop
    /// one already started (each is a short, all-or-nothing file operation). Dropping a running `shell` call kills
    /// its process group.
    pub async fn execute(&self, name: &str, args: &Value, ctx: &ToolContext) -> ToolOutcome {
        let (Some(root), true) = (&self.workdir, self.enabled.contains(&name)) else {
            return ToolOutcome::error(format!("Tool '{name}' not found"));
        };
        if name == "shell" {
            return shell::run(root, &self.shell, args, ctx).await;
        }
        let root = root.clone();
        let name = name.to_string();
        let args = args.clone();
        let editor = self.host.as_ref().and_then(|(h, id)| h.editor(id));
        let ctx = match editor {
            Some(e) => ctx.clone().with_editor(Some(e)),
            None => ctx.clone(),
        };
        let label = name.clone();
        let task = tokio::task::spawn_blocking(move || run_file_tool(&root, &name, &args, &ctx));
        match tokio::time::timeout(FILE_TOOL_TIMEOUT, task).await {
            Ok(done) => {
                done.unwrap_or_else(|e| ToolOutcome::error(format!("Tool task failed: {e}")))
            }
            Err(_) => ToolOutcome::error(format!(
                "Tool '{label}' timed out after {} s: the file system did not answer",
                FILE_TOOL_TIMEOUT.as_secs()
            )),
        }
    }
}

/// Runs a file tool synchronously (the caller keeps it off the async workers).
fn run_file_tool(root: &Path, name: &str, args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let root = match confine::Root::open(root) {
        Ok(r) => r.with_editor(ctx.editor.clone()),
        Err(e) => return ToolOutcome::error(e),
    };
    let root = &root;
    let result = match name {
        "read_file" => fs::read_file(root, args),
        "list_directory" => fs::list_directory(root, args),
        "write_file" => write::write_file(root, args, ctx),
        "delete_file" => write::delete_file(root, args, ctx),
        "edit_file" => edit::edit_file(root, args, ctx),
        "multi_edit_file" => edit::multi_edit_file(root, args, ctx),
        "apply_diff" => diff::apply_diff(root, args, ctx),
        "find" => find::find(root, args),
        "grep" => grep::grep(root, args),
        _ => Err(format!("Tool '{name}' not found")),
    };
    result.unwrap_or_else(ToolOutcome::error)
}

#[cfg(test)]
mod tests {
    use super::testutil::TempDir;
    use super::*;
    use serde_json::json;

    #[test]
    fn every_builtin_has_a_closed_schema_and_only_writers_are_destructive() {
        let t = TempDir::new("toolset");
        let set = ToolSet::new(Some(t.path().to_path_buf()), None);
        let names: Vec<String> = set.specs().into_iter().map(|s| s.name).collect();
        assert_eq!(names, BUILTIN);
        for spec in set.specs() {
            assert_eq!(spec.input_schema["type"], "object", "{}", spec.name);
            assert_eq!(
                spec.input_schema["additionalProperties"], false,
                "{}",
                spec.name
            );
            assert!(!spec.description.is_empty());
        }
        let destructive: Vec<&str> = BUILTIN
            .iter()
            .copied()
            .filter(|n| set.is_destructive(n))
            .collect();
        assert_eq!(destructive, DESTRUCTIVE);
        let allow = vec!["grep".to_string(), "nope".to_string()];
        let only = ToolSet::new(Some(t.path().to_path_buf()), Some(&allow));
        assert_eq!(only.specs().len(), 1);
        assert!(ToolSet::new(None, None).specs().is_empty());
    }

    #[tokio::test]
    async fn execute_runs_file_tools_off_the_async_workers_and_refuses_unknown_ones() {
        let t = TempDir::new("toolset");
        let allow = vec!["write_file".to_string(), "shell".to_string()];
        let set = ToolSet::new(Some(t.path().to_path_buf()), Some(&allow));
        let ctx = ToolContext::new("c7");
        let out = set
            .execute(
                "write_file",
                &json!({"path": "a.txt", "content": "hi\n"}),
                &ctx,
            )
            .await;
        assert_eq!(out.text, "created a.txt (3 bytes, 1 line)");
        assert_eq!(out.file_change.unwrap().tool_call_id, "c7");
        let out = set
            .execute("read_file", &json!({"path": "a.txt"}), &ctx)
            .await;
        assert_eq!(
            out,
            ToolOutcome::error("Tool 'read_file' not found"),
            "not allowed"
        );
        let out = set
            .execute("shell", &json!({"command": "cat a.txt"}), &ctx)
            .await;
        assert_eq!(out, ToolOutcome::ok("hi\n"));
        let none = ToolSet::new(None, None);
        assert_eq!(
            none.execute("read_file", &json!({}), &ctx).await.text,
            "Tool 'read_file' not found"
        );
    }

    #[test]
    fn outcomes_fold_their_line_edits_into_a_boundary() {
        let mut out = ToolOutcome::ok("x");
        out.line_edits = vec![
            LineEdit {
                edit_line: 5,
                delta_lines: 2,
            },
            LineEdit {
                edit_line: 14,
                delta_lines: -1,
            },
        ];
        let b = Boundary::new(10, 20).unwrap();
        assert_eq!(out.adjust(b), Some(Boundary::new(12, 21).unwrap()));
        assert_eq!(ToolOutcome::ok("x").adjust(b), Some(b));
    }
}
