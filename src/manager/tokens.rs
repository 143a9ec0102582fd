//! Session tokens: the broker token a remote peer attaches with, when it was issued, and its renewal.

use std::sync::Mutex;

use super::Manager;
use crate::error::Result;
pub use crate::ids::BrokerToken;
use crate::sync::lock;

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
