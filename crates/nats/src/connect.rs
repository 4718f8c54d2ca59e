//! How logwire connects to NATS: servers, credentials and TLS, shared by the records handler,
//! the stream source and the config channel.
//!
//! Contracts:
//! * servers are listed explicitly and **only** those are used: servers a NATS cluster
//!   advertises are ignored (`ignore_discovered_servers`), so a pushed config that passed the
//!   destination policy for its `servers` cannot be steered elsewhere by a server's gossip;
//! * the connection is made in the background and retried forever (a handler is built
//!   without waiting for the network, as the socket handlers are); what waits meanwhile is
//!   bounded by the caller;
//! * credentials come from files (a `.creds` file, an nkey seed file) or parameters (user and
//!   password, token); files are read when connecting, at most [`MAX_CREDENTIAL_FILE`] bytes.

use crate::NatsError;
use async_nats::{ConnectOptions, Event, ServerAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest credentials or nkey seed file read (a `.creds` file is under 2 KiB).
pub const MAX_CREDENTIAL_FILE: u64 = 64 * 1024;

/// The default NATS port.
pub const DEFAULT_PORT: u16 = 4222;

/// How to reach and authenticate to NATS.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct NatsConnect {
    /// Server URLs (`nats://host:port`, `tls://host:port`, `host:port`, `host`).
    pub servers: Vec<String>,
    /// A NATS `.creds` file (JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`).
    pub nkey_file: Option<PathBuf>,
    /// User and password.
    pub user_password: Option<(String, String)>,
    /// An authentication token.
    pub token: Option<String>,
    /// Require TLS even for `nats://` URLs.
    pub tls: bool,
    /// CA certificates (PEM) the server's certificate must chain to.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// The connection's name as the server shows it.
    pub name: Option<String>,
}

impl NatsConnect {
    /// Options for one server URL and no credentials.
    pub fn new(servers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        NatsConnect {
            servers: servers.into_iter().map(Into::into).collect(),
            ..NatsConnect::default()
        }
    }

    /// The servers as (host, port), for the destination policy; an error names a URL that
    /// does not parse.
    pub fn host_ports(&self) -> Result<Vec<(String, u16)>, NatsError> {
        if self.servers.is_empty() {
            return Err(NatsError::Config("no NATS servers given".into()));
        }
        self.servers.iter().map(|s| host_port(s)).collect()
    }

