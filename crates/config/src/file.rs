//! The fileConfig front end: an INI document to a [`ConfigModel`].
//!
//! Sections and keys as CPython's `fileConfig` reads them (`[formatters] keys=`,
//! `[handler_<id>] class/args/kwargs/level/formatter/target`, `[logger_<id>] qualname/
//! handlers/level/propagate`); `class`, `args`, `kwargs` and `defaults` are parsed as Python
//! literals or class names, never evaluated.

use crate::error::ConfigErrors;
use crate::ini::{IniDocument, IniLimits};
use crate::model::{
    ConfigModel, ConfigValue, Dialect, FormatterSpec, HandlerSpec, LoggerSpec, StdStream,
};
use crate::pyliteral::{KnownName, PyLiteral, parse_class_name, parse_literal};
use logwire_engine::{Style, Value};

/// Parses INI text and converts it, with fileConfig's `disable_existing_loggers` and
/// `defaults` parameters.
pub fn model_from_ini(
    text: &str,
    defaults: &[(String, String)],
    disable_existing_loggers: bool,
) -> Result<ConfigModel, ConfigErrors> {
    let mut errs = ConfigErrors::default();
    match model_from_ini_parts(text, defaults, disable_existing_loggers, &mut errs) {
        Some(m) => errs.into_result(m),
        None => Err(errs),
    }
}

/// Like [`model_from_ini`], but adds its errors to `errs` and still returns the model built
/// from the valid parts, so that whole-model checks can report in the same run.
/// Crate-private: the public API is the one function, whose `Err` holds every error;
/// the configurator's check uses this to add whole-model errors in the same run.
pub(crate) fn model_from_ini_parts(
    text: &str,
    defaults: &[(String, String)],
    disable_existing_loggers: bool,
    errs: &mut ConfigErrors,
) -> Option<ConfigModel> {
    if text.trim().is_empty() {
        errs.push("document", "the configuration is empty");
        return None;
    }
    let defaults: Vec<(&str, &str)> = defaults
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match IniDocument::parse_with_defaults(text, &defaults, &IniLimits::default()) {
        Ok(doc) => model_from_document_parts(&doc, disable_existing_loggers, errs),
        Err(e) => {
            errs.push("document", format!("not a valid INI document: {e}"));
            None
        }
    }
}

fn keys(doc: &IniDocument, section: &str, errs: &mut ConfigErrors) -> Vec<String> {
    match doc.get(section, "keys") {
        Ok(Some(v)) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Ok(None) => {
            errs.push(
                format!("[{section}]"),
                "missing: the section needs a 'keys' option",
            );
            Vec::new()
        }
        Err(e) => {
            errs.push(format!("[{section}] keys"), e.to_string());
            Vec::new()
        }
    }
}

fn get(doc: &IniDocument, section: &str, option: &str, errs: &mut ConfigErrors) -> Option<String> {
    match doc.get(section, option) {
        Ok(v) => v,
        Err(e) => {
            errs.push(format!("[{section}] {option}"), e.to_string());
            None
        }
    }
}

fn literal_to_config(v: PyLiteral, place: &str, errs: &mut ConfigErrors) -> Option<ConfigValue> {
    Some(match v {
        PyLiteral::None => ConfigValue::None,
        PyLiteral::Bool(b) => ConfigValue::Bool(b),
        PyLiteral::Int(i) => ConfigValue::Int(i),
        PyLiteral::BigInt(s) => ConfigValue::BigInt(s),
        PyLiteral::Float(f) => ConfigValue::Float(f),
        PyLiteral::Str(s) => ConfigValue::Str(s),
        PyLiteral::Bytes(b) => ConfigValue::Bytes(b),
        PyLiteral::Tuple(t) => ConfigValue::Tuple(
            t.into_iter()
                .map(|x| literal_to_config(x, place, errs))
                .collect::<Option<_>>()?,
        ),
        PyLiteral::List(t) | PyLiteral::Set(t) => ConfigValue::List(
            t.into_iter()
                .map(|x| literal_to_config(x, place, errs))
                .collect::<Option<_>>()?,
        ),
        PyLiteral::Dict(d) => {
            let mut out = Vec::new();
            for (k, v) in d {
                let PyLiteral::Str(k) = k else {
                    errs.push(place, "dictionary keys must be strings");
                    return None;
                };
                out.push((k, literal_to_config(v, place, errs)?));
            }
            ConfigValue::Map(out)
        }
        PyLiteral::Name(KnownName::Stdout) => ConfigValue::Stream(StdStream::Stdout),
        PyLiteral::Name(KnownName::Stderr) => ConfigValue::Stream(StdStream::Stderr),
    })
}

