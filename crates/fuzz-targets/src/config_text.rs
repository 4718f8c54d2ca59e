//! The config front ends (JSON, YAML, TOML, INI) through the listener's own path, and the
//! INI literal parser for `args`/`kwargs`.

use logwire_config::pyliteral::{self, LiteralLimits, PyLiteral};
use logwire_config::{ConfigLimits, Configurator, ContentPolicy, SourceFormat};
use std::sync::OnceLock;

/// A configurator as the config listener builds one for pushed configs: every built-in and
/// network handler kind, no file root (so checking touches no file), loopback destinations.
fn configurator() -> &'static Configurator {
    static CONFIGURATOR: OnceLock<Configurator> = OnceLock::new();
    CONFIGURATOR.get_or_init(|| {
        let registry = logwire_handlers::standard_registry();
        let policy = ContentPolicy::pushed(None, Vec::new()).expect("no file root to resolve");
        Configurator::new(registry, policy)
    })
}

/// Parses and validates `data` as `format`, as `logwire check` and the listener do.
///
/// An accepted config is within every [`ConfigLimits`] count and length; a rejected one says
/// why, with a number and size of errors bounded by the document (no error amplification).
fn check(data: &[u8], format: SourceFormat) {
    let text = String::from_utf8_lossy(data);
    let configurator = configurator();
    let limits: ConfigLimits = configurator.policy().limits;
    match configurator.check_text(&text, format) {
        Ok(prepared) => {
            let m = prepared.model();
            assert!(
                m.handlers.len() <= limits.max_handlers,
                "{} handlers",
                m.handlers.len()
            );
            assert!(
                m.loggers.len() <= limits.max_loggers,
                "{} loggers",
                m.loggers.len()
            );
            assert!(
                m.filters.len() <= limits.max_filters,
                "{} filters",
                m.filters.len()
            );
            assert!(
                m.formatters.len() <= limits.max_formatters,
                "{} formatters",
                m.formatters.len()
            );
            let ids = m
                .handlers
                .iter()
                .map(|(i, _)| i)
                .chain(m.formatters.iter().map(|(i, _)| i))
                .chain(m.filters.iter().map(|(i, _)| i))
                .chain(m.loggers.iter().map(|(i, _)| i));
            for id in ids {
                assert!(
                    id.len() <= limits.max_name_len,
                    "id of {} bytes accepted",
                    id.len()
                );
            }
            for (_, f) in &m.formatters {
                let n = f.format.as_ref().map_or(0, String::len);
                assert!(n <= limits.max_format_len, "format of {n} bytes accepted");
            }
            // Nothing the handlers were checked against may point at a file: there is no
            // file root for pushed configs here.
            assert!(
                prepared.files().is_empty(),
                "files accepted without a file root: {:?}",
                prepared.files()
            );
        }
        Err(errs) => {
            assert!(!errs.is_empty(), "rejected without a reason");
            let n = errs.0.len();
            assert!(n <= text.len() + 64, "{n} errors for {} bytes", text.len());
            let shown = errs.to_string().len();
            let bound = 8 * text.len() + 2048 * n + 4096;
            assert!(
                shown <= bound,
                "{shown} bytes of errors for {} bytes of config",
                text.len()
            );
        }
    }
}

/// dictConfig JSON ([`SourceFormat::Json`]), then the same bytes as the listener reads them
/// ([`SourceFormat::Wire`]: JSON if it starts with `{`, else INI).
pub fn config_json(data: &[u8]) {
    check(data, SourceFormat::Json);
    check(data, SourceFormat::Wire);
}

/// dictConfig YAML ([`SourceFormat::Yaml`]; aliases and anchors are budgeted).
pub fn config_yaml(data: &[u8]) {
    check(data, SourceFormat::Yaml);
}

/// dictConfig TOML ([`SourceFormat::Toml`]).
pub fn config_toml(data: &[u8]) {
    check(data, SourceFormat::Toml);
}

/// fileConfig INI ([`SourceFormat::Ini`]), `args`/`kwargs` parsed as literals, never evaluated.
pub fn config_ini(data: &[u8]) {
    check(data, SourceFormat::Ini);
}

/// Measures a literal: (values, container depth, text bytes).
fn measure(v: &PyLiteral) -> (usize, usize, usize) {
    let mut stack = vec![(v, 0usize)];
    let (mut values, mut depth, mut text) = (0, 0, 0);
    while let Some((v, d)) = stack.pop() {
        values += 1;
        match v {
            PyLiteral::Str(s) | PyLiteral::BigInt(s) => text += s.len(),
            PyLiteral::Bytes(b) => text += b.len(),
            PyLiteral::Tuple(items) | PyLiteral::List(items) | PyLiteral::Set(items) => {
                depth = depth.max(d + 1);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            PyLiteral::Dict(pairs) => {
                depth = depth.max(d + 1);
                stack.extend(pairs.iter().flat_map(|(k, v)| [(k, d + 1), (v, d + 1)]));
            }
            _ => {}
        }
    }
    (values, depth, text)
}

/// The INI literal parser ([`pyliteral::parse_literal_with_limits`]) with small limits, and
/// [`pyliteral::parse_class_name`].
///
/// An accepted literal has at most `max_elements` values and `max_depth` bracket levels
/// (plus a bare top-level tuple), and holds no more text than the source (escapes only
/// shrink; big integers only grow by the hex/octal/binary-to-decimal ratio).
pub fn py_literal(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let limits = LiteralLimits {
        max_input_len: 16 << 10,
        max_depth: 8,
        max_elements: 200,
        max_number_len: 60,
    };
    match pyliteral::parse_literal_with_limits(&text, &limits) {
        Ok(v) => {
            let (values, depth, bytes) = measure(&v);
            assert!(
                values <= limits.max_elements + 1,
                "{values} values accepted"
            );
            assert!(depth <= limits.max_depth + 1, "depth {depth} accepted");
            // A 60-digit binary number is 19 decimal digits, a hex one 73.
            assert!(
                bytes <= text.len() * 2,
                "{bytes} bytes of text from {} bytes",
                text.len()
            );
        }
        Err(e) => {
            if let Some(p) = e.position() {
                assert!(
                    p.offset <= text.len(),
                    "error position {} past the end",
                    p.offset
                );
            }
            assert!(
                e.to_string().len() <= 4 * text.len() + 512,
                "error text longer than the input"
            );
        }
    }
    if let Ok(name) = pyliteral::parse_class_name(&text) {
        assert!(name.len() <= text.len());
        assert!(!name.is_empty());
    }
}
