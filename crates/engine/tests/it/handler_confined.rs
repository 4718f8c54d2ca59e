//! File handlers confined beneath a `FileRoot` (what a pushed config gets) keep every open,
//! rename and unlink beneath the root at the moment it happens (issue 13, item 9). Before,
//! the path was checked only when the config was validated: a directory swapped for a symlink
//! afterwards made files appear outside the root and the timed cleanup delete files outside
//! it, a planted hard link let mode 'w' truncate a file outside, and a FIFO blocked the
//! thread that opened it.
//!
//! Each case plants something outside the root (`out/`) that must stay as it was, and checks
//! that the handler reports an error instead of writing through.

use logwire_engine::{
    Emitter, FileHandler, FileMode, FileOpenPolicy, FileOptions, FileRoot, FileRootError,
    Formatter, HandlerError, LogRecord, ManualClock, RotatingFileHandler, TimedRotatingFileHandler,
    TimedRotation, WatchedFileHandler, level, truncate_for_write,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The clock of timed handlers starts now: they count from the file's mtime.
fn now_clock() -> Arc<ManualClock> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Arc::new(ManualClock::new(now))
}

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("n", level::WARNING, "p", 1, msg)
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
    policy: FileOpenPolicy,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let out = tmp.path().join("out");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&out).unwrap();
    let policy = FileOpenPolicy::beneath(FileRoot::open(&root).unwrap());
    Fixture {
        root: root.canonicalize().unwrap(),
        out,
        policy,
        _tmp: tmp,
    }
}

impl Fixture {
    fn options(&self, delay: bool) -> FileOptions {
        FileOptions::default()
            .open_policy(self.policy.clone())
            .delay(delay)
    }

    /// Everything in `out/`, with contents (what must not change).
    fn outside(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let c = std::fs::read_to_string(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), c)
            })
            .collect();
        v.sort();
        v
    }

    /// Moves `root/sub` away (still beneath the root) and puts a symlink to `out/` there.
    fn swap_dir_for_symlink(&self, sub: &str) {
        std::fs::rename(self.root.join(sub), self.root.join(format!("{sub}.moved"))).unwrap();
        std::os::unix::fs::symlink(&self.out, self.root.join(sub)).unwrap();
    }
}

fn precious(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("precious {name}\n")).unwrap();
    p
}

#[test]
fn a_directory_swapped_for_a_symlink_after_the_handler_was_made_is_never_written_through() {
    let f = Formatter::default();
    for kind in ["file", "watched", "rotating", "timed"] {
        let fx = fixture();
        std::fs::create_dir(fx.root.join("sub")).unwrap();
        let path = fx.root.join("sub/app.log");
        let clock = now_clock();
        let h: Box<dyn Emitter> = match kind {
            "file" => Box::new(FileHandler::new(&path, fx.options(true)).unwrap()),
            "watched" => Box::new(WatchedFileHandler::new(&path, fx.options(false)).unwrap()),
            "rotating" => {
                Box::new(RotatingFileHandler::new(&path, 10, 3, fx.options(false)).unwrap())
            }
            _ => {
                let rotation = TimedRotation {
                    when: "S".into(),
                    backup_count: 2,
                    clock: clock.clone(),
                    ..TimedRotation::default()
                };
                Box::new(TimedRotatingFileHandler::new(&path, rotation, fx.options(false)).unwrap())
            }
        };
        // The delayed FileHandler opens at its first record, after the swap; the others
        // write first, then have to stat (watched) or rename and reopen (rotating) after it.
        if kind != "file" {
            h.emit(&rec("before the swap"), &f).unwrap();
        }
        fx.swap_dir_for_symlink("sub");
        let mut errors = 0;
        for i in 0..7 {
            clock.advance(2);
            if h.emit(&rec(&format!("after the swap {i}")), &f).is_err() {
                errors += 1;
            }
        }
        h.close();
        assert!(
            fx.outside().is_empty(),
            "{kind}: files appeared outside the root: {:?}",
            fx.outside()
        );
        // Each had to open, stat or rename through the swapped path, and said it could not.
        assert!(errors > 0, "{kind}: no error reported");
    }
}

