//! Unix socket safety: what may be replaced at the socket path, the 0600 mode, and whether
//! only the owner can reach the socket (the condition for running without keys).

use super::ListenerError;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// This process's effective uid, read from `/proc/self` (owned by it) so no `unsafe`
/// `geteuid` call is needed.
pub(crate) fn own_uid() -> std::io::Result<u32> {
    fs::metadata("/proc/self").map(|m| m.uid())
}

/// Binds a Unix stream socket at `path` with mode 0600.
///
/// A stale socket of ours (nobody answers on it) is replaced; anything else at the path (a
/// regular file, a directory, a symlink, another user's socket, a live socket) is refused,
/// so the listener can neither be tricked into deleting a file nor steal a live socket.
pub(crate) fn bind(path: &Path) -> Result<(std::os::unix::net::UnixListener, u64), ListenerError> {
    let refuse = |why: String| ListenerError::UnixPath {
        path: path.to_path_buf(),
        why,
    };
    let uid = own_uid().map_err(ListenerError::Runtime)?;
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse("the path is a symlink".into()));
        }
        Ok(m) if !m.file_type().is_socket() => {
            return Err(refuse("the path exists and is not a socket".into()));
        }
        Ok(m) if m.uid() != uid => {
            return Err(refuse(format!("the socket belongs to uid {}", m.uid())));
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(refuse("another listener is serving this socket".into()));
            }
            fs::remove_file(path)
                .map_err(|e| refuse(format!("cannot remove the stale socket: {e}")))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let listener =
        std::os::unix::net::UnixListener::bind(path).map_err(|source| ListenerError::Bind {
            addr: path.display().to_string(),
            source,
        })?;
    // Connecting needs write permission on the socket; with the usual umask (022) nobody else
    // has it between bind and this chmod.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| refuse(format!("chmod 0600: {e}")))?;
    let ino = fs::symlink_metadata(path).map(|m| m.ino()).unwrap_or(0);
    Ok((listener, ino))
}

/// Removes the socket file at stop, only if it is still the one this listener created.
pub(crate) fn unlink_if_ours(path: &PathBuf, ino: u64) {
    if let Ok(m) = fs::symlink_metadata(path)
        && m.file_type().is_socket()
        && m.ino() == ino
    {
        let _ = fs::remove_file(path);
    }
}

/// Why a socket at `path` could be reached by someone other than its owner, or `None` if
/// only the owner can: the directory is owned by us and writable by nobody else (so the
/// socket cannot be swapped), and the socket will be 0600.
pub(crate) fn not_owner_only(path: &Path) -> Option<String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let uid = match own_uid() {
        Ok(u) => u,
        Err(e) => return Some(format!("cannot read the process uid: {e}")),
    };
    match fs::metadata(&dir) {
        Err(e) => Some(format!("directory {}: {e}", dir.display())),
        Ok(m) if m.uid() != uid => Some(format!(
            "directory {} belongs to uid {}, not to this process (uid {uid})",
            dir.display(),
            m.uid()
        )),
        Ok(m) if m.mode() & 0o022 != 0 => Some(format!(
            "directory {} is writable by group or others (mode {:o})",
            dir.display(),
            m.mode() & 0o7777
        )),
        Ok(_) => None,
    }
}

/// Why an inherited socket could be reached by someone other than this process's `uid`, or
/// `None`: a Unix socket whose file belongs to `uid` with no group or other permission
/// bits. A TCP socket always can be.
pub(crate) fn inherited_not_owner_only(l: &crate::InheritedListener, uid: u32) -> Option<String> {
    let l = match l {
        crate::InheritedListener::Tcp(t) => {
            return Some(match t.local_addr() {
                Ok(a) => format!("the inherited socket {a} is a TCP socket"),
                Err(_) => "an inherited socket is a TCP socket".into(),
            });
        }
        crate::InheritedListener::Unix(l) => l,
    };
    let Some(path) = l
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_path_buf))
    else {
        return Some("an inherited Unix socket has no path to check".into());
    };
    match fs::metadata(&path) {
        Err(e) => Some(format!("inherited socket {}: {e}", path.display())),
        Ok(m) if m.uid() != uid || m.mode() & 0o077 != 0 => Some(format!(
            "inherited socket {} is uid {} mode {:o}, not 0600 and this process's (uid {uid})",
            path.display(),
            m.uid(),
            m.mode() & 0o7777
        )),
        Ok(_) => None,
    }
}
