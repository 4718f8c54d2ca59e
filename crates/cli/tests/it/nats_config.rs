//! `logwire send-config --to nats://…` and `logwire serve --listen nats://…`, binary to
//! binary, through a real `nats-server -js` (Debian package `nats-server`) on loopback with
//! its store in a temp dir. Serve is started with `--listen=nats://…` (the `=` form): the
//! shared starter counts `--listen` flags as socket listeners to wait for.

use crate::common;
use logwire_test_support::nats::NatsServer;

use common::{BIN, WAIT, good, keygen, logwire, send_tcp};
use logwire_nats::{KvTarget, NatsConnect, push_config};
use logwire_test_support::serve::Serve;
use logwire_wire::{EnvelopeClock, SigningKey, SystemEnvelopeClock, sign_config};
use std::path::{Path, PathBuf};

/// The key `key` of the `logconf` bucket on `nats`, as `send-config --to` takes it.
pub(crate) fn kv_url(nats: &NatsServer, key: &str) -> String {
    format!("{}/logconf/{key}", nats.url())
}

/// A fleet: the key pair, a file root all listeners may write, and their state dirs.
pub(crate) struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    pub(crate) fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        keygen("ed25519", &dir.path().join("ops"));
        std::fs::create_dir(dir.path().join("root")).unwrap();
        Fleet { dir }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `serve --tcp 127.0.0.1:0 --listen=URL` with its own state dir, audience `payments`;
    /// returns once it watches the key.
    fn serve(&self, url: &str, name: &str) -> Serve {
        let p = |s: &str| self.path(s).to_str().unwrap().to_owned();
        let serve = Serve::start(
            BIN,
            &[
                "--tcp".to_owned(),
                "127.0.0.1:0".into(),
                format!("--listen={url}"),
                "--listen-key".into(),
                p("ops.pub"),
                "--listen-state-dir".into(),
                p(&format!("state-{name}")),
                "--listen-file-root".into(),
                p("root"),
                "--listen-audience".into(),
                "payments".into(),
            ],
        );
        assert!(
            serve.wait_stderr(|l| l.contains("watching nats://")),
            "serve never watched the key: {:?}",
            serve.stderr_lines()
        );
        serve
    }

    /// A config routing every record to ROOT/fleet.log as `LEVEL|message`.
    pub(crate) fn config(&self, name: &str, level: &str) -> PathBuf {
        let text = serde_json::json!({
            "version": 1,
            "formatters": {"f": {"format": "%(levelname)s|%(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler",
                "filename": self.path("root").join("fleet.log"), "formatter": "f"}},
            "root": {"level": level, "handlers": ["file"]}
        });
        let file = self.path(name);
        std::fs::write(&file, text.to_string()).unwrap();
        file
    }

    /// `logwire send-config FILE --to URL --key ops.key ARGS…`: (exit code, stdout, stderr).
    pub(crate) fn send(&self, file: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
        let out = logwire()
            .arg("send-config")
            .arg(file)
            .args(["--to", url, "--key"])
            .arg(self.path("ops.key"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn signer(&self) -> SigningKey {
        SigningKey::load(&self.path("ops.key")).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("root").join("fleet.log")).unwrap_or_default()
    }
}

/// The stdout lines of send-config: one per listener.
fn lines(stdout: &str) -> Vec<&str> {
    stdout.lines().collect()
}

async fn put_raw(url: &str, body: Vec<u8>) -> logwire_nats::PushReport {
    let target: KvTarget = url.parse().unwrap();
    push_config(&target, &NatsConnect::default(), body, Some(3), WAIT)
        .await
        .unwrap()
}

#[test]
fn one_push_reaches_three_serve_listeners_and_each_applies_it() {
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "fleet");
    let serves: Vec<Serve> = ["a", "b", "c"]
        .iter()
        .map(|n| fleet.serve(&url, n))
        .collect();

    let file = fleet.config("info.json", "INFO");
    let (code, out, err) = fleet.send(&file, &url, &["--audience", "payments", "--expect", "3"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let got = lines(&out);
    assert_eq!(got.len(), 3, "{out}");
    for l in &got {
        assert!(
            l.starts_with("payments@") && l.contains(": applied (seq "),
            "{l}"
        );
    }
    assert!(
        err.contains("3 listener(s) answered, 3 applied, 0 rejected"),
        "{err}"
    );

    // Each collector now routes by the pushed config.
    for (s, who) in serves.iter().zip(["a", "b", "c"]) {
        send_tcp(s.tcp(), &good(&format!("routed by the bucket to {who}")));
    }
    assert!(common::wait_until(|| {
        let log = fleet.log();
        ["a", "b", "c"]
            .iter()
            .all(|w| log.contains(&format!("INFO|routed by the bucket to {w}")))
    }));
}

#[test]
fn tampered_replayed_and_wrong_audience_revisions_are_rejected_by_every_serve() {
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "fleet");
    let _serves: Vec<Serve> = ["a", "b", "c"]
        .iter()
        .map(|n| fleet.serve(&url, n))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let now = SystemEnvelopeClock.now_ms();
    let text = std::fs::read(fleet.config("warn.json", "WARNING")).unwrap();
    let good = sign_config(&fleet.signer(), 50, now, now + 300_000, None, &text).unwrap();
    let report = rt.block_on(put_raw(&url, good.clone()));
    assert!(
        report.all_applied() && report.replies.len() == 3,
        "{report:?}"
    );

    // Tampered: a payload byte changed after signing.
    let mut tampered = sign_config(&fleet.signer(), 51, now, now + 300_000, None, &text).unwrap();
    let at = tampered.len() - 3;
    tampered[at] ^= 0x20;
    let report = rt.block_on(put_raw(&url, tampered));
    assert_eq!(report.replies.len(), 3, "{report:?}");
    assert!(
        report
            .replies
            .iter()
            .all(|r| !r.applied() && r.reason.contains("signature")),
        "{report:?}"
    );

    // Replayed: the applied frame's exact bytes as a new revision.
    let report = rt.block_on(put_raw(&url, good));
    assert_eq!(report.replies.len(), 3, "{report:?}");
    assert!(
        report.replies.iter().all(|r| !r.applied() && r.seq == 50),
        "{report:?}"
    );

    // Replayed seq through the command: rejected, one line per listener, exit 1.
    let file = fleet.config("debug.json", "DEBUG");
    let (code, out, err) = fleet.send(&file, &url, &["--seq", "50", "--expect", "3"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert_eq!(lines(&out).len(), 3, "{out}");
    assert!(
        lines(&out).iter().all(|l| l.contains(": rejected (seq 50")),
        "{out}"
    );

    // Signed for another audience.
    let (code, out, err) = fleet.send(
        &file,
        &url,
        &["--seq", "60", "--audience", "billing", "--expect", "3"],
    );
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert_eq!(lines(&out).len(), 3, "{out}");
    assert!(
        lines(&out)
            .iter()
            .all(|l| l.contains(": rejected (seq 60") && l.contains("audience")),
        "{out}"
    );
    assert!(
        err.contains("3 listener(s) answered, 0 applied, 3 rejected"),
        "{err}"
    );
}

#[test]
fn a_serve_started_after_the_push_applies_the_latest_revision_once() {
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "late");
    let old = fleet.config("old.json", "ERROR");
    let new = fleet.config("new.json", "INFO");
    // Nobody listens yet: --expect 0 stores the revision and returns.
    assert_eq!(
        fleet.send(&old, &url, &["--seq", "1", "--expect", "0"]).0,
        0
    );
    assert_eq!(
        fleet.send(&new, &url, &["--seq", "2", "--expect", "0"]).0,
        0
    );

    let serve = fleet.serve(&url, "late");
    assert!(serve.wait_stderr(|l| l.contains("applied revision 2 (seq 2")));
    send_tcp(serve.tcp(), &good("after the late start"));
    assert!(common::wait_until(|| fleet
        .log()
        .contains("INFO|after the late start")));
    let processed: Vec<String> = serve
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains(" revision "))
        .collect();
    assert_eq!(processed.len(), 1, "{processed:?}");
}

#[test]
fn expect_three_with_one_listener_down_times_out_with_a_clear_message() {
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "partial");
    let _serves: Vec<Serve> = ["a", "b"].iter().map(|n| fleet.serve(&url, n)).collect();
    let file = fleet.config("c.json", "INFO");
    let (code, out, err) = fleet.send(&file, &url, &["--expect", "3", "--timeout", "3"]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert_eq!(lines(&out).len(), 2, "{out}");
    assert!(
        err.contains("only 2 of the 3 expected listeners answered within 3s"),
        "{err}"
    );
}

#[test]
fn help_texts_show_the_nats_forms() {
    for (cmd, needle) in [
        ("send-config", "--to nats://127.0.0.1:4222/logconf/payments"),
        ("send-config", "--expect"),
        ("serve", "--listen nats://127.0.0.1:4222/logconf/payments"),
        (
            "serve",
            "--nats-source nats://127.0.0.1:4222 --nats-stream LOGS",
        ),
        ("serve", "--drain-timeout 10"),
    ] {
        let out = logwire().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(needle), "{cmd} --help lacks {needle}: {text}");
    }
}

