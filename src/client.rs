//! The client: one tokio runtime, the session manager and the event bus, with a safe Rust API that the C ABI wraps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::bus::{EventBus, EventsSince};
use crate::events::dispatch::EventSink;
use crate::events::{Event, StopReason};
use crate::manager::Manager;
use crate::session::approvals::Decision;
use crate::session::state::{Command, EditOp, PromptOutcome, QueueOp, Reply};
use crate::session::transcript::{ContentPart, Level};
use crate::sync::lock;
use crate::vocab::settings::Status;
use crate::vocab::settings::{RestartOptions, RestartPolicy};

/// The client configuration JSON. Unknown keys are rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Conversation store directory (default `$XDG_DATA_HOME/tandem`, else `~/.local/share/tandem`); `null`
    /// disables persistence.
    #[serde(default, deserialize_with = "nullable")]
    pub store_dir: Option<Option<String>>,
    /// When journal appends are fsynced: `always`, `turn` (default) or `never`.
    pub fsync: Option<crate::store::FsyncPolicy>,
    /// Tokio worker threads (default 2, 1 to 64).
    pub worker_threads: Option<usize>,
    /// Soft capacity of each event queue (default 65536).
    pub event_queue_capacity: Option<usize>,
    /// Events kept per session for `events_since` (default 1024).
    pub event_history_capacity: Option<usize>,
    /// Keep events for `next_event` (default true; hosts that only subscribe can turn it off).
    pub pull_events: Option<bool>,
    /// Restart policy for every session.
    pub restart: Option<RestartOptions>,
    /// Session options merged under each start.
    pub session_defaults: Option<Value>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Config {
    /// Parses the config JSON (`None` = defaults).
    pub fn parse(json: Option<&str>) -> Result<Config> {
        let Some(text) = json else {
            return Ok(Config::default());
        };
        let v: Value = Error::parse_json("config_json", text)?;
        if !v.is_object() {
            return Err(Error::invalid("config_json must be a JSON object"));
        }
        let c: Config =
            serde_json::from_value(v).map_err(|e| Error::invalid(format!("config_json: {e}")))?;
        if c.worker_threads.is_some_and(|n| !(1..=64).contains(&n)) {
            return Err(Error::invalid("worker_threads must be between 1 and 64"));
        }
        if c.event_queue_capacity
            .is_some_and(|n| !(16..=1 << 24).contains(&n))
        {
            return Err(Error::invalid(
                "event_queue_capacity must be between 16 and 16777216",
            ));
        }
        if c.event_history_capacity
            .is_some_and(|n| !(1..=1 << 20).contains(&n))
        {
            return Err(Error::invalid(
                "event_history_capacity must be between 1 and 1048576",
            ));
        }
        if c.session_defaults.as_ref().is_some_and(|d| !d.is_object()) {
            return Err(Error::invalid("session_defaults must be an object"));
        }
        if let Some(Some(dir)) = &c.store_dir {
            if dir.is_empty() {
                return Err(Error::invalid(
                    "store_dir must not be empty (use null to disable persistence)",
                ));
            }
        }
        Ok(c)
    }

    /// The store directory: the configured one, the XDG default, or `None` when persistence is off.
    pub fn store_root(&self) -> Result<Option<std::path::PathBuf>> {
        match &self.store_dir {
            Some(None) => Ok(None),
            Some(Some(dir)) => crate::ids::expand_path(dir).map(Some),
            None => {
                let base = match std::env::var("XDG_DATA_HOME") {
                    Ok(x) if std::path::Path::new(&x).is_absolute() => std::path::PathBuf::from(x),
                    _ => match std::env::var_os("HOME") {
                        Some(home) => std::path::PathBuf::from(home).join(".local/share"),
                        None => {
                            return Err(Error::invalid(
                                "neither XDG_DATA_HOME nor HOME is set: set store_dir (or null to disable persistence)",
                            ))
                        }
                    },
                };
                Ok(Some(base.join("tandem")))
            }
        }
    }
}

/// How long `available_models` waits for the provider's model list before answering with the configured ones.
const MODEL_LIST_WAIT: Duration = Duration::from_secs(10);

