//! The fast path for the pickles log records actually are: a top-level dict of str keys to
//! scalars and strs, as `pickle.dumps(record.__dict__, protocol)` writes it for any protocol.
//!
//! It is an *optimistic* parser: on anything it does not handle, or anything the general
//! parser would reject, it gives up before the visitor sees a pair, and the caller runs the
//! general parser on the same bytes, which then decides (and names the error). So it only
//! ever accepts what the general parser accepts, with the same result and within the same
//! [`DecodeLimits`]; it never has to reproduce an error.
//!
//! Two passes over a record. The first reads the opcodes into a list of items; every str's
//! bytes are appended to one text buffer, each followed by `\n`. The second validates that
//! buffer as UTF-8 in one (SIMD) call and hands the pairs out: each str is a sub-slice of the
//! validated text, and since a `\n` ends every one, each slice begins and ends on a character
//! boundary. (Validating short strs one by one costs several times more.)
//!
//! A sender's records repeat their keys in the same order, so the parser keeps the last
//! record's *shape*: for each key, the exact bytes from its opcode through its memo `PUT`, and
//! its validated text. At a key slot, when the next bytes equal the cached key's bytes, the
//! key is taken as a whole: no length checks, no copy, no UTF-8 work, and no duplicate check
//! (while every key so far came from the cache, they are distinct because the cached record's
//! were). From the first key that differs, keys go through the ordinary path and a filter
//! finds duplicates; a record that parses then becomes the new shape from that key on.

use crate::decode::DecodeLimits;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::text::{self, ParsedInt};
use crate::value::FieldValue;

/// Keys and values this path handles (a CPython record has ~23 keys); bigger records take
/// the general parser.
pub(crate) const MAX_ITEMS: usize = 128;

/// Memo entries this path handles (CPython memoizes the dict and each str once).
const MAX_MEMO: usize = MAX_ITEMS + 32;

/// A memo entry that names the top-level dict itself (a `GET` of it is left to the general
/// parser, which reports the cycle).
const ROOT: u32 = u32::MAX;

/// Longest key the shape cache keeps (record attribute names are short).
const MAX_SHAPE_KEY: usize = 64;

/// Most bytes of key opcodes the shape cache keeps.
const MAX_SHAPE_BYTES: usize = 8 * 1024;

/// One top-level key or value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A str: `len` bytes at `at` in [`FlatParser::text`].
    Str { at: u32, len: u32 },
    /// The shape cache's key number `n`.
    Known(u32),
}

/// Where a key read by the ordinary path sits in the input, for the shape cache.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// From the key's opcode to the end of its `PUT` (or of its text, without one).
    start: u32,
    end: u32,
    /// The memo index its `PUT` wrote.
    put: Option<u32>,
}

/// One cached key.
#[derive(Debug, Clone, Copy)]
struct Seg {
    /// Its opcode bytes in [`Shape::raw`].
    raw: (u32, u32),
    /// Its text in [`Shape::keys`].
    key: (u32, u32),
    put: Option<u32>,
}

/// The last record's keys (see the module docs).
#[derive(Debug, Default)]
struct Shape {
    raw: Vec<u8>,
    keys: String,
    segs: Vec<Seg>,
}

impl Shape {
    fn key(&self, n: u32) -> Option<&str> {
        let seg = self.segs.get(n as usize)?;
        self.keys.get(seg.key.0 as usize..seg.key.1 as usize)
    }

    fn key_len(&self, n: u32) -> usize {
        self.segs
            .get(n as usize)
            .map_or(0, |s| (s.key.1 - s.key.0) as usize)
    }

    /// Keeps the first `n` keys.
    fn truncate(&mut self, n: usize) {
        if let Some(seg) = self.segs.get(n) {
            self.raw.truncate(seg.raw.0 as usize);
            self.keys.truncate(seg.key.0 as usize);
            self.segs.truncate(n);
        }
    }

