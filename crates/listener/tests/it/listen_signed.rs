//! The signed path of the config listener: the shared vectors, every envelope check with a
//! reason in the reply, the persisted ratchet (also across a restart), racing pushes, and
//! secure-by-default start-up.

use crate::common_listen;

use common_listen::*;
use logwire_listener::{ListenerError, ListenerOptions};
use logwire_wire::{
    Audience, ConfigReply, ConfigStatus, FixedClock, sign_config_frame, sign_config_to,
};

const NOW: i64 = 1_800_000_000_000;
const WARN_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "WARNING"}}"#;

fn level_config(level: &str) -> Vec<u8> {
    format!(r#"{{"version": 1, "incremental": true, "root": {{"level": "{level}"}}}}"#).into_bytes()
}

#[test]
fn shared_vectors_apply_and_tampered_is_rejected() {
    let v = vectors();
    let (hmac, ed, _, _) = vector_keys();
    for vec in v["config_frames"].as_array().unwrap() {
        let name = vec["name"].as_str().unwrap();
        let fx = Fixture::new();
        let state = tempfile::tempdir().unwrap();
        let mut options = ListenerOptions::new()
            .tcp(tcp0())
            .key(hmac.clone())
            .key(ed.clone())
            .state_dir(state.path());
        if let Some(a) = vec["audience"].as_str() {
            options = options.audience(a);
        }
        let h = fx.listener(options).clock(vector_clock()).start().unwrap();
        let reply = push_raw(h.tcp_addr().unwrap(), &b64(vec["frame"].as_str().unwrap())).unwrap();
        assert_eq!(reply, ConfigReply::applied(7), "{name}");
        let want = if name.ends_with("-ini") { 20 } else { 30 };
        assert_eq!(
            fx.tree.root().effective_level(),
            want,
            "{name}: the payload's root level"
        );
        // Same frame again: replay.
        let again = push_raw(h.tcp_addr().unwrap(), &b64(vec["frame"].as_str().unwrap())).unwrap();
        assert_eq!(again.status, ConfigStatus::Rejected, "{name}");
        assert!(
            again.reason.contains("not greater"),
            "{name}: {}",
            again.reason
        );
        h.stop_and_join();
    }
    for bad in v["must_reject"].as_array().unwrap() {
        let fx = Fixture::new();
        let state = tempfile::tempdir().unwrap();
        let options = ListenerOptions::new()
            .tcp(tcp0())
            .key(hmac.clone())
            .key(ed.clone())
            .state_dir(state.path());
        let h = fx.listener(options).clock(vector_clock()).start().unwrap();
        let reply = push_raw(h.tcp_addr().unwrap(), &b64(bad["frame"].as_str().unwrap())).unwrap();
        assert_eq!(reply.status, ConfigStatus::Rejected);
        assert_eq!(reply.reason, "bad signature");
        assert_eq!(fx.tree.root().effective_level(), 10, "nothing applied");
        fx.assert_orig_routing_alive("after tampered");
        h.stop_and_join();
    }
}

#[test]
fn every_envelope_check_rejects_with_a_reason_and_applies_nothing() {
    let (hmac, ed, hmac_signer, ed_signer) = vector_keys();
    let fx = Fixture::new();
    let state = tempfile::tempdir().unwrap();
    let events = Events::default();
    let options = ListenerOptions::new()
        .tcp(tcp0())
        .key(hmac)
        .key(ed)
        .state_dir(state.path())
        .audience("web");
    let h = fx
        .listener(options)
        .clock(FixedClock(NOW))
        .on_event(events.hook())
        .start()
        .unwrap();
    let addr = h.tcp_addr().unwrap();
    let stranger = logwire_wire::generate_ed25519().unwrap();

    let mut wrong_alg =
        sign_config_frame(&hmac_signer, 50, NOW, NOW + 60_000, None, WARN_ROOT).unwrap();
    wrong_alg[4 + 4] = 1; // the HMAC key's id, but "Ed25519"
    let mut bad_sig =
        sign_config_frame(&ed_signer, 51, NOW, NOW + 60_000, None, WARN_ROOT).unwrap();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    let mut bad_header =
        sign_config_frame(&ed_signer, 52, NOW, NOW + 60_000, None, WARN_ROOT).unwrap();
    bad_header[4 + 20] ^= 1; // a seq bit
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown key",
            sign_config_frame(&stranger, 1, NOW, NOW + 60_000, None, WARN_ROOT).unwrap(),
            "unknown key id",
        ),
        ("wrong algorithm", wrong_alg, "but the envelope says"),
        ("bad signature", bad_sig, "bad signature"),
        ("flipped header bit", bad_header, "bad signature"),
        (
            "expired",
            sign_config_frame(&ed_signer, 53, NOW - 120_000, NOW - 60_000, None, WARN_ROOT)
                .unwrap(),
            "expired",
        ),
        (
            "future",
            sign_config_frame(
                &ed_signer,
                54,
                NOW + 301_000,
                NOW + 400_000,
                None,
                WARN_ROOT,
            )
            .unwrap(),
            "ahead of the listener's clock",
        ),
        (
            "lifetime",
            sign_config_frame(&ed_signer, 55, NOW, NOW + 8 * 86_400_000, None, WARN_ROOT).unwrap(),
            "7 days",
        ),
        (
            "wrong audience",
            sign_config_frame(&ed_signer, 56, NOW, NOW + 60_000, Some("db"), WARN_ROOT).unwrap(),
            "audience",
        ),
        ("unsigned", frame(WARN_ROOT), "unsigned config refused"),
        (
            "truncated envelope",
            frame(&b"LWC1\x01\0\0\0abc"[..]),
            "shorter than",
        ),
        (
            "bad magic",
            frame(&b"LWC1\x07\0\0\0"[..]),
            "unknown signature algorithm",
        ),
    ];
    for (i, (name, bytes, want)) in cases.iter().enumerate() {
        let reply = push_raw(addr, bytes).unwrap_or_else(|| panic!("{name}: no reply"));
        assert_eq!(reply.status, ConfigStatus::Rejected, "{name}");
        assert!(reply.reason.contains(want), "{name}: {:?}", reply.reason);
        assert_eq!(
            fx.tree.root().effective_level(),
            10,
            "{name}: nothing applied"
        );
        fx.assert_orig_routing_alive(&format!("after {name} {i}"));
    }
    // Future within the 300 s allowance and the matching audience are fine.
    let ok = sign_config_to(
        &ed_signer,
        60,
        NOW + 299_000,
        NOW + 400_000,
        Audience::for_name("web"),
        WARN_ROOT,
    )
    .unwrap();
    assert_eq!(
        push_raw(addr, &frame(&ok)).unwrap(),
        ConfigReply::applied(60)
    );
    assert_eq!(fx.tree.root().effective_level(), 30);
    assert_eq!(h.stats().applied, 1);
    assert_eq!(h.stats().rejected, cases.len() as u64);
    let log = events.all();
    assert!(
        log.iter()
            .any(|l| l.starts_with("applied seq 60 from key 5540ee3de4e09522")),
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("rejected: bad signature")),
        "{log:?}"
    );
    h.stop_and_join();
}

