//! `logwire check`: validate a configuration offline.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `logwire check`.
#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// The configuration file (.json, .yaml/.yml, .toml, .ini/.conf/.cfg, or detected).
    file: PathBuf,
    /// Check as a pushed config with file handlers allowed beneath DIR (without it, pushed
    /// configs may not contain file handlers at all).
    #[arg(long, value_name = "DIR")]
    policy_file_root: Option<PathBuf>,
    /// Print a machine-readable JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(_args: CheckArgs) -> ExitCode {
    eprintln!("logwire check: not implemented yet");
    ExitCode::from(2)
}
