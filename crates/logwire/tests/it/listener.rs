//! The builder's listener: a signed push applies, an unsigned one is refused, and a later
//! change of the watched file takes over again.
#![cfg(feature = "listener")]

use logwire::{Builder, LoggerTree, level};
use logwire_wire::{
    ConfigReply, ConfigStatus, EnvelopeClock, SystemEnvelopeClock, sign_config_frame,
};
use std::io::{Read, Write};
use std::net::SocketAddr;

fn push(addr: SocketAddr, frame: &[u8]) -> ConfigReply {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(frame).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    ConfigReply::parse(&reply[4..]).unwrap()
}

#[test]
fn a_signed_push_applies_and_an_unsigned_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let public = dir.path().join("ops.pub");
    signer.verify_key().write_file(&public, false).unwrap();
    let path = dir.path().join("logging.json");
    std::fs::write(&path, r#"{"version": 1, "root": {"level": "INFO"}}"#).unwrap();

    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let tree = LoggerTree::new();
    let guard = Builder::from_file(&path)
        .tree(tree.clone())
        .listen("127.0.0.1:0")
        .verify_key(&public)
        .state_dir(dir.path().join("state"))
        .file_root(&logs)
        .init()
        .unwrap();
    let addr = guard.listener_addr().expect("a TCP listener");
    assert_eq!(tree.root().effective_level(), level::INFO);

    let config = br#"{"version": 1, "root": {"level": "ERROR"}}"#;
    let unsigned = [&(config.len() as u32).to_be_bytes()[..], config].concat();
    let reply = push(addr, &unsigned);
    assert_eq!(reply.status, ConfigStatus::Rejected, "{reply:?}");
    assert!(reply.reason.contains("unsigned"), "{reply:?}");
    assert_eq!(tree.root().effective_level(), level::INFO);

    let now = SystemEnvelopeClock.now_ms();
    let frame = sign_config_frame(&signer, 1, now, now + 300_000, None, config).unwrap();
    assert_eq!(push(addr, &frame), ConfigReply::applied(1));
    assert_eq!(tree.root().effective_level(), level::ERROR);

    // The file is the program's own: asking for it again puts it back.
    guard.reload().unwrap();
    assert_eq!(tree.root().effective_level(), level::INFO);
    drop(guard);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the guard stops the listener"
    );
}

#[test]
fn listener_mistakes_are_errors_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let public = dir.path().join("ops.pub");
    signer.verify_key().write_file(&public, false).unwrap();
    let path = dir.path().join("logging.json");
    std::fs::write(&path, r#"{"version": 1, "root": {"level": "INFO"}}"#).unwrap();
    let err = Builder::from_file(&path)
        .tree(LoggerTree::new())
        .listen("127.0.0.1:0")
        .verify_key(&public)
        .init()
        .unwrap_err();
    assert!(matches!(err, logwire::Error::Listener(_)), "{err}");

    let err = Builder::from_file(&path)
        .tree(LoggerTree::new())
        .listen("no-such-host.invalid:9030")
        .init()
        .unwrap_err();
    assert!(matches!(err, logwire::Error::Address { .. }), "{err}");

    // Listener settings alone must not open CPython's default port behind the program's back.
    let err = Builder::from_file(&path)
        .tree(LoggerTree::new())
        .verify_key(&public)
        .state_dir(dir.path().join("state"))
        .init()
        .unwrap_err();
    assert!(matches!(err, logwire::Error::Usage(_)), "{err}");
    assert!(err.to_string().contains("without listen"), "{err}");
}
