//! `HTTPHandler` against a real HTTP server: Python's `http.server` with a handler that
//! records every request (method, path with query, headers in order, body), plain and over
//! TLS with a test CA, started by the tests on a loopback port.
//!
//! * differential: the same record through CPython's `HTTPHandler` and logwire's produces
//!   the same request line, headers and body (GET query / POST form, Basic credentials);
//! * the reply status is checked; hostile servers (never answers, a 1 MB header line, closes
//!   mid-reply) give a bounded, counted, reported failure;
//! * the destination policy of pushed configs, and `context` refused as code.

use crate::recording_peer::RecordingPeer;
use logwire_test_support::tls as common_tls;

use logwire_config::{ContentPolicy, Destination, SourceFormat};
use logwire_engine::{Args, Emitter, Formatter, Handler, LogRecord, LoggerTree, Value};
use logwire_handlers::configurator;
use logwire_handlers::{
    Credentials, HTTPHandler, HttpMethod, HttpOptions, RecordLayout, TlsClientConfig,
};
use logwire_test_support::python;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

const SERVER: &str = r#"
import json, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
opts = json.loads(sys.argv[1])

class Recorder(BaseHTTPRequestHandler):
    def record(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8") if n else ""
        print(json.dumps({"method": self.command, "path": self.path,
                          "headers": list(self.headers.items()), "body": body}), flush=True)
        status = int(self.path.split("/status/")[1][:3]) if "/status/" in self.path else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    do_GET = do_POST = record
    def log_message(self, *args):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
if "cert" in opts:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(opts["cert"], opts["key"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(json.dumps({"port": srv.server_address[1]}), flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
sys.stdin.read()  # until the test closes stdin
"#;

/// Starts the recording `http.server` (`opts`: `cert`/`key` for HTTPS); `None` when Python is
/// missing and that is allowed.
fn start_server(opts: serde_json::Value) -> Option<RecordingPeer> {
    let mut cmd = python::script(SERVER, [opts.to_string()]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let child = python::spawn(&mut cmd)?;
    Some(RecordingPeer::start(child, "http.server"))
}

const CREATED: f64 = 1_765_101_600.123_456;

const CPYTHON_SENDER: &str = r#"
import json, logging, logging.handlers, ssl, sys
spec = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=spec["ca"]) if spec["secure"] else None
creds = tuple(spec["credentials"]) if spec["credentials"] else None
h = logging.handlers.HTTPHandler(spec["host"], spec["url"], spec["method"], spec["secure"],
                                 creds, ctx)
def boom(record):
    raise SystemExit("CPython's HTTPHandler failed")
h.handleError = boom
lg = logging.getLogger("app.http")
for r in spec["records"]:
    rec = lg.makeRecord("app.http", r["level"], "/srv/app/api.py", 77, r["msg"],
                        tuple(r["args"]), None, "handle", r["extra"])
    rec.created = spec["created"]
    rec.msecs = 123.0
    rec.relativeCreated = 4567.25
    rec.thread = 140000000000001
    rec.threadName = "MainThread"
    rec.process = 4242
    rec.processName = "MainProcess"
    h.handle(rec)
print("%d.%d" % sys.version_info[:2])
"#;

/// The differential records: `(level, msg, args, extra)` as JSON.
fn records() -> serde_json::Value {
    serde_json::json!([
        {"level": 40, "msg": "disk %s is %d%% full", "args": ["/var", 93], "extra": null},
        {"level": 20, "msg": "odd chars & = ? / + é € ✓ \"q\" 'a' %s", "args": ["x y"],
         "extra": {"request_id": "r-1", "n": 7, "ratio": 0.5, "tags": ["a", "b"], "none": null}},
        {"level": 30, "msg": "multi\nline\ttab", "args": [], "extra": null},
    ])
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::None,
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap()), Value::Int),
        serde_json::Value::Array(items) => Value::List(items.iter().map(json_value).collect()),
        other => panic!("unexpected value {other}"),
    }
}

fn rust_record(r: &serde_json::Value) -> LogRecord {
    let mut rec = LogRecord::new(
        "app.http",
        r["level"].as_i64().unwrap() as i32,
        "/srv/app/api.py",
        77,
        r["msg"].as_str().unwrap(),
    );
    let args = r["args"].as_array().unwrap();
    if !args.is_empty() {
        rec.args = Args::Tuple(args.iter().map(json_value).collect());
    }
    rec.func_name = Some("handle".into());
    rec.created = CREATED;
    rec.msecs = 123.0;
    rec.relative_created = 4567.25;
    rec.thread = Some(140_000_000_000_001);
    rec.thread_name = Some("MainThread".into());
    rec.process = Some(4242);
    rec.process_name = Some("MainProcess".into());
    rec.task_name = None;
    if let Some(extra) = r["extra"].as_object() {
        for (k, v) in extra {
            rec.set_extra(k.clone(), json_value(v));
        }
    }
    rec
}

struct Case {
    url: &'static str,
    method: &'static str,
    secure: bool,
    credentials: Option<(&'static str, &'static str)>,
}

fn differential(case: Case) {
    let dir = tempfile::tempdir().unwrap();
    let pki = common_tls::write_pki(dir.path());
    let opts = if case.secure {
        serde_json::json!({"cert": pki.server_cert, "key": pki.server_key})
    } else {
        serde_json::json!({})
    };
    let Some(server) = start_server(opts) else {
        return;
    };
    // `localhost` so that the certificate's name matches over TLS.
    let host = format!("localhost:{}", server.port);
    let recs = records();
    let n = recs.as_array().unwrap().len();
    let spec = serde_json::json!({
        "host": host, "url": case.url, "method": case.method, "secure": case.secure,
        "credentials": case.credentials.map(|(u, p)| vec![u, p]), "ca": pki.ca,
        "records": recs, "created": CREATED,
    });
    let ran = python::run_required(
        &mut python::script(CPYTHON_SENDER, [spec.to_string()]),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "CPython sender: {}", ran.stderr);
    let version = ran.stdout.trim().to_owned();
    let (major, minor) = version.split_once('.').unwrap();
    let layout = RecordLayout::for_python(major.parse().unwrap(), minor.parse().unwrap());
    let want = server.recorded(n);

    let handler = Handler::new(
        HTTPHandler::new(
            host.clone(),
            case.url,
            HttpMethod::parse(case.method).unwrap(),
            HttpOptions {
                secure: case
                    .secure
                    .then(|| TlsClientConfig::with_ca_file(&pki.ca).unwrap()),
                credentials: case.credentials.map(|(u, p)| Credentials {
                    username: u.into(),
                    password: p.into(),
                }),
                layout,
                // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
                flush_timeout: Duration::from_secs(60),
                ..HttpOptions::default()
            },
        )
        .unwrap(),
    );
    for r in recs.as_array().unwrap() {
        handler.handle(&rust_record(r));
    }
    handler.flush();
    assert_eq!(handler.error_count(), 0, "logwire reported errors");
    let got = server.recorded(2 * n);
    for (i, (g, w)) in got[n..].iter().zip(&want).enumerate() {
        assert_eq!(g, w, "request {i}");
    }
    assert!(
        want[1][if case.method.eq_ignore_ascii_case("GET") {
            "path"
        } else {
            "body"
        }]
        .as_str()
        .unwrap()
        .contains("request_id=r-1"),
        "the record's __dict__ is in the request"
    );
    handler.close();
}

#[test]
fn get_request_equals_cpythons_httphandler() {
    differential(Case {
        url: "/log",
        method: "GET",
        secure: false,
        credentials: None,
    });
}

#[test]
fn get_with_a_query_in_the_url_appends_with_ampersand() {
    differential(Case {
        url: "/log?source=app",
        method: "get",
        secure: false,
        credentials: None,
    });
}

#[test]
fn post_with_basic_credentials_equals_cpython() {
    differential(Case {
        url: "/ingest",
        method: "POST",
        secure: false,
        credentials: Some(("ingest", "pa:ss é")),
    });
}

#[test]
fn https_post_with_a_test_ca_equals_cpython() {
    differential(Case {
        url: "/ingest",
        method: "POST",
        secure: true,
        credentials: Some(("ingest", "secret")),
    });
}

/// Over HTTPS, a server whose certificate does not chain to the trusted roots is refused.
#[test]
fn https_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common_tls::write_pki(dir.path());
    let Some(server) =
        start_server(serde_json::json!({"cert": pki.server_cert, "key": pki.server_key}))
    else {
        return;
    };
    let h = HTTPHandler::new(
        format!("localhost:{}", server.port),
        "/x",
        HttpMethod::Post,
        HttpOptions {
            secure: Some(TlsClientConfig::webpki_roots().unwrap()),
            // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
            flush_timeout: Duration::from_secs(60),
            ..HttpOptions::default()
        },
    )
    .unwrap();
    let fmt = Formatter::builder().build().unwrap();
    h.emit(&LogRecord::new("a", 40, "a.py", 1, "secret"), &fmt)
        .unwrap();
    let err = h.flush().unwrap_err().to_string();
    assert!(err.contains("1 records could not be delivered"), "{err}");
    let last = h.stats().last_error.unwrap();
    assert!(
        last.contains("TLS") && last.contains("certificate"),
        "{last}"
    );
    assert_eq!(
        server.lines.len(),
        1,
        "nothing reached the server's handler"
    );
}

