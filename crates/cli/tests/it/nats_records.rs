//! Records through NATS JetStream with the built binary and a real nats-server: collectors
//! publishing with `logwire.NATSHandler` (from `serve --config`), and `serve --nats-source`
//! storing the stream into a file.
//!
//! The crash test (issue 18): CPython senders with the lossless helper
//! (`logwire_helper.SignedSocketHandler`, acks and resends) through **two** collectors into
//! one stream, and out through a consumer into a file, while a collector, the consumer and
//! nats-server are each killed with SIGKILL and restarted: every record is stored exactly
//! once. 20 000 records here; `LOGWIRE_NATS_CRASH_RECORDS=100000 cargo test -p logwire-cli
//! --test nats_records -- --ignored` runs the issue's 100 000 (see crates/nats/README.md).

use crate::common;

use common::{Serve, file_config, keygen};
use logwire_test_support::nats::NatsServer;
use logwire_test_support::python as py;
use logwire_test_support::wait::{poll_until, wait_until};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const HELPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python");

/// A collector config publishing every record to `stream` on `url`.
fn nats_config(url: &str, stream: &str) -> String {
    serde_json::json!({
        "version": 1,
        "handlers": {"nats": {"class": "logwire.NATSHandler", "servers": url,
                              "subject": "logs.{name}", "stream": stream}},
        "root": {"level": "DEBUG", "handlers": ["nats"]}
    })
    .to_string()
}

/// A nats-server and the files a fleet test needs: a signing key, a collector config
/// publishing to one stream, and a consumer config writing `%(message)s` lines to `out`.
struct Fleet {
    nats: NatsServer,
    dir: tempfile::TempDir,
    key: PathBuf,
    pub_cfg: PathBuf,
    out: PathBuf,
    store_cfg: PathBuf,
}

impl Fleet {
    fn new(stream: &str) -> Fleet {
        let nats = NatsServer::start();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let key = d.join("records.key");
        keygen("hmac", &key);
        let pub_cfg = d.join("pub.json");
        std::fs::write(&pub_cfg, nats_config(&nats.url(), stream)).unwrap();
        let out = d.join("stored.log");
        let store_cfg = d.join("store.json");
        std::fs::write(&store_cfg, file_config(&out, "%(message)s")).unwrap();
        Fleet {
            nats,
            key,
            pub_cfg,
            out,
            store_cfg,
            dir,
        }
    }
}

/// How many different lines `lines` holds.
fn distinct(lines: &[String]) -> usize {
    let mut v: Vec<&String> = lines.iter().collect();
    v.sort();
    v.dedup();
    v.len()
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts a consumer: `serve --nats-source` writing `%(name)s %(message)s` lines to `out`.
fn consumer(url: &str, stream: &str, state: &Path, config: &Path) -> Serve {
    Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--nats-source",
        url,
        "--nats-stream",
        stream,
        "--nats-durable",
        "store",
        "--record-state-dir",
        state.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ])
}

/// Plain CPython SocketHandler → collector → JetStream → `serve --nats-source` → file; the
/// consumer's SIGTERM stops it cleanly and its counters reconcile.
#[test]
fn nats_source_stores_a_cpython_stream_into_a_file() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let pub_cfg = dir.path().join("pub.json");
    std::fs::write(&pub_cfg, nats_config(&nats.url(), "LOGS")).unwrap();
    let out = dir.path().join("stored.log");
    let store_cfg = dir.path().join("store.json");
    std::fs::write(
        &store_cfg,
        file_config(&out, "%(name)s %(levelname)s %(message)s"),
    )
    .unwrap();
    let collector = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--config",
        pub_cfg.to_str().unwrap(),
    ]);
    let mut store = consumer(&nats.url(), "LOGS", &dir.path().join("state"), &store_cfg);
    let port = collector.tcp().port().to_string();
    let Some(_) = py::output(&mut py::script(
        r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler("127.0.0.1", int(sys.argv[1]))
log = logging.getLogger("app.web")
log.addHandler(h)
log.setLevel(logging.DEBUG)
for i in range(500):
    log.info("request %d done", i, extra={"request_id": i})
log.error("multi\nline")
h.close()
"#,
        [port],
    )) else {
        return;
    };
    wait_until(LIMIT, "the consumer to store 501 records", || {
        lines_of(&out).len() >= 502
    });
    let (status, stderr) = store.terminate();
    assert!(status.success(), "{stderr:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    for i in 0..500 {
        assert!(
            text.contains(&format!("app.web INFO request {i} done\n")),
            "record {i} missing"
        );
    }
    assert!(text.ends_with("app.web ERROR multi\nline\n"), "{text}");
    assert_eq!(text.matches("request ").count(), 500, "each once");
    let stopped = stderr
        .iter()
        .find(|l| l.starts_with("logwire nats source: stopped:"))
        .unwrap_or_else(|| panic!("{stderr:?}"));
    assert!(stopped.contains("stored=501"), "{stopped}");
    assert!(stopped.contains("rejected=0"), "{stopped}");
    drop(collector);
}

