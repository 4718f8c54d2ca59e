//! StreamHandler, NullHandler, FileHandler and WatchedFileHandler (CPython's FileHandlerTest
//! and more).

use logwire_engine::{
    CaptureBuffer, Emitter, EncodeErrors, Encoding, FileHandler, FileMode, FileOpenPolicy,
    FileOptions, Formatter, Handler, HandlerError, LogRecord, NullHandler, StreamHandler, Style,
    WatchedFileHandler, level,
};
use std::sync::Arc;

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("n", level::DEBUG, "p", 1, msg)
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn stream_handler_writes_format_plus_terminator() {
    let out = CaptureBuffer::new();
    let fmt = Formatter::new(
        Some("%(levelname)s ++ %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let h = Handler::new(StreamHandler::new(out.clone())).with_formatter(Arc::new(fmt));
    h.handle(&LogRecord::new("x", level::ERROR, "p", 1, "one"));
    h.handle(&LogRecord::new("x", level::INFO, "p", 1, "two"));
    assert_eq!(out.contents(), "ERROR ++ one\nINFO ++ two\n");

    // config14: terminator '!\n'.
    let out = CaptureBuffer::new();
    let h = Handler::new(StreamHandler::new(out.clone()).with_terminator("!\n"));
    h.handle(&rec("Exclamation"));
    assert_eq!(out.contents(), "Exclamation!\n");
    h.flush();
    h.close();
    h.close();
}

#[test]
fn stream_handler_set_stream_returns_old() {
    let a = CaptureBuffer::new();
    let b = CaptureBuffer::new();
    let s = StreamHandler::new(a.clone());
    s.emit(&rec("1"), &Formatter::default()).unwrap();
    let _old = s.set_stream(Box::new(b.clone()));
    s.emit(&rec("2"), &Formatter::default()).unwrap();
    assert_eq!(a.contents(), "1\n");
    assert_eq!(b.contents(), "2\n");
    assert_eq!(StreamHandler::stderr().stream_name(), "<stderr>");
    assert_eq!(StreamHandler::stdout().kind(), "logging.StreamHandler");
}

#[test]
fn null_handler_does_nothing() {
    let h = Handler::new(NullHandler);
    assert!(h.handle(&rec("x")));
    h.flush();
    h.close();
    assert_eq!(h.error_count(), 0);
}

#[test]
fn file_handler_delay() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let fh = FileHandler::new(&fn_, FileOptions::default().delay(true)).unwrap();
    assert!(!fh.is_open());
    assert!(!fn_.exists());
    fh.emit(&LogRecord::empty(), &Formatter::default()).unwrap();
    assert!(fh.is_open());
    assert!(fn_.exists());
    fh.close();
}

#[test]
fn file_handler_resolves_relative_paths_like_abspath() {
    let fh = FileHandler::new("some/../rel.log", FileOptions::default().delay(true)).unwrap();
    assert_eq!(
        fh.base_filename(),
        std::env::current_dir().unwrap().join("rel.log")
    );
}

#[test]
fn file_handler_emit_after_closing_in_write_mode_is_refused_and_reported() {
    // bpo-42378: CPython drops the record silently; logwire reports it.
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let fh =
        Arc::new(FileHandler::new(&fn_, FileOptions::default().mode(FileMode::Write)).unwrap());
    let h = Handler::new(fh.clone());
    h.handle(&rec("1"));
    h.close();
    assert!(matches!(
        fh.emit(&rec("2"), &Formatter::default()),
        Err(HandlerError::Closed)
    ));
    h.handle(&rec("3"));
    assert_eq!(h.error_count(), 1);
    assert_eq!(read(&fn_).trim(), "1");
}

#[test]
fn file_handler_mode_w_truncates_and_append_reopens_after_close() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    std::fs::write(&fn_, "old\n").unwrap();
    let h = Handler::new(
        FileHandler::new(
            &fn_,
            FileOptions::from_python("w", None, false, None).unwrap(),
        )
        .unwrap(),
    );
    h.handle(&rec("new"));
    h.close();
    assert_eq!(read(&fn_), "new\n");

    let h = Handler::new(FileHandler::new(&fn_, FileOptions::default()).unwrap());
    h.handle(&rec("a"));
    h.close();
    h.handle(&rec("b")); // reopens: mode 'a'
    h.close();
    h.close();
    assert_eq!(read(&fn_), "new\na\nb\n");
    assert_eq!(h.error_count(), 0);
}

