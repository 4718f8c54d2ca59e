//! [`Builder`]: the whole set-up in one chain, and the [`Guard`] that undoes it.

use crate::Error;
use crate::reload::{ReloadCallback, ReloadCause, ReloadEvent, Reloader};
use logwire_config::{ApplyReport, Configurator, ContentPolicy, HandlerRegistry, SourceFormat};
use logwire_engine::LoggerTree;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long the watcher waits for a file to stop changing before it applies it: editors
/// write a file in several steps (truncate, write, rename), and applying the half-written
/// middle would log a spurious error.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);

/// Sets logging up from a config file: the configuration, and optionally a watcher that
/// re-applies the file when it changes, SIGHUP reloads, the signed config listener, and
/// the `log` / `tracing` bridges. [`init`](Builder::init) returns a [`Guard`]; keep it in
/// `main`: dropping it stops all of that and flushes and closes every handler.
///
/// ```
/// # fn main() -> Result<(), logwire::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("logging.yaml");
/// # std::fs::write(&path, "version: 1\nroot: {level: INFO}\n").unwrap();
/// let tree = logwire::LoggerTree::new();
/// let guard = logwire::Builder::from_file(&path)
///     .tree(tree.clone()) // default: the process-wide tree the bridges use
///     .watch()
///     .init()?;
/// assert_eq!(tree.root().effective_level(), logwire::level::INFO);
/// drop(guard); // stops the watcher, flushes and closes every handler
/// # Ok(())
/// # }
/// ```
#[must_use = "nothing happens until `init` is called"]
pub struct Builder {
    path: PathBuf,
    format: Option<SourceFormat>,
    tree: Option<LoggerTree>,
    configurator: Option<Configurator>,
    on_reload: Option<ReloadCallback>,
    #[cfg(feature = "watch")]
    watch: Option<Duration>,
    #[cfg(feature = "sighup")]
    sighup: bool,
    #[cfg(feature = "listener")]
    listener: Option<logwire_listener::ListenerOptions>,
    #[cfg(feature = "listener")]
    key_files: Vec<PathBuf>,
    /// Whether the program asked for a listener (`listen`, `listen_unix`,
    /// `listener_options`): key files or a state directory alone must not open a port.
    #[cfg(feature = "listener")]
    listen_requested: bool,
    /// An address that did not resolve, reported by `init` (the chain cannot fail midway).
    deferred: Option<Error>,
    #[cfg(feature = "log")]
    log: bool,
    #[cfg(feature = "tracing")]
    tracing: bool,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Logging configured from `path`: dictConfig as JSON, YAML or TOML, or fileConfig INI,
    /// chosen from the extension (`.json`, `.yaml`/`.yml`, `.toml`, `.ini`/`.conf`/`.cfg`;
    /// otherwise from the content: JSON if it starts with `{`, else INI), or by
    /// [`format`](Builder::format).
    pub fn from_file(path: impl AsRef<Path>) -> Self {
        Builder {
            path: path.as_ref().to_path_buf(),
            format: None,
            tree: None,
            configurator: None,
            on_reload: None,
            #[cfg(feature = "watch")]
            watch: None,
            #[cfg(feature = "sighup")]
            sighup: false,
            #[cfg(feature = "listener")]
            listener: None,
            #[cfg(feature = "listener")]
            key_files: Vec::new(),
            #[cfg(feature = "listener")]
            listen_requested: false,
            deferred: None,
            #[cfg(feature = "log")]
            log: false,
            #[cfg(feature = "tracing")]
            tracing: false,
        }
    }

