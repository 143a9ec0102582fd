//! Settings vocabulary: session status, thinking levels, the provider configuration a session switches, side-call
//! kinds and results, and the restart policy.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A session's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a prompt.
    Idle,
    /// The model is working.
    Thinking,
    /// Tools are running (stays so until the turn ends).
    ToolExecuting,
    /// The last turn ended with an error; prompts are accepted.
    Error,
    /// Plan mode: destructive tools are refused.
    Plan,
}

/// `off`, `low`, `medium` or `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingLevel {
    /// No reasoning.
    Off,
    /// Low effort.
    Low,
    /// Medium effort.
    Medium,
    /// High effort.
    High,
}

impl ThinkingLevel {
    /// Its lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            ThinkingLevel::Off => "off",
            ThinkingLevel::Low => "low",
            ThinkingLevel::Medium => "medium",
            ThinkingLevel::High => "high",
        }
    }

    /// Parses a level name.
    pub fn parse(s: &str) -> Result<ThinkingLevel, Error> {
        match s {
            "off" => Ok(ThinkingLevel::Off),
            "low" => Ok(ThinkingLevel::Low),
            "medium" => Ok(ThinkingLevel::Medium),
            "high" => Ok(ThinkingLevel::High),
            other => Err(Error::invalid(format!(
                "unknown thinking level: {other}. Valid: off, low, medium, high"
            ))),
        }
    }

    /// off → low → medium → high → off.
    pub fn next(self) -> ThinkingLevel {
        match self {
            ThinkingLevel::Off => ThinkingLevel::Low,
            ThinkingLevel::Low => ThinkingLevel::Medium,
            ThinkingLevel::Medium => ThinkingLevel::High,
            ThinkingLevel::High => ThinkingLevel::Off,
        }
    }
}

/// The provider-facing configuration a session controls.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// `provider:model`.
    pub model: String,
    /// Thinking level.
    pub thinking_level: ThinkingLevel,
    /// Active skills: (name, SKILL.md content), sorted by name.
    pub skills: Vec<(String, String)>,
}

/// What a side call is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideKind {
    /// Summarize everything before `first_kept_id`.
    Compact {
        /// The first message kept verbatim.
        first_kept_id: u64,
        /// Started by itself (the context was over the threshold) rather than asked for.
        auto: bool,
    },
    /// Summarize the whole conversation into a file under the workdir.
    Summarize,
}

/// The result of a side call: the model's text, and for summaries the file it was saved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideResult {
    /// The model's answer.
    pub text: String,
    /// Where a summary was saved.
    pub path: Option<String>,
}

/// How crashed sessions are restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Attempts allowed within one window.
    pub max_attempts: u32,
    /// Delay before the first attempt.
    pub base_delay_ms: u64,
    /// Cap on the delay.
    pub max_delay_ms: u64,
    /// Length of the window that attempts are counted in.
    pub window_ms: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_attempts: 3,
            base_delay_ms: 10,
            max_delay_ms: 100,
            window_ms: 60_000,
        }
    }
}

/// The `restart` object of the client config or session options; missing keys keep the inherited value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartOptions {
    /// See [`RestartPolicy::max_attempts`].
    pub max_attempts: Option<u32>,
    /// See [`RestartPolicy::base_delay_ms`].
    pub base_delay_ms: Option<u64>,
    /// See [`RestartPolicy::max_delay_ms`].
    pub max_delay_ms: Option<u64>,
    /// See [`RestartPolicy::window_ms`].
    pub window_ms: Option<u64>,
}

impl RestartOptions {
    /// `base` with these overrides, validated.
    pub fn apply(&self, base: &RestartPolicy) -> Result<RestartPolicy> {
        let p = RestartPolicy {
            max_attempts: self.max_attempts.unwrap_or(base.max_attempts),
            base_delay_ms: self.base_delay_ms.unwrap_or(base.base_delay_ms),
            max_delay_ms: self.max_delay_ms.unwrap_or(base.max_delay_ms),
            window_ms: self.window_ms.unwrap_or(base.window_ms),
        };
        if p.max_delay_ms < p.base_delay_ms {
            return Err(Error::invalid(
                "restart.max_delay_ms must be at least restart.base_delay_ms",
            ));
        }
        if p.max_delay_ms > 3_600_000 || p.window_ms > 86_400_000 {
            return Err(Error::invalid(
                "restart delays are limited to an hour and the window to a day",
            ));
        }
        Ok(p)
    }
}
/// Why a budget stopped a turn: the first limit reached on the way from the session to the root of its tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStop {
    /// `max_cost` or `max_tokens_total`.
    pub limit: String,
    /// The session whose limit it is (the session itself or an ancestor).
    pub budget_session_id: String,
    /// What that session's tree has spent in the limit's unit (USD or tokens).
    pub spent: f64,
    /// The limit.
    pub allowed: f64,
    /// That tree's cost in USD.
    pub cost: f64,
    /// That tree's tokens.
    pub tokens: u64,
}

impl BudgetStop {
    /// The message for the transcript and the `error` event.
    pub fn message(&self) -> String {
        let (spent, allowed) = if self.limit == "max_cost" {
            (
                format!("${:.2}", self.spent),
                format!("${:.2}", self.allowed),
            )
        } else {
            (
                format!("{} tokens", self.spent),
                format!("{} tokens", self.allowed),
            )
        };
        format!(
            "Budget exhausted: the session tree of {} has spent {spent} of its {} ({allowed}). Raise it \
             (tandem_session_set_budget) or start a new conversation.",
            self.budget_session_id, self.limit
        )
    }
}
