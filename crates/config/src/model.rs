//! The one typed model that every front end produces and the builder consumes.

use logwire_engine::{Style, Value};

/// Which front end a model came from (they differ in a few CPython defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `dictConfig` (JSON, YAML, TOML).
    Dict,
    /// `fileConfig` (INI).
    File,
}

/// `sys.stdout` or `sys.stderr`: the only streams a configuration can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdStream {
    /// `ext://sys.stdout` / `sys.stdout`.
    Stdout,
    /// `ext://sys.stderr` / `sys.stderr`.
    Stderr,
}

/// A handler constructor argument: plain data, or one of the standard streams.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    /// `None` / `null`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer outside 64 bits, as decimal text.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// Bytes (INI `b'…'` literals).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<ConfigValue>),
    /// A tuple (INI literals; dictConfig has none).
    Tuple(Vec<ConfigValue>),
    /// A mapping with string keys.
    Map(Vec<(String, ConfigValue)>),
    /// A standard stream.
    Stream(StdStream),
}

impl ConfigValue {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ConfigValue::None => "None",
            ConfigValue::Bool(_) => "a boolean",
            ConfigValue::Int(_) | ConfigValue::BigInt(_) => "an integer",
            ConfigValue::Float(_) => "a float",
            ConfigValue::Str(_) => "a string",
            ConfigValue::Bytes(_) => "bytes",
            ConfigValue::List(_) => "a list",
            ConfigValue::Tuple(_) => "a tuple",
            ConfigValue::Map(_) => "a mapping",
            ConfigValue::Stream(_) => "a stream",
        }
    }

    /// Converts to an engine [`Value`] (streams become their Python names).
    pub fn to_value(&self) -> Value {
        match self {
            ConfigValue::None => Value::None,
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Int(i) => Value::Int(*i),
            ConfigValue::BigInt(s) => Value::BigInt(s.clone()),
            ConfigValue::Float(f) => Value::Float(*f),
            ConfigValue::Str(s) => Value::Str(s.clone()),
            ConfigValue::Bytes(b) => Value::Bytes(b.clone()),
            ConfigValue::List(l) => Value::List(l.iter().map(Self::to_value).collect()),
            ConfigValue::Tuple(l) => Value::Tuple(l.iter().map(Self::to_value).collect()),
            ConfigValue::Map(m) => Value::Dict(
                m.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), v.to_value()))
                    .collect(),
            ),
            ConfigValue::Stream(StdStream::Stdout) => Value::Str("<stdout>".into()),
            ConfigValue::Stream(StdStream::Stderr) => Value::Str("<stderr>".into()),
        }
    }
}

/// A formatter (`formatters.<id>` / `[formatter_<id>]`).
#[derive(Clone, Debug, PartialEq)]
pub struct FormatterSpec {
    /// `format`.
    pub format: Option<String>,
    /// `datefmt`.
    pub datefmt: Option<String>,
    /// `style`.
    pub style: Style,
    /// `validate` (fileConfig always validates).
    pub validate: bool,
    /// `defaults`.
    pub defaults: Vec<(String, Value)>,
    /// Set when the formatter is python-json-logger's `JsonFormatter` (mapped to the built-in
    /// JSON formatter), with its options.
    pub json: Option<logwire_engine::JsonOptions>,
}

/// python-json-logger's class names (`jsonlogger` before 3.0, `json` since), mapped to the
/// built-in JSON formatter. They are compared as names; nothing is imported.
pub const JSON_FORMATTER_CLASSES: &[&str] = &[
    "pythonjsonlogger.jsonlogger.JsonFormatter",
    "pythonjsonlogger.json.JsonFormatter",
];

/// A filter (`filters.<id>`): CPython's `logging.Filter(name)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// The logger name the filter passes (with its children).
    pub name: String,
}

/// A handler (`handlers.<id>` / `[handler_<id>]`).
#[derive(Clone, Debug, PartialEq)]
pub struct HandlerSpec {
    /// The class name as written.
    pub class: String,
    /// `level`.
    pub level: Option<i32>,
    /// `formatter` id.
    pub formatter: Option<String>,
    /// `filters` ids.
    pub filters: Vec<String>,
    /// Positional constructor arguments (fileConfig `args`).
    pub args: Vec<ConfigValue>,
    /// Keyword constructor arguments (dictConfig's other keys, fileConfig `kwargs`).
    pub kwargs: Vec<(String, ConfigValue)>,
}

/// A logger (`loggers.<name>`, `root`, `[logger_<id>]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggerSpec {
    /// `level`.
    pub level: Option<i32>,
    /// `propagate`.
    pub propagate: Option<bool>,
    /// `handlers` ids.
    pub handlers: Vec<String>,
    /// `filters` ids.
    pub filters: Vec<String>,
}

/// A whole, validated configuration document.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigModel {
    /// The front end it came from.
    pub dialect: Dialect,
    /// `incremental`: only levels and `propagate` change.
    pub incremental: bool,
    /// `disable_existing_loggers`.
    pub disable_existing_loggers: bool,
    /// Formatters by id, in document order.
    pub formatters: Vec<(String, FormatterSpec)>,
    /// Filters by id, in document order.
    pub filters: Vec<(String, FilterSpec)>,
    /// Handlers by id, in document order (the builder sorts them as CPython does).
    pub handlers: Vec<(String, HandlerSpec)>,
    /// Loggers by name, in document order.
    pub loggers: Vec<(String, LoggerSpec)>,
    /// The root logger, if configured.
    pub root: Option<LoggerSpec>,
    /// Accepted values whose Python meaning may surprise (`"propagate": "False"` is true):
    /// `logwire check` prints them; applying ignores them.
    pub warnings: Vec<crate::error::ConfigError>,
}
