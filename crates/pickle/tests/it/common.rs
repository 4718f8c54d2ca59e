//! Helpers shared by the integration tests: running the real CPython, hex, and a canonical
//! text form of values that both Python and Rust can produce.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use logwire_pickle::{DecodeLimits, FieldValue, PickleValue};

/// The Python side of [`canon`]: `canon(v)` renders a value the same way.
pub(crate) const PY_CANON: &str = r#"
import struct
def canon(v):
    t = type(v)
    if v is None: return 'N'
    if t is bool: return 'B1' if v else 'B0'
    if t is int: return 'I' + str(v)
    if t is float: return 'F%016x' % struct.unpack('<Q', struct.pack('<d', v))[0]
    if t is str: return 'S' + v.encode('utf-8').hex()
    if t is bytes: return 'Y' + v.hex()
    if t is bytearray: return 'A' + v.hex()
    if t is list: return 'L[' + ','.join(map(canon, v)) + ']'
    if t is tuple: return 'T[' + ','.join(map(canon, v)) + ']'
    if t is set: return 'E[' + ','.join(sorted(map(canon, v))) + ']'
    if t is frozenset: return 'Z[' + ','.join(sorted(map(canon, v))) + ']'
    if t is dict: return 'D[' + ','.join(canon(k) + ':' + canon(x) for k, x in v.items()) + ']'
    return 'O' + t.__module__ + '.' + t.__qualname__
"#;

/// Canonical text of a decoded value (sets sorted, floats by bit pattern).
pub(crate) fn canon(v: &PickleValue) -> String {
    fn seq(tag: &str, items: &[PickleValue], sort: bool) -> String {
        let mut parts: Vec<String> = items.iter().map(canon).collect();
        if sort {
            parts.sort();
        }
        format!("{tag}[{}]", parts.join(","))
    }
    match v {
        PickleValue::None => "N".into(),
        PickleValue::Bool(b) => if *b { "B1" } else { "B0" }.into(),
        PickleValue::Int(i) => format!("I{i}"),
        PickleValue::BigInt(s) => format!("I{s}"),
        PickleValue::Float(f) => format!("F{:016x}", f.to_bits()),
        PickleValue::Str(s) => format!("S{}", hex(s.as_bytes())),
        PickleValue::Bytes(b) => format!("Y{}", hex(b)),
        PickleValue::ByteArray(b) => format!("A{}", hex(b)),
        PickleValue::List(v) => seq("L", v, false),
        PickleValue::Tuple(v) => seq("T", v, false),
        PickleValue::Set(v) => seq("E", v, true),
        PickleValue::FrozenSet(v) => seq("Z", v, true),
        PickleValue::Dict(pairs) => format!(
            "D[{}]",
            pairs
                .iter()
                .map(|(k, v)| format!("{}:{}", canon(k), canon(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        // An allow-listed value type is still an object of that class; its texts are
        // compared with CPython's by crates/record/tests/it/extras_stdtypes_cpython.rs.
        PickleValue::Opaque { class } | PickleValue::Known { class, .. } => format!("O{class}"),
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs `python3 -c script` with `stdin`, returning stdout. Panics with stderr on failure.
pub(crate) fn python(script: &str, stdin: &str) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed to run logwire-pickle's CPython tests");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A value a record visitor was handed, owned; the common kinds must never come as `Other`
/// (the visitor API promises their own variants).
pub(crate) fn owned_field(v: FieldValue<'_>) -> PickleValue {
    if let FieldValue::Other(v) = &v {
        assert!(
            !matches!(
                v,
                PickleValue::None
                    | PickleValue::Bool(_)
                    | PickleValue::Int(_)
                    | PickleValue::Float(_)
                    | PickleValue::Str(_)
            ),
            "a common value came as Other: {v:?}"
        );
    }
    PickleValue::from(v)
}

/// The limits the record-stream tests run under: the default, and tight budgets that their
/// generated records cross now and then (a record is 50 to 400 bytes, with 2 to 10 pairs).
pub(crate) const STREAM_LIMITS: [fn() -> DecodeLimits; 18] = [
    DecodeLimits::default,
    || DecodeLimits {
        max_expanded_bytes: 16,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_memo: 0,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_memo: 3,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_memo: 9,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_expanded_bytes: 40,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_expanded_bytes: 90,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_expanded_bytes: 160,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_nodes: 9,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_nodes: 15,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_str_len: 4,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_str_len: 12,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_input_len: 120,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_input_len: 220,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_long_digits: 4,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_depth: 0,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_depth: 1,
        ..DecodeLimits::default()
    },
    || DecodeLimits {
        max_memo: 6,
        max_expanded_bytes: 120,
        max_str_len: 16,
        max_input_len: 300,
        max_nodes: 17,
        ..DecodeLimits::default()
    },
];