#[test]
fn replay_fails_after_a_restart_and_lower_seq_fails() {
    let signer = logwire_wire::generate_ed25519().unwrap();
    let state = tempfile::tempdir().unwrap();
    let fx = Fixture::new();
    let opts = || {
        ListenerOptions::new()
            .tcp(tcp0())
            .key(signer.verify_key())
            .state_dir(state.path())
    };
    let five =
        sign_config_frame(&signer, 5, NOW, NOW + 60_000, None, &level_config("ERROR")).unwrap();
    let h = fx.listener(opts()).clock(FixedClock(NOW)).start().unwrap();
    assert_eq!(
        push_raw(h.tcp_addr().unwrap(), &five).unwrap(),
        ConfigReply::applied(5)
    );
    h.stop_and_join();
    assert_eq!(fx.tree.root().effective_level(), 40);
    fx.tree.root().set_level(10);

    // A new process would read the same state dir.
    let h = fx.listener(opts()).clock(FixedClock(NOW)).start().unwrap();
    let addr = h.tcp_addr().unwrap();
    let r = push_raw(addr, &five).unwrap();
    assert_eq!(r.status, ConfigStatus::Rejected);
    assert!(
        r.reason
            .contains("seq 5 is not greater than the last applied seq 5"),
        "{}",
        r.reason
    );
    let four =
        sign_config_frame(&signer, 4, NOW, NOW + 60_000, None, &level_config("ERROR")).unwrap();
    assert!(
        push_raw(addr, &four)
            .unwrap()
            .reason
            .contains("not greater")
    );
    assert_eq!(
        fx.tree.root().effective_level(),
        10,
        "replays applied nothing"
    );
    let six = sign_config_frame(
        &signer,
        6,
        NOW,
        NOW + 60_000,
        None,
        &level_config("CRITICAL"),
    )
    .unwrap();
    assert_eq!(push_raw(addr, &six).unwrap(), ConfigReply::applied(6));
    assert_eq!(fx.tree.root().effective_level(), 50);
    h.stop_and_join();
    let persisted =
        std::fs::read_to_string(state.path().join(format!("seq-{}", signer.key_id()))).unwrap();
    assert_eq!(persisted.trim(), "6");
}

