//! The stream source against a real nats-server: outside bytes refused (and left in the
//! stream), records stored once even when the server forgets every ack of the durable.

use async_nats::jetstream;
use logwire_engine::RecordCollector;
use logwire_engine::{Handler, LoggerTree};
use logwire_nats::{NatsConnect, RecordSource, SourceOptions};
use logwire_test_support::nats::NatsServer;
use logwire_test_support::wait::wait_until;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn publish(rt: &tokio::runtime::Runtime, url: &str, payloads: Vec<Vec<u8>>) {
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        js.get_or_create_stream(jetstream::stream::Config {
            name: "SRC".into(),
            subjects: vec!["src.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        for p in payloads {
            js.publish("src.x", p.into()).await.unwrap().await.unwrap();
        }
    });
}

fn source(
    rt: &tokio::runtime::Runtime,
    url: &str,
    state: &std::path::Path,
) -> (RecordSource, RecordCollector) {
    let tree = LoggerTree::new();
    let got = RecordCollector::new();
    tree.root().add_handler(Arc::new(Handler::new(got.clone())));
    let mut o = SourceOptions::new(NatsConnect::new([url]), "SRC", "store");
    o.state_dir = Some(state.to_owned());
    o.max_message = 4096;
    let _guard = rt.enter();
    (RecordSource::start(tree, o).unwrap(), got)
}

#[test]
fn bad_messages_are_refused_and_redeliveries_stored_once() {
    let server = NatsServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    publish(
        &rt,
        &server.url(),
        vec![
            br#"{"name": "app", "msg": "first", "levelno": 20, "levelname": "INFO"}"#.to_vec(),
            b"not json at all".to_vec(),
            b"\x80\x02}q\x00.".to_vec(),
            br#"{"name": "app", "levelno": "INFO"}"#.to_vec(),
            format!(r#"{{"msg": "{}"}}"#, "x".repeat(5000)).into_bytes(),
            br#"{"name": "app", "msg": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#.to_vec(),
            br#"{"name": "app.db", "msg": "second", "levelno": 40, "levelname": "ERROR", "request_id": 7}"#.to_vec(),
        ],
    );
    let (src, got) = source(&rt, &server.url(), state.path());
    wait_until(LIMIT, "7 messages received", || src.stats().received >= 7);
    wait_until(LIMIT, "2 records stored", || got.records().len() >= 2);
    let stats = rt.block_on(src.shutdown()).unwrap();
    assert_eq!((stats.stored, stats.rejected), (2, 5), "{stats}");
    let msgs: Vec<String> = got.records().iter().map(|r| r.msg.clone()).collect();
    assert_eq!(msgs, ["first", "second"]);

    // Refused messages stay in the stream (terminated for this durable, not deleted).
    // The server forgets the durable (as a killed server may forget its acks): recreated
    // under the same name, it delivers everything again; the journal stores nothing twice.
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
        let mut stream = js.get_stream("SRC").await.unwrap();
        assert_eq!(stream.info().await.unwrap().state.messages, 7);
        stream.delete_consumer("store").await.unwrap();
    });
    let (src, got) = source(&rt, &server.url(), state.path());
    wait_until(LIMIT, "7 messages received again", || {
        src.stats().received >= 7
    });
    let stats = rt.block_on(src.shutdown()).unwrap();
    assert_eq!((stats.stored, stats.duplicates), (0, 7), "{stats}");
    assert!(got.records().is_empty());

    // A third message after that is new.
    publish(
        &rt,
        &server.url(),
        vec![br#"{"name": "app", "msg": "third"}"#.to_vec()],
    );
    let (src, got) = source(&rt, &server.url(), state.path());
    wait_until(LIMIT, "the new record", || got.records().len() == 1);
    let stats = rt.block_on(src.shutdown()).unwrap();
    assert_eq!(stats.stored, 1, "{stats}");
    assert_eq!(got.records()[0].msg, "third");
}

/// A message may carry several records, one JSON object per line (what `NATSHandler`
/// publishes for unsigned records): each line is stored or refused on its own, and a
/// message with no record in it is refused.
#[test]
fn batched_messages_store_each_line() {
    let server = NatsServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    publish(
        &rt,
        &server.url(),
        vec![
            b"{\"name\": \"app\", \"msg\": \"one\"}\n{\"name\": \"app\", \"msg\": \"two\"}\r\n\
              not a record\n{\"name\": \"app.db\", \"msg\": \"three\"}\n"
                .to_vec(),
            b"\n\r\n".to_vec(),
            b"{\"name\": \"app\", \"msg\": \"four\"}".to_vec(),
            // Many bad lines: each counted (only the first few described on stderr).
            format!(
                "{}{{\"name\": \"app\", \"msg\": \"five\"}}",
                "junk\n".repeat(10)
            )
            .into_bytes(),
        ],
    );
    let (src, got) = source(&rt, &server.url(), state.path());
    wait_until(LIMIT, "4 messages received", || src.stats().received >= 4);
    wait_until(LIMIT, "5 records stored", || got.records().len() >= 5);
    let stats = rt.block_on(src.shutdown()).unwrap();
    assert_eq!(
        (stats.received, stats.stored, stats.rejected),
        (4, 5, 12),
        "{stats}"
    );
    let msgs: Vec<String> = got.records().iter().map(|r| r.msg.clone()).collect();
    assert_eq!(msgs, ["one", "two", "three", "four", "five"]);
}

/// An output that cannot confirm (its `sync` fails): the source acknowledges none of the
/// batch and forgets its journal lines, so the server still holds every message as pending
/// (it redelivers them after `ack_wait`), and nothing is counted as stored.
#[test]
fn nothing_is_acked_when_the_outputs_cannot_confirm() {
    use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
    struct Unconfirmed;
    impl Emitter for Unconfirmed {
        fn emit(&self, _: &LogRecord, _: &Formatter) -> Result<(), HandlerError> {
            Ok(())
        }
        fn sync(&self) -> Result<(), HandlerError> {
            Err(HandlerError::Invalid("cannot confirm (test)".into()))
        }
        fn kind(&self) -> &'static str {
            "test.Unconfirmed"
        }
    }
    let server = NatsServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = tempfile::tempdir().unwrap();
    publish(
        &rt,
        &server.url(),
        (0..5)
            .map(|i| format!(r#"{{"name": "app", "msg": "m{i}"}}"#).into_bytes())
            .collect(),
    );
    let tree = LoggerTree::new();
    tree.root().add_handler(Arc::new(Handler::new(Unconfirmed)));
    let mut o = SourceOptions::new(NatsConnect::new([server.url()]), "SRC", "store");
    o.state_dir = Some(state.path().to_owned());
    let src = {
        let _guard = rt.enter();
        RecordSource::start(tree, o).unwrap()
    };
    wait_until(LIMIT, "5 messages received", || src.stats().received >= 5);
    let pending = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let js = jetstream::new(async_nats::connect(server.url()).await.unwrap());
            let stream = js.get_stream("SRC").await.unwrap();
            let mut c: jetstream::consumer::PullConsumer =
                stream.get_consumer("store").await.unwrap();
            let info = c.info().await.unwrap();
            (info.num_ack_pending, info.ack_floor.stream_sequence)
        })
    };
    // Shutdown ends after the batch in hand: any ack it sent is sent by now.
    let stats = rt.block_on(src.shutdown()).unwrap();
    assert_eq!(stats.stored, 0, "{stats}");
    assert_eq!(
        pending(&rt),
        (5, 0),
        "every message still pending, none acked"
    );
    let journal = std::fs::read_dir(state.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(!journal.contains("s "), "no journal line: {journal:?}");
}
