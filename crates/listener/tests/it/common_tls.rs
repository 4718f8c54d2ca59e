//! Test PKI for the TLS listener tests, made fresh by rcgen on every run: a CA, a server
//! certificate for `localhost` and `127.0.0.1`, and client certificates.
#![allow(dead_code, unreachable_pub)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate authority that can issue server and client certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate (PEM) and its private key (PEM).
pub struct Identity {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ca {
            issuer: CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn issue(&self, cn: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Identity {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Identity {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate valid for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> Identity {
        self.issue(
            "logwire listener",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate.
    pub fn client(&self, cn: &str) -> Identity {
        self.issue(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// PEM files of one test PKI, written to a directory (what an operator hands the CLI).
pub struct PkiFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate from another CA, which the listener must not trust.
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

impl PkiFiles {
    /// A TLS client presenting the client certificate the listener trusts.
    pub fn trusted_client(&self) -> logwire_listener::TlsClient {
        logwire_listener::TlsClient::from_pem_files(
            &self.ca,
            Some((self.client_cert.as_path(), self.client_key.as_path())),
        )
        .unwrap()
    }
}

/// Makes a CA, server and client identities and a rogue client, and writes them to `dir`.
pub fn write_pki(dir: &Path) -> PkiFiles {
    let ca = Ca::new("logwire test CA");
    let server = ca.server();
    let client = ca.client("ops pusher");
    let rogue = Ca::new("someone else's CA").client("ops pusher");
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    PkiFiles {
        ca: w("ca.pem", &ca.pem()),
        server_cert: w("server.pem", &server.cert),
        server_key: w("server.key", &server.key),
        client_cert: w("client.pem", &client.cert),
        client_key: w("client.key", &client.key),
        rogue_cert: w("rogue.pem", &rogue.cert),
        rogue_key: w("rogue.key", &rogue.key),
    }
}
