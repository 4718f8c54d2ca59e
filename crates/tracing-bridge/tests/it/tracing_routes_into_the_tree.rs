//! `tracing` events reach the tree with names, levels, fields and locations mapped, and
//! reconfiguration takes effect for callsites already seen.

use logwire_engine::{Handler, LoggerTree, RecordCollector, Value, level};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;

fn emit_all() {
    tracing::info!(target: "svc::http", status = 200u64, path = "/x", elapsed = 1.5, "request done");
    tracing::trace!(target: "svc::http", "fine detail");
}

#[test]
fn tracing_events_route_into_the_tree() {
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    tree.root().set_level(level::INFO);
    let subscriber =
        tracing_subscriber::registry().with(logwire_tracing::LogwireLayer::new(tree.clone()));
    tracing::subscriber::with_default(subscriber, || {
        emit_all();
        tree.get_logger("svc.http").set_level(level::TRACE);
        emit_all();
    });
    let got = keep.records();
    let summary: Vec<(String, String, String)> = got
        .iter()
        .map(|r| (r.name.clone(), r.levelname.clone(), r.msg.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("svc.http".into(), "INFO".into(), "request done".into()),
            ("svc.http".into(), "INFO".into(), "request done".into()),
            ("svc.http".into(), "TRACE".into(), "fine detail".into()),
        ]
    );
    let r = &got[0];
    assert_eq!(r.extra("status"), Some(&Value::Int(200)));
    assert_eq!(r.extra("path"), Some(&Value::Str("/x".into())));
    assert_eq!(r.extra("elapsed"), Some(&Value::Float(1.5)));
    assert_eq!(r.filename, "tracing_routes_into_the_tree.rs");
    assert_eq!(got[2].levelno, 5);
}
