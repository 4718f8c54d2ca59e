//! Output formats: text like ruff's, JSON, SARIF 2.1.0.
//!
//! # Contract
//!
//! * [`text`]: per finding `path:line:col: rule message`, the source line with carets under
//!   the call's first line, and `= fix: ...`; then one summary line. Nothing for no findings
//!   but the summary.
//! * [`json()`]: `{"findings": [{rule, path, line, column, end_line, end_column, severity,
//!   message, fix, source}, ...], "files": N, "errors": [...]}`.
//! * [`sarif`]: one SARIF 2.1.0 run whose driver lists all five rules (short and full
//!   description, help text and markdown, helpUri, default level, `security-severity`), and
//!   one result per finding with a physical location GitHub code scanning accepts (relative
//!   paths as `%SRCROOT%`-based URIs with forward slashes).
//!
//! ```
//! use logwire_audit::{audit_source, report};
//! let found = audit_source("app.py", b"import logging.config\nlogging.config.listen(9999)\n");
//! let sarif = report::sarif(&found);
//! assert_eq!(sarif["version"], "2.1.0");
//! assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "listen-no-verify");
//! assert!(report::text(&found, 1).starts_with("app.py:2:1: listen-no-verify "));
//! ```

use serde_json::{Value, json};

use crate::{Finding, Rule, Severity};

/// Ruff-like text for a terminal or a CI log.
pub fn text(findings: &[Finding], files: usize) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}:{}:{}: {} {}\n",
            f.path,
            f.line,
            f.column,
            f.rule.id(),
            f.message
        ));
        let num = f.line.to_string();
        let pad = " ".repeat(num.len());
        let width = if f.end_line == f.line {
            f.end_column.saturating_sub(f.column).max(1)
        } else {
            f.source.chars().count().saturating_sub(f.column - 1).max(1)
        };
        out.push_str(&format!("{pad} |\n{num} | {}\n", f.source));
        out.push_str(&format!(
            "{pad} | {}{}\n",
            " ".repeat(f.column - 1),
            "^".repeat(width)
        ));
        out.push_str(&format!("{pad} = fix: {}\n\n", f.fix));
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let notes = findings.len() - errors;
    let files_word = if files == 1 { "file" } else { "files" };
    if findings.is_empty() {
        out.push_str(&format!("No findings in {files} {files_word}.\n"));
    } else {
        out.push_str(&format!(
            "Found {} finding{} ({errors} error{}, {notes} note{}) in {files} {files_word}.\n",
            findings.len(),
            plural(findings.len()),
            plural(errors),
            plural(notes),
        ));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `{"findings": [...], "files": N, "errors": [...]}`.
pub fn json(findings: &[Finding], files: usize, errors: &[String]) -> Value {
    json!({ "findings": findings, "files": files, "errors": errors })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Note => "note",
    }
}

/// A SARIF 2.1.0 log with one run.
pub fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": { "text": r.summary() },
                "fullDescription": { "text": r.help() },
                "help": {
                    "text": format!("{}\n\nFix: {}", r.help(), r.fix()),
                    "markdown": format!("{}\n\n**Fix:** {}\n\nSee [the Python documentation]({}).", r.help(), r.fix(), r.help_uri()),
                },
                "helpUri": r.help_uri(),
                "defaultConfiguration": { "level": level(r.severity()) },
                "properties": {
                    "tags": ["security", "logging"],
                    // GitHub code scanning sorts security alerts by this CVSS-like score.
                    "security-severity": match r.severity() { Severity::Error => "9.8", Severity::Note => "3.0" },
                    "precision": "high",
                },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": format!("{} Fix: {}", f.message, f.fix) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact(&f.path),
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line,
                            "endColumn": f.end_column,
                            "snippet": { "text": f.source },
                        },
                    },
                }],
                "partialFingerprints": {
                    // Stable across line moves: the rule, the file and the call's first line.
                    "primaryLocationLineHash": format!("{:016x}", fnv(&format!("{}\0{}\0{}", f.rule.id(), f.path, f.source.trim()))),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "logwire-audit",
                "informationUri": "https://docs.python.org/3/library/logging.config.html#logging.config.listen",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn artifact(path: &str) -> Value {
    let p = path.replace('\\', "/");
    if p.starts_with('/') {
        json!({ "uri": format!("file://{}", percent(&p)) })
    } else {
        let rel = p.strip_prefix("./").unwrap_or(&p);
        json!({ "uri": percent(rel), "uriBaseId": "%SRCROOT%" })
    }
}

/// Percent-encodes what may not stand in a URI path.
fn percent(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// FNV-1a: a stable fingerprint without a hashing dependency.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
