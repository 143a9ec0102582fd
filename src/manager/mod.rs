//! The session manager: starts sessions by ID, supervises and restarts them, stops them, and runs background
//! sub-agents. Its rules live in [`registry`] and [`policy`]; this module wires them to the runtime.

pub mod conversations;
mod mcp;
pub mod policy;
pub mod registry;
pub mod start_options;

pub use start_options::Settings;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::bus::{EventBus, SessionLog};
use crate::events::{Payload, StopReason};
use crate::session::machine::state::{
    Command, Identity, Input, PromptOutcome, Reply, SessionState,
};
use crate::session::machine::transcript::{ContentPart, Level};
use crate::session::options::{resolve, Resolved};
use crate::session::{self, read, Exit, SessionHandle, SharedState};
use crate::sync::lock;
use policy::RestartPolicy;
use registry::{subagent_prompt_step, CrashOutcome, Registry, RetryStep, Slot, SubagentHandle};

/// What outlives a session's incarnations: its token, options, state, event stream and script position.
pub struct Seed {
    token: String,
    options: Resolved,
    state: SharedState,
    log: Arc<SessionLog>,
    cursor: Arc<AtomicUsize>,
    order: u64,
    persist: Option<session::SharedPersister>,
    /// The session's MCP servers (the client's and its own); they outlive incarnations.
    mcp: Option<Arc<crate::mcp::McpServers>>,
}

/// Starts, finds, supervises and stops sessions.
pub struct Manager {
    reg: Mutex<Registry<SessionHandle, Seed>>,
    bus: Arc<EventBus>,
    rt: tokio::runtime::Handle,
    defaults: Value,
    restart: RestartPolicy,
    mcp: Vec<crate::mcp::ServerConfig>,
    me: Weak<Manager>,
    order: std::sync::atomic::AtomicU64,
    store: Option<Arc<crate::store::Store>>,
    host_tools: Arc<crate::tools::host::HostTools>,
    /// The HTTP client and host provider every session's provider shares.
    shared: crate::provider::Shared,
}

/// Whether a start may return a live session with the same ID.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IfExists {
    Fail,
    Return,
}

