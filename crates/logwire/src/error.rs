//! [`Error`]: why [`Builder::init`](crate::Builder::init) could not set logging up.

use std::path::PathBuf;

/// Why logging could not be set up. Nothing started by the failed call (watcher, signal
/// thread, listener) is left running; see [`Builder::init`](crate::Builder::init) for when
/// the file's configuration was already applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file was read but is not a valid configuration (every error is listed).
    #[error("{} is not applied: {errors}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, by place in the document.
        errors: logwire_config::ConfigErrors,
    },
    /// The file watcher could not be started.
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The SIGHUP handler could not be installed.
    #[error("cannot handle SIGHUP: {0}")]
    Signal(std::io::Error),
    /// A listen address could not be resolved.
    #[error("listen address {addr}: {message}")]
    Address {
        /// The address as given.
        addr: String,
        /// Why.
        message: String,
    },
    /// The config listener could not start (bad key file, no state directory, bind failed …).
    #[cfg(feature = "listener")]
    #[error("config listener: {0}")]
    Listener(#[from] logwire_listener::ListenerError),
    /// The builder was told something that cannot work (listener settings without an
    /// address to listen on).
    #[error("{0}")]
    Usage(String),
    /// The `log` or `tracing` bridge could not be installed (another logger or global
    /// subscriber was set first).
    #[error("{0}")]
    Bridge(String),
}
