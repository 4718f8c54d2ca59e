//! The dictConfig front end: a [`DocValue`] (from JSON, YAML or TOML) to a [`ConfigModel`].
//!
//! CPython semantics where they are data (`version`, `incremental`,
//! `disable_existing_loggers`, levels, `cfg://` references, `ext://sys.stdout`); rejection
//! with a clear error where CPython would run code (`'()'` factories, `'.'` attribute setting,
//! any other `ext://`). Every error of the document is collected, each with its place.

use crate::doc::DocValue;
use crate::error::{ConfigError, ConfigErrors};
use crate::model::{
    ConfigModel, ConfigValue, Dialect, FilterSpec, FormatterSpec, HandlerSpec, LoggerSpec,
    StdStream,
};
use logwire_engine::{Style, Value};

/// How deep `cfg://` references may chain, and how many values resolving them may produce.
const CFG_MAX_DEPTH: usize = 8;
const CFG_MAX_NODES: usize = 100_000;

/// Converts a dictConfig document to the model, reporting every problem with its place.
pub fn model_from_doc(doc: &DocValue) -> Result<ConfigModel, ConfigErrors> {
    let mut errs = ConfigErrors::default();
    let model = model_from_doc_parts(doc, &mut errs);
    match model {
        Some(m) => errs.into_result(m),
        None => Err(errs),
    }
}

/// Like [`model_from_doc`], but adds its errors to `errs` and still returns the model built
/// from the valid parts (when the document is a mapping at all), so that the checks which
/// need a whole model can report their errors in the same run.
/// Crate-private: the public API is the one function, whose `Err` holds every error;
/// the configurator's check uses this to add whole-model errors in the same run.
pub(crate) fn model_from_doc_parts(doc: &DocValue, errs: &mut ConfigErrors) -> Option<ConfigModel> {
    let before = errs.0.len();
    let resolved = resolve_cfg_refs(doc, errs);
    if errs.0.len() > before {
        return None;
    }
    let DocValue::Map(top) = &resolved else {
        errs.push(
            "document",
            format!("expected a mapping, found {}", resolved.type_name()),
        );
        return None;
    };
    let get = |k: &str| top.iter().find(|(key, _)| key == k).map(|(_, v)| v);

    match get("version") {
        None => errs.push("version", "dictionary doesn't specify a version"),
        Some(DocValue::Int(1)) | Some(DocValue::Bool(true)) => {}
        Some(DocValue::Float(f)) if *f == 1.0 => {}
        Some(DocValue::Str(s)) => errs.push(
            "version",
            format!("unsupported version '{s}' (must be the number 1)"),
        ),
        Some(other) => errs.push(
            "version",
            format!("unsupported version {} (must be 1)", short(other)),
        ),
    }
    let incremental = flag(get("incremental"), "incremental", false, errs);
    let disable_existing_loggers = flag(
        get("disable_existing_loggers"),
        "disable_existing_loggers",
        true,
        errs,
    );

    // CPython's incremental mode never reads formatters or filters; logwire ignores them too,
    // except that code-bearing keys ('()', '.', ext://) are still refused.
    let (formatters, filters) = if incremental {
        let mut ignored = ConfigErrors::default();
        section(
            get("formatters"),
            "formatters",
            &mut ignored,
            formatter_spec,
        );
        section(get("filters"), "filters", &mut ignored, filter_spec);
        errs.0.extend(ignored.0.into_iter().filter(|e| e.refusal));
        (Vec::new(), Vec::new())
    } else {
        (
            section(get("formatters"), "formatters", errs, formatter_spec),
            section(get("filters"), "filters", errs, filter_spec),
        )
    };
    // Incremental handlers name handlers that already exist: only their level is read.
    let handlers = if incremental {
        section(get("handlers"), "handlers", errs, incremental_handler_spec)
    } else {
        section(get("handlers"), "handlers", errs, handler_spec)
    };
    let loggers = section(get("loggers"), "loggers", errs, logger_spec);
    let root = match get("root") {
        None | Some(DocValue::Null) => None,
        // CPython: `if root:` — an empty mapping leaves the root untouched.
        Some(DocValue::Map(m)) if m.is_empty() => None,
        Some(v) => logger_spec("root", v, errs),
    };

    let mut warnings = Vec::new();
    for key in ["incremental", "disable_existing_loggers"] {
        if let Some(v) = get(key) {
            truth_warning(key, v, &mut warnings);
        }
    }
    if let Some(DocValue::Map(ls)) = get("loggers") {
        for (name, l) in ls {
            if let DocValue::Map(m) = l
                && let Some(v) = lookup(m, "propagate")
            {
                truth_warning(&format!("loggers.{name}.propagate"), v, &mut warnings);
            }
        }
    }
    if let Some(DocValue::Map(m)) = get("root")
        && let Some(v) = lookup(m, "propagate")
    {
        truth_warning("root.propagate", v, &mut warnings);
    }

    Some(ConfigModel {
        warnings,
        dialect: Dialect::Dict,
        incremental,
        disable_existing_loggers,
        formatters,
        filters,
        handlers,
        loggers,
        root,
    })
}

