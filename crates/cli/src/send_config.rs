//! `logwire send-config`: push a config to a config listener, signed (`LWC1`) or plain,
//! and report the listener's reply.
//!
//! Exit status: 0 applied, 1 rejected (the reason is printed), 2 the listener could not be
//! reached or gave no reply (CPython's `logging.config.listen()` never replies), refused the
//! TLS connection, or the file or key could not be read.
//!
//! Signing, framing, connecting and reading the reply are the listener crate's push client
//! ([`PushClient`]); this is the command line around it. With `--tls-ca` the frame goes
//! over TLS ([`TlsClient`]): the listener's certificate must
//! chain to that CA and name the `--to` host (or `--tls-server-name`), and `--tls-cert` /
//! `--tls-key` are the client certificate a mutual-TLS listener asks for. TLS failures are
//! explained (no client certificate, untrusted certificate, plain TCP to a TLS port).

use logwire_listener::{
    PushClient, PushError, SignOptions, TlsClient, TlsFailure, plain_push_frame, signed_push_frame,
};
use logwire_wire::{ConfigReply, ConfigStatus, SigningKey};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Largest config file sent (the listener's default cap is 1 MiB).
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Arguments of `logwire send-config`.
#[derive(clap::Args, Debug)]
#[command(after_help = SEND_CONFIG_EXAMPLES)]
pub(crate) struct SendConfigArgs {
    /// The config to send: a dictConfig JSON document or a fileConfig INI file, sent as is.
    /// A push carries JSON or INI (what logging.config.listen reads), so a YAML (.yaml/.yml)
    /// or TOML (.toml) dictConfig is converted to JSON first, keys in document order.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where the listener is: HOST:PORT, or unix:PATH for a Unix socket; or
    /// nats://HOST:PORT/BUCKET/KEY (tls:// for TLS) to put the signed config into a JetStream
    /// key-value bucket that every `serve --listen nats://…` watching that key applies.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9030")]
    to: String,
    /// With a nats:// target: wait for this many listeners' replies (at most --timeout);
    /// exit 2 when fewer answer. Without it, replies are collected for the whole --timeout.
    #[arg(long, value_name = "N", help_heading = "NATS key-value")]
    expect: Option<usize>,
    /// With a nats:// target: a NATS credentials file (.creds). --tls-ca/--tls-cert/--tls-key
    /// then apply to the NATS connection.
    #[arg(
        long = "nats-creds",
        value_name = "FILE",
        help_heading = "NATS key-value"
    )]
    nats_creds: Option<PathBuf>,
    /// Signing key file: `ed25519-private:` (from `logwire keygen --ed25519`) or `hmac:`.
    #[arg(long, value_name = "KEYFILE", required_unless_present = "unsigned")]
    key: Option<PathBuf>,
    /// Sequence number; must exceed the last one the listener applied for this key.
    /// Default: the current Unix time in milliseconds.
    #[arg(long, value_name = "N")]
    seq: Option<u64>,
    /// Seconds the signed config stays valid (at most 7 days).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    ttl: u64,
    /// Address the config to listeners configured with this audience name only.
    #[arg(long, value_name = "NAME")]
    audience: Option<String>,
    /// Send a plain, unsigned frame (what CPython's cookbook sender does). Only listeners
    /// that allow unsigned configs accept it.
    #[arg(long, conflicts_with = "key")]
    unsigned: bool,
    /// Seconds to wait for the connection and for the reply.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
    /// Send over TLS, trusting listener certificates signed by this CA (PEM bundle). For
    /// listeners started with `serve --listen-tls-cert`.
    #[arg(long = "tls-ca", value_name = "FILE", help_heading = "TLS")]
    tls_ca: Option<PathBuf>,
    /// This sender's certificate (PEM chain), which a mutual-TLS listener requires; it must
    /// be signed by the listener's --listen-tls-client-ca.
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        requires_all = ["tls_key", "tls_ca"],
        help_heading = "TLS"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long = "tls-key",
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "TLS"
    )]
    tls_key: Option<PathBuf>,
    /// The name the listener's certificate must carry (DNS name or IP address). Default: the
    /// host of --to.
    #[arg(
        long = "tls-server-name",
        value_name = "NAME",
        requires = "tls_ca",
        help_heading = "TLS"
    )]
    tls_server_name: Option<String>,
}

