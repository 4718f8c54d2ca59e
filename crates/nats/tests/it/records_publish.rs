//! The NATS handler against a real nats-server with JetStream: what it publishes (JSON with
//! CPython's LogRecord attribute names, read back by CPython), deduplication by
//! `Nats-Msg-Id`, and backpressure while the server is down.

use async_nats::jetstream;
use logwire_config::{Configurator, ContentPolicy, HandlerRegistry, SourceFormat};
use logwire_engine::{Emitter, Formatter, LogRecord, LoggerTree, Value};
use logwire_engine::{RecordOrigin, with_origin};
use logwire_nats::{MsgId, NatsConnect, NatsHandler, NatsHandlerOptions, SubjectTemplate};
use logwire_test_support::nats::NatsServer;
use logwire_test_support::python;
use std::time::Duration;

/// One stored message: its subject, `Nats-Msg-Id` and records (one JSON object per line).
struct Stored {
    subject: String,
    id: String,
    records: Vec<serde_json::Value>,
}

/// Every message of `stream`, read by sequence.
fn read_messages(url: &str, stream: &str) -> Vec<Stored> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client);
        let mut s = js.get_stream(stream).await.unwrap();
        let n = s.info().await.unwrap().state.messages;
        let mut out = Vec::new();
        for seq in 1..=s.info().await.unwrap().state.last_sequence {
            let Ok(m) = s.get_raw_message(seq).await else {
                continue;
            };
            let id = m
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let records = m
                .payload
                .split(|&b| b == b'\n')
                .map(|line| serde_json::from_slice(line).unwrap())
                .collect();
            out.push(Stored {
                subject: m.subject.to_string(),
                id,
                records,
            });
        }
        assert_eq!(out.len() as u64, n, "every stored message read");
        out
    })
}

/// Every record of `stream` (its message's subject and `Nats-Msg-Id`, the record), in
/// stream order.
fn read_stream(url: &str, stream: &str) -> Vec<(String, String, serde_json::Value)> {
    read_messages(url, stream)
        .into_iter()
        .flat_map(|m| {
            let (subject, id) = (m.subject, m.id);
            m.records
                .into_iter()
                .map(move |r| (subject.clone(), id.clone(), r))
        })
        .collect()
}

fn options(url: &str, stream: &str) -> NatsHandlerOptions {
    let mut o = NatsHandlerOptions::new(
        NatsConnect::new([url]),
        SubjectTemplate::parse("logs.{levelname}.{name}").unwrap(),
    );
    o.stream = Some(stream.into());
    o
}

fn record(name: &str, msg: &str) -> LogRecord {
    let mut r = LogRecord::new(name, 30, "/srv/app/db.py", 42, msg);
    r.func_name = Some("connect".into());
    r
}

/// Configured from a dictConfig like any handler; the JSON has exactly the attributes of a
/// CPython LogRecord plus the extras, and CPython's makeLogRecord + Formatter render it.
#[test]
fn publishes_cpython_shaped_json_through_a_config() {
    let server = NatsServer::start();
    let mut registry = HandlerRegistry::with_builtins();
    logwire_nats::register(&mut registry);
    let tree = LoggerTree::new();
    let config = serde_json::json!({
        "version": 1,
        "handlers": {"nats": {"class": "logwire.NATSHandler", "servers": [server.url()],
                               "subject": "logs.{levelname}.{name}", "stream": "LOGS"}},
        "root": {"level": "DEBUG", "handlers": ["nats"]}
    });
    Configurator::new(registry, ContentPolicy::trusted())
        .apply_text(&tree, &config.to_string(), SourceFormat::Json)
        .unwrap();
    let mut r = record("app.db", "connected to %s");
    r.args = logwire_engine::Args::Tuple(vec![Value::Str("pg1".into())]);
    r.set_extra("request_id", Value::Int(7));
    r.set_extra("tags", Value::List(vec![Value::Str("a".into())]));
    tree.get_logger("app.db").handle(&r);
    tree.get_logger("odd name.x")
        .handle(&record("odd name.x", "second"));
    tree.sync();

    let got = read_stream(&server.url(), "LOGS");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "logs.WARNING.app.db");
    assert_eq!(got[1].0, "logs.WARNING.odd_name.x");
    assert!(got[0].1.starts_with("lwu."), "{}", got[0].1);
    assert_ne!(got[0].1, got[1].1);
    let obj = got[0].2.as_object().unwrap();
    assert_eq!(obj["msg"], "connected to pg1");
    assert_eq!(obj["args"], serde_json::Value::Null);
    assert_eq!(obj["request_id"], 7);

    let Some(out) = python::output(python::script(
        r#"
import json, logging, sys
base = set(vars(logging.makeLogRecord({})))
got = json.loads(sys.argv[1])
print(sorted(base ^ (set(got) - {"request_id", "tags"})))
r = logging.makeLogRecord(got)
print(logging.Formatter("%(levelname)s|%(name)s|%(message)s|%(request_id)s|%(funcName)s|%(lineno)d").format(r))
"#,
        [got[0].2.to_string()],
    )
    .stderr(std::process::Stdio::piped())) else {
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    // taskName exists from CPython 3.12 on; ours is sent only when set.
    assert!(
        lines[0] == "[]" || lines[0] == "['taskName']",
        "attribute names differ from CPython's: {}",
        lines[0]
    );
    assert_eq!(lines[1], "WARNING|app.db|connected to pg1|7|connect|42");
}