fn short(v: &DocValue) -> String {
    match v {
        DocValue::Int(i) => i.to_string(),
        DocValue::Float(f) => f.to_string(),
        DocValue::Bool(b) => b.to_string(),
        DocValue::Str(s) => format!("'{s}'"),
        other => other.type_name().to_owned(),
    }
}

/// A top-level flag (`incremental`, `disable_existing_loggers`): CPython pops it and uses
/// its truth, so every value is accepted with Python's meaning (`"False"` is true).
fn flag(v: Option<&DocValue>, _place: &str, default: bool, _errs: &mut ConfigErrors) -> bool {
    match v {
        None => default,
        Some(v) => truth(v),
    }
}

/// Python's truth of a document value: `None`, `False`, `0`, `0.0` and empty strings,
/// lists and mappings are false; everything else is true (`"no"`, `"False"`, `"0"` too).
pub(crate) fn truth(v: &DocValue) -> bool {
    match v {
        DocValue::Null => false,
        DocValue::Bool(b) => *b,
        DocValue::Int(i) => *i != 0,
        DocValue::Float(f) => *f != 0.0,
        DocValue::Str(s) => !s.is_empty(),
        DocValue::List(l) => !l.is_empty(),
        DocValue::Map(m) => !m.is_empty(),
    }
}

/// Whether a string reads as "false" to a person but is true to Python (non-empty).
pub(crate) fn looks_false(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "0" | "n" | "f" | "none" | "null"
    )
}

/// The warning for a flag whose value Python reads by truth in a way that may surprise.
fn truth_warning(place: &str, v: &DocValue, warnings: &mut Vec<ConfigError>) {
    if let DocValue::Str(s) = v
        && looks_false(s)
    {
        warnings.push(ConfigError::new(
            place,
            format!(
                "'{s}' is a non-empty string, so Python (and logwire) read it as true; \
                 write false to mean false"
            ),
        ));
    }
}

fn section<T>(
    v: Option<&DocValue>,
    place: &str,
    errs: &mut ConfigErrors,
    each: impl Fn(&str, &DocValue, &mut ConfigErrors) -> Option<T>,
) -> Vec<(String, T)> {
    match v {
        None | Some(DocValue::Null) => Vec::new(),
        Some(DocValue::Map(m)) => m
            .iter()
            .filter_map(|(id, body)| {
                each(&format!("{place}.{id}"), body, errs).map(|t| (id.clone(), t))
            })
            .collect(),
        Some(other) => {
            errs.push(
                place,
                format!("expected a mapping of ids, found {}", other.type_name()),
            );
            Vec::new()
        }
    }
}

