//! What one record may cost to render and write under a pushed config is bounded, and what
//! cannot render is refused with a clear error (issue 13, item 10). Before: a `datefmt` of
//! `"%c"` × 32 000 turned 8.8 KB of records into 15.4 MB of file (× 1 751), `"%999999999Y"`
//! was accepted and rendered an empty asctime silently, and `maxBytes=1, backupCount=1000`
//! cost 8.4 ms of CPU per record (a thousand renames at every record).

use logwire_config::{ConfigErrors, Configurator, ContentPolicy, HandlerRegistry, SourceFormat};
use logwire_engine::LoggerTree;

fn apply(policy: ContentPolicy, text: &str) -> Result<(), ConfigErrors> {
    let tree = LoggerTree::new();
    Configurator::new(HandlerRegistry::with_builtins(), policy)
        .apply_text(&tree, text, SourceFormat::Json)
        .map(|_| ())
}

fn formatter_doc(format: &str, datefmt: Option<&str>) -> String {
    let mut f = serde_json::json!({"format": format});
    if let Some(d) = datefmt {
        f["datefmt"] = d.into();
    }
    serde_json::json!({
        "version": 1,
        "formatters": {"f": f},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "f"}},
        "root": {"handlers": ["h"]}
    })
    .to_string()
}

fn refused(policy: ContentPolicy, text: &str, words: &str, case: &str) {
    let err = apply(policy, text).expect_err(case).to_string();
    assert!(err.contains(words), "{case}: expected '{words}' in:\n{err}");
}

#[test]
fn datefmts_and_formats_that_amplify_a_record_are_refused_when_pushed() {
    let pushed = || ContentPolicy::pushed(None, vec![]).unwrap();
    let c32000 = "%c".repeat(32_000);
    for (case, format, datefmt, words) in [
        (
            "datefmt %c × 32 000",
            "%(asctime)s %(message)s",
            Some(c32000.as_str()),
            "datefmt longer",
        ),
        (
            "datefmt %c × 300",
            "%(asctime)s %(message)s",
            Some(&*"%c".repeat(300)),
            "can render",
        ),
        (
            "datefmt with wide fields",
            "%(asctime)s",
            Some("%4000Y%4000m%4000d%4000H%4000M"),
            "can render",
        ),
        (
            "asctime × 100",
            &*"%(asctime)s".repeat(100),
            None,
            "can render",
        ),
        (
            "padding × 10",
            &*"%(message)4000s".repeat(10),
            None,
            "can render",
        ),
    ] {
        refused(pushed(), &formatter_doc(format, datefmt), words, case);
    }
    refused(
        pushed(),
        &formatter_doc(&"%(message)s".repeat(100), None),
        "copies record text",
        "message × 100",
    );
    // Ordinary formats pass.
    for (format, datefmt) in [
        ("%(asctime)s %(levelname)-8s %(name)s: %(message)s", None),
        (
            "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(message)s",
            Some("%Y-%m-%dT%H:%M:%S%z"),
        ),
        ("{asctime} {levelname:>8} {name} {message}", None),
    ] {
        let mut doc: serde_json::Value =
            serde_json::from_str(&formatter_doc(format, datefmt)).unwrap();
        if format.starts_with('{') {
            doc["formatters"]["f"]["style"] = "{".into();
        }
        apply(pushed(), &doc.to_string()).unwrap_or_else(|e| panic!("{format}: {e}"));
    }
}

#[test]
fn a_datefmt_that_cannot_render_is_refused_even_locally() {
    for d in ["%999999999Y", "%5000c", "x%99999H", "%_100000d %Y"] {
        refused(
            ContentPolicy::trusted(),
            &formatter_doc("%(asctime)s %(message)s", Some(d)),
            "empty time",
            d,
        );
    }
    // Widths that fit still render.
    apply(
        ContentPolicy::trusted(),
        &formatter_doc("%(asctime)s %(message)s", Some("%10Y|%-d")),
    )
    .unwrap();
}

fn rotating_doc(max_bytes: i64, backup_count: i64, dir: &std::path::Path) -> String {
    serde_json::json!({
        "version": 1,
        "handlers": {"r": {"class": "logging.handlers.RotatingFileHandler",
            "filename": dir.join("r.log"), "maxBytes": max_bytes, "backupCount": backup_count}},
        "root": {"handlers": ["r"]}
    })
    .to_string()
}

#[test]
fn rotation_that_renames_at_every_record_is_refused_when_pushed() {
    let root = tempfile::tempdir().unwrap();
    let pushed = || ContentPolicy::pushed(Some(root.path()), vec![]).unwrap();
    let canon = root.path().canonicalize().unwrap();
    for (mb, bc, words) in [
        (1, 1000, "maxBytes"),
        (1, 1, "maxBytes"),
        (65_535, 5, "maxBytes"),
        (1 << 20, 1000, "backupCount"),
        (1 << 20, 101, "backupCount"),
    ] {
        refused(
            pushed(),
            &rotating_doc(mb, bc, &canon),
            words,
            &format!("{mb}/{bc}"),
        );
    }
    apply(pushed(), &rotating_doc(64 * 1024, 100, &canon)).unwrap();
    apply(pushed(), &rotating_doc(0, 100, &canon)).unwrap();
    // A local config keeps CPython's range.
    apply(ContentPolicy::trusted(), &rotating_doc(1, 1000, &canon)).unwrap();
}
