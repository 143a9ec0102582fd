//! Session options: the JSON hosts pass to `tandem_session_start`, merged over the client's defaults and validated.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::provider::native::http::prices::Prices;
use crate::provider::native::http::retry::RetryPolicy;
use crate::provider::native::http::HttpOptions;
use crate::provider::native::scripted::{parse_script, Script};
use crate::provider::native::NativeOptions;
use crate::provider::pi::PiOptions;
use crate::provider::ProviderOptions;
pub use crate::vocab::gate::{ApprovalMode, Permission};
pub use crate::vocab::settings::ThinkingLevel;
use crate::vocab::settings::{RestartOptions, RestartPolicy};

/// The options JSON as written by the host. Unknown keys are rejected so typos do not pass silently.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionOptions {
    /// Explicit session ID.
    pub session_id: Option<String>,
    /// `native` (default), `pi` or `host`.
    pub provider: Option<String>,
    /// `provider:model`.
    pub model: Option<String>,
    /// Base URL of an HTTP model backend.
    pub base_url: Option<String>,
    /// Environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The directory the session's tools work in.
    pub workdir: Option<String>,
    /// Persist the conversation (default true).
    pub persist: Option<bool>,
    /// Thinking level.
    pub thinking_level: Option<ThinkingLevel>,
    /// Approval mode.
    pub approval: Option<ApprovalMode>,
    /// Per-tool permissions.
    pub tool_permissions: Option<BTreeMap<String, Permission>>,
    /// Allow-list of tool names.
    pub tools: Option<Vec<String>>,
    /// Model calls with tool use per prompt (default 100).
    pub max_turns: Option<u32>,
    /// Cost limit in USD.
    pub max_cost: Option<f64>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Scripted model responses.
    pub script: Option<Value>,
    /// Per-session restart policy.
    pub restart: Option<RestartOptions>,
    /// Milliseconds a tool call waits for approval (default 300000).
    pub approval_timeout_ms: Option<u64>,
    /// Model rotation for `cycle_model`.
    pub models: Option<Vec<String>>,
    /// Directories searched for skills after `<workdir>/.tandem/skills`.
    pub skill_dirs: Option<Vec<String>>,
    /// Compaction settings.
    pub compaction: Option<CompactionOptions>,
    /// Prices (USD per million tokens) overriding the model's list prices.
    pub prices: Option<Prices>,
    /// How failed model calls are retried.
    pub retry: Option<RetryOptions>,
    /// Milliseconds a model's stream may send nothing before the call fails (default 180000).
    pub stream_idle_timeout_ms: Option<u64>,
    /// The pi provider's command line before `--mode rpc --no-session` (default `["pi"]`).
    pub pi_command: Option<Vec<String>>,
    /// The ACP provider's agent command line (program first; required with `"provider": "acp"`).
    pub acp_command: Option<Vec<String>>,
    /// The `shell` tool's sandbox: a mode or `{mode, network, writable_roots}` (see [`crate::sandbox`]).
    pub sandbox: Option<Value>,
    /// Variables (or `PREFIX*`) passed to `shell` commands beyond the base allowlist.
    pub shell_env: Option<Vec<String>>,
    /// Milliseconds an idle session without host activity lives before it is reclaimed (default 14400000 = 4 h;
    /// 0 never).
    pub idle_timeout_ms: Option<u64>,
    /// MCP servers added to the client's (see [`crate::mcp::config`]).
    pub mcp_servers: Option<Value>,
    /// Project context files: `false`, or `{names, paths, max_bytes, max_total_bytes}` (see
    /// [`crate::tools::context`]).
    pub context_files: Option<Value>,
    /// Token limit of the session's tree (input, output and cache tokens of every model call).
    pub max_tokens_total: Option<u64>,
    /// Claude Code command hooks: the `hooks` object of a Claude Code settings file (see [`crate::hooks::command`]).
    pub hooks: Option<Value>,
    /// Claude Code settings files whose `hooks` are added after `hooks` (relative to the workdir; missing files are
    /// skipped).
    pub hook_settings_files: Option<Vec<String>>,
}

