//! MCP servers as tool sources: a session's configured Model Context Protocol servers (stdio children or
//! streamable HTTP, through the official `rmcp` SDK), their tools offered as `mcp__<server>__<tool>`, their state
//! for hosts, and failure isolation (a failing server is reported, restarted with backoff, and takes only its own
//! tools and calls down with it). Built with the Cargo feature `mcp` (on by default); without it the configuration
//! is still checked, then refused with `NotSupported`, and no session has servers (`off.rs`).

pub mod config;
#[cfg(feature = "mcp")]
mod handler;
#[cfg(feature = "mcp")]
mod http;
#[cfg(not(feature = "mcp"))]
mod off;
#[cfg(feature = "mcp")]
mod prompts;
#[cfg(feature = "mcp")]
pub mod server;
#[cfg(feature = "mcp")]
mod servers;
#[cfg(feature = "mcp")]
mod stdio;
#[cfg(feature = "mcp")]
mod tools;

pub use config::ServerConfig;
#[cfg(not(feature = "mcp"))]
pub use off::{McpServers, StatusSink};
#[cfg(feature = "mcp")]
pub use server::StatusSink;
#[cfg(feature = "mcp")]
pub use servers::McpServers;