    /// The file's syntax, whatever its extension says.
    pub fn format(mut self, format: SourceFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Configures `tree` instead of the process-wide [`LoggerTree::global`] (tests, or a
    /// program with trees of its own). The bridges then feed this tree.
    pub fn tree(mut self, tree: LoggerTree) -> Self {
        self.tree = Some(tree);
        self
    }

    /// Applies the file with this configurator (its handler registry and content policy).
    /// Default: the built-in handler classes, plus the network ones with the `net` feature,
    /// under the trusted policy (the file is the program's own).
    pub fn configurator(mut self, configurator: Configurator) -> Self {
        self.configurator = Some(configurator);
        self
    }

    /// Called after every reload (watcher, SIGHUP or [`Guard::reload`]) with its outcome.
    /// Each outcome is also logged to the tree's `logwire.config` logger (a rejected file
    /// at ERROR), so it reaches the configuration still in force.
    pub fn on_reload(mut self, callback: impl Fn(&ReloadEvent) + Send + Sync + 'static) -> Self {
        self.on_reload = Some(Arc::new(callback));
        self
    }

    /// Re-applies the file whenever it changes (debounced by [`DEFAULT_DEBOUNCE`]). The
    /// directory is watched, so editors and deploy tools that replace the file by a rename
    /// are seen. A file that does not apply leaves the previous configuration in force.
    #[cfg(feature = "watch")]
    pub fn watch(self) -> Self {
        self.watch_debounced(DEFAULT_DEBOUNCE)
    }

    /// [`watch`](Builder::watch) with another debounce time.
    #[cfg(feature = "watch")]
    pub fn watch_debounced(mut self, debounce: Duration) -> Self {
        self.watch = Some(debounce);
        self
    }

    /// Re-applies the file on SIGHUP, even if unchanged (so files that logrotate moved are
    /// reopened). Only when the program asks: SIGHUP's default is to end the process. Once
    /// asked, that default does not come back when the guard drops (signal-hook keeps its
    /// handler installed); SIGHUP is then ignored.
    #[cfg(feature = "sighup")]
    pub fn reload_on_sighup(mut self) -> Self {
        self.sighup = true;
        self
    }

    #[cfg(feature = "listener")]
    fn listener_mut(&mut self) -> &mut logwire_listener::ListenerOptions {
        self.listener.get_or_insert_with(Default::default)
    }

    #[cfg(feature = "listener")]
    fn with_listener(
        mut self,
        f: impl FnOnce(logwire_listener::ListenerOptions) -> logwire_listener::ListenerOptions,
    ) -> Self {
        let options = std::mem::take(self.listener_mut());
        self.listener = Some(f(options));
        self
    }

    /// Starts the config listener (CPython's `logging.config.listen`, signed) on a TCP
    /// address, e.g. `"127.0.0.1:9030"`; port 0 picks one ([`Guard::listener_addr`]).
    /// Pushed configs replace the file's until the file changes again. A listener needs
    /// [`verify_key`](Builder::verify_key) and [`state_dir`](Builder::state_dir), or
    /// explicit unsigned configs through [`listener_options`](Builder::listener_options).
    #[cfg(feature = "listener")]
    pub fn listen(mut self, addr: impl std::net::ToSocketAddrs + std::fmt::Debug) -> Self {
        self.listen_requested = true;
        let resolved = addr.to_socket_addrs().map(|mut a| a.next());
        match resolved {
            Ok(Some(a)) => self.with_listener(|o| o.tcp(a)),
            Ok(None) => {
                self.deferred.get_or_insert(Error::Address {
                    addr: format!("{addr:?}"),
                    message: "resolves to no address".into(),
                });
                self
            }
            Err(e) => {
                self.deferred.get_or_insert(Error::Address {
                    addr: format!("{addr:?}"),
                    message: e.to_string(),
                });
                self
            }
        }
    }

    /// Starts the config listener on a Unix stream socket (created 0600).
    #[cfg(feature = "listener")]
    pub fn listen_unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.listen_requested = true;
        self.with_listener(|o| o.unix(path))
    }

    /// A public key file (`ed25519-public:` or `hmac:`, as `logwire keygen` writes) whose
    /// signatures the listener accepts. Call again for more keys.
    #[cfg(feature = "listener")]
    pub fn verify_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.listener_mut();
        self.key_files.push(path.into());
        self
    }

    /// Where the listener persists each key's last seq (required with keys), so a replayed
    /// config is refused after a restart too.
    #[cfg(feature = "listener")]
    pub fn state_dir(self, dir: impl Into<PathBuf>) -> Self {
        self.with_listener(|o| o.state_dir(dir))
    }

    /// The directory pushed file handlers may write beneath (none at all without it).
    #[cfg(feature = "listener")]
    pub fn file_root(self, dir: impl Into<PathBuf>) -> Self {
        self.with_listener(|o| o.file_root(dir))
    }

    /// Every other listener option (audience, limits, allowed destinations …): replaces
    /// what earlier listener calls set, and later calls add to it. Starts a listener even
    /// without [`listen`](Builder::listen): on the options' addresses, or CPython's
    /// `127.0.0.1:9030` if they name none.
    #[cfg(feature = "listener")]
    pub fn listener_options(mut self, options: logwire_listener::ListenerOptions) -> Self {
        self.listen_requested = true;
        self.listener = Some(options);
        self
    }

    /// Mutual TLS on the listener's TCP addresses.
    #[cfg(feature = "tls")]
    pub fn tls(self, tls: logwire_listener::TlsServer) -> Self {
        self.with_listener(|o| o.tls(tls))
    }

    /// Installs the `log` facade backend (`log::info!` and friends reach the tree).
    #[cfg(feature = "log")]
    pub fn log(mut self) -> Self {
        self.log = true;
        self
    }

