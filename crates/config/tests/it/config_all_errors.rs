//! Every error of a document is reported in one run: those of the front end (a bad level)
//! together with those only the whole model shows (an unknown formatter id, a bad argument).

use logwire_config::{Configurator, SourceFormat};

#[test]
fn front_end_and_cross_reference_errors_come_together() {
    let text = r#"{"version": 1,
        "handlers": {"h1": {"class": "logging.StreamHandler", "level": "NTOSET", "formatter": "nope"},
                     "h2": {"class": "logging.FileHandler", "filename": "/tmp/x.log", "bogus": 1}},
        "loggers": {"app": {"level": "LOUD", "handlers": ["missing"]}}}"#;
    let errs = Configurator::default()
        .check_text(text, SourceFormat::Json)
        .unwrap_err();
    let places: Vec<&str> = errs.iter().map(|e| e.place.as_str()).collect();
    for want in [
        "handlers.h1.level",
        "handlers.h1.formatter",
        "handlers.h2.bogus",
        "loggers.app.level",
        "loggers.app.handlers",
    ] {
        assert!(places.contains(&want), "missing {want} in:\n{errs}");
    }
    assert!(errs.to_string().contains("unknown level 'NTOSET'"));
}

#[test]
fn ini_front_end_and_cross_reference_errors_come_together() {
    let text = "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n\
                [logger_root]\nlevel=WRANING\nhandlers=h\n\
                [handler_h]\nclass=StreamHandler\nformatter=nope\nargs=(sys.stdout,)\n";
    let errs = Configurator::default()
        .check_text(text, SourceFormat::Ini)
        .unwrap_err();
    let text = errs.to_string();
    assert!(text.contains("unknown level 'WRANING'"), "{text}");
    assert!(text.contains("unknown formatter 'nope'"), "{text}");
}
