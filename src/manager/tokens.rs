//! Session tokens: the broker token a remote peer attaches with, when it was issued, and its renewal.

use std::sync::Mutex;

use super::Manager;
use crate::error::Result;
use crate::sync::lock;

/// A session's token and when it was issued (ms since the epoch). The issue time is kept with the token in the
/// store, so a gateway's maximum token age holds across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerToken {
    /// The token: 32 bytes from the OS RNG, base64url.
    pub token: String,
    /// When it was issued, in ms since the epoch.
    pub issued_ms: u64,
}

impl BrokerToken {
    /// A new token from the OS RNG, issued now.
    pub fn fresh() -> Result<BrokerToken> {
        Ok(BrokerToken {
            token: crate::ids::new_token()?,
            issued_ms: crate::time::wall_ms(),
        })
    }

    /// Whether the token is older than `max_age_ms` at `now_ms`.
    pub fn expired(&self, max_age_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.issued_ms) > max_age_ms
    }
}

impl Manager {
    /// The session's token.
    pub fn token(&self, id: &str) -> Result<String> {
        self.active(id, |_, s| lock(&s.token).token.clone())
    }

    /// The token of session `id` with its issue time, whether the session runs or is only stored (a start would
    /// restore it); `None` when it is neither. What the remote gateway checks an attach against before starting
    /// anything.
    pub fn broker_token(&self, id: &str) -> Result<Option<BrokerToken>> {
        if let Ok(t) = self.active(id, |_, s| lock(&s.token).clone()) {
            return Ok(Some(t));
        }
        match &self.store {
            Some(store) => Ok(store
                .session_record(id)?
                .filter(|r| !r.token.is_empty())
                .map(|r| BrokerToken {
                    // Records written before issue times were kept count from now: their sessions get one full
                    // lifetime more, never less.
                    issued_ms: r.token_issued_ms.unwrap_or_else(crate::time::wall_ms),
                    token: r.token,
                })),
            None => Ok(None),
        }
    }

    /// Gives running session `id` a new token, issued now, and returns it; the old one no longer attaches. A
    /// persisted session's record is rewritten first (write, then rename): when that fails, nothing changes.
    pub fn renew_token(&self, id: &str) -> Result<String> {
        // One renewal at a time, so the record and the running session never end up with different tokens.
        static RENEWING: Mutex<()> = Mutex::new(());
        let _one = lock(&RENEWING);
        let persist = self.active(id, |_, s| s.persist.clone())?;
        let fresh = BrokerToken::fresh()?;
        if let Some(p) = persist {
            lock(&p).set_token(&fresh)?;
        }
        self.active(id, |_, s| *lock(&s.token) = fresh.clone())?;
        Ok(fresh.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_expires_only_past_its_maximum_age() {
        let t = BrokerToken {
            token: "t".into(),
            issued_ms: 10_000,
        };
        assert!(
            !t.expired(1000, 11_000),
            "exactly the maximum age still attaches"
        );
        assert!(t.expired(1000, 11_001));
        assert!(
            !t.expired(1000, 5_000),
            "a clock set back never expires a token early"
        );
        let a = BrokerToken::fresh().unwrap();
        let b = BrokerToken::fresh().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43, "32 bytes of the OS RNG, base64url");
    }
}
