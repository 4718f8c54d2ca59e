//! `logwire.NATSHandler` named in a config file, through the facade's default registry (the
//! `nats` feature), against a real nats-server with JetStream.
#![cfg(feature = "nats")]

use logwire::{Builder, LoggerTree};
use logwire_test_support::nats::NatsServer;

#[test]
fn a_config_file_can_name_the_nats_handler() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logging.json");
    let config = format!(
        r#"{{"version": 1,
            "handlers": {{"nats": {{"class": "logwire.NATSHandler", "servers": "{}",
                                   "subject": "app.{{levelname}}", "stream": "FACADE"}}}},
            "root": {{"level": "INFO", "handlers": ["nats"]}}}}"#,
        server.url()
    );
    std::fs::write(&path, config).unwrap();
    let tree = LoggerTree::new();
    let guard = Builder::from_file(&path).tree(tree.clone()).init().unwrap();
    tree.get_logger("svc").info("through the facade");
    // The handler's sync returns once JetStream acknowledged the record.
    assert!(tree.sync(), "JetStream acknowledged the record");
    drop(guard);
}
