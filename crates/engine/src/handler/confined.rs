//! Every filesystem operation a file handler makes — open, stat, rename, unlink, list — and,
//! for files confined to a [`FileRoot`], the rules that keep each one beneath the root at the
//! moment it happens.
//!
//! A pushed configuration may name files only beneath the listener's file root. Checking the
//! path when the configuration is validated is not enough: whoever can write inside the root
//! can afterwards swap a directory for a symlink, plant a hard link to a file outside, or put
//! a FIFO where the log file goes. So a confined handler never hands a path to the kernel.
//! Each operation starts from a directory handle of the root, opened once when the listener
//! starts, and walks down one component at a time with `O_NOFOLLOW|O_DIRECTORY`
//! (`cap_fs_ext::DirExt::open_dir_nofollow`, inside cap-std's sandbox, which also refuses
//! `..` and absolute names): no symlink is followed in any component, at every operation.
//! Then:
//!
//! - **open** uses `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY` and never `O_TRUNC`: a FIFO without a
//!   reader fails at once (`ENXIO`) instead of blocking the thread forever, and whatever
//!   opened is `fstat`ed and accepted only if it is a regular file with exactly one link; a
//!   device, a FIFO with a reader, or a hard link to a file elsewhere is closed untouched.
//!   Mode `'w'` truncates (`ftruncate`) only after those checks.
//! - **rename and unlink** (rotation, timed cleanup) act on names inside the log file's own
//!   directory handle (`renameat`, `unlinkat`), which affect the directory entry, never what a
//!   symlink points to; a rotated name outside that directory is refused.
//! - **listing** (timed cleanup) reads the directory handle, so the files it deletes are the
//!   ones in that directory, whatever the path now points to.
//!
//! Files of local (trusted) configurations keep CPython's behaviour: plain paths, symlinks
//! followed (or not, per [`FileOpenPolicy`](super::FileOpenPolicy)), any file type (logging
//! to a FIFO or `/dev/stdout` is a legitimate local choice). Both kinds go through the same
//! [`FileLoc`]/[`DirRef`] calls, so handler code has one path and the two differ only here.

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptionsExt as _};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Why a path does not name a file beneath a [`FileRoot`] ([`FileRoot::relative`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileRootError {
    /// An absolute path that is not beneath the root's path.
    #[error("'{}' is outside the file root {}", path.display(), root.display())]
    Outside {
        /// The path given.
        path: PathBuf,
        /// The root's canonical path.
        root: PathBuf,
    },
    /// A path with a component other than a plain name or `.` (`..`, a second root).
    #[error("'{}' must be a plain name beneath the file root {}", path.display(), root.display())]
    NotPlain {
        /// The path given.
        path: PathBuf,
        /// The root's canonical path.
        root: PathBuf,
    },
    /// A path that names the root itself.
    #[error("'{}' is the file root itself, not a file beneath it", path.display())]
    IsRoot {
        /// The path given.
        path: PathBuf,
    },
}

/// A directory that confined file handlers may write beneath, held open as a handle.
///
/// Opened once (by the operator's listener, at start), following symlinks in its own path:
/// the root is the operator's choice; only what lies beneath it is untrusted.
pub struct FileRoot {
    dir: Dir,
    path: PathBuf,
}

impl fmt::Debug for FileRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FileRoot").field(&self.path).finish()
    }
}

impl PartialEq for FileRoot {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for FileRoot {}

impl FileRoot {
    /// Opens `path` (made canonical) as a root.
    pub fn open(path: &Path) -> io::Result<Arc<FileRoot>> {
        let path = path.canonicalize()?;
        let dir = Dir::open_ambient_dir(&path, cap_std::ambient_authority())?;
        Ok(Arc::new(FileRoot { dir, path }))
    }

