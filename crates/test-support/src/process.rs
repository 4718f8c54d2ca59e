//! Child processes: signals sent with kill(1), exits awaited with a deadline, and pipes
//! drained on their own threads (a full pipe would stall the child).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Sends signal `sig` (`"TERM"`, `"HUP"`, `"KILL"` …) to `pid` with kill(1) (the tests use
/// no libc); panics if kill fails.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// Waits for `child` to exit; `None` if it still runs after `limit` (it is left running).
pub fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` to exit; panics with "{what} did not exit" after `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    exit_within(child, limit).unwrap_or_else(|| panic!("{what} did not exit"))
}

/// What a child run to its end (or to its deadline) left.
#[derive(Debug)]
pub struct Collected {
    /// How it ended (after a kill when it timed out).
    pub status: ExitStatus,
    /// Whether it was killed for running past the deadline.
    pub timed_out: bool,
    /// All it wrote to stdout (lossy UTF-8).
    pub stdout: String,
    /// All it wrote to stderr (lossy UTF-8).
    pub stderr: String,
}

/// Reads all of a pipe on its own thread.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Drains the child's piped stdout and stderr (if piped) on their own threads and waits for
/// it to exit; after `limit` it is killed and [`Collected::timed_out`] is set.
pub fn collect(mut child: Child, limit: Duration) -> Collected {
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    let (status, timed_out) = match exit_within(&mut child, limit) {
        Some(status) => (status, false),
        None => {
            let _ = child.kill();
            (child.wait().unwrap(), true)
        }
    };
    Collected {
        status,
        timed_out,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The lines of a pipe, collected by a thread as they come (so the writer never blocks on a
/// full pipe) and readable while it runs.
#[derive(Debug)]
pub struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    ended: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Lines {
    /// Starts collecting the lines of `pipe` until its end.
    pub fn collect(pipe: impl Read + Send + 'static) -> Lines {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let reader = std::thread::spawn({
            let lines = Arc::clone(&lines);
            let ended = Arc::clone(&ended);
            move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
                ended.store(true, Ordering::SeqCst);
            }
        });
        Lines {
            lines,
            ended,
            reader: Some(reader),
        }
    }

    /// The lines read so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// How many lines were read so far.
    pub fn len(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Whether no line was read yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the pipe has ended (the writer closed it or exited).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) for the end of the pipe, then returns every line; `None` if it
    /// is still open after `limit`.
    pub fn until_end(&mut self, limit: Duration) -> Option<Vec<String>> {
        if !crate::wait::poll_until(limit, || self.ended()) {
            return None;
        }
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        Some(self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn collect_reads_both_pipes_and_the_status() {
        let child = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let c = collect(child, Duration::from_secs(30));
        assert_eq!(
            (c.stdout.as_str(), c.stderr.as_str(), c.status.code()),
            ("out\n", "err\n", Some(3))
        );
        assert!(!c.timed_out);
    }

    #[test]
    fn collect_kills_a_child_past_its_deadline() {
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        let c = collect(child, Duration::from_millis(50));
        assert!(c.timed_out && !c.status.success(), "{c:?}");
    }

    #[test]
    fn lines_are_collected_to_the_end() {
        let mut child = Command::new("sh")
            .args(["-c", "echo one; echo two"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Lines::collect(child.stdout.take().unwrap());
        child.wait().unwrap();
        assert_eq!(
            lines.until_end(Duration::from_secs(30)).unwrap(),
            ["one", "two"]
        );
        assert!(lines.ended());
    }
}
