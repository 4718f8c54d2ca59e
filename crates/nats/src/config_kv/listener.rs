//! [`KvConfigListener`]: watches one key and applies every new revision through the socket
//! listener's gate, on a thread of its own (as `ConfigListener` runs), replying on the
//! reply subject.
//!
//! One session = connect, open (or create) the bucket, watch the key from its latest
//! revision. Any failure ends the session; the next starts after a backoff that doubles
//! from [`MIN_BACKOFF`] to [`MAX_BACKOFF`] and resets once a watch is open. Revisions up to
//! the last one processed are skipped, so a reconnect does not re-apply (nor re-reject) the
//! latest value. The gate runs on the blocking pool: it builds handlers and fsyncs the
//! ratchet.

use super::push::open_bucket;
use super::{ConfigKvError, KvTarget, ListenerReply, NatsConnect, reply_subject};
use futures_util::StreamExt;
use logwire_listener::{ConfigGate, ConfigListener};
use logwire_wire::{ConfigReply, ConfigStatus, KeyId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// First wait before reconnecting.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnects (a broken server is retried this often, forever).
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a key-value listener did; `Display` is a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvEvent {
    /// A watch on the key is open.
    Watching {
        /// The target (credentials left out).
        target: String,
    },
    /// A revision was applied.
    Applied {
        /// The bucket revision.
        revision: u64,
        /// The config's seq.
        seq: u64,
        /// The key that signed it (none for a plain config).
        key_id: Option<KeyId>,
    },
    /// A revision was rejected; the running config is unchanged.
    Rejected {
        /// The bucket revision.
        revision: u64,
        /// The seq it claimed (0 if unreadable).
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The key was deleted or purged; the running config is kept.
    Deleted {
        /// The bucket revision of the delete marker.
        revision: u64,
    },
    /// The session ended; the next starts after `retry_in`.
    Disconnected {
        /// What failed.
        why: String,
        /// The backoff.
        retry_in: Duration,
    },
    /// The reply could not be published (the config was processed all the same).
    ReplyFailed {
        /// What failed.
        why: String,
    },
    /// The bucket lets values exceed the listener's cap: they are read, then rejected.
    LooseBucket {
        /// The bucket's max value size (-1: unlimited).
        max_value_size: i64,
    },
}

impl std::fmt::Display for KvEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvEvent::Watching { target } => write!(f, "watching {target}"),
            KvEvent::Applied {
                revision,
                seq,
                key_id,
            } => {
                write!(f, "applied revision {revision} (seq {seq}")?;
                if let Some(k) = key_id {
                    write!(f, ", key {k}")?;
                }
                f.write_str(")")
            }
            KvEvent::Rejected {
                revision,
                seq,
                reason,
            } => write!(f, "rejected revision {revision} (seq {seq}): {reason}"),
            KvEvent::Deleted { revision } => write!(
                f,
                "the key was deleted (revision {revision}); the running config is kept"
            ),
            KvEvent::Disconnected { why, retry_in } => {
                write!(f, "NATS session ended: {why}; retrying in {retry_in:?}")
            }
            KvEvent::ReplyFailed { why } => write!(f, "could not publish the reply: {why}"),
            KvEvent::LooseBucket { max_value_size } => write!(
                f,
                "the bucket's max value size is {max_value_size}: larger configs are read before \
                 they are rejected (create the bucket with a max value size)"
            ),
        }
    }
}

type KvEventCallback = Arc<dyn Fn(&KvEvent) + Send + Sync>;

