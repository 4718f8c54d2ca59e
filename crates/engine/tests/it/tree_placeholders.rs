//! The tree made incrementally (a logger at a time, placeholders turned into loggers in any
//! order) agrees with CPython's definition: a logger's parent is its longest dotted prefix
//! that is a logger, and its effective level the first level set up that chain.

use logwire_engine::{LoggerTree, level};
use proptest::prelude::*;

/// CPython's `_fixupParents` prefixes: `name[:i]` for every `.` at `i > 0`.
fn prefixes(name: &str) -> Vec<&str> {
    name.char_indices()
        .filter(|&(i, c)| c == '.' && i > 0)
        .map(|(i, _)| &name[..i])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn parents_and_levels_match_cpython(
        names in proptest::collection::vec("[ab.]{1,7}", 1..24),
        levels in proptest::collection::vec(0usize..4, 24),
    ) {
        let tree = LoggerTree::new();
        let mut made: Vec<String> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let l = tree.get_logger(n);
            // Every other logger gets a level: creation after a level is set must inherit it.
            if levels[i] == 1 {
                l.set_level(level::ERROR);
            }
            made.push(n.clone());
            let snap = tree.snapshot();
            for m in &made {
                if m == "root" {
                    continue;
                }
                let node = snap.get(m).expect("made");
                prop_assert!(!node.is_placeholder());
                let want_parent = prefixes(m)
                    .into_iter()
                    .rev()
                    .find(|p| snap.get(p).is_some_and(|n| !n.is_placeholder()))
                    .unwrap_or("root");
                prop_assert_eq!(snap.parent(node).unwrap().name(), want_parent, "parent of {}", m);
                let mut chain = vec![m.as_str()];
                chain.extend(prefixes(m).into_iter().rev());
                let want_level = chain
                    .iter()
                    .filter_map(|p| snap.get(p))
                    .filter(|n| !n.is_placeholder())
                    .map(|n| n.level())
                    .find(|&l| l != level::NOTSET)
                    .unwrap_or(level::WARNING);
                prop_assert_eq!(node.effective_level(), want_level, "level of {}", m);
                prop_assert_eq!(tree.get_logger(m).effective_level(), want_level);
                prop_assert_eq!(
                    tree.get_logger(m).is_enabled_for(level::ERROR),
                    true
                );
                prop_assert_eq!(
                    tree.get_logger(m).is_enabled_for(level::WARNING),
                    want_level <= level::WARNING
                );
            }
            // Every prefix of a made name exists (as a placeholder or a logger).
            for m in &made {
                for p in prefixes(m) {
                    prop_assert!(snap.get(p).is_some(), "prefix {} of {}", p, m);
                }
            }
        }
    }
}

#[test]
fn a_budget_bounds_the_nodes_made_and_nearest_logger_is_the_longest_logger_prefix() {
    let tree = LoggerTree::new();
    tree.get_logger("app");
    let mut budget = 5;
    // 4 parts below "app": 4 nodes (3 placeholders and the logger).
    assert!(tree.get_logger_within("app.a.b.c.d", &mut budget).is_some());
    assert_eq!(budget, 1);
    // 2 new nodes needed, 1 left: refused, and nothing is made.
    let before = tree.snapshot().len();
    assert!(tree.get_logger_within("app.x.y", &mut budget).is_none());
    assert_eq!(tree.snapshot().len(), before);
    assert_eq!(budget, 1);
    // An existing logger costs nothing; turning a placeholder into a logger costs one.
    assert!(tree.get_logger_within("app", &mut budget).is_some());
    assert!(tree.get_logger_within("app.a.b", &mut budget).is_some());
    assert_eq!(budget, 0);
    assert_eq!(tree.nearest_logger("app.a.b.c.zzz").name(), "app.a.b");
    assert_eq!(tree.nearest_logger("app.a.b.c.d.e").name(), "app.a.b.c.d");
    assert_eq!(tree.nearest_logger("app.x.y").name(), "app");
    assert_eq!(tree.nearest_logger("other").name(), "root");
    assert_eq!(tree.nearest_logger("app.a.b").name(), "app.a.b");
}
