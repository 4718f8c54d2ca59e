//! The push client against a real listener (TCP, Unix socket, mutual TLS), the errors it
//! tells apart (no reply, a TLS port spoken to in plain, nobody listening), and the socketless
//! gate giving exactly the replies a socket push gets, ratchet included.

use crate::common_listen::*;
#[cfg(feature = "tls")]
use crate::common_tls::*;
#[cfg(feature = "tls")]
use logwire_listener::TlsServer;
use logwire_listener::{
    ConfigGate, ListenerError, ListenerOptions, PushClient, PushError, SignOptions,
    plain_push_frame, signed_push_frame,
};
use logwire_wire::{ConfigReply, ConfigStatus, SigningKey};
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

const ERROR_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#;
const WARN_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "WARNING"}}"#;

fn client(to: &str) -> PushClient {
    PushClient::new(to).timeout(Duration::from_secs(20))
}

#[test]
fn a_signed_push_over_tcp_is_applied_and_its_replay_rejected() {
    let fx = Fixture::new();
    let state = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .key(signer.verify_key())
                .state_dir(state.path()),
        )
        .start()
        .unwrap();
    let to = h.tcp_addr().unwrap().to_string();
    let frame = signed_push_frame(&signer, ERROR_ROOT, &SignOptions::new().seq(5)).unwrap();
    assert_eq!(client(&to).push(&frame).unwrap(), ConfigReply::applied(5));
    assert_eq!(fx.tree.root().effective_level(), 40);
    // A rejection is a reply, not an error.
    let again = client(&to).push(&frame).unwrap();
    assert_eq!(
        (again.status, again.seq),
        (ConfigStatus::Rejected, 5),
        "{again:?}"
    );
    // Unsigned frames are refused by a listener with keys.
    let plain = client(&to)
        .push(&plain_push_frame(WARN_ROOT).unwrap())
        .unwrap();
    assert_eq!(plain.status, ConfigStatus::Rejected, "{plain:?}");
    assert!(plain.reason.contains("unsigned"), "{plain:?}");
    assert_eq!(fx.tree.root().effective_level(), 40);
    h.stop_and_join();
}

#[test]
fn a_push_reaches_an_owner_only_unix_socket() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf.sock");
    let h = fx
        .listener(ListenerOptions::new().unix(&path))
        .start()
        .unwrap();
    let to = format!("unix:{}", path.display());
    let reply = client(&to)
        .push(&plain_push_frame(WARN_ROOT).unwrap())
        .unwrap();
    assert_eq!(reply, ConfigReply::applied(0));
    assert_eq!(fx.tree.root().effective_level(), 30);
    h.stop_and_join();
}

#[cfg(feature = "tls")]
#[test]
fn a_push_over_mutual_tls_is_applied_and_plain_bytes_to_the_tls_port_are_named() {
    let certs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let pki = write_pki(certs.path());
    let signer = logwire_wire::generate_ed25519().unwrap();
    let tls = TlsServer::from_pem_files(&pki.server_cert, &pki.server_key, &pki.ca).unwrap();
    let fx = Fixture::new();
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .key(signer.verify_key())
                .state_dir(state.path())
                .tls(tls),
        )
        .start()
        .unwrap();
    let to = h.tcp_addr().unwrap().to_string();
    let frame = signed_push_frame(&signer, ERROR_ROOT, &SignOptions::new().seq(1)).unwrap();
    let reply = client(&to)
        .tls(pki.trusted_client(), Some("localhost".into()))
        .push(&frame)
        .unwrap();
    assert_eq!(reply, ConfigReply::applied(1));
    assert_eq!(fx.tree.root().effective_level(), 40);

    let frame = signed_push_frame(&signer, WARN_ROOT, &SignOptions::new().seq(2)).unwrap();
    let err = client(&to).push(&frame).unwrap_err();
    assert!(
        matches!(err, PushError::SpeaksTls { .. } | PushError::NoReply { .. }),
        "plain TCP to a TLS port: {err}"
    );
    // A certificate naming another host fails the handshake, and says which name.
    let err = client(&to)
        .tls(pki.trusted_client(), Some("elsewhere.invalid".into()))
        .push(&frame)
        .unwrap_err();
    assert!(matches!(err, PushError::Tls { .. }), "{err}");
    assert_eq!(
        err.tls_failure(),
        Some(logwire_listener::TlsFailure::ServerNameMismatch)
    );
    assert_eq!(fx.tree.root().effective_level(), 40, "nothing else applied");
    h.stop_and_join();
}

#[test]
fn a_peer_that_closes_without_replying_is_no_reply_and_nobody_listening_is_connect() {
    // What CPython's logging.config.listen() does: read the frame, never answer.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = silent.local_addr().unwrap().to_string();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = silent.accept().unwrap();
        let mut prefix = [0u8; 4];
        s.read_exact(&mut prefix).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        s.read_exact(&mut body).unwrap();
        body
    });
    let frame = plain_push_frame(WARN_ROOT).unwrap();
    let err = client(&to).push(&frame).unwrap_err();
    assert!(matches!(err, PushError::NoReply { .. }), "{err}");
    assert_eq!(peer.join().unwrap(), WARN_ROOT, "the frame went out whole");

    // A port nobody listens on (bound, then closed).
    let gone = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = client(&gone.to_string()).push(&frame).unwrap_err();
    assert!(matches!(err, PushError::Connect { .. }), "{err}");
}

