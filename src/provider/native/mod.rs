//! The native agent loop: model call, tool calls, results, next call, until a final answer or a limit.

pub mod demo;
mod hooks;
pub mod http;
pub mod model;
pub mod prompt;
pub mod scripted;
pub mod side;
pub mod tool_calls;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use http::retry::RetryPolicy;
use http::{HttpModel, HttpOptions};
use model::{Chunk, Model, ModelError, ModelRequest};
use scripted::Script;

use crate::error::{Error, Result};
use crate::provider::host::model::HostModel;
use crate::provider::{Env, ModelMessage, ProviderEvent, ThinkingBlock, ToolCallRequest};
use crate::tools::ToolSet;
use crate::vocab::content::combine_entries;
use crate::vocab::content::{ContentPart, Level, Usage};
use crate::vocab::gate::{ApprovalMode, Permission};
use crate::vocab::settings::ProviderConfig;
use crate::vocab::settings::ThinkingLevel;

pub use crate::provider::contract::{Boundaries, TurnLink};
pub(crate) use tool_calls::report as report_watched;

/// The notice after an answer that hit the output token limit.
pub const CUT_NOTICE: &str =
    "The answer was cut off: the model reached its output token limit (max_tokens).";

/// The native provider: a model, the session's tools, and the loop's limits.
pub struct Native {
    model: Arc<dyn Model>,
    tools: Arc<ToolSet>,
    /// The configured system prompt (or the default one), and the active skills; the prompt sent is composed per
    /// model call, with the project context files as they are then.
    base_prompt: Option<String>,
    skills: Vec<(String, String)>,
    max_turns: u32,
    approval: ApprovalMode,
    permissions: BTreeMap<String, Permission>,
    approval_timeout: Duration,
    thinking: ThinkingLevel,
    /// Kept to rebuild the model when the session switches models.
    script: Option<scripted::Script>,
    cursor: Arc<AtomicUsize>,
    /// `provider:model` of `model`.
    model_name: String,
    http: HttpOptions,
    /// The client's shared HTTP client and host provider, and the session's ID.
    env: Env,
    /// The `compaction.context_limit` option, reported instead of the model's window.
    context_limit: Option<u64>,
    /// The `retry` option; unset, HTTP backends retry 3 times and scripted models never.
    retry: Option<RetryPolicy>,
}

/// The context window of `model` (`provider:name`) when known: the HTTP backends' table; scripted and host models
/// have none.
pub fn context_limit(model: &str) -> Option<u64> {
    match model.split_once(':') {
        Some(("anthropic" | "openai" | "openai-responses" | "ollama", name)) => {
            http::prices::context_limit(name)
        }
        _ => None,
    }
}

/// Checks that `model` is `provider:name` with a backend this build has.
pub fn check_model(model: &str) -> Result<()> {
    let (backend, name) = model.split_once(':').ok_or_else(|| {
        Error::invalid(format!(
            "model {model:?} is missing a provider prefix; expected \"provider:model\", e.g. \"anthropic:{model}\""
        ))
    })?;
    match backend {
        "scripted" => Ok(()),
        "anthropic" | "openai" | "openai-responses" | "ollama" | "host" if name.is_empty() => {
            Err(Error::invalid(format!(
                "model {model:?} has no model name after the provider"
            )))
        }
        "anthropic" | "openai" | "openai-responses" | "ollama" | "host" => Ok(()),
        other => Err(Error::invalid(format!(
            "unknown model provider {other:?} in {model:?}"
        ))),
    }
}

fn build_model(
    model: &str,
    script: Option<scripted::Script>,
    cursor: Arc<AtomicUsize>,
    http: &HttpOptions,
    env: &Env,
) -> Result<Arc<dyn Model>> {
    check_model(model)?;
    let (backend, name) = model.split_once(':').unwrap_or(("", ""));
    match backend {
        "scripted" => Ok(Arc::new(scripted::ScriptedModel::new(
            name, script, cursor,
        )?)),
        "host" => Ok(Arc::new(HostModel::new(
            env.shared.host.clone(),
            &env.session_id,
            model,
            http.idle_timeout,
        ))),
        _ => Ok(Arc::new(HttpModel::new(
            backend,
            name,
            http,
            env.shared.http.clone(),
        )?)),
    }
}