#[test]
fn a_socket_listener_and_the_bucket_share_one_seq_ratchet() {
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "both");
    let p = |s: &str| fleet.path(s).to_str().unwrap().to_owned();
    let serve = Serve::start(
        BIN,
        &[
            "--tcp".to_owned(),
            "127.0.0.1:0".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            format!("--listen={url}"),
            "--listen-key".into(),
            p("ops.pub"),
            "--listen-state-dir".into(),
            p("state"),
            "--listen-file-root".into(),
            p("root"),
        ],
    );
    assert!(serve.wait_stderr(|l| l.contains("watching nats://")));
    let file = fleet.config("c.json", "INFO");
    let (code, out, err) = fleet.send(&file, &serve.config_to(), &["--seq", "10"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    // The same seq through the bucket: the socket push advanced the ratchet the bucket's
    // revisions are checked against.
    let (code, out, err) = fleet.send(&file, &url, &["--seq", "10", "--expect", "1"]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains(": rejected (seq 10"), "{out}");
    let (code, out, err) = fleet.send(&file, &url, &["--seq", "11", "--expect", "1"]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    // Reported by the socket listener's own event line, naming the bucket revision.
    assert!(serve.wait_stderr(|l| l.contains("applied seq 11") && l.contains("nats://")));
}

#[test]
fn a_malformed_nats_target_is_refused_with_the_reason() {
    let out = logwire()
        .args([
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--listen=nats://127.0.0.1:4222/bad.bucket/k",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bucket name may only hold"), "{err}");
    let fleet = Fleet::new();
    let file = fleet.config("c.json", "INFO");
    let (code, _, err) = fleet.send(&file, "nats://127.0.0.1:4222/logconf", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no /KEY after the bucket"), "{err}");
}

/// A credentials file that cannot be read is a setting to fix: `send-config`, `serve --listen
/// nats://…` and `serve --nats-source` each stop at once with one sentence naming it, instead of
/// retrying a connection that can never succeed (no server is needed to see it).
#[test]
fn an_unreadable_nats_credentials_file_stops_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ops");
    keygen("ed25519", &key);
    let config = dir.path().join("c.json");
    std::fs::write(&config, r#"{"version": 1}"#).unwrap();
    let missing = dir.path().join("missing.creds");
    let (m, k, c, st) = (
        missing.to_str().unwrap(),
        key.with_extension("key"),
        config.to_str().unwrap(),
        dir.path().join("state"),
    );
    // `serve --listen nats://…` with the missing file given to `flag`.
    let listener_with = |flag: &str| -> Vec<String> {
        vec![
            "serve".into(),
            "--tcp=127.0.0.1:0".into(),
            "--udp=127.0.0.1:0".into(),
            "--listen=nats://127.0.0.1:4/logconf/k".into(),
            "--listen-key".into(),
            key.with_extension("pub").to_str().unwrap().into(),
            "--listen-state-dir".into(),
            st.to_str().unwrap().into(),
            flag.into(),
            m.into(),
        ]
    };
    let runs: [Vec<String>; 4] = [
        vec![
            "send-config".into(),
            c.into(),
            "--to".into(),
            "nats://127.0.0.1:4/logconf/k".into(),
            "--key".into(),
            k.to_str().unwrap().into(),
            "--nats-creds".into(),
            m.into(),
        ],
        listener_with("--listen-nats-creds"),
        // The CA of a TLS bucket listener (a missing file named "missing.creds" all the same).
        listener_with("--listen-nats-tls-ca"),
        vec![
            "serve".into(),
            "--tcp=127.0.0.1:0".into(),
            "--udp=127.0.0.1:0".into(),
            "--nats-source=nats://127.0.0.1:4".into(),
            "--nats-stream=LOGS".into(),
            "--nats-durable=store".into(),
            "--nats-creds".into(),
            m.into(),
        ],
    ];
    for args in runs {
        let mut child = logwire()
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let exited =
            logwire_test_support::wait::poll_until(WAIT, || child.try_wait().unwrap().is_some());
        if !exited {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(exited, "{args:?} kept running: {err}");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("missing.creds"), "{args:?}: {err}");
        assert!(!err.contains("retrying"), "{args:?}: {err}");
    }
}
