//! One prompt's turn in an external ACP agent: its `session/update`s become provider events, its permission
//! requests go through the session's gate (a tandem approval the host answers), and its `fs/*` requests run
//! tandem's own file tools (workdir confinement, edit boundaries, file changes recorded).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::agent::s;
use super::control::Control;
use super::rpc::RpcError;
use super::terminal::{self, Terminals};
use crate::provider::{ProviderEvent, TurnLink};
use crate::tools::{ToolContext, ToolSet};
use crate::vocab::content::Usage;
use crate::vocab::gate::{Gate, GateRequest, Permission};

/// Where a tool call the agent reported stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Shown as pending (`tool_call`), not yet let run by the gate.
    Proposed,
    /// Let run.
    Started,
    /// Ended (completed, failed or refused).
    Ended,
}

/// The state of one turn.
pub(crate) struct Turn {
    link: Arc<dyn TurnLink>,
    tools: Arc<ToolSet>,
    approval_timeout: Duration,
    calls: HashMap<String, (String, Stage)>,
    /// The call the agent is working on, named in file changes its `fs/*` requests make.
    current: Option<String>,
    pub(crate) usage: Option<Usage>,
    /// Where changes of the agent's options and mode are noted.
    control: Arc<Control>,
    publish: super::Publish,
    /// Calls the host approved through the agent's permission requests (their terminals need no second approval).
    approved: HashSet<String>,
    /// Calls made for terminals created outside an approved call, ended when their command has.
    standalone: HashSet<String>,
    /// The `diff`s the agent reported for each call (recorded as file changes when the call completes).
    diffs: HashMap<String, Vec<Value>>,
    /// (call, path) of the changes tandem's own file tools made for the agent, not to be recorded twice.
    written: HashSet<(String, String)>,
    terminals: Terminals,
    /// Whether terminals ask (`None`: they do), run, or are refused: the session's rule for `shell`.
    terminal_policy: Option<Permission>,
}

/// The text of an ACP content list (`[{type: content, content: {type: text, text}}, ...]`); diffs and terminals
/// are left out (the caller adds a shown terminal's output).
fn content_text(content: &Value) -> String {
    let mut out = String::new();
    for c in content.as_array().into_iter().flatten() {
        if c["type"] == "content" && c["content"]["type"] == "text" {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s(&c["content"], "text"));
        }
    }
    out
}

/// An ACP plan's entries as `plan_updated` has them: `{content, priority, status}`, entries with another shape left
/// out.
fn plan_entries(entries: &Value) -> Value {
    const PRIORITIES: &[&str] = &["high", "medium", "low"];
    const STATUSES: &[&str] = &["pending", "in_progress", "completed"];
    let valid = |e: &&Value| {
        e["content"].is_string()
            && PRIORITIES.contains(&s(e, "priority"))
            && STATUSES.contains(&s(e, "status"))
    };
    Value::Array(
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(valid)
            .map(|e| json!({"content": e["content"], "priority": e["priority"], "status": e["status"]}))
            .collect(),
    )
}

impl Turn {
    pub(crate) fn new(
        link: Arc<dyn TurnLink>,
        tools: Arc<ToolSet>,
        approval_timeout: Duration,
        control: Arc<Control>,
        publish: super::Publish,
    ) -> Turn {
        Turn {
            link,
            tools,
            approval_timeout,
            calls: HashMap::new(),
            current: None,
            usage: None,
            control,
            publish,
            approved: HashSet::new(),
            standalone: HashSet::new(),
            diffs: HashMap::new(),
            written: HashSet::new(),
            terminals: Terminals::default(),
            terminal_policy: None,
        }
    }

    /// Shows call `id` (a `tool_call` or a permission request's `toolCall`) as pending, once.
    fn propose(&mut self, call: &Value) -> String {
        let id = s(call, "toolCallId").to_string();
        if !self.calls.contains_key(&id) {
            let name = match (s(call, "name"), s(call, "title"), s(call, "kind")) {
                (n, _, _) if !n.is_empty() => n,
                (_, t, _) if !t.is_empty() => t,
                (_, _, k) if !k.is_empty() => k,
                _ => "tool",
            }
            .to_string();
            let args = call.get("rawInput").cloned().unwrap_or_else(|| json!({}));
            self.link.emit(ProviderEvent::ToolProposed {
                id: id.clone(),
                name: name.clone(),
                args,
            });
            self.calls.insert(id.clone(), (name, Stage::Proposed));
        }
        self.current = Some(id.clone());
        id
    }

