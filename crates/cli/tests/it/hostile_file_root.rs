//! The file root holds after a push (issue 13, item 9), against the built `logwire serve`:
//! what is planted in the root after a config was validated and applied (a directory swapped
//! for a symlink, a hard link to a file outside, a FIFO) never makes a pushed handler write,
//! truncate or delete outside the root, never blocks the listener or the dispatcher (the
//! listener keeps answering, SIGTERM still ends serve cleanly with every record accounted
//! for), and serve refuses a file root that overlaps its state directory.

use crate::common;

use common::*;
use std::path::Path;

/// A config writing every record to stdout and to a file handler with `extra` settings.
fn config(filename: &str, extra: &str) -> String {
    format!(
        r#"{{"version": 1, "handlers": {{"out": {{"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}}, "f": {{"class": "logging.FileHandler", "filename": {}{extra}}}}}, "root": {{"level": "DEBUG", "handlers": ["out", "f"]}}}}"#,
        serde_json::to_string(filename).unwrap()
    )
}

fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let c = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), c)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn what_is_planted_after_a_push_never_takes_a_handler_outside_the_root_nor_blocks_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = d.join("root");
    let out = d.join("out");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("target.log"), "precious\n").unwrap();
    let serve = start_push_listener(d, &root);
    let to = serve.bound.config_tcp[0];
    let mut seq = 0;
    let mut push = |text: String| {
        seq += 1;
        send_config(&text, d, to, seq)
    };
    let mut sent = 0u64;
    let mut send = |serve: &Serve, msg: &str| {
        send_tcp(serve.tcp(), &good(msg));
        sent += 1;
        assert!(serve.wait_stdout(msg), "{msg} not handled");
    };

    // 1. A delayed handler in root/sub, applied; then sub becomes a symlink to out/.
    let (code, o) = push(config("sub/app.log", r#", "delay": true"#));
    assert_eq!(code, 0, "{o}");
    std::fs::rename(root.join("sub"), root.join("sub.moved")).unwrap();
    std::os::unix::fs::symlink(&out, root.join("sub")).unwrap();
    for i in 0..7 {
        send(&serve, &format!("after the directory swap {i}"));
    }

    // 2. A hard link in the root to a file outside, pushed with mode 'w': refused, intact.
    std::fs::hard_link(out.join("target.log"), root.join("linked.log")).unwrap();
    let (code, o) = push(config("linked.log", r#", "mode": "w""#));
    assert_ne!(code, 0, "a hard link was accepted: {o}");
    assert!(o.contains("hard links"), "{o}");

    // 3. A FIFO with no reader, pushed without delay: refused at once, with a reply.
    let fifo = root.join("app.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, o) = push(config("app.fifo", ""));
    assert_ne!(code, 0, "a FIFO was accepted: {o}");
    assert!(o.contains("FIFO"), "{o}");

    // 4. The same FIFO with delay: applied; the dispatcher's open fails without blocking,
    // records still reach stdout, and the listener still answers the next push.
    let (code, o) = push(config("app.fifo", r#", "delay": true"#));
    assert_eq!(code, 0, "{o}");
    for i in 0..3 {
        send(&serve, &format!("with a FIFO handler {i}"));
    }
    let (code, o) = push(config("fine.log", ""));
    assert_eq!(code, 0, "the listener stopped answering: {o}");
    send(&serve, "to the fine file");
    assert!(wait_until(|| std::fs::read_to_string(
        root.join("fine.log")
    )
    .is_ok_and(|t| t.contains("to the fine file"))));

    assert_eq!(
        listing(&out),
        vec![("target.log".into(), "precious\n".into())],
        "something was written outside the root"
    );
    // SIGTERM ends serve (no thread stuck in an open) and every record is accounted for.
    let fin = serve.stop();
    assert_eq!(fin.receiver.get("stored"), sent, "{:?}", fin.receiver);
    assert!(
        fin.stderr.iter().any(|l| l.contains("symlink")),
        "the refused opens were not reported: {:?}",
        fin.stderr
    );
}

#[test]
fn serve_refuses_a_file_root_that_overlaps_its_state_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    keygen("ed25519", &d.join("ops"));
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    for (case, root, state) in [
        ("state inside the root", root.clone(), root.join("state")),
        (
            "root inside the state",
            d.join("state2/logs"),
            d.join("state2"),
        ),
        ("the same directory", root.clone(), root.clone()),
    ] {
        std::fs::create_dir_all(&root).unwrap();
        let out = logwire()
            .arg("serve")
            .args(push_listener_args(d, &root, &state))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{case}: serve started");
        assert!(err.contains("overlap"), "{case}: {err}");
    }
}

/// Rotation after a push: the rotated names planted as a symlink and a hard link to files
/// outside, and the timed handler's directory swapped for a symlink to a directory outside
/// holding rotated-looking files. Renames and the timed cleanup act on entries beneath the
/// root only; nothing outside is written, renamed or deleted.
#[test]
fn rotation_and_timed_cleanup_after_a_push_stay_beneath_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = d.join("root");
    let out = d.join("out");
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    for name in [
        "one",
        "two",
        "app.log.2000-01-01_00-00-00",
        "app.log.2000-01-02_00-00-00",
    ] {
        std::fs::write(out.join(name), format!("precious {name}\n")).unwrap();
    }
    std::os::unix::fs::symlink(out.join("one"), root.join("rot.log.1")).unwrap();
    std::fs::hard_link(out.join("two"), root.join("rot.log.2")).unwrap();
    std::os::unix::fs::symlink(
        out.join("app.log.2000-01-01_00-00-00"),
        root.join("logs/app.log.2000-01-01_00-00-00"),
    )
    .unwrap();
    let before = listing(&out);
    let serve = start_push_listener(d, &root);
    let config = serde_json::json!({
        "version": 1,
        "handlers": {
            "out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
            "rot": {"class": "logging.handlers.RotatingFileHandler", "filename": "rot.log",
                    "maxBytes": 65536, "backupCount": 3},
            "timed": {"class": "logging.handlers.TimedRotatingFileHandler",
                      "filename": "logs/app.log", "when": "S", "backupCount": 1, "utc": true}
        },
        "root": {"level": "DEBUG", "handlers": ["out", "rot", "timed"]}
    })
    .to_string();
    let (code, o) = send_config(&config, d, serve.bound.config_tcp[0], 1);
    assert_eq!(code, 0, "{o}");
    let filler = "x".repeat(200);
    let mut sent = 0u64;
    let mut burst = |serve: &Serve, tag: &str| {
        let mut bytes = Vec::new();
        for i in 0..400 {
            bytes.extend(good(&format!("{tag} {i} {filler}")));
        }
        send_tcp(serve.tcp(), &bytes);
        sent += 400;
        assert!(serve.wait_stdout(&format!("{tag} 399 ")), "{tag}");
    };
    // Two bursts a second or more apart: each fills rot.log past 64 KiB (a rollover through
    // the planted links) and starts a new second for the timed handler (a rollover and a
    // cleanup with the planted link in logs/).
    burst(&serve, "first");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    burst(&serve, "second");
    // Now logs/ becomes a symlink to out/, which holds rotated-looking files.
    std::fs::rename(root.join("logs"), root.join("logs.moved")).unwrap();
    std::os::unix::fs::symlink(&out, root.join("logs")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    burst(&serve, "third");
    let fin = serve.stop();
    assert_eq!(fin.receiver.get("stored"), sent, "{:?}", fin.receiver);
    assert_eq!(listing(&out), before, "something outside the root changed");
    // The rotations did happen, beneath the root: rot.log.1 is now a rotated file.
    let rotated = std::fs::read_to_string(root.join("rot.log.1")).unwrap();
    assert!(rotated.contains(&filler), "rot.log.1 was not rotated");
    assert!(
        std::fs::symlink_metadata(root.join("logs.moved/app.log.2000-01-01_00-00-00")).is_err(),
        "the timed cleanup did not run beneath the root"
    );
}
