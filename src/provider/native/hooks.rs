//! The native loop's hooks: PreToolUse and PostToolUse around each tool call, Stop when the model ends its turn,
//! PreCompact before a compaction summary (see [`crate::hooks`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::tool_calls::CallResult;
use super::{Native, TurnLink};
use crate::hooks::{input, Decision, HookEvent, Outcome};
use crate::provider::{ProviderEvent, ToolCallRequest};
use crate::vocab::content::Level;

impl Native {
    /// The session's hooks and where they run.
    fn hook_scope(&self) -> crate::hooks::Scope {
        crate::hooks::Scope {
            session_id: self.env.session_id.clone(),
            cwd: self.tools.workdir().map(std::path::Path::to_path_buf),
        }
    }

    /// Runs the tool hooks of `event` for `call` (with its result after it ran) and reports their failures.
    async fn tool_hooks(
        &self,
        event: HookEvent,
        call: &ToolCallRequest,
        result: Option<&CallResult>,
        link: &Arc<dyn TurnLink>,
    ) -> Outcome {
        let scope = self.hook_scope();
        let claude = input::claude_tool_name(&call.name);
        let out = self
            .env
            .shared
            .hooks
            .run(&scope, event, &[claude, &call.name], || {
                let mut m = BTreeMap::from([
                    ("tool_name", json!(claude)),
                    ("tandem_tool_name", json!(call.name)),
                    (
                        "tool_input",
                        input::tool_input(&call.args, scope.cwd.as_deref()),
                    ),
                    ("tool_use_id", json!(call.id)),
                ]);
                if let Some((output, is_error)) = result {
                    m.insert(
                        "tool_response",
                        json!({"output": output, "is_error": is_error}),
                    );
                }
                m
            })
            .await;
        report_failures(&out, link.as_ref());
        out
    }

    /// PreToolUse: the call as the hooks leave it (arguments rewritten) and their allow/ask, or the refusal the
    /// model sees.
    pub(super) async fn pre_tool_hooks(
        &self,
        call: &ToolCallRequest,
        link: &Arc<dyn TurnLink>,
    ) -> std::result::Result<(ToolCallRequest, Decision), CallResult> {
        let out = self
            .tool_hooks(HookEvent::PreToolUse, call, None, link)
            .await;
        if let Some(reason) = out.denied {
            return Err((format!("Blocked by a PreToolUse hook: {reason}"), true));
        }
        let mut call = call.clone();
        if let Some(rewritten) = out.tool_input {
            let cwd = self.tools.workdir();
            call.args = input::tool_args(&rewritten, &call.args, cwd);
        }
        Ok((call, out.decision))
    }

    /// PostToolUse: the result replaced or followed by the hooks' context (a denial's reason is feedback for the
    /// model after the result).
    pub(super) async fn post_tool_hooks(
        &self,
        call: &ToolCallRequest,
        result: CallResult,
        link: &Arc<dyn TurnLink>,
    ) -> CallResult {
        let out = self
            .tool_hooks(HookEvent::PostToolUse, call, Some(&result), link)
            .await;
        let (mut text, mut is_error) = result;
        if let Some((replaced, err)) = out.tool_result {
            text = replaced;
            is_error = err.unwrap_or(is_error);
        }
        let mut notes = out.context.clone();
        notes.extend(
            out.denied
                .map(|r| format!("PostToolUse hook feedback: {r}")),
        );
        for note in notes {
            text = format!("{text}\n\n{note}");
        }
        (text, is_error)
    }
}

impl Native {
    /// Stop: the reason to keep the turn going when a hook denies its end. `again` is Claude Code's
    /// `stop_hook_active`: the turn already went on once because of a Stop hook.
    pub(super) async fn stop_hooks(
        &self,
        answer: &str,
        again: bool,
        link: &Arc<dyn TurnLink>,
    ) -> Option<String> {
        let out = self
            .env
            .shared
            .hooks
            .run(&self.hook_scope(), HookEvent::Stop, &[], || {
                BTreeMap::from([
                    ("stop_hook_active", json!(again)),
                    ("last_assistant_message", json!(answer)),
                ])
            })
            .await;
        report_failures(&out, link.as_ref());
        out.denied
    }

    /// PreCompact: why the compaction must not happen, if a hook says so. `auto` is the trigger.
    pub(super) async fn pre_compact_hooks(&self, auto: bool) -> Option<String> {
        let trigger = if auto { "auto" } else { "manual" };
        let out = self
            .env
            .shared
            .hooks
            .run(
                &self.hook_scope(),
                HookEvent::PreCompact,
                &[trigger],
                || {
                    BTreeMap::from([
                        ("trigger", json!(trigger)),
                        ("custom_instructions", json!("")),
                    ])
                },
            )
            .await;
        out.denied
    }
}

/// Tells the host which hooks failed and that their default was taken: a `hook_failed` event, and a system notice
/// in the transcript.
fn report_failures(out: &Outcome, link: &dyn TurnLink) {
    for f in &out.failures {
        link.emit(ProviderEvent::HookFailed(f.clone()));
        link.emit(ProviderEvent::SystemMessage {
            text: crate::hooks::failure_notice(f),
            level: Level::Error,
        });
    }
}
