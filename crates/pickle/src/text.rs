//! Text and number helpers shared by the decoder and encoder: decimal integers, big-integer
//! conversion from pickle's little-endian two's complement, and Python string escapes.

use crate::error::DecodeErrorKind;

/// A parsed integer: small, or canonical decimal text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParsedInt {
    Small(i64),
    Big(String),
}

/// Parses `[+-]?digits` as CPython's `int(s, 0)` would for plain decimal text: leading zeros
/// are accepted only when every digit is zero (base-0 parsing rejects `012`). Base prefixes and
/// underscores are rejected (CPython's pickler never writes them). The digit count is checked
/// before any conversion, and the big case keeps decimal text, so there is no quadratic work.
pub(crate) fn parse_decimal(
    text: &[u8],
    max_digits: usize,
    what: &'static str,
) -> Result<ParsedInt, DecodeErrorKind> {
    let (neg, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(DecodeErrorKind::BadText(what));
    }
    let first_nonzero = digits.iter().position(|&d| d != b'0');
    let significant = match first_nonzero {
        None => return Ok(ParsedInt::Small(0)),
        Some(0) => digits,
        Some(_) => return Err(DecodeErrorKind::BadText(what)),
    };
    if significant.len() > max_digits {
        return Err(DecodeErrorKind::LongTooLong { limit: max_digits });
    }
    Ok(from_decimal_digits(neg, significant))
}

/// `digits` are ASCII digits without leading zeros (non-empty).
fn from_decimal_digits(neg: bool, digits: &[u8]) -> ParsedInt {
    if digits.len() <= 19 {
        // Accumulate negatively so i64::MIN parses too.
        let mut acc: i64 = 0;
        let mut fits = true;
        for &d in digits {
            match acc
                .checked_mul(10)
                .and_then(|a| a.checked_sub(i64::from(d - b'0')))
            {
                Some(a) => acc = a,
                None => {
                    fits = false;
                    break;
                }
            }
        }
        if fits {
            if neg {
                return ParsedInt::Small(acc);
            }
            if let Some(v) = acc.checked_neg() {
                return ParsedInt::Small(v);
            }
        }
    }
    let mut s = String::with_capacity(digits.len() + 1);
    if neg {
        s.push('-');
    }
    s.extend(digits.iter().map(|&d| char::from(d)));
    ParsedInt::Big(s)
}

/// Converts LONG1/LONG4 payload (little-endian two's complement) to an integer.
pub(crate) fn from_twos_complement_le(
    bytes: &[u8],
    max_digits: usize,
) -> Result<ParsedInt, DecodeErrorKind> {
    let Some(&last) = bytes.last() else {
        return Ok(ParsedInt::Small(0));
    };
    let neg = last & 0x80 != 0;
    if bytes.len() <= 8 {
        let fill = if neg { 0xff } else { 0 };
        let mut buf = [fill; 8];
        for (dst, src) in buf.iter_mut().zip(bytes) {
            *dst = *src;
        }
        return Ok(ParsedInt::Small(i64::from_le_bytes(buf)));
    }
    // n bytes hold at least 8(n-1)-1 bits of magnitude after trimming sign bytes; reject
    // before converting if even that is over the digit cap (log10(2) > 0.301).
    let trimmed = {
        let fill = if neg { 0xff } else { 0 };
        let keep = bytes.iter().rposition(|&b| b != fill).map_or(0, |i| i + 1);
        &bytes[..keep]
    };
    let min_bits = trimmed.len().saturating_sub(1) * 8;
    if min_bits.saturating_mul(301) / 1000 > max_digits {
        return Err(DecodeErrorKind::LongTooLong { limit: max_digits });
    }
    // Magnitude as u32 limbs (little-endian); negate two's complement when negative.
    let mut mag: Vec<u8> = bytes.to_vec();
    if neg {
        let mut carry = true;
        for b in mag.iter_mut() {
            let inv = !*b;
            let (v, c) = inv.overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    // Repeated division by 10^9 (quadratic in the limb count, which the cap above bounds).
    let mut chunks: Vec<u32> = Vec::new();
    while !limbs.is_empty() {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = String::with_capacity(chunks.len() * 9 + 1);
    if neg {
        s.push('-');
    }
    let mut iter = chunks.iter().rev();
    if let Some(first) = iter.next() {
        s.push_str(&first.to_string());
    }
    for c in iter {
        s.push_str(&format!("{c:09}"));
    }
    let digits = s.len() - usize::from(neg);
    if digits > max_digits {
        return Err(DecodeErrorKind::LongTooLong { limit: max_digits });
    }
    // Non-canonical encodings of small values (extra sign bytes) normalize to Small.
    match s.parse::<i64>() {
        Ok(v) => Ok(ParsedInt::Small(v)),
        Err(_) => Ok(ParsedInt::Big(s)),
    }
}

/// Decodes the body of a protocol 0 `STRING` (`PyBytes_DecodeEscape` rules).
pub(crate) fn unescape_bytes(src: &[u8]) -> Result<Vec<u8>, DecodeErrorKind> {
    let bad = DecodeErrorKind::BadText("STRING");
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while let Some(&c) = src.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = src.get(i) else {
            return Err(bad);
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'a' => out.push(0x07),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match src.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hi = src.get(i).and_then(|&d| char::from(d).to_digit(16));
                let lo = src.get(i + 1).and_then(|&d| char::from(d).to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(bad),
                }
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Decodes `raw-unicode-escape` (protocol 0 `UNICODE`): bytes are Latin-1 code points except
/// `\uXXXX` / `\UXXXXXXXX` after an odd run of backslashes. Lone surrogates (which Python
/// strings can hold and Rust strings cannot) become U+FFFD.
pub(crate) fn raw_unicode_escape(src: &[u8]) -> Result<String, DecodeErrorKind> {
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while let Some(&c) = src.get(i) {
        i += 1;
        if c != b'\\' || i >= src.len() {
            out.push(char::from(c));
            continue;
        }
        let e = src[i];
        i += 1;
        let count = match e {
            b'u' => 4,
            b'U' => 8,
            _ => {
                out.push('\\');
                out.push(char::from(e));
                continue;
            }
        };
        let hex = src.get(i..i + count).ok_or(DecodeErrorKind::BadUtf8)?;
        let mut v: u32 = 0;
        for &h in hex {
            let d = char::from(h).to_digit(16).ok_or(DecodeErrorKind::BadUtf8)?;
            v = v.checked_mul(16).ok_or(DecodeErrorKind::BadUtf8)? + d;
        }
        i += count;
        if v > 0x10_ffff {
            return Err(DecodeErrorKind::BadUtf8);
        }
        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
    }
    Ok(out)
}

/// UTF-8 as CPython's `surrogatepass` reads it: encoded lone surrogates (`ED A0..BF xx`),
/// which CPython writes for strings such as `surrogateescape`d file names, become U+FFFD so
/// such a record still decodes. Anything else invalid is an error.
pub(crate) fn utf8_surrogatepass(mut bytes: &[u8]) -> Result<String, DecodeErrorKind> {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return Ok(out);
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).map_err(|_| DecodeErrorKind::BadUtf8)?);
                match rest {
                    [0xed, b1 @ 0xa0..=0xbf, b2, tail @ ..] if (0x80..=0xbf).contains(b2) => {
                        let _ = b1;
                        out.push('\u{fffd}');
                        bytes = tail;
                    }
                    _ => return Err(DecodeErrorKind::BadUtf8),
                }
            }
        }
    }
}

