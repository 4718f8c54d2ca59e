//! The pickle parser and the receiver's record mapping on top of it.

use logwire_engine::{Args, LogRecord, Value};
use logwire_pickle::{DecodeError, DecodeLimits, PickleDecoder, PickleValue, RecordTemplate};
use logwire_record::{Format, MapError, MapLimits, RecordMapper};

/// Budgets small enough that a fuzzer hits every one of them with short inputs.
fn tight_limits() -> DecodeLimits {
    DecodeLimits {
        max_input_len: 1 << 20,
        max_depth: 24,
        max_nodes: 4_000,
        max_memo: 512,
        max_str_len: 16 << 10,
        max_expanded_bytes: 128 << 10,
        max_long_digits: 300,
    }
}

/// What a decoded value holds, measured against the limits.
#[derive(Default)]
struct Measure {
    nodes: usize,
    depth: usize,
    text_bytes: usize,
}

/// Walks `v` (iteratively: the depth under test may be the very thing that is broken).
fn measure(v: &PickleValue, limits: &DecodeLimits) -> Measure {
    let mut m = Measure::default();
    let mut stack: Vec<(&PickleValue, usize)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        m.nodes += 1;
        match v {
            PickleValue::Str(s) => {
                assert!(s.len() <= limits.max_str_len, "str of {} bytes", s.len());
                m.text_bytes += s.len();
            }
            PickleValue::Bytes(b) | PickleValue::ByteArray(b) => {
                assert!(b.len() <= limits.max_str_len, "bytes of {} bytes", b.len());
                m.text_bytes += b.len();
            }
            PickleValue::BigInt(s) => {
                let digits = s.trim_start_matches('-').len();
                assert!(digits <= limits.max_long_digits, "int of {digits} digits");
                assert!(
                    !s.starts_with("-0") && (s == "0" || !s.starts_with('0')),
                    "non-canonical int {s}"
                );
                m.text_bytes += s.len();
            }
            PickleValue::List(items)
            | PickleValue::Tuple(items)
            | PickleValue::Set(items)
            | PickleValue::FrozenSet(items) => {
                m.depth = m.depth.max(depth);
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            PickleValue::Dict(pairs) => {
                m.depth = m.depth.max(depth);
                stack.extend(
                    pairs
                        .iter()
                        .flat_map(|(k, v)| [(k, depth + 1), (v, depth + 1)]),
                );
            }
            // Texts computed from bounded state (a timezone name is a bounded str).
            PickleValue::Known { str, repr, .. } => m.text_bytes += str.len() + repr.len(),
            PickleValue::None
            | PickleValue::Bool(_)
            | PickleValue::Int(_)
            | PickleValue::Float(_)
            | PickleValue::Opaque { .. } => {}
        }
    }
    m
}

fn check_budgets(v: &PickleValue, limits: &DecodeLimits, input: &[u8]) {
    let m = measure(v, limits);
    assert!(
        m.nodes <= limits.max_nodes,
        "{} nodes > max_nodes {}",
        m.nodes,
        limits.max_nodes
    );
    assert!(
        m.depth <= limits.max_depth,
        "depth {} > max_depth {}",
        m.depth,
        limits.max_depth
    );
    assert!(
        m.text_bytes <= limits.max_expanded_bytes,
        "{} text bytes > max_expanded_bytes {}",
        m.text_bytes,
        limits.max_expanded_bytes
    );
    // Display is what reaches logs and errors: bounded by what was decoded (a float can
    // print 300-odd digits, an escaped char 10 bytes).
    let shown = v.to_string();
    let bound = 12 * m.text_bytes + 400 * m.nodes + 64 + 4 * input.len();
    assert!(
        shown.len() <= bound,
        "Display of {} bytes > {bound}",
        shown.len()
    );
}