#[test]
fn racing_pushes_apply_one_at_a_time_and_the_ratchet_decides() {
    let signer = logwire_wire::generate_hmac().unwrap();
    let state = tempfile::tempdir().unwrap();
    let fx = Fixture::new();
    let opts = ListenerOptions::new()
        .tcp(tcp0())
        .key(signer.verify_key())
        .state_dir(state.path());
    let h = fx.listener(opts).clock(FixedClock(NOW)).start().unwrap();
    let addr = h.tcp_addr().unwrap();
    for round in 0..5u64 {
        let (a, b) = (100 + 2 * round, 101 + 2 * round);
        let fa =
            sign_config_frame(&signer, a, NOW, NOW + 60_000, None, &level_config("ERROR")).unwrap();
        let fb = sign_config_frame(
            &signer,
            b,
            NOW,
            NOW + 60_000,
            None,
            &level_config("CRITICAL"),
        )
        .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let (b1, b2) = (barrier.clone(), barrier);
        let ta = std::thread::spawn(move || {
            b1.wait();
            push_raw(addr, &fa).unwrap()
        });
        let tb = std::thread::spawn(move || {
            b2.wait();
            push_raw(addr, &fb).unwrap()
        });
        let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
        // The higher seq always ends applied; the lower one only if it came first.
        assert_eq!(rb, ConfigReply::applied(b), "round {round}");
        match ra.status {
            ConfigStatus::Applied => {}
            ConfigStatus::Rejected => assert!(ra.reason.contains("not greater"), "{}", ra.reason),
        }
        assert_eq!(
            fx.tree.root().effective_level(),
            50,
            "round {round}: the final state is seq {b}'s"
        );
        fx.tree.root().set_level(10);
    }
    h.stop_and_join();
}

