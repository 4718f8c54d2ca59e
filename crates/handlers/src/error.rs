//! The crate's error type: every seam's own error converts into [`Error`], so a caller that
//! sets up several handlers reaches one type with one `?`.
//!
//! Each seam keeps returning its own enum (a constructor or `push` its [`SendError`], a
//! backoff setter its [`BackoffError`], the SMTP/HTTP queue its `DeliveryError` …): the
//! narrow type says exactly what can fail there, and `Error` is where they meet.

use crate::{BackoffError, SendError};

/// Why a network handler could not be set up, take a record or flush; see the module docs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket or syslog sender refused a record, a flush or its set-up.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Reconnect backoff settings were refused.
    #[error(transparent)]
    Backoff(#[from] BackoffError),
    /// An SMTP or HTTP handler's queue refused a record or a flush did not complete.
    #[cfg(feature = "smtp-http")]
    #[error(transparent)]
    Delivery(#[from] crate::DeliveryError),
    /// An SMTP or HTTP handler refused a constructor argument.
    #[cfg(feature = "smtp-http")]
    #[error(transparent)]
    InvalidArgument(#[from] crate::InvalidArgument),
    /// An HTTP handler's host is not `host[:port]`.
    #[cfg(feature = "smtp-http")]
    #[error(transparent)]
    HostPort(#[from] crate::HostPortError),
    /// The TLS roots (Mozilla's plus a CA file) could not be loaded.
    #[cfg(feature = "smtp-http")]
    #[error(transparent)]
    Tls(#[from] crate::TlsConfigError),
}
