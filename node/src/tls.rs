//! TLS for client connections, configured with Redis's keys: `tls-port`, `tls-cert-file`,
//! `tls-key-file`, `tls-ca-cert-file` and `tls-auth-clients` (`yes`: clients must present a
//! certificate signed by the CA; `optional`: checked if presented; `no`).
//!
//! Certificates are reloaded without a restart: the files are checked every few seconds and a
//! changed certificate, key or CA is loaded for the connections accepted from then on (as
//! cert-manager renews a Secret that Kubernetes then updates in the pod). A reload that fails
//! (a half-written file, a key that does not match) keeps the previous configuration and says
//! so in the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Whether clients must present a certificate (`tls-auth-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Required,
    Optional,
    None,
}

impl ClientAuth {
    pub fn parse(v: &str) -> Result<ClientAuth, String> {
        match v.to_ascii_lowercase().as_str() {
            "yes" => Ok(ClientAuth::Required),
            "optional" => Ok(ClientAuth::Optional),
            "no" => Ok(ClientAuth::None),
            _ => Err(format!("expected yes, no or optional, got '{v}'")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Required => "yes",
            ClientAuth::Optional => "optional",
            ClientAuth::None => "no",
        }
    }
}

/// The files and policy a TLS listener is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

fn file_err(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// The private key in a PEM file.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

/// The CA certificates in a PEM file, as the roots a peer's certificate is checked against.
pub(crate) fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| file_err(path, e))?;
    }
    Ok(roots)
}

/// Builds the server configuration from the files as they are now.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match (&files.ca, files.client_auth) {
        (_, ClientAuth::None) => builder.with_no_client_auth(),
        (None, _) => {
            return Err(TlsError::Config(
                "tls-auth-clients needs tls-ca-cert-file to check client certificates".into(),
            ))
        }
        (Some(ca), auth) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(load_roots(ca)?), provider);
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    // Redis clients speak RESP directly over TLS; no ALPN is negotiated.
    config.alpn_protocols.clear();
    Ok(config)
}

/// A TLS acceptor whose configuration follows the files on disk.
pub struct ReloadingAcceptor {
    files: TlsFiles,
    current: RwLock<(TlsAcceptor, Vec<Option<SystemTime>>)>,
}

fn mtimes(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    [Some(&files.cert), Some(&files.key), files.ca.as_ref()]
        .into_iter()
        .flatten()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

impl ReloadingAcceptor {
    pub fn load(files: TlsFiles) -> Result<ReloadingAcceptor, TlsError> {
        let stamp = mtimes(&files);
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&files)?));
        Ok(ReloadingAcceptor {
            files,
            current: RwLock::new((acceptor, stamp)),
        })
    }

    /// The acceptor for a connection accepted now.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Reloads if any file changed since the last load. `Ok(true)`: a new configuration is in
    /// use; an error leaves the previous one in place.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let stamp = mtimes(&self.files);
        if self.current.read().unwrap_or_else(|e| e.into_inner()).1 == stamp {
            return Ok(false);
        }
        let result = server_config(&self.files);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        // Remember the stamp either way: a broken file is reported once, not every check.
        current.1 = stamp;
        current.0 = TlsAcceptor::from(Arc::new(result?));
        Ok(true)
    }

    /// Checks the files every `interval` until shutdown.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            match self.reload_if_changed() {
                Ok(true) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "TLS reload failed; keeping the previous certificate")
                }
            }
        }
    }
}
