//! Mutual TLS on the config listener: a client with a certificate from the listener's client
//! CA is served; no certificate, a certificate from another CA, and plain TCP to the TLS port
//! are refused in the handshake and nothing is applied; inside TLS the `LWC1` checks still
//! apply (unsigned and badly signed configs are rejected).

use crate::common_listen;
use crate::common_tls;

use common_listen::*;
use common_tls::*;
use logwire_listener::{ListenerHandle, ListenerOptions, TlsClient, TlsServer};
use logwire_wire::{
    ConfigReply, ConfigStatus, EnvelopeClock, SigningKey, SystemEnvelopeClock, sign_config_frame,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const ERROR_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#;

/// Connects, runs the handshake, sends `bytes`, reads to the end; the reply, `Ok(None)` if
/// the listener closed without one, or the TLS/socket error as text.
fn push_tls(
    client: &TlsClient,
    addr: SocketAddr,
    bytes: &[u8],
) -> Result<Option<ConfigReply>, String> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut s = client
        .connect(tcp, "localhost")
        .map_err(|e| e.to_string())?;
    s.write_all(bytes).map_err(|e| e.to_string())?;
    s.flush().map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    s.read_to_end(&mut all).map_err(|e| e.to_string())?;
    if all.len() < 4 {
        return Ok(None);
    }
    let n = u32::from_be_bytes([all[0], all[1], all[2], all[3]]) as usize;
    Ok(Some(
        ConfigReply::parse(&all[4..4 + n]).expect("a JSON reply"),
    ))
}

fn signed(signer: &SigningKey, seq: u64, config: &[u8]) -> Vec<u8> {
    let now = SystemEnvelopeClock.now_ms();
    sign_config_frame(signer, seq, now, now + 300_000, None, config).unwrap()
}

struct Setup {
    fx: Fixture,
    h: ListenerHandle,
    events: Events,
    signer: SigningKey,
    pki: PkiFiles,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn setup() -> Setup {
    let certs = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let pki = write_pki(certs.path());
    let signer = logwire_wire::generate_ed25519().unwrap();
    let tls = TlsServer::from_pem_files(&pki.server_cert, &pki.server_key, &pki.ca).unwrap();
    let fx = Fixture::new();
    let events = Events::default();
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .key(signer.verify_key())
                .state_dir(state.path())
                .tls(tls),
        )
        .on_event(events.hook())
        .start()
        .unwrap();
    Setup {
        fx,
        h,
        events,
        signer,
        pki,
        _dirs: (certs, state),
    }
}

fn assert_nothing_applied(s: &Setup, probe: &str) {
    assert_eq!(
        s.fx.tree.root().effective_level(),
        10,
        "{probe}: root level unchanged"
    );
    s.fx.assert_orig_routing_alive(probe);
}

#[test]
fn a_client_with_a_trusted_certificate_is_served() {
    let s = setup();
    let addr = s.h.tcp_addr().unwrap();
    let client = s.pki.trusted_client();
    let reply = push_tls(&client, addr, &signed(&s.signer, 1, ERROR_ROOT)).unwrap();
    assert_eq!(reply, Some(ConfigReply::applied(1)));
    assert_eq!(s.fx.tree.root().effective_level(), 40);
    assert!(
        s.events
            .all()
            .iter()
            .any(|e| e.starts_with("applied seq 1") && e.contains("(TLS)")),
        "{:?}",
        s.events.all()
    );
    // Replaying the same frame over TLS is still a replay.
    let reply = push_tls(&client, addr, &signed(&s.signer, 1, ERROR_ROOT))
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, ConfigStatus::Rejected, "{reply:?}");
    assert_eq!(s.h.stats().tls_failed, 0);
    s.h.stop_and_join();
}

#[test]
fn lwc1_verification_still_applies_inside_tls() {
    let s = setup();
    let addr = s.h.tcp_addr().unwrap();
    let client = s.pki.trusted_client();
    // A trusted certificate does not make an unsigned config acceptable...
    let reply = push_tls(&client, addr, &frame(ERROR_ROOT))
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, ConfigStatus::Rejected);
    assert!(
        reply.reason.contains("unsigned config refused"),
        "{reply:?}"
    );
    assert_nothing_applied(&s, "unsigned over TLS");
    // ...nor one signed by a key the listener does not know.
    let stranger = logwire_wire::generate_ed25519().unwrap();
    let reply = push_tls(&client, addr, &signed(&stranger, 5, ERROR_ROOT))
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, ConfigStatus::Rejected);
    assert!(reply.reason.contains("unknown key"), "{reply:?}");
    assert_nothing_applied(&s, "unknown key over TLS");
    // ...nor a config the content policy refuses.
    let code =
        br#"{"version": 1, "handlers": {"h": {"()": "os.system"}}, "root": {"handlers": ["h"]}}"#;
    let reply = push_tls(&client, addr, &signed(&s.signer, 6, code))
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, ConfigStatus::Rejected, "{reply:?}");
    assert_nothing_applied(&s, "code over TLS");
    assert_eq!(s.h.stats().rejected, 3);
    s.h.stop_and_join();
}

