//! One configured MCP server and its supervisor task: connect (stdio child or streamable HTTP) within the start-up
//! timeout, list its tools, follow `list_changed`, notice the connection ending, and restart with backoff; every
//! change of state that a host must know is reported once through the session's status sink.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{Prompt, Tool};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceExt};
use tokio::sync::{mpsc, watch, Notify};

use super::config::{ServerConfig, Transport};
use super::handler::{Handler, ProgressMap};
use super::stdio::{self, GroupKill, StderrTail};
use crate::events::Payload;
use crate::sync::lock;

/// Where server status reports go (the session's event stream).
pub type StatusSink = Arc<dyn Fn(Payload) + Send + Sync>;

/// Failed attempts in a row after which a server is left failed until it is enabled again.
const MAX_ATTEMPTS: u32 = 5;
/// A connection that lasted this long resets the count of failed attempts.
const STABLE: Duration = Duration::from_secs(60);

/// What a server is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connecting (first start or a restart).
    Starting,
    /// Connected, tools listed.
    Ready,
    /// Failed; a restart is scheduled.
    Restarting,
    /// Failed too often; left alone until enabled again.
    Failed,
    /// Disabled by configuration or at run time.
    Disabled,
}

impl State {
    /// The state's name in events and listings.
    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::Restarting => "restarting",
            State::Failed => "failed",
            State::Disabled => "disabled",
        }
    }
}

/// A live connection: what calls use.
pub struct Conn {
    /// Requests to the server.
    pub peer: Peer<RoleClient>,
    /// The server's tools, as last listed.
    pub tools: Vec<Tool>,
    /// The server's prompts, as last listed.
    pub prompts: Vec<Prompt>,
    /// Whether it offers resources.
    pub resources: bool,
    /// Progress callbacks of running calls.
    pub progress: ProgressMap,
}

struct Inner {
    state: State,
    detail: Option<String>,
    conn: Option<Arc<Conn>>,
    enabled: bool,
    closed: bool,
    /// The stdio child's process group, killed at once on shutdown.
    pid: Option<u32>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// One server of a session.
pub struct Server {
    /// Its configuration.
    pub config: ServerConfig,
    workdir: Option<PathBuf>,
    sink: StatusSink,
    tail: StderrTail,
    inner: Mutex<Inner>,
    wake: Notify,
    settled: watch::Sender<bool>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// How a connection attempt or a connection ended.
enum Ended {
    /// It failed or closed (the message says how).
    Failed(String),
    /// Disabled or shut down.
    Stopped,
}

impl Server {
    /// A server not started yet; `workdir` is the default working directory of a stdio server.
    pub fn new(config: ServerConfig, workdir: Option<PathBuf>, sink: StatusSink) -> Arc<Server> {
        let enabled = config.enabled;
        Arc::new(Server {
            config,
            workdir,
            sink,
            tail: StderrTail::default(),
            inner: Mutex::new(Inner {
                state: if enabled {
                    State::Starting
                } else {
                    State::Disabled
                },
                detail: None,
                conn: None,
                enabled,
                closed: false,
                pid: None,
                task: None,
            }),
            wake: Notify::new(),
            settled: watch::Sender::new(!enabled),
        })
    }

    /// Starts the supervisor on `rt`.
    pub fn launch(self: &Arc<Self>, rt: &tokio::runtime::Handle) {
        let task = rt.spawn(self.clone().supervise());
        let mut inner = lock(&self.inner);
        if inner.closed {
            task.abort();
        } else {
            inner.task = Some(task);
        }
    }

    /// The live connection, if ready.
    pub fn conn(&self) -> Option<Arc<Conn>> {
        lock(&self.inner).conn.clone()
    }

    /// State, detail and the stderr tail.
    pub fn status(&self) -> (State, Option<String>, Vec<String>) {
        let inner = lock(&self.inner);
        (inner.state, inner.detail.clone(), self.tail.lines())
    }

    /// Whether the server is enabled.
    pub fn enabled(&self) -> bool {
        lock(&self.inner).enabled
    }