/// A non-2xx answer is a counted, reported failure (CPython ignores the status).
#[test]
fn an_error_status_is_a_reported_failure() {
    let Some(server) = start_server(serde_json::json!({})) else {
        return;
    };
    let h = Handler::new(
        HTTPHandler::new(
            format!("127.0.0.1:{}", server.port),
            "/status/503",
            HttpMethod::Get,
            HttpOptions {
                flush_timeout: Duration::from_secs(60),
                ..HttpOptions::default()
            },
        )
        .unwrap(),
    );
    h.handle(&LogRecord::new("a", 40, "a.py", 1, "x"));
    h.flush();
    assert_eq!(h.error_count(), 1);
    assert_eq!(server.recorded(1).len(), 1);
}

#[derive(Clone, Copy)]
enum Hostile {
    NeverAnswers,
    HugeHeader,
    ClosesMidReply,
}

fn hostile(kind: Hostile, want: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        match kind {
            Hostile::NeverAnswers => while matches!(s.read(&mut buf), Ok(n) if n > 0) {},
            Hostile::HugeHeader => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Big: ");
                let _ = s.write_all(&vec![b'a'; 1024 * 1024]);
            }
            Hostile::ClosesMidReply => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Le");
            }
        }
    });
    let h = HTTPHandler::new(
        format!("127.0.0.1:{port}"),
        "/log",
        HttpMethod::Post,
        HttpOptions {
            timeout: Duration::from_millis(500),
            session_timeout: Duration::from_secs(3),
            // Generous: the machine may be loaded; deadlines, not this, bound each delivery.
            flush_timeout: Duration::from_secs(60),
            ..HttpOptions::default()
        },
    )
    .unwrap();
    let fmt = Formatter::builder().build().unwrap();
    h.emit(&LogRecord::new("a", 40, "a.py", 1, "x"), &fmt)
        .unwrap();
    let err = h.flush().unwrap_err().to_string();
    assert!(err.contains("could not be delivered"), "{err}");
    let stats = h.stats();
    assert_eq!(
        (stats.failed, stats.delivered, stats.queued_bytes),
        (1, 0, 0)
    );
    let last = stats.last_error.unwrap();
    assert!(last.contains(want), "{last}");
    h.close();
    drop(h);
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_times_out() {
    hostile(Hostile::NeverAnswers, "no response within the timeout");
}

