//! Re-applying the config file: on a change ([`Builder::watch`](crate::Builder::watch)), on
//! SIGHUP (`Builder::reload_on_sighup`, with the `sighup` feature) or when asked
//! ([`Guard::reload`](crate::Guard::reload)).
//!
//! A reload reads the file and applies it with the configurator's atomic path: the new
//! handlers are all built before the swap, so a file that fails to read, parse, validate or
//! build changes nothing and the previous configuration keeps logging. The failure is
//! reported through the tree itself, as an ERROR record of the `logwire.config` logger, so
//! it lands wherever the still-running configuration sends errors, and to the
//! [`Builder::on_reload`](crate::Builder::on_reload) callback.

use crate::Error;
use logwire_config::{ApplyReport, Configurator, SourceFormat};
use logwire_engine::LoggerTree;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The logger reload failures (and successes, at INFO) are logged to.
pub const RELOAD_LOGGER: &str = "logwire.config";

/// What started a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadCause {
    /// The file watcher saw the file change.
    FileChanged,
    /// The process received SIGHUP.
    Sighup,
    /// [`Guard::reload`](crate::Guard::reload) was called.
    Requested,
}

/// The outcome of one reload, given to the [`Builder::on_reload`](crate::Builder::on_reload)
/// callback.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// The new configuration is in force.
    Applied {
        /// What started it.
        cause: ReloadCause,
        /// What the apply did.
        report: ApplyReport,
    },
    /// The file was not applied; the previous configuration is still in force.
    Rejected {
        /// What started it.
        cause: ReloadCause,
        /// Why (the file could not be read, or every configuration error).
        error: Arc<Error>,
    },
}

impl fmt::Display for ReloadEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadEvent::Applied { cause, report } => write!(
                f,
                "config reloaded ({cause:?}): {} handlers built, {} closed",
                report.handlers_built, report.handlers_closed
            ),
            ReloadEvent::Rejected { cause, error } => write!(
                f,
                "config reload ({cause:?}) rejected, the previous configuration stays: {error}"
            ),
        }
    }
}

pub(crate) type ReloadCallback = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

/// Reads and applies one config file to one tree; shared by the watcher, the signal thread
/// and the guard.
pub(crate) struct Reloader {
    tree: LoggerTree,
    path: PathBuf,
    format: SourceFormat,
    configurator: Configurator,
    /// `configurator`, keeping existing loggers: see [`Reloader::apply`].
    reload_configurator: Configurator,
    callback: Option<ReloadCallback>,
    /// The text last applied: a watcher event for a file whose content did not change (a
    /// `touch`, an editor's save of the same text) does not rebuild every handler. Held
    /// during an apply so that two sources never apply at once.
    last: Mutex<Option<String>>,
}

impl Reloader {
    pub(crate) fn new(
        tree: LoggerTree,
        path: PathBuf,
        format: SourceFormat,
        configurator: Configurator,
        callback: Option<ReloadCallback>,
    ) -> Self {
        Reloader {
            tree,
            path,
            format,
            reload_configurator: configurator.clone().keep_existing_loggers(true),
            configurator,
            callback,
            last: Mutex::new(None),
        }
    }

    #[cfg(feature = "watch")]
    pub(crate) fn tree(&self) -> &LoggerTree {
        &self.tree
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and applies the file. `force` applies even unchanged text (SIGHUP and explicit
    /// requests: reopening files after logrotate moved them is what they are for).
    ///
    /// The first apply follows the file's `disable_existing_loggers` (CPython's default:
    /// loggers the file does not name are disabled). Later ones never disable loggers: by
    /// then the program's modules (and every `log`/`tracing` target seen) have loggers, and
    /// disabling all of them on an edit of the file would silence the program.
    pub(crate) fn apply(&self, force: bool) -> Result<Option<ApplyReport>, Error> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let text = std::fs::read_to_string(&self.path).map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        if !force && last.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        let configurator = if last.is_none() {
            &self.configurator
        } else {
            &self.reload_configurator
        };
        let report = configurator
            .apply_text(&self.tree, &text, self.format)
            .map_err(|errors| Error::Config {
                path: self.path.clone(),
                errors,
            })?;
        *last = Some(text);
        Ok(Some(report))
    }

    /// A reload from a watcher, a signal or a request: never fails, reports instead.
    pub(crate) fn reload(
        &self,
        cause: ReloadCause,
        force: bool,
    ) -> Result<ApplyReport, Arc<Error>> {
        let event = match self.apply(force) {
            Ok(None) => return Ok(ApplyReport::default()),
            Ok(Some(report)) => ReloadEvent::Applied { cause, report },
            Err(e) => ReloadEvent::Rejected {
                cause,
                error: Arc::new(e),
            },
        };
        let logger = self.tree.get_logger(RELOAD_LOGGER);
        match &event {
            ReloadEvent::Applied { .. } => logger.info(event.to_string()),
            ReloadEvent::Rejected { .. } => logger.error(event.to_string()),
        }
        if let Some(cb) = &self.callback {
            cb(&event);
        }
        match event {
            ReloadEvent::Applied { report, .. } => Ok(report),
            ReloadEvent::Rejected { error, .. } => Err(error),
        }
    }
}
