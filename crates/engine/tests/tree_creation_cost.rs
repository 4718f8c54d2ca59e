// A binary of its own (not a module of `tests/it`): it sets a counting `#[global_allocator]`
// for the whole process, which would count every other test's allocations too.
//! Making a logger costs memory linear in its name, never in the size of the tree (issue 13,
//! item 2). Before, every new logger copied the whole tree (each node, each name, the name
//! map) into a new snapshot, and each placeholder held its own copy of its prefix: 400 remote
//! names of 125 dotted parts cost 6.5 s of CPU and 53 MB.
//!
//! The measure is bytes allocated (dhat's heap statistics), which is deterministic, where a
//! timing would not be: the same 50 names must cost about the same whether the tree holds
//! 100 nodes or 100 000, and a name twice as long must cost about twice as much.

use logwire_engine::LoggerTree;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A name of 125 dotted parts, 254 bytes, sharing no prefix with the others (the worst case:
/// every part is a new node).
fn deep_name(i: usize, parts: usize) -> String {
    let mut s = format!("{i:06}");
    for _ in 1..parts {
        s.push_str(".a");
    }
    s
}

fn allocated() -> (u64, usize) {
    let s = dhat::HeapStats::get();
    (s.total_bytes, s.curr_bytes)
}

/// Bytes allocated and still held after making loggers `from..to`.
fn make(tree: &LoggerTree, from: usize, to: usize, parts: usize) -> (u64, usize) {
    let (t0, c0) = allocated();
    for i in from..to {
        tree.get_logger(&deep_name(i, parts));
    }
    let (t1, c1) = allocated();
    (t1 - t0, c1.saturating_sub(c0))
}

#[test]
fn creation_cost_does_not_grow_with_the_tree_and_is_linear_in_the_name() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let tree = LoggerTree::new();
    let (small_tree, _) = make(&tree, 0, 50, 125);
    make(&tree, 50, 800, 125);
    assert!(tree.snapshot().len() > 100_000);
    let (big_tree, held) = make(&tree, 800, 850, 125);
    eprintln!(
        "50 names of 125 parts: {small_tree} B allocated on an empty tree, {big_tree} B on a tree \
         of {} nodes, {held} B held",
        tree.snapshot().len()
    );
    // Copying the tree per logger made this ratio ~ (tree size / 50 names) = hundreds.
    assert!(
        big_tree < 3 * small_tree,
        "making 50 loggers cost {big_tree} B in a big tree, {small_tree} B in a small one"
    );
    // What stays is linear in the names: a few hundred bytes per node (125 nodes a name).
    assert!(held / 50 < 125 * 512, "{} B held per name", held / 50);

    // Twice the parts, about twice the bytes (per-prefix copies of the name made it 4×).
    let fresh = LoggerTree::new();
    let (short, _) = make(&fresh, 0, 20, 60);
    let (long, _) = make(&fresh, 20, 40, 120);
    eprintln!("20 names: {short} B at 60 parts, {long} B at 120 parts");
    assert!(long < 3 * short, "{long} B for 120 parts, {short} B for 60");
}