#[test]
fn a_file_swapped_for_a_symlink_is_refused() {
    let f = Formatter::default();
    let fx = fixture();
    let target = precious(&fx.out, "target");
    let path = fx.root.join("app.log");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    // Delayed: the open happens at the first record.
    let h = FileHandler::new(&path, fx.options(true)).unwrap();
    let err = h.emit(&rec("x"), &f).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    // Mode 'w' at commit time.
    let w = fx.policy.clone();
    assert!(truncate_for_write(&path, &w).is_err());
    assert!(FileHandler::new(&path, fx.options(false).mode(FileMode::Write)).is_err());

    // Watched: the file is real when the handler opens it, then becomes a symlink.
    let wpath = fx.root.join("watched.log");
    let wh = WatchedFileHandler::new(&wpath, fx.options(false)).unwrap();
    wh.emit(&rec("real"), &f).unwrap();
    std::fs::remove_file(&wpath).unwrap();
    std::os::unix::fs::symlink(&target, &wpath).unwrap();
    assert!(wh.emit(&rec("through the link?"), &f).is_err());
    assert_eq!(
        fx.outside(),
        vec![("target".into(), "precious target\n".into())]
    );
}

#[test]
fn a_hard_link_to_a_file_outside_is_neither_truncated_nor_written() {
    let f = Formatter::default();
    let fx = fixture();
    let target = precious(&fx.out, "target");
    let path = fx.root.join("app.log");
    std::fs::hard_link(&target, &path).unwrap();
    let err = FileHandler::new(&path, fx.options(false).mode(FileMode::Write))
        .err()
        .unwrap();
    assert!(err.to_string().contains("hard links"), "{err}");
    assert!(truncate_for_write(&path, &fx.policy).is_err());
    assert!(FileHandler::new(&path, fx.options(false)).is_err());
    let r = RotatingFileHandler::new(&path, 0, 0, fx.options(true)).unwrap();
    assert!(r.emit(&rec("x"), &f).is_err());
    assert_eq!(
        fx.outside(),
        vec![("target".into(), "precious target\n".into())]
    );
}

/// Runs `f` on a thread and fails (instead of hanging) if it does not return.
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}

