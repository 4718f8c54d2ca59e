//! Hostile pickles: every one is rejected (or decoded inertly) quickly, without panicking,
//! overflowing the stack or allocating in proportion to a declared size.

use std::time::{Duration, Instant};

use logwire_pickle::{
    DecodeError, DecodeErrorKind as K, DecodeLimits, HARD_MAX_DEPTH, PickleDecoder, PickleValue,
    decode, decode_record_dict, encode_record_protocol1,
};

fn kind(input: &[u8]) -> K {
    decode(input, &DecodeLimits::default())
        .expect_err("must be rejected")
        .kind
}

fn timed<T>(f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    // Generous for debug builds on a shared machine; the point is "not exponential".
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    r
}

#[test]
fn memo_bomb_is_stopped_by_the_node_count() {
    // ] then (BINGET BINGET TUPLE2 BINPUT POP) x 40: 2^40 nodes after expansion, 250 bytes.
    let mut p = b"\x80\x02]q\x000".to_vec();
    for _ in 0..40 {
        p.extend_from_slice(b"h\x00h\x00\x86q\x000");
    }
    p.extend_from_slice(b"h\x00.");
    assert!(matches!(
        timed(|| kind(&p)),
        K::NodeLimit { limit: 100_000 }
    ));

    // The DUP variant that aborts serde-pickle: ] (DUP TUPLE2) x 40.
    let mut p = b"\x80\x02]".to_vec();
    for _ in 0..40 {
        p.extend_from_slice(b"2\x86");
    }
    p.push(b'.');
    assert!(matches!(timed(|| kind(&p)), K::NodeLimit { .. }));
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    // 200 000 nested lists, as in the serde-pickle report.
    let mut p = b"\x80\x02".to_vec();
    p.extend(std::iter::repeat_n(b']', 200_000));
    p.extend(std::iter::repeat_n(b'a', 199_999));
    p.push(b'.');
    assert!(matches!(timed(|| kind(&p)), K::NodeLimit { .. }));

    // Same depth with a node budget large enough to reach the depth check.
    let big = DecodeLimits {
        max_nodes: 10_000_000,
        ..DecodeLimits::default()
    };
    let e = timed(|| decode(&p, &big)).unwrap_err();
    assert!(matches!(e.kind, K::DepthLimit { limit: 64 }), "{e}");

    // 200 000 open MARKs.
    let mut p = vec![b'('; 200_000];
    p.push(b'.');
    assert!(matches!(kind(&p), K::DepthLimit { limit: 64 }));

    // Depth built through the memo from a small input: 100 000 levels, 6 bytes each.
    let mut p = b"]q\x000".to_vec();
    for _ in 0..100_000 {
        p.extend_from_slice(b"]h\x00aq\x000");
    }
    p.extend_from_slice(b"h\x00.");
    let e = timed(|| decode(&p, &big)).unwrap_err();
    assert!(matches!(e.kind, K::DepthLimit { limit: 64 }), "{e}");

    // A caller asking for unlimited depth is clamped, so values stay droppable.
    let unlimited = DecodeLimits {
        max_depth: usize::MAX,
        max_nodes: 10_000_000,
        ..DecodeLimits::default()
    };
    let e = timed(|| decode(&p, &unlimited)).unwrap_err();
    assert_eq!(
        e.kind,
        K::DepthLimit {
            limit: HARD_MAX_DEPTH
        }
    );
}

#[test]
fn depth_at_the_limit_is_accepted() {
    let limits = DecodeLimits {
        max_depth: 8,
        ..DecodeLimits::default()
    };
    // 8 nested lists in protocol 1 style (EMPTY_LIST, APPEND).
    let mut p = Vec::new();
    p.extend(std::iter::repeat_n(b']', 8));
    p.extend(std::iter::repeat_n(b'a', 7));
    p.push(b'.');
    assert!(decode(&p, &limits).is_ok());
    let mut p9 = vec![b']'];
    p9.extend_from_slice(&p[..p.len() - 1]);
    p9.extend_from_slice(b"a.");
    assert!(matches!(
        decode(&p9, &limits).unwrap_err().kind,
        K::DepthLimit { limit: 8 }
    ));
}

#[test]
fn million_digit_long_is_rejected_fast() {
    for op in [b'L', b'I'] {
        let mut p = vec![op];
        p.extend(std::iter::repeat_n(b'7', 1_000_000));
        p.extend_from_slice(b"\n.");
        assert!(matches!(timed(|| kind(&p)), K::LongTooLong { limit: 4300 }));
    }
    // LONG4 declaring 1 MB: rejected before reading.
    let mut p = b"\x80\x02\x8b\x00\x00\x10\x00".to_vec();
    p.extend(std::iter::repeat_n(0x11, 1 << 20));
    p.push(b'.');
    assert!(matches!(timed(|| kind(&p)), K::LongTooLong { .. }));
    // 4300 digits are fine.
    let mut p = b"L".to_vec();
    p.extend(std::iter::repeat_n(b'9', 4300));
    p.extend_from_slice(b"L\n.");
    assert!(matches!(
        decode(&p, &DecodeLimits::default()).unwrap(),
        PickleValue::BigInt(s) if s.len() == 4300
    ));
}

