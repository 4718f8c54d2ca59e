//! A service configured from YAML (`examples/logging.yaml`), with the `log` facade, the
//! file watched for changes and the signed config listener.
//!
//! `cargo run -p logwire --example service_log`
//!
//! It logs, takes a signed push that turns on DEBUG for `service.db` (what an operator's
//! `logwire send-config --key ops.key` does), then edits its config file to WARNING and
//! shows the reload. Everything lives in a scratch directory.

mod support;

use std::sync::{Mutex, mpsc};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = support::scratch()?;
    let (tx, reloaded) = mpsc::channel();
    let tx = Mutex::new(tx);

    // Pushed file handlers may write only here, apart from the listener's state.
    let pushed_logs = s.dir.path().join("pushed");
    std::fs::create_dir_all(&pushed_logs)?;
    let guard = logwire::Builder::from_file(&s.config)
        .watch()
        .listen("127.0.0.1:0") // port 0: any free port; a service would name 9030
        .verify_key(&s.public_key)
        .state_dir(s.dir.path().join("state"))
        .file_root(&pushed_logs)
        .log()
        .on_reload(move |e| {
            let _ = tx.lock().map(|t| t.send(e.to_string()));
        })
        .init()?;

    log::info!(target: "service::http", port = 8080; "listening");
    log::debug!(target: "service::db", "not shown: the root is at INFO");

    let addr = guard.listener_addr().ok_or("no listener address")?;
    let incremental = r#"{"version": 1, "incremental": true,
                          "loggers": {"service.db": {"level": "DEBUG"}}}"#;
    let reply = support::push(addr, &s.signer, 1, incremental)?;
    println!("-- pushed DEBUG for service.db: {reply:?}");
    log::debug!(target: "service::db", rows = 3; "query plan: index scan");

    let event = support::edit_and_wait(
        &s.config,
        |text| text.replace("level: INFO", "level: WARNING"),
        &reloaded,
    )?;
    println!("-- edited the file: {event}");
    log::info!(target: "service::http", "not shown: the file now says WARNING");
    log::warn!(target: "service::http", "slow request: 1.2 s");

    drop(guard); // flush and close every handler
    let log = std::fs::read_to_string(s.dir.path().join("service.log"))?;
    println!("-- service.log has {} lines", log.lines().count());
    Ok(())
}
