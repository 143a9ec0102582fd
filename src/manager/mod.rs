//! The session manager: starts sessions by ID, supervises and restarts them, stops them, and runs background
//! sub-agents. Its rules live in [`registry`] and [`policy`]; this module wires them to the runtime.

pub mod conversations;
mod mcp;
pub mod policy;
pub mod registry;
pub mod start_options;
mod subagents;
mod supervise;
mod tasks;
mod tokens;

pub use start_options::Settings;
pub use tokens::BrokerToken;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::bus::{EventBus, SessionLog};
use crate::events::{Payload, StopReason};
use crate::session::machine::state::{Command, Identity, PromptOutcome, Reply, SessionState};
use crate::session::machine::transcript::{ContentPart, Level};
use crate::session::options::{resolve, Resolved};
use crate::session::{self, read, Exit, SessionHandle, SharedState};
use crate::sync::lock;
use policy::RestartPolicy;
use registry::{Registry, Slot};

/// What outlives a session's incarnations: its token, options, state, event stream and script position.
pub struct Seed {
    token: Mutex<BrokerToken>,
    options: Resolved,
    state: SharedState,
    log: Arc<SessionLog>,
    cursor: Arc<AtomicUsize>,
    order: u64,
    persist: Option<session::SharedPersister>,
    /// When the host last called on the session (monotonic ms): idle reclamation waits for a quiet period.
    activity: Arc<std::sync::atomic::AtomicU64>,
    /// The session's MCP servers (the client's and its own); they outlive incarnations.
    mcp: Option<Arc<crate::mcp::McpServers>>,
    /// The session's node in its tree's budget.
    budget: Arc<crate::provider::budget::Budget>,
    /// The session's project context files (native and host providers; `None` when turned off).
    context: Option<Arc<crate::tools::context::ContextFiles>>,
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
    /// `task` tool calls waiting for their sub-agent's answer, by sub-agent ID.
    waiters: Mutex<std::collections::HashMap<String, subagents::Waiter>>,
    /// Fault injection for the supervision tests: this many restarts fail to start their provider.
    #[cfg(test)]
    start_faults: std::sync::atomic::AtomicU32,
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
            waiters: Default::default(),
            #[cfg(test)]
            start_faults: Default::default(),
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
    pub fn is_live(&self, id: &str) -> bool {
        lock(&self.reg).existing(id).map_or(true, |s| s.is_some())
    }