    /// Checks, before any connection is tried, that the credential and TLS files can be used:
    /// the `.creds` and nkey files are read (bounded) and parsed, the TLS files opened. A
    /// missing or unreadable file is a setting to fix, not an outage to retry through, so the
    /// source and the config listener refuse to start on it.
    pub fn check_files(&self) -> Result<(), NatsError> {
        self.credential_options()?;
        let tls = self
            .tls_ca
            .iter()
            .chain(self.tls_client.iter().flat_map(|(cert, key)| [cert, key]));
        for path in tls {
            std::fs::File::open(path)
                .map_err(|e| NatsError::Config(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Client options holding this connection's credentials and TLS: the `.creds` file (read
    /// bounded), the nkey seed file, user and password, token, and TLS (required by `tls`, a
    /// CA or a client certificate). The one place the records half and the config channel
    /// take them from; each adds its own connection policy (names, timeouts, reconnects).
    pub(crate) fn credential_options(&self) -> Result<ConnectOptions, NatsError> {
        let mut o = match &self.creds_file {
            Some(path) => ConnectOptions::with_credentials(&read_small(path)?)
                .map_err(|e| NatsError::Config(format!("{}: {e}", path.display())))?,
            None => ConnectOptions::new(),
        };
        if let Some(path) = &self.nkey_file {
            o = o.nkey(read_small(path)?.trim().to_owned());
        }
        if let Some((u, p)) = &self.user_password {
            o = o.user_and_password(u.clone(), p.clone());
        }
        if let Some(t) = &self.token {
            o = o.token(t.clone());
        }
        if self.tls {
            o = o.require_tls(true);
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_client {
            o = o
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(o)
    }

    /// Connects (in the background: the client is returned at once and reconnects forever).
    pub async fn connect(&self) -> Result<async_nats::Client, NatsError> {
        self.connect_reporting(None).await
    }

    /// [`NatsConnect::connect`], with what goes wrong while connecting (refused
    /// credentials, a TLS failure, a server that is down) passed to `problems` as one line
    /// each time it changes (see [`ConnectionProblems`]).
    pub async fn connect_reporting(
        &self,
        problems: Option<ConnectionProblems>,
    ) -> Result<async_nats::Client, NatsError> {
        let addrs: Vec<ServerAddr> = self
            .servers
            .iter()
            .map(|s| {
                s.parse::<ServerAddr>()
                    .map_err(|e| NatsError::Config(format!("NATS server {s:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        if addrs.is_empty() {
            return Err(NatsError::Config("no NATS servers given".into()));
        }
        let o = self
            .credential_options()?
            .name(self.name.clone().unwrap_or_else(|| "logwire".into()))
            .ignore_discovered_servers()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            // A dead server is noticed within seconds, not the default minute.
            .ping_interval(Duration::from_secs(5))
            .reconnect_delay_callback(|attempts| {
                // 50 ms doubling to 2 s: a restarted server is found again quickly.
                Duration::from_millis(50u64.saturating_mul(1 << attempts.min(6) as u64))
                    .min(Duration::from_secs(2))
            });
        let o = match problems {
            Some(p) => o.event_callback(move |event| {
                let p = p.clone();
                async move { p.event(&event) }
            }),
            None => o,
        };
        o.connect(addrs)
            .await
            .map_err(|e| NatsError::Connect(e.to_string()))
    }
}

/// Reports connection problems the client meets in the background, each once: a client
/// retrying a refused TLS handshake every 2 s says so on stderr once, not every 2 s, and
/// again only when the problem changes or after it connected. Without it a handler whose
/// credentials a server refuses waits silently.
#[derive(Clone)]
pub struct ConnectionProblems {
    who: &'static str,
    last: Arc<Mutex<Option<String>>>,
    note: Arc<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for ConnectionProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionProblems")
            .field("who", &self.who)
            .finish_non_exhaustive()
    }
}

impl ConnectionProblems {
    /// Prints `<who>: NATS: <problem>` on stderr and passes the problem to `note` (for a
    /// handler's last error).
    pub fn new(who: &'static str, note: impl Fn(&str) + Send + Sync + 'static) -> Self {
        ConnectionProblems {
            who,
            last: Arc::default(),
            note: Arc::new(note),
        }
    }

    /// The line an event gives, if it is a problem; `None` for a connection made.
    fn line(event: &Event) -> Option<Option<String>> {
        match event {
            Event::Connected => Some(None),
            Event::ClientError(e) => Some(Some(format!("cannot connect: {e}"))),
            Event::ServerError(e) => Some(Some(format!("the server says: {e}"))),
            Event::Disconnected => Some(Some("disconnected; reconnecting".into())),
            _ => None,
        }
    }

    fn event(&self, event: &Event) {
        let Some(line) = Self::line(event) else {
            return;
        };
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last == line {
            return;
        }
        match &line {
            Some(problem) => {
                eprintln!("{}: NATS: {problem}", self.who);
                (self.note)(problem);
            }
            None if last.is_some() => eprintln!("{}: NATS: connected", self.who),
            None => {}
        }
        *last = line;
    }
}

/// `host:port` of a NATS URL (`nats://`, `tls://`, `ws://` or none; port 4222 by default).
pub fn host_port(url: &str) -> Result<(String, u16), NatsError> {
    let bad = |why: &str| NatsError::Config(format!("NATS server {url:?}: {why}"));
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    // Credentials in the URL (`user:pass@host`) are not part of the destination.
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let rest = rest.split('/').next().unwrap_or_default();
    if rest.is_empty() {
        return Err(bad("no host"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (h, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => DEFAULT_PORT,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_owned(), port))
}

fn read_small(path: &std::path::Path) -> Result<String, NatsError> {
    use std::io::Read;
    let io = |e: std::io::Error| NatsError::Config(format!("{}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_CREDENTIAL_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_CREDENTIAL_FILE {
        return Err(NatsError::Config(format!(
            "{}: larger than {MAX_CREDENTIAL_FILE} bytes",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_of_urls() {
        for (url, want) in [
            ("nats://127.0.0.1:4333", ("127.0.0.1", 4333)),
            ("tls://nats.example:7422", ("nats.example", 7422)),
            ("nats://u:p@10.0.0.1", ("10.0.0.1", 4222)),
            ("localhost", ("localhost", 4222)),
            ("[::1]:5000", ("::1", 5000)),
        ] {
            let (h, p) = host_port(url).unwrap();
            assert_eq!((h.as_str(), p), want, "{url}");
        }
        for bad in ["nats://", "nats://host:99999", "[::1:5", "nats://:4222"] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }
}
