//! Received payloads (pickle or JSON record dicts) to [`LogRecord`], with `makeLogRecord`
//! semantics.
//!
//! CPython's receiver does `logging.makeLogRecord(pickle.loads(frame))`: a blank record whose
//! `__dict__` is updated with whatever the sender put in the dict. [`RecordMapper`] does the
//! same with data only:
//!
//! * the payload is parsed by the bounded pickle *parser* of `logwire-pickle` (never an
//!   unpickler), or by `serde_json` when its first byte is `{`, with a depth cap;
//! * the top level must be a dict with `str` keys;
//! * every known `LogRecord` attribute is type-checked: `levelno` as a `str`, `created` as a
//!   list, … rejects the record with [`MapError::BadField`] naming the attribute;
//! * unknown keys become [`LogRecord::extra`] fields with typed [`Value`]s. Objects that would
//!   need code to rebuild (a `datetime` in `extra=`) arrive as inert pickle placeholders and
//!   are kept as their placeholder text, e.g. `<datetime.datetime>`;
//! * absent keys get `makeLogRecord`'s defaults (`msg` `''`, `lineno` 0, `created` now, the
//!   receiver's thread and process …), with two deliberate differences, since the engine's
//!   record is typed: an absent `name` (CPython: `None`) is `root`, which is also where
//!   CPython's `getLogger(None)` routes it; an absent `levelno` (CPython: `None`) is 0, and an
//!   absent `levelname` is derived from `levelno` (`Level None` when both are absent);
//! * `msg` is **never formatted again** with `args`. CPython's `SocketHandler.makePickle`
//!   already merged them (`d['msg'] = record.getMessage(); d['args'] = None`). A peer that
//!   sends a non-empty `args` anyway gets them kept as data in the extra field
//!   [`REMOTE_ARGS_FIELD`], never applied with `%`: remote `%`-formatting is a memory bomb
//!   (`msg='%0100000000d'`) and changes what the sender logged;
//! * `exc_info` is ignored (CPython always sends `None`; the text is in `exc_text`), and so
//!   are `message` and `asctime`, which formatters derive.
//!
//! ```
//! use logwire_record::{Format, RecordMapper};
//! use logwire_pickle::{PickleValue, encode_record_protocol1};
//!
//! let payload = encode_record_protocol1(&[
//!     ("name".to_owned(), PickleValue::Str("app.db".into())),
//!     ("msg".to_owned(), PickleValue::Str("connected".into())),
//!     ("levelno".to_owned(), PickleValue::Int(20)),
//!     ("levelname".to_owned(), PickleValue::Str("INFO".into())),
//!     ("request_id".to_owned(), PickleValue::Int(7)),
//! ])
//! .unwrap();
//! let mut mapper = RecordMapper::default();
//! let record = mapper.map(&payload, Format::Sniff).unwrap();
//! assert_eq!((record.name.as_str(), record.levelno), ("app.db", 20));
//! assert_eq!(record.extra("request_id"), Some(&logwire_engine::Value::Int(7)));
//!
//! let json = br#"{"name": "app", "msg": "hi", "levelno": "INFO"}"#;
//! let err = mapper.map(json, Format::Sniff).unwrap_err();
//! assert_eq!(err.to_string(), "field levelno: expected int, found str");
//! ```

use logwire_engine::{Args, Attribute, LogRecord, PyObject, Value, level, now_secs};
use logwire_pickle::{
    DecodeError, DecodeLimits, FieldValue, PickleDecoder, PickleValue, RecordTemplate,
};
use std::fmt;
use std::ops::Deref;

mod pool;

pub use pool::RecordPool;
use pool::Spare;

/// The extra field that holds a non-empty `args` a peer sent (kept as data, never applied).
pub const REMOTE_ARGS_FIELD: &str = "remote_args";

/// Limits for one record payload, on top of the transport's frame cap.
#[derive(Clone, Debug)]
pub struct MapLimits {
    /// Budgets of the pickle parser.
    pub pickle: DecodeLimits,
    /// Maximum nesting of a JSON payload (the top-level object is depth 1).
    pub json_max_depth: usize,
    /// Maximum number of JSON values (after parsing) in one record.
    pub json_max_values: usize,
    /// What one record may hold, per byte of its payload: the bytes of its text (strs,
    /// bytes, big ints, keys) plus [`NODE_BYTES`] per value, counted as its fields are
    /// stored, before they are copied. A pickle memo `GET` repeats a str for two bytes, so
    /// without this a 512 KB frame re-using a 500 KiB str in 30 keys became a 15 MB record,
    /// and a queue of such records gigabytes. CPython's records hold less text than their
    /// payload (their strs are not shared), a list of `None`s about 8 units per byte.
    pub record_bytes_per_payload_byte: usize,
    /// Added to the per-byte allowance of every record, so that short records with a few
    /// shared strs still map.
    pub record_bytes_slack: usize,
}

/// What a value counts against a record's budget on top of its text (see
/// [`MapLimits::record_bytes_per_payload_byte`]): about the memory of a `Value` slot.
pub const NODE_BYTES: usize = 8;

impl Default for MapLimits {
    fn default() -> Self {
        MapLimits {
            // Records are small: a 688-byte access-log record has ~25 keys. These caps stop
            // bombs long before they cost anything, and still leave room for big `extra`s.
            pickle: DecodeLimits {
                max_input_len: 16 << 20,
                max_depth: 32,
                max_nodes: 100_000,
                max_memo: 65_536,
                max_str_len: 4 << 20,
                max_expanded_bytes: 16 << 20,
                max_long_digits: 40,
            },
            json_max_depth: 32,
            json_max_values: 100_000,
            record_bytes_per_payload_byte: 8,
            record_bytes_slack: 1024,
        }
    }
}

