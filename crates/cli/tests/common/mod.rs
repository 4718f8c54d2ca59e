//! Helpers for the end-to-end hostile suites (`hostile_*.rs`): the built `logwire serve` in a
//! child process, its bound addresses read from its `listening on …` lines, its final
//! counters parsed from the `stopped:` lines it prints on SIGTERM, and its health read from
//! `/proc` (memory, CPU time, descriptors).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Memory budget of the collector after an attack (VmRSS). Idle it uses ~8 MiB; the frame
/// cap is 1 MiB and the in-flight budget 64 MiB, so a leak or an allocation driven by an
/// announced length shows up well above this.
pub const RSS_BUDGET_KIB: u64 = 64 * 1024;

/// CPU time (user + system, in clock ticks of 10 ms) an idle collector may use in one second.
/// A task spinning on a dead connection costs ~100.
pub const IDLE_TICKS_PER_SECOND: u64 = 20;

/// Generous limit for anything the suite waits for (never asserted as a duration).
pub const WAIT: Duration = Duration::from_secs(30);

/// `logwire` (the built binary) as a command.
pub fn logwire() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logwire"))
}

/// What `logwire serve` bound, from its stderr.
#[derive(Debug, Default, Clone)]
pub struct Bound {
    pub tcp: Vec<SocketAddr>,
    pub udp: Vec<SocketAddr>,
    pub unix: Vec<PathBuf>,
    pub unix_dgram: Vec<PathBuf>,
    /// `config listener on tcp …`.
    pub config_tcp: Vec<SocketAddr>,
}

/// A running `logwire serve`; killed (SIGKILL) when dropped without [`Serve::stop`].
pub struct Serve {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout_path: PathBuf,
    _dir: tempfile::TempDir,
    pub bound: Bound,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many `listening on` lines `args` will produce (one per listener flag; the defaults
/// are two, but the suites always pass explicit addresses).
fn expected_listeners(args: &[String]) -> (usize, usize) {
    let count = |names: &[&str]| args.iter().filter(|a| names.contains(&a.as_str())).count();
    (
        count(&["--tcp", "--udp", "--unix", "--unix-dgram"]),
        count(&["--listen", "--listen-unix"]),
    )
}

impl Serve {
    /// Starts `logwire serve ARGS` and waits until every listener it was given is bound.
    /// Stdout goes to a file (read it with [`Serve::stdout`]); stderr is collected by line.
    pub fn start<S: AsRef<str>>(args: &[S]) -> Serve {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        let dir = tempfile::tempdir().unwrap();
        let stdout_path = dir.path().join("stdout");
        let out = std::fs::File::create(&stdout_path).unwrap();
        let mut child = logwire()
            .arg("serve")
            .args(&args)
            .stdout(Stdio::from(out))
            .stderr(Stdio::piped())
            .spawn()
            .expect("logwire runs");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        std::thread::spawn({
            let stderr = Arc::clone(&stderr);
            move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    stderr.lock().unwrap().push(line);
                }
            }
        });
        let mut serve = Serve {
            child,
            stderr,
            stdout_path,
            _dir: dir,
            bound: Bound::default(),
        };
        let (listeners, config_listeners) = expected_listeners(&args);
        let ok = wait_until(|| {
            let lines = serve.stderr_lines();
            let n = lines
                .iter()
                .filter(|l| l.starts_with("listening on "))
                .count();
            let c = lines
                .iter()
                .filter(|l| l.starts_with("config listener on "))
                .count();
            n >= listeners && c >= config_listeners
        });
        assert!(ok, "serve did not bind: {:?}", serve.stderr_lines());
        for line in serve.stderr_lines() {
            let b = &mut serve.bound;
            if let Some(a) = line.strip_prefix("listening on tcp ") {
                b.tcp.push(a.parse().unwrap());
            } else if let Some(a) = line.strip_prefix("listening on udp ") {
                b.udp.push(a.parse().unwrap());
            } else if let Some(p) = line.strip_prefix("listening on unix-dgram ") {
                b.unix_dgram.push(p.into());
            } else if let Some(p) = line.strip_prefix("listening on unix ") {
                b.unix.push(p.into());
            } else if let Some(a) = line.strip_prefix("config listener on tcp ") {
                b.config_tcp.push(a.parse().unwrap());
            }
        }
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn tcp(&self) -> SocketAddr {
        self.bound.tcp[0]
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout_bytes()).into_owned()
    }

    pub fn stdout_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.stdout_path).unwrap_or_default()
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_stdout(&self, needle: &str) -> bool {
        wait_until(|| self.stdout().contains(needle))
    }

    /// Waits until a stderr line satisfies `pred`.
    pub fn wait_stderr(&self, pred: impl Fn(&str) -> bool) -> bool {
        wait_until(|| self.stderr_lines().iter().any(|l| pred(l)))
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

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
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
        signal(self.pid(), "TERM");
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The stderr thread ends at EOF; give it a moment to push the last lines.
        wait_until(|| {
            self.stderr_lines()
                .iter()
                .any(|l| l.starts_with("logwire serve: stopped: "))
        });
        let lines = self.stderr_lines();
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

/// Sends a signal with kill(1) (no libc in the tests).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Polls `cond` every 20 ms for up to [`WAIT`].
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
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
    let child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var("LOGWIRE_SKIP_PYTHON_GOLDEN").as_deref() == Ok("1") => {
            eprintln!("python3 not available ({e}): skipped (LOGWIRE_SKIP_PYTHON_GOLDEN=1)");
            return None;
        }
        Err(e) => panic!("cannot run python3 ({e}); set LOGWIRE_SKIP_PYTHON_GOLDEN=1 to skip"),
    };
    // Pipes drained on their own threads: a full pipe would stall python.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("python3 did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    assert!(status.success(), "python failed: {err}");
    Some(out)
}