/// Debug text, which (unlike `==`) treats two NaNs as the same decode.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// The pickle parser ([`logwire_pickle::decode`] and [`PickleDecoder`]).
///
/// Decoded values must respect every [`DecodeLimits`] budget (nodes after memo expansion,
/// depth, string length, total text, integer digits); errors must point inside the input; a
/// reused decoder (as receivers keep one per connection) must give exactly what a fresh one
/// gives, before and after decoding something else; record-dict decoding must yield distinct
/// str keys.
pub fn pickle_decoder(data: &[u8]) {
    let limits = tight_limits();
    let fresh = logwire_pickle::decode(data, &limits);
    match &fresh {
        Ok(v) => check_budgets(v, &limits, data),
        Err(e) => assert!(
            e.offset <= data.len(),
            "error offset {} past the input",
            e.offset
        ),
    }

    let mut reused = PickleDecoder::new(limits.clone());
    // Leave state behind (a memo, a partial stack) before the real decode.
    let _ = reused.decode(b"(]q\x00h\x00h\x00");
    let again = reused.decode(data);
    assert!(same(&fresh, &again), "a reused decoder decoded differently");

    match reused.decode_record_dict(data) {
        Ok(fields) => {
            let as_value = PickleValue::Dict(
                fields
                    .iter()
                    .map(|(k, v)| (PickleValue::Str(k.clone()), v.clone()))
                    .collect(),
            );
            check_budgets(&as_value, &limits, data);
            let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), n, "record dict with repeated keys");
            // The same bytes decoded as a value are that dict.
            let Ok(PickleValue::Dict(pairs)) = &fresh else {
                panic!("record dict accepted but the value decode gave {fresh:?}");
            };
            assert_eq!(pairs.len(), fields.len());
        }
        Err(e) => assert!(e.offset <= data.len()),
    }
    fast_path_agrees(data, &limits);
    template_path_agrees(data, &limits);
}

/// What `decode_record_with` hands out, as owned pairs (the fast path's result).
fn visited(d: &mut PickleDecoder, input: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let mut out = Vec::new();
    d.decode_record_with(input, |k, v| {
        out.push((k.to_owned(), format!("{:?}", PickleValue::from(v))));
        Ok::<_, DecodeError>(())
    })?;
    Ok(out)
}

/// The general parser's record, in [`visited`]'s form.
fn general(limits: &DecodeLimits, input: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    PickleDecoder::new(limits.clone())
        .decode_record_dict(input)
        .map(|f| f.into_iter().map(|(k, v)| (k, format!("{v:?}"))).collect())
}

/// The record fast path (borrowed strs, a key cache carried from record to record) accepts,
/// rejects and reads exactly as the general parser: cold; after a CPython record filled its
/// key cache; after the same bytes; and for the input's second half after its first half (so
/// the fuzzer shapes both the cached keys and the record read against them).
fn fast_path_agrees(data: &[u8], limits: &DecodeLimits) {
    let want = general(limits, data);
    let mut d = PickleDecoder::new(limits.clone());
    assert_eq!(visited(&mut d, data), want, "cold fast path differs");
    assert_eq!(visited(&mut d, data), want, "fast path differs on a repeat");
    let mut warm = PickleDecoder::new(limits.clone());
    let _ = visited(&mut warm, CPYTHON_RECORD);
    assert_eq!(visited(&mut warm, data), want, "warm fast path differs");
    let (a, b) = data.split_at(data.len() / 2);
    let mut split = PickleDecoder::new(limits.clone());
    let _ = visited(&mut split, a);
    assert_eq!(
        visited(&mut split, b),
        general(limits, b),
        "fast path differs after another record"
    );
}

/// What `decode_record_tagged` hands out (tagged by key length), as owned pairs, and whether
/// the record was read through the template. `skip_all` skips every learned value.
fn tagged(
    d: &mut PickleDecoder,
    t: &mut RecordTemplate<usize>,
    input: &[u8],
    skip_all: bool,
) -> Result<(bool, Vec<(String, String)>), DecodeError> {
    let mut out = Vec::new();
    let hit = d.decode_record_tagged(
        input,
        t,
        str::len,
        |_| skip_all,
        |tag, k, v| {
            assert_eq!(tag, k.len(), "tag of {k:?}");
            out.push((k.to_owned(), format!("{:?}", PickleValue::from(v))));
            Ok::<_, DecodeError>(())
        },
    )?;
    Ok((hit, out))
}

