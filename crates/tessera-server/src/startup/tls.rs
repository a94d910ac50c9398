//! TLS through rustls on aws-lc-rs (the one crypto backend), from PEM certificate and key files,
//! reloaded on SIGHUP or when the files change ([`TlsReloader`], [`watch`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

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

/// The TLS configuration in use, reloadable without dropping a connection: each new
/// connection takes the configuration current at its handshake; established ones keep
/// theirs. A reload that fails (a half-written file, a key that does not match) keeps the
/// previous certificate and logs why.
#[derive(Debug)]
pub(crate) struct TlsReloader {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
    stamp: Mutex<Option<Stamp>>,
}

/// The files' modification times and sizes, to notice a change.
type Stamp = [(Option<SystemTime>, u64); 2];

impl TlsReloader {
    /// Loads the certificate and key, refusing to start on any problem.
    pub(crate) fn load(cert_file: &Path, key_file: &Path) -> Result<Self, StartupError> {
        let config = server_config(cert_file, key_file)?;
        let reloader = Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            current: RwLock::new(config),
            stamp: Mutex::new(None),
        };
        *lock(&reloader.stamp) = Some(reloader.stamp_now());
        Ok(reloader)
    }

    /// An acceptor with the current configuration.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }

    /// Loads the files again and, if they form a usable pair, serves them from the next
    /// connection on.
    pub(crate) fn reload(&self) -> Result<(), StartupError> {
        *lock(&self.stamp) = Some(self.stamp_now());
        let config = server_config(&self.cert_file, &self.key_file)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(())
    }

    /// Whether either file changed since the last load.
    fn changed_on_disk(&self) -> bool {
        *lock(&self.stamp) != Some(self.stamp_now())
    }

    fn stamp_now(&self) -> Stamp {
        let stamp = |path: &Path| {
            std::fs::metadata(path).map_or((None, 0), |m| (m.modified().ok(), m.len()))
        };
        [stamp(&self.cert_file), stamp(&self.key_file)]
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How often the certificate files are checked for a change.
const WATCH_PERIOD: Duration = Duration::from_secs(5);

/// Reloads the certificate on SIGHUP and when its files change (checked every 5 s), until
/// aborted.
pub(crate) async fn watch(reloader: Arc<TlsReloader>) {
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(WATCH_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let why = tokio::select! {
            Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => None } } => "SIGHUP",
            _ = tick.tick() => {
                if !reloader.changed_on_disk() {
                    continue;
                }
                "the files changed"
            }
        };
        match reloader.reload() {
            Ok(()) => tracing::info!(
                event = "tls.reloaded",
                trigger = why,
                "TLS certificate reloaded"
            ),
            Err(e) => tracing::error!(
                event = "tls.reload_failed",
                trigger = why,
                error.message = %e,
                "TLS certificate not reloaded; the previous one stays in use"
            ),
        }
    }
}
