//! `logwire serve`: a collector for CPython `SocketHandler`/`DatagramHandler` traffic.
//!
//! Binds the listeners, routes records through a logger tree (stdout by default, or a
//! `--config` file), prints `listening on <addr>` lines on stderr, and runs until SIGTERM or
//! SIGINT (stop accepting, drain, flush, exit 0). SIGHUP reloads `--config` atomically: a bad
//! file keeps the old routing and says why on stderr.
//!
//! The default stdout output (one line per record, naming the sender's address, which the
//! receiver puts in the record's `peer` extra, replacing any the sender set; or `--format`'s
//! line) escapes control characters in every field (a `\n` in a remote message cannot forge a
//! line, ESC cannot drive the terminal) and indents traceback and stack lines with `  | `, so
//! every line that starts in column 0 is a real record. `--json` writes one object per
//! record, with the characters JSON leaves raw written as `\u` escapes. With
//! `--config`, records are formatted exactly as the configured formatters say (CPython's
//! behaviour, no escaping).
//!
//! Under systemd (`examples/systemd/`), serve takes every socket systemd bound for it
//! (`LISTEN_FDS` for this `LISTEN_PID`, socket activation), told apart by
//! `FileDescriptorName=` (`LISTEN_FDNAMES`): `config` is a config listener socket (TCP or
//! Unix stream), `metrics` the metrics endpoint (TCP), any other name a record socket (TCP,
//! UDP, Unix stream and datagram). It says `READY=1` once every listener is bound,
//! `RELOADING=1` around a SIGHUP reload and `STOPPING=1` when it starts to drain
//! (`NOTIFY_SOCKET`; the `--stats` line goes to `STATUS=`), and with `WATCHDOG_USEC` it
//! pings `WATCHDOG=1` every half interval while the collector is alive (see `watchdog`).
//! Without those variables none of this happens.
//!
//! When the default printer's stdout is closed by its reader (`logwire serve | head -1`),
//! serve stops as a Unix tool does on `SIGPIPE`: no error per record, the records it could
//! not write counted `dropped` (never `stored`) on the final stderr line, exit status 141
//! (128 + SIGPIPE, what the shell reports for a tool killed by it). `disable_existing_loggers` does not apply to the loggers remote
//! record names created (see `load_config`).

use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions, escape_control};
use logwire_config::{ConfigErrors, ContentPolicy, SourceFormat};
use logwire_engine::{Emitter, Formatter, Handler, HandlerError, LogRecord, LoggerTree, Style};
use logwire_wire::{KeyRing, VerifyKey};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Exit status when stdout was closed by its reader: 128 + SIGPIPE, as the shell reports a
/// tool that `SIGPIPE` ended.
const EXIT_STDOUT_CLOSED: u8 = 141;

/// The default stdout format: `peer` is the sender's address (see [`PEER_FIELD`]).
const DEFAULT_FORMAT: &str = "%(asctime)s %(peer)s %(levelname)-8s %(name)s: %(message)s";

/// The extra field the receiver fills with the sender's address for the stdout printer
/// (`ReceiverOptions::peer_field`): `127.0.0.1:40312`, `unix:/run/app/log.sock`.
const PEER_FIELD: &str = "peer";

/// Arguments of `logwire serve`.
#[derive(clap::Args, Debug)]
#[command(after_help = SERVE_EXAMPLES)]
pub(crate) struct ServeArgs {
    /// Receive SocketHandler frames on this TCP address (repeatable; IPv6 in brackets: `[::1]:9020`).
    /// Any listener flag replaces the defaults (tcp 127.0.0.1:9020 and udp 127.0.0.1:9021).
    #[arg(long, value_name = "ADDR")]
    tcp: Vec<SocketAddr>,
    /// Receive DatagramHandler datagrams on this UDP address (repeatable).
    #[arg(long, value_name = "ADDR")]
    udp: Vec<SocketAddr>,
    /// Receive on a Unix stream socket, for SocketHandler(path, None) (repeatable).
    #[arg(long, value_name = "PATH")]
    unix: Vec<PathBuf>,
    /// Receive on a Unix datagram socket, for DatagramHandler(path, None) (repeatable).
    #[arg(long = "unix-dgram", value_name = "PATH")]
    unix_dgram: Vec<PathBuf>,
    /// Route records with this dictConfig (.json/.yaml/.toml) or fileConfig (.ini) file
    /// instead of printing them; reloaded on SIGHUP.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print records with this %-style format instead of the default line (as a config's
    /// formatter: `%(asctime)s`, `%(levelname)s`, `%(name)s`, `%(message)s`, `%(peer)s` for
    /// the sender's address, any extra field). Control characters are escaped as in the
    /// default line.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["config", "json"])]
    format: Option<String>,
    /// Print one JSON object per record (created, asctime, levelname, name, message, peer,
    /// pathname, lineno, funcName, process, thread names, exc_text, stack_info, extra).
    /// Control characters that JSON leaves raw (DEL, C1, line separators, bidi overrides)
    /// are written as \u escapes, so a reader gets the exact text and a terminal is safe.
    #[arg(long, conflicts_with = "config")]
    json: bool,
    /// HMAC key file (`hmac:<base64>`) for signed LWR1 records (repeatable). With keys,
    /// unsigned frames are rejected unless --allow-unsigned.
    #[arg(long = "record-key", value_name = "FILE")]
    record_key: Vec<PathBuf>,
    /// Accept plain (unsigned) frames even though --record-key is given.
    #[arg(long)]
    allow_unsigned: bool,
    /// Keep the replay journal of signed records here (created 0700), so that after a
    /// restart, even after kill -9, a record the sender resends is stored once. Defaults to
    /// --state-dir when that is given; without either, records stored but not yet
    /// acknowledged when serve stops are stored again when resent.
    #[arg(long = "record-state-dir", value_name = "DIR")]
    record_state_dir: Option<PathBuf>,
    /// Print a line of counters on stderr every N seconds (records/s, rejects by reason,
    /// drops).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "10")]
    stats: Option<u64>,
    /// How long stopping (SIGTERM, SIGINT) may wait for the outputs to take every record
    /// already received before they are closed: an output that cannot deliver (a
    /// logwire.NATSHandler while NATS is unreachable) then reports what it still held, and
    /// signed senders get no ack for it (they resend to the next collector). A second signal,
    /// during the drain or while the outputs close, closes them at once (a NATSHandler stops
    /// waiting for JetStream's acks).
    #[arg(long = "drain-timeout", value_name = "SECONDS", default_value_t = 30)]
    drain_timeout: u64,
    /// Largest frame accepted, in bytes; a larger frame is skipped and counted too_large (the
    /// connection is closed once it has skipped 64 MiB, or on a larger length prefix).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_frame: usize,
    /// Stream connections open at once. At the cap, a connection that has not sent a
    /// complete frame is shed to make room; with none, the new one is refused (counted).
    /// Default: the open-file limit (raised to its hard limit at start) less 256, at most
    /// 65 536.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Stream connections open at once from one remote IP address (0: no limit); loopback
    /// and Unix-socket peers are exempt, since every local process shares their address.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections_per_peer: usize,
    /// Close a connection silent this many seconds between frames (0, the default: never).
    /// CPython keeps its connection for the life of the process and learns of a close only
    /// when a later send fails, losing that record; TCP keepalive finds dead peers instead.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    idle_timeout: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (and a liveness check at /health):
    /// records received, stored, rejected by reason, queue depth, outputs, config pushes.
    /// `logwire top ADDR` shows them live.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Do not log rejected frames on stderr (they are still counted).
    #[arg(long)]
    quiet_rejects: bool,

