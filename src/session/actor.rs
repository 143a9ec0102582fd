//! The session actor: one tokio task per session incarnation that feeds host commands, provider events and timers
//! into the pure machine and executes the effects it returns (publish, persist, start and cancel turns, side
//! calls).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handle::{Exit, ReplyTo, SessionHandle};
use super::machine::journal::Batch;
use super::machine::state::{Command, Effect, Input, Reply};
use super::machine::transcript;
use super::{read, SharedPersister, SharedState};
use crate::error::{Error, Result};
use crate::events::bus::{EventBus, SessionLog};
use crate::events::{Payload, TurnEnd};
use crate::provider::native::model::BoxFuture;
use crate::provider::{Provider, TurnLink};
use crate::sync::lock;
use crate::vocab::content::ContentPart;
use crate::vocab::files::Boundary;
use crate::vocab::gate::{Gate, GateRequest};
use crate::vocab::model::ProviderEvent;
use crate::vocab::settings::{SideKind, SideResult};

/// What the actor's channel carries: host calls, the turn's events and questions, side-call results, stop.
pub(super) enum Msg {
    Command(Command, ReplyTo),
    Provider {
        turn_id: u64,
        event: ProviderEvent,
    },
    Steering {
        turn_id: u64,
        reply: ReplyTo,
    },
    Gate {
        turn_id: u64,
        request: GateRequest,
        reply: tokio::sync::oneshot::Sender<Gate>,
    },
    SideDone {
        kind: SideKind,
        result: Result<SideResult, String>,
    },
    /// A tool call asks for the session's edit boundaries.
    Boundaries(tokio::sync::oneshot::Sender<BTreeMap<String, Boundary>>),
    Stop(Box<dyn FnOnce() + Send>),
    /// Leave the conversation for another: `cmd` is `NewConversation` or `LoadConversation`, `journal` the opened
    /// journal of a loaded one.
    Switch {
        cmd: Command,
        journal: Option<crate::store::journal::Journal>,
        reply: ReplyTo,
    },
}

/// Executes effects: events go to the bus, turns to the provider.
struct Actor {
    rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
    state: SharedState,
    log: Arc<SessionLog>,
    bus: Arc<EventBus>,
    provider: Arc<dyn Provider>,
    persist: Option<SharedPersister>,
    turn: Option<(u64, JoinHandle<()>)>,
    stopped: Arc<AtomicBool>,
    /// Tool calls waiting for the host's answer, by approval ID.
    waiting: HashMap<String, tokio::sync::oneshot::Sender<Gate>>,
    /// The host call waiting for the running side call.
    side_reply: Option<ReplyTo>,
    /// When deferred deltas are due in a batch (monotonic ms).
    flush_at: Option<u64>,
}

/// Applies `input` to `state`, writes the batch of changes it returns, then publishes the resulting events (so a
/// host that hears of a turn's end can rely on it being stored); returns the reply, the effects left for the actor,
/// and when deferred deltas are due in a batch (monotonic ms).
pub fn apply_and_publish(
    state: &SharedState,
    log: &SessionLog,
    bus: &EventBus,
    persist: Option<&SharedPersister>,
    input: Input,
) -> (Reply, Vec<Effect>, Option<u64>) {
    let flush = matches!(input, Input::Flush { .. });
    let (reply, effects, flush_at) = {
        let mut s = lock(state);
        let (reply, effects) = s.apply(input, crate::time::now());
        (reply, effects, s.persist_deadline())
    };
    let mut wrote = false;
    // A turn's end that did not reach the store is reported as such, every time: the host must not take it as saved.
    let ends_turn = effects
        .iter()
        .any(|fx| matches!(fx, Effect::Emit(Payload::TurnEnded { .. })));
    let mut unsaved: Option<String> = None;
    let mut rest = Vec::new();
    for fx in effects {
        match fx {
            // The machine puts the batch first, so it is written before the events are published.
            Effect::Persist(batch) => {
                if let Some(p) = persist {
                    unsaved = write(log, bus, p, Some(&batch), !ends_turn);
                    wrote = true;
                }
            }
            Effect::Emit(Payload::TurnEnded { usage, .. }) if unsaved.is_some() => {
                let why = unsaved.take().unwrap_or_default();
                bus.publish(
                    log,
                    Payload::Error {
                        message: format!(
                            "This turn could not be saved: {why}. It is kept in memory and saving is retried."
                        ),
                    },
                );
                bus.publish(
                    log,
                    Payload::TurnEnded {
                        usage,
                        reason: TurnEnd::StorageError,
                    },
                );
            }
            Effect::Emit(payload) => {
                bus.publish(log, payload);
            }
            other => rest.push(other),
        }
    }
    if flush && !wrote {
        if let Some(p) = persist {
            // Nothing new, but lines a failed write left behind are due.
            write(log, bus, p, None, true);
        }
    }
    (reply, rest, flush_at)
}

