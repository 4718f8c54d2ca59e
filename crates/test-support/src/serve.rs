//! The built `logwire serve` in a child process: started with the caller's binary path
//! (`env!("CARGO_BIN_EXE_logwire")`), awaited until every listener it was given is bound,
//! its addresses read from its `listening on …` and `config listener on …` stderr lines.
//! Stdout goes to a file, stderr is collected line by line on a thread (serve never blocks
//! on a full pipe), and it is killed (SIGKILL) when dropped.

use crate::process::{self, Lines};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// Generous limit for anything these helpers wait for (never asserted as a duration).
pub const WAIT: Duration = Duration::from_secs(30);

/// What `logwire serve` bound, from its stderr.
#[derive(Debug, Default, Clone)]
pub struct Bound {
    /// `listening on tcp …`.
    pub tcp: Vec<SocketAddr>,
    /// `listening on udp …`.
    pub udp: Vec<SocketAddr>,
    /// `listening on unix …`.
    pub unix: Vec<PathBuf>,
    /// `listening on unix-dgram …`.
    pub unix_dgram: Vec<PathBuf>,
    /// `config listener on tcp …` (a ` (mutual TLS)` after the address is not part of it).
    pub config_tcp: Vec<SocketAddr>,
    /// `config listener on unix …`.
    pub config_unix: Vec<PathBuf>,
}

impl Bound {
    /// Reads the addresses from serve's stderr lines.
    pub fn read(lines: &[String]) -> Bound {
        let mut b = Bound::default();
        let addr = |rest: &str| -> SocketAddr {
            let a = rest.split(' ').next().unwrap_or_default();
            a.parse()
                .unwrap_or_else(|e| panic!("bad address in {rest:?}: {e}"))
        };
        for line in lines {
            if let Some(a) = line.strip_prefix("listening on tcp ") {
                b.tcp.push(addr(a));
            } else if let Some(a) = line.strip_prefix("listening on udp ") {
                b.udp.push(addr(a));
            } else if let Some(p) = line.strip_prefix("listening on unix-dgram ") {
                b.unix_dgram.push(p.into());
            } else if let Some(p) = line.strip_prefix("listening on unix ") {
                b.unix.push(p.into());
            } else if let Some(a) = line.strip_prefix("config listener on tcp ") {
                b.config_tcp.push(addr(a));
            } else if let Some(p) = line.strip_prefix("config listener on unix ") {
                b.config_unix.push(p.into());
            }
        }
        b
    }
}

/// How many `listening on` and `config listener on` lines `args` will produce: one per
/// listener flag. (Without any, serve binds two default addresses; callers always pass
/// explicit ones.)
fn expected_listeners<S: AsRef<OsStr>>(args: &[S]) -> (usize, usize) {
    let count = |names: &[&str]| {
        args.iter()
            .filter(|a| names.iter().any(|n| a.as_ref() == *n))
            .count()
    };
    (
        count(&["--tcp", "--udp", "--unix", "--unix-dgram"]),
        count(&["--listen", "--listen-unix"]),
    )
}

