//! The content policy: what a configuration may touch, and how big it may be.
//!
//! Configs an operator wrote locally are [`ContentPolicy::trusted`]: files anywhere, any
//! destination, as CPython allows. Configs that arrive from outside (a pushed config) get
//! [`ContentPolicy::pushed`]: file handlers only beneath a file root (relative names resolve
//! there; `..`, NUL and symlinks are refused here, and the handlers built keep every open,
//! rename and unlink beneath the root's directory handle afterwards, at the moment it happens),
//! network handlers only to allow-listed destinations (loopback by default). Both apply the
//! same [`ConfigLimits`].

use logwire_engine::FileRoot;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Why the policy refused a destination or file name, or could not be built. The text is
/// what `logwire check` and a rejected push print after the handler argument's place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A `[V6]:PORT` destination without its closing bracket.
    #[error("'{text}': missing ']'")]
    MissingBracket {
        /// The destination as written.
        text: String,
    },
    /// A destination without a host.
    #[error("'{text}': no host")]
    NoHost {
        /// The destination as written.
        text: String,
    },
    /// A destination whose port is neither `*` nor a number from 0 to 65535.
    #[error("'{text}': '{port}' is not a port")]
    BadPort {
        /// The destination as written.
        text: String,
        /// The port as written.
        port: String,
    },
    /// The file root could not be opened as a directory handle.
    #[error("file root {}: {source}", path.display())]
    FileRoot {
        /// The file root as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file name with a NUL byte (no OS call could take it).
    #[error("file name contains a NUL byte")]
    NulByte,
    /// An empty file name.
    #[error("file name is empty")]
    EmptyName,
    /// A file handler in a pushed config when the listener has no file root.
    #[error(
        "file handlers are not allowed in pushed configs unless the listener has a file root \
         (logwire serve --file-root DIR)"
    )]
    FilesDenied,
    /// A file name with a `..` component.
    #[error("'{name}' contains '..': files must stay beneath {}", root.display())]
    ParentDir {
        /// The file name as written.
        name: String,
        /// The file root.
        root: PathBuf,
    },
    /// An absolute file name outside the file root.
    #[error("'{name}' is outside the file root {}", root.display())]
    OutsideRoot {
        /// The file name as written.
        name: String,
        /// The file root.
        root: PathBuf,
    },
    /// A symlink at some level beneath the file root.
    #[error("'{}' is a symlink: refusing to follow it", path.display())]
    Symlink {
        /// The path of the symlink.
        path: PathBuf,
    },
    /// A file name that names the file root itself.
    #[error("'{name}' is the file root itself, not a file beneath it")]
    IsRoot {
        /// The file name as written.
        name: String,
    },
    /// A destination neither loopback nor allow-listed.
    #[error(
        "destination {host}:{port} is not allowed (loopback and --allow-host destinations only)"
    )]
    DestinationNotAllowed {
        /// The host as written.
        host: String,
        /// The port.
        port: u16,
    },
}

/// Caps on the size of a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigLimits {
    /// Largest document, in bytes.
    pub max_document_bytes: usize,
    /// Deepest nesting of the document.
    pub max_depth: usize,
    /// Most handlers.
    pub max_handlers: usize,
    /// Most loggers (root excluded).
    pub max_loggers: usize,
    /// Most filters.
    pub max_filters: usize,
    /// Most formatters.
    pub max_formatters: usize,
    /// Longest id or logger name, in bytes.
    pub max_name_len: usize,
    /// Longest format string, in bytes.
    pub max_format_len: usize,
    /// Largest `backupCount` of a rotating handler.
    pub max_backup_count: u32,
    /// Smallest non-zero `maxBytes` of a `RotatingFileHandler`: a rollover renames up to
    /// `backupCount` files, and a file that fills with every record rolls over at every
    /// record, so this bounds renames per byte written (`backupCount / min_rotation_bytes`).
    pub min_rotation_bytes: u64,
    /// Most bytes a formatter may render whatever the record holds: literal text, widths and
    /// precisions, and each `asctime` at its `datefmt`'s longest
    /// (`logwire_engine::RenderBound::fixed`).
    pub max_render_bytes: usize,
    /// Most times a formatter may copy text from the record into its output
    /// (`RenderBound::record_fields`): what one record's size is multiplied by, at most.
    pub max_record_fields: usize,
}

impl Default for ConfigLimits {
    fn default() -> Self {
        ConfigLimits {
            max_document_bytes: 1 << 20,
            max_depth: 32,
            max_handlers: 64,
            max_loggers: 1024,
            max_filters: 256,
            max_formatters: 256,
            max_name_len: 256,
            max_format_len: 4096,
            max_backup_count: 1000,
            min_rotation_bytes: 0,
            max_render_bytes: 64 * 1024,
            max_record_fields: 64,
        }
    }
}

