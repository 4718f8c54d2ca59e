//! `logwire audit` run as a user runs it: exit status, the three formats, .gitignore, errors,
//! and `--fix` (diff, rewritten file that CPython still parses, idempotent).

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
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit status")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

const UNSAFE: &str = "import logging.config\n\nt = logging.config.listen(9999)\nt.start()\n";

#[test]
fn exit_status_is_0_clean_1_findings_2_io_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "clean.py",
        "import pickle\nprint(pickle.dumps(1))\n",
    );
    let clean = logwire(&["audit", dir.path().to_str().unwrap()]);
    assert_eq!(code(&clean), 0, "{}", stdout(&clean));
    assert!(stdout(&clean).contains("No findings in 1 file."));

    let bad = write(dir.path(), "bad.py", UNSAFE);
    let found = logwire(&["audit", dir.path().to_str().unwrap()]);
    assert_eq!(code(&found), 1);
    let text = stdout(&found);
    assert!(
        text.contains(&format!("{}:3:5: listen-no-verify ", bad.display())),
        "{text}"
    );
    assert!(
        text.contains("3 | t = logging.config.listen(9999)"),
        "{text}"
    );
    assert!(
        text.contains("= fix: replace it with logwire_helper.listen("),
        "{text}"
    );

    let missing = logwire(&["audit", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(code(&missing), 2);
    let err = stderr(&missing);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read") && err.contains("no such file or directory"),
        "{err}"
    );
}

#[test]
fn json_and_sarif_carry_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "r.py",
        "import pickle, socket\ns = socket.socket()\nobj = pickle.loads(s.recv(9))\n",
    );
    let out = logwire(&["audit", "--format", "json", f.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    let finding = &v["findings"][0];
    for key in [
        "rule", "path", "line", "column", "severity", "message", "fix",
    ] {
        assert!(!finding[key].is_null(), "no {key} in {finding}");
    }
    assert_eq!(finding["rule"], "pickle-receiver");
    assert_eq!(
        (finding["line"].as_u64(), finding["column"].as_u64()),
        (Some(3), Some(7))
    );
    assert_eq!(finding["severity"], "error");

    let out = logwire(&["audit", "--format", "sarif", f.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    for r in rules {
        assert!(
            r["help"]["text"].as_str().is_some_and(|t| !t.is_empty()),
            "{r}"
        );
        assert!(
            r["helpUri"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{r}"
        );
    }
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "pickle-receiver");
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "pickle-receiver"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
}

#[test]
fn gitignored_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), ".gitignore", "vendored/\n");
    write(dir.path(), "vendored/old.py", UNSAFE);
    write(dir.path(), "app/main.py", UNSAFE);
    let out = logwire(&["audit", "--format", "json", dir.path().to_str().unwrap()]);
    let v = json(&out);
    let paths: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].ends_with("app/main.py"), "{paths:?}");
}

fn python_parses(path: &Path) -> bool {
    let status = Command::new("python3")
        .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
        .arg(path)
        .status()
        .expect("python3 runs");
    status.success()
}

#[test]
fn fix_rewrites_listen_prints_a_diff_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let src = "\"\"\"Config server.\"\"\"\nimport logging\nimport logging.config\nimport time\n\n\
               def weak(b):\n    print(b)\n    return b\n\n\
               t = logging.config.listen(9999)\nu = logging.config.listen(port=9998, verify=weak)\n\
               logging.config.listen(9997, verify=real_check)\n";
    let f = write(dir.path(), "server.py", src);
    let out = logwire(&["audit", "--fix", f.to_str().unwrap()]);
    let text = stdout(&out);
    // The verified call is left alone and still reported; the two others are gone.
    assert_eq!(code(&out), 1, "{text}");
    let header = format!("--- a/{}", f.display().to_string().trim_start_matches('/'));
    assert!(text.contains(&header), "{text}");
    assert!(text.contains("-t = logging.config.listen(9999)"), "{text}");
    assert!(text.contains("+import logwire_helper"), "{text}");
    assert!(text.contains("listen-verified"), "{text}");
    assert!(
        !text.contains("listen-no-verify") && !text.contains("listen-weak-verify"),
        "{text}"
    );

    let fixed = std::fs::read_to_string(&f).unwrap();
    assert!(
        fixed.contains("import time\nimport logwire_helper\n"),
        "{fixed}"
    );
    assert!(
        fixed.contains("t = logwire_helper.listen(9999, keys=[\"FIXME-logwire"),
        "{fixed}"
    );
    assert!(
        fixed.contains("u = logwire_helper.listen(9998, keys=["),
        "{fixed}"
    );
    assert!(fixed.contains("state_file=\"FIXME-logwire"), "{fixed}");
    assert!(
        fixed.contains("logging.config.listen(9997, verify=real_check)"),
        "{fixed}"
    );
    assert!(
        python_parses(&f),
        "CPython cannot parse the fixed file:\n{fixed}"
    );

    let again = logwire(&["audit", "--fix", f.to_str().unwrap()]);
    assert!(!stdout(&again).contains("--- a/"), "{}", stdout(&again));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        fixed,
        "a second --fix changed the file"
    );
}

#[test]
fn errors_only_leaves_out_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "s.py",
        "import logging.handlers\nh = logging.handlers.SocketHandler('logs.example.com', 9020)\n",
    );
    assert_eq!(code(&logwire(&["audit", f.to_str().unwrap()])), 1);
    let quiet = logwire(&["audit", "--errors-only", f.to_str().unwrap()]);
    assert_eq!(code(&quiet), 0, "{}", stdout(&quiet));
    write(dir.path(), "l.py", UNSAFE);
    let out = logwire(&[
        "audit",
        "--errors-only",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1);
    let rules: Vec<String> = json(&out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rules, ["listen-no-verify"]);
}
