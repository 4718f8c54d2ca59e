//! Differential tests against the real CPython on this machine: pickles made by `pickle.dumps`
//! (protocols 0–5) and by `SocketHandler.makePickle` decode to what Python says they are, and
//! the protocol 1 encoder writes exactly CPython's bytes.

use crate::common;

use common::{PY_CANON, canon, hex, python, unhex};
use logwire_pickle::{
    DecodeLimits, PickleDecoder, PickleValue, decode, decode_record_dict, encode_protocol1,
    encode_record_protocol1, encode_socket_frame,
};

/// Values covering every type the decoder models, with memo sharing and batching.
const PY_VALUES: &str = r#"
import datetime, collections, fractions
class Plain:
    def __init__(self):
        self.x = [1, 2]
shared = [1, 2]
VALUES = [
    None, True, False, 0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
    2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**100, -2**100, 10**4000, -(10**4000),
    0.0, -0.0, 1.5, -2.25e-300, 1e300, float('inf'), float('-inf'), float('nan'),
    '', 'a', 'hé€😀', 'back\\slash\nnew line \u2028 \x00', 'x' * 300,
    b'', b'a', b'\x00\x80\xff', bytes(range(256)), bytearray(b'ab\xff'), bytearray(),
    [], [1], [1, [2, [3, []]]], list(range(2500)), [b'a', b'a', b'', b''],
    (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((),), (shared, shared),
    set(), {1, 2, 'x'}, frozenset(), frozenset({(1, 2), 'y'}),
    {}, {'a': 1}, {'a': {'b': [1, 2.5, None]}, 'c': ()}, {1: 'x', (1, 2): b'y', None: True},
    dict.fromkeys(map(str, range(2100))), {str(i): i for i in range(1000)},
    [shared, shared, {'s': shared}],
    datetime.datetime(2020, 1, 2, 3, 4, 5, 6), [datetime.date(2021, 1, 1), 'after'],
    collections.OrderedDict(a=1), fractions.Fraction(1, 3), Plain(), [Plain(), 'after'],
]
"#;

#[test]
fn decodes_cpython_pickles_of_all_protocols() {
    let script = format!(
        "{PY_CANON}{PY_VALUES}
import pickle
for proto in range(6):
    for v in VALUES:
        print(proto, pickle.dumps(v, proto).hex(), canon(v))
"
    );
    let out = python(&script, "");
    let mut decoder = PickleDecoder::new(DecodeLimits::default());
    let mut n = 0;
    for line in out.lines() {
        let mut parts = line.split(' ');
        let (proto, data, want) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let bytes = unhex(data);
        let got = decoder
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("protocol {proto}: {want}: {e}"));
        assert_eq!(canon(&got), want, "protocol {proto}, pickle {data}");
        n += 1;
    }
    assert!(n > 300, "only {n} cases ran");
}

/// Records as `SocketHandler.makePickle` frames them, with exc_info, stack_info, non-ASCII text
/// and extra fields of every basic type.
const PY_RECORDS: &str = r#"
import logging, logging.handlers, sys, datetime
h = logging.handlers.SocketHandler('localhost', None)
log = logging.getLogger('app.sub')
records = []
records.append(logging.LogRecord('app', logging.INFO, '/srv/app/mod.py', 42,
                                 'hello %s ü€😀', ('wörld',), None, 'func', None))
try:
    1 / 0
except ZeroDivisionError:
    records.append(log.makeRecord('app.sub', logging.ERROR, '/srv/x.py', 7, 'failed: %d', (3,),
                                  sys.exc_info(), 'handler'))
records.append(log.makeRecord('app.sub', logging.WARNING, '/srv/x.py', 8, 'with stack', (),
                              None, 'f', None,
                              'Stack (most recent call last):\n  File "x.py", line 8, in f\n'))
extra = {
    'an_int': 7, 'neg': -70000, 'i32': -2**31, 'big': 2**80, 'huge_neg': -2**64,
    'flt': 3.25, 'nan': float('nan'), 'flag': True, 'off': False, 'nothing': None,
    'text': 'x y ü', 'raw': b'\x00\x01\xff', 'lst': [1, 'two', [3.0, None]],
    'tup': (1, 'a'), 'dct': {'k': {'n': [1, 2]}, 'e': {}}, 'st': {1, 2}, 'fs': frozenset([3]),
    'ba': bytearray(b'xy'), 'many': list(range(1500)),
    'wide': {'k%d' % i: i for i in range(1200)},
}
records.append(log.makeRecord('app.sub', logging.DEBUG, '/srv/y.py', 9, 'extras', (), None,
                              'g', extra))