    // ---- config listener flags (see `start_config_listener` at the end of this file) ----
    /// Also run a config listener (CPython's logging.config.listen, made safe) on this TCP
    /// address, or on a Unix socket with `unix:PATH`; pushed configs replace the routing
    /// (repeatable; CPython's port is 9030). It serves 64 connections at once: when they are
    /// all taken, one that has sent nothing is shed for a newcomer, and known peers (Unix uid,
    /// verified TLS client certificate) have 8 more slots. nats://HOST:PORT/BUCKET/KEY
    /// (tls:// for TLS) watches that JetStream key-value key instead and applies every new
    /// revision through the same checks (send-config --to nats://…).
    #[arg(long = "listen", value_name = "ADDR|unix:PATH|nats://HOST:PORT/BUCKET/KEY", value_parser = parse_listen_target, help_heading = "Config listener")]
    listen: Vec<ListenTarget>,
    /// Config listener on a Unix socket (0600; without keys the directory must be yours).
    #[arg(
        long = "listen-unix",
        value_name = "PATH",
        help_heading = "Config listener"
    )]
    listen_unix: Vec<PathBuf>,
    /// Key allowed to sign pushed configs: ed25519-public (.pub) or hmac (repeatable).
    #[arg(
        long = "listen-key",
        visible_alias = "verify-key",
        value_name = "FILE",
        help_heading = "Config listener"
    )]
    listen_key: Vec<PathBuf>,
    /// Where the per-key seq ratchet is kept (required with --listen-key).
    #[arg(
        long = "listen-state-dir",
        visible_alias = "state-dir",
        value_name = "DIR",
        help_heading = "Config listener"
    )]
    listen_state_dir: Option<PathBuf>,
    /// This listener's audience name (configs for other audiences are rejected).
    #[arg(
        long = "listen-audience",
        visible_alias = "audience",
        value_name = "NAME",
        help_heading = "Config listener"
    )]
    listen_audience: Option<String>,
    /// Pushed file handlers may only write beneath this directory. Every open, rename and
    /// unlink they make is resolved from a handle of it at that moment, following no symlink;
    /// only regular files with one link are written. Must not contain, nor lie inside, the
    /// state directories.
    #[arg(
        long = "listen-file-root",
        visible_alias = "file-root",
        value_name = "DIR",
        help_heading = "Config listener"
    )]
    listen_file_root: Option<PathBuf>,
    /// A HOST:PORT pushed network handlers may send to, besides loopback (repeatable).
    #[arg(
        long = "listen-allow-destination",
        visible_alias = "allow-host",
        value_name = "HOST:PORT",
        help_heading = "Config listener"
    )]
    listen_allow_destination: Vec<String>,
    /// Accept unsigned configs (anyone who can connect can then reconfigure logging).
    #[arg(long = "listen-allow-unsigned", help_heading = "Config listener")]
    listen_allow_unsigned: bool,
    /// Speak TLS on the --listen TCP addresses with this certificate chain (PEM, the
    /// listener's own certificate first). Needs --listen-tls-key and --listen-tls-client-ca:
    /// TLS here always means mutual TLS, every sender must present a client certificate.
    /// Configs inside TLS are still checked against --listen-key (signature, seq, expiry).
    #[arg(
        long = "listen-tls-cert",
        value_name = "FILE",
        requires_all = ["listen_tls_key", "listen_tls_client_ca"],
        help_heading = "Config listener"
    )]
    listen_tls_cert: Option<PathBuf>,
    /// The private key of --listen-tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long = "listen-tls-key",
        value_name = "FILE",
        requires = "listen_tls_cert",
        help_heading = "Config listener"
    )]
    listen_tls_key: Option<PathBuf>,
    /// CA certificates (PEM bundle) that sender certificates must chain to; a sender with no
    /// certificate, or one from another CA, is refused in the handshake.
    #[arg(
        long = "listen-tls-client-ca",
        value_name = "FILE",
        requires = "listen_tls_cert",
        help_heading = "Config listener"
    )]
    listen_tls_client_ca: Option<PathBuf>,
    #[command(flatten)]
    listen_nats: crate::nats_push::NatsListenFlags,
    #[command(flatten)]
    nats: crate::nats_source::NatsSourceArgs,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  # Print what Python programs send (defaults: tcp 127.0.0.1:9020, udp 127.0.0.1:9021)
  logwire serve

  # The one-liner Python sender (one line: a line break inside the quotes would be an
  # IndentationError when pasted):
  python3 -c 'import logging, logging.handlers as h; l = logging.getLogger(\"app\"); l.addHandler(h.SocketHandler(\"127.0.0.1\", 9020)); l.warning(\"hello from %s\", \"python\")'

  # Your own line, or one JSON object per record (peer: the sender's address)
  logwire serve --format '%(created)f %(peer)s %(name)s %(levelname)s %(message)s'
  logwire serve --json | jq -r 'select(.levelno >= 40) | .message'

  # Route records with a dictConfig (files, rotation, levels); `kill -HUP` reloads it
  logwire serve --config collector.json --stats

  # Only signed records (see python/logwire_helper: SignedSocketHandler)
  logwire serve --record-key sender.key

  # Also accept signed routing configs (logwire keygen --ed25519 ops; logwire send-config)
  logwire serve --listen 127.0.0.1:9030 --listen-key ops.pub --listen-state-dir /var/lib/logwire

  # Watch a JetStream key-value key: one send-config --to nats://… reaches every such listener
  logwire serve --listen nats://127.0.0.1:4222/logconf/payments --listen-key ops.pub \\
    --listen-state-dir /var/lib/logwire --listen-audience payments-prod

  # Store a JetStream stream's records (fed by logwire.NATSHandler on many collectors) once each
  logwire serve --config store.json --nats-source nats://127.0.0.1:4222 --nats-stream LOGS \\
    --nats-durable store --record-state-dir /var/lib/logwire

  # Publish to JetStream (a logwire.NATSHandler in nats.json); a stop while NATS is away gives
  # up after 10 s instead of 30, and signed senders keep what was not delivered
  logwire serve --config nats.json --record-key sender.key --drain-timeout 10

  # The same over mutual TLS (senders: send-config --tls-ca ca.pem --tls-cert ... --tls-key ...)
  logwire serve --listen 0.0.0.0:9030 --listen-key ops.pub --listen-state-dir /var/lib/logwire \\
    --listen-tls-cert server.pem --listen-tls-key server.key --listen-tls-client-ca clients-ca.pem

  # Prometheus metrics at http://127.0.0.1:9102/metrics (watch them: logwire top 127.0.0.1:9102)
  logwire serve --metrics 127.0.0.1:9102

  # Under systemd (examples/systemd/): Type=notify readiness, sockets from logwire.socket
  systemctl enable --now logwire.socket

  # Unix sockets (SocketHandler(path, None) / DatagramHandler(path, None)) and IPv6
  logwire serve --unix /run/app/log.sock --unix-dgram /run/app/log.dgram --tcp [::1]:9020

