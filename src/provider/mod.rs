//! Providers: the contract a session drives (`contract.rs`) and its implementations (native loop, host, pi).

pub mod acp;
pub mod budget;
pub mod contract;
pub mod host;
pub mod native;
pub mod pi;

pub use contract::{Provider, TurnLink};

pub use crate::vocab::model::{
    FileChange, ModelMessage, ProviderEvent, ThinkingBlock, ToolCallRequest,
};

/// Whether the model of a session of provider kind `provider` takes images (SPEC Decision 19; others get the text and
/// a system note). pi and host models decide for themselves, so they get the images; scripted models accept them.
/// Anthropic models all read images; OpenAI's do except the text-only families; a local Ollama model reads them only
/// when it is one of the vision families.
pub fn accepts_images(provider: &str, model: &str) -> bool {
    if provider != "native" {
        return true;
    }
    let (backend, name) = model.split_once(':').unwrap_or(("", model));
    let name = name.to_ascii_lowercase();
    match backend {
        "openai" | "openai-responses" => !["gpt-3.5", "o1-mini", "o3-mini", "davinci", "babbage"]
            .iter()
            .any(|p| name.starts_with(p)),
        "ollama" => [
            "llava",
            "bakllava",
            "vision",
            "-vl",
            "vl:",
            "moondream",
            "minicpm-v",
            "gemma3",
            "llama4",
            "mistral-small3",
            "granite3.2-vision",
            "qwen2.5vl",
            "qwen3-vl",
        ]
        .iter()
        .any(|p| name.contains(p)),
        _ => true,
    }
}

/// What a client shares with the providers of all its sessions.
#[derive(Clone, Default)]
pub struct Shared {
    /// One HTTP client (connection pool) for every session's model calls.
    pub http: native::http::SharedClient,
    /// The host provider callback and its open requests.
    pub host: std::sync::Arc<host::HostProvider>,
    /// The client's hooks and its sessions'.
    pub hooks: std::sync::Arc<crate::hooks::Hooks>,
}

/// A provider's view of its client: the shared parts and the session it serves.
#[derive(Clone)]
pub struct Env {
    /// The client's shared parts.
    pub shared: Shared,
    /// The session's ID.
    pub session_id: String,
    /// The session's node in its tree's budget.
    pub budget: std::sync::Arc<budget::Budget>,
    /// The session's project context files (`None`: the `context_files` option turned them off).
    pub context: Option<std::sync::Arc<crate::tools::context::ContextFiles>>,
    /// Publishes an event on the session's stream straight away (for what the session's state does not keep).
    pub publish: std::sync::Arc<dyn Fn(crate::events::Payload) + Send + Sync>,
}

/// The part of a session's resolved options that its provider reads: the provider kind and what each kind needs.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Provider kind: `native`, `host`, `pi` or `acp`.
    pub kind: String,
    /// What the native loop (also the host provider's) reads.
    pub native: native::NativeOptions,
    /// What the pi provider reads.
    pub pi: pi::PiOptions,
    /// What the ACP provider reads.
    pub acp: acp::AcpOptions,
}

/// Builds the provider the session options ask for, set to the session's current model, thinking level and skills
/// (`config`: a restarted session keeps what it had switched to).
pub fn build(
    o: &ProviderOptions,
    cursor: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tools: std::sync::Arc<crate::tools::ToolSet>,
    config: &crate::vocab::settings::ProviderConfig,
    env: &Env,
) -> crate::error::Result<std::sync::Arc<dyn Provider>> {
    match o.kind.as_str() {
        // The host provider is the native loop over `host:<name>` models.
        "native" | "host" => native::Native::new(&o.native, cursor, tools, env)?
            .reconfigure(config)
            .map(|n| {
                let provider: std::sync::Arc<dyn Provider> = std::sync::Arc::new(n);
                provider
            }),
        "pi" => Ok(std::sync::Arc::new(pi::Pi::new(&o.pi, config)?)),
        "acp" => Ok(std::sync::Arc::new(acp::Acp::new(
            &acp::AcpOptions {
                terminal_policy: Some(terminal_policy(&o.native)),
                ..o.acp.clone()
            },
            tools,
            config,
            env.publish.clone(),
        )?)),
        other => Err(crate::error::Error::invalid(format!(
            "the {other} provider is not available in this build of tandem"
        ))),
    }
}

/// The session's rule for its `shell` tool (its `tool_permissions` entry, else its approval mode), which an ACP
/// agent's terminals follow.
fn terminal_policy(o: &native::NativeOptions) -> crate::vocab::gate::Permission {
    use crate::vocab::gate::{ApprovalMode, Permission};
    match (o.tool_permissions.get("shell"), o.approval) {
        (Some(p), _) => *p,
        (None, ApprovalMode::None) => Permission::Allow,
        (None, _) => Permission::Ask,
    }
}

/// Checks that `model` names a model the `provider` kind can be asked for.
pub fn check_model(provider: &str, model: &str) -> crate::error::Result<()> {
    match provider {
        "pi" => pi::check_model(model),
        "acp" => acp::check_model(model),
        _ => native::check_model(model),
    }
}

/// A rough token estimate (characters / 3.5 + 4 per message), as the seed computes it: the messages' weights
/// summed in order, then the system prompt's share.
pub fn estimate_tokens(context: &[ModelMessage], system_prompt: Option<&str>) -> u64 {
    let mut weight = 0.0;
    for m in context {
        weight += m.estimate_weight();
    }
    estimate_from_weight(weight, system_prompt)
}

/// The token estimate of a context whose messages weigh `weight` (see [`ModelMessage::estimate_weight`]) under
/// `system_prompt`: the same number [`estimate_tokens`] gives for those messages.
pub fn estimate_from_weight(weight: f64, system_prompt: Option<&str>) -> u64 {
    let system = system_prompt.map_or(0.0, |s| s.chars().count() as f64 / 3.5 + 12.0);
    (weight + system).round() as u64
}

#[cfg(test)]
mod image_tests {
    use super::accepts_images;

    #[test]
    fn text_only_models_are_recognised() {
        assert!(accepts_images("native", "anthropic:claude-sonnet-4-5"));
        assert!(accepts_images("native", "openai:gpt-4.1"));
        assert!(!accepts_images("native", "openai:gpt-3.5-turbo"));
        assert!(accepts_images("native", "openai-responses:gpt-5"));
        assert!(!accepts_images("native", "openai-responses:o3-mini"));
        assert!(!accepts_images("native", "ollama:qwen2.5-coder"));
        assert!(accepts_images("native", "ollama:llava:13b"));
        assert!(accepts_images("native", "ollama:qwen2.5vl:7b"));
        assert!(accepts_images("native", "scripted:echo"));
        assert!(accepts_images("pi", "ollama:qwen2.5-coder"), "pi decides");
    }
}