/// The system prompt: the configured one (or the default), the project context files, then each active skill
/// under its own heading.
pub fn compose_prompt(
    base: Option<&str>,
    context: Option<&str>,
    skills: &[(String, String)],
) -> Option<String> {
    let base = match (base, context) {
        (Some(b), Some(c)) => Some(format!("{b}\n\n{c}")),
        (b, c) => b.or(c).map(str::to_string),
    };
    if skills.is_empty() {
        return base;
    }
    let mut out = base.map_or(String::new(), |b| format!("{b}\n\n"));
    out.push_str("# Active skills");
    for (name, content) in skills {
        out.push_str(&format!("\n\n## Skill: {name}\n\n{}", content.trim()));
    }
    Some(out)
}

/// The tools offered to the model: the session's tools less those `tool_permissions` deny (a denied tool would
/// only waste a model call).
fn offered_specs(
    tools: &ToolSet,
    permissions: &BTreeMap<String, Permission>,
) -> Vec<crate::vocab::model::ToolSpec> {
    tools
        .specs()
        .into_iter()
        .filter(|s| permissions.get(&s.name) != Some(&Permission::Deny))
        .collect()
}

/// What the native loop reads from the session's options.
#[derive(Debug, Clone)]
pub struct NativeOptions {
    /// `provider:model`.
    pub model: String,
    /// The scripted model's script, if one was given.
    pub script: Option<Script>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Loop limit.
    pub max_turns: u32,
    /// Which tool calls ask the host.
    pub approval: ApprovalMode,
    /// Per-tool permissions.
    pub tool_permissions: BTreeMap<String, Permission>,
    /// How long a tool call waits for approval before failing.
    pub approval_timeout: std::time::Duration,
    /// Thinking level at start.
    pub thinking_level: ThinkingLevel,
    /// What HTTP model backends use.
    pub http: HttpOptions,
    /// Overrides the model's context window.
    pub context_limit: Option<u64>,
    /// The `retry` option, when given.
    pub retry: Option<RetryPolicy>,
}

impl Native {
    /// Builds the provider for the session options `o`.
    ///
    /// `cursor` is the scripted model's position, owned by the supervisor so it survives restarts.
    pub fn new(
        o: &NativeOptions,
        cursor: Arc<AtomicUsize>,
        tools: Arc<ToolSet>,
        env: &Env,
    ) -> Result<Self> {
        let permissions = &o.tool_permissions;
        let base_prompt = match o.system_prompt.as_deref() {
            Some("") => None,
            Some(p) => Some(p.to_string()),
            None => {
                let names: Vec<String> = offered_specs(&tools, permissions)
                    .into_iter()
                    .map(|s| s.name)
                    .collect();
                Some(prompt::default_system_prompt(tools.workdir(), &names))
            }
        };
        Ok(Native {
            model: build_model(&o.model, o.script.clone(), cursor.clone(), &o.http, env)?,
            tools,
            base_prompt,
            skills: Vec::new(),
            max_turns: o.max_turns,
            approval: o.approval,
            permissions: o.tool_permissions.clone(),
            approval_timeout: o.approval_timeout,
            thinking: o.thinking_level,
            script: o.script.clone(),
            cursor,
            model_name: o.model.clone(),
            http: o.http.clone(),
            env: env.clone(),
            context_limit: o.context_limit,
            retry: o.retry,
        })
    }

    /// The same provider with the session's current model, thinking level and skills (turns already running keep
    /// theirs).
    pub fn reconfigure(&self, config: &ProviderConfig) -> Result<Native> {
        Ok(Native {
            model: build_model(
                &config.model,
                self.script.clone(),
                self.cursor.clone(),
                &self.http,
                &self.env,
            )?,
            tools: self.tools.clone(),
            base_prompt: self.base_prompt.clone(),
            skills: config.skills.clone(),
            max_turns: self.max_turns,
            approval: self.approval,
            permissions: self.permissions.clone(),
            approval_timeout: self.approval_timeout,
            thinking: config.thinking_level,
            script: self.script.clone(),
            cursor: self.cursor.clone(),
            model_name: config.model.clone(),
            http: self.http.clone(),
            env: self.env.clone(),
            context_limit: self.context_limit,
            retry: self.retry,
        })
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
            .unwrap_or(if self.model_name.starts_with("scripted:") {
                RetryPolicy::NONE
            } else {
                RetryPolicy::DEFAULT
            })
    }

