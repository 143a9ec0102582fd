//! The gateway's transport security: the rustls server configuration from PEM certificate and key files (ring
//! provider, set explicitly so no process-wide crypto provider is installed), and the loopback rule for plain ws.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// A TLS acceptor for `cert_file` (PEM chain, leaf first) and `key_file` (PEM private key).
pub fn acceptor(cert_file: &str, key_file: &str) -> Result<tokio_rustls::TlsAcceptor> {
    let certs = certificates(cert_file, "tls cert_file")?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| Error::invalid(format!("tls key_file {key_file}: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Internal(format!("rustls protocol versions: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| Error::invalid(format!("tls certificate and key do not fit: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The certificates of PEM file `path` (at least one); errors name it as `what`.
pub fn certificates(path: &str, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Io(format!("cannot read {what} {path}: {e}")))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::invalid(format!("{what} {path}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "{what} {path} holds no certificate"
        )));
    }
    Ok(certs)
}

/// Refuses plain ws on an address other hosts can reach, unless the options said `"insecure": true`.
pub fn check_plain(addr: &SocketAddr, insecure: bool) -> Result<()> {
    if addr.ip().is_loopback() || insecure {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "plain ws:// on {} (not a loopback address) would send tokens and transcripts in clear text: give tls \
         {{cert_file, key_file}}, or set \"insecure\": true to accept that",
        addr.ip()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ws_is_for_loopback_unless_insecure() {
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let lo6: SocketAddr = "[::1]:1".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert!(check_plain(&lo, false).is_ok());
        assert!(check_plain(&lo6, false).is_ok());
        assert!(matches!(
            check_plain(&any, false),
            Err(Error::InvalidArgument(_))
        ));
        assert!(check_plain(&any, true).is_ok());
    }

    #[test]
    fn missing_or_mismatched_files_are_refused() {
        assert!(matches!(
            acceptor("/nonexistent/cert.pem", "/nonexistent/key.pem"),
            Err(Error::Io(_))
        ));
        let dir = std::env::temp_dir().join(format!("tandem-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("c.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), cert.signing_key.serialize_pem()).unwrap();
        std::fs::write(dir.join("k2.pem"), other.signing_key.serialize_pem()).unwrap();
        let c = dir.join("c.pem");
        let c = c.to_str().unwrap();
        assert!(acceptor(c, dir.join("k.pem").to_str().unwrap()).is_ok());
        assert!(matches!(
            acceptor(c, dir.join("k2.pem").to_str().unwrap()),
            Err(Error::InvalidArgument(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
