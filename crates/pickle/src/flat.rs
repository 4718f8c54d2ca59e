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
//! boundary. (Validating short strs one by one costs several times more.) The first pass has
//! two versions: `scan_common` for exactly what `SocketHandler` sends (protocols 0-3, no memo
//! `GET`s), small enough to keep its state in registers, and `scan` for any flat record.
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
pub(crate) const MAX_MEMO: usize = MAX_ITEMS + 32;

/// A memo entry that names the top-level dict itself (a `GET` of it is left to the general
/// parser, which reports the cycle).
const ROOT: u32 = u32::MAX;

/// Longest key the shape cache keeps (record attribute names are short).
const MAX_SHAPE_KEY: usize = 64;

/// Most keys the shape cache keeps.
const MAX_SHAPE_KEYS: usize = MAX_ITEMS / 2;

/// Bytes of text buffer a decoder keeps between records (a usual record needs well under 1 KiB).
const TEXT_KEPT: usize = 64 * 1024;

/// One top-level key or value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Item {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A str: `len` bytes at `at` in [`FlatParser::text`].
    Str {
        at: u32,
        len: u32,
    },
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
#[derive(Debug)]
struct Seg {
    /// Its bytes in the stream: opcode, length, text and `PUT`.
    raw: Box<[u8]>,
    key: Box<str>,
    put: Option<u32>,
}

/// The last record's keys (see the module docs).
#[derive(Debug, Default)]
struct Shape {
    segs: Vec<Seg>,
}

impl Shape {
    #[inline]
    fn key(&self, n: u32) -> Option<&str> {
        self.segs.get(n as usize).map(|s| &*s.key)
    }

    fn key_len(&self, n: u32) -> usize {
        self.key(n).map_or(0, str::len)
    }

    /// Cached key `n`, if the stream at `pos` repeats its bytes and its `PUT` (if any) is
    /// the one due (`memo` entries so far, within `max_memo`), as the ordinary path would
    /// take it. (The `max_memo` and `max_str_len` checks cannot fail while a decoder's limits
    /// stay those the key was first accepted under; they are kept so that the cache never
    /// relies on that.)
    #[inline(always)]
    fn hit(
        &self,
        n: usize,
        input: &[u8],
        pos: usize,
        memo: usize,
        limits: &DecodeLimits,
    ) -> Option<&Seg> {
        let seg = self.segs.get(n)?;
        let ok = same_bytes(input, pos, &seg.raw)
            && seg
                .put
                .is_none_or(|k| k as usize == memo && memo < limits.max_memo.min(MAX_MEMO))
            && seg.key.len() <= limits.max_str_len;
        ok.then_some(seg)
    }

    /// Keeps the first `n` keys.
    fn truncate(&mut self, n: usize) {
        self.segs.truncate(n);
    }

    /// Appends a key; false when the cache is full. (A shape is one record's keys, at most
    /// `MAX_ITEMS / 2`, so the count check only states the bound that keeps every
    /// `Known(n)` below `MAX_ITEMS`.)
    fn push(&mut self, raw: &[u8], key: &str, put: Option<u32>) -> bool {
        if key.len() > MAX_SHAPE_KEY || self.segs.len() >= MAX_SHAPE_KEYS {
            return false;
        }
        self.segs.push(Seg {
            raw: raw.into(),
            key: key.into(),
            put,
        });
        true
    }
}