const SEND_CONFIG_EXAMPLES: &str = "\
Examples:
  # Make a key pair once; give the .pub file to the listeners (--listen-key)
  logwire keygen --ed25519 ops
  # Push a signed dictConfig to a listener on this host
  logwire send-config logging.json --to 127.0.0.1:9030 --key ops.key
  # Only for listeners of the audience 'payments-prod', valid for one minute
  logwire send-config logging.json --to 10.0.0.5:9030 --key ops.key --audience payments-prod --ttl 60
  # A Unix socket listener, and an INI (fileConfig) document
  logwire send-config logging.ini --to unix:/run/app/logconf.sock --key ops.key
  # Unsigned, exactly as CPython's logging cookbook sends (listener must allow it)
  logwire send-config logging.json --to 127.0.0.1:9030 --unsigned
  # Over mutual TLS (listener: serve --listen-tls-cert/--listen-tls-key/--listen-tls-client-ca)
  logwire send-config logging.json --to logs.example.net:9030 --key ops.key \\
    --tls-ca listener-ca.pem --tls-cert me.pem --tls-key me.key
  # Every listener watching a JetStream key-value key (serve --listen nats://…); wait for 3
  logwire send-config logging.json --to nats://127.0.0.1:4222/logconf/payments --key ops.key \\
    --audience payments-prod --ttl 86400 --expect 3

The listener answers {\"status\": \"applied\"|\"rejected\", \"reason\": ..., \"seq\": n}.
Exit status: 0 applied, 1 rejected (reason printed), 2 unreachable or no reply. CPython's own
logging.config.listen() never replies: against it you get exit 2 and a note saying so, even
when it applied the config. To sign for a CPython listener, use logwire_helper.config.verifier
as its verify= function.

With --to nats://HOST:PORT/BUCKET/KEY the frame is stored as the key's next revision (bucket
created if missing: file storage, 5 revisions, 1 MiB values). Each listener answers on
logwire.config.reply.BUCKET.KEY; one line per listener is printed, NAME: applied|rejected
(seq, revision): reason. Exit status: 0 all applied (and --expect N answered), 1 a listener
rejected, 2 fewer than --expect (or none) answered within --timeout, or NATS unreachable.
A listener that starts later applies the latest revision while it is valid: use a --ttl
long enough for that (at most 7 days).";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("logwire send-config: {msg}");
    ExitCode::from(2)
}

