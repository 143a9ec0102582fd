//! Identifiers: session tokens from the OS RNG, workdir-derived session IDs, and ID validation.

use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// A fresh session token: 32 bytes from the OS RNG, base64url without padding (43 characters).
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::Internal(format!("OS RNG failed: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

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
            token: new_token()?,
            issued_ms: crate::time::wall_ms(),
        })
    }

    /// Whether the token is older than `max_age_ms` at `now_ms`.
    pub fn expired(&self, max_age_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.issued_ms) > max_age_ms
    }
}

/// Normalizes `path` the way the seed's `Path.expand` does: absolute against the process cwd, `~` expanded,
/// `.` and `..` removed lexically, no trailing `/`. Symlinks are not resolved.
pub fn expand_path(path: &str) -> Result<PathBuf> {
    if path.is_empty() {
        return Err(Error::invalid("path must not be empty"));
    }
    let raw = if path == "~" || path.starts_with("~/") {
        let home = std::env::var_os("HOME")
            .ok_or_else(|| Error::invalid("cannot expand ~: HOME is not set"))?;
        let mut p = PathBuf::from(home);
        if path.len() > 2 {
            p.push(&path[2..]);
        }
        p
    } else {
        PathBuf::from(path)
    };
    let absolute = if raw.is_absolute() {
        raw
    } else {
        std::env::current_dir()
            .map_err(|e| Error::Io(format!("cannot read the current directory: {e}")))?
            .join(raw)
    };
    let mut out = PathBuf::from("/");
    for comp in absolute.components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(c) => out.push(c),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// `"workdir-"` followed by the first 16 hex digits of the SHA-256 of the normalized absolute path.
pub fn workdir_session_id(path: &str) -> Result<String> {
    let expanded = expand_path(path)?;
    Ok(workdir_id_for(&expanded))
}

fn workdir_id_for(expanded: &Path) -> String {
    let digest = Sha256::digest(expanded.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("workdir-{hex}")
}

/// Checks a host-supplied session or conversation ID: `[A-Za-z0-9._-]`, 1 to 128 characters, not `.` or `..`.
/// IDs name files in the store, so nothing else may pass.
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if id.is_empty() || id.len() > 128 || !ok_chars || id == "." || id == ".." {
        return Err(Error::invalid(format!(
            "invalid {what} {id:?}: use 1-128 characters from [A-Za-z0-9._-], not \".\" or \"..\""
        )));
    }
    Ok(())
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_ids_match_the_seed_vectors() {
        assert_eq!(
            workdir_session_id("/tmp/my-project").unwrap(),
            "workdir-52089b5d135e6b25"
        );
        assert_eq!(
            workdir_session_id("/home/user/code/app").unwrap(),
            "workdir-9b7d5b340a9d252e"
        );
        assert_eq!(workdir_session_id("/").unwrap(), "workdir-8a5edab282632443");
    }

    #[test]
    fn workdir_ids_normalize_dots_and_trailing_slashes() {
        let want = workdir_session_id("/tmp/my-project").unwrap();
        assert_eq!(workdir_session_id("/tmp/my-project/").unwrap(), want);
        assert_eq!(workdir_session_id("/tmp/./x/../my-project").unwrap(), want);
        assert_eq!(workdir_session_id("/../tmp/my-project").unwrap(), want);
        assert!(workdir_session_id("").is_err());
    }

    #[test]
    fn tokens_are_43_char_base64url_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn id_validation_rejects_path_tricks() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a\\b",
            "a b",
            "é",
            &"x".repeat(129),
            "a\0b",
        ] {
            assert!(validate_id("session id", bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "session-1",
            "workdir-52089b5d135e6b25",
            "a.b_c-D",
            &"x".repeat(128),
            "...",
        ] {
            validate_id("session id", good).unwrap();
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

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
