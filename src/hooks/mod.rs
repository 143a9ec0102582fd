//! Hooks: the host's in-process callbacks and Claude Code-style command hooks that see and steer a session's steps
//! (prompts, tool calls, turn ends, session start, compaction).
//!
//! Every hook gets one JSON document (Claude Code's hook input, see [`input`]) and answers with one. Hooks of an
//! event run one after another in the order they were added (client hooks and a session's own alike); a rewrite by
//! one is what the next one sees, and a denial ends the run. A hook that fails, answers malformed JSON or runs past
//! its timeout takes its `on_failure` default (`continue` unless registered otherwise).

pub mod command;
pub mod input;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::sync::lock;
use crate::vocab::model::HookFailure;

/// The steps a hook can see, by Claude Code's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum HookEvent {
    /// Before a tool call runs: allow, deny with a reason for the model, ask, or rewrite the arguments.
    PreToolUse,
    /// After a tool call: add context for the model, or replace the result.
    PostToolUse,
    /// Before a prompt is sent: refuse it, rewrite it, or add context.
    UserPromptSubmit,
    /// When the model ends its turn with a final answer: deny keeps it going with the reason as feedback.
    Stop,
    /// After a session started: add context to its first prompt.
    SessionStart,
    /// Before a compaction: deny skips it.
    PreCompact,
}

impl HookEvent {
    /// Every event, in documentation order.
    pub const ALL: [HookEvent; 6] = [
        HookEvent::PreToolUse,
        HookEvent::PostToolUse,
        HookEvent::UserPromptSubmit,
        HookEvent::Stop,
        HookEvent::SessionStart,
        HookEvent::PreCompact,
    ];

    /// The event's name, as in the hook input's `hook_event_name`.
    pub fn name(self) -> &'static str {
        match self {
            HookEvent::PreToolUse => "PreToolUse",
            HookEvent::PostToolUse => "PostToolUse",
            HookEvent::UserPromptSubmit => "UserPromptSubmit",
            HookEvent::Stop => "Stop",
            HookEvent::SessionStart => "SessionStart",
            HookEvent::PreCompact => "PreCompact",
        }
    }

    /// The event named `name`.
    pub fn parse(name: &str) -> Result<HookEvent> {
        HookEvent::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown hook event {name:?}; expected one of PreToolUse, PostToolUse, UserPromptSubmit, Stop, \
                     SessionStart, PreCompact"
                ))
            })
    }
}

/// What a hook's failure (error, malformed answer, timeout) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Go on as if the hook had not run (the default, as Claude Code does).
    #[default]
    Continue,
    /// Deny the step (a tool call is refused, a prompt is not sent, a compaction is skipped).
    Deny,
}

/// How long a hook may take unless its registration says otherwise (Claude Code's default for commands).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The registration of an in-process hook (the `spec_json` of `tandem_client_add_hook`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    /// The event the hook sees.
    pub event: String,
    /// Claude Code's matcher: a regular expression matched against the whole tool name (either tandem's or Claude
    /// Code's, see [`input::claude_tool_name`]), the session start's source or the compaction's trigger; absent,
    /// empty or `*` matches everything.
    #[serde(default)]
    pub matcher: Option<String>,
    /// Milliseconds the hook may take (default 60000, 1 to 3600000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// What a failure decides.
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// A checked [`HookSpec`].
#[derive(Debug, Clone)]
pub struct Registration {
    event: HookEvent,
    matcher: Matcher,
    timeout: Duration,
    on_failure: OnFailure,
}

impl HookSpec {
    /// Parses and checks a spec document.
    pub fn parse(json: &str) -> Result<Registration> {
        let spec: HookSpec = Error::parse_json("spec_json", json)?;
        Ok(Registration {
            event: HookEvent::parse(&spec.event)?,
            matcher: Matcher::new(spec.matcher.as_deref())?,
            timeout: timeout_of(spec.timeout_ms)?,
            on_failure: spec.on_failure,
        })
    }
}

/// A hook's matcher, compiled.
#[derive(Debug, Clone)]
pub struct Matcher(Option<regex::Regex>);

