//! A rough cost check for the hot path (run with
//! `cargo test --release -p logwire-engine --test it format_perf -- --ignored --nocapture`).

use logwire_engine::{Args, Formatter, LogRecord, Style, Value};
use std::time::Instant;

fn time_it(label: &str, f: &Formatter, r: &mut LogRecord) {
    let n = 1_000_000u32;
    let mut out = String::with_capacity(256);
    let start = Instant::now();
    for i in 0..n {
        // A new millisecond each time, a new second every 1000 records.
        r.created = 1_763_712_180.0 + f64::from(i) / 1000.0;
        r.msecs = f64::from(i % 1000);
        out.clear();
        f.format_into(r, &mut out);
        std::hint::black_box(&out);
    }
    let per = start.elapsed().as_nanos() as f64 / f64::from(n);
    eprintln!("{label}: {per:.0} ns/record ({out})");
}

#[test]
#[ignore = "timing; run in release"]
fn format_cost() {
    let mut r = LogRecord::new("app.db", 20, "/srv/app/db.py", 120, "connection pool ready");
    let f = Formatter::new(
        Some("%(asctime)s %(levelname)s %(name)s: %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    time_it("percent, plain message", &f, &mut r);
    r.msg = "pool %s ready with %d connections".into();
    r.args = Args::Tuple(vec![Value::from("main"), Value::Int(16)]);
    time_it("percent, message with args", &f, &mut r);
    let f = Formatter::new(
        Some("{asctime} {levelname:<8} {name}: {message}"),
        None,
        Style::Brace,
        true,
        vec![],
    )
    .unwrap();
    time_it("brace", &f, &mut r);
}

#[test]
#[ignore = "timing; run in release"]
fn parts_cost() {
    let args = Args::Tuple(vec![Value::from("main"), Value::Int(16)]);
    let n = 1_000_000u32;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            logwire_engine::format_message(
                std::hint::black_box("pool %s ready with %d connections"),
                &args,
            )
            .unwrap(),
        );
    }
    eprintln!(
        "format_message: {:.0} ns",
        start.elapsed().as_nanos() as f64 / f64::from(n)
    );
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(format!(
            "pool {} ready with {} connections",
            std::hint::black_box("main"),
            16
        ));
    }
    eprintln!(
        "baseline format!: {:.0} ns",
        start.elapsed().as_nanos() as f64 / f64::from(n)
    );
    let mut r = LogRecord::new("app.db", 20, "/srv/app/db.py", 120, "connection pool ready");
    r.created = 1_763_712_180.5;
    let f = Formatter::new(
        Some("%(levelname)s %(name)s: %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let mut out = String::with_capacity(256);
    let start = Instant::now();
    for _ in 0..n {
        out.clear();
        f.format_into(&r, &mut out);
        std::hint::black_box(&out);
    }
    eprintln!(
        "no asctime: {:.0} ns",
        start.elapsed().as_nanos() as f64 / f64::from(n)
    );
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f.format_time(std::hint::black_box(&r), None));
    }
    eprintln!(
        "format_time uncached: {:.0} ns",
        start.elapsed().as_nanos() as f64 / f64::from(n)
    );
}
