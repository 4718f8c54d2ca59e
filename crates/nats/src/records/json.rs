//! A record as the JSON object other consumers read, and the record identity that becomes
//! `Nats-Msg-Id`.
//!
//! The object has exactly the attributes of a CPython `LogRecord` (`vars(record)`: `name`,
//! `msg`, `args`, `levelname`, `levelno`, `pathname`, `filename`, `module`, `exc_info`,
//! `exc_text`, `stack_info`, `lineno`, `funcName`, `created`, `msecs`, `relativeCreated`,
//! `thread`, `threadName`, `processName`, `process`, and `taskName` when set), then the extra
//! fields at the top level, as `extra=` puts them on a record. As `SocketHandler.makePickle`
//! does, `msg` is the merged message and `args` and `exc_info` are `null`, so
//! `logging.makeLogRecord(json.loads(m.data))` in Python rebuilds the record, and the
//! collector's own JSON mapping reads it back.

use logwire_engine::RecordOrigin;
use logwire_engine::{LogRecord, Value};
use logwire_wire::{Epoch, KeyId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value as J;
use std::fmt::Write as _;

/// The identity of a published record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgId {
    /// A signed record: its key id, epoch and seq (`lw1.<key>.<epoch>.<seq>`, hex ids).
    Signed {
        /// The signing key.
        key_id: KeyId,
        /// The sender's epoch.
        epoch: Epoch,
        /// The record's seq.
        seq: u64,
    },
    /// Any other record: the publishing handler's random instance id and its sequence
    /// (`lwu.<instance>.<seq>`). Unsigned senders never resend, so a duplicate can only come
    /// from the handler's own retry, which this identity covers.
    Local {
        /// Random per handler instance.
        instance: Epoch,
        /// The handler's sequence, from 1.
        seq: u64,
    },
}

impl MsgId {
    /// The identity of a signed record the collector is handling on this thread.
    pub fn of_origin(o: RecordOrigin) -> Self {
        MsgId::Signed {
            key_id: KeyId(o.key_id),
            epoch: Epoch(o.epoch),
            seq: o.seq,
        }
    }

    /// The `Nats-Msg-Id` text.
    pub fn header(&self) -> String {
        let mut s = String::with_capacity(64);
        match self {
            MsgId::Signed { key_id, epoch, seq } => {
                s.push_str("lw1.");
                hex(&mut s, &key_id.0);
                s.push('.');
                hex(&mut s, &epoch.0);
                let _ = write!(s, ".{seq}");
            }
            MsgId::Local { instance, seq } => {
                s.push_str("lwu.");
                hex(&mut s, &instance.0);
                let _ = write!(s, ".{seq}");
            }
        }
        s
    }

    /// Parses a `Nats-Msg-Id` written by [`MsgId::header`]; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        let mut it = text.split('.');
        let kind = it.next()?;
        let id = match kind {
            "lw1" => {
                let key = unhex::<8>(it.next()?)?;
                let epoch = unhex::<16>(it.next()?)?;
                let seq = it.next()?.parse().ok()?;
                MsgId::Signed {
                    key_id: KeyId(key),
                    epoch: Epoch(epoch),
                    seq,
                }
            }
            "lwu" => MsgId::Local {
                instance: Epoch(unhex::<16>(it.next()?)?),
                seq: it.next()?.parse().ok()?,
            },
            _ => return None,
        };
        it.next().is_none().then_some(id)
    }
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A record value as JSON: Python's data types as their JSON forms; a float JSON cannot
/// hold (inf, nan), a big int, bytes and placeholder objects as their Python text; dict
/// keys that are not strings as their Python text.
struct AsJson<'a>(&'a Value);

impl Serialize for AsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        match v {
            Value::None => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Str(t) => s.serialize_str(t),
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => s.collect_seq(items.iter().map(AsJson)),
            Value::Dict(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k {
                        Value::Str(key) => m.serialize_entry(key, &AsJson(v))?,
                        other => m.serialize_entry(&other.py_str(), &AsJson(v))?,
                    }
                }
                m.end()
            }
            _ => s.serialize_str(&v.py_str()),
        }
    }
}

/// The record as one JSON object: its attributes (a float attribute that is inf or nan is
/// `null`, as serde_json writes it), then its extras.
struct Attrs<'a>(&'a LogRecord);