records.append(log.makeRecord('app.sub', 5, 'rel/zz.py', 10, 'msg with\nnewline', (), None,
                              'h', {'when': datetime.datetime(2024, 5, 6, 7, 8, 9)}))
for r in records:
    frame = h.makePickle(r)
    print(frame.hex(), canon(pickle.loads(frame[4:])))
"#;

fn python_records() -> Vec<(Vec<u8>, String)> {
    let script = format!("import pickle\n{PY_CANON}{PY_RECORDS}");
    python(&script, "")
        .lines()
        .map(|l| {
            let (h, c) = l.split_once(' ').unwrap();
            (unhex(h), c.to_owned())
        })
        .collect()
}

#[test]
fn decodes_socket_handler_records_and_reencodes_them_identically() {
    let records = python_records();
    assert_eq!(records.len(), 5);
    for (i, (frame, want)) in records.iter().enumerate() {
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let payload = &frame[4..];
        let fields = decode_record_dict(payload, &DecodeLimits::default())
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
        let as_value = PickleValue::Dict(
            fields
                .iter()
                .map(|(k, v)| (PickleValue::Str(k.clone()), v.clone()))
                .collect(),
        );
        assert_eq!(&canon(&as_value), want, "record {i}");
        let has_object = fields
            .iter()
            .any(|(_, v)| matches!(v, PickleValue::Opaque { .. } | PickleValue::Known { .. }));
        if has_object {
            // The datetime extra is recognised from its state (nothing constructed) and
            // carries what CPython prints for it; it is not re-encoded as a datetime.
            let when = fields.iter().find(|(k, _)| k == "when").unwrap();
            match &when.1 {
                PickleValue::Known { class, str, .. } => {
                    assert_eq!(class, "datetime.datetime");
                    assert!(str.starts_with("20"), "{str}");
                }
                other => panic!("record {i}: when is {other:?}"),
            }
            continue;
        }
        // Byte-identical re-encoding, with and without the frame prefix.
        let encoded = encode_record_protocol1(&fields).unwrap();
        assert_eq!(hex(&encoded), hex(payload), "record {i} re-encoded");
        assert_eq!(
            encode_socket_frame(&fields).unwrap(),
            *frame,
            "record {i} frame"
        );
    }
}

/// Builds records in Rust and compares with `pickle.dumps(d, 1)` of the same dict built in
/// Python. Strings in the Python dict are built at run time (fresh objects), as a LogRecord's
/// are.
#[test]
fn encoder_matches_pickle_dumps_protocol1() {
    use PickleValue as V;
    let s = |x: &str| V::Str(x.to_owned());
    let cases: Vec<(&str, Vec<(String, PickleValue)>)> = vec![
        ("{}", vec![]),
        ("{'only': None}", vec![("only".into(), V::None)]),
        (
            "{'name': f('app'), 'msg': f('héllo 😀'), 'args': None, 'levelno': 20, \
              'lineno': 70000, 'neg': -5, 'thread': 140542269324160, 'big': -2**70, \
              'created': 1.5e9, 'ok': True, 'no': False, 'empty': f(''), 'empty2': f('')}",
            vec![
                ("name".into(), s("app")),
                ("msg".into(), s("héllo 😀")),
                ("args".into(), V::None),
                ("levelno".into(), V::Int(20)),
                ("lineno".into(), V::Int(70000)),
                ("neg".into(), V::Int(-5)),
                ("thread".into(), V::Int(140542269324160)),
                ("big".into(), V::BigInt("-1180591620717411303424".into())),
                ("created".into(), V::Float(1.5e9)),
                ("ok".into(), V::Bool(true)),
                ("no".into(), V::Bool(false)),
                ("empty".into(), s("")),
                ("empty2".into(), s("")),
            ],
        ),
        (
            "{'l': [1, [f('x2'), (f('t1'), 2)], []], 't': (), 't1': (None,), \
              'd': {f('k1'): {}, 7: [None]}, 'b': [b'', b'', b'q', b'q', b'long bytes', bytes([0, 255])], \
              's': {f('e1')}, 'fs': frozenset(), 'ba': [bytearray(b'ab'), bytearray()]}",
            vec![
                (
                    "l".into(),
                    V::List(vec![
                        V::Int(1),
                        V::List(vec![s("x2"), V::Tuple(vec![s("t1"), V::Int(2)])]),
                        V::List(vec![]),
                    ]),
                ),
                ("t".into(), V::Tuple(vec![])),
                ("t1".into(), V::Tuple(vec![V::None])),
                (
                    "d".into(),
                    V::Dict(vec![
                        (s("k1"), V::Dict(vec![])),
                        (V::Int(7), V::List(vec![V::None])),
                    ]),
                ),
                (
                    "b".into(),
                    V::List(vec![
                        V::Bytes(vec![]),
                        V::Bytes(vec![]),
                        V::Bytes(b"q".to_vec()),
                        V::Bytes(b"q".to_vec()),
                        V::Bytes(b"long bytes".to_vec()),
                        V::Bytes(vec![0, 255]),
                    ]),
                ),
                ("s".into(), V::Set(vec![s("e1")])),
                ("fs".into(), V::FrozenSet(vec![])),
                (
                    "ba".into(),
                    V::List(vec![V::ByteArray(b"ab".to_vec()), V::ByteArray(vec![])]),
                ),
            ],
        ),
    ];
    let mut script =
        String::from("import pickle\ndef f(s): return ''.join(list(s)) if len(s) > 1 else s\n");
    for (py, _) in &cases {
        script.push_str(&format!("print(pickle.dumps({py}, 1).hex())\n"));
    }
    let out = python(&script, "");
    for ((py, fields), want) in cases.iter().zip(out.lines()) {
        let got = encode_record_protocol1(fields).unwrap();
        assert_eq!(hex(&got), want, "{py}");
    }
}

