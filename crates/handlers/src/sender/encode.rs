//! A [`LogRecord`] as CPython's `SocketHandler.makePickle` sends it.
//!
//! CPython does:
//!
//! ```python
//! d = dict(record.__dict__)
//! d['msg'] = record.getMessage()
//! d['args'] = None
//! d['exc_info'] = None
//! d.pop('message', None)
//! s = pickle.dumps(d, 1)
//! return struct.pack(">L", len(s)) + s
//! ```
//!
//! so the dict has the record's attributes in the order `LogRecord.__init__` sets them,
//! then the extra fields. CPython 3.12 added `taskName` after `process`; [`RecordLayout`]
//! says whether to send it, so that a receiver sees exactly the keys its own Python's
//! records have.
//!
//! ```
//! use logwire_engine::LogRecord;
//! use logwire_handlers::{RecordLayout, make_pickle};
//!
//! let record = LogRecord::new("app", 40, "/srv/app.py", 7, "disk full");
//! let frame = make_pickle(&record, RecordLayout::Python312).unwrap();
//! // A 4-byte big-endian length, then a protocol 1 pickle of a dict (`}` = EMPTY_DICT).
//! assert_eq!(u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
//! assert_eq!(frame[4], b'}');
//! ```

use logwire_engine::{LogRecord, Value};
use logwire_pickle::{EncodeError, PickleValue, encode_record_protocol1, encode_socket_frame};

/// Which Python's `LogRecord` attribute set to reproduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordLayout {
    /// CPython 3.8 – 3.11: no `taskName`.
    Python311,
    /// CPython 3.12 and later: `taskName` after `process`.
    #[default]
    Python312,
}

impl RecordLayout {
    /// The layout of a given CPython version (`(3, 11)` → [`RecordLayout::Python311`]).
    pub fn for_python(major: u32, minor: u32) -> Self {
        if (major, minor) >= (3, 12) {
            RecordLayout::Python312
        } else {
            RecordLayout::Python311
        }
    }

    /// Whether records carry `taskName`.
    pub fn has_task_name(self) -> bool {
        self == RecordLayout::Python312
    }
}

/// A plain [`Value`] as the pickle model's value (same shapes; nothing callable exists in
/// either).
pub fn to_pickle_value(value: &Value) -> PickleValue {
    match value {
        Value::None => PickleValue::None,
        Value::Bool(b) => PickleValue::Bool(*b),
        Value::Int(i) => PickleValue::Int(*i),
        Value::BigInt(s) => PickleValue::BigInt(s.clone()),
        Value::Float(f) => PickleValue::Float(*f),
        Value::Str(s) => PickleValue::Str(s.clone()),
        Value::Bytes(b) => PickleValue::Bytes(b.clone()),
        Value::List(items) => PickleValue::List(items.iter().map(to_pickle_value).collect()),
        Value::Tuple(items) => PickleValue::Tuple(items.iter().map(to_pickle_value).collect()),
        Value::Dict(pairs) => PickleValue::Dict(
            pairs
                .iter()
                .map(|(k, v)| (to_pickle_value(k), to_pickle_value(v)))
                .collect(),
        ),
        Value::Set(items) => PickleValue::Set(items.iter().map(to_pickle_value).collect()),
        Value::FrozenSet(items) => {
            PickleValue::FrozenSet(items.iter().map(to_pickle_value).collect())
        }
        // Forwarded as the text a receiver prints for it (nothing to rebuild it from).
        Value::Object(o) => PickleValue::Str(o.str.clone()),
    }
}

fn opt_str(s: &Option<String>) -> PickleValue {
    s.as_ref()
        .map_or(PickleValue::None, |s| PickleValue::Str(s.clone()))
}

/// The dict `makePickle` pickles, in CPython's key order: `msg` merged with its args,
/// `args` and `exc_info` `None`, no `message`.
pub fn record_dict(record: &LogRecord, layout: RecordLayout) -> Vec<(String, PickleValue)> {
    let mut d: Vec<(String, PickleValue)> = Vec::with_capacity(21 + record.extra.len());
    let mut put = |k: &str, v: PickleValue| d.push((k.to_owned(), v));
    put("name", PickleValue::Str(record.name.clone()));
    put("msg", PickleValue::Str(record.get_message()));
    put("args", PickleValue::None);
    put("levelname", PickleValue::Str(record.levelname.clone()));
    put("levelno", PickleValue::Int(record.levelno.into()));
    put("pathname", PickleValue::Str(record.pathname.clone()));
    put("filename", PickleValue::Str(record.filename.clone()));
    put("module", PickleValue::Str(record.module.clone()));
    put("exc_info", PickleValue::None);
    put("exc_text", opt_str(&record.exc_text));
    put("stack_info", opt_str(&record.stack_info));
    put("lineno", PickleValue::Int(record.lineno));
    put("funcName", opt_str(&record.func_name));
    put("created", PickleValue::Float(record.created));
    put("msecs", PickleValue::Float(record.msecs));
    put(
        "relativeCreated",
        PickleValue::Float(record.relative_created),
    );
    put(
        "thread",
        record.thread.map_or(PickleValue::None, |t| {
            i64::try_from(t).map_or_else(|_| PickleValue::BigInt(t.to_string()), PickleValue::Int)
        }),
    );
    put("threadName", opt_str(&record.thread_name));
    put("processName", opt_str(&record.process_name));
    put(
        "process",
        record
            .process
            .map_or(PickleValue::None, |p| PickleValue::Int(p.into())),
    );
    if layout.has_task_name() {
        put("taskName", opt_str(&record.task_name));
    }
    for (k, v) in &record.extra {
        // `makePickle` pops `message` (bpo-25685); it is derived, never sent.
        if k != "message" {
            put(k, to_pickle_value(v));
        }
    }
    d
}

/// The protocol 1 pickle of [`record_dict`], without the length prefix (the `LWR1` payload).
pub fn pickle_record(record: &LogRecord, layout: RecordLayout) -> Result<Vec<u8>, EncodeError> {
    encode_record_protocol1(&record_dict(record, layout))
}

/// Exactly what CPython's `SocketHandler.makePickle` returns: the 4-byte big-endian length,
/// then the protocol 1 pickle of the record dict.
pub fn make_pickle(record: &LogRecord, layout: RecordLayout) -> Result<Vec<u8>, EncodeError> {
    encode_socket_frame(&record_dict(record, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_cpython_order_and_merge_the_message() {
        let mut r = LogRecord::new("a.b", 20, "/x/y.py", 3, "n=%d");
        r.args = logwire_engine::Args::Tuple(vec![Value::Int(5)]);
        r.set_extra("user", "bob");
        r.set_extra("message", "derived");
        let d = record_dict(&r, RecordLayout::Python311);
        let keys: Vec<&str> = d.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys[..4], ["name", "msg", "args", "levelname"]);
        assert_eq!(keys.last(), Some(&"user"));
        assert!(!keys.contains(&"taskName") && !keys.contains(&"message"));
        assert_eq!(d[1].1, PickleValue::Str("n=5".into()));
        let d12 = record_dict(&r, RecordLayout::Python312);
        assert_eq!(d12[20].0, "taskName");
        assert_eq!(RecordLayout::for_python(3, 11), RecordLayout::Python311);
        assert_eq!(RecordLayout::for_python(3, 13), RecordLayout::Python312);
    }
}
