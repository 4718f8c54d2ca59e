//! The push client's TLS ([`TlsClient`]): the CA bundle the listener's certificate must
//! chain to, and the client's own certificate and key, for `logwire send-config --tls-…`,
//! [`PushClient::tls`](crate::PushClient::tls) and tests. Blocking (rustls' `StreamOwned`
//! over a std socket, bounded by the socket's timeouts), like the rest of the push client.

use crate::tls::{Pem, TlsError, certs, key, provider, read_pem, roots};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

/// A sender's TLS settings for talking to a [`TlsServer`](crate::TlsServer) listener: the CA bundle the
/// listener's certificate must chain to, and (normally) the client's certificate and key.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field(
                "client_certificate",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .finish()
    }
}

impl TlsClient {
    /// Loads the CA bundle that signed the listener's certificate and, if given, the client
    /// certificate chain and key (PEM files). Without a client certificate every
    /// [`TlsServer`](crate::TlsServer) listener refuses the connection; that is only useful to see it do so.
    pub fn from_pem_files(
        server_ca: impl AsRef<Path>,
        client_identity: Option<(&Path, &Path)>,
    ) -> Result<Self, TlsError> {
        let a = server_ca.as_ref();
        let ca = read_pem(a)?;
        let identity = match client_identity {
            Some((c, k)) => Some((c, read_pem(c)?, k, read_pem(k)?)),
            None => None,
        };
        Self::build(
            Pem {
                what: a.display().to_string(),
                bytes: &ca,
            },
            identity.as_ref().map(|(c, cb, k, kb)| {
                (
                    Pem {
                        what: c.display().to_string(),
                        bytes: cb,
                    },
                    Pem {
                        what: k.display().to_string(),
                        bytes: kb,
                    },
                )
            }),
        )
    }

    /// The same from PEM text in memory: the server CA bundle, and the client certificate
    /// chain and key.
    pub fn from_pem(
        server_ca: &[u8],
        client_identity: Option<(&[u8], &[u8])>,
    ) -> Result<Self, TlsError> {
        Self::build(
            Pem {
                what: "server CA bundle".into(),
                bytes: server_ca,
            },
            client_identity.map(|(c, k)| {
                (
                    Pem {
                        what: "client certificate chain".into(),
                        bytes: c,
                    },
                    Pem {
                        what: "client private key".into(),
                        bytes: k,
                    },
                )
            }),
        )
    }

    fn build(ca: Pem<'_>, identity: Option<(Pem<'_>, Pem<'_>)>) -> Result<Self, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls {
                what: "TLS protocol versions".into(),
                source,
            })?
            .with_root_certificates(roots(&ca)?);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((c, k)) => builder
                .with_client_auth_cert(certs(&c)?, key(&k)?)
                .map_err(|source| TlsError::Rustls {
                    what: format!("{} with {}", c.what, k.what),
                    source,
                })?,
        };
        Ok(TlsClient {
            config: Arc::new(config),
        })
    }

    /// Runs the TLS handshake on a connected socket (blocking, bounded by the socket's
    /// read/write timeouts) and returns the encrypted stream. `server_name` is what the
    /// listener's certificate must name: a DNS name or an IP address.
    ///
    /// With TLS 1.3 the client finishes its side of the handshake before the listener has
    /// checked the client certificate, so a refused certificate shows up as an error on the
    /// first read (a `certificate required` or `unknown CA` alert), not here.
    pub fn connect(&self, tcp: TcpStream, server_name: &str) -> Result<TlsClientStream, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::ServerName(server_name.to_owned()))?;
        let conn = rustls::ClientConnection::new(self.config.clone(), name).map_err(|source| {
            TlsError::Rustls {
                what: "TLS client".into(),
                source,
            }
        })?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(TlsError::Handshake)?;
        }
        Ok(TlsClientStream(stream))
    }
}

/// A client's TLS connection to a listener; read and write it like the socket.
pub struct TlsClientStream(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl std::fmt::Debug for TlsClientStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClientStream")
    }
}

impl TlsClientStream {
    /// Sends TLS `close_notify` (the end of what this side writes).
    pub fn close_write(&mut self) -> std::io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.flush()
    }
}

impl Read for TlsClientStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsClientStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
