//! tandem as an ACP agent: serves one client over a JSON-RPC connection, each ACP session a tandem session of the
//! given [`Client`] (its ID is the ACP session ID, so a stored session is loaded again by that ID).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agent_client_protocol_schema::v1::{
    AgentCapabilities, CurrentModeUpdate, Implementation, InitializeRequest, InitializeResponse,
    ListSessionsResponse, LoadSessionRequest, LoadSessionResponse, McpCapabilities,
    NewSessionRequest, NewSessionResponse, PromptCapabilities, PromptRequest, PromptResponse,
    SessionCapabilities, SessionConfigOption, SessionConfigOptionValue, SessionInfo,
    SessionListCapabilities, SessionMode, SessionModeState, SessionUpdate,
    SetSessionConfigOptionRequest, SetSessionConfigOptionResponse, SetSessionModeRequest,
};
use agent_client_protocol_schema::ProtocolVersion;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use super::editor::ClientFiles;
use super::rpc::{self, Connection, Incoming, RpcError};
use super::turn::{pump, send_update, Forward, Waiter};
use super::updates::{replay, Mapper};
use crate::client::Client;
use crate::error::Error;
use crate::session::machine::state::PromptOutcome;

/// How the agent starts sessions.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// `provider:model` for every new session; `None` leaves it to the client's session defaults.
    pub model: Option<String>,
}

/// One ACP session being served.
struct Live {
    waiter: Arc<Waiter>,
    subscription: u64,
}

struct Agent {
    client: Arc<Client>,
    conn: Arc<Connection>,
    options: AgentOptions,
    /// What the client advertised: `fs/read_text_file`, `fs/write_text_file`.
    fs: Mutex<(bool, bool)>,
    sessions: Mutex<HashMap<String, Live>>,
}

/// Serves ACP on `reader` / `writer` until the client closes its end, then stops every session it served (so no
/// turn or approval outlives the client).
pub async fn serve<R, W>(client: Arc<Client>, options: AgentOptions, reader: R, writer: W)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (conn, mut incoming) = rpc::spawn(reader, writer);
    let agent = Arc::new(Agent {
        client,
        conn,
        options,
        fs: Mutex::new((false, false)),
        sessions: Mutex::new(HashMap::new()),
    });
    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Request { id, method, params } => {
                let agent = agent.clone();
                tokio::spawn(async move {
                    let result = agent.handle(&method, params).await;
                    agent.conn.respond(id, result);
                });
            }
            Incoming::Notification { method, params } if method == "session/cancel" => {
                if let Some(id) = params.get("sessionId").and_then(Value::as_str) {
                    let id = id.to_string();
                    let _ = agent.blocking(move |c| c.abort(&id)).await;
                }
            }
            // Other notifications (extensions) are ignored, as JSON-RPC allows.
            Incoming::Notification { .. } => {}
        }
    }
    let served: Vec<(String, Live)> = lock(&agent.sessions).drain().collect();
    for (id, live) in served {
        let _ = agent
            .blocking(move |c| {
                let _ = c.unsubscribe(live.subscription);
                let _ = c.set_editor_files(&id, None);
                c.stop_session(&id)
            })
            .await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::invalid_params(e.to_string()))
}

fn to_json<T: serde::Serialize>(v: T) -> Result<Value, RpcError> {
    Ok(serde_json::to_value(v).expect("responses serialize"))
}

/// tandem's errors as JSON-RPC errors: bad input is invalid params, an unknown session is ACP's resource not found.
fn rpc_error(e: Error) -> RpcError {
    match e {
        Error::InvalidArgument(m) => RpcError::invalid_params(m),
        Error::NotFound(m) => RpcError::new(-32002, m),
        e => RpcError::internal(e.to_string()),
    }
}

/// The modes a session offers: tandem's exec (tools run, gated by approvals) and plan (read-only tools).
fn modes(current: &str) -> SessionModeState {
    SessionModeState::new(
        current.to_string(),
        vec![
            SessionMode::new("exec", "Exec")
                .description("Work on the files: tools run, writes ask first"),
            SessionMode::new("plan", "Plan")
                .description("Read and plan: tools that change things are refused"),
        ],
    )
}

