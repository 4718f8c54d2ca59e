//! Files in a state directory (the listener's seq ratchet, the receiver's replay journal):
//! the directory is created private, and whole files are replaced atomically, so a crash
//! leaves the old content or the new one, never a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) with mode 0700 if it does not exist yet.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Replaces `dir/name` with `bytes`: written to a temporary file (0600, never through a
/// symlink), fsynced, renamed over the old file, and the directory fsynced, so the rename
/// itself is durable. The error names the path that failed.
pub(crate) fn replace_atomically(
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
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
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
}
