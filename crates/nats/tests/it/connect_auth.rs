//! Credentials and TLS against a nats-server that requires them: a private CA with mutual
//! TLS, user and password, a token, an nkey, and a `.creds` file (a user JWT and its seed,
//! from a server in operator mode). Each server refuses a handler without the
//! right credential, and each accepts the one with it, whose records JetStream then stores.

use logwire_engine::{Emitter, Formatter, LogRecord};
use logwire_nats::{NatsConnect, NatsHandler, NatsHandlerOptions, SubjectTemplate};
use logwire_test_support::nats::NatsServer;
use logwire_test_support::tls::write_pki;
use std::path::PathBuf;
use std::time::Duration;

const RECORDS: usize = 20;
/// What a refused credential and a failed TLS handshake leave as the handler's last error.
const AUTH: &str = "cannot connect: nats: authorization violation";
const TLS: &str = "cannot connect: nats: IO error";

/// A handler with `connect`, publishing into stream `AUTH` (created by it).
fn handler(connect: NatsConnect) -> NatsHandler {
    let mut o = NatsHandlerOptions::new(connect, SubjectTemplate::parse("auth.{name}").unwrap());
    o.stream = Some("AUTH".into());
    // A refused handler still holds its records at close: do not wait for them long.
    o.close_timeout = Duration::from_secs(1);
    NatsHandler::start(o).unwrap()
}

/// Emits `RECORDS` records and returns how many are still unacknowledged after `wait`.
fn unacked_after(h: &NatsHandler, wait: Duration) -> usize {
    let fmt = Formatter::default();
    for i in 0..RECORDS {
        let r = LogRecord::new("app", 20, "/srv/app.py", 1, format!("r{i}"));
        Emitter::emit(h, &r, &fmt).unwrap();
    }
    h.wait_acked(Some(wait))
}

/// Delivered: every record acknowledged by JetStream, none counted twice.
fn assert_delivered(h: &NatsHandler, what: &str) {
    assert_eq!(unacked_after(h, Duration::from_secs(20)), 0, "{what}");
    let stats = h.stats();
    assert_eq!(
        stats.acked - stats.duplicates,
        RECORDS as u64,
        "{what}: {stats:?}"
    );
    h.close();
}

/// Refused: nothing acknowledged within a few seconds (the handler keeps the records and
/// retries), and the handler's last error says why, containing `why` (async-nats reports a
/// failed TLS handshake only as an I/O error).
fn assert_refused(h: &NatsHandler, server: &NatsServer, what: &str, why: &str) {
    assert_eq!(
        unacked_after(h, Duration::from_secs(3)),
        RECORDS,
        "{what}: {:#?}",
        server.log()
    );
    assert_eq!(h.stats().acked, 0, "{what}");
    let error = h.last_error().unwrap_or_default();
    assert!(error.contains(why), "{what}: {error:?}");
    h.close();
}

fn tls_connect(
    url: &str,
    ca: Option<&PathBuf>,
    client: Option<(&PathBuf, &PathBuf)>,
) -> NatsConnect {
    let mut c = NatsConnect::new([url]);
    c.tls = true;
    c.tls_ca = ca.cloned();
    c.tls_client = client.map(|(cert, key)| (cert.clone(), key.clone()));
    c
}

/// A server with a certificate from a private CA that also verifies client certificates:
/// the handler with the CA and a client certificate from it publishes; without the CA (the
/// system roots do not know it), or with another CA's client certificate, it does not.
#[test]
fn mutual_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let server = NatsServer::start_with([
        "--tls".into(),
        "--tlscert".into(),
        pki.server_cert.clone().into_os_string(),
        "--tlskey".into(),
        pki.server_key.clone().into_os_string(),
        "--tlsverify".into(),
        "--tlscacert".into(),
        pki.ca.clone().into_os_string(),
    ]);
    let url = server.url();

    let good = handler(tls_connect(
        &url,
        Some(&pki.ca),
        Some((&pki.client_cert, &pki.client_key)),
    ));
    assert_delivered(&good, "CA and client certificate");

    let no_ca = handler(tls_connect(
        &url,
        None,
        Some((&pki.client_cert, &pki.client_key)),
    ));
    assert_refused(
        &no_ca,
        &server,
        "server certificate from an unknown CA",
        TLS,
    );

    let rogue = handler(tls_connect(
        &url,
        Some(&pki.ca),
        Some((&pki.rogue_cert, &pki.rogue_key)),
    ));
    assert_refused(&rogue, &server, "client certificate from another CA", TLS);

    let anonymous = handler(tls_connect(&url, Some(&pki.ca), None));
    assert_refused(&anonymous, &server, "no client certificate", TLS);
}

