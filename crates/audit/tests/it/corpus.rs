//! The corpus under `testdata/audit/`: real public Python files (sources in SOURCES.md), each
//! with its expected findings in `expected.json`. Every finding must be expected and every
//! expected finding must be found; a file without an entry fails the test, so a new corpus
//! file cannot be silently unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use logwire_audit::audit_source;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/audit")
}

type Site = (String, usize, usize);

fn expected() -> BTreeMap<String, BTreeSet<Site>> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json"))
        .expect("expected.json is readable");
    let v: serde_json::Value = serde_json::from_str(&text).expect("expected.json is JSON");
    let mut out = BTreeMap::new();
    for (file, list) in v.as_object().expect("an object of files") {
        let sites = list
            .as_array()
            .expect("a list per file")
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().expect("rule").to_string(),
                    f["line"].as_u64().expect("line") as usize,
                    f["column"].as_u64().expect("column") as usize,
                )
            })
            .collect();
        out.insert(file.clone(), sites);
    }
    out
}

#[test]
fn every_corpus_file_has_expectations_and_meets_them() {
    let expected = expected();
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("testdata/audit exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".py"))
        .collect();
    files.sort();
    let listed: Vec<String> = expected.keys().cloned().collect();
    assert_eq!(
        files, listed,
        "the corpus files and the entries of expected.json differ"
    );

    let mut failures = Vec::new();
    let (mut positives, mut negatives) = (0, 0);
    for file in &files {
        let src = std::fs::read(corpus_dir().join(file)).expect("corpus file is readable");
        let found: BTreeSet<Site> = audit_source(file, &src)
            .into_iter()
            .map(|f| (f.rule.id().to_string(), f.line, f.column))
            .collect();
        let want = &expected[file];
        if want.is_empty() {
            negatives += 1;
        } else {
            positives += 1;
        }
        for missed in want.difference(&found) {
            failures.push(format!("{file}: missed {missed:?}"));
        }
        for extra in found.difference(want) {
            failures.push(format!("{file}: unexpected {extra:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "corpus mismatches:\n{}",
        failures.join("\n")
    );
    // The corpus must keep both kinds, or the test proves only half of the claim.
    assert!(
        positives >= 10 && negatives >= 5,
        "{positives} positive and {negatives} negative files"
    );
}

#[test]
fn every_rule_of_the_corpus_kinds_is_exercised() {
    let rules: BTreeSet<String> = expected()
        .values()
        .flatten()
        .map(|(r, _, _)| r.clone())
        .collect();
    for r in [
        "listen-no-verify",
        "listen-weak-verify",
        "pickle-receiver",
        "cleartext-record-sender",
    ] {
        assert!(rules.contains(r), "no corpus file expects {r}");
    }
}