/// The `retry` option.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryOptions {
    /// Retries after the first attempt (default 3 for HTTP backends, 0 for scripted models; at most 10).
    pub max_retries: Option<u32>,
    /// First backoff delay in milliseconds, doubled per retry (default 1000).
    pub base_delay_ms: Option<u64>,
    /// Cap of the doubled delay in milliseconds (default 16000).
    pub max_delay_ms: Option<u64>,
}

/// The `compaction` option.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactionOptions {
    /// Fraction of the context window above which the loop compacts before a model call (default 0.8).
    pub threshold: Option<f64>,
    /// Messages kept verbatim by a compaction (default 6).
    pub keep_recent: Option<usize>,
    /// The context window in tokens that `threshold` applies to (default: the model's known window; scripted and
    /// host models have none, so they compact by themselves only with this set).
    pub context_limit: Option<u64>,
}

/// Options after validation, ready to start a session from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Explicit session ID, validated.
    pub session_id: Option<String>,
    /// `provider:model`.
    pub model: String,
    /// Provider kind.
    pub provider: String,
    /// Canonical absolute workdir.
    pub workdir: Option<PathBuf>,
    /// Parsed script.
    pub script: Option<Script>,
    /// Tool allow-list.
    pub tools: Option<Vec<String>>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Loop limit.
    pub max_turns: u32,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Which tool calls ask the host.
    pub approval: ApprovalMode,
    /// Per-tool permissions.
    pub tool_permissions: BTreeMap<String, Permission>,
    /// How long a tool call waits for approval before failing.
    pub approval_timeout: std::time::Duration,
    /// Thinking level at start.
    pub thinking_level: ThinkingLevel,
    /// Model rotation for `cycle_model`: `provider:model[:level]` entries.
    pub models: Vec<String>,
    /// Skill directories (absolute) after the workdir's own.
    pub skill_dirs: Vec<PathBuf>,
    /// Fraction of the context window that triggers automatic compaction.
    pub compaction_threshold: f64,
    /// Messages a compaction keeps verbatim.
    pub keep_recent: usize,
    /// The `compaction.context_limit` option: overrides the model's context window.
    pub context_limit: Option<u64>,
    /// Write the conversation to the client's store (default true).
    pub persist: bool,
    /// What HTTP model backends use: base URL, key variable, prices, idle timeout.
    pub http: HttpOptions,
    /// The `retry` option, when given.
    pub retry: Option<RetryPolicy>,
    /// Cost limit in USD.
    pub max_cost: Option<f64>,
    /// The pi provider's command line (program first).
    pub pi_command: Vec<String>,
    /// The ACP provider's agent command line (program first; empty for other providers).
    pub acp_command: Vec<String>,
    /// An ACP session's agent settings (one for the session's life; `None` for other providers).
    acp_control: Option<std::sync::Arc<crate::provider::acp::control::Control>>,
    /// What `shell` commands are confined to and which variables they get.
    pub shell: crate::sandbox::Policy,
    /// How long an idle session without host activity lives (`None`: forever).
    pub idle_timeout: Option<std::time::Duration>,
    /// The session's own MCP servers (added to the client's; same names replace the client's).
    pub mcp_servers: Vec<crate::mcp::ServerConfig>,
    /// Project context files (`None`: turned off).
    pub context_files: Option<crate::tools::context::ContextConfig>,
    /// Token limit of the session's tree.
    pub max_tokens_total: Option<u64>,
    /// The session's command hooks: `hooks`, then those of `hook_settings_files`.
    pub command_hooks: Vec<crate::hooks::command::CommandHook>,
    /// The options as the store keeps them for a resume: what the host gave (no client defaults, no
    /// `session_id`), with the workdir made absolute. Secrets are never options: keys are env var names. Kept as
    /// compact JSON text: a live map costs every idle session a B-tree node (~600 bytes) for two rare readers.
    stored: Box<str>,
}