impl ConfigLimits {
    /// The caps for configs from outside: what one record may cost to render and write is
    /// bounded (see [`ConfigLimits`]'s fields). With these, one record renders at most
    /// 16 KiB plus 64 copies of its own text, and a rotating file renames at most 100 files
    /// per 64 KiB written.
    pub fn pushed() -> Self {
        ConfigLimits {
            max_backup_count: 100,
            min_rotation_bytes: 64 * 1024,
            max_render_bytes: 16 * 1024,
            ..ConfigLimits::default()
        }
    }
}

/// A network destination a handler may send to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Host name or address, as written.
    pub host: String,
    /// Port; `None` allows every port of the host.
    pub port: Option<u16>,
}

impl Destination {
    /// Parses `HOST:PORT` or `[V6]:PORT` (`HOST:*` or a bare host allows every port).
    pub fn parse(s: &str) -> Result<Destination, PolicyError> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| PolicyError::MissingBracket { text: s.to_owned() })?;
            let tail = &rest[end + 1..];
            (rest[..end].to_owned(), tail.strip_prefix(':'))
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (s.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(PolicyError::NoHost { text: s.to_owned() });
        }
        let port = match port {
            None | Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| PolicyError::BadPort {
                text: s.to_owned(),
                port: p.to_owned(),
            })?),
        };
        Ok(Destination { host, port })
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.port.is_none_or(|p| p == port)
    }
}

/// Where file handlers may write.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileAccess {
    /// Anywhere, following symlinks (CPython's behaviour; for local, trusted configs).
    Anywhere,
    /// Only beneath this directory, held open as a handle: the handlers built for the config
    /// make every open, rename and unlink relative to it, following no symlink in any
    /// component, at the moment of the operation (see `logwire_engine::FileRoot`).
    Beneath(Arc<FileRoot>),
    /// Nowhere: file handlers are refused.
    Denied,
}

/// What a configuration may touch. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentPolicy {
    /// Where file handlers may write.
    pub files: FileAccess,
    /// `None`: any destination; `Some(list)`: loopback plus the listed ones.
    pub destinations: Option<Vec<Destination>>,
    /// Size caps.
    pub limits: ConfigLimits,
}

impl Default for ContentPolicy {
    fn default() -> Self {
        Self::trusted()
    }
}

impl ContentPolicy {
    /// For configs the operator wrote: files anywhere, any destination, default caps.
    pub fn trusted() -> Self {
        ContentPolicy {
            files: FileAccess::Anywhere,
            destinations: None,
            limits: ConfigLimits::default(),
        }
    }

    /// For configs from outside: files only beneath `file_root` (none at all without one),
    /// destinations only loopback plus `allowed`.
    pub fn pushed(
        file_root: Option<&Path>,
        allowed: Vec<Destination>,
    ) -> Result<Self, PolicyError> {
        let files = match file_root {
            None => FileAccess::Denied,
            Some(root) => FileAccess::Beneath(FileRoot::open(root).map_err(|source| {
                PolicyError::FileRoot {
                    path: root.to_path_buf(),
                    source,
                }
            })?),
        };
        Ok(ContentPolicy {
            files,
            destinations: Some(allowed),
            limits: ConfigLimits::pushed(),
        })
    }

    /// Whether files are opened without following symlinks.
    pub fn no_follow(&self) -> bool {
        !matches!(self.files, FileAccess::Anywhere)
    }

