//! `logwire-audit`: finds Python's unsafe remote logging in source trees, and rewrites the
//! mechanical cases to logwire's signed drop-in.
//!
//! Five rules, judged on a real Python syntax tree (tree-sitter-python: Python 2 and 3),
//! never on text patterns:
//!
//! | rule | severity | what |
//! | --- | --- | --- |
//! | `listen-no-verify` | error | `logging.config.listen()` without `verify`, or `verify=None` |
//! | `listen-weak-verify` | error | a `verify` that visibly returns its input unchanged |
//! | `listen-verified` | note | any other `verify` (the config still reaches `dictConfig`) |
//! | `pickle-receiver` | error | `pickle`/`cPickle`/`_pickle`/`dill`/`cloudpickle` `loads`/`load`/`Unpickler` on network bytes |
//! | `cleartext-record-sender` | note | `SocketHandler`/`DatagramHandler` to a host not known to be loopback |
//!
//! How names and network bytes are followed is the contract of the `analyze` module (see
//! its source docs): every import spelling, assignments, unpacking, slices, local function
//! parameters and returns, `self` attributes, flow-insensitively.
//!
//! # Example
//!
//! ```
//! use logwire_audit::{audit_source, Rule};
//!
//! let src = b"import logging.config as lc\nt = lc.listen(9999)\n";
//! let found = audit_source("app.py", src);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].rule, Rule::ListenNoVerify);
//! assert_eq!((found[0].line, found[0].column), (2, 5));
//!
//! // A comment or a string is never a finding, nor is another module's listen().
//! let quiet = b"# logging.config.listen(9999)\nimport socket\ns = socket.socket()\ns.listen(5)\n";
//! assert!(audit_source("quiet.py", quiet).is_empty());
//! ```
//!
//! Whole trees: [`audit_paths`] walks directories (honouring `.gitignore`), in parallel, and
//! returns the findings sorted by path and position together with any I/O errors. Output:
//! the [`report`] module (text, JSON, SARIF 2.1.0). Rewriting: the [`fix`] module.
//!
//! # One path per name
//! Every public item is at the crate root except the two namespaces above, public on purpose
//! and re-exported nowhere else: their names (`report::text`, `report::json`,
//! `report::sarif`, `fix::diff`) say what they are only qualified, and a program that only
//! audits needs neither.

mod analyze;
pub mod fix;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

/// One of the five rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Rule {
    /// `logging.config.listen()` with no verify or `verify=None`.
    ListenNoVerify,
    /// `logging.config.listen()` with a verify that returns its input unchanged.
    ListenWeakVerify,
    /// `logging.config.listen()` with any other verify (informational).
    ListenVerified,
    /// A pickle loader applied to bytes from the network.
    PickleReceiver,
    /// `SocketHandler`/`DatagramHandler` to a host not known to be loopback (informational).
    CleartextRecordSender,
}

/// How serious a finding is; SARIF levels use the same words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Remote code execution as written.
    Error,
    /// Informational: worth a look, not an exploit by itself.
    Note,
}

impl Rule {
    /// Every rule, in the order the documentation lists them.
    pub const ALL: [Rule; 5] = [
        Rule::ListenNoVerify,
        Rule::ListenWeakVerify,
        Rule::ListenVerified,
        Rule::PickleReceiver,
        Rule::CleartextRecordSender,
    ];