Nothing received is ever unpickled: pickles are parsed as data (a REDUCE or GLOBAL becomes an
inert placeholder such as <datetime.datetime>), frames are capped and time-limited, and rejected
frames are counted by reason (--stats). A record's msg is never %-formatted again with args.";

pub(crate) fn run(args: ServeArgs) -> ExitCode {
    // Before the runtime's threads exist: taking the sockets clears LISTEN_FDS/LISTEN_PID
    // from the environment (so that children do not take them), which is only sound while
    // this process has one thread.
    let systemd = match systemd_sockets() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("logwire serve: {e}");
            return ExitCode::from(2);
        }
    };
    // One core is left to the collector's dispatcher, a thread of its own that every record
    // passes through: with a worker per core, 64 busy connections kept both workers reading
    // and the dispatcher was preempted (fan-in 0.80x the one-connection rate on 2 vCPUs;
    // 0.82-0.89x, and one connection 2.6 -> 2.7-3.1 M records/s, with one worker; see
    // crates/bench/README-receive.md round 13).
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cores - 1).max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("logwire serve: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(args, systemd))
}

async fn serve(args: ServeArgs, systemd: SystemdSockets) -> ExitCode {
    let SystemdSockets {
        records: inherited,
        config: config_sockets,
        metrics: metrics_socket,
    } = systemd;
    let open_files = raise_open_file_limit();
    let max_connections = args
        .max_connections
        .unwrap_or_else(|| connection_cap(open_files))
        .max(1);
    let mut keys = KeyRing::new();
    for path in &args.record_key {
        match VerifyKey::load(path) {
            Ok(k) => {
                keys.insert(k);
            }
            Err(e) => {
                eprintln!("logwire serve: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let tree = LoggerTree::new();
    let stdout_closed = StdoutClosed::default();
    match &args.config {
        Some(path) => {
            if let Err(e) = load_config(&tree, path) {
                eprintln!("logwire serve: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
        None => {
            let output = if args.json {
                Output::Json
            } else {
                let format = args.format.as_deref().unwrap_or(DEFAULT_FORMAT);
                match Formatter::new(Some(format), None, Style::Percent, true, Vec::new()) {
                    Ok(f) => Output::Line(f),
                    Err(e) => {
                        eprintln!(
                            "logwire serve: --format '{format}' is not a valid %-style format: {e}"
                        );
                        return ExitCode::from(2);
                    }
                }
            };
            install_stdout(&tree, stdout_closed.clone(), output);
        }
    }
    // Bound before the collector starts, so that a taken port stops serve before any record
    // is accepted.
    let metrics_listener = match (args.metrics, metrics_socket) {
        (Some(addr), Some(_)) => {
            eprintln!(
                "logwire serve: --metrics {addr} and a socket named \"{FDNAME_METRICS}\" from systemd: give one"
            );
            return ExitCode::from(2);
        }
        (None, Some(socket)) => match socket
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(socket))
        {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("logwire serve: cannot serve metrics on the socket systemd passed: {e}");
                return ExitCode::from(2);
            }
        },
        (Some(addr), None) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("logwire serve: cannot serve metrics on {addr}: {e}");
                return ExitCode::from(2);
            }
        },
        (None, None) => None,
    };
    let pushes = Arc::new(crate::metrics::PushCounters::default());
    // ---- config listener (optional; see `start_config_listener`) ----
    let config_listener =
        match start_config_listener(&args, &tree, Arc::clone(&pushes), config_sockets) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("logwire serve: config listener: {e}");
                return ExitCode::from(2);
            }
        };
    let nats = crate::nats_push::ListenOptions {
        targets: args
            .listen
            .iter()
            .filter_map(|a| match a {
                ListenTarget::Nats(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
        keys: &args.listen_key,
        state_dir: args.listen_state_dir.as_ref(),
        audience: args.listen_audience.as_deref(),
        file_root: args.listen_file_root.as_ref(),
        allow_destination: &args.listen_allow_destination,
        allow_unsigned: args.listen_allow_unsigned,
        flags: &args.listen_nats,
    };
    let nats_listeners = match crate::nats_push::start_listeners(
        nats,
        &tree,
        config_listener.as_ref(),
        Arc::clone(&pushes),
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("logwire serve: config listener: {e}");
            return ExitCode::from(2);
        }
    };
    let mut addrs: Vec<ListenAddr> = Vec::new();
    addrs.extend(args.tcp.iter().copied().map(ListenAddr::Tcp));
    addrs.extend(args.udp.iter().copied().map(ListenAddr::Udp));
    addrs.extend(args.unix.iter().cloned().map(ListenAddr::Unix));
    addrs.extend(
        args.unix_dgram
            .iter()
            .cloned()
            .map(ListenAddr::UnixDatagram),
    );
    if addrs.is_empty() && inherited.is_empty() {
        addrs.push(ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 9020))));
        addrs.push(ListenAddr::Udp(SocketAddr::from(([127, 0, 0, 1], 9021))));
    }
    let record_state_dir = args
        .record_state_dir
        .clone()
        .or_else(|| args.listen_state_dir.clone());
    if !args.record_key.is_empty() && record_state_dir.is_none() {
        eprintln!(
            "logwire serve: note: no --record-state-dir: after a restart, signed records that were stored but not yet acknowledged are stored again when resent"
        );
    }
    // A pushed file handler must not be able to write the replay journal (nor the config
    // listener's seq ratchet, which the listener checks itself).
    if let (Some(state), Some(root)) = (&record_state_dir, &args.listen_file_root) {
        let apart = std::fs::create_dir_all(state)
            .map_err(|e| format!("{}: {e}", state.display()))
            .and_then(|()| logwire_listener::check_apart(state, root).map_err(|e| e.to_string()));
        if let Err(e) = apart {
            eprintln!("logwire serve: {e}");
            return ExitCode::from(2);
        }
    }
    let nats_state_dir = record_state_dir.clone();
    let options = ReceiverOptions {
        max_frame: args.max_frame,
        max_connections,
        max_connections_per_peer: args.max_connections_per_peer,
        idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
        keys,
        allow_unsigned: args.allow_unsigned,
        log_rejects: !args.quiet_rejects,
        state_dir: record_state_dir,
        output_closed: args
            .config
            .is_none()
            .then(|| Arc::clone(&stdout_closed.flag)),
        peer_field: args.config.is_none().then_some(PEER_FIELD),
        ..ReceiverOptions::default()
    };
    let running = match Collector::new(tree.clone(), options)
        .start_with(&addrs, inherited)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("logwire serve: {e}");
            return ExitCode::from(2);
        }
    };
    let nats_source = match crate::nats_source::start(&args.nats, &tree, nats_state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("logwire serve: --nats-source: {e}");
            return ExitCode::from(2);
        }
    };
    // Handlers first: a SIGTERM right after the `listening on` lines must drain, not kill.
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => {
            eprintln!("logwire serve: cannot install signal handlers");
            return ExitCode::from(2);
        }
    };
    for a in running.local_addrs() {
        eprintln!("listening on {a}");
    }
    let metrics_task = metrics_listener.map(|listener| {
        let sources = crate::metrics::Sources {
            stats: running.stats_handle(),
            tree: tree.clone(),
            // NATS pushes count into the same counters (see `nats_push::start_listeners`),
            // with or without a socket listener.
            pushes: (config_listener.is_some() || !nats_listeners.is_empty())
                .then(|| Arc::clone(&pushes)),
            config_sockets: config_listener.as_ref().map(|l| {
                let reader: crate::metrics::ListenerStatsFn = Arc::new(l.stats_reader());
                reader
            }),
        };
        if let Ok(a) = listener.local_addr() {
            eprintln!("metrics on http://{a}/metrics");
        }
        let registry = Arc::new(Mutex::new(crate::metrics::registry(sources)));
        tokio::spawn(crate::metrics::serve_http(listener, registry))
    });

    // Every listener is bound (and the metrics endpoint serves): systemd may start what
    // depends on the collector.
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    let watchdog_task = sd_notify::watchdog_enabled()
        .map(|interval| tokio::spawn(watchdog(running.stats_handle(), interval)));
    let stats = running.stats_handle();
    let period = args.stats.map(|s| Duration::from_secs(s.max(1)));
    let mut ticker = tokio::time::interval(period.unwrap_or(Duration::from_secs(3600)));
    ticker.tick().await;
    let mut last = (Instant::now(), 0u64);
    let mut code = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = stdout_closed.wake.notified() => {
                eprintln!("logwire serve: stdout was closed, stopping");
                code = ExitCode::from(EXIT_STDOUT_CLOSED);
                break;
            }
            _ = hup.recv() => match &args.config {
                Some(path) => {
                    // Type=notify-reload needs the reload's start time with RELOADING=1.
                    let mut reloading = vec![sd_notify::NotifyState::Reloading];
                    reloading.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
                    notify_systemd(&reloading);
                    match load_config(&tree, path) {
                        Ok(()) => eprintln!("logwire serve: reloaded {}", path.display()),
                        Err(e) => eprintln!("logwire serve: reload of {} failed, keeping the previous routing: {e}", path.display()),
                    }
                    notify_systemd(&[sd_notify::NotifyState::Ready]);
                }
                None => eprintln!("logwire serve: SIGHUP ignored (no --config)"),
            },
            _ = ticker.tick(), if period.is_some() => {
                let s = stats.snapshot();
                let now = Instant::now();
                let rate = (s.stored - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-3);
                last = (now, s.stored);
                eprintln!("logwire stats: {rate:.0} records/s {s}");
                notify_systemd(&[sd_notify::NotifyState::Status(&format!("{rate:.0} records/s {s}"))]);
            }
        }
    }
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    // systemd stops watching once the service is stopping (TimeoutStopSec bounds the drain).
    if let Some(t) = watchdog_task {
        t.abort();
    }
    // Scrapes end with the collector: a scrape during the drain would read moving counters
    // that the final stderr line reports anyway.
    if let Some(t) = metrics_task {
        t.abort();
    }
    let drain = running.shutdown();
    tokio::pin!(drain);
    let mut closed_early = None;
    let final_stats = tokio::select! {
        s = &mut drain => s,
        second = async {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(args.drain_timeout)) => false,
                _ = term.recv() => true,
                _ = int.recv() => true,
            }
        } => {
            if second {
                // Nothing waits for remote confirmations any more (a NATSHandler's
                // closeTimeout included): the outputs report what they hold at once.
                eprintln!("logwire serve: a second signal: closing the outputs at once; what they still hold is reported and not acknowledged");
                tree.stop_waiting();
            } else {
                eprintln!("logwire serve: the drain took longer than --drain-timeout: closing the outputs; what they still hold is reported and not acknowledged");
            }
            let t = tree.clone();
            closed_early = Some(tokio::task::spawn_blocking(move || t.shutdown()));
            drain.await
        }
    };
    for l in nats_listeners {
        tokio::task::block_in_place(|| l.stop_and_join());
    }
    crate::nats_source::stop(nats_source).await;
    if let Some(listener) = config_listener {
        // The listener's counters, as the collector's below (pushes in flight are aborted).
        let listener_stats = listener.stats();
        // Returns at once whatever config clients do; join only waits for its thread.
        tokio::task::block_in_place(|| listener.stop_and_join());
        eprintln!("logwire config listener: stopped: {listener_stats}");
    }
    // Closing can wait for remote confirmations (a NATSHandler's closeTimeout): a signal
    // meanwhile ends that wait.
    let closing = closed_early.unwrap_or_else(|| {
        let t = tree.clone();
        tokio::task::spawn_blocking(move || t.shutdown())
    });
    tokio::pin!(closing);
    loop {
        tokio::select! {
            _ = &mut closing => break,
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("logwire serve: a signal while closing the outputs: closing them at once");
        tree.stop_waiting();
    }
    eprintln!("logwire serve: stopped: {final_stats}");
    code
}

