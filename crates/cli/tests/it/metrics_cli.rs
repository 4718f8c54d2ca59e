//! `serve --metrics`: a live collector scraped while real CPython `SocketHandler` senders
//! load it; every scrape passes `promtool check metrics` (Debian's prometheus package,
//! scripts/apt-packages.txt) and its record counters reconcile.

use crate::common;

use common::{Serve, WAIT, frame, logwire, send_tcp};
use logwire_test_support::python;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

/// Senders run at once, and records each sends.
const SENDERS: usize = 4;
const RECORDS_EACH: usize = 5_000;

/// `GET path` with optional extra header lines; returns (status line, headers+body text).
pub(crate) fn get(addr: SocketAddr, path: &str, headers: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: logwire\r\n{headers}\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs the exposition through `promtool check metrics`; panics with its complaints.
fn promtool_check(exposition: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus, see scripts/apt-packages.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Samples by `name{labels}` (labels as printed).
pub(crate) fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn sum_prefix(s: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

/// received minus the sum of the outcomes (0 when nothing is in flight).
fn unreconciled(s: &BTreeMap<String, f64>) -> f64 {
    s["logwire_records_received_total"]
        - s["logwire_records_stored_total"]
        - sum_prefix(s, "logwire_records_rejected_total{")
        - s["logwire_records_duplicates_total"]
        - s["logwire_records_dropped_total"]
        - s["logwire_records_pending"]
}

/// The same for one listener (`labels` as printed inside the braces, e.g.
/// `kind="tcp",address="127.0.0.1:9020"`).
fn unreconciled_listener(s: &BTreeMap<String, f64>, labels: &str) -> f64 {
    let one = |name: &str| {
        *s.get(&format!("{name}{{{labels}}}"))
            .unwrap_or_else(|| panic!("no {name}{{{labels}}} in {s:?}"))
    };
    one("logwire_listener_records_received_total")
        - one("logwire_listener_records_stored_total")
        - sum_prefix(
            s,
            &format!("logwire_listener_records_rejected_total{{{labels},reason="),
        )
        - one("logwire_listener_records_duplicates_total")
        - one("logwire_listener_records_dropped_total")
        - one("logwire_listener_records_pending")
}

pub(crate) fn metrics_addr(s: &Serve) -> SocketAddr {
    assert!(s.wait_stderr(|l| l.starts_with("metrics on http://")));
    let lines = s.stderr_lines();
    let line = lines
        .iter()
        .find(|l| l.starts_with("metrics on http://"))
        .unwrap();
    line.trim_start_matches("metrics on http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap()
}

#[test]
fn scraped_under_cpython_load_the_exposition_is_valid_and_reconciles() {
    let mut s = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        "--listen-allow-unsigned",
        "--quiet-rejects",
    ]);
    let metrics = metrics_addr(&s);
    let port = s.tcp().port();
    let tcp_labels = format!(r#"kind="tcp",address="{}""#, s.tcp());
    let udp_labels = format!(r#"kind="udp",address="{}""#, s.bound.udp[0]);

    let (status, body) = get(metrics, "/health", "");
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok\n");
    assert!(get(metrics, "/nope", "").0.contains("404"));

    // Hostile frames first: they must show under their reason.
    send_tcp(s.tcp(), &frame(b"\x80\x04not a pickle at all"));
    send_tcp(s.tcp(), &frame(b""));

    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('load.%s' % sys.argv[2]); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  for i in range(int(sys.argv[3])): l.warning('record %d', i)\n\
                  hd.close()\n";
    let mut senders: Vec<_> = (0..SENDERS)
        .map(|i| {
            python::script(
                script,
                [port.to_string(), i.to_string(), RECORDS_EACH.to_string()],
            )
            .spawn()
            .expect("python3 runs")
        })
        .collect();

    // Scrape while they send: every exposition is valid, and no outcome is counted before
    // its frame was received.
    let mut scrapes_under_load = 0;
    let mut max_seen = 0.0;
    while senders.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
        let (status, text) = get(metrics, "/metrics", "");
        assert!(status.contains("200"), "{status}");
        promtool_check(&text);
        let m = samples(&text);
        assert!(
            unreconciled(&m) >= 0.0,
            "outcomes ahead of received: {text}"
        );
        for l in [&tcp_labels, &udp_labels] {
            assert!(
                unreconciled_listener(&m, l) >= 0.0,
                "outcomes of {l} ahead of its received: {text}"
            );
        }
        max_seen = f64::max(max_seen, m["logwire_records_received_total"]);
        scrapes_under_load += 1;
    }
    for mut c in senders {
        assert!(c.wait().unwrap().success());
    }
    assert!(scrapes_under_load > 0, "no scrape ran during the load");
    eprintln!("{scrapes_under_load} scrapes under load, up to {max_seen} records received");

    // A rejected config push, counted by reason.
    let mut c = TcpStream::connect(s.bound.config_tcp[0]).unwrap();
    c.write_all(&frame(
        b"{\"version\": 1, \"handlers\": {\"h\": {\"()\": \"os.system\"}}}",
    ))
    .unwrap();
    let mut reply = Vec::new();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.read_to_end(&mut reply);

    // One record over UDP, for the per-listener counters.
    let udp_script = "import logging, logging.handlers as h, sys\n\
                      l = logging.getLogger('load.udp'); l.propagate = False\n\
                      hd = h.DatagramHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                      l.warning('over udp'); hd.close()\n";
    let udp_port = s.bound.udp[0].port().to_string();
    assert!(
        python::script(udp_script, [udp_port])
            .status()
            .unwrap()
            .success()
    );

    let expected = (SENDERS * RECORDS_EACH + 1) as f64;
    let mut last = String::new();
    let open = format!("logwire_listener_connections_open{{{tcp_labels}}}");
    let settled = common::wait_until(|| {
        last = get(metrics, "/metrics", "").1;
        let m = samples(&last);
        // Every sender has closed its socket, but the collector may read the last one's
        // end after its records were stored: settled includes that.
        m["logwire_records_stored_total"] == expected
            && unreconciled(&m) == 0.0
            && unreconciled_listener(&m, &tcp_labels) == 0.0
            && unreconciled_listener(&m, &udp_labels) == 0.0
            && m[&open] == 0.0
    });
    assert!(
        settled,
        "every record stored, counters reconciled and every connection closed: {last}"
    );
    promtool_check(&last);
    let m = samples(&last);
    assert_eq!(
        m["logwire_records_received_total"],
        expected + 2.0,
        "{last}"
    );
    assert_eq!(
        m[r#"logwire_records_rejected_total{reason="bad_pickle"}"#],
        1.0
    );
    assert_eq!(m[r#"logwire_records_rejected_total{reason="empty"}"#], 1.0);
    assert_eq!(m["logwire_records_pending"], 0.0);
    assert_eq!(m["logwire_queue_bytes"], 0.0, "nothing queued once stored");
    assert!(m["logwire_queue_bytes_limit"] > 0.0);
    assert!(m["logwire_connections_accepted_total"] >= (SENDERS + 2) as f64);
    assert!(
        m["logwire_received_bytes_total"] > expected * 100.0,
        "{last}"
    );
    assert_eq!(
        m[r#"logwire_output_records_total{output="stdout",kind="logwire.SafeStdout"}"#], expected,
        "{last}"
    );
    assert_eq!(
        m[r#"logwire_output_errors_total{output="stdout",kind="logwire.SafeStdout"}"#],
        0.0
    );
    // Bytes per output: every byte the printer wrote is in its file, and counted.
    assert_eq!(
        m[r#"logwire_output_bytes_total{output="stdout",kind="logwire.SafeStdout"}"#],
        s.stdout_bytes().len() as f64,
        "{last}"
    );
    assert_eq!(
        m[r#"logwire_config_pushes_rejected_total{reason="invalid_config"}"#], 1.0,
        "{last}"
    );
    assert_eq!(m["logwire_config_pushes_applied_total"], 0.0);
    // Per listener: the TCP one took every connection and byte, the UDP one nothing.
    let tcp = format!("{{{tcp_labels}}}");
    let udp = format!("{{{udp_labels}}}");
    assert_eq!(
        m[&format!("logwire_listener_connections_accepted_total{tcp}")],
        m["logwire_connections_accepted_total"],
        "{last}"
    );
    let udp_bytes = m[&format!("logwire_listener_received_bytes_total{udp}")];
    assert!(udp_bytes > 0.0, "{last}");
    assert_eq!(
        m[&format!("logwire_listener_received_bytes_total{tcp}")] + udp_bytes,
        m["logwire_received_bytes_total"]
    );
    assert_eq!(m[&format!("logwire_listener_datagrams_total{udp}")], 1.0);
    assert_eq!(m[&format!("logwire_listener_datagrams_total{tcp}")], 0.0);

    // Per listener outcomes: the TCP listener had the CPython load and the two hostile
    // frames, the UDP one its datagram; together they are the totals.
    let per = |name: &str, labels: &str| m[&format!("{name}{{{labels}}}")];
    assert_eq!(
        per("logwire_listener_records_received_total", &tcp_labels),
        (SENDERS * RECORDS_EACH + 2) as f64,
        "{last}"
    );
    assert_eq!(
        per("logwire_listener_records_stored_total", &tcp_labels),
        (SENDERS * RECORDS_EACH) as f64
    );
    assert_eq!(
        per(
            "logwire_listener_records_rejected_total",
            &format!(r#"{tcp_labels},reason="bad_pickle""#)
        ),
        1.0,
        "{last}"
    );
    assert_eq!(
        per(
            "logwire_listener_records_rejected_total",
            &format!(r#"{udp_labels},reason="bad_pickle""#)
        ),
        0.0
    );
    assert_eq!(
        per("logwire_listener_records_received_total", &udp_labels),
        1.0
    );
    assert_eq!(
        per("logwire_listener_records_stored_total", &udp_labels),
        1.0
    );
    for name in [
        "logwire_listener_records_received_total",
        "logwire_listener_records_stored_total",
        "logwire_listener_records_duplicates_total",
        "logwire_listener_records_dropped_total",
    ] {
        let total = name.replace("logwire_listener_", "logwire_");
        assert_eq!(
            per(name, &tcp_labels) + per(name, &udp_labels),
            m[&total],
            "{name}: {last}"
        );
    }
    assert_eq!(
        sum_prefix(&m, "logwire_listener_records_rejected_total{"),
        sum_prefix(&m, "logwire_records_rejected_total{")
    );

    // Prometheus' own scraper asks for OpenMetrics, and gets it (with its `# EOF`).
    let (_, om) = get(
        metrics,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0\r\n",
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE logwire_records_stored counter"), "{om}");

    let (status, stderr) = s.terminate();
    assert!(status.success(), "{stderr:?}");
}

#[test]
fn a_taken_metrics_port_is_one_clear_sentence() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = logwire()
        .args(["serve", "--tcp", "127.0.0.1:0", "--metrics", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot serve metrics on {addr}: ")),
        "{err}"
    );
    assert!(!err.contains("listening on"), "nothing bound before: {err}");
}

#[test]
fn config_pushes_through_a_nats_bucket_are_counted_without_a_socket_listener() {
    use crate::nats_config::{Fleet, kv_url};
    use logwire_test_support::nats::NatsServer;
    let nats = NatsServer::start();
    let fleet = Fleet::new();
    let url = kv_url(&nats, "metrics");
    let p = |s: &str| fleet.path(s).to_str().unwrap().to_owned();
    // Only the bucket: no --listen socket address.
    let s = Serve::start(&[
        "--tcp".to_owned(),
        "127.0.0.1:0".into(),
        "--metrics".into(),
        "127.0.0.1:0".into(),
        format!("--listen={url}"),
        "--listen-key".into(),
        p("ops.pub"),
        "--listen-state-dir".into(),
        p("state"),
        "--listen-file-root".into(),
        p("root"),
        "--listen-audience".into(),
        "payments".into(),
    ]);
    assert!(s.wait_stderr(|l| l.contains("watching nats://")));
    let metrics = metrics_addr(&s);

    let file = fleet.config("info.json", "INFO");
    let (code, out, err) = fleet.send(&file, &url, &["--audience", "payments", "--expect", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = fleet.send(&file, &url, &["--audience", "billing", "--expect", "1"]);
    assert_eq!(code, 1, "{out}{err}");

    let text = get(metrics, "/metrics", "").1;
    promtool_check(&text);
    let m = samples(&text);
    assert_eq!(m["logwire_config_pushes_applied_total"], 1.0, "{text}");
    assert_eq!(
        m[r#"logwire_config_pushes_rejected_total{reason="audience"}"#], 1.0,
        "{text}"
    );
    // No socket listener, so no connection counters of one.
    assert!(!text.contains("logwire_config_connections_total"), "{text}");
}

#[test]
fn a_push_that_replaces_the_outputs_drops_the_series_of_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    common::keygen("ed25519", &d.join("ops"));
    let mut args = common::push_listener_args(d, &root, &d.join("state"));
    args.extend(["--metrics".to_owned(), "127.0.0.1:0".to_owned()]);
    let s = Serve::start(&args);
    let metrics = metrics_addr(&s);
    let to = s.bound.config_tcp[0];
    let config = |handler: &str| {
        serde_json::json!({
            "version": 1,
            "handlers": {handler: {"class": "logging.FileHandler",
                "filename": root.join(format!("{handler}.log"))}},
            "root": {"level": "INFO", "handlers": [handler]}
        })
        .to_string()
    };
    let scrape = || samples(&get(metrics, "/metrics", "").1);
    let series = |name: &str, output: &str| {
        format!(r#"{name}{{output="{output}",kind="logging.FileHandler"}}"#)
    };

    let (code, out) = common::send_config(&config("first"), d, to, 1);
    assert_eq!(code, 0, "{out}");
    send_tcp(s.tcp(), &common::good("to first"));
    assert!(common::wait_until(|| {
        scrape()
            .get(&series("logwire_output_records_total", "first"))
            .is_some_and(|v| *v == 1.0)
    }));
    let m = scrape();
    let first_bytes = m[&series("logwire_output_bytes_total", "first")];
    assert_eq!(
        first_bytes,
        std::fs::metadata(root.join("first.log")).unwrap().len() as f64
    );
    assert!(!m.keys().any(|k| k.contains(r#"output="stdout""#)), "{m:?}");

    // The push builds a new routing: "first" is gone, so are its series.
    let (code, out) = common::send_config(&config("second"), d, to, 2);
    assert_eq!(code, 0, "{out}");
    let m = scrape();
    assert!(
        !m.keys().any(|k| k.contains(r#"output="first""#)),
        "series of a removed output are dropped: {m:?}"
    );
    assert_eq!(m[&series("logwire_output_records_total", "second")], 0.0);
    assert_eq!(m[&series("logwire_output_bytes_total", "second")], 0.0);
    assert_eq!(m[&series("logwire_output_errors_total", "second")], 0.0);
}
