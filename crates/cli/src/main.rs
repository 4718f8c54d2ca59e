//! The `logwire` command: a thin layer over the library crates.

mod check;
mod serve;

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
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
    }
}