/// `FileDescriptorName=` of the socket systemd passes for the config listener.
const FDNAME_CONFIG: &str = "config";
/// `FileDescriptorName=` of the socket systemd passes for the metrics endpoint.
const FDNAME_METRICS: &str = "metrics";
/// Most sockets taken from systemd: `LISTEN_FDS` is read before any descriptor is, and a
/// larger count is refused instead of allocated for.
const MAX_SYSTEMD_SOCKETS: usize = 1024;

/// The sockets systemd passed (socket activation), sorted by their `FileDescriptorName=`.
#[derive(Debug, Default)]
struct SystemdSockets {
    /// Every socket not named `config` or `metrics`: record sockets, each taken as what it
    /// is (TCP, UDP, Unix stream or datagram).
    records: Vec<logwire_collector::receiver::InheritedSocket>,
    /// Named `config`: the config listener's (TCP or Unix stream).
    config: Vec<logwire_listener::InheritedListener>,
    /// Named `metrics`: the metrics endpoint's (TCP), at most one.
    metrics: Option<std::net::TcpListener>,
}

/// Takes the sockets systemd passed, as `sd_listen_fds_with_names(3)` describes:
/// `LISTEN_FDS` descriptors from 3, only when `LISTEN_PID` is this process (unset or
/// another pid: none, they were meant for someone else), named by `LISTEN_FDNAMES`
/// (colon-separated, one per descriptor; without it every socket is a record socket).
/// listenfd turns each descriptor into a socket of the kind it checks it is, so the
/// unsafe part stays in that crate; sd-notify's `listen_fds_with_names` hands out raw
/// descriptors, which this crate (`forbid(unsafe_code)`) could not own.
fn systemd_sockets() -> Result<SystemdSockets, String> {
    use logwire_collector::receiver::InheritedSocket;
    use logwire_listener::InheritedListener;
    let mut out = SystemdSockets::default();
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let Some(count) = std::env::var("LISTEN_FDS").ok().filter(|_| for_us) else {
        return Ok(out);
    };
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS is not a count of sockets: '{count}'"))?;
    if count > MAX_SYSTEMD_SOCKETS {
        return Err(format!(
            "LISTEN_FDS passes {count} sockets, more than the {MAX_SYSTEMD_SOCKETS} serve takes"
        ));
    }
    let names: Vec<String> = match std::env::var("LISTEN_FDNAMES") {
        Ok(n) => n.split(':').take(count + 1).map(str::to_owned).collect(),
        Err(_) => vec![String::new(); count],
    };
    let mut fds = listenfd::ListenFd::from_env();
    if names.len() != count || fds.len() != count {
        return Err(format!(
            "LISTEN_FDNAMES names {} sockets but LISTEN_FDS passes {count}",
            names.len()
        ));
    }
    for (i, name) in names.iter().enumerate() {
        let what = |kinds: &str| {
            format!(
                "the socket systemd passed as number {i} of LISTEN_FDS ({name:?}) is not {kinds}"
            )
        };
        match name.as_str() {
            FDNAME_METRICS => {
                let Ok(Some(l)) = fds.take_tcp_listener(i) else {
                    return Err(what("a TCP listening socket"));
                };
                if out.metrics.replace(l).is_some() {
                    return Err(format!(
                        "systemd passed two sockets named \"{FDNAME_METRICS}\"; serve has one metrics endpoint"
                    ));
                }
            }
            FDNAME_CONFIG => {
                let socket = if let Ok(Some(l)) = fds.take_tcp_listener(i) {
                    InheritedListener::Tcp(l)
                } else if let Ok(Some(l)) = fds.take_unix_listener(i) {
                    InheritedListener::Unix(l)
                } else {
                    return Err(what("a TCP or Unix stream listening socket"));
                };
                out.config.push(socket);
            }
            _ => {
                // Each take_* leaves the descriptor in place when it is not that kind.
                let socket = if let Ok(Some(l)) = fds.take_tcp_listener(i) {
                    InheritedSocket::Tcp(l)
                } else if let Ok(Some(s)) = fds.take_udp_socket(i) {
                    InheritedSocket::Udp(s)
                } else if let Ok(Some(l)) = fds.take_unix_listener(i) {
                    InheritedSocket::Unix(l)
                } else if let Ok(Some(s)) = fds.take_unix_datagram(i) {
                    InheritedSocket::UnixDatagram(s)
                } else {
                    return Err(what("a TCP, UDP or Unix socket"));
                };
                out.records.push(socket);
            }
        }
    }
    Ok(out)
}

