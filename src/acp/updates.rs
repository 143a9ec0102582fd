//! Tandem's events and transcript as ACP `session/update`s: text and thinking chunks, tool calls with their kind,
//! locations, diffs (from `file_changed`) and results, context usage, plans, and a stored conversation replayed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use agent_client_protocol_schema::v1::{
    ContentBlock, ContentChunk, Diff, SessionUpdate, ToolCall, ToolCallContent, ToolCallLocation,
    ToolCallStatus, ToolCallUpdate, ToolCallUpdateFields, ToolKind, UsageUpdate,
};
use serde_json::Value;

use crate::events::Payload;
use crate::vocab::files::FileAction;

/// The ACP kind of tandem tool `name` (clients pick icons and grouping from it).
pub fn tool_kind(name: &str) -> ToolKind {
    match name {
        "read_file" => ToolKind::Read,
        "write_file" | "edit_file" | "multi_edit_file" | "apply_diff" => ToolKind::Edit,
        "delete_file" => ToolKind::Delete,
        "list_directory" | "find" | "grep" => ToolKind::Search,
        "shell" => ToolKind::Execute,
        "task" => ToolKind::Think,
        _ => ToolKind::Other,
    }
}

/// A one-line title: the tool and what it works on (its path, pattern or command).
pub fn tool_title(name: &str, args: &Value) -> String {
    let subject = ["path", "command", "pattern", "task"]
        .iter()
        .find_map(|k| args.get(*k).and_then(Value::as_str));
    match subject {
        Some(s) => {
            let s: String = s.lines().next().unwrap_or("").chars().take(120).collect();
            format!("{name} {s}")
        }
        None => name.to_string(),
    }
}

/// Where a call works: its `path` argument, absolute under `workdir`.
fn locations(workdir: Option<&Path>, args: &Value) -> Vec<ToolCallLocation> {
    let Some(p) = args.get("path").and_then(Value::as_str) else {
        return Vec::new();
    };
    let path = match workdir {
        Some(w) if !Path::new(p).is_absolute() => w.join(p),
        _ => PathBuf::from(p),
    };
    vec![ToolCallLocation::new(path)]
}

/// The tool call a `tool_started` (or a stored call) opens.
pub fn tool_call(workdir: Option<&Path>, id: &str, name: &str, args: &Value) -> ToolCall {
    ToolCall::new(id.to_string(), tool_title(name, args))
        .name(name.to_string())
        .kind(tool_kind(name))
        .status(ToolCallStatus::Pending)
        .locations(locations(workdir, args))
        .raw_input(args.clone())
}

fn text(s: &str) -> ContentBlock {
    ContentBlock::from(s.to_string())
}

/// Turns one session's events into updates; keeps the diffs of each running call so its final update shows them
/// beside its result (an update's `content` replaces the call's whole content).
#[derive(Debug, Default)]
pub struct Mapper {
    workdir: Option<PathBuf>,
    diffs: HashMap<String, Vec<ToolCallContent>>,
}

impl Mapper {
    /// A mapper for a session confined to `workdir`.
    pub fn new(workdir: Option<PathBuf>) -> Mapper {
        Mapper {
            workdir,
            diffs: HashMap::new(),
        }
    }

