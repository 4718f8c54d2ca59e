//! Records whose every attribute is pinned, for tests that compare logwire's output with
//! CPython's byte for byte (the real-configs corpus, the python-json-logger differential):
//! both sides log the same JSON record descriptions with the same `pathname`, `lineno`,
//! times, thread and process, which the CPython side sets the same way.

use logwire_engine::{Args, Logger, Value};

/// `created` of every pinned record (CPython's side uses the same value).
pub const CREATED: f64 = 1_765_101_600.123_456;

/// Logs each record of `records` (a JSON array of `{"level", "msg", "args"?, "extra"?,
/// "exc_text"?, "stack_info"?}`) through `logger`, with the pinned attributes.
pub fn log_pinned(logger: &Logger, records: &serde_json::Value) {
    for r in records.as_array().expect("a JSON array of records") {
        let level = r["level"].as_i64().expect("a level") as i32;
        let msg = r["msg"].as_str().expect("a msg").to_owned();
        logger.log_with(level, msg, |rec| {
            rec.pathname = "/srv/app/views.py".into();
            rec.filename = "views.py".into();
            rec.module = "views".into();
            rec.lineno = 42;
            rec.func_name = Some("handle".into());
            rec.created = CREATED;
            rec.msecs = 123.0;
            rec.relative_created = 4567.0;
            rec.thread = Some(140_000_000_000_001);
            rec.thread_name = Some("MainThread".into());
            rec.process = Some(4242);
            rec.process_name = Some("MainProcess".into());
            rec.exc_text = r["exc_text"].as_str().map(str::to_owned);
            rec.stack_info = r["stack_info"].as_str().map(str::to_owned);
            if let Some(args) = r["args"].as_array() {
                rec.args = Args::Tuple(args.iter().map(value).collect());
            }
            if let Some(extra) = r["extra"].as_object() {
                for (k, v) in extra {
                    rec.set_extra(k.clone(), value(v));
                }
            }
        });
    }
}

/// A record value from the descriptions: strings and integers only.
fn value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().expect("an integer")),
        other => panic!("unexpected record value {other}"),
    }
}