    /// Waits until the first connection attempt has ended (or the server is disabled or shut down).
    pub async fn settled(&self) {
        let mut rx = self.settled.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Enables or disables the server: a disabled server's connection is closed (its process group killed) and
    /// its tools leave the session; enabling starts it again with a fresh count of attempts.
    pub fn set_enabled(&self, enabled: bool) {
        let mut inner = lock(&self.inner);
        if inner.enabled == enabled {
            return;
        }
        inner.enabled = enabled;
        if !enabled {
            inner.conn = None;
            if let Some(pid) = inner.pid.take() {
                let _ = crate::sys::kill_process_group(pid);
            }
        }
        drop(inner);
        self.wake.notify_one();
    }

    /// Stops for good: the connection is closed, the child's process group killed now, the supervisor ended.
    pub fn shutdown(&self) {
        let mut inner = lock(&self.inner);
        inner.closed = true;
        inner.conn = None;
        if let Some(pid) = inner.pid.take() {
            let _ = crate::sys::kill_process_group(pid);
        }
        if let Some(t) = inner.task.take() {
            t.abort();
        }
        drop(inner);
        self.settled.send_replace(true);
    }

    fn set(&self, state: State, detail: Option<String>, conn: Option<Arc<Conn>>) {
        let mut inner = lock(&self.inner);
        inner.state = state;
        inner.detail = detail;
        inner.conn = conn;
    }

    fn report(&self, state: State, detail: Option<String>) {
        let tools = self.conn().map_or_else(Vec::new, |c| {
            super::tools::offered_names(&self.config.name, &c)
        });
        let stderr = if state == State::Ready {
            Vec::new()
        } else {
            self.tail.lines()
        };
        (self.sink)(Payload::McpServerStatus {
            server: self.config.name.clone(),
            state: state.name().into(),
            detail,
            stderr,
            tools,
        });
    }

    /// Whether the supervisor must stop (shut down) or idle (disabled).
    fn wanted(&self) -> Option<bool> {
        let inner = lock(&self.inner);
        (!inner.closed).then_some(inner.enabled)
    }

    async fn supervise(self: Arc<Self>) {
        let mut failures: u32 = 0;
        let mut reported = false;
        loop {
            match self.wanted() {
                None => return,
                Some(false) => {
                    if lock(&self.inner).state != State::Disabled {
                        self.set(State::Disabled, None, None);
                        self.report(State::Disabled, None);
                    }
                    self.settled.send_replace(true);
                    self.wake.notified().await;
                    failures = 0;
                    reported = false;
                    continue;
                }
                Some(true) => {}
            }
            self.set(State::Starting, None, None);
            let started = tokio::time::Instant::now();
            let ended = self.run_once().await;
            if started.elapsed() >= STABLE {
                failures = 0;
            }
            let Ended::Failed(why) = ended else {
                continue;
            };
            failures += 1;
            self.settled.send_replace(true);
            if failures >= MAX_ATTEMPTS {
                let detail = format!("{why} (gave up after {failures} attempts in a row)");
                self.set(State::Failed, Some(detail.clone()), None);
                self.report(State::Failed, Some(detail));
                // Left failed until disabled and enabled again (or shut down).
                while self.wanted() == Some(true) {
                    self.wake.notified().await;
                }
                continue;
            }
            self.set(State::Restarting, Some(why.clone()), None);
            if !reported {
                self.report(State::Restarting, Some(why));
                reported = true;
            }
            let backoff = Duration::from_millis(500 << failures.min(6));
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.wake.notified() => {}
            }
            if self.wanted() != Some(true) {
                reported = false;
            }
        }
    }