/// One CPython sender process: `n` records `"<tag>-<i>"` through the lossless helper to
/// `port`, with fast reconnects, pausing 10 ms every `pace` records; it prints the helper's
/// report when all are acknowledged.
fn sender(tag: &str, port: u16, key: &Path, n: usize) -> Option<Child> {
    paced_sender(tag, port, key, n, 100)
}

fn paced_sender(tag: &str, port: u16, key: &Path, n: usize, pace: usize) -> Option<Child> {
    const SCRIPT: &str = r#"
import logging, sys, time
sys.path.insert(0, sys.argv[1])
from logwire_helper import SignedSocketHandler
tag, port, key, n = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
pace = int(sys.argv[6])
h = SignedSocketHandler("127.0.0.1", port, key, buffer_records=n + 1,
                        buffer_bytes=256 << 20, block_timeout=600, close_timeout=300)
h.retryStart, h.retryMax = 0.05, 0.5
log = logging.getLogger("crash." + tag)
log.propagate = False
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(n):
    log.info("%s-%06d", tag, i)
    if i % pace == pace - 1:
        time.sleep(0.01)  # paced: the stream still runs at every kill
h.close()
print(h.report())
"#;
    py::spawn(
        py::script(
            SCRIPT,
            [
                HELPER.to_owned(),
                tag.to_owned(),
                port.to_string(),
                key.to_str().unwrap().to_owned(),
                n.to_string(),
                pace.to_string(),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()),
    )
}

fn collector(port: u16, key: &Path, state: &Path, config: &Path) -> Serve {
    collector_with(port, key, state, config, &[])
}

/// [`collector`] with more flags.
fn collector_with(port: u16, key: &Path, state: &Path, config: &Path, more: &[&str]) -> Serve {
    let tcp = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--tcp",
        &tcp,
        "--record-key",
        key.to_str().unwrap(),
        "--record-state-dir",
        state.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    Serve::start(&args)
}

/// Waits until collector `a` stored `stored` records, then kills nats-server and gives the
/// collector half a second to notice.
fn kill_nats_once_stored(a: &Serve, nats: &mut NatsServer, stored: u64) {
    assert!(
        a.wait_stats(|c| c.get("stored") >= stored).is_some(),
        "{:?}",
        a.stderr_lines()
    );
    nats.kill();
    std::thread::sleep(Duration::from_millis(500));
}

fn crash_test(n_per_sender: usize) {
    let Fleet {
        mut nats,
        dir,
        key,
        pub_cfg,
        out,
        store_cfg,
    } = Fleet::new("FLEET");
    let d = dir.path();
    let mut a = collector(0, &key, &d.join("a"), &pub_cfg);
    let b = collector(0, &key, &d.join("b"), &pub_cfg);
    let a_port = a.tcp().port();
    let mut store = consumer(&nats.url(), "FLEET", &d.join("c"), &store_cfg);
    let total = 2 * n_per_sender;
    let senders: Vec<Child> = [("a", a_port), ("b", b.tcp().port())]
        .iter()
        .filter_map(|(tag, port)| sender(tag, *port, &key, n_per_sender))
        .collect();
    if senders.len() < 2 {
        return; // python3 missing and skipping asked for
    }
    let progress = |fraction: f64| {
        let want = (total as f64 * fraction) as usize;
        wait_until(LIMIT, &format!("{want} records stored"), || {
            lines_of(&out).len() >= want
        });
    };
    // A collector, SIGKILL, restarted on its port (its sender reconnects and resends).
    progress(0.15);
    a.kill();
    let _ = a.wait_exit(LIMIT);
    a = collector(a_port, &key, &d.join("a"), &pub_cfg);
    // The consumer, SIGKILL, restarted with its durable and journal.
    progress(0.35);
    store.kill();
    let _ = store.wait_exit(LIMIT);
    store = consumer(&nats.url(), "FLEET", &d.join("c"), &store_cfg);
    // nats-server itself, SIGKILL, restarted on its port and store.
    progress(0.55);
    nats.kill();
    std::thread::sleep(Duration::from_millis(500));
    nats.restart();
    let mut reports = Vec::new();
    for s in senders {
        let ran = logwire_test_support::process::collect(s, Duration::from_secs(600));
        assert!(
            ran.status.success() && !ran.timed_out,
            "sender: {}",
            ran.stderr
        );
        reports.push(ran.stdout);
    }
    let complete = poll_until(LIMIT, || distinct(&lines_of(&out)) >= total);
    let lines = lines_of(&out);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for l in &lines {
        *seen.entry(l.as_str()).or_default() += 1;
    }
    let missing: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|t| (0..n_per_sender).map(move |i| format!("{t}-{i:06}")))
        .filter(|m| !seen.contains_key(m.as_str()))
        .collect();
    let twice: Vec<(&&str, &usize)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        complete && missing.is_empty(),
        "{} of {total} missing (first {:?}), {} lines, {} stored twice; senders: {reports:?}; consumer: {:?}",
        missing.len(),
        missing.first(),
        lines.len(),
        twice.len(),
        store.stderr_lines()
    );
    assert!(
        twice.is_empty(),
        "stored more than once: {} e.g. {:?}",
        twice.len(),
        twice.first()
    );
    assert_eq!(lines.len(), total, "nothing foreign or torn");
    for r in &reports {
        assert!(r.contains("dropped=0"), "sender dropped records: {r}");
    }
    let (status, stderr) = store.terminate();
    assert!(status.success(), "{stderr:?}");
    drop((a, b));
}