/// A running `logwire serve`; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Serve {
    child: Child,
    stderr: Lines,
    stdout_path: PathBuf,
    _dir: tempfile::TempDir,
    /// Stderr lines before this one were handed out by [`Serve::next_line`] (or were
    /// there when serve had bound).
    cursor: usize,
    /// What it bound.
    pub bound: Bound,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `BIN serve ARGS` (`bin` is the built binary: the cli tests'
    /// `env!("CARGO_BIN_EXE_logwire")`) and waits until every listener it was given is
    /// bound. Panics if it ends or does not bind within [`WAIT`].
    pub fn start<S: AsRef<OsStr>>(bin: impl AsRef<OsStr>, args: &[S]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let stdout_path = dir.path().join("stdout");
        let out = std::fs::File::create(&stdout_path).unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .args(args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::piped())
            .spawn()
            .expect("logwire runs");
        let stderr = Lines::collect(child.stderr.take().unwrap());
        let mut serve = Serve {
            child,
            stderr,
            stdout_path,
            _dir: dir,
            cursor: 0,
            bound: Bound::default(),
        };
        let (listeners, config_listeners) = expected_listeners(args);
        let bound = crate::wait::poll_until(WAIT, || {
            let lines = serve.stderr_lines();
            let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
            let all = count("listening on ") >= listeners
                && count("config listener on ") >= config_listeners;
            all || serve.stderr.ended()
        });
        let lines = serve.stderr_lines();
        serve.bound = Bound::read(&lines);
        let (n, c) = (
            serve.bound.tcp.len()
                + serve.bound.udp.len()
                + serve.bound.unix.len()
                + serve.bound.unix_dgram.len(),
            serve.bound.config_tcp.len() + serve.bound.config_unix.len(),
        );
        assert!(
            bound && n >= listeners && c >= config_listeners,
            "serve did not bind: {lines:?}"
        );
        serve.cursor = lines.len();
        serve
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first TCP record listener.
    pub fn tcp(&self) -> SocketAddr {
        self.bound.tcp[0]
    }

    /// The first TCP config listener, as `--to` takes it.
    pub fn config_to(&self) -> String {
        self.bound.config_tcp[0].to_string()
    }

    /// The stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.snapshot()
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout_bytes()).into_owned()
    }

    /// Everything written to stdout so far, as bytes.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.stdout_path).unwrap_or_default()
    }

    /// Waits (up to [`WAIT`]) until stdout contains `needle`.
    pub fn wait_stdout(&self, needle: &str) -> bool {
        crate::wait::poll_until(WAIT, || self.stdout().contains(needle))
    }

    /// Waits (up to [`WAIT`]) until some stderr line satisfies `pred`.
    pub fn wait_stderr(&self, pred: impl Fn(&str) -> bool) -> bool {
        crate::wait::poll_until(WAIT, || self.stderr_lines().iter().any(|l| pred(l)))
    }

    /// The next stderr line (after the ones already handed out, and after those printed
    /// until serve had bound) that satisfies `pred`; the lines before it are passed over.
    /// Panics if none comes within [`WAIT`].
    pub fn next_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut found = None;
        let ok = crate::wait::poll_until(WAIT, || {
            let lines = self.stderr_lines();
            for (i, l) in lines.iter().enumerate().skip(self.cursor) {
                if pred(l) {
                    found = Some((i, l.clone()));
                    return true;
                }
            }
            false
        });
        let Some((i, line)) = found.filter(|_| ok) else {
            panic!("no {what} on stderr: {:?}", self.stderr_lines());
        };
        self.cursor = i + 1;
        line
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends `sig` (`"TERM"`, `"HUP"`, `"KILL"` …) with kill(1).
    pub fn signal(&self, sig: &str) {
        process::signal(self.pid(), sig);
    }

    /// SIGKILL right now (the exit is reaped when dropped).
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
    }

    /// Waits for the exit; panics if serve still runs after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        process::wait_exit(&mut self.child, limit, "logwire serve")
    }

    /// After the exit: every stderr line, read to its end.
    pub fn stderr_to_end(&mut self) -> Vec<String> {
        self.stderr
            .until_end(WAIT)
            .unwrap_or_else(|| panic!("serve's stderr still open: {:?}", self.stderr_lines()))
    }

    /// SIGTERM, then the exit (within [`WAIT`]) and every stderr line.
    pub fn terminate(&mut self) -> (ExitStatus, Vec<String>) {
        self.signal("TERM");
        let status = self.wait_exit(WAIT);
        (status, self.stderr_to_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_reads_every_listener_line_and_drops_the_tls_note() {
        let lines: Vec<String> = [
            "listening on tcp 127.0.0.1:9020",
            "listening on udp [::1]:9021",
            "listening on unix /run/a b.sock",
            "listening on unix-dgram /run/d.sock",
            "config listener on tcp 127.0.0.1:9030 (mutual TLS)",
            "config listener on unix /run/c.sock",
            "logwire serve: something else",
        ]
        .map(str::to_owned)
        .to_vec();
        let b = Bound::read(&lines);
        assert_eq!(b.tcp, ["127.0.0.1:9020".parse::<SocketAddr>().unwrap()]);
        assert_eq!(b.udp, ["[::1]:9021".parse::<SocketAddr>().unwrap()]);
        assert_eq!(b.unix, [PathBuf::from("/run/a b.sock")]);
        assert_eq!(b.unix_dgram, [PathBuf::from("/run/d.sock")]);
        assert_eq!(
            b.config_tcp,
            ["127.0.0.1:9030".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(b.config_unix, [PathBuf::from("/run/c.sock")]);
    }

    #[test]
    fn listener_flags_are_counted() {
        let args = ["--tcp", "a", "--udp", "b", "--unix", "c", "--listen", "d"];
        assert_eq!(expected_listeners(&args), (3, 1));
        assert_eq!(expected_listeners::<&str>(&[]), (0, 0));
    }
}
