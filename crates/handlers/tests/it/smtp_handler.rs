//! `SMTPHandler` against a real SMTP server: aiosmtpd from PyPI, installed into a venv this
//! test creates (once per target dir), started by the tests on a loopback port.
//!
//! * differential: the same records through CPython's `SMTPHandler` and logwire's reach the
//!   server as the same envelope (MAIL FROM and its options, RCPT TO) and the same message
//!   bytes (only the `Date` header, which depends on the time, normalised);
//! * STARTTLS with a test CA and AUTH, required by the server;
//! * hostile servers (never answers, a 1 MB reply line, closes mid-reply): a bounded,
//!   counted, reported failure, no hang;
//! * the destination policy of pushed configs.

use crate::recording_peer::RecordingPeer;
use logwire_test_support::tls as common_tls;

use logwire_config::{ContentPolicy, Destination, SourceFormat};
use logwire_engine::{Args, Formatter, Handler, LogRecord, LoggerTree, Value};
use logwire_handlers::configurator;
use logwire_handlers::{Credentials, SMTPHandler, SmtpOptions, TlsClientConfig};
use logwire_test_support::python;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The venv's python, with aiosmtpd from PyPI (created on first use).
fn venv_python() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aiosmtpd-venv");
    python::venv_with(&dir, "aiosmtpd>=1.4,<2")
}

/// An aiosmtpd server that prints one JSON line per accepted mail.
const SERVER: &str = r#"
import asyncio, json, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
opts = json.loads(sys.argv[1])

class Recorder:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "backslashreplace"),
            "tls": session.ssl is not None,
            "auth": session.auth_data if session.authenticated else None,
        }), flush=True)
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == opts["user"]
          and auth_data.password.decode() == opts["password"])
    return AuthResult(success=ok, handled=False,
                      auth_data=f"{mechanism}:{auth_data.login.decode()}" if ok else None)

kw = {}
if "cert" in opts:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(opts["cert"], opts["key"])
    kw.update(tls_context=ctx, require_starttls=True)
if "user" in opts:
    kw.update(authenticator=authenticator, auth_required=True,
              auth_require_tls="cert" in opts)

