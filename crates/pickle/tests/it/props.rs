//! Property tests: the decoder never panics and always respects its budgets; encoding then
//! decoding gives back the same value.

use logwire_pickle::{
    DecodeErrorKind, DecodeLimits, PickleDecoder, PickleValue, decode, encode_protocol1,
    encode_record_protocol1,
};
use proptest::prelude::*;

/// Values the protocol 1 encoder round-trips (no opaque values, no NaN since NaN != NaN).
fn value() -> impl Strategy<Value = PickleValue> {
    let leaf = prop_oneof![
        Just(PickleValue::None),
        any::<bool>().prop_map(PickleValue::Bool),
        any::<i64>().prop_map(PickleValue::Int),
        prop_oneof![
            (i64::MAX as i128 + 1)..=i128::MAX,
            i128::MIN..=(i64::MIN as i128 - 1)
        ]
        .prop_map(|i| PickleValue::BigInt(i.to_string())),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(PickleValue::Float),
        ".{0,12}".prop_map(PickleValue::Str),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(PickleValue::Bytes),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(PickleValue::ByteArray),
    ];
    leaf.prop_recursive(5, 200, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(PickleValue::List),
            proptest::collection::vec(inner.clone(), 0..5).prop_map(PickleValue::Tuple),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(PickleValue::Set),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(PickleValue::FrozenSet),
            proptest::collection::vec((inner.clone(), inner), 0..5).prop_map(PickleValue::Dict),
        ]
    })
}

/// Counts values and depth the way the decoder's budgets do (bounded recursion: test values
/// are shallow by construction or by the decoder's depth limit).
fn measure(v: &PickleValue, depth: usize, max_depth: &mut usize) -> usize {
    let children: Vec<&PickleValue> = match v {
        PickleValue::List(x)
        | PickleValue::Tuple(x)
        | PickleValue::Set(x)
        | PickleValue::FrozenSet(x) => x.iter().collect(),
        PickleValue::Dict(p) => p.iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return 1,
    };
    *max_depth = (*max_depth).max(depth);
    1 + children
        .into_iter()
        .map(|c| measure(c, depth + 1, max_depth))
        .sum::<usize>()
}

/// Interprets random choices as a pickle program that tracks the stack's value kinds, so most
/// programs are well-formed and reach the budgets: memo sharing, mutation after PUT, cycles,
/// exponential sharing (bombs) and opaque objects.
fn program(choices: &[u8]) -> Vec<u8> {
    // Kinds: b'L' list, b'D' dict, b'T' tuple, b'O' opaque, b'S' scalar/str.
    let mut out = b"\x80\x02]q\x00q\x01".to_vec();
    let mut memo = [b'L', b'L'];
    let mut frames: Vec<Vec<u8>> = vec![vec![b'L']];
    for &c in choices {
        let depth = frames.len();
        let f = frames.last_mut().expect("base frame");
        let n = f.len();
        let below = if n >= 2 { f[n - 2] } else { 0 };
        let below3 = if n >= 3 { f[n - 3] } else { 0 };
        match c % 20 {
            0 => {
                out.push(b'N');
                f.push(b'S');
            }
            1 => {
                out.extend_from_slice(b"X\x01\x00\x00\x00a");
                f.push(b'S');
            }
            2 => {
                out.push(b']');
                f.push(b'L');
            }
            3 => {
                out.push(b'}');
                f.push(b'D');
            }
            4 | 5 => {
                let k = usize::from(c % 2);
                out.extend_from_slice(&[b'h', k as u8]);
                f.push(memo[k]);
            }
            6 if depth < 6 => {
                out.push(b'(');
                frames.push(Vec::new());
            }
            7 | 8 if n >= 1 => {
                let k = usize::from(c % 2);
                out.extend_from_slice(&[b'q', k as u8]);
                memo[k] = f[n - 1];
            }
            9 if n >= 1 => {
                out.push(b'2');
                f.push(f[n - 1]);
            }
            10 | 11 if n >= 2 && below == b'L' => {
                out.push(b'a');
                f.pop();
            }
            12 if n >= 3 && below3 == b'D' => {
                out.push(b's');
                f.truncate(n - 2);
            }
            13 if n >= 1 => {
                out.push(0x85);
                f.pop();
                f.push(b'T');
            }
            14 if n >= 2 => {
                out.push(0x86);
                f.truncate(n - 2);
                f.push(b'T');
            }
            15 | 16 if depth > 1 => {
                let items = frames.pop().expect("frame");
                let top = frames.last_mut().expect("base frame");
                let m = top.len();
                if c % 2 == 0 && m >= 1 && top[m - 1] == b'L' {
                    out.push(b'e');
                } else {
                    let (op, kind) = if items.len().is_multiple_of(2) && c % 3 == 0 {
                        (b'd', b'D')
                    } else {
                        (b't', b'T')
                    };
                    out.push(op);
                    top.push(kind);
                }
            }
            17 if n >= 1 => {
                out.push(b'0');
                f.pop();
            }
            18 => {
                out.extend_from_slice(b"cdatetime\ndatetime\n");
                f.push(b'O');
            }
            19 if n >= 2 && below == b'O' && f[n - 1] == b'T' => {
                out.push(b'R');
                f.truncate(n - 2);
                f.push(b'O');
            }
            _ => {
                out.extend_from_slice(b"K\x07");
                f.push(b'S');
            }
        }
    }
    // Close open marks into lists, then fold the stack into one tuple.
    while frames.len() > 1 {
        out.push(b'l');
        frames.pop();
        frames.last_mut().expect("base frame").push(b'L');
    }
    let mut h = frames[0].len();
    if h == 0 {
        out.push(b'N');
        h = 1;
    }
    while h > 1 {
        out.push(0x86);
        h -= 1;
    }
    out.push(b'.');
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(v in value()) {
        let bytes = encode_protocol1(&v).unwrap();
        let back = decode(&bytes, &DecodeLimits::default()).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn record_round_trip(fields in proptest::collection::vec(("[a-z_]{1,8}", value()), 0..6)) {
        let mut fields = fields;
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|a, b| a.0 == b.0);
        let bytes = encode_record_protocol1(&fields).unwrap();
        let back = logwire_pickle::decode_record_dict(&bytes, &DecodeLimits::default()).unwrap();
        prop_assert_eq!(back, fields);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes, &DecodeLimits::default());
        let _ = logwire_pickle::decode_record_dict(&bytes, &DecodeLimits::default());
    }

    #[test]
    fn generated_programs_respect_budgets(choices in proptest::collection::vec(any::<u8>(), 0..120)) {
        let input = program(&choices);
        let limits = DecodeLimits { max_nodes: 200, max_depth: 7, ..DecodeLimits::default() };
        let mut decoder = PickleDecoder::new(limits.clone());
        match decoder.decode(&input) {
            Ok(v) => {
                let mut depth = 0;
                let nodes = measure(&v, 1, &mut depth);
                prop_assert!(nodes <= limits.max_nodes, "{} nodes", nodes);
                prop_assert!(depth <= limits.max_depth, "depth {}", depth);
            }
            // Programs are well-formed, so only budget and cycle errors are expected.
            Err(e) => prop_assert!(
                matches!(e.kind, DecodeErrorKind::NodeLimit { .. }
                    | DecodeErrorKind::DepthLimit { .. }
                    | DecodeErrorKind::Cycle),
                "{}", e
            ),
        }
    }
}