impl Matcher {
    /// Compiles Claude Code's matcher syntax.
    pub fn new(pattern: Option<&str>) -> Result<Matcher> {
        match pattern.map(str::trim) {
            None | Some("") | Some("*") => Ok(Matcher(None)),
            Some(p) => regex::Regex::new(&format!("^(?:{p})$"))
                .map(|r| Matcher(Some(r)))
                .map_err(|e| {
                    Error::invalid(format!("hook matcher {p:?} is not a valid regex: {e}"))
                }),
        }
    }

    /// Whether any of `targets` matches (no targets: the event has nothing to match, so every hook runs).
    pub fn matches(&self, targets: &[&str]) -> bool {
        match &self.0 {
            None => true,
            Some(_) if targets.is_empty() => true,
            Some(r) => targets.iter().any(|t| r.is_match(t)),
        }
    }
}

/// The host side of an in-process hook: its callback and userdata.
pub trait HookSink: Send + Sync {
    /// Runs the callback with the input document; `Ok(None)` when it answered nothing (continue).
    fn call(&self, input: &str) -> std::result::Result<Option<String>, String>;
    /// Frees the userdata (once, when the last reference goes).
    fn release(&self);
}

/// What a hook runs.
pub enum Action {
    /// A host callback.
    Callback(Box<dyn HookSink>),
    /// A shell command (Claude Code's `"type": "command"`).
    Command(String),
}

/// One registered hook.
pub struct Hook {
    id: u64,
    event: HookEvent,
    matcher: Matcher,
    timeout: Duration,
    on_failure: OnFailure,
    /// `None` for a client hook, else the session it belongs to.
    session: Option<String>,
    action: Action,
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Action::Callback(sink) = &self.action {
            sink.release();
        }
    }
}

/// Checks a spec's timeout.
pub fn timeout_of(ms: Option<u64>) -> Result<Duration> {
    match ms {
        None => Ok(DEFAULT_TIMEOUT),
        Some(ms @ 1..=3_600_000) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(Error::invalid(format!(
            "hook timeout_ms {ms} is out of range (1 to 3600000)"
        ))),
    }
}

/// A client's hooks: its own and its sessions'.
#[derive(Default)]
pub struct Hooks {
    list: RwLock<Vec<Arc<Hook>>>,
    next: AtomicU64,
    /// SessionStart context waiting for each session's next prompt.
    pending: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("count", &self.read().len())
            .finish()
    }
}

/// Where a run of hooks happens: the session and its workdir (the commands' cwd and the input's `cwd`).
#[derive(Debug, Clone)]
pub struct Scope {
    /// The session's ID.
    pub session_id: String,
    /// The session's workdir, if it has one.
    pub cwd: Option<PathBuf>,
}

