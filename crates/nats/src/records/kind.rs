//! The registry kind `logwire.NATSHandler`.
//!
//! | parameter | meaning |
//! |---|---|
//! | `servers` (required) | a URL or a list of URLs (`nats://host:4222`, `tls://…`) |
//! | `subject` (required) | the subject, with `{name}`/`{levelname}` tokens (`logs.{levelname}.{name}`) |
//! | `stream` | created (file storage, the subject's filter) if missing |
//! | `credentials` | a NATS `.creds` file |
//! | `nkeyFile` | a file holding an nkey seed |
//! | `user`, `password` | user and password |
//! | `token` | a token |
//! | `tls` | require TLS |
//! | `tlsCa` | CA certificates (PEM) for the server |
//! | `tlsCert`, `tlsKey` | client certificate and key (PEM) |
//! | `buffer` | bytes of records waiting for JetStream before `emit` blocks (default 64 MiB) |
//! | `inFlight` | publishes awaiting their ack at once (default 4096) |
//! | `maxMessage` | largest record as JSON, in bytes (default 1 MiB, NATS's default) |
//! | `batch` | most unsigned records per message, one JSON object per line (default 256; 1: a message per record) |
//! | `closeTimeout` | seconds `close` waits for JetStream's acks before it reports what is left (default 10; a second signal to `serve` ends the wait at once) |
//!
//! Every server passes the content policy's destination check at prepare time, exactly as a
//! `SocketHandler`'s host and port do: a pushed configuration may only publish to loopback and
//! `--allow-host` servers (and the client never follows servers a cluster advertises). Files
//! (credentials, keys, certificates) are resolved under the policy (a pushed configuration
//! reads them only beneath its file root).

use super::publisher::{
    DEFAULT_BATCH_RECORDS, DEFAULT_BUFFER_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_MESSAGE,
    NatsHandler, NatsHandlerOptions,
};
use super::subject::SubjectTemplate;
use crate::NatsConnect;
use logwire_config::ConfigErrors;
use logwire_config::ConfigValue;
use logwire_config::{BoundArgs, BuildContext, HandlerKind, HandlerPlan, Param, PrepareContext};
use logwire_config::{HandlerRegistry, PlanError};
use logwire_engine::Emitter;

/// The class name configs use.
pub const HANDLER_CLASS: &str = "logwire.NATSHandler";

/// Most servers one handler may list.
const MAX_SERVERS: usize = 32;

/// Registers `logwire.NATSHandler`.
pub fn register(registry: &mut HandlerRegistry) {
    registry.register(HANDLER_CLASS, NatsKind);
}

struct NatsKind;

struct NatsPlan {
    options: NatsHandlerOptions,
}

const fn opt(name: &'static str) -> Param {
    Param::optional(name)
}

impl HandlerKind for NatsKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            Param::required("servers"),
            Param::required("subject"),
            opt("stream"),
            opt("credentials"),
            opt("nkeyFile"),
            opt("user"),
            opt("password"),
            opt("token"),
            opt("tls"),
            opt("tlsCa"),
            opt("tlsCert"),
            opt("tlsKey"),
            opt("buffer"),
            opt("inFlight"),
            opt("maxMessage"),
            opt("batch"),
            opt("closeTimeout"),
        ];
        P
    }

    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let before = errs.0.len();
        let servers: Vec<String> = match a.get("servers") {
            Some(ConfigValue::Str(s)) => vec![s.clone()],
            Some(ConfigValue::List(v) | ConfigValue::Tuple(v)) => v
                .iter()
                .filter_map(|v| match v {
                    ConfigValue::Str(s) => Some(s.clone()),
                    other => {
                        errs.push(
                            a.place_of("servers"),
                            format!("expected server URLs, found {}", other.type_name()),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                errs.push(
                    a.place_of("servers"),
                    format!(
                        "expected a URL or a list of URLs, found {}",
                        other.type_name()
                    ),
                );
                Vec::new()
            }
            None => Vec::new(),
        };
        if servers.len() > MAX_SERVERS {
            errs.push(
                a.place_of("servers"),
                format!("at most {MAX_SERVERS} servers"),
            );
        }
        let mut connect = NatsConnect::new(servers);
        match connect.host_ports() {
            Ok(hps) => {
                for (host, port) in hps {
                    if let Err(e) = ctx.policy.check_destination(&host, port) {
                        errs.push(a.place_of("servers"), e.to_string());
                    }
                }
            }
            Err(e) => errs.push(a.place_of("servers"), e.to_string()),
        }
        let subject = a
            .str("subject", errs)
            .and_then(|s| match SubjectTemplate::parse(&s) {
                Ok(t) => Some(t),
                Err(e) => {
                    errs.push(a.place_of("subject"), e.to_string());
                    None
                }
            });
        let stream = a.str("stream", errs);
        if let Some(s) = &stream
            && (s.is_empty()
                || s.len() > 64
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            errs.push(
                a.place_of("stream"),
                "a stream name is 1 to 64 letters, digits, '-' or '_'",
            );
        }
        if a.get("credentials").is_some() {
            connect.creds_file = ctx.file(a, "credentials", errs);
        }
        if a.get("nkeyFile").is_some() {
            connect.nkey_file = ctx.file(a, "nkeyFile", errs);
        }
        match (a.str("user", errs), a.str("password", errs)) {
            (Some(u), Some(p)) => connect.user_password = Some((u, p)),
            (None, None) => {}
            _ => errs.push(a.place_of("user"), "user and password go together"),
        }
        connect.token = a.str("token", errs);
        connect.tls = a.bool("tls", errs).unwrap_or(false);
        if a.get("tlsCa").is_some() {
            connect.tls_ca = ctx.file(a, "tlsCa", errs);
        }
        match (a.get("tlsCert").is_some(), a.get("tlsKey").is_some()) {
            (true, true) => {
                let cert = ctx.file(a, "tlsCert", errs);
                let key = ctx.file(a, "tlsKey", errs);
                connect.tls_client = cert.zip(key);
            }
            (false, false) => {}
            _ => errs.push(a.place_of("tlsCert"), "tlsCert and tlsKey go together"),
        }
        let buffer = a
            .int("buffer", 64 * 1024, 1 << 34, errs)
            .map_or(DEFAULT_BUFFER_BYTES, |n| n as usize);
        let in_flight = a
            .int("inFlight", 1, 65_536, errs)
            .map_or(DEFAULT_MAX_IN_FLIGHT, |n| n as usize);
        let max_message = a
            .int("maxMessage", 1024, 64 << 20, errs)
            .map_or(DEFAULT_MAX_MESSAGE, |n| n as usize);
        let batch = a
            .int("batch", 1, 4096, errs)
            .map_or(DEFAULT_BATCH_RECORDS, |n| n as usize);
        let close_timeout = a.int("closeTimeout", 0, 86_400, errs);
        if errs.0.len() > before {
            return None;
        }
        let mut options = NatsHandlerOptions::new(connect, subject?);
        options.stream = stream;
        options.buffer_bytes = buffer.max(max_message);
        options.max_in_flight = in_flight;
        options.max_message = max_message;
        options.batch_records = batch;
        if let Some(secs) = close_timeout {
            options.close_timeout = std::time::Duration::from_secs(secs as u64);
        }
        Some(Box::new(NatsPlan { options }))
    }
}

impl HandlerPlan for NatsPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        NatsHandler::start(self.options.clone())
            .map(|h| Box::new(h) as Box<dyn Emitter>)
            .map_err(PlanError::kind)
    }
}