/// How many times per half watchdog interval the collector's liveness is sampled: a short
/// idle moment between bursts counts, so a busy but healthy collector is never missed.
const WATCHDOG_SAMPLES: u32 = 8;

/// Whether the collector is alive, from two samples of its counters: its dispatcher (the
/// thread that hands records to the outputs) made progress since the previous sample, or
/// it is idle with an empty queue. A dispatcher wedged in a handler (a stdout nobody reads,
/// a hung network handler) with records waiting is neither.
///
/// `queue_bytes` also holds what a connection reserved for a large frame it is still
/// reading, so a lone slow sender of one large frame, and nothing else, reads as not idle
/// for at most the body deadline (30 s): WatchdogSec should be over twice that (the example
/// unit says 120 s).
fn collector_alive(
    s: &logwire_collector::receiver::ReceiverStats,
    queue_bytes: usize,
    handled_before: u64,
) -> (bool, u64) {
    let handled = s.stored + s.dropped + s.duplicates;
    let progressed = handled != handled_before;
    let idle = s.pending == 0 && queue_bytes == 0;
    (progressed || idle, handled)
}

/// systemd's watchdog (`WATCHDOG_USEC`, `WatchdogSec=`): `WATCHDOG=1` every half interval
/// in which the collector was seen alive ([`collector_alive`]) at least once. Not a bare
/// timer: a wedged collector stops the pings and systemd restarts it. The pings come from
/// this runtime's task, so a runtime that no longer schedules stops them too.
async fn watchdog(stats: logwire_collector::receiver::StatsHandle, interval: Duration) {
    let half = (interval / 2).max(Duration::from_millis(1));
    let step = (half / WATCHDOG_SAMPLES).max(Duration::from_millis(1));
    let mut handled = {
        let s = stats.snapshot();
        s.stored + s.dropped + s.duplicates
    };
    // The first ping goes with readiness; the later ones each need a live sample.
    let mut seen_alive = false;
    let mut window_start = Instant::now();
    notify_systemd(&[sd_notify::NotifyState::Watchdog]);
    let mut ticker = tokio::time::interval(step);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (alive, now_handled) = collector_alive(&stats.snapshot(), stats.queue_bytes(), handled);
        handled = now_handled;
        seen_alive |= alive;
        if window_start.elapsed() >= half {
            if seen_alive {
                notify_systemd(&[sd_notify::NotifyState::Watchdog]);
            }
            window_start = Instant::now();
            seen_alive = false;
        }
    }
}