impl Hooks {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Hook>>> {
        self.list.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Hook>>> {
        self.list.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a callback hook; `session` is `None` for every session of the client. Returns its ID (never 0).
    pub fn add_callback(
        &self,
        spec: &Registration,
        session: Option<&str>,
        sink: Box<dyn HookSink>,
    ) -> u64 {
        let action = Action::Callback(sink);
        let s = spec.clone();
        self.insert(s.event, s.matcher, s.timeout, s.on_failure, session, action)
    }

    /// Adds a session's command hooks (parsed from its `hooks` and `hook_settings_files` options).
    pub fn add_commands(&self, session: &str, commands: &[command::CommandHook]) {
        for c in commands {
            let action = Action::Command(c.command.clone());
            self.insert(
                c.event,
                c.matcher.clone(),
                c.timeout,
                OnFailure::Continue,
                Some(session),
                action,
            );
        }
    }

    /// Keeps `text` (SessionStart context) for session `session`'s next prompt.
    pub fn keep_context(&self, session: &str, text: String) {
        lock(&self.pending)
            .entry(session.to_string())
            .and_modify(|t| {
                t.push_str("\n\n");
                t.push_str(&text)
            })
            .or_insert(text);
    }

    /// Takes the context kept for session `session`'s next prompt.
    pub fn take_context(&self, session: &str) -> Option<String> {
        lock(&self.pending).remove(session)
    }

    fn insert(
        &self,
        event: HookEvent,
        matcher: Matcher,
        timeout: Duration,
        on_failure: OnFailure,
        session: Option<&str>,
        action: Action,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.write().push(Arc::new(Hook {
            id,
            event,
            matcher,
            timeout,
            on_failure,
            session: session.map(str::to_string),
            action,
        }));
        id
    }

    /// Removes hook `id`; a run in progress finishes with it, and its userdata is freed after that.
    pub fn remove(&self, id: u64) -> Result<()> {
        let mut list = self.write();
        let at = list
            .iter()
            .position(|h| h.id == id)
            .ok_or_else(|| Error::NotFound(format!("no hook with id {id}")))?;
        drop(list.remove(at));
        Ok(())
    }

    /// Removes every hook of session `id` (it stopped).
    pub fn remove_session(&self, id: &str) {
        self.write().retain(|h| h.session.as_deref() != Some(id));
        lock(&self.pending).remove(id);
    }

    /// Removes every hook (client shutdown).
    pub fn clear(&self) {
        self.write().clear();
        lock(&self.pending).clear();
    }

    /// The hooks for `event` in session `session` whose matcher takes one of `targets`, in the order they were added.
    pub fn matching(&self, session: &str, event: HookEvent, targets: &[&str]) -> Vec<Arc<Hook>> {
        self.read()
            .iter()
            .filter(|h| h.event == event && h.session.as_deref().is_none_or(|s| s == session))
            .filter(|h| h.matcher.matches(targets))
            .cloned()
            .collect()
    }

    /// Runs the hooks of `event` matching `targets` on the input `input` builds (its `hook_event_name`,
    /// `session_id` and `cwd` are filled in here) and combines their answers. With no matching hook nothing is
    /// built and nothing runs.
    pub async fn run(
        &self,
        scope: &Scope,
        event: HookEvent,
        targets: &[&str],
        input: impl FnOnce() -> BTreeMap<&'static str, Value>,
    ) -> Outcome {
        let hooks = self.matching(&scope.session_id, event, targets);
        if hooks.is_empty() {
            return Outcome::default();
        }
        let mut doc = input::base(scope, event);
        doc.extend(input().into_iter().map(|(k, v)| (k.to_string(), v)));
        let mut outcome = Outcome::default();
        for hook in hooks {
            let text = Value::Object(doc.clone()).to_string();
            let answer = match run_one(&hook, scope, event, text).await {
                Ok(answer) => answer,
                Err(why) => {
                    outcome.failures.push(hook.failure(&why));
                    match hook.on_failure {
                        OnFailure::Continue => continue,
                        OnFailure::Deny => Answer::deny(format!("hook failed: {why}")),
                    }
                }
            };
            if outcome.absorb(answer, &mut doc) {
                break;
            }
        }
        outcome
    }
}

impl Hook {
    fn failure(&self, why: &str) -> HookFailure {
        HookFailure {
            hook_id: self.id,
            hook_event: self.event.name().into(),
            command: match &self.action {
                Action::Callback(_) => None,
                Action::Command(c) => Some(c.clone()),
            },
            reason: why.to_string(),
            on_failure: match self.on_failure {
                OnFailure::Continue => "continue".into(),
                OnFailure::Deny => "deny".into(),
            },
        }
    }
}

/// The system message telling the transcript that a hook failed.
pub fn failure_notice(f: &HookFailure) -> String {
    let what = match &f.command {
        Some(c) => format!("hook {} ({}, command {c:?})", f.hook_id, f.hook_event),
        None => format!("hook {} ({})", f.hook_id, f.hook_event),
    };
    format!(
        "{what}: {}; its on_failure default ({}) was taken",
        f.reason, f.on_failure
    )
}

/// Runs one hook within its timeout: a callback on the blocking pool (a callback that overruns is left to finish
/// there and its answer dropped), a command through [`command::run`].
async fn run_one(
    hook: &Arc<Hook>,
    scope: &Scope,
    event: HookEvent,
    text: String,
) -> std::result::Result<Answer, String> {
    match &hook.action {
        Action::Callback(_) => {
            let me = hook.clone();
            let task = tokio::task::spawn_blocking(move || match &me.action {
                Action::Callback(sink) => sink.call(&text),
                Action::Command(_) => Ok(None),
            });
            let answered = match tokio::time::timeout(hook.timeout, task).await {
                Err(_) => return Err(format!("no answer within {} ms", hook.timeout.as_millis())),
                Ok(Err(e)) => return Err(format!("the callback did not return: {e}")),
                Ok(Ok(answered)) => answered?,
            };
            match answered {
                None => Ok(Answer::default()),
                Some(json) => Answer::parse(&json),
            }
        }
        Action::Command(cmd) => {
            let done = command::run(cmd, scope, &text, hook.timeout).await?;
            input::from_command(event, done)
        }
    }
}

/// A hook's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// No opinion: the step goes on as it would.
    #[default]
    Continue,
    /// PreToolUse: run the call without asking for approval (plan mode, per-tool denials and protected paths still
    /// apply).
    Allow,
    /// PreToolUse: ask the host for approval even where the session would not.
    Ask,
    /// Refuse the step; `reason` says why (the model sees it for tool calls and turn ends).
    Deny,
}

/// One hook's answer (tandem's answer document, `hook_answer` in the schema).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The decision (default `continue`).
    #[serde(default)]
    pub decision: Decision,
    /// Why (shown to the model for denied tool calls and continued turns; the host's error for denied prompts).
    #[serde(default)]
    pub reason: Option<String>,
    /// PreToolUse: the arguments to run the call with instead (an object).
    #[serde(default)]
    pub tool_input: Option<Value>,
    /// UserPromptSubmit: the prompt text to send instead.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Text added for the model: after the tool result (PostToolUse), with the prompt (UserPromptSubmit), with the
    /// first prompt (SessionStart).
    #[serde(default)]
    pub additional_context: Option<String>,
    /// PostToolUse: the result the model sees instead.
    #[serde(default)]
    pub tool_result: Option<String>,
    /// PostToolUse: whether the replaced result is an error (default: as the call's was).
    #[serde(default)]
    pub is_error: Option<bool>,
    /// The hook failed: its `on_failure` default applies.
    #[serde(default)]
    pub error: Option<String>,
}