async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(Recorder(), hostname="mx.test", **kw),
                                   "127.0.0.1", 0)
    print(json.dumps({"port": srv.sockets[0].getsockname()[1]}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes stdin

asyncio.run(main())
"#;

/// Starts the recording aiosmtpd server with the venv's `py` (`opts`: TLS and AUTH settings).
fn start_server(py: &PathBuf, opts: serde_json::Value) -> RecordingPeer {
    let child = Command::new(py)
        .arg("-c")
        .arg(SERVER)
        .arg(opts.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    RecordingPeer::start(child, "aiosmtpd")
}

const FORMAT: &str = "%(levelname)s %(name)s: %(message)s";
const LONG_SUBJECT: &str = "Application error report from the payments service in the eu-west \
                            region, please look at it";

const LONG_ASCII: &str = "Traceback line that is rather long = it has equals signs and goes on \
    and on past the limit of seventy-eight characters, with a tab\tand trailing spaces   \n\
    short\n";
const LONG_UNICODE: &str = "ünïcödé everywhere: ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓ €€€€€€€€€";
const MANY_LINES: &str = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12 this one is long: \
    xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=é\n13";

/// (level, msg, args) of the differential records: plain, %-args, leading dots (stuffing),
/// multi-line, non-ASCII (8bit), an empty message, long lines (quoted-printable, base64).
fn records() -> Vec<(i32, &'static str, Vec<Value>)> {
    vec![
        (40, "disk %s is full", vec![Value::from("/var")]),
        (50, ".hidden line\n..two dots\nmiddle\n.\nend", vec![]),
        (30, "unicode üñï € ✓ %d", vec![Value::Int(3)]),
        (20, "", vec![]),
        // Lines over 78 bytes: CPython picks quoted-printable or base64 by a sniff.
        (40, LONG_ASCII, vec![]),
        (40, LONG_UNICODE, vec![]),
        (40, MANY_LINES, vec![]),
    ]
}

fn record(level: i32, msg: &str, args: &[Value]) -> LogRecord {
    let mut r = LogRecord::new("app.mail", level, "/srv/app/jobs.py", 12, msg);
    if !args.is_empty() {
        r.args = Args::Tuple(args.to_vec());
    }
    r
}

const CPYTHON_SENDER: &str = r#"
import json, logging, logging.handlers, sys
spec = json.loads(sys.argv[1])
h = logging.handlers.SMTPHandler(("127.0.0.1", spec["port"]), spec["from"], spec["to"],
                                 spec["subject"], timeout=10.0)
h.setFormatter(logging.Formatter(spec["format"]))
def boom(record):
    raise SystemExit("CPython's SMTPHandler failed")
h.handleError = boom
lg = logging.getLogger("app.mail")
for level, msg, args in spec["records"]:
    rec = lg.makeRecord("app.mail", level, "/srv/app/jobs.py", 12, msg, tuple(args), None)
    h.handle(rec)
"#;

fn normalise_date(data: &str) -> String {
    let mut out = String::new();
    for line in data.split_inclusive('\n') {
        if line.starts_with("Date: ") {
            out.push_str("Date: <normalised>\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

fn differential(subject: &str, to: &[&str]) {
    let Some(py) = venv_python() else { return };
    let server = start_server(&py, serde_json::json!({}));
    let recs = records();
    let spec = serde_json::json!({
        "port": server.port, "from": "Logwire <app@example.org>", "to": to,
        "subject": subject, "format": FORMAT,
        "records": recs.iter().map(|(l, m, a)| serde_json::json!([l, m,
            a.iter().map(|v| match v { Value::Int(i) => serde_json::json!(i),
                other => serde_json::json!(other.py_str()) }).collect::<Vec<_>>()])).collect::<Vec<_>>(),
    });
    let ran = python::run_required(
        &mut python::script(CPYTHON_SENDER, [spec.to_string()]),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "CPython sender: {}", ran.stderr);
    let want = server.recorded(recs.len());
    assert_eq!(want.len(), recs.len(), "CPython's mails");

    let handler = Handler::new(
        SMTPHandler::new(
            "127.0.0.1",
            Some(server.port),
            "Logwire <app@example.org>",
            to.iter().map(|s| s.to_string()).collect(),
            subject,
            SmtpOptions {
                flush_timeout: Duration::from_secs(60),
                ..SmtpOptions::default()
            },
        )
        .unwrap(),
    )
    .with_formatter(Arc::new(
        Formatter::builder().format(FORMAT).build().unwrap(),
    ));
    for (l, m, a) in &recs {
        handler.handle(&record(*l, m, a));
    }
    handler.flush();
    assert_eq!(handler.error_count(), 0, "logwire reported errors");
    let got = server.recorded(2 * recs.len());
    let got = &got[recs.len()..];
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        for key in ["mail_from", "mail_options", "rcpt_tos"] {
            assert_eq!(g[key], w[key], "record {i}: {key}");
        }
        let (gd, wd) = (
            normalise_date(g["data"].as_str().unwrap()),
            normalise_date(w["data"].as_str().unwrap()),
        );
        assert_eq!(gd, wd, "record {i}: message bytes");
    }
    handler.close();
}

#[test]
fn messages_equal_cpythons_smtphandler() {
    differential("Error in app", &["ops@example.org"]);
}

#[test]
fn long_subject_and_several_recipients_equal_cpython() {
    differential(
        LONG_SUBJECT,
        &["ops@example.org", "Oncall <oncall@example.org>"],
    );
}

#[test]
fn starttls_with_a_test_ca_and_auth() {
    let Some(py) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = common_tls::write_pki(dir.path());
    let server = start_server(
        &py,
        serde_json::json!({"cert": pki.server_cert, "key": pki.server_key,
                           "user": "alerts", "password": "s3cret"}),
    );
    let mk = |secure: Option<TlsClientConfig>, password: &str| {
        Handler::new(
            SMTPHandler::new(
                "localhost",
                Some(server.port),
                "app@example.org",
                vec!["ops@example.org".into()],
                "over TLS",
                SmtpOptions {
                    secure,
                    credentials: Some(Credentials {
                        username: "alerts".into(),
                        password: password.into(),
                    }),
                    // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
                    flush_timeout: Duration::from_secs(60),
                    ..SmtpOptions::default()
                },
            )
            .unwrap(),
        )
    };
    let trusted = TlsClientConfig::with_ca_file(&pki.ca).unwrap();
    let h = mk(Some(trusted.clone()), "s3cret");
    h.handle(&record(40, "sent over STARTTLS", &[]));
    h.flush();
    assert_eq!(h.error_count(), 0);
    let mails = server.recorded(1);
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["auth"], "PLAIN:alerts");
    assert!(
        mails[0]["data"]
            .as_str()
            .unwrap()
            .contains("sent over STARTTLS")
    );

    // The server's certificate does not chain to Mozilla's roots: refused, counted, reported.
    let untrusted = webpki_only(server.port);
    let h2 = Handler::new(untrusted);
    h2.handle(&record(40, "must not be sent", &[]));
    h2.flush();
    assert_eq!(h2.error_count(), 1, "the flush reports the failed delivery");
    // A wrong password: refused by the server, counted.
    let h3 = mk(Some(trusted), "wrong");
    h3.handle(&record(40, "bad password", &[]));
    h3.flush();
    assert_eq!(h3.error_count(), 1);
    // Without secure the server (require_starttls) refuses AUTH in plain text.
    let h4 = mk(None, "s3cret");
    h4.handle(&record(40, "plain text", &[]));
    h4.flush();
    assert_eq!(h4.error_count(), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.recorded(1).len(),
        1,
        "only the trusted, authenticated mail arrived"
    );
}

/// An SMTPHandler for `localhost:port` that trusts only Mozilla's roots (not the test CA),
/// with STARTTLS.
fn webpki_only(port: u16) -> SMTPHandler {
    SMTPHandler::new(
        "localhost",
        Some(port),
        "app@example.org",
        vec!["ops@example.org".into()],
        "x",
        SmtpOptions {
            secure: Some(TlsClientConfig::webpki_roots().unwrap()),
            // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
            flush_timeout: Duration::from_secs(60),
            ..SmtpOptions::default()
        },
    )
    .unwrap()
}

/// A TLS setup error names its cause: the stats keep the last error text.
#[test]
fn untrusted_certificate_error_is_clear() {
    let Some(py) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = common_tls::write_pki(dir.path());
    let server = start_server(
        &py,
        serde_json::json!({"cert": pki.server_cert, "key": pki.server_key}),
    );
    let h = webpki_only(server.port);
    let fmt = Formatter::builder().build().unwrap();
    logwire_engine::Emitter::emit(&h, &record(40, "x", &[]), &fmt).unwrap();
    let err = logwire_engine::Emitter::flush(&h).unwrap_err().to_string();
    assert!(err.contains("1 records could not be delivered"), "{err}");
    let stats = h.stats();
    assert_eq!((stats.failed, stats.delivered), (1, 0));
    let last = stats.last_error.unwrap();
    assert!(
        last.contains("STARTTLS") && last.contains("certificate"),
        "{last}"
    );
}

/// What a hostile server does right after accepting.
#[derive(Clone, Copy)]
enum Hostile {
    NeverAnswers,
    HugeLine,
    ClosesMidReply,
}

fn hostile_server(kind: Hostile) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        match kind {
            Hostile::NeverAnswers => {
                // Hold the connection open, silent, until the client gives up.
                let mut buf = [0u8; 64];
                let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
            Hostile::HugeLine => {
                let line = vec![b'2'; 1024 * 1024];
                let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
                let _ = s.write_all(&line);
            }
            Hostile::ClosesMidReply => {
                let _ = s.write_all(b"220-mx.test ESMTP\r\n220-still greeting\r\n220");
            }
        }
    });
    (port, t)
}

fn hostile(kind: Hostile, want: &str) {
    let (port, server) = hostile_server(kind);
    let h = SMTPHandler::new(
        "127.0.0.1",
        Some(port),
        "app@example.org",
        vec!["ops@example.org".into()],
        "x",
        SmtpOptions {
            timeout: Duration::from_millis(500),
            session_timeout: Duration::from_secs(3),
            // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
            flush_timeout: Duration::from_secs(60),
            ..SmtpOptions::default()
        },
    )
    .unwrap();
    let fmt = Formatter::builder().build().unwrap();
    logwire_engine::Emitter::emit(&h, &record(40, "x", &[]), &fmt).unwrap();
    let err = logwire_engine::Emitter::flush(&h).unwrap_err().to_string();
    assert!(err.contains("could not be delivered"), "{err}");
    let stats = h.stats();
    assert_eq!(
        (stats.failed, stats.delivered, stats.queued_bytes),
        (1, 0, 0)
    );
    let last = stats.last_error.unwrap();
    assert!(last.contains(want), "{last}");
    logwire_engine::Emitter::close(&h);
    drop(h);
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_times_out() {
    hostile(Hostile::NeverAnswers, "no reply within the timeout");
}

#[test]
fn a_megabyte_reply_line_is_refused_unread() {
    hostile(Hostile::HugeLine, "reply line longer than 1024 bytes");
}

#[test]
fn a_server_closing_mid_reply_is_a_clear_error() {
    hostile(
        Hostile::ClosesMidReply,
        "connection closed in the middle of a reply",
    );
}

/// A full queue refuses the record at once (the logging call never waits on the network),
/// the handler's error path reports it, and `close()` gives up what it cannot deliver within
/// its bound, counted.
#[test]
fn a_full_queue_refuses_records_loudly_and_close_is_bounded() {
    let (port, server) = hostile_server(Hostile::NeverAnswers);
    // Each mail is ~550 bytes: about 7 fit, the rest of 10 are refused; a delivery cannot
    // finish before its 2 s reply timeout, so close() (100 ms) must give the queued ones up.
    let options = SmtpOptions {
        timeout: Duration::from_secs(2),
        session_timeout: Duration::from_secs(3),
        queue_bytes: 4096,
        close_timeout: Duration::from_millis(100),
        // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
        flush_timeout: Duration::from_secs(60),
        ..SmtpOptions::default()
    };
    let mk = || {
        SMTPHandler::new(
            "127.0.0.1",
            Some(port),
            "app@example.org",
            vec!["ops@example.org".into()],
            "x",
            options.clone(),
        )
        .unwrap()
    };
    let big = "y".repeat(300);
    let h = Handler::new(mk());
    for _ in 0..10 {
        h.handle(&record(40, &big, &[]));
    }
    assert!(h.error_count() >= 1, "refused records are reported");

    let direct = mk();
    let fmt = Formatter::builder().build().unwrap();
    let results: Vec<_> = (0..10)
        .map(|_| logwire_engine::Emitter::emit(&direct, &record(40, &big, &[]), &fmt))
        .collect();
    let refused = results.iter().filter(|r| r.is_err()).count() as u64;
    assert!(refused > 0);
    let err = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .unwrap()
        .to_string();
    assert!(err.contains("send queue full"), "{err}");
    logwire_engine::Emitter::close(&direct);
    let stats = direct.stats();
    assert_eq!(stats.refused_full, refused);
    assert!(stats.abandoned > 0, "{stats:?}");
    assert_eq!(stats.delivered, 0);
    h.close();
    drop((h, direct));
    server.join().unwrap();
}

fn pushed_config(handler: &str) -> String {
    format!(r#"{{"version": 1, "handlers": {{"h": {handler}}}, "root": {{"handlers": ["h"]}}}}"#)
}

#[test]
fn pushed_configs_may_only_name_allowed_mail_hosts() {
    let allowed = vec![Destination::parse("mail.internal:587").unwrap()];
    let pushed = || ContentPolicy::pushed(None, allowed.clone()).unwrap();
    let refused = pushed_config(
        r#"{"class": "logging.handlers.SMTPHandler", "mailhost": ["smtp.attacker.example", 25],
            "fromaddr": "a@b", "toaddrs": "c@d", "subject": "s"}"#,
    );
    let err = configurator(pushed())
        .apply_text(&LoggerTree::new(), &refused, SourceFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("handlers.h.mailhost")
            && err.contains("destination smtp.attacker.example:25 is not allowed"),
        "{err}"
    );
    // A bare host means port 25, checked as such.
    let bare = pushed_config(
        r#"{"class": "logging.handlers.SMTPHandler", "mailhost": "mail.internal",
            "fromaddr": "a@b", "toaddrs": ["c@d"], "subject": "s"}"#,
    );
    let err = configurator(pushed())
        .check_text(&bare, SourceFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(err.contains("mail.internal:25 is not allowed"), "{err}");
    let ok = pushed_config(
        r#"{"class": "logging.handlers.SMTPHandler", "mailhost": ["mail.internal", 587],
            "fromaddr": "a@b", "toaddrs": ["c@d"], "subject": "s", "secure": [],
            "credentials": ["u", "p"], "timeout": 2.5}"#,
    );
    configurator(pushed())
        .check_text(&ok, SourceFormat::Json)
        .unwrap();
    // Client certificates are refused with the reason.
    let certs = pushed_config(
        r#"{"class": "logging.handlers.SMTPHandler", "mailhost": ["mail.internal", 587],
            "fromaddr": "a@b", "toaddrs": ["c@d"], "subject": "s", "secure": ["k.pem", "c.pem"]}"#,
    );
    let err = configurator(pushed())
        .check_text(&certs, SourceFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(err.contains("client certificates"), "{err}");
    // `cafile` is a file: a pushed config without a file root may not name one.
    let cafile = pushed_config(
        r#"{"class": "logging.handlers.SMTPHandler", "mailhost": ["mail.internal", 587],
            "fromaddr": "a@b", "toaddrs": ["c@d"], "subject": "s", "secure": [],
            "cafile": "/etc/ssl/private-ca.pem"}"#,
    );
    let err = configurator(pushed())
        .check_text(&cafile, SourceFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(err.contains("handlers.h.cafile"), "{err}");
}

/// fileConfig's positional `args` bind in CPython's order.
#[test]
fn file_config_args_bind_positionally() {
    let ini = "[loggers]\nkeys=root\n[handlers]\nkeys=mail\n[formatters]\nkeys=\n\
               [logger_root]\nlevel=ERROR\nhandlers=mail\n\
               [handler_mail]\nclass=handlers.SMTPHandler\nlevel=ERROR\n\
               args=(('127.0.0.1', 2525), 'app@example.org', ['ops@example.org'], 'Error', ('u', 'p'), (), 3.0)\n";
    configurator(ContentPolicy::trusted())
        .check_text(ini, SourceFormat::Ini)
        .unwrap();
}

#[test]
fn non_ascii_subjects_equal_cpython() {
    differential("Fehler: ünd € im Dienst!", &["ops@example.org"]);
    differential(
        "éééééééééééééééééééé test of a longer subject line that will need folding ok",
        &["ops@example.org"],
    );
}
