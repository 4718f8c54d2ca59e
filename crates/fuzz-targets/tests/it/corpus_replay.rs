//! Replays every checked-in seed corpus file (fuzz/corpus/<target>/) through every target
//! function, on stable: the same budget assertions the cargo-fuzz runs make, in seconds.
//! Feeding each target the other targets' files too costs little and widens the input mix.

use std::fs;
use std::path::PathBuf;

use logwire_fuzz_targets::TARGETS;

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn files_of(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_root().join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = fs::read(&p).expect("read corpus file");
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_every_target() {
    let mut all = Vec::new();
    for (name, _) in TARGETS {
        let files = files_of(name);
        assert!(!files.is_empty(), "corpus of {name} is empty");
        all.extend(files);
    }
    for (name, target) in TARGETS {
        for (path, bytes) in &all {
            let result = std::panic::catch_unwind(|| target(bytes));
            assert!(result.is_ok(), "target {name} failed on {}", path.display());
        }
    }
}
