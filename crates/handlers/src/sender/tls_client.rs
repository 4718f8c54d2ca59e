//! The TLS client of [`SMTPHandler`] (STARTTLS) and [`HTTPHandler`] (`secure=True`): rustls
//! with the `ring` provider, TLS 1.2 and 1.3, the server's name verified against Mozilla's
//! roots (`webpki-roots`, compiled in: no system store is read at run time) plus, if given, the
//! CA certificates of a PEM file (logwire's `cafile` argument: a private CA, or a test CA).
//!
//! Client certificates are not supported (CPython's `secure=(keyfile, certfile)` is refused
//! at configuration time with that reason).
//!
//! [`SMTPHandler`]: super::SMTPHandler
//! [`HTTPHandler`]: super::HTTPHandler

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest CA file read (a full bundle is ~250 KiB).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// Why a [`TlsClientConfig`] could not be made. Reasons from rustls are kept as text, so
/// rustls's types stay out of this crate's API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The CA file could not be opened.
    #[error("cannot open CA file {}: {source}", path.display())]
    OpenCaFile {
        /// The CA file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The CA file could not be read.
    #[error("cannot read CA file {}: {source}", path.display())]
    ReadCaFile {
        /// The CA file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The CA file is larger than 4 MiB (it is not read past that).
    #[error("CA file {} is larger than {MAX_CA_FILE} bytes", path.display())]
    CaFileTooLarge {
        /// The CA file.
        path: PathBuf,
    },
    /// The CA file's contents were refused (the PEM errors below).
    #[error("CA file {}: {source}", path.display())]
    CaFile {
        /// The CA file.
        path: PathBuf,
        /// Why its contents were refused.
        #[source]
        source: Box<TlsConfigError>,
    },
    /// The PEM data does not parse as a list of certificates.
    #[error("not a PEM certificate list: {reason}")]
    NotPem {
        /// The PEM parser's reason.
        reason: String,
    },
    /// The PEM data holds no certificate.
    #[error("no certificate in the PEM data")]
    NoCertificate,
    /// A certificate cannot serve as a trust anchor.
    #[error("unusable CA certificate: {reason}")]
    UnusableCa {
        /// rustls's reason.
        reason: String,
    },
    /// The crypto provider refused the protocol versions (a build without TLS 1.2/1.3).
    #[error("{reason}")]
    Provider {
        /// rustls's reason.
        reason: String,
    },
}

/// A client TLS configuration: which roots a server's certificate must chain to.
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClientConfig").finish_non_exhaustive()
    }
}

impl TlsClientConfig {
    /// Mozilla's roots only.
    pub fn webpki_roots() -> Result<Self, TlsConfigError> {
        Self::with_extra_roots(&[])
    }

    /// Mozilla's roots plus the CA certificates in the PEM file at `path`.
    pub fn with_ca_file(path: &Path) -> Result<Self, TlsConfigError> {
        let file = std::fs::File::open(path).map_err(|source| TlsConfigError::OpenCaFile {
            path: path.to_path_buf(),
            source,
        })?;
        let mut pem = Vec::new();
        file.take(MAX_CA_FILE + 1)
            .read_to_end(&mut pem)
            .map_err(|source| TlsConfigError::ReadCaFile {
                path: path.to_path_buf(),
                source,
            })?;
        if pem.len() as u64 > MAX_CA_FILE {
            return Err(TlsConfigError::CaFileTooLarge {
                path: path.to_path_buf(),
            });
        }
        Self::with_ca_pem(&pem).map_err(|e| TlsConfigError::CaFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Mozilla's roots plus the CA certificates in `pem`.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self, TlsConfigError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsConfigError::NotPem {
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsConfigError::NoCertificate);
        }
        Self::with_extra_roots(&certs)
    }

    fn with_extra_roots(extra: &[CertificateDer<'static>]) -> Result<Self, TlsConfigError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra {
            roots
                .add(cert.clone())
                .map_err(|e| TlsConfigError::UnusableCa {
                    reason: e.to_string(),
                })?;
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsConfigError::Provider {
                    reason: e.to_string(),
                })?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(TlsClientConfig {
            config: Arc::new(config),
        })
    }

    /// Starts TLS on `tcp` for `host` and completes the handshake (bounded by the socket's
    /// read/write timeouts, which the caller set from its deadline).
    pub(crate) fn connect(&self, host: &str, tcp: TcpStream) -> io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let conn = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
        }
        Ok(TlsStream(Box::new(stream)))
    }
}

/// An established client TLS stream.
pub(crate) struct TlsStream(Box<StreamOwned<ClientConnection, TcpStream>>);

/// A plain or TLS connection, as one `Read + Write`.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(TlsStream),
}

impl Stream {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.0.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.0.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.0.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.0.flush(),
        }
    }
}

/// Connects to `host:port`, trying each resolved address within what is left of
/// `deadline`.
pub(crate) fn connect_tcp(
    host: &str,
    port: u16,
    deadline: std::time::Instant,
) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let left = remaining(deadline)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

/// What is left until `deadline`, or a timeout error.
pub(crate) fn remaining(deadline: std::time::Instant) -> io::Result<std::time::Duration> {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
    } else {
        Ok(left)
    }
}

/// Sets the socket's read and write timeouts to what is left until `deadline`, capped at
/// `per_op`: every blocking call then ends by the deadline.
pub(crate) fn arm(
    tcp: &TcpStream,
    deadline: std::time::Instant,
    per_op: std::time::Duration,
) -> io::Result<()> {
    let t = remaining(deadline)?.min(per_op);
    tcp.set_read_timeout(Some(t))?;
    tcp.set_write_timeout(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_roots_say_which_file_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = TlsClientConfig::with_ca_file(&missing).unwrap_err();
        assert!(matches!(err, TlsConfigError::OpenCaFile { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot open CA file {}: ", missing.display())),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        assert_eq!(
            TlsClientConfig::with_ca_file(&empty)
                .unwrap_err()
                .to_string(),
            format!(
                "CA file {}: no certificate in the PEM data",
                empty.display()
            )
        );
        assert!(matches!(
            TlsClientConfig::with_ca_pem(b""),
            Err(TlsConfigError::NoCertificate)
        ));
        assert!(TlsClientConfig::webpki_roots().is_ok());
    }
}