#[test]
fn huge_memo_indices_allocate_nothing() {
    let v = decode(
        b"]r\xff\xff\xff\xffj\xff\xff\xff\xff0.",
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(v, PickleValue::List(vec![]));
    let v = decode(b"]p9999999999999\n.", &DecodeLimits::default()).unwrap();
    assert_eq!(v, PickleValue::List(vec![]));
    assert_eq!(kind(b"h\x05."), K::MemoKeyMissing(5));
    assert!(matches!(kind(b"]p-1\n."), K::BadText("PUT")));
    // The memo entry budget.
    let limits = DecodeLimits {
        max_memo: 3,
        ..DecodeLimits::default()
    };
    assert!(decode(b"]q\x00q\x01q\x02q\x00.", &limits).is_ok());
    assert!(matches!(
        decode(b"]q\x00q\x01q\x02r\x00\x00\x01\x00.", &limits)
            .unwrap_err()
            .kind,
        K::MemoLimit { limit: 3 }
    ));
}

#[test]
fn cycles_are_rejected() {
    // A list that appends itself.
    assert_eq!(kind(b"]q\x00h\x00a."), K::Cycle);
    // A dict holding itself under a key, one level down.
    assert_eq!(kind(b"}q\x00X\x01\x00\x00\x00k]h\x00as."), K::Cycle);
    // Sharing without a cycle is fine.
    let v = decode(b"(]q\x00h\x00l.", &DecodeLimits::default()).unwrap();
    assert_eq!(
        v,
        PickleValue::List(vec![PickleValue::List(vec![]), PickleValue::List(vec![])])
    );
}

#[test]
fn truncated_inputs_are_errors() {
    let good = encode_record_protocol1(&[
        ("msg", PickleValue::Str("hello".into())),
        ("n", PickleValue::BigInt("-99999999999999999999".into())),
        ("f", PickleValue::Float(1.0)),
    ])
    .unwrap();
    assert!(decode(&good, &DecodeLimits::default()).is_ok());
    for cut in 0..good.len() {
        let e = decode(&good[..cut], &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(e.kind, K::Truncated | K::MissingStop),
            "cut {cut}: {e}"
        );
    }
    assert_eq!(kind(b"N"), K::MissingStop);
    assert_eq!(kind(b"X\x05\x00\x00\x00abc"), K::Truncated);
    assert_eq!(kind(b"Ihello"), K::Truncated);
}

#[test]
fn trailing_bytes_are_rejected() {
    assert_eq!(kind(b"N.\x00"), K::TrailingBytes { count: 1 });
    assert_eq!(kind(b"N.N."), K::TrailingBytes { count: 2 });
}

#[test]
fn declared_sizes_are_checked_before_reading() {
    assert!(matches!(
        kind(b"X\xff\xff\xff\xff"),
        K::StringTooLong {
            len: 0xffff_ffff,
            ..
        }
    ));
    assert!(matches!(
        kind(b"\x8e\xff\xff\xff\xff\xff\xff\xff\xff"),
        K::StringTooLong { .. }
    ));
    assert!(matches!(
        kind(b"\x95\xff\xff\xff\xff\xff\xff\xff\x7fN."),
        K::Truncated
    ));
    let small = DecodeLimits {
        max_input_len: 4,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(b"NNNNN", &small).unwrap_err().kind,
        K::InputTooLarge { len: 5, limit: 4 }
    ));
}

#[test]
fn expanded_bytes_are_bounded() {
    // One 1 MiB string referenced 100 times.
    let mut p = b"(X\x00\x00\x10\x00".to_vec();
    p.extend(std::iter::repeat_n(b'a', 1 << 20));
    p.extend_from_slice(b"q\x00");
    for _ in 0..100 {
        p.extend_from_slice(b"h\x00");
    }
    p.extend_from_slice(b"l.");
    assert!(matches!(timed(|| kind(&p)), K::ExpandedBytesLimit { .. }));
}