    /// Asks the session's gate about call `id`: `ask` for an approval (a permission the agent requested, a
    /// terminal), else it is only let run (`destructive`: refused in plan mode). Returns the refusal text, if
    /// refused (the call has then ended).
    async fn gate(
        &mut self,
        id: &str,
        args: &Value,
        ask: bool,
        destructive: bool,
    ) -> Option<String> {
        let (name, stage) = self.calls.get(id).cloned()?;
        // A call is only let run once, but a permission request is always the host's to answer, even for a call the
        // agent already reported running: codex-acp shows its patch `in_progress` before asking to apply it.
        if stage != Stage::Proposed && !ask {
            return None;
        }
        let request = GateRequest {
            tool_call_id: id.to_string(),
            name: name.clone(),
            args: args.clone(),
            destructive: destructive || ask,
            ask,
            protected: false,
            preview: if ask {
                json!({"lines": []})
            } else {
                Value::Null
            },
        };
        let refusal = match self.link.gate(request, self.approval_timeout).await {
            Gate::Run => {
                if stage == Stage::Proposed {
                    self.calls.insert(id.to_string(), (name, Stage::Started));
                }
                return None;
            }
            Gate::Refuse(text) => text,
            Gate::Wait => "internal error: the gate did not decide".to_string(),
        };
        self.end(id, &refusal, true);
        Some(refusal)
    }

    fn end(&mut self, id: &str, result: &str, is_error: bool) {
        if let Some((name, stage)) = self.calls.get_mut(id) {
            if *stage != Stage::Ended {
                *stage = Stage::Ended;
                self.link.emit(ProviderEvent::ToolEnd {
                    id: id.to_string(),
                    name: name.clone(),
                    result: result.to_string(),
                    is_error,
                });
            }
        }
    }

    /// Handles one `session/update`.
    pub(crate) async fn update(&mut self, update: &Value) {
        match s(update, "sessionUpdate") {
            "agent_message_chunk" if update["content"]["type"] == "text" => self.link.emit(
                ProviderEvent::TextDelta(s(&update["content"], "text").into()),
            ),
            "agent_thought_chunk" if update["content"]["type"] == "text" => self.link.emit(
                ProviderEvent::ThinkingDelta(s(&update["content"], "text").into()),
            ),
            "tool_call" | "tool_call_update" => {
                let id = self.propose(update);
                let status = s(update, "status");
                if matches!(status, "in_progress" | "completed" | "failed") {
                    // The agent runs it without having asked: the session still sees it start.
                    let args = update.get("rawInput").cloned().unwrap_or(Value::Null);
                    self.gate(&id, &args, false, false).await;
                }
                let mut text = content_text(&update["content"]);
                // A call showing a terminal (the agent ran its command there): the terminal's output is its text.
                let shown = update["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["type"] == "terminal")
                    .filter_map(|c| self.terminals.output_of(s(c, "terminalId")));
                for out in shown.collect::<Vec<_>>() {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&out);
                }
                let diffs: Vec<Value> = update["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["type"] == "diff" && c["path"].is_string())
                    .cloned()
                    .collect();
                if !diffs.is_empty() {
                    self.diffs.insert(id.clone(), diffs);
                }
                match status {
                    "completed" => {
                        self.record_diffs(&id);
                        self.end(&id, &text, false);
                    }
                    "failed" => self.end(&id, &text, true),
                    _ if !text.is_empty() => {
                        if let Some((name, Stage::Started)) = self.calls.get(&id) {
                            self.link.emit(ProviderEvent::ToolUpdate {
                                id: id.clone(),
                                name: name.clone(),
                                partial: text,
                            });
                        }
                    }
                    _ => {}
                }
            }
            "usage_update" => self.link.emit(ProviderEvent::ContextUsage {
                estimated_tokens: update["used"].as_u64().unwrap_or(0),
                context_limit: update["size"].as_u64(),
            }),
            "config_option_update" => self.control.options_changed(&update["configOptions"]),
            "current_mode_update" => self.control.mode_changed(s(update, "currentModeId")),
            "plan" => (self.publish)(crate::events::Payload::PlanUpdated {
                entries: plan_entries(&update["entries"]),
            }),
            // Commands and the rest have no place in tandem's transcript.
            _ => {}
        }
    }

    /// Answers one request of the agent.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: &Value,
    ) -> Result<Value, RpcError> {
        match method {
            "session/request_permission" => Ok(self.permission(params).await),
            "fs/read_text_file" => {
                let mut args = json!({"path": s(params, "path")});
                if let Some(line) = params["line"].as_u64() {
                    args["offset"] = json!(line);
                }
                if let Some(limit) = params["limit"].as_u64() {
                    args["limit"] = json!(limit);
                }
                let text = self.file_tool("read_file", args).await?;
                // A slice comes with a `[lines a-b of n]` header line for the model; the agent asked for the text.
                let text = match (
                    params["line"].is_u64() || params["limit"].is_u64(),
                    text.split_once('\n'),
                ) {
                    (true, Some((head, rest))) if head.starts_with("[lines ") => rest.to_string(),
                    _ => text,
                };
                Ok(json!({"content": text}))
            }
            "fs/write_text_file" => {
                let args = json!({"path": s(params, "path"), "content": s(params, "content")});
                self.file_tool("write_file", args).await.map(|_| json!({}))
            }
            "terminal/create" => self.create_terminal(params).await,
            m if m.starts_with("terminal/") => {
                let tid = s(params, "terminalId").to_string();
                let before = self.terminals.finished(&tid);
                let answer = self.terminals.request(m, params).await;
                if let Some((call, output, failed)) = self.terminals.finished(&tid).or(before) {
                    if self.standalone.remove(&call) {
                        self.end(&call, &output, failed);
                    }
                }
                answer
            }
            m => Err(RpcError::new(-32601, format!("method not found: {m}"))),
        }
    }