/// A key-value config listener, not yet started. The checks come from a [`ConfigListener`]
/// builder (keys, state directory, audience, file root, registry, clock): configure it
/// exactly as for a socket listener; its addresses are not used.
///
/// ```no_run
/// use logwire_engine::LoggerTree;
/// use logwire_nats::{KvConfigListener, NatsConnect};
/// use logwire_listener::{ConfigListener, ListenerOptions};
///
/// let tree = LoggerTree::new();
/// let options = ListenerOptions::new()
///     .key_files(&["ops.pub"]).unwrap()
///     .state_dir("/var/lib/myapp/logwire")
///     .audience("payments-prod");
/// let handle = KvConfigListener::new(
///     ConfigListener::new(tree.clone(), options),
///     "nats://127.0.0.1:4222/logconf/payments".parse().unwrap(),
/// )
/// .connect_with(NatsConnect::default())
/// .on_event(|e| eprintln!("config: {e}"))
/// .start()
/// .unwrap();
/// // … the service runs; pushes reconfigure `tree` …
/// handle.stop_and_join();
/// ```
pub struct KvConfigListener {
    gate: Gate,
    target: KvTarget,
    connect: NatsConnect,
    name: Option<String>,
    events: Option<KvEventCallback>,
}

impl std::fmt::Debug for KvConfigListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvConfigListener")
            .field("target", &self.target)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Where the checks come from.
enum Gate {
    Build(Box<ConfigListener>),
    Shared(Arc<ConfigGate>),
}

/// Listeners started in this process, to keep default names apart.
static STARTED: AtomicUsize = AtomicUsize::new(0);

impl KvConfigListener {
    /// A listener for `target` that checks and applies through `gate`.
    pub fn new(gate: ConfigListener, target: KvTarget) -> Self {
        Self::with_gate(Gate::Build(Box::new(gate)), target)
    }

    /// A listener for `target` that checks and applies through an existing gate: another
    /// key's listener's, or a running socket listener's
    /// (`ListenerHandle::gate`), so that all of them share one seq ratchet.
    pub fn with_applier(applier: Arc<ConfigGate>, target: KvTarget) -> Self {
        Self::with_gate(Gate::Shared(applier), target)
    }

    fn with_gate(gate: Gate, target: KvTarget) -> Self {
        KvConfigListener {
            gate,
            target,
            connect: NatsConnect::default(),
            name: None,
            events: None,
        }
    }

    /// Credentials and TLS for the connection.
    pub fn connect_with(mut self, connect: NatsConnect) -> Self {
        self.connect = connect;
        self
    }

    /// The name in this listener's replies. Default: its audience (or `listener`), `@`,
    /// the host name and the process id (and `.N` for the N-th listener in one process).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Called for every event; `Display` of the event is a log line.
    pub fn on_event(mut self, callback: impl Fn(&KvEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(callback));
        self
    }

    /// Builds the gate (refusing what `ConfigListener::start` refuses, and a keyless gate
    /// without `allow_unsigned`) and starts watching on a thread of its own. Returns before
    /// the first connection: NATS being down is retried, not an error.
    pub fn start(self) -> Result<KvListenerHandle, ConfigKvError> {
        self.connect
            .check_files()
            .map_err(|e| ConfigKvError::Credentials(e.to_string()))?;
        let applier = match self.gate {
            Gate::Build(g) => Arc::new(g.gate()?),
            Gate::Shared(a) => a,
        };
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let name = self.name.unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".into());
            let who = applier.audience().unwrap_or("listener");
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            format!("{who}@{host}/{}{suffix}", std::process::id())
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(2)
            .thread_name("logwire-kv-config-apply")
            .build()
            .map_err(ConfigKvError::Runtime)?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let session = Session {
            target: self.target,
            connect: self.connect,
            name: name.clone(),
            applier,
            events: self.events,
        };
        let thread = std::thread::Builder::new()
            .name("logwire-kv-config-listener".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        _ = stop_rx.wait_for(|stopped| *stopped) => {}
                        () = session.run_forever() => {}
                    }
                });
                // An apply in flight finishes on its own; do not wait for it.
                runtime.shutdown_background();
            })
            .map_err(ConfigKvError::Runtime)?;
        Ok(KvListenerHandle {
            stop: stop_tx,
            thread: Some(thread),
            name,
        })
    }
}

/// A running key-value listener. Dropping it stops the listener (without waiting).
#[derive(Debug)]
pub struct KvListenerHandle {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    name: String,
}

