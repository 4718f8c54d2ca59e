//! `logwire check` run as a user runs it: the built binary on files, checking exit status
//! and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn logwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logwire"))
        .args(args)
        .output()
        .expect("run logwire")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit status")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

const VALID_JSON: &str = r#"{"version": 1,
    "formatters": {"f": {"format": "%(levelname)s %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
    "loggers": {"app": {"level": "DEBUG"}},
    "root": {"level": "INFO", "handlers": ["out"]}}"#;

const VALID_INI: &str = "[loggers]\nkeys=root\n\n[handlers]\nkeys=h\n\n[formatters]\nkeys=\n\n\
                         [logger_root]\nlevel=INFO\nhandlers=h\n\n[handler_h]\nclass=StreamHandler\nargs=(sys.stdout,)\n";

fn file_config(filename: &str) -> String {
    serde_json::json!({"version": 1,
        "handlers": {"f": {"class": "logging.FileHandler", "filename": filename}},
        "root": {"handlers": ["f"]}})
    .to_string()
}

#[test]
fn valid_files_of_every_format_exit_0_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "version: 1\nhandlers:\n  h: {class: logging.NullHandler}\nroot: {handlers: [h]}\n";
    let toml =
        "version = 1\n[handlers.h]\nclass = \"logging.NullHandler\"\n[root]\nhandlers = [\"h\"]\n";
    for (name, text, format) in [
        ("a.json", VALID_JSON, "json"),
        ("a.yaml", yaml, "yaml"),
        ("a.toml", toml, "toml"),
        ("a.ini", VALID_INI, "ini"),
        ("pushed.conf.d", VALID_JSON, "json"),
        ("noext", VALID_INI, "ini"),
    ] {
        let p = write(dir.path(), name, text);
        let out = logwire(&["check", p.to_str().unwrap()]);
        assert_eq!(
            code(&out),
            0,
            "{name}: {}{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout(&out).contains(&format!("valid ({format})")),
            "{name}: {}",
            stdout(&out)
        );
        let out = logwire(&["check", "--json", p.to_str().unwrap()]);
        let v = json(&out);
        assert_eq!(v["valid"], true);
        assert_eq!(v["format"], format, "{name}");
        assert_eq!(v["errors"], serde_json::json!([]));
    }
    let out = logwire(&[
        "check",
        write(dir.path(), "b.json", VALID_JSON).to_str().unwrap(),
    ]);
    assert!(
        stdout(&out).contains("1 handler, 1 logger and the root logger"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("writes no files"));
}

#[test]
fn invalid_file_exits_1_with_every_error_and_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"{"version": 1,
        "handlers": {"h1": {"class": "logging.StreamHandler", "level": "NTOSET"},
                     "h2": {"class": "logging.StreamHandler", "stream": "ext://sys.stdbout"}},
        "root": {"level": "WRANING"}}"#;
    let p = write(dir.path(), "bad.json", bad);
    let out = logwire(&["check", p.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one error per line:\n{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("handlers.h1.level: unknown level 'NTOSET'")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("handlers.h2.stream: ext://sys.stdbout is not allowed")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("root.level: unknown level 'WRANING'")),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 errors"));

    let out = logwire(&["check", "--json", p.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["format"], "json");
    let places: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["place"].as_str().unwrap())
        .collect();
    assert_eq!(places.len(), 3);
    assert!(
        places.contains(&"handlers.h1.level") && places.contains(&"root.level"),
        "{places:?}"
    );
}

#[test]
fn code_running_constructs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let factory = write(
        dir.path(),
        "f.json",
        r#"{"version": 1, "filters": {"x": {"()": "os.system", "command": "id"}}}"#,
    );
    let out = logwire(&["check", factory.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("filters.x.(): '()' factories are not allowed"),
        "{}",
        stdout(&out)
    );
    let ini = VALID_INI.replace(
        "args=(sys.stdout,)",
        "args=(__import__('os').system('id'),)",
    );
    let out = logwire(&["check", write(dir.path(), "e.ini", &ini).to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("[handler_h] args: not a Python literal"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn syntax_errors_are_invalid_not_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("s.json", "{\"version\": 1,"),
        ("s.yaml", "version: [1"),
        ("s.ini", "no section\n"),
        ("e.ini", ""),
    ] {
        let out = logwire(&["check", write(dir.path(), name, text).to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{name}");
        assert!(
            stdout(&out).contains(": document: "),
            "{name}: {}",
            stdout(&out)
        );
    }
    let p = dir.path().join("bin.json");
    std::fs::write(&p, b"{\"version\": 1, \"x\": \"\xff\"}").unwrap();
    let out = logwire(&["check", p.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("not UTF-8"), "{}", stdout(&out));
}

#[test]
fn unreadable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let out = logwire(&["check", missing.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    let out = logwire(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 2, "a directory is not a config file");
    let out = logwire(&["check", "--json", missing.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["valid"], false);
    let out = logwire(&[
        "check",
        "--policy-file-root",
        missing.to_str().unwrap(),
        "x.json",
    ]);
    assert_eq!(
        code(&out),
        2,
        "a missing file root cannot be checked against"
    );
}

#[test]
fn oversized_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.json");
    // Sparse: 64 MiB that are never written; reading it whole would be slow and pointless.
    std::fs::File::create(&p)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let started = std::time::Instant::now();
    let out = logwire(&["check", p.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("document: 67108864 bytes is more than the limit of 1048576"),
        "{}",
        stdout(&out)
    );
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn file_handlers_under_each_policy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let inside = write(dir.path(), "inside.json", &file_config("app.log"));
    let escape = write(dir.path(), "escape.json", &file_config("../../etc/x"));
    let absolute = write(dir.path(), "abs.json", &file_config("/etc/passwd"));

    // Trusted (the default): files anywhere, listed in the summary; nothing is created.
    let out = logwire(&["check", absolute.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("writes /etc/passwd"),
        "{}",
        stdout(&out)
    );

    // Pushed without a root: file handlers refused, the error says how to allow them.
    let out = logwire(&["check", "--pushed", inside.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("handlers.f.filename: file handlers are not allowed"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("--file-root"));

    // Pushed with a root: beneath it only.
    let r = root.to_str().unwrap();
    let out = logwire(&[
        "check",
        "--policy-file-root",
        r,
        "--json",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let v = json(&out);
    let canonical = root.canonicalize().unwrap().join("app.log");
    assert_eq!(v["files"], serde_json::json!([canonical.to_str().unwrap()]));
    for (p, why) in [
        (&escape, "contains '..'"),
        (&absolute, "outside the file root"),
    ] {
        let out = logwire(&["check", "--policy-file-root", r, p.to_str().unwrap()]);
        assert_eq!(code(&out), 1);
        assert!(stdout(&out).contains(why), "{}", stdout(&out));
    }
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "check created a file"
    );
}

#[test]
fn help_teaches_with_examples() {
    let out = logwire(&["check", "--help"]);
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    for needle in [
        "Examples:",
        "--policy-file-root",
        "--pushed",
        "--json",
        "Exit status: 0 valid, 1 invalid, 2",
    ] {
        assert!(help.contains(needle), "help lacks '{needle}':\n{help}");
    }
}

#[test]
fn cpython_test_configs_check_as_cpython_decides() {
    // The CPython configs of the config crate's corpus: those CPython rejects (and those
    // logwire deliberately refuses) are invalid, the plain ones valid.
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/corpus/cpython");
    for (name, valid) in [
        ("dict_config0.json", true),
        ("dict_config10.json", true),
        ("dict_config11.json", true),
        ("file_config1.ini", true),
        ("file_config7.ini", true),
        ("dict_config2.json", false),
        ("dict_config2a.json", false),
        ("dict_config3.json", false),
        ("dict_config12.json", false),
        ("dict_config4.json", false),
        ("file_config2.ini", false),
        ("file_config3.ini", false),
    ] {
        let out = logwire(&["check", corpus.join(name).to_str().unwrap()]);
        assert_eq!(
            code(&out),
            if valid { 0 } else { 1 },
            "{name}: {}",
            stdout(&out)
        );
    }
}