/// Why a payload did not become a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The pickle parser refused the payload (bomb, cycle, garbage, not a dict, …).
    #[error("bad pickle: {0}")]
    BadPickle(DecodeError),
    /// The JSON payload did not parse or is not an object with the caps.
    #[error("bad JSON: {0}")]
    BadJson(String),
    /// A known attribute has the wrong type or an out-of-range value.
    #[error("field {field}: {reason}")]
    BadField {
        /// The attribute (`levelno`, `created`, …).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The payload is empty (a zero-length frame).
    #[error("empty payload")]
    Empty,
    /// The record would hold more than its payload's budget (shared strs expanded).
    #[error(
        "record would hold more than {budget} bytes (its {payload}-byte payload repeats shared values)"
    )]
    TooExpanded {
        /// The budget for this payload.
        budget: usize,
        /// The payload's length.
        payload: usize,
    },
}

impl MapError {
    /// The counter this error is accounted under: `bad_pickle`, `bad_json` or `bad_record`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            MapError::BadPickle(_) => "bad_pickle",
            MapError::BadJson(_) => "bad_json",
            MapError::BadField { .. } | MapError::TooExpanded { .. } => "bad_record",
            MapError::Empty => "empty",
        }
    }
}

/// How a payload is encoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decided by the first byte: JSON if it is `{`, otherwise pickle (a protocol 0/1
    /// record pickle starts with `}` or `(`, protocol 2+ with `\x80`). What a plain
    /// `SocketHandler` frame needs.
    #[default]
    Sniff,
    /// A pickled record dict (`SocketHandler.makePickle` without the length prefix).
    Pickle,
    /// A JSON object with the same keys as the pickled dict.
    Json,
}

/// Turns received record dicts into [`LogRecord`]s. One per connection or worker: it keeps
/// the pickle parser's buffers between records.
#[derive(Debug)]
pub struct RecordMapper {
    limits: MapLimits,
    decoder: PickleDecoder,
    /// The layout of this sender's records, with each key's attribute.
    template: RecordTemplate<Attr>,
    /// Spent records taken from the shared pool to refill, [`pool::SPARE_RECORDS`] at a time, so
    /// the pool's lock (which the dispatcher takes too) is taken once per batch, not per
    /// record. Kept here, not per thread: a mapper moves between the receiver's decode
    /// threads, and its records should be the ones it filled (see [`pool`]).
    spare: Spare,
    /// See [`RecordMapper::key_comparisons`].
    compared: usize,
}

impl Default for RecordMapper {
    /// A mapper with [`MapLimits::default`] (its pickle parser too).
    fn default() -> Self {
        RecordMapper::new(MapLimits::default())
    }
}