/// Tells systemd how serve is doing (`NOTIFY_SOCKET`; nothing without it). A failure is
/// said on stderr: the service manager then waits for a readiness that will not come.
fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        eprintln!("logwire serve: note: cannot notify systemd: {e}");
    }
}

/// Descriptors kept for everything but record connections: listeners, handler files, the
/// journal, the config listener's connections, the runtime's own.
const RESERVED_FILES: u64 = 256;

/// Largest default connection cap: an idle connection costs little (no read buffer), but
/// its task and parser state still add up.
const MAX_DEFAULT_CONNECTIONS: u64 = 65_536;

/// Raises the soft open-file limit to the hard limit (a 1 024 soft limit is the usual default,
/// and each connection is a descriptor); returns the limit in force.
fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    // An unlimited hard limit cannot be the soft one (the kernel caps it at fs.nr_open).
    let Some(hard) = limit.maximum else {
        return current;
    };
    if current >= hard {
        return current;
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: Some(hard),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => hard,
        Err(e) => {
            eprintln!("logwire serve: note: cannot raise the open-file limit to {hard}: {e}");
            current
        }
    }
}

/// The default connection cap for an open-file limit (see `--max-connections`).
fn connection_cap(open_files: u64) -> usize {
    let cap = open_files
        .saturating_sub(RESERVED_FILES)
        .clamp(64, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(cap).unwrap_or(64)
}

/// Raised by the default printer when its stdout's reader is gone (`EPIPE`): the receiver
/// counts the records it can no longer write `dropped` (`ReceiverOptions::output_closed`),
/// and serve stops.
#[derive(Clone, Default)]
struct StdoutClosed {
    flag: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
}

impl StdoutClosed {
    /// Whether `e` means stdout is closed for good; if so, says so once to the receiver and
    /// to serve's main loop.
    fn check(&self, e: &std::io::Error) -> bool {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return false;
        }
        if !self.flag.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
        true
    }
}

