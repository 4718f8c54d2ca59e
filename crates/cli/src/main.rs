//! The `logwire` command.

use clap::Parser;

/// logwire: Python's remote-logging system, rebuilt safe.
#[derive(Parser)]
#[command(name = "logwire", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