impl Resolved {
    /// The options as the store keeps them (see the field's documentation).
    pub fn stored(&self) -> serde_json::Map<String, Value> {
        serde_json::from_str(&self.stored).unwrap_or_default()
    }

    /// What the session's provider reads of these options.
    pub fn provider_options(&self) -> ProviderOptions {
        ProviderOptions {
            kind: self.provider.clone(),
            native: NativeOptions {
                model: self.model.clone(),
                script: self.script.clone(),
                system_prompt: self.system_prompt.clone(),
                max_turns: self.max_turns,
                approval: self.approval,
                tool_permissions: self.tool_permissions.clone(),
                approval_timeout: self.approval_timeout,
                thinking_level: self.thinking_level,
                http: self.http.clone(),
                context_limit: self.context_limit,
                retry: self.retry,
            },
            pi: PiOptions {
                command: self.pi_command.clone(),
                workdir: self.workdir.clone(),
            },
            acp: crate::provider::acp::AcpOptions {
                command: self.acp_command.clone(),
                workdir: self.workdir.clone(),
                approval_timeout: self.approval_timeout,
                setup_timeout: self.http.idle_timeout,
                control: self.acp_control.clone().unwrap_or_default(),
                saved_session: None,
                terminal_policy: None,
            },
        }
    }
}

/// Overlays `top` on `base`, key by key (objects only).
pub fn merge(base: &Value, top: &Value) -> Value {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            let mut out = b.clone();
            for (k, v) in t {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        (_, t) => t.clone(),
    }
}