/// Whether `input[pos..]` starts with `want` (short: compared a word at a time, without a
/// call into `memcmp`).
#[inline(always)]
pub(crate) fn same_bytes(input: &[u8], pos: usize, want: &[u8]) -> bool {
    let Some(have) = input.get(pos..).and_then(|r| r.get(..want.len())) else {
        return false;
    };
    let word = |s: &[u8], i: usize| -> u64 {
        s.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let n = want.len();
    if n < 8 {
        // A byte loop: `==` on slices would call `bcmp` for a memo PUT's two bytes.
        return have.iter().zip(want).all(|(a, b)| a == b);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(have, i) != word(want, i) {
            return false;
        }
        i += 8;
    }
    word(have, n - 8) == word(want, n - 8)
}

/// Duplicate keys among those the shape cache did not supply, and what the cache learns from
/// them (see the module docs).
#[derive(Debug)]
struct KeyCheck {
    /// The first key the cache did not supply, if any.
    first_miss: Option<usize>,
    /// From `first_miss` on, where each key came from (`None`: not cacheable).
    spans: Vec<Option<Span>>,
    filter: KeyFilter,
}

impl Default for KeyCheck {
    fn default() -> Self {
        KeyCheck {
            first_miss: None,
            spans: Vec::new(),
            filter: KeyFilter { seen: [0; 64] },
        }
    }
}

impl KeyCheck {
    fn reset(&mut self) {
        self.first_miss = None;
        self.spans.clear();
    }

    /// A key read by the ordinary path (`items` are the items before it): `None` if it
    /// repeats an earlier key.
    fn admit(
        &mut self,
        key: Item,
        span: Option<Span>,
        items: &[Item],
        text: &[u8],
        shape: &Shape,
    ) -> Option<()> {
        let bytes = key_bytes(key, text, shape)?;
        if self.first_miss.is_none() {
            // The cached keys before it are distinct; from here on the filter checks.
            self.first_miss = Some(items.len() / 2);
            self.filter.reset(items, text, shape);
        }
        if self.filter.repeats(bytes, items, text, shape) {
            return None;
        }
        self.spans.push(span);
        Some(())
    }
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

/// A scalar value's opcode at `pos` (after the opcode byte): `None`, ints that fit an `i64`,
/// floats and bools, in their binary and text forms. `None` for any other opcode, or a value
/// this path leaves to the general parser.
#[inline(always)]
pub(crate) fn scalar(op: u8, input: &[u8], pos: &mut usize, limits: &DecodeLimits) -> Option<Item> {
    Some(match op {
        b'N' => Item::None,
        b'K' => Item::Int(i64::from(array::<1>(input, pos)?[0])),
        b'M' => Item::Int(i64::from(u16::from_le_bytes(array(input, pos)?))),
        b'J' => Item::Int(i64::from(i32::from_le_bytes(array(input, pos)?))),
        b'G' => Item::Float(f64::from_be_bytes(array(input, pos)?)),
        0x88 => Item::Bool(true),
        0x89 => Item::Bool(false),
        b'I' => match line(input, pos, limits)? {
            b"00" => Item::Bool(false),
            b"01" => Item::Bool(true),
            l => Item::Int(decimal(l, limits, "INT")?),
        },
        b'L' => {
            let l = line(input, pos, limits)?;
            Item::Int(decimal(l.strip_suffix(b"L").unwrap_or(l), limits, "LONG")?)
        }
        _ => return None,
    })
}

/// Validates the text buffer: SIMD for anything but short text.
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
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

/// Appends a str's bytes to the text buffer, followed by `\n`.
#[inline(always)]
pub(crate) fn push_str(text: &mut Vec<u8>, bytes: &[u8]) -> Option<Item> {
    let at = u32::try_from(text.len()).ok()?;
    text.extend_from_slice(bytes);
    text.push(b'\n');
    Some(Item::Str {
        at,
        len: bytes.len() as u32,
    })
}

/// The opening of what `SocketHandler` sends, `[PROTO <= 3] } [PUT 0] (`: the position of
/// the first key and the memo entries written (the dict's own `PUT`, within `max_memo`).
pub(crate) fn common_head(input: &[u8], max_memo: usize) -> Option<(usize, usize)> {
    let mut pos = 0usize;
    if let [0x80, proto, ..] = input {
        if *proto > 3 {
            return None;
        }
        pos = 2;
    }
    if input.get(pos) != Some(&b'}') {
        return None;
    }
    pos += 1;
    let mut memo = 0usize;
    if input.get(pos) == Some(&b'q') {
        if input.get(pos + 1) != Some(&0) || max_memo == 0 {
            return None;
        }
        memo = 1;
        pos += 2;
    }
    if input.get(pos) != Some(&b'(') {
        return None;
    }
    Some((pos + 1, memo))
}

/// [`FlatParser::scan_common`]'s `BINUNICODE` argument at `pos` (after the opcode), with the
/// `PUT` after it if there is one: the str, its length and the memo index the `PUT` wrote.
#[inline(always)]
fn common_str(
    input: &[u8],
    pos: &mut usize,
    memo: &mut usize,
    text: &mut Vec<u8>,
    max_memo: usize,
    max_str_len: usize,
) -> Option<(Item, usize, Option<u32>)> {
    let n = u32::from_le_bytes(array(input, pos)?) as usize;
    if n > max_str_len {
        return None;
    }
    let bytes = input.get(*pos..)?.get(..n)?;
    *pos += n;
    let item = push_str(text, bytes)?;
    let put = match input.get(*pos..) {
        Some([b'q', k, ..]) => {
            if usize::from(*k) != *memo || *memo >= max_memo {
                return None;
            }
            *pos += 2;
            *memo += 1;
            Some(u32::from(*k))
        }
        _ => None,
    };
    Some((item, n, put))
}

/// A 4096-bit filter of key hashes; only a key whose bit is already set is compared with
/// the earlier keys, so an all-distinct record costs one hash per key.
#[derive(Debug)]
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

    /// Empties the filter and adds the keys of `items` (known to be distinct).
    fn reset(&mut self, items: &[Item], text: &[u8], shape: &Shape) {
        self.seen = [0; 64];
        for &k in items.iter().step_by(2) {
            if let Some(b) = key_bytes(k, text, shape) {
                let (word, bit) = Self::bit(b);
                if let Some(w) = self.seen.get_mut(word) {
                    *w |= bit;
                }
            }
        }
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

/// The fast path's state, kept in the decoder from record to record: its buffers (so a
/// record of a cached shape, within the kept text size, costs no allocation) and the shape
/// cache.
#[derive(Debug, Default)]
pub(crate) struct FlatParser {
    items: Vec<Item>,
    /// Memo index to item index (or [`ROOT`]); the general scan's only.
    memo: Vec<u32>,
    /// Every str read, each followed by `\n`.
    text: Vec<u8>,
    shape: Shape,
    keys: KeyCheck,
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
        if input.len() > limits.max_input_len
            || limits.max_depth == 0
            || u32::try_from(input.len()).is_err()
        {
            return None;
        }
        let result = self.read_and_visit(input, limits, visit);
        // One large record must not leave every connection's decoder holding its size until
        // the next record comes.
        if self.text.capacity() > TEXT_KEPT {
            self.text.clear();
            self.text.shrink_to(TEXT_KEPT);
        }
        result
    }

    /// [`decode_with`](Self::decode_with) for an input within this path's limits.
    fn read_and_visit<E, F>(
        &mut self,
        input: &[u8],
        limits: &DecodeLimits,
        visit: &mut F,
    ) -> Option<Result<(), E>>
    where
        E: From<DecodeError>,
        F: FnMut(&str, FieldValue<'_>) -> Result<(), E>,
    {
        let str_bytes = match self.scan_common(input, limits) {
            Some(n) => n,
            None => self.scan(input, limits)?,
        };
        // The general parser's budgets on values (the dict and each item; pushes never exceed
        // that here, as nothing is popped) and on the bytes of strs after memo expansion.
        if 1 + self.items.len() > limits.max_nodes || str_bytes > limits.max_expanded_bytes {
            return None;
        }
        let FlatParser {
            items,
            text,
            shape,
            keys,
            ..
        } = self;
        let text = utf8(text)?;
        if let Some(first) = keys.first_miss {
            // This record's keys from the first miss on become the cached shape.
            shape.truncate(first);
            for (span, &key) in keys.spans.iter().zip(items.iter().step_by(2).skip(first)) {
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
        // Every str is followed by `\n` in `text`, so a slice of it cannot split a
        // character; a failure here would be a bug, and rejects the record.
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
            let Some(key) = str_of(k) else {
                return Some(Err(boundary_error()));
            };
            if let Err(e) = visit(key, value) {
                return Some(Err(e));
            }
        }
        Some(Ok(()))
    }

    /// Clears the per-record state (each scan starts with it).
    fn start(&mut self) {
        self.items.clear();
        self.memo.clear();
        self.text.clear();
        self.keys.reset();
        self.items.reserve(MAX_ITEMS);
    }

    /// The first pass for what `SocketHandler` sends (protocols 0-3 with binary opcodes):
    /// `[PROTO] } [PUT] ( key value ... u .`, keys and strs as `BINUNICODE`, each str with
    /// or without its `PUT`, no memo `GET`s. Small enough to stay in registers; anything
    /// else returns `None` and [`scan`](Self::scan) reads the record. Both return the bytes
    /// of strs read (a memo `GET` counts its str again), for the budget check.
    fn scan_common(&mut self, input: &[u8], limits: &DecodeLimits) -> Option<usize> {
        self.start();
        let FlatParser {
            items,
            text,
            shape,
            keys,
            ..
        } = self;
        let max_memo = limits.max_memo.min(MAX_MEMO);
        let max_str_len = limits.max_str_len;
        // PUTs so far (their targets are not kept: a GET leaves this path).
        let (mut pos, mut memo) = common_head(input, max_memo)?;
        let mut str_bytes = 0usize;
        loop {
            let len = items.len();
            // The key (or the end: a record of exactly MAX_ITEMS / 2 keys stays here).
            match input.get(pos) {
                Some(b'u') => break,
                Some(b'X') if len + 2 <= MAX_ITEMS => {}
                _ => return None,
            }
            if keys.first_miss.is_none()
                && let Some(seg) = shape.hit(len / 2, input, pos, memo, limits)
            {
                memo += usize::from(seg.put.is_some());
                str_bytes += seg.key.len();
                pos += seg.raw.len();
                items.push(Item::Known((len / 2) as u32));
            } else {
                let start = pos;
                pos += 1;
                let (key, n, put) =
                    common_str(input, &mut pos, &mut memo, text, max_memo, max_str_len)?;
                str_bytes += n;
                let span = Span {
                    start: start as u32,
                    end: pos as u32,
                    put,
                };
                keys.admit(key, Some(span), items, text, shape)?;
                items.push(key);
            }
            // The value.
            let op = *input.get(pos)?;
            pos += 1;
            let value = match op {
                b'X' => {
                    let (item, n, _) =
                        common_str(input, &mut pos, &mut memo, text, max_memo, max_str_len)?;
                    str_bytes += n;
                    item
                }
                _ => scalar(op, input, &mut pos, limits)?,
            };
            items.push(value);
        }
        // SETITEMS, then STOP and nothing after it.
        if input.get(pos + 1) != Some(&b'.') || pos + 2 != input.len() {
            return None;
        }
        Some(str_bytes)
    }

    /// The first pass for any record of the flat kind: the opcodes into `items`, strs into
    /// `text` (see the module docs).
    fn scan(&mut self, input: &[u8], limits: &DecodeLimits) -> Option<usize> {
        self.start();
        let FlatParser {
            items,
            memo,
            text,
            shape,
            keys,
        } = self;
        let max_memo = limits.max_memo.min(MAX_MEMO);
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
            if keys.first_miss.is_none()
                && len.is_multiple_of(2)
                && len < room
                && let Some(seg) = shape.hit(len / 2, input, pos, memo.len(), limits)
            {
                if seg.put.is_some() {
                    memo.push(len as u32);
                }
                str_bytes += seg.key.len();
                items.push(Item::Known((len / 2) as u32));
                pos += seg.raw.len();
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
                    push_str(text, bytes)?
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
                    push_str(text, bytes)?
                }
                _ => scalar(op, input, &mut pos, limits)?,
            };
            // A value: only above the dict, and at most a key and its value without a MARK.
            // Items alternate key, value from the dict's first item, so an even slot is a key.
            // And never more than MAX_ITEMS: `SETITEM`s (no MARK) move the room up with every
            // pair, and the duplicate check compares colliding keys pairwise.
            if len >= room || len >= MAX_ITEMS {
                return None;
            }
            if len.is_multiple_of(2) {
                let cacheable = matches!(value, Item::Str { .. }) && matches!(op, b'X' | 0x8c);
                let span = cacheable.then_some(Span {
                    start: op_at as u32,
                    end: pos as u32,
                    put,
                });
                keys.admit(value, span, items, text, shape)?;
            }
            items.push(value);
            if put.is_some() {
                memo.push(len as u32);
            }
        }
        Some(str_bytes)
    }
}

/// The one error this path reports itself, for a slice of the validated text that cannot
/// be taken. It cannot happen: every `Str` item was pushed into `text` by this record's scan
/// (whole, and followed by `\n`, so its ends are character boundaries), and every `Known(n)`
/// was read from the cache before the first miss, which `shape.truncate(first_miss)` keeps.
/// If it ever did, some pairs may already have been visited, so it is reported, not handed
/// to the general parser; debug builds (tests, fuzzing) stop on it.
#[cold]
pub(crate) fn boundary_error<E: From<DecodeError>>() -> E {
    debug_assert!(false, "a validated text slice could not be taken");
    E::from(DecodeError::new(0, DecodeErrorKind::BadUtf8))
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// A protocol-1 record of these pairs, as CPython's `makePickle` writes one.
    pub(crate) fn record(pairs: &[(&str, PickleValue)]) -> Vec<u8> {
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

    /// What `SocketHandler` sends (protocol 1: strs with their PUTs, floats, small and
    /// text ints, None, bools) is read by the small first pass, cold and warm; a memo GET
    /// or a protocol-4 record leaves it for the general scan.
    #[test]
    fn socket_handler_records_take_the_common_scan() {
        let rec = record(&[
            ("name", PickleValue::Str("app".into())),
            ("msg", PickleValue::Str("héllo".into())),
            ("args", PickleValue::None),
            ("levelno", PickleValue::Int(20)),
            ("process", PickleValue::Int(12086)),
            ("created", PickleValue::Float(1795298741.51633)),
            ("thread", PickleValue::Int(140_191_478_160_256)),
            ("flag", PickleValue::Bool(true)),
        ]);
        let limits = DecodeLimits::default();
        let mut p = FlatParser::default();
        assert!(p.scan_common(&rec, &limits).is_some(), "cold");
        fast(&mut p, &rec).unwrap();
        assert!(p.scan_common(&rec, &limits).is_some(), "warm");
        assert_eq!(cached_keys(&p), 8);
        let get = b"}q\x00(X\x01\x00\x00\x00aq\x01h\x01u.";
        assert!(p.scan_common(get, &limits).is_none());
        assert!(p.scan(get, &limits).is_some());
    }

    /// A record of exactly MAX_ITEMS / 2 keys (the most this path holds) stays on the small
    /// first pass; one more key sends it to the general parser.
    #[test]
    fn the_common_scan_takes_records_up_to_max_items() {
        let wide = |keys: usize| {
            let pairs: Vec<(String, PickleValue)> = (0..keys)
                .map(|i| (format!("k{i}"), PickleValue::Int(1)))
                .collect();
            crate::encode_record_protocol1(&pairs).unwrap()
        };
        let limits = DecodeLimits::default();
        let mut p = FlatParser::default();
        assert!(p.scan_common(&wide(MAX_ITEMS / 2), &limits).is_some());
        assert_eq!(p.items.len(), MAX_ITEMS);
        assert!(p.scan_common(&wide(MAX_ITEMS / 2 + 1), &limits).is_none());
    }

    /// A dict built with `SETITEM`s (no MARK) grows its room with every pair; the fast path
    /// still holds at most MAX_ITEMS items and leaves wider dicts to the general parser.
    #[test]
    fn setitem_dicts_are_capped_at_max_items() {
        let dict = |pairs: usize| {
            let mut p = b"}".to_vec();
            for i in 0..pairs {
                let k = format!("k{i}");
                p.push(b'X');
                p.extend_from_slice(&(k.len() as u32).to_le_bytes());
                p.extend_from_slice(k.as_bytes());
                p.extend_from_slice(b"Ns");
            }
            p.push(b'.');
            p
        };
        let limits = DecodeLimits::default();
        let mut p = FlatParser::default();
        assert!(p.scan(&dict(MAX_ITEMS / 2), &limits).is_some());
        assert_eq!(p.items.len(), MAX_ITEMS);
        assert!(p.scan(&dict(MAX_ITEMS / 2 + 1), &limits).is_none());
        assert!(p.scan(&dict(50_000), &limits).is_none());
    }

    /// A record with a large str grows the text buffer for that record only: the next one
    /// leaves at most TEXT_KEPT of it behind.
    #[test]
    fn a_large_record_does_not_keep_its_buffer() {
        let big = record(&[("msg", PickleValue::Str("x".repeat(1 << 20)))]);
        // Read by this path up to the list, which sends it to the general parser.
        let big_then_list = record(&[
            ("msg", PickleValue::Str("x".repeat(1 << 20))),
            ("args", PickleValue::List(vec![])),
        ]);
        let mut p = FlatParser::default();
        assert!(fast(&mut p, &big).is_some());
        assert!(p.text.capacity() <= TEXT_KEPT, "{}", p.text.capacity());
        assert!(fast(&mut p, &big_then_list).is_none());
        assert!(p.text.capacity() <= TEXT_KEPT, "{}", p.text.capacity());
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
        let first =
            b"}q\x00(X\x01\x00\x00\x00aq\x01X\x01\x00\x00\x00xq\x02X\x01\x00\x00\x00bq\x03K\x01u.";
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
