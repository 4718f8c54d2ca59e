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
    /// A message of `count` (≥ 2) unsigned records, the first at handler sequence `first`
    /// (`lwu.<instance>.<first>+<count>`): sealed at its first send, so a retry carries the
    /// same records under the same id.
    Batch {
        /// Random per handler instance.
        instance: Epoch,
        /// The handler's sequence of its first record.
        first: u64,
        /// Records in the message.
        count: u64,
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
            MsgId::Batch {
                instance,
                first,
                count,
            } => {
                s.push_str("lwu.");
                hex(&mut s, &instance.0);
                let _ = write!(s, ".{first}+{count}");
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
                let seq = number(it.next()?)?;
                MsgId::Signed {
                    key_id: KeyId(key),
                    epoch: Epoch(epoch),
                    seq,
                }
            }
            "lwu" => {
                let instance = Epoch(unhex::<16>(it.next()?)?);
                let seq = it.next()?;
                match seq.split_once('+') {
                    None => MsgId::Local {
                        instance,
                        seq: number(seq)?,
                    },
                    Some((first, count)) => MsgId::Batch {
                        instance,
                        first: number(first)?,
                        count: number(count).filter(|&c| c >= 2)?,
                    },
                }
            }
            _ => return None,
        };
        it.next().is_none().then_some(id)
    }
}

/// A decimal seq or count as `header` writes it (digits only: no sign, as `u64::from_str`
/// would take).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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

/// Appends the record's JSON object (see the module docs for its keys; attributes first,
/// in CPython's order, then the extras) to `out`: written directly, one pass, no
/// intermediate map (what the publisher does per record). A float attribute that is inf or
/// nan is `null`, as serde_json writes it.
pub fn write_record_json(r: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"name\":");
    json_str(out, &r.name);
    out.extend_from_slice(b",\"msg\":");
    json_str(out, &r.get_message());
    out.extend_from_slice(b",\"args\":null,\"levelname\":");
    json_str(out, &r.levelname);
    out.extend_from_slice(b",\"levelno\":");
    json_data(out, &r.levelno);
    out.extend_from_slice(b",\"pathname\":");
    json_str(out, &r.pathname);
    out.extend_from_slice(b",\"filename\":");
    json_str(out, &r.filename);
    out.extend_from_slice(b",\"module\":");
    json_str(out, &r.module);
    out.extend_from_slice(b",\"exc_info\":null,\"exc_text\":");
    json_opt_str(out, &r.exc_text);
    out.extend_from_slice(b",\"stack_info\":");
    json_opt_str(out, &r.stack_info);
    out.extend_from_slice(b",\"lineno\":");
    json_data(out, &r.lineno);
    out.extend_from_slice(b",\"funcName\":");
    json_opt_str(out, &r.func_name);
    out.extend_from_slice(b",\"created\":");
    json_data(out, &r.created);
    out.extend_from_slice(b",\"msecs\":");
    json_data(out, &r.msecs);
    out.extend_from_slice(b",\"relativeCreated\":");
    json_data(out, &r.relative_created);
    out.extend_from_slice(b",\"thread\":");
    json_data(out, &r.thread);
    out.extend_from_slice(b",\"threadName\":");
    json_opt_str(out, &r.thread_name);
    out.extend_from_slice(b",\"processName\":");
    json_opt_str(out, &r.process_name);
    out.extend_from_slice(b",\"process\":");
    json_data(out, &r.process);
    if let Some(task) = &r.task_name {
        out.extend_from_slice(b",\"taskName\":");
        json_str(out, task);
    }
    // Extras never share a name with the attributes above (`LogRecord::extra`).
    for (k, v) in &r.extra {
        out.push(b',');
        json_str(out, k);
        out.push(b':');
        match v {
            Value::Str(t) => json_str(out, t),
            other => json_data(out, &AsJson(other)),
        }
    }
    out.push(b'}');
}

/// A JSON string. Most strings need no escape: checked without an early exit (so the check
/// vectorises) and copied as they are; others go through serde_json's escaping, whose
/// byte-at-a-time loop was an eighth of the publishing thread's time.
fn json_str(out: &mut Vec<u8>, s: &str) {
    let plain = !s.bytes().fold(false, |esc, b| {
        esc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        json_data(out, s);
    }
}

fn json_opt_str(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Numbers, `null`s and record values, by serde_json.
fn json_data<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing to a Vec cannot fail, and every map key is a string.
    serde_json::to_writer(&mut *out, v).expect("record data serialises to a Vec");
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
            MsgId::Batch {
                instance: Epoch([9; 16]),
                first: 513,
                count: 256,
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
            "lwu.07070707070707070707070707070707.+1",
            "lwu.07070707070707070707070707070707.1+",
            "lwu.07070707070707070707070707070707.1+1",
            "lwu.07070707070707070707070707070707.1+2+3",
            "lwu.07070707070707070707070707070707.+1+2",
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

    /// Every string attribute and extra, plain or needing escapes, reads back exactly.
    #[test]
    fn strings_read_back_exactly() {
        for text in [
            "plain",
            "",
            "quote \" and backslash \\",
            "control \u{1} \n \t \r \u{1f}",
            "non-ASCII é 漢字 \u{2028} \u{7f}",
            "{\"looks\": \"like json\"}",
        ] {
            let mut r = LogRecord::new(text, 40, text, 7, text);
            r.levelname = text.into();
            r.filename = text.into();
            r.module = text.into();
            r.func_name = Some(text.into());
            r.thread_name = Some(text.into());
            r.process_name = Some(text.into());
            r.task_name = Some(text.into());
            r.exc_text = Some(text.into());
            r.set_extra(
                format!("extra {text}"),
                logwire_engine::Value::Str(text.into()),
            );
            let j = record_json(&r);
            for key in [
                "name",
                "msg",
                "levelname",
                "pathname",
                "filename",
                "module",
                "funcName",
                "threadName",
                "processName",
                "taskName",
                "exc_text",
            ] {
                assert_eq!(j[key], text, "{key} of {text:?}");
            }
            assert_eq!(j[format!("extra {text}").as_str()], text);
            let mut line = Vec::new();
            write_record_json(&r, &mut line);
            assert!(!line.contains(&b'\n'), "one line for {text:?}");
        }
    }
}
