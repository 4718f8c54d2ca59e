//! The collector: bounded receivers of the records CPython's `SocketHandler` and
//! `DatagramHandler` send (and logwire's signed `LWR1` frames), behind `logwire serve`.
//!
//! The rest of what used to live here has its own crate: record mapping in `logwire-record`,
//! the senders, `SysLogHandler` and their registry kinds in `logwire-handlers`, the config
//! listener and its push client in `logwire-listener`.
//!
//! Everything that reads bytes from a peer is bounded: frame sizes are checked before a body
//! is read, headers and bodies have deadlines, connections are capped, and a record is never
//! unpickled — the pickle *parser* in `logwire-pickle` turns it into plain data.
//!
//! A collector and a sender in one program: the record goes out as CPython's `SocketHandler`
//! frames it, and comes back through the collector's own logger tree.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use logwire_engine::{CaptureBuffer, StreamHandler};
//! use logwire_engine::{Formatter, Handler, LogRecord, LoggerTree};
//! use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions};
//! use logwire_handlers::SocketHandler;
//! use std::sync::Arc;
//!
//! // The collector: every record it receives goes to the root logger's handler.
//! let tree = LoggerTree::new();
//! let out = CaptureBuffer::new();
//! let fmt = Arc::new(Formatter::builder().format("%(name)s %(levelname)s %(message)s").build()?);
//! tree.root()
//!     .add_handler(Arc::new(Handler::new(StreamHandler::new(out.clone())).with_formatter(fmt)));
//! let running = Collector::new(tree, ReceiverOptions::default())
//!     .start(&[ListenAddr::Tcp("127.0.0.1:0".parse()?)])
//!     .await?;
//! let ListenAddr::Tcp(addr) = running.local_addrs()[0] else { unreachable!() };
//! let port = addr.port();
//!
//! // The sender (a blocking API: the logging call never waits on the network).
//! tokio::task::spawn_blocking(move || {
//!     let sender = Handler::new(SocketHandler::new("127.0.0.1", Some(port)).unwrap());
//!     sender.handle(&LogRecord::new("app.db", 40, "db.rs", 7, "disk full"));
//!     sender.close(); // delivers what is buffered
//! })
//! .await?;
//!
//! while running.stats().stored < 1 {
//!     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
//! }
//! let stats = running.shutdown().await; // stops accepting, drains, flushes every handler
//! assert_eq!(stats.stored, 1);
//! assert_eq!(out.contents(), "app.db ERROR disk full\n");
//! # Ok(()) }
//! ```

pub mod receiver;
