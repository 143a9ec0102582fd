//! The remote gateway: serves a client's sessions over WebSocket (TLS by rustls, plain ws only on loopback unless
//! told otherwise) as JSON-RPC 2.0, with broker-token authentication, a driver and viewers per session, and
//! lossless catch-up from a cursor. The protocol is documented in docs/remote.md.

mod attach;
pub mod auth;
mod conn;
pub mod link;
pub mod methods;
mod outbox;
mod roles;
pub mod rpc;
pub mod tls;
mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};

/// The listen options JSON. Unknown keys are rejected; the gateway token is never one of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    address: Option<String>,
    tls: Option<TlsFiles>,
    insecure: Option<bool>,
    gateway_token_file: Option<String>,
    gateway_token_env: Option<String>,
    max_message_bytes: Option<usize>,
    max_queued_events: Option<usize>,
    max_queued_bytes: Option<usize>,
    max_connections: Option<usize>,
    auth_failures_per_minute: Option<usize>,
    ping_interval_ms: Option<usize>,
    token_max_age_s: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFiles {
    cert_file: String,
    key_file: String,
}

fn within(name: &str, v: Option<usize>, default: usize, lo: usize, hi: usize) -> Result<usize> {
    let v = v.unwrap_or(default);
    if !(lo..=hi).contains(&v) {
        return Err(Error::invalid(format!(
            "{name} must be between {lo} and {hi}"
        )));
    }
    Ok(v)
}

impl Options {
    fn parse(json: Option<&str>) -> Result<Options> {
        let Some(text) = json else {
            return Ok(Options::default());
        };
        let v: Value = Error::parse_json("options_json", text)?;
        let Value::Object(o) = &v else {
            return Err(Error::invalid("options_json must be a JSON object"));
        };
        if o.contains_key("gateway_token") || o.contains_key("token") {
            return Err(Error::invalid(
                "the gateway token is never given in the options: name a file (gateway_token_file) or an \
                 environment variable (gateway_token_env, default TANDEM_GATEWAY_TOKEN)",
            ));
        }
        serde_json::from_value(v).map_err(|e| Error::invalid(format!("options_json: {e}")))
    }
}

/// What every connection of a gateway shares.
pub struct Shared {
    client: Weak<Client>,
    gateway_token: Option<auth::Secret>,
    roles: roles::Roles,
    rate: auth::RateLimit,
    limits: outbox::Limits,
    max_message: usize,
    /// How often the writer pings; a connection that sends nothing (not even a pong) for two of these is closed.
    ping: Duration,
    /// Session tokens older than this (ms since they were issued) no longer attach; `None`: they do not expire.
    token_max_age_ms: Option<u64>,
    next_conn: AtomicU64,
}

impl Shared {
    fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// A listening gateway. Dropping it (or [`Gateway::stop`]) stops accepting and closes every connection.
pub struct Gateway {
    address: String,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// The URL clients connect to, e.g. `ws://127.0.0.1:7700` or `wss://[::1]:7700`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Stops accepting and aborts every connection (their subscriptions and roles end with them).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts serving `client`'s sessions on `runtime` as `options_json` says; see docs/remote.md.
pub fn listen(
    client: &Arc<Client>,
    runtime: &tokio::runtime::Handle,
    options_json: Option<&str>,
) -> Result<Gateway> {
    let o = Options::parse(options_json)?;
    let address = o.address.as_deref().unwrap_or("127.0.0.1:0");
    let addr: SocketAddr = address.parse().map_err(|_| {
        Error::invalid(format!(
            "address must be IP:port (e.g. 127.0.0.1:7700 or [::1]:7700), not {address:?}"
        ))
    })?;
    let acceptor = match &o.tls {
        Some(t) => Some(tls::acceptor(&t.cert_file, &t.key_file)?),
        None => {
            tls::check_plain(&addr, o.insecure.unwrap_or(false))?;
            None
        }
    };
    let shared = Arc::new(Shared {
        client: Arc::downgrade(client),
        gateway_token: auth::gateway_token(
            o.gateway_token_file.as_deref(),
            o.gateway_token_env.as_deref(),
        )?,
        roles: roles::Roles::default(),
        rate: auth::RateLimit::new(
            within(
                "auth_failures_per_minute",
                o.auth_failures_per_minute,
                10,
                1,
                1_000_000,
            )?,
            Duration::from_secs(60),
        ),
        limits: outbox::Limits {
            max_events: within("max_queued_events", o.max_queued_events, 4096, 16, 1 << 24)?,
            max_bytes: within(
                "max_queued_bytes",
                o.max_queued_bytes,
                8 << 20,
                4096,
                1 << 32,
            )?,
        },
        max_message: within(
            "max_message_bytes",
            o.max_message_bytes,
            1 << 20,
            1024,
            64 << 20,
        )?,
        ping: Duration::from_millis(within(
            "ping_interval_ms",
            o.ping_interval_ms,
            30_000,
            100,
            3_600_000,
        )? as u64),
        token_max_age_ms: match o.token_max_age_s {
            Some(s) => {
                Some(within("token_max_age_s", Some(s), 0, 1, 10 * 365 * 86_400)? as u64 * 1000)
            }
            None => None,
        },
        next_conn: AtomicU64::new(1),
    });
    let max_connections = within("max_connections", o.max_connections, 1024, 1, 65_536)?;
    let std_listener = std::net::TcpListener::bind(addr)
        .map_err(|e| Error::Io(format!("cannot listen on {addr}: {e}")))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| Error::Io(format!("cannot listen on {addr}: {e}")))?;
    let local = std_listener
        .local_addr()
        .map_err(|e| Error::Io(format!("cannot listen on {addr}: {e}")))?;
    let listener = {
        let _in_runtime = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)
            .map_err(|e| Error::Io(format!("cannot listen on {addr}: {e}")))?
    };
    let scheme = if acceptor.is_some() { "wss" } else { "ws" };
    let task = runtime.spawn(accept_loop(listener, shared, acceptor, max_connections));
    Ok(Gateway {
        address: format!("{scheme}://{local}"),
        task,
    })
}

/// Accepts connections until aborted; every connection task is aborted with it.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((tcp, peer)) = accepted else {
            // Out of descriptors and the like: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Past the connection limit the peer is closed at once.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        conns.spawn(async move {
            let _slot = slot;
            match acceptor {
                Some(a) => {
                    let handshake = tokio::time::timeout(Duration::from_secs(10), a.accept(tcp));
                    if let Ok(Ok(tls)) = handshake.await {
                        conn::serve(shared, tls, peer).await;
                    }
                }
                None => conn::serve(shared, tcp, peer).await,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_refuse_tokens_unknown_keys_and_bad_bounds() {
        assert!(Options::parse(None).is_ok());
        for bad in [
            r#"{"gateway_token": "x"}"#,
            r#"{"bogus": 1}"#,
            r#"[]"#,
            r#"{"tls": {"cert_file": "c"}}"#,
            r#"{"token_max_age_s": -1}"#,
        ] {
            assert!(
                matches!(Options::parse(Some(bad)), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Options::parse(Some("{")),
            Err(Error::InvalidJson(..))
        ));
        assert!(within("x", Some(0), 5, 1, 9).is_err());
        assert_eq!(within("x", None, 5, 1, 9).unwrap(), 5);
    }
}