#[test]
fn a_megabyte_header_line_is_refused() {
    hostile(Hostile::HugeHeader, "response head longer than 65536 bytes");
}

#[test]
fn a_server_closing_mid_reply_is_a_clear_error() {
    hostile(
        Hostile::ClosesMidReply,
        "connection closed before the response head ended",
    );
}

fn pushed_config(handler: &str) -> String {
    format!(r#"{{"version": 1, "handlers": {{"h": {handler}}}, "root": {{"handlers": ["h"]}}}}"#)
}

#[test]
fn pushed_configs_may_only_name_allowed_http_hosts() {
    let allowed = vec![Destination::parse("logs.internal:443").unwrap()];
    let pushed = || ContentPolicy::pushed(None, allowed.clone()).unwrap();
    let check = |handler: &str| {
        configurator(pushed()).apply_text(
            &LoggerTree::new(),
            &pushed_config(handler),
            SourceFormat::Json,
        )
    };
    let err = check(
        r#"{"class": "logging.handlers.HTTPHandler", "host": "logs.attacker.example", "url": "/x",
            "secure": true}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("handlers.h.host")
            && err.contains("destination logs.attacker.example:443 is not allowed"),
        "{err}"
    );
    // The scheme's default port is what is checked: plain HTTP to the allowed host is port 80.
    let err =
        check(r#"{"class": "logging.handlers.HTTPHandler", "host": "logs.internal", "url": "/x"}"#)
            .unwrap_err()
            .to_string();
    assert!(err.contains("logs.internal:80 is not allowed"), "{err}");
    check(
        r#"{"class": "logging.handlers.HTTPHandler", "host": "logs.internal", "url": "/x",
            "secure": true, "method": "POST", "credentials": ["u", "p"]}"#,
    )
    .unwrap();
    let err = check(
        r#"{"class": "logging.handlers.HTTPHandler", "host": "127.0.0.1:8080", "url": "/x",
            "context": "ext://ssl.create_default_context"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("handlers.h.context") && err.contains("is not allowed"),
        "{err}"
    );
    // Whatever value names it, `context` is refused for what it is.
    let err = check(
        r#"{"class": "logging.handlers.HTTPHandler", "host": "127.0.0.1:8080", "url": "/x",
            "secure": true, "context": "default"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("handlers.h.context") && err.contains("is code"),
        "{err}"
    );
    let err = check(
        r#"{"class": "logging.handlers.HTTPHandler", "host": "127.0.0.1:8080", "url": "/x",
            "method": "PUT"}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("method must be GET or POST"), "{err}");
}
