//! `logwire audit`: the command-line face of `logwire-audit`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use logwire_audit::{audit_paths, fix, report};

#[derive(Args)]
#[command(after_help = "\
Rules:
  listen-no-verify         error  logging.config.listen() without verify, or verify=None
  listen-weak-verify       error  a verify that returns its input unchanged
  listen-verified          note   any other verify (the config still reaches dictConfig)
  pickle-receiver          error  pickle/cPickle/_pickle/dill/cloudpickle loads/load/Unpickler on socket bytes
  cleartext-record-sender  note   SocketHandler/DatagramHandler to a host not known to be loopback

Examples:
  logwire audit                          # the current directory, honouring .gitignore
  logwire audit src/ tools/receiver.py   # directories and single files
  logwire audit --format sarif > audit.sarif   # for GitHub code scanning (upload-sarif)
  logwire audit --format json | jq '.findings[] | select(.severity == \"error\")'
  logwire audit --fix app/               # rewrite listen() to logwire_helper.listen(), print the diff
  logwire audit --errors-only            # leave out the informational notes (pre-commit, CI gates)

Exit status: 0 no findings, 1 findings (after --fix: findings left), 2 usage or I/O error.")]
pub(crate) struct AuditArgs {
    /// Python files or directories to scan (directories recursively, *.py and *.pyw).
    /// Default: the current directory.
    paths: Vec<PathBuf>,
    /// Output format: text (like ruff's), json ({"findings": [...]}), sarif (SARIF 2.1.0).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Rewrite each logging.config.listen() without a real verify to the Python helper's
    /// logwire_helper.listen() (key and state file left as FIXME-logwire placeholders), add
    /// `import logwire_helper`, and print the diff (to stderr with --format json/sarif).
    #[arg(long)]
    fix: bool,
    /// Report only error-severity findings (leave out the notes: listen-verified and
    /// cleartext-record-sender), so exit status 1 means something exploitable as written.
    #[arg(long)]
    errors_only: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
}

pub(crate) fn run(args: AuditArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let mut audit = audit_paths(&paths);
    let mut errors = std::mem::take(&mut audit.errors);
    if args.fix {
        let mut fixed_any = false;
        let mut by_file: std::collections::BTreeMap<String, Vec<logwire_audit::Finding>> =
            Default::default();
        for f in &audit.findings {
            by_file.entry(f.path.clone()).or_default().push(f.clone());
        }
        for (path, found) in by_file {
            if !found.iter().any(|f| fix::is_mechanical(f.rule)) {
                continue;
            }
            let before = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(format!("cannot read {path} to fix it: {e}"));
                    continue;
                }
            };
            match fix::fix_source(&before, &found) {
                Ok(Some(after)) => {
                    if let Err(e) = std::fs::write(&path, &after) {
                        errors.push(format!("cannot write the fix to {path}: {e}"));
                        continue;
                    }
                    fixed_any = true;
                    let d = fix::diff(&path, &before, &after);
                    match args.format {
                        Format::Text => emit(&d),
                        _ => eprint!("{d}"),
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(format!("{path}: {e}")),
            }
        }
        if fixed_any {
            // Report what is left, from the files as they are now.
            let again = audit_paths(&paths);
            audit.findings = again.findings;
            if matches!(args.format, Format::Text) {
                emit(&format!(
                    "Fixed listen() calls now need a key file and a state file: search for {}.\n\n",
                    fix::PLACEHOLDER
                ));
            }
        }
    }
    if args.errors_only {
        audit
            .findings
            .retain(|f| f.severity == logwire_audit::Severity::Error);
    }
    match args.format {
        Format::Text => emit(&report::text(&audit.findings, audit.files)),
        Format::Json => emit(&format!(
            "{:#}\n",
            report::json(&audit.findings, audit.files, &errors)
        )),
        Format::Sarif => emit(&format!("{:#}\n", report::sarif(&audit.findings))),
    }
    for e in &errors {
        eprintln!("logwire audit: {e}");
    }
    if !errors.is_empty() {
        ExitCode::from(2)
    } else if !audit.findings.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes to stdout; a closed pipe (`logwire audit | head`) ends the output quietly instead
/// of panicking.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
