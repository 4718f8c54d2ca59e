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
    /// A str not yet validated as UTF-8: `len` input bytes at `at`. Only while parsing:
    /// [`parse`] turns every one into [`Flat::Str`] before it succeeds.
    Raw {
        at: u32,
        len: u32,
    },
}

/// Keys and values, alternating, in stream order. The vector is the decoder's, recycled from
/// record to record (see [`recycle`]), so a record costs no allocation and no initialisation
/// of a fixed array.
pub(crate) type FlatRecord<'a> = Vec<Flat<'a>>;

/// An emptied item vector with its allocation kept, for items of another lifetime (in-place
/// collect of an empty vector: no element is ever converted).
#[allow(clippy::unnecessary_filter_map)] // the filter_map is what changes the lifetime
pub(crate) fn recycle<'b>(mut v: Vec<Flat<'_>>) -> Vec<Flat<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Strs are validated as UTF-8 a region at a time, after the opcodes are read: a record's
/// strs sit close together, and in a protocol 0/1 pickle (what `SocketHandler` writes) the
/// bytes between them (opcodes, lengths, memo indexes) are ASCII except inside binary
/// arguments such as floats. While parsing, every non-str byte that is not ASCII *breaks*
/// the run of strs before it; afterwards each run, from its first str to its break, is
/// validated in one (SIMD) pass, and its strs are sub-slices of that text. Validating short
/// strs one by one costs several times more. The runs never overlap, so the work stays
/// linear in the input.
struct Breaks {
    /// Input positions of the breaks, ascending; at most one per str read.
    at: [u32; MAX_ITEMS],
    len: usize,
    /// Whether a str was read since the last break (otherwise a new break adds nothing).
    str_since: bool,
}

impl Breaks {
    /// A non-ASCII non-str byte in the opcode at `pos` (any position between the end of the
    /// last str and that byte will do).
    #[inline(always)]
    fn add(&mut self, pos: usize) -> Option<()> {
        if self.str_since {
            *self.at.get_mut(self.len)? = u32::try_from(pos).ok()?;
            self.len += 1;
            self.str_since = false;
        }
        Some(())
    }
}

/// Validates one run (or one str): SIMD for anything but short text.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < 32 {
        std::str::from_utf8(bytes).ok()
    } else {
        simdutf8::basic::from_utf8(bytes).ok()
    }
}

