//! The Agent Client Protocol (ACP, protocol version 1): tandem as an ACP agent that editors (Zed, JetBrains,
//! Neovim, Emacs, VS Code extensions) drive over stdio, on the wire types of `agent-client-protocol-schema` and
//! tandem's own JSON-RPC transport (docs/acp.md says why).
//!
//! [`rpc`] is the newline-delimited JSON-RPC connection (shared with the ACP provider, `provider::acp`),
//! [`agent::serve`] the agent (sessions, prompts, modes, loading), `turn` the per-session pump from events to
//! updates and approvals to permission requests, `updates` the mapping of events and stored transcripts, `config`
//! the model and thinking options, `editor` the client's `fs/*` as the file tools' editor, `prompt` content blocks
//! as content parts.

pub mod agent;
mod config;
mod editor;
mod prompt;
mod turn;
mod updates;

pub use crate::provider::acp::rpc;
pub use agent::{serve, AgentOptions};