/// Where `CPYTHON_RECORD`'s message (`"hi"`, then its `PUT`) sits.
fn message_at() -> usize {
    CPYTHON_RECORD
        .windows(4)
        .position(|w| w == b"hiq\x04")
        .expect("the message of CPYTHON_RECORD")
}

/// The record template path ([`PickleDecoder::decode_record_tagged`]) reads exactly as the
/// general parser, on the input and on CPython records it changes (its bytes as the message,
/// spliced in, or XORed over the record: records a warm template nearly matches); each on a
/// template warmed by two CPython records. Then on the input after itself, and the input's
/// second half after its first half (which the template may have learned).
fn template_path_agrees(data: &[u8], limits: &DecodeLimits) {
    let msg = message_at() - 5;
    let as_message = [
        &CPYTHON_RECORD[..msg],
        b"X",
        &(data.len() as u32).to_le_bytes(),
        data,
        &CPYTHON_RECORD[msg + 7..],
    ]
    .concat();
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let at = usize::from(*first) % (CPYTHON_RECORD.len() + 1);
    let spliced = [&CPYTHON_RECORD[..at], rest, &CPYTHON_RECORD[at..]].concat();
    let mut xored = CPYTHON_RECORD.to_vec();
    for (i, b) in rest.iter().enumerate() {
        let n = xored.len();
        xored[(at + i) % n] ^= b;
    }
    for input in [data, &as_message, &spliced, &xored] {
        warm_template_agrees(input, limits);
    }

    let want = general(limits, data);
    let mut d = PickleDecoder::new(limits.clone());
    let mut t = RecordTemplate::default();
    for _ in 0..2 {
        let got = tagged(&mut d, &mut t, data, false).map(|r| r.1);
        assert_eq!(got, want, "template path differs on a repeat");
    }
    let (a, b) = data.split_at(data.len() / 2);
    let mut d = PickleDecoder::new(limits.clone());
    let mut t = RecordTemplate::default();
    let _ = tagged(&mut d, &mut t, a, false);
    assert_eq!(
        tagged(&mut d, &mut t, b, false).map(|r| r.1),
        general(limits, b),
        "template path differs after another record"
    );
}

/// `input` on a template learned from `CPYTHON_RECORD` and warmed by a copy with another
/// message (so the message is read on every record), with every learned value visited and
/// with every learned value skipped (the pairs handed over, put in the learned record, must
/// give the general parser's); then `CPYTHON_RECORD` again (the template's state after it).
fn warm_template_agrees(input: &[u8], limits: &DecodeLimits) {
    let want = general(limits, input);
    let mut second = CPYTHON_RECORD.to_vec();
    second[message_at() + 1] = b'o';
    let learned = general(limits, CPYTHON_RECORD).expect("CPYTHON_RECORD is within the limits");
    for skip_all in [false, true] {
        let mut d = PickleDecoder::new(limits.clone());
        let mut t = RecordTemplate::default();
        assert_eq!(
            tagged(&mut d, &mut t, CPYTHON_RECORD, skip_all).map(|r| r.0),
            Ok(false)
        );
        let generation = t.generation();
        assert_ne!(generation, 0, "CPYTHON_RECORD was not learned");
        let warm = tagged(&mut d, &mut t, &second, false);
        assert_eq!(
            warm.map(|r| r.1),
            general(limits, &second),
            "warm-up record differs"
        );
        let got = match tagged(&mut d, &mut t, input, skip_all) {
            Ok((true, handed)) if skip_all => {
                assert_eq!(t.generation(), generation);
                // The learned record, with the pairs handed over in place (in its order).
                let mut record = learned.clone();
                let mut next = 0;
                for (k, v) in handed {
                    let i = next
                        + record[next..]
                            .iter()
                            .position(|(key, _)| *key == k)
                            .expect("a handed key is the next ones of the learned record");
                    record[i].1 = v;
                    next = i + 1;
                }
                Ok(record)
            }
            got => got.map(|(_, pairs)| pairs),
        };
        assert_eq!(got, want, "template path differs (skip_all {skip_all})");
        assert_eq!(
            tagged(&mut d, &mut t, CPYTHON_RECORD, false).map(|r| r.1),
            Ok(learned.clone()),
            "template path differs after the input"
        );
    }
}

