//! TLS through rustls on aws-lc-rs (the one crypto backend), from PEM certificate and key files.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::StartupError;

/// A rustls server configuration from a PEM certificate chain and a PEM private key.
pub(crate) fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, StartupError> {
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        StartupError::Config(format!(
            "cannot load the TLS {what} from {}: {e}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| bad("certificate", cert_file, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", cert_file, &e))?;
    if certs.is_empty() {
        return Err(bad("certificate", cert_file, &"no CERTIFICATE block found"));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_file).map_err(|e| bad("private key", key_file, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartupError::Config(format!("TLS configuration: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            StartupError::Config(format!(
                "the TLS certificate and key do not form a usable pair: {e}"
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
