//! Hostile pushes to the config listener of the built `logwire serve --listen`: configs that
//! try to run code (`'()'` factories, `class: subprocess.Popen`, INI `args`/`class` eval, all
//! aiming at `touch <marker>`), file handlers escaping the `--file-root` (`..`, absolute
//! paths, a symlinked file, a symlinked directory, NUL), replayed, tampered, expired and
//! unsigned `LWC1` frames, a 4 GiB length prefix and a truncated frame. Each is answered
//! "rejected" with its reason (or counted, when no reply is possible), nothing of it is
//! applied or run or written, the current routing keeps working, and afterwards the process
//! is alive, idle and within its memory budget, with both its record and listener counters
//! accounting for every input. Pushes go through `logwire send-config` where a pusher can
//! make them, as raw bytes where only an attacker would.

use crate::common;

use common::*;
use logwire_wire::{ConfigReply, ConfigStatus, SigningKey, sign_config_frame};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Writes raw bytes to the listener and reads its reply, if any.
fn push_raw(to: SocketAddr, bytes: &[u8]) -> Option<ConfigReply> {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let _ = s.write_all(bytes);
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let n = u32::from_be_bytes(all.get(..4)?.try_into().unwrap()) as usize;
    Some(ConfigReply::parse(&all[4..4 + n]).expect("a reply"))
}

fn rejected(reply: Option<ConfigReply>, want: &str, case: &str) {
    let r = reply.unwrap_or_else(|| panic!("{case}: no reply"));
    assert_eq!(r.status, ConfigStatus::Rejected, "{case}: {r:?}");
    assert!(
        r.reason.contains(want),
        "{case}: {:?} lacks {want:?}",
        r.reason
    );
}

