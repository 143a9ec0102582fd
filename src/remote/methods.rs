//! The session methods of the gateway's JSON-RPC protocol: each mirrors a C API session call (`tandem_session_X`
//! is method `X`, the session being the attached one), with whether it needs the driver role.

use serde_json::{json, Map, Value};

use super::rpc::{Params, RpcError};
use crate::client::Client;
use crate::session::machine::approvals::Decision;
use crate::session::machine::state::{PromptOutcome, QueueOp};
use crate::session::machine::transcript::{ContentPart, Level};

/// A method's body: the client, the attached session's ID, the params.
pub type Handler = fn(&Client, &str, &Map<String, Value>) -> Result<Value, RpcError>;

/// A session method: its name, whether only the driver may call it, its body.
pub struct Method {
    /// The method name.
    pub name: &'static str,
    /// Whether it changes the session (driver only) rather than reading it.
    pub driver: bool,
    /// What it does.
    pub run: Handler,
}

const fn reader(name: &'static str, run: Handler) -> Method {
    Method {
        name,
        driver: false,
        run,
    }
}

const fn driver(name: &'static str, run: Handler) -> Method {
    Method {
        name,
        driver: true,
        run,
    }
}

fn done(r: crate::error::Result<()>) -> Result<Value, RpcError> {
    r.map(|()| Value::Null).map_err(Into::into)
}

fn val(r: crate::error::Result<Value>) -> Result<Value, RpcError> {
    r.map_err(Into::into)
}

/// The prompt of `send_prompt` / `queue_follow_up`: `text`, or `parts` (content parts as in
/// `tandem_session_send_prompt_parts`).
fn prompt_parts(p: &Map<String, Value>) -> Result<Vec<ContentPart>, RpcError> {
    match (p.opt_str("text")?, p.get("parts")) {
        (Some(text), None) => Ok(vec![ContentPart::Text { text: text.into() }]),
        (None, Some(parts)) => {
            crate::vocab::content::parse_parts(&parts.to_string()).map_err(Into::into)
        }
        _ => Err(RpcError::params("give exactly one of text and parts")),
    }
}

fn outcome(o: PromptOutcome) -> Value {
    json!(match o {
        PromptOutcome::Sent => "sent",
        PromptOutcome::QueuedSteering => "queued_steering",
        PromptOutcome::QueuedFollowUp => "queued_follow_up",
        PromptOutcome::Command => "command",
    })
}

fn decision(p: &Map<String, Value>) -> Result<Decision, RpcError> {
    match p.str_of("decision")? {
        "approve" => Ok(Decision::Approve),
        "approve_turn" => Ok(Decision::ApproveTurn),
        "approve_session" => Ok(Decision::ApproveSession),
        "reject" => Ok(Decision::Reject),
        other => Err(RpcError::params(format!(
            "decision must be approve, approve_turn, approve_session or reject, not {other:?}"
        ))),
    }
}

fn level(p: &Map<String, Value>) -> Result<Level, RpcError> {
    match p.opt_str("level")?.unwrap_or("info") {
        "info" => Ok(Level::Info),
        "error" => Ok(Level::Error),
        other => Err(RpcError::params(format!(
            "level must be info or error, not {other:?}"
        ))),
    }
}

fn queue(c: &Client, id: &str, op: QueueOp) -> Result<Value, RpcError> {
    val(c.queues(id, op))
}