fn body<'a>(
    place: &str,
    v: &'a DocValue,
    errs: &mut ConfigErrors,
) -> Option<&'a [(String, DocValue)]> {
    match v {
        DocValue::Map(m) => {
            for (k, v) in m {
                // A '()' naming python-json-logger's formatter is a registry name, looked up
                // (formatter_spec), never imported: not code.
                let json_factory = matches!(v, DocValue::Str(c)
                    if crate::model::JSON_FORMATTER_CLASSES.contains(&c.as_str()));
                if k == "()" && !(json_factory && place.starts_with("formatters.")) {
                    errs.refuse(
                        format!("{place}.()"),
                        "'()' factories are not allowed: logwire never runs code named in a configuration",
                    );
                }
                if k == "." {
                    errs.refuse(
                        format!("{place}.."),
                        "'.' attribute setting is not allowed: logwire never sets arbitrary attributes",
                    );
                }
            }
            Some(m)
        }
        other => {
            errs.push(
                place,
                format!("expected a mapping, found {}", other.type_name()),
            );
            None
        }
    }
}

fn lookup<'a>(m: &'a [(String, DocValue)], k: &str) -> Option<&'a DocValue> {
    m.iter()
        .find(|(key, _)| key == k)
        .and_then(|(_, v)| if *v == DocValue::Null { None } else { Some(v) })
}

fn opt_string(
    m: &[(String, DocValue)],
    k: &str,
    place: &str,
    errs: &mut ConfigErrors,
) -> Option<String> {
    match lookup(m, k) {
        None => None,
        Some(DocValue::Str(s)) => Some(s.clone()),
        Some(other) => {
            errs.push(
                format!("{place}.{k}"),
                format!("expected a string, found {}", other.type_name()),
            );
            None
        }
    }
}

fn id_list(m: &[(String, DocValue)], k: &str, place: &str, errs: &mut ConfigErrors) -> Vec<String> {
    match lookup(m, k) {
        None => Vec::new(),
        Some(DocValue::List(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                DocValue::Str(s) => Some(s.clone()),
                other => {
                    errs.push(
                        format!("{place}.{k}[{i}]"),
                        format!("expected an id (a string), found {}", other.type_name()),
                    );
                    None
                }
            })
            .collect(),
        Some(other) => {
            errs.push(
                format!("{place}.{k}"),
                format!("expected a list of ids, found {}", other.type_name()),
            );
            Vec::new()
        }
    }
}