    /// A permission request as a tandem approval: the host's approve (any scope) picks the agent's allow-once
    /// option (tandem keeps the trust itself), a rejection its reject-once option.
    async fn permission(&mut self, params: &Value) -> Value {
        let call = &params["toolCall"];
        let id = self.propose(call);
        let args = call.get("rawInput").cloned().unwrap_or(Value::Null);
        let refused = self.gate(&id, &args, true, true).await.is_some();
        if !refused {
            self.approved.insert(id.clone());
        }
        let want: &[&str] = if refused {
            &["reject_once", "reject_always"]
        } else {
            &["allow_once", "allow_always"]
        };
        let options = params["options"].as_array().cloned().unwrap_or_default();
        let pick = want
            .iter()
            .find_map(|k| options.iter().find(|o| o["kind"] == *k));
        match pick {
            Some(o) => json!({"outcome": {"outcome": "selected", "optionId": o["optionId"]}}),
            None => json!({"outcome": {"outcome": "cancelled"}}),
        }
    }

    /// Sets how terminals are approved (see [`super::AcpOptions::terminal_policy`]).
    pub(crate) fn with_terminal_policy(mut self, policy: Option<Permission>) -> Turn {
        self.terminal_policy = policy;
        self
    }

    /// `terminal/create`: the command runs as a `shell` call, approved by the host, unless the agent is working on a
    /// call the host approved through its permission request (the terminal is that call's work).
    async fn create_terminal(&mut self, params: &Value) -> Result<Value, RpcError> {
        let Some(workdir) = self.tools.workdir().map(std::path::Path::to_path_buf) else {
            return Err(RpcError::new(
                -32601,
                "terminals need the session's workdir",
            ));
        };
        if !self.tools.has("shell") {
            return Err(RpcError::new(-32601, "the session's shell tool is off"));
        }
        if self.terminal_policy == Some(Permission::Deny) {
            return Err(RpcError::new(
                -32002,
                "the session's tool_permissions deny the shell tool",
            ));
        }
        let line = terminal::command_line(params, &workdir)?;
        let under = self.current.clone().filter(|c| {
            self.approved.contains(c) && matches!(self.calls.get(c), Some((_, Stage::Started)))
        });
        let call = match under {
            Some(c) => c,
            None => {
                let id = format!("acp-terminal-{}", self.calls.len() + 1);
                let args = json!({"command": line});
                self.link.emit(ProviderEvent::ToolProposed {
                    id: id.clone(),
                    name: "shell".into(),
                    args: args.clone(),
                });
                self.calls
                    .insert(id.clone(), ("shell".into(), Stage::Proposed));
                let ask = self.terminal_policy != Some(Permission::Allow);
                if let Some(refusal) = self.gate(&id, &args, ask, true).await {
                    return Err(RpcError::new(-32002, refusal));
                }
                self.standalone.insert(id.clone());
                id
            }
        };
        let limit = params["outputByteLimit"]
            .as_u64()
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        let tid = self.terminals.create(self.tools.clone(), call, line, limit);
        Ok(json!({"terminalId": tid}))
    }

    /// Runs tandem's file tool `name` for the agent, in the session's workdir, under its boundaries; a change is
    /// reported as the current call's.
    async fn file_tool(&mut self, name: &str, args: Value) -> Result<String, RpcError> {
        let bounds = self.link.boundaries().await;
        let call = self.current.clone().unwrap_or_else(|| "acp-fs".into());
        let ctx = ToolContext::new(call)
            .with_boundaries(move |path| bounds.get(&*path.to_string_lossy()).copied());
        let out = self.tools.execute(name, &args, &ctx).await;
        if out.is_error {
            return Err(RpcError::new(-32002, out.text));
        }
        if let Some(mut change) = out.file_change {
            change.line_edits = out.line_edits;
            self.written
                .insert((change.tool_call_id.clone(), change.path.clone()));
            self.link.emit(ProviderEvent::FileChanged(change));
        }
        Ok(out.text)
    }

    /// Records the edits completed call `id` made by itself (its `diff` content: an agent such as codex-acp applies
    /// patches without tandem's file tools) as file changes, except those tandem's own file tools made for it.
    fn record_diffs(&mut self, id: &str) {
        for d in self.diffs.remove(id).unwrap_or_default() {
            let path = s(&d, "path");
            if self.written.contains(&(id.to_string(), path.to_string())) {
                continue;
            }
            let change = crate::tools::file_change_of(
                id,
                std::path::Path::new(path),
                d["oldText"].as_str(),
                Some(s(&d, "newText")),
            );
            self.link.emit(ProviderEvent::FileChanged(change));
        }
    }

    /// Ends every call the agent left open (the turn ended or failed under it).
    pub(crate) fn close(&mut self, why: &str) {
        // Its terminals end with it.
        self.terminals = Terminals::default();
        let open: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, (_, stage))| *stage != Stage::Ended)
            .map(|(id, _)| id.clone())
            .collect();
        for id in open {
            self.end(&id, why, true);
        }
    }
}
