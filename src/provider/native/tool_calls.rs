//! A turn's tool calls: permissions and the session's gate, execution with the session's edit boundaries and
//! progress, file changes, and batches in which calls that only read run concurrently while gated or destructive
//! calls run alone, in call order. Results always reach the model in call order.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::{Boundaries, Native, TurnLink};
use crate::hooks::Decision;
use crate::provider::{ProviderEvent, ToolCallRequest};
use crate::tools::watch::{violation_note, Observed, Watch};
use crate::tools::{preview, ToolContext};
use crate::vocab::gate::{ApprovalMode, Permission};
use crate::vocab::gate::{Gate, GateRequest};

/// A tool call's result text and whether it is an error.
pub type CallResult = (String, bool);

/// What the permissions and approval mode say about a tool.
enum Policy {
    Deny,
    Ask,
    Run,
}

impl Native {
    fn policy(&self, name: &str) -> Policy {
        match self.permissions.get(name) {
            Some(Permission::Deny) => Policy::Deny,
            Some(Permission::Allow) => Policy::Run,
            Some(Permission::Ask) => Policy::Ask,
            None => match self.approval {
                ApprovalMode::None => Policy::Run,
                ApprovalMode::All => Policy::Ask,
                ApprovalMode::Destructive if self.tools.is_destructive(name) => Policy::Ask,
                ApprovalMode::Destructive => Policy::Run,
            },
        }
    }

    /// Calls that must run alone: they change things, or wait for the host; except those of tools that run
    /// concurrently although gated (sub-agent tasks).
    fn runs_alone(&self, call: &ToolCallRequest) -> bool {
        !self.tools.concurrent(&call.name)
            && (self.tools.is_destructive(&call.name)
                || matches!(self.policy(&call.name), Policy::Ask))
    }