    /// The updates `payload` makes (none for events ACP has no place for; approvals and turn ends are the
    /// caller's).
    pub fn updates(&mut self, payload: &Payload) -> Vec<SessionUpdate> {
        let update = |id: &str, f: ToolCallUpdateFields| {
            SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(id.to_string(), f))
        };
        match payload {
            Payload::TextDelta { delta, .. } => {
                vec![SessionUpdate::AgentMessageChunk(ContentChunk::new(text(
                    delta,
                )))]
            }
            Payload::ThinkingDelta { delta, .. } => {
                vec![SessionUpdate::AgentThoughtChunk(ContentChunk::new(text(
                    delta,
                )))]
            }
            Payload::ToolStarted {
                tool_call_id,
                name,
                args,
                ..
            } => vec![SessionUpdate::ToolCall(tool_call(
                self.workdir.as_deref(),
                tool_call_id,
                name,
                args,
            ))],
            Payload::ToolUpdate {
                tool_call_id,
                partial_result,
                ..
            } => vec![update(
                tool_call_id,
                ToolCallUpdateFields::new()
                    .status(ToolCallStatus::InProgress)
                    .content(vec![ToolCallContent::from(partial_result.clone())]),
            )],
            Payload::FileChanged {
                tool_call_id,
                path,
                action,
                before,
                after,
                ..
            } => {
                let old = (*action != FileAction::Created).then(|| before.clone());
                let diff =
                    ToolCallContent::from(Diff::new(path.clone(), after.clone()).old_text(old));
                let diffs = self.diffs.entry(tool_call_id.clone()).or_default();
                diffs.push(diff);
                vec![update(
                    tool_call_id,
                    ToolCallUpdateFields::new()
                        .content(diffs.clone())
                        .locations(vec![ToolCallLocation::new(path.clone())]),
                )]
            }
            Payload::ToolEnded {
                tool_call_id,
                result,
                is_error,
                ..
            } => {
                let mut content = self.diffs.remove(tool_call_id).unwrap_or_default();
                content.push(ToolCallContent::from(result.clone()));
                let status = if *is_error {
                    ToolCallStatus::Failed
                } else {
                    ToolCallStatus::Completed
                };
                vec![update(
                    tool_call_id,
                    ToolCallUpdateFields::new().status(status).content(content),
                )]
            }
            Payload::ContextUsage {
                estimated_tokens,
                context_limit: Some(limit),
            } => vec![SessionUpdate::UsageUpdate(UsageUpdate::new(
                *estimated_tokens,
                *limit,
            ))],
            Payload::PlanUpdated { entries } => {
                serde_json::from_value(serde_json::json!({ "entries": entries }))
                    .map(|plan| vec![SessionUpdate::Plan(plan)])
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

/// A stored transcript (`Client::messages`) as the updates that show it again: user and agent text, thinking,
/// finished tool calls with their results, tandem's notices as agent text.
pub fn replay(workdir: Option<&Path>, messages: &Value) -> Vec<SessionUpdate> {
    let mut out = Vec::new();
    for m in messages.as_array().into_iter().flatten() {
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
        match s("kind") {
            "user" => out.push(SessionUpdate::UserMessageChunk(ContentChunk::new(text(s(
                "text",
            ))))),
            "assistant" => out.push(SessionUpdate::AgentMessageChunk(ContentChunk::new(text(
                s("text"),
            )))),
            "thinking" => out.push(SessionUpdate::AgentThoughtChunk(ContentChunk::new(text(
                s("text"),
            )))),
            // tandem's error notices are part of the story; its informational ones (session started, ...) are not.
            "system" if s("level") == "error" => out.push(SessionUpdate::AgentMessageChunk(
                ContentChunk::new(text(&format!("[{}]\n", s("text")))),
            )),
            "tool_call" => {
                let args = m.get("args").cloned().unwrap_or(Value::Null);
                let failed = m.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                // A call still open in a stored transcript was cut off by a crash or shutdown: it did not finish.
                let status = match s("status") {
                    "complete" if !failed => ToolCallStatus::Completed,
                    _ => ToolCallStatus::Failed,
                };
                let call = tool_call(workdir, s("tool_call_id"), s("name"), &args)
                    .status(status)
                    .content(vec![ToolCallContent::from(s("result").to_string())]);
                out.push(SessionUpdate::ToolCall(call));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(u: &SessionUpdate) -> Value {
        serde_json::to_value(u).unwrap()
    }

    #[test]
    fn a_plan_goes_to_the_editor_as_a_plan_update() {
        let entries = json!([{"content": "read", "priority": "high", "status": "completed"}]);
        let plan = Mapper::new(None).updates(&Payload::PlanUpdated {
            entries: entries.clone(),
        });
        let v = wire(&plan[0]);
        assert_eq!(v["sessionUpdate"], "plan");
        assert_eq!(v["entries"], entries);
    }

    #[test]
    fn a_file_edit_shows_its_diff_beside_its_result() {
        let mut m = Mapper::new(Some("/w".into()));
        let started = m.updates(&Payload::ToolStarted {
            tool_call_id: "c1".into(),
            name: "edit_file".into(),
            args: json!({"path": "a.txt", "old_text": "x", "new_text": "y"}),
            message_id: 3,
        });
        let v = wire(&started[0]);
        assert_eq!(v["sessionUpdate"], "tool_call");
        assert_eq!(v["kind"], "edit");
        // `pending` is the default status, so the wire leaves it out.
        assert!(v.get("status").is_none_or(|s| s == "pending"), "{v}");
        assert_eq!(v["title"], "edit_file a.txt");
        assert_eq!(v["locations"][0]["path"], "/w/a.txt");
        m.updates(&Payload::FileChanged {
            tool_call_id: "c1".into(),
            tool_name: "edit_file".into(),
            path: "/w/a.txt".into(),
            action: FileAction::Modified,
            before: "x\n".into(),
            after: "y\n".into(),
            truncated: false,
        });
        let ended = m.updates(&Payload::ToolEnded {
            tool_call_id: "c1".into(),
            name: "edit_file".into(),
            result: "edited a.txt".into(),
            is_error: false,
        });
        let v = wire(&ended[0]);
        assert_eq!(v["sessionUpdate"], "tool_call_update");
        assert_eq!(v["status"], "completed");
        assert_eq!(
            v["content"][0],
            json!({"type": "diff", "path": "/w/a.txt", "oldText": "x\n", "newText": "y\n"})
        );
        assert_eq!(v["content"][1]["content"]["text"], "edited a.txt");
        assert!(m.diffs.is_empty(), "a finished call keeps nothing");
    }

    #[test]
    fn a_stored_transcript_replays_in_order() {
        let msgs = json!([
            {"id": 1, "kind": "user", "text": "hi", "attachments": []},
            {"id": 2, "kind": "thinking", "text": "hmm", "collapsed": true},
            {"id": 3, "kind": "tool_call", "tool_call_id": "c", "name": "shell", "args": {"command": "ls"},
             "status": "complete", "result": "a.txt", "is_error": false},
            {"id": 4, "kind": "assistant", "text": "done"},
            {"id": 5, "kind": "usage", "input": 1}
        ]);
        let kinds: Vec<Value> = replay(None, &msgs)
            .iter()
            .map(|u| wire(u)["sessionUpdate"].clone())
            .collect();
        assert_eq!(
            kinds,
            json!([
                "user_message_chunk",
                "agent_thought_chunk",
                "tool_call",
                "agent_message_chunk"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let call = wire(&replay(None, &msgs)[2]);
        assert_eq!(
            (call["kind"].clone(), call["status"].clone()),
            (json!("execute"), json!("completed"))
        );
    }
}