/// The issue's crash test at 20 000 records (two senders of 10 000).
#[test]
fn every_record_once_through_two_collectors_and_kills() {
    crash_test(10_000);
}

/// The issue's figure: 100 000 records (or `LOGWIRE_NATS_CRASH_RECORDS`), opt-in.
#[test]
#[ignore = "soak: 100 000 records, about a minute; run with --ignored"]
fn every_record_once_at_the_issue_scale() {
    let n: usize = std::env::var("LOGWIRE_NATS_CRASH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    crash_test(n / 2);
}

/// The issue's outage: nats-server down for 30 s under load. The collector's NATS buffer is
/// 4 MiB; its memory stays bounded (the dispatcher waits in `sync`, the receive queue fills,
/// the sender's acks stop: it is slowed), and every record arrives after NATS returns.
/// Opt-in (about a minute): figures from one run are in crates/nats/README.md.
#[test]
#[ignore = "soak: 30 s outage; run with --ignored"]
fn nats_down_for_30_seconds_under_load() {
    let mut nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("records.key");
    keygen("hmac", &key);
    let pub_cfg = d.join("pub.json");
    let cfg = serde_json::json!({
        "version": 1,
        "handlers": {"nats": {"class": "logwire.NATSHandler", "servers": nats.url(),
                              "subject": "logs.{name}", "stream": "SOAK", "buffer": 4 << 20}},
        "root": {"level": "DEBUG", "handlers": ["nats"]}
    });
    std::fs::write(&pub_cfg, cfg.to_string()).unwrap();
    let out = d.join("stored.log");
    let store_cfg = d.join("store.json");
    std::fs::write(&store_cfg, file_config(&out, "%(message)s")).unwrap();
    let c = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--record-key",
        key.to_str().unwrap(),
        "--record-state-dir",
        d.join("a").to_str().unwrap(),
        "--config",
        pub_cfg.to_str().unwrap(),
        "--stats",
        "1",
    ]);
    let store = consumer(&nats.url(), "SOAK", &d.join("c"), &store_cfg);
    const N: usize = 60_000;
    let Some(s) = paced_sender("soak", c.tcp().port(), &key, N, 20) else {
        return;
    };
    std::thread::sleep(Duration::from_secs(5));
    let rss_before = c.rss_kib();
    nats.kill();
    let stored_at_kill = c.latest_stats().map_or(0, |s| s.get("stored"));
    let mut peak = 0;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        peak = peak.max(c.rss_kib());
    }
    let stored_at_return = c.latest_stats().map_or(0, |s| s.get("stored"));
    nats.restart();
    let ran = logwire_test_support::process::collect(s, Duration::from_secs(600));
    assert!(ran.status.success(), "{}", ran.stderr);
    wait_until(LIMIT, "every record stored", || lines_of(&out).len() >= N);
    let lines = lines_of(&out);
    eprintln!(
        "soak figures: collector RSS {rss_before} KiB before, peak {peak} KiB during the outage; \
         collector stored {stored_at_kill} at the kill, {stored_at_return} 30 s later; \
         sender: {}; consumer stored {} lines, {} distinct",
        ran.stdout.trim(),
        lines.len(),
        distinct(&lines)
    );
    assert_eq!(
        (lines.len(), distinct(&lines)),
        (N, N),
        "every record exactly once"
    );
    assert!(ran.stdout.contains("dropped=0"), "{}", ran.stdout);
    // Bounded: the NATS buffer (4 MiB) and the receive queue (64 MiB by default) on top of
    // what the collector used before.
    assert!(
        peak < rss_before + 96 * 1024,
        "peak {peak} KiB, before {rss_before} KiB"
    );
    // Slowed: while NATS was away the collector took at most its buffers' worth.
    assert!(
        stored_at_return - stored_at_kill < 40_000,
        "{stored_at_kill} -> {stored_at_return}"
    );
    drop((c, store));
}

