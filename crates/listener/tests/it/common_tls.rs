//! The test PKI of `logwire_test_support::tls`, and the TLS client the listener trusts.
#![allow(dead_code, unreachable_pub)]

pub use logwire_test_support::tls::*;

/// A TLS client presenting the client certificate the listener trusts.
pub trait TrustedClient {
    /// The client for `self`'s client certificate and CA.
    fn trusted_client(&self) -> logwire_listener::TlsClient;
}

impl TrustedClient for PkiFiles {
    fn trusted_client(&self) -> logwire_listener::TlsClient {
        logwire_listener::TlsClient::from_pem_files(
            &self.ca,
            Some((self.client_cert.as_path(), self.client_key.as_path())),
        )
        .unwrap()
    }
}
