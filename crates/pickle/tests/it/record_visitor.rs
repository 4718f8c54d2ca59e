//! `decode_record_with` (the borrowed fast path for flat records, with the general parser as
//! fallback) accepts and rejects exactly what `decode_record_dict` does, with the same values
//! and the same errors: on CPython's records of every protocol, under every tight limit, and
//! on mutated bytes.

use crate::common;

use common::{python, unhex};
use logwire_pickle::{DecodeError, DecodeLimits, PickleDecoder, PickleValue};
use proptest::prelude::*;

/// What the visitor saw, as owned pairs.
fn visited(d: &mut PickleDecoder, input: &[u8]) -> Result<Vec<(String, PickleValue)>, DecodeError> {
    let mut out = Vec::new();
    d.decode_record_with(input, |k, v| {
        let v = common::owned_field(v);
        out.push((k.to_owned(), v));
        Ok::<_, DecodeError>(())
    })?;
    Ok(out)
}

/// Both entry points on the same bytes, with one decoder each (reused across calls, as the
/// receiver does).
fn assert_same(fast: &mut PickleDecoder, general: &mut PickleDecoder, input: &[u8]) {
    let a = visited(fast, input);
    let b = general.decode_record_dict(input);
    // NaN != NaN: compare floats by bits through Debug.
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "input {:02x?}", input);
}

/// CPython SocketHandler records (and plain record dicts) pickled with protocols 0..=5:
/// plain, with a repeated str (memo GET), with containers, a datetime, a big int, non-ASCII,
/// a lone surrogate, an empty dict, a float NaN and bools.
fn cpython_corpus() -> Vec<Vec<u8>> {
    let script = r#"
import logging, pickle, datetime
r = logging.makeLogRecord({})
base = logging.getLogger('app.http.access').makeRecord('app.http.access', logging.INFO,
    '/srv/app/handlers.py', 214, 'request %s %s -> %d in %.3f ms',
    ('GET', '/v1/items/42', 200, 12.5), None, 'handle',
    {'request_id': 'req-1', 'user_id': 1042, 'client_ip': '10.0.0.1'})
d = dict(base.__dict__); d['msg'] = base.getMessage(); d['args'] = None; d['exc_info'] = None
shared = 'same-object'
dicts = [
    d,
    dict(d, a=shared, b=shared),
    dict(d, tags=['x', 'y'], ctx={'k': (1, 2.5)}, when=datetime.datetime(2024, 1, 2)),
    dict(d, big=2**80, neg=-2**63, small=-1, t=True, f=False, nan=float('nan')),
    dict(d, text='héllo ✓ 日本', sur='a\udc80b'),
    {},
    {'msg': 'only'},
    {'n': 2**63 - 1, 'm': -2**31, 'k': 65535, 'j': 65536},
]
for p in range(6):
    for x in dicts:
        print(pickle.dumps(x, p).hex())
"#;
    python(script, "")
        .lines()
        .map(|l| unhex(l.trim()))
        .collect()
}

#[test]
fn cpython_records_of_every_protocol_agree() {
    let corpus = cpython_corpus();
    assert_eq!(corpus.len(), 48);
    let mut fast = PickleDecoder::default();
    let mut general = PickleDecoder::default();
    for p in &corpus {
        assert!(visited(&mut fast, p).is_ok(), "{p:02x?}");
        assert_same(&mut fast, &mut general, p);
    }
}

#[test]
fn every_tight_limit_agrees() {
    let corpus = cpython_corpus();
    let mut tight = Vec::new();
    for n in 0..60 {
        tight.push(DecodeLimits {
            max_nodes: n,
            ..DecodeLimits::default()
        });
        tight.push(DecodeLimits {
            max_memo: n,
            ..DecodeLimits::default()
        });
        tight.push(DecodeLimits {
            max_str_len: n,
            ..DecodeLimits::default()
        });
        tight.push(DecodeLimits {
            max_expanded_bytes: n * 20,
            ..DecodeLimits::default()
        });
        tight.push(DecodeLimits {
            max_long_digits: n / 2,
            ..DecodeLimits::default()
        });
        tight.push(DecodeLimits {
            max_input_len: n * 20,
            ..DecodeLimits::default()
        });
    }
    for depth in 0..3 {
        tight.push(DecodeLimits {
            max_depth: depth,
            ..DecodeLimits::default()
        });
    }
    let mut rejected = 0;
    for limits in tight {
        let mut fast = PickleDecoder::new(limits.clone());
        let mut general = PickleDecoder::new(limits);
        for p in &corpus {
            assert_same(&mut fast, &mut general, p);
            rejected += usize::from(general.decode_record_dict(p).is_err());
        }
    }
    // The limits did bite: most combinations reject something.
    assert!(rejected > 1000, "{rejected}");
}