    /// Appends a key; false when the cache is full.
    fn push(&mut self, raw: &[u8], key: &str, put: Option<u32>) -> bool {
        if key.len() > MAX_SHAPE_KEY || self.raw.len() + raw.len() > MAX_SHAPE_BYTES {
            return false;
        }
        let (r, k) = (self.raw.len() as u32, self.keys.len() as u32);
        self.raw.extend_from_slice(raw);
        self.keys.push_str(key);
        self.segs.push(Seg {
            raw: (r, self.raw.len() as u32),
            key: (k, self.keys.len() as u32),
            put,
        });
        true
    }
}

/// The fast path's state, kept in the decoder from record to record: its buffers (so a
/// record costs no allocation) and the shape cache.
#[derive(Debug, Default)]
pub(crate) struct FlatParser {
    items: Vec<Item>,
    /// Memo index to item index (or [`ROOT`]).
    memo: Vec<u32>,
    /// Every str read, each followed by `\n`.
    text: Vec<u8>,
    shape: Shape,
    /// The first key the cache did not supply, if any.
    first_miss: Option<usize>,
    /// From `first_miss` on, where each key came from (`None`: not cacheable).
    spans: Vec<Option<Span>>,
}

/// Reads `N` bytes at `*pos`.
#[inline(always)]
fn array<const N: usize>(input: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let a: [u8; N] = input.get(*pos..)?.get(..N)?.try_into().ok()?;
    *pos += N;
    Some(a)
}

/// A text argument up to its `\n`, within the string budget.
fn line<'a>(input: &'a [u8], pos: &mut usize, limits: &DecodeLimits) -> Option<&'a [u8]> {
    let rest = input.get(*pos..)?;
    let n = rest.iter().position(|&b| b == b'\n')?;
    if n > limits.max_str_len {
        return None;
    }
    *pos += n + 1;
    rest.get(..n)
}

fn small(v: Result<ParsedInt, DecodeErrorKind>) -> Option<i64> {
    match v {
        Ok(ParsedInt::Small(i)) => Some(i),
        _ => None,
    }
}

/// A text `INT`/`LONG` argument that fits an `i64`. The usual one (a thread id: positive,
/// at most 18 digits, no leading zero) is converted here; anything else, or anything the
/// general parser would refuse, is decided by [`text::parse_decimal`].
#[inline]
fn decimal(digits: &[u8], limits: &DecodeLimits, what: &'static str) -> Option<i64> {
    if let [b'1'..=b'9', ..] = digits
        && digits.len() <= 18
        && digits.len() <= limits.max_long_digits
    {
        let mut acc = 0i64;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            acc = acc * 10 + i64::from(d - b'0');
        }
        return Some(acc);
    }
    small(text::parse_decimal(digits, limits.max_long_digits, what))
}

/// Validates the text buffer: SIMD for anything but short text.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < 32 {
        std::str::from_utf8(bytes).ok()
    } else {
        simdutf8::basic::from_utf8(bytes).ok()
    }
}

/// The bytes of a key item (a str or a cached key).
fn key_bytes<'t>(item: Item, text: &'t [u8], shape: &'t Shape) -> Option<&'t [u8]> {
    match item {
        Item::Str { at, len } => text.get(at as usize..at as usize + len as usize),
        Item::Known(n) => shape.key(n).map(str::as_bytes),
        _ => None,
    }
}

/// Duplicate keys among those the shape cache did not supply: a 4096-bit filter of key
/// hashes; only a key whose bit is already set is compared with the earlier keys, so an
/// all-distinct record costs one hash per key.
struct KeyFilter {
    seen: [u64; 64],
}

