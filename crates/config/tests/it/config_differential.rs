//! Differential corpus: every document in `tests/corpus/diff/` is applied by CPython
//! (`dictConfig`/`fileConfig` in a `python3` subprocess) and by logwire, the same calls are
//! logged, and the accept/reject decision, the output lines, logger states and file contents
//! must be equal.
//!
//! Each `NAME.{json,yaml,toml,ini}` has a `NAME.calls` file:
//! ```text
//! expect: accept|reject         what CPython does (checked, so the corpus cannot rot)
//! deliberate: TEXT              logwire rejects on purpose; its error must contain TEXT
//! exists: a b.c                 loggers created before the config is applied
//! state: a b                    logger states compared after applying
//! file: x.log                   file contents compared at the end (@TMP@ in the config)
//! log: LOGGER LEVEL MESSAGE     LEVEL is a name or a number; LOGGER `root` is the root
//! ```

use crate::common;

use common::*;
use std::path::PathBuf;

struct Case {
    name: String,
    scenario: Scenario,
    expect_accept: bool,
    deliberate: Option<String>,
}

fn level_of(word: &str) -> i32 {
    match word {
        "DEBUG" => DEBUG,
        "INFO" => INFO,
        "WARNING" => WARNING,
        "ERROR" => ERROR,
        "CRITICAL" => CRITICAL,
        n => n
            .parse()
            .unwrap_or_else(|_| panic!("bad level '{n}' in corpus")),
    }
}

fn load_case(config: &PathBuf) -> Case {
    let name = config.file_stem().unwrap().to_string_lossy().into_owned();
    let fmt = Fmt::from_ext(config.extension().unwrap().to_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(config).unwrap();
    let calls = std::fs::read_to_string(config.with_extension("calls"))
        .unwrap_or_else(|e| panic!("{name}: every corpus document needs a .calls file: {e}"));
    let (mut exists, mut states, mut files, mut logs) = (vec![], vec![], vec![], vec![]);
    let (mut expect_accept, mut deliberate) = (None, None);
    for line in calls
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (key, rest) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}: bad line '{line}'"));
        let rest = rest.trim();
        match key {
            "expect" => expect_accept = Some(rest == "accept"),
            "deliberate" => deliberate = Some(rest.to_owned()),
            "exists" => exists.extend(rest.split_whitespace().map(str::to_owned)),
            "state" => states.extend(rest.split_whitespace().map(str::to_owned)),
            "file" => files.push(rest.to_owned()),
            "log" => {
                let mut parts = rest.splitn(3, ' ');
                let logger = parts.next().unwrap().to_owned();
                let level = level_of(parts.next().unwrap());
                logs.push((logger, level, parts.next().unwrap_or("").to_owned()));
            }
            other => panic!("{name}: unknown key '{other}'"),
        }
    }
    let mut scenario = Scenario::new();
    for e in &exists {
        scenario = scenario.touch(e);
    }
    scenario = scenario.apply(fmt, &text);
    for s in &states {
        scenario = scenario.state(s);
    }
    for (logger, level, msg) in &logs {
        scenario = scenario.log(logger, *level, msg);
    }
    for f in &files {
        scenario = scenario.file(f);
    }
    Case {
        name,
        scenario,
        expect_accept: expect_accept.expect("every .calls needs 'expect:'"),
        deliberate,
    }
}

fn corpus_cases() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/diff");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .and_then(Fmt::from_ext)
                .is_some()
        })
        .collect();
    paths.sort();
    paths.iter().map(load_case).collect()
}

#[test]
fn corpus_matches_cpython() {
    let cases = corpus_cases();
    assert!(
        cases.len() >= 30,
        "the corpus should have 30+ documents, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    let (mut accepted, mut rejected, mut deliberate) = (0, 0, 0);
    for case in &cases {
        let py = run_python(&case.scenario);
        let lw = run_logwire(&case.scenario);
        let py_ok = py.applies[0].is_ok();
        if py_ok != case.expect_accept {
            failures.push(format!(
                "{}: CPython {} it, the corpus says otherwise: {:?}",
                case.name,
                verb(py_ok),
                py.applies[0]
            ));
            continue;
        }
        if let Some(why) = &case.deliberate {
            deliberate += 1;
            match &lw.applies[0] {
                Ok(()) => failures.push(format!(
                    "{}: logwire accepted it, but must refuse ({why})",
                    case.name
                )),
                Err(e) if !e.contains(why.as_str()) => {
                    failures.push(format!("{}: error should contain '{why}': {e}", case.name))
                }
                Err(_) => {}
            }
            continue;
        }
        if lw.applies[0].is_ok() != py_ok {
            failures.push(format!(
                "{}: logwire {} it, CPython {} it\n  logwire: {:?}\n  cpython: {:?}",
                case.name,
                verb(lw.applies[0].is_ok()),
                verb(py_ok),
                lw.applies[0],
                py.applies[0]
            ));
            continue;
        }
        if py_ok {
            accepted += 1;
        } else {
            rejected += 1;
        }
        if lw.stdout != py.stdout {
            failures.push(format!(
                "{}: output differs\n  logwire: {:?}\n  cpython: {:?}",
                case.name, lw.stdout, py.stdout
            ));
        }
        if lw.observations != py.observations {
            failures.push(format!(
                "{}: state differs\n  logwire: {:?}\n  cpython: {:?}",
                case.name, lw.observations, py.observations
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "corpus: {accepted} accepted alike, {rejected} rejected alike, {deliberate} deliberately rejected"
    );
    assert!(accepted >= 20 && rejected >= 5 && deliberate >= 3);
}

fn verb(ok: bool) -> &'static str {
    if ok { "accepted" } else { "rejected" }
}

/// A case that logs nothing proves little: most accepted cases must produce output.
#[test]
fn corpus_cases_produce_output() {
    let silent: Vec<String> = corpus_cases()
        .into_iter()
        .filter(|c| c.expect_accept && c.deliberate.is_none())
        .filter(|c| {
            let out = run_logwire(&c.scenario);
            out.stdout.is_empty() && out.observations.is_empty()
        })
        .map(|c| c.name)
        .collect();
    assert!(
        silent.len() <= 2,
        "accepted corpus cases with no output at all: {silent:?}"
    );
}
