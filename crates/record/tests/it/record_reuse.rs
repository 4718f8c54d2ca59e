//! Records refilled from the shared pool are exactly the records a fresh mapper builds.
//!
//! A mapper reads a sender's repeated layout through a learned template and, when it refills
//! a record it filled under the same template generation, is handed only the values that
//! changed (`MappedRecord`). Here several mappers share the pool, payloads switch layouts
//! (other keys, a str that becomes None, extra fields that come and go, JSON, a record that
//! fails), values change from record to record or stay put for a while, and spent records
//! are recycled at once, held back and recycled later in another order, or given straight
//! back to the mapper that filled them (`RecordMapper::give_back`, the dispatcher's path).
//! Every record must equal what `RecordMapper::default().map` gives for the same
//! bytes.

use logwire_pickle::{PickleValue, encode_record_protocol1};
use logwire_record::{Format, MappedRecord, RecordMapper, RecordPool};
use proptest::prelude::*;

/// One payload: `layout` picks the keys, `variant` the values (small numbers repeat values,
/// so templates see both repeated and changed ones).
fn payload(layout: u8, variant: u8) -> Vec<u8> {
    let v = i64::from(variant % 4);
    let s = |x: &str| PickleValue::Str(x.to_owned());
    let mut pairs: Vec<(&str, PickleValue)> = vec![
        ("name", s(if v == 3 { "app.db" } else { "app.http" })),
        (
            "msg",
            s(&format!(
                "request {variant} {}",
                "é".repeat(usize::from(variant % 3))
            )),
        ),
        ("args", PickleValue::None),
        (
            "levelname",
            s(if variant.is_multiple_of(5) {
                "WARNING"
            } else {
                "INFO"
            }),
        ),
        (
            "levelno",
            PickleValue::Int(if variant.is_multiple_of(5) { 30 } else { 20 }),
        ),
        ("pathname", s("/srv/app/handlers.py")),
        ("filename", s("handlers.py")),
        ("module", s("handlers")),
        ("exc_info", PickleValue::None),
        (
            "exc_text",
            if layout == 1 {
                s("Traceback (most recent call last):\n  boom")
            } else {
                PickleValue::None
            },
        ),
        ("stack_info", PickleValue::None),
        ("lineno", PickleValue::Int(214 + v)),
        ("funcName", s("handle")),
        (
            "created",
            PickleValue::Float(1.7e9 + f64::from(variant) / 7.0),
        ),
        ("msecs", PickleValue::Float(f64::from(variant % 10) * 100.0)),
        (
            "relativeCreated",
            PickleValue::Float(12.5 * f64::from(variant)),
        ),
        ("thread", PickleValue::Int(140_191_478_160_256)),
        ("threadName", s("MainThread")),
        ("processName", s("MainProcess")),
        ("process", PickleValue::Int(4242)),
    ];
    match layout {
        // The benchmark's extras.
        0 | 1 => {
            pairs.push(("request_id", s(&format!("req-{variant:08}"))));
            pairs.push(("user_id", PickleValue::Int(1000 + v)));
            pairs.push(("client_ip", s("10.0.0.1")));
        }
        // Other extras, one of them a non-empty `args` kept as data, and no taskName.
        2 => {
            pairs[2].1 = PickleValue::Int(7);
            pairs.push(("remote_args", s("collides with the args field")));
            pairs.push(("tenant", s(if v < 2 { "a" } else { "b" })));
        }
        // Fewer keys: the absent ones take makeLogRecord's defaults.
        _ => pairs.retain(|(k, _)| !matches!(*k, "pathname" | "lineno" | "thread")),
    }
    let pairs: Vec<(String, PickleValue)> =
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    encode_record_protocol1(&pairs).unwrap()
}

/// A payload of kind `kind`: pickled records of four layouts, JSON, or a record that fails
/// to map after its first fields (a str `levelno`).
fn frame(kind: u8, variant: u8) -> Vec<u8> {
    match kind {
        0..=3 => payload(kind, variant),
        4 => format!(r#"{{"name": "j", "msg": "m{variant}", "created": 1.7e9, "levelno": 40}}"#)
            .into_bytes(),
        _ => {
            let mut p = payload(0, variant);
            // Same length, so the layout still matches up to the bad value's kind.
            let at = p.windows(7).position(|w| w == b"levelno").unwrap() + 9;
            p[at] = b'N';
            p.remove(at + 1);
            p
        }
    }
}

/// What becomes of a record once it was checked.
const HOLD: u8 = 0;
/// Hold it, then recycle every held record through the shared pool.
const RECYCLE_HELD: u8 = 1;
/// Give it straight back to the mapper that filled it.
const GIVE_BACK: u8 = 2;

fn check(stream: &[(u8, u8, u8, u8)]) {
    let mut mappers: Vec<RecordMapper> = (0..3).map(|_| RecordMapper::default()).collect();
    let mut held: Vec<Box<MappedRecord>> = Vec::new();
    for &(kind, variant, mapper, then) in stream {
        let p = frame(kind, variant);
        let want = RecordMapper::default().map(&p, Format::Sniff);
        let mapper = &mut mappers[usize::from(mapper) % 3];
        match (mapper.map_reusable(&p, Format::Sniff), want) {
            (Ok(got), Ok(want)) => {
                assert_eq!(**got, want, "kind {kind} variant {variant}");
                if then == GIVE_BACK {
                    mapper.give_back(got);
                } else {
                    held.push(got);
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (got, want) => panic!("kind {kind} variant {variant}: {got:?} against {want:?}"),
        }
        if then == RECYCLE_HELD {
            // Oldest last: the pool hands the newest back first.
            held.reverse();
            RecordPool::recycle(&mut held);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn refilled_records_equal_fresh_ones(
        stream in proptest::collection::vec((0u8..6, 0u8..12, 0u8..3, HOLD..=GIVE_BACK), 1..80),
    ) {
        check(&stream);
    }
}

/// One sender's layout through one mapper, 400 records, with a layout switch midway; `then`
/// says what becomes of record `i`.
fn one_layout_with_a_switch(then: impl Fn(u32) -> u8) {
    let stream: Vec<_> = (0..400u32)
        .map(|i| {
            let kind = u8::from((150..170).contains(&i));
            (kind, (i % 12) as u8, 0, then(i))
        })
        .collect();
    check(&stream);
}

/// The common case, spelled out: records recycled in bursts, a value that changes only now
/// and then (the level) and a layout switch midway.
#[test]
fn a_long_stream_of_one_layout_with_rare_changes() {
    one_layout_with_a_switch(|i| if i % 32 == 31 { RECYCLE_HELD } else { HOLD });
}

/// The dispatcher's path: each record given back to its mapper at once, so one record is
/// refilled over and over, across a layout switch and back.
#[test]
fn one_record_given_back_and_refilled() {
    one_layout_with_a_switch(|_| GIVE_BACK);
}
