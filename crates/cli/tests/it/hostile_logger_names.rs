//! Remote logger names cannot make the collector's logger tree cost more than linear work per
//! name, nor grow it without bound (issue 13, item 2). Before: 400 records with distinct
//! names of 125 dotted parts (255 bytes each) cost 6.5 s of CPU, held up another sender for
//! 6.3 s and took RSS from 15 to 68 MB; 1 000 names ~57 s and 178 MB. Every new logger
//! copied the whole tree, and the cap on remote loggers did not count their placeholders.
//!
//! Here 1 500 such names go to the built `logwire serve`; every record is stored, a second
//! connection's records too, the tree stops growing at `MAX_REMOTE_LOGGERS` nodes (the rest
//! enter at an existing ancestor, counted `at_ancestor`), and memory and CPU stay within
//! budgets far below what the quadratic tree needed.

use crate::common;

use common::*;
use std::io::Write;
use std::net::TcpStream;

/// Node budget for remote names (`logwire_collector::receiver::MAX_REMOTE_LOGGERS`).
const MAX_REMOTE_LOGGERS: u64 = 10_000;
const NAMES: u64 = 1_500;
const PARTS: u64 = 125;

/// 125 dotted parts, 254 bytes, no prefix shared with another name: 125 new nodes each.
fn deep_name(i: u64) -> String {
    let mut s = format!("{i:06}");
    for _ in 1..PARTS {
        s.push_str(".a");
    }
    s
}

fn record(name: &str, msg: &str) -> Vec<u8> {
    frame(
        serde_json::json!({"name": name, "msg": msg, "levelno": 30, "levelname": "WARNING"})
            .to_string()
            .as_bytes(),
    )
}

#[test]
fn deep_distinct_names_cost_linear_work_and_bounded_memory() {
    let mut serve = Serve::start(&["--tcp", "127.0.0.1:0"]);
    let rss_before = serve.rss_kib();
    let cpu_before = serve.cpu_ticks();
    let addr = serve.tcp();
    // The other sender's logger exists before the flood (it takes one node of the budget).
    send_tcp(addr, &good("first"));
    let mut hostile = TcpStream::connect(addr).unwrap();
    let mut bytes = Vec::new();
    for i in 0..NAMES {
        bytes.extend(record(&deep_name(i), &format!("deep {i}")));
    }
    hostile.write_all(&bytes).unwrap();
    // Another sender, meanwhile: its records are stored too.
    let mut good_bytes = Vec::new();
    for i in 0..20 {
        good_bytes.extend(good(&format!("good {i}")));
    }
    send_tcp(addr, &good_bytes);
    drop(hostile);
    assert!(
        wait_until(|| serve.stdout().matches("deep ").count() as u64 == NAMES),
        "not every deep-named record was printed"
    );
    let cpu = serve.cpu_ticks() - cpu_before;
    let rss = serve.peak_rss_kib().saturating_sub(rss_before);
    serve.assert_healthy("after 1 500 deep names");
    let fin = serve.stop();
    eprintln!("1 500 names of 125 parts: {cpu} ticks of CPU, peak RSS +{rss} KiB");
    assert_eq!(fin.receiver.get("stored"), NAMES + 21, "{:?}", fin.receiver);
    // "good" took one node of the 10 000: 79 names of 125 new nodes fit, the rest are
    // stored through an ancestor (the root) and counted.
    let fitted = (MAX_REMOTE_LOGGERS - 1) / PARTS;
    assert_eq!(
        fin.receiver.get("at_ancestor"),
        NAMES - fitted,
        "{:?}",
        fin.receiver
    );
    // 10 000 nodes cost a few MB; the old tree took 178 MB for 1 000 such names.
    assert!(rss < 32 * 1024, "peak RSS grew by {rss} KiB");
    // CPU time, not wall time: a debug build needs well under 1 s (100 ticks) here; the
    // quadratic tree needed over a minute for 1 000 names in a release build.
    assert!(cpu < 1_000, "{cpu} ticks of CPU for {NAMES} records");
}