/// Large dicts and lists: CPython's batching of 1000, including its trailing empty
/// `MARK SETITEMS` for dicts whose size is a multiple of 1000.
#[test]
fn encoder_batches_like_cpython() {
    let script = "import pickle
for n in (2, 999, 1000, 1001, 2000, 2001):
    print(pickle.dumps({'d': {i: None for i in range(n)}, 'l': list(range(n))}, 1).hex())
";
    let out = python(script, "");
    for (n, want) in [2usize, 999, 1000, 1001, 2000, 2001]
        .iter()
        .zip(out.lines())
    {
        let d = PickleValue::Dict(
            (0..*n)
                .map(|i| (PickleValue::Int(i as i64), PickleValue::None))
                .collect(),
        );
        let l = PickleValue::List((0..*n).map(|i| PickleValue::Int(i as i64)).collect());
        let got = encode_record_protocol1(&[("d", d), ("l", l)]).unwrap();
        assert_eq!(hex(&got), want, "n = {n}");
    }
}

/// Our encoder's output loads in CPython to the value we meant.
#[test]
fn cpython_loads_encoder_output() {
    use PickleValue as V;
    let values = vec![
        V::Dict(vec![
            (V::Str("msg".into()), V::Str("ü€😀\n".into())),
            (
                V::Int(-3),
                V::BigInt("123456789012345678901234567890".into()),
            ),
            (V::Tuple(vec![V::Int(1)]), V::Float(-0.0)),
        ]),
        V::List(vec![
            V::Bytes((0..=255).collect()),
            V::ByteArray(vec![1, 2]),
            V::Set(vec![V::Int(1), V::Str("a".into())]),
            V::FrozenSet(vec![V::None]),
            V::Float(f64::INFINITY),
            V::BigInt("5".into()),
        ]),
        V::Opaque {
            class: "datetime.datetime".into(),
        },
    ];
    let stdin: String = values
        .iter()
        .map(|v| hex(&encode_protocol1(v).unwrap()) + "\n")
        .collect();
    let script = format!(
        "{PY_CANON}
import pickle, sys
for line in sys.stdin:
    print(canon(pickle.loads(bytes.fromhex(line.strip()))))
"
    );
    let out = python(&script, &stdin);
    let mut lines = out.lines();
    for v in &values {
        let want = match v {
            V::Opaque { class } => canon(&V::Str(format!("<{class}>"))),
            // BigInt("5") is the int 5.
            V::List(items) => canon(&V::List(
                items
                    .iter()
                    .map(|x| match x {
                        V::BigInt(_) => V::Int(5),
                        o => o.clone(),
                    })
                    .collect(),
            )),
            o => canon(o),
        };
        assert_eq!(lines.next().unwrap(), want);
    }
}