impl KeyFilter {
    #[inline(always)]
    fn bit(k: &[u8]) -> (usize, u64) {
        // Length and four bytes: enough to spread a record's keys, and no copying.
        let h = match k {
            [] => 0,
            [a, rest @ ..] => {
                let n = k.len() as u64;
                let last = rest.last().copied().unwrap_or(*a);
                let second = rest.first().copied().unwrap_or(0);
                let mid = k.get(k.len() / 2).copied().unwrap_or(0);
                n ^ (u64::from(*a) << 8)
                    ^ (u64::from(mid) << 16)
                    ^ (u64::from(last) << 24)
                    ^ (u64::from(second) << 32)
            }
        };
        let h = (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) as usize;
        (h >> 6, 1u64 << (h & 63))
    }

    /// A filter holding the keys of `items` (known to be distinct).
    fn with_keys(items: &[Item], text: &[u8], shape: &Shape) -> Self {
        let mut f = KeyFilter { seen: [0; 64] };
        for &k in items.iter().step_by(2) {
            if let Some(b) = key_bytes(k, text, shape) {
                let (word, bit) = Self::bit(b);
                if let Some(w) = f.seen.get_mut(word) {
                    *w |= bit;
                }
            }
        }
        f
    }

    /// Whether `key` repeats a key of `items` (keys at even slots), adding it otherwise.
    fn repeats(&mut self, key: &[u8], items: &[Item], text: &[u8], shape: &Shape) -> bool {
        let (word, bit) = Self::bit(key);
        let Some(w) = self.seen.get_mut(word) else {
            return true;
        };
        if *w & bit != 0
            && items
                .iter()
                .step_by(2)
                .any(|&other| key_bytes(other, text, shape) == Some(key))
        {
            return true;
        }
        *w |= bit;
        false
    }
}

