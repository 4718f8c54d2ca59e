//! `logwire keygen`: make the keys that sign pushed configs (Ed25519 pair or an HMAC key).
//!
//! Private and HMAC key files are created mode 0600; nothing is overwritten without
//! `--force`. The key id printed is the one envelopes carry and listeners log.

use logwire_wire::{generate_ed25519, generate_hmac};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `logwire keygen`.
#[derive(clap::Args, Debug)]
#[command(after_help = KEYGEN_EXAMPLES)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["ed25519", "hmac"])))]
pub(crate) struct KeygenArgs {
    /// Make an Ed25519 pair: PREFIX.key (private, 0600, for send-config) and PREFIX.pub
    /// (public, for the listeners).
    #[arg(long, value_name = "PREFIX")]
    ed25519: Option<PathBuf>,
    /// Make a 32-byte HMAC-SHA256 key file (0600). The same secret signs and verifies, so
    /// both sides need it; stdlib-only Python can use it.
    #[arg(long, value_name = "FILE")]
    hmac: Option<PathBuf>,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

const KEYGEN_EXAMPLES: &str = "\
Examples:
  # An Ed25519 pair: ops.key stays with whoever pushes configs, ops.pub goes to listeners
  logwire keygen --ed25519 ops
  logwire send-config logging.json --to 127.0.0.1:9030 --key ops.key

  # An HMAC key (shared secret; handy for stdlib-only Python pushers and verifiers)
  logwire keygen --hmac push.hmac

Key files are one line, <kind>:<base64>: ed25519-private, ed25519-public or hmac.";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("logwire keygen: {msg}");
    ExitCode::from(2)
}

fn with_suffix(prefix: &std::path::Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn run(args: KeygenArgs) -> ExitCode {
    if let Some(prefix) = &args.ed25519 {
        let (private, public) = (with_suffix(prefix, ".key"), with_suffix(prefix, ".pub"));
        // Check both before writing either, so a refusal leaves no half pair behind.
        if !args.force {
            for p in [&private, &public] {
                if p.symlink_metadata().is_ok() {
                    return fail(format!(
                        "{} already exists (use --force to replace it)",
                        p.display()
                    ));
                }
            }
        }
        let key = match generate_ed25519() {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        if let Err(e) = key.write_file(&private, args.force) {
            return fail(e);
        }
        if let Err(e) = key.verify_key().write_file(&public, args.force) {
            return fail(e);
        }
        println!("key id {}", key.key_id());
        println!(
            "private key: {} (mode 0600; keep it secret)",
            private.display()
        );
        println!("public key:  {} (give this to listeners)", public.display());
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &args.hmac {
        if !args.force && path.symlink_metadata().is_ok() {
            return fail(format!(
                "{} already exists (use --force to replace it)",
                path.display()
            ));
        }
        let key = match generate_hmac() {
            Ok(k) => k,
            Err(e) => return fail(e),
        };
        if let Err(e) = key.write_file(path, args.force) {
            return fail(e);
        }
        println!("key id {}", key.key_id());
        println!(
            "hmac key: {} (mode 0600; the same file signs and verifies)",
            path.display()
        );
        return ExitCode::SUCCESS;
    }
    fail("give --ed25519 PREFIX or --hmac FILE")
}