/// A refused handshake: the client sees a TLS error (with TLS 1.3, on its first read, as the
/// listener checks the certificate after the client's side has finished), never a reply.
fn assert_refused(result: Result<Option<ConfigReply>, String>, alert: &str, probe: &str) {
    match result {
        Err(e) => assert!(e.contains(alert), "{probe}: error {e:?} lacks {alert:?}"),
        Ok(r) => panic!("{probe}: the listener answered {r:?}"),
    }
}

#[test]
fn clients_without_a_trusted_certificate_are_refused_in_the_handshake() {
    let s = setup();
    let addr = s.h.tcp_addr().unwrap();
    let frame = signed(&s.signer, 1, ERROR_ROOT);

    let anonymous = TlsClient::from_pem_files(&s.pki.ca, None).unwrap();
    assert_refused(
        push_tls(&anonymous, addr, &frame),
        "CertificateRequired",
        "no cert",
    );
    wait_until("first handshake failure counted", || {
        s.h.stats().tls_failed == 1
    });
    assert_nothing_applied(&s, "no client certificate");

    let rogue = TlsClient::from_pem_files(
        &s.pki.ca,
        Some((s.pki.rogue_cert.as_path(), s.pki.rogue_key.as_path())),
    )
    .unwrap();
    assert_refused(push_tls(&rogue, addr, &frame), "UnknownCA", "other CA");
    wait_until("second handshake failure counted", || {
        s.h.stats().tls_failed == 2
    });
    assert_nothing_applied(&s, "certificate from another CA");

    // Plain TCP to the TLS port: the length prefix is not a TLS record. No config reply
    // comes back (at most a TLS alert), and nothing is applied.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = tcp.write_all(&frame);
    let mut back = Vec::new();
    let _ = tcp.read_to_end(&mut back);
    assert!(
        back.is_empty() || back[0] == 0x15,
        "plain TCP got something other than a TLS alert: {back:?}"
    );
    wait_until("third handshake failure counted", || {
        s.h.stats().tls_failed == 3
    });
    assert_nothing_applied(&s, "plain TCP");

    let st = s.h.stats();
    assert_eq!((st.applied, st.rejected), (0, 0), "{st}");
    let dropped = s.events.all();
    assert_eq!(
        dropped
            .iter()
            .filter(|e| e.contains("TLS handshake failed"))
            .count(),
        3,
        "{dropped:?}"
    );
    // The ratchet was never touched: the same frame from a trusted client is applied.
    let client = s.pki.trusted_client();
    assert_eq!(
        push_tls(&client, addr, &frame).unwrap(),
        Some(ConfigReply::applied(1))
    );
    s.h.stop_and_join();
}

#[test]
fn bad_tls_material_fails_when_loaded() {
    let s = setup();
    let p = &s.pki;
    // A key that does not belong to the certificate.
    let e = TlsServer::from_pem_files(&p.server_cert, &p.client_key, &p.ca).unwrap_err();
    assert!(e.to_string().contains("server.pem with"), "{e}");
    // A key file given as the CA bundle.
    let e = TlsServer::from_pem_files(&p.server_cert, &p.server_key, &p.server_key).unwrap_err();
    assert!(e.to_string().contains("no CERTIFICATE block"), "{e}");
    // A certificate given as the key.
    let e = TlsServer::from_pem_files(&p.server_cert, &p.server_cert, &p.ca).unwrap_err();
    assert!(e.to_string().contains("no usable private key"), "{e}");
    // Garbage and a missing file.
    let e = TlsServer::from_pem(b"\x00\xff garbage", b"", b"").unwrap_err();
    assert!(e.to_string().contains("certificate chain"), "{e}");
    let e = TlsClient::from_pem_files(p.ca.with_extension("missing"), None).unwrap_err();
    assert!(e.to_string().contains("ca.missing"), "{e}");
    s.h.stop_and_join();
}
