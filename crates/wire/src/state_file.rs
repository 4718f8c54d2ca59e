//! Files in a state directory (the config listener's seq ratchet, the collector's replay
//! journal): the directory is created private, and whole files are replaced atomically, so a
//! crash leaves the old content or the new one, never a torn file. Reads are bounded (a state
//! file is small; a bigger one is an error, not a read without end).
//!
//! Here, beside the formats whose replay state these files keep, because both the listener
//! (`logwire-listener`) and the collector (`logwire-collector`) need it and neither depends on the
//! other.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) with mode 0700 if it does not exist yet, and fsyncs its
/// parent so that the new directory itself survives a crash.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Options for a state file: created 0600, and never opened through a symlink (a link
/// planted in the state directory must not redirect our writes or feed us another file).
pub fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    options
}

/// The whole of a small state file: a regular file (not a FIFO, which would block, nor a
/// link) of at most `max` bytes, else an error that says which.
pub fn read_small(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than the {max} bytes such a file has"),
        ));
    }
    Ok(bytes)
}

/// Replaces `dir/name` with `bytes`: written to a temporary file (0600, never through a
/// symlink), fsynced, renamed over the old file, and the directory fsynced, so the rename
/// itself is durable. The error names the path that failed.
pub fn replace_atomically(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), (PathBuf, io::Error)> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let at = |p: &Path| {
        let p = p.to_path_buf();
        move |e| (p, e)
    };
    {
        let mut f = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(at(&tmp))?;
        f.write_all(bytes).map_err(at(&tmp))?;
        f.sync_all().map_err(at(&tmp))?;
    }
    fs::rename(&tmp, &path).map_err(at(&path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_refuses_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("a/b");
        create_private_dir(&state).unwrap();
        let mode = fs::metadata(&state).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        replace_atomically(&state, "f", b"one").unwrap();
        replace_atomically(&state, "f", b"two").unwrap();
        assert_eq!(fs::read(state.join("f")).unwrap(), b"two");
        // Someone plants the temporary name as a link to a file of theirs.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, state.join(".f.tmp")).unwrap();
        let (path, _) = replace_atomically(&state, "f", b"three").unwrap_err();
        assert_eq!(path, state.join(".f.tmp"));
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn small_reads_refuse_big_files_links_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        fs::write(&ok, b"12\n").unwrap();
        assert_eq!(read_small(&ok, 64).unwrap(), b"12\n");
        let big = dir.path().join("big");
        fs::write(&big, vec![b'1'; 65]).unwrap();
        assert!(
            read_small(&big, 64)
                .unwrap_err()
                .to_string()
                .contains("64 bytes")
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert!(read_small(&link, 64).is_err());
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Returns at once instead of waiting for a writer.
            let err = read_small(&fifo, 64).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
    }
}