/// A fresh ACP session ID (a tandem session ID): random, so it never continues another stored session.
fn new_session_id() -> Result<String, RpcError> {
    let mut b = [0u8; 12];
    getrandom::getrandom(&mut b).map_err(|e| RpcError::internal(e.to_string()))?;
    Ok(format!(
        "acp-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

impl Agent {
    /// Runs a client call on the blocking pool (client calls wait on the session actors).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Client) -> crate::error::Result<T> + Send + 'static,
    ) -> Result<T, RpcError> {
        let client = self.client.clone();
        tokio::task::spawn_blocking(move || f(&client))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map_err(rpc_error)
    }

    async fn handle(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "initialize" => self.initialize(parse(params)?),
            // Keys come from the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...): there is nothing to log in to.
            "authenticate" => Ok(json!({})),
            "session/new" => self.new_session(parse(params)?).await,
            "session/load" => self.load_session(parse(params)?).await,
            "session/list" => self.list_sessions(params).await,
            "session/prompt" => self.prompt(parse(params)?).await,
            "session/set_mode" => self.set_mode(parse(params)?).await,
            "session/set_config_option" => self.set_config_option(parse(params)?).await,
            m => Err(RpcError::new(-32601, format!("method not found: {m}"))),
        }
    }

    fn initialize(&self, req: InitializeRequest) -> Result<Value, RpcError> {
        let fs = &req.client_capabilities.fs;
        *lock(&self.fs) = (fs.read_text_file, fs.write_text_file);
        let caps = AgentCapabilities::new()
            .load_session(true)
            .prompt_capabilities(PromptCapabilities::new().image(true).embedded_context(true))
            .mcp_capabilities(McpCapabilities::new().http(true))
            .session_capabilities(SessionCapabilities::new().list(SessionListCapabilities::new()));
        to_json(
            InitializeResponse::new(ProtocolVersion::V1)
                .agent_capabilities(caps)
                .agent_info(Implementation::new("tandem", crate::VERSION).title("tandem")),
        )
    }

    /// The options of session `id` in `cwd` with the client's MCP servers (in ACP's shape, which tandem reads).
    fn session_options(&self, id: &str, cwd: &Path, mcp: Value) -> Result<String, RpcError> {
        if !cwd.is_absolute() {
            return Err(RpcError::invalid_params("cwd must be an absolute path"));
        }
        let mut o = json!({"session_id": id, "workdir": cwd});
        if let Some(m) = &self.options.model {
            o["model"] = json!(m);
        }
        if mcp.as_array().is_some_and(|a| !a.is_empty()) {
            o["mcp_servers"] = mcp;
        }
        Ok(o.to_string())
    }

    /// Starts serving session `id` in `cwd`: the client's files, the event pump.
    async fn attach(&self, id: &str, cwd: &Path) -> Result<(), RpcError> {
        let (read, write) = *lock(&self.fs);
        if read || write {
            let files = ClientFiles::new(
                self.conn.clone(),
                tokio::runtime::Handle::current(),
                id,
                read,
                write,
            );
            let (sid, files) = (id.to_string(), Arc::new(files));
            self.blocking(move |c| c.set_editor_files(&sid, Some(files)))
                .await?;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let sid = id.to_string();
        let subscription = self
            .blocking(move |c| c.subscribe(Some(&sid), Box::new(Forward(tx))))
            .await?;
        let waiter = Arc::new(Waiter::default());
        lock(&self.sessions).insert(
            id.to_string(),
            Live {
                waiter: waiter.clone(),
                subscription,
            },
        );
        // tandem canonicalizes the workdir; tool locations are shown under the same path.
        let workdir = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        let mapper = Mapper::new(Some(workdir));
        tokio::spawn(pump(
            self.client.clone(),
            self.conn.clone(),
            id.to_string(),
            mapper,
            waiter,
            rx,
        ));
        Ok(())
    }

    /// Undoes [`Agent::attach`] for a session that failed to start.
    async fn detach(&self, id: &str) {
        let live = lock(&self.sessions).remove(id);
        let sid = id.to_string();
        let _ = self
            .blocking(move |c| {
                if let Some(l) = live {
                    let _ = c.unsubscribe(l.subscription);
                }
                c.set_editor_files(&sid, None)
            })
            .await;
    }

    async fn new_session(&self, req: NewSessionRequest) -> Result<Value, RpcError> {
        let id = new_session_id()?;
        let options = self.session_options(&id, &req.cwd, to_json(&req.mcp_servers)?)?;
        self.attach(&id, &req.cwd).await?;
        if let Err(e) = self
            .blocking(move |c| c.start_session(Some(&options)))
            .await
        {
            self.detach(&id).await;
            return Err(e);
        }
        let config = self.config_options(&id).await?;
        to_json(
            NewSessionResponse::new(id)
                .modes(modes("exec"))
                .config_options(config),
        )
    }

    async fn load_session(&self, req: LoadSessionRequest) -> Result<Value, RpcError> {
        let id = req.session_id.0.to_string();
        if lock(&self.sessions).contains_key(&id) {
            return Err(RpcError::invalid_params(format!(
                "session {id} is already loaded"
            )));
        }
        let stored = self.blocking(|c| c.list_conversations()).await?;
        if !stored.iter().any(|c| c["session_id"] == json!(id)) {
            return Err(RpcError::new(-32002, format!("no stored session {id}")));
        }
        let options = self.session_options(&id, &req.cwd, to_json(&req.mcp_servers)?)?;
        self.attach(&id, &req.cwd).await?;
        let sid = id.clone();
        let started = self
            .blocking(move |c| {
                c.start_or_get_session(&sid, Some(&options))?;
                c.messages(&sid)
            })
            .await;
        let messages = match started {
            Ok(m) => m,
            Err(e) => {
                self.detach(&id).await;
                return Err(e);
            }
        };
        for u in replay(Some(&req.cwd), &messages) {
            send_update(&self.conn, &id, u);
        }
        let config = self.config_options(&id).await?;
        to_json(
            LoadSessionResponse::new()
                .modes(modes("exec"))
                .config_options(config),
        )
    }

    /// Stored sessions, newest first: each session's newest conversation. The store does not keep a session's
    /// workdir in its listing, so `cwd` is the one the client asked about (or this process's).
    async fn list_sessions(&self, params: Value) -> Result<Value, RpcError> {
        let cwd = match params.get("cwd").and_then(Value::as_str) {
            Some(c) => PathBuf::from(c),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        let stored = self.blocking(|c| c.list_conversations()).await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for c in &stored {
            let Some(sid) = c["session_id"].as_str() else {
                continue;
            };
            if !seen.insert(sid.to_string()) {
                continue;
            }
            let title = c["title"].as_str().map(str::to_string);
            let updated = c["last_message_at"].as_str().map(str::to_string);
            out.push(
                SessionInfo::new(sid.to_string(), cwd.clone())
                    .title(title)
                    .updated_at(updated),
            );
        }
        to_json(ListSessionsResponse::new(out))
    }

    async fn prompt(&self, req: PromptRequest) -> Result<Value, RpcError> {
        let id = req.session_id.0.to_string();
        let waiter = lock(&self.sessions)
            .get(&id)
            .map(|l| l.waiter.clone())
            .ok_or_else(|| RpcError::new(-32002, format!("unknown session {id}")))?;
        let parts = super::prompt::parts(&req.prompt).map_err(RpcError::invalid_params)?;
        let (tx, rx) = oneshot::channel();
        if !waiter.set(tx) {
            return Err(RpcError::invalid_params(
                "a prompt is already running in this session",
            ));
        }
        let sid = id.clone();
        match self.blocking(move |c| c.send_prompt(&sid, parts)).await {
            Ok(PromptOutcome::Sent) => {}
            // A slash command ran instead of a turn; the queued cases cannot happen with one prompt at a time.
            Ok(_) => waiter.finish(Ok(agent_client_protocol_schema::v1::StopReason::EndTurn)),
            Err(e) => waiter.finish(Err(e)),
        }
        let reason = rx
            .await
            .map_err(|_| RpcError::internal("the session stopped"))??;
        to_json(PromptResponse::new(reason))
    }

    /// The model and thinking options of session `id` as they are now.
    async fn config_options(&self, id: &str) -> Result<Vec<SessionConfigOption>, RpcError> {
        let sid = id.to_string();
        let (models, meta) = self
            .blocking(move |c| Ok((c.available_models(&sid)?, c.metadata(&sid)?)))
            .await?;
        Ok(super::config::options(&models, &meta))
    }

    /// `model` switches the model, `thinking` the thinking level; answers with the options as they are then.
    async fn set_config_option(
        &self,
        req: SetSessionConfigOptionRequest,
    ) -> Result<Value, RpcError> {
        let id = req.session_id.0.to_string();
        let SessionConfigOptionValue::ValueId { value } = &req.value else {
            return Err(RpcError::invalid_params(
                "model and thinking take a value ID",
            ));
        };
        let (sid, value) = (id.clone(), value.0.to_string());
        match &*req.config_id.0 {
            "model" => self.blocking(move |c| c.set_model(&sid, &value)).await?,
            "thinking" => {
                self.blocking(move |c| c.set_thinking_level(&sid, &value))
                    .await?
            }
            other => {
                return Err(RpcError::invalid_params(format!(
                    "unknown config option {other}: model or thinking"
                )))
            }
        }
        to_json(SetSessionConfigOptionResponse::new(
            self.config_options(&id).await?,
        ))
    }

    async fn set_mode(&self, req: SetSessionModeRequest) -> Result<Value, RpcError> {
        let id = req.session_id.0.to_string();
        let mode = req.mode_id.0.to_string();
        let sid = id.clone();
        match mode.as_str() {
            "plan" => self.blocking(move |c| c.enter_plan(&sid)).await?,
            "exec" => self.blocking(move |c| c.enter_exec(&sid)).await?,
            m => {
                return Err(RpcError::invalid_params(format!(
                    "unknown mode {m}: exec or plan"
                )))
            }
        }
        send_update(
            &self.conn,
            &id,
            SessionUpdate::CurrentModeUpdate(CurrentModeUpdate::new(mode)),
        );
        Ok(json!({}))
    }
}