/// Writes `batch` (and whatever earlier writes left pending); a save that starts failing is reported as an `error`
/// event when `report` is set. Returns why the store is not up to date, `None` when everything is stored.
fn write(
    log: &SessionLog,
    bus: &EventBus,
    persist: &SharedPersister,
    batch: Option<&Batch>,
    report: bool,
) -> Option<String> {
    let mut p = lock(persist);
    if let Some(message) = p.save(batch) {
        if report {
            bus.publish(log, Payload::Error { message });
        }
    }
    if p.is_clean() {
        return None;
    }
    Some(
        p.failure()
            .unwrap_or("the store has not written it yet")
            .to_string(),
    )
}

/// Writes everything pending and makes it durable; returns whether everything is stored. Only the actor calls
/// this while it runs; the manager calls it when no actor does (before the first one is reachable, after the last
/// one stopped).
pub fn flush(
    state: &SharedState,
    log: &SessionLog,
    bus: &EventBus,
    persist: &SharedPersister,
) -> bool {
    apply_and_publish(
        state,
        log,
        bus,
        Some(persist),
        Input::Flush { durable: true },
    );
    lock(persist).is_clean()
}

/// Why an incarnation starts after a crash: its first act closes the interrupted turn, then announces the restart.
#[derive(Debug, Clone)]
pub struct Restart {
    /// The crash.
    pub reason: String,
    /// 1-based attempt within the restart policy's window.
    pub attempt: u32,
}

/// Starts the actor of one incarnation on the current runtime (`restart`: after a crash).
pub fn spawn(
    rt: &tokio::runtime::Handle,
    state: SharedState,
    log: Arc<SessionLog>,
    bus: Arc<EventBus>,
    provider: Arc<dyn Provider>,
    persist: Option<SharedPersister>,
    restart: Option<Restart>,
) -> (SessionHandle, JoinHandle<Exit>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stopped = Arc::new(AtomicBool::new(false));
    let id: Arc<str> = log.id().into();
    let actor = Actor {
        rx,
        tx: tx.clone(),
        state: state.clone(),
        log,
        bus,
        provider,
        persist,
        turn: None,
        stopped: stopped.clone(),
        waiting: HashMap::new(),
        side_reply: None,
        flush_at: None,
    };
    let join = rt.spawn(actor.run(restart));
    (
        SessionHandle {
            tx,
            state,
            id,
            stopped,
        },
        join,
    )
}