#[test]
fn hand_written_edge_cases_agree() {
    let cases: &[&[u8]] = &[
        // SETITEM without MARK, protocol 2 with MEMOIZE-free stream.
        b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.",
        // A GET of the dict itself (cycle) and of an unknown key.
        b"}q\x00(X\x01\x00\x00\x00ah\x00u.",
        b"}q\x00(X\x01\x00\x00\x00ah\x05u.",
        // Duplicate keys, a non-str key, trailing bytes, a missing STOP, an open mark.
        b"}(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00aK\x02u.",
        b"}(K\x01K\x02u.",
        b"}(X\x01\x00\x00\x00aK\x01u.x",
        b"}(X\x01\x00\x00\x00aK\x01u",
        b"}(X\x01\x00\x00\x00aK\x01.",
        // Odd SETITEMS, a value before the dict, two dicts, PUT at a skipped index.
        b"}(X\x01\x00\x00\x00au.",
        b"K\x01}(u.",
        b"}}.",
        b"}q\x05(X\x01\x00\x00\x00aK\x01u.",
        // PUT with nothing above the mark, a re-PUT of an existing key.
        b"}(q\x00X\x01\x00\x00\x00aK\x01u.",
        b"}q\x00q\x00(X\x01\x00\x00\x00aK\x01u.",
        // Bad UTF-8, a non-ASCII py2 string, a huge declared length, protocol 6, a bad FRAME.
        b"}(X\x01\x00\x00\x00\xffK\x01u.",
        b"}(U\x01\xe9K\x01u.",
        b"}(X\xff\xff\xff\xffaK\x01u.",
        b"\x80\x06}.",
        b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00}.",
        // Text INT/LONG: bools, big, malformed.
        b"}(X\x01\x00\x00\x00aI01\nX\x01\x00\x00\x00bL123L\nu.",
        b"}(X\x01\x00\x00\x00aI99999999999999999999999\nu.",
        b"}(X\x01\x00\x00\x00aL12x\nu.",
        // LONG1 of 9 bytes, of 0 bytes.
        b"}(X\x01\x00\x00\x00a\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01X\x01\x00\x00\x00b\x8a\x00u.",
        // Empty input, STOP only, a non-dict top level.
        b"",
        b".",
        b"K\x01.",
    ];
    let mut fast = PickleDecoder::default();
    let mut general = PickleDecoder::default();
    for c in cases {
        assert_same(&mut fast, &mut general, c);
    }
}

/// Wide records (more keys than the fast path holds, and a duplicate among many keys).
#[test]
fn wide_records_and_late_duplicates_agree() {
    let mut fast = PickleDecoder::default();
    let mut general = PickleDecoder::default();
    for n in [10usize, 40, 63, 64, 65, 200] {
        for dup_at in [None, Some(0), Some(n / 2), Some(n - 1)] {
            let mut p = b"}q\x00(".to_vec();
            for i in 0..n {
                let key = match dup_at {
                    Some(d) if i == n - 1 && d != n - 1 => format!("key{d}"),
                    _ => format!("key{i}"),
                };
                p.push(b'X');
                p.extend_from_slice(&(key.len() as u32).to_le_bytes());
                p.extend_from_slice(key.as_bytes());
                p.extend_from_slice(b"K\x07");
            }
            p.extend_from_slice(b"u.");
            assert_same(&mut fast, &mut general, &p);
        }
    }
}

