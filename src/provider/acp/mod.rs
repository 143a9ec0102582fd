//! The ACP provider: turns run by an external Agent Client Protocol agent (Claude Code through claude-code-acp,
//! Codex through codex-acp, Gemini CLI, tandem-acp itself...), one child process per session.
//!
//! The agent keeps its own conversation and runs its own tools, but what it may do goes through tandem: its
//! permission requests are tandem approvals (the host answers them; trust scopes apply to its tool names), its file
//! reads and writes are served by tandem's file tools (confined to the workdir, edit boundaries enforced, file
//! changes recorded), and its terminals run tandem's `shell` tool after an approval (`terminal.rs`). An abort sends
//! `session/cancel`. The process is kept between turns; if it dies, the turn ends with an error and the next one
//! starts it again after a backoff, loading the earlier ACP session when the agent can (else a new one, and the
//! host is told). With a store, that session's ID is kept
//! beside the session's record, so a session started again after tandem restarts loads it too. Model, thinking
//! level and plan mode switches reach the agent through its config options and modes ([`control`]).

mod agent;
pub mod control;
pub mod rpc;
mod saved;
mod terminal;
mod turn;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::provider::native::model::BoxFuture;
use crate::provider::pi::backoff;
use crate::provider::{ModelMessage, Provider, ProviderEvent, TurnLink};
use crate::tools::ToolSet;
use crate::vocab::content::{ContentPart, Level};
use crate::vocab::settings::{ProviderConfig, SideKind, SideResult, ThinkingLevel};
use agent::{AgentProcess, CancelOnDrop, Opened};
use control::{Control, Which};
use rpc::Incoming;
use turn::Turn;

/// The model name of ACP sessions: the agent runs the model it is configured with.
pub const DEFAULT_MODEL: &str = "acp:default";
/// How long the prompt of an aborted turn may take to answer `cancelled` before the agent is replaced.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// What the ACP provider reads from the session's options.
#[derive(Debug, Clone, Default)]
pub struct AcpOptions {
    /// The agent's command line (program first); `env NAME=value ...` in front sets its environment.
    pub command: Vec<String>,
    /// The session's workdir: the agent's cwd, and where its file requests are confined.
    pub workdir: Option<PathBuf>,
    /// How long a permission request waits for the host.
    pub approval_timeout: Duration,
    /// How long the agent may take to answer `initialize` and open its session (`stream_idle_timeout_ms`: an agent
    /// that sends nothing for that long is as dead as a silent model stream).
    pub setup_timeout: Duration,
    /// The agent's session settings, shared by the session's client calls and every incarnation of its provider.
    pub control: Arc<Control>,
    /// Where the agent's ACP session ID is kept (in the store's sessions directory; `None`: not persisted).
    pub saved_session: Option<PathBuf>,
    /// How the agent's terminals are approved, the session's rule for its `shell` tool: `Allow` runs them, `Deny`
    /// refuses them, `Ask` or `None` asks the host.
    pub terminal_policy: Option<crate::vocab::gate::Permission>,
}

/// The agent's model value for tandem model `model` (`acp:<value>`); `None` for [`DEFAULT_MODEL`], which leaves
/// the agent on its own choice.
pub fn agent_model(model: &str) -> Option<&str> {
    model.strip_prefix("acp:").filter(|m| *m != "default")
}

/// Checks an ACP session's model: the agent picks its own, so only [`DEFAULT_MODEL`] (or another `acp:` name,
/// shown as given) is accepted.
pub fn check_model(model: &str) -> Result<()> {
    match model.strip_prefix("acp:") {
        Some(m) if !m.is_empty() => Ok(()),
        _ => Err(Error::invalid(format!(
            "model {model:?} for the acp provider must be \"acp:<name>\" (the agent runs its own model; \
             {DEFAULT_MODEL:?} by default)"
        ))),
    }
}

struct Slot {
    agent: Option<AgentProcess>,
    failures: u32,
    retry_at: Option<Instant>,
    last_exit: Option<String>,
    /// The ACP session of the last agent, loaded again by the next one when it can.
    last_session: Option<String>,
    /// Whether the agent's current session has had a prompt (a turn starting a new conversation then opens a new
    /// one).
    prompted: bool,
}

