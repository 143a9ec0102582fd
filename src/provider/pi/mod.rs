//! The pi provider: turns run by the pi coding agent (`pi --mode rpc`), one subprocess per session, translated
//! between pi's JSONL protocol and tandem's provider contract.
//!
//! pi keeps its own conversation and runs its own tools: tandem's approvals, permissions and tool allow-list do not
//! apply to it, and edit boundaries cannot be enforced in advance. They are checked after the fact instead: the
//! bounded files are read when a turn starts and compared after each tool pi runs; changes are reported as file
//! changes, those outside a boundary as `boundary_violated`, and pi is told with a steering message. Turns reuse
//! one process; if it dies, the turn ends with an error and the next turn starts a new one (after a backoff),
//! replaying the earlier conversation to it.

pub(crate) mod history;
pub(crate) mod process;
pub mod query;
pub(crate) mod translate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::provider::native::model::BoxFuture;
use crate::provider::{ModelMessage, Provider, ProviderEvent, TurnLink};
use crate::tools::watch::Watch;
use crate::vocab::content::{ContentPart, Level, Usage};
use crate::vocab::settings::ProviderConfig;
use crate::vocab::settings::ThinkingLevel;
use crate::vocab::settings::{SideKind, SideResult};
use history::Plan;
use process::{Failure, PiProcess};
use translate::{content_command, Step, Turn};

/// The model name that leaves pi on the model it is configured with.
pub const DEFAULT_MODEL: &str = "pi:default";

/// How long pi may take to answer a setup command (it needs a few seconds to start on a busy machine).
pub(crate) const SETUP_LIMIT: Duration = Duration::from_secs(30);
/// How long the run of an aborted turn may take to wind down before the process is replaced.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// How long a compaction may take (the session gives side calls 120 s).
const COMPACT_LIMIT: Duration = Duration::from_secs(110);
/// First delay before starting pi again after it exited or failed to start; doubled per failure up to the cap.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Checks that `model` is `provider:model` (pi's provider and model ID), or [`DEFAULT_MODEL`].
pub fn check_model(model: &str) -> Result<()> {
    match model.split_once(':') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok(()),
        _ => Err(Error::invalid(format!(
            "model {model:?} for the pi provider must be \"provider:model\" as pi names them, e.g. \
             \"anthropic:claude-sonnet-4-5\", or {DEFAULT_MODEL:?} for pi's configured default"
        ))),
    }
}

/// The delay before start attempt number `failures + 1` (the ACP provider's too).
pub(crate) fn backoff(failures: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_CAP)
}

/// Why a provider whose process exited or failed to start (`what`: its name) is not ready: it waits out its
/// backoff until `retry_at` (shared with the ACP provider).
pub(crate) fn restarting(
    what: &str,
    running: bool,
    retry_at: Option<Instant>,
    last_exit: Option<&str>,
) -> std::result::Result<(), String> {
    match (running, retry_at, last_exit) {
        (false, Some(at), Some(why)) if at > Instant::now() => Err(format!(
            "{what} is being restarted ({why}); next attempt in {} ms",
            at.saturating_duration_since(Instant::now()).as_millis()
        )),
        _ => Ok(()),
    }
}

/// The process slot shared by a session's provider and its reconfigured successors.
struct Slot {
    process: Option<PiProcess>,
    /// Consecutive exits or failed starts.
    failures: u32,
    /// No start before this.
    retry_at: Option<Instant>,
    /// Why the last process ended, reported when the next one starts.
    last_exit: Option<String>,
}

struct Shared {
    command: Vec<String>,
    workdir: Option<PathBuf>,
    slot: Mutex<Slot>,
    /// Woken when steering is queued during a turn.
    steering: Notify,
}

/// The pi provider of one session.
pub(crate) struct Pi {
    shared: Arc<Shared>,
    model: String,
    thinking: ThinkingLevel,
}

/// What the pi provider reads from the session's options.
#[derive(Debug, Clone)]
pub struct PiOptions {
    /// pi's command line (program first).
    pub command: Vec<String>,
    /// The session's workdir, pi's working directory.
    pub workdir: Option<std::path::PathBuf>,
}