/// Canonical decimal text check for `BigInt` values handed to the encoder; returns the
/// value normalized (small if it fits an i64).
pub(crate) fn normalize_bigint(text: &str) -> Option<ParsedInt> {
    parse_decimal(text.as_bytes(), usize::MAX, "BigInt").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0", 10, "x"), Ok(ParsedInt::Small(0)));
        assert_eq!(parse_decimal(b"-000", 10, "x"), Ok(ParsedInt::Small(0)));
        assert!(parse_decimal(b"012", 10, "x").is_err());
        assert!(parse_decimal(b"", 10, "x").is_err());
        assert!(parse_decimal(b"1_0", 10, "x").is_err());
        assert_eq!(
            parse_decimal(b"-9223372036854775808", 30, "x"),
            Ok(ParsedInt::Small(i64::MIN))
        );
        assert_eq!(
            parse_decimal(b"9223372036854775808", 30, "x"),
            Ok(ParsedInt::Big("9223372036854775808".into()))
        );
        assert!(matches!(
            parse_decimal(b"12345", 4, "x"),
            Err(DecodeErrorKind::LongTooLong { .. })
        ));
    }

    #[test]
    fn twos_complement() {
        assert_eq!(from_twos_complement_le(&[], 100), Ok(ParsedInt::Small(0)));
        assert_eq!(
            from_twos_complement_le(&[0xff], 100),
            Ok(ParsedInt::Small(-1))
        );
        // 2**70 and -2**70 as CPython writes them with LONG1.
        let p = [0, 0, 0, 0, 0, 0, 0, 0, 0x40];
        assert_eq!(
            from_twos_complement_le(&p, 100),
            Ok(ParsedInt::Big("1180591620717411303424".into()))
        );
        let n = [0, 0, 0, 0, 0, 0, 0, 0, 0xc0];
        assert_eq!(
            from_twos_complement_le(&n, 100),
            Ok(ParsedInt::Big("-1180591620717411303424".into()))
        );
        // Sign-padded small value normalizes.
        let pad = [5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(from_twos_complement_le(&pad, 100), Ok(ParsedInt::Small(5)));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape_bytes(br"a\x41\101\n\q").unwrap(), b"aAA\n\\q");
        assert!(unescape_bytes(b"a\\").is_err());
        assert_eq!(
            raw_unicode_escape(br"\u20ac\\u1234\x").unwrap(),
            "\u{20ac}\\\\u1234\\x"
        );
        assert_eq!(raw_unicode_escape(b"\xe9").unwrap(), "\u{e9}");
        assert_eq!(raw_unicode_escape(br"\ud800").unwrap(), "\u{fffd}");
        assert_eq!(utf8_surrogatepass(b"a\xed\xb3\xbfb").unwrap(), "a\u{fffd}b");
        assert!(utf8_surrogatepass(b"a\xffb").is_err());
    }
}