/// Errors from loading a config file.
#[derive(Debug)]
enum LoadError {
    Read(std::io::Error),
    Config(ConfigErrors),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Read(e) => write!(f, "cannot read: {e}"),
            LoadError::Config(e) => write!(f, "{e}"),
        }
    }
}

/// Parses, validates, builds and swaps in a config (nothing changes if any step fails).
fn load_config(tree: &LoggerTree, path: &Path) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Read)?;
    // dictConfig/fileConfig disable "existing loggers" the config does not name
    // (disable_existing_loggers, on by default). In a collector those are the loggers remote
    // record names created, and disabling them would silently drop every record from those
    // senders after a SIGHUP or a push: the collector keeps them (in the same atomic swap).
    // The same registry as check and the listener (network handlers included), with the
    // trusted policy of a local file.
    crate::nats_source::configurator(ContentPolicy::trusted())
        .keep_existing_loggers(true)
        .apply_text(tree, &text, SourceFormat::for_path(path))
        .map_err(LoadError::Config)?;
    Ok(())
}

/// What the stdout printer writes per record.
enum Output {
    /// A %-style line (the default format, or `--format`).
    Line(Formatter),
    /// `--json`: one object per record.
    Json,
}

/// The default routing: every record to stdout, escaped (see the module docs).
fn install_stdout(tree: &LoggerTree, closed: StdoutClosed, output: Output) {
    let (formatter, json) = match output {
        Output::Line(f) => (f, false),
        Output::Json => (Formatter::default(), true),
    };
    let handler = Handler::new(SafeStdout {
        out: Mutex::new(std::io::stdout()),
        bytes: AtomicU64::new(0),
        closed,
        json,
    })
    // The name its metrics carry (`logwire_output_records_total{output="stdout"}`).
    .with_name("stdout")
    .with_formatter(Arc::new(formatter));
    tree.root().add_handler(Arc::new(handler));
    tree.root().set_level(logwire_engine::level::NOTSET);
}

/// Writes records to stdout with control characters escaped and continuation lines of
/// tracebacks indented, so a remote peer cannot forge or hide lines.
struct SafeStdout {
    out: Mutex<std::io::Stdout>,
    /// Bytes of the lines written in full, for `logwire_output_bytes_total{output="stdout"}`.
    /// An atomic, not a field under `out`'s lock: a scrape must not wait for a write that
    /// a stalled reader of stdout holds up (the watchdog test scrapes exactly then).
    bytes: AtomicU64,
    closed: StdoutClosed,
    json: bool,
}

/// A line for `record`: its text fields escaped (a `\n` in a message becomes `\\n`), then
/// the whole formatted text escaped again with newlines kept (what a `--format` may show
/// besides: thread names, extra fields), and every line after the first indented with
/// `  | `, so that only a record starts a line in column 0.
fn safe_line(record: &LogRecord, formatter: &Formatter) -> Result<String, HandlerError> {
    let mut safe = record.clone();
    safe.name = escape_control(&record.name, false).into_owned();
    safe.msg = escape_control(&record.msg, false).into_owned();
    safe.levelname = escape_control(&record.levelname, false).into_owned();
    safe.exc_text = record
        .exc_text
        .as_deref()
        .map(|t| escape_control(t, true).into_owned());
    safe.stack_info = record
        .stack_info
        .as_deref()
        .map(|t| escape_control(t, true).into_owned());
    let text = formatter.try_format(&safe)?;
    let text = escape_control(&text, true);
    let mut line = String::with_capacity(text.len() + 16);
    for (i, part) in text.split('\n').enumerate() {
        if i > 0 {
            line.push_str("\n  | ");
        }
        line.push_str(part);
    }
    line.push('\n');
    Ok(line)
}

/// A record as one JSON object on one line (see `--json`).
fn json_line(record: &LogRecord, formatter: &Formatter) -> Result<String, HandlerError> {
    use serde_json::{Map, Value as J};
    fn value(v: &logwire_engine::Value) -> J {
        use logwire_engine::Value as V;
        match v {
            V::None => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => {
                serde_json::Number::from_f64(*f).map_or_else(|| J::String(v.py_str()), J::Number)
            }
            V::Str(s) => J::String(s.clone()),
            V::List(items) | V::Tuple(items) | V::Set(items) | V::FrozenSet(items) => {
                J::Array(items.iter().map(value).collect())
            }
            V::Dict(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            match k {
                                V::Str(s) => s.clone(),
                                other => other.py_str(),
                            },
                            value(v),
                        )
                    })
                    .collect(),
            ),
            // Big ints and bytes have no JSON form: their Python text.
            // Big ints, bytes and standard-library objects (datetime, Decimal, …) have no
            // JSON form: their Python text.
            V::BigInt(_) | V::Bytes(_) | V::Object(_) => J::String(v.py_str()),
        }
    }
    let opt = |s: &Option<String>| s.as_ref().map_or(J::Null, |s| J::String(s.clone()));
    let mut o = Map::new();
    o.insert("created".into(), J::from(record.created));
    o.insert(
        "asctime".into(),
        J::String(formatter.format_time(record, None)),
    );
    o.insert("levelname".into(), J::String(record.levelname.clone()));
    o.insert("levelno".into(), J::from(record.levelno));
    o.insert("name".into(), J::String(record.name.clone()));
    o.insert("message".into(), J::String(record.msg.clone()));
    o.insert(
        "peer".into(),
        record.extra(PEER_FIELD).map_or(J::Null, value),
    );
    o.insert("pathname".into(), J::String(record.pathname.clone()));
    o.insert("lineno".into(), J::from(record.lineno));
    o.insert("funcName".into(), opt(&record.func_name));
    o.insert("process".into(), record.process.map_or(J::Null, J::from));
    o.insert("processName".into(), opt(&record.process_name));
    o.insert("threadName".into(), opt(&record.thread_name));
    o.insert("exc_text".into(), opt(&record.exc_text));
    o.insert("stack_info".into(), opt(&record.stack_info));
    let extra: Map<String, J> = record
        .extra
        .iter()
        .filter(|(k, _)| k != PEER_FIELD)
        .map(|(k, v)| (k.clone(), value(v)))
        .collect();
    o.insert("extra".into(), J::Object(extra));
    let text = J::Object(o).to_string();
    // serde_json escapes C0 controls; the rest of what escape_control escapes becomes a JSON
    // \u escape (outside strings a JSON text has none of these characters).
    let mut line = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if escape_control(c.encode_utf8(&mut [0; 4]), false).len() > c.len_utf8() {
            line.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            line.push(c);
        }
    }
    line.push('\n');
    Ok(line)
}

