//! Hostile documents: each is refused with a clear error naming its place, quickly, without
//! a stack overflow, and without anything created on disk.

use logwire_config::{ConfigErrors, Configurator, ContentPolicy, HandlerRegistry, SourceFormat};
use logwire_engine::LoggerTree;
use std::path::Path;

fn check(policy: ContentPolicy, text: &str, format: SourceFormat) -> ConfigErrors {
    let tree = LoggerTree::new();
    let before = tree.snapshot();
    let cfg = Configurator::new(HandlerRegistry::with_builtins(), policy);
    let err = cfg
        .apply_text(&tree, text, format)
        .expect_err("a hostile document was accepted");
    assert!(
        std::sync::Arc::ptr_eq(&before, &tree.snapshot()),
        "the tree changed"
    );
    err
}

fn trusted(text: &str, format: SourceFormat) -> ConfigErrors {
    check(ContentPolicy::trusted(), text, format)
}

fn assert_has(err: &ConfigErrors, place: &str, words: &str) {
    assert!(
        err.iter()
            .any(|e| e.place.contains(place) && e.message.contains(words)),
        "expected an error at '{place}' saying '{words}', got:\n{err}"
    );
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn deeply_nested_json_is_refused_without_overflow() {
    let depth = 10_000;
    let text = format!(
        r#"{{"version": 1, "x": {}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let err = trusted(&text, SourceFormat::Json);
    assert_has(&err, "document", "");
    assert!(
        err.to_string().contains("depth")
            || err.to_string().contains("deep")
            || err.to_string().contains("nest"),
        "{err}"
    );
    let objects = format!("{}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    trusted(&objects, SourceFormat::Json);
}

#[test]
fn deeply_nested_yaml_and_toml_are_refused() {
    let depth = 10_000;
    trusted(
        &format!(
            "version: 1\nx: {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        SourceFormat::Yaml,
    );
    trusted(
        &format!(
            "version = 1\nx = {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        SourceFormat::Toml,
    );
}

#[test]
fn yaml_alias_bomb_is_refused() {
    let mut text =
        String::from("version: 1\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let err = trusted(&text, SourceFormat::Yaml);
    assert!(
        started.elapsed().as_secs() < 5,
        "the alias bomb took {:?}",
        started.elapsed()
    );
    assert_has(&err, "document", "YAML");
}

#[test]
fn ten_thousand_handlers_hit_the_cap_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let handlers: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#""h{i}": {{"class": "logging.FileHandler", "filename": "{}/f{i}.log"}}"#,
                dir.path().display()
            )
        })
        .collect();
    let text = format!(
        r#"{{"version": 1, "handlers": {{{}}}}}"#,
        handlers.join(",")
    );
    let mut policy = ContentPolicy::trusted();
    policy.limits.max_document_bytes = 4 << 20;
    let err = check(policy, &text, SourceFormat::Json);
    assert_has(
        &err,
        "handlers",
        "10000 handlers is more than the limit of 64",
    );
    assert!(empty(dir.path()));
}

#[test]
fn document_over_the_size_limit_is_refused_before_parsing() {
    let text = format!(r#"{{"version": 1, "pad": "{}"}}"#, "x".repeat(2 << 20));
    assert_has(
        &trusted(&text, SourceFormat::Json),
        "document",
        "more than the limit",
    );
}

#[test]
fn megabyte_logger_name_is_refused() {
    let name = "a".repeat(1 << 20);
    let text = format!(r#"{{"version": 1, "loggers": {{"{name}": {{"level": "INFO"}}}}}}"#);
    let mut policy = ContentPolicy::trusted();
    policy.limits.max_document_bytes = 4 << 20;
    let err = check(policy, &text, SourceFormat::Json);
    assert!(
        err.to_string().contains("longer than the limit of 256"),
        "{err}"
    );
    assert!(
        err.to_string().len() < 1000,
        "the error repeats the huge name"
    );
}

#[test]
fn width_bombs_are_refused() {
    for fmt in [
        "%(message)2000000000s",
        "%(message)-2000000000s",
        "%(levelno)2000000000d",
        "%(message).2000000000s",
    ] {
        let text = format!(r#"{{"version": 1, "formatters": {{"f": {{"format": "{fmt}"}}}}}}"#);
        assert_has(&trusted(&text, SourceFormat::Json), "formatters.f", "");
    }
    let text =
        r#"{"version": 1, "formatters": {"f": {"format": "{message:>2000000000}", "style": "{"}}}"#;
    assert_has(&trusted(text, SourceFormat::Json), "formatters.f", "");
    let ini = "[loggers]\nkeys=root\n[handlers]\nkeys=\n[formatters]\nkeys=f\n[logger_root]\nhandlers=\n\
               [formatter_f]\nformat=%(message)2000000000s\n";
    assert_has(&trusted(ini, SourceFormat::Ini), "[formatter_f]", "");
}

#[test]
fn brace_attribute_and_index_traversal_is_refused() {
    for fmt in [
        "{name.__class__}",
        "{name.__class__.__init__.__globals__}",
        "{args[0]}",
        "{args[0].__class__}",
    ] {
        let text = format!(
            r#"{{"version": 1, "formatters": {{"f": {{"format": "{fmt}", "style": "{{"}}}}}}"#
        );
        assert_has(
            &trusted(&text, SourceFormat::Json),
            "formatters.f",
            "attribute and index lookups are not supported",
        );
    }
}

#[test]
fn cfg_cycles_and_deep_chains_are_refused() {
    let cycle = r#"{"version": 1, "a": "cfg://b", "b": "cfg://a",
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "cfg://a"}}}"#;
    assert_has(&trusted(cycle, SourceFormat::Json), "", "cycle");
    let self_ref = r#"{"version": 1, "handlers": "cfg://handlers"}"#;
    assert_has(&trusted(self_ref, SourceFormat::Json), "handlers", "cycle");
    let chain: Vec<String> = (0..50)
        .map(|i| format!(r#""k{i}": "cfg://k{}""#, i + 1))
        .collect();
    let deep = format!(
        r#"{{"version": 1, {}, "k50": 1, "root": {{"level": "cfg://k0"}}}}"#,
        chain.join(", ")
    );
    assert_has(&trusted(&deep, SourceFormat::Json), "", "deeper than");
    let mut parts = vec![r#""l0": [1, 2]"#.to_owned()];
    for i in 1..8 {
        parts.push(format!(
            r#""l{i}": [{}]"#,
            vec![format!(r#""cfg://l{}""#, i - 1); 20].join(",")
        ));
    }
    let wide = format!(r#"{{"version": 1, {}}}"#, parts.join(","));
    assert_has(&trusted(&wide, SourceFormat::Json), "", "expand");
}

#[test]
fn duplicate_keys_are_refused() {
    let json = r#"{"version": 1, "root": {"level": "INFO"}, "root": {"level": "DEBUG"}}"#;
    assert!(
        trusted(json, SourceFormat::Json)
            .to_string()
            .contains("duplicate")
    );
    let nested = r#"{"version": 1, "handlers": {"h": {"class": "logging.NullHandler", "class": "logging.StreamHandler"}}}"#;
    assert!(
        trusted(nested, SourceFormat::Json)
            .to_string()
            .contains("duplicate")
    );
    let yaml = "version: 1\nroot: {level: INFO}\nroot: {level: DEBUG}\n";
    assert!(
        trusted(yaml, SourceFormat::Yaml)
            .to_string()
            .to_lowercase()
            .contains("duplicate")
    );
    let ini = "[loggers]\nkeys=root\nkeys=x\n[handlers]\nkeys=\n[formatters]\nkeys=\n[logger_root]\nhandlers=\n";
    let err = trusted(ini, SourceFormat::Ini).to_string();
    assert!(
        err.contains("line 3") && err.contains("already exists"),
        "{err}"
    );
}

fn file_handler_doc(filename: &str) -> String {
    serde_json::json!({
        "version": 1,
        "handlers": {"f": {"class": "logging.FileHandler", "filename": filename}},
        "root": {"handlers": ["f"]},
    })
    .to_string()
}

#[test]
fn pushed_files_stay_beneath_the_root() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let pushed = || ContentPolicy::pushed(Some(root.path()), vec![]).unwrap();
    let cases = [
        ("../../etc/x", "contains '..'"),
        ("logs/../../x.log", "contains '..'"),
        ("/etc/passwd", "outside the file root"),
        (
            &format!("{}/x.log", outside.path().display()) as &str,
            "outside the file root",
        ),
        ("a\0b.log", "NUL"),
        ("", "empty"),
    ];
    for (name, why) in cases {
        let err = check(pushed(), &file_handler_doc(name), SourceFormat::Json);
        assert_has(&err, "handlers.f.filename", why);
    }
    std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("t.log"), root.path().join("t.log")).unwrap();
    for name in ["escape/x.log", "t.log"] {
        assert_has(
            &check(pushed(), &file_handler_doc(name), SourceFormat::Json),
            "handlers.f.filename",
            "symlink",
        );
    }
    let ini = format!(
        "[loggers]\nkeys=root\n[handlers]\nkeys=f\n[formatters]\nkeys=\n[logger_root]\nhandlers=f\n\
         [handler_f]\nclass=FileHandler\nargs=('{}/x.log',)\n",
        outside.path().display()
    );
    assert_has(
        &check(pushed(), &ini, SourceFormat::Ini),
        "[handler_f]",
        "outside the file root",
    );
    // Nothing was created anywhere.
    assert!(empty(outside.path()));
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left.len(),
        2,
        "only the two symlinks made by the test: {left:?}"
    );
}

#[test]
fn pushed_files_inside_the_root_are_allowed() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("logs")).unwrap();
    let tree = LoggerTree::new();
    let cfg = Configurator::new(
        HandlerRegistry::with_builtins(),
        ContentPolicy::pushed(Some(root.path()), vec![]).unwrap(),
    );
    cfg.apply_text(&tree, &file_handler_doc("logs/app.log"), SourceFormat::Json)
        .unwrap();
    tree.get_logger("x").warning("inside");
    assert_eq!(
        std::fs::read_to_string(root.path().join("logs/app.log")).unwrap(),
        "inside\n"
    );
}

#[test]
fn pushed_without_a_root_refuses_files_and_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}/x.log", dir.path().display());
    let err = check(
        ContentPolicy::pushed(None, vec![]).unwrap(),
        &file_handler_doc(&name),
        SourceFormat::Json,
    );
    assert_has(&err, "handlers.f.filename", "--file-root");
    assert!(empty(dir.path()));
}

#[test]
fn too_many_loggers_filters_and_formatters_are_capped() {
    let loggers: Vec<String> = (0..2000).map(|i| format!(r#""l{i}": {{}}"#)).collect();
    let text = format!(r#"{{"version": 1, "loggers": {{{}}}}}"#, loggers.join(","));
    assert_has(
        &trusted(&text, SourceFormat::Json),
        "loggers",
        "limit of 1024",
    );
    let long_format = format!(
        r#"{{"version": 1, "formatters": {{"f": {{"format": "{}"}}}}}}"#,
        "x".repeat(5000)
    );
    assert_has(
        &trusted(&long_format, SourceFormat::Json),
        "formatters.f.format",
        "longer than 4096",
    );
    let huge_capacity = r#"{"version": 1, "handlers": {"m": {"class": "logging.handlers.MemoryHandler", "capacity": 1000000000000}}}"#;
    assert_has(
        &trusted(huge_capacity, SourceFormat::Json),
        "handlers.m.capacity",
        "out of range",
    );
    let huge_queue = r#"{"version": 1, "handlers": {"q": {"class": "logging.handlers.QueueHandler", "handlers": [], "max_bytes": 1000000000000}}}"#;
    assert_has(
        &trusted(huge_queue, SourceFormat::Json),
        "handlers.q.max_bytes",
        "out of range",
    );
    let backups = r#"{"version": 1, "handlers": {"r": {"class": "logging.handlers.RotatingFileHandler", "filename": "/nonexistent/x", "backupCount": 100000000}}}"#;
    assert_has(
        &trusted(backups, SourceFormat::Json),
        "handlers.r.backupCount",
        "out of range",
    );
}

#[test]
fn handlers_referring_to_each_other_in_a_cycle_are_refused() {
    let text = r#"{"version": 1, "handlers": {
        "a": {"class": "logging.handlers.MemoryHandler", "capacity": 1, "target": "b"},
        "b": {"class": "logging.handlers.MemoryHandler", "capacity": 1, "target": "a"}}}"#;
    assert_has(&trusted(text, SourceFormat::Json), "handlers.a", "cycle");
    let self_target = r#"{"version": 1, "handlers": {"a": {"class": "logging.handlers.MemoryHandler", "capacity": 1, "target": "a"}}}"#;
    assert_has(
        &trusted(self_target, SourceFormat::Json),
        "handlers.a",
        "cycle",
    );
}
