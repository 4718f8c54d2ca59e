//! Pushed configs cannot make one record expensive to render or write, against the built
//! `logwire serve --listen` (issue 13, item 10): a datefmt that multiplies every record, a
//! datefmt that cannot render (CPython renders an empty time, silently), and a rotating file
//! that renames a thousand files at every record are each rejected with their reason in the
//! reply, and the routing in place keeps working.

use crate::common;

use common::*;

#[test]
fn pushes_that_make_records_expensive_are_rejected_with_their_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = d.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let serve = start_push_listener(d, &root);
    let to = serve.bound.config_tcp[0];
    let stdout_with = |datefmt: &str| {
        serde_json::json!({
            "version": 1,
            "formatters": {"f": {"format": "%(asctime)s %(message)s", "datefmt": datefmt}},
            "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
            "root": {"level": "DEBUG", "handlers": ["out"]}
        })
        .to_string()
    };
    let rotating = serde_json::json!({
        "version": 1,
        "handlers": {"r": {"class": "logging.handlers.RotatingFileHandler",
            "filename": "r.log", "maxBytes": 1, "backupCount": 1000}},
        "root": {"level": "DEBUG", "handlers": ["r"]}
    })
    .to_string();
    let cases = [
        (
            "datefmt %c × 300",
            stdout_with(&"%c".repeat(300)),
            "can render",
        ),
        (
            "datefmt %c × 32 000",
            stdout_with(&"%c".repeat(32_000)),
            "datefmt longer",
        ),
        (
            "datefmt %999999999Y",
            stdout_with("%999999999Y"),
            "empty time",
        ),
        ("maxBytes=1 backupCount=1000", rotating, "maxBytes"),
    ];
    for (seq, (case, text, why)) in cases.iter().enumerate() {
        let (code, out) = send_config(text, d, to, seq as u64 + 1);
        assert_ne!(code, 0, "{case}: applied: {out}");
        assert!(out.contains(why), "{case}: expected '{why}' in {out}");
        send_tcp(serve.tcp(), &good(&format!("routing intact after {case}")));
        assert!(serve.wait_stdout(&format!("routing intact after {case}")));
    }
    assert!(
        std::fs::read_dir(&root).unwrap().next().is_none(),
        "a file was made"
    );
    let fin = serve.stop();
    assert_eq!(fin.receiver.get("stored"), cases.len() as u64);
}