    /// Installs the `tracing` layer as the global subscriber (events reach the tree).
    #[cfg(feature = "tracing")]
    pub fn tracing(mut self) -> Self {
        self.tracing = true;
        self
    }

    /// Does the set-up, in this order: read and validate the file, load the key files (a
    /// missing or invalid file or key is an error before anything is started or changed);
    /// install the bridges; apply the file; start the listener, the watcher and the SIGHUP
    /// thread. If one of those last three fails, what this call started is stopped again
    /// and the error returned, but the file's configuration stays applied (the handlers it
    /// opened keep working, and are closed by [`LoggerTree::shutdown`] as usual), and an
    /// installed `log` or `tracing` bridge stays: those globals cannot be unset.
    pub fn init(self) -> Result<Guard, Error> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let tree = self.tree.unwrap_or_else(|| LoggerTree::global().clone());
        let path = std::path::absolute(&self.path).map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        let format = self.format.unwrap_or_else(|| SourceFormat::for_path(&path));
        let configurator = self.configurator.unwrap_or_else(default_configurator);

        // Validate before any side effect.
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        configurator
            .check_text(&text, format)
            .map_err(|errors| Error::Config {
                path: path.clone(),
                errors,
            })?;
        #[cfg(feature = "listener")]
        let listener_options = match self.listener {
            Some(_) if !self.listen_requested => {
                return Err(Error::Usage(
                    "listener settings (verify_key, state_dir, file_root, tls) without \
                     listen(...) or listen_unix(...)"
                        .into(),
                ));
            }
            Some(o) => Some(o.key_files(&self.key_files)?),
            None => None,
        };

        #[cfg(feature = "log")]
        if self.log {
            logwire_log::LogBridge::install(tree.clone())
                .map_err(|e| Error::Bridge(format!("the log bridge: {e}")))?;
        }
        #[cfg(feature = "tracing")]
        if self.tracing {
            use tracing_subscriber::layer::SubscriberExt;
            let subscriber = tracing_subscriber::registry()
                .with(logwire_tracing::LogwireLayer::new(tree.clone()));
            tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::new(subscriber))
                .map_err(|e| Error::Bridge(format!("the tracing layer: {e}")))?;
        }

        let reloader = Arc::new(Reloader::new(
            tree.clone(),
            path,
            format,
            configurator,
            self.on_reload,
        ));
        reloader.apply(true)?;
        // From here on the guard owns what is started: an error drops it, which stops it.
        let mut guard = Guard {
            tree,
            reloader,
            #[cfg(feature = "watch")]
            watcher: None,
            #[cfg(feature = "sighup")]
            sighup: None,
            #[cfg(feature = "listener")]
            listener: None,
            shutdown: false,
        };
        #[cfg(feature = "listener")]
        if let Some(options) = listener_options {
            let events = guard.tree.get_logger("logwire.listener");
            let handle = logwire_listener::ConfigListener::new(guard.tree.clone(), options)
                .registry(default_registry())
                .on_event(move |e| match e {
                    logwire_listener::ListenerEvent::Applied { .. } => events.info(e.to_string()),
                    _ => events.warning(e.to_string()),
                })
                .start()?;
            guard.listener = Some(handle);
        }
        #[cfg(feature = "watch")]
        if let Some(debounce) = self.watch {
            guard.watcher = Some(watch::start(Arc::clone(&guard.reloader), debounce)?);
        }
        #[cfg(feature = "sighup")]
        if self.sighup {
            guard.sighup = Some(sighup::start(Arc::clone(&guard.reloader))?);
        }
        // Only a guard that completed its set-up shuts the tree down on drop; a failed
        // `init` leaves the applied configuration logging.
        guard.shutdown = true;
        Ok(guard)
    }
}

fn default_configurator() -> Configurator {
    Configurator::new(default_registry(), ContentPolicy::trusted())
}

/// The handler classes this build knows: CPython's, plus the network ones with `net` and
/// `logwire.NATSHandler` with `nats` (for files and, with `listen`, for pushed configs).
fn default_registry() -> HandlerRegistry {
    #[allow(unused_mut)]
    let mut registry = HandlerRegistry::with_builtins();
    #[cfg(feature = "net")]
    logwire_handlers::register_network_handlers(&mut registry);
    #[cfg(feature = "nats")]
    logwire_nats::register(&mut registry);
    registry
}

