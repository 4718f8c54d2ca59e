//! Mutual TLS for the config listener's TCP addresses (rustls, `ring` provider).
//!
//! [`TlsServer`] is the listener's side: its certificate chain and key, and a CA bundle that
//! every client certificate must chain to. A client certificate is mandatory: a client
//! without one, or with one from another CA, fails the handshake and never reaches the
//! config gate. TLS authenticates the connection; the `LWC1` signature still authenticates
//! the config (a listener with keys rejects unsigned configs inside TLS too), so a stolen
//! client certificate alone cannot reconfigure anything, and neither can a stolen signing
//! key alone.
//!
//! The sender's side ([`TlsClient`](crate::TlsClient), under the push client) is in
//! `tls_client`; the PEM loading and the error types here serve both.
//!
//! PEM files are read with a size cap and parsed by `rustls-pki-types`; nothing is loaded
//! lazily, so a bad file fails when the options are built, not on the first connection.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest PEM file read (certificate chains and CA bundles are a few KiB).
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Why TLS material could not be loaded, or a TLS connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM input holds no usable item of the kind wanted, or is malformed.
    #[error("{what}: {why}")]
    Pem {
        /// Which input (a path, or a description).
        what: String,
        /// What is wrong.
        why: String,
    },
    /// rustls refused the material (a key that does not match the certificate, a CA that
    /// is not a usable trust anchor, …) or the handshake.
    #[error("{what}: {source}")]
    Rustls {
        /// What was being done.
        what: String,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built from the CA bundle.
    #[error("client CA bundle {what}: {source}")]
    Verifier {
        /// Which input.
        what: String,
        /// The builder's error.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// The name to check the listener's certificate against is not a DNS name or IP address.
    #[error("'{0}' is not a valid TLS server name (a DNS name or an IP address)")]
    ServerName(String),
    /// The TLS handshake failed on the socket.
    #[error("TLS handshake with the listener failed: {0}")]
    Handshake(#[source] std::io::Error),
}

/// Why a TLS connection to a listener failed, as far as a sender can tell, for messages that
/// say what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The listener requires a client certificate and none was given.
    ClientCertificateRequired,
    /// The listener does not trust the client certificate (another CA, or a bad one).
    ClientCertificateUntrusted,
    /// The listener's certificate does not name the server name asked for.
    ServerNameMismatch,
    /// The listener's certificate does not chain to the CA bundle given.
    ServerUntrusted,
    /// The peer does not speak TLS (a plain listener, or TLS spoken to a plain port).
    NotTls,
    /// Anything else.
    Other,
}

impl TlsFailure {
    /// Classifies an I/O error from a TLS stream (rustls reports its errors wrapped in
    /// `io::Error`); errors that are not rustls's are [`TlsFailure::Other`].
    pub fn of_io(err: &std::io::Error) -> Self {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .map_or(TlsFailure::Other, Self::of_rustls)
    }

    fn of_rustls(err: &rustls::Error) -> Self {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        match err {
            E::AlertReceived(A::CertificateRequired) => TlsFailure::ClientCertificateRequired,
            E::AlertReceived(A::UnknownCA | A::BadCertificate | A::DecryptError) => {
                TlsFailure::ClientCertificateUntrusted
            }
            E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                TlsFailure::ServerNameMismatch
            }
            E::InvalidCertificate(_) => TlsFailure::ServerUntrusted,
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => TlsFailure::NotTls,
            _ => TlsFailure::Other,
        }
    }
}

impl TlsError {
    /// What this error means for a sender (see [`TlsFailure`]).
    pub fn failure(&self) -> TlsFailure {
        match self {
            TlsError::Handshake(e) => TlsFailure::of_io(e),
            TlsError::Rustls { source, .. } => TlsFailure::of_rustls(source),
            _ => TlsFailure::Other,
        }
    }
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The three PEM inputs of a [`TlsServer`] or [`TlsClient`], with names for messages.
pub(crate) struct Pem<'a> {
    pub(crate) what: String,
    pub(crate) bytes: &'a [u8],
}

pub(crate) fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read)?;
    let mut buf = Vec::new();
    f.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(read)?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::Pem {
            what: path.display().to_string(),
            why: format!("larger than {MAX_PEM_BYTES} bytes; not a PEM certificate or key file"),
        });
    }
    Ok(buf)
}

pub(crate) fn certs(p: &Pem<'_>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(p.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: p.what.clone(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what: p.what.clone(),
            why: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

pub(crate) fn key(p: &Pem<'_>) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(p.bytes).map_err(|e| TlsError::Pem {
        what: p.what.clone(),
        why: format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })
}

pub(crate) fn roots(p: &Pem<'_>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs(p)? {
        store.add(c).map_err(|source| TlsError::Rustls {
            what: format!("{}: not a usable CA certificate", p.what),
            source,
        })?;
    }
    Ok(Arc::new(store))
}

/// The listener's TLS identity and its client-certificate policy (mandatory, chained to the
/// given CA bundle). Cheap to clone. See the TLS section of the [crate] docs.
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsServer { client certificates: required }")
    }
}

impl TlsServer {
    /// Loads the listener's certificate chain (leaf first) and private key, and the CA
    /// bundle client certificates must chain to, from PEM files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        client_ca: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (c, k, a) = (cert_chain.as_ref(), key.as_ref(), client_ca.as_ref());
        Self::build(
            Pem {
                what: c.display().to_string(),
                bytes: &read_pem(c)?,
            },
            Pem {
                what: k.display().to_string(),
                bytes: &read_pem(k)?,
            },
            Pem {
                what: a.display().to_string(),
                bytes: &read_pem(a)?,
            },
        )
    }

    /// The same from PEM text in memory.
    pub fn from_pem(cert_chain: &[u8], key: &[u8], client_ca: &[u8]) -> Result<Self, TlsError> {
        Self::build(
            Pem {
                what: "certificate chain".into(),
                bytes: cert_chain,
            },
            Pem {
                what: "private key".into(),
                bytes: key,
            },
            Pem {
                what: "client CA bundle".into(),
                bytes: client_ca,
            },
        )
    }

    fn build(chain: Pem<'_>, key_pem: Pem<'_>, ca: Pem<'_>) -> Result<Self, TlsError> {
        let chain_der = certs(&chain)?;
        let key_der = key(&key_pem)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots(&ca)?, provider())
            .build()
            .map_err(|source| TlsError::Verifier {
                what: ca.what.clone(),
                source,
            })?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls {
                what: "TLS protocol versions".into(),
                source,
            })?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain_der, key_der)
            .map_err(|source| TlsError::Rustls {
                what: format!("{} with {}", chain.what, key_pem.what),
                source,
            })?;
        Ok(TlsServer {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}