impl Emitter for SafeStdout {
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        // A record the format cannot render is reported by handleError and not printed, as
        // CPython's handlers do.
        let line = if self.json {
            json_line(record, formatter)?
        } else {
            safe_line(record, formatter)?
        };
        if self.closed.flag.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let res = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        if res.is_ok() {
            self.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
        }
        // A closed stdout is the end of this output, not an error per record: the receiver
        // counts this record and the later ones dropped, and serve stops.
        match res {
            Err(e) if self.closed.check(&e) => Ok(()),
            res => res.map_err(|e| HandlerError::io("cannot write to stdout", e)),
        }
    }
    fn flush(&self) -> Result<(), HandlerError> {
        if self.closed.flag.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match out.flush() {
            Err(e) if self.closed.check(&e) => Ok(()),
            res => res.map_err(|e| HandlerError::io("cannot flush stdout", e)),
        }
    }
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.bytes.load(Ordering::Relaxed))
    }
    fn kind(&self) -> &'static str {
        "logwire.SafeStdout"
    }
}

// ---- config listener ----------------------------------------------------------------------

/// Where `--listen` puts the config listener.
#[derive(Clone, Debug)]
enum ListenTarget {
    Tcp(SocketAddr),
    Unix(PathBuf),
    Nats(logwire_nats::KvTarget),
}

fn parse_listen_target(s: &str) -> Result<ListenTarget, String> {
    if crate::nats_push::is_nats(s) {
        return s
            .parse()
            .map(ListenTarget::Nats)
            .map_err(|e| format!("{e}"));
    }
    match s.strip_prefix("unix:") {
        Some(path) if !path.is_empty() => Ok(ListenTarget::Unix(PathBuf::from(path))),
        Some(_) => Err("unix: needs a path, e.g. unix:/run/app/logwire.sock".into()),
        None => s
            .parse()
            .map(ListenTarget::Tcp)
            .map_err(|e| format!("'{s}' is neither HOST:PORT nor unix:PATH ({e})")),
    }
}

/// Starts the config listener the `--listen*` flags ask for (none without `--listen` or
/// `--listen-unix`). Pushed configs reconfigure the collector's tree; events go to stderr.
fn start_config_listener(
    args: &ServeArgs,
    tree: &LoggerTree,
    pushes: Arc<crate::metrics::PushCounters>,
    inherited: Vec<logwire_listener::InheritedListener>,
) -> Result<Option<logwire_listener::ListenerHandle>, String> {
    use logwire_listener::{ConfigListener, ListenerOptions};
    let sockets = args
        .listen
        .iter()
        .filter(|a| !matches!(a, ListenTarget::Nats(_)));
    if sockets.count() == 0 && args.listen_unix.is_empty() && inherited.is_empty() {
        return Ok(None);
    }
    let mut options = ListenerOptions::new()
        .key_files(&args.listen_key)
        .map_err(|e| e.to_string())?
        .allow_unsigned(args.listen_allow_unsigned);
    for a in &args.listen {
        options = match a {
            ListenTarget::Tcp(addr) => options.tcp(*addr),
            ListenTarget::Unix(path) => options.unix(path),
            ListenTarget::Nats(_) => options, // watched by crate::nats_push
        };
    }
    for p in &args.listen_unix {
        options = options.unix(p);
    }
    if let Some(d) = &args.listen_state_dir {
        options = options.state_dir(d);
    }
    if let Some(a) = &args.listen_audience {
        options = options.audience(a);
    }
    if let Some(r) = &args.listen_file_root {
        options = options.file_root(r);
    }
    for d in &args.listen_allow_destination {
        options = options
            .allow_destination(logwire_config::Destination::parse(d).map_err(|e| e.to_string())?);
    }
    if let (Some(cert), Some(key), Some(ca)) = (
        &args.listen_tls_cert,
        &args.listen_tls_key,
        &args.listen_tls_client_ca,
    ) {
        let inherited_tcp = inherited
            .iter()
            .any(|l| matches!(l, logwire_listener::InheritedListener::Tcp(_)));
        if !inherited_tcp
            && !args
                .listen
                .iter()
                .any(|a| matches!(a, ListenTarget::Tcp(_)))
        {
            return Err(
                "--listen-tls-cert needs a TCP --listen address (Unix sockets stay plain)".into(),
            );
        }
        let tls = logwire_listener::TlsServer::from_pem_files(cert, key, ca)
            .map_err(|e| format!("TLS: {e}"))?;
        options = options.tls(tls);
    }
    let handle = ConfigListener::new(tree.clone(), options)
        .inherited(inherited)
        .registry(crate::nats_source::registry())
        .keep_existing_loggers(true)
        .on_event(move |e| {
            pushes.count(e);
            eprintln!("logwire config listener: {e}");
        })
        .start()
        .map_err(|e| e.to_string())?;
    let tls = if args.listen_tls_cert.is_some() {
        " (mutual TLS)"
    } else {
        ""
    };
    for a in handle.local_addrs() {
        let tls = if matches!(a, logwire_listener::ListenerAddr::Tcp(_)) {
            tls
        } else {
            ""
        };
        eprintln!("config listener on {a}{tls}");
    }
    Ok(Some(handle))
}
