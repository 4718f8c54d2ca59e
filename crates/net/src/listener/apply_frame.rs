//! [`FrameApplier`]: one received config frame applied without a socket (its docs state
//! the contract).

use super::conn::Shared;
use super::gate::Gate;
use super::stats::Counters;
use super::{ConfigListener, ListenerError, ListenerEvent, ListenerHandle, SeqStore, check_apart};
use logwire_config::{Configurator, ContentPolicy};
use logwire_wire::{Audience, ConfigReply, ConfigStatus, KeyId};
use std::sync::{Arc, Mutex};

/// One received config frame body applied without a socket: the checks of a socket push,
/// for transports that deliver whole frames themselves (a JetStream key-value watcher).
///
/// [`ConfigListener::frame_applier`] builds, from the same builder and with the same
/// start-up refusals as [`ConfigListener::start`] (keys need a state directory; the state
/// directory and the file root must lie apart), the gate the socket connections use
/// (`gate::Gate::process`: verify hook → `LWC1` signature → time window → audience → seq
/// ratchet → UTF-8 → parse → content policy → atomic swap → persist seq). What it does not
/// do is the socket's part: addresses, TLS, peer uids, header/body deadlines, slots. The
/// transport bounds its own reads; [`FrameApplier::apply`] still refuses a body above
/// [`ListenerOptions::max_config_bytes`](super::ListenerOptions::max_config_bytes).
///
/// Without keys there is no owner-only socket to fall back on, so a keyless applier needs
/// [`ListenerOptions::allow_unsigned`](super::ListenerOptions::allow_unsigned).
///
/// [`ListenerHandle::frame_applier`] instead shares a *running* socket listener's gate: one
/// lock and one in-memory ratchet for both transports, so a frame applied through one
/// cannot be replayed through the other (two gates over one state directory would each
/// keep their own ratchet in memory). Frames applied that way are counted in the
/// listener's stats and reported through its event callback like socket pushes.
pub struct FrameApplier {
    source: Source,
    audience: Option<String>,
    max_config_bytes: usize,
}

enum Source {
    Own(Box<Gate>),
    Listener(Arc<Shared>),
}

impl ListenerHandle {
    /// This running listener's gate, for frames that arrive another way (see
    /// [`FrameApplier`]). `audience` is the name the listener was configured with, for
    /// reports only (the gate checks its own).
    pub fn frame_applier(&self, audience: Option<&str>) -> FrameApplier {
        FrameApplier {
            source: Source::Listener(Arc::clone(&self.shared)),
            audience: audience.map(str::to_owned),
            max_config_bytes: self.shared.max_config_bytes,
        }
    }
}

impl std::fmt::Debug for FrameApplier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameApplier")
            .field("audience", &self.audience)
            .field("max_config_bytes", &self.max_config_bytes)
            .finish_non_exhaustive()
    }
}

impl ConfigListener {
    /// The gate this listener would run, for frames that arrive some other way than its
    /// sockets (its addresses, TLS and connection options are ignored).
    pub fn frame_applier(self) -> Result<FrameApplier, ListenerError> {
        let o = self.options;
        if o.keys.is_empty() && !o.allow_unsigned {
            return Err(ListenerError::Unprotected {
                why: "no verification keys for configs that arrive over the network".into(),
            });
        }
        if !o.keys.is_empty() && o.state_dir.is_none() {
            return Err(ListenerError::NoStateDir);
        }
        let store = o.state_dir.as_ref().map(SeqStore::open).transpose()?;
        let policy = ContentPolicy::pushed(o.file_root.as_deref(), o.allowed_destinations.clone())
            .map_err(ListenerError::Policy)?;
        if let (Some(state), Some(root)) = (&o.state_dir, &o.file_root) {
            check_apart(state, root).map_err(ListenerError::Policy)?;
        }
        let registry = self
            .registry
            .unwrap_or_else(crate::kinds::standard_registry);
        let mut configurator =
            Configurator::new(registry, policy).keep_existing_loggers(self.keep_existing_loggers);
        if let Some(s) = self.streams {
            configurator = configurator.with_streams(s);
        }
        Ok(FrameApplier {
            source: Source::Own(Box::new(Gate {
                allow_plain: o.keys.is_empty() || o.allow_unsigned,
                keys: o.keys.clone(),
                audience: o.audience.as_deref().map(Audience::for_name),
                clock: self.clock,
                hook: self.hook,
                configurator,
                tree: self.tree,
                store: Mutex::new(store),
            })),
            audience: o.audience.clone(),
            max_config_bytes: o.max_config_bytes,
        })
    }
}

impl FrameApplier {
    /// Checks and applies one frame body (an `LWC1` envelope or a plain config, without the
    /// 4-byte length prefix) and says what a socket listener would reply, with the key that
    /// signed it when the signature was verified. `peer` names where the frame came from
    /// in a shared listener's events. Blocking (it builds handlers and fsyncs the ratchet):
    /// call it off async workers. Calls are serialized by the gate's lock.
    pub fn apply(&self, body: Vec<u8>, peer: &str) -> (ConfigReply, Option<KeyId>) {
        let (reply, key_id) = if body.len() > self.max_config_bytes {
            let reason = format!(
                "config of {} bytes is larger than this listener's cap of {} bytes",
                body.len(),
                self.max_config_bytes
            );
            (ConfigReply::rejected(0, reason), None)
        } else {
            let gate = match &self.source {
                Source::Own(g) => g,
                Source::Listener(shared) => &shared.gate,
            };
            let outcome = gate.process(body);
            (outcome.reply, outcome.key_id)
        };
        if let Source::Listener(shared) = &self.source {
            let (counter, event) = match reply.status {
                ConfigStatus::Applied => (
                    &shared.counters.applied,
                    ListenerEvent::Applied {
                        seq: reply.seq,
                        key_id,
                        peer: peer.to_owned(),
                    },
                ),
                ConfigStatus::Rejected => (
                    &shared.counters.rejected,
                    ListenerEvent::Rejected {
                        seq: reply.seq,
                        reason: reply.reason.clone(),
                        peer: peer.to_owned(),
                    },
                ),
            };
            Counters::bump(counter);
            if let Some(cb) = &shared.events {
                cb(&event);
            }
        }
        (reply, key_id)
    }

    /// The audience name this listener answers to, if it has one.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The largest frame body [`apply`](Self::apply) accepts.
    pub fn max_config_bytes(&self) -> usize {
        self.max_config_bytes
    }
}