/// Parses `json` (NULL means `{}`) over `defaults`, and validates everything that can be checked before starting.
pub fn resolve(
    json: Option<&str>,
    defaults: &Value,
    client_restart: &RestartPolicy,
) -> Result<Resolved> {
    let given: Value = match json {
        Some(text) => Error::parse_json("options_json", text)?,
        None => Value::Object(Default::default()),
    };
    if !given.is_object() {
        return Err(Error::invalid("options_json must be a JSON object"));
    }
    let opts: SessionOptions = serde_json::from_value(merge(defaults, &given))
        .map_err(|e| Error::invalid(format!("options_json: {e}")))?;
    if let Some(id) = &opts.session_id {
        crate::ids::validate_id("session id", id)?;
    }
    let provider = opts.provider.clone().unwrap_or_else(|| "native".into());
    match provider.as_str() {
        "native" | "host" | "pi" | "acp" => {}
        other => {
            return Err(Error::invalid(format!(
                "unknown provider {other:?}; expected native, pi, acp or host"
            )))
        }
    }
    let script = opts.script.as_ref().map(parse_script).transpose()?;
    let model = opts.model.clone().unwrap_or_else(|| {
        if provider == "pi" {
            crate::provider::pi::DEFAULT_MODEL.into()
        } else if provider == "acp" {
            crate::provider::acp::DEFAULT_MODEL.into()
        } else if provider == "host" {
            "host:default".into()
        } else if script.is_some() {
            "scripted:script".into()
        } else {
            "scripted:echo".into()
        }
    });
    crate::provider::check_model(&provider, &model)?;
    if provider == "host" && !model.starts_with("host:") {
        return Err(Error::invalid(format!(
            "the host provider's models are named host:<name>, not {model:?}"
        )));
    }
    let workdir = opts
        .workdir
        .as_deref()
        .map(|w| {
            let expanded = crate::ids::expand_path(w)?;
            let real = expanded
                .canonicalize()
                .map_err(|e| Error::invalid(format!("workdir {w:?}: {e}")))?;
            if !real.is_dir() {
                return Err(Error::invalid(format!("workdir {w:?} is not a directory")));
            }
            Ok(real)
        })
        .transpose()?;
    if let Some(c) = opts.max_cost {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::invalid("max_cost must be a positive number of USD"));
        }
    }
    if opts.max_tokens_total == Some(0) {
        return Err(Error::invalid("max_tokens_total must be at least 1"));
    }
    let context_files =
        crate::tools::context::ContextConfig::parse(opts.context_files.as_ref(), |p| {
            crate::ids::expand_path(p).map_err(|e| e.to_string())
        })
        .map_err(Error::invalid)?;
    let max_turns = opts.max_turns.unwrap_or(100);
    if max_turns == 0 {
        return Err(Error::invalid("max_turns must be at least 1"));
    }
    let models = opts.models.clone().unwrap_or_default();
    for entry in &models {
        crate::provider::check_model(
            &provider,
            &crate::session::machine::models::rotation_entry(entry).0,
        )
        .map_err(|e| Error::invalid(format!("models: {e}")))?;
    }
    let compaction = opts.compaction.unwrap_or_default();
    let compaction_threshold = compaction.threshold.unwrap_or(0.8);
    if !(compaction_threshold > 0.0 && compaction_threshold <= 1.0) {
        return Err(Error::invalid("compaction.threshold must be in (0, 1]"));
    }
    let keep_recent = compaction.keep_recent.unwrap_or(6);
    if compaction.context_limit == Some(0) {
        return Err(Error::invalid(
            "compaction.context_limit must be at least 1",
        ));
    }
    let approval_timeout_ms = opts.approval_timeout_ms.unwrap_or(300_000);
    if !(1..=86_400_000).contains(&approval_timeout_ms) {
        return Err(Error::invalid(
            "approval_timeout_ms must be between 1 and 86400000",
        ));
    }
    let http = http_options(&opts)?;
    let retry = opts.retry.map(retry_policy).transpose()?;
    let pi_command = opts.pi_command.clone().unwrap_or_else(|| vec!["pi".into()]);
    if pi_command.first().is_none_or(|p| p.is_empty())
        || pi_command.iter().any(|a| a.contains('\0'))
    {
        return Err(Error::invalid(
            "pi_command must be a non-empty array of arguments, the program first",
        ));
    }
    let acp_command = opts.acp_command.clone().unwrap_or_default();
    let acp_ok = acp_command.first().is_some_and(|p| !p.is_empty())
        && !acp_command.iter().any(|a| a.contains('\0'));
    if (provider == "acp" || opts.acp_command.is_some()) && !acp_ok {
        return Err(Error::invalid(
            "acp_command must be a non-empty array of arguments, the program first (the acp provider needs it)",
        ));
    }
    let shell =
        crate::sandbox::Policy::from_options(opts.sandbox.as_ref(), opts.shell_env.as_deref())
            .map_err(Error::invalid)?;
    let idle_timeout = match opts.idle_timeout_ms.unwrap_or(DEFAULT_IDLE_TIMEOUT_MS) {
        0 => None,
        ms if ms > MAX_IDLE_TIMEOUT_MS => {
            return Err(Error::invalid(format!(
                "idle_timeout_ms must be at most {MAX_IDLE_TIMEOUT_MS} (a year); 0 never reclaims"
            )))
        }
        ms => Some(std::time::Duration::from_millis(ms)),
    };
    let mcp_servers = match &opts.mcp_servers {
        Some(v) => crate::mcp::config::parse("mcp_servers", v)?,
        None => Vec::new(),
    };
    let mut command_hooks = match &opts.hooks {
        Some(v) => crate::hooks::command::parse("hooks", v)?,
        None => Vec::new(),
    };
    if let Some(files) = &opts.hook_settings_files {
        command_hooks.extend(crate::hooks::command::from_settings_files(
            files,
            workdir.as_deref(),
        )?);
    }
    let restart = match &opts.restart {
        Some(r) => r.apply(client_restart)?,
        None => client_restart.clone(),
    };
    let mut stored = given.as_object().cloned().unwrap_or_default();
    stored.remove("session_id");
    if let Some(w) = &workdir {
        stored.insert("workdir".into(), Value::String(w.display().to_string()));
    }
    Ok(Resolved {
        stored: Value::Object(stored).to_string().into(),
        session_id: opts.session_id,
        model,
        provider,
        workdir,
        script,
        tools: opts.tools,
        system_prompt: opts.system_prompt,
        max_turns,
        restart,
        approval: opts.approval.unwrap_or(ApprovalMode::Destructive),
        tool_permissions: opts.tool_permissions.unwrap_or_default(),
        approval_timeout: std::time::Duration::from_millis(approval_timeout_ms),
        thinking_level: opts.thinking_level.unwrap_or(ThinkingLevel::Off),
        models,
        compaction_threshold,
        keep_recent,
        context_limit: compaction.context_limit,
        persist: opts.persist.unwrap_or(true),
        http,
        retry,
        max_cost: opts.max_cost,
        pi_command,
        acp_control: opts.acp_command.is_some().then(Default::default),
        acp_command,
        shell,
        idle_timeout,
        mcp_servers,
        context_files,
        max_tokens_total: opts.max_tokens_total,
        command_hooks,
        skill_dirs: opts
            .skill_dirs
            .iter()
            .flatten()
            .map(|d| crate::ids::expand_path(d))
            .collect::<Result<_>>()?,
    })
}