impl RecordMapper {
    /// A mapper with these limits.
    pub fn new(limits: MapLimits) -> Self {
        let decoder = PickleDecoder::new(limits.pickle.clone());
        RecordMapper {
            limits,
            decoder,
            template: RecordTemplate::default(),
            spare: Spare::default(),
            compared: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &MapLimits {
        &self.limits
    }

    /// Maps one payload (a frame's body, without its length prefix) to a record.
    pub fn map(&mut self, payload: &[u8], format: Format) -> Result<LogRecord, MapError> {
        self.map_reusable(payload, format)
            .map(MappedRecord::into_record)
    }

    /// [`map`](Self::map), as a [`MappedRecord`] filled from a reused one: the collector's
    /// path, which hands records its handlers are done with back through
    /// [`RecordPool::recycle`] (or [`give_back`](Self::give_back)) instead of allocating new
    /// ones.
    pub fn map_reusable(
        &mut self,
        payload: &[u8],
        format: Format,
    ) -> Result<Box<MappedRecord>, MapError> {
        match (format, payload.first()) {
            (_, None) => Err(MapError::Empty),
            (Format::Pickle, _) => self.map_pickle_boxed(payload),
            (Format::Json, _) | (Format::Sniff, Some(b'{')) => self.map_json_boxed(payload),
            (Format::Sniff, Some(_)) => self.map_pickle_boxed(payload),
        }
    }

    /// A pickled record dict (`SocketHandler.makePickle` without the length prefix).
    ///
    /// The parser hands the top-level pairs over with strs borrowed from its own buffer, so
    /// the only copies made here are into the record's own (reused) strings.
    fn map_pickle_boxed(&mut self, payload: &[u8]) -> Result<Box<MappedRecord>, MapError> {
        if payload.is_empty() {
            return Err(MapError::Empty);
        }
        let generation = self.template.generation();
        let budget = self.limits.record_budget(payload.len());
        let mut builder = RecordBuilder::new(self.spare.take(generation), budget, payload.len());
        // The record holds this generation's learned values from its last fill: those need
        // not be stored again (see `MappedRecord`).
        let holds_learned = generation != 0 && builder.rec.filled_by == generation;
        let template = &mut self.template;
        let matched = self.decoder.decode_record_tagged(
            payload,
            template,
            Attribute::of,
            |attr| holds_learned && !matches!(attr, Some(Attribute::Args) | None),
            |attr, key, value| {
                let field = match value {
                    FieldValue::Str(s) => Field::Str(s),
                    FieldValue::None => Field::None,
                    FieldValue::Bool(b) => Field::Bool(b),
                    FieldValue::Int(i) => Field::Int(i),
                    FieldValue::Float(x) => Field::Float(x),
                    FieldValue::Other(v) => Field::from_value(pickle_to_value(v)),
                };
                builder.field_at(attr, key, field)
            },
        );
        self.compared = builder.compared;
        let matched = matched?;
        if matched && holds_learned {
            builder.holding_learned();
        }
        Ok(builder.finish(if matched { generation } else { 0 }))
    }

    /// Takes back a record whose handlers have run, to be refilled by this mapper's next
    /// record, instead of through [`RecordPool::recycle`]'s shared pool. For a caller that maps and
    /// handles on one thread (the receiver's dispatcher judging a read itself): the next
    /// record then refills memory still in this core's cache.
    pub fn give_back(&mut self, rec: Box<MappedRecord>) {
        self.spare.give_back(rec);
    }

    /// A JSON object with the same keys as the pickled dict.
    fn map_json_boxed(&mut self, payload: &[u8]) -> Result<Box<MappedRecord>, MapError> {
        if payload.is_empty() {
            return Err(MapError::Empty);
        }
        self.compared = 0;
        let fields = json::parse_object(payload, &self.limits, &mut self.compared)?;
        let budget = self.limits.record_budget(payload.len());
        let mut builder = RecordBuilder::new(self.spare.take(0), budget, payload.len());
        for (key, value) in fields {
            let stored = builder.field(&key, Field::from_value(value));
            self.compared += std::mem::take(&mut builder.compared);
            stored?;
        }
        Ok(builder.finish(0))
    }

    /// Keys compared with other keys while mapping the last payload (JSON's last-wins
    /// dedupe, `remote_args`): at most 17 per payload byte, where comparing every key with
    /// every earlier one was quadratic. A deterministic cost measure for tests and fuzzing.
    pub fn key_comparisons(&self) -> usize {
        self.compared
    }
}

/// A record a [`RecordMapper`] filled, on its way to the handlers. It reads as a
/// [`LogRecord`] (through `Deref`) but cannot be changed: [`RecordPool::recycle`] gives it back to the
/// mappers as it was filled, which is what lets a mapper that refills it with a record of
/// the same learned layout skip storing the values that did not change (the logger name,
/// the level, the source file, the thread, …).
#[derive(Debug)]
pub struct MappedRecord {
    record: LogRecord,
    /// The [`RecordTemplate::generation`] whose learned values the record holds in every
    /// attribute the template's records set (0: none).
    filled_by: u64,
    /// The attributes its last fill set (the same for every record of a generation).
    filled_present: Present,
    /// What its fields counted against the budget (see [`MapLimits::record_budget`]).
    counted: usize,
}

impl MappedRecord {
    /// About the heap bytes the record holds: its fields as counted against the budget
    /// (see [`MapLimits::record_bytes_per_payload_byte`]) plus the record itself. What a
    /// receiver charges a queued record to its queue's byte budget.
    pub fn cost_bytes(&self) -> usize {
        self.counted + std::mem::size_of::<MappedRecord>()
    }

    /// Sets the extra field `key` to the sender's address, replacing one the sender sent
    /// (so it cannot forge it). The next fill of a reused record drops it with the other
    /// extras; it is counted in [`MappedRecord::cost_bytes`].
    pub fn set_peer(&mut self, key: &str, peer: &str) {
        self.counted += key.len() + peer.len();
        self.record.set_extra(key, peer);
    }

    /// The record, to own and change.
    pub fn into_record(self: Box<Self>) -> LogRecord {
        self.record
    }
}

impl Deref for MappedRecord {
    type Target = LogRecord;
    fn deref(&self) -> &LogRecord {
        &self.record
    }
}

impl From<DecodeError> for MapError {
    fn from(e: DecodeError) -> Self {
        MapError::BadPickle(e)
    }
}

/// A pickle value as engine data: opaque objects become their placeholder text, allow-listed
/// standard-library values an [`Value::Object`] with the texts CPython would print.
fn pickle_to_value(v: PickleValue) -> Value {
    match v {
        PickleValue::None => Value::None,
        PickleValue::Bool(b) => Value::Bool(b),
        PickleValue::Int(i) => Value::Int(i),
        PickleValue::BigInt(s) => Value::BigInt(s),
        PickleValue::Float(x) => Value::Float(x),
        PickleValue::Str(s) => Value::Str(s),
        PickleValue::Bytes(b) | PickleValue::ByteArray(b) => Value::Bytes(b),
        PickleValue::List(v) => Value::List(v.into_iter().map(pickle_to_value).collect()),
        PickleValue::Set(v) => Value::Set(v.into_iter().map(pickle_to_value).collect()),
        PickleValue::FrozenSet(v) => Value::FrozenSet(v.into_iter().map(pickle_to_value).collect()),
        PickleValue::Known { class, str, repr } => {
            Value::Object(Box::new(PyObject { class, str, repr }))
        }
        PickleValue::Tuple(v) => Value::Tuple(v.into_iter().map(pickle_to_value).collect()),
        PickleValue::Dict(kv) => Value::Dict(
            kv.into_iter()
                .map(|(k, v)| (pickle_to_value(k), pickle_to_value(v)))
                .collect(),
        ),
        opaque @ PickleValue::Opaque { .. } => Value::Str(opaque.placeholder().unwrap_or_default()),
    }
}

/// What a nested value counts against a record's budget: its text, and [`NODE_BYTES`] for
/// each value inside it (the value itself is counted by the caller). Linear in its nodes,
/// which the parsers bound.
fn value_cost(v: &Value) -> usize {
    match v {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
        Value::BigInt(s) | Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().map(|v| NODE_BYTES + value_cost(v)).sum()
        }
        Value::Object(o) => o.class.len() + o.str.len() + o.repr.len(),
        Value::Dict(pairs) => pairs
            .iter()
            .map(|(k, v)| 2 * NODE_BYTES + value_cost(k) + value_cost(v))
            .sum(),
    }
}

/// Python's type name of a value, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Tuple(_) => "tuple",
        Value::Dict(_) => "dict",
        Value::Set(_) => "set",
        Value::FrozenSet(_) => "frozenset",
        Value::Object(_) => "object",
    }
}

fn bad(field: &'static str, expected: &str, found: &Value) -> MapError {
    MapError::BadField {
        field,
        reason: format!("expected {expected}, found {}", type_name(found)),
    }
}

/// A top-level value on its way into a record: a str still borrowed from the decoder, a
/// scalar, or an owned value. Scalars have their own variants (never `Value(Value::Int)`
/// etc., see [`Field::from_value`]) so that dropping one costs nothing per field.
enum Field<'a> {
    Str(&'a str),
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Value(Value),
}

