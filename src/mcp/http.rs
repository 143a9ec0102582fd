//! The streamable HTTP transport: rmcp's client transport over a reqwest client whose TLS is rustls with the ring
//! provider and the webpki roots (set here explicitly, so no process-wide crypto provider is needed or installed),
//! with the configured headers and a bearer token read from an environment variable.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest013::header::{HeaderName, HeaderValue};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;

use super::config::resolve_value;

/// Bytes one JSON response may have (tool results included).
const MAX_RESPONSE: usize = 32 * 1024 * 1024;

/// A reqwest client for MCP servers.
fn http_client() -> Result<reqwest013::Client, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup failed: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest013::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| format!("HTTP client setup failed: {e}"))
}

/// The transport for `url` with `headers` (values resolved from `$VAR` references now) and the bearer token in
/// variable `bearer_env`.
pub fn transport(
    url: &str,
    headers: &[(String, String)],
    bearer_env: Option<&str>,
) -> Result<StreamableHttpClientTransport<reqwest013::Client>, String> {
    let mut map = HashMap::new();
    for (k, v) in headers {
        let value = resolve_value(v).map_err(|e| format!("header {k}: {e}"))?;
        let name =
            HeaderName::try_from(k.as_str()).map_err(|e| format!("header name {k:?}: {e}"))?;
        let value = HeaderValue::try_from(value).map_err(|e| format!("header {k} value: {e}"))?;
        map.insert(name, value);
    }
    let mut config = StreamableHttpClientTransportConfig::with_uri(url)
        .custom_headers(map)
        .max_json_response_size(MAX_RESPONSE);
    if let Some(var) = bearer_env {
        let token = std::env::var(var)
            .map_err(|_| format!("bearer_token_env: environment variable {var} is not set"))?;
        config = config.auth_header(token);
    }
    Ok(StreamableHttpClientTransport::with_client(
        http_client()?,
        config,
    ))
}
