//! Gateway authentication: the gateway token's source, constant-time token comparison, and the per-address limit on
//! failed attempts.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::sync::lock;

/// The environment variable the gateway token is read from when the options name no file.
pub const GATEWAY_TOKEN_ENV: &str = "TANDEM_GATEWAY_TOKEN";

/// Shortest gateway token accepted: shorter ones are guessable within the rate limit's patience.
const MIN_TOKEN_LEN: usize = 16;

/// A secret that never prints: `Debug` shows its length only.
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

impl Secret {
    /// Whether `given` equals the secret, in time that depends on neither's content.
    pub fn matches(&self, given: &str) -> bool {
        tokens_equal(&self.0, given)
    }

    /// The secret itself, for sending it to a gateway (a remote client's `auth`); never for logs or errors.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Constant-time equality (the length, which is public for tokens of a fixed form, is the only thing that leaks).
pub fn tokens_equal(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Loads the gateway token: from `file` when given (its first line), else from the environment variable `env`
/// (default [`GATEWAY_TOKEN_ENV`]); `None` when neither is set (listing and starting sessions are then refused).
/// Never from the options JSON itself, so a token is not copied into configuration files or logs.
pub fn gateway_token(file: Option<&str>, env: Option<&str>) -> Result<Option<Secret>> {
    let (token, from) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Io(format!("cannot read gateway_token_file {path}: {e}")))?;
            let first = text.lines().next().unwrap_or("").trim().to_string();
            (first, format!("gateway_token_file {path}"))
        }
        None => {
            let name = env.unwrap_or(GATEWAY_TOKEN_ENV);
            match std::env::var(name) {
                Ok(v) => (v.trim().to_string(), format!("${name}")),
                Err(_) if env.is_none() => return Ok(None),
                Err(_) => {
                    return Err(Error::invalid(format!(
                        "gateway_token_env names {name}, which is not set (or not UTF-8)"
                    )))
                }
            }
        }
    };
    if token.len() < MIN_TOKEN_LEN {
        return Err(Error::invalid(format!(
            "the gateway token in {from} must be at least {MIN_TOKEN_LEN} characters"
        )));
    }
    Ok(Some(Secret(token)))
}

/// Failed authentications per address in a sliding window; an address at the limit is refused without its token
/// being looked at until the oldest failure leaves the window.
pub struct RateLimit {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl RateLimit {
    /// At most `max` failures per `window` per address.
    pub fn new(max: usize, window: Duration) -> RateLimit {
        RateLimit {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn prune(&self, list: &mut VecDeque<Instant>, now: Instant) {
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            list.pop_front();
        }
    }

    /// Whether `addr` may try to authenticate now.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.failures);
        let Some(list) = map.get_mut(&addr) else {
            return true;
        };
        self.prune(list, now);
        if list.is_empty() {
            map.remove(&addr);
            return true;
        }
        list.len() < self.max
    }

    /// Records a failed attempt from `addr`.
    pub fn failed(&self, addr: IpAddr) {
        let now = Instant::now();
        let mut map = lock(&self.failures);
        // Bounded: forget addresses whose failures all left the window once the table grows.
        if map.len() > 4096 {
            map.retain(|_, l| {
                l.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let list = map.entry(addr).or_default();
        self.prune(list, now);
        list.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content_and_length() {
        assert!(tokens_equal("abcdef", "abcdef"));
        assert!(!tokens_equal("abcdef", "abcdeg"));
        assert!(!tokens_equal("abcdef", "abcde"));
        assert!(!tokens_equal("abcdef", ""));
    }

    #[test]
    fn an_address_at_the_limit_is_refused_and_others_are_not() {
        let rl = RateLimit::new(2, Duration::from_secs(3600));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(rl.allows(a));
        rl.failed(a);
        assert!(rl.allows(a));
        rl.failed(a);
        assert!(!rl.allows(a));
        assert!(rl.allows(b));
    }

    #[test]
    fn failures_leave_the_window() {
        let rl = RateLimit::new(1, Duration::ZERO);
        let a: IpAddr = "::1".parse().unwrap();
        rl.failed(a);
        assert!(rl.allows(a));
    }

    #[test]
    fn the_gateway_token_comes_from_a_file_and_must_be_long_enough() {
        let dir = std::env::temp_dir().join(format!("tandem-gw-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("token");
        std::fs::write(&f, "0123456789abcdefXYZ\nignored\n").unwrap();
        let s = gateway_token(Some(f.to_str().unwrap()), None)
            .unwrap()
            .unwrap();
        assert!(s.matches("0123456789abcdefXYZ"));
        assert_eq!(format!("{s:?}"), "Secret(19 bytes)");
        std::fs::write(&f, "short\n").unwrap();
        assert!(matches!(
            gateway_token(Some(f.to_str().unwrap()), None),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            gateway_token(Some(dir.join("missing").to_str().unwrap()), None),
            Err(Error::Io(_))
        ));
        assert!(matches!(
            gateway_token(None, Some("TANDEM_TEST_SURELY_UNSET_VAR")),
            Err(Error::InvalidArgument(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