/// A dict built with `SETITEM`s of 20 000 keys that all look alike to the fast path's
/// duplicate filter (same length and the same first, second, middle and last byte) reads as
/// the general parser reads it. (Quadratic work on it would only make this test slow; the
/// item cap that prevents it is pinned by `setitem_dicts_are_capped_at_max_items` in
/// `flat.rs` and by the CPU budget of `crates/cli/tests/it/hostile_frames.rs`.)
#[test]
fn wide_setitem_dicts_of_colliding_keys_agree() {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut p = b"}".to_vec();
    for i in 0..20_000usize {
        let d = |n: usize| DIGITS[(i / 36usize.pow(n as u32)) % 36];
        // Length 9: bytes 0, 1, 4 (the middle) and 8 are fixed.
        let key = [b'a', b'b', d(0), d(1), b'M', d(2), d(3), b'z', b'Z'];
        p.push(b'X');
        p.extend_from_slice(&9u32.to_le_bytes());
        p.extend_from_slice(&key);
        p.extend_from_slice(b"Ns");
    }
    p.push(b'.');
    let mut fast = PickleDecoder::default();
    let mut general = PickleDecoder::default();
    assert_same(&mut fast, &mut general, &p);
    assert_eq!(visited(&mut fast, &p).unwrap().len(), 20_000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Flipped, inserted and deleted bytes in a protocol-1 record: the two paths never
    /// disagree (and neither panics).
    #[test]
    fn mutated_records_agree(edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..4)) {
        let mut p = ORIGINAL.to_vec();
        for (at, byte, kind) in edits {
            let i = usize::from(at) % (p.len() + 1);
            match kind {
                0 if i < p.len() => p[i] = byte,
                1 => p.insert(i, byte),
                _ if i < p.len() => { p.remove(i); }
                _ => p.push(byte),
            }
        }
        let mut general = PickleDecoder::default();
        let b = format!("{:?}", general.decode_record_dict(&p));
        // A cold decoder, and one whose shape cache holds the unmutated record's keys.
        let mut cold = PickleDecoder::default();
        prop_assert_eq!(format!("{:?}", visited(&mut cold, &p)), b.clone());
        let mut warm = PickleDecoder::default();
        prop_assert!(visited(&mut warm, ORIGINAL).is_ok());
        prop_assert_eq!(format!("{:?}", visited(&mut warm, &p)), b);
    }

    /// Streams of records through one decoder (its shape cache carried from record to
    /// record): keys drawn from a small pool, so orders repeat, change, grow, shrink and
    /// sometimes repeat a key; values of every flat kind, strs memoized or not, some values
    /// memo GETs of earlier strs (keys included). Each stream has one encoding (protocol 1's
    /// `X` + `q`, protocol 4's `0x8c` + MEMOIZE, or `X` + LONG_BINPUT), builds its dicts with
    /// SETITEMS or one SETITEM per pair, and runs under one of a few limits, default or tight.
    /// Every record reads as the general parser reads it.
    #[test]
    fn record_streams_agree(
        stream in proptest::collection::vec(
            proptest::collection::vec((0usize..12, 0u8..8, any::<bool>()), 0..14), 1..10),
        style in 0u8..3,
        setitem in any::<bool>(),
        limits in 0usize..common::STREAM_LIMITS.len(),
    ) {
        let limits = common::STREAM_LIMITS[limits]();
        let mut fast = PickleDecoder::new(limits.clone());
        let mut general = PickleDecoder::new(limits);
        for pairs in stream {
            let p = stream_record(&pairs, style, setitem);
            let a = format!("{:?}", visited(&mut fast, &p));
            let b = format!("{:?}", general.decode_record_dict(&p));
            prop_assert_eq!(a, b);
        }
    }
}