    /// `sub` is `Some` for sub-agents.
    fn start_resolved(
        &self,
        opts: Resolved,
        if_exists: IfExists,
        sub: Option<subagents::Sub>,
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
            background: sub.is_some(),
            parent_session_id: sub.as_ref().and_then(|s| s.parent.clone()),
        };
        let mut state = SessionState::new(ident, now);
        state.configure(opts.thinking_level, opts.models.clone());
        if let Some(s) = sub {
            state.inherit_skills(s.skills);
        }
        state.set_sandbox(self.tool_set(&id, &opts, None, false).sandbox_report());
        state.configure_compaction(crate::session::machine::compaction::AutoCompact {
            threshold: opts.compaction_threshold,
            keep_recent: opts.keep_recent,
            context_limit: opts.context_limit,
        });
        let (token, persist) = self.restore(&id, &opts, &mut state, now)?;
        let parent_budget = match state.identity().parent_session_id.as_deref() {
            Some(p) => Some(reg.active(p)?.1.budget.clone()),
            None => None,
        };
        let limits = crate::provider::budget::Limits {
            max_cost: opts.max_cost,
            max_tokens_total: opts.max_tokens_total,
        };
        let budget =
            crate::provider::budget::Budget::new(&id, parent_budget, limits, &state.usage());
        // pi reads the project's AGENTS.md itself. A session with neither a workdir nor configured paths has no
        // files to look for, and an idle session's few hundred bytes count (BENCHMARKS.md, footprint).
        let context = match (&opts.context_files, opts.provider.as_str()) {
            (Some(c), "native" | "host") if opts.workdir.is_some() || !c.paths.is_empty() => Some(
                crate::tools::context::ContextFiles::new(c.clone(), opts.workdir.as_deref()),
            ),
            _ => None,
        };
        if persist.is_some() {
            state.enable_persistence(now);
        }
        let log = self
            .bus
            .new_log_under(&id, state.identity().parent_session_id.as_deref());
        let seed = Seed {
            token: Mutex::new(token),
            persist,
            state: Arc::new(Mutex::new(state)),
            mcp: self.mcp_servers(&opts, &log),
            log,
            cursor: Arc::new(AtomicUsize::new(0)),
            order: self.order.fetch_add(1, Ordering::Relaxed),
            activity: Arc::new(crate::time::mono_ms().into()),
            options: opts,
            budget,
            context,
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
        if let Some(c) = &seed.context {
            // Known from the start, so the host (and tandem_session_context_files) can tell before the first turn.
            if let Some(files) = c.refresh() {
                let files = serde_json::to_value(files).unwrap_or_default();
                self.bus
                    .publish(&seed.log, Payload::ContextFilesLoaded { files });
            }
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
        self.shared
            .hooks
            .add_commands(&id, &seed.options.command_hooks);
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
        #[cfg(test)]
        if restart.is_some()
            && self
                .start_faults
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(Error::ProviderNotReady("injected start failure".into()));
        }
        if let Some(name) = &o.http.api_key_env {
            crate::tools::shell::mark_key_variable(name);
        }
        // The model of a top-level native or host session with a project may hand work to sub-agents.
        let tasks = !read(&seed.state).identity().background
            && o.workdir.is_some()
            && matches!(o.provider.as_str(), "native" | "host");
        let tools = Arc::new(self.tool_set(id, o, seed.mcp.as_ref(), tasks));
        // A restarted session keeps the model, thinking level and skills it had switched to.
        let config = read(&seed.state).provider_config();
        let (bus, log) = (self.bus.clone(), seed.log.clone());
        let env = crate::provider::Env {
            shared: self.shared.clone(),
            session_id: id.into(),
            budget: seed.budget.clone(),
            context: seed.context.clone(),
            publish: Arc::new(move |payload| {
                bus.publish(&log, payload);
            }),
        };
        let mut provider_options = o.provider_options();
        if let (Some(store), Some(_)) = (&self.store, &seed.persist) {
            provider_options.acp.saved_session = store.acp_session_path(id).ok();
        }
        let provider =
            crate::provider::build(&provider_options, seed.cursor.clone(), tools, &config, &env)?;
        let idle = o.idle_timeout.map(|after| session::Idle {
            after,
            activity: seed.activity.clone(),
        });
        let parent = read(&seed.state).identity().parent_session_id.clone();
        let on_finished = parent.map(|p| self.finished_hook(id, &p));
        let (handle, join) = session::spawn(
            &self.rt,
            seed.state.clone(),
            seed.log.clone(),
            self.bus.clone(),
            provider,
            seed.persist.clone(),
            session::Start {
                restart,
                idle,
                on_finished,
            },
        );
        let me = self.me.clone();
        let id = id.to_string();
        self.rt.spawn(async move {
            let reason = match join.await {
                Ok(Exit::Stopped) => return,
                Ok(Exit::Idle) => {
                    if let Some(m) = me.upgrade() {
                        m.reclaimed(&id, generation);
                    }
                    return;
                }
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

    /// `f` of the live entry of `id`; the call counts as host activity on the session.
    fn active<T>(&self, id: &str, f: impl FnOnce(&SessionHandle, &Seed) -> T) -> Result<T> {
        let reg = lock(&self.reg);
        let (handle, seed) = reg.active(id)?;
        seed.activity
            .store(crate::time::mono_ms(), Ordering::Relaxed);
        Ok(f(handle, seed))
    }

    fn handle(&self, id: &str) -> Result<SessionHandle> {
        self.active(id, |h, _| h.clone())
    }

    /// Runs `f` on the live state of session `id`.
    pub fn with_state<T>(&self, id: &str, f: impl FnOnce(&SessionState) -> T) -> Result<T> {
        let state = self.handle(id)?.state;
        let guard = read(&state);
        Ok(f(&guard))
    }

    /// The session's workdir (`None` when it has none).
    pub fn workdir(&self, id: &str) -> Result<Option<std::path::PathBuf>> {
        self.active(id, |_, s| s.options.workdir.clone())
    }

    /// The session's event stream.
    pub fn log(&self, id: &str) -> Result<Arc<SessionLog>> {
        self.active(id, |_, s| s.log.clone())
    }

    /// What the provider of session `id` reads of its options (HTTP settings, pi's command line, ...).
    pub fn provider_options(&self, id: &str) -> Result<crate::provider::ProviderOptions> {
        self.active(id, |_, s| s.options.provider_options())
    }

    /// Messages a compaction of session `id` keeps verbatim.
    pub fn keep_recent(&self, id: &str) -> Result<usize> {
        self.active(id, |_, s| s.options.keep_recent)
    }

    /// The provider kind of session `id` (`native`, `pi`, …).
    pub fn provider_kind(&self, id: &str) -> Result<String> {
        self.active(id, |_, s| s.options.provider.clone())
    }

    /// Where session `id` looks for skills.
    pub fn skill_dirs(&self, id: &str) -> Result<Vec<std::path::PathBuf>> {
        self.active(id, |handle, seed| {
            let workdir = read(&handle.state).identity().workdir.clone();
            crate::skills::skill_dirs(workdir.as_deref(), &seed.options.skill_dirs)
        })
    }

    /// The project context files session `id` loaded, lowest precedence first (`[]` when it has none or they are
    /// turned off).
    pub fn context_files(&self, id: &str) -> Result<Value> {
        self.active(id, |_, s| {
            let files = s.context.as_ref().map(|c| c.loaded()).unwrap_or_default();
            serde_json::to_value(files).unwrap_or_default()
        })
    }

    /// Session `id`'s budget: its limits, its own and its tree's usage, each sub-agent's.
    pub fn budget(&self, id: &str) -> Result<Value> {
        self.active(id, |_, s| s.budget.report())
    }

    /// Changes session `id`'s limits (`{"max_cost": x|null, "max_tokens_total": n|null}`; a key left out stays);
    /// they apply from its tree's next model call. Returns the budget report.
    pub fn set_budget(&self, id: &str, json: &str) -> Result<Value> {
        let given: Value = Error::parse_json("budget_json", json)?;
        self.active(id, |_, s| {
            let limits = s.budget.limits().updated(&given)?;
            s.budget.set_limits(limits);
            Ok(s.budget.report())
        })?
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
        let log = self.log(id)?;
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

    /// Stops session `id` (live or restart-pending) and announces it with `reason`; its sub-agents that were not
    /// started detached stop with it.
    pub fn stop(&self, id: &str, reason: StopReason) -> Result<()> {
        self.stop_with(id, reason, None)
    }

    /// [`Manager::stop`] with a `detail` for the `session_stopped` event.
    fn stop_with(&self, id: &str, reason: StopReason, detail: Option<String>) -> Result<()> {
        let entry = lock(&self.reg)
            .remove(id)
            .ok_or_else(|| Error::no_session(id))?;
        self.retire(entry, reason, detail);
        if reason == StopReason::Stopped {
            self.stop_children(id);
        }
        Ok(())
    }

    /// Ends a session removed from the registry: its actor is stopped (if it still runs), its state saved and its
    /// files let go, and the stop is announced with `reason`.
    fn retire(
        &self,
        entry: registry::Entry<SessionHandle, Seed>,
        reason: StopReason,
        detail: Option<String>,
    ) {
        if let Slot::Active(handle) = &entry.slot {
            handle.stop();
        }
        // A `task` call waiting for this session learns that it stopped.
        let id = read(&entry.seed.state).identity().id.clone();
        lock(&self.waiters).remove(&id);
        // The session's hooks go with it (a running one finishes; its userdata is freed after that).
        self.shared.hooks.remove_session(entry.seed.log.id());
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
        self.bus
            .publish(&entry.seed.log, Payload::SessionStopped { reason, detail });
    }

    /// Incarnation `generation` of `id` ended itself after its idle period: the session is removed and announced
    /// as stopped with reason `idle` (its stored conversation comes back with the next start of that ID).
    fn reclaimed(&self, id: &str, generation: u64) {
        let entry = {
            let mut reg = lock(&self.reg);
            match reg.get(id) {
                Some(e) if e.generation == generation && matches!(e.slot, Slot::Active(_)) => {
                    reg.remove(id)
                }
                _ => None,
            }
        };
        if let Some(entry) = entry {
            self.retire(entry, StopReason::Idle, None);
        }
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
}
