//! The formatter's hot path: a `%`-style line with `asctime` (a new millisecond per record, a
//! new second every 1000, as a busy service logs), the same with `%`-args in the message, a
//! `{`-style line, the message alone, and the time alone (the cache bypassed). Replaces the
//! ignored timing test that printed nanoseconds per record.
//!
//! `cargo bench -p logwire-bench --bench format`

use criterion::{Criterion, criterion_group, criterion_main};
use logwire_engine::{Args, LogRecord, Value};
use logwire_engine::{Formatter, Style, format_message};
use std::hint::black_box;

fn formatter(fmt: &str, style: Style) -> Formatter {
    Formatter::new(Some(fmt), None, style, true, vec![]).unwrap()
}

fn record() -> LogRecord {
    LogRecord::new("app.db", 20, "/srv/app/db.py", 120, "connection pool ready")
}

/// Formats `r` once per iteration, moving its clock by a millisecond each time.
fn lines(c: &mut Criterion, name: &str, f: &Formatter, mut r: LogRecord) {
    let mut out = String::with_capacity(256);
    let mut i = 0u32;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            r.created = 1_763_712_180.0 + f64::from(i) / 1000.0;
            r.msecs = f64::from(i % 1000);
            out.clear();
            f.format_into(&r, &mut out);
            black_box(&out);
        })
    });
}

fn format(c: &mut Criterion) {
    let percent_fmt = formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        Style::Percent,
    );
    lines(c, "percent, plain message", &percent_fmt, record());
    let mut with_args = record();
    with_args.msg = "pool %s ready with %d connections".into();
    with_args.args = Args::Tuple(vec![Value::from("main"), Value::Int(16)]);
    lines(
        c,
        "percent, message with args",
        &percent_fmt,
        with_args.clone(),
    );
    let brace = formatter("{asctime} {levelname:<8} {name}: {message}", Style::Brace);
    lines(c, "brace", &brace, with_args.clone());
    let no_time = formatter("%(levelname)s %(name)s: %(message)s", Style::Percent);
    lines(c, "percent, no asctime", &no_time, record());

    let args = with_args.args.clone();
    c.bench_function("format_message (%s %d)", |b| {
        b.iter(|| {
            black_box(
                format_message(black_box("pool %s ready with %d connections"), &args).unwrap(),
            )
        })
    });
    c.bench_function("baseline: Rust format!", |b| {
        b.iter(|| {
            black_box(format!(
                "pool {} ready with {} connections",
                black_box("main"),
                16
            ))
        })
    });
    let mut r = record();
    r.created = 1_763_712_180.5;
    c.bench_function("format_time, uncached", |b| {
        b.iter(|| black_box(no_time.format_time(black_box(&r), None)))
    });
}

criterion_group!(benches, format);
criterion_main!(benches);
