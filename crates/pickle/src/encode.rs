//! A protocol 1 pickler byte-identical to CPython's `pickle.dumps(d, 1)` (what
//! `SocketHandler.makePickle` sends), for values of the [`PickleValue`] model.
//!
//! The identity model (what is memoized and fetched back, where bytes can differ from
//! CPython's) is documented on [`Protocol1Encoder`], the public face of this module.

use crate::error::EncodeError;
use crate::text::{ParsedInt, normalize_bigint};
use crate::value::PickleValue;

/// CPython's pickler writes list/dict items in batches of this size.
const BATCH: usize = 1000;

/// Objects CPython shares by identity (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shared {
    EmptyStr,
    /// Empty bytes (`None`) or a 1-byte bytes.
    SmallBytes(Option<u8>),
    Latin1,
    Global(&'static str),
}

enum Task<'a> {
    Value(&'a PickleValue),
    Key(&'a str),
    Bytes(&'a [u8]),
    Raw(&'static [u8]),
    /// Memoize the object just written (a fresh object).
    Put,
    /// Memoize the object just written under a shared identity.
    PutShared(Shared),
}

/// A reusable protocol 1 pickler.
///
/// CPython memoizes by object identity, which plain Rust data does not have. This encoder
/// models identity as follows (verified against CPython 3.11 with `pickletools`):
///
/// * every str, list, tuple, dict, set, bytes and bytearray value is a distinct object, so it is
///   written in full and memoized (`BINPUT`) but never fetched back with `BINGET` — except:
/// * the empty str `''`, the empty bytes `b''` and 1-byte bytes are CPython singletons, so a
///   repeat is written as `BINGET` of the first;
/// * the globals CPython writes for bytes/set/frozenset/bytearray (`_codecs.encode`,
///   `__builtin__.bytes`, …) and the `'latin1'` constant in the bytes reduction are single
///   objects, written once and then fetched with `BINGET`;
/// * `()` is written as `EMPTY_TUPLE` and never memoized, as CPython does.
///
/// Where CPython's output depends on identity this model cannot see, bytes differ (the
/// decoded value is still equal): a str value that *is* the same object as an earlier str
/// (interned identifiers, such as an `extra` value written as a literal equal to an attribute
/// name, e.g. `extra={'tag': 'msg'}`; 1-character Latin-1 strs that came from slicing, which
/// CPython caches; the same str object stored under two keys), or the same list/tuple/dict
/// object stored twice (constant-folded tuples in one code object). CPython then writes
/// `BINGET`; this encoder writes the value again.
///
/// Opaque values are written as their placeholder str (`'<datetime.datetime>'`).
#[derive(Debug, Default)]
pub struct Protocol1Encoder {
    out: Vec<u8>,
    next_memo: u32,
    shared: Vec<(Shared, u32)>,
}

/// `pickle.dumps(value, 1)` for a single value.
pub fn encode_protocol1(value: &PickleValue) -> Result<Vec<u8>, EncodeError> {
    let mut e = Protocol1Encoder::default();
    e.encode_value(value)?;
    Ok(e.into_bytes())
}

/// `pickle.dumps(d, 1)` where `d` is a dict with these str keys, in this order (a record dict
/// as `SocketHandler.makePickle` pickles it).
pub fn encode_record_protocol1<K: AsRef<str>>(
    fields: &[(K, PickleValue)],
) -> Result<Vec<u8>, EncodeError> {
    let mut e = Protocol1Encoder::default();
    e.encode_record(fields)?;
    Ok(e.into_bytes())
}

/// A whole `SocketHandler` frame: 4-byte big-endian length, then the protocol 1 pickle of
/// the record dict (what `SocketHandler.makePickle` returns).
pub fn encode_socket_frame<K: AsRef<str>>(
    fields: &[(K, PickleValue)],
) -> Result<Vec<u8>, EncodeError> {
    let mut e = Protocol1Encoder::default();
    e.out.extend_from_slice(&[0; 4]);
    e.encode_record(fields)?;
    let mut out = e.into_bytes();
    let len = out.len() - 4;
    let len32 = u32::try_from(len).map_err(|_| EncodeError::FrameTooLarge(len))?;
    out[..4].copy_from_slice(&len32.to_be_bytes());
    Ok(out)
}

impl Protocol1Encoder {
    /// Appends the pickle of one value (ending with `STOP`) to the output. Each call writes a
    /// complete, independent pickle (the memo starts empty).
    pub fn encode_value(&mut self, value: &PickleValue) -> Result<(), EncodeError> {
        self.start_pickle();
        self.run(vec![Task::Raw(b"."), Task::Value(value)])
    }

    /// Appends the pickle of a record dict with str keys (ending with `STOP`).
    pub fn encode_record<K: AsRef<str>>(
        &mut self,
        fields: &[(K, PickleValue)],
    ) -> Result<(), EncodeError> {
        self.start_pickle();
        // Most of a record is its keys and str values: reserve roughly that, once.
        let estimate: usize = fields
            .iter()
            .map(|(k, v)| k.as_ref().len() + v.as_str().map_or(16, str::len) + 16)
            .sum();
        self.out.reserve(estimate + 16);
        let mut forward = Vec::with_capacity(2 * fields.len() + 8);
        forward.extend([Task::Raw(b"}"), Task::Put]);
        push_dict_items(
            &mut forward,
            fields.len(),
            fields
                .iter()
                .map(|(k, v)| (Task::Key(k.as_ref()), Task::Value(v))),
        );
        forward.push(Task::Raw(b"."));
        forward.reverse();
        self.run(forward)
    }

    /// The memo belongs to one pickle: each call starts afresh.
    fn start_pickle(&mut self) {
        self.next_memo = 0;
        self.shared.clear();
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Executes tasks from the end of `stack` (so callers push in reverse order).
    fn run(&mut self, mut stack: Vec<Task<'_>>) -> Result<(), EncodeError> {
        while let Some(task) = stack.pop() {
            match task {
                Task::Raw(b) => self.out.extend_from_slice(b),
                Task::Put => self.put()?,
                Task::PutShared(s) => {
                    self.shared.push((s, self.next_memo));
                    self.put()?;
                }
                Task::Key(s) => self.str(s)?,
                Task::Bytes(b) => {
                    let start = stack.len();
                    self.bytes(b, &mut stack)?;
                    stack[start..].reverse();
                }
                Task::Value(v) => {
                    let start = stack.len();
                    self.value(v, &mut stack)?;
                    // value() pushed its sub-tasks in forward order; flip them.
                    stack[start..].reverse();
                }
            }
        }
        Ok(())
    }

    fn put(&mut self) -> Result<(), EncodeError> {
        let i = self.next_memo;
        self.next_memo = i
            .checked_add(1)
            .ok_or(EncodeError::TooLarge("memo entries"))?;
        match u8::try_from(i) {
            Ok(b) => self.out.extend_from_slice(&[b'q', b]),
            Err(_) => {
                self.out.push(b'r');
                self.out.extend_from_slice(&i.to_le_bytes());
            }
        }
        Ok(())
    }

    fn get(&mut self, i: u32) {
        match u8::try_from(i) {
            Ok(b) => self.out.extend_from_slice(&[b'h', b]),
            Err(_) => {
                self.out.push(b'j');
                self.out.extend_from_slice(&i.to_le_bytes());
            }
        }
    }

    fn lookup(&self, s: Shared) -> Option<u32> {
        self.shared.iter().find(|(k, _)| *k == s).map(|(_, i)| *i)
    }

    /// Writes a shared object if it is already memoized; true if so.
    fn try_get(&mut self, s: Shared) -> bool {
        match self.lookup(s) {
            Some(i) => {
                self.get(i);
                true
            }
            None => false,
        }
    }

    fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        if s.is_empty() && self.try_get(Shared::EmptyStr) {
            return Ok(());
        }
        // CPython refuses strs over 4 GiB in protocols < 4 too.
        let n = u32::try_from(s.len()).map_err(|_| EncodeError::TooLarge("str"))?;
        self.out.push(b'X');
        self.out.extend_from_slice(&n.to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        if s.is_empty() {
            self.shared.push((Shared::EmptyStr, self.next_memo));
        }
        self.put()
    }

    fn int(&mut self, i: i64) {
        if (0..256).contains(&i) {
            self.out.extend_from_slice(&[b'K', i as u8]);
        } else if (0..65536).contains(&i) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(i as u16).to_le_bytes());
        } else if let Ok(v) = i32::try_from(i) {
            self.out.push(b'J');
            self.out.extend_from_slice(&v.to_le_bytes());
        } else {
            self.out.extend_from_slice(format!("L{i}L\n").as_bytes());
        }
    }

    /// Writes a global CPython shares by identity: the first time in full, then `BINGET`.
    fn global(&mut self, name: &'static str, text: &'static [u8]) -> Result<(), EncodeError> {
        if !self.try_get(Shared::Global(name)) {
            self.out.extend_from_slice(text);
            self.shared.push((Shared::Global(name), self.next_memo));
            self.put()?;
        }
        Ok(())
    }

    /// Writes `value` or pushes its sub-tasks onto `tasks` in forward order.
    fn value<'a>(
        &mut self,
        value: &'a PickleValue,
        tasks: &mut Vec<Task<'a>>,
    ) -> Result<(), EncodeError> {
        match value {
            PickleValue::None => self.out.push(b'N'),
            PickleValue::Bool(true) => self.out.extend_from_slice(b"I01\n"),
            PickleValue::Bool(false) => self.out.extend_from_slice(b"I00\n"),
            PickleValue::Int(i) => self.int(*i),
            PickleValue::BigInt(s) => match normalize_bigint(s) {
                Some(ParsedInt::Small(i)) => self.int(i),
                Some(ParsedInt::Big(d)) => {
                    self.out.extend_from_slice(format!("L{d}L\n").as_bytes())
                }
                None => return Err(EncodeError::BadBigInt(s.clone())),
            },
            PickleValue::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            PickleValue::Str(s) => self.str(s)?,
            PickleValue::Opaque { class } => self.str(&format!("<{class}>"))?,
            // Forwarded as the text a receiver would print for it.
            PickleValue::Known { str, .. } => self.str(str)?,
            PickleValue::Bytes(b) => self.bytes(b, tasks)?,
            PickleValue::ByteArray(b) => {
                self.global("bytearray", b"c__builtin__\nbytearray\n")?;
                if b.is_empty() {
                    self.out.extend_from_slice(b")R");
                } else {
                    // bytearray.__reduce_ex__(1) is (bytearray, (bytes(self),), None); the
                    // bytes object is fresh unless CPython caches it (length 1).
                    self.out.push(b'(');
                    tasks.push(Task::Bytes(b));
                    tasks.push(Task::Raw(b"t"));
                    tasks.push(Task::Put);
                    tasks.push(Task::Raw(b"R"));
                }
                tasks.push(Task::Put);
            }
            PickleValue::List(items) => {
                self.out.push(b']');
                self.put()?;
                push_list_items(tasks, items);
            }
            PickleValue::Tuple(items) => {
                if items.is_empty() {
                    self.out.push(b')');
                } else {
                    tasks.push(Task::Raw(b"("));
                    tasks.extend(items.iter().map(Task::Value));
                    tasks.push(Task::Raw(b"t"));
                    tasks.push(Task::Put);
                }
            }
            PickleValue::Set(items) | PickleValue::FrozenSet(items) => {
                // set.__reduce__ is (set, (list(self),), None).
                if matches!(value, PickleValue::Set(_)) {
                    self.global("set", b"c__builtin__\nset\n")?;
                } else {
                    self.global("frozenset", b"c__builtin__\nfrozenset\n")?;
                }
                self.out.extend_from_slice(b"(]");
                self.put()?;
                push_list_items(tasks, items);
                tasks.push(Task::Raw(b"t"));
                tasks.push(Task::Put);
                tasks.push(Task::Raw(b"R"));
                tasks.push(Task::Put);
            }
            PickleValue::Dict(pairs) => {
                self.out.push(b'}');
                self.put()?;
                push_dict_items(
                    tasks,
                    pairs.len(),
                    pairs.iter().map(|(k, v)| (Task::Value(k), Task::Value(v))),
                );
            }
        }
        Ok(())
    }

    /// bytes in protocol < 3: `_codecs.encode(str(b, 'latin1'), 'latin1')`, or
    /// `__builtin__.bytes()` for `b''`. Runs when the bytes object is due, so the identity
    /// checks see everything written before it.
    fn bytes<'a>(&mut self, b: &'a [u8], tasks: &mut Vec<Task<'a>>) -> Result<(), EncodeError> {
        let identity = match b {
            [] => Some(Shared::SmallBytes(None)),
            [x] => Some(Shared::SmallBytes(Some(*x))),
            _ => None,
        };
        if let Some(id) = identity
            && self.try_get(id)
        {
            return Ok(());
        }
        if b.is_empty() {
            self.global("bytes", b"c__builtin__\nbytes\n")?;
            tasks.push(Task::Raw(b")R"));
        } else {
            self.global("_codecs.encode", b"c_codecs\nencode\n")?;
            self.out.push(b'(');
            // The latin-1 decoding is a fresh str object.
            let n: usize = b.iter().map(|&c| if c < 0x80 { 1 } else { 2 }).sum();
            let n = u32::try_from(n).map_err(|_| EncodeError::TooLarge("bytes"))?;
            self.out.push(b'X');
            self.out.extend_from_slice(&n.to_le_bytes());
            self.out.extend(b.iter().flat_map(|&c| {
                let mut buf = [0u8; 2];
                let len = char::from(c).encode_utf8(&mut buf).len();
                buf.into_iter().take(len)
            }));
            self.put()?;
            if !self.try_get(Shared::Latin1) {
                self.out.extend_from_slice(b"X\x06\x00\x00\x00latin1");
                self.shared.push((Shared::Latin1, self.next_memo));
                self.put()?;
            }
            tasks.push(Task::Raw(b"t"));
            tasks.push(Task::Put);
            tasks.push(Task::Raw(b"R"));
        }
        tasks.push(match identity {
            Some(id) => Task::PutShared(id),
            None => Task::Put,
        });
        Ok(())
    }
}