/// A level as CPython's `_checkLevel` accepts it: an integer, or a registered level name.
pub(crate) fn level_value(v: &DocValue, place: &str, errs: &mut ConfigErrors) -> Option<i32> {
    match v {
        // A Python bool is an int: CPython's `_checkLevel(True)` is level 1.
        DocValue::Bool(b) => Some(i32::from(*b)),
        DocValue::Int(i) => match i32::try_from(*i) {
            Ok(n) => Some(n),
            Err(_) => {
                errs.push(place, format!("level {i} is out of range"));
                None
            }
        },
        DocValue::Str(s) => parse_level_name(s, place, errs),
        other => {
            errs.push(
                place,
                format!(
                    "expected a level name or number, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// A level name as CPython's `_checkLevel` accepts it (numeric strings are not names).
pub(crate) fn parse_level_name(s: &str, place: &str, errs: &mut ConfigErrors) -> Option<i32> {
    match logwire_engine::level::level_from_name(s) {
        Some(n) => Some(n),
        None => {
            errs.push(place, format!("unknown level '{s}'"));
            None
        }
    }
}

fn formatter_spec(place: &str, v: &DocValue, errs: &mut ConfigErrors) -> Option<FormatterSpec> {
    let m = body(place, v, errs)?;
    let factory = match lookup(m, "()") {
        Some(DocValue::Str(c)) => Some(c.clone()),
        _ => None,
    };
    let class = opt_string(m, "class", place, errs);
    let is_json = |c: &Option<String>| {
        c.as_deref()
            .is_some_and(|c| crate::model::JSON_FORMATTER_CLASSES.contains(&c))
    };
    if is_json(&factory) {
        // '()' (python-json-logger's documented way): every other key is a keyword argument.
        return json_formatter_spec(place, m, errs);
    }
    if let Some(class) = class
        && class != "logging.Formatter"
        && !is_json(&Some(class.clone()))
    {
        errs.push(
            format!("{place}.class"),
            format!("unknown formatter class '{class}': only logging.Formatter is available"),
        );
    }
    let style = match opt_string(m, "style", place, errs).as_deref() {
        None | Some("%") => Style::Percent,
        Some("{") => Style::Brace,
        Some("$") => Style::Dollar,
        Some(other) => {
            errs.push(
                format!("{place}.style"),
                format!("style must be one of %, {{, $ (found '{other}')"),
            );
            Style::Percent
        }
    };
    let validate = flag(
        lookup(m, "validate"),
        &format!("{place}.validate"),
        true,
        errs,
    );
    let defaults = match lookup(m, "defaults") {
        None => Vec::new(),
        Some(DocValue::Map(d)) => d
            .iter()
            .map(|(k, v)| (k.clone(), doc_to_value(v)))
            .collect(),
        Some(other) => {
            errs.push(
                format!("{place}.defaults"),
                format!("expected a mapping, found {}", other.type_name()),
            );
            Vec::new()
        }
    };
    // `class:` gets `c(fmt, datefmt, style, validate)`: the JSON formatter with its defaults.
    let json = is_json(&opt_string(m, "class", place, &mut ConfigErrors::default())).then(|| {
        logwire_engine::JsonOptions {
            ensure_ascii: true,
            ..Default::default()
        }
    });
    Some(FormatterSpec {
        format: opt_string(m, "format", place, errs),
        datefmt: opt_string(m, "datefmt", place, errs),
        style,
        validate,
        defaults,
        json,
    })
}

/// `'()': 'pythonjsonlogger.json.JsonFormatter'` with keyword arguments, as dictConfig calls
/// the factory (`format` is retried as `fmt`). The common options are supported; any other
/// is an error naming it.
fn json_formatter_spec(
    place: &str,
    m: &[(String, DocValue)],
    errs: &mut ConfigErrors,
) -> Option<FormatterSpec> {
    use logwire_engine::JsonOptions;
    let mut options = JsonOptions {
        ensure_ascii: true,
        ..Default::default()
    };
    let mut format = None;
    let mut datefmt = None;
    let mut style = Style::Percent;
    let mut validate = true;
    let str_map = |k: &str, v: &DocValue, errs: &mut ConfigErrors| -> Vec<(String, String)> {
        match v {
            DocValue::Map(pairs) => pairs
                .iter()
                .filter_map(|(a, b)| match b {
                    DocValue::Str(b) => Some((a.clone(), b.clone())),
                    other => {
                        errs.push(
                            format!("{place}.{k}.{a}"),
                            format!("expected a string, found {}", other.type_name()),
                        );
                        None
                    }
                })
                .collect(),
            other => {
                errs.push(
                    format!("{place}.{k}"),
                    format!("expected a mapping, found {}", other.type_name()),
                );
                Vec::new()
            }
        }
    };
    for (k, v) in m {
        let at = format!("{place}.{k}");
        let text = |errs: &mut ConfigErrors| match v {
            DocValue::Str(s) => Some(s.clone()),
            DocValue::Null => None,
            other => {
                errs.push(
                    at.clone(),
                    format!("expected a string, found {}", other.type_name()),
                );
                None
            }
        };
        match k.as_str() {
            "()" => {}
            "format" | "fmt" => format = text(errs),
            "datefmt" => datefmt = text(errs),
            "style" => {
                style = match text(errs).as_deref() {
                    None | Some("%") => Style::Percent,
                    Some("{") => Style::Brace,
                    Some("$") => Style::Dollar,
                    Some(other) => {
                        errs.push(
                            at,
                            format!("style must be one of %, {{, $ (found '{other}')"),
                        );
                        Style::Percent
                    }
                }
            }
            "validate" => validate = truth(v),
            "json_ensure_ascii" => options.ensure_ascii = truth(v),
            "prefix" => options.prefix = text(errs).unwrap_or_default(),
            "rename_fields" => options.rename_fields = str_map(k, v, errs),
            "static_fields" => match v {
                DocValue::Map(pairs) => {
                    options.static_fields = pairs
                        .iter()
                        .map(|(a, b)| (a.clone(), doc_to_value(b)))
                        .collect()
                }
                other => errs.push(
                    at,
                    format!("expected a mapping, found {}", other.type_name()),
                ),
            },
            "reserved_attrs" => match v {
                DocValue::List(items) => {
                    options.reserved_attrs = Some(
                        items
                            .iter()
                            .filter_map(|i| match i {
                                DocValue::Str(s) => Some(s.clone()),
                                _ => None,
                            })
                            .collect(),
                    )
                }
                other => errs.push(at, format!("expected a list, found {}", other.type_name())),
            },
            "timestamp" => {
                options.timestamp = match v {
                    DocValue::Str(s) if !s.is_empty() => Some(s.clone()),
                    v if truth(v) => Some("timestamp".to_owned()),
                    _ => None,
                }
            }
            other => errs.push(
                at,
                format!(
                    "'{other}' is not supported by logwire's JSON formatter (supported: format, \
                     datefmt, style, validate, rename_fields, static_fields, reserved_attrs, \
                     timestamp, json_ensure_ascii, prefix)"
                ),
            ),
        }
    }
    Some(FormatterSpec {
        format,
        datefmt,
        style,
        validate,
        defaults: Vec::new(),
        json: Some(options),
    })
}

fn filter_spec(place: &str, v: &DocValue, errs: &mut ConfigErrors) -> Option<FilterSpec> {
    let m = body(place, v, errs)?;
    Some(FilterSpec {
        name: opt_string(m, "name", place, errs).unwrap_or_default(),
    })
}

/// CPython's `valid_ident`: handler keyword names must be Python identifiers.
fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn handler_spec(place: &str, v: &DocValue, errs: &mut ConfigErrors) -> Option<HandlerSpec> {
    let m = body(place, v, errs)?;
    let class = match lookup(m, "class") {
        Some(DocValue::Str(s)) => s.clone(),
        Some(other) => {
            errs.push(
                format!("{place}.class"),
                format!("expected a class name, found {}", other.type_name()),
            );
            String::new()
        }
        None => {
            if lookup(m, "()").is_none() {
                errs.push(
                    format!("{place}.class"),
                    "missing: every handler needs a class",
                );
            }
            String::new()
        }
    };
    let level = lookup(m, "level").and_then(|l| level_value(l, &format!("{place}.level"), errs));
    let formatter = opt_string(m, "formatter", place, errs);
    let filters = id_list(m, "filters", place, errs);
    let mut kwargs = Vec::new();
    for (k, val) in m {
        if matches!(
            k.as_str(),
            "class" | "level" | "formatter" | "filters" | "()" | "."
        ) {
            continue;
        }
        if !valid_ident(k) {
            errs.push(
                format!("{place}.{k}"),
                format!("not a valid Python identifier: '{k}'"),
            );
            continue;
        }
        if let Some(cv) = doc_to_config_value(val, &format!("{place}.{k}"), errs) {
            kwargs.push((k.clone(), cv));
        }
    }
    Some(HandlerSpec {
        class,
        level,
        formatter,
        filters,
        args: Vec::new(),
        kwargs,
    })
}

/// CPython's incremental mode reads only `level` of a handler (no class, no arguments).
fn incremental_handler_spec(
    place: &str,
    v: &DocValue,
    errs: &mut ConfigErrors,
) -> Option<HandlerSpec> {
    let m = body(place, v, errs)?;
    let level = lookup(m, "level").and_then(|l| level_value(l, &format!("{place}.level"), errs));
    Some(HandlerSpec {
        class: String::new(),
        level,
        formatter: None,
        filters: Vec::new(),
        args: Vec::new(),
        kwargs: Vec::new(),
    })
}

fn logger_spec(place: &str, v: &DocValue, errs: &mut ConfigErrors) -> Option<LoggerSpec> {
    let m = body(place, v, errs)?;
    let level = lookup(m, "level").and_then(|l| level_value(l, &format!("{place}.level"), errs));
    // CPython: `if propagate is not None: logger.propagate = propagate`, used by its truth.
    let propagate = match lookup(m, "propagate") {
        None | Some(DocValue::Null) => None,
        Some(v) => Some(truth(v)),
    };
    Some(LoggerSpec {
        level,
        propagate,
        handlers: id_list(m, "handlers", place, errs),
        filters: id_list(m, "filters", place, errs),
    })
}

/// A plain engine value (formatter `defaults`).
fn doc_to_value(v: &DocValue) -> Value {
    match v {
        DocValue::Null => Value::None,
        DocValue::Bool(b) => Value::Bool(*b),
        DocValue::Int(i) => Value::Int(*i),
        DocValue::Float(f) => Value::Float(*f),
        DocValue::Str(s) => Value::Str(s.clone()),
        DocValue::List(l) => Value::List(l.iter().map(doc_to_value).collect()),
        DocValue::Map(m) => Value::Dict(
            m.iter()
                .map(|(k, v)| (Value::Str(k.clone()), doc_to_value(v)))
                .collect(),
        ),
    }
}

/// A handler argument: `ext://sys.stdout`/`ext://sys.stderr` become streams, any other
/// `ext://` is an error (CPython would import it).
fn doc_to_config_value(v: &DocValue, place: &str, errs: &mut ConfigErrors) -> Option<ConfigValue> {
    Some(match v {
        DocValue::Null => ConfigValue::None,
        DocValue::Bool(b) => ConfigValue::Bool(*b),
        DocValue::Int(i) => ConfigValue::Int(*i),
        DocValue::Float(f) => ConfigValue::Float(*f),
        DocValue::Str(s) => match s.strip_prefix("ext://") {
            Some("sys.stdout") => ConfigValue::Stream(StdStream::Stdout),
            Some("sys.stderr") => ConfigValue::Stream(StdStream::Stderr),
            Some(other) => {
                errs.refuse(
                    place,
                    format!("ext://{other} is not allowed: only ext://sys.stdout and ext://sys.stderr are (nothing is imported)"),
                );
                return None;
            }
            None => ConfigValue::Str(s.clone()),
        },
        DocValue::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for (i, item) in l.iter().enumerate() {
                out.push(doc_to_config_value(item, &format!("{place}[{i}]"), errs)?);
            }
            ConfigValue::List(out)
        }
        DocValue::Map(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, item) in m {
                // Python 3.12's `queue: {'()': 'queue.Queue', 'maxsize': N}` names the
                // built-in queue (compared by the QueueHandler kind, never imported).
                let std_queue = place.ends_with(".queue")
                    && matches!(item, DocValue::Str(s) if s == "queue.Queue" || s == "queue.SimpleQueue");
                if k == "()" && !std_queue {
                    errs.refuse(format!("{place}.()"), "'()' factories are not allowed: logwire never runs code named in a configuration");
                    return None;
                }
                out.push((
                    k.clone(),
                    doc_to_config_value(item, &format!("{place}.{k}"), errs)?,
                ));
            }
            ConfigValue::Map(out)
        }
    })
}

// ---- cfg:// references -------------------------------------------------------------------

/// One step of a `cfg://` path: `.word`/leading word, or `[index]`.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(String),
}

/// Parses a `cfg://` path as CPython 3.13 does: a word, then `.word` or `[anything but
/// brackets]` steps.
fn parse_cfg_path(path: &str) -> Result<Vec<Step>, String> {
    let s = path.trim_start();
    let word_len = s
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum::<usize>();
    if word_len == 0 {
        return Err(format!(
            "unable to convert 'cfg://{path}': no key at the start"
        ));
    }
    let mut steps = vec![Step::Key(s[..word_len].to_owned())];
    let mut rest = s[word_len..].trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let r = r.trim_start();
            let n = r
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .map(char::len_utf8)
                .sum::<usize>();
            if n == 0 {
                return Err(format!("unable to convert 'cfg://{path}' at '{rest}'"));
            }
            steps.push(Step::Key(r[..n].to_owned()));
            rest = r[n..].trim_start();
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Err(format!("unable to convert 'cfg://{path}' at '{rest}'"));
            };
            let inner = &r[..end];
            if inner.contains('[') {
                return Err(format!("unable to convert 'cfg://{path}' at '{rest}'"));
            }
            steps.push(Step::Index(inner.to_owned()));
            rest = r[end + 1..].trim_start();
        } else {
            return Err(format!("unable to convert 'cfg://{path}' at '{rest}'"));
        }
    }
    Ok(steps)
}