/// Publishes an event on the session's stream at once (for what the transcript does not keep: plans).
pub(crate) type Publish = Arc<dyn Fn(crate::events::Payload) + Send + Sync>;

struct Shared {
    options: AcpOptions,
    tools: Arc<ToolSet>,
    publish: Publish,
    slot: Mutex<Slot>,
    /// The model and thinking level the session last configured, to tell which one a reconfiguration switched.
    last: std::sync::Mutex<(String, ThinkingLevel)>,
}

/// Sends the switches `control` holds to `agent`'s session and takes in its answers; returns what the host should
/// be told (values the agent does not offer, switches it refused).
async fn sync(agent: &AgentProcess, control: &Control) -> Vec<String> {
    let (calls, mut notes) = control.take_pending();
    for (method, mut params) in calls {
        params["sessionId"] = json!(agent.session_id);
        match agent.conn.request(method, params.clone()).await {
            Ok(_) if method == "session/set_mode" => {
                control.mode_changed(agent::s(&params, "modeId"))
            }
            Ok(v) => control.options_changed(&v["configOptions"]),
            Err(e) => notes.push(format!(
                "The ACP agent refused {method} ({params}): {}",
                e.message
            )),
        }
    }
    notes
}

/// The ACP provider of one session.
pub(crate) struct Acp {
    shared: Arc<Shared>,
}

impl Acp {
    /// The provider for `options` (the process starts with the first turn); `tools` serve the agent's files.
    pub(crate) fn new(
        options: &AcpOptions,
        tools: Arc<ToolSet>,
        config: &ProviderConfig,
        publish: Publish,
    ) -> Result<Acp> {
        check_model(&config.model)?;
        if options.command.is_empty() {
            return Err(Error::invalid("the acp provider needs acp_command"));
        }
        let shared = Arc::new(Shared {
            options: options.clone(),
            tools,
            publish,
            slot: Mutex::new(Slot {
                agent: None,
                failures: 0,
                retry_at: None,
                last_exit: None,
                last_session: options.saved_session.as_deref().and_then(saved::read),
                prompted: false,
            }),
            last: std::sync::Mutex::new((config.model.clone(), config.thinking_level)),
        });
        // What the session switched to before (a restarted session keeps it) is asked of the new agent.
        let control = &options.control;
        if let Some(m) = agent_model(&config.model) {
            control.want(Which::Model, m.to_string(), None);
        }
        if config.thinking_level != ThinkingLevel::Off {
            control.want(Which::Thought, config.thinking_level.name().into(), None);
        }
        let weak = Arc::downgrade(&shared);
        control.set_kick(Box::new(move |rt| {
            let weak = weak.clone();
            rt.spawn(async move {
                let Some(shared) = weak.upgrade() else { return };
                let mut slot = shared.slot.lock().await;
                // Busy with an aborted prompt still: the next turn sends the switches.
                if let Some(agent) = slot.agent.as_mut().filter(|a| a.pending.is_none()) {
                    let notes = sync(agent, &shared.options.control).await;
                    shared.options.control.keep_notes(notes);
                }
            });
        }));
        Ok(Acp { shared })
    }

    fn lost(slot: &mut Slot, why: String) {
        slot.agent = None;
        slot.failures += 1;
        slot.retry_at = Some(Instant::now() + backoff(slot.failures));
        slot.last_exit = Some(why);
    }