pub(crate) fn run(args: SendConfigArgs) -> ExitCode {
    let payload = match read_bounded(&args.file) {
        Ok(p) => p,
        Err(e) => return fail(format!("{}: {e}", args.file.display())),
    };
    let payload = match logwire_config::SourceFormat::for_path(&args.file) {
        format @ (logwire_config::SourceFormat::Yaml | logwire_config::SourceFormat::Toml) => {
            match to_json(&payload, format) {
                Ok(json) => json.into_bytes(),
                Err(e) => return fail(format!("{}: {e}", args.file.display())),
            }
        }
        _ => payload,
    };
    let frame = if args.unsigned {
        plain_push_frame(&payload)
    } else {
        let Some(key_path) = &args.key else {
            return fail("--key is required (or --unsigned)");
        };
        let key = match SigningKey::load(key_path) {
            Ok(k) => k,
            Err(e) => return fail(format!("{}: {e}", key_path.display())),
        };
        let mut sign = SignOptions::new().ttl(Duration::from_secs(args.ttl));
        if let Some(seq) = args.seq {
            sign = sign.seq(seq);
        }
        if let Some(audience) = &args.audience {
            sign = sign.audience(audience.clone());
        }
        signed_push_frame(&key, &payload, &sign)
    };
    let frame = match frame {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    if crate::nats_push::is_nats(&args.to) {
        let tls_client = args.tls_cert.clone().zip(args.tls_key.clone());
        let (creds, tls_ca, expect) = (args.nats_creds.clone(), args.tls_ca.clone(), args.expect);
        let o = crate::nats_push::SendOptions {
            expect,
            timeout,
            creds,
            tls_ca,
            tls_client,
        };
        return crate::nats_push::send(&args.to, &frame, o);
    } else if args.expect.is_some() || args.nats_creds.is_some() {
        return fail("--expect and --nats-creds are for --to nats://HOST:PORT/BUCKET/KEY");
    }
    let mut client = PushClient::new(&args.to).timeout(timeout);
    if let Some(ca) = &args.tls_ca {
        let identity = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        match TlsClient::from_pem_files(ca, identity) {
            Ok(t) => client = client.tls(t, args.tls_server_name.clone()),
            Err(e) => return fail(format!("TLS: {e}")),
        }
    }
    match client.push(&frame) {
        Ok(reply) => {
            print_reply(&reply);
            match reply.status {
                ConfigStatus::Applied => ExitCode::SUCCESS,
                ConfigStatus::Rejected => ExitCode::from(1),
            }
        }
        Err(e) => fail(explain(&args.to, args.tls_ca.is_some(), &e)),
    }
}

/// What to tell the operator about a push that got no reply: the error, and what to change
/// when the cause is a common one.
fn explain(to: &str, tls: bool, err: &PushError) -> String {
    match err {
        PushError::TlsNeedsTcp { .. } => {
            "--tls-ca needs a HOST:PORT --to (Unix sockets are plain)".to_owned()
        }
        PushError::Tls {
            server_name,
            source,
            ..
        } => explain_tls(to, source.failure(), source, server_name),
        // Under TLS a refused client certificate shows on the first read.
        PushError::Reply { source, .. } if tls => explain_tls(
            to,
            err.tls_failure().unwrap_or(TlsFailure::Other),
            source,
            "",
        ),
        PushError::NoReply { .. } => format!(
            "{err}. If it is CPython's logging.config.listen(), that is normal: it never \
             replies, so whether the config was applied is unknown (look at the listener's \
             stderr)"
        ),
        PushError::SpeaksTls { .. } => {
            format!("{err}: give --tls-ca (and --tls-cert/--tls-key for a mutual-TLS listener)")
        }
        _ => err.to_string(),
    }
}

/// A TLS failure, with what to do about it when the cause is a common one.
fn explain_tls(
    to: &str,
    failure: TlsFailure,
    err: &dyn std::fmt::Display,
    server_name: &str,
) -> String {
    let hint = match failure {
        TlsFailure::ClientCertificateRequired => {
            "the listener requires a client certificate: give --tls-cert and --tls-key (signed \
             by the listener's --listen-tls-client-ca)"
        }
        TlsFailure::ClientCertificateUntrusted => {
            "the listener does not trust this client certificate (it is not signed by the \
             listener's --listen-tls-client-ca)"
        }
        TlsFailure::ServerNameMismatch => {
            "the listener's certificate does not name the host in --to: use --tls-server-name \
             with a name it carries"
        }
        TlsFailure::ServerUntrusted => "the listener's certificate is not signed by --tls-ca",
        TlsFailure::NotTls => "the listener does not speak TLS here (drop --tls-ca)",
        _ => "the TLS connection failed",
    };
    let name = if server_name.is_empty() {
        String::new()
    } else {
        format!(" as {server_name}")
    };
    format!("TLS with the listener at {to}{name} failed: {hint} ({err})")
}

fn print_reply(reply: &ConfigReply) {
    match reply.status {
        ConfigStatus::Applied if reply.reason.is_empty() => println!("applied (seq {})", reply.seq),
        ConfigStatus::Applied => println!("applied (seq {}): {}", reply.seq, reply.reason),
        ConfigStatus::Rejected => println!("rejected (seq {}): {}", reply.seq, reply.reason),
    }
}

/// A YAML or TOML dictConfig as the JSON document a push carries (the listener, like
/// CPython's, reads JSON or INI). Read into the config crate's strict document tree first,
/// so duplicate keys are an error here as they would be in `serve --config`.
fn to_json(bytes: &[u8], format: logwire_config::SourceFormat) -> Result<String, String> {
    use logwire_config::DocValue;
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    let doc: DocValue = match format {
        logwire_config::SourceFormat::Toml => {
            toml::from_str(text).map_err(|e| format!("not valid TOML: {}", first_line(&e)))?
        }
        _ => serde_saphyr::from_str(text)
            .map_err(|e| format!("not valid YAML: {}", first_line(&e)))?,
    };
    fn write(v: &DocValue, out: &mut String) -> Result<(), String> {
        match v {
            DocValue::Null => out.push_str("null"),
            DocValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            DocValue::Int(i) => out.push_str(&i.to_string()),
            DocValue::Float(f) if f.is_finite() => {
                out.push_str(&serde_json::to_string(f).map_err(|e| e.to_string())?)
            }
            DocValue::Float(f) => {
                return Err(format!("{f} has no JSON form, so it cannot be pushed"));
            }
            DocValue::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
            DocValue::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out)?;
                }
                out.push(']');
            }
            DocValue::Map(entries) => {
                out.push('{');
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    out.push_str(": ");
                    write(item, out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }
    let mut out = String::with_capacity(text.len());
    write(&doc, &mut out)?;
    if !out.starts_with('{') {
        return Err(format!(
            "holds {}, not a dictConfig mapping",
            doc.type_name()
        ));
    }
    Ok(out)
}

/// The first line of a parser's error: the sentence, without the source snippet under it.
fn first_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.trim_start_matches("error: ").to_owned()
}

fn read_bounded(path: &PathBuf) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(buf)
}