/// `SocketHandler.makePickle`'s bytes for a short record (CPython 3.11, protocol 1).
const CPYTHON_RECORD: &[u8] = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x03\x00\x00\x00appq\x02X\x03\x00\x00\x00msgq\x03X\x02\x00\x00\x00hiq\x04X\x04\x00\x00\x00argsq\x05NX\x07\x00\x00\x00levelnoq\x06K\x14X\x07\x00\x00\x00createdq\x07G\x41\xda\xbf\x1c\x7f\x1a\xe1\x48X\x06\x00\x00\x00threadq\x08L140191478160256L\nu.";

fn value_text_len(v: &Value) -> usize {
    match v {
        Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
        Value::BigInt(s) | Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().map(value_text_len).sum::<usize>() + 8
        }
        Value::Object(o) => o.str.len() + o.repr.len(),
        Value::Dict(pairs) => {
            pairs
                .iter()
                .map(|(k, v)| value_text_len(k) + value_text_len(v))
                .sum::<usize>()
                + 8
        }
    }
}

fn record_text_len(r: &LogRecord) -> usize {
    let args = match &r.args {
        Args::None => 0,
        Args::Tuple(items) => items.iter().map(value_text_len).sum(),
        Args::Mapping(pairs) => pairs.iter().map(|(k, v)| k.len() + value_text_len(v)).sum(),
    };
    let optional = [
        &r.exc_text,
        &r.stack_info,
        &r.func_name,
        &r.thread_name,
        &r.process_name,
        &r.task_name,
    ];
    let extra: usize = r
        .extra
        .iter()
        .map(|(k, v)| k.len() + value_text_len(v))
        .sum();
    [
        &r.name,
        &r.msg,
        &r.levelname,
        &r.pathname,
        &r.filename,
        &r.module,
    ]
    .iter()
    .map(|s| s.len())
    .sum::<usize>()
        + optional
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>()
        + extra
        + args
}

/// Key comparisons a mapping may make per payload byte (see
/// [`RecordMapper::key_comparisons`]): JSON's last-wins check compares a key with at most 15
/// earlier ones before it uses a hash index, and a key takes 3 bytes at least.
const COMPARISONS_PER_BYTE: usize = 17;

/// The receiver's payload-to-record mapping ([`RecordMapper::map`]): JSON when the
/// payload starts with `{`, otherwise a pickled dict, both with the receiver's default limits.
///
/// Budgets per input byte (issue 13): the key comparisons the mapping made are linear in the
/// payload (comparing every key with every earlier one cost seconds for 50 000 keys); a
/// mapped record holds no more than its payload's budget ([`MapLimits::record_budget`]: memo
/// references repeat strings for two bytes each) plus fixed defaults. Nothing is formatted
/// with remote `args`; `get_message` is the message as sent; errors are classified.
pub fn record_map(data: &[u8]) {
    let limits = MapLimits::default();
    let mut mapper = RecordMapper::new(limits.clone());
    let mapped = mapper.map_reusable(data, Format::Sniff);
    let compared = mapper.key_comparisons();
    assert!(
        compared <= COMPARISONS_PER_BYTE * data.len() + 32,
        "{compared} key comparisons for {} input bytes",
        data.len()
    );
    match mapped.map(|r| (r.cost_bytes(), r.into_record())) {
        Ok((cost, record)) => {
            // Text can only come from the payload, within its budget, plus fixed defaults
            // ("root", the receiver's process name …).
            let text = record_text_len(&record);
            let bound = limits.record_budget(data.len()) + 4096;
            assert!(
                text <= bound,
                "record holds {text} bytes from {} input bytes",
                data.len()
            );
            assert!(
                cost <= limits.record_budget(data.len()) + 1024,
                "record costs {cost} bytes from {} input bytes",
                data.len()
            );
            assert!(
                matches!(record.args, Args::None),
                "remote args kept as args: {:?}",
                record.args
            );
            assert_eq!(
                record.get_message(),
                record.msg,
                "a remote msg was formatted again"
            );
        }
        Err(MapError::Empty) => assert!(data.is_empty()),
        Err(e) => {
            assert!(!e.reason_code().is_empty());
            let _ = e.to_string();
        }
    }
}