    /// The root's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path` relative to the root: `path` may be relative (to the root) or absolute beneath
    /// the root's path; it must name something strictly beneath it, with plain components
    /// only (no `..`, no `.`).
    pub fn relative(&self, path: &Path) -> Result<PathBuf, FileRootError> {
        let rel = if path.is_absolute() {
            path.strip_prefix(&self.path)
                .map_err(|_| FileRootError::Outside {
                    path: path.to_path_buf(),
                    root: self.path.clone(),
                })?
        } else {
            path
        };
        let mut out = PathBuf::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => out.push(p),
                Component::CurDir => {}
                _ => {
                    return Err(FileRootError::NotPlain {
                        path: path.to_path_buf(),
                        root: self.path.clone(),
                    });
                }
            }
        }
        if out.as_os_str().is_empty() {
            return Err(FileRootError::IsRoot {
                path: path.to_path_buf(),
            });
        }
        Ok(out)
    }

    /// The directory `parts` beneath the root, walked one component at a time without
    /// following a symlink in any of them.
    fn walk(&self, parts: &[OsString]) -> io::Result<Dir> {
        let mut dir = self.dir.try_clone()?;
        for p in parts {
            dir = dir.open_dir_nofollow(p).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "directory '{}' beneath the file root: {e} (a symlink is never followed)",
                        p.to_string_lossy()
                    ),
                )
            })?;
        }
        Ok(dir)
    }
}

/// What a stat of a handler's file says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    pub(crate) regular: bool,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// Where a file handler's file is: a plain path, or a path confined beneath a [`FileRoot`].
pub(crate) struct FileLoc {
    /// The absolute path (CPython's `baseFilename`, for messages and rotated names).
    pub(crate) base: PathBuf,
    confined: Option<Confined>,
}

struct Confined {
    root: Arc<FileRoot>,
    /// Directories from the root down to the file's directory.
    parents: Vec<OsString>,
}

impl FileLoc {
    /// A plain path (made absolute by the caller).
    pub(crate) fn plain(base: PathBuf) -> Self {
        FileLoc {
            base,
            confined: None,
        }
    }

    /// `path` beneath `root` (relative to it, or absolute under its path).
    pub(crate) fn beneath(root: Arc<FileRoot>, path: &Path) -> Result<Self, FileRootError> {
        let rel = root.relative(path)?;
        let mut parents: Vec<OsString> = rel.iter().map(OsStr::to_owned).collect();
        parents.pop();
        Ok(FileLoc {
            base: root.path.join(&rel),
            confined: Some(Confined { root, parents }),
        })
    }

    /// The directory of the file, for one operation or a few in a row (a rollover). For a
    /// confined file, a fresh walk from the root: what the path is *now*.
    pub(crate) fn dir(&self) -> io::Result<DirRef<'_>> {
        match &self.confined {
            None => Ok(DirRef::Plain),
            Some(c) => Ok(DirRef::Confined {
                dir: c.root.walk(&c.parents)?,
                parent: self.base.parent().unwrap_or(Path::new("/")),
            }),
        }
    }

    /// Opens the file for writing: appending, or (mode `'w'`) truncated. See the module docs
    /// for what a confined open accepts. `follow` and `create_mode` apply to plain paths
    /// (a confined open never follows a symlink).
    pub(crate) fn open(&self, truncate: bool, follow: bool, create_mode: u32) -> io::Result<File> {
        self.dir()?.open(&self.base, truncate, follow, create_mode)
    }
}

/// The directory of a handler's file, as [`FileLoc::dir`] found it. Every path given to it
/// must be in that directory (the file itself, or a rotated name beside it).
pub(crate) enum DirRef<'a> {
    /// Plain paths, handed to the OS as they are.
    Plain,
    /// A handle of the directory, reached beneath the root without following a symlink.
    Confined { dir: Dir, parent: &'a Path },
}

