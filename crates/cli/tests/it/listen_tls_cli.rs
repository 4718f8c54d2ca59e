//! `logwire serve --listen … --listen-tls-cert/--listen-tls-key/--listen-tls-client-ca` and
//! `logwire send-config --tls-ca/--tls-cert/--tls-key`, end to end: a signed push over
//! mutual TLS is applied (exit 0); without a client certificate, with plain TCP to the TLS
//! port, and with an untrusted client certificate, send-config exits 2 and says why.

use crate::common;

use common::{Serve, keygen, listen_args, logwire};
use logwire_test_support::tls::{PkiFiles, write_pki};
use std::path::Path;
use std::process::Output;

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn send(d: &Path, to: &str, seq: &str, tls: &[&std::ffi::OsString]) -> Output {
    logwire()
        .arg("send-config")
        .arg(d.join("c.json"))
        .args(["--to", to, "--seq", seq, "--timeout", "20", "--key"])
        .arg(d.join("ops.key"))
        .args(tls)
        .output()
        .unwrap()
}

#[test]
fn send_config_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki: PkiFiles = write_pki(d);
    keygen("ed25519", &d.join("ops"));
    std::fs::write(
        d.join("c.json"),
        r#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#,
    )
    .unwrap();
    let mut args = listen_args(d);
    for (flag, file) in [
        ("--listen-tls-cert", &pki.server_cert),
        ("--listen-tls-key", &pki.server_key),
        ("--listen-tls-client-ca", &pki.ca),
    ] {
        args.push(flag.to_owned());
        args.push(file.to_str().unwrap().to_owned());
    }
    let mut server = Serve::start(&args);
    let to = server.config_to();
    let announced = format!("config listener on tcp {to} (mutual TLS)");
    assert!(
        server.stderr_lines().contains(&announced),
        "not announced as TLS: {:?}",
        server.stderr_lines()
    );
    let os = |p: &Path| p.as_os_str().to_owned();
    let (ca, cert, key) = (os(&pki.ca), os(&pki.client_cert), os(&pki.client_key));
    let (rogue_cert, rogue_key) = (os(&pki.rogue_cert), os(&pki.rogue_key));
    let f = |s: &str| std::ffi::OsString::from(s);
    let (tls_ca, tls_cert, tls_key) = (f("--tls-ca"), f("--tls-cert"), f("--tls-key"));

    // No client certificate: refused in the handshake, and told what to give.
    let o = send(d, &to, "5", &[&tls_ca, &ca]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("requires a client certificate: give --tls-cert and --tls-key"),
        "{}",
        stderr_of(&o)
    );
    // Plain TCP to the TLS port.
    let o = send(d, &to, "5", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("speaks TLS"), "{}", stderr_of(&o));
    // A client certificate from another CA.
    let o = send(
        d,
        &to,
        "5",
        &[&tls_ca, &ca, &tls_cert, &rogue_cert, &tls_key, &rogue_key],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("does not trust this client certificate"),
        "{}",
        stderr_of(&o)
    );
    // The listener's name checked against --to's host (127.0.0.1 is in the certificate)
    // and a name it does not carry.
    let o = send(
        d,
        &to,
        "5",
        &[
            &tls_ca,
            &ca,
            &tls_cert,
            &cert,
            &tls_key,
            &key,
            &f("--tls-server-name"),
            &f("elsewhere.example"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("--tls-server-name"),
        "{}",
        stderr_of(&o)
    );

    // A CA bundle that did not sign the listener's certificate.
    let o = send(
        d,
        &to,
        "5",
        &[&tls_ca, &rogue_cert, &tls_cert, &cert, &tls_key, &key],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("is not signed by --tls-ca"),
        "{}",
        stderr_of(&o)
    );

    // With it: applied, exit 0. None of the refused attempts burned seq 5.
    let full = [&tls_ca, &ca, &tls_cert, &cert, &tls_key, &key];
    let o = send(d, &to, "5", &full);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "applied (seq 5)");
    // LWC1 still rules inside TLS: the replay is rejected (exit 1, reason printed).
    let o = send(d, &to, "5", &full);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("is not greater"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let (status, lines) = server.terminate();
    let rest = lines.join("\n");
    assert!(status.success(), "{rest}");
    assert!(
        rest.contains("applied seq 5 from key") && rest.contains("(TLS)"),
        "{rest}"
    );
    assert_eq!(
        rest.matches("TLS handshake failed").count(),
        5,
        "every refused handshake is logged: {rest}"
    );
}

#[test]
fn tls_flags_are_checked_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = write_pki(d);
    // A certificate without its key and client CA: clap refuses, exit 2.
    let o = logwire()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--listen-allow-unsigned",
        ])
        .arg("--listen-tls-cert")
        .arg(&pki.server_cert)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("--listen-tls-key"),
        "{}",
        stderr_of(&o)
    );
    // A key that does not match the certificate: refused at start, naming the files.
    let o = logwire()
        .args([
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--listen-allow-unsigned",
        ])
        .arg("--listen-tls-cert")
        .arg(&pki.server_cert)
        .arg("--listen-tls-key")
        .arg(&pki.client_key)
        .arg("--listen-tls-client-ca")
        .arg(&pki.ca)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("config listener: TLS:") && stderr_of(&o).contains("server.pem"),
        "{}",
        stderr_of(&o)
    );
}