/// `serve` asked to stop while nats-server is down: the drain cannot finish (the dispatcher
/// waits for JetStream acks that cannot come), so after `--drain-timeout` the outputs are
/// closed, which ends the wait and reports what was not delivered; serve exits. None of the
/// undelivered signed records was acknowledged, so the sender resends them to the next
/// collector, and once NATS is back every record is in the stream exactly once.
#[test]
fn stopping_while_nats_is_down_ends_and_acknowledges_nothing_undelivered() {
    let Fleet {
        mut nats,
        dir,
        key,
        pub_cfg,
        out,
        store_cfg,
    } = Fleet::new("DRAIN");
    let d = dir.path();
    let state = d.join("a");
    let stats_and_drain = ["--stats", "1", "--drain-timeout", "2"];
    let mut a = collector_with(0, &key, &state, &pub_cfg, &stats_and_drain);
    let port = a.tcp().port();
    const N: usize = 3_000;
    let Some(s) = paced_sender("drain", port, &key, N, 10) else {
        return;
    };
    kill_nats_once_stored(&a, &mut nats, 200);
    let (status, lines_a) = a.terminate();
    let lines = lines_a.clone();
    assert!(status.success(), "exit {status:?}: {lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("closing the outputs")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("logwire.NATSHandler: closing with")
            || l.contains("not published")),
        "what was not delivered is reported: {lines:?}"
    );

    nats.restart();
    let a2 = collector(port, &key, &state, &pub_cfg);
    let store = consumer(&nats.url(), "DRAIN", &d.join("c"), &store_cfg);
    let ran = logwire_test_support::process::collect(s, Duration::from_secs(600));
    assert!(
        ran.status.success() && !ran.timed_out,
        "sender: {}",
        ran.stderr
    );
    assert!(ran.stdout.contains("dropped=0"), "{}", ran.stdout);
    let complete = poll_until(LIMIT, || lines_of(&out).len() >= N);
    let lines = lines_of(&out);
    if !complete {
        let (_, a2_lines) = {
            let mut a2 = a2;
            a2.terminate()
        };
        let (_, store_lines) = {
            let mut st = store;
            st.terminate()
        };
        panic!(
            "{} of {N} stored; sender: {}\nfirst collector: {lines_a:?}\nsecond: {a2_lines:?}\nconsumer: {store_lines:?}",
            lines.len(),
            ran.stdout
        );
    }
    assert_eq!(
        (lines.len(), distinct(&lines)),
        (N, N),
        "every record exactly once"
    );
    drop((a2, store));
}

/// The same stop, cut short: with a drain timeout and a NATSHandler close timeout far beyond
/// the test's wait, a second SIGTERM closes the outputs at once (the handler stops waiting
/// for acks), and serve ends and reports what the handler still held.
#[test]
fn a_second_signal_closes_the_outputs_at_once() {
    let Fleet {
        mut nats, dir, key, ..
    } = Fleet::new("SECOND");
    let pub_cfg = dir.path().join("pub-patient.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&nats_config(&nats.url(), "SECOND")).unwrap();
    config["handlers"]["nats"]["closeTimeout"] = 600.into();
    std::fs::write(&pub_cfg, config.to_string()).unwrap();
    let stats_and_drain = ["--stats", "1", "--drain-timeout", "600"];
    let mut a = collector_with(0, &key, &dir.path().join("a"), &pub_cfg, &stats_and_drain);
    let Some(mut s) = paced_sender("second", a.tcp().port(), &key, 2_000, 10) else {
        return;
    };
    kill_nats_once_stored(&a, &mut nats, 100);
    a.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    a.signal("TERM");
    // Far less than --drain-timeout: only the second signal can end it in time.
    let status = a.wait_exit(Duration::from_secs(60));
    let lines = a.stderr_to_end();
    assert!(status.success(), "exit {status:?}: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("a second signal: closing the outputs")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("not acknowledged by JetStream")),
        "the handler reports what it held: {lines:?}"
    );
    let _ = s.kill();
    let _ = s.wait();
}
