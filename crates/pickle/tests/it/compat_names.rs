//! Python 2 class names in protocol 0–2 pickles are resolved as `pickle.loads` resolves them.
//!
//! For protocols below 3 CPython's pickler writes some classes under their Python 2 names
//! (`exceptions.ValueError`, `__builtin__.xrange`, `__builtin__.unicode`, …) and its unpickler
//! maps them back through `_compat_pickle`. The placeholder logwire makes must name the class
//! `pickle.loads` would give, so the table in `src/compat_names.rs` must be CPython's, and it
//! must be applied only below protocol 3. Python being absent is a failure unless
//! `LOGWIRE_SKIP_PYTHON_GOLDEN=1`.

use crate::common;

use common::unhex;
use logwire_pickle::{DecodeLimits, PickleValue, decode};
use logwire_test_support::python;

fn placeholder_class(pickle: &[u8]) -> String {
    match decode(pickle, &DecodeLimits::default()) {
        Ok(PickleValue::Opaque { class }) => class,
        other => panic!("not a placeholder: {other:?}"),
    }
}

#[test]
fn the_checked_in_table_is_the_one_python3_generates() {
    let generator = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/gen_compat_names.py"
    );
    let Some(generated) = python::output(python::command().args(["-I", generator])) else {
        return;
    };
    let checked_in = include_str!("../../src/compat_names.rs");
    assert!(
        generated == checked_in,
        "src/compat_names.rs differs from what this python3's _compat_pickle gives; \
         regenerate it with tests/support/gen_compat_names.py"
    );
}

/// Objects (classes, functions and instances) that CPython pickles under a Python 2 name for
/// protocols 0–2, and some it does not.
const OBJECTS: &[&str] = &[
    "ValueError('x')",
    "KeyError",
    "Exception",
    "range(3)",
    "str",
    "int",
    "sys.intern",
    "collections.UserDict",
    "queue.Queue",
    "socketserver.TCPServer",
    "itertools.filterfalse",
    "zip",
    "chr",
    "copyreg._reconstructor",
    "datetime.date",
];

const ORACLE: &str = r#"
import collections, copyreg, datetime, itertools, pickle, queue, socketserver, sys, types
for line in sys.stdin:
    proto, expr = line.rstrip('\n').split(' ', 1)
    data = pickle.dumps(eval(expr), int(proto))
    v = pickle.loads(data)
    kinds = (type, types.BuiltinFunctionType, types.FunctionType)
    t = v if isinstance(v, kinds) else type(v)
    print(data.hex(), t.__module__ + '.' + t.__qualname__)
"#;

#[test]
fn python2_names_cpython_writes_below_protocol_3_map_back_like_pickle_loads() {
    let requests: Vec<String> = OBJECTS
        .iter()
        .flat_map(|o| (0..=5).map(move |p| format!("{p} {o}")))
        .collect();
    let Some(answers) = python::ask_lines(
        python::command().args(["-I", "-c", ORACLE]),
        requests.clone(),
    ) else {
        return;
    };
    let mut py2_named = 0;
    for (request, answer) in requests.iter().zip(&answers) {
        let (data, want) = answer.split_once(' ').expect("two fields");
        let data = unhex(data);
        py2_named += usize::from(
            [
                &b"exceptions"[..],
                b"__builtin__",
                b"Queue\n",
                b"UserDict\n",
                b"SocketServer\n",
            ]
            .iter()
            .any(|n| data.windows(n.len()).any(|w| w == *n)),
        );
        assert_eq!(placeholder_class(&data), want, "{request}");
    }
    // The test is only worth something if CPython did write Python 2 names.
    assert!(
        py2_named >= 30,
        "only {py2_named} pickles named a Python 2 module"
    );
}

#[test]
fn names_are_mapped_only_below_protocol_3() {
    // No PROTO opcode: protocol 0, mapped (pair first, then module alone).
    assert_eq!(
        placeholder_class(b"cexceptions\nValueError\n."),
        "builtins.ValueError"
    );
    assert_eq!(placeholder_class(b"c__builtin__\nintern\n."), "sys.intern");
    assert_eq!(
        placeholder_class(b"c__builtin__\nxrange\n."),
        "builtins.range"
    );
    assert_eq!(placeholder_class(b"cQueue\nQueue\n."), "queue.Queue");
    assert_eq!(placeholder_class(b"cnot_py2\nThing\n."), "not_py2.Thing");
    assert_eq!(
        placeholder_class(b"\x80\x02cexceptions\nValueError\n."),
        "builtins.ValueError"
    );
    // Protocol 3 and up: CPython looks the name up as written (and would fail to import it).
    assert_eq!(
        placeholder_class(b"\x80\x03cexceptions\nValueError\n."),
        "exceptions.ValueError"
    );
    assert_eq!(
        placeholder_class(b"\x80\x03c__builtin__\nxrange\n."),
        "__builtin__.xrange"
    );
    // STACK_GLOBAL follows the same rule as GLOBAL.
    let stack_global = |proto: u8| {
        let mut p = vec![0x80, proto, 0x8c, 10];
        p.extend_from_slice(b"exceptions");
        p.extend_from_slice(&[0x8c, 10]);
        p.extend_from_slice(b"ValueError");
        p.extend_from_slice(&[0x93, b'.']);
        placeholder_class(&p)
    };
    assert_eq!(stack_global(2), "builtins.ValueError");
    assert_eq!(stack_global(4), "exceptions.ValueError");
    // The protocol of one pickle does not leak into the next on a reused decoder.
    let mut decoder = logwire_pickle::PickleDecoder::default();
    decoder.decode(b"\x80\x04N.").unwrap();
    assert_eq!(
        decoder.decode(b"cexceptions\nValueError\n.").unwrap(),
        PickleValue::Opaque {
            class: "builtins.ValueError".into()
        }
    );
}
