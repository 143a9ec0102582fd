//! Per-model prices (USD per million tokens) and context windows, looked up by longest name prefix.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::vocab::content::Usage;

/// Prices of one model in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens (thinking included).
    pub output: f64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read: f64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write: f64,
}

impl Prices {
    /// Checks that every price is a finite, non-negative number.
    pub fn validate(&self) -> Result<()> {
        let all = [self.input, self.output, self.cache_read, self.cache_write];
        if all.iter().all(|p| p.is_finite() && *p >= 0.0) {
            Ok(())
        } else {
            Err(Error::invalid(
                "prices: input, output, cache_read and cache_write must be non-negative numbers (USD per million tokens)",
            ))
        }
    }

    /// The cost of `u` in USD.
    pub fn cost(&self, u: &Usage) -> f64 {
        (u.input as f64 * self.input
            + u.output as f64 * self.output
            + u.cache_read as f64 * self.cache_read
            + u.cache_write as f64 * self.cache_write)
            / 1_000_000.0
    }
}

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Prices {
    Prices {
        input,
        output,
        cache_read,
        cache_write,
    }
}

/// Published list prices by model-name prefix. Anthropic cache writes are the 5-minute rate (1.25 × input); OpenAI
/// has no cache-write charge.
const PRICES: &[(&str, Prices)] = &[
    ("claude-opus-4-5", p(5.0, 25.0, 0.5, 6.25)),
    ("claude-opus-4", p(15.0, 75.0, 1.5, 18.75)),
    ("claude-3-opus", p(15.0, 75.0, 1.5, 18.75)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-3-5-sonnet", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-4", p(1.0, 5.0, 0.1, 1.25)),
    ("claude-3-5-haiku", p(0.8, 4.0, 0.08, 1.0)),
    ("claude-3-haiku", p(0.25, 1.25, 0.03, 0.3)),
    ("gpt-5-nano", p(0.05, 0.4, 0.005, 0.0)),
    ("gpt-5-mini", p(0.25, 2.0, 0.025, 0.0)),
    ("gpt-5", p(1.25, 10.0, 0.125, 0.0)),
    ("gpt-4.1-nano", p(0.1, 0.4, 0.025, 0.0)),
    ("gpt-4.1-mini", p(0.4, 1.6, 0.1, 0.0)),
    ("gpt-4.1", p(2.0, 8.0, 0.5, 0.0)),
    ("gpt-4o-mini", p(0.15, 0.6, 0.075, 0.0)),
    ("gpt-4o", p(2.5, 10.0, 1.25, 0.0)),
    ("o4-mini", p(1.1, 4.4, 0.275, 0.0)),
    ("o3-mini", p(1.1, 4.4, 0.55, 0.0)),
    ("o3", p(2.0, 8.0, 0.5, 0.0)),
    ("o1", p(15.0, 60.0, 7.5, 0.0)),
];

/// Context windows in tokens by model-name prefix.
const CONTEXT_LIMITS: &[(&str, u64)] = &[
    ("claude-", 200_000),
    ("gpt-5", 400_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("gemini-2.5-", 1_048_576),
    ("deepseek-", 64_000),
];

fn longest_prefix<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, v)| *v)
}

/// The list prices of `model` (the name after the provider prefix). Local `ollama` models are free; unknown models
/// have no price (their cost is reported as 0 unless the session sets `prices`).
pub fn prices_for(provider: &str, model: &str) -> Option<Prices> {
    if provider == "ollama" {
        return Some(Prices::default());
    }
    longest_prefix(PRICES, model)
}

/// The context window of `model` (the name after the provider prefix), if known.
pub fn context_limit(model: &str) -> Option<u64> {
    longest_prefix(CONTEXT_LIMITS, model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            prices_for("openai", "gpt-4o-mini-2024-07-18")
                .unwrap()
                .input,
            0.15
        );
        assert_eq!(
            prices_for("openai", "gpt-4o-2024-08-06").unwrap().input,
            2.5
        );
        assert_eq!(
            prices_for("anthropic", "claude-opus-4-5-20251101")
                .unwrap()
                .output,
            25.0
        );
        assert_eq!(
            prices_for("anthropic", "claude-opus-4-1-20250805")
                .unwrap()
                .output,
            75.0
        );
        assert_eq!(prices_for("ollama", "llama3"), Some(Prices::default()));
        assert_eq!(prices_for("openai", "mystery"), None);
        assert_eq!(context_limit("gpt-4o"), Some(128_000));
        assert_eq!(context_limit("gpt-4-0613"), Some(8_192));
        assert_eq!(context_limit("claude-sonnet-4-20250514"), Some(200_000));
        assert_eq!(context_limit("llama3"), None);
    }

    #[test]
    fn cost_sums_every_kind_of_token() {
        let u = Usage {
            input: 1_000_000,
            output: 2_000_000,
            cache_read: 1_000_000,
            cache_write: 1_000_000,
            cost: 0.0,
        };
        assert_eq!(p(3.0, 15.0, 0.3, 3.75).cost(&u), 3.0 + 30.0 + 0.3 + 3.75);
        assert!(p(-1.0, 0.0, 0.0, 0.0).validate().is_err());
        assert!(p(f64::NAN, 0.0, 0.0, 0.0).validate().is_err());
        assert!(p(1.0, 2.0, 0.0, 0.0).validate().is_ok());
    }
}