#[test]
fn secure_by_default_start_up() {
    let fx = Fixture::new();
    // No keys on TCP: refused.
    let err = fx
        .listener(ListenerOptions::new().tcp(tcp0()))
        .start()
        .unwrap_err();
    assert!(matches!(err, ListenerError::Unprotected { .. }), "{err}");
    assert!(err.to_string().contains("TCP address"), "{err}");
    // Keys but no state dir: refused.
    let k = logwire_wire::generate_ed25519().unwrap();
    let err = fx
        .listener(ListenerOptions::new().tcp(tcp0()).key(k.verify_key()))
        .start()
        .unwrap_err();
    assert!(matches!(err, ListenerError::NoStateDir), "{err}");
    // Keyless Unix socket in a world-writable directory: refused.
    let err = fx
        .listener(ListenerOptions::new().unix("/tmp/logwire-test-unprotected.sock"))
        .start()
        .unwrap_err();
    assert!(
        err.to_string().contains("writable by group or others"),
        "{err}"
    );
    // Keyless Unix socket in a private directory: allowed, 0600, and it applies configs.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("conf.sock");
    let h = fx
        .listener(ListenerOptions::new().unix(&sock))
        .start()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        push_unix(&sock, &frame(&level_config("ERROR"))).unwrap(),
        ConfigReply::applied(0)
    );
    assert_eq!(fx.tree.root().effective_level(), 40);
    // A second listener on the same live socket is refused; stop removes the socket.
    let err = fx
        .listener(ListenerOptions::new().unix(&sock))
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("another listener"), "{err}");
    h.stop_and_join();
    assert!(!sock.exists());
    // Explicitly allowed unsigned TCP starts.
    let h = fx
        .listener(ListenerOptions::new().tcp(tcp0()).allow_unsigned(true))
        .start()
        .unwrap();
    assert!(h.ready());
    h.stop_and_join();
}

#[test]
fn unix_socket_path_safety_and_peer_uids() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    // A regular file at the path is never deleted.
    let file = dir.path().join("file.sock");
    std::fs::write(&file, "precious").unwrap();
    let err = fx
        .listener(ListenerOptions::new().unix(&file))
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    // A symlink is refused.
    let link = dir.path().join("link.sock");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let err = fx
        .listener(ListenerOptions::new().unix(&link))
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    // A stale socket of ours is replaced.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let h = fx
        .listener(ListenerOptions::new().unix(&stale))
        .start()
        .unwrap();
    h.stop_and_join();
    // Peer uid allow-list (with keys): our uid is not on it, so the connection is closed.
    let k = logwire_wire::generate_hmac().unwrap();
    let state = tempfile::tempdir().unwrap();
    let sock = dir.path().join("peer.sock");
    let opts = ListenerOptions::new()
        .unix(&sock)
        .key(k.verify_key())
        .state_dir(state.path())
        .peer_uids(vec![4_000_000]);
    let h = fx.listener(opts).clock(FixedClock(NOW)).start().unwrap();
    let f = sign_config_frame(&k, 1, NOW, NOW + 60_000, None, &level_config("ERROR")).unwrap();
    assert_eq!(push_unix(&sock, &f), None);
    assert_eq!(h.stats().refused_peer, 1);
    assert_eq!(fx.tree.root().effective_level(), 10);
    h.stop_and_join();
}

#[test]
fn a_missing_or_overlapping_file_root_stops_the_listener_with_its_reason() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let key = logwire_wire::generate_ed25519().unwrap().verify_key();
    let refused = |options: ListenerOptions| {
        fx.listener(options.key(key.clone()))
            .gate()
            .expect_err("the gate is refused")
    };
    // A file root that does not exist: the content policy cannot open it.
    let missing = dir.path().join("missing");
    let err = refused(
        ListenerOptions::new()
            .state_dir(dir.path().join("state"))
            .file_root(&missing),
    );
    assert!(
        matches!(
            err,
            ListenerError::Policy(logwire_config::PolicyError::FileRoot { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "content policy: file root {}: ",
            missing.display()
        )),
        "{err}"
    );
    // The state directory inside the file root: a pushed file handler could overwrite it.
    let root = dir.path().join("logs");
    std::fs::create_dir_all(&root).unwrap();
    let err = refused(
        ListenerOptions::new()
            .state_dir(root.join("state"))
            .file_root(&root),
    );
    assert!(
        matches!(
            err,
            ListenerError::Apart(logwire_listener::ApartError::Overlap { .. })
        ),
        "{err}"
    );
    let (root, state) = (
        root.canonicalize().unwrap(),
        root.join("state").canonicalize().unwrap(),
    );
    assert_eq!(
        err.to_string(),
        format!(
            "content policy: the file root {} and the state directory {} overlap: pushed file \
             handlers could write the listener's state; keep them apart",
            root.display(),
            state.display()
        )
    );
}