fn push_list_items<'a>(tasks: &mut Vec<Task<'a>>, items: &'a [PickleValue]) {
    match items {
        [] => {}
        [one] => {
            tasks.push(Task::Value(one));
            tasks.push(Task::Raw(b"a"));
        }
        _ => {
            for chunk in items.chunks(BATCH) {
                tasks.push(Task::Raw(b"("));
                tasks.extend(chunk.iter().map(Task::Value));
                tasks.push(Task::Raw(b"e"));
            }
        }
    }
}

/// CPython's `batch_dict_exact`: one `SETITEM` for a single pair; otherwise `MARK … SETITEMS`
/// batches of 1000, repeated while a batch was full (so a multiple of 1000 ends with an empty
/// `MARK SETITEMS`). Empty dicts write nothing.
fn push_dict_items<'a>(
    tasks: &mut Vec<Task<'a>>,
    len: usize,
    mut pairs: impl Iterator<Item = (Task<'a>, Task<'a>)>,
) {
    match len {
        0 => {}
        1 => {
            if let Some((k, v)) = pairs.next() {
                tasks.extend([k, v, Task::Raw(b"s")]);
            }
        }
        _ => loop {
            tasks.push(Task::Raw(b"("));
            let mut n = 0;
            for (k, v) in pairs.by_ref().take(BATCH) {
                tasks.extend([k, v]);
                n += 1;
            }
            tasks.push(Task::Raw(b"u"));
            if n < BATCH {
                break;
            }
        },
    }
}