impl Answer {
    fn deny(reason: String) -> Answer {
        Answer {
            decision: Decision::Deny,
            reason: Some(reason),
            ..Answer::default()
        }
    }

    /// Parses an answer document; malformed or failed answers are errors (the hook's default applies).
    pub fn parse(json: &str) -> std::result::Result<Answer, String> {
        if json.trim().is_empty() {
            return Ok(Answer::default());
        }
        let answer: Answer =
            serde_json::from_str(json).map_err(|e| format!("malformed answer: {e}"))?;
        if answer.tool_input.as_ref().is_some_and(|v| !v.is_object()) {
            return Err("malformed answer: tool_input must be an object".into());
        }
        match answer.error {
            Some(e) => Err(format!("the hook reported an error: {e}")),
            None => Ok(answer),
        }
    }
}

/// What the hooks of one event decided together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Denied, with the reason.
    pub denied: Option<String>,
    /// PreToolUse: a hook allowed the call (no approval question), or asked for one.
    pub decision: Decision,
    /// PreToolUse: the rewritten arguments.
    pub tool_input: Option<Value>,
    /// UserPromptSubmit: the rewritten prompt text.
    pub prompt: Option<String>,
    /// Context the hooks added, in order.
    pub context: Vec<String>,
    /// PostToolUse: the replaced result and its error flag.
    pub tool_result: Option<(String, Option<bool>)>,
    /// Hooks that failed (with their label and why), whatever their default decided.
    pub failures: Vec<HookFailure>,
}

impl Outcome {
    /// Folds one answer in; `doc` (the next hook's input) follows rewrites. True when the run ends (denied).
    fn absorb(&mut self, a: Answer, doc: &mut serde_json::Map<String, Value>) -> bool {
        if let Some(c) = a.additional_context.filter(|c| !c.trim().is_empty()) {
            self.context.push(c);
        }
        if a.decision == Decision::Deny {
            self.denied = Some(a.reason.unwrap_or_else(|| "denied by a hook".into()));
            return true;
        }
        if a.decision != Decision::Continue {
            self.decision = a.decision;
        }
        if let Some(args) = a.tool_input {
            doc.insert("tool_input".into(), args.clone());
            self.tool_input = Some(args);
        }
        if let Some(p) = a.prompt {
            doc.insert("prompt".into(), Value::String(p.clone()));
            self.prompt = Some(p);
        }
        if let Some(r) = a.tool_result {
            self.tool_result = Some((r, a.is_error));
        }
        false
    }

    /// The added context as one text block (`None` when there is none).
    pub fn context_text(&self) -> Option<String> {
        (!self.context.is_empty()).then(|| self.context.join("\n\n"))
    }
}
