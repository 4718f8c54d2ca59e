//! [`ConfigGate`]: one received config frame applied without a socket (its docs state the
//! contract).

use crate::conn::Shared;
use crate::gate::{Gate, Outcome};
use crate::stats::Counters;
use crate::{ConfigListener, ListenerError, ListenerEvent, ListenerHandle};
use logwire_wire::{ConfigReply, ConfigStatus};
use std::sync::Arc;

/// The listener's config gate without a socket: applies one received frame body (what
/// follows the 4-byte length prefix: a signed `LWC1` envelope, or a plain config where the
/// options allow those) through exactly the checks a socket push goes through — size cap,
/// verify hook, signature, time window, audience, seq ratchet (persisted in the state
/// directory), UTF-8, parse, content policy, atomic apply — and returns the reply a socket
/// peer would get. For transports that deliver whole frames themselves (a JetStream
/// key-value watcher). What it does not do is the socket's part: addresses, TLS, peer uids,
/// header/body deadlines, slots; the transport bounds its own reads.
///
/// Two ways to get one:
/// - [`ConfigListener::gate`], from the same builder and with the same start-up refusals as
///   [`ConfigListener::start`] (keys need a state directory; the state directory and the
///   file root must lie apart), except that no socket vouches for a peer: a gate without keys
///   needs [`ListenerOptions::allow_unsigned`](crate::ListenerOptions::allow_unsigned).
/// - [`ListenerHandle::gate`], which shares a *running* socket listener's gate: one lock and
///   one in-memory ratchet for both transports, so a frame applied through one cannot be
///   replayed through the other (two gates over one state directory would each keep their
///   own ratchet in memory). Frames applied that way are counted in the listener's stats and
///   reported through its event callback like socket pushes.
///
/// Cheap to share (`Arc` it); pushes are applied one at a time.
///
/// ```
/// use logwire_engine::LoggerTree;
/// use logwire_listener::{ConfigListener, ListenerOptions, signed_push_frame, SignOptions};
/// use logwire_wire::{ConfigStatus};
///
/// let signer = logwire_wire::generate_ed25519().unwrap();
/// let state = tempfile::tempdir().unwrap();
/// let tree = LoggerTree::new();
/// let options = ListenerOptions::new().key(signer.verify_key()).state_dir(state.path());
/// let gate = ConfigListener::new(tree.clone(), options).gate().unwrap();
///
/// let config = br#"{"version": 1, "root": {"level": "ERROR"}}"#;
/// let frame = signed_push_frame(&signer, config, &SignOptions::new().seq(1)).unwrap();
/// let outcome = gate.apply_frame(frame[4..].to_vec(), "bus"); // the body, after the prefix
/// assert_eq!(outcome.reply.status, ConfigStatus::Applied);
/// assert_eq!(tree.root().effective_level(), 40);
/// // The ratchet is the listener's: the same frame again is a replay.
/// let again = gate.apply_frame(frame[4..].to_vec(), "bus");
/// assert_eq!(again.reply.status, ConfigStatus::Rejected);
/// ```
pub struct ConfigGate {
    source: Source,
    audience: Option<String>,
    max_config_bytes: usize,
}

enum Source {
    Own(Box<Gate>),
    Listener(Arc<Shared>),
}

impl std::fmt::Debug for ConfigGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigGate")
            .field("audience", &self.audience)
            .field("max_config_bytes", &self.max_config_bytes)
            .field("shared", &matches!(self.source, Source::Listener(_)))
            .finish_non_exhaustive()
    }
}

impl ConfigListener {
    /// The gate this listener would run, for configs that arrive another way than its sockets
    /// (see [`ConfigGate`]); its addresses, TLS and connection options are ignored.
    pub fn gate(self) -> Result<ConfigGate, ListenerError> {
        if self.options.keys.is_empty() && !self.options.allow_unsigned {
            return Err(ListenerError::Unprotected {
                why: "a gate without a socket has no peer credentials to check".into(),
            });
        }
        let (gate, o) = self.build_gate()?;
        Ok(ConfigGate {
            source: Source::Own(Box::new(gate)),
            audience: o.audience,
            max_config_bytes: o.max_config_bytes,
        })
    }
}

impl ListenerHandle {
    /// This running listener's gate, for frames that arrive another way (see
    /// [`ConfigGate`]). `audience` is the name the listener was configured with, for reports
    /// only (the gate checks its own).
    pub fn gate(&self, audience: Option<&str>) -> ConfigGate {
        ConfigGate {
            source: Source::Listener(Arc::clone(&self.shared)),
            audience: audience.map(str::to_owned),
            max_config_bytes: self.shared.max_config_bytes,
        }
    }
}

impl ConfigGate {
    /// Checks and applies one frame body (an `LWC1` envelope or a plain config, without the
    /// 4-byte length prefix) and says what a socket listener would reply, with the key that
    /// signed it when the signature was verified. `peer` names where the frame came from in a
    /// shared listener's events. Blocking (it builds handlers and fsyncs the ratchet): call it
    /// off async workers. Calls are serialized by the gate's lock.
    pub fn apply_frame(&self, body: Vec<u8>, peer: &str) -> Outcome {
        // The socket path refuses these on the length prefix, before the body is read.
        let outcome = if body.len() > self.max_config_bytes {
            let reason = format!(
                "config of {} bytes is larger than this listener's cap of {} bytes",
                body.len(),
                self.max_config_bytes
            );
            Outcome {
                reply: ConfigReply::rejected(0, reason),
                key_id: None,
            }
        } else {
            match &self.source {
                Source::Own(g) => g.process(body),
                Source::Listener(shared) => shared.gate.process(body),
            }
        };
        if let Source::Listener(shared) = &self.source {
            let reply = &outcome.reply;
            let (counter, event) = match reply.status {
                ConfigStatus::Applied => (
                    &shared.counters.applied,
                    ListenerEvent::Applied {
                        seq: reply.seq,
                        key_id: outcome.key_id,
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
        outcome
    }

    /// The audience name this listener answers to, if it has one.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The largest frame body [`apply_frame`](Self::apply_frame) accepts.
    pub fn max_config_bytes(&self) -> usize {
        self.max_config_bytes
    }
}
