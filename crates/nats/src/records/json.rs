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
use serde_json::{Map, Value as J};
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

fn value(v: &Value) -> J {
    match v {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| J::String(v.py_str()), J::Number)
        }
        Value::Str(s) => J::String(s.clone()),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            J::Array(items.iter().map(value).collect())
        }
        Value::Dict(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Str(s) => s.clone(),
                        other => other.py_str(),
                    };
                    (key, value(v))
                })
                .collect(),
        ),
        // Big ints, bytes and placeholder objects have no JSON form: their Python text.
        _ => J::String(v.py_str()),
    }
}

/// The record as a JSON object (see the module docs for its keys).
pub fn record_json(record: &LogRecord) -> J {
    let opt = |s: &Option<String>| s.as_ref().map_or(J::Null, |s| J::String(s.clone()));
    let float = |f: f64| serde_json::Number::from_f64(f).map_or(J::Null, J::Number);
    let mut o = Map::with_capacity(24 + record.extra.len());
    o.insert("name".into(), J::String(record.name.clone()));
    o.insert("msg".into(), J::String(record.get_message()));
    o.insert("args".into(), J::Null);
    o.insert("levelname".into(), J::String(record.levelname.clone()));
    o.insert("levelno".into(), J::from(record.levelno));
    o.insert("pathname".into(), J::String(record.pathname.clone()));
    o.insert("filename".into(), J::String(record.filename.clone()));
    o.insert("module".into(), J::String(record.module.clone()));
    o.insert("exc_info".into(), J::Null);
    o.insert("exc_text".into(), opt(&record.exc_text));
    o.insert("stack_info".into(), opt(&record.stack_info));
    o.insert("lineno".into(), J::from(record.lineno));
    o.insert("funcName".into(), opt(&record.func_name));
    o.insert("created".into(), float(record.created));
    o.insert("msecs".into(), float(record.msecs));
    o.insert("relativeCreated".into(), float(record.relative_created));
    o.insert("thread".into(), record.thread.map_or(J::Null, J::from));
    o.insert("threadName".into(), opt(&record.thread_name));
    o.insert("processName".into(), opt(&record.process_name));
    o.insert("process".into(), record.process.map_or(J::Null, J::from));
    if record.task_name.is_some() {
        o.insert("taskName".into(), opt(&record.task_name));
    }
    for (k, v) in &record.extra {
        o.insert(k.clone(), value(v));
    }
    J::Object(o)
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
}
