//! Log-injection text from a real CPython `SocketHandler` against the built `logwire serve`:
//! newlines that forge a record line, ANSI escapes, NUL, CR, C1 controls, DEL, U+2028/U+2029
//! and bidi overrides, in messages, in logger names and in a traceback.
//!
//! What the output must look like (the decision this suite pins):
//!
//! * Default output (stdout, no `--config`): every control character of a remote field is
//!   written as a visible escape (`\n`, `\r`, `\x1b`, `\x00`, `\x85`, `\u2028`, `\u202e` …),
//!   so each record is one line starting with its timestamp; traceback and stack lines keep
//!   their line breaks but every continuation line starts with `  | `. No raw control
//!   character reaches the terminal, and no line can pass for a record it is not.
//! * With `--config`, records are written exactly as the configured formatter says, byte for
//!   byte what CPython's own `FileHandler` writes for the same records (parity, checked here
//!   against CPython): a config's file output is the operator's choice of format, and
//!   escaping it would break tools that read CPython's files. Remote text is therefore not
//!   escaped there; the README's guidance is the default output for untrusted senders.

use crate::common;

use common::*;

const FORMAT: &str = "%(levelname)s|%(name)s|%(message)s";

/// Sends hostile names and messages through CPython's SocketHandler (and, if a second
/// argument is given, writes the same records with CPython's FileHandler and FORMAT there).
/// Prints the number of records sent.
const SENDER: &str = r#"
import logging, logging.handlers as h, sys
port = int(sys.argv[1])
names = ['inj.plain', 'inj.name\n2024-01-01 00:00:00,000 CRITICAL root: forged name',
         'inj.\x1b[31mred', 'inj.nul\x00x', 'inj.ls\u2028x']
msgs = ['forged\n2024-01-01 00:00:00,000 CRITICAL root: forged line',
        '\x1b[2J\x1b[31mansi', 'nul\x00byte', 'ls\u2028ps\u2029end', 'cr\roverwrite',
        'bidi \u202eevil', 'c1 \x85nel', 'del \x7fx', 'tab\tok']
sock = h.SocketHandler('127.0.0.1', port)
handlers = [sock]
if len(sys.argv) > 2:
    fh = logging.FileHandler(sys.argv[2], encoding='utf-8')
    fh.setFormatter(logging.Formatter(sys.argv[3]))
    handlers.append(fh)
n = 0
for name in names:
    l = logging.getLogger(name)
    l.propagate = False
    l.setLevel(1)
    for hd in handlers:
        l.addHandler(hd)
    for m in msgs:
        l.warning('%s', m)
        n += 1
try:
    raise ValueError('bad\n2024-01-01 00:00:00,000 CRITICAL root: forged traceback\x1b[2J')
except ValueError:
    logging.getLogger('inj.plain').exception('boom')
    n += 1
for hd in handlers:
    hd.close()
print(n)
"#;

/// `2024-01-01 00:00:00,000 ` at the start of a line.
fn starts_with_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    b.len() > 24
        && digits.iter().all(|&i| b[i].is_ascii_digit())
        && &b[4..5] == b"-"
        && &b[10..11] == b" "
        && &b[19..20] == b","
        && b[23] == b' '
}

fn is_hidden_control(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn default_output_escapes_injected_text() {
    let mut serve = Serve::start(&["--tcp", "127.0.0.1:0"]);
    let Some(n) = python(SENDER, &[serve.tcp().port().to_string()]) else {
        return;
    };
    let n: u64 = n.trim().parse().unwrap();
    assert!(serve.wait_stdout("boom"));
    serve.assert_healthy("after injected text");
    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!((c.get("received"), c.get("stored")), (n, n), "{c:?}");

    let out = &fin.stdout;
    let hidden: Vec<char> = out.chars().filter(|c| is_hidden_control(*c)).collect();
    assert!(
        hidden.is_empty(),
        "raw control characters in the output: {hidden:?}"
    );
    let records = out.lines().filter(|l| starts_with_timestamp(l)).count() as u64;
    assert_eq!(records, n, "one line per record: {out}");
    for line in out.lines() {
        assert!(
            starts_with_timestamp(line) || line.starts_with("  | "),
            "a line that is neither a record nor marked as a continuation: {line:?}"
        );
        assert!(
            !line.starts_with("2024-01-01 00:00:00,000"),
            "a forged record line: {line:?}"
        );
    }
    for escaped in [
        r"forged\n2024-01-01 00:00:00,000 CRITICAL root: forged line",
        r"\x1b[2J\x1b[31mansi",
        r"nul\x00byte",
        r"ls\u2028ps\u2029end",
        r"cr\roverwrite",
        r"bidi \u202eevil",
        r"c1 \x85nel",
        r"del \x7fx",
        r"tab\tok",
        r"WARNING  inj.name\n2024-01-01 00:00:00,000 CRITICAL root: forged name: ",
        r"WARNING  inj.\x1b[31mred: ",
        r"WARNING  inj.nul\x00x: ",
        r"WARNING  inj.ls\u2028x: ",
    ] {
        assert!(out.contains(escaped), "{escaped} missing from {out}");
    }
    // The traceback keeps its lines, each marked as a continuation; its forged line too.
    assert!(
        out.contains("\n  | Traceback (most recent call last):\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  | ValueError: bad\n  | 2024-01-01 00:00:00,000 CRITICAL root: forged traceback\\x1b[2J\n"
        ),
        "{out}"
    );
}

#[test]
fn configured_output_is_what_cpython_writes() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("logwire.log");
    let theirs = dir.path().join("cpython.log");
    let cfg = dir.path().join("collector.json");
    std::fs::write(&cfg, file_config(&ours, FORMAT)).unwrap();
    let mut serve = Serve::start(&["--tcp", "127.0.0.1:0", "--config", cfg.to_str().unwrap()]);
    let Some(n) = python(
        SENDER,
        &[
            serve.tcp().port().to_string(),
            theirs.display().to_string(),
            FORMAT.to_owned(),
        ],
    ) else {
        return;
    };
    let n: u64 = n.trim().parse().unwrap();
    assert!(wait_until(
        || std::fs::read_to_string(&ours).is_ok_and(|t| t.contains("|boom\n"))
    ));
    serve.assert_healthy("after injected text");
    let fin = serve.stop();
    assert_eq!(fin.receiver.get("stored"), n, "{:?}", fin.receiver);
    let ours = std::fs::read(&ours).unwrap();
    let theirs = std::fs::read(&theirs).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs),
        "byte for byte what CPython's FileHandler writes"
    );
    assert_eq!(ours, theirs);
}
