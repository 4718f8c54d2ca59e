//! `--fix` on the shapes of real files: header comments, docstrings, `__future__` imports,
//! no imports at all, a helper already imported, a port keyword or none, and Python 2.

use logwire_audit::{audit_source, fix, syntax_errors};

fn fixed(src: &str) -> String {
    let out = fix::fix_source(src.as_bytes(), &audit_source("t.py", src.as_bytes()))
        .expect("the fix applies")
        .expect("there is something to fix");
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        syntax_errors(text.as_bytes()),
        syntax_errors(src.as_bytes()),
        "{text}"
    );
    assert!(
        audit_source("t.py", text.as_bytes()).is_empty(),
        "still a finding in:\n{text}"
    );
    let again = fix::fix_source(text.as_bytes(), &audit_source("t.py", text.as_bytes())).unwrap();
    assert_eq!(again, None, "a second fix changes:\n{text}");
    text
}

#[test]
fn the_import_goes_after_the_docstring_and_the_leading_imports() {
    let src = "# Licence header\n# coding: utf-8\n\"\"\"Module docstring.\"\"\"\nimport logging\nimport logging.config\n\nt = logging.config.listen(9999)\n";
    let out = fixed(src);
    assert!(out.starts_with("# Licence header\n# coding: utf-8\n\"\"\"Module docstring.\"\"\"\nimport logging\nimport logging.config\nimport logwire_helper\n"), "{out}");
}

#[test]
fn future_imports_stay_first_and_a_file_without_imports_gets_one() {
    let out = fixed(
        "from __future__ import print_function\nfrom logging.config import listen\nlisten(1)\n",
    );
    assert!(out.starts_with("from __future__ import print_function\nfrom logging.config import listen\nimport logwire_helper\n"), "{out}");
    // No import of logging at all in the file's leading run: a function imports it.
    let out = fixed(
        "\"\"\"Doc.\"\"\"\ndef main():\n    import logging.config\n    logging.config.listen(1)\n",
    );
    assert!(
        out.starts_with("\"\"\"Doc.\"\"\"\nimport logwire_helper\ndef main():"),
        "{out}"
    );
}

#[test]
fn an_existing_helper_import_is_not_repeated() {
    let out = fixed(
        "import logwire_helper\nimport logging.config\nlogging.config.listen(1, verify=None)\n",
    );
    assert_eq!(out.matches("import logwire_helper").count(), 1, "{out}");
}

#[test]
fn the_port_is_kept_and_defaults_to_cpython_s() {
    let out =
        fixed("import logging.config\nt = logging.config.listen(port=PORT, verify=lambda b: b)\n");
    assert!(
        out.contains("t = logwire_helper.listen(PORT, keys=["),
        "{out}"
    );
    let out = fixed("import logging.config\nt = logging.config.listen()\n");
    assert!(
        out.contains("t = logwire_helper.listen(9030, keys=["),
        "{out}"
    );
}

#[test]
fn python2_files_are_fixed_without_new_syntax_errors() {
    let out = fixed("import logging.config\nprint 'listening'\nt = logging.config.listen(9999)\n");
    assert!(
        out.contains("print 'listening'\nt = logwire_helper.listen(9999"),
        "{out}"
    );
}

#[test]
fn verified_calls_are_left_alone() {
    let src = "import logging.config\nlogging.config.listen(1, verify=check)\n";
    assert_eq!(
        fix::fix_source(src.as_bytes(), &audit_source("t.py", src.as_bytes())).unwrap(),
        None
    );
}