/// The same identity published twice is stored once: JetStream drops the second by its
/// Nats-Msg-Id. The identity of a signed record comes from the collector's thread-local origin.
#[test]
fn duplicate_ids_are_stored_once() {
    let server = NatsServer::start();
    let h = NatsHandler::start(options(&server.url(), "DEDUP")).unwrap();
    let origin = RecordOrigin {
        key_id: [9; 8],
        epoch: [3; 16],
        seq: 11,
    };
    let fmt = Formatter::default();
    for _ in 0..3 {
        with_origin(Some(origin), || {
            Emitter::emit(&h, &record("app", "signed once"), &fmt)
        })
        .unwrap();
    }
    emit(&h, &record("app", "local")).unwrap();
    h.sync().unwrap();
    let stats = h.stats();
    assert_eq!(stats.acked, 4);
    assert_eq!(stats.duplicates, 2, "{stats:?}");
    let got = read_stream(&server.url(), "DEDUP");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, MsgId::of_origin(origin).header());
    assert_eq!(got[0].2["msg"], "signed once");
    h.close();
}

fn emit(h: &NatsHandler, r: &LogRecord) -> Result<(), logwire_engine::HandlerError> {
    Emitter::emit(h, r, &Formatter::default())
}

/// A record larger than the message limit is refused with an error (counted), not queued.
#[test]
fn oversized_records_are_refused_and_counted() {
    let server = NatsServer::start();
    let mut o = options(&server.url(), "BIG");
    o.max_message = 4096;
    let h = NatsHandler::start(o).unwrap();
    let err = emit(&h, &record("app", &"x".repeat(10_000))).unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than the NATS message limit"),
        "{err}"
    );
    emit(&h, &record("app", "small")).unwrap();
    h.sync().unwrap();
    assert_eq!((h.stats().refused, h.stats().acked), (1, 1));
    h.close();
}

/// With the server killed, records wait in the byte-bounded buffer and `emit` blocks (the
/// emitting thread stops); after the server returns every record is stored exactly once.
#[test]
fn server_down_blocks_within_the_byte_bound_and_loses_nothing() {
    let mut server = NatsServer::start();
    let mut o = options(&server.url(), "BP");
    o.buffer_bytes = 64 * 1024;
    let h = std::sync::Arc::new(NatsHandler::start(o).unwrap());
    emit(&h, &record("app", "before")).unwrap();
    h.sync().unwrap();
    server.kill();
    const N: usize = 2_000;
    let emitter = {
        let h = std::sync::Arc::clone(&h);
        std::thread::spawn(move || {
            for i in 0..N {
                let r = record("app", &format!("{i:06} {}", "p".repeat(400)));
                emit(&h, &r).unwrap();
            }
            h.sync().unwrap();
        })
    };
    // ~900 KB of records against a 64 KiB bound: the emitter must be held.
    logwire_test_support::wait::wait_until(Duration::from_secs(30), "emit to block", || {
        h.stats().blocked > 0
    });
    std::thread::sleep(Duration::from_millis(300));
    let held = h.stats();
    assert!(
        !emitter.is_finished(),
        "emitter finished with the server down: {held:?}"
    );
    assert!(held.peak_buffered_bytes <= 64 * 1024, "{held:?}");
    assert!(held.queued < N as u64, "{held:?}");
    server.restart();
    emitter.join().unwrap();
    let stats = h.stats();
    assert_eq!(stats.queued, N as u64 + 1);
    assert_eq!(stats.acked - stats.duplicates, N as u64 + 1, "{stats:?}");
    assert!(stats.peak_buffered_bytes <= 64 * 1024, "{stats:?}");
    let got = read_stream(&server.url(), "BP");
    assert_eq!(got.len(), N + 1);
    // What waited for the server went out several records to a message.
    assert!(stats.messages < stats.acked, "{stats:?}");
    let mut seen: Vec<String> = got[1..]
        .iter()
        .map(|m| m.2["msg"].as_str().unwrap()[..6].to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), N, "every record once");
    h.close();
}