/// Keeps logging set up; dropping it stops the watcher, the SIGHUP thread and the listener,
/// then flushes and closes every handler of the tree. Keep it alive in `main`.
#[must_use = "logging is shut down when the guard is dropped"]
pub struct Guard {
    tree: LoggerTree,
    reloader: Arc<Reloader>,
    #[cfg(feature = "watch")]
    watcher: Option<watch::Watcher>,
    #[cfg(feature = "sighup")]
    sighup: Option<sighup::SighupThread>,
    #[cfg(feature = "listener")]
    listener: Option<logwire_listener::ListenerHandle>,
    shutdown: bool,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("path", &self.reloader.path())
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// The tree this guard configured.
    pub fn tree(&self) -> &LoggerTree {
        &self.tree
    }

    /// The config file, as an absolute path.
    pub fn path(&self) -> &Path {
        self.reloader.path()
    }

    /// Re-applies the file now, even if unchanged; reported like any reload. On an error
    /// the previous configuration stays in force.
    pub fn reload(&self) -> Result<ApplyReport, Arc<Error>> {
        self.reloader.reload(ReloadCause::Requested, true)
    }

    /// The running listener, if [`Builder::listen`] started one.
    #[cfg(feature = "listener")]
    pub fn listener(&self) -> Option<&logwire_listener::ListenerHandle> {
        self.listener.as_ref()
    }

    /// The listener's first TCP address, its port resolved (for `listen("127.0.0.1:0")`).
    #[cfg(feature = "listener")]
    pub fn listener_addr(&self) -> Option<std::net::SocketAddr> {
        self.listener.as_ref().and_then(|l| l.tcp_addr())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // First everything that could reconfigure the tree, so no new handler is built
        // after the shutdown below closed the old ones.
        #[cfg(feature = "watch")]
        drop(self.watcher.take());
        #[cfg(feature = "sighup")]
        if let Some(s) = self.sighup.take() {
            s.stop();
        }
        #[cfg(feature = "listener")]
        if let Some(l) = self.listener.take() {
            l.stop_and_join();
        }
        if self.shutdown {
            self.tree.shutdown();
        }
    }
}

#[cfg(feature = "watch")]
mod watch {
    use super::{Error, ReloadCause, Reloader};
    use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
    use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
    use std::sync::Arc;
    use std::time::Duration;

    pub(super) type Watcher = Debouncer<RecommendedWatcher>;

    pub(super) fn start(reloader: Arc<Reloader>, debounce: Duration) -> Result<Watcher, Error> {
        let path = reloader.path().to_path_buf();
        let watch_error = |message: String| Error::Watch {
            path: path.clone(),
            message,
        };
        // The directory, not the file: a file replaced by a rename is a new inode, which a
        // watch on the old one never reports.
        let dir = path
            .parent()
            .ok_or_else(|| watch_error("the file has no directory".into()))?
            .to_path_buf();
        let name = path.file_name().map(|n| n.to_os_string());
        let r = Arc::clone(&reloader);
        let mut debouncer = new_debouncer(debounce, move |res: DebounceEventResult| match res {
            Ok(events) => {
                // Our file, or a Kubernetes ConfigMap/Secret update: the kubelet swaps a
                // `..data` symlink that our file points through, so the only events name
                // `..data` and `..data_tmp`. Unchanged text is skipped by the reloader.
                if events.iter().any(|e| {
                    e.path.file_name().is_some_and(|n| {
                        Some(n) == name.as_deref() || n.as_encoded_bytes().starts_with(b"..")
                    })
                }) {
                    let _ = r.reload(ReloadCause::FileChanged, false);
                }
            }
            Err(e) => r
                .tree()
                .get_logger(crate::reload::RELOAD_LOGGER)
                .error(format!("watching {}: {e}", r.path().display())),
        })
        .map_err(|e| watch_error(e.to_string()))?;
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(e.to_string()))?;
        Ok(debouncer)
    }
}

#[cfg(feature = "sighup")]
mod sighup {
    use super::{Error, ReloadCause, Reloader};
    use signal_hook::consts::SIGHUP;
    use signal_hook::iterator::{Handle, Signals};
    use std::sync::Arc;
    use std::thread::JoinHandle;

    pub(super) struct SighupThread {
        handle: Handle,
        thread: JoinHandle<()>,
    }

    impl SighupThread {
        pub(super) fn stop(self) {
            self.handle.close();
            let _ = self.thread.join();
        }
    }

    pub(super) fn start(reloader: Arc<Reloader>) -> Result<SighupThread, Error> {
        let mut signals = Signals::new([SIGHUP]).map_err(Error::Signal)?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name("logwire-sighup".into())
            .spawn(move || {
                for _ in signals.forever() {
                    let _ = reloader.reload(ReloadCause::Sighup, true);
                }
            })
            .map_err(Error::Signal)?;
        Ok(SighupThread { handle, thread })
    }
}