    /// One connection from start to end.
    async fn run_once(self: &Arc<Self>) -> Ended {
        let (changed_tx, mut changed) = mpsc::unbounded_channel();
        let progress = ProgressMap::default();
        let handler = Handler::new(changed_tx, progress.clone());
        let timeout = self.config.startup_timeout;
        let connected = tokio::select! {
            r = tokio::time::timeout(timeout, self.connect(handler)) => match r {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "the server did not finish starting within {} ms (startup_timeout_ms)",
                    timeout.as_millis()
                )),
            },
            _ = self.wake.notified() => return Ended::Stopped,
        };
        let (running, group) = match connected {
            Ok(c) => c,
            Err(e) => return Ended::Failed(e),
        };
        let listed = tokio::time::timeout(timeout, list(running.peer())).await;
        let (tools, prompts, resources) = match listed {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Ended::Failed(format!("tools/list failed: {e}")),
            Err(_) => return Ended::Failed("tools/list did not answer in time".into()),
        };
        let peer = running.peer().clone();
        let conn = |tools, prompts| {
            Arc::new(Conn {
                peer: peer.clone(),
                tools,
                prompts,
                resources,
                progress: progress.clone(),
            })
        };
        self.set(State::Ready, None, Some(conn(tools, prompts)));
        self.report(State::Ready, None);
        self.settled.send_replace(true);
        let stop = running.cancellation_token();
        let mut waiting = std::pin::pin!(running.waiting());
        let ended = loop {
            tokio::select! {
                quit = &mut waiting => {
                    break Ended::Failed(match quit {
                        Ok(reason) => format!("the connection closed ({reason:?})"),
                        Err(e) => format!("the connection task failed: {e}"),
                    });
                }
                _ = self.wake.notified() => {
                    if self.wanted() != Some(true) {
                        stop.cancel();
                        break Ended::Stopped;
                    }
                }
                Some(_) = changed.recv() => {
                    // Re-listed whole: a list_changed names no tool.
                    if let Ok(Ok((tools, prompts, _))) = tokio::time::timeout(timeout, list(&peer)).await {
                        self.set(State::Ready, None, Some(conn(tools, prompts)));
                        self.report(State::Ready, None);
                    }
                }
            }
        };
        drop(group);
        lock(&self.inner).pid = None;
        if let Ended::Failed(why) = &ended {
            self.set(State::Restarting, Some(why.clone()), None);
        }
        ended
    }

    /// Starts the transport and completes `initialize`.
    async fn connect(
        &self,
        handler: Handler,
    ) -> Result<(RunningService<RoleClient, Handler>, Option<GroupKill>), String> {
        match &self.config.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let dir = cwd.as_deref().or(self.workdir.as_deref());
                let started = stdio::spawn(command, args, env, dir, &self.tail)?;
                {
                    let mut inner = lock(&self.inner);
                    if inner.closed || !inner.enabled {
                        return Err("stopped while starting".into());
                    }
                    inner.pid = Some(started.group.pid());
                }
                let stdio::Started {
                    group,
                    mut child,
                    stdout,
                    stdin,
                } = started;
                // Reaps the child when it exits, so it never lingers as a zombie.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                let running = handler
                    .serve((stdout, stdin))
                    .await
                    .map_err(|e| format!("initialize failed: {e}"))?;
                Ok((running, Some(group)))
            }
            Transport::Http {
                url,
                headers,
                bearer_token_env,
            } => {
                let transport = super::http::transport(url, headers, bearer_token_env.as_deref())?;
                let running = handler
                    .serve(transport)
                    .await
                    .map_err(|e| format!("initialize failed: {e}"))?;
                Ok((running, None))
            }
        }
    }
}

/// Tools, prompts (when offered) and whether resources are offered.
async fn list(
    peer: &Peer<RoleClient>,
) -> Result<(Vec<Tool>, Vec<Prompt>, bool), rmcp::service::ServiceError> {
    let caps = peer.peer_info().map(|i| i.capabilities.clone());
    let tools = match caps.as_ref().and_then(|c| c.tools.as_ref()) {
        Some(_) => peer.list_all_tools().await?,
        None => Vec::new(),
    };
    let prompts = match caps.as_ref().and_then(|c| c.prompts.as_ref()) {
        Some(_) => peer.list_all_prompts().await.unwrap_or_default(),
        None => Vec::new(),
    };
    let resources = caps.as_ref().is_some_and(|c| c.resources.is_some());
    Ok((tools, prompts, resources))
}
