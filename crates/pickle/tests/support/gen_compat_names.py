"""Prints crates/pickle/src/compat_names.rs: CPython's _compat_pickle tables as Rust.

    python3 crates/pickle/tests/support/gen_compat_names.py > crates/pickle/src/compat_names.rs

The test compat_names.rs runs this and compares its output with the checked-in file.
"""
import sys
import _compat_pickle as c

out = sys.stdout.write
out("//! CPython's `_compat_pickle` tables (Python 2 names a protocol < 3 pickle may name,\n")
out("//! mapped to Python 3 names), sorted for binary search.\n")
out("//!\n")
out("//! Generated, do not edit: `python3 crates/pickle/tests/support/gen_compat_names.py >\n")
out("//! crates/pickle/src/compat_names.rs`; the `compat_names` test checks the file against the\n")
out("//! python3 it runs.\n\n")
out("/// A `(module, name)` pair.\n")
out("pub(crate) type ClassName = (&'static str, &'static str);\n\n")
out("/// `_compat_pickle.NAME_MAPPING`: `((module, name), (module, name))`, sorted by key.\n")
out("#[rustfmt::skip]\npub(crate) static NAME_MAPPING: &[(ClassName, ClassName)] = &[\n")
for (m, n), (m3, n3) in sorted(c.NAME_MAPPING.items()):
    out('    (("%s", "%s"), ("%s", "%s")),\n' % (m, n, m3, n3))
out("];\n\n")
out("/// `_compat_pickle.IMPORT_MAPPING`: `(module, module)`, sorted by key.\n")
out("#[rustfmt::skip]\npub(crate) static IMPORT_MAPPING: &[(&str, &str)] = &[\n")
for m, m3 in sorted(c.IMPORT_MAPPING.items()):
    out('    ("%s", "%s"),\n' % (m, m3))
out("];\n")
