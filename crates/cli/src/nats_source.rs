//! The NATS parts of `logwire serve`: the registry every config path uses (the built-in and
//! network handlers plus `logwire.NATSHandler`), and `--nats-source`, a durable JetStream
//! consumer that feeds the collector's tree (see `logwire_nats::RecordSource`).

use logwire_config::{Configurator, ContentPolicy, HandlerRegistry};
use logwire_engine::LoggerTree;
use logwire_nats::{NatsConnect, RecordSource, SourceOptions};
use std::path::PathBuf;

/// The handler registry of `serve --config`, `check` and pushed configs: one place, so a
/// class is known (or not) the same way everywhere.
pub(crate) fn registry() -> HandlerRegistry {
    let mut r = logwire_handlers::standard_registry();
    logwire_nats::register(&mut r);
    r
}

/// A configurator over [`registry`].
pub(crate) fn configurator(policy: ContentPolicy) -> Configurator {
    Configurator::new(registry(), policy)
}

/// `serve`'s flags for consuming records from JetStream.
#[derive(clap::Args, Debug)]
pub(crate) struct NatsSourceArgs {
    /// Also take records from a JetStream stream (nats://HOST:PORT), with a durable pull
    /// consumer: each message is acknowledged only after the handlers stored it (sync), and
    /// a message redelivered after a crash is stored once (journal in --record-state-dir).
    #[arg(long = "nats-source", value_name = "URL", requires_all = ["nats_stream", "nats_durable"], help_heading = "NATS source")]
    nats_source: Option<String>,
    /// The stream --nats-source reads.
    #[arg(
        long = "nats-stream",
        value_name = "NAME",
        requires = "nats_source",
        help_heading = "NATS source"
    )]
    nats_stream: Option<String>,
    /// The durable consumer's name (created if missing; keep it across restarts).
    #[arg(
        long = "nats-durable",
        value_name = "NAME",
        requires = "nats_source",
        help_heading = "NATS source"
    )]
    nats_durable: Option<String>,
    /// A NATS .creds file for --nats-source.
    #[arg(
        long = "nats-creds",
        value_name = "FILE",
        requires = "nats_source",
        help_heading = "NATS source"
    )]
    nats_creds: Option<PathBuf>,
}

/// Starts the source the flags ask for (none without `--nats-source`).
pub(crate) fn start(
    args: &NatsSourceArgs,
    tree: &LoggerTree,
    state_dir: Option<PathBuf>,
) -> Result<Option<RecordSource>, String> {
    let (Some(url), Some(stream), Some(durable)) =
        (&args.nats_source, &args.nats_stream, &args.nats_durable)
    else {
        return Ok(None);
    };
    let mut connect = NatsConnect::new([url.clone()]);
    connect.creds_file = args.nats_creds.clone();
    connect.host_ports().map_err(|e| e.to_string())?;
    if state_dir.is_none() {
        eprintln!(
            "logwire serve: note: no --record-state-dir: after a restart, records stored but not yet acknowledged to NATS are stored again when redelivered"
        );
    }
    let mut options = SourceOptions::new(connect, stream.clone(), durable.clone());
    options.state_dir = state_dir;
    let source = RecordSource::start(tree.clone(), options).map_err(|e| e.to_string())?;
    eprintln!("nats source on {url} stream {stream} durable {durable}");
    Ok(Some(source))
}

/// Stops the source after the batch in hand and reports its counters.
pub(crate) async fn stop(source: Option<RecordSource>) {
    if let Some(s) = source {
        match s.shutdown().await {
            Ok(stats) => eprintln!("logwire nats source: stopped: {stats}"),
            Err(e) => eprintln!("logwire nats source: stopped: {e}"),
        }
    }
}
