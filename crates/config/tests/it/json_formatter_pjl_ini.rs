//! Issue 16: python-json-logger's class named in a fileConfig (INI) `[formatter_x]` section
//! (`class=pythonjsonlogger.jsonlogger.JsonFormatter`, and the 3.x name
//! `pythonjsonlogger.json.JsonFormatter`) maps to the built-in JSON formatter, whose output
//! equals the library's. Differential against the real library from PyPI (the venv of
//! `json_formatter_pjl.rs`): each INI file is applied by CPython's `fileConfig` and by
//! logwire, the same records go through both, and stdout must be equal byte for byte.
//! fileConfig calls the class as `class(format, datefmt, style)`, so only those three
//! options exist in this form.

use crate::common;
use crate::json_formatter_pjl::assert_same_as_python;

use common::{Capture, configurator};
use logwire_config::{ContentPolicy, SourceFormat};

/// fileConfig INI files: each routes logger `app` to stdout through one JSON formatter
/// section (`formatter` is the `[formatter_json]` body).
fn configs() -> Vec<(&'static str, String)> {
    let wrap = |formatter: &str| {
        format!(
            "[loggers]\nkeys=root,app\n\n[handlers]\nkeys=out\n\n[formatters]\nkeys=json\n\n\
             [logger_root]\nlevel=WARNING\nhandlers=\n\n\
             [logger_app]\nlevel=DEBUG\nhandlers=out\npropagate=0\nqualname=app\n\n\
             [handler_out]\nclass=StreamHandler\nlevel=NOTSET\nformatter=json\nargs=(sys.stdout,)\n\n\
             [formatter_json]\n{formatter}\n"
        )
    };
    vec![
        (
            "jsonlogger class with a format",
            wrap(
                "class=pythonjsonlogger.jsonlogger.JsonFormatter\nformat=%(asctime)s %(levelname)s %(name)s %(message)s",
            ),
        ),
        (
            "json class, no format",
            wrap("class=pythonjsonlogger.json.JsonFormatter"),
        ),
        (
            "datefmt",
            wrap(
                "class=pythonjsonlogger.jsonlogger.JsonFormatter\nformat=%(asctime)s %(funcName)s %(message)s\ndatefmt=%Y-%m-%dT%H:%M:%S",
            ),
        ),
        (
            "{ style",
            wrap(
                "class=pythonjsonlogger.json.JsonFormatter\nformat={levelname} {message} {lineno}\nstyle={",
            ),
        ),
    ]
}

#[test]
fn json_formatter_in_ini_output_equals_python_json_logger() {
    assert_same_as_python(
        &configs(),
        "logging.config.fileConfig(io.StringIO(text), disable_existing_loggers=False)",
        SourceFormat::Ini,
    );
}

/// Only the two class names are mapped: any other `class=` in a formatter section is
/// refused (nothing is imported).
#[test]
fn other_formatter_classes_are_refused_in_ini() {
    let (_, text) = &configs()[0];
    let bad = text.replace(
        "pythonjsonlogger.jsonlogger.JsonFormatter",
        "pythonjsonlogger.jsonlogger.JsonFormatterX",
    );
    let capture = Capture::default();
    let err = configurator(ContentPolicy::trusted(), &capture)
        .check_text(&bad, SourceFormat::Ini)
        .unwrap_err();
    assert!(err.to_string().contains("JsonFormatterX"), "{err}");
}
