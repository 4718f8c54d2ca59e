//! Ships this program's records to `logwire serve` with the lossless Rust `SocketHandler`:
//! frames signed with an HMAC key, kept until the collector acknowledges them, resent after
//! a reconnect, so a collector restart loses nothing.
//!
//! ```text
//! logwire keygen --hmac records.key
//! logwire serve --tcp 127.0.0.1:9020 --record-key records.key --record-state-dir state &
//! cargo run -p logwire --example ship_to_serve -- 127.0.0.1:9020 records.key
//! ```
//!
//! Without a key file the frames are CPython's plain pickles (any CPython receiver takes
//! them). With no collector running, the records stay buffered and `close` reports what it
//! could not deliver.

use logwire::{
    Formatter, Handler, LoggerTree,
    handlers::{SocketHandler, SocketOptions},
    level,
};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9020".into());
    let (host, port) = addr.rsplit_once(':').ok_or("ADDR is HOST:PORT")?;
    let mut options = SocketOptions::default()
        .flush_timeout(Duration::from_secs(3))
        .close_timeout(Duration::from_secs(3));
    if let Some(key) = args.next() {
        options = options.signing_key(logwire::wire::SigningKey::load(key.as_ref())?);
    }
    let signed = options.signing_key.is_some();

    let tree = LoggerTree::global();
    // On drop: flush (waits for delivery, at most 3 s) and close every handler.
    let _guard = tree.shutdown_guard();
    let socket = SocketHandler::with_options(host, Some(port.parse()?), options)?;
    let root = tree.root();
    root.set_level(level::INFO);
    root.add_handler(Arc::new(Handler::new(socket)));
    // The collector formats records itself; a local console copy for the person watching.
    let console = logwire::StreamHandler::stderr();
    let fmt = Formatter::percent("local copy: %(levelname)s %(name)s: %(message)s")?;
    root.add_handler(Arc::new(Handler::new(console).with_formatter(fmt)));

    let orders = tree.get_logger("shop.orders");
    for n in 1..=5 {
        orders.info(format!("order {n} placed"));
    }
    tree.get_logger("shop.payments")
        .warning("card declined for order 4");
    eprintln!(
        "sending to {addr} ({}); delivered on exit, or reported if no collector is there",
        if signed {
            "signed, acknowledged"
        } else {
            "plain pickles"
        }
    );
    Ok(())
}