impl KvListenerHandle {
    /// The name this listener replies with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops watching; returns at once.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// [`stop`](Self::stop), then waits for the thread (never for NATS).
    pub fn stop_and_join(mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for KvListenerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

struct Session {
    target: KvTarget,
    connect: NatsConnect,
    name: String,
    applier: Arc<ConfigGate>,
    events: Option<KvEventCallback>,
}

impl Session {
    fn event(&self, e: KvEvent) {
        if let Some(cb) = &self.events {
            cb(&e);
        }
    }

    async fn run_forever(&self) {
        let mut last_revision = 0u64;
        let mut backoff = MIN_BACKOFF;
        loop {
            let why = match self.run_once(&mut last_revision, &mut backoff).await {
                Ok(()) => "the watch ended".to_owned(),
                Err(e) => e.to_string(),
            };
            self.event(KvEvent::Disconnected {
                why,
                retry_in: backoff,
            });
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One session; returns when the watch ends or fails.
    async fn run_once(
        &self,
        last_revision: &mut u64,
        backoff: &mut Duration,
    ) -> Result<(), ConfigKvError> {
        let client = super::connect::connect(&self.connect, &self.target, &self.name).await?;
        let js = async_nats::jetstream::new(client.clone());
        let kv = match open_bucket(&js, &self.target).await {
            Ok(kv) => kv,
            Err(first) => js
                .get_key_value(&self.target.bucket)
                .await
                .map_err(|_| first)?,
        };
        if let Ok(status) = kv.status().await {
            let max = i64::from(status.info.config.max_message_size);
            if max < 0 || max as u64 > self.applier.max_config_bytes() as u64 + 4096 {
                self.event(KvEvent::LooseBucket {
                    max_value_size: max,
                });
            }
        }
        let mut entries =
            kv.watch_with_history(&self.target.key)
                .await
                .map_err(|e| ConfigKvError::Bucket {
                    bucket: self.target.bucket.clone(),
                    why: format!("cannot watch {}: {e}", self.target.key),
                })?;
        *backoff = MIN_BACKOFF;
        self.event(KvEvent::Watching {
            target: self.target.to_string(),
        });
        let subject = reply_subject(&self.target);
        while let Some(entry) = entries.next().await {
            let entry = entry.map_err(|e| ConfigKvError::Bucket {
                bucket: self.target.bucket.clone(),
                why: format!("watch: {e}"),
            })?;
            if entry.revision <= *last_revision {
                continue;
            }
            *last_revision = entry.revision;
            if entry.operation != async_nats::jetstream::kv::Operation::Put {
                self.event(KvEvent::Deleted {
                    revision: entry.revision,
                });
                continue;
            }
            let applier = Arc::clone(&self.applier);
            let body = entry.value.to_vec();
            let peer = format!("{} revision {}", self.target, entry.revision);
            let (reply, key_id) =
                match tokio::task::spawn_blocking(move || applier.apply_frame(body, &peer)).await {
                    Ok(outcome) => (outcome.reply, outcome.key_id),
                    Err(e) => (
                        ConfigReply::rejected(0, format!("the apply task failed: {e}")),
                        None,
                    ),
                };
            self.event(match reply.status {
                ConfigStatus::Applied => KvEvent::Applied {
                    revision: entry.revision,
                    seq: reply.seq,
                    key_id,
                },
                _ => KvEvent::Rejected {
                    revision: entry.revision,
                    seq: reply.seq,
                    reason: reply.reason.clone(),
                },
            });
            let answer =
                ListenerReply::new(&self.name, self.applier.audience(), entry.revision, &reply);
            let payload = serde_json::to_vec(&answer).unwrap_or_default();
            let published = match client.publish(subject.clone(), payload.into()).await {
                Ok(()) => client.flush().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(why) = published {
                self.event(KvEvent::ReplyFailed { why });
            }
        }
        Ok(())
    }
}
