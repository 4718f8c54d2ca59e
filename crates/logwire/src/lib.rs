//! logwire: Python's `logging` — its logger tree, formatters, handlers, `dictConfig` /
//! `fileConfig` files and `logging.config.listen` — rebuilt safely in Rust.
//!
//! One line to start:
//!
//! ```no_run
//! # fn main() -> Result<(), logwire::Error> {
//! let _guard = logwire::init_file("logging.yaml")?;
//! # Ok(())
//! # }
//! ```
//!
//! That applies `logging.yaml` (a CPython `dictConfig`; JSON, TOML and `fileConfig` INI work
//! too, by extension) to the process-wide tree, re-applies it when it changes (with the
//! `watch` feature, on by default), installs the `log` and `tracing` bridges when those
//! features are on, and returns a [`Guard`] that flushes and closes every handler when
//! `main` ends. Everything else is a [`Builder`] call:
//!
//! ```no_run
//! # fn main() -> Result<(), logwire::Error> {
//! let _guard = logwire::Builder::from_file("logging.yaml")
//!     .watch() // re-apply on change; a bad file keeps the old config and logs why
//!     .listen("127.0.0.1:9030") // logging.config.listen, signed
//!     .verify_key("/etc/myapp/ops.pub")
//!     .state_dir("/var/lib/myapp/logwire")
//!     .file_root("/var/log/myapp")
//!     .tracing()
//!     .log()
//!     .init()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Beside log4rs
//!
//! File logging from a config file that reloads itself, and (logwire only) a config
//! listener:
//!
//! | | log4rs | logwire |
//! |---|---|---|
//! | file logging, reload on change | `log4rs::init_file("log4rs.yaml", Default::default())?;` plus `refresh_rate: 30 seconds` in the YAML: **2 lines** | `let _log = logwire::init_file("logging.yaml")?;`: **1 line** |
//! | … and a signed config listener | not available | `let _log = logwire::Builder::from_file("logging.yaml").watch()`<br>`    .listen("127.0.0.1:9030").verify_key("ops.pub").state_dir("state").init()?;`: **2 lines** |
//!
//! Lines are counted as written above; rustfmt would put the listener chain one call per line
//! (7 lines), and log4rs has no listener to compare it with.
//!
//! log4rs polls the file every `refresh_rate`; logwire is told by the OS (inotify, kqueue,
//! FSEvents) and applies a change within the debounce time (250 ms). A log4rs file that fails
//! to parse on refresh is reported on stderr; a logwire file that fails is reported through
//! the tree (an ERROR record of `logwire.config`, to the handlers still in force) and to
//! [`Builder::on_reload`], and changes nothing: applying is atomic.
//!
//! # Features
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `config` | yes | [`init_file`], [`Builder`], the [`config`] crate |
//! | `watch` | yes | [`Builder::watch`] (notify, debounced) |
//! | `sighup` | | `Builder::reload_on_sighup` (signal-hook) |
//! | `net` | | the `net` senders and receivers; `SocketHandler` & co. as config classes |
//! | `smtp-http` | | `SMTPHandler` and `HTTPHandler` (rustls for `secure`) |
//! | `collector` | | `logwire::collector`, what `logwire serve` runs (tokio) |
//! | `listener` | | `Builder::listen`, `verify_key`, `state_dir`, `file_root` |
//! | `tls` | | `Builder::tls` (mutual TLS on the listener) |
//! | `nats` | | `logwire.NATSHandler` as a config class (files and pushed configs), `logwire::nats` |
//! | `log` | | `Builder::log`, the `log` facade backend |
//! | `tracing` | | `Builder::tracing`, the `tracing` layer |
//! | `full` | | all of the above |
//!
//! # One path per name
//!
//! The engine's items (`logwire_engine`) are this crate's root, with its one public
//! namespace [`level`]. Every other crate is re-exported once, as a module that says what it
//! is ([`config`], `handlers`, `listener`, `collector`, `record_map`, `wire`, `log_bridge`,
//! `tracing_bridge`); its items are reached only through that module. The facade's own items
//! ([`Builder`], [`Guard`], [`Error`], [`init_file`], the reload events) are at the root.
//!
//! Without `config` this crate is the engine: build handlers and formatters in code (see
//! [`Formatter::builder`] and the guide, `docs/rust-guide.md`).

// The engine is this crate's root: `logwire::LoggerTree`, `logwire::Formatter`,
// `logwire::level::INFO`, the same names as in `logwire_engine` and reached one way only.
pub use logwire_engine::*;

#[cfg(feature = "config")]
mod builder;
// The guide's examples use every feature; `cargo test -p logwire` builds with all of them.
#[cfg(feature = "config")]
mod error;
#[cfg(all(doctest, feature = "full"))]
mod guide;
#[cfg(feature = "config")]
mod reload;

#[cfg(feature = "config")]
pub use builder::{Builder, DEFAULT_DEBOUNCE, Guard};
#[cfg(feature = "config")]
pub use error::Error;
/// dictConfig / fileConfig: the [`Configurator`](config::Configurator), the config formats
/// ([`SourceFormat`](config::SourceFormat)) and the handler registry.
#[cfg(feature = "config")]
pub use logwire_config as config;
#[cfg(feature = "config")]
pub use reload::{RELOAD_LOGGER, ReloadCause, ReloadEvent};

/// The collector: the bounded receivers behind `logwire serve`.
#[cfg(feature = "collector")]
pub use logwire_collector as collector;
/// The network handlers (CPython's `SocketHandler`, `DatagramHandler`, `SysLogHandler`, with
/// buffering, signing and acks) and, with `config`, their config classes.
#[cfg(feature = "net")]
pub use logwire_handlers as handlers;
/// The signed config listener and its push client.
#[cfg(feature = "listener")]
pub use logwire_listener as listener;
/// Records and configs through NATS JetStream: the stream source, config pushes through a
/// key-value bucket (`logwire.NATSHandler` is in the default registry with this feature).
#[cfg(feature = "nats")]
pub use logwire_nats as nats;
/// Received record payloads to records (what the collector maps with).
#[cfg(feature = "collector")]
pub use logwire_record as record_map;
/// Key files and signed envelopes.
#[cfg(any(feature = "net", feature = "collector"))]
pub use logwire_wire as wire;

/// The `log` facade backend.
#[cfg(feature = "log")]
pub use logwire_log as log_bridge;
/// The `tracing` layer.
#[cfg(feature = "tracing")]
pub use logwire_tracing as tracing_bridge;

/// The one-line start: applies the config file at `path` to the process-wide tree
/// ([`LoggerTree::global`]), watches it (with the `watch` feature), installs the `log`
/// bridge and the `tracing` layer (with those features) and returns the [`Guard`] to keep in
/// `main`. The format comes from the extension. For anything else, use [`Builder`].
#[cfg(feature = "config")]
pub fn init_file(path: impl AsRef<std::path::Path>) -> Result<Guard, Error> {
    let builder = Builder::from_file(path);
    #[cfg(feature = "watch")]
    let builder = builder.watch();
    #[cfg(feature = "log")]
    let builder = builder.log();
    #[cfg(feature = "tracing")]
    let builder = builder.tracing();
    builder.init()
}