/// A pushed config passes the destination policy for its servers as a SocketHandler's host
/// does: loopback is allowed, anything else only with --allow-host.
#[test]
fn pushed_configs_publish_only_to_allowed_servers() {
    let mut registry = HandlerRegistry::with_builtins();
    logwire_nats::register(&mut registry);
    let config = |servers: serde_json::Value| {
        serde_json::json!({
            "version": 1,
            "handlers": {"nats": {"class": "logwire.NATSHandler", "servers": servers,
                                  "subject": "logs.{name}"}},
            "root": {"handlers": ["nats"]}
        })
        .to_string()
    };
    let pushed = || ContentPolicy::pushed(None, vec![]).unwrap();
    let err = Configurator::new(registry.clone(), pushed())
        .apply_text(
            &LoggerTree::new(),
            &config(serde_json::json!([
                "nats://127.0.0.1:4222",
                "nats://203.0.113.9:4222"
            ])),
            SourceFormat::Json,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("203.0.113.9:4222 is not allowed"),
        "{err}"
    );
    // A credentials file is a file: a pushed config without a file root may not name one.
    let text = serde_json::json!({
        "version": 1,
        "handlers": {"nats": {"class": "logwire.NATSHandler", "servers": "nats://127.0.0.1:4222",
                              "subject": "logs.{name}", "credentials": "/etc/nats/ops.creds"}},
        "root": {"handlers": ["nats"]}
    });
    let err = Configurator::new(registry.clone(), pushed())
        .apply_text(&LoggerTree::new(), &text.to_string(), SourceFormat::Json)
        .unwrap_err();
    assert!(
        err.to_string().contains("handlers.nats.credentials"),
        "{err}"
    );
    let allowed = ContentPolicy::pushed(
        None,
        vec![logwire_config::Destination::parse("203.0.113.9:4222").unwrap()],
    )
    .unwrap();
    let tree = LoggerTree::new();
    Configurator::new(registry, allowed)
        .apply_text(
            &tree,
            &config(serde_json::json!("nats://203.0.113.9:4222")),
            SourceFormat::Json,
        )
        .unwrap();
    // Built without waiting for the (unreachable) server; closing reports nothing pending.
    tree.shutdown();
}