impl Field<'_> {
    fn from_value(v: Value) -> Self {
        match v {
            Value::None => Field::None,
            Value::Bool(b) => Field::Bool(b),
            Value::Int(i) => Field::Int(i),
            Value::Float(x) => Field::Float(x),
            other => Field::Value(other),
        }
    }

    /// The value, owned (a nested one is copied).
    fn to_value(&self) -> Value {
        match self {
            Field::Str(s) => Value::Str((*s).to_owned()),
            Field::None => Value::None,
            Field::Bool(b) => Value::Bool(*b),
            Field::Int(i) => Value::Int(*i),
            Field::Float(x) => Value::Float(*x),
            Field::Value(v) => v.clone(),
        }
    }

    /// What a type error names as found.
    #[cold]
    fn found(&self) -> std::borrow::Cow<'_, Value> {
        use std::borrow::Cow;
        match self {
            Field::Str(_) => Cow::Owned(Value::Str(String::new())),
            Field::None => Cow::Owned(Value::None),
            Field::Bool(b) => Cow::Owned(Value::Bool(*b)),
            Field::Int(i) => Cow::Owned(Value::Int(*i)),
            Field::Float(x) => Cow::Owned(Value::Float(*x)),
            Field::Value(v) => Cow::Borrowed(v),
        }
    }
}

#[inline]
fn want_str<'v>(field: &'static str, v: &'v Field<'_>) -> Result<&'v str, MapError> {
    match v {
        Field::Str(s) => Ok(s),
        Field::Value(Value::Str(s)) => Ok(s),
        other => Err(bad(field, "str", &other.found())),
    }
}

#[inline]
fn want_opt_str<'v>(field: &'static str, v: &'v Field<'_>) -> Result<Option<&'v str>, MapError> {
    match v {
        Field::None => Ok(None),
        Field::Str(s) => Ok(Some(s)),
        Field::Value(Value::Str(s)) => Ok(Some(s)),
        other => Err(bad(field, "str or None", &other.found())),
    }
}

/// An `int` (not a `bool`: Python's `bool` is an `int`, but no sender writes one here and a
/// `True` level is a sign of a forged record).
#[inline]
fn want_int(field: &'static str, v: &Field<'_>) -> Result<i64, MapError> {
    match v {
        Field::Int(i) => Ok(*i),
        Field::Value(Value::BigInt(_)) => Err(MapError::BadField {
            field,
            reason: "integer out of range".into(),
        }),
        other => Err(bad(field, "int", &other.found())),
    }
}

/// A `float` (an `int` is accepted too, as Python arithmetic would).
#[inline]
fn want_float(field: &'static str, v: &Field<'_>) -> Result<f64, MapError> {
    match v {
        Field::Float(x) if x.is_finite() => Ok(*x),
        Field::Float(_) => Err(MapError::BadField {
            field,
            reason: "not a finite number".into(),
        }),
        Field::Int(i) => Ok(*i as f64),
        other => Err(bad(field, "float", &other.found())),
    }
}

/// Overwrites a reused string (keeping its buffer).
fn assign(slot: &mut String, s: &str) {
    slot.clear();
    slot.push_str(s);
}

/// Overwrites a reused optional string (keeping its buffer when there is one).
fn assign_opt(slot: &mut Option<String>, s: Option<&str>) {
    match (slot.as_mut(), s) {
        (Some(buf), Some(s)) => assign(buf, s),
        (None, Some(s)) => *slot = Some(s.to_owned()),
        (_, None) => *slot = None,
    }
}

/// What a record dict's key sets: a `LogRecord` attribute, or an extra field (`None`).
/// Classified once per key of a learned [`RecordTemplate`], so a record of that layout is
/// mapped without comparing its keys.
type Attr = Option<Attribute>;

/// Which attributes the dict set; the others get `makeLogRecord`'s defaults at the end.
#[derive(Clone, Copy, Debug, Default)]
struct Present {
    name: bool,
    levelno: bool,
    created: bool,
    msecs: bool,
    relative: bool,
    msg: bool,
    levelname: bool,
    pathname: bool,
    filename: bool,
    module: bool,
    exc_text: bool,
    stack_info: bool,
    lineno: bool,
    func_name: bool,
    thread: bool,
    thread_name: bool,
    process_name: bool,
    process: bool,
    task_name: bool,
}

/// A record dict's fields to a record, one field at a time, with `makeLogRecord` semantics
/// (see the module docs). It refills a spent record in place (every attribute is set, from
/// the dict or to its default, so nothing of the old record survives), and asks the process
/// for time, thread and process defaults only for the attributes the dict did not carry
/// (CPython's senders carry them all).
struct RecordBuilder {
    rec: Box<MappedRecord>,
    present: Present,
    /// Extra slots of the reused record filled so far.
    extra_used: usize,
    /// Bytes the fields stored so far count (see [`MapLimits::record_budget`]).
    counted: usize,
    /// See [`RecordMapper::key_comparisons`].
    compared: usize,
    budget: usize,
    payload: usize,
}

impl RecordBuilder {
    /// A builder refilling `rec` (a spent record, or a blank one).
    fn new(rec: Box<MappedRecord>, budget: usize, payload: usize) -> Self {
        RecordBuilder {
            rec,
            present: Present::default(),
            extra_used: 0,
            counted: 0,
            compared: 0,
            budget,
            payload,
        }
    }

    /// Counts a field against the record's budget before it is stored (copied).
    #[inline]
    fn count(&mut self, key: &str, value: &Field<'_>) -> Result<(), MapError> {
        let text = match value {
            Field::Str(s) => s.len(),
            Field::Value(v) => value_cost(v),
            _ => 0,
        };
        self.counted += key.len() + text + NODE_BYTES;
        if self.counted > self.budget {
            return Err(MapError::TooExpanded {
                budget: self.budget,
                payload: self.payload,
            });
        }
        Ok(())
    }