#[test]
fn hostile_pushes_are_rejected_and_nothing_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let marker = d.join("pwned");
    let root = d.join("logs");
    let outside = d.join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("target.log"), "original\n").unwrap();
    std::os::unix::fs::symlink(outside.join("target.log"), root.join("link.log")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
    let mut serve = start_push_listener(d, &root);
    let signer = SigningKey::load(&d.join("ops.key")).unwrap();
    let to = serve.bound.config_tcp[0];
    let rec = serve.tcp();
    let mut records = 0u64;
    let mut probe = |serve: &Serve, case: &str| {
        // The routing in place before the push still works: stdout (the default).
        let msg = format!("routing intact after {case}");
        send_tcp(rec, &good(&msg));
        records += 1;
        assert!(serve.wait_stdout(&msg), "{case}: {msg}");
    };
    probe(&serve, "start");

    let touch = format!("touch {}", marker.display());
    let stdout_h = r#""out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}"#;
    let file_h = |name: &str| {
        format!(
            r#"{{"version": 1, "handlers": {{{stdout_h}, "f": {{"class": "logging.FileHandler", "filename": {}}}}}, "root": {{"level": "DEBUG", "handlers": ["out", "f"]}}}}"#,
            serde_json::to_string(name).unwrap()
        )
    };
    let ini = |class: &str, args: &str| {
        format!(
            "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nlevel=DEBUG\nhandlers=h\n[handler_h]\nclass={class}\nargs={args}\n"
        )
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "'()' factory",
            format!(
                r#"{{"version": 1, "handlers": {{{stdout_h}, "x": {{"()": "os.system", "command": {}}}}}, "root": {{"handlers": ["out", "x"]}}}}"#,
                serde_json::to_string(&touch).unwrap()
            ),
            "json",
            "'()'",
        ),
        (
            "'()' filter factory",
            format!(
                r#"{{"version": 1, "filters": {{"f": {{"()": "subprocess.getoutput", "cmd": {}}}}}}}"#,
                serde_json::to_string(&touch).unwrap()
            ),
            "json",
            "'()'",
        ),
        (
            "class subprocess.Popen",
            format!(
                r#"{{"version": 1, "handlers": {{{stdout_h}, "p": {{"class": "subprocess.Popen", "args": ["touch", {}]}}}}, "root": {{"handlers": ["out", "p"]}}}}"#,
                serde_json::to_string(&marker).unwrap()
            ),
            "json",
            "subprocess.Popen",
        ),
        (
            "INI eval in args",
            ini(
                "StreamHandler",
                &format!("(__import__('os').system('{touch}'),)"),
            ),
            "ini",
            "[handler_h]",
        ),
        (
            "INI eval in class",
            ini("__import__('os').system", &format!("('{touch}',)")),
            "ini",
            "[handler_h]",
        ),
        (
            "file '..' traversal",
            file_h("../escape.log"),
            "json",
            "handlers.f",
        ),
        (
            "absolute file outside the root",
            file_h(outside.join("abs.log").to_str().unwrap()),
            "json",
            "handlers.f",
        ),
        ("symlinked file", file_h("link.log"), "json", "symlink"),
        (
            "symlinked directory",
            file_h("sub/x.log"),
            "json",
            "symlink",
        ),
        (
            "NUL in the file name",
            file_h("a\0b.log"),
            "json",
            "handlers.f",
        ),
    ];
    let mut seq = 10;
    for (case, text, ext, want) in &cases {
        seq += 1;
        let (code, out) = send_config_named(text, d, &format!("push.{ext}"), to, seq);
        assert_eq!(code, 1, "{case}: {out}");
        assert!(
            out.starts_with(&format!("rejected (seq {seq}): invalid config:")),
            "{case}: {out}"
        );
        assert!(out.contains(want), "{case}: {out} lacks {want:?}");
        assert!(!marker.exists(), "{case}: ran code");
        probe(&serve, case);
    }
    assert!(!d.join("escape.log").exists());
    assert!(!outside.join("abs.log").exists());
    assert!(!outside.join("x.log").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("target.log")).unwrap(),
        "original\n",
        "nothing written through the symlink"
    );
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        2,
        "nothing created in the file root (only the two planted symlinks)"
    );

    // A good push (seq 100) through the CLI, then raw frames: replays, tampering, expiry.
    // `disable_existing_loggers: false`: see `a_push_keeps_routing_existing_remote_loggers`.
    let routed = |file: &str, tag: &str| {
        format!(
            r#"{{"version": 1, "disable_existing_loggers": false, "formatters": {{"f": {{"format": "{tag}|%(name)s|%(message)s"}}}}, "handlers": {{"f": {{"class": "logging.FileHandler", "filename": "{file}", "formatter": "f"}}}}, "root": {{"level": "DEBUG", "handlers": ["f"]}}}}"#
        )
    };
    let (code, out) = send_config_named(&routed("one.log", "one"), d, "good.json", to, 100);
    assert_eq!((code, out.trim()), (0, "applied (seq 100)"));
    let log = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    let mut probe_file = |case: &str, file: &str, tag: &str| {
        let msg = format!("after {case}");
        send_tcp(rec, &good(&msg));
        records += 1;
        let want = format!("{tag}|good|{msg}\n");
        assert!(
            wait_until(|| log(file).contains(&want)),
            "{case}: {}",
            log(file)
        );
    };
    probe_file("the first good push", "one.log", "one");

    let now = now_ms();
    let second = sign_config_frame(
        &signer,
        200,
        now,
        now + 60_000,
        None,
        routed("two.log", "two").as_bytes(),
    )
    .unwrap();
    assert_eq!(push_raw(to, &second), Some(ConfigReply::applied(200)));
    probe_file("the second good push", "two.log", "two");
    let evil = |seq: u64, issued: i64, expires: i64| {
        sign_config_frame(
            &signer,
            seq,
            issued,
            expires,
            None,
            routed("evil.log", "evil").as_bytes(),
        )
        .unwrap()
    };
    let mut tampered = evil(300, now, now + 60_000);
    let at = tampered.len() - 80; // inside the payload (the signature is the last 64 bytes)
    tampered[at] ^= 0x01;
    let mut bad_sig = evil(301, now, now + 60_000);
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x80;
    let raw: Vec<(&str, Vec<u8>, &str)> = vec![
        ("replay of the applied frame", second.clone(), "not greater"),
        ("older seq", evil(150, now, now + 60_000), "not greater"),
        ("payload bit flipped", tampered, "signature"),
        ("signature bit flipped", bad_sig, "signature"),
        ("expired", evil(302, now - 120_000, now - 60_000), "expired"),
        (
            "unsigned",
            frame(routed("evil.log", "evil").as_bytes()),
            "unsigned",
        ),
        (
            "4 GiB length prefix",
            0xFFFF_FFFFu32.to_be_bytes().to_vec(),
            "larger than",
        ),
    ];
    for (case, bytes, want) in &raw {
        rejected(push_raw(to, bytes), want, case);
        probe_file(case, "two.log", "two");
    }
    // A frame cut short: nothing to answer, nothing applied, counted.
    let mut s = TcpStream::connect(to).unwrap();
    s.write_all(&second[..40]).unwrap();
    drop(s);
    assert!(
        serve.wait_stderr(|l| l.starts_with("logwire config listener: connection dropped: ")),
        "the truncated push is reported: {:?}",
        serve.stderr_lines()
    );
    probe_file("a truncated frame", "two.log", "two");
    assert!(
        !root.join("evil.log").exists(),
        "no rejected config applied"
    );
    assert!(!marker.exists());
    assert!(
        serve
            .wait_stderr(|l| l.starts_with("logwire config listener: rejected: ")
                && l.contains("not greater")),
        "{:?}",
        serve.stderr_lines()
    );
    serve.assert_healthy("after the hostile pushes");

    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!(
        (c.get("received"), c.get("stored")),
        (records, records),
        "{c:?}"
    );
    let l = fin.listener.expect("the listener's final counters");
    assert_eq!(l.get("applied"), 2, "{l:?}");
    assert_eq!(l.get("rejected"), (cases.len() + raw.len()) as u64, "{l:?}");
    assert_eq!(l.get("too_large"), 1, "{l:?}");
    assert_eq!(l.get("truncated"), 1, "{l:?}");
    assert_eq!(
        l.get("connections"),
        (cases.len() + 2 + raw.len() + 1) as u64,
        "{l:?}"
    );
}

/// Regression (found by this suite): a pushed dictConfig without
/// `"disable_existing_loggers": false` disabled every logger that remote records created
/// before the push, so later records from those senders were written nowhere. The collector
/// now keeps existing loggers enabled on pushes and reloads alike
/// (`Configurator::keep_existing_loggers`).
#[test]
fn a_push_keeps_routing_existing_remote_loggers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = d.join("logs");
    std::fs::create_dir_all(&root).unwrap();
    let serve = start_push_listener(d, &root);
    send_tcp(serve.tcp(), &good("before the push"));
    assert!(serve.wait_stdout("before the push"));
    let config = r#"{"version": 1, "handlers": {"f": {"class": "logging.FileHandler", "filename": "one.log"}}, "root": {"level": "DEBUG", "handlers": ["f"]}}"#;
    let (code, out) = send_config_named(config, d, "c.json", serve.bound.config_tcp[0], 1);
    assert_eq!(code, 0, "{out}");
    send_tcp(serve.tcp(), &good("after the push"));
    let log = root.join("one.log");
    assert!(
        wait_until(|| std::fs::read_to_string(&log).is_ok_and(|t| t.contains("after the push"))),
        "the record of an existing remote logger was dropped: {:?}",
        std::fs::read_to_string(&log)
    );
}