impl Actor {
    async fn run(mut self, restart: Option<Restart>) -> Exit {
        if let Some(Restart { reason, attempt }) = restart {
            // Before any queued call is taken, and before anyone hears of the restart, the state is restored.
            self.apply(Input::Restarted {
                reason: reason.clone(),
            });
            self.bus
                .publish(&self.log, Payload::SessionRestarted { reason, attempt });
        }
        loop {
            let deadline = self.flush_deadline();
            let finished = async {
                match self.turn.as_mut() {
                    Some((_, handle)) => handle.await,
                    None => std::future::pending().await,
                }
            };
            let flush = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                msg = self.rx.recv() => match msg {
                                        Some(Msg::Command(cmd, reply)) => match self.apply(Input::Command(cmd)) {
                        Reply::Deferred => self.side_reply = Some(reply),
                        r => reply(r),
                    },
                    Some(Msg::SideDone { kind, result }) => {
                        let r = self.apply(Input::SideCallDone { kind, result });
                        if let Some(reply) = self.side_reply.take() {
                            reply(r);
                        }
                    }
                    Some(Msg::Provider { turn_id, event }) => {
                        self.apply(Input::Provider { turn_id, event });
                    }
                    Some(Msg::Steering { turn_id, reply }) => {
                        let r = self.apply(Input::TakeSteering { turn_id });
                        reply(r);
                    }
                    Some(Msg::Gate { turn_id, request, reply }) => {
                        let id = request.tool_call_id.clone();
                        match self.apply(Input::Gate { turn_id, request }) {
                            Reply::Gate(Gate::Wait) => {
                                self.waiting.insert(id, reply);
                            }
                            Reply::Gate(g) => {
                                let _ = reply.send(g);
                            }
                            other => {
                                let _ = reply.send(Gate::Refuse(format!("internal error: gate answered {other:?}")));
                            }
                        }
                    }
                    Some(Msg::Switch { cmd, journal, reply }) => reply(self.switch(cmd, journal)),
                    Some(Msg::Boundaries(reply)) => {
                        let _ = reply.send(read(&self.state).boundaries());
                    }
                    Some(Msg::Stop(done)) => {
                        self.apply(Input::Command(Command::Abort));
                        self.cancel_turn();
                        self.flush();
                        // Released before the stop is acknowledged, so the session's files are free for the
                        // next start as soon as stop returns.
                        self.persist = None;
                        self.stopped.store(true, Ordering::Release);
                        done();
                        return Exit::Stopped;
                    }
                    None => {
                        self.stopped.store(true, Ordering::Release);
                        return Exit::Stopped;
                    }
                },
                () = flush => {
                    self.apply(Input::Flush { durable: false });
                }
                joined = finished => {
                    self.turn = None;
                    if let Err(e) = joined {
                        if e.is_panic() {
                            return Exit::Crashed(panic_message(e.into_panic()));
                        }
                    }
                }
            }
        }
    }

    fn flush(&mut self) -> bool {
        match &self.persist {
            Some(p) => flush(&self.state, &self.log, &self.bus, p),
            None => true,
        }
    }

    /// When the next batch is due: deferred deltas, or a retry of a failed write.
    fn flush_deadline(&self) -> Option<std::time::Instant> {
        let deltas = self.flush_at.map(|at| {
            let wait = at.saturating_sub(crate::time::mono_ms());
            std::time::Instant::now() + std::time::Duration::from_millis(wait)
        });
        let retry = self.persist.as_ref().and_then(|p| lock(p).deadline());
        match (deltas, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Leaves the conversation: a running turn is aborted and everything saved to the old conversation before the
    /// session moves on. If the old conversation cannot be saved, the session stays where it is.
    fn switch(&mut self, cmd: Command, journal: Option<crate::store::journal::Journal>) -> Reply {
        if read(&self.state).turn_active() {
            self.apply(Input::Command(Command::Abort));
            self.cancel_turn();
        }
        if !self.flush() {
            return Reply::Failed(Error::Io(
                "the current conversation could not be saved; not switching so nothing is lost"
                    .into(),
            ));
        }
        let target = match &cmd {
            Command::NewConversation { conversation_id } => conversation_id.clone(),
            Command::LoadConversation(l) => l.conversation_id.clone(),
            other => {
                return Reply::Failed(Error::Internal(format!(
                    "not a conversation switch: {other:?}"
                )))
            }
        };
        if let Some(p) = &self.persist {
            lock(p).switch(target, journal);
        }
        self.apply(Input::Command(cmd))
    }

    fn apply(&mut self, input: Input) -> Reply {
        let (reply, effects, flush_at) = apply_and_publish(
            &self.state,
            &self.log,
            &self.bus,
            self.persist.as_ref(),
            input,
        );
        self.flush_at = flush_at;
        for fx in effects {
            match fx {
                Effect::StartTurn { turn_id, context } => {
                    self.cancel_turn();
                    let link = Arc::new(ActorLink {
                        tx: self.tx.clone(),
                        turn_id,
                        // Usage grows only when a turn ends, so the cost before this turn stays as it is now.
                        session_cost: read(&self.state).usage().cost,
                    });
                    let task = tokio::spawn(self.provider.clone().run_turn(context, link));
                    self.turn = Some((turn_id, task));
                }
                Effect::CancelTurn { turn_id } => {
                    if self.turn.as_ref().is_some_and(|(id, _)| *id == turn_id) {
                        self.cancel_turn();
                    }
                }
                // apply_and_publish executed these already.
                Effect::Emit(_) | Effect::Persist(_) => {}
                Effect::SideCall { kind, context } => {
                    let provider = self.provider.clone();
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        // The call runs on its own task so that even a panicking model answers the waiting host.
                        let call_kind = kind.clone();
                        let call = tokio::spawn(async move {
                            let call = provider.side_call(call_kind, context);
                            tokio::time::timeout(SIDE_CALL_LIMIT, call)
                                .await
                                .unwrap_or_else(|_| {
                                    Err(format!("no answer within {} s", SIDE_CALL_LIMIT.as_secs()))
                                })
                        });
                        let result = call
                            .await
                            .unwrap_or_else(|e| Err(format!("the model call failed: {e}")));
                        let _ = tx.send(Msg::SideDone { kind, result });
                    });
                }
                Effect::ConfigureProvider(config) => match self.provider.reconfigure(&config) {
                    Ok(provider) => self.provider = provider,
                    Err(e) => {
                        let text = format!("Could not switch to {}: {e}", config.model);
                        self.apply(Input::Command(Command::AddSystemMessage(
                            text,
                            transcript::Level::Error,
                        )));
                    }
                },
                Effect::SteeringQueued => self.provider.steering_queued(),
                Effect::ResolveApproval { approval_id, gate } => {
                    if let Some(waiter) = self.waiting.remove(&approval_id) {
                        let _ = waiter.send(gate);
                    }
                }
            }
        }
        reply
    }

    fn cancel_turn(&mut self) {
        if let Some((_, task)) = self.turn.take() {
            task.abort();
            self.provider.turn_aborted();
        }
    }
}