/// A tandem client: sessions, their runtime and their events.
pub struct Client {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    manager: Arc<Manager>,
    bus: Arc<EventBus>,
    pid: u32,
    shut_down: AtomicBool,
    host_tools: Arc<crate::tools::host::HostTools>,
    shared: crate::provider::Shared,
}

impl Client {
    /// Creates a client from its config JSON (`None` = defaults).
    pub fn new(config_json: Option<&str>) -> Result<Client> {
        let config = Config::parse(config_json)?;
        let restart = match &config.restart {
            Some(r) => r.apply(&RestartPolicy::default())?,
            None => RestartPolicy::default(),
        };
        let defaults = config
            .session_defaults
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()));
        // Validate the defaults once, so a bad default fails here rather than on every start.
        crate::session::options::resolve(None, &defaults, &restart)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.unwrap_or(2))
            .thread_name("tandem-worker")
            .enable_time()
            .enable_io()
            .build()
            .map_err(|e| Error::Io(format!("cannot start the runtime: {e}")))?;
        let bus = EventBus::new(
            config.event_queue_capacity.unwrap_or(65_536),
            config.event_history_capacity.unwrap_or(1024),
            config.pull_events.unwrap_or(true),
        );
        let store = config.store_root()?.map(|root| {
            Arc::new(crate::store::Store::new(
                root,
                config.fsync.unwrap_or_default(),
            ))
        });
        let host_tools = Arc::new(crate::tools::host::HostTools::default());
        let shared = crate::provider::Shared::default();
        let manager = Manager::new(
            runtime.handle().clone(),
            bus.clone(),
            defaults,
            restart,
            store,
            host_tools.clone(),
            shared.clone(),
        );
        Ok(Client {
            runtime: Mutex::new(Some(runtime)),
            manager,
            bus,
            pid: std::process::id(),
            shut_down: AtomicBool::new(false),
            host_tools,
            shared,
        })
    }

    /// Fails in a forked child and after shutdown.
    fn live(&self) -> Result<&Manager> {
        self.check_process()?;
        if self.shut_down.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        Ok(&self.manager)
    }

    /// `Forked` when called in a process other than the one that created the client.
    pub fn check_process(&self) -> Result<()> {
        let now = std::process::id();
        if now != self.pid {
            return Err(Error::Forked(self.pid));
        }
        Ok(())
    }

    /// Whether the current thread is running one of this client's callbacks.
    pub fn in_callback(&self) -> bool {
        self.bus.dispatcher().on_dispatcher_thread()
    }

    /// Stops every session (flushing it), delivers queued callbacks, wakes `next_event` waiters, and stops the
    /// runtime within `timeout`. Idempotent.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.check_process()?;
        if self.in_callback() {
            return Err(Error::ReentrantCall(
                "tandem_client_shutdown cannot be called from an event callback".into(),
            ));
        }
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.manager.stop_all(StopReason::Shutdown);
        self.host_tools.clear();
        self.shared.host.close();
        self.bus.shutdown();
        if let Some(rt) = lock(&self.runtime).take() {
            rt.shutdown_timeout(timeout);
        }
        Ok(())
    }

    /// Next event of the pull queue, waiting up to `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Result<Arc<Event>> {
        self.check_process()?;
        self.bus.next_event(timeout)
    }

    /// Adds a subscription (optionally for one session); returns its ID.
    pub fn subscribe(&self, session_id: Option<&str>, sink: Box<dyn EventSink>) -> Result<u64> {
        if let Err(e) = self.live() {
            sink.release();
            return Err(e);
        }
        self.bus.dispatcher().subscribe(session_id, sink)
    }

    /// Ends a subscription; see [`crate::events::dispatch::Dispatcher::unsubscribe`].
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        self.check_process()?;
        self.bus.dispatcher().unsubscribe(id)
    }

    /// Starts a session from options JSON; returns its ID.
    pub fn start_session(&self, options_json: Option<&str>) -> Result<String> {
        self.live()?.start(options_json)
    }

    /// Returns live session `id` or starts it.
    pub fn start_or_get_session(&self, id: &str, options_json: Option<&str>) -> Result<String> {
        self.live()?.start_or_get(id, options_json)
    }

    /// Stops a session.
    pub fn stop_session(&self, id: &str) -> Result<()> {
        self.live()?.stop(id, StopReason::Stopped)
    }

    /// Metadata of every live session.
    pub fn list_sessions(&self) -> Result<Vec<Value>> {
        Ok(self.live()?.list())
    }

    /// [`Client::list_sessions`] rendered as a JSON array (what `tandem_session_list` returns), without building
    /// intermediate `Value`s.
    pub fn list_sessions_json(&self) -> Result<String> {
        Ok(self.live()?.list_json())
    }

    /// Sends a prompt made of content parts; while a turn runs it is queued as steering.
    pub fn send_prompt(&self, id: &str, parts: Vec<ContentPart>) -> Result<PromptOutcome> {
        self.live()?.prompt(id, parts, false)
    }

    /// Like [`Client::send_prompt`], but while a turn runs the prompt waits for the turn's end as a follow-up.
    pub fn queue_follow_up(&self, id: &str, parts: Vec<ContentPart>) -> Result<PromptOutcome> {
        self.live()?.prompt(id, parts, true)
    }

    /// A queue operation: show, dequeue steering, recall or clear. Returns the queue contents it concerns.
    pub fn queues(&self, id: &str, op: QueueOp) -> Result<Value> {
        match self.live()?.call(id, Command::Queue(op))? {
            Reply::Json(v) => Ok(v),
            _ => Ok(Value::Null),
        }
    }

    /// Registers a host tool (see [`crate::tools::host`]). On `AlreadyExists` or after shutdown the sink is
    /// released at once.
    pub fn register_tool(
        &self,
        spec: crate::tools::host::HostToolSpec,
        sink: Box<dyn crate::tools::host::HostToolSink>,
    ) -> Result<()> {
        if let Err(e) = self.live() {
            sink.release();
            return Err(e);
        }
        self.host_tools.register(spec, sink)
    }

    /// Registers the host provider callback (see [`crate::provider::host`]), replacing any previous one; `None`
    /// unregisters. After shutdown the sink is released at once.
    pub fn set_provider(
        &self,
        sink: Option<Box<dyn crate::provider::host::HostProviderSink>>,
    ) -> Result<()> {
        if let Err(e) = self.live() {
            if let Some(s) = sink {
                s.release();
            }
            return Err(e);
        }
        self.shared.host.set(sink)
    }

    /// Passes a host provider event to open request `request_id` of session `session_id`.
    pub fn provider_emit(&self, session_id: &str, request_id: u64, event_json: &str) -> Result<()> {
        self.check_process()?;
        self.shared.host.emit(session_id, request_id, event_json)
    }

    /// Passes a host provider event that names its request inside the JSON (`"request_id"`), as the C API takes it.
    pub fn provider_emit_json(&self, session_id: &str, event_json: &str) -> Result<()> {
        let mut event: Value = serde_json::from_str(event_json)
            .map_err(|e| Error::InvalidJson("event_json", e.to_string()))?;
        let request_id = event
            .as_object_mut()
            .and_then(|o| o.remove("request_id"))
            .ok_or_else(|| {
                Error::invalid(
                    "event_json needs \"request_id\": the ID of the tandem_provider_request it answers",
                )
            })?
            .as_u64()
            .ok_or_else(|| {
                Error::invalid("event_json: \"request_id\" must be a non-negative integer")
            })?;
        self.check_process()?;
        // Parsed once: the rest of the document is checked as it is, not re-serialized and parsed again.
        let event = crate::provider::host::HostEvent::from_value(event)?;
        self.shared.host.emit_event(session_id, request_id, event)
    }

    /// Whether host provider request `request_id` is no longer open (finished, aborted or unknown).
    pub fn provider_request_is_cancelled(&self, request_id: u64) -> bool {
        self.shared.host.is_cancelled(request_id)
    }

    /// The client's shared provider parts (tests: the HTTP client, open host requests).
    pub fn provider_shared(&self) -> &crate::provider::Shared {
        &self.shared
    }

    /// Unregisters a host tool.
    pub fn unregister_tool(&self, name: &str) -> Result<()> {
        self.live()?;
        self.host_tools.unregister(name)
    }

    /// Archives the session's conversation and starts a new one; returns the new conversation's ID.
    pub fn new_conversation(&self, id: &str) -> Result<String> {
        self.live()?.new_conversation(id)
    }

    /// Loads a stored conversation into the session.
    pub fn load_conversation(&self, id: &str, conversation_id: &str) -> Result<()> {
        self.live()?.load_conversation(id, conversation_id)
    }

    /// Stored conversations, newest first.
    pub fn list_conversations(&self) -> Result<Vec<Value>> {
        self.live()?.conversations()
    }

    /// Deletes a stored conversation.
    pub fn delete_conversation(&self, conversation_id: &str) -> Result<()> {
        self.live()?.delete_conversation(conversation_id)
    }

    /// Aborts the running turn.
    pub fn abort(&self, id: &str) -> Result<()> {
        self.live()?.abort(id)
    }

    /// The session's token.
    pub fn token(&self, id: &str) -> Result<String> {
        self.live()?.token(id)
    }

    /// Starts a background sub-agent; returns its handle.
    pub fn start_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        options_json: Option<&str>,
    ) -> Result<Value> {
        self.live()?.start_subagent(parent, task, options_json)
    }

    /// Sub-agent handles, oldest first.
    pub fn list_subagents(&self, parent: Option<&str>) -> Result<Value> {
        Ok(serde_json::to_value(self.live()?.subagents(parent)).expect("handles serialize"))
    }

    /// Applies a transcript or boundary edit; returns its JSON result (`null` when it has none).
    pub fn edit(&self, id: &str, op: EditOp) -> Result<Value> {
        match self.live()?.call(id, Command::Edit(op))? {
            Reply::Json(v) => Ok(v),
            _ => Ok(Value::Null),
        }
    }

    /// Answers the pending approval (`approval_id` must name it when given).
    pub fn respond_to_approval(
        &self,
        id: &str,
        approval_id: Option<&str>,
        decision: Decision,
    ) -> Result<()> {
        let cmd = Command::Respond {
            approval_id: approval_id.map(Into::into),
            decision,
        };
        self.live()?.call(id, cmd).map(drop)
    }

    /// Switches the session's model for its next model calls.
    pub fn set_model(&self, id: &str, model: &str) -> Result<()> {
        let manager = self.live()?;
        crate::provider::check_model(&manager.provider_kind(id)?, model)?;
        manager.call(id, Command::SetModel(model.into())).map(drop)
    }

    /// Switches to the next model of the session's `models` rotation; returns `{model, index, total, thinking_level}`.
    pub fn cycle_model(&self, id: &str) -> Result<Value> {
        self.json_call(id, Command::CycleModel)
    }

    /// Sets the thinking level (`off`, `low`, `medium`, `high`).
    pub fn set_thinking_level(&self, id: &str, level: &str) -> Result<()> {
        let level = crate::vocab::settings::ThinkingLevel::parse(level)?;
        self.live()?.call(id, Command::SetThinking(level)).map(drop)
    }

    /// Moves to the next thinking level; returns `{level}`.
    pub fn cycle_thinking_level(&self, id: &str) -> Result<Value> {
        self.json_call(id, Command::CycleThinking)
    }

    /// Models the session can switch to: for HTTP backends the provider's own list (`GET …/models`), else, or when
    /// that fails, the configured `models` rotation. Blocks for the provider's answer (at most 10 s).
    pub fn available_models(&self, id: &str) -> Result<Value> {
        let m = self.live()?;
        let (model, fallback) =
            m.with_state(id, |s| (s.identity().model.clone(), s.available_models()))?;
        let Some((backend, name)) = model
            .split_once(':')
            .filter(|(b, _)| matches!(*b, "anthropic" | "openai" | "ollama"))
        else {
            return Ok(fallback);
        };
        let http = crate::provider::native::http::HttpModel::new(
            backend,
            name,
            &m.http_options(id)?,
            self.shared.http.clone(),
        )?;
        let Some(rt) = lock(&self.runtime).as_ref().map(|rt| rt.handle().clone()) else {
            return Err(Error::ShuttingDown);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let listed = tokio::time::timeout(MODEL_LIST_WAIT, http.list_models()).await;
            let _ = tx.send(listed);
        });
        match rx.recv_timeout(MODEL_LIST_WAIT + Duration::from_secs(1)) {
            Ok(Ok(Ok(ids))) => m.with_state(id, |s| {
                s.models_json(ids.iter().map(|i| format!("{backend}:{i}")).collect())
            }),
            _ => Ok(fallback),
        }
    }

    /// Slash commands a host can offer: the built-ins, then one per skill found.
    pub fn commands(&self, id: &str) -> Result<Value> {
        let mut all = self.live()?.with_state(id, |s| s.commands())?;
        let skills = crate::skills::discover(&self.live()?.skill_dirs(id)?);
        if let Value::Array(list) = &mut all {
            list.extend(skills.into_iter().map(|s| {
                serde_json::json!({"name": s.name, "description": s.description, "kind": "skill"})
            }));
        }
        Ok(all)
    }

    /// Skills found for the session: `[{name, description, path, active}]`.
    pub fn list_skills(&self, id: &str) -> Result<Value> {
        let found = crate::skills::discover(&self.live()?.skill_dirs(id)?);
        let active = self.live()?.with_state(id, |s| s.active_skills())?;
        Ok(Value::Array(
            found
                .into_iter()
                .map(|s| {
                    let on = active.contains(&s.name);
                    serde_json::json!({"name": s.name, "description": s.description, "path": s.path, "active": on})
                })
                .collect(),
        ))
    }

    /// Activates skill `name`: its SKILL.md joins the system prompt from the next model call on.
    pub fn activate_skill(&self, id: &str, name: &str) -> Result<()> {
        let content = crate::skills::load(&self.live()?.skill_dirs(id)?, name)?;
        self.live()?
            .call(
                id,
                Command::ActivateSkill {
                    name: name.into(),
                    content,
                },
            )
            .map(drop)
    }

    /// Deactivates skill `name` (`NotFound` when it is not active).
    pub fn deactivate_skill(&self, id: &str, name: &str) -> Result<()> {
        self.live()?
            .call(id, Command::DeactivateSkill(name.into()))
            .map(drop)
    }

    fn json_call(&self, id: &str, cmd: Command) -> Result<Value> {
        match self.live()?.call(id, cmd)? {
            Reply::Json(v) => Ok(v),
            other => Err(Error::Internal(format!(
                "expected a JSON reply, got {other:?}"
            ))),
        }
    }

    /// Compacts the model context (keeping the session's `compaction.keep_recent` messages); blocks for the model's
    /// summary. Returns `{compacted, info, summary?}`.
    pub fn compact(&self, id: &str) -> Result<Value> {
        let keep_recent = self.live()?.keep_recent(id)?;
        self.json_call(id, Command::Compact { keep_recent })
    }

    /// Resumes an answer cut off by a stream failure.
    pub fn continue_turn(&self, id: &str) -> Result<()> {
        self.live()?.call(id, Command::Continue).map(drop)
    }

    /// Summarizes the conversation into a Markdown file under the workdir; blocks for the model. Returns
    /// `{text, path}`.
    pub fn summarize(&self, id: &str) -> Result<Value> {
        self.json_call(id, Command::Summarize)
    }

    /// Enters plan mode: destructive tools are refused until [`Client::enter_exec`].
    pub fn enter_plan(&self, id: &str) -> Result<()> {
        self.live()?.call(id, Command::EnterPlan).map(drop)
    }

    /// Leaves plan mode (a no-op outside it).
    pub fn enter_exec(&self, id: &str) -> Result<()> {
        self.live()?.call(id, Command::EnterExec).map(drop)
    }

    /// The branches of session `id`.
    pub fn list_branches(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| s.list_branches())
    }

    /// The absolute path a boundary for `path` is keyed by: relative paths are taken from the session's workdir
    /// (the process's cwd without one), `.`/`..` are resolved, and existing paths are canonicalized like the tools do.
    fn boundary_path(&self, id: &str, path: &str) -> Result<String> {
        if path.is_empty() {
            return Err(Error::invalid("path must not be empty"));
        }
        let workdir = self
            .live()?
            .with_state(id, |s| s.identity().workdir.clone())?;
        let joined = match workdir {
            Some(w) if !std::path::Path::new(path).is_absolute() => format!("{w}/{path}"),
            _ => path.to_string(),
        };
        let expanded = crate::ids::expand_path(&joined)?;
        let real = expanded.canonicalize().unwrap_or(expanded);
        Ok(real.display().to_string())
    }

    /// Sets the edit boundary of `path`: lines `start_line..=end_line` (0-based).
    pub fn set_boundary(&self, id: &str, path: &str, start_line: u32, end_line: u32) -> Result<()> {
        let path = self.boundary_path(id, path)?;
        self.edit(
            id,
            EditOp::SetBoundary {
                path,
                start_line,
                end_line,
            },
        )
        .map(drop)
    }

    /// Removes the edit boundary of `path`.
    pub fn clear_boundary(&self, id: &str, path: &str) -> Result<()> {
        let path = self.boundary_path(id, path)?;
        self.edit(id, EditOp::ClearBoundary(path)).map(drop)
    }

    /// The edit boundary of `path`, or `null`.
    pub fn boundary_for(&self, id: &str, path: &str) -> Result<Value> {
        let path = self.boundary_path(id, path)?;
        self.live()?.with_state(id, |s| s.boundary_for(&path))
    }

    /// Files the session's tools changed, newest first.
    pub fn touched_files(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| s.touched_files())
    }

    /// The session's status.
    pub fn status(&self, id: &str) -> Result<Status> {
        self.live()?.with_state(id, |s| s.status())
    }

    /// All messages.
    pub fn messages(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| {
            serde_json::to_value(s.transcript().messages()).expect("messages serialize")
        })
    }

    /// A newest-first window of messages with IDs below `before_id` (0 = newest).
    pub fn messages_page(&self, id: &str, before_id: u64, limit: u32) -> Result<Value> {
        if limit == 0 {
            return Err(Error::invalid("limit must be at least 1"));
        }
        self.live()?.with_state(id, |s| {
            let (page, has_more) = s.transcript().page(before_id, limit as usize);
            serde_json::json!({"messages": page, "has_more": has_more})
        })
    }

    /// Accumulated usage.
    pub fn usage(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| {
            serde_json::to_value(s.usage()).expect("usage serializes")
        })
    }

    /// Metadata.
    pub fn metadata(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| s.metadata())
    }

    /// The editor snapshot.
    pub fn snapshot(&self, id: &str) -> Result<Value> {
        self.live()?.with_state(id, |s| s.snapshot())
    }

    /// Events of session `id` after `seq`, from its bounded history.
    pub fn events_since(&self, id: &str, seq: u64) -> Result<EventsSince> {
        let log = self.live()?.log(id)?;
        Ok(self.bus.events_since(&log, seq))
    }

    /// Appends a system message.
    pub fn add_system_message(&self, id: &str, text: &str, level: Level) -> Result<()> {
        self.live()?.add_system_message(id, text.into(), level)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.check_process().is_err() {
            // In a forked child the runtime's threads do not exist; leak rather than touch them.
            if let Some(rt) = lock(&self.runtime).take() {
                std::mem::forget(rt);
            }
            return;
        }
        let _ = self.shutdown(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(Config::parse(None).is_ok());
        assert!(
            Config::parse(Some(r#"{"store_dir": null}"#))
                .unwrap()
                .store_dir
                == Some(None)
        );
        assert!(matches!(
            Config::parse(Some("{")),
            Err(Error::InvalidJson(..))
        ));
        assert!(matches!(
            Config::parse(Some("3")),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"worker_threads": 0}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"bogus": 1}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Config::parse(Some(r#"{"session_defaults": 1}"#)),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Client::new(Some(r#"{"session_defaults": {"provider": "nope"}}"#)),
            Err(Error::InvalidArgument(_))
        ));
    }
}
