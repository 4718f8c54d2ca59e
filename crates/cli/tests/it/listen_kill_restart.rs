//! `kill -9` of `logwire serve --listen …` while it applies a pushed config, or right after
//! its reply, then a restart on the same state directory: the seq ratchet survives (a replay
//! of an acknowledged seq is rejected after the restart), the state files are never torn
//! (each holds a whole seq, the restart reads them), and a fresh higher seq is applied.

use crate::common;

use common::{Serve, keygen, listen_args, logwire};
use logwire_wire::{ConfigReply, sign_config_frame};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Starts `logwire serve` with the config listener on the state directory of `d`.
fn serve(d: &Path) -> Serve {
    let mut args = listen_args(d);
    args.push("--listen-file-root".to_owned());
    args.push(d.join("logs").to_str().unwrap().to_owned());
    Serve::start(&args)
}

fn send(d: &Path, to: &str, seq: u64) -> Command {
    let mut c = logwire();
    c.arg("send-config")
        .arg(d.join("c.json"))
        .args([
            "--to",
            to,
            "--timeout",
            "20",
            "--seq",
            &seq.to_string(),
            "--key",
        ])
        .arg(d.join("ops.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn out(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The listener's reply, or `None` if the connection ended without one (killed).
fn read_reply(s: &mut TcpStream) -> Option<ConfigReply> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    if all.len() < 4 {
        return None;
    }
    let n = u32::from_be_bytes([all[0], all[1], all[2], all[3]]) as usize;
    ConfigReply::parse(all.get(4..4 + n)?).ok()
}

/// Every `seq-*` file in the state directory, parsed; a torn or partial file fails here.
fn state_seqs(d: &Path) -> Vec<(PathBuf, u64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d.join("state")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("seq-") {
            continue; // a temp file the kill left behind is never read
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.ends_with('\n'), "torn state file {name}: {text:?}");
        let seq = text
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("torn state file {name}: {text:?} ({e})"));
        v.push((p, seq));
    }
    v
}

#[test]
fn kill_9_mid_apply_keeps_the_ratchet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).unwrap();
    keygen("ed25519", &d.join("ops"));
    // A file handler, so applying opens a file beneath the root.
    std::fs::write(
        d.join("c.json"),
        r#"{"version": 1, "disable_existing_loggers": false,
            "formatters": {"f": {"format": "%(levelname)s %(message)s"}},
            "handlers": {"file": {"class": "logging.handlers.RotatingFileHandler",
                                  "filename": "pushed.log", "maxBytes": 1048576,
                                  "backupCount": 3, "formatter": "f"}},
            "root": {"level": "INFO", "handlers": ["file"]}}"#,
    )
    .unwrap();

    let signer = logwire_wire::SigningKey::load(&d.join("ops.key")).unwrap();
    let config = std::fs::read(d.join("c.json")).unwrap();
    let mut acked: Option<u64> = None; // the highest seq a reply said was applied
    let mut sent = 0u64; // the highest seq ever sent
    let mut s = serve(d);
    // How long the listener takes from the frame's last byte to its reply (verify, apply,
    // persist), measured on the acknowledged rounds; the in-flight kills are spread across
    // that span so they land before, during and after the apply.
    let mut apply_time = Duration::from_micros(500);
    let mut outcomes = Vec::new();
    const ROUNDS: u64 = 16;
    for round in 0..ROUNDS {
        let seq = 100 + round * 10;
        sent = seq;
        if round == 0 {
            // The CLI path end to end, killed right after the reply.
            let o = send(d, &s.config_to(), seq).output().unwrap();
            assert_eq!(o.status.code(), Some(0), "round {round}: {}", out(&o));
            acked = Some(seq);
            s.kill();
        } else {
            let now = i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap();
            let frame = sign_config_frame(&signer, seq, now, now + 300_000, None, &config).unwrap();
            let mut tcp = TcpStream::connect(s.bound.config_tcp[0]).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            tcp.write_all(&frame).unwrap();
            let written = Instant::now();
            let reply = if round % 2 == 0 {
                // Killed right after the reply: the seq was persisted before it was sent.
                let r = read_reply(&mut tcp);
                apply_time = written.elapsed();
                s.kill();
                assert_eq!(r, Some(ConfigReply::applied(seq)), "round {round}");
                r
            } else {
                // Killed while the listener works on the frame, at a point that moves
                // through the apply from round to round.
                let wait_for = apply_time.mul_f64(round as f64 / ROUNDS as f64);
                while written.elapsed() < wait_for {
                    std::hint::spin_loop();
                }
                s.kill();
                read_reply(&mut tcp)
            };
            match reply {
                Some(r) if r == ConfigReply::applied(seq) => acked = Some(seq),
                // No reply: the kill came first; applied and persisted or not, both are fine.
                None => {}
                Some(r) => panic!("round {round}: {r:?}"),
            }
        }
        drop(s); // reaps the killed process

        // Never torn, and never behind an acknowledged seq nor ahead of the sent ones.
        let seqs = state_seqs(d);
        if round % 2 == 1 {
            // Which point the kill hit: not reached / applied unacknowledged / acknowledged.
            outcomes.push(match seqs.first() {
                Some((_, on_disk)) if *on_disk == seq && acked == Some(seq) => "acked",
                Some((_, on_disk)) if *on_disk == seq => "persisted, no reply",
                _ => "not persisted",
            });
        }
        if let Some(a) = acked {
            assert_eq!(seqs.len(), 1, "round {round}: {seqs:?}");
            let on_disk = seqs[0].1;
            assert!(
                on_disk >= a && on_disk <= sent,
                "round {round}: state {on_disk}, acked {a}, sent {sent}"
            );
        }

        // The restart reads the state (a corrupt file would stop it here), and whatever seq
        // is on disk, acknowledged or applied just before the kill, cannot be replayed.
        s = serve(d);
        if let Some((_, on_disk)) = seqs.first() {
            let o = send(d, &s.config_to(), *on_disk).output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(1),
                "round {round}: replay of {on_disk}: {}",
                out(&o)
            );
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("is not greater"),
                "round {round}: {}",
                out(&o)
            );
        }
    }
    // A fresh higher seq is applied, and the pushed file handler writes beneath the root.
    let o = send(d, &s.config_to(), sent + 1).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(state_seqs(d)[0].1, sent + 1);
    assert!(d.join("logs").join("pushed.log").exists());
    // No stray state beyond the one key's file and at most one temp file.
    let names: Vec<String> = std::fs::read_dir(d.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() <= 2, "{names:?}");
    eprintln!("in-flight kills (apply took about {apply_time:?}): {outcomes:?}");
    let log = s.stderr_lines().join("\n");
    assert!(log.contains(&format!("applied seq {}", sent + 1)), "{log}");
}
