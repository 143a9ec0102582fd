//! The remote link's transport: a WebSocket to the gateway over TCP (`ws://`) or TLS (`wss://`, rustls with the
//! webpki roots and an optional private CA file), and the JSON-RPC frames read from it.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;

use crate::error::{Error, Result};

/// A byte stream a WebSocket runs over: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open WebSocket to the gateway.
pub type Ws = WebSocketStream<Box<dyn Io>>;

/// How long connecting (TCP, TLS and the WebSocket handshake together) may take.
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    url: String,
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Target {
    /// Checks `url` (`ws://host:port[/path]` or `wss://...`) and, for wss, builds the TLS configuration: the
    /// webpki roots plus the certificates of `ca_file` (PEM) when given.
    pub fn new(url: &str, ca_file: Option<&str>) -> Result<Target> {
        let (secure, rest) = if let Some(r) = url.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(Error::invalid(format!(
                "remote.url must start with ws:// or wss://, not {url:?}"
            )));
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| Error::invalid(format!("remote.url has a bad port: {url:?}")))?,
            ),
            _ if !authority.is_empty() => (authority, if secure { 443 } else { 80 }),
            _ => return Err(Error::invalid(format!("remote.url names no host: {url:?}"))),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if ca_file.is_some() && !secure {
            return Err(Error::invalid(
                "remote.ca_file is for wss:// URLs; this one is ws://",
            ));
        }
        let tls = if secure {
            Some(Arc::new(client_config(ca_file)?))
        } else {
            None
        };
        Ok(Target {
            url: url.to_string(),
            host,
            port,
            tls,
        })
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a WebSocket to the gateway within [`CONNECT_WAIT`].
    pub async fn connect(&self) -> Result<Ws> {
        let fail = |e: String| {
            Error::Io(format!(
                "cannot connect to the gateway at {}: {e}",
                self.url
            ))
        };
        let open = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| fail(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = match &self.tls {
                None => Box::new(tcp),
                Some(config) => {
                    let name = ServerName::try_from(self.host.clone())
                        .map_err(|e| fail(format!("bad server name: {e}")))?;
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, tcp)
                        .await
                        .map_err(|e| fail(format!("TLS: {e}")))?;
                    Box::new(tls)
                }
            };
            // The handshake's URL scheme must be ws/wss as given; the stream underneath is already secured.
            let (ws, _) = tokio_tungstenite::client_async(self.url.as_str(), io)
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(ws)
        };
        tokio::time::timeout(CONNECT_WAIT, open)
            .await
            .map_err(|_| fail(format!("no answer within {} s", CONNECT_WAIT.as_secs())))?
    }
}

/// The rustls client configuration: webpki's roots, and `ca_file`'s certificates (a private CA) when given.
fn client_config(ca_file: Option<&str>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = crate::remote::tls::certificates(path, "remote.ca_file")?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| Error::invalid(format!("remote.ca_file {path}: {e}")))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Internal(format!("rustls protocol versions: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// A frame from the gateway.
#[derive(Debug)]
pub enum Frame {
    /// The answer to request `id`: its result, or its error object.
    Answer(u64, std::result::Result<Value, Value>),
    /// A notification.
    Note(String, Value),
}

/// Reads one text frame; `None` for anything that is neither an answer to one of our (numeric) requests nor a
/// notification.
pub fn parse(text: &str) -> Option<Frame> {
    let Value::Object(mut o) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    if let Some(Value::String(method)) = o.remove("method") {
        return Some(Frame::Note(
            method,
            o.remove("params").unwrap_or(Value::Object(Map::new())),
        ));
    }
    let id = o.get("id")?.as_u64()?;
    match (o.remove("result"), o.remove("error")) {
        (Some(r), _) => Some(Frame::Answer(id, Ok(r))),
        (None, Some(e)) => Some(Frame::Answer(id, Err(e))),
        _ => None,
    }
}

/// A request frame.
pub fn request(id: u64, method: &str, params: &Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let t = Target::new("ws://127.0.0.1:7700/x", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 7700));
        assert!(t.tls.is_none());
        let t = Target::new("wss://example.org", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.org", 443));
        assert!(t.tls.is_some());
        let t = Target::new("ws://[::1]:9", None).unwrap();
        assert_eq!(t.host, "::1");
        for bad in ["http://x", "ws://", "ws://h:port"] {
            assert!(
                matches!(Target::new(bad, None), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Target::new("wss://h:1", Some("/nonexistent/ca.pem")),
            Err(Error::Io(_))
        ));
        assert!(Target::new("ws://h:1", Some("/ca.pem")).is_err());
    }

    #[test]
    fn frames_parse() {
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":3,"result":{"a":1}}"#),
            Some(Frame::Answer(3, Ok(_)))
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":4,"error":{"code":-32000}}"#),
            Some(Frame::Answer(4, Err(_)))
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","method":"event","params":{"seq":1}}"#),
            Some(Frame::Note(m, _)) if m == "event"
        ));
        assert!(parse("{").is_none());
        assert!(parse(r#"{"id":null,"error":{}}"#).is_none());
    }
}
