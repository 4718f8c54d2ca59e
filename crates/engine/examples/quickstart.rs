//! The engine in thirty lines: a logger tree with a formatted stdout handler and a rotating
//! file behind the non-blocking queue handler.
//!
//! `cargo run -p logwire-engine --example quickstart`

use logwire_engine::{
    Formatter, Handler, LoggerTree, QueueHandler, QueueOptions, RotatingFileHandler, StreamHandler,
    level,
};
use std::sync::Arc;

fn main() {
    let tree = LoggerTree::global();
    let _guard = tree.shutdown_guard(); // flush and close every handler at exit
    tree.install_panic_hook();

    let fmt = Formatter::percent("%(asctime)s %(levelname)-8s %(name)s: %(message)s")
        .expect("a valid format");
    let fmt = Arc::new(fmt);
    let console = Handler::new(StreamHandler::stdout()).with_formatter(Arc::clone(&fmt));
    let path = std::env::temp_dir().join("logwire-quickstart.log");
    let file = RotatingFileHandler::builder(&path)
        .max_bytes(1 << 20)
        .backup_count(3)
        .build()
        .expect("log file opens");
    let file = Handler::new(file).with_formatter(fmt);
    // The logging call only enqueues; a worker thread writes the file.
    let queued = QueueHandler::new(vec![Arc::new(file)], QueueOptions::default()).expect("queue");

    let root = tree.root();
    root.set_level(level::INFO);
    root.add_handler(Arc::new(console));
    root.add_handler(Arc::new(Handler::new(queued)));

    let db = tree.get_logger("app.db");
    db.info("connected to db1");
    db.debug("not shown: below INFO");
    tree.get_logger("app.http").warning("slow request: 1.2 s");
    eprintln!("(also written to {})", path.display());
}
