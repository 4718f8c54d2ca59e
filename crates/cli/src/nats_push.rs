//! The NATS key-value forms of `send-config` and `serve --listen` (see `logwire_nats`'s
//! `config_kv` docs for the channel and the reply subject).
//!
//! `send-config FILE --to nats://HOST:PORT/BUCKET/KEY` signs the frame exactly as a socket
//! push (the frame comes from `send_config::run`), puts its body into the bucket, waits for
//! replies (`--expect N`, or the whole `--timeout`) and prints one line per listener:
//! `NAME: applied (seq S, revision R)` or `NAME: rejected (seq S, revision R): REASON`.
//! Exit status: 0 when at least one listener answered, every answer is applied and (with
//! `--expect`) N answered; 1 when a listener rejected; 2 when fewer than N answered (or none),
//! or NATS could not be reached.
//!
//! `serve --listen nats://…` watches each key through one gate: the socket listener's when
//! serve runs one too (one seq ratchet for both transports), else one built from the same
//! `--listen-*` flags. Events go to stderr as the socket listener's do.

use logwire_engine::LoggerTree;
use logwire_listener::{ConfigListener, ListenerEvent, ListenerHandle, ListenerOptions};
use logwire_nats::{KvConfigListener, KvListenerHandle, KvTarget, NatsConnect, push_config};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Whether `--to`/`--listen` names a NATS key-value target.
pub(crate) fn is_nats(to: &str) -> bool {
    to.starts_with("nats://") || to.starts_with("tls://")
}

/// What `send-config` passes on for a NATS target.
pub(crate) struct SendOptions {
    pub(crate) expect: Option<usize>,
    pub(crate) timeout: Duration,
    pub(crate) creds: Option<PathBuf>,
    pub(crate) tls_ca: Option<PathBuf>,
    pub(crate) tls_client: Option<(PathBuf, PathBuf)>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("logwire send-config: {msg}");
    ExitCode::from(2)
}

/// Pushes `frame` (length prefix and body, as `send_config` built it) to the bucket.
pub(crate) fn send(to: &str, frame: &[u8], o: SendOptions) -> ExitCode {
    let target: KvTarget = match to.parse() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    // The bucket holds the frame body; the length prefix is the socket's framing.
    let Some(body) = frame.get(4..) else {
        return fail("internal: a frame without its length prefix");
    };
    let mut connect = NatsConnect::default();
    connect.creds_file = o.creds;
    connect.tls_ca = o.tls_ca;
    connect.tls_client = o.tls_client;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let report = match runtime.block_on(push_config(
        &target,
        &connect,
        body.to_vec(),
        o.expect,
        o.timeout,
    )) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    for r in &report.replies {
        println!("{}", r.line());
    }
    let answered = report.replies.len();
    let rejected = report.replies.iter().filter(|r| !r.applied()).count();
    let missing = match o.expect {
        Some(n) if answered < n => Some(format!(
            "only {answered} of the {n} expected listeners answered within {:?}",
            o.timeout
        )),
        None if answered == 0 => Some(format!("no listener answered within {:?}", o.timeout)),
        _ => None,
    };
    eprintln!(
        "logwire send-config: revision {} of {target}: {answered} listener(s) answered, {} \
         applied, {rejected} rejected",
        report.revision,
        answered - rejected
    );
    if rejected > 0 {
        if let Some(m) = missing {
            eprintln!("logwire send-config: {m}");
        }
        return ExitCode::from(1);
    }
    match missing {
        Some(m) => fail(format!(
            "{m}. The config is stored (revision {}): a listener that is down applies it when it \
             next connects, if its seq is still the newest and it has not expired (--ttl)",
            report.revision
        )),
        None => ExitCode::SUCCESS,
    }
}

