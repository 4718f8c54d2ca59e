//! CPython as the oracle of a test. Python being absent is a failure (a golden test that
//! passes without its oracle tests nothing) unless `LOGWIRE_SKIP_PYTHON_GOLDEN=1`, in which
//! case the runners here return `None` and the test returns early. `LOGWIRE_PYTHON` chooses
//! the interpreter (default `python3`).

use crate::process::{self, Collected};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// Set to `1` to skip (not fail) the tests that cannot run python.
pub const SKIP_VAR: &str = "LOGWIRE_SKIP_PYTHON_GOLDEN";

/// Names the interpreter to run instead of `python3`.
pub const INTERPRETER_VAR: &str = "LOGWIRE_PYTHON";

/// How long [`output`] lets a script run.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The interpreter: `$LOGWIRE_PYTHON`, else `python3`.
pub fn interpreter() -> String {
    std::env::var(INTERPRETER_VAR).unwrap_or_else(|_| "python3".to_owned())
}

/// The interpreter as a command, no arguments yet.
pub fn command() -> Command {
    Command::new(interpreter())
}

/// `python3 -c SCRIPT ARGS…` as a command.
pub fn script<I>(script: &str, args: I) -> Command
where
    I: IntoIterator,
    I::Item: AsRef<OsStr>,
{
    let mut c = command();
    c.arg("-c").arg(script).args(args);
    c
}

/// Whether `LOGWIRE_SKIP_PYTHON_GOLDEN=1` is set.
pub fn skipping() -> bool {
    std::env::var(SKIP_VAR).as_deref() == Ok("1")
}

/// The oracle cannot be run (`why`): returns when skipping is asked for (the caller then
/// returns from its test), panics otherwise.
pub fn missing(why: &str) {
    if skipping() {
        eprintln!("skipped: {why} ({SKIP_VAR}=1)");
        return;
    }
    panic!("{why}; set {SKIP_VAR}=1 to skip");
}

/// The python of a venv at `dir` with `requirement` installed from PyPI, created on first
/// use. One test at a time builds it (tests of one binary run in parallel and would race on
/// the same directory), and a half-built venv left by an earlier run is removed first.
/// `None` when it cannot be built and skipping is asked for (see [`missing`]).
pub fn venv_with(dir: &Path, requirement: &str) -> Option<PathBuf> {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let ready = dir.join(".installed");
    if !ready.exists() {
        if dir.exists() {
            std::fs::remove_dir_all(dir).expect("remove a half-built venv");
        }
        let ok = command()
            .args(["-m", "venv"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(dir.join("bin/pip"))
                .args(["install", "-q", requirement])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            missing(&format!(
                "cannot create a venv with {requirement} from PyPI"
            ));
            return None;
        }
        std::fs::write(&ready, b"").expect("mark the venv as built");
    }
    Some(dir.join("bin/python"))
}

/// Spawns `cmd` (a python command); `None` if it cannot be run and skipping is asked for
/// (see [`missing`]).
pub fn spawn(cmd: &mut Command) -> Option<Child> {
    match cmd.spawn() {
        Ok(child) => Some(child),
        Err(e) => {
            let program = cmd.get_program().to_string_lossy().into_owned();
            missing(&format!("cannot run {program} ({e})"));
            None
        }
    }
}

/// Runs `cmd` with `input` on its stdin (written from another thread, so a large input
/// cannot deadlock against the output) and returns its stdout. Panics if it exits with a
/// failure (with its stderr, when the caller piped it).
pub fn pipe(cmd: &mut Command, input: Vec<u8>) -> Option<Vec<u8>> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = spawn(cmd)?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.join().unwrap().unwrap();
    Some(out.stdout)
}

/// Sends one request per line to a single python process running `cmd` and returns its
/// answers, one line each. Panics if it fails or does not answer every request.
pub fn ask_lines(cmd: &mut Command, requests: Vec<String>) -> Option<Vec<String>> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = spawn(cmd)?;
    let n = requests.len();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: Python answers while we still write, and both pipes are
    // finite.
    let writer = std::thread::spawn(move || {
        for r in requests {
            stdin.write_all(r.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
    });
    let answers: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| l.unwrap())
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "the python oracle failed");
    assert_eq!(answers.len(), n, "one answer per request");
    Some(answers)
}

/// Runs `cmd` with stdout and stderr captured, killed after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Option<Collected> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = spawn(cmd)?;
    Some(process::collect(child, limit))
}

/// As [`run`], for the tests that fail without python even when skipping is asked for (they
/// have no way to return early from where they run it).
pub fn run_required(cmd: &mut Command, limit: Duration) -> Collected {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?} ({e})", cmd.get_program()));
    process::collect(child, limit)
}

/// The stdout of a run that must have finished in time and succeeded; panics otherwise
/// (with its stderr).
pub fn finished(ran: Collected) -> String {
    assert!(!ran.timed_out, "python3 did not finish in time");
    assert!(ran.status.success(), "python failed: {}", ran.stderr);
    ran.stdout
}

/// Runs `cmd` (killed after [`LIMIT`]) and returns its stdout; panics if it times out or
/// fails (with its stderr).
pub fn output(cmd: &mut Command) -> Option<String> {
    run(cmd, LIMIT).map(finished)
}
