//! One external ACP agent: its process (leader of its own process group, killed whole on drop), the JSON-RPC
//! connection on its stdin/stdout, the tail of its stderr, and the ACP session tandem opened in it.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::rpc::{self, Connection, Incoming};
use crate::provider::pi::process::{keep_tail, GroupKill};

/// A running agent with an open ACP session.
pub(crate) struct AgentProcess {
    // Field order matters: the group is killed before the child handle (itself `kill_on_drop`) is dropped.
    _group: GroupKill,
    child: tokio::process::Child,
    stderr: Arc<Mutex<String>>,
    pub(crate) conn: Arc<Connection>,
    pub(crate) incoming: mpsc::UnboundedReceiver<Incoming>,
    /// The ACP session tandem works in.
    pub(crate) session_id: String,
    /// The answer of `session/new` or `session/load`: the session's config options and modes.
    pub(crate) advertised: Value,
    /// The answer of the last prompt, while it has not come (its turn was aborted).
    pub(crate) pending: Option<tokio::task::JoinHandle<Result<Value, rpc::RpcError>>>,
}

/// What opening the session did: a new session, or the earlier one loaded again.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// A new session (`Some(why)`: the earlier one could not be loaded, the agent's context starts empty).
    New(Option<String>),
    /// The earlier session was loaded.
    Loaded,
}

impl AgentProcess {
    /// Starts `argv` in `cwd`, initializes it (advertising the file methods and terminals when `caps` says so) and
    /// opens a session:
    /// `resume` is loaded again when the agent can load sessions, else a new one is started.
    pub(crate) async fn start(
        argv: &[String],
        cwd: &Path,
        caps: (bool, bool),
        resume: Option<&str>,
        limit: Duration,
    ) -> Result<(AgentProcess, Opened), String> {
        let program = argv.first().ok_or("acp_command is empty")?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the ACP agent ({program:?}): {e}"))?;
        let pid = child.id().ok_or("the ACP agent exited at once")?;
        let group = GroupKill(pid);
        let (Some(stdin), Some(stdout), Some(stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the ACP agent's pipes could not be opened".into());
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        tokio::spawn(keep_tail(stderr_pipe, stderr.clone()));
        let (conn, incoming) = rpc::spawn(stdout, stdin);
        let mut agent = AgentProcess {
            _group: group,
            child,
            stderr,
            conn,
            incoming,
            session_id: String::new(),
            advertised: Value::Null,
            pending: None,
        };
        let opened = match tokio::time::timeout(limit, agent.open(cwd, caps, resume)).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(format!("{e}{}", agent.exit_note().await)),
            Err(_) => {
                return Err(format!(
                    "the ACP agent did not initialize within {} ms{}",
                    limit.as_millis(),
                    agent.exit_note().await
                ))
            }
        };
        Ok((agent, opened))
    }

    async fn open(
        &mut self,
        cwd: &Path,
        (files, terminal): (bool, bool),
        resume: Option<&str>,
    ) -> Result<Opened, String> {
        let init = json!({
            "protocolVersion": 1,
            "clientCapabilities": {"fs": {"readTextFile": files, "writeTextFile": files}, "terminal": terminal},
            "clientInfo": {"name": "tandem", "version": crate::VERSION},
        });
        let v = self
            .conn
            .request("initialize", init)
            .await
            .map_err(|e| format!("the ACP agent refused initialize: {}", e.message))?;
        if v["protocolVersion"] != 1 {
            return Err(format!(
                "the ACP agent speaks protocol version {}, tandem speaks 1",
                v["protocolVersion"]
            ));
        }
        let can_load = v["agentCapabilities"]["loadSession"] == true;
        let mut note = None;
        if let Some(id) = resume {
            if can_load {
                let params = json!({"sessionId": id, "cwd": cwd, "mcpServers": []});
                match self.conn.request("session/load", params).await {
                    Ok(v) => {
                        // The history the agent replayed is tandem's transcript already.
                        while self.incoming.try_recv().is_ok() {}
                        self.session_id = id.to_string();
                        self.advertised = v;
                        return Ok(Opened::Loaded);
                    }
                    Err(e) => {
                        note = Some(format!(
                            "it could not load its earlier session: {}",
                            e.message
                        ))
                    }
                }
            } else {
                note = Some("it cannot load its earlier session".to_string());
            }
        }
        self.new_session(cwd).await?;
        Ok(Opened::New(note))
    }

    /// Opens a new ACP session in `cwd` (`session/new`) and works in it from now on.
    pub(crate) async fn new_session(&mut self, cwd: &Path) -> Result<(), String> {
        let v = self
            .conn
            .request("session/new", json!({"cwd": cwd, "mcpServers": []}))
            .await
            .map_err(|e| format!("the ACP agent refused session/new: {}", e.message))?;
        self.session_id = v["sessionId"]
            .as_str()
            .ok_or("the ACP agent's session/new answer has no sessionId")?
            .to_string();
        self.advertised = v;
        Ok(())
    }

    /// Waits (at most `limit`) for the answer of a prompt whose turn was aborted, answering the requests the agent
    /// still makes for it as cancelled, then drops what else it sent for it. `false` when the agent would not
    /// settle (it is better replaced).
    pub(crate) async fn settle(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        if let Some(pending) = self.pending.as_mut() {
            loop {
                tokio::select! {
                    _ = &mut *pending => break,
                    msg = self.incoming.recv() => match msg {
                        None => return false,
                        Some(Incoming::Request { id, method, .. }) => refuse(&self.conn, id, &method),
                        Some(Incoming::Notification { .. }) => {}
                    },
                    () = tokio::time::sleep_until(deadline) => return false,
                }
            }
            self.pending = None;
        }
        // Requests sent before the answer are queued still.
        while let Ok(msg) = self.incoming.try_recv() {
            if let Incoming::Request { id, method, .. } = msg {
                refuse(&self.conn, id, &method);
            }
        }
        true
    }

    /// `: <how it exited>` when the process has exited (with its stderr's tail), else nothing.
    pub(crate) async fn exit_note(&mut self) -> String {
        let status = match tokio::time::timeout(Duration::from_millis(500), self.child.wait()).await
        {
            Ok(Ok(s)) => s.to_string(),
            _ => return String::new(),
        };
        // The stderr reader may still be catching up with the last bytes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let tail = crate::sync::lock(&self.stderr).trim().to_string();
        if tail.is_empty() {
            format!(" (it exited: {status})")
        } else {
            format!(" (it exited: {status}: {tail})")
        }
    }
}

/// Answers a request of a cancelled prompt: a permission as cancelled, anything else as an error.
fn refuse(conn: &Connection, id: Value, method: &str) {
    let answer = if method == "session/request_permission" {
        Ok(json!({"outcome": {"outcome": "cancelled"}}))
    } else {
        Err(rpc::RpcError::new(-32800, "the turn was cancelled"))
    };
    conn.respond(id, answer);
}

/// Sends `session/cancel` when a turn's future is dropped mid-run (tandem's abort).
pub(crate) struct CancelOnDrop(pub(crate) Option<(Arc<Connection>, String)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((conn, id)) = self.0.take() {
            conn.notify("session/cancel", json!({"sessionId": id}));
        }
    }
}

/// A JSON value's string at `key`, or "".
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}