#[test]
fn file_handler_each_record_reaches_the_os_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let fh = FileHandler::new(&fn_, FileOptions::default()).unwrap();
    for i in 0..3 {
        fh.emit(&rec(&i.to_string()), &Formatter::default())
            .unwrap();
        assert_eq!(read(&fn_).lines().count(), i + 1);
    }
}

#[test]
fn file_handler_no_follow_policy_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.log");
    let link = dir.path().join("link.log");
    std::fs::write(&real, "").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let opts = FileOptions::default().open_policy(FileOpenPolicy::no_follow());
    let err = FileHandler::new(&link, opts.clone())
        .err()
        .expect("symlink must be refused");
    assert!(matches!(err, HandlerError::Io { .. }), "{err}");
    // The default follows, as CPython does.
    let fh = FileHandler::new(&link, FileOptions::default()).unwrap();
    fh.emit(&rec("via link"), &Formatter::default()).unwrap();
    assert_eq!(read(&real), "via link\n");
    // A plain file opens fine with the policy.
    FileHandler::new(&real, opts).unwrap();
}

#[test]
fn file_options_reject_unsupported_arguments() {
    assert!(FileOptions::from_python("r", None, false, None).is_err());
    assert!(FileOptions::from_python("ab", None, false, None).is_err());
    assert!(FileOptions::from_python("a", Some("utf-16"), false, None).is_err());
    assert!(FileOptions::from_python("a", Some("utf-8"), false, Some("bogus")).is_err());
    let o = FileOptions::from_python("a", Some("Latin-1"), true, Some("replace")).unwrap();
    assert_eq!(o.encoding, Some(Encoding::Latin1));
    assert_eq!(o.errors, Some(EncodeErrors::Replace));
    assert!(o.delay);
}

#[test]
fn file_handler_latin1_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let opts = FileOptions::from_python("a", Some("latin-1"), false, None).unwrap();
    let h = Handler::new(FileHandler::new(&fn_, opts).unwrap());
    h.handle(&rec("caf\u{e9}"));
    h.handle(&rec("\u{20ac}")); // strict: refused and reported
    assert_eq!(h.error_count(), 1);
    assert_eq!(std::fs::read(&fn_).unwrap(), b"caf\xe9\n");
}

#[test]
fn watched_file_handler_reopens_moved_or_deleted_files() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let h = Handler::new(WatchedFileHandler::new(&fn_, FileOptions::default()).unwrap());
    h.handle(&rec("1"));
    let moved = dir.path().join("test.log.1");
    std::fs::rename(&fn_, &moved).unwrap();
    h.handle(&rec("2"));
    std::fs::remove_file(&fn_).unwrap();
    h.handle(&rec("3"));
    h.handle(&rec("4"));
    h.close();
    assert_eq!(read(&moved), "1\n");
    assert_eq!(read(&fn_), "3\n4\n");
    assert_eq!(h.error_count(), 0);
}

#[test]
fn watched_file_handler_with_delay() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let h =
        Handler::new(WatchedFileHandler::new(&fn_, FileOptions::default().delay(true)).unwrap());
    assert!(!fn_.exists());
    h.handle(&rec("1"));
    std::fs::rename(&fn_, dir.path().join("old")).unwrap();
    h.handle(&rec("2"));
    h.close();
    assert_eq!(read(&fn_), "2\n");
    assert_eq!(read(&dir.path().join("old")), "1\n");
}

#[test]
fn file_handlers_are_safe_from_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let h = Arc::new(Handler::new(
        FileHandler::new(&fn_, FileOptions::default()).unwrap(),
    ));
    std::thread::scope(|s| {
        for t in 0..4 {
            let h = h.clone();
            s.spawn(move || {
                for i in 0..200 {
                    h.handle(&rec(&format!("t{t} {i}")));
                    if i % 50 == 0 {
                        h.flush();
                    }
                }
            });
        }
    });
    h.close();
    h.close();
    assert_eq!(read(&fn_).lines().count(), 800);
}