fn follow<'a>(root: &'a DocValue, path: &str) -> Result<&'a DocValue, String> {
    let mut cur = root;
    for step in parse_cfg_path(path)? {
        cur = match (&step, cur) {
            (Step::Key(k) | Step::Index(k), DocValue::Map(m)) => m
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("cfg://{path}: no key '{k}'"))?,
            (Step::Index(i), DocValue::List(l)) => {
                let n: usize = i
                    .trim()
                    .parse()
                    .map_err(|_| format!("cfg://{path}: '{i}' is not a list index"))?;
                l.get(n)
                    .ok_or_else(|| format!("cfg://{path}: index {n} is out of range"))?
            }
            (_, other) => {
                return Err(format!(
                    "cfg://{path}: cannot index into {}",
                    other.type_name()
                ));
            }
        };
    }
    Ok(cur)
}

/// Replaces every `cfg://` string by what it refers to, following chains up to a depth cap,
/// refusing cycles, and bounding how much the document may grow.
fn resolve_cfg_refs(doc: &DocValue, errs: &mut ConfigErrors) -> DocValue {
    let mut budget = CFG_MAX_NODES;
    resolve_value(doc, doc, "document", &mut Vec::new(), &mut budget, errs)
}

fn resolve_value(
    root: &DocValue,
    v: &DocValue,
    place: &str,
    chain: &mut Vec<String>,
    budget: &mut usize,
    errs: &mut ConfigErrors,
) -> DocValue {
    if *budget == 0 {
        return DocValue::Null;
    }
    *budget -= 1;
    if *budget == 0 {
        errs.push(
            place,
            format!("cfg:// references expand to more than {CFG_MAX_NODES} values"),
        );
        return DocValue::Null;
    }
    match v {
        DocValue::Str(s) if s.starts_with("cfg://") => {
            let path = &s["cfg://".len()..];
            if chain.iter().any(|p| p == path) {
                errs.push(
                    place,
                    format!(
                        "cfg:// reference cycle: {} -> cfg://{path}",
                        chain
                            .iter()
                            .map(|p| format!("cfg://{p}"))
                            .collect::<Vec<_>>()
                            .join(" -> ")
                    ),
                );
                return DocValue::Null;
            }
            if chain.len() >= CFG_MAX_DEPTH {
                errs.push(
                    place,
                    format!("cfg:// references nest deeper than {CFG_MAX_DEPTH}"),
                );
                return DocValue::Null;
            }
            match follow(root, path) {
                Ok(target) => {
                    chain.push(path.to_owned());
                    let out = resolve_value(root, target, place, chain, budget, errs);
                    chain.pop();
                    out
                }
                Err(e) => {
                    errs.push(place, e);
                    DocValue::Null
                }
            }
        }
        DocValue::List(l) => DocValue::List(
            l.iter()
                .enumerate()
                .map(|(i, x)| resolve_value(root, x, &format!("{place}[{i}]"), chain, budget, errs))
                .collect(),
        ),
        DocValue::Map(m) => DocValue::Map(
            m.iter()
                .map(|(k, x)| {
                    let p = if place == "document" {
                        k.clone()
                    } else {
                        format!("{place}.{k}")
                    };
                    (k.clone(), resolve_value(root, x, &p, chain, budget, errs))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> DocValue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn cfg_paths_follow_cpython() {
        let d = doc(
            r#"{"atuple": [1, 2, 3], "alist": ["a", "b", "c"], "adict": {"d": "e", "f": 3, "": 10},
                       "nest1": ["g", ["h", "i"], "j"]}"#,
        );
        assert_eq!(follow(&d, "atuple[1]").unwrap(), &DocValue::Int(2));
        assert_eq!(follow(&d, "alist[1]").unwrap(), &DocValue::Str("b".into()));
        assert_eq!(
            follow(&d, "nest1[1][0]").unwrap(),
            &DocValue::Str("h".into())
        );
        assert_eq!(follow(&d, "adict.d").unwrap(), &DocValue::Str("e".into()));
        assert_eq!(follow(&d, "adict[f]").unwrap(), &DocValue::Int(3));
        assert_eq!(follow(&d, "adict[]").unwrap(), &DocValue::Int(10));
        assert!(follow(&d, "nosuch").is_err());
        assert!(follow(&d, "!").is_err());
        assert!(follow(&d, "adict[2]").is_err());
    }

    /// Found by the differential test against CPython (`differential_dictconfig.rs`).
    #[test]
    fn booleans_are_levels_and_strings_are_flags_by_truth() {
        let mut errs = ConfigErrors::default();
        assert_eq!(
            level_value(&DocValue::Bool(true), "root.level", &mut errs),
            Some(1)
        );
        assert_eq!(
            level_value(&DocValue::Bool(false), "root.level", &mut errs),
            Some(0)
        );
        assert!(errs.0.is_empty(), "{errs}");
        // Python's truth: a non-empty string is true, whatever it says.
        let v = DocValue::Str("false".into());
        assert!(flag(Some(&v), "incremental", false, &mut errs));
        assert!(!flag(
            Some(&DocValue::Str(String::new())),
            "incremental",
            true,
            &mut errs
        ));
        assert!(!flag(
            Some(&DocValue::Null),
            "disable_existing_loggers",
            true,
            &mut errs
        ));
        assert!(errs.0.is_empty(), "{errs}");
    }

    /// Found by the differential test: CPython accepts this (it never reads the sections).
    #[test]
    fn incremental_ignores_formatters_and_filters() {
        let m = model_from_doc(&doc(
            r#"{"version": 1, "incremental": true, "filters": "h0", "formatters": {"f": 5}}"#,
        ))
        .unwrap();
        assert!(m.incremental && m.formatters.is_empty() && m.filters.is_empty());
        let errs = model_from_doc(&doc(
            r#"{"version": 1, "incremental": true, "filters": {"x": {"()": "os.system"}}}"#,
        ))
        .unwrap_err();
        assert!(
            errs.to_string().contains("'()' factories are not allowed"),
            "{errs}"
        );
    }

    #[test]
    fn cycles_and_depth_are_refused() {
        let mut errs = ConfigErrors::default();
        resolve_cfg_refs(&doc(r#"{"a": "cfg://b", "b": "cfg://a"}"#), &mut errs);
        assert!(errs.iter().any(|e| e.message.contains("cycle")), "{errs}");
        let mut errs = ConfigErrors::default();
        let chain: Vec<String> = (0..20)
            .map(|i| format!("\"k{i}\": \"cfg://k{}\"", i + 1))
            .collect();
        resolve_cfg_refs(
            &doc(&format!("{{{}, \"k20\": 1}}", chain.join(","))),
            &mut errs,
        );
        assert!(errs.iter().any(|e| e.message.contains("deeper")), "{errs}");
    }

    #[test]
    fn exponential_references_hit_the_budget() {
        // Seven levels of twenty references each: 20^7 values if nothing stopped it.
        let mut parts = vec!["\"l0\": [1, 2]".to_owned()];
        for i in 1..8 {
            let refs = vec![format!("\"cfg://l{}\"", i - 1); 20].join(",");
            parts.push(format!("\"l{i}\": [{refs}]"));
        }
        let mut errs = ConfigErrors::default();
        resolve_cfg_refs(&doc(&format!("{{{}}}", parts.join(","))), &mut errs);
        assert!(errs.iter().any(|e| e.message.contains("expand")), "{errs}");
    }
}
