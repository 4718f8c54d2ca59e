//! Helpers for the end-to-end hostile suites (`hostile_*.rs`): the built `logwire serve`
//! (started, bound and stopped by `logwire_test_support::serve`), its final counters parsed
//! from the `stopped:` lines it prints on SIGTERM, and its health read from `/proc` (memory,
//! CPU time, descriptors).
#![allow(dead_code, unreachable_pub)]

use logwire_test_support::{python as py, serve, wait};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Memory budget of the collector after an attack (VmRSS). Idle it uses ~8 MiB; the frame
/// cap is 1 MiB and the in-flight budget 64 MiB, so a leak or an allocation driven by an
/// announced length shows up well above this.
pub const RSS_BUDGET_KIB: u64 = 64 * 1024;

/// CPU time (user + system, in clock ticks of 10 ms) an idle collector may use in one second.
/// A task spinning on a dead connection costs ~100.
pub const IDLE_TICKS_PER_SECOND: u64 = 20;

/// Generous limit for anything the suite waits for (never asserted as a duration).
pub const WAIT: Duration = serve::WAIT;

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_logwire");

/// `logwire` (the built binary) as a command.
pub fn logwire() -> Command {
    Command::new(BIN)
}

/// `logwire keygen --KIND PATH` (`kind`: `ed25519` or `hmac`); panics with its stderr if it
/// fails.
pub fn keygen(kind: &str, path: &Path) {
    let out = logwire()
        .arg("keygen")
        .arg(format!("--{kind}"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keygen --{kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A collector config (dictConfig JSON) writing every record to `file`, formatted by
/// `format`.
pub fn file_config(file: &Path, format: &str) -> String {
    serde_json::json!({
        "version": 1,
        "formatters": {"f": {"format": format}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": file, "formatter": "f"}},
        "root": {"level": "DEBUG", "handlers": ["file"]}
    })
    .to_string()
}

/// `serve` flags for a TCP record listener and a config listener, both on free loopback
/// ports, verifying pushes with `DIR/ops.pub` (see [`keygen`]) and keeping its seq state in
/// `DIR/state`.
pub fn listen_args(dir: &Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    [
        "--tcp",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        "--listen-key",
        &path("ops.pub"),
        "--listen-state-dir",
        &path("state"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A running `logwire serve` (see `logwire_test_support::serve::Serve`, which it derefs
/// to) with the hostile suites' checks; killed (SIGKILL) when dropped without
/// [`Serve::stop`].
pub struct Serve(serve::Serve);

impl Deref for Serve {
    type Target = serve::Serve;
    fn deref(&self) -> &serve::Serve {
        &self.0
    }
}

impl DerefMut for Serve {
    fn deref_mut(&mut self) -> &mut serve::Serve {
        &mut self.0
    }
}

impl Serve {
    /// Starts `logwire serve ARGS` and waits until every listener it was given is bound.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Serve {
        Serve(serve::Serve::start(BIN, args))
    }

    /// As [`Serve::start`], through another executable that runs the built binary (a
    /// wrapper script setting limits, say) with the same arguments.
    pub fn start_via<S: AsRef<std::ffi::OsStr>>(wrapper: &Path, args: &[S]) -> Serve {
        Serve(serve::Serve::start(wrapper, args))
    }

    /// The counters of the latest `--stats` line (`None` before the first one).
    pub fn latest_stats(&self) -> Option<Counters> {
        self.stderr_lines()
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("logwire stats: "))
            .map(|l| Counters(parse_counters(l)))
    }

    /// Waits until a `--stats` line satisfies `pred` (needs `--stats 1`).
    pub fn wait_stats(&self, pred: impl Fn(&Counters) -> bool) -> Option<Counters> {
        let mut last = None;
        let ok = wait_until(|| {
            last = self.latest_stats();
            last.as_ref().is_some_and(&pred)
        });
        if ok { last } else { None }
    }

    /// `VmRSS` in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// `VmHWM` (peak RSS) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Open descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// utime + stime in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name may hold spaces: fields are counted after its closing ')'.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        // rest starts at field 3 (state); utime and stime are fields 14 and 15.
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// The health checks after an attack: alive, within the memory budget, idle (CPU time
    /// over one second, read twice from /proc).
    pub fn assert_healthy(&mut self, what: &str) {
        assert!(
            self.alive(),
            "{what}: serve died: {:?}",
            self.stderr_lines()
        );
        let rss = self.rss_kib();
        assert!(
            rss < RSS_BUDGET_KIB,
            "{what}: RSS {rss} KiB over the budget of {RSS_BUDGET_KIB} KiB"
        );
        let before = self.cpu_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let used = self.cpu_ticks() - before;
        assert!(
            used <= IDLE_TICKS_PER_SECOND,
            "{what}: not idle, {used} ticks of CPU in one second"
        );
    }

    /// SIGTERM, wait for a clean exit, and the final counters from the `stopped:` lines.
    pub fn stop(mut self) -> Final {
        let (status, lines) = self.0.terminate();
        assert!(status.success(), "exit {status:?}: {lines:?}");
        let find = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .map(parse_counters)
        };
        let receiver = find("logwire serve: stopped: ")
            .unwrap_or_else(|| panic!("no final stats line: {lines:?}"));
        let fin = Final {
            receiver: Counters(receiver),
            listener: find("logwire config listener: stopped: ").map(Counters),
            stdout: String::from_utf8_lossy(&self.stdout_bytes()).into_owned(),
            stderr: lines,
        };
        assert!(
            fin.receiver.reconciles(),
            "received = stored + rejected + duplicates + dropped + pending: {:?}",
            fin.receiver
        );
        fin
    }
}

/// What a stopped collector reported.
#[derive(Debug)]
pub struct Final {
    pub receiver: Counters,
    /// The config listener's counters (only with `--listen`).
    pub listener: Option<Counters>,
    pub stdout: String,
    pub stderr: Vec<String>,
}

/// `key=value` counters of a stats line; rejection reasons (`bad_pickle=2`) included.
#[derive(Debug, Clone)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// A counter, 0 when the line does not list it (reasons are listed when non-zero).
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    pub fn reconciles(&self) -> bool {
        self.get("received")
            == self.get("stored")
                + self.get("rejected")
                + self.get("duplicates")
                + self.get("dropped")
                + self.get("pending")
    }
}

/// Parses the `k=v` tokens of a stats line (`(` and `)` around the reasons ignored).
pub fn parse_counters(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|t| {
            let t = t.trim_matches(|c| c == '(' || c == ')');
            let (k, v) = t.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Polls `cond` for up to [`WAIT`].
pub fn wait_until(cond: impl FnMut() -> bool) -> bool {
    wait::poll_until(WAIT, cond)
}

/// A 4-byte big-endian length prefix and the payload (SocketHandler's framing).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A good record as a JSON payload (no frame), logger `good`.
pub fn good_json(msg: &str) -> Vec<u8> {
    serde_json::json!({"name": "good", "msg": msg, "levelno": 20, "levelname": "INFO"})
        .to_string()
        .into_bytes()
}

/// A good record, framed.
pub fn good(msg: &str) -> Vec<u8> {
    frame(&good_json(msg))
}

/// Connects, writes `bytes`, half-closes and waits for the collector to close its side (so
/// the frames have been read when this returns).
pub fn send_tcp(addr: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
}

/// As [`send_tcp`], on a Unix stream socket.
pub fn send_unix(path: &Path, bytes: &[u8]) {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let _ = s.read_to_end(&mut Vec::new());
}

/// Runs `python3 -c script args…` (killed after 60 s) and returns its stdout. Fails without
/// python3 unless `LOGWIRE_SKIP_PYTHON_GOLDEN=1`, in which case it returns `None`.
pub fn python(script: &str, args: &[String]) -> Option<String> {
    py::output(&mut py::script(script, args))
}

/// `logwire send-config DIR/NAME --to ADDR --seq SEQ --key DIR/ops.key` with `text` written to
/// DIR/NAME first: (exit code, stdout and stderr).
pub fn send_config_named(
    text: &str,
    dir: &Path,
    name: &str,
    to: SocketAddr,
    seq: u64,
) -> (i32, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = logwire()
        .arg("send-config")
        .arg(&file)
        .args(["--to", &to.to_string(), "--seq", &seq.to_string(), "--key"])
        .arg(dir.join("ops.key"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// [`send_config_named`] with the file named after the seq (`c{seq}.json`).
pub fn send_config(text: &str, dir: &Path, to: SocketAddr, seq: u64) -> (i32, String) {
    send_config_named(text, dir, &format!("c{seq}.json"), to, seq)
}

/// serve's flags for a TCP collector with a config listener verifying with `DIR/ops.pub`
/// (the flag names), its seq state in `state`, pushed files confined to `root`.
pub fn push_listener_args(d: &Path, root: &Path, state: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    vec![
        "--tcp".into(),
        "127.0.0.1:0".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--verify-key".into(),
        path(&d.join("ops.pub")),
        "--state-dir".into(),
        path(state),
        "--file-root".into(),
        path(root),
    ]
}

/// A key pair `DIR/ops.*`, and serve started with [`push_listener_args`] (state in
/// `DIR/state`).
pub fn start_push_listener(d: &Path, root: &Path) -> Serve {
    keygen("ed25519", &d.join("ops"));
    Serve::start(&push_listener_args(d, root, &d.join("state")))
}