impl Serialize for Attrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut o = s.serialize_map(Some(20 + r.extra.len()))?;
        o.serialize_entry("name", &r.name)?;
        o.serialize_entry("msg", &r.get_message())?;
        o.serialize_entry("args", &())?;
        o.serialize_entry("levelname", &r.levelname)?;
        o.serialize_entry("levelno", &r.levelno)?;
        o.serialize_entry("pathname", &r.pathname)?;
        o.serialize_entry("filename", &r.filename)?;
        o.serialize_entry("module", &r.module)?;
        o.serialize_entry("exc_info", &())?;
        o.serialize_entry("exc_text", &r.exc_text)?;
        o.serialize_entry("stack_info", &r.stack_info)?;
        o.serialize_entry("lineno", &r.lineno)?;
        o.serialize_entry("funcName", &r.func_name)?;
        o.serialize_entry("created", &r.created)?;
        o.serialize_entry("msecs", &r.msecs)?;
        o.serialize_entry("relativeCreated", &r.relative_created)?;
        o.serialize_entry("thread", &r.thread)?;
        o.serialize_entry("threadName", &r.thread_name)?;
        o.serialize_entry("processName", &r.process_name)?;
        o.serialize_entry("process", &r.process)?;
        if r.task_name.is_some() {
            o.serialize_entry("taskName", &r.task_name)?;
        }
        // Extras never share a name with the attributes above (`LogRecord::extra`).
        for (k, v) in &r.extra {
            o.serialize_entry(k, &AsJson(v))?;
        }
        o.end()
    }
}

/// Appends the record's JSON object (see the module docs for its keys; attributes first,
/// in CPython's order, then the extras) to `out`: written directly, one pass, no
/// intermediate map (what the publisher does per record).
pub fn write_record_json(record: &LogRecord, out: &mut Vec<u8>) {
    let mut ser = serde_json::Serializer::new(out);
    // Writing to a Vec cannot fail, and every key is a string.
    Attrs(record)
        .serialize(&mut ser)
        .expect("a record serialises to a Vec");
}

/// The record as a JSON value (what [`write_record_json`] writes, parsed back).
pub fn record_json(record: &LogRecord) -> J {
    let mut out = Vec::with_capacity(512);
    write_record_json(record, &mut out);
    serde_json::from_slice(&out).expect("write_record_json writes JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_ids_round_trip_and_reject_other_text() {
        let ids = [
            MsgId::Signed {
                key_id: KeyId([1, 2, 3, 4, 5, 6, 7, 0xff]),
                epoch: Epoch([0xab; 16]),
                seq: 42,
            },
            MsgId::Local {
                instance: Epoch([7; 16]),
                seq: u64::MAX,
            },
        ];
        for id in ids {
            assert_eq!(MsgId::parse(&id.header()), Some(id), "{}", id.header());
        }
        for bad in [
            "",
            "lw1",
            "lw1.00.00.1",
            "lwu.zz.1",
            "x.y",
            "lwu.07070707070707070707070707070707.1.2",
        ] {
            assert_eq!(MsgId::parse(bad), None, "{bad}");
        }
    }

    /// What the writer makes of values JSON cannot hold as they are, and of attributes.
    #[test]
    fn values_are_written_as_json_data() {
        use logwire_engine::Value as V;
        let mut r = LogRecord::new("app", 20, "/a.py", 3, "m %s");
        r.args = logwire_engine::Args::Tuple(vec![V::Str("x".into())]);
        r.created = f64::NAN;
        r.set_extra("inf", V::Float(f64::INFINITY));
        r.set_extra("big", V::BigInt("123456789012345678901234567890".into()));
        r.set_extra("raw", V::Bytes(b"\x00a".to_vec()));
        r.set_extra(
            "d",
            V::Dict(vec![
                (V::Int(1), V::Tuple(vec![V::None, V::Bool(true)])),
                (V::Str("k".into()), V::Set(vec![V::Float(0.5)])),
            ]),
        );
        let j = record_json(&r);
        assert_eq!(j["msg"], "m x");
        assert_eq!(j["args"], J::Null);
        assert_eq!(j["created"], J::Null);
        assert_eq!(j["inf"], "inf");
        assert_eq!(j["big"], "123456789012345678901234567890");
        assert_eq!(j["raw"], "b'\\x00a'");
        assert_eq!(j["d"], serde_json::json!({"1": [null, true], "k": [0.5]}));
        assert!(j.get("taskName").is_none());
        let mut line = Vec::new();
        write_record_json(&r, &mut line);
        assert!(!line.contains(&b'\n'), "a record is one line");
    }
}