/// One record of `record_streams_agree`: `(key, value kind, memoize the key)` per pair.
fn stream_record(pairs: &[(usize, u8, bool)], style: u8, setitem: bool) -> Vec<u8> {
    const KEYS: [&str; 12] = [
        "name",
        "msg",
        "args",
        "levelno",
        "thread",
        "created",
        "x",
        "é",
        "request_id",
        "a",
        "ab",
        "ba",
    ];
    // Memo entries so far (the dict's own is 0).
    let mut memo = 0u32;
    let put = |p: &mut Vec<u8>, memo: &mut u32| {
        match style {
            0 => p.extend_from_slice(&[b'q', *memo as u8]),
            1 => p.push(0x94),
            _ => {
                p.push(b'r');
                p.extend_from_slice(&memo.to_le_bytes());
            }
        }
        *memo += 1;
    };
    let text = |p: &mut Vec<u8>, s: &[u8]| {
        if style == 1 {
            p.extend_from_slice(&[0x8c, s.len() as u8]);
        } else {
            p.push(b'X');
            p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        p.extend_from_slice(s);
    };
    let mut p = if style == 1 {
        b"\x80\x04}".to_vec()
    } else {
        b"}".to_vec()
    };
    put(&mut p, &mut memo);
    if !setitem {
        p.push(b'(');
    }
    for &(k, kind, memoize) in pairs {
        text(&mut p, KEYS[k].as_bytes());
        if memoize {
            put(&mut p, &mut memo);
        }
        match kind {
            0 => p.push(b'N'),
            1 => p.extend_from_slice(b"K\x07"),
            2 => p.extend_from_slice(b"G\x40\x09\x21\xfb\x54\x44\x2d\x18"),
            3 => p.extend_from_slice(b"L140191478160256L\n"),
            // A memo GET of the last memoized str (or of the dict: a cycle).
            4 if style == 2 => {
                p.push(b'j');
                p.extend_from_slice(&(memo - 1).to_le_bytes());
            }
            4 => p.extend_from_slice(&[b'h', (memo - 1) as u8]),
            // Protocol 1's bools, and a text INT the general decimal parser reads.
            6 => p.extend_from_slice(b"I01\n"),
            7 => p.extend_from_slice(b"I-5\n"),
            _ => {
                text(&mut p, "vé".as_bytes());
                put(&mut p, &mut memo);
            }
        }
        if setitem {
            p.push(b's');
        }
    }
    if !setitem {
        p.push(b'u');
    }
    p.push(b'.');
    p
}

/// Inputs on which earlier versions of the fast path's guards, each loosened in turn,
/// accepted what the general parser rejects (found by mutating the guards). Each runs after
/// a warm-up record that fills the shape cache, as in a receiver.
#[test]
fn guards_of_the_fast_path_agree_on_a_warm_decoder() {
    struct Case {
        limits: DecodeLimits,
        warm_up: &'static [u8],
        input: &'static [u8],
    }
    let cases = [
        // A GET of a cached key's str counts its bytes again against the expanded-bytes
        // budget: 5 (the key) + 5 (the GET) > 9.
        Case {
            limits: DecodeLimits {
                max_expanded_bytes: 9,
                ..DecodeLimits::default()
            },
            warm_up: b"}q\x00(X\x05\x00\x00\x00abcdeq\x01K\x01u.",
            input: b"}q\x00(X\x05\x00\x00\x00abcdeq\x01h\x01u.",
        },
        // No memo at all: the dict's own PUT is already over the limit.
        Case {
            limits: DecodeLimits {
                max_memo: 0,
                ..DecodeLimits::default()
            },
            warm_up: b"}(X\x01\x00\x00\x00aK\x01u.",
            input: b"}q\x00(X\x01\x00\x00\x00aK\x01u.",
        },
        // A cached key pushed before the dict exists: SETITEM then finds no dict below it.
        Case {
            limits: DecodeLimits::default(),
            warm_up: b"}X\x01\x00\x00\x00aq\x00K\x01s.",
            input: b"X\x01\x00\x00\x00aq\x00}K\x01s.",
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut fast = PickleDecoder::new(c.limits.clone());
        let mut general = PickleDecoder::new(c.limits.clone());
        assert!(visited(&mut fast, c.warm_up).is_ok(), "case {i}: warm-up");
        assert!(
            general.decode_record_dict(c.input).is_err(),
            "case {i}: meant to be refused"
        );
        assert_same(&mut fast, &mut general, c.input);
    }
}

/// The protocol-1 record `mutated_records_agree` mutates.
const ORIGINAL: &[u8] = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x03\x00\x00\x00appq\x02X\x03\x00\x00\x00msgq\x03h\x02X\x07\x00\x00\x00levelnoq\x04K\x14X\x07\x00\x00\x00createdq\x05G\x41\xd9\x00\x00\x00\x00\x00\x00X\x06\x00\x00\x00threadq\x06L140463260420992L\nX\x01\x00\x00\x00tq\x07\x88X\x01\x00\x00\x00nq\x08Nu.";