impl Pi {
    /// The provider for session options `o` (the process starts with the first turn).
    pub(crate) fn new(o: &PiOptions, config: &ProviderConfig) -> Result<Pi> {
        check_model(&config.model)?;
        Ok(Pi {
            shared: Arc::new(Shared {
                command: o.command.clone(),
                workdir: o.workdir.clone(),
                slot: Mutex::new(Slot {
                    process: None,
                    failures: 0,
                    retry_at: None,
                    last_exit: None,
                }),
                steering: Notify::new(),
            }),
            model: config.model.clone(),
            thinking: config.thinking_level,
        })
    }

    /// Records that the process is gone (`why`), so the next start waits out the backoff.
    fn lost(slot: &mut Slot, why: String) {
        slot.process = None;
        slot.failures += 1;
        slot.retry_at = Some(Instant::now() + backoff(slot.failures));
        slot.last_exit = Some(why);
    }

    /// A running pi set to this provider's model and thinking level, started if needed.
    async fn ready<'a>(
        &self,
        slot: &'a mut Slot,
        link: Option<&Arc<dyn TurnLink>>,
    ) -> std::result::Result<&'a mut PiProcess, String> {
        if let Some(p) = slot.process.as_mut() {
            if !p.settle(SETTLE_LIMIT).await {
                // The aborted run would not end: a fresh process is quicker than waiting for it.
                slot.process = None;
            }
        }
        if slot.process.is_none() {
            if let Some(at) = slot.retry_at {
                tokio::time::sleep_until(at).await;
            }
            let mut p = match PiProcess::spawn(&self.shared.command, self.shared.workdir.as_deref())
            {
                Ok(p) => p,
                Err(e) => {
                    Self::lost(slot, e.clone());
                    return Err(e);
                }
            };
            // Steering entries arrive one by one; pi delivers all that are queued at the next chance, as the
            // native loop does.
            let setup = p
                .request(
                    json!({"type": "set_steering_mode", "mode": "all"}),
                    SETUP_LIMIT,
                )
                .await;
            if let Err(e) = setup {
                let why = format!("pi did not start: {e}");
                Self::lost(slot, why.clone());
                return Err(why);
            }
            if let (Some(why), Some(link)) = (slot.last_exit.take(), link) {
                link.emit(ProviderEvent::SystemMessage {
                    text: format!("Started a new pi process; the previous one ended: {why}"),
                    level: Level::Info,
                });
            }
            slot.process = Some(p);
        }
        match self.configure(slot).await {
            Ok(()) => Ok(slot.process.as_mut().expect("started above")),
            Err(Failure::Exited(why)) => {
                Self::lost(slot, why.clone());
                Err(why)
            }
            Err(Failure::Refused(e)) => Err(e),
            Err(Failure::Timeout) => Err("pi did not answer a setup command in time".into()),
        }
    }

    /// Sets pi's model and thinking level to this provider's where they differ.
    async fn configure(&self, slot: &mut Slot) -> std::result::Result<(), Failure> {
        let p = slot.process.as_mut().expect("started by ready");
        if p.model.as_deref() != Some(self.model.as_str()) && self.model != DEFAULT_MODEL {
            let (provider, id) = self.model.split_once(':').unwrap_or_default();
            let cmd = json!({"type": "set_model", "provider": provider, "modelId": id});
            match p.request(cmd, SETUP_LIMIT).await {
                Ok(_) => p.model = Some(self.model.clone()),
                Err(Failure::Refused(e)) => {
                    return Err(Failure::Refused(format!(
                        "pi cannot use model {}: {e}",
                        self.model
                    )))
                }
                Err(e) => return Err(e),
            }
        }
        if p.thinking != Some(self.thinking) {
            let cmd = json!({"type": "set_thinking_level", "level": self.thinking.name()});
            match p.request(cmd, SETUP_LIMIT).await {
                Ok(_) => p.thinking = Some(self.thinking),
                Err(Failure::Refused(e)) => {
                    return Err(Failure::Refused(format!(
                        "pi refused thinking level {}: {e}",
                        self.thinking.name()
                    )))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Runs one turn; returns its usage, or the error that ended it.
    async fn turn(
        &self,
        context: &[ModelMessage],
        link: &Arc<dyn TurnLink>,
        usage: &mut Option<Usage>,
    ) -> std::result::Result<(), String> {
        let mut guard = self.shared.slot.lock().await;
        let slot = &mut *guard;
        let p = self.ready(slot, Some(link)).await?;
        let Some(ModelMessage::User(parts)) = context.last() else {
            return Err("the turn has no user message to send to pi".into());
        };
        let (plan, seen) = history::plan(&p.known, context);
        let reset = must_reset(&plan, &p.known);
        let replay = match plan {
            Plan::Replay(text) => Some(text),
            Plan::Continue | Plan::Fresh => None,
        };
        if reset {
            match p.request(json!({"type": "new_session"}), SETUP_LIMIT).await {
                Ok(d) if d["cancelled"] == true => {
                    return Err("a pi extension refused to start a new session".into())
                }
                Ok(_) => {}
                Err(e) => return Err(format!("pi could not start a new session: {e}")),
            }
        }
        let mut watch = self.watch(link).await;
        let prompt_id = p.send(content_command("prompt", replay.as_deref(), parts));
        p.in_flight = true;
        p.known = seen;
        // Dropping the turn (tandem's abort) aborts pi's run; the next turn waits for it to wind down.
        let mut abort = AbortOnDrop(Some(p.writer()));
        let mut turn = Turn::new(prompt_id);
        let ended = loop {
            tokio::select! {
                record = p.next() => match record {
                    None => break Err(p.exit_message().await),
                    Some(v) => match turn.step(&v) {
                        Step::Emit(events) => {
                            for mut e in events {
                                if let (ProviderEvent::ToolEnd { id, result, .. }, Some(w)) = (&mut e, &mut watch) {
                                    if let Some(note) = compare(w, id, link).await {
                                        result.push_str(&format!("\n\n{note}"));
                                        p.send(content_command("steer", None, &[ContentPart::Text { text: note }]));
                                    }
                                }
                                link.emit(e);
                            }
                        }
                        Step::End { error } => break Ok(error),
                    },
                },
                () = self.shared.steering.notified() => {
                    for entry in link.take_steering().await {
                        p.send(content_command("steer", None, &entry));
                        p.known.push(history::key(&entry));
                    }
                }
            }
        };
        abort.0 = None;
        *usage = turn.usage;
        match ended {
            Ok(error) => {
                p.in_flight = false;
                slot.failures = 0;
                error.map_or(Ok(()), Err)
            }
            Err(why) => {
                Self::lost(slot, why.clone());
                Err(why)
            }
        }
    }

    /// The session's bounded files in pi's working directory as they are now (`None` without boundaries).
    async fn watch(&self, link: &Arc<dyn TurnLink>) -> Option<Watch> {
        let bounds = link.boundaries().await;
        if bounds.is_empty() {
            return None;
        }
        let dir = self.shared.workdir.clone();
        tokio::task::spawn_blocking(move || {
            let dir = match dir {
                Some(d) => d,
                None => std::env::current_dir().ok()?,
            };
            let dir = dir.canonicalize().unwrap_or(dir);
            Some(Watch::snapshot(&dir, &bounds)).filter(|w| !w.is_empty())
        })
        .await
        .ok()
        .flatten()
    }

    async fn compact(&self) -> std::result::Result<SideResult, String> {
        let mut slot = self.shared.slot.lock().await;
        let p = self.ready(&mut slot, None).await?;
        if p.known.is_empty() {
            return Err("this pi process has no conversation to compact yet".into());
        }
        match p.request(json!({"type": "compact"}), COMPACT_LIMIT).await {
            Ok(data) => match data["summary"].as_str() {
                Some(s) if !s.trim().is_empty() => Ok(SideResult {
                    text: s.trim().to_string(),
                    path: None,
                }),
                _ => Err("pi returned an empty compaction summary".into()),
            },
            Err(Failure::Exited(why)) => {
                Self::lost(&mut slot, why.clone());
                Err(why)
            }
            Err(e) => Err(format!("pi could not compact: {e}")),
        }
    }
}

/// Whether pi must drop its conversation before the prompt: it has one, and tandem's context is a new
/// conversation or one pi does not have.
/// Compares the bounded files after pi's tool call `id` ended and reports what changed (before the call's end, so
/// the session still knows the tool). Returns the note for pi when a change left a boundary.
async fn compare(watch: &mut Watch, id: &str, link: &Arc<dyn TurnLink>) -> Option<String> {
    let (mut w, call) = (watch.clone(), id.to_string());
    let (w, seen) = tokio::task::spawn_blocking(move || {
        let seen = w.changes(&call);
        (w, seen)
    })
    .await
    .ok()?;
    *watch = w;
    crate::provider::native::report_watched(seen, link.as_ref())
}

fn must_reset(plan: &Plan, known: &[String]) -> bool {
    match plan {
        Plan::Continue => false,
        Plan::Fresh | Plan::Replay(_) => !known.is_empty(),
    }
}

/// Sends pi `abort` when a turn's future is dropped mid-run.
struct AbortOnDrop(Option<mpsc::UnboundedSender<String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            let _ = w.send(json!({"type": "abort"}).to_string());
        }
    }
}

impl Provider for Pi {
    /// Not ready while the process that exited or failed to start waits out its backoff (a turn would only wait).
    fn readiness(&self) -> std::result::Result<(), String> {
        // A slot in use belongs to a running turn or setup: not a restart in progress.
        let Ok(slot) = self.shared.slot.try_lock() else {
            return Ok(());
        };
        restarting(
            "pi",
            slot.process.is_some(),
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
            let mut usage = None;
            let result = self.turn(&context, &link, &mut usage).await;
            // Released before the turn ends, so the session extends its kept context without copying it.
            drop(context);
            if let Err(e) = result {
                link.emit(ProviderEvent::Error(e));
            }
            link.emit(ProviderEvent::AgentEnd { usage });
        })
    }

    fn side_call(
        self: Arc<Self>,
        kind: SideKind,
        _context: Vec<ModelMessage>,
    ) -> BoxFuture<'static, std::result::Result<SideResult, String>> {
        Box::pin(async move {
            match kind {
                SideKind::Compact { .. } => self.compact().await,
                SideKind::Summarize => {
                    Err("session summaries are not supported by the pi provider".into())
                }
            }
        })
    }

    fn reconfigure(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>> {
        check_model(&config.model)?;
        Ok(Arc::new(Pi {
            shared: self.shared.clone(),
            model: config.model.clone(),
            thinking: config.thinking_level,
        }))
    }

    fn steering_queued(&self) {
        self.shared.steering.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_up_to_the_cap() {
        let ms: Vec<u128> = (1..=8).map(|f| backoff(f).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn pi_is_not_ready_while_a_failed_start_waits_out_its_backoff() {
        let config = ProviderConfig {
            model: "mock:m1".into(),
            thinking_level: ThinkingLevel::Off,
            skills: Vec::new(),
        };
        let o = PiOptions {
            command: vec!["/nonexistent/pi".into()],
            workdir: None,
        };
        let pi = Pi::new(&o, &config).unwrap();
        assert_eq!(
            pi.readiness(),
            Ok(()),
            "never started: the first turn starts it"
        );
        let mut slot = pi.shared.slot.try_lock().unwrap();
        Pi::lost(&mut slot, "cannot start pi: no such file".into());
        drop(slot);
        let why = pi.readiness().unwrap_err();
        assert!(why.contains("cannot start pi: no such file"), "{why}");
        pi.shared.slot.try_lock().unwrap().retry_at = Some(Instant::now());
        assert_eq!(
            pi.readiness(),
            Ok(()),
            "the backoff is over: the next turn tries again"
        );
    }

    #[test]
    fn models_name_a_pi_provider_and_model() {
        assert!(check_model("mock:m1").is_ok());
        assert!(check_model("ollama:qwen2.5-coder:7b").is_ok());
        assert!(check_model(DEFAULT_MODEL).is_ok());
        for bad in ["m1", ":m1", "mock:"] {
            assert!(check_model(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pi_is_reset_only_when_it_has_another_conversation() {
        let known = ["a".to_string()];
        assert!(!must_reset(&Plan::Replay(String::new()), &[]));
        assert!(must_reset(&Plan::Fresh, &known));
        assert!(must_reset(&Plan::Replay(String::new()), &known));
        assert!(!must_reset(&Plan::Continue, &known));
    }
}
