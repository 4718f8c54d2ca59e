//! `logwire check`: validate a configuration offline, as the config listener would.

use logwire_config::{ConfigErrors, ContentPolicy, PreparedConfig, SourceFormat};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  logwire check logging.json
      Check a dictConfig file as a local, trusted config (files may go anywhere).
  logwire check --pushed logging.yaml
      Check it as a pushed config on a listener without --file-root: file handlers are refused.
  logwire check --policy-file-root /var/log/app logging.ini
      Check it as a pushed config on a listener started with --file-root /var/log/app:
      file handlers only beneath that directory, no '..', no symlinks.
  logwire check --json logging.toml
      Machine-readable: {\"valid\": bool, \"errors\": [{\"place\", \"message\"}], \"format\": ...,
      \"warnings\": [...]}

Values Python reads by truth are accepted with Python's meaning, and warned about where that
may surprise: \"propagate\": \"False\" is true (a non-empty string).

Nothing in the configuration is imported or run, and checking creates no file.
Exit status: 0 valid, 1 invalid, 2 the file (or the --policy-file-root directory) could not be read.";

/// Arguments of `logwire check`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CheckArgs {
    /// The configuration file (.json, .yaml/.yml, .toml, .ini/.conf/.cfg; any other name is
    /// read as the listener reads it: JSON if it starts with '{', else INI).
    file: PathBuf,
    /// Check as a pushed config with file handlers allowed only beneath DIR (the listener's
    /// --file-root). Implies --pushed.
    #[arg(long, value_name = "DIR")]
    policy_file_root: Option<PathBuf>,
    /// Check as a pushed config (the listener's policy): without --policy-file-root, file
    /// handlers are refused; network handlers may only reach loopback.
    #[arg(long)]
    pushed: bool,
    /// Print a machine-readable JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Why the check could not run at all (exit status 2).
struct Unreadable(String);

pub(crate) fn run(args: CheckArgs) -> ExitCode {
    let policy = match policy(&args) {
        Ok(p) => p,
        Err(Unreadable(msg)) => return unreadable(&args, &msg),
    };
    let format = SourceFormat::for_path(&args.file);
    let text = match read_bounded(&args.file, policy.limits.max_document_bytes) {
        Ok(Ok(text)) => text,
        Ok(Err(errors)) => return report(&args, format_name(format, ""), Err(errors)),
        Err(Unreadable(msg)) => return unreadable(&args, &msg),
    };
    // The registry every entry point uses (the listener's and serve --config's): only the
    // policy differs between a local and a pushed check.
    let configurator = crate::nats_source::configurator(policy);
    let result = configurator.check_text(&text, format);
    report(&args, format_name(format, &text), result)
}

fn policy(args: &CheckArgs) -> Result<ContentPolicy, Unreadable> {
    let pushed = |root| ContentPolicy::pushed(root, vec![]).map_err(|e| Unreadable(e.to_string()));
    match (&args.policy_file_root, args.pushed) {
        (Some(dir), _) => pushed(Some(dir)),
        (None, true) => pushed(None),
        (None, false) => Ok(ContentPolicy::trusted()),
    }
}

/// Reads at most `limit` bytes: a larger file is an invalid document, found without
/// reading it whole.
fn read_bounded(path: &Path, limit: usize) -> Result<Result<String, ConfigErrors>, Unreadable> {
    let file =
        std::fs::File::open(path).map_err(|e| Unreadable(format!("{}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| Unreadable(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(Unreadable(format!("{}: is a directory", path.display())));
    }
    let too_big = |n: u64| {
        ConfigErrors::one(
            "document",
            format!("{n} bytes is more than the limit of {limit}"),
        )
    };
    if meta.len() > limit as u64 {
        return Ok(Err(too_big(meta.len())));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Unreadable(format!("{}: {e}", path.display())))?;
    if bytes.len() > limit {
        return Ok(Err(too_big(bytes.len() as u64)));
    }
    Ok(String::from_utf8(bytes).map_err(|e| {
        ConfigErrors::one(
            "document",
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    }))
}

/// The format's name, deciding as the listener does when the file name does not say.
fn format_name(format: SourceFormat, text: &str) -> &'static str {
    match format {
        SourceFormat::Json => "json",
        SourceFormat::Yaml => "yaml",
        SourceFormat::Toml => "toml",
        SourceFormat::Ini => "ini",
        SourceFormat::Wire if text.trim_start().starts_with('{') => "json",
        SourceFormat::Wire => "ini",
        // SourceFormat is #[non_exhaustive]: a format added later needs its name here.
        _ => "other",
    }
}

fn unreadable(args: &CheckArgs, msg: &str) -> ExitCode {
    if args.json {
        let out = serde_json::json!({
            "valid": false,
            "errors": [{"place": "file", "message": msg}],
            "format": serde_json::Value::Null,
        });
        println!("{out}");
    } else {
        eprintln!("logwire check: cannot read {msg}");
    }
    ExitCode::from(2)
}

fn report(
    args: &CheckArgs,
    format: &str,
    result: Result<PreparedConfig, ConfigErrors>,
) -> ExitCode {
    let file = args.file.display();
    match result {
        Err(errors) => {
            if args.json {
                let list: Vec<_> = errors
                    .iter()
                    .map(|e| serde_json::json!({"place": e.place, "message": e.message}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "errors": list, "format": format})
                );
            } else {
                for e in errors.iter() {
                    println!("{file}: {e}");
                }
                let n = errors.0.len();
                eprintln!(
                    "{file}: invalid ({format}): {n} error{}",
                    if n == 1 { "" } else { "s" }
                );
            }
            ExitCode::from(1)
        }
        Ok(prepared) => {
            let model = prepared.model();
            let warnings: Vec<_> = prepared
                .warnings()
                .iter()
                .map(|w| serde_json::json!({"place": w.place, "message": w.message}))
                .collect();
            let mut files: Vec<String> = prepared
                .files()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            files.sort();
            files.dedup();
            if args.json {
                let out = serde_json::json!({
                    "valid": true,
                    "errors": [],
                    "format": format,
                    "handlers": model.handlers.len(),
                    "loggers": model.loggers.len(),
                    "root_configured": model.root.is_some(),
                    "incremental": model.incremental,
                    "files": files,
                    "warnings": warnings,
                });
                println!("{out}");
            } else {
                // Accepted, with CPython's meaning, but maybe not what the author meant.
                for w in prepared.warnings() {
                    println!("{file}: warning: {w}");
                }
                println!(
                    "{file}: valid ({format}{}): {} handler{}, {} logger{}{}",
                    if model.incremental {
                        ", incremental"
                    } else {
                        ""
                    },
                    model.handlers.len(),
                    if model.handlers.len() == 1 { "" } else { "s" },
                    model.loggers.len(),
                    if model.loggers.len() == 1 { "" } else { "s" },
                    if model.root.is_some() {
                        " and the root logger"
                    } else {
                        ""
                    },
                );
                if files.is_empty() {
                    println!("writes no files");
                } else {
                    println!("writes {}", files.join(", "));
                }
            }
            ExitCode::SUCCESS
        }
    }
}