/// The seed's idle reclamation period: 4 hours.
const DEFAULT_IDLE_TIMEOUT_MS: u64 = 14_400_000;
/// The longest accepted period (a year), so deadlines stay far from overflow.
const MAX_IDLE_TIMEOUT_MS: u64 = 31_536_000_000;

fn http_options(opts: &SessionOptions) -> Result<HttpOptions> {
    if let Some(url) = &opts.base_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::invalid(format!(
                "base_url {url:?} must start with http:// or https://"
            )));
        }
    }
    if let Some(name) = &opts.api_key_env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(Error::invalid(
                "api_key_env must name an environment variable",
            ));
        }
    }
    if let Some(p) = &opts.prices {
        p.validate()?;
    }
    let idle_ms = opts.stream_idle_timeout_ms.unwrap_or(180_000);
    if !(1..=3_600_000).contains(&idle_ms) {
        return Err(Error::invalid(
            "stream_idle_timeout_ms must be between 1 and 3600000",
        ));
    }
    Ok(HttpOptions {
        base_url: opts.base_url.clone(),
        api_key_env: opts.api_key_env.clone(),
        prices: opts.prices,
        idle_timeout: std::time::Duration::from_millis(idle_ms),
    })
}

fn retry_policy(r: RetryOptions) -> Result<RetryPolicy> {
    let d = RetryPolicy::DEFAULT;
    let max_retries = r.max_retries.unwrap_or(d.max_retries);
    if max_retries > 10 {
        return Err(Error::invalid("retry.max_retries must be at most 10"));
    }
    let ms = |v: Option<u64>, default: std::time::Duration, name: &str| match v {
        Some(ms) if ms > 600_000 => Err(Error::invalid(format!(
            "retry.{name} must be at most 600000"
        ))),
        Some(ms) => Ok(std::time::Duration::from_millis(ms)),
        None => Ok(default),
    };
    Ok(RetryPolicy {
        max_retries,
        base_delay: ms(r.base_delay_ms, d.base_delay, "base_delay_ms")?,
        max_delay: ms(r.max_delay_ms, d.max_delay, "max_delay_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(j: &str) -> Result<Resolved> {
        resolve(Some(j), &json!({}), &RestartPolicy::default())
    }

    #[test]
    fn defaults_and_merging() {
        let o = resolve(None, &json!({"max_turns": 7}), &RestartPolicy::default()).unwrap();
        assert_eq!(o.model, "scripted:echo");
        assert_eq!(o.max_turns, 7);
        let o = resolve(
            Some(r#"{"max_turns": 3}"#),
            &json!({"max_turns": 7}),
            &RestartPolicy::default(),
        )
        .unwrap();
        assert_eq!(o.max_turns, 3);
    }

    #[test]
    fn bad_options_are_rejected_with_reasons() {
        assert!(matches!(r("{"), Err(Error::InvalidJson(..))));
        assert!(matches!(r("[]"), Err(Error::InvalidArgument(_))));
        assert!(r(r#"{"modle": "x"}"#)
            .unwrap_err()
            .to_string()
            .contains("modle"));
        assert!(matches!(
            r(r#"{"session_id": "../etc"}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"provider": "host", "model": "openai:gpt-4o"}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"provider": "nope"}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"workdir": "/definitely/not/here"}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"thinking_level": "extreme"}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"max_turns": 0}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"script": [[{"bogus": 1}]]}"#),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            r(r#"{"restart": {"max_attempts": "3"}}"#),
            Err(Error::InvalidArgument(_))
        ));
        for bad in [
            r#"{"prices": {"input": -1, "output": 1}}"#,
            r#"{"prices": {"input": 1}}"#,
            r#"{"prices": {"input": 1, "output": 1, "cache": 1}}"#,
            r#"{"retry": {"max_retries": 11}}"#,
            r#"{"retry": {"base_delay_ms": 600001}}"#,
            r#"{"base_url": "ftp://x"}"#,
            r#"{"api_key_env": ""}"#,
            r#"{"stream_idle_timeout_ms": 0}"#,
            r#"{"model": "anthropic:"}"#,
            r#"{"provider": "pi", "model": "m1"}"#,
            r#"{"provider": "pi", "pi_command": []}"#,
            r#"{"provider": "pi", "pi_command": [""]}"#,
            r#"{"provider": "acp"}"#,
            r#"{"provider": "acp", "acp_command": []}"#,
            r#"{"acp_command": [""]}"#,
            r#"{"provider": "acp", "acp_command": ["a"], "model": "openai:gpt-4.1"}"#,
        ] {
            assert!(
                matches!(r(bad), Err(Error::InvalidArgument(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn http_options_are_resolved() {
        let o = r(
            r#"{"model": "openai:gpt-4o", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "K",
            "prices": {"input": 1, "output": 2, "cache_read": 0.5}, "retry": {"max_retries": 0},
            "stream_idle_timeout_ms": 50, "max_cost": 0.5}"#,
        )
        .unwrap();
        assert_eq!(o.http.base_url.as_deref(), Some("http://127.0.0.1:1/v1"));
        assert_eq!(o.http.api_key_env.as_deref(), Some("K"));
        assert_eq!(o.http.prices.unwrap().cache_read, 0.5);
        assert_eq!(o.http.idle_timeout, std::time::Duration::from_millis(50));
        assert_eq!(o.retry.unwrap().max_retries, 0);
        assert_eq!(o.max_cost, Some(0.5));
        assert!(r("{}").unwrap().retry.is_none());
    }

    #[test]
    fn pi_sessions_take_pi_models_and_a_command() {
        let o = r(r#"{"provider": "pi"}"#).unwrap();
        assert_eq!(o.model, crate::provider::pi::DEFAULT_MODEL);
        assert_eq!(o.pi_command, ["pi"]);
        let o = r(
            r#"{"provider": "pi", "model": "mock:m1", "models": ["google:gemini:high"],
            "pi_command": ["node", "pi.js"], "thinking_level": "low"}"#,
        )
        .unwrap();
        assert_eq!(o.model, "mock:m1");
        assert_eq!(o.pi_command, ["node", "pi.js"]);
        assert_eq!(o.thinking_level, ThinkingLevel::Low);
    }
}
