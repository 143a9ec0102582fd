//! The session actor: one tokio task per session incarnation that feeds host commands, provider events and timers
//! into the pure machine and executes the effects it returns (publish, persist, start and cancel turns, side
//! calls).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::handle::{Exit, ReplyTo, SessionHandle};
use super::link::ActorLink;
use super::machine::state::{Command, Effect, Input, Reply};
use super::machine::transcript;
use super::mailbox::{self, TryRecvError};
use super::publish::{apply_all, flush};
use super::{read, SharedPersister, SharedState};
use crate::error::{Error, Result};
use crate::events::bus::{EventBus, SessionLog};
use crate::events::{Payload, TurnEnd};
use crate::provider::Provider;
use crate::sync::lock;
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
        /// Which side call: results of a cancelled one are dropped.
        call: u64,
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
    rx: mailbox::Receiver<Msg>,
    tx: mailbox::Sender<Msg>,
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
    /// The running side call: its number (results carry it) and the task making the model call.
    side: Option<(u64, tokio::task::AbortHandle)>,
    /// Side calls started so far.
    side_calls: u64,
    /// When deferred deltas are due in a batch (monotonic ms).
    flush_at: Option<u64>,
    /// Idle reclamation, if the session has it.
    idle: Option<Idle>,
    /// Told of each turn that ends with the session at rest (sub-agents).
    on_finished: Option<OnFinished>,
}

/// Why an incarnation starts after a crash: its first act closes the interrupted turn, then announces the restart.
#[derive(Debug, Clone)]
pub struct Restart {
    /// The crash.
    pub reason: String,
    /// 1-based attempt within the restart policy's window.
    pub attempt: u32,
}

/// Idle reclamation of a session: the period, and when the host last called on it (monotonic ms, shared with the
/// manager, which records host calls).
#[derive(Debug, Clone)]
pub struct Idle {
    /// How long the session may be reclaimable with no activity before it ends itself.
    pub after: std::time::Duration,
    /// The last activity (monotonic ms): host calls, and everything the actor handles.
    pub activity: Arc<AtomicU64>,
}

/// A turn that ended with the session at rest: what a sub-agent's parent is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The last assistant text of the turn.
    pub answer: String,
    /// How the turn ended.
    pub reason: TurnEnd,
}

/// Called on the actor's task (so it must not block) each time a turn ends with the session at rest.
pub type OnFinished = Arc<dyn Fn(Finished) + Send + Sync>;

/// How an incarnation starts: after a crash or not, reclaimed when idle or not, reporting finished turns or not.
#[derive(Clone, Default)]
pub struct Start {
    /// `Some` after a crash.
    pub restart: Option<Restart>,
    /// `Some` when the session is reclaimed after an idle period.
    pub idle: Option<Idle>,
    /// `Some` for a sub-agent whose parent hears of its answers.
    pub on_finished: Option<OnFinished>,
}