/// Records queued while the server is away go out batched: adjacent unsigned records of one
/// subject share a message (one JSON object per line, at most `batch_records`, id
/// `lwu.<instance>.<first seq>+<count>`), a signed record is always a message of its own
/// under its `lw1.` id, and the stream keeps the order records were emitted in.
#[test]
fn unsigned_records_share_messages_and_signed_ones_stay_alone() {
    let mut server = NatsServer::start();
    let mut o = options(&server.url(), "BATCH");
    o.batch_records = 50;
    let h = NatsHandler::start(o).unwrap();
    emit(&h, &record("app", "first")).unwrap();
    h.sync().unwrap();
    server.kill();
    let fmt = Formatter::default();
    let mut expected = vec!["first".to_owned()];
    for i in 0..600u64 {
        let text = format!("r{i}");
        if i % 200 == 199 {
            let origin = RecordOrigin {
                key_id: [1; 8],
                epoch: [2; 16],
                seq: i,
            };
            with_origin(Some(origin), || {
                Emitter::emit(&h, &record("app", &text), &fmt)
            })
            .unwrap();
        } else {
            // Two loggers and two levels, three subjects: a run ends where the subject
            // changes (the handler renders a subject again when the name or level does).
            let name = if i % 100 < 70 { "app" } else { "app.db" };
            let mut r = record(name, &text);
            if i % 100 >= 90 {
                r.levelno = 40;
                r.levelname = "ERROR".into();
            }
            emit(&h, &r).unwrap();
        }
        expected.push(text);
    }
    server.restart();
    h.sync().unwrap();
    let stats = h.stats();
    h.close();
    assert_eq!(stats.acked - stats.duplicates, 601, "{stats:?}");

    let messages = read_messages(&server.url(), "BATCH");
    let mut order = Vec::new();
    let mut batches = 0;
    for m in &messages {
        assert!(
            m.records.len() <= 50,
            "{} records in one message",
            m.records.len()
        );
        for r in &m.records {
            let subject = format!(
                "logs.{}.{}",
                r["levelname"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            );
            assert_eq!(m.subject, subject, "a message holds one subject's records");
            order.push(r["msg"].as_str().unwrap().to_owned());
        }
        if m.id.starts_with("lw1.") {
            assert_eq!(
                m.records.len(),
                1,
                "a signed record shares no message: {}",
                m.id
            );
        } else if m.records.len() > 1 {
            batches += 1;
            assert!(
                matches!(MsgId::parse(&m.id), Some(MsgId::Batch { count, .. })
                    if count == m.records.len() as u64),
                "batch id {} for {} records",
                m.id,
                m.records.len()
            );
        }
    }
    assert_eq!(order, expected, "every record once, in emit order");
    assert_eq!(
        messages.iter().filter(|m| m.id.starts_with("lw1.")).count(),
        3,
        "the three signed records"
    );
    assert!(
        batches >= 10,
        "only {batches} batched messages of {}",
        messages.len()
    );
}

/// `stop_waiting` (a second signal to serve) ends a close that waits for acks the server
/// can no longer give: with a close timeout of 10 minutes, close returns once another thread
/// calls it, and counts what JetStream never acknowledged as undelivered.
#[test]
fn stop_waiting_ends_a_close_that_waits_for_acks() {
    let mut server = NatsServer::start();
    let mut o = options(&server.url(), "HURRY");
    o.close_timeout = Duration::from_secs(600);
    let h = std::sync::Arc::new(NatsHandler::start(o).unwrap());
    emit(&h, &record("app", "before")).unwrap();
    h.sync().unwrap();
    server.kill();
    for i in 0..50 {
        emit(&h, &record("app", &format!("held {i}"))).unwrap();
    }
    let closing = {
        let h = std::sync::Arc::clone(&h);
        std::thread::spawn(move || h.close())
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!closing.is_finished(), "close waits for the acks");
    h.stop_waiting();
    logwire_test_support::wait::wait_until(Duration::from_secs(60), "close to return", || {
        closing.is_finished()
    });
    closing.join().unwrap();
    let stats = h.stats();
    assert_eq!((stats.acked, stats.undelivered), (1, 50), "{stats:?}");
}

/// The numeric parameters are bounded, and a value outside its range is an error naming the
/// parameter: nothing is started for such a config.
#[test]
fn numeric_parameters_out_of_range_are_refused_by_name() {
    let mut registry = HandlerRegistry::with_builtins();
    logwire_nats::register(&mut registry);
    for (param, bad) in [
        ("closeTimeout", serde_json::json!(-1)),
        ("closeTimeout", serde_json::json!(86_401)),
        ("batch", serde_json::json!(0)),
        ("inFlight", serde_json::json!(70_000)),
        ("maxMessage", serde_json::json!(10)),
        ("buffer", serde_json::json!(1)),
    ] {
        let mut handler = serde_json::json!({"class": "logwire.NATSHandler",
            "servers": "nats://127.0.0.1:4222", "subject": "logs.{name}"});
        handler[param] = bad.clone();
        let config = serde_json::json!({"version": 1, "handlers": {"nats": handler},
                                        "root": {"handlers": ["nats"]}});
        let err = Configurator::new(registry.clone(), ContentPolicy::trusted())
            .check_text(&config.to_string(), SourceFormat::Json)
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!("handlers.nats.{param}")),
            "{param} = {bad}: {err}"
        );
    }
}
