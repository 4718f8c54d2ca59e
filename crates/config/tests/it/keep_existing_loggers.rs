//! `Configurator::keep_existing_loggers`: a collector's loggers (made by remote record names)
//! stay enabled when a config that does not name them is applied; CPython's default
//! `disable_existing_loggers` still applies otherwise.

use logwire_config::{Configurator, SourceFormat};
use logwire_engine::LoggerTree;

const CONFIG: &str = r#"{"version": 1, "root": {"level": "INFO"}}"#;

fn disabled_after_apply(configurator: Configurator) -> bool {
    let tree = LoggerTree::new();
    tree.get_logger("remote.app");
    configurator
        .apply_text(&tree, CONFIG, SourceFormat::Json)
        .unwrap();
    tree.snapshot().get("remote.app").unwrap().disabled()
}

#[test]
fn cpython_default_disables_loggers_the_config_does_not_name() {
    assert!(disabled_after_apply(Configurator::default()));
}

#[test]
fn kept_existing_loggers_stay_enabled() {
    assert!(!disabled_after_apply(
        Configurator::default().keep_existing_loggers(true)
    ));
}