    /// One model call, retried while it fails before producing anything and the error is worth retrying. A
    /// call that already streamed output is not repeated (the host has seen it); the loop handles that failure.
    async fn call_model(
        &self,
        request: &ModelRequest<'_>,
        notify: &(dyn Fn(ProviderEvent) + Send + Sync),
        out: &mut (dyn FnMut(Chunk) + Send),
    ) -> std::result::Result<(), ModelError> {
        let policy = self.retry_policy();
        let mut retries = 0;
        loop {
            let mut produced = false;
            let result = self
                .model
                .stream(request, &mut |chunk| {
                    produced |= !matches!(chunk, Chunk::Usage(_));
                    out(chunk)
                })
                .await;
            match result {
                Err(e) if e.retryable && !produced && retries < policy.max_retries => {
                    retries += 1;
                    let delay = policy.delay(retries, e.retry_after_ms);
                    notify(ProviderEvent::Retrying {
                        attempt: retries,
                        max_retries: policy.max_retries,
                        delay_ms: delay.as_millis().min(u64::MAX as u128) as u64,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    /// The system prompt for the next model call: the project context files are checked first (a `stat` each;
    /// read again only when changed) and a change is reported with `context_files_loaded`.
    async fn system_prompt(&self) -> Option<String> {
        let section = match &self.env.context {
            Some(ctx) => {
                let c = ctx.clone();
                let changed = tokio::task::spawn_blocking(move || c.refresh())
                    .await
                    .ok()
                    .flatten();
                if let Some(files) = changed {
                    let files = serde_json::to_value(files).unwrap_or_default();
                    (self.env.publish)(crate::events::Payload::ContextFilesLoaded { files });
                }
                ctx.section()
            }
            None => None,
        };
        compose_prompt(
            self.base_prompt.as_deref(),
            section.as_deref(),
            &self.skills,
        )
    }

    /// The thinking level model calls use.
    pub fn thinking_level(&self) -> ThinkingLevel {
        self.thinking
    }

    /// Runs one turn over `context`, reporting through `emit`: `AgentStart`, deltas and tool events, then exactly
    /// one `AgentEnd`. Cancellation (dropping the future) emits nothing further.
    pub async fn run_turn(
        self: Arc<Self>,
        mut context: crate::vocab::model::SharedContext,
        link: Arc<dyn TurnLink>,
    ) {
        let emit = |e| link.emit(e);
        emit(ProviderEvent::AgentStart);
        let mut usage: Option<Usage> = None;
        let mut tool_rounds: u32 = 0;
        let mut stopped_once = false;
        // MCP servers still starting are waited for (each within its start-up timeout), so the first turn offers
        // their tools.
        self.tools.ready().await;
        loop {
            // Taken per model call: MCP servers' tools come and go (list changes, crashes, restarts).
            let specs = offered_specs(&self.tools, &self.permissions);
            if tool_rounds >= self.max_turns {
                emit(ProviderEvent::TurnLimitReached {
                    current: tool_rounds,
                    limit: self.max_turns,
                });
                emit(ProviderEvent::Error(format!(
                    "Turn limit reached ({tool_rounds}/{}). Use continue (or send another prompt) to let the agent go on.",
                    self.max_turns
                )));
                break;
            }
            if let Some(stop) = self.env.budget.exhausted() {
                emit(ProviderEvent::BudgetExhausted(stop));
                break;
            }
            let system_prompt = self.system_prompt().await;
            emit(ProviderEvent::ContextUsage {
                // The context carries its messages' weights: no pass over a long conversation per call.
                estimated_tokens: crate::provider::estimate_from_weight(
                    context.weight(),
                    system_prompt.as_deref(),
                ),
                context_limit: self.context_limit.or_else(|| self.model.context_limit()),
            });
            let mut text = String::new();
            let mut thinking: Vec<ThinkingBlock> = Vec::new();
            let mut calls: Vec<ToolCallRequest> = Vec::new();
            let request = ModelRequest {
                system_prompt: system_prompt.as_deref(),
                messages: &context,
                tools: &specs,
                thinking: self.thinking,
            };
            let notify = |event| link.emit(event);
            let mut cut = false;
            let mut call_usage: Option<Usage> = None;
            let result = self
                .call_model(&request, &notify, &mut |chunk| match chunk {
                    Chunk::Text(t) => {
                        text.push_str(&t);
                        emit(ProviderEvent::TextDelta(t));
                    }
                    Chunk::Thinking(t) => {
                        match thinking.last_mut() {
                            Some(b) if b.signature.is_none() => b.text.push_str(&t),
                            _ => thinking.push(ThinkingBlock {
                                text: t.clone(),
                                ..ThinkingBlock::default()
                            }),
                        }
                        emit(ProviderEvent::ThinkingDelta(t));
                    }
                    Chunk::ThinkingSignature(sig) => {
                        match thinking.last_mut() {
                            Some(b) if b.signature.is_none() => b.signature = Some(sig.clone()),
                            _ => thinking.push(ThinkingBlock {
                                signature: Some(sig.clone()),
                                ..ThinkingBlock::default()
                            }),
                        }
                        emit(ProviderEvent::ThinkingSignature(sig));
                    }
                    Chunk::RedactedThinking(data) => {
                        thinking.push(ThinkingBlock {
                            text: String::new(),
                            signature: Some(data.clone()),
                            redacted: true,
                        });
                        emit(ProviderEvent::RedactedThinking(data));
                    }
                    Chunk::MaxTokens => cut = true,
                    Chunk::ToolCall(c) => calls.push(c),
                    Chunk::Usage(u) => call_usage.get_or_insert_with(Usage::default).add(&u),
                })
                .await;
            // Recorded per call, so a tree's budget sees what its running sub-agents spend as they spend it.
            if let Some(u) = call_usage {
                self.env.budget.record(&u);
                usage.get_or_insert_with(Usage::default).add(&u);
            }
            if let Err(e) = result {
                // A substantial partial answer, or a turn cut off by a stall or a dropped connection (even between
                // tool rounds), is kept so the host can `continue` it.
                if text.chars().count() > 10 || e.cut_off {
                    emit(ProviderEvent::StreamInterrupted(e.to_string()));
                } else {
                    emit(ProviderEvent::Error(e.to_string()));
                }
                break;
            }
            if cut {
                emit(ProviderEvent::SystemMessage {
                    text: CUT_NOTICE.into(),
                    level: Level::Info,
                });
            }
            if calls.is_empty() {
                // A Stop hook that denies the end keeps the turn going with its reason (within max_turns).
                let Some(reason) = self.stop_hooks(&text, stopped_once, &link).await else {
                    break;
                };
                if tool_rounds + 1 >= self.max_turns {
                    break;
                }
                emit(ProviderEvent::SystemMessage {
                    text: format!("A Stop hook kept the turn going: {reason}"),
                    level: Level::Info,
                });
                context.push(ModelMessage::Assistant {
                    thinking,
                    text,
                    tool_calls: Vec::new(),
                });
                context.push(ModelMessage::User(vec![ContentPart::Text {
                    text: format!("Stop hook feedback: {reason}"),
                }]));
                stopped_once = true;
                tool_rounds += 1;
                continue;
            }
            // The context is shared with the session: the first tool round of a turn copies it.
            context.push(ModelMessage::Assistant {
                thinking,
                text,
                tool_calls: calls.clone(),
            });
            let results = self.run_batch(&calls, &link).await;
            for (call, (result, is_error)) in calls.into_iter().zip(results) {
                context.push(ModelMessage::ToolResult {
                    tool_call_id: call.id,
                    name: call.name,
                    content: result,
                    is_error,
                });
            }
            // Steering reaches the model between tool batches, as one user message.
            let steering = link.take_steering().await;
            if !steering.is_empty() {
                context.push(ModelMessage::User(combine_entries(steering)));
            }
            tool_rounds += 1;
        }
        // Released before the turn ends, so the session extends its kept context without copying it.
        drop(context);
        emit(ProviderEvent::AgentEnd { usage });
    }
}

impl crate::provider::Provider for Native {
    fn run_turn(
        self: Arc<Self>,
        context: crate::vocab::model::SharedContext,
        link: Arc<dyn TurnLink>,
    ) -> model::BoxFuture<'static, ()> {
        Box::pin(Native::run_turn(self, context, link))
    }

    fn side_call(
        self: Arc<Self>,
        kind: crate::vocab::settings::SideKind,
        context: Vec<ModelMessage>,
    ) -> model::BoxFuture<'static, std::result::Result<crate::vocab::settings::SideResult, String>>
    {
        Box::pin(async move { Native::side_call(&self, &kind, context).await })
    }

    fn reconfigure(&self, config: &ProviderConfig) -> Result<Arc<dyn crate::provider::Provider>> {
        Ok(Arc::new(Native::reconfigure(self, config)?))
    }

    fn readiness(&self) -> std::result::Result<(), String> {
        self.model.readiness()
    }

    fn turn_aborted(&self) {
        self.env.shared.host.cancel_session(&self.env.session_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_follow_the_configured_prompt_under_headings() {
        assert_eq!(
            compose_prompt(Some("Base."), None, &[]),
            Some("Base.".into())
        );
        assert_eq!(compose_prompt(None, None, &[]), None);
        assert_eq!(compose_prompt(None, Some("Ctx."), &[]), Some("Ctx.".into()));
        let p = compose_prompt(
            Some("Base."),
            Some("# Project instructions"),
            &[("review".into(), "  Be careful.\n".into())],
        )
        .unwrap();
        assert_eq!(
            p,
            "Base.\n\n# Project instructions\n\n# Active skills\n\n## Skill: review\n\nBe careful."
        );
    }
}