#[test]
fn a_fifo_is_refused_without_blocking_with_or_without_a_reader() {
    let fx = fixture();
    let path = fx.root.join("app.log");
    let ok = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success());
    let (p, o) = (path.clone(), fx.options(false));
    let err = returns("opening a FIFO without a reader", move || {
        FileHandler::new(&p, o).err().unwrap().to_string()
    });
    assert!(err.contains("FIFO"), "{err}");
    // With a reader, the open succeeds and the fstat refuses it.
    use std::os::unix::fs::OpenOptionsExt;
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let (p, o) = (path.clone(), fx.options(true));
    let err = returns("opening a FIFO with a reader", move || {
        let h = FileHandler::new(&p, o).unwrap();
        h.emit(&rec("x"), &Formatter::default())
            .unwrap_err()
            .to_string()
    });
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn a_device_is_refused() {
    let fx = fixture();
    let path = fx.root.join("app.log");
    // /dev/null's numbers: creating a device node needs CAP_MKNOD (root here and in CI).
    let made = std::process::Command::new("mknod")
        .arg(&path)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(made.success(), "mknod needs CAP_MKNOD");
    let err = FileHandler::new(&path, fx.options(false)).err().unwrap();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn timed_cleanup_deletes_only_beneath_the_root() {
    let f = Formatter::default();
    let fx = fixture();
    std::fs::create_dir(fx.root.join("logs")).unwrap();
    let path = fx.root.join("logs/app.log");
    // Rotated-looking names inside the root that are symlinks to files outside: cleanup may
    // unlink the links, never their targets.
    for day in ["01", "02", "03"] {
        let target = precious(&fx.out, &format!("app.log.2000-01-{day}_00-00-00"));
        std::os::unix::fs::symlink(
            &target,
            fx.root.join(format!("logs/app.log.2000-01-{day}_00-00-00")),
        )
        .unwrap();
    }
    let clock = now_clock();
    let rotation = TimedRotation {
        when: "S".into(),
        backup_count: 1,
        utc: true,
        clock: clock.clone(),
        ..TimedRotation::default()
    };
    let h = TimedRotatingFileHandler::new(&path, rotation, fx.options(false)).unwrap();
    let before = fx.outside();
    for i in 0..3 {
        clock.advance(2);
        h.emit(&rec(&format!("r{i}")), &f).unwrap();
    }
    assert_eq!(
        fx.outside(),
        before,
        "cleanup touched files outside the root"
    );
    // Old links were unlinked (cleanup did run), beneath the root.
    let left = std::fs::read_dir(fx.root.join("logs")).unwrap().count();
    assert!(left <= 3, "{left} files left in logs/");

    // Now the directory itself is swapped for a symlink to the outside directory, which
    // holds rotated-looking files: a rollover must neither delete nor create anything there.
    fx.swap_dir_for_symlink("logs");
    for i in 0..3 {
        clock.advance(2);
        let _ = h.emit(&rec(&format!("s{i}")), &f);
    }
    h.close();
    assert_eq!(fx.outside(), before, "a rollover acted outside the root");
}

#[test]
fn rotation_renames_and_removes_directory_entries_never_what_they_point_to() {
    let f = Formatter::default();
    let fx = fixture();
    let path = fx.root.join("app.log");
    let one = precious(&fx.out, "one");
    let two = precious(&fx.out, "two");
    // The rotation targets are planted: a symlink and a hard link to files outside.
    std::os::unix::fs::symlink(&one, fx.root.join("app.log.1")).unwrap();
    std::fs::hard_link(&two, fx.root.join("app.log.2")).unwrap();
    let h = RotatingFileHandler::new(&path, 10, 3, fx.options(false)).unwrap();
    for i in 0..6 {
        h.emit(&rec(&format!("record number {i}")), &f).unwrap();
    }
    h.close();
    assert_eq!(
        fx.outside(),
        vec![
            ("one".into(), "precious one\n".into()),
            ("two".into(), "precious two\n".into())
        ]
    );
    // And the rotation really happened, beneath the root.
    let rotated = std::fs::read_to_string(fx.root.join("app.log.1")).unwrap();
    assert!(rotated.starts_with("record number"), "{rotated}");
}

#[test]
fn a_name_not_beneath_the_root_is_refused_before_anything_is_opened() {
    let fx = fixture();
    let refused = |path: &Path| match FileHandler::new(path, fx.options(false)) {
        Err(HandlerError::FileRoot(e)) => e,
        Err(other) => panic!("{}: not a file-root refusal: {other}", path.display()),
        Ok(_) => panic!("{}: opened", path.display()),
    };
    let outside = fx.out.join("x.log");
    let e = refused(&outside);
    assert!(matches!(e, FileRootError::Outside { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "'{}' is outside the file root {}",
            outside.display(),
            fx.root.display()
        )
    );
    let e = refused(Path::new("logs/../../out/x.log"));
    assert_eq!(
        e.to_string(),
        format!(
            "'logs/../../out/x.log' must be a plain name beneath the file root {}",
            fx.root.display()
        )
    );
    let e = refused(&fx.root);
    assert_eq!(
        e,
        FileRootError::IsRoot {
            path: fx.root.clone()
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "'{}' is the file root itself, not a file beneath it",
            fx.root.display()
        )
    );
    assert_eq!(fx.outside(), vec![]);
}
