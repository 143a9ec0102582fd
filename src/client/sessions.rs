//! The client's session calls: start and stop, prompts and queues, conversations, models, skills, compaction,
//! plan mode, boundaries and the queries hosts make of a session.

#[cfg(feature = "remote")]
use serde_json::json;
use serde_json::Value;

use super::Client;
use crate::error::{Error, Result};
use crate::events::StopReason;
use crate::session::machine::approvals::Decision;
use crate::session::machine::state::{Command, EditOp, PromptOutcome, QueueOp, Reply};
use crate::session::machine::transcript::{ContentPart, Level};
use crate::sync::lock;
use crate::vocab::settings::Status;

impl Client {
    /// Starts a session from options JSON; returns its ID.
    pub fn start_session(&self, options_json: Option<&str>) -> Result<String> {
        via_remote!(self, r => { self.alive()?; r.start(options_json, None) });
        let id = self.live()?.start(options_json)?;
        self.session_start_hooks(&id)?;
        Ok(id)
    }

    /// Returns live session `id` or starts it.
    pub fn start_or_get_session(&self, id: &str, options_json: Option<&str>) -> Result<String> {
        via_remote!(self, r => { self.alive()?; r.start(options_json, Some(id)) });
        let m = self.live()?;
        let started = !m.is_live(id);
        let id = m.start_or_get(id, options_json)?;
        if started {
            self.session_start_hooks(&id)?;
        }
        Ok(id)
    }

    /// Stops a session.
    pub fn stop_session(&self, id: &str) -> Result<()> {
        via_remote!(self, r => { self.alive()?; r.stop(id) });
        self.live()?.stop(id, StopReason::Stopped)
    }

    /// Metadata of every live session.
    pub fn list_sessions(&self) -> Result<Vec<Value>> {
        via_remote!(self, r => { self.alive()?; Ok(r.list()?.as_array().cloned().unwrap_or_default()) });
        Ok(self.live()?.list())
    }

    /// [`Client::list_sessions`] rendered as a JSON array (what `tandem_session_list` returns), without building
    /// intermediate `Value`s.
    pub fn list_sessions_json(&self) -> Result<String> {
        via_remote!(self, r => { self.alive()?; Ok(r.list()?.to_string()) });
        Ok(self.live()?.list_json())
    }

    /// Sends a prompt made of content parts; while a turn runs it is queued as steering. A slash command
    /// (see [`crate::commands`]) is run instead.
    pub fn send_prompt(&self, id: &str, parts: Vec<ContentPart>) -> Result<PromptOutcome> {
        via_remote!(self, r => self.remote_prompt(r, id, "send_prompt", parts));
        if self.run_command(id, &parts, false)?.is_some() {
            return Ok(PromptOutcome::Command);
        }
        let parts = self.prompt_hooks(id, parts)?;
        self.live()?.prompt(id, parts, false)
    }

    /// Like [`Client::send_prompt`], but while a turn runs the prompt waits for the turn's end as a follow-up.
    pub fn queue_follow_up(&self, id: &str, parts: Vec<ContentPart>) -> Result<PromptOutcome> {
        via_remote!(self, r => self.remote_prompt(r, id, "queue_follow_up", parts));
        if self.run_command(id, &parts, true)?.is_some() {
            return Ok(PromptOutcome::Command);
        }
        let parts = self.prompt_hooks(id, parts)?;
        self.live()?.prompt(id, parts, true)
    }

    /// Sends `parts` to the model as they are (no slash command is looked for): what a command that expands to a
    /// prompt sends.
    pub(crate) fn live_prompt(
        &self,
        id: &str,
        parts: Vec<ContentPart>,
        follow_up: bool,
    ) -> Result<PromptOutcome> {
        self.live()?.prompt(id, parts, follow_up)
    }

    /// Publishes `payload` on session `id`'s event stream.
    pub(crate) fn publish(&self, id: &str, payload: crate::events::Payload) -> Result<()> {
        self.live()?.publish(id, payload)
    }

    /// A queue operation: show, dequeue steering, recall or clear. Returns the queue contents it concerns.
    pub fn queues(&self, id: &str, op: QueueOp) -> Result<Value> {
        via_remote!(self, r => {
            let method = match op {
                QueueOp::Show => "queued_messages",
                QueueOp::DequeueSteering => "dequeue_steering",
                QueueOp::Recall => "recall_queues",
                QueueOp::Clear => "clear_queues",
            };
            self.remote_call(r, id, method, json!({}))
        });
        match self.live()?.call(id, Command::Queue(op))? {
            Reply::Json(v) => Ok(v),
            _ => Ok(Value::Null),
        }
    }

