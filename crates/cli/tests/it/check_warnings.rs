//! Issue 16 item 4, as a user sees it: `logwire check` accepts values CPython reads by
//! truth and warns where that meaning may surprise (`"propagate": "False"` is true).

use std::process::Command;

#[test]
fn check_accepts_truthy_strings_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.json");
    std::fs::write(
        &path,
        r#"{"version": 1, "handlers": {"h": {"class": "logging.StreamHandler"}},
            "loggers": {"app": {"propagate": "False", "handlers": ["h"]}}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning: loggers.app.propagate: 'False' is a non-empty string"),
        "{stdout}"
    );
    assert!(stdout.contains("valid (json)"), "{stdout}");
    let json = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .args(["check", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["warnings"][0]["place"], "loggers.app.propagate");
}