    /// Resolves a handler's filename under the policy, or says why it is refused.
    pub fn resolve_file(&self, raw: &str) -> Result<PathBuf, PolicyError> {
        if raw.contains('\0') {
            return Err(PolicyError::NulByte);
        }
        if raw.is_empty() {
            return Err(PolicyError::EmptyName);
        }
        match &self.files {
            FileAccess::Anywhere => Ok(PathBuf::from(raw)),
            FileAccess::Denied => Err(PolicyError::FilesDenied),
            FileAccess::Beneath(root) => {
                let root = root.path();
                let p = Path::new(raw);
                if p.components().any(|c| matches!(c, Component::ParentDir)) {
                    return Err(PolicyError::ParentDir {
                        name: raw.to_owned(),
                        root: root.to_path_buf(),
                    });
                }
                let full = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    root.join(p)
                };
                let rel = full
                    .strip_prefix(root)
                    .map_err(|_| PolicyError::OutsideRoot {
                        name: raw.to_owned(),
                        root: root.to_path_buf(),
                    })?;
                // Refuse a symlink at any level beneath the root: the open itself also refuses
                // to follow one at the last component.
                let mut cur = root.to_path_buf();
                for c in rel.components() {
                    if let Component::Normal(part) = c {
                        cur.push(part);
                        if let Ok(meta) = std::fs::symlink_metadata(&cur)
                            && meta.file_type().is_symlink()
                        {
                            return Err(PolicyError::Symlink { path: cur });
                        }
                    }
                }
                if rel.as_os_str().is_empty() {
                    return Err(PolicyError::IsRoot {
                        name: raw.to_owned(),
                    });
                }
                Ok(full)
            }
        }
    }

    /// Whether a handler may send to `host:port`.
    pub fn check_destination(&self, host: &str, port: u16) -> Result<(), PolicyError> {
        let Some(allowed) = &self.destinations else {
            return Ok(());
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback || allowed.iter().any(|d| d.allows(host, port)) {
            Ok(())
        } else {
            Err(PolicyError::DestinationNotAllowed {
                host: host.to_owned(),
                port,
            })
        }
    }

    /// Whether a handler may send to a Unix socket at `path` (same rules as files).
    pub fn check_unix_socket(&self, path: &str) -> Result<PathBuf, PolicyError> {
        match &self.files {
            FileAccess::Anywhere => Ok(PathBuf::from(path)),
            _ => self.resolve_file(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_files_stay_beneath_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let p = ContentPolicy::pushed(Some(dir.path()), vec![]).unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(p.resolve_file("app.log").unwrap(), root.join("app.log"));
        assert!(
            p.resolve_file("../etc/passwd")
                .unwrap_err()
                .to_string()
                .contains("..")
        );
        assert!(p.resolve_file("a/../../b").is_err());
        assert!(
            p.resolve_file("/etc/passwd")
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        assert!(p.resolve_file("x\0y").is_err());
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        assert!(
            p.resolve_file("link/passwd")
                .unwrap_err()
                .to_string()
                .contains("symlink")
        );
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw.log")).unwrap();
        assert!(
            p.resolve_file("pw.log")
                .unwrap_err()
                .to_string()
                .contains("symlink")
        );
    }

    #[test]
    fn no_root_means_no_files_and_says_how_to_allow_them() {
        let p = ContentPolicy::pushed(None, vec![]).unwrap();
        assert!(
            p.resolve_file("app.log")
                .unwrap_err()
                .to_string()
                .contains("--file-root")
        );
    }

    #[test]
    fn destinations_default_to_loopback() {
        let p = ContentPolicy::pushed(None, vec![Destination::parse("logs.example:514").unwrap()])
            .unwrap();
        assert!(p.check_destination("127.0.0.1", 9020).is_ok());
        assert!(p.check_destination("::1", 9020).is_ok());
        assert!(p.check_destination("localhost", 1).is_ok());
        assert!(p.check_destination("logs.example", 514).is_ok());
        assert!(p.check_destination("logs.example", 515).is_err());
        assert!(p.check_destination("169.254.169.254", 80).is_err());
        assert!(
            ContentPolicy::trusted()
                .check_destination("anything", 1)
                .is_ok()
        );
    }
    #[test]
    fn refusals_read_as_the_cli_prints_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = ContentPolicy::pushed(Some(dir.path()), vec![]).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let text = |r: Result<PathBuf, PolicyError>| r.unwrap_err().to_string();
        assert_eq!(
            text(p.resolve_file("/elsewhere/x.log")),
            format!(
                "'/elsewhere/x.log' is outside the file root {}",
                root.display()
            )
        );
        assert_eq!(
            text(p.resolve_file("a/../b")),
            format!(
                "'a/../b' contains '..': files must stay beneath {}",
                root.display()
            )
        );
        assert_eq!(text(p.resolve_file("")), "file name is empty");
        assert_eq!(
            text(
                ContentPolicy::pushed(None, vec![])
                    .unwrap()
                    .resolve_file("x")
            ),
            "file handlers are not allowed in pushed configs unless the listener has a file root \
             (logwire serve --file-root DIR)"
        );
        assert_eq!(
            p.check_destination("10.0.0.1", 514)
                .unwrap_err()
                .to_string(),
            "destination 10.0.0.1:514 is not allowed (loopback and --allow-host destinations only)"
        );
        let parse = |s: &str| Destination::parse(s).unwrap_err().to_string();
        assert_eq!(parse("[::1:80"), "'[::1:80': missing ']'");
        assert_eq!(parse(":80"), "':80': no host");
        assert_eq!(parse("h:http"), "'h:http': 'http' is not a port");
        assert!(matches!(
            ContentPolicy::pushed(Some(&dir.path().join("missing")), vec![]),
            Err(PolicyError::FileRoot { .. })
        ));
    }
}