    /// `LogRecord::set_extra`, reusing the old record's extra slots and str buffers.
    ///
    /// `value` is taken by reference: moving the `Field` whole reloads it with wider loads
    /// than the stores that just wrote it, which stalls (`perf annotate` put half of
    /// `field_at`'s samples on that copy).
    fn put_extra(&mut self, key: &str, value: &Field<'_>) {
        let used = self.extra_used;
        let extra = &mut self.rec.record.extra;
        // A record dict's keys are distinct (the pickle parser refuses a repeated key, the
        // JSON reader keeps the last of each), so only `remote_args` can meet an extra of the
        // same name: the peer's `args` is kept under that name. Looking every key up among
        // the extras so far cost time quadratic in a record's keys (50 000 extras: seconds).
        let existing = if key == REMOTE_ARGS_FIELD {
            self.compared += used;
            extra.iter().take(used).position(|(k, _)| k == key)
        } else {
            None
        };
        let slot = match existing {
            Some(i) => &mut extra[i].1,
            None => {
                self.extra_used += 1;
                match extra.get_mut(used) {
                    Some((k, v)) => {
                        assign(k, key);
                        v
                    }
                    None => {
                        extra.push((key.to_owned(), Value::None));
                        &mut extra[used].1
                    }
                }
            }
        };
        // Same kinds are overwritten in place: building a new `Value` and moving it into the
        // slot stalls the same way.
        match (slot, value) {
            (Value::Str(buf), Field::Str(s)) => assign(buf, s),
            (Value::Int(old), Field::Int(i)) => *old = *i,
            (Value::Float(old), Field::Float(x)) => *old = *x,
            (Value::Bool(old), Field::Bool(b)) => *old = *b,
            (Value::None, Field::None) => {}
            (slot, value) => *slot = value.to_value(),
        }
    }

    /// One pair of the record dict.
    fn field(&mut self, key: &str, value: Field<'_>) -> Result<(), MapError> {
        self.field_at(Attribute::of(key), key, value)
    }

    /// One pair of the record dict, its key already classified.
    fn field_at(&mut self, attr: Attr, key: &str, value: Field<'_>) -> Result<(), MapError> {
        self.count(key, &value)?;
        let rec = &mut self.rec.record;
        let present = &mut self.present;
        match attr {
            Some(Attribute::Name) => {
                assign(
                    &mut rec.name,
                    want_opt_str("name", &value)?.unwrap_or("root"),
                );
                present.name = true;
            }
            // CPython's str(msg): the sender already merged the args.
            Some(Attribute::Msg) => {
                match &value {
                    Field::Str(s) => assign(&mut rec.msg, s),
                    Field::Value(Value::Str(s)) => assign(&mut rec.msg, s),
                    other => rec.msg = other.found().py_str(),
                }
                present.msg = true;
            }
            Some(Attribute::Args) => match value {
                Field::None => {}
                Field::Value(Value::Tuple(ref v) | Value::List(ref v)) if v.is_empty() => {}
                Field::Value(Value::Dict(ref d)) if d.is_empty() => {}
                ref other => self.put_extra(REMOTE_ARGS_FIELD, other),
            },
            Some(Attribute::Levelname) => {
                assign(&mut rec.levelname, want_str("levelname", &value)?);
                present.levelname = true;
            }
            Some(Attribute::Levelno) => {
                let n = want_int("levelno", &value)?;
                rec.levelno = i32::try_from(n).map_err(|_| MapError::BadField {
                    field: "levelno",
                    reason: format!("{n} is out of range"),
                })?;
                present.levelno = true;
            }
            Some(Attribute::Pathname) => {
                assign(&mut rec.pathname, want_str("pathname", &value)?);
                present.pathname = true;
            }
            Some(Attribute::Filename) => {
                assign(&mut rec.filename, want_str("filename", &value)?);
                present.filename = true;
            }
            Some(Attribute::Module) => {
                assign(&mut rec.module, want_str("module", &value)?);
                present.module = true;
            }
            Some(Attribute::ExcText) => {
                assign_opt(&mut rec.exc_text, want_opt_str("exc_text", &value)?);
                present.exc_text = true;
            }
            Some(Attribute::StackInfo) => {
                assign_opt(&mut rec.stack_info, want_opt_str("stack_info", &value)?);
                present.stack_info = true;
            }
            Some(Attribute::Lineno) => {
                rec.lineno = want_int("lineno", &value)?;
                present.lineno = true;
            }
            Some(Attribute::FuncName) => {
                assign_opt(&mut rec.func_name, want_opt_str("funcName", &value)?);
                present.func_name = true;
            }
            Some(Attribute::Created) => {
                rec.created = want_float("created", &value)?;
                present.created = true;
            }
            Some(Attribute::Msecs) => {
                rec.msecs = want_float("msecs", &value)?;
                present.msecs = true;
            }
            Some(Attribute::RelativeCreated) => {
                rec.relative_created = want_float("relativeCreated", &value)?;
                present.relative = true;
            }
            Some(Attribute::Thread) => {
                rec.thread = match value {
                    Field::None => None,
                    v => Some(u64::try_from(want_int("thread", &v)?).map_err(|_| {
                        MapError::BadField {
                            field: "thread",
                            reason: "negative thread id".into(),
                        }
                    })?),
                };
                present.thread = true;
            }
            Some(Attribute::ThreadName) => {
                assign_opt(&mut rec.thread_name, want_opt_str("threadName", &value)?);
                present.thread_name = true;
            }
            Some(Attribute::ProcessName) => {
                assign_opt(&mut rec.process_name, want_opt_str("processName", &value)?);
                present.process_name = true;
            }
            Some(Attribute::Process) => {
                rec.process = match value {
                    Field::None => None,
                    v => Some(u32::try_from(want_int("process", &v)?).map_err(|_| {
                        MapError::BadField {
                            field: "process",
                            reason: "process id out of range".into(),
                        }
                    })?),
                };
                present.process = true;
            }
            Some(Attribute::TaskName) => {
                assign_opt(&mut rec.task_name, want_opt_str("taskName", &value)?);
                present.task_name = true;
            }
            // Always None on the wire (the formatted text travels in exc_text), and derived by
            // formatters (a peer's copy could disagree with msg).
            Some(Attribute::ExcInfo | Attribute::Message | Attribute::Asctime) => {}
            None => self.put_extra(key, &value),
        }
        Ok(())
    }

    /// After a record read through the template generation the reused record was last
    /// filled under, with its learned values left out (see [`MappedRecord`]): the record
    /// sets the same attributes as that fill did (the same keys), and the ones not handed
    /// over already hold their values. (Extra fields are always handed over: they fill
    /// their slots in order.)
    fn holding_learned(&mut self) {
        self.present = self.rec.filled_present;
    }