impl DirRef<'_> {
    /// The name of `path` in this directory (confined only).
    fn name<'p>(parent: &Path, path: &'p Path) -> io::Result<&'p OsStr> {
        match (path.parent(), path.file_name()) {
            (Some(p), Some(name)) if p == parent => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "'{}' is not in {}: a confined handler stays in its file's directory",
                    path.display(),
                    parent.display()
                ),
            )),
        }
    }

    /// Opens `path` for writing (see [`FileLoc::open`]).
    pub(crate) fn open(
        &self,
        path: &Path,
        truncate: bool,
        follow: bool,
        create_mode: u32,
    ) -> io::Result<File> {
        match self {
            DirRef::Plain => {
                use std::os::unix::fs::OpenOptionsExt;
                let mut opts = std::fs::OpenOptions::new();
                if truncate {
                    opts.write(true).create(true).truncate(true);
                } else {
                    opts.append(true).create(true);
                }
                opts.mode(create_mode);
                if !follow {
                    opts.custom_flags(libc::O_NOFOLLOW);
                }
                opts.open(path)
            }
            DirRef::Confined { dir, parent } => {
                let name = Self::name(parent, path)?;
                let mut opts = cap_std::fs::OpenOptions::new();
                // Never O_TRUNC here: a hard link to a file elsewhere would be truncated
                // before it could be refused.
                if truncate {
                    opts.write(true).create(true);
                } else {
                    opts.append(true).create(true);
                }
                opts.mode(create_mode & 0o666);
                opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
                opts.follow(FollowSymlinks::No);
                let file = dir
                    .open_with(name, &opts)
                    .map_err(|e| {
                        let why = match e.raw_os_error() {
                            Some(libc::ELOOP) => " (a symlink is never followed)".to_owned(),
                            Some(libc::ENXIO) => " (a FIFO is not a log file)".to_owned(),
                            _ => String::new(),
                        };
                        io::Error::new(e.kind(), format!("{e}{why}"))
                    })?
                    .into_std();
                let md = file.metadata()?;
                if !md.is_file() {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "not a regular file (a FIFO, device or directory is refused beneath \
                         the file root)",
                    ));
                }
                if md.nlink() != 1 {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "the file has {} hard links: beneath the file root only files with \
                             one link are written",
                            md.nlink()
                        ),
                    ));
                }
                if truncate {
                    file.set_len(0)?;
                }
                Ok(file)
            }
        }
    }

    /// `os.path.exists(path)` (a confined check does not follow a symlink: a link counts as
    /// existing).
    pub(crate) fn exists(&self, path: &Path) -> bool {
        match self {
            DirRef::Plain => path.exists(),
            DirRef::Confined { dir, parent } => {
                Self::name(parent, path).is_ok_and(|n| dir.symlink_metadata(n).is_ok())
            }
        }
    }

    /// Stats `path` (following symlinks for a plain path, as `os.stat`; never for a confined
    /// one, where a symlink is "not regular").
    pub(crate) fn stat(&self, path: &Path) -> io::Result<Facts> {
        match self {
            DirRef::Plain => {
                let md = std::fs::metadata(path)?;
                Ok(Facts {
                    regular: md.is_file(),
                    dev: md.dev(),
                    ino: md.ino(),
                    modified: md.modified().ok(),
                })
            }
            DirRef::Confined { dir, parent } => {
                let md = dir.symlink_metadata(Self::name(parent, path)?)?;
                use cap_std::fs::MetadataExt as _;
                Ok(Facts {
                    regular: md.is_file(),
                    dev: md.dev(),
                    ino: md.ino(),
                    modified: md.modified().ok().map(|t| t.into_std()),
                })
            }
        }
    }

    /// `os.path.exists(p) and not os.path.isfile(p)` (bpo-45401: never rotate a FIFO or a
    /// device).
    pub(crate) fn exists_not_regular(&self, path: &Path) -> bool {
        self.stat(path).is_ok_and(|f| !f.regular)
    }

    /// `os.rename(from, to)`.
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        match self {
            DirRef::Plain => std::fs::rename(from, to),
            DirRef::Confined { dir, parent } => {
                dir.rename(Self::name(parent, from)?, dir, Self::name(parent, to)?)
            }
        }
    }

    /// `os.remove(path)` (a confined remove unlinks a symlink itself, never its target).
    pub(crate) fn remove(&self, path: &Path) -> io::Result<()> {
        match self {
            DirRef::Plain => std::fs::remove_file(path),
            DirRef::Confined { dir, parent } => {
                dir.remove_file_or_symlink(Self::name(parent, path)?)
            }
        }
    }

    /// The names in the directory of `base` (the file's own directory).
    pub(crate) fn names(&self, base: &Path) -> io::Result<Vec<OsString>> {
        match self {
            DirRef::Plain => {
                let dir = base.parent().unwrap_or(Path::new("/"));
                std::fs::read_dir(dir)?
                    .map(|e| e.map(|e| e.file_name()))
                    .collect()
            }
            DirRef::Confined { dir, .. } => {
                dir.entries()?.map(|e| e.map(|e| e.file_name())).collect()
            }
        }
    }
}
