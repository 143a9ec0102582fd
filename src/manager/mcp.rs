//! The manager's side of a session's MCP servers: built from the client's and the session's configuration when
//! the session starts, their status reports published on its event stream, and the host's queries.

use std::sync::Arc;

use serde_json::Value;

use super::{Manager, Seed};
use crate::error::Result;
use crate::events::bus::SessionLog;
use crate::mcp::{config, McpServers};
use crate::session::options::Resolved;
use crate::sync::lock;
use crate::tools::ToolSet;

impl Drop for Seed {
    fn drop(&mut self) {
        // A session that is gone, however it went, leaves no server process behind.
        if let Some(m) = &self.mcp {
            m.shutdown();
        }
    }
}

impl Manager {
    /// The tools of session `id` started with `o`, with its MCP servers' when it has any, and the `task` tool
    /// when `tasks`.
    pub(super) fn tool_set(
        &self,
        id: &str,
        o: &Resolved,
        mcp: Option<&Arc<crate::mcp::McpServers>>,
        tasks: bool,
    ) -> ToolSet {
        let mut set = ToolSet::new(o.workdir.clone(), o.tools.as_deref())
            .with_shell(o.shell.clone())
            .with_host(self.host_tools.clone(), id);
        if let Some(m) = mcp {
            set = set.with_source(m.clone());
        }
        if tasks {
            set = set.with_source(Arc::new(super::tasks::Tasks {
                manager: self.me.clone(),
                parent: id.into(),
            }));
        }
        set
    }

    /// The MCP servers of a session started with `opts` (the client's, then the session's own replacing those of
    /// the same name), reporting on `log`; `None` when there are none. Not started yet (see `McpServers::launch`).
    pub(super) fn mcp_servers(
        &self,
        opts: &Resolved,
        log: &Arc<SessionLog>,
    ) -> Option<Arc<McpServers>> {
        let configs = config::overlay(&self.mcp, &opts.mcp_servers);
        if configs.is_empty() {
            return None;
        }
        let bus = self.bus.clone();
        let log = log.clone();
        let sink: crate::mcp::StatusSink = Arc::new(move |payload| {
            bus.publish(&log, payload);
        });
        McpServers::build(configs, opts.workdir.clone(), sink).map(Arc::new)
    }

    /// The MCP servers of live session `id` (`None` when it has none).
    pub fn mcp_of(&self, id: &str) -> Result<Option<Arc<McpServers>>> {
        lock(&self.reg).active(id).map(|(_, s)| s.mcp.clone())
    }

    /// Session `id`'s MCP servers with their state and tools (`[]` when it has none).
    pub fn mcp_list(&self, id: &str) -> Result<Value> {
        Ok(self
            .mcp_of(id)?
            .map_or_else(|| Value::Array(Vec::new()), |m| m.list()))
    }

    /// Enables or disables MCP server `name` of session `id`.
    pub fn mcp_set_enabled(&self, id: &str, name: &str, enabled: bool) -> Result<()> {
        match self.mcp_of(id)? {
            Some(m) => m.set_enabled(name, enabled),
            None => Err(crate::error::Error::NotFound(format!(
                "session {id} has no MCP server named {name:?}"
            ))),
        }
    }

    /// The prompts of session `id`'s ready MCP servers: `(command name, description)`.
    pub fn mcp_prompts(&self, id: &str) -> Result<Vec<(String, String)>> {
        Ok(self.mcp_of(id)?.map_or_else(Vec::new, |m| m.prompts()))
    }

    /// Whether `name` is offered by a configured MCP server of a session started with `opts` (`mcp__<server>__…`):
    /// such names may appear in `tools` and `tool_permissions` before the server has listed its tools.
    pub(super) fn is_mcp_name(&self, opts: &Resolved, name: &str) -> bool {
        let Some((server, tool)) = name.strip_prefix("mcp__").and_then(|r| r.split_once("__"))
        else {
            return false;
        };
        !tool.is_empty()
            && self
                .mcp
                .iter()
                .chain(&opts.mcp_servers)
                .any(|s| s.name == server)
    }
}
