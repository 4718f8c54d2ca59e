//! `logwire send-config` → CPython's own `logging.config.listen()` guarded by
//! `logwire_helper.config.verifier`: signed configs apply, replays and code-running configs
//! are refused before CPython sees them, and send-config says CPython never replies.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD: &str = r#"
import logging, logging.config, sys
from logwire_helper.config import verifier
v = verifier(keys=[sys.argv[1]], state_file=sys.argv[2], audience="web",
             on_reject=lambda r: print("REJECTED", r, flush=True))
t = logging.config.listen(0, verify=v)
t.start()
t.ready.wait(10)
t.ready.clear()
print("PORT", t.port, flush=True)
for i in range(int(sys.argv[3])):
    if not t.ready.wait(30):
        print("TIMEOUT", flush=True)
        break
    t.ready.clear()
    logging.getLogger("app").warning("after push %d", i + 1)
    print("LEVEL", logging.getLogger("app").getEffectiveLevel(), flush=True)
logging.config.stopListening()
t.join(10)
print("DONE", flush=True)
"#;

const CONFIG: &str = r#"{"version": 1, "disable_existing_loggers": false,
  "formatters": {"f": {"format": "PUSHED %(levelname)s %(message)s"}},
  "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
  "loggers": {"app": {"level": "WARNING", "handlers": ["h"], "propagate": false}}}"#;

fn send(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .arg("send-config")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cpython_listen_with_the_helper_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keygen = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .args(["keygen", "--ed25519"])
        .arg(d.join("ops"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let python_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(CHILD)
        .arg(d.join("ops.pub"))
        .arg(d.join("seq.json"))
        .arg("4")
        .env("PYTHONPATH", python_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Watchdog: the child never outlives the test by more than a minute.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .unwrap_or_else(|| panic!("no port: {line:?}"))
        .to_owned();
    let to = format!("127.0.0.1:{port}");
    let conf = d.join("c.json");
    std::fs::write(&conf, CONFIG).unwrap();
    let evil = d.join("evil.json");
    std::fs::write(
        &evil,
        r#"{"version": 1, "handlers": {"x": {"()": "os.system", "command": "touch pwned"}}}"#,
    )
    .unwrap();
    let key = d.join("ops.key").display().to_string();
    let (conf, evil) = (conf.display().to_string(), evil.display().to_string());

    let mut next = |what: &str| -> Vec<String> {
        // Each push ends with a LEVEL line from the child.
        let mut got = Vec::new();
        loop {
            let mut l = String::new();
            assert!(
                out.read_line(&mut l).unwrap() > 0,
                "child ended early after {what}: {got:?}"
            );
            let l = l.trim_end().to_owned();
            let done = l.starts_with("LEVEL") || l == "TIMEOUT";
            got.push(l);
            if done {
                return got;
            }
        }
    };

    // 1. Signed for the right audience: applied; the child logs through the new handler.
    let (code, _, err) = send(&[
        &conf,
        "--to",
        &to,
        "--key",
        &key,
        "--seq",
        "5",
        "--audience",
        "web",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("CPython") && err.contains("never replies"),
        "{err}"
    );
    assert_eq!(next("push 1"), ["PUSHED WARNING after push 1", "LEVEL 30"]);
    // 2. The same seq again: a replay, refused by the verifier; the routing stays.
    send(&[
        &conf,
        "--to",
        &to,
        "--key",
        &key,
        "--seq",
        "5",
        "--audience",
        "web",
    ]);
    let got = next("push 2");
    assert!(
        got[0].starts_with("REJECTED seq 5 is not greater"),
        "{got:?}"
    );
    assert_eq!(got[1..], ["PUSHED WARNING after push 2", "LEVEL 30"]);
    // 3. A signed config that would run a command: refused by the content policy.
    send(&[
        &evil,
        "--to",
        &to,
        "--key",
        &key,
        "--seq",
        "6",
        "--audience",
        "web",
    ]);
    let got = next("push 3");
    assert!(
        got[0].starts_with("REJECTED") && got[0].contains("'()'"),
        "{got:?}"
    );
    assert_eq!(got[1..], ["PUSHED WARNING after push 3", "LEVEL 30"]);
    // 4. Unsigned (the cookbook's way): refused.
    send(&[&conf, "--to", &to, "--unsigned"]);
    let got = next("push 4");
    assert!(got[0].starts_with("REJECTED not a signed"), "{got:?}");
    assert!(!d.join("pwned").exists() && !Path::new("pwned").exists());

    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("DONE"), "{rest}");
    assert!(child.wait().unwrap().success());
    let state = std::fs::read_to_string(d.join("seq.json")).unwrap();
    assert!(state.contains(": 5"), "the ratchet was persisted: {state}");
}
