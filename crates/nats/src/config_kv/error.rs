//! Why a key-value push or listener failed.

/// Why a push could not be made or a listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigKvError {
    /// The `nats://…/BUCKET/KEY` target is not valid.
    #[error("{0}")]
    Target(String),
    /// The listener's gate refused its options (keys, state directory, file root).
    #[error(transparent)]
    Listener(#[from] logwire_listener::ListenerError),
    /// Credentials or TLS files could not be used.
    #[error("NATS credentials: {0}")]
    Credentials(String),
    /// The server could not be reached or refused us.
    #[error("cannot connect to NATS at {server}: {why}")]
    Connect {
        /// `HOST:PORT`.
        server: String,
        /// What failed.
        why: String,
    },
    /// The bucket could not be opened or created.
    #[error("key-value bucket {bucket}: {why}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// What failed.
        why: String,
    },
    /// The put or the reply subscription failed.
    #[error("push to {target}: {why}")]
    Push {
        /// The target (credentials left out).
        target: String,
        /// What failed.
        why: String,
    },
    /// The watcher's thread or runtime could not be started.
    #[error("cannot start the key-value config listener: {0}")]
    Runtime(#[source] std::io::Error),
}