#[test]
fn unknown_and_unsupported_opcodes() {
    assert_eq!(kind(b"\xff."), K::UnknownOpcode(0xff));
    assert_eq!(kind(b"\x00"), K::UnknownOpcode(0));
    assert!(matches!(
        kind(b"\x80\x05\x97."),
        K::UnsupportedOpcode {
            opcode: 0x97,
            name: "NEXT_BUFFER"
        }
    ));
    assert_eq!(kind(b"\x80\x06N."), K::UnsupportedProtocol(6));
    assert_eq!(kind(b"a."), K::StackUnderflow);
    assert_eq!(kind(b"e."), K::MarkMissing);
    assert_eq!(kind(b"NN."), K::BadStopStack);
    assert!(matches!(kind(b"}Na."), K::TypeMismatch(_)));
    // py2 STRING with non-ASCII (CPython's default encoding='ASCII' rejects it too).
    assert_eq!(kind(b"U\x02\xc3\xa9."), K::NonAsciiString);
    assert_eq!(kind(b"S'\\xe9'\n."), K::NonAsciiString);
    assert_eq!(kind(b"X\x01\x00\x00\x00\xff."), K::BadUtf8);
}

#[test]
fn objects_are_inert_placeholders() {
    let limits = DecodeLimits::default();
    // GLOBAL + REDUCE + BUILD, NEWOBJ, INST, OBJ, EXT, PERSID: named, never resolved.
    let cases: &[(&[u8], &str)] = &[
        (b"cos\nsystem\n(S'id'\ntR.", "<os.system>"),
        (b"c__builtin__\neval\n(S'1'\ntR}b.", "<builtins.eval>"),
        (b"\x80\x04\x8c\x02os\x8c\x06system\x93)R.", "<os.system>"),
        (b"\x80\x02cfoo\nBar\n)\x81}b.", "<foo.Bar>"),
        (b"(S'x'\nios\nsystem\n.", "<os.system>"),
        (b"(cos\nsystem\nS'x'\no.", "<os.system>"),
        (b"\x80\x02\x82\x01.", "<copyreg.extension[1]>"),
        (b"Pkey\n.", "<persistent_load>"),
    ];
    for (p, want) in cases {
        let v = decode(p, &limits).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert_eq!(v.placeholder().as_deref(), Some(*want), "{p:?}");
    }
    // An object with list/dict items (an OrderedDict or list subclass) swallows them.
    let v = decode(
        b"\x80\x02ccollections\nOrderedDict\n)R(K\x01K\x02u.",
        &limits,
    )
    .unwrap();
    assert_eq!(
        v.placeholder().as_deref(),
        Some("<collections.OrderedDict>")
    );
    // The record API keeps the record with a placeholder.
    let rec =
        b"}(X\x03\x00\x00\x00msgX\x02\x00\x00\x00hiX\x04\x00\x00\x00evilcos\nsystem\n(S'id'\ntRu.";
    let fields = decode_record_dict(rec, &limits).unwrap();
    assert_eq!(fields[0], ("msg".into(), PickleValue::Str("hi".into())));
    assert_eq!(fields[1].1.placeholder().as_deref(), Some("<os.system>"));
}

#[test]
fn record_dict_shape_is_enforced() {
    let limits = DecodeLimits::default();
    let e = decode_record_dict(b"]q\x00.", &limits).unwrap_err();
    assert!(
        matches!(&e.kind, K::NotADict { found } if found == "list"),
        "{e}"
    );
    let e = decode_record_dict(b"}K\x01Ns.", &limits).unwrap_err();
    assert!(matches!(&e.kind, K::NonStrKey { found } if found == "int"));
    let e =
        decode_record_dict(b"}(X\x01\x00\x00\x00aNX\x01\x00\x00\x00aK\x01u.", &limits).unwrap_err();
    assert_eq!(e.kind, K::DuplicateKey("a".into()));
}

#[test]
fn errors_say_where_and_why() {
    let e: DecodeError = decode(b"NN\xfe", &DecodeLimits::default()).unwrap_err();
    assert_eq!(e.offset, 2);
    assert_eq!(
        e.to_string(),
        "pickle rejected at byte 2: unknown opcode 0xfe"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("0xfe"));
}

#[test]
fn lone_surrogates_become_replacement_characters() {
    // CPython writes '\udcff' (from surrogateescape) with surrogatepass.
    let v = decode(
        b"X\x05\x00\x00\x00a\xed\xb3\xbfb.",
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(v, PickleValue::Str("a\u{fffd}b".into()));
    let v = decode(b"Va\\udcffb\n.", &DecodeLimits::default()).unwrap();
    assert_eq!(v, PickleValue::Str("a\u{fffd}b".into()));
}

#[test]
fn decoder_is_reusable_after_errors() {
    let mut d = PickleDecoder::default();
    // A memo entry from one pickle is not visible in the next.
    assert!(d.decode(b"]q\x05.").is_ok());
    assert_eq!(d.decode(b"h\x05.").unwrap_err().kind, K::MemoKeyMissing(5));
    assert!(d.decode(b"]q\x00h\x00a.").is_err());
    assert!(d.decode(b"]q\x00(K\x01").is_err());
    assert_eq!(
        d.decode(b"]q\x00K\x05a.").unwrap(),
        PickleValue::List(vec![PickleValue::Int(5)])
    );
}