impl FlatParser {
    /// Decodes a record of the common shape and hands its pairs to `visit`, or returns
    /// `None` without calling `visit` (see the module docs).
    pub(crate) fn decode_with<E, F>(
        &mut self,
        input: &[u8],
        limits: &DecodeLimits,
        visit: &mut F,
    ) -> Option<Result<(), E>>
    where
        E: From<DecodeError>,
        F: FnMut(&str, FieldValue<'_>) -> Result<(), E>,
    {
        self.scan(input, limits)?;
        let FlatParser {
            items,
            text,
            shape,
            first_miss,
            spans,
            ..
        } = self;
        let text = utf8(text)?;
        if let Some(first) = *first_miss {
            // This record's keys from the first miss on become the cached shape.
            shape.truncate(first);
            let keys = items.iter().step_by(2).skip(first);
            for (span, &key) in spans.iter().zip(keys) {
                let (Some(span), Item::Str { at, len }) = (span, key) else {
                    break;
                };
                let (Some(raw), Some(key)) = (
                    input.get(span.start as usize..span.end as usize),
                    text.get(at as usize..at as usize + len as usize),
                ) else {
                    break;
                };
                if !shape.push(raw, key, span.put) {
                    break;
                }
            }
        }
        let shape = &*shape;
        let str_of = |item: Item| match item {
            Item::Str { at, len } => text.get(at as usize..at as usize + len as usize),
            Item::Known(n) => shape.key(n),
            _ => None,
        };
        for pair in items.chunks_exact(2) {
            let [k, v] = *pair else { continue };
            let value = match v {
                Item::None => FieldValue::None,
                Item::Bool(b) => FieldValue::Bool(b),
                Item::Int(i) => FieldValue::Int(i),
                Item::Float(x) => FieldValue::Float(x),
                Item::Str { .. } | Item::Known(_) => match str_of(v) {
                    Some(s) => FieldValue::Str(s),
                    None => return Some(Err(boundary_error())),
                },
            };
            // Every str is followed by `\n` in `text`, so a slice of it cannot split a
            // character; a failure here would be a bug, and rejects the record.
            let Some(key) = str_of(k) else {
                return Some(Err(boundary_error()));
            };
            if let Err(e) = visit(key, value) {
                return Some(Err(e));
            }
        }
        Some(Ok(()))
    }

    /// The first pass: the opcodes into `items`, strs into `text` (see the module docs).
    fn scan(&mut self, input: &[u8], limits: &DecodeLimits) -> Option<()> {
        let FlatParser {
            items,
            memo,
            text,
            shape,
            first_miss,
            spans,
        } = self;
        items.clear();
        memo.clear();
        text.clear();
        spans.clear();
        *first_miss = None;
        if input.len() > limits.max_input_len
            || limits.max_depth == 0
            || u32::try_from(input.len()).is_err()
        {
            return None;
        }
        items.reserve(MAX_ITEMS);
        let max_memo = limits.max_memo.min(MAX_MEMO);
        let mut filter: Option<KeyFilter> = None;
        let mut root = false;
        // Items up to `committed` are in the dict; the rest are on the stack above it.
        let mut committed = 0usize;
        let mut mark: Option<usize> = None;
        // How many items may be on the stack: none before the dict, a key and a value above it
        // without a MARK, any number (up to MAX_ITEMS) after one.
        let mut room = 0usize;
        // Bytes of strs in the expanded result (a memo GET counts its str again).
        let mut str_bytes = 0usize;
        let max_str_len = limits.max_str_len;
        let mut pos = 0usize;
        loop {
            let len = items.len();
            // A key slot: the cached key, if the bytes are the same (see the module docs).
            if first_miss.is_none()
                && len.is_multiple_of(2)
                && len < room
                && let Some(seg) = shape.segs.get(len / 2)
                && let Some(raw) = shape.raw.get(seg.raw.0 as usize..seg.raw.1 as usize)
                && input.get(pos..pos + raw.len()) == Some(raw)
                && seg.put.is_none_or(|k| k as usize == memo.len() && memo.len() < max_memo)
                && (seg.key.1 - seg.key.0) as usize <= max_str_len
            {
                if seg.put.is_some() {
                    memo.push(len as u32);
                }
                str_bytes += (seg.key.1 - seg.key.0) as usize;
                items.push(Item::Known((len / 2) as u32));
                pos += raw.len();
                continue;
            }
            let op_at = pos;
            let op = *input.get(pos)?;
            pos += 1;
            // A str's memo PUT, read with it: the index it wrote.
            let mut put: Option<u32> = None;
            let value = match op {
                b'X' | 0x8c => {
                    // BINUNICODE, SHORT_BINUNICODE: the bulk of a record.
                    let n = if op == b'X' {
                        u32::from_le_bytes(array(input, &mut pos)?) as usize
                    } else {
                        usize::from(array::<1>(input, &mut pos)?[0])
                    };
                    if n > max_str_len || n > input.len() - pos {
                        return None;
                    }
                    let bytes = input.get(pos..pos + n)?;
                    pos += n;
                    str_bytes += n;
                    let at = u32::try_from(text.len()).ok()?;
                    text.extend_from_slice(bytes);
                    text.push(b'\n');
                    // Nearly every str is memoized right after it (`q k` in protocols 1-3,
                    // MEMOIZE in 4-5): done here, with the PUT arm's conditions for a str
                    // just pushed above the fence.
                    match input.get(pos..) {
                        Some([b'q', k, ..])
                            if usize::from(*k) == memo.len() && memo.len() < max_memo =>
                        {
                            pos += 2;
                            put = Some(u32::from(*k));
                        }
                        Some([0x94, ..]) if memo.len() < max_memo => {
                            pos += 1;
                            put = Some(memo.len() as u32);
                        }
                        _ => {}
                    }
                    Item::Str { at, len: n as u32 }
                }
                b'q' | b'r' | 0x94 => {
                    let key = match op {
                        b'q' => u32::from(array::<1>(input, &mut pos)?[0]),
                        b'r' => u32::from_le_bytes(array(input, &mut pos)?),
                        _ => u32::try_from(memo.len()).ok()?,
                    };
                    if key as usize != memo.len() || memo.len() >= max_memo {
                        return None;
                    }
                    let fence = mark.unwrap_or(committed);
                    let target = if len > fence {
                        u32::try_from(len - 1).ok()?
                    } else if root && mark.is_none() && len == committed {
                        ROOT
                    } else {
                        return None;
                    };
                    memo.push(target);
                    continue;
                }
                b'N' => Item::None,
                b'K' => Item::Int(i64::from(array::<1>(input, &mut pos)?[0])),
                b'M' => Item::Int(i64::from(u16::from_le_bytes(array(input, &mut pos)?))),
                b'J' => Item::Int(i64::from(i32::from_le_bytes(array(input, &mut pos)?))),
                b'G' => Item::Float(f64::from_be_bytes(array(input, &mut pos)?)),
                0x88 => Item::Bool(true),
                0x89 => Item::Bool(false),
                0x80 => {
                    // PROTO
                    if array::<1>(input, &mut pos)?[0] > 5 {
                        return None;
                    }
                    continue;
                }
                0x95 => {
                    // FRAME: advisory; its length must fit what is left.
                    let n = u64::from_le_bytes(array(input, &mut pos)?);
                    if n > (input.len() - pos) as u64 {
                        return None;
                    }
                    continue;
                }
                b'}' => {
                    // Only PROTO and FRAME can come before it (values need the dict below them).
                    if root {
                        return None;
                    }
                    root = true;
                    room = 2;
                    continue;
                }
                b'(' => {
                    if !root || mark.is_some() || len != committed {
                        return None;
                    }
                    mark = Some(len);
                    room = MAX_ITEMS;
                    continue;
                }
                b'u' => {
                    // SETITEMS
                    let m = mark.take()?;
                    if !(len - m).is_multiple_of(2) {
                        return None;
                    }
                    committed = len;
                    room = committed + 2;
                    continue;
                }
                b's' => {
                    // SETITEM
                    if mark.is_some() || len - committed != 2 {
                        return None;
                    }
                    committed = len;
                    room = committed + 2;
                    continue;
                }
                b'h' | b'j' => {
                    let key = match op {
                        b'h' => usize::from(array::<1>(input, &mut pos)?[0]),
                        _ => u32::from_le_bytes(array(input, &mut pos)?) as usize,
                    };
                    let at = *memo.get(key)?;
                    if at == ROOT {
                        return None;
                    }
                    let v = *items.get(at as usize)?;
                    match v {
                        Item::Str { len, .. } => str_bytes += len as usize,
                        Item::Known(n) => str_bytes += shape.key_len(n),
                        _ => {}
                    }
                    v
                }
                b'.' => {
                    // STOP: exactly the dict left, nothing after it.
                    if !root || mark.is_some() || len != committed || pos != input.len() {
                        return None;
                    }
                    break;
                }
                b'I' => match line(input, &mut pos, limits)? {
                    b"00" => Item::Bool(false),
                    b"01" => Item::Bool(true),
                    l => Item::Int(decimal(l, limits, "INT")?),
                },
                b'L' => {
                    let l = line(input, &mut pos, limits)?;
                    Item::Int(decimal(
                        l.strip_suffix(b"L").unwrap_or(l),
                        limits,
                        "LONG",
                    )?)
                }
                0x8a => {
                    // LONG1: at most 255 bytes; only values that fit an i64 stay on this path.
                    let n = usize::from(array::<1>(input, &mut pos)?[0]);
                    // The general parser's byte cap for the digit budget (~2.41 digits a byte).
                    let max_bytes = limits.max_long_digits.saturating_mul(5) / 12 + 2;
                    if n > 8 || n > max_bytes {
                        return None;
                    }
                    let bytes = input.get(pos..)?.get(..n)?;
                    pos += n;
                    Item::Int(small(text::from_twos_complement_le(
                        bytes,
                        limits.max_long_digits,
                    ))?)
                }
                0x8d | b'U' | b'T' => {
                    let n: u64 = match op {
                        0x8d => u64::from_le_bytes(array(input, &mut pos)?),
                        b'T' => u64::try_from(i32::from_le_bytes(array(input, &mut pos)?)).ok()?,
                        _ => u64::from(array::<1>(input, &mut pos)?[0]),
                    };
                    let n = usize::try_from(n).ok().filter(|&n| n <= max_str_len)?;
                    let bytes = input.get(pos..)?.get(..n)?;
                    // Protocol 0/1 py2 strings must be ASCII (CPython's default encoding).
                    if op != 0x8d && !bytes.is_ascii() {
                        return None;
                    }
                    pos += n;
                    str_bytes += n;
                    let at = u32::try_from(text.len()).ok()?;
                    text.extend_from_slice(bytes);
                    text.push(b'\n');
                    Item::Str { at, len: n as u32 }
                }
                _ => return None,
            };
            // A value: only above the dict, and at most a key and its value without a MARK.
            // Items alternate key, value from the dict's first item, so an even slot is a key.
            if len >= room {
                return None;
            }
            if len.is_multiple_of(2) {
                let key = key_bytes(value, text, shape)?;
                if filter.is_none() {
                    // The first key the cache did not supply: the cached ones before it are
                    // distinct; from here on the filter checks.
                    *first_miss = Some(len / 2);
                    filter = Some(KeyFilter::with_keys(items, text, shape));
                }
                if filter.as_mut()?.repeats(key, items, text, shape) {
                    return None;
                }
                let cacheable = matches!(value, Item::Str { .. }) && matches!(op, b'X' | 0x8c);
                spans.push(cacheable.then_some(Span {
                    start: op_at as u32,
                    end: pos as u32,
                    put,
                }));
            }
            items.push(value);
            if put.is_some() {
                memo.push(len as u32);
            }
        }
        // The general parser's budgets on values (the dict and each item; pushes never exceed
        // that here, as nothing is popped) and on expanded bytes.
        if 1 + items.len() > limits.max_nodes || str_bytes > limits.max_expanded_bytes {
            return None;
        }
        Some(())
    }
}

#[cold]
fn boundary_error<E: From<DecodeError>>() -> E {
    E::from(DecodeError::new(0, DecodeErrorKind::BadUtf8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PickleValue;

    /// The pairs of `input` by the fast path alone, or `None` when it steps aside.
    fn fast(p: &mut FlatParser, input: &[u8]) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        p.decode_with(input, &DecodeLimits::default(), &mut |k: &str, v| {
            out.push((k.to_owned(), format!("{v:?}")));
            Ok::<_, DecodeError>(())
        })?
        .unwrap();
        Some(out)
    }

    fn record(pairs: &[(&str, PickleValue)]) -> Vec<u8> {
        let pairs: Vec<(String, PickleValue)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        crate::encode_record_protocol1(&pairs).unwrap()
    }

    fn cached_keys(p: &FlatParser) -> usize {
        p.items
            .iter()
            .filter(|i| matches!(i, Item::Known(_)))
            .count()
    }

    /// The usual records stay on this path (a fallback would still be correct, only slow).
    #[test]
    fn usual_records_of_protocols_1_and_4_take_the_fast_path() {
        let p1 = record(&[
            ("name", PickleValue::Str("app".into())),
            ("created", PickleValue::Float(1795298741.51633)),
            ("msg", PickleValue::Str("héllo ✓".into())),
            ("msecs", PickleValue::Float(516.0)),
            ("x", PickleValue::Str("y".repeat(200))),
        ]);
        let mut p = FlatParser::default();
        let got = fast(&mut p, &p1).expect("protocol 1 on the fast path");
        assert_eq!(got[2], ("msg".into(), "Str(\"héllo ✓\")".into()));
        assert_eq!(got[4].1, format!("Str({:?})", "y".repeat(200)));
        // pickle.dumps({'name': 'app', 'msecs': 516.0, 'k': 'é'}, 4)
        let p4 = b"\x80\x04\x95,\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04name\x94\x8c\x03app\x94\x8c\x05msecs\x94G@\x80 \x00\x00\x00\x00\x00\x8c\x01k\x94\x8c\x02\xc3\xa9\x94u.";
        let got = fast(&mut p, p4).expect("protocol 4 on the fast path");
        let want = [
            ("name", "Str(\"app\")"),
            ("msecs", "Float(516.0)"),
            ("k", "Str(\"é\")"),
        ];
        assert_eq!(got, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }

    /// The second record with the same keys takes every key from the cache, and reads the
    /// same as it does with a cold parser.
    #[test]
    fn repeated_keys_come_from_the_shape_cache() {
        let a = record(&[
            ("name", PickleValue::Str("a".into())),
            ("levelno", PickleValue::Int(20)),
            ("thread", PickleValue::Int(140_191_478_160_256)),
        ]);
        let b = record(&[
            ("name", PickleValue::Str("a much longer name".into())),
            ("levelno", PickleValue::Int(40)),
            ("thread", PickleValue::Int(7)),
        ]);
        let mut warm = FlatParser::default();
        fast(&mut warm, &a).unwrap();
        assert_eq!(cached_keys(&warm), 0);
        let got = fast(&mut warm, &b).unwrap();
        assert_eq!(cached_keys(&warm), 3);
        assert_eq!(Some(got), fast(&mut FlatParser::default(), &b));
    }

    /// A key that differs ends the cache's part; the keys after it are checked for
    /// duplicates against the cached ones too, and the record becomes the new shape.
    #[test]
    fn a_changed_key_is_checked_and_becomes_the_shape() {
        let one = PickleValue::Int(1);
        let a = record(&[("a", one.clone()), ("b", one.clone()), ("c", one.clone())]);
        let dup = record(&[("a", one.clone()), ("b", one.clone()), ("a", one.clone())]);
        let d = record(&[("a", one.clone()), ("d", one.clone()), ("e", one.clone())]);
        let mut p = FlatParser::default();
        fast(&mut p, &a).unwrap();
        assert_eq!(fast(&mut p, &dup), None, "a duplicate of a cached key");
        let got = fast(&mut p, &d).unwrap();
        assert_eq!(cached_keys(&p), 1);
        assert_eq!(got[1].0, "d");
        fast(&mut p, &d).unwrap();
        assert_eq!(cached_keys(&p), 3, "the new shape");
        // The rejected record did not change the shape: `a` still matches its first key.
        fast(&mut p, &a).unwrap();
        assert_eq!(cached_keys(&p), 1);
    }

    /// A cached key's memo PUT is only taken when it is the PUT the stream is due: here the
    /// value before `b` has no PUT in the second record, so `b`'s index moved.
    #[test]
    fn a_cached_put_must_be_the_next_memo_index() {
        let first = b"}q\x00(X\x01\x00\x00\x00aq\x01X\x01\x00\x00\x00xq\x02X\x01\x00\x00\x00bq\x03K\x01u.";
        let second = b"}q\x00(X\x01\x00\x00\x00aq\x01K\x05X\x01\x00\x00\x00bq\x03K\x01u.";
        let mut p = FlatParser::default();
        fast(&mut p, first).unwrap();
        // `q\x03` is not the next index (2): the general parser must decide.
        assert_eq!(fast(&mut p, second), None);
        let fixed = b"}q\x00(X\x01\x00\x00\x00aq\x01K\x05X\x01\x00\x00\x00bq\x02K\x01u.";
        let got = fast(&mut p, fixed).unwrap();
        assert_eq!(got[1], ("b".into(), "Int(1)".into()));
        assert_eq!(cached_keys(&p), 1, "a from the cache, b read again");
    }
}
