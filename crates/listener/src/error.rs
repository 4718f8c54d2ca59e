//! The crate's error type: why a listener could not start, or its state could not be kept,
//! with the sub-enums of the other seams (a push, an apply, TLS material) convertible into
//! it, so one `?` reaches one type.

use std::path::PathBuf;

/// Why a [`ConfigListener`](super::ConfigListener) refused to start (or a piece of its
/// state could not be read or written).
///
/// The seams that fail on their own return their own enum ([`PushError`](crate::PushError)
/// from the push client, [`ApplyError`](crate::ApplyError) from an apply, `TlsError` from
/// TLS material); each converts into this one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// No keys, unsigned configs not explicitly allowed, and not an owner-only Unix socket:
    /// anyone able to connect could reconfigure logging.
    #[error(
        "refusing to start a config listener that accepts unsigned configs from anyone who can \
         connect: {why}. Give it verification keys, listen only on a Unix socket in a directory \
         only you can write, or allow unsigned configs explicitly"
    )]
    Unprotected {
        /// What made the listener unprotected.
        why: String,
    },
    /// Keys were given but no state directory: the seq ratchet would not survive a restart,
    /// so a captured config could be replayed after one.
    #[error(
        "a listener with keys needs a state directory for its seq ratchet (without one, a \
         captured config could be replayed after a restart)"
    )]
    NoStateDir,
    /// No address to listen on.
    #[error("no address to listen on")]
    NoAddress,
    /// Binding a TCP address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Unix socket path is occupied by something the listener will not replace.
    #[error("refusing to listen on {}: {why}", path.display())]
    UnixPath {
        /// The socket path.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The state directory could not be created, read or written.
    #[error("seq state {}: {source}", path.display())]
    State {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A seq state file does not hold a seq (the listener fails closed rather than forget).
    #[error("seq state file {} is corrupt: {why}", path.display())]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The content policy could not be built (e.g. the file root does not exist).
    #[error("content policy: {0}")]
    Policy(#[from] logwire_config::PolicyError),
    /// The state directory and the file root overlap, or one of them cannot be resolved.
    #[error("content policy: {0}")]
    Apart(#[from] ApartError),
    /// A key file could not be loaded.
    #[error("key file {}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: logwire_wire::KeyError,
    },
    /// The listener's runtime or thread could not be started.
    #[error("cannot start the listener: {0}")]
    Runtime(#[source] std::io::Error),
    /// A push failed (see [`PushError`](crate::PushError)).
    #[error(transparent)]
    Push(#[from] crate::PushError),
    /// A config could not be applied (see [`ApplyError`](crate::ApplyError)).
    #[error(transparent)]
    Apply(#[from] crate::ApplyError),
    /// TLS material could not be loaded.
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(#[source] Box<crate::TlsError>),
}

#[cfg(feature = "tls")]
impl From<crate::TlsError> for ListenerError {
    fn from(e: crate::TlsError) -> Self {
        ListenerError::Tls(Box::new(e))
    }
}

/// Why a state directory and a file root cannot be used together
/// ([`check_apart`](crate::check_apart)): pushed file handlers write beneath the file root, so
/// a state directory inside it (or around it) could be overwritten by a pushed config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApartError {
    /// A path could not be made canonical (it does not exist, or is unreadable).
    #[error("{}: {source}", path.display())]
    Unresolvable {
        /// The path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// One is inside the other, or they are the same directory.
    #[error(
        "the file root {} and the state directory {} overlap: pushed file handlers could \
         write the listener's state; keep them apart",
        root.display(),
        state.display()
    )]
    Overlap {
        /// The file root, canonical.
        root: PathBuf,
        /// The state directory, canonical.
        state: PathBuf,
    },
}
