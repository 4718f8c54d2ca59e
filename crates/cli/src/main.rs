//! The `logwire` command: a thin layer over the library crates.

mod audit;
mod check;
mod keygen;
mod metrics;
mod nats_push;
mod nats_source;
mod send_config;
mod serve;
mod top;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// logwire: Python's remote logging (SocketHandler, DatagramHandler, logging.config.listen),
/// rebuilt safe. No code from the wire ever runs.
#[derive(Parser)]
#[command(name = "logwire", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a logging configuration offline, exactly as the config listener would.
    ///
    /// Accepts dictConfig documents (JSON, YAML, TOML) and fileConfig INI files; the format is
    /// taken from the file extension, or decided as the listener does (JSON if the text starts
    /// with `{`, else INI). Every error is printed with its place. Exit status: 0 valid,
    /// 1 invalid, 2 the file could not be read.
    Check(check::CheckArgs),
    /// Collect records from CPython SocketHandler/DatagramHandler (TCP, UDP, Unix sockets),
    /// pickles parsed as data, never unpickled; print them or route them with a config.
    Serve(Box<serve::ServeArgs>),
    /// Push a config to a config listener, signed (LWC1) with an Ed25519 or HMAC key, and
    /// print the listener's reply. Exit status: 0 applied, 1 rejected, 2 unreachable or no
    /// reply (CPython's listen() never replies).
    SendConfig(Box<send_config::SendConfigArgs>),
    /// A running collector's metrics (`serve --metrics`), live: records per second in and
    /// out, rejects by reason, outputs, queue depth, config pushes. q or Esc quits.
    Top(top::TopArgs),
    /// Make signing keys: an Ed25519 pair (PREFIX.key, PREFIX.pub) or an HMAC key file.
    Keygen(keygen::KeygenArgs),
    /// Find Python's unsafe remote logging (logging.config.listen, pickle receivers, cleartext
    /// SocketHandler senders) in source trees; --fix rewrites listen() to the signed drop-in.
    Audit(audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::SendConfig(args) => send_config::run(*args),
        Command::Keygen(args) => keygen::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Top(args) => top::run(args),
    }
}