/// `--user`/`--pass` and `--auth`: the right pair or token publishes, a wrong one does not.
#[test]
fn user_password_and_token() {
    let server = NatsServer::start_with(["--user", "ops", "--pass", "s3cret"]);
    let with = |user: &str, pass: &str| {
        let mut c = NatsConnect::new([server.url()]);
        c.user_password = Some((user.into(), pass.into()));
        handler(c)
    };
    assert_delivered(&with("ops", "s3cret"), "right user and password");
    assert_refused(&with("ops", "guess"), &server, "wrong password", AUTH);

    let server = NatsServer::start_with(["--auth", "t0ken-for-logwire"]);
    let with = |token: &str| {
        let mut c = NatsConnect::new([server.url()]);
        c.token = Some(token.into());
        handler(c)
    };
    assert_delivered(&with("t0ken-for-logwire"), "right token");
    assert_refused(&with("other"), &server, "wrong token", AUTH);
}

/// A server whose only user is an nkey: the handler with that user's seed file publishes;
/// another user's seed does not.
#[test]
fn nkey_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let config = dir.path().join("nats.conf");
    std::fs::write(
        &config,
        format!(
            "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n",
            user.public_key()
        ),
    )
    .unwrap();
    let server = NatsServer::start_with([PathBuf::from("-c"), config]);
    let with = |pair: &nkeys::KeyPair, name: &str| {
        let seed = dir.path().join(name);
        std::fs::write(&seed, format!("{}\n", pair.seed().unwrap())).unwrap();
        let mut c = NatsConnect::new([server.url()]);
        c.nkey_file = Some(seed);
        handler(c)
    };
    assert_delivered(&with(&user, "user.nk"), "the configured nkey");
    assert_refused(
        &with(&stranger, "stranger.nk"),
        &server,
        "another nkey",
        AUTH,
    );
}

/// A NATS JWT: `claims` (with `iss`, `sub`, `iat` and `jti` added) signed by `issuer`, as
/// nsc writes them (header `ed25519-nkey`, base64url without padding).
fn jwt(issuer: &nkeys::KeyPair, subject: &str, mut claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let c = claims.as_object_mut().unwrap();
    c.insert("iss".into(), issuer.public_key().into());
    c.insert("sub".into(), subject.into());
    c.insert("iat".into(), now.into());
    c.insert("jti".into(), format!("{subject}{now}").into());
    let head = b64.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = b64.encode(serde_json::to_vec(&claims).unwrap());
    let signed = format!("{head}.{body}");
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64.encode(signature))
}

/// A `.creds` file's text, as nsc writes it.
fn creds(user_jwt: &str, user: &nkeys::KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().unwrap()
    )
}

/// A server in operator mode (an operator, its system account, one account with JetStream,
/// a memory resolver):
/// the handler with a `.creds` file of a user that account signed publishes; a user signed
/// by an account the server does not know, and a file with the right JWT but another seed,
/// are refused.
#[test]
fn creds_file_in_operator_mode() {
    let dir = tempfile::tempdir().unwrap();
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    // JetStream needs a system account in operator mode.
    let system = nkeys::KeyPair::new_account();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        serde_json::json!({"name": "logwire-test", "nats": {
            "system_account": system.public_key(), "type": "operator", "version": 2}}),
    );
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        serde_json::json!({"name": "SYS", "nats": {"type": "account", "version": 2}}),
    );
    let unlimited = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1,
        "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        serde_json::json!({"name": "APP", "nats": {
            "limits": unlimited, "type": "account", "version": 2}}),
    );
    let user_jwt = |signer: &nkeys::KeyPair, user: &nkeys::KeyPair| {
        jwt(
            signer,
            &user.public_key(),
            serde_json::json!({"name": "collector", "nats": {
                "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                "issuer_account": signer.public_key(), "type": "user", "version": 2}}),
        )
    };
    let config = dir.path().join("nats.conf");
    std::fs::write(
        &config,
        format!(
            "operator: {operator_jwt}\nsystem_account: {sys}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {sys}: {system_jwt}\n  {app}: {account_jwt}\n}}\n",
            sys = system.public_key(),
            app = account.public_key()
        ),
    )
    .unwrap();
    let server = NatsServer::start_with([PathBuf::from("-c"), config]);
    let with = |text: String, name: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let mut c = NatsConnect::new([server.url()]);
        c.creds_file = Some(file);
        handler(c)
    };

    let user = nkeys::KeyPair::new_user();
    let jwt_of_user = user_jwt(&account, &user);
    assert_delivered(
        &with(creds(&jwt_of_user, &user), "user.creds"),
        "a user of the configured account",
    );

    let stranger_account = nkeys::KeyPair::new_account();
    let stranger = nkeys::KeyPair::new_user();
    assert_refused(
        &with(
            creds(&user_jwt(&stranger_account, &stranger), &stranger),
            "stranger.creds",
        ),
        &server,
        "a user of an account the server does not know",
        AUTH,
    );
    let thief = nkeys::KeyPair::new_user();
    assert_refused(
        &with(creds(&jwt_of_user, &thief), "stolen.creds"),
        &server,
        "the user's JWT with another seed",
        AUTH,
    );
}
