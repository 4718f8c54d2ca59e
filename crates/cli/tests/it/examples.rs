//! The files in `examples/` and the commands the README shows, run as a user would: each
//! collector config routes CPython `SocketHandler` records into its files, the app config
//! is one CPython's `fileConfig` loads and sends with, and the README's Python one-liner runs
//! when pasted (it once failed with an IndentationError).

use crate::common;

use common::{BIN, Serve, WAIT, logwire};
use logwire_test_support::python;
use logwire_test_support::wait::poll_until;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// A wrapper that runs serve in `dir`, where the example configs' relative file names land.
fn in_dir(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let wrapper = dir.join("serve-here.sh");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\ncd '{}' && exec '{BIN}' \"$@\"\n", dir.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

fn python_send(port: u16) {
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('shop.orders'); l.propagate = False; l.setLevel(logging.DEBUG)\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  l.info('order %d placed', 42)\n\
                  l.error('payment for order %d failed', 43)\n\
                  hd.close()\n";
    let status = python::script(script, [port.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn every_collector_example_routes_records_into_its_files() {
    for name in ["collector.json", "collector.yaml", "collector.toml"] {
        let config = examples().join(name);
        let out = logwire().arg("check").arg(&config).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );

        let dir = tempfile::tempdir().unwrap();
        let mut s = Serve::start_via(
            &in_dir(dir.path()),
            &["--tcp", "127.0.0.1:0", "--config", config.to_str().unwrap()],
        );
        python_send(s.tcp().port());
        let all = dir.path().join("collector.log");
        let errors = dir.path().join("errors.log");
        let arrived = poll_until(WAIT, || {
            std::fs::read_to_string(&errors).is_ok_and(|t| t.contains("payment for order 43"))
        });
        assert!(s.terminate().0.success());
        assert!(arrived, "{name}: errors.log");
        let all = std::fs::read_to_string(&all).unwrap();
        assert!(
            all.contains("INFO     shop.orders [") && all.contains("] order 42 placed"),
            "{name}: {all}"
        );
        assert!(all.contains("ERROR    shop.orders ["), "{name}: {all}");
        let errors = std::fs::read_to_string(&errors).unwrap();
        assert!(
            !errors.contains("order 42 placed"),
            "{name}: INFO kept out: {errors}"
        );
    }
}

#[test]
fn the_app_example_is_valid_and_cpython_sends_with_it() {
    let ini = examples().join("app-logging.ini");
    let out = logwire().arg("check").arg(&ini).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mut s = Serve::start(&["--tcp", "127.0.0.1:0"]);
    // The file as shipped, with the collector's test port for its 9020.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&ini).unwrap();
    assert!(text.contains("args=('127.0.0.1', 9020)"));
    let copy = dir.path().join("app-logging.ini");
    std::fs::write(&copy, text.replace("9020", &s.tcp().port().to_string())).unwrap();
    let script = "import logging, logging.config, sys\n\
                  logging.config.fileConfig(sys.argv[1])\n\
                  logging.getLogger('app').debug('not sent: below INFO')\n\
                  logging.getLogger('app').info('app started')\n\
                  logging.shutdown()\n";
    let out = python::script(script, [copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.wait_stdout("INFO     app: app started"), "{}", s.stdout());
    assert!(s.terminate().0.success());
    assert!(!s.stdout().contains("not sent"));
}

/// The README's and `serve --help`'s Python sender, pasted into a shell as it is printed.
#[test]
fn the_python_one_liner_runs_as_pasted() {
    let help = logwire().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for (source, text) in [("README.md", readme()), ("serve --help", help)] {
        let start = text
            .find("python3 -c '")
            .unwrap_or_else(|| panic!("{source} has no one-liner"));
        let rest = &text[start + "python3 -c '".len()..];
        let end = rest.find('\'').unwrap();
        let snippet = &text[start..start + "python3 -c '".len() + end + 1];
        let mut s = Serve::start(&["--tcp", "127.0.0.1:0"]);
        let cmd = snippet
            .replace("9020", &s.tcp().port().to_string())
            .replacen("python3", &python::interpreter(), 1);
        let out = std::process::Command::new("bash")
            .args(["-c", &cmd])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{source}: {snippet}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(s.wait_stdout("WARNING  app: hello from python"), "{source}");
        assert!(s.terminate().0.success());
    }
}