    /// A running agent with its session, started (after the backoff) if needed. `fresh`: the turn starts a new
    /// conversation (its context is only its prompt), so the agent works in a new ACP session.
    async fn ready<'a>(
        &self,
        slot: &'a mut Slot,
        link: &Arc<dyn TurnLink>,
        fresh: bool,
    ) -> std::result::Result<&'a mut AgentProcess, String> {
        if let Some(a) = slot.agent.as_mut() {
            // What an aborted turn's prompt still sends is stale: it must not show up as this turn's.
            if !a.settle(SETTLE_LIMIT).await {
                slot.agent = None;
            }
        }
        let o = &self.shared.options;
        let cwd = match &o.workdir {
            Some(w) => w.clone(),
            None => std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?,
        };
        if let Some(agent) = slot.agent.as_mut().filter(|_| fresh && slot.prompted) {
            agent.new_session(&cwd).await?;
            self.opened(agent, slot.last_session.as_deref(), link);
            slot.last_session = Some(agent.session_id.clone());
            slot.prompted = false;
        }
        if slot.agent.is_none() {
            if let Some(at) = slot.retry_at {
                tokio::time::sleep_until(at).await;
            }
            let tools = &self.shared.tools;
            let files = tools.workdir().is_some();
            let terminal = files && tools.has("shell");
            let resume = slot.last_session.as_deref().filter(|_| !fresh);
            let started =
                AgentProcess::start(&o.command, &cwd, (files, terminal), resume, o.setup_timeout)
                    .await;
            let (agent, opened) = match started {
                Ok(a) => a,
                Err(e) => {
                    Self::lost(slot, e.clone());
                    return Err(e);
                }
            };
            let before = slot.last_exit.take();
            let note = match (&opened, before) {
                (Opened::New(Some(why)), Some(exit)) => Some(format!(
                    "Started the ACP agent again (the previous process ended: {exit}); {why}, so it starts \
                     without the earlier conversation"
                )),
                (Opened::Loaded, Some(exit)) => Some(format!(
                    "Started the ACP agent again (the previous process ended: {exit}) and loaded its session"
                )),
                // A session started again after tandem restarted, its agent's session kept in the store.
                (Opened::New(Some(why)), None) => Some(format!(
                    "Started the ACP agent; {why}, so it starts without the earlier conversation"
                )),
                (Opened::Loaded, None) => {
                    Some("Started the ACP agent and loaded its earlier session".to_string())
                }
                _ => None,
            };
            if let Some(text) = note {
                link.emit(ProviderEvent::SystemMessage {
                    text,
                    level: Level::Info,
                });
            }
            self.opened(&agent, slot.last_session.as_deref(), link);
            slot.last_session = Some(agent.session_id.clone());
            slot.prompted = false;
            slot.agent = Some(agent);
        }
        let agent = slot.agent.as_mut().expect("started above");
        // The caller prompts it next.
        slot.prompted = true;
        let control = &self.shared.options.control;
        let mut notes = control.take_notes();
        notes.extend(sync(agent, control).await);
        for text in notes {
            link.emit(ProviderEvent::SystemMessage {
                text,
                level: Level::Info,
            });
        }
        Ok(agent)
    }

    /// Takes in the session `agent` has just opened: its settings, and its ID kept in the store when it is not
    /// `before`.
    fn opened(&self, agent: &AgentProcess, before: Option<&str>, link: &Arc<dyn TurnLink>) {
        self.shared.options.control.opened(&agent.advertised);
        if before == Some(agent.session_id.as_str()) {
            return;
        }
        if let Some(path) = &self.shared.options.saved_session {
            if let Err(e) = saved::write(path, &agent.session_id) {
                link.emit(ProviderEvent::SystemMessage {
                    text: format!(
                        "Could not keep the ACP agent's session ID in {}: {e}; a restart of tandem starts it \
                         without the earlier conversation",
                        path.display()
                    ),
                    level: Level::Error,
                });
            }
        }
    }

    /// Runs one turn: the prompt goes to the agent, its updates and requests are served until it answers.
    async fn turn(
        &self,
        context: &[ModelMessage],
        link: &Arc<dyn TurnLink>,
        t: &mut Turn,
    ) -> std::result::Result<(), String> {
        let Some(ModelMessage::User(parts)) = context.last() else {
            return Err("the turn has no user message to send to the agent".into());
        };
        let mut guard = self.shared.slot.lock().await;
        let slot = &mut *guard;
        let agent = self.ready(slot, link, context.len() == 1).await?;
        let prompt: Vec<Value> = parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => json!({"type": "text", "text": text}),
                ContentPart::Image { media_type, data } => {
                    json!({"type": "image", "mimeType": media_type, "data": data})
                }
            })
            .collect();
        let params = json!({"sessionId": agent.session_id, "prompt": prompt});
        let conn = agent.conn.clone();
        agent.pending = Some(tokio::spawn(async move {
            conn.request("session/prompt", params).await
        }));
        let mut cancel = CancelOnDrop(Some((agent.conn.clone(), agent.session_id.clone())));
        let ended = loop {
            tokio::select! {
                r = agent.pending.as_mut().expect("set above") => {
                    agent.pending = None;
                    break Some(r.unwrap_or_else(|e| Err(rpc::RpcError::internal(e.to_string()))));
                }
                msg = agent.incoming.recv() => match msg {
                    None => break None,
                    Some(Incoming::Notification { method, params }) if method == "session/update" => {
                        t.update(&params["update"]).await;
                    }
                    Some(Incoming::Notification { .. }) => {}
                    Some(Incoming::Request { id, method, params }) => {
                        let a = t.request(&method, &params).await;
                        agent.conn.respond(id, a);
                    }
                },
            }
        };
        cancel.0 = None;
        // Updates sent just before the answer are in the queue still.
        while let Ok(Incoming::Notification { method, params }) = agent.incoming.try_recv() {
            if method == "session/update" {
                t.update(&params["update"]).await;
            }
        }
        match ended {
            Some(Ok(v)) => {
                slot.failures = 0;
                match agent::s(&v, "stopReason") {
                    "end_turn" | "cancelled" => Ok(()),
                    "max_tokens" => Err("the ACP agent ran out of tokens".into()),
                    "max_turn_requests" => {
                        Err("the ACP agent reached its limit of model requests".into())
                    }
                    "refusal" => Err("the ACP agent refused".into()),
                    other => Err(format!("the ACP agent stopped: {other}")),
                }
            }
            Some(Err(e)) if e.code != -32603 || e.message != "the connection closed" => {
                Err(format!("the ACP agent failed the prompt: {}", e.message))
            }
            _ => {
                let why = format!("the ACP agent exited mid-turn{}", agent.exit_note().await);
                Self::lost(slot, why.clone());
                Err(why)
            }
        }
    }
}