    /// The record, every attribute set; `filled_by` is the template generation whose learned
    /// values it now holds (0 if it was not read through a template).
    fn finish(self, filled_by: u64) -> Box<MappedRecord> {
        let RecordBuilder {
            mut rec,
            present: p,
            extra_used,
            counted,
            ..
        } = self;
        rec.counted = counted;
        rec.filled_by = filled_by;
        rec.filled_present = p;
        let rec_box = rec;
        let mut rec_box = rec_box;
        let rec = &mut rec_box.record;
        rec.extra.truncate(extra_used);
        if !p.name {
            assign(&mut rec.name, "root");
        }
        if !p.msg {
            rec.msg.clear();
        }
        if !p.exc_text {
            rec.exc_text = None;
        }
        if !p.stack_info {
            rec.stack_info = None;
        }
        if !p.lineno {
            rec.lineno = 0;
        }
        if !p.func_name {
            rec.func_name = None;
        }
        if !p.task_name {
            rec.task_name = None;
        }
        let all = p.pathname
            && p.filename
            && p.module
            && p.thread
            && p.thread_name
            && p.process_name
            && p.process;
        if !all {
            // makeLogRecord's blank record for what the dict did not say.
            let d = LogRecord::empty();
            if !p.pathname {
                rec.pathname = d.pathname;
            }
            if !p.filename {
                rec.filename = d.filename;
            }
            if !p.module {
                rec.module = d.module;
            }
            if !p.thread {
                rec.thread = d.thread;
            }
            if !p.thread_name {
                rec.thread_name = d.thread_name;
            }
            if !p.process_name {
                rec.process_name = d.process_name;
            }
            if !p.process {
                rec.process = d.process;
            }
        }
        // msecs and relativeCreated follow created unless the dict set them.
        let (msecs, relative) = (rec.msecs, rec.relative_created);
        rec.set_created(if p.created { rec.created } else { now_secs() });
        if p.msecs {
            rec.msecs = msecs;
        }
        if p.relative {
            rec.relative_created = relative;
        }
        if !p.levelno {
            rec.levelno = level::NOTSET;
        }
        if !p.levelname {
            rec.levelname = if p.levelno {
                level::level_name(rec.levelno)
            } else {
                "Level None".to_owned()
            };
        }
        rec.args = Args::None;
        rec_box
    }
}

/// JSON objects to ordered fields, with depth and size caps, without `serde_json::Value`
/// (whose map would sort the keys and lose the sender's order).
mod json {
    use super::{MapError, MapLimits, Value};
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::fmt;

    /// Keys of one object from which duplicates are found through a hash index instead of by
    /// comparing with every earlier key.
    const INDEX_FROM: usize = 16;

    struct Budget {
        max_depth: usize,
        values: Cell<usize>,
        /// Keys compared (see `RecordMapper::key_comparisons`).
        compared: Cell<usize>,
    }

    struct Seed<'b> {
        budget: &'b Budget,
        depth: usize,
    }

    impl<'b> Seed<'b> {
        fn count<E: serde::de::Error>(&self) -> Result<(), E> {
            let n = self.budget.values.get();
            if n == 0 {
                return Err(E::custom("too many values"));
            }
            self.budget.values.set(n - 1);
            Ok(())
        }
        fn child<E: serde::de::Error>(&self) -> Result<Seed<'b>, E> {
            if self.depth >= self.budget.max_depth {
                return Err(E::custom(format_args!(
                    "nested deeper than {}",
                    self.budget.max_depth
                )));
            }
            Ok(Seed {
                budget: self.budget,
                depth: self.depth + 1,
            })
        }
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Seed<'_> {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
            self.count()?;
            Ok(Value::None)
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Value, E> {
            self.count()?;
            Ok(Value::Bool(b))
        }
        fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Value, E> {
            self.count()?;
            Ok(Value::Int(i))
        }
        fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
            self.count()?;
            Ok(i64::try_from(u).map_or_else(|_| Value::BigInt(u.to_string()), Value::Int))
        }
        fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<Value, E> {
            self.count()?;
            Ok(Value::Float(x))
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
            self.count()?;
            Ok(Value::Str(s.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
            self.count()?;
            Ok(Value::Str(s))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            self.count()?;
            let child = self.child()?;
            let mut out = Vec::new();
            while let Some(v) = seq.next_element_seed(Seed { ..child })? {
                out.push(v);
            }
            Ok(Value::List(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            self.count()?;
            let child = self.child()?;
            let mut out: Vec<(Value, Value)> = Vec::new();
            // Where each key is in `out`, once the object has more than a few keys: a
            // linear search for every key cost time quadratic in the keys (a 539 KB record
            // of 50 000 keys took 7 s of CPU).
            let mut index: HashMap<Box<str>, usize> = HashMap::new();
            while let Some(k) = map.next_key::<String>()? {
                let v = map.next_value_seed(Seed { ..child })?;
                // JSON's last-wins for duplicate keys, as Python's json module does.
                let compared = &self.budget.compared;
                let found = if out.len() < INDEX_FROM {
                    compared.set(compared.get() + out.len());
                    out.iter()
                        .position(|(ok, _)| matches!(ok, Value::Str(s) if *s == k))
                } else {
                    compared.set(compared.get() + 1);
                    if index.is_empty() {
                        compared.set(compared.get() + out.len());
                        // Every key so far is a str (JSON keys are).
                        index.extend(out.iter().enumerate().filter_map(|(i, (ok, _))| match ok {
                            Value::Str(s) => Some((s.as_str().into(), i)),
                            _ => None,
                        }));
                    }
                    let found = index.get(k.as_str()).copied();
                    if found.is_none() {
                        index.insert(k.as_str().into(), out.len());
                    }
                    found
                };
                match found {
                    Some(i) => out[i].1 = v,
                    None => out.push((Value::Str(k), v)),
                }
            }
            Ok(Value::Dict(out))
        }
    }

    impl Clone for Seed<'_> {
        fn clone(&self) -> Self {
            Seed {
                budget: self.budget,
                depth: self.depth,
            }
        }
    }

    /// The JSON text with every escaped lone surrogate (`\udcff`: what `json.dumps` writes
    /// for text decoded with `surrogateescape`, such as an undecodable file name) replaced by
    /// `\ufffd`, the U+FFFD the pickle path shows for the same text; `serde_json` refuses
    /// lone surrogates, and the record would be lost. Escaped pairs are kept (they are one
    /// character). One pass, and a copy only when something is replaced (the escapes are the
    /// same length). A backslash outside a string is a syntax error either way.
    pub(super) fn replace_lone_surrogates(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        fn unit(b: &[u8], at: usize) -> Option<u16> {
            let hex = b.get(at..at + 6)?;
            if hex[0] != b'\\' || hex[1] != b'u' {
                return None;
            }
            u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
        }
        let mut out: Option<Vec<u8>> = None;
        let mut i = 0;
        while let Some(off) = bytes[i..].iter().position(|&b| b == b'\\') {
            i += off;
            match unit(bytes, i) {
                Some(0xd800..=0xdbff) if matches!(unit(bytes, i + 6), Some(0xdc00..=0xdfff)) => {
                    i += 12;
                }
                Some(0xd800..=0xdfff) => {
                    let out = out.get_or_insert_with(|| bytes.to_vec());
                    out[i..i + 6].copy_from_slice(b"\\ufffd");
                    i += 6;
                }
                // Any other escape is two bytes at least, and its second byte is never a
                // backslash that starts another escape (`\\` is skipped whole).
                _ => i += 2,
            }
            if i >= bytes.len() {
                break;
            }
        }
        match out {
            Some(v) => std::borrow::Cow::Owned(v),
            None => std::borrow::Cow::Borrowed(bytes),
        }
    }

    /// Hands the count over whatever way the parse ends.
    struct CountOnDrop<'a>(&'a Cell<usize>, &'a mut usize);

    impl Drop for CountOnDrop<'_> {
        fn drop(&mut self) {
            *self.1 += self.0.get();
        }
    }

    /// Parses a top-level JSON object into its (key, value) pairs, in order.
    pub(super) fn parse_object(
        bytes: &[u8],
        limits: &MapLimits,
        compared: &mut usize,
    ) -> Result<Vec<(String, Value)>, MapError> {
        let budget = Budget {
            max_depth: limits.json_max_depth.max(1),
            values: Cell::new(limits.json_max_values),
            compared: Cell::new(0),
        };
        let _count = CountOnDrop(&budget.compared, compared);
        let bytes = replace_lone_surrogates(bytes);
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = Seed {
            budget: &budget,
            depth: 1,
        }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| MapError::BadJson(e.to_string()))?;
        match value {
            Value::Dict(pairs) => Ok(pairs
                .into_iter()
                .map(|(k, v)| match k {
                    Value::Str(s) => (s, v),
                    other => (other.py_str(), v),
                })
                .collect()),
            other => Err(MapError::BadJson(format!(
                "top level is a {}, not an object",
                super::type_name(&other)
            ))),
        }
    }
}