/// Starts the actor of one incarnation on the current runtime.
pub fn spawn(
    rt: &tokio::runtime::Handle,
    state: SharedState,
    log: Arc<SessionLog>,
    bus: Arc<EventBus>,
    provider: Arc<dyn Provider>,
    persist: Option<SharedPersister>,
    start: Start,
) -> (SessionHandle, JoinHandle<Exit>) {
    let (tx, rx) = mailbox::channel();
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
        side: None,
        side_calls: 0,
        flush_at: None,
        idle: start.idle,
        on_finished: start.on_finished,
    };
    let join = rt.spawn(actor.run(start.restart));
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
            let idle_at = self.idle_deadline();
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
            let idle = async {
                match idle_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                msg = self.rx.recv() => {
                    self.touch();
                    // Deltas already queued behind this one are taken with it: one lock of the state and one
                    // publish for the batch, in the same order and with the same sequence numbers.
                    let next = match msg {
                        Some(Msg::Provider { turn_id, event }) if streaming(&event) => {
                            self.stream(turn_id, event)
                        }
                        other => Some(other),
                    };
                    if let Some(msg) = next {
                        if let Some(exit) = self.handle(msg) {
                            return exit;
                        }
                    }
                }
                () = flush => {
                    self.apply(Input::Flush { durable: false });
                }
                () = idle => {
                    if self.idle_over() {
                        if self.flush() {
                            self.persist = None;
                            self.stopped.store(true, Ordering::Release);
                            return Exit::Idle;
                        }
                        // Not stored: reclaiming would lose the conversation. Another period, then try again.
                        self.touch();
                    }
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

    /// Applies the streaming event `event` of turn `turn_id` together with the streaming events queued right
    /// behind it (at most [`STREAM_BATCH`]). Returns the first message that is not one, taken from the channel
    /// and still to be handled (`Some(None)` when the channel closed).
    fn stream(&mut self, turn_id: u64, event: ProviderEvent) -> Option<Option<Msg>> {
        let mut inputs = Vec::with_capacity(16);
        inputs.push(Input::Provider { turn_id, event });
        let mut next = None;
        while inputs.len() < STREAM_BATCH {
            match self.rx.try_recv() {
                Ok(Msg::Provider { turn_id, event }) if streaming(&event) => {
                    inputs.push(Input::Provider { turn_id, event });
                }
                Ok(other) => {
                    next = Some(Some(other));
                    break;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    next = Some(None);
                    break;
                }
            }
        }
        self.apply_inputs(inputs);
        next
    }

    /// Handles one message of the channel (`None`: it closed); returns how the actor ends, if it does.
    fn handle(&mut self, msg: Option<Msg>) -> Option<Exit> {
        match msg {
            Some(Msg::Command(cmd, reply)) => match self.not_ready(&cmd) {
                Some(e) => reply(Reply::Failed(e)),
                None => match self.apply(Input::Command(cmd)) {
                    Reply::Deferred => self.side_reply = Some(reply),
                    r => reply(r),
                },
            },
            Some(Msg::SideDone { call, kind, result }) => {
                if self.side.as_ref().map(|(c, _)| *c) != Some(call) {
                    // A cancelled call's late answer: the machine has moved on.
                    return None;
                }
                self.side = None;
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
            Some(Msg::Gate {
                turn_id,
                request,
                reply,
            }) => {
                let id = request.tool_call_id.clone();
                match self.apply(Input::Gate { turn_id, request }) {
                    Reply::Gate(Gate::Wait) => {
                        self.waiting.insert(id, reply);
                    }
                    Reply::Gate(g) => {
                        let _ = reply.send(g);
                    }
                    other => {
                        let _ = reply.send(Gate::Refuse(format!(
                            "internal error: gate answered {other:?}"
                        )));
                    }
                }
            }
            Some(Msg::Switch {
                cmd,
                journal,
                reply,
            }) => reply(self.switch(cmd, journal)),
            Some(Msg::Boundaries(reply)) => {
                let _ = reply.send(read(&self.state).boundaries());
            }
            Some(Msg::Stop(done)) => {
                self.apply(Input::Command(Command::Abort));
                self.cancel_turn();
                self.flush();
                // Released before the stop is acknowledged, so the session's files are free for the next start as
                // soon as stop returns.
                self.persist = None;
                self.stopped.store(true, Ordering::Release);
                done();
                return Some(Exit::Stopped);
            }
            None => {
                self.stopped.store(true, Ordering::Release);
                return Some(Exit::Stopped);
            }
        }
        None
    }

    /// Records activity now (the idle period starts over).
    fn touch(&self) {
        if let Some(idle) = &self.idle {
            idle.activity
                .store(crate::time::mono_ms(), Ordering::Relaxed);
        }
    }

    /// When the session may be reclaimed, if it is reclaimable now: its idle period after the last activity.
    fn idle_deadline(&self) -> Option<std::time::Instant> {
        let idle = self.idle.as_ref()?;
        if !read(&self.state).reclaimable() {
            return None;
        }
        let due = idle.activity.load(Ordering::Relaxed) + idle.after.as_millis() as u64;
        let wait = due.saturating_sub(crate::time::mono_ms());
        Some(std::time::Instant::now() + std::time::Duration::from_millis(wait))
    }

    /// Whether the idle period has passed with the session reclaimable and nobody calling on it.
    fn idle_over(&self) -> bool {
        let Some(idle) = &self.idle else { return false };
        let due = idle.activity.load(Ordering::Relaxed) + idle.after.as_millis() as u64;
        crate::time::mono_ms() >= due && read(&self.state).reclaimable()
    }

    /// `ProviderNotReady` for a command that would call the provider (a prompt or `continue` that starts a turn,
    /// a compaction or summary) while it cannot be called; everything else goes on without it.
    fn not_ready(&self, cmd: &Command) -> Option<Error> {
        let calls_provider = matches!(
            cmd,
            Command::Prompt(_)
                | Command::FollowUp(_)
                | Command::Continue
                | Command::Compact { .. }
                | Command::Summarize
        );
        if !calls_provider || read(&self.state).busy() {
            // While a turn runs a prompt is queued, and a busy session refuses the rest itself.
            return None;
        }
        self.provider.readiness().err().map(Error::ProviderNotReady)
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
        if read(&self.state).busy() {
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
        self.apply_inputs(std::iter::once(input))
    }

    /// Applies `inputs` in order (see [`apply_all`]) and executes their effects; returns the last one's reply.
    fn apply_inputs(&mut self, inputs: impl IntoIterator<Item = Input>) -> Reply {
        let ends_before = self
            .on_finished
            .as_ref()
            .map(|_| read(&self.state).turn_ends().0);
        let (reply, effects, flush_at) = apply_all(
            &self.state,
            &self.log,
            &self.bus,
            self.persist.as_ref(),
            inputs,
        );
        self.flush_at = flush_at;
        if let (Some(before), Some(hook)) = (ends_before, &self.on_finished) {
            let finished = {
                let s = read(&self.state);
                match s.turn_ends() {
                    (n, Some(reason)) if n != before && !s.turn_active() => Some(Finished {
                        answer: s.last_answer(),
                        reason,
                    }),
                    _ => None,
                }
            };
            if let Some(f) = finished {
                hook(f);
            }
        }
        for fx in effects {
            match fx {
                Effect::StartTurn { turn_id, context } => {
                    self.cancel_turn();
                    let link = Arc::new(ActorLink {
                        tx: self.tx.clone(),
                        turn_id,
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
                    self.side_calls += 1;
                    let number = self.side_calls;
                    // The call runs on its own task so that even a panicking model answers the waiting host, and
                    // so that an abort can cancel it (dropping the model call ends its request).
                    let call_kind = kind.clone();
                    let call = tokio::spawn(async move {
                        let call = provider.side_call(call_kind, context);
                        tokio::time::timeout(SIDE_CALL_LIMIT, call)
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!("no answer within {} s", SIDE_CALL_LIMIT.as_secs()))
                            })
                    });
                    self.side = Some((number, call.abort_handle()));
                    tokio::spawn(async move {
                        let result = call
                            .await
                            .unwrap_or_else(|e| Err(format!("the model call failed: {e}")));
                        let _ = tx.send(Msg::SideDone {
                            call: number,
                            kind,
                            result,
                        });
                    });
                }
                Effect::CancelSideCall { reply } => {
                    if let Some((_, call)) = self.side.take() {
                        call.abort();
                        // The task is dropped at its next poll; the host hears of the cancellation now.
                        self.provider.turn_aborted();
                    }
                    if let (Some(waiting), Some(reply)) = (self.side_reply.take(), reply) {
                        waiting(reply);
                    }
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

/// Most streaming events the actor applies and publishes as one batch: enough to amortize the locks and wake-ups
/// when a stream arrives faster than it is handled, few enough that the batch's first delta is not held back.
const STREAM_BATCH: usize = 256;

/// Whether a provider event is a streaming one (a delta or a tool's progress), which the actor batches: these only
/// change the transcript and emit events, so applying several before executing effects changes nothing.
fn streaming(event: &ProviderEvent) -> bool {
    matches!(
        event,
        ProviderEvent::TextDelta(_)
            | ProviderEvent::ThinkingDelta(_)
            | ProviderEvent::ToolUpdate { .. }
    )
}

/// How long a compaction or summary call may take before the waiting host gets an error.
const SIDE_CALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

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