/// A `__reduce__` returning `os.system`: decoded as inert data, nothing runs.
#[test]
fn reduce_to_os_system_is_inert() {
    let script = "import pickle, os, logging, logging.handlers
class Evil:
    def __reduce__(self):
        return (os.system, ('touch /tmp/logwire-pickle-pwned-' + str(os.getpid()),))
r = logging.LogRecord('app', 20, 'p.py', 1, 'm', (), None)
r.evil = Evil()
for proto in range(6):
    print(pickle.dumps(Evil(), proto).hex())
print(logging.handlers.SocketHandler('localhost', None).makePickle(r)[4:].hex())
";
    let out = python(script, "");
    let lines: Vec<&str> = out.lines().collect();
    for l in &lines[..6] {
        let v = decode(&unhex(l), &DecodeLimits::default()).unwrap();
        // `posix.system` is how CPython names os.system.
        assert_eq!(v.placeholder().as_deref(), Some("<posix.system>"), "{l}");
    }
    let fields = decode_record_dict(&unhex(lines[6]), &DecodeLimits::default()).unwrap();
    let evil = fields.iter().find(|(k, _)| k == "evil").unwrap();
    assert_eq!(evil.1.placeholder().as_deref(), Some("<posix.system>"));
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "msg" && v.as_str() == Some("m"))
    );
}

/// serde-pickle as a second oracle on benign pickles: it must agree on the shape.
#[test]
fn agrees_with_serde_pickle_on_benign_data() {
    let script = "import pickle
v = {'a': [1, 2.5, 'x', b'y', None, True], 'b': {'c': (1, 2)}, 'n': -2**70}
for proto in (2, 3, 4, 5):
    print(pickle.dumps(v, proto).hex())
";
    let out = python(script, "");
    for l in out.lines() {
        let bytes = unhex(l);
        let ours = decode(&bytes, &DecodeLimits::default()).unwrap();
        let theirs: serde_pickle::Value =
            serde_pickle::value_from_slice(&bytes, serde_pickle::DeOptions::new()).unwrap();
        // Render both as Python-ish text and compare.
        assert_eq!(ours.to_string(), render_serde(&theirs), "{l}");
    }
}

fn render_serde(v: &serde_pickle::Value) -> String {
    use serde_pickle::{HashableValue as H, Value as S};
    fn h(v: &H) -> String {
        match v {
            H::String(s) => format!("'{}'", s.escape_debug()),
            H::I64(i) => i.to_string(),
            other => format!("{other:?}"),
        }
    }
    match v {
        S::None => "None".into(),
        S::Bool(true) => "True".into(),
        S::Bool(false) => "False".into(),
        S::I64(i) => i.to_string(),
        S::Int(b) => b.to_string(),
        S::F64(f) => PickleValue::Float(*f).to_string(),
        S::Bytes(b) => PickleValue::Bytes(b.clone()).to_string(),
        S::String(s) => format!("'{}'", s.escape_debug()),
        S::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(render_serde)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        S::Tuple(items) => format!(
            "({}{})",
            items
                .iter()
                .map(render_serde)
                .collect::<Vec<_>>()
                .join(", "),
            if items.len() == 1 { "," } else { "" }
        ),
        S::Dict(map) => {
            // serde-pickle's dict is a BTreeMap: compare in key order.
            let mut pairs: Vec<_> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", h(k), render_serde(v)))
                .collect();
            pairs.sort();
            format!("{{{}}}", pairs.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// One encoder writes value after value (moved here from the old `speed.rs`, now the
/// `pickle_parse` bench in `crates/bench`).
#[test]
fn encoder_is_reusable() {
    let mut e = logwire_pickle::Protocol1Encoder::default();
    let v = logwire_pickle::PickleValue::List(vec![logwire_pickle::PickleValue::Bytes(vec![])]);
    e.encode_value(&v).unwrap();
    let first = e.into_bytes();
    let mut e = logwire_pickle::Protocol1Encoder::default();
    e.encode_value(&v).unwrap();
    e.encode_value(&v).unwrap();
    let both = e.into_bytes();
    assert_eq!(both, [first.clone(), first].concat());
}
