//! MCP in a build without the `mcp` feature: `mcp_servers` is checked and refused (`config::parse`), so no
//! session has servers and [`McpServers`] has no values; its methods exist so that callers compile unchanged.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::ServerConfig;
use crate::error::Result;
use crate::events::Payload;
use crate::tools::{SourceFuture, ToolContext, ToolOutcome, ToolSource};
use crate::vocab::model::ToolSpec;

/// Receives a server's status reports (none in this build).
pub type StatusSink = Arc<dyn Fn(Payload) + Send + Sync>;

/// A session's MCP servers: in this build there are none, so this type has no values.
#[derive(Debug)]
pub enum McpServers {}

impl McpServers {
    /// `None`: without the `mcp` feature `config::parse` refuses every server, so there is nothing to build.
    pub fn build(_: Vec<ServerConfig>, _: Option<PathBuf>, _: StatusSink) -> Option<Self> {
        None
    }

    /// Starts every enabled server (there are none).
    pub fn launch(&self, _: &tokio::runtime::Handle) {
        match *self {}
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        match *self {}
    }

    /// Every server with its state and tools.
    pub fn list(&self) -> Value {
        match *self {}
    }

    /// Enables or disables server `name`.
    pub fn set_enabled(&self, _: &str, _: bool) -> Result<()> {
        match *self {}
    }

    /// The prompts of ready servers, as slash commands.
    pub fn prompts(&self) -> Vec<(String, String)> {
        match *self {}
    }

    /// The text of the prompt the slash command `offered` names.
    pub async fn prompt_text(&self, _: &str, _: &str) -> Result<String> {
        match *self {}
    }

    /// Stops every server now.
    pub fn shutdown(&self) {
        match *self {}
    }
}

impl ToolSource for McpServers {
    fn ready(&self) -> SourceFuture<'_, ()> {
        match *self {}
    }

    fn specs(&self) -> Vec<ToolSpec> {
        match *self {}
    }

    fn unavailable(&self, _: &str) -> Option<String> {
        match *self {}
    }

    fn destructive(&self, _: &str) -> Option<bool> {
        match *self {}
    }

    fn call<'a>(
        &'a self,
        _: &'a str,
        _: &'a Value,
        _: &'a ToolContext,
    ) -> SourceFuture<'a, ToolOutcome> {
        match *self {}
    }
}
