//! A session's MCP servers as one tool source: their tools, prompts and state for hosts.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use super::server::Server;
use super::tools::{self, Target};
use super::{config, prompts, ServerConfig, StatusSink};
use crate::error::{Error, Result};
use crate::tools::{SourceFuture, ToolContext, ToolOutcome, ToolSource};
use crate::vocab::model::ToolSpec;

/// The MCP servers of one session.
pub struct McpServers {
    servers: Vec<Arc<Server>>,
}

impl std::fmt::Debug for McpServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.servers).finish()
    }
}

impl McpServers {
    /// The servers of `configs`, not started yet; status reports go to `sink`, stdio servers start in `workdir`
    /// unless configured otherwise.
    pub fn new(configs: Vec<ServerConfig>, workdir: Option<PathBuf>, sink: StatusSink) -> Self {
        McpServers {
            servers: configs
                .into_iter()
                .map(|c| Server::new(c, workdir.clone(), sink.clone()))
                .collect(),
        }
    }

    /// The servers of `configs` (see [`McpServers::new`]); `None` only in a build without the `mcp` feature.
    pub fn build(
        configs: Vec<ServerConfig>,
        workdir: Option<PathBuf>,
        sink: StatusSink,
    ) -> Option<Self> {
        Some(Self::new(configs, workdir, sink))
    }

    /// Starts every enabled server on `rt` (each on its own supervisor task).
    pub fn launch(&self, rt: &tokio::runtime::Handle) {
        for s in &self.servers {
            s.launch(rt);
        }
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The names of the configured servers.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.servers.iter().map(|s| s.config.name.as_str())
    }

    /// Every server with its state and tools: `[{name, transport, enabled, state, detail, stderr, trust,
    /// tools: [{name, tool, description, gated}]}]`.
    pub fn list(&self) -> Value {
        Value::Array(self.servers.iter().map(|s| describe(s)).collect())
    }

    /// Enables or disables server `name` at run time (`NotFound` for a name not configured).
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        let s = self
            .servers
            .iter()
            .find(|s| s.config.name == name)
            .ok_or_else(|| {
                Error::NotFound(format!("no MCP server named {name:?} in this session"))
            })?;
        s.set_enabled(enabled);
        Ok(())
    }

    /// The prompts of ready servers, as slash commands: `(mcp__<server>__<prompt>, description)`.
    pub fn prompts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in &self.servers {
            if let Some(c) = s.conn() {
                for p in &c.prompts {
                    out.push((
                        tools::offered_name(&s.config.name, &p.name),
                        p.description.clone().unwrap_or_else(|| {
                            format!("Prompt {} of MCP server {}", p.name, s.config.name)
                        }),
                    ));
                }
            }
        }
        out
    }

    /// The text of the prompt the slash command `offered` (`mcp__<server>__<prompt>`) names, with `args` (nothing,
    /// a JSON object of strings, or text for the prompt's first argument), fetched with `prompts/get` within the
    /// server's `timeout_ms`.
    pub async fn prompt_text(&self, offered: &str, args: &str) -> Result<String> {
        let s = self
            .server_of(offered)
            .ok_or_else(|| Error::NotFound(format!("no MCP prompt named {offered}")))?;
        let conn = s
            .conn()
            .ok_or_else(|| Error::NotFound(self.unavailable(offered).unwrap_or_default()))?;
        let name = &s.config.name;
        let prompt = conn
            .prompts
            .iter()
            .find(|p| tools::offered_name(name, &p.name) == offered)
            .ok_or_else(|| Error::NotFound(format!("MCP server {name} has no prompt {offered}")))?;
        let arguments = prompts::arguments(prompt, args)?;
        let timeout = s.config.call_timeout;
        tokio::time::timeout(timeout, prompts::text(name, &conn, &prompt.name, arguments))
            .await
            .map_err(|_| {
                Error::Timeout(format!(
                    "MCP server {name} did not answer prompts/get within {} ms",
                    timeout.as_millis()
                ))
            })?
    }

    /// Stops every server now: connections closed, child process groups killed.
    pub fn shutdown(&self) {
        for s in &self.servers {
            s.shutdown();
        }
    }

    /// The server whose tools carry `offered`'s prefix.
    fn server_of(&self, offered: &str) -> Option<&Arc<Server>> {
        let rest = offered.strip_prefix("mcp__")?;
        let (name, _) = rest.split_once("__")?;
        self.servers.iter().find(|s| s.config.name == name)
    }
}

impl Drop for McpServers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn describe(s: &Server) -> Value {
    let (state, detail, stderr) = s.status();
    let name = &s.config.name;
    let tools: Vec<Value> = match s.conn() {
        Some(c) => tools::specs(name, &c)
            .into_iter()
            .map(|spec| {
                let (tool, gated) = match tools::target(s, &c, &spec.name) {
                    Some(Target::Tool(t, g)) => (t, g),
                    _ => ("read_resource".to_string(), false),
                };
                json!({"name": spec.name, "tool": tool, "description": spec.description, "gated": gated})
            })
            .collect(),
        None => Vec::new(),
    };
    let transport = match s.config.transport {
        config::Transport::Stdio { .. } => "stdio",
        config::Transport::Http { .. } => "http",
    };
    json!({
        "name": name,
        "transport": transport,
        "enabled": s.enabled(),
        "state": state.name(),
        "detail": detail,
        "stderr": stderr,
        "tools": tools,
    })
}

impl ToolSource for McpServers {
    fn ready(&self) -> SourceFuture<'_, ()> {
        Box::pin(async move {
            for s in &self.servers {
                s.settled().await;
            }
        })
    }

    fn specs(&self) -> Vec<ToolSpec> {
        self.servers
            .iter()
            .filter_map(|s| s.conn().map(|c| tools::specs(&s.config.name, &c)))
            .flatten()
            .collect()
    }

    fn unavailable(&self, name: &str) -> Option<String> {
        let s = self.server_of(name)?;
        if s.conn().is_some() {
            return None;
        }
        let (state, detail, _) = s.status();
        let why = detail.map_or_else(String::new, |d| format!(": {d}"));
        Some(format!(
            "MCP server {} is not available ({}{why})",
            s.config.name,
            state.name()
        ))
    }

    fn destructive(&self, name: &str) -> Option<bool> {
        let s = self.server_of(name)?;
        match s.conn() {
            Some(c) => match tools::target(s, &c, name)? {
                Target::Tool(_, gated) => Some(gated),
                Target::ReadResource => Some(false),
            },
            // A server that is down still owns its names (the call fails with a message); gated to be safe.
            None => Some(true),
        }
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        ctx: &'a ToolContext,
    ) -> SourceFuture<'a, ToolOutcome> {
        Box::pin(async move {
            let Some(s) = self.server_of(name) else {
                return ToolOutcome::error(format!("Tool '{name}' not found"));
            };
            let Some(conn) = s.conn() else {
                return ToolOutcome::error(self.unavailable(name).unwrap_or_default());
            };
            match tools::target(s, &conn, name) {
                Some(Target::Tool(tool, _)) => tools::call(s, conn, &tool, args, ctx).await,
                Some(Target::ReadResource) => tools::read_resource(s, conn, args).await,
                None => ToolOutcome::error(format!(
                    "MCP server {} has no tool offered as '{name}' (its tool list changed)",
                    s.config.name
                )),
            }
        })
    }
}
