//! The fast path for the pickles log records actually are: a top-level dict of str keys to
//! scalars and strs, as `pickle.dumps(record.__dict__, protocol)` writes it for any protocol.
//!
//! It borrows every str from the input (validated once), allocates nothing for records of up
//! to [`INLINE_ITEMS`] keys and values, and builds no intermediate tree. It is an *optimistic*
//! parser: on anything it does not handle, or anything the general parser would reject, it
//! returns `None` and the caller runs the general parser on the same bytes, which then decides
//! (and names the error). So it only ever accepts what the general parser accepts, with the
//! same result and within the same [`DecodeLimits`]; it never has to reproduce an error.

use crate::decode::DecodeLimits;
use crate::text::{self, ParsedInt};

/// Keys and values this path handles (a CPython record has ~23 keys); bigger records take
/// the general parser.
pub(crate) const MAX_ITEMS: usize = 128;

/// Memo entries this path handles (CPython memoizes the dict and each str once).
const MAX_MEMO: usize = MAX_ITEMS + 32;

/// A memo index that names the top-level dict itself (a `GET` of it is left to the general
/// parser, which reports the cycle).
const ROOT: u32 = u32::MAX;

/// One top-level key or value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Flat<'a> {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// Keys and values, alternating, in stream order: a fixed array on the caller's stack, so a
/// record costs no allocation and no per-push capacity check.
pub(crate) struct FlatRecord<'a> {
    items: [Flat<'a>; MAX_ITEMS],
    len: usize,
}

impl<'a> FlatRecord<'a> {
    pub(crate) fn new() -> Self {
        FlatRecord {
            items: [Flat::None; MAX_ITEMS],
            len: 0,
        }
    }

    pub(crate) fn as_slice(&self) -> &[Flat<'a>] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, v: Flat<'a>) -> Option<()> {
        *self.items.get_mut(self.len)? = v;
        self.len += 1;
        Some(())
    }
}

/// Strs are validated as UTF-8 a region at a time: a record's strs sit close together,
/// separated by short opcodes that are mostly ASCII, so one validation of the input from a
/// str onward (up to the first byte that is not UTF-8, e.g. inside a float) covers the strs
/// that follow, and each of them is then a sub-slice of already-validated text. Per-str
/// validation of short strs costs several times more. A str that is not valid UTF-8 (or not
/// on char boundaries of the region) is reported as `None`; the regions never overlap but
/// for one rescan before such a failure, so the work stays linear in the input.
struct Utf8Regions<'a> {
    input: &'a [u8],
    start: usize,
    text: &'a str,
}

impl<'a> Utf8Regions<'a> {
    fn new(input: &'a [u8]) -> Self {
        Utf8Regions {
            input,
            start: 0,
            text: "",
        }
    }

    fn str_at(&mut self, at: usize, len: usize) -> Option<&'a str> {
        let end = at.checked_add(len)?;
        if at >= self.start && end <= self.start + self.text.len() {
            return self.text.get(at - self.start..end - self.start);
        }
        let rest = self.input.get(at..)?;
        let text = match std::str::from_utf8(rest) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(rest.get(..e.valid_up_to())?).ok()?,
        };
        self.start = at;
        self.text = text;
        text.get(..len)
    }
}

/// Reads `N` bytes at `*pos`.
fn array<const N: usize>(input: &[u8], pos: &mut usize) -> Option<[u8; N]> {
    let end = pos.checked_add(N)?;
    let bytes = input.get(*pos..end)?;
    *pos = end;
    let mut a = [0u8; N];
    a.copy_from_slice(bytes);
    Some(a)
}

/// Reads `n` bytes at `*pos` (`n` already checked against the string budget).
fn take<'a>(input: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let end = pos.checked_add(n)?;
    let bytes = input.get(*pos..end)?;
    *pos = end;
    Some(bytes)
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

fn small(v: Result<ParsedInt, crate::DecodeErrorKind>) -> Option<i64> {
    match v {
        Ok(ParsedInt::Small(i)) => Some(i),
        _ => None,
    }
}

