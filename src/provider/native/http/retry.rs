//! Retry policy of model calls: how many attempts, exponential backoff with jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

/// The longest a server's `Retry-After` may make the loop wait; longer requests are cut to this.
const MAX_SERVER_DELAY: Duration = Duration::from_secs(60);

/// How a failed model call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: one call only).
    pub max_retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub base_delay: Duration,
    /// Cap of the doubled delay (before jitter).
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// 3 retries, 1 s doubling up to 16 s (the seed's values).
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(16),
    };

    /// No retries.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::DEFAULT
    };

    /// The wait before retry number `retry` (1-based): the server's `Retry-After` when it sent one, else
    /// `min(base * 2^(retry-1), max)` plus up to half of that again as jitter, so clients that failed together do
    /// not retry together.
    pub fn delay(&self, retry: u32, retry_after_ms: Option<u64>) -> Duration {
        if let Some(ms) = retry_after_ms {
            return Duration::from_millis(ms).min(MAX_SERVER_DELAY);
        }
        let doubled = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let capped = doubled.min(self.max_delay);
        let half = capped.as_millis() as u64 / 2;
        let jitter = if half == 0 {
            0
        } else {
            random_u64() % (half + 1)
        };
        capped + Duration::from_millis(jitter)
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Without OS randomness the retry simply has no jitter.
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (a date in the past means "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .map_or(0, |d| d.as_millis().min(u64::MAX as u128) as u64),
    )
}

/// The retry notice shown to the host: `Retrying in 2.5 s (attempt 1 of 3): HTTP 529: Overloaded`.
pub fn notice(delay: Duration, retry: u32, max: u32, reason: &str) -> String {
    format!(
        "Retrying in {:.1} s (attempt {retry} of {max}): {reason}",
        delay.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let p = RetryPolicy::DEFAULT;
        for _ in 0..50 {
            let d1 = p.delay(1, None).as_millis();
            assert!((1000..=1500).contains(&d1), "{d1}");
            let d3 = p.delay(3, None).as_millis();
            assert!((4000..=6000).contains(&d3), "{d3}");
            let d9 = p.delay(9, None).as_millis();
            assert!((16000..=24000).contains(&d9), "{d9}");
        }
        assert_eq!(p.delay(40, Some(0)), Duration::ZERO);
        assert_eq!(p.delay(1, Some(2500)), Duration::from_millis(2500));
        assert_eq!(p.delay(1, Some(3_600_000)), MAX_SERVER_DELAY);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(3000));
        assert_eq!(parse_retry_after(" 0.5 ", now), Some(500));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(10_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn notices_name_the_wait_attempt_and_reason() {
        assert_eq!(
            notice(Duration::from_millis(2500), 1, 3, "HTTP 529: Overloaded"),
            "Retrying in 2.5 s (attempt 1 of 3): HTTP 529: Overloaded"
        );
    }
}
