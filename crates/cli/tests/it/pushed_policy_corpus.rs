//! The pushed-policy conformance corpus (`testdata/pushed-policy/`): every config gets the
//! verdict `cases.json` gives it from `logwire check --pushed` (or `--policy-file-root DIR`
//! when the case has a file root), which applies the config listener's policy and registry.
//! Where `check` is known to accept what the listener refuses (a case's `"check"`, only what a
//! handler's constructor refuses: check prepares handlers without building them), check must
//! still say so and the listener's path (prepare and build) must refuse.
//!
//! The Python helper's verifier runs the same corpus (`python/tests/test_policy_corpus.py`),
//! so the two implementations of the policy cannot drift apart: a change to either that
//! changes a verdict fails one of the two tests.

use crate::common;

use logwire_config::{ContentPolicy, SourceFormat};
use logwire_engine::LoggerTree;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pushed-policy")
}

#[test]
fn every_case_gets_its_verdict_from_check_pushed() {
    let dir = corpus_dir();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).expect("cases.json"))
            .expect("cases.json is JSON");
    let cases = manifest["cases"].as_array().expect("a list of cases");
    // A corpus that lost its cases, or all of one verdict, could not catch a drift.
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let verdict = |want: &str| cases.iter().filter(|c| c["verdict"] == want).count();
    assert!(verdict("accept") >= 10 && verdict("reject") >= 30);

    let root = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for c in cases {
        let file = dir.join(c["file"].as_str().expect("file"));
        let mut cmd = common::logwire();
        cmd.args(["check", "--json"]);
        if c["root"].as_bool().expect("root") {
            cmd.arg("--policy-file-root").arg(root.path());
        } else {
            cmd.arg("--pushed");
        }
        let out = cmd.arg(&file).output().expect("run logwire check");
        let got = match out.status.code() {
            Some(0) => "accept",
            Some(1) => "reject",
            other => panic!(
                "{}: check could not run ({other:?}): {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
        };
        let want = c["verdict"].as_str().expect("verdict");
        // "check": what `logwire check` says where it is known to differ from the listener
        // (it prepares handlers but does not build them, so what only a handler's
        // constructor refuses passes it); the listener's own verdict is checked below.
        let want_check = match c.get("check") {
            None => want,
            Some(v) => {
                assert!(
                    v == "accept" && want == "reject" && c["check_why"].is_string(),
                    "{}: a check override is a documented gap: check accepts, the listener \
                     refuses, check_why says why",
                    c["file"]
                );
                "accept"
            }
        };
        if got != want_check {
            wrong.push(format!(
                "{} ({}): want {want_check} from check, got {got}: {}",
                c["file"],
                c["why"],
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        }
        if c.get("check").is_some() {
            // The listener's path: prepare and build (a failed build leaves the tree as it
            // was), with the policy `check --pushed` / `--policy-file-root` applies.
            let file_root = c["root"].as_bool().expect("root").then(|| root.path());
            let policy = ContentPolicy::pushed(file_root, vec![]).expect("pushed policy");
            let text = std::fs::read_to_string(&file).expect("corpus file");
            let applied = logwire_handlers::configurator(policy).apply_text(
                &LoggerTree::new(),
                &text,
                SourceFormat::for_path(&file),
            );
            if let Ok(report) = applied {
                wrong.push(format!(
                    "{} ({}): want reject from the listener, it applied: {report:?}",
                    c["file"], c["why"]
                ));
            }
        }
    }
    // Checking creates nothing, even for the accepted file handlers.
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    assert!(wrong.is_empty(), "verdicts differ:\n{}", wrong.join("\n"));
}