/// Every session method, readers first.
pub static METHODS: &[Method] = &[
    reader("get_status", |c, id, _| val(c.status(id).map(|s| json!(s)))),
    reader("messages", |c, id, _| val(c.messages(id))),
    reader("messages_page", |c, id, p| {
        let limit = p.opt_u64("limit")?.unwrap_or(50);
        let limit = u32::try_from(limit).map_err(|_| RpcError::params("limit is too large"))?;
        val(c.messages_page(id, p.opt_u64("before_id")?.unwrap_or(0), limit))
    }),
    reader("message_parts", |c, id, p| {
        let mid = p
            .opt_u64("message_id")?
            .ok_or_else(|| RpcError::params("message_id is required"))?;
        val(c.message_parts(id, mid).map(|parts| json!(parts)))
    }),
    reader("usage", |c, id, _| val(c.usage(id))),
    reader("metadata", |c, id, _| val(c.metadata(id))),
    reader("snapshot", |c, id, _| val(c.snapshot(id))),
    reader("events_since", |c, id, p| {
        let since = c.events_since(id, p.opt_u64("seq")?.unwrap_or(0))?;
        Ok(json!(since))
    }),
    reader("trusted_tools", |c, id, _| val(c.trusted_tools(id))),
    reader("list_branches", |c, id, _| val(c.list_branches(id))),
    reader("touched_files", |c, id, _| val(c.touched_files(id))),
    reader("boundary_for", |c, id, p| {
        val(c.boundary_for(id, p.str_of("path")?))
    }),
    reader("context_files", |c, id, _| val(c.context_files(id))),
    reader("available_models", |c, id, _| val(c.available_models(id))),
    reader("commands", |c, id, _| val(c.commands(id))),
    reader("list_skills", |c, id, _| val(c.list_skills(id))),
    reader("mcp_servers", |c, id, _| val(c.mcp_servers(id))),
    reader("queued_messages", |c, id, _| queue(c, id, QueueOp::Show)),
    driver("send_prompt", |c, id, p| {
        Ok(outcome(c.send_prompt(id, prompt_parts(p)?)?))
    }),
    driver("queue_follow_up", |c, id, p| {
        Ok(outcome(c.queue_follow_up(id, prompt_parts(p)?)?))
    }),
    driver("abort", |c, id, _| done(c.abort(id))),
    driver("respond_to_approval", |c, id, p| {
        done(c.respond_to_approval(id, p.opt_str("approval_id")?, decision(p)?))
    }),
    driver("revoke_trust", |c, id, p| {
        done(c.revoke_trust(id, p.opt_str("name")?))
    }),
    driver("set_model", |c, id, p| {
        done(c.set_model(id, p.str_of("model")?))
    }),
    driver("cycle_model", |c, id, _| val(c.cycle_model(id))),
    driver("set_thinking_level", |c, id, p| {
        done(c.set_thinking_level(id, p.str_of("level")?))
    }),
    driver("cycle_thinking_level", |c, id, _| {
        val(c.cycle_thinking_level(id))
    }),
    driver("compact", |c, id, _| val(c.compact(id))),
    driver("continue", |c, id, _| done(c.continue_turn(id))),
    driver("summarize", |c, id, _| val(c.summarize(id))),
    driver("enter_plan", |c, id, _| done(c.enter_plan(id))),
    driver("enter_exec", |c, id, _| done(c.enter_exec(id))),
    driver("new_conversation", |c, id, _| {
        val(c.new_conversation(id).map(|cid| json!(cid)))
    }),
    driver("load_conversation", |c, id, p| {
        done(c.load_conversation(id, p.str_of("conversation_id")?))
    }),
    driver("dequeue_steering", |c, id, _| {
        queue(c, id, QueueOp::DequeueSteering)
    }),
    driver("recall_queues", |c, id, _| queue(c, id, QueueOp::Recall)),
    driver("clear_queues", |c, id, _| queue(c, id, QueueOp::Clear)),
    driver("activate_skill", |c, id, p| {
        done(c.activate_skill(id, p.str_of("name")?))
    }),
    driver("deactivate_skill", |c, id, p| {
        done(c.deactivate_skill(id, p.str_of("name")?))
    }),
    driver("add_system_message", |c, id, p| {
        done(c.add_system_message(id, p.str_of("text")?, level(p)?))
    }),
    driver("set_budget", |c, id, p| {
        val(c.set_budget(id, &Value::Object(p.clone()).to_string()))
    }),
    driver("mcp_set_enabled", |c, id, p| {
        let enabled = p
            .get("enabled")
            .and_then(Value::as_bool)
            .ok_or_else(|| RpcError::params("enabled must be a boolean"))?;
        done(c.mcp_set_enabled(id, p.str_of("name")?, enabled))
    }),
    driver("stop", |c, id, _| done(c.stop_session(id))),
];

/// The session method called `name`.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_reads_need_no_driver() {
        let mut names: Vec<_> = METHODS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len());
        assert!(!find("snapshot").unwrap().driver);
        assert!(find("send_prompt").unwrap().driver);
        assert!(find("respond_to_approval").unwrap().driver);
        assert!(find("nope").is_none());
    }

    #[test]
    fn prompts_take_text_or_parts_but_not_both() {
        let p = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(prompt_parts(&p(json!({"text": "hi"}))).unwrap().len(), 1);
        assert!(prompt_parts(&p(json!({"parts": [{"type": "text", "text": "hi"}]}))).is_ok());
        assert!(prompt_parts(&p(json!({}))).is_err());
        assert!(prompt_parts(&p(json!({"text": "a", "parts": []}))).is_err());
        assert!(decision(&p(json!({"decision": "maybe"}))).is_err());
        assert!(matches!(
            decision(&p(json!({"decision": "approve_turn"}))),
            Ok(Decision::ApproveTurn)
        ));
    }
}