/// A turn's link to its actor: events and steering requests go through the actor's channel, tagged with the turn.
struct ActorLink {
    tx: mpsc::UnboundedSender<Msg>,
    turn_id: u64,
    /// USD the session had spent before this turn.
    session_cost: f64,
}

/// How long a compaction or summary call may take before the waiting host gets an error.
const SIDE_CALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long the loop waits for the session to hand over steering (the session answers at once unless busy).
const STEERING_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

impl TurnLink for ActorLink {
    fn session_cost(&self) -> f64 {
        self.session_cost
    }

    fn boundaries(&self) -> BoxFuture<'_, Arc<crate::provider::contract::Boundaries>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // Asked through the actor's channel, so file changes this turn reported before are already applied.
            let boundaries = match self.tx.send(Msg::Boundaries(tx)) {
                Ok(()) => rx.await.unwrap_or_default(),
                // The session is gone, and with it this turn: the actor aborts it.
                Err(_) => BTreeMap::new(),
            };
            Arc::new(boundaries)
        })
    }

    fn emit(&self, event: ProviderEvent) {
        let _ = self.tx.send(Msg::Provider {
            turn_id: self.turn_id,
            event,
        });
    }

    fn gate(&self, request: GateRequest, timeout: std::time::Duration) -> BoxFuture<'_, Gate> {
        Box::pin(async move {
            let id = request.tool_call_id.clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let msg = Msg::Gate {
                turn_id: self.turn_id,
                request,
                reply: tx,
            };
            if self.tx.send(msg).is_err() {
                return Gate::Refuse("Tool call cancelled: the session is gone".into());
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(gate)) => gate,
                Ok(Err(_)) => Gate::Refuse("Tool call cancelled: the session is gone".into()),
                Err(_) => {
                    self.emit(ProviderEvent::ApprovalTimedOut { tool_call_id: id });
                    Gate::Refuse("Tool approval timed out".into())
                }
            }
        })
    }

    fn take_steering(&self) -> BoxFuture<'_, Vec<Vec<ContentPart>>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let reply: ReplyTo = Box::new(move |r| drop(tx.send(r)));
            if self
                .tx
                .send(Msg::Steering {
                    turn_id: self.turn_id,
                    reply,
                })
                .is_err()
            {
                return Vec::new();
            }
            match tokio::time::timeout(STEERING_WAIT, rx).await {
                Ok(Ok(Reply::Steering(entries))) => entries,
                _ => Vec::new(),
            }
        })
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".into()
    }
}