/// Parses a record pickle of the common shape into `out` (keys and values alternating), or
/// returns `None` (see the module docs).
pub(crate) fn parse<'a>(
    input: &'a [u8],
    limits: &DecodeLimits,
    out: &mut FlatRecord<'a>,
) -> Option<()> {
    out.len = 0;
    if input.len() > limits.max_input_len || limits.max_depth == 0 {
        return None;
    }
    // Memo key k is the k-th PUT (what every CPython pickler writes); each entry is an index
    // into `out`, or ROOT.
    let mut memo = [0u32; MAX_MEMO];
    let mut memo_len = 0usize;
    let mut utf8 = Utf8Regions::new(input);
    let mut root = false;
    // Items up to `committed` are in the dict; the rest are on the stack above it.
    let mut committed = 0usize;
    let mut mark: Option<usize> = None;
    let mut pushes = 0usize;
    let mut pos = 0usize;
    loop {
        let op = *input.get(pos)?;
        pos += 1;
        let value = match op {
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
                pushes += 1;
                continue;
            }
            b'(' => {
                if !root || mark.is_some() || out.len != committed {
                    return None;
                }
                mark = Some(out.len);
                continue;
            }
            b'u' => {
                // SETITEMS
                let m = mark.take()?;
                if !(out.len - m).is_multiple_of(2) {
                    return None;
                }
                committed = out.len;
                continue;
            }
            b's' => {
                // SETITEM
                if mark.is_some() || out.len - committed != 2 {
                    return None;
                }
                committed = out.len;
                continue;
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => u32::from(array::<1>(input, &mut pos)?[0]),
                    b'r' => u32::from_le_bytes(array(input, &mut pos)?),
                    _ => u32::try_from(memo_len).ok()?,
                };
                if key as usize != memo_len || memo_len >= limits.max_memo {
                    return None;
                }
                let fence = mark.unwrap_or(committed);
                let target = if out.len > fence {
                    u32::try_from(out.len - 1).ok()?
                } else if root && mark.is_none() && out.len == committed {
                    ROOT
                } else {
                    return None;
                };
                *memo.get_mut(memo_len)? = target;
                memo_len += 1;
                continue;
            }
            b'h' | b'j' => {
                let key = match op {
                    b'h' => usize::from(array::<1>(input, &mut pos)?[0]),
                    _ => u32::from_le_bytes(array(input, &mut pos)?) as usize,
                };
                let at = *memo.get(..memo_len)?.get(key)?;
                if at == ROOT {
                    return None;
                }
                *out.as_slice().get(at as usize)?
            }
            b'.' => {
                // STOP: exactly the dict left, nothing after it.
                if !root || mark.is_some() || out.len != committed || pos != input.len() {
                    return None;
                }
                break;
            }
            b'N' => Flat::None,
            0x88 => Flat::Bool(true),
            0x89 => Flat::Bool(false),
            b'K' => Flat::Int(i64::from(array::<1>(input, &mut pos)?[0])),
            b'M' => Flat::Int(i64::from(u16::from_le_bytes(array(input, &mut pos)?))),
            b'J' => Flat::Int(i64::from(i32::from_le_bytes(array(input, &mut pos)?))),
            b'G' => Flat::Float(f64::from_be_bytes(array(input, &mut pos)?)),
            b'I' => match line(input, &mut pos, limits)? {
                b"00" => Flat::Bool(false),
                b"01" => Flat::Bool(true),
                l => Flat::Int(small(text::parse_decimal(
                    l,
                    limits.max_long_digits,
                    "INT",
                ))?),
            },
            b'L' => {
                let l = line(input, &mut pos, limits)?;
                let digits = l.strip_suffix(b"L").unwrap_or(l);
                Flat::Int(small(text::parse_decimal(
                    digits,
                    limits.max_long_digits,
                    "LONG",
                ))?)
            }
            0x8a => {
                // LONG1: at most 255 bytes; only values that fit an i64 stay on this path.
                let n = usize::from(array::<1>(input, &mut pos)?[0]);
                // The general parser's byte cap for the digit budget (~2.41 digits a byte).
                let max_bytes = limits.max_long_digits.saturating_mul(5) / 12 + 2;
                if n > 8 || n > max_bytes {
                    return None;
                }
                let bytes = take(input, &mut pos, n)?;
                Flat::Int(small(text::from_twos_complement_le(
                    bytes,
                    limits.max_long_digits,
                ))?)
            }
            b'X' | 0x8c | 0x8d | b'U' | b'T' => {
                let n: u64 = match op {
                    b'X' => u64::from(u32::from_le_bytes(array(input, &mut pos)?)),
                    0x8d => u64::from_le_bytes(array(input, &mut pos)?),
                    b'T' => u64::try_from(i32::from_le_bytes(array(input, &mut pos)?)).ok()?,
                    _ => u64::from(array::<1>(input, &mut pos)?[0]),
                };
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= limits.max_str_len)?;
                let s = utf8.str_at(pos, n)?;
                pos += n;
                // Protocol 0/1 py2 strings must be ASCII (CPython's default encoding).
                if matches!(op, b'U' | b'T') && !s.is_ascii() {
                    return None;
                }
                Flat::Str(s)
            }
            _ => return None,
        };
        // A value: only above the dict, and at most a key and its value without a MARK.
        if !root || mark.is_none() && out.len - committed >= 2 {
            return None;
        }
        pushes += 1;
        if pushes > limits.max_nodes {
            return None;
        }
        out.push(value)?;
    }
    // The general parser's expansion budgets and record checks.
    if 1 + out.len > limits.max_nodes {
        return None;
    }
    let mut bytes = 0usize;
    let items = out.as_slice();
    for item in items {
        if let Flat::Str(s) = item {
            bytes = bytes.saturating_add(s.len());
        }
    }
    if bytes > limits.max_expanded_bytes || has_duplicate_or_non_str_key(items) {
        return None;
    }
    Some(())
}

/// Whether a key is not a str or appears twice. A 1024-bit filter of key hashes makes the
/// usual all-distinct record linear; only keys whose hash bit is already set are compared
/// with the earlier keys.
fn has_duplicate_or_non_str_key(items: &[Flat<'_>]) -> bool {
    fn hash(k: &str) -> u16 {
        // Length and three bytes: enough to spread a record's keys, and no copying.
        let b = k.as_bytes();
        let n = b.len();
        let at = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
        let h = (n as u64)
            ^ (at(0) << 8)
            ^ (at(n / 2) << 16)
            ^ (at(n.wrapping_sub(1)) << 24)
            ^ (at(1) << 32);
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as u16
    }
    let mut seen = [0u64; 16];
    for (i, pair) in items.chunks(2).enumerate() {
        let Some(Flat::Str(k)) = pair.first() else {
            return true;
        };
        let h = hash(k);
        let (word, bit) = (usize::from(h >> 6), 1u64 << (h & 63));
        if seen[word] & bit != 0
            && items[..2 * i]
                .iter()
                .step_by(2)
                .any(|other| matches!(other, Flat::Str(o) if o == k))
        {
            return true;
        }
        seen[word] |= bit;
    }
    false
}
