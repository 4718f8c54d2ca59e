//! `--fix`: rewrites `logging.config.listen(...)` without a real verify to logwire's drop-in.
//!
//! # Contract
//!
//! * Only `listen-no-verify` and `listen-weak-verify` sites are rewritten: they are mechanical
//!   (the call accepts anything today, so requiring a signature changes nothing a legitimate
//!   sender relied on but the signing). A `listen-verified` call keeps its verify: replacing
//!   someone's own check is a judgement, so it only gets the `fix` text.
//! * The call becomes `logwire_helper.listen(PORT, keys=[KEY], state_file=STATE,
//!   file_root=None, audience=None)`, with `PORT` the original port expression (9030,
//!   CPython's `DEFAULT_LOGGING_CONFIG_PORT`, if none was given) and `KEY`/`STATE` string
//!   placeholders that start with [`PLACEHOLDER`]: until someone fills them in, the helper
//!   finds no key file and applies nothing (it fails closed). `file_root=None` accepts no
//!   file handlers, `audience=None` any audience: both are the strict defaults and are
//!   written out so the reader sees the knobs. The result is a `threading.Thread` with
//!   `start()`, `join()` and `stop()`, like `logging.config.listen()`'s.
//! * `import logwire_helper` is added once, after the module's leading imports, unless the
//!   module already imports it.
//! * The rewritten file must parse with no more syntax errors than the original (Python 2
//!   files may have some to begin with); otherwise it is left alone and an error is returned.
//! * Fixing is idempotent: a rewritten call resolves to `logwire_helper.listen` and is no
//!   longer a finding, and the import is not added twice.
//!
//! ```
//! use logwire_audit::{audit_source, fix};
//! let src = b"import logging.config\nt = logging.config.listen(9999)\nt.start()\n";
//! let fixed = fix::fix_source(src, &audit_source("app.py", src)).unwrap().unwrap();
//! let text = String::from_utf8(fixed.clone()).unwrap();
//! assert!(text.contains("import logwire_helper\n"));
//! assert!(text.contains("t = logwire_helper.listen(9999, keys=[\"FIXME-logwire"));
//! assert!(audit_source("app.py", &fixed).is_empty());
//! // Idempotent: nothing left to fix.
//! assert_eq!(fix::fix_source(&fixed, &audit_source("app.py", &fixed)).unwrap(), None);
//! ```

use crate::{Finding, Rule, analyze, syntax_errors};

/// Every placeholder the fixer writes starts with this, so `grep FIXME-logwire` finds them.
pub const PLACEHOLDER: &str = "FIXME-logwire";

/// Why a file could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixError(pub String);

impl std::fmt::Display for FixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixError {}

/// Whether the fixer rewrites findings of this rule.
pub fn is_mechanical(rule: Rule) -> bool {
    matches!(rule, Rule::ListenNoVerify | Rule::ListenWeakVerify)
}

/// The rewritten file, or `None` if no finding of `findings` (those of this file) is
/// mechanical.
pub fn fix_source(src: &[u8], findings: &[Finding]) -> Result<Option<Vec<u8>>, FixError> {
    let sites: Vec<&Finding> = findings.iter().filter(|f| is_mechanical(f.rule)).collect();
    if sites.is_empty() {
        return Ok(None);
    }
    let tree = analyze::parse(src).ok_or_else(|| FixError("the parser failed".into()))?;
    let root = tree.root_node();
    let text =
        |n: tree_sitter::Node<'_>| String::from_utf8_lossy(&src[n.byte_range()]).into_owned();
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for f in &sites {
        let Some(call) = root
            .descendant_for_byte_range(f.span.start, f.span.end)
            .filter(|n| n.kind() == "call" && n.byte_range() == f.span)
        else {
            continue;
        };
        let mut port = None;
        if let Some(args) = call.child_by_field_name("arguments") {
            let mut c = args.walk();
            for a in args.named_children(&mut c) {
                match a.kind() {
                    "keyword_argument" => {
                        let name = a.child_by_field_name("name").map(text);
                        if name.as_deref() == Some("port") {
                            port = a.child_by_field_name("value").map(text);
                        }
                    }
                    "comment" | "dictionary_splat" => {}
                    _ if port.is_none() => port = Some(text(a)),
                    _ => {}
                }
            }
        }
        let port = port.unwrap_or_else(|| "9030".to_string());
        edits.push((
            call.byte_range(),
            format!(
                "logwire_helper.listen({port}, keys=[\"{PLACEHOLDER}: path of the config signer's \
                 public key file (logwire keygen)\"], state_file=\"{PLACEHOLDER}: path of a \
                 writable file for the replay counter\", file_root=None, audience=None)"
            ),
        ));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    if let Some(at) = import_position(root, src) {
        edits.push((at..at, "import logwire_helper\n".to_string()));
    }
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = src.to_vec();
    for (range, with) in edits {
        out.splice(range, with.into_bytes());
    }
    if syntax_errors(&out) > syntax_errors(src) {
        return Err(FixError(
            "the rewritten file would not parse, so it was left unchanged".into(),
        ));
    }
    Ok(Some(out))
}

/// Where `import logwire_helper` goes: after the module's leading imports (past a docstring,
/// comments and `from __future__` imports). `None` if the module already imports it.
fn import_position(root: tree_sitter::Node<'_>, src: &[u8]) -> Option<usize> {
    let mut c = root.walk();
    let top: Vec<_> = root.named_children(&mut c).collect();
    let imports_helper = top.iter().any(|n| {
        n.kind() == "import_statement" && {
            let mut c = n.walk();
            n.children_by_field_name("name", &mut c)
                .any(|m| m.kind() == "dotted_name" && &src[m.byte_range()] == b"logwire_helper")
        }
    });
    if imports_helper {
        return None;
    }
    let line_after = |end: usize| {
        src[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(src.len(), |i| end + i + 1)
    };
    let line_start = |at: usize| {
        src[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
    };
    let mut after = None;
    // The docstring is the first statement; comments before it (a licence header, a coding
    // line) do not count as statements.
    let mut first_statement = true;
    for n in &top {
        match n.kind() {
            "comment" => continue,
            "future_import_statement" => after = Some(line_after(n.end_byte())),
            "expression_statement"
                if first_statement && n.named_child(0).is_some_and(|s| s.kind() == "string") =>
            {
                after = Some(line_after(n.end_byte()));
            }
            "import_statement" | "import_from_statement" => after = Some(line_after(n.end_byte())),
            _ => return Some(after.unwrap_or_else(|| line_start(n.start_byte()))),
        }
        first_statement = false;
    }
    // A file of nothing but imports and comments: at the end.
    Some(after.unwrap_or(src.len()))
}

/// A unified diff of one file's rewrite, `a/PATH` to `b/PATH`.
pub fn diff(path: &str, before: &[u8], after: &[u8]) -> String {
    // git's a/ b/ prefixes; an absolute path loses its leading slash there, as in git.
    let path = path.trim_start_matches('/');
    let old = String::from_utf8_lossy(before);
    let new = String::from_utf8_lossy(after);
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