    /// Archives the session's conversation and starts a new one; returns the new conversation's ID.
    pub fn new_conversation(&self, id: &str) -> Result<String> {
        via_remote!(self, r => self.remote_call(r, id, "new_conversation", json!({})).and_then(as_string));
        self.live()?.new_conversation(id)
    }

    /// Loads a stored conversation into the session.
    pub fn load_conversation(&self, id: &str, conversation_id: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "load_conversation", json!({"conversation_id": conversation_id})).map(drop));
        self.live()?.load_conversation(id, conversation_id)
    }

    /// Stored conversations, newest first.
    pub fn list_conversations(&self) -> Result<Vec<Value>> {
        local_only!(self, "tandem_conversation_list");
        self.live()?.conversations()
    }

    /// Deletes a stored conversation.
    pub fn delete_conversation(&self, conversation_id: &str) -> Result<()> {
        local_only!(self, "tandem_conversation_delete");
        self.live()?.delete_conversation(conversation_id)
    }

    /// Aborts the running turn.
    pub fn abort(&self, id: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "abort", json!({})).map(drop));
        self.live()?.abort(id)
    }

    /// The session's token.
    pub fn token(&self, id: &str) -> Result<String> {
        via_remote!(self, r => { self.alive()?; r.token(id) });
        self.live()?.token(id)
    }

    /// Starts a background sub-agent; returns its handle.
    pub fn start_subagent(
        &self,
        parent: Option<&str>,
        task: &str,
        options_json: Option<&str>,
    ) -> Result<Value> {
        #[cfg(feature = "remote")]
        if let Some(parent) = parent {
            local_only!(self, parent, "tandem_subagent_start");
        }
        local_only!(self, "tandem_subagent_start");
        self.live()?.start_subagent(parent, task, options_json)
    }

    /// Sub-agent handles, oldest first.
    pub fn list_subagents(&self, parent: Option<&str>) -> Result<Value> {
        local_only!(self, "tandem_subagent_list");
        Ok(serde_json::to_value(self.live()?.subagents(parent)).expect("handles serialize"))
    }

    /// Applies a transcript or boundary edit; returns its JSON result (`null` when it has none).
    pub fn edit(&self, id: &str, op: EditOp) -> Result<Value> {
        local_only!(
            self,
            id,
            match op {
                EditOp::BranchAt(_) => "tandem_session_branch_at",
                EditOp::SwitchBranch(_) => "tandem_session_switch_branch",
                EditOp::ToggleCollapse(_) => "tandem_session_toggle_tool_collapse",
                EditOp::ToggleAllCollapses => "tandem_session_toggle_all_tool_collapses",
                EditOp::SetBoundary { .. } => "tandem_session_set_boundary",
                EditOp::ClearBoundary(_) => "tandem_session_clear_boundary",
                EditOp::ClearAllBoundaries => "tandem_session_clear_all_boundaries",
            }
        );
        match self.live()?.call(id, Command::Edit(op))? {
            Reply::Json(v) => Ok(v),
            _ => Ok(Value::Null),
        }
    }

    /// Answers the pending approval (`approval_id` must name it when given).
    pub fn respond_to_approval(
        &self,
        id: &str,
        approval_id: Option<&str>,
        decision: Decision,
    ) -> Result<()> {
        via_remote!(self, r => self.remote_call(
            r,
            id,
            "respond_to_approval",
            json!({"approval_id": approval_id, "decision": decision.name()}),
        )
        .map(drop));
        let cmd = Command::Respond {
            approval_id: approval_id.map(Into::into),
            decision,
        };
        self.live()?.call(id, cmd).map(drop)
    }

    /// The tools the session trusts (approved for the turn or the conversation): `{name: "turn" | "session"}`.
    pub fn trusted_tools(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "trusted_tools", json!({})));
        self.live()?.with_state(id, |s| s.trust())
    }

    /// Revokes the trust granted to tool `name`, or to every tool with `None`.
    pub fn revoke_trust(&self, id: &str, name: Option<&str>) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "revoke_trust", json!({"name": name})).map(drop));
        let cmd = Command::RevokeTrust(name.map(Into::into));
        self.live()?.call(id, cmd).map(drop)
    }

    /// Switches to the next model of the session's `models` rotation (an ACP session without one: the next model its
    /// agent offers); returns `{model, index, total, thinking_level}`.
    pub fn cycle_model(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "cycle_model", json!({})));
        match self.json_call(id, Command::CycleModel) {
            // An ACP session without a rotation cycles through its agent's models.
            Err(Error::NotSupported(why)) => {
                self.acp_cycle_model(id)?.ok_or(Error::NotSupported(why))
            }
            other => other,
        }
    }

    /// Sets the thinking level (`off`, `low`, `medium`, `high`).
    pub fn set_thinking_level(&self, id: &str, level: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "set_thinking_level", json!({"level": level})).map(drop));
        let level = crate::vocab::settings::ThinkingLevel::parse(level)?;
        self.check_acp_thinking(id, level)?;
        self.live()?.call(id, Command::SetThinking(level)).map(drop)
    }

    /// Moves to the next thinking level (for an ACP session: the next its agent offers); returns `{level}`.
    pub fn cycle_thinking_level(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "cycle_thinking_level", json!({})));
        match self.acp_next_thinking(id)? {
            Some(level) => {
                self.live()?.call(id, Command::SetThinking(level))?;
                Ok(serde_json::json!({"level": level.name()}))
            }
            None => self.json_call(id, Command::CycleThinking),
        }
    }

    /// The text of MCP prompt `name` (`mcp__<server>__<prompt>`) of session `id` with `args`, from its server.
    /// Blocks for the server's answer (at most the server's `timeout_ms`).
    pub fn mcp_prompt_text(&self, id: &str, name: &str, args: &str) -> Result<String> {
        local_only!(
            self,
            id,
            "MCP prompts as slash commands (mcp__server__prompt)"
        );
        let Some(mcp) = self.live()?.mcp_of(id)? else {
            return Err(Error::NotFound(format!("session {id} has no MCP servers")));
        };
        let Some(rt) = lock(&self.runtime).as_ref().map(|rt| rt.handle().clone()) else {
            return Err(Error::ShuttingDown);
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (name, args) = (name.to_string(), args.to_string());
        rt.spawn(async move {
            let _ = tx.send(mcp.prompt_text(&name, &args).await);
        });
        // The task answers within the server's timeout, or is dropped with the runtime.
        rx.recv().map_err(|_| Error::ShuttingDown)?
    }

    /// Session `id`'s MCP servers: `[{name, transport, enabled, state, detail, stderr, tools}]`.
    pub fn mcp_servers(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "mcp_servers", json!({})));
        self.live()?.mcp_list(id)
    }

    /// Enables or disables MCP server `name` of session `id`.
    pub fn mcp_set_enabled(&self, id: &str, name: &str, enabled: bool) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "mcp_set_enabled", json!({"name": name, "enabled": enabled})).map(drop));
        self.live()?.mcp_set_enabled(id, name, enabled)
    }

    /// Skills found for the session: `[{name, description, path, active}]`.
    pub fn list_skills(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "list_skills", json!({})));
        let found = crate::skills::discover(&self.live()?.skill_dirs(id)?);
        let active = self.live()?.with_state(id, |s| s.active_skills())?;
        Ok(Value::Array(
            found
                .into_iter()
                .map(|s| {
                    let on = active.contains(&s.name);
                    serde_json::json!({"name": s.name, "description": s.description, "path": s.path, "active": on})
                })
                .collect(),
        ))
    }

    /// Activates skill `name`: its SKILL.md joins the system prompt from the next model call on.
    pub fn activate_skill(&self, id: &str, name: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "activate_skill", json!({"name": name})).map(drop));
        if self.live()?.provider_kind(id)? == "pi" {
            return Err(Error::NotSupported(
                "a pi session uses pi's own skills (from its skill directories; its commands list them); tandem \
                 cannot add one"
                    .into(),
            ));
        }
        let content = crate::skills::load(&self.live()?.skill_dirs(id)?, name)?;
        self.live()?
            .call(
                id,
                Command::ActivateSkill {
                    name: name.into(),
                    content,
                },
            )
            .map(drop)
    }

    /// Deactivates skill `name` (`NotFound` when it is not active).
    pub fn deactivate_skill(&self, id: &str, name: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "deactivate_skill", json!({"name": name})).map(drop));
        self.live()?
            .call(id, Command::DeactivateSkill(name.into()))
            .map(drop)
    }

    fn json_call(&self, id: &str, cmd: Command) -> Result<Value> {
        match self.live()?.call(id, cmd)? {
            Reply::Json(v) => Ok(v),
            other => Err(Error::Internal(format!(
                "expected a JSON reply, got {other:?}"
            ))),
        }
    }

    /// Compacts the model context (keeping the session's `compaction.keep_recent` messages); blocks for the model's
    /// summary. Returns `{compacted, info, summary?}`.
    pub fn compact(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "compact", json!({})));
        let keep_recent = self.live()?.keep_recent(id)?;
        self.json_call(id, Command::Compact { keep_recent })
    }

    /// Resumes an answer cut off by a stream failure.
    pub fn continue_turn(&self, id: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "continue", json!({})).map(drop));
        self.live()?.call(id, Command::Continue).map(drop)
    }

    /// Summarizes the conversation into a Markdown file under the workdir; blocks for the model. Returns
    /// `{text, path}`.
    pub fn summarize(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "summarize", json!({})));
        self.json_call(id, Command::Summarize)
    }

    /// Enters plan mode: destructive tools are refused until [`Client::enter_exec`]. An ACP session's agent is also
    /// switched to its `plan` mode when it has one (and back when plan mode ends).
    pub fn enter_plan(&self, id: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "enter_plan", json!({})).map(drop));
        self.live()?.call(id, Command::EnterPlan)?;
        self.acp_plan(id, true)
    }

    /// Leaves plan mode (a no-op outside it).
    pub fn enter_exec(&self, id: &str) -> Result<()> {
        via_remote!(self, r => self.remote_call(r, id, "enter_exec", json!({})).map(drop));
        self.live()?.call(id, Command::EnterExec)?;
        self.acp_plan(id, false)
    }

    /// The branches of session `id`.
    pub fn list_branches(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "list_branches", json!({})));
        self.live()?.with_state(id, |s| s.list_branches())
    }

    /// The absolute path a boundary for `path` is keyed by: relative paths are taken from the session's workdir
    /// (the process's cwd without one), `.`/`..` are resolved, and existing paths are canonicalized like the tools do.
    fn boundary_path(&self, id: &str, path: &str) -> Result<String> {
        if path.is_empty() {
            return Err(Error::invalid("path must not be empty"));
        }
        let workdir = self
            .live()?
            .with_state(id, |s| s.identity().workdir.clone())?;
        let joined = match workdir {
            Some(w) if !std::path::Path::new(path).is_absolute() => format!("{w}/{path}"),
            _ => path.to_string(),
        };
        let expanded = crate::ids::expand_path(&joined)?;
        let real = expanded.canonicalize().unwrap_or(expanded);
        Ok(real.display().to_string())
    }

    /// Sets the edit boundary of `path`: lines `start_line..=end_line` (0-based).
    pub fn set_boundary(&self, id: &str, path: &str, start_line: u32, end_line: u32) -> Result<()> {
        local_only!(self, id, "tandem_session_set_boundary");
        let path = self.boundary_path(id, path)?;
        self.edit(
            id,
            EditOp::SetBoundary {
                path,
                start_line,
                end_line,
            },
        )
        .map(drop)
    }

    /// Removes the edit boundary of `path`.
    pub fn clear_boundary(&self, id: &str, path: &str) -> Result<()> {
        local_only!(self, id, "tandem_session_clear_boundary");
        let path = self.boundary_path(id, path)?;
        self.edit(id, EditOp::ClearBoundary(path)).map(drop)
    }

    /// The edit boundary of `path`, or `null`.
    pub fn boundary_for(&self, id: &str, path: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "boundary_for", json!({"path": path})));
        let path = self.boundary_path(id, path)?;
        self.live()?.with_state(id, |s| s.boundary_for(&path))
    }

    /// Files the session's tools changed, newest first.
    pub fn touched_files(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "touched_files", json!({})));
        self.live()?.with_state(id, |s| s.touched_files())
    }

    /// The session's status.
    pub fn status(&self, id: &str) -> Result<Status> {
        via_remote!(self, r => self.remote_call(r, id, "get_status", json!({})).and_then(|v| {
            serde_json::from_value(v).map_err(|e| Error::Internal(format!("the gateway's status: {e}")))
        }));
        self.live()?.with_state(id, |s| s.status())
    }

    /// All messages.
    pub fn messages(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "messages", json!({})));
        self.live()?.with_state(id, |s| {
            serde_json::to_value(s.transcript().messages()).expect("messages serialize")
        })
    }

    /// The content parts of user message `message_id`, images with their base64 data: what a host needs to show a
    /// loaded conversation's images again (the message JSON lists them only as `attachments`).
    pub fn message_parts(&self, id: &str, message_id: u64) -> Result<Vec<ContentPart>> {
        via_remote!(self, r => self.remote_call(r, id, "message_parts", json!({"message_id": message_id})).and_then(|v| {
            serde_json::from_value(v).map_err(|e| Error::Internal(format!("the gateway's content parts: {e}")))
        }));
        self.live()?.with_state(id, |s| {
            match s.transcript().get(message_id).map(|m| &m.body) {
                Some(crate::vocab::content::Body::User { parts, .. }) => Ok(parts.clone()),
                Some(_) => Err(Error::invalid(format!(
                    "message {message_id} is not a user message; only user messages have content parts"
                ))),
                None => Err(Error::NotFound(format!("no message {message_id} in session {id}"))),
            }
        })?
    }

    /// A newest-first window of messages with IDs below `before_id` (0 = newest).
    pub fn messages_page(&self, id: &str, before_id: u64, limit: u32) -> Result<Value> {
        via_remote!(self, r => {
            if limit == 0 {
                return Err(Error::invalid("limit must be at least 1"));
            }
            self.remote_call(r, id, "messages_page", json!({"before_id": before_id, "limit": limit}))
        });
        if limit == 0 {
            return Err(Error::invalid("limit must be at least 1"));
        }
        self.live()?.with_state(id, |s| {
            let (page, has_more) = s.transcript().page(before_id, limit as usize);
            serde_json::json!({"messages": page, "has_more": has_more})
        })
    }

    /// Accumulated usage.
    pub fn usage(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "usage", json!({})));
        self.live()?.with_state(id, |s| {
            serde_json::to_value(s.usage()).expect("usage serializes")
        })
    }

    /// Metadata; an ACP session's has `acp_agent`: `{model, thought_level, mode}` as its agent last reported them.
    pub fn metadata(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "metadata", json!({})));
        let mut meta = self.live()?.with_state(id, |s| s.metadata())?;
        if let Some(c) = self.acp_control(id)? {
            meta["acp_agent"] = c.report();
        }
        Ok(meta)
    }

    /// The project context files session `id` loaded (see [`crate::tools::context`]).
    pub fn context_files(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "context_files", json!({})));
        self.live()?.context_files(id)
    }

    /// Changes session `id`'s budget limits at runtime; returns its budget report.
    pub fn set_budget(&self, id: &str, budget_json: &str) -> Result<Value> {
        via_remote!(self, r => {
            let budget: Value = Error::parse_json("budget_json", budget_json)?;
            if !budget.is_object() {
                return Err(Error::invalid("budget_json must be a JSON object"));
            }
            self.remote_call(r, id, "set_budget", budget)
        });
        self.live()?.set_budget(id, budget_json)
    }

    /// The editor snapshot.
    pub fn snapshot(&self, id: &str) -> Result<Value> {
        via_remote!(self, r => self.remote_call(r, id, "snapshot", json!({})));
        let m = self.live()?;
        let mut snap = m.with_state(id, |s| s.snapshot())?;
        if let Value::Object(o) = &mut snap {
            o.insert("budget".into(), m.budget(id)?);
        }
        Ok(snap)
    }

    /// Appends a system message.
    pub fn add_system_message(&self, id: &str, text: &str, level: Level) -> Result<()> {
        via_remote!(self, r => {
            let level = match level {
                Level::Info => "info",
                Level::Error => "error",
            };
            self.remote_call(r, id, "add_system_message", json!({"text": text, "level": level})).map(drop)
        });
        self.live()?.add_system_message(id, text.into(), level)
    }

    /// Session method `method` of remote session `id`.
    #[cfg(feature = "remote")]
    fn remote_call(
        &self,
        r: &super::remote::Remote,
        id: &str,
        method: &str,
        params: Value,
    ) -> Result<Value> {
        self.alive()?;
        r.call(id, method, params)
    }

    /// A remote `send_prompt` or `queue_follow_up`: the gateway runs slash commands and prompt hooks.
    #[cfg(feature = "remote")]
    fn remote_prompt(
        &self,
        r: &super::remote::Remote,
        id: &str,
        method: &str,
        parts: Vec<ContentPart>,
    ) -> Result<PromptOutcome> {
        let outcome = self.remote_call(r, id, method, json!({"parts": parts}))?;
        match outcome.as_str() {
            Some("sent") => Ok(PromptOutcome::Sent),
            Some("queued_steering") => Ok(PromptOutcome::QueuedSteering),
            Some("queued_follow_up") => Ok(PromptOutcome::QueuedFollowUp),
            Some("command") => Ok(PromptOutcome::Command),
            _ => Err(Error::Internal(format!(
                "the gateway answered the prompt with {outcome}"
            ))),
        }
    }
}

/// A JSON string's text.
#[cfg(feature = "remote")]
fn as_string(v: Value) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Internal(format!("expected a string from the gateway, got {v}")))
}