    /// The rule id, as written in findings (`listen-no-verify`, ...).
    pub fn id(self) -> &'static str {
        match self {
            Rule::ListenNoVerify => "listen-no-verify",
            Rule::ListenWeakVerify => "listen-weak-verify",
            Rule::ListenVerified => "listen-verified",
            Rule::PickleReceiver => "pickle-receiver",
            Rule::CleartextRecordSender => "cleartext-record-sender",
        }
    }

    /// The rule named `id`, if there is one.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The severity of every finding of this rule.
    pub fn severity(self) -> Severity {
        match self {
            Rule::ListenNoVerify | Rule::ListenWeakVerify | Rule::PickleReceiver => Severity::Error,
            Rule::ListenVerified | Rule::CleartextRecordSender => Severity::Note,
        }
    }

    /// One line: what is wrong.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::ListenNoVerify => {
                "logging.config.listen() accepts configs from anyone (no verify)"
            }
            Rule::ListenWeakVerify => {
                "logging.config.listen() with a verify that accepts everything"
            }
            Rule::ListenVerified => {
                "logging.config.listen() with a verify: configs still reach dictConfig"
            }
            Rule::PickleReceiver => "pickle loads bytes received from the network",
            Rule::CleartextRecordSender => {
                "log records sent as unauthenticated pickles to another host"
            }
        }
    }

    /// What to do at such a site (the `fix` field of a finding).
    pub fn fix(self) -> &'static str {
        match self {
            Rule::ListenNoVerify | Rule::ListenWeakVerify => {
                "replace it with logwire_helper.listen(port, keys=[...], state_file=..., \
                 file_root=...), the drop-in that applies only signed configs (`logwire audit \
                 --fix` rewrites it), or pass verify=logwire_helper.config.verifier(keys=[...], \
                 state_file=...); or let `logwire serve --listen` take the configs"
            }
            Rule::ListenVerified => {
                "make sure verify authenticates the sender and limits what the config may name; \
                 logwire_helper.config.verifier(keys=[...], state_file=..., file_root=...) checks \
                 a signature, expiry, replay and the config's classes before dictConfig sees it"
            }
            Rule::PickleReceiver => {
                "receive the records with `logwire serve`, which parses SocketHandler and \
                 DatagramHandler pickles as data and never unpickles them; never unpickle bytes \
                 from a peer"
            }
            Rule::CleartextRecordSender => {
                "send through logwire_helper.SignedSocketHandler / SignedDatagramHandler (HMAC-signed \
                 records) to a `logwire serve --record-key KEY` collector, or keep the \
                 collector on loopback"
            }
        }
    }

    /// A paragraph for SARIF help and `--help`-style listings.
    pub fn help(self) -> &'static str {
        match self {
            Rule::ListenNoVerify => {
                "logging.config.listen() starts a socket server that passes every config it \
                 receives to dictConfig or fileConfig. Those import and call whatever the config \
                 names ('()' factories, handler classes, ext:// objects), so anyone who can reach \
                 the port runs code in the process (CWE-95). Without verify, or with \
                 verify=None, nothing stands in the way."
            }
            Rule::ListenWeakVerify => {
                "The verify callable given to logging.config.listen() returns the bytes it was \
                 given unchanged (perhaps after printing or logging them) and never rejects \
                 anything, so it protects nothing: this is listen-no-verify in disguise."
            }
            Rule::ListenVerified => {
                "logging.config.listen() has a verify callable. Whether it authenticates the \
                 sender cannot be seen from the call; whatever it accepts is still applied by \
                 dictConfig, which imports what the config names. Informational."
            }
            Rule::PickleReceiver => {
                "Bytes that came from a socket (recv, recvfrom, makefile, a socketserver request, \
                 asyncio or Twisted protocol data) reach pickle.loads/load/Unpickler (or cPickle, \
                 _pickle, dill, cloudpickle). Unpickling calls any callable the pickle names: the \
                 logging cookbook's network receiver and its copies run the code of whoever \
                 connects."
            }
            Rule::CleartextRecordSender => {
                "logging.handlers.SocketHandler and DatagramHandler send each record as an \
                 unauthenticated pickle. A receiver that unpickles them (the cookbook receiver) \
                 can be fed code by anyone on the path, and records can be forged or read. \
                 Informational: the sender itself does not execute anything."
            }
        }
    }

    /// Background reading for the rule (SARIF `helpUri`).
    pub fn help_uri(self) -> &'static str {
        match self {
            Rule::ListenNoVerify | Rule::ListenWeakVerify | Rule::ListenVerified => {
                "https://docs.python.org/3/library/logging.config.html#logging.config.listen"
            }
            Rule::PickleReceiver => "https://docs.python.org/3/library/pickle.html",
            Rule::CleartextRecordSender => {
                "https://docs.python.org/3/library/logging.handlers.html#sockethandler"
            }
        }
    }
}

/// One finding. Lines and columns are 1-based; columns count characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which rule.
    pub rule: Rule,
    /// The file, as it was named (given on the command line or found under a directory).
    pub path: String,
    /// Where the call starts.
    pub line: usize,
    /// Where the call starts, in characters from 1.
    pub column: usize,
    /// Where the call ends.
    pub end_line: usize,
    /// One past the call's last character, from 1.
    pub end_column: usize,
    /// The rule's severity.
    pub severity: Severity,
    /// What is wrong at this site.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The source line the finding starts on.
    pub source: String,
    /// The call's byte range in the file (for the fixer).
    #[serde(skip)]
    pub span: std::ops::Range<usize>,
}

