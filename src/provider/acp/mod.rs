//! The ACP provider: turns run by an external Agent Client Protocol agent (Claude Code through claude-code-acp,
//! Codex through codex-acp, Gemini CLI, tandem-acp itself...), one child process per session.
//!
//! The agent keeps its own conversation and runs its own tools, but what it may do goes through tandem: its
//! permission requests are tandem approvals (the host answers them; trust scopes apply to its tool names), its file
//! reads and writes are served by tandem's file tools (confined to the workdir, edit boundaries enforced, file
//! changes recorded), and it gets no terminal. An abort sends `session/cancel`. The process is kept between turns;
//! if it dies, the turn ends with an error and the next one starts it again after a backoff, loading the earlier
//! ACP session when the agent can (else a new one, and the host is told).

mod agent;
pub mod rpc;
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
use crate::vocab::settings::{ProviderConfig, SideKind, SideResult};
use agent::{AgentProcess, CancelOnDrop, Opened};
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
}

struct Shared {
    options: AcpOptions,
    tools: Arc<ToolSet>,
    slot: Mutex<Slot>,
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
    ) -> Result<Acp> {
        check_model(&config.model)?;
        if options.command.is_empty() {
            return Err(Error::invalid("the acp provider needs acp_command"));
        }
        Ok(Acp {
            shared: Arc::new(Shared {
                options: options.clone(),
                tools,
                slot: Mutex::new(Slot {
                    agent: None,
                    failures: 0,
                    retry_at: None,
                    last_exit: None,
                    last_session: None,
                }),
            }),
        })
    }

    fn lost(slot: &mut Slot, why: String) {
        slot.agent = None;
        slot.failures += 1;
        slot.retry_at = Some(Instant::now() + backoff(slot.failures));
        slot.last_exit = Some(why);
    }

    /// A running agent with its session, started (after the backoff) if needed.
    async fn ready<'a>(
        &self,
        slot: &'a mut Slot,
        link: &Arc<dyn TurnLink>,
    ) -> std::result::Result<&'a mut AgentProcess, String> {
        if let Some(a) = slot.agent.as_mut() {
            // What an aborted turn's prompt still sends is stale: it must not show up as this turn's.
            if !a.settle(SETTLE_LIMIT).await {
                slot.agent = None;
            }
        }
        if slot.agent.is_none() {
            if let Some(at) = slot.retry_at {
                tokio::time::sleep_until(at).await;
            }
            let o = &self.shared.options;
            let cwd = match &o.workdir {
                Some(w) => w.clone(),
                None => {
                    std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?
                }
            };
            let files = self.shared.tools.workdir().is_some();
            let resume = slot.last_session.as_deref();
            let started =
                AgentProcess::start(&o.command, &cwd, files, resume, o.setup_timeout).await;
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
                _ => None,
            };
            if let Some(text) = note {
                link.emit(ProviderEvent::SystemMessage {
                    text,
                    level: Level::Info,
                });
            }
            slot.last_session = Some(agent.session_id.clone());
            slot.agent = Some(agent);
        }
        Ok(slot.agent.as_mut().expect("started above"))
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
        let agent = self.ready(slot, link).await?;
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
            );
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
