//! A real `nats-server` with JetStream for tests: on loopback, a free port, its file store in
//! a temporary directory, stoppable with SIGKILL and restartable on the same port and store.
//!
//! The binary is `$LOGWIRE_NATS_SERVER`, else `nats-server` on `PATH`, else
//! `/usr/sbin/nats-server` (the Debian package `nats-server`, listed in
//! `scripts/apt-packages.txt`). A missing server fails the test with that message.

use crate::process::{self, Lines};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the server may take to say it is ready (never asserted as a duration).
const READY: Duration = Duration::from_secs(30);

/// The nats-server binary to run; panics with how to install it when there is none.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LOGWIRE_NATS_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("nats-server");
            if p.is_file() {
                return p;
            }
        }
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    assert!(
        debian.is_file(),
        "nats-server is missing: install the Debian package nats-server (scripts/apt-packages.txt) \
         or set LOGWIRE_NATS_SERVER to a nats-server binary"
    );
    debian
}

/// A running nats-server; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    stderr: Option<Lines>,
    port: u16,
    store: PathBuf,
    /// More command-line arguments (TLS, authentication), kept for restarts.
    extra: Vec<OsString>,
    _dir: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Starts a server with JetStream on a free loopback port, its store in a new temporary
    /// directory, and waits until it is ready.
    ///
    /// The server picks the port itself (`-p -1`) and the starter reads it from the log:
    /// probing for a free port and binding it again races with other tests' connections.
    pub fn start() -> NatsServer {
        Self::start_with(Vec::<OsString>::new())
    }

    /// [`NatsServer::start`] with more arguments: TLS (`--tls --tlscert F --tlskey F
    /// [--tlsverify --tlscacert F]`), authentication (`--user U --pass P`, `--auth TOKEN`)
    /// or a config file (`-c F`).
    pub fn start_with(extra: impl IntoIterator<Item = impl Into<OsString>>) -> NatsServer {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().to_owned();
        let mut s = NatsServer {
            child: None,
            stderr: None,
            port: 0,
            store,
            extra: extra.into_iter().map(Into::into).collect(),
            _dir: Some(dir),
        };
        s.spawn();
        s
    }

    /// Starts a server on `port` with its store in `store` (kept by the caller).
    pub fn start_at(port: u16, store: &Path) -> NatsServer {
        let mut s = NatsServer {
            child: None,
            stderr: None,
            port,
            store: store.to_owned(),
            extra: Vec::new(),
            _dir: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            // 0 until the first start: the server picks one (-1) and logs it.
            .arg(if self.port == 0 {
                "-1".to_owned()
            } else {
                self.port.to_string()
            })
            .arg("-sd")
            .arg(&self.store)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nats-server: {e}"));
        let lines = Lines::collect(child.stderr.take().unwrap());
        let ready = crate::wait::poll_until(READY, || {
            lines
                .snapshot()
                .iter()
                .any(|l| l.contains("Server is ready"))
                || lines.ended()
        });
        let seen = lines.snapshot();
        assert!(
            ready && seen.iter().any(|l| l.contains("Server is ready")),
            "nats-server did not become ready on port {}: {seen:#?}",
            self.port
        );
        if self.port == 0 {
            self.port = seen
                .iter()
                .find_map(|l| l.split("Listening for client connections on ").nth(1))
                .and_then(|rest| rest.trim().rsplit(':').next()?.parse().ok())
                .unwrap_or_else(|| panic!("nats-server did not log its client port: {seen:#?}"));
        }
        self.child = Some(child);
        self.stderr = Some(lines);
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory.
    pub fn store(&self) -> &Path {
        &self.store
    }

    /// The server's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            process::signal(c.id(), "KILL");
            process::wait_exit(&mut c, READY, "nats-server");
        }
    }

    /// Starts it again on the same port and store (after [`NatsServer::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr
            .as_ref()
            .map(Lines::snapshot)
            .unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
