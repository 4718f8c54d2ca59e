//! [`NatsConnect`]: how to reach and authenticate to the server. A private copy for the
//! config channel; the records half has its own (`connect.rs`), the two are merged later.

use super::{ConfigKvError, KvTarget};
use std::path::PathBuf;
use std::time::Duration;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Credentials and TLS for a NATS connection. User/password or a token may also come from
/// the target URL's userinfo (`USER:PASS@` or `TOKEN@`); a creds file or an nkey seed file
/// wins over it.
#[derive(Debug, Clone, Default)]
pub struct NatsConnect {
    /// A NATS `.creds` file (JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`).
    pub nkey_file: Option<PathBuf>,
    /// CA bundle (PEM) the server's certificate must chain to; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for servers that verify clients; implies TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

impl NatsConnect {
    /// No credentials, no TLS beyond what the target's scheme asks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the client options for `target` (`name` is shown in the server's connz).
    pub(crate) async fn options(
        &self,
        target: &KvTarget,
        name: &str,
    ) -> Result<async_nats::ConnectOptions, ConfigKvError> {
        let mut o = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(CONNECT_TIMEOUT);
        if let Some(info) = &target.userinfo {
            o = match info.split_once(':') {
                Some((u, p)) => o.user_and_password(u.to_owned(), p.to_owned()),
                None => o.token(info.clone()),
            };
        }
        if let Some(path) = &self.creds_file {
            o = o
                .credentials_file(path)
                .await
                .map_err(|e| ConfigKvError::Credentials(format!("{}: {e}", path.display())))?;
        }
        if let Some(path) = &self.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| ConfigKvError::Credentials(format!("{}: {e}", path.display())))?;
            o = o.nkey(seed.trim().to_owned());
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_client {
            o = o
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if target.require_tls {
            o = o.require_tls(true);
        }
        Ok(o)
    }

    /// Connects to `target`'s server (one attempt, bounded by a timeout).
    pub(crate) async fn connect(
        &self,
        target: &KvTarget,
        name: &str,
    ) -> Result<async_nats::Client, ConfigKvError> {
        let o = self.options(target, name).await?;
        o.connect(target.server.as_str())
            .await
            .map_err(|e| ConfigKvError::Connect {
                server: target.server.clone(),
                why: e.to_string(),
            })
    }
}