    /// Runs a batch of calls and returns their results in call order. Consecutive calls that only read run
    /// concurrently; each call that changes things or needs approval runs alone, after the calls before it.
    /// Dropping the future (abort) cancels every running call.
    pub(super) async fn run_batch(
        self: &Arc<Self>,
        calls: &[ToolCallRequest],
        link: &Arc<dyn TurnLink>,
    ) -> Vec<CallResult> {
        let mut results: Vec<Option<CallResult>> = vec![None; calls.len()];
        let mut group: Vec<usize> = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            if self.runs_alone(call) {
                self.run_group(&group, calls, link, &mut results).await;
                group.clear();
                results[i] = Some(self.clone().run_one(call.clone(), link.clone()).await);
            } else {
                group.push(i);
            }
        }
        self.run_group(&group, calls, link, &mut results).await;
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| ("internal error: the call did not run".into(), true)))
            .collect()
    }

    async fn run_group(
        self: &Arc<Self>,
        group: &[usize],
        calls: &[ToolCallRequest],
        link: &Arc<dyn TurnLink>,
        results: &mut [Option<CallResult>],
    ) {
        if let [only] = group {
            results[*only] = Some(
                self.clone()
                    .run_one(calls[*only].clone(), link.clone())
                    .await,
            );
            return;
        }
        // Started here, in call order: the tasks' scheduling must not decide the transcript's order.
        for &i in group {
            announce(&calls[i], link);
        }
        // Gated one at a time in call order (the session has one pending approval at a time); each admitted call
        // starts at once, so the calls run together.
        let mut set = JoinSet::new();
        for &i in group {
            let call = match self.admit(&calls[i], link).await {
                Ok(call) => call,
                Err(refused) => {
                    results[i] = Some(finish(calls[i].clone(), refused, link));
                    continue;
                }
            };
            let (me, link) = (self.clone(), link.clone());
            set.spawn(async move {
                let result = me.run_admitted(&call, &link).await;
                (i, finish(call, result, &link))
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, result)) => results[i] = Some(result),
                // A panicking tool is a crash of the turn, as it would be without the task.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            }
        }
    }

    /// One call from `tool_started` to `tool_ended`.
    async fn run_one(
        self: Arc<Self>,
        call: ToolCallRequest,
        link: Arc<dyn TurnLink>,
    ) -> CallResult {
        announce(&call, &link);
        self.run_started(call, link).await
    }

    /// A call whose `tool_started` was reported, up to `tool_ended`.
    async fn run_started(
        self: Arc<Self>,
        call: ToolCallRequest,
        link: Arc<dyn TurnLink>,
    ) -> CallResult {
        match self.admit(&call, &link).await {
            Ok(admitted) => {
                let result = self.run_admitted(&admitted, &link).await;
                finish(admitted, result, &link)
            }
            Err(refused) => finish(call, refused, &link),
        }
    }

    /// Runs an admitted call and its after-tool hooks.
    async fn run_admitted(&self, call: &ToolCallRequest, link: &Arc<dyn TurnLink>) -> CallResult {
        let result = self.execute(call, link).await;
        self.post_tool_hooks(call, result, link).await
    }

    /// Puts one call through permissions, the before-tool hooks and the session's gate (plan mode, trust,
    /// approval): the call to run (with the arguments a hook rewrote), else its refusal. A tool the session does
    /// not have is refused first: the host is never asked to approve a call that cannot run.
    async fn admit(
        &self,
        call: &ToolCallRequest,
        link: &Arc<dyn TurnLink>,
    ) -> Result<ToolCallRequest, CallResult> {
        // A tool of an MCP server that is down fails at once: asking to approve a call that cannot run helps nobody.
        if let Some(why) = self.tools.unavailable(&call.name) {
            return Err((why, true));
        }
        if !self.tools.has(&call.name) {
            return Err((format!("Tool '{}' not found", call.name), true));
        }
        let (call, hooked) = match self.pre_tool_hooks(call, link).await {
            Ok(c) => c,
            Err(refused) => return Err(refused),
        };
        let protected = self.tools.protected(&call.name, &call.args);
        let ask = match self.policy(&call.name) {
            Policy::Deny => {
                return Err((
                    format!("Tool '{}' is denied by per-tool permissions", call.name),
                    true,
                ))
            }
            // A hook's `ask` asks, its `allow` does not (except for protected paths).
            _ if hooked == Decision::Ask => true,
            _ if hooked == Decision::Allow => protected.is_some(),
            // A write to `.git/` or `.tandem/` asks whatever the approval mode or permissions say.
            Policy::Ask => true,
            Policy::Run => protected.is_some(),
        };
        let preview = if ask {
            let mut p =
                preview::build_off_workers(self.tools.workdir(), &call.name, &call.args).await;
            p.lines.extend(protected.clone());
            serde_json::to_value(p).unwrap_or_default()
        } else {
            serde_json::Value::Null
        };
        let request = GateRequest {
            tool_call_id: call.id.clone(),
            name: call.name.clone(),
            args: call.args.clone(),
            destructive: self.tools.is_destructive(&call.name) || protected.is_some(),
            ask,
            protected: protected.is_some(),
            preview,
        };
        match link.gate(request, self.approval_timeout).await {
            Gate::Run => Ok(call),
            Gate::Refuse(text) => Err((text, true)),
            Gate::Wait => Err(("internal error: the gate did not decide".into(), true)),
        }
    }

    /// Executes an approved call with the session's boundaries and a progress line to the host; a file change is
    /// reported (with the line edits that move the file's boundary) before the call ends. A `shell` command cannot
    /// be bounded in advance: the bounded files are read before it and compared after, every change is reported,
    /// and changes outside a boundary are reported as violations and told to the model with the result.
    async fn execute(&self, call: &ToolCallRequest, link: &Arc<dyn TurnLink>) -> CallResult {
        let progress_link = link.clone();
        let (id, name) = (call.id.clone(), call.name.clone());
        let bounds = link.boundaries().await;
        let watch = match (call.name.as_str(), self.tools.workdir()) {
            ("shell", Some(w)) if !bounds.is_empty() => watch_off_workers(w, &bounds).await,
            _ => None,
        };
        let lookup = bounds.clone();
        let ctx = ToolContext::new(call.id.clone())
            .with_boundaries(move |path| lookup.get(&*path.to_string_lossy()).copied())
            .with_progress(move |partial| {
                progress_link.emit(ProviderEvent::ToolUpdate {
                    id: id.clone(),
                    name: name.clone(),
                    partial: partial.to_string(),
                })
            });
        let out = self.tools.call(&call.name, &call.args, &ctx).await;
        // Context files of the directory the call worked in load for the following model calls.
        if let Some(c) = &self.env.context {
            c.touch(&call.name, &call.args);
        }
        if let Some(mut change) = out.file_change {
            change.line_edits = out.line_edits;
            link.emit(ProviderEvent::FileChanged(change));
        }
        let mut text = out.text;
        if let Some(watch) = watch {
            let id = call.id.clone();
            let seen = tokio::task::spawn_blocking(move || {
                let mut watch = watch;
                watch.changes(&id)
            })
            .await
            .unwrap_or_default();
            if let Some(note) = report(seen, link.as_ref()) {
                text = format!("{text}\n\n{note}");
            }
        }
        (text, out.is_error)
    }
}

/// Reads the bounded files in `workdir` on the blocking pool (they may be large, the file system slow).
async fn watch_off_workers(workdir: &std::path::Path, bounds: &Arc<Boundaries>) -> Option<Watch> {
    let (w, b) = (workdir.to_path_buf(), bounds.clone());
    tokio::task::spawn_blocking(move || Watch::snapshot(&w, &b))
        .await
        .ok()
}

/// Reports what a watched call changed in bounded files: each change, then its violation if any. Returns the note
/// for the model when there was a violation.
pub(crate) fn report(seen: Vec<Observed>, link: &dyn TurnLink) -> Option<String> {
    let violations: Vec<_> = seen.iter().filter_map(|o| o.violation.clone()).collect();
    let note = violation_note(&violations.iter().collect::<Vec<_>>());
    for o in seen {
        link.emit(ProviderEvent::FileChanged(o.change));
        if let Some(v) = o.violation {
            link.emit(ProviderEvent::BoundaryViolated(v));
        }
    }
    note
}

/// Reports the end of `call` with `result` and hands the result on.
fn finish(call: ToolCallRequest, result: CallResult, link: &Arc<dyn TurnLink>) -> CallResult {
    link.emit(ProviderEvent::ToolEnd {
        id: call.id,
        name: call.name,
        result: result.0.clone(),
        is_error: result.1,
    });
    result
}

/// Shows `call` as pending: the session's gate sends `tool_started` when it lets the call run.
fn announce(call: &ToolCallRequest, link: &Arc<dyn TurnLink>) {
    link.emit(ProviderEvent::ToolProposed {
        id: call.id.clone(),
        name: call.name.clone(),
        args: call.args.clone(),
    });
}
