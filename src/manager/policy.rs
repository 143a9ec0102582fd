//! Restart policy: exponential backoff with a cap, and a bounded number of attempts per time window.

pub use crate::vocab::settings::{RestartOptions, RestartPolicy};

/// Crashes counted in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Attempts made in it.
    pub attempts: u32,
    /// When it started (monotonic ms).
    pub started_ms: u64,
}

/// What to do about a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashDecision {
    /// Restart after `delay_ms`; this is attempt `attempt` of the window.
    Restart {
        /// 1-based attempt within the window.
        attempt: u32,
        /// Backoff before restarting.
        delay_ms: u64,
        /// The updated window.
        window: Window,
    },
    /// Too many crashes in the window: give up.
    Exhausted,
}

impl RestartPolicy {
    /// Backoff before attempt `attempt` (1-based): base, 2×base, 4×base, … capped at the maximum.
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u64::MAX);
        self.base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms)
    }

    /// Decides on a crash at `now_ms`, given the window of earlier crashes.
    pub fn on_crash(&self, prev: Option<Window>, now_ms: u64) -> CrashDecision {
        let window = match prev {
            Some(w) if now_ms.saturating_sub(w.started_ms) <= self.window_ms => Window {
                attempts: w.attempts + 1,
                ..w
            },
            _ => Window {
                attempts: 1,
                started_ms: now_ms,
            },
        };
        if window.attempts > self.max_attempts {
            CrashDecision::Exhausted
        } else {
            CrashDecision::Restart {
                attempt: window.attempts,
                delay_ms: self.delay_ms(window.attempts),
                window,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_is_10_20_40_capped_at_100() {
        let p = RestartPolicy::default();
        assert_eq!(
            (1..=6).map(|a| p.delay_ms(a)).collect::<Vec<_>>(),
            vec![10, 20, 40, 80, 100, 100]
        );
        assert_eq!(p.delay_ms(200), 100);
    }

    #[test]
    fn three_attempts_per_window_then_exhausted() {
        let p = RestartPolicy::default();
        let mut w = None;
        for (i, t) in [0u64, 100, 200].iter().enumerate() {
            match p.on_crash(w, *t) {
                CrashDecision::Restart {
                    attempt, window, ..
                } => {
                    assert_eq!(attempt as usize, i + 1);
                    w = Some(window);
                }
                CrashDecision::Exhausted => panic!("gave up early"),
            }
        }
        assert_eq!(p.on_crash(w, 300), CrashDecision::Exhausted);
    }

    #[test]
    fn a_crash_after_the_window_starts_a_new_one() {
        let p = RestartPolicy::default();
        let w = Some(Window {
            attempts: 3,
            started_ms: 0,
        });
        assert!(
            matches!(p.on_crash(w, 60_000), CrashDecision::Exhausted),
            "the window is inclusive"
        );
        assert!(matches!(
            p.on_crash(w, 60_001),
            CrashDecision::Restart {
                attempt: 1,
                delay_ms: 10,
                ..
            }
        ));
    }

    #[test]
    fn options_override_and_validate() {
        let base = RestartPolicy::default();
        let p = RestartOptions {
            max_attempts: Some(5),
            ..Default::default()
        }
        .apply(&base)
        .unwrap();
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.base_delay_ms, 10);
        assert!(RestartOptions {
            base_delay_ms: Some(500),
            ..Default::default()
        }
        .apply(&base)
        .is_err());
    }
}
