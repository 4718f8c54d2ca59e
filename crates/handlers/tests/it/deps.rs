//! The point of the `config` feature: a program that only wants a `SocketHandler` builds
//! this crate with `default-features = false` and compiles neither tokio, rustls nor
//! logwire-config. Checked on the dependency graph cargo itself resolves (offline, from the
//! lock file), so a new dependency that drags them in fails here.

use std::process::Command;

fn normal_deps(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "logwire-handlers",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn without_default_features_no_tokio_rustls_or_config() {
    let tree = normal_deps(&["--no-default-features"]);
    let names = names(&tree);
    assert!(names.contains(&"logwire-wire"), "the tree was read: {tree}");
    for banned in ["tokio", "rustls", "tokio-rustls", "logwire-config"] {
        assert!(!names.contains(&banned), "{banned} in:\n{tree}");
    }
}

#[test]
fn the_config_feature_brings_the_config_crate() {
    // The check above is only worth something if the same query sees the config crate when
    // the feature is on.
    let tree = normal_deps(&[]);
    assert!(names(&tree).contains(&"logwire-config"), "{tree}");
}