impl MapLimits {
    /// The most a record mapped from a payload of `payload_len` bytes may hold (see
    /// [`MapLimits::record_bytes_per_payload_byte`]).
    pub fn record_budget(&self, payload_len: usize) -> usize {
        payload_len
            .saturating_mul(self.record_bytes_per_payload_byte)
            .saturating_add(self.record_bytes_slack)
    }

    /// The most `frames` records mapped from `bytes` bytes of payloads may cost together
    /// ([`MappedRecord::cost_bytes`]): what a receiver reserves before it maps them.
    pub fn records_budget(&self, bytes: usize, frames: usize) -> usize {
        bytes
            .saturating_mul(self.record_bytes_per_payload_byte)
            .saturating_add(
                frames
                    .saturating_mul(self.record_bytes_slack + std::mem::size_of::<MappedRecord>()),
            )
    }
}

impl fmt::Display for MapLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pickle depth {} / nodes {} / memo {}; JSON depth {} / values {}",
            self.pickle.max_depth,
            self.pickle.max_nodes,
            self.pickle.max_memo,
            self.json_max_depth,
            self.json_max_values
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logwire_pickle::encode_record_protocol1;

    fn pk(fields: &[(&str, PickleValue)]) -> Vec<u8> {
        let v: Vec<_> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        encode_record_protocol1(&v).unwrap()
    }

    /// A refilled record carries nothing of the record it was before: every attribute comes
    /// from the new dict or its default, whatever the old one held (more extras, exc_text,
    /// a str where the new one has an int, a name where the new one has none...).
    #[test]
    fn refilled_records_equal_fresh_ones() {
        let full = pk(&[
            ("name", PickleValue::Str("a.b".into())),
            ("msg", PickleValue::Str("long message text".into())),
            ("levelname", PickleValue::Str("CUSTOM".into())),
            ("levelno", PickleValue::Int(25)),
            ("pathname", PickleValue::Str("/x/y.py".into())),
            ("filename", PickleValue::Str("y.py".into())),
            ("module", PickleValue::Str("y".into())),
            ("exc_text", PickleValue::Str("Traceback".into())),
            ("stack_info", PickleValue::Str("Stack".into())),
            ("lineno", PickleValue::Int(9)),
            ("funcName", PickleValue::Str("f".into())),
            ("created", PickleValue::Float(1.5e9)),
            ("thread", PickleValue::Int(7)),
            ("threadName", PickleValue::Str("T".into())),
            ("processName", PickleValue::Str("P".into())),
            ("process", PickleValue::Int(3)),
            ("taskName", PickleValue::Str("task".into())),
            ("args", PickleValue::Tuple(vec![PickleValue::Int(1)])),
            ("e1", PickleValue::Str("one".into())),
            ("e2", PickleValue::Str("two".into())),
            ("e3", PickleValue::List(vec![PickleValue::None])),
        ]);
        let sparse = pk(&[
            ("created", PickleValue::Float(1.6e9)),
            ("e2", PickleValue::Int(5)),
            ("msg", PickleValue::Int(4)),
        ]);
        let json: &[u8] = br#"{"created": 1.7e9, "name": "j", "e9": "x", "levelno": 40}"#;
        let mut mapper = RecordMapper::default();
        let fresh: Vec<LogRecord> = [&full[..], &sparse[..], json]
            .iter()
            .map(|p| RecordMapper::default().map(p, Format::Sniff).unwrap())
            .collect();
        for _ in 0..3 {
            for (i, p) in [&full[..], &sparse[..], json].iter().enumerate() {
                // Hand back a record that differs in every way, so the next one may be it.
                for q in [&full[..], &sparse[..], json] {
                    let spent = mapper.map_reusable(q, Format::Sniff).unwrap();
                    RecordPool::recycle(&mut vec![spent]);
                }
                let got = mapper.map_reusable(p, Format::Sniff).unwrap();
                // Defaults that depend on the receiving thread are the same on this thread.
                assert_eq!(**got, fresh[i], "payload {i}");
            }
        }
    }

    #[test]
    fn defaults_follow_make_log_record() {
        let r = RecordMapper::default().map(b"{}", Format::Sniff).unwrap();
        assert_eq!(r.name, "root");
        assert_eq!(r.msg, "");
        assert_eq!(r.levelname, "Level None");
        assert_eq!(r.lineno, 0);
        assert!(r.created > 1.0e9);
    }

    #[test]
    fn args_are_kept_as_data_never_applied() {
        let p = pk(&[
            ("msg", PickleValue::Str("%0100000000d".into())),
            ("args", PickleValue::Tuple(vec![PickleValue::Int(1)])),
        ]);
        let r = RecordMapper::default().map(&p, Format::Sniff).unwrap();
        assert_eq!(r.get_message(), "%0100000000d");
        assert_eq!(
            r.extra(REMOTE_ARGS_FIELD),
            Some(&Value::Tuple(vec![Value::Int(1)]))
        );
        // Empty args (and None) are no args; any other value is kept as it came.
        for (args, kept) in [
            (PickleValue::None, None),
            (PickleValue::Tuple(vec![]), None),
            (PickleValue::List(vec![]), None),
            (PickleValue::Dict(vec![]), None),
            (PickleValue::Int(5), Some(Value::Int(5))),
            (PickleValue::Str("a".into()), Some(Value::Str("a".into()))),
        ] {
            let p = pk(&[
                ("msg", PickleValue::Str("m".into())),
                ("args", args.clone()),
            ]);
            let r = RecordMapper::default().map(&p, Format::Sniff).unwrap();
            assert_eq!(r.extra(REMOTE_ARGS_FIELD), kept.as_ref(), "{args:?}");
        }
    }

    /// Keys are not looked up among the extras (that was quadratic), except `remote_args`,
    /// the one extra name two keys can share: the later one wins, as in a dict update.
    #[test]
    fn remote_args_and_args_share_one_extra() {
        let args = ("args", PickleValue::Tuple(vec![PickleValue::Int(1)]));
        let own = ("remote_args", PickleValue::Int(5));
        let other = ("other", PickleValue::Int(2));
        for (fields, want) in [
            (
                vec![args.clone(), other.clone(), own.clone()],
                Value::Int(5),
            ),
            (
                vec![own.clone(), other.clone(), args.clone()],
                Value::Tuple(vec![Value::Int(1)]),
            ),
        ] {
            let r = RecordMapper::default()
                .map(&pk(&fields), Format::Sniff)
                .unwrap();
            let named: Vec<_> = r.extra.iter().filter(|(k, _)| k == "remote_args").collect();
            assert_eq!(named.len(), 1, "{fields:?}");
            assert_eq!(named[0].1, want);
            assert_eq!(r.extra.len(), 2);
        }
        // JSON keeps a repeated key's last value at its first place, before `args` here.
        let r = RecordMapper::default()
            .map(
                br#"{"remote_args": 1, "args": [2], "x": 0, "remote_args": 3}"#,
                Format::Sniff,
            )
            .unwrap();
        let args = Value::List(vec![Value::Int(2)]);
        assert_eq!(
            r.extra,
            vec![("remote_args".into(), args), ("x".into(), Value::Int(0))]
        );
    }

    #[test]
    fn wrong_types_reject_with_the_field() {
        for (k, v) in [
            ("levelno", PickleValue::Str("20".into())),
            ("created", PickleValue::List(vec![])),
            ("lineno", PickleValue::Float(1.0)),
            ("name", PickleValue::Int(3)),
            ("levelno", PickleValue::Bool(true)),
            ("thread", PickleValue::Int(-1)),
        ] {
            let err = RecordMapper::default()
                .map(&pk(&[(k, v)]), Format::Sniff)
                .unwrap_err();
            assert!(
                matches!(err, MapError::BadField { field, .. } if field == k),
                "{err}"
            );
        }
    }

    #[test]
    fn opaque_extra_becomes_placeholder_and_message_is_ignored() {
        let p = b"}(X\x04\x00\x00\x00whencdatetime\ndatetime\n)RX\x07\x00\x00\x00messageX\x01\x00\x00\x00xu.";
        let r = RecordMapper::default().map(p, Format::Sniff).unwrap();
        assert_eq!(
            r.extra("when"),
            Some(&Value::Str("<datetime.datetime>".into()))
        );
        assert_eq!(r.extra("message"), None);
    }

    #[test]
    fn json_keeps_order_and_caps_depth() {
        let r = RecordMapper::default()
            .map(
                br#"{"z": 1, "a": [1, {"b": null}], "levelno": 40}"#,
                Format::Sniff,
            )
            .unwrap();
        let keys: Vec<_> = r.extra.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(r.levelname, "ERROR");
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(
            RecordMapper::default().map(deep.as_bytes(), Format::Sniff),
            Err(MapError::BadJson(_))
        ));
        assert!(matches!(
            RecordMapper::default().map(b"{\"a\": 1} x", Format::Sniff),
            Err(MapError::BadJson(_))
        ));
        assert!(matches!(
            RecordMapper::default().map(b"{\"a\": ", Format::Sniff),
            Err(MapError::BadJson(_))
        ));
    }
}