fn literal_to_value(v: &ConfigValue) -> Value {
    v.to_value()
}

fn level_of(doc: &IniDocument, section: &str, errs: &mut ConfigErrors) -> Option<i32> {
    let raw = get(doc, section, "level", errs)?;
    crate::dict::parse_level_name(raw.trim(), &format!("[{section}] level"), errs)
}

/// Converts a parsed INI document.
pub fn model_from_document(
    doc: &IniDocument,
    disable_existing_loggers: bool,
) -> Result<ConfigModel, ConfigErrors> {
    let mut errs = ConfigErrors::default();
    match model_from_document_parts(doc, disable_existing_loggers, &mut errs) {
        Some(m) => errs.into_result(m),
        None => Err(errs),
    }
}

/// Like [`model_from_document`], collecting errors and keeping the valid parts.
/// Crate-private: the public API is the one function, whose `Err` holds every error;
/// the configurator's check uses this to add whole-model errors in the same run.
pub(crate) fn model_from_document_parts(
    doc: &IniDocument,
    disable_existing_loggers: bool,
    errs: &mut ConfigErrors,
) -> Option<ConfigModel> {
    let before = errs.0.len();
    for s in ["formatters", "handlers", "loggers"] {
        if !doc.has_section(s) {
            errs.push(format!("[{s}]"), "missing section");
        }
    }
    if errs.0.len() > before {
        return None;
    }

    let mut formatters = Vec::new();
    for id in keys(doc, "formatters", errs) {
        let sec = format!("formatter_{id}");
        if !doc.has_section(&sec) {
            errs.push(
                format!("[{sec}]"),
                format!("missing section for formatter '{id}'"),
            );
            continue;
        }
        // fileConfig reads these raw: no % interpolation.
        let raw = |k: &str| doc.get_raw(&sec, k).map(str::to_owned);
        let mut json = None;
        if let Some(class) = get(doc, &sec, "class", errs) {
            match parse_class_name(&class) {
                Ok(c) if c == "logging.Formatter" || c == "Formatter" => {}
                // fileConfig calls `c(fmt, datefmt, style, validate)`: the JSON formatter
                // with its default options.
                Ok(c) if crate::model::JSON_FORMATTER_CLASSES.contains(&c.as_str()) => {
                    json = Some(logwire_engine::JsonOptions {
                        ensure_ascii: true,
                        ..Default::default()
                    });
                }
                Ok(c) => errs.push(
                    format!("[{sec}] class"),
                    format!("unknown formatter class '{c}': only logging.Formatter is available"),
                ),
                Err(e) => errs.push(format!("[{sec}] class"), e.to_string()),
            }
        }
        let style = match raw("style").as_deref() {
            None | Some("%") => Style::Percent,
            Some("{") => Style::Brace,
            Some("$") => Style::Dollar,
            Some(other) => {
                errs.push(
                    format!("[{sec}] style"),
                    format!("style must be one of %, {{, $ (found '{other}')"),
                );
                Style::Percent
            }
        };
        let defaults = match raw("defaults") {
            None => Vec::new(),
            Some(text) => match parse_literal(&text) {
                Ok(PyLiteral::Dict(d)) => d
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let PyLiteral::Str(k) = k else { return None };
                        literal_to_config(v, &format!("[{sec}] defaults"), errs)
                            .map(|v| (k, literal_to_value(&v)))
                    })
                    .collect(),
                Ok(_) => {
                    errs.push(format!("[{sec}] defaults"), "expected a dictionary literal");
                    Vec::new()
                }
                Err(e) => {
                    errs.push(format!("[{sec}] defaults"), e.to_string());
                    Vec::new()
                }
            },
        };
        // `datefmt=` (empty) means no date format, as in CPython's test configs.
        let datefmt = raw("datefmt").filter(|s| !s.is_empty());
        formatters.push((
            id,
            FormatterSpec {
                format: raw("format"),
                datefmt,
                style,
                validate: true,
                defaults,
                json,
            },
        ));
    }

    let mut handlers = Vec::new();
    for id in keys(doc, "handlers", errs) {
        let sec = format!("handler_{id}");
        if !doc.has_section(&sec) {
            errs.push(
                format!("[{sec}]"),
                format!("missing section for handler '{id}'"),
            );
            continue;
        }
        let class = match get(doc, &sec, "class", errs) {
            None => {
                errs.push(
                    format!("[{sec}] class"),
                    "missing: every handler needs a class",
                );
                String::new()
            }
            Some(c) => match parse_class_name(&c) {
                Ok(c) => c,
                Err(e) => {
                    errs.push(format!("[{sec}] class"), e.to_string());
                    String::new()
                }
            },
        };
        let level = if doc.has_option(&sec, "level") {
            level_of(doc, &sec, errs)
        } else {
            None
        };
        let formatter = get(doc, &sec, "formatter", errs).filter(|f| !f.is_empty());
        let args = match get(doc, &sec, "args", errs) {
            None => Vec::new(),
            Some(text) => match parse_literal(&text) {
                Ok(PyLiteral::Tuple(items)) | Ok(PyLiteral::List(items)) => items
                    .into_iter()
                    .filter_map(|x| literal_to_config(x, &format!("[{sec}] args"), errs))
                    .collect(),
                Ok(_) => {
                    errs.push(
                        format!("[{sec}] args"),
                        "expected a tuple of arguments, e.g. (sys.stdout,)",
                    );
                    Vec::new()
                }
                Err(e) => {
                    errs.push(
                        format!("[{sec}] args"),
                        format!("not a Python literal: {e}"),
                    );
                    Vec::new()
                }
            },
        };
        let mut kwargs = match get(doc, &sec, "kwargs", errs) {
            None => Vec::new(),
            Some(text) => match parse_literal(&text) {
                Ok(PyLiteral::Dict(d)) => {
                    let mut out = Vec::new();
                    for (k, v) in d {
                        match k {
                            PyLiteral::Str(k) => {
                                if let Some(v) =
                                    literal_to_config(v, &format!("[{sec}] kwargs"), errs)
                                {
                                    out.push((k, v));
                                }
                            }
                            _ => errs
                                .push(format!("[{sec}] kwargs"), "keyword names must be strings"),
                        }
                    }
                    out
                }
                Ok(_) => {
                    errs.push(format!("[{sec}] kwargs"), "expected a dictionary literal");
                    Vec::new()
                }
                Err(e) => {
                    errs.push(
                        format!("[{sec}] kwargs"),
                        format!("not a Python literal: {e}"),
                    );
                    Vec::new()
                }
            },
        };
        // `target` names another handler (MemoryHandler); CPython fixes it up after creating all.
        if let Some(t) = get(doc, &sec, "target", errs).filter(|t| !t.is_empty()) {
            kwargs.push(("target".into(), ConfigValue::Str(t)));
        }
        handlers.push((
            id,
            HandlerSpec {
                class,
                level,
                formatter,
                filters: Vec::new(),
                args,
                kwargs,
            },
        ));
    }

    let logger_ids = keys(doc, "loggers", errs);
    if !logger_ids.iter().any(|k| k == "root") {
        errs.push("[loggers] keys", "must include 'root'");
    }
    let handler_list = |sec: &str, errs: &mut ConfigErrors| -> Vec<String> {
        match get(doc, sec, "handlers", errs) {
            None => {
                errs.push(
                    format!("[{sec}] handlers"),
                    "missing (it may be empty: handlers=)",
                );
                Vec::new()
            }
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    };
    let mut root = None;
    let mut loggers = Vec::new();
    for id in logger_ids {
        let sec = format!("logger_{id}");
        if !doc.has_section(&sec) {
            errs.push(
                format!("[{sec}]"),
                format!("missing section for logger '{id}'"),
            );
            continue;
        }
        let level = if doc.has_option(&sec, "level") {
            level_of(doc, &sec, errs)
        } else {
            None
        };
        let handlers = handler_list(&sec, errs);
        if id == "root" {
            root = Some(LoggerSpec {
                level,
                propagate: None,
                handlers,
                filters: Vec::new(),
            });
            continue;
        }
        let Some(qualname) = get(doc, &sec, "qualname", errs) else {
            errs.push(
                format!("[{sec}] qualname"),
                "missing: every logger but root needs a qualname",
            );
            continue;
        };
        let propagate = match get(doc, &sec, "propagate", errs) {
            None => true,
            Some(p) => match p.trim().parse::<i64>() {
                Ok(n) => n != 0,
                Err(_) => {
                    errs.push(
                        format!("[{sec}] propagate"),
                        format!("expected an integer (0 or 1), found '{p}'"),
                    );
                    true
                }
            },
        };
        loggers.push((
            qualname,
            LoggerSpec {
                level,
                propagate: Some(propagate),
                handlers,
                filters: Vec::new(),
            },
        ));
    }

    // fileConfig always replaces the root's handlers, even with an empty list.
    Some(ConfigModel {
        warnings: Vec::new(),
        dialect: Dialect::File,
        incremental: false,
        disable_existing_loggers,
        formatters,
        filters: Vec::new(),
        handlers,
        loggers,
        root: root.or_else(|| Some(LoggerSpec::default())),
    })
}