/// What `serve` passes on for its `--listen nats://…` targets.
pub(crate) struct ListenOptions<'a> {
    pub(crate) targets: Vec<KvTarget>,
    pub(crate) keys: &'a [PathBuf],
    pub(crate) state_dir: Option<&'a PathBuf>,
    pub(crate) audience: Option<&'a str>,
    pub(crate) file_root: Option<&'a PathBuf>,
    pub(crate) allow_destination: &'a [String],
    pub(crate) allow_unsigned: bool,
    pub(crate) flags: &'a NatsListenFlags,
}

/// `serve`'s flags for the NATS connection of `--listen nats://…`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct NatsListenFlags {
    /// A NATS credentials file (.creds) for --listen nats://… (user:password@ or token@ may
    /// also be given in the URL).
    #[arg(
        long = "listen-nats-creds",
        value_name = "FILE",
        help_heading = "Config listener"
    )]
    creds: Option<PathBuf>,
    /// Trust NATS servers whose certificate chains to this CA (PEM) for --listen nats://….
    #[arg(
        long = "listen-nats-tls-ca",
        value_name = "FILE",
        help_heading = "Config listener"
    )]
    tls_ca: Option<PathBuf>,
}

/// Starts one watcher per target, all through one gate (see the module docs).
pub(crate) fn start_listeners(
    o: ListenOptions<'_>,
    tree: &LoggerTree,
    socket: Option<&ListenerHandle>,
    pushes: Arc<crate::metrics::PushCounters>,
) -> Result<Vec<KvListenerHandle>, String> {
    if o.targets.is_empty() {
        return Ok(Vec::new());
    }
    let applier = match socket {
        // Its event callback already prints and counts what the gate decides.
        Some(h) => Arc::new(h.gate(o.audience)),
        None => {
            let mut options = ListenerOptions::new()
                .key_files(o.keys)
                .map_err(|e| e.to_string())?
                .allow_unsigned(o.allow_unsigned);
            if let Some(d) = o.state_dir {
                options = options.state_dir(d);
            }
            if let Some(a) = o.audience {
                options = options.audience(a);
            }
            if let Some(r) = o.file_root {
                options = options.file_root(r);
            }
            for d in o.allow_destination {
                options = options.allow_destination(
                    logwire_config::Destination::parse(d).map_err(|e| e.to_string())?,
                );
            }
            let applier = ConfigListener::new(tree.clone(), options)
                .keep_existing_loggers(true)
                .gate()
                .map_err(|e| e.to_string())?;
            Arc::new(applier)
        }
    };
    let shared_events = socket.is_some();
    let mut connect = NatsConnect::default();
    connect.creds_file = o.flags.creds.clone();
    connect.tls_ca = o.flags.tls_ca.clone();
    let mut handles = Vec::new();
    for target in o.targets {
        let label = target.to_string();
        let shown = label.clone();
        let pushes = Arc::clone(&pushes);
        let handle = KvConfigListener::with_applier(Arc::clone(&applier), target)
            .connect_with(connect.clone())
            .on_event(move |e| {
                use logwire_nats::KvEvent;
                // With a socket listener, its callback reported applied/rejected already.
                if shared_events && matches!(e, KvEvent::Applied { .. } | KvEvent::Rejected { .. })
                {
                    return;
                }
                match e {
                    KvEvent::Applied { seq, key_id, .. } => pushes.count(&ListenerEvent::Applied {
                        seq: *seq,
                        key_id: *key_id,
                        peer: label.clone(),
                    }),
                    KvEvent::Rejected { seq, reason, .. } => {
                        pushes.count(&ListenerEvent::Rejected {
                            seq: *seq,
                            reason: reason.clone(),
                            peer: label.clone(),
                        })
                    }
                    _ => {}
                }
                eprintln!("logwire config listener: {label}: {e}");
            })
            .start()
            .map_err(|e| e.to_string())?;
        eprintln!("config listener on {shown} (replies as {})", handle.name());
        handles.push(handle);
    }
    Ok(handles)
}
