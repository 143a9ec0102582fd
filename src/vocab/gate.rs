//! Gate vocabulary: approval modes, permissions, trust scopes, decisions and the gate's questions and answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which tool calls need the host's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Destructive tools ask (default).
    Destructive,
    /// Every tool asks.
    All,
    /// Nothing asks.
    None,
}

/// A per-tool permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Run without asking.
    Allow,
    /// Never run.
    Deny,
    /// Always ask.
    Ask,
}

/// How long a granted trust lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Until the conversation is replaced.
    Session,
    /// Until the current turn ends.
    Turn,
}

/// A host's answer to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run this call.
    Approve,
    /// Run it, and every call of this tool until the turn ends.
    ApproveTurn,
    /// Run it, and every call of this tool in this conversation.
    ApproveSession,
    /// Do not run it; the model is told.
    Reject,
}

impl Decision {
    /// Its name in events and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::ApproveTurn => "approve_turn",
            Decision::ApproveSession => "approve_session",
            Decision::Reject => "reject",
        }
    }
}

/// The gate's answer to a tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Run the tool.
    Run,
    /// Do not run it; this is its error result.
    Refuse(String),
    /// Wait: an approval is pending (the answer comes as an `Effect::ResolveApproval` of the session machine).
    Wait,
}

/// What the loop tells the gate about a tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRequest {
    /// The tool call (also the approval's ID).
    pub tool_call_id: String,
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub args: Value,
    /// Whether the tool changes files, shell state or the like.
    pub destructive: bool,
    /// Whether policy asks the host before running it.
    pub ask: bool,
    /// Whether it writes a protected path (`.git/`, `.tandem/`): it asks every time, whatever trust was granted.
    pub protected: bool,
    /// What to show the host.
    pub preview: Value,
}