impl Provider for Acp {
    fn readiness(&self) -> std::result::Result<(), String> {
        let Ok(slot) = self.shared.slot.try_lock() else {
            return Ok(());
        };
        crate::provider::pi::restarting(
            "the ACP agent",
            slot.agent.is_some(),
            slot.retry_at,
            slot.last_exit.as_deref(),
        )
    }

    fn run_turn(
        self: Arc<Self>,
        context: crate::vocab::model::SharedContext,
        link: Arc<dyn TurnLink>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            link.emit(ProviderEvent::AgentStart);
            let mut t = Turn::new(
                link.clone(),
                self.shared.tools.clone(),
                self.shared.options.approval_timeout,
                self.shared.options.control.clone(),
                self.shared.publish.clone(),
            )
            .with_terminal_policy(self.shared.options.terminal_policy);
            let result = self.turn(&context, &link, &mut t).await;
            // Released before the turn ends, so the session extends its kept context without copying it.
            drop(context);
            t.close("the ACP agent ended the turn without finishing this call");
            if let Err(e) = result {
                link.emit(ProviderEvent::Error(e));
            }
            link.emit(ProviderEvent::AgentEnd {
                usage: t.usage.take(),
            });
        })
    }

    fn side_call(
        self: Arc<Self>,
        _kind: SideKind,
        _context: Vec<ModelMessage>,
    ) -> BoxFuture<'static, std::result::Result<SideResult, String>> {
        Box::pin(async {
            Err("compaction and summaries are not supported by the acp provider".into())
        })
    }

    fn reconfigure(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>> {
        check_model(&config.model)?;
        let control = &self.shared.options.control;
        let mut last = crate::sync::lock(&self.shared.last);
        if last.0 != config.model {
            if let Some(m) = agent_model(&config.model) {
                control.want(Which::Model, m.to_string(), None);
            }
        }
        if last.1 != config.thinking_level {
            control.want(Which::Thought, config.thinking_level.name().into(), None);
        }
        *last = (config.model.clone(), config.thinking_level);
        drop(last);
        Ok(Arc::new(Acp {
            shared: self.shared.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_acp_names() {
        assert!(check_model(DEFAULT_MODEL).is_ok());
        assert!(check_model("acp:codex").is_ok());
        for bad in ["acp:", "openai:gpt-4.1", "default"] {
            assert!(check_model(bad).is_err(), "{bad}");
        }
    }
}