/// One listener and its gate over the same state: each frame goes through the socket on
/// one fixture and through the gate on another, and the replies must be the same.
#[test]
fn the_gate_replies_as_the_socket_does() {
    let signer = logwire_wire::generate_ed25519().unwrap();
    let other = logwire_wire::generate_ed25519().unwrap();
    let (sock_fx, gate_fx) = (Fixture::new(), Fixture::new());
    let (sock_state, gate_state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let options = |state: &std::path::Path| {
        ListenerOptions::new()
            .tcp(tcp0())
            .key(signer.verify_key())
            .state_dir(state)
            .audience("payments")
    };
    let h = sock_fx
        .listener(options(sock_state.path()))
        .start()
        .unwrap();
    let gate: ConfigGate = gate_fx.listener(options(gate_state.path())).gate().unwrap();
    let to = h.tcp_addr().unwrap().to_string();

    let now = logwire_wire::SystemEnvelopeClock.now_ms();
    let sign = |key: &SigningKey, o: SignOptions, config: &[u8]| {
        signed_push_frame(key, config, &o).unwrap()
    };
    use logwire_wire::EnvelopeClock;
    let cases: Vec<(&str, Vec<u8>, ConfigStatus)> = vec![
        (
            "good",
            sign(
                &signer,
                SignOptions::new().seq(10).audience("payments"),
                ERROR_ROOT,
            ),
            ConfigStatus::Applied,
        ),
        (
            "replay",
            sign(
                &signer,
                SignOptions::new().seq(10).audience("payments"),
                WARN_ROOT,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "older seq",
            sign(
                &signer,
                SignOptions::new().seq(9).audience("payments"),
                WARN_ROOT,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "other audience",
            sign(
                &signer,
                SignOptions::new().seq(11).audience("billing"),
                WARN_ROOT,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "no audience",
            sign(&signer, SignOptions::new().seq(12), WARN_ROOT),
            ConfigStatus::Applied,
        ),
        (
            "unknown key",
            sign(
                &other,
                SignOptions::new().seq(13).audience("payments"),
                WARN_ROOT,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "expired",
            sign(
                &signer,
                SignOptions::new()
                    .seq(14)
                    .audience("payments")
                    .issued_at_ms(now - 600_000)
                    .ttl(Duration::from_secs(60)),
                WARN_ROOT,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "unsigned",
            plain_push_frame(WARN_ROOT).unwrap(),
            ConfigStatus::Rejected,
        ),
        (
            "bad content",
            sign(
                &signer,
                SignOptions::new().seq(15).audience("payments"),
                br#"{"version": 1, "handlers": {"x": {"()": "os.system"}}}"#,
            ),
            ConfigStatus::Rejected,
        ),
        (
            "not utf-8",
            sign(
                &signer,
                SignOptions::new().seq(16).audience("payments"),
                b"{\xff}",
            ),
            ConfigStatus::Rejected,
        ),
        (
            "next",
            sign(
                &signer,
                SignOptions::new().seq(20).audience("payments"),
                WARN_ROOT,
            ),
            ConfigStatus::Applied,
        ),
    ];
    // A config addressed to no audience is for every listener.
    for (what, frame, status) in cases {
        let by_socket = client(&to).push(&frame).unwrap();
        let by_gate = gate.apply_frame(frame[4..].to_vec(), "test").reply;
        assert_eq!(by_socket.status, status, "{what}: {by_socket:?}");
        // The two read the clock a moment apart: an expiry's reason quotes it.
        let same_moment = |mut r: ConfigReply| {
            if let Some(at) = r.reason.find("(listener's clock is ") {
                r.reason.truncate(at);
            }
            r
        };
        assert_eq!(same_moment(by_gate), same_moment(by_socket), "{what}");
        assert_eq!(
            gate_fx.tree.root().effective_level(),
            sock_fx.tree.root().effective_level(),
            "{what}"
        );
    }
    assert_eq!(gate_fx.tree.root().effective_level(), 30);
    // Over the cap: refused before anything else, as on the socket.
    let big = vec![b' '; logwire_listener::DEFAULT_MAX_CONFIG_BYTES + 1];
    let reply = gate.apply_frame(big, "test").reply;
    assert_eq!(reply.status, ConfigStatus::Rejected);
    assert!(reply.reason.contains("larger than"), "{reply:?}");
    h.stop_and_join();
}

#[test]
fn a_gate_without_keys_needs_unsigned_allowed_explicitly() {
    let fx = Fixture::new();
    let err = fx.listener(ListenerOptions::new()).gate().unwrap_err();
    assert!(matches!(err, ListenerError::Unprotected { .. }), "{err}");
    let gate = fx
        .listener(ListenerOptions::new().allow_unsigned(true))
        .gate()
        .unwrap();
    let reply = gate.apply_frame(WARN_ROOT.to_vec(), "test").reply;
    assert_eq!(reply, ConfigReply::applied(0));
    assert_eq!(fx.tree.root().effective_level(), 30);
    // Keys without a state directory: the ratchet would not survive a restart.
    let signer = logwire_wire::generate_hmac().unwrap();
    let err = fx
        .listener(ListenerOptions::new().key(signer.verify_key()))
        .gate()
        .unwrap_err();
    assert!(matches!(err, ListenerError::NoStateDir), "{err}");
}