impl Finding {
    fn new(
        rule: Rule,
        path: &str,
        src: &[u8],
        start: usize,
        end: usize,
        message: String,
    ) -> Finding {
        let (line, column, line_start) = position(src, start);
        let (end_line, end_column, _) = position(src, end);
        let line_end = src[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(src.len(), |i| line_start + i);
        let source = String::from_utf8_lossy(&src[line_start..line_end])
            .trim_end()
            .to_string();
        Finding {
            rule,
            path: path.to_string(),
            line,
            column,
            end_line,
            end_column,
            severity: rule.severity(),
            message,
            fix: rule.fix().to_string(),
            source,
            span: start..end,
        }
    }
}

/// (line from 1, column in characters from 1, byte offset of the line's start)
fn position(src: &[u8], offset: usize) -> (usize, usize, usize) {
    let before = &src[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&src[line_start..offset])
        .chars()
        .count()
        + 1;
    (line, column, line_start)
}

/// Whether the file's text names everything some finding needs: `listen` together with
/// `logging` (the import any spelling of logging.config.listen needs); a sender class; or a
/// pickle module (`pickle`, `cPickle`, `_pickle`, `cloudpickle`, `Unpickler` all contain
/// "ickle", or `dill`) together with a name that network bytes start from in the analysis
/// (`recv*`, `makefile`, a socket, `accept`, socketserver's `rfile`/`packet`/`request`/
/// `connection`, protocol callbacks' `*eceived`, asyncio's `start_*server`). A file without
/// them is not parsed at all: this only skips work, the parser still decides every finding
/// (in CPython's Lib/, 4% of the files are parsed).
fn worth_parsing(src: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(src, needle).is_some();
    const SOURCES: &[&[u8]] = &[
        b"recv",
        b"makefile",
        b"socket",
        b"Socket",
        b"accept",
        b"rfile",
        b"packet",
        b"request",
        b"connection",
        b"eceived",
        b"start_server",
        b"start_unix_server",
    ];
    (has(b"listen") && has(b"logging"))
        || has(b"SocketHandler")
        || has(b"DatagramHandler")
        || ((has(b"ickle") || has(b"dill")) && SOURCES.iter().any(|n| has(n)))
}

/// Audits one file's bytes. `path` is only copied into the findings.
pub fn audit_source(path: &str, src: &[u8]) -> Vec<Finding> {
    if !worth_parsing(src) {
        return Vec::new();
    }
    match analyze::parse(src) {
        Some(tree) => analyze::findings(&tree, src, path),
        None => Vec::new(),
    }
}

/// Whether `src` parses with no more syntax errors than `before` had (used by the fixer to
/// make sure a rewrite keeps a file valid).
pub fn syntax_errors(src: &[u8]) -> usize {
    // Iterative: a deeply nested file must not overflow the stack.
    fn count(root: tree_sitter::Node<'_>) -> usize {
        let mut n = 0;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            n += usize::from(node.is_error() || node.is_missing());
            if node.has_error() {
                let mut c = node.walk();
                stack.extend(node.children(&mut c));
            }
        }
        n
    }
    analyze::parse(src).map_or(usize::MAX, |t| count(t.root_node()))
}

/// The result of auditing paths.
#[derive(Debug, Default)]
pub struct Audit {
    /// Every finding, sorted by path, line and column.
    pub findings: Vec<Finding>,
    /// Files that were read and parsed.
    pub files: usize,
    /// One sentence per path that could not be read (the audit goes on past them).
    pub errors: Vec<String>,
}

/// Audits files and directories. A named file is audited whatever its extension; directories
/// are walked recursively for `*.py` and `*.pyw`, honouring `.gitignore`, `.ignore` and
/// hidden-file conventions. Files are parsed and analysed on all cores.
pub fn audit_paths(paths: &[PathBuf]) -> Audit {
    let mut audit = Audit::default();
    let mut files = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => audit.errors.push(io_error(p, &e)),
            Ok(m) if m.is_file() => files.push(p.clone()),
            Ok(_) => walk(p, &mut files, &mut audit.errors),
        }
    }
    // Walking is cheap next to parsing; the files are then shared out through one counter,
    // so a big file on one core does not hold up the rest (per directory walker threads left
    // the top-level modules of a tree like CPython's Lib/ on one core).
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, files.len().max(1));
    let parts: Vec<Audit> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(s, || audit_files(&files, &next))
                    .expect("a worker thread starts")
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for part in parts {
        audit.files += part.files;
        audit.findings.extend(part.findings);
        audit.errors.extend(part.errors);
    }
    audit.findings.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.rule).cmp(&(&b.path, b.line, b.column, b.rule))
    });
    audit.errors.sort();
    audit
}

fn audit_files(files: &[PathBuf], next: &AtomicUsize) -> Audit {
    let mut out = Audit::default();
    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
        let name = path.to_string_lossy();
        match std::fs::read(path) {
            Ok(src) => {
                // A bug on one odd file must not cost the findings of all the others.
                match std::panic::catch_unwind(|| audit_source(&name, &src)) {
                    Ok(found) => {
                        out.files += 1;
                        out.findings.extend(found);
                    }
                    Err(_) => out.errors.push(format!(
                        "internal error while auditing {name} (please report it with the file)"
                    )),
                }
            }
            Err(e) => out.errors.push(io_error(path, &e)),
        }
    }
    out
}

fn walk(root: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let mut types = ignore::types::TypesBuilder::new();
    types.add_defaults();
    // "py" in ignore's defaults covers *.py and *.pyi; stubs hold no calls worth auditing,
    // so a type of our own: sources only.
    let _ = types.add("pysrc", "*.py");
    let _ = types.add("pysrc", "*.pyw");
    types.select("pysrc");
    let walker = ignore::WalkBuilder::new(root)
        .types(types.build().expect("fixed globs are valid"))
        .build();
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => errors.push(walk_error(&e)),
        }
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("cannot read {}: {why}", path.display())
}

fn walk_error(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { path, err } => match err.io_error() {
            Some(io) => io_error(path, io),
            None => format!("cannot walk {}: {err}", path.display()),
        },
        _ => format!("cannot walk a directory: {e}"),
    }
}