/// Turns every [`Flat::Raw`] into a [`Flat::Str`], validating run by run (see [`Breaks`]).
fn validate<'a>(input: &'a [u8], items: &mut [Flat<'a>], breaks: &Breaks) -> Option<()> {
    let breaks = breaks.at.get(..breaks.len)?;
    let mut next_break = 0usize;
    let mut run = "";
    let mut run_at = 0usize;
    for item in items {
        let Flat::Raw { at, len } = *item else {
            continue;
        };
        let (at, len) = (at as usize, len as usize);
        let end = at + len;
        if at >= run_at && end <= run_at + run.len() {
            *item = Flat::Str(run.get(at - run_at..end - run_at)?);
            continue;
        }
        if at < run_at {
            // A memo copy of an earlier str: checked on its own.
            *item = Flat::Str(utf8(input.get(at..end)?)?);
            continue;
        }
        while breaks.get(next_break).is_some_and(|&b| (b as usize) <= at) {
            next_break += 1;
        }
        let run_end = breaks.get(next_break).map_or(input.len(), |&b| b as usize);
        run = utf8(input.get(at..run_end.max(end))?)?;
        run_at = at;
        *item = Flat::Str(run.get(..len)?);
    }
    Some(())
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

fn small(v: Result<ParsedInt, crate::DecodeErrorKind>) -> Option<i64> {
    match v {
        Ok(ParsedInt::Small(i)) => Some(i),
        _ => None,
    }
}

/// Duplicate keys, found as keys arrive: a 4096-bit filter of key hashes; only a key whose
/// bit is already set is compared with the earlier keys, so an all-distinct record costs one
/// hash per key. (The hash spreads the standard `LogRecord` keys over distinct bits, so
/// CPython's records never take the comparing path.)
struct KeyFilter {
    seen: [u64; 64],
}

impl KeyFilter {
    #[inline(always)]
    fn hash(k: &[u8]) -> usize {
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
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) as usize
    }

    /// Whether `key` (the newest key, at `items[at]`) repeats an earlier key.
    #[inline(always)]
    fn repeats(&mut self, input: &[u8], key: &[u8], items: &[Flat<'_>], at: usize) -> bool {
        let h = Self::hash(key);
        let (word, bit) = (h >> 6, 1u64 << (h & 63));
        let Some(w) = self.seen.get_mut(word) else {
            return true;
        };
        if *w & bit != 0 {
            let earlier = items.get(..at).unwrap_or(&[]);
            if earlier.iter().step_by(2).any(|other| match *other {
                Flat::Raw { at, len } => {
                    input.get(at as usize..at as usize + len as usize) == Some(key)
                }
                _ => false,
            }) {
                return true;
            }
        }
        *w |= bit;
        false
    }
}

/// Parses a record pickle of the common shape into `out` (keys and values alternating), or
/// returns `None` (see the module docs).
pub(crate) fn parse<'a>(
    input: &'a [u8],
    limits: &DecodeLimits,
    out: &mut FlatRecord<'a>,
) -> Option<()> {
    out.clear();
    out.reserve(MAX_ITEMS);
    if input.len() > limits.max_input_len || limits.max_depth == 0 {
        return None;
    }
    // Memo key k is the k-th PUT (what every CPython pickler writes); each entry is an index
    // into `out`, or ROOT.
    let mut memo = [0u32; MAX_MEMO];
    let mut memo_len = 0usize;
    if u32::try_from(input.len()).is_err() {
        return None;
    }
    let mut breaks = Breaks {
        at: [0; MAX_ITEMS],
        len: 0,
        str_since: false,
    };
    let mut keys = KeyFilter { seen: [0; 64] };
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
    let mut len = 0usize;
    let mut put_after = false;
    loop {
        let op_at = pos;
        let op = *input.get(pos)?;
        pos += 1;
        let value = match op {
            b'X' | 0x8c => {
                // BINUNICODE, SHORT_BINUNICODE: the bulk of a record.
                let n = if op == b'X' {
                    let n = u32::from_le_bytes(array(input, &mut pos)?);
                    if n & 0x8080_8080 != 0 {
                        breaks.add(op_at)?;
                    }
                    n as usize
                } else {
                    breaks.add(op_at)?;
                    usize::from(array::<1>(input, &mut pos)?[0])
                };
                if n > max_str_len || n > input.len() - pos {
                    return None;
                }
                let at = pos as u32;
                pos += n;
                str_bytes += n;
                breaks.str_since = true;
                // Nearly every str is memoized right after it (`q k` in protocols 1-3,
                // MEMOIZE in 4-5): done here, after the push below, saving a loop turn. The
                // conditions are the PUT arm's for a str just pushed above the fence.
                match input.get(pos..) {
                    Some([b'q', k, ..])
                        if usize::from(*k) == memo_len
                            && *k < 0x80
                            && memo_len < limits.max_memo =>
                    {
                        pos += 2;
                        put_after = true;
                    }
                    Some([0x94, ..]) if memo_len < limits.max_memo => {
                        breaks.add(pos)?;
                        pos += 1;
                        put_after = true;
                    }
                    _ => {}
                }
                Flat::Raw { at, len: n as u32 }
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => u32::from(array::<1>(input, &mut pos)?[0]),
                    b'r' => u32::from_le_bytes(array(input, &mut pos)?),
                    _ => u32::try_from(memo_len).ok()?,
                };
                if op == 0x94 || key & 0x8080_8080 != 0 {
                    breaks.add(op_at)?;
                }
                if key as usize != memo_len || memo_len >= limits.max_memo {
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
                *memo.get_mut(memo_len)? = target;
                memo_len += 1;
                continue;
            }
            b'N' => Flat::None,
            b'K' => {
                let b = array::<1>(input, &mut pos)?[0];
                if b >= 0x80 {
                    breaks.add(op_at)?;
                }
                Flat::Int(i64::from(b))
            }
            b'M' => {
                let b = array::<2>(input, &mut pos)?;
                if u16::from_ne_bytes(b) & 0x8080 != 0 {
                    breaks.add(op_at)?;
                }
                Flat::Int(i64::from(u16::from_le_bytes(b)))
            }
            b'J' => {
                let b = array::<4>(input, &mut pos)?;
                if u32::from_ne_bytes(b) & 0x8080_8080 != 0 {
                    breaks.add(op_at)?;
                }
                Flat::Int(i64::from(i32::from_le_bytes(b)))
            }
            b'G' => {
                let b = array::<8>(input, &mut pos)?;
                if u64::from_ne_bytes(b) & 0x8080_8080_8080_8080 != 0 {
                    breaks.add(op_at)?;
                }
                Flat::Float(f64::from_be_bytes(b))
            }
            0x88 => {
                breaks.add(op_at)?;
                Flat::Bool(true)
            }
            0x89 => {
                breaks.add(op_at)?;
                Flat::Bool(false)
            }
            0x80 => {
                // PROTO
                breaks.add(op_at)?;
                if array::<1>(input, &mut pos)?[0] > 5 {
                    return None;
                }
                continue;
            }
            0x95 => {
                // FRAME: advisory; its length must fit what is left.
                breaks.add(op_at)?;
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
                if key as u32 & 0x8080_8080 != 0 {
                    breaks.add(op_at)?;
                }
                let at = *memo.get(..memo_len)?.get(key)?;
                if at == ROOT {
                    return None;
                }
                let v = *out.get(..len)?.get(at as usize)?;
                if let Flat::Raw { len, .. } = v {
                    str_bytes += len as usize;
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
                breaks.add(op_at)?;
                let n = usize::from(array::<1>(input, &mut pos)?[0]);
                // The general parser's byte cap for the digit budget (~2.41 digits a byte).
                let max_bytes = limits.max_long_digits.saturating_mul(5) / 12 + 2;
                if n > 8 || n > max_bytes {
                    return None;
                }
                let bytes = input.get(pos..)?.get(..n)?;
                pos += n;
                Flat::Int(small(text::from_twos_complement_le(
                    bytes,
                    limits.max_long_digits,
                ))?)
            }
            0x8d | b'U' | b'T' => {
                // Their lengths may hold any byte: a break either way.
                breaks.add(op_at)?;
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
                let at = pos as u32;
                pos += n;
                str_bytes += n;
                breaks.str_since = true;
                Flat::Raw { at, len: n as u32 }
            }
            _ => return None,
        };
        // A value: only above the dict, and at most a key and its value without a MARK.
        // Items alternate key, value from the dict's first item, so an even slot is a key.
        if len >= room {
            return None;
        }
        if len.is_multiple_of(2) {
            let Flat::Raw { at, len: n } = value else {
                return None;
            };
            let key = input.get(at as usize..at as usize + n as usize)?;
            if keys.repeats(input, key, out, len) {
                return None;
            }
        }
        out.push(value);
        if put_after {
            put_after = false;
            *memo.get_mut(memo_len)? = u32::try_from(len).ok()?;
            memo_len += 1;
        }
        len += 1;
    }
    // The general parser's budgets on values (the dict and each item; pushes never exceed
    // that here, as nothing is popped) and on expanded bytes.
    if 1 + len > limits.max_nodes || str_bytes > limits.max_expanded_bytes {
        return None;
    }
    validate(input, out.get_mut(..len)?, &breaks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PickleValue;

    fn fast(input: &[u8]) -> Option<Vec<Flat<'_>>> {
        let mut out = FlatRecord::new();
        parse(input, &DecodeLimits::default(), &mut out)?;
        Some(out)
    }

    /// The usual records stay on this path (a fallback would still be correct, only slow),
    /// with runs of strs broken by floats and non-ASCII opcodes.
    #[test]
    fn usual_records_of_protocols_1_and_4_take_the_fast_path() {
        let p1 = crate::encode_record_protocol1::<String>(&[
            ("name".into(), PickleValue::Str("app".into())),
            ("created".into(), PickleValue::Float(1795298741.51633)),
            ("msg".into(), PickleValue::Str("héllo ✓".into())),
            ("msecs".into(), PickleValue::Float(516.0)),
            ("x".into(), PickleValue::Str("y".repeat(100))),
        ])
        .unwrap();
        let got = fast(&p1).expect("protocol 1 on the fast path");
        assert_eq!(got[5], Flat::Str("héllo ✓"));
        let long = "y".repeat(100);
        assert_eq!(got[9], Flat::Str(long.as_str()));
        // pickle.dumps({'name': 'app', 'msecs': 516.0, 'k': 'é'}, 4)
        let p4 = b"\x80\x04\x95,\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x04name\x94\x8c\x03app\x94\x8c\x05msecs\x94G@\x80 \x00\x00\x00\x00\x00\x8c\x01k\x94\x8c\x02\xc3\xa9\x94u.";
        let got = fast(p4).expect("protocol 4 on the fast path");
        assert_eq!(
            got,
            [
                Flat::Str("name"),
                Flat::Str("app"),
                Flat::Str("msecs"),
                Flat::Float(516.0),
                Flat::Str("k"),
                Flat::Str("é"),
            ]
        );
    }
}
