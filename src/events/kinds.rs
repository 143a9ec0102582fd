//! Event kinds by name, and payloads received from a remote gateway (kept as the JSON it sent, typed by kind).

use serde::Serialize;
use serde_json::Value;

use super::EventKind;

/// A payload received from a remote gateway: the event's own fields (`kind` among them) as the gateway rendered
/// them, so republishing it gives hosts the same JSON the gateway's client produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePayload {
    /// The kind named by the `kind` field.
    pub kind: EventKind,
    /// Every field but `seq`, `session_id` and `parent_id`.
    pub fields: serde_json::Map<String, Value>,
}

impl Serialize for RemotePayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.fields.serialize(s)
    }
}

impl RemotePayload {
    /// The payload of a gateway's event JSON, `None` when its `kind` is not one this build knows.
    pub fn from_event(mut fields: serde_json::Map<String, Value>) -> Option<RemotePayload> {
        let kind = EventKind::from_name(fields.get("kind")?.as_str()?)?;
        for key in ["seq", "session_id", "parent_id"] {
            fields.remove(key);
        }
        Some(RemotePayload { kind, fields })
    }
}

impl EventKind {
    /// Every kind with its JSON name.
    pub const NAMES: &'static [(EventKind, &'static str)] = &[
        (EventKind::SessionStarted, "session_started"),
        (EventKind::SessionStopped, "session_stopped"),
        (EventKind::SessionRestarted, "session_restarted"),
        (EventKind::SubagentStarted, "subagent_started"),
        (EventKind::StatusChanged, "status_changed"),
        (EventKind::MessagesChanged, "messages_changed"),
        (EventKind::TextDelta, "text_delta"),
        (EventKind::ThinkingDelta, "thinking_delta"),
        (EventKind::ToolStarted, "tool_started"),
        (EventKind::ToolUpdate, "tool_update"),
        (EventKind::ToolEnded, "tool_ended"),
        (EventKind::ToolAutoApproved, "tool_auto_approved"),
        (EventKind::ApprovalPending, "approval_pending"),
        (EventKind::ApprovalResolved, "approval_resolved"),
        (EventKind::FileChanged, "file_changed"),
        (EventKind::PromptQueued, "prompt_queued"),
        (EventKind::QueuesRecalled, "queues_recalled"),
        (EventKind::ContextUsage, "context_usage"),
        (EventKind::TurnLimitReached, "turn_limit_reached"),
        (EventKind::TurnEnded, "turn_ended"),
        (EventKind::Error, "error"),
        (EventKind::EventsDropped, "events_dropped"),
        (EventKind::Retrying, "retrying"),
        (EventKind::OptionsRestored, "options_restored"),
        (EventKind::CommandRan, "command_ran"),
        (EventKind::SandboxLimited, "sandbox_limited"),
        (EventKind::SubagentFinished, "subagent_finished"),
        (EventKind::BoundaryViolated, "boundary_violated"),
        (EventKind::McpServerStatus, "mcp_server_status"),
        (EventKind::HookFailed, "hook_failed"),
        (EventKind::ContextFilesLoaded, "context_files_loaded"),
        (EventKind::BudgetExhausted, "budget_exhausted"),
    ];

    /// The kind whose JSON name is `name`.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(k, _)| *k)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Event, Payload, TurnEnd};
    use super::*;

    #[test]
    fn a_remote_payload_renders_as_the_gateway_sent_it() {
        let sent = serde_json::json!({"seq": 4, "session_id": "s", "kind": "text_delta", "message_id": 2, "delta": "x"});
        let Value::Object(fields) = sent.clone() else {
            unreachable!()
        };
        let payload = RemotePayload::from_event(fields).unwrap();
        assert_eq!(payload.kind, EventKind::TextDelta);
        let ev = Event {
            seq: 4,
            session_id: Some("s".into()),
            parent_session_id: None,
            payload: Payload::Remote(payload),
        };
        assert_eq!(serde_json::from_str::<Value>(&ev.to_json()).unwrap(), sent);
        assert_eq!(ev.to_value(), sent);
        assert!(RemotePayload::from_event(serde_json::Map::new()).is_none());
        // Every kind's name is the one its payloads serialize with.
        let end = Payload::TurnEnded {
            usage: None,
            reason: TurnEnd::Completed,
        };
        let v = serde_json::to_value(&end).unwrap();
        assert_eq!(
            EventKind::from_name(v["kind"].as_str().unwrap()),
            Some(EventKind::TurnEnded)
        );
    }
}