impl Manager {
    /// A manager spawning on `rt`, publishing on `bus`, with the client's settings (session defaults, restart
    /// policy, MCP servers) and the conversation store (`None`: nothing is persisted).
    pub fn new(
        rt: tokio::runtime::Handle,
        bus: Arc<EventBus>,
        settings: Settings,
        store: Option<Arc<crate::store::Store>>,
        host_tools: Arc<crate::tools::host::HostTools>,
        shared: crate::provider::Shared,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Manager {
            reg: Mutex::new(Registry::default()),
            bus,
            rt,
            defaults: settings.defaults,
            restart: settings.restart,
            mcp: settings.mcp,
            me: me.clone(),
            order: Default::default(),
            store,
            host_tools,
            shared,
        })
    }

    /// Starts a session; an explicit `session_id` that is taken is `AlreadyExists`. A stored session's ID resumes
    /// it with its stored options under the given ones (see [`start_options`]).
    pub fn start(&self, options_json: Option<&str>) -> Result<String> {
        let given = start_options::given_options(options_json)?;
        let id = given
            .get("session_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (options, resumed) = match id {
            Some(id) if crate::ids::validate_id("session id", &id).is_ok() => {
                self.with_stored_options(&id, given)
            }
            // A bad ID is refused by `resolve`, with the same message as everywhere.
            _ => (given, None),
        };
        let opts = resolve(
            Some(&Value::Object(options).to_string()),
            &self.defaults,
            &self.restart,
        )?;
        self.start_resolved(opts, IfExists::Fail, None, resumed)
    }

    /// Returns the live session `id`, or starts it with `options_json`; a stored session gets back the options it
    /// was started with, under the given ones.
    pub fn start_or_get(&self, id: &str, options_json: Option<&str>) -> Result<String> {
        crate::ids::validate_id("session id", id)?;
        let given = start_options::given_options(options_json)?;
        if given
            .get("session_id")
            .is_some_and(|given| given.as_str() != Some(id))
        {
            return Err(Error::invalid(
                "options_json carries a session_id different from id",
            ));
        }
        let (options, resumed) = self.with_stored_options(id, given);
        let mut opts = resolve(
            Some(&Value::Object(options).to_string()),
            &self.defaults,
            &self.restart,
        )?;
        opts.session_id = Some(id.into());
        self.start_resolved(opts, IfExists::Return, None, resumed)
    }

    /// Whether session `id` is running or waiting to restart in this client.
    fn is_live(&self, id: &str) -> bool {
        lock(&self.reg).existing(id).map_or(true, |s| s.is_some())
    }

    /// `background` is `Some(parent)` for sub-agents.
    fn start_resolved(
        &self,
        opts: Resolved,
        if_exists: IfExists,
        background: Option<Option<String>>,
        resumed: Option<start_options::Resumed>,
    ) -> Result<String> {
        self.check_tool_names(&opts)?;
        if let (Some(store), Some(w)) = (&self.store, &opts.workdir) {
            if let Some(why) = crate::tools::store_conflict(w, store.root()) {
                return Err(Error::invalid(why));
            }
        }
        let mut reg = lock(&self.reg);
        let id = match &opts.session_id {
            Some(id) => {
                if reg.existing(id)?.is_some() {
                    return match if_exists {
                        IfExists::Return => Ok(id.clone()),
                        IfExists::Fail => Err(Error::AlreadyExists(format!(
                            "a session with id {id:?} is already running"
                        ))),
                    };
                }
                id.clone()
            }
            None => reg.generate_id(|id| self.store.as_ref().is_some_and(|s| s.has_session(id))),
        };
        let now = crate::time::now();
        let ident = Identity {
            id: id.clone(),
            model: opts.model.clone(),
            provider: opts.provider.clone(),
            workdir: opts.workdir.as_ref().map(|p| p.display().to_string()),
            background: background.is_some(),
            parent_session_id: background.flatten(),
        };
        let mut state = SessionState::new(ident, now);
        state.configure(opts.thinking_level, opts.models.clone());
        state.set_sandbox(self.tool_set(&id, &opts, None).sandbox_report());
        state.configure_compaction(crate::session::machine::compaction::AutoCompact {
            threshold: opts.compaction_threshold,
            keep_recent: opts.keep_recent,
            context_limit: opts.context_limit,
        });
        let (token, persist) = self.restore(&id, &opts, &mut state, now)?;
        if persist.is_some() {
            state.enable_persistence(now);
        }
        let log = self.bus.new_log(&id);
        let seed = Seed {
            token,
            persist,
            state: Arc::new(Mutex::new(state)),
            mcp: self.mcp_servers(&opts, &log),
            log,
            cursor: Arc::new(AtomicUsize::new(0)),
            order: self.order.fetch_add(1, Ordering::Relaxed),
            options: opts,
        };
        let handle = self.spawn_incarnation(&id, &seed, 1, None)?;
        let ident = read(&seed.state).identity().clone();
        // Published under the registry lock so it is the session's first event, whatever other threads do.
        self.bus.publish(
            &seed.log,
            Payload::SessionStarted {
                model: ident.model,
                provider: ident.provider,
                background: ident.background,
            },
        );
        if let Some(r) = resumed {
            let touched = read(&seed.state).touched_count();
            self.bus.publish(&seed.log, r.event(touched));
        }
        let gaps = read(&seed.state).sandbox_gaps();
        if !gaps.is_empty() {
            self.bus
                .publish(&seed.log, Payload::SandboxLimited { not_enforced: gaps });
        }
        // Started after session_started, so their status events follow it.
        seed.mcp.iter().for_each(|m| m.launch(&self.rt));
        if let Some(p) = &seed.persist {
            // Nothing can reach the new actor yet (it is not registered), so the first batch is written here.
            session::flush(&seed.state, &seed.log, &self.bus, p);
        }
        reg.insert(&id, handle, seed);
        Ok(id)
    }

    fn spawn_incarnation(
        &self,
        id: &str,
        seed: &Seed,
        generation: u64,
        restart: Option<session::Restart>,
    ) -> Result<SessionHandle> {
        let o = &seed.options;
        if let Some(name) = &o.http.api_key_env {
            crate::tools::shell::mark_key_variable(name);
        }
        let tools = Arc::new(self.tool_set(id, o, seed.mcp.as_ref()));
        // A restarted session keeps the model, thinking level and skills it had switched to.
        let config = read(&seed.state).provider_config();
        let env = crate::provider::Env {
            shared: self.shared.clone(),
            session_id: id.into(),
        };
        let provider = crate::provider::build(
            &o.provider_options(),
            seed.cursor.clone(),
            tools,
            &config,
            &env,
        )?;
        let (handle, join) = session::spawn(
            &self.rt,
            seed.state.clone(),
            seed.log.clone(),
            self.bus.clone(),
            provider,
            seed.persist.clone(),
            restart,
        );
        let me = self.me.clone();
        let id = id.to_string();
        self.rt.spawn(async move {
            let reason = match join.await {
                Ok(Exit::Stopped) => return,
                Ok(Exit::Crashed(reason)) => reason,
                Err(e) if e.is_panic() => session::panic_message(e.into_panic()),
                Err(_) => return,
            };
            if let Some(m) = me.upgrade() {
                m.crashed(&id, generation, reason);
            }
        });
        Ok(handle)
    }

    fn crashed(&self, id: &str, generation: u64, reason: String) {
        let mut reg = lock(&self.reg);
        let policy = match reg.get(id) {
            Some(e) => e.seed.options.restart.clone(),
            None => return,
        };
        let log = reg.get(id).map(|e| e.seed.log.clone());
        match reg.crashed(id, generation, &reason, crate::time::mono_ms(), &policy) {
            CrashOutcome::Ignored => {}
            CrashOutcome::Exhausted => {
                if let Some(log) = log {
                    self.bus.publish(
                        &log,
                        Payload::SessionStopped {
                            reason: StopReason::RestartExhausted,
                            detail: Some(reason),
                        },
                    );
                }
            }
            CrashOutcome::Restart {
                timer,
                delay_ms,
                attempt,
            } => {
                let me = self.me.clone();
                let id = id.to_string();
                self.rt.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    if let Some(m) = me.upgrade() {
                        m.restart(&id, timer, attempt);
                    }
                });
            }
        }
    }

    fn restart(&self, id: &str, timer: u64, attempt: u32) {
        let mut reg = lock(&self.reg);
        let Some(entry) = reg.take_timer(id, timer) else {
            return;
        };
        let reason = entry.last_crash.clone().unwrap_or_else(|| "crash".into());
        entry.generation += 1;
        let generation = entry.generation;
        // The new actor closes the interrupted turn as its first act, then announces the restart.
        let restart = session::Restart {
            reason: reason.clone(),
            attempt,
        };
        let seed = &reg.get(id).expect("entry exists").seed;
        match self.spawn_incarnation(id, seed, generation, Some(restart)) {
            Ok(handle) => {
                if let Some(e) = reg.take_timer(id, timer) {
                    e.slot = Slot::Active(handle);
                }
            }
            Err(e) => {
                let entry = reg.remove(id).expect("entry exists");
                drop(reg);
                // No actor will run on this state: the interrupted turn is closed here, outside the registry lock.
                session::apply_and_publish(
                    &entry.seed.state,
                    &entry.seed.log,
                    &self.bus,
                    entry.seed.persist.as_ref(),
                    Input::Restarted { reason },
                );
                self.bus.publish(
                    &entry.seed.log,
                    Payload::SessionStopped {
                        reason: StopReason::RestartExhausted,
                        detail: Some(e.to_string()),
                    },
                );
            }
        }
    }

    fn handle(&self, id: &str) -> Result<SessionHandle> {
        lock(&self.reg).active(id).map(|(h, _)| h.clone())
    }

    /// Runs `f` on the live state of session `id`.
    pub fn with_state<T>(&self, id: &str, f: impl FnOnce(&SessionState) -> T) -> Result<T> {
        let state = self.handle(id)?.state;
        let guard = read(&state);
        Ok(f(&guard))
    }

    /// The session's event stream.
    pub fn log(&self, id: &str) -> Result<Arc<SessionLog>> {
        lock(&self.reg).active(id).map(|(_, s)| s.log.clone())
    }

    /// The HTTP options of session `id` (base URL, key variable, timeouts).
    pub fn http_options(&self, id: &str) -> Result<crate::provider::native::http::HttpOptions> {
        lock(&self.reg)
            .active(id)
            .map(|(_, s)| s.options.http.clone())
    }

    /// Messages a compaction of session `id` keeps verbatim.
    pub fn keep_recent(&self, id: &str) -> Result<usize> {
        lock(&self.reg)
            .active(id)
            .map(|(_, s)| s.options.keep_recent)
    }

    /// The provider kind of session `id` (`native`, `pi`, …).
    pub fn provider_kind(&self, id: &str) -> Result<String> {
        lock(&self.reg)
            .active(id)
            .map(|(_, s)| s.options.provider.clone())
    }

    /// Where session `id` looks for skills.
    pub fn skill_dirs(&self, id: &str) -> Result<Vec<std::path::PathBuf>> {
        let reg = lock(&self.reg);
        let (handle, seed) = reg.active(id)?;
        let workdir = read(&handle.state).identity().workdir.clone();
        Ok(crate::skills::skill_dirs(
            workdir.as_deref(),
            &seed.options.skill_dirs,
        ))
    }

    /// The session's token.
    pub fn token(&self, id: &str) -> Result<String> {
        lock(&self.reg).active(id).map(|(_, s)| s.token.clone())
    }

    /// Sends `cmd` to session `id` and waits for the reply; a refused command is its error.
    pub fn call(&self, id: &str, cmd: Command) -> Result<Reply> {
        match self.handle(id)?.call(cmd)? {
            Reply::Failed(e) => Err(e),
            other => Ok(other),
        }
    }

    /// Sends a prompt (`follow_up` queues it as a follow-up while a turn runs instead of as steering).
    pub fn prompt(
        &self,
        id: &str,
        parts: Vec<ContentPart>,
        follow_up: bool,
    ) -> Result<PromptOutcome> {
        let cmd = if follow_up {
            Command::FollowUp(parts)
        } else {
            Command::Prompt(parts)
        };
        match self.call(id, cmd)? {
            Reply::Prompt(outcome) => Ok(outcome),
            other => Err(Error::Internal(format!("prompt answered with {other:?}"))),
        }
    }

    /// Publishes `payload` on session `id`'s event stream.
    pub fn publish(&self, id: &str, payload: Payload) -> Result<()> {
        let log = lock(&self.reg).active(id).map(|(_, s)| s.log.clone())?;
        self.bus.publish(&log, payload);
        Ok(())
    }

    /// Aborts the running turn (a no-op when idle).
    pub fn abort(&self, id: &str) -> Result<()> {
        self.handle(id)?.call(Command::Abort).map(drop)
    }

    /// Appends a system message.
    pub fn add_system_message(&self, id: &str, text: String, level: Level) -> Result<()> {
        self.handle(id)?
            .call(Command::AddSystemMessage(text, level))
            .map(drop)
    }

    /// Stops session `id` (live or restart-pending) and announces it with `reason`.
    pub fn stop(&self, id: &str, reason: StopReason) -> Result<()> {
        let entry = lock(&self.reg)
            .remove(id)
            .ok_or_else(|| Error::no_session(id))?;
        if let Slot::Active(handle) = &entry.slot {
            handle.stop();
        }
        if let Some(m) = &entry.seed.mcp {
            // Before session_stopped, so no server status follows it.
            m.shutdown();
        }
        // Also covers a session that was waiting to restart (no actor to save it).
        if let Some(p) = &entry.seed.persist {
            // The actor, if there was one, has stopped: nothing else touches the state now.
            session::flush(&entry.seed.state, &entry.seed.log, &self.bus, p);
            // Its task may still hold the persister for a moment after replying: the files are let go now, so the
            // session can be started again at once (by this client or another).
            lock(p).close();
        }
        self.bus.publish(
            &entry.seed.log,
            Payload::SessionStopped {
                reason,
                detail: None,
            },
        );
        Ok(())
    }

    /// Stops every session.
    pub fn stop_all(&self, reason: StopReason) {
        let ids = lock(&self.reg).ids();
        for id in ids {
            let _ = self.stop(&id, reason);
        }
    }

    /// Metadata of every live session, in start order.
    pub fn list(&self) -> Vec<Value> {
        self.states().iter().map(|st| read(st).metadata()).collect()
    }

    /// [`Manager::list`] as a JSON array, each row serialized straight from the state (no intermediate `Value`).
    pub fn list_json(&self) -> String {
        let states = self.states();
        let mut out = Vec::with_capacity(2 + states.len() * 512);
        out.push(b'[');
        for (i, st) in states.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &read(st).metadata_doc()).expect("metadata serializes");
        }
        out.push(b']');
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// The states of live sessions, in start order.
    fn states(&self) -> Vec<SharedState> {
        let mut rows: Vec<(u64, SharedState)> = lock(&self.reg)
            .iter_active()
            .map(|(_, h, s)| (s.order, h.state.clone()))
            .collect();
        rows.sort_by_key(|(order, _)| *order);
        rows.into_iter().map(|(_, st)| st).collect()
    }

    /// Starts a background sub-agent and delivers `task` to it asynchronously.
    pub fn start_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        options_json: Option<&str>,
    ) -> Result<Value> {
        if let Some(p) = parent {
            self.handle(p)?;
        }
        if task.trim().is_empty() {
            return Err(Error::invalid("task must not be empty"));
        }
        let opts = resolve(options_json, &self.defaults, &self.restart)?;
        let model = opts.model.clone();
        let id = self.start_resolved(opts, IfExists::Fail, Some(parent.map(Into::into)), None)?;
        let handle = SubagentHandle {
            session_id: id.clone(),
            parent_session_id: parent.map(Into::into),
            task: task.into(),
            model,
            started_at: crate::time::rfc3339(crate::time::wall_ms()),
        };
        let json = serde_json::to_value(&handle).expect("handles serialize");
        let log = {
            let mut reg = lock(&self.reg);
            reg.add_subagent(handle);
            reg.active(&id)?.1.log.clone()
        };
        self.bus.publish(
            &log,
            Payload::SubagentStarted {
                handle: json.clone(),
            },
        );
        let me = self.me.clone();
        let task = task.to_string();
        self.rt.spawn(async move {
            let parts = vec![ContentPart::Text { text: task }];
            for attempt in 0.. {
                let Some(m) = me.upgrade() else { return };
                let handle = lock(&m.reg).active(&id).map(|(h, _)| h.clone());
                let result = match handle {
                    Ok(h) => h.call_async(Command::Prompt(parts.clone())).await.map(drop),
                    Err(e) => Err(e),
                };
                match subagent_prompt_step(attempt, &result) {
                    RetryStep::Done => return,
                    RetryStep::RetryAfter(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await
                    }
                    RetryStep::GiveUp(msg) => {
                        let handle = lock(&m.reg).active(&id).map(|(h, _)| h.clone());
                        if let Ok(h) = handle {
                            let _ = h
                                .call_async(Command::AddSystemMessage(msg, Level::Error))
                                .await;
                        }
                        return;
                    }
                }
            }
        });
        Ok(json)
    }

    /// Sub-agent handles, oldest first.
    pub fn subagents(&self, parent: Option<&str>) -> Vec<SubagentHandle> {
        lock(&self.reg).subagents(parent)
    }
}
