//! Host tools: tools a host registers on its client and answers itself, synchronously or later from any thread.
//!
//! A call is identified by a handle that is a number, never a pointer tandem dereferences, so a stale or repeated
//! completion is an error instead of undefined behaviour.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use once_cell::sync::Lazy;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::sync::lock;
use crate::vocab::model::ToolSpec;

/// What a host declares when it registers a tool.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostToolSpec {
    /// Tool name (`[A-Za-z0-9_-]`, 1-64 characters).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// Whether calls go through the session's approval policy like built-in destructive tools.
    #[serde(default)]
    pub destructive: bool,
}

impl HostToolSpec {
    /// Parses and validates a spec JSON document.
    pub fn parse(json: &str) -> Result<HostToolSpec> {
        let spec: HostToolSpec = Error::parse_json("spec_json", json)?;
        let name_ok = !spec.name.is_empty()
            && spec.name.len() <= 64
            && spec
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Error::invalid(format!(
                "tool name {:?} must be 1-64 characters from [A-Za-z0-9_-]",
                spec.name
            )));
        }
        if spec.description.trim().is_empty() {
            return Err(Error::invalid("tool description must not be empty"));
        }
        if spec.parameters.get("type").and_then(Value::as_str) != Some("object") {
            return Err(Error::invalid(
                "tool parameters must be a JSON Schema with \"type\": \"object\"",
            ));
        }
        Ok(spec)
    }
}

/// One call as the host sees it (borrowed for the callback).
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The call's handle (pass it to [`complete`]).
    pub handle: u64,
    /// The calling session.
    pub session_id: String,
    /// The model's tool call ID.
    pub tool_call_id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, as JSON.
    pub args_json: String,
}

/// The host side of a registered tool: the C callback and its userdata.
pub trait HostToolSink: Send + Sync {
    /// Runs the host's callback for one call (on a tandem-owned thread).
    fn invoke(&self, call: &Invocation);
    /// Frees the userdata (called once, when the last reference goes).
    fn release(&self);
}

struct Registered {
    spec: HostToolSpec,
    sink: Box<dyn HostToolSink>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sink.release();
    }
}

/// A client's host tools.
#[derive(Default)]
pub struct HostTools {
    tools: RwLock<BTreeMap<String, Arc<Registered>>>,
    /// Editors holding sessions' files, by session ID (see [`super::EditorFiles`]).
    editors: RwLock<HashMap<String, Arc<dyn super::EditorFiles>>>,
}

impl std::fmt::Debug for HostTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTools")
            .field("names", &self.names())
            .finish()
    }
}

type Answer = (String, bool);

struct Pending {
    answer: Mutex<Option<tokio::sync::oneshot::Sender<Answer>>>,
    cancelled: AtomicBool,
}

/// Calls waiting for the host, by handle. Process-wide because completion names only the handle.
static CALLS: Lazy<Mutex<HashMap<u64, Arc<Pending>>>> = Lazy::new(Default::default);
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// Answers call `handle`. A call that was cancelled accepts its answer and ignores it. `NotFound` for a handle
/// that was never issued or was already completed.
pub fn complete(handle: u64, result: String, is_error: bool) -> Result<()> {
    let pending = lock(&CALLS)
        .remove(&handle)
        .ok_or_else(|| Error::NotFound(format!("no pending tool call {handle}")))?;
    if let Some(tx) = lock(&pending.answer).take() {
        let _ = tx.send((result, is_error));
    }
    Ok(())
}

/// Whether call `handle` was cancelled (abort, stop). Unknown and completed handles count as cancelled: nobody
/// waits for them.
pub fn is_cancelled(handle: u64) -> bool {
    lock(&CALLS)
        .get(&handle)
        .is_none_or(|p| p.cancelled.load(Ordering::Acquire))
}

/// Marks a call cancelled when the waiting turn goes away first.
struct CancelOnDrop(Arc<Pending>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Release);
    }
}

impl HostTools {
    /// Sends session `session_id`'s file reads and writes to `editor` (`None`: back to the disk).
    pub fn set_editor(&self, session_id: &str, editor: Option<Arc<dyn super::EditorFiles>>) {
        let mut editors = self.editors.write().unwrap_or_else(|e| e.into_inner());
        match editor {
            Some(e) => editors.insert(session_id.to_string(), e),
            None => editors.remove(session_id),
        };
    }

    /// The editor of session `session_id`, if one was set.
    pub fn editor(&self, session_id: &str) -> Option<Arc<dyn super::EditorFiles>> {
        let editors = self.editors.read().unwrap_or_else(|e| e.into_inner());
        editors.get(session_id).cloned()
    }

    /// Registers a tool; `AlreadyExists` when the name is taken (built-in names and `task` included).
    pub fn register(&self, spec: HostToolSpec, sink: Box<dyn HostToolSink>) -> Result<()> {
        let mut tools = self.tools.write().unwrap_or_else(|e| e.into_inner());
        let taken = tools.contains_key(&spec.name)
            || super::is_builtin(&spec.name)
            || spec.name == super::TASK_TOOL;
        let reg = Registered { spec, sink };
        if taken {
            // `reg` drops here and releases the userdata: the host handed it over with the call.
            return Err(Error::AlreadyExists(format!(
                "a tool named {:?} is already registered",
                reg.spec.name
            )));
        }
        tools.insert(reg.spec.name.clone(), Arc::new(reg));
        Ok(())
    }

    /// Unregisters a tool. Running calls finish; the userdata is freed after the last one.
    pub fn unregister(&self, name: &str) -> Result<()> {
        self.tools
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .map(drop)
            .ok_or_else(|| Error::NotFound(format!("no host tool named {name:?}")))
    }

    /// Unregisters every tool (client shutdown).
    pub fn clear(&self) {
        self.tools
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn get(&self, name: &str) -> Option<Arc<Registered>> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Specs of the tools `allow` admits (all without an allow-list).
    pub fn specs(&self, allow: Option<&[String]>) -> Vec<ToolSpec> {
        self.tools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| allow.is_none_or(|a| a.contains(&r.spec.name)))
            .map(|r| ToolSpec {
                name: r.spec.name.clone(),
                description: r.spec.description.clone(),
                input_schema: r.spec.parameters.clone(),
            })
            .collect()
    }

    /// Whether `name` is a registered tool, and whether it is destructive.
    pub fn destructive(&self, name: &str) -> Option<bool> {
        self.get(name).map(|r| r.spec.destructive)
    }

    /// Calls host tool `name` and waits for its answer. Dropping the future cancels the call.
    pub async fn call(
        &self,
        name: &str,
        session_id: &str,
        tool_call_id: &str,
        args: &Value,
    ) -> Answer {
        let Some(tool) = self.get(name) else {
            return (format!("Tool '{name}' not found"), true);
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pending = Arc::new(Pending {
            answer: Mutex::new(Some(tx)),
            cancelled: AtomicBool::new(false),
        });
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        lock(&CALLS).insert(handle, pending.clone());
        let _cancel = CancelOnDrop(pending);
        let invocation = Invocation {
            handle,
            session_id: session_id.into(),
            tool_call_id: tool_call_id.into(),
            name: name.into(),
            args_json: args.to_string(),
        };
        // The callback may block or call back into tandem; it runs on the blocking pool, never on a worker.
        let ran = tokio::task::spawn_blocking(move || tool.sink.invoke(&invocation)).await;
        if let Err(e) = ran {
            lock(&CALLS).remove(&handle);
            return (format!("Tool '{name}' callback failed: {e}"), true);
        }
        rx.await
            .unwrap_or_else(|_| (format!("Tool '{name}' was not answered"), true))
    }
}
