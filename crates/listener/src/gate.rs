//! The config gate: verify hook → `LWC1` verification → seq ratchet → UTF-8 → parse,
//! validate, build, swap (atomic, through `Configurator`) → persist seq → reply.
//!
//! Everything from verification to persisting runs under one mutex, so two racing pushes
//! are applied one after the other and the second is checked against the ratchet the first
//! advanced. Nothing here touches a socket: the connection code hands in a complete frame
//! body and gets the reply to send. [`ConfigGate`] is the same gate without a socket, for
//! transports other than the listener's own (a message bus): one frame in, one reply out,
//! through exactly the checks a socket push goes through.

use super::SeqStore;
use logwire_config::{ConfigErrors, Configurator, SourceFormat};
use logwire_engine::LoggerTree;
use logwire_wire::{
    Audience, ConfigEnvelope, ConfigReply, ConfigVerifier, EnvelopeClock, KeyId, KeyRing,
    is_config_envelope,
};
use std::sync::{Arc, Mutex};

/// A caller-supplied check with CPython's `verify` meaning: the received bytes in; the bytes
/// to apply (possibly transformed, e.g. decrypted) or a rejection reason out.
pub type VerifyHook = Arc<dyn Fn(Vec<u8>) -> Result<Vec<u8>, String> + Send + Sync>;

/// What processing one config produced: the reply to send back (its `reason` says why a
/// config was rejected) and the key that signed it, when it was signed and the signature
/// checked out far enough to name one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// The reply, as a socket push gets it.
    pub reply: ConfigReply,
    /// The signing key (unverified in a rejection that happened before the signature check).
    pub key_id: Option<KeyId>,
}

/// Why a verified (or allowed plain) config could not be applied. Nothing was changed: the
/// apply is atomic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The config text is not UTF-8.
    #[error("config is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The config did not parse, failed the content policy, or a handler could not be built.
    #[error("invalid config: {0}")]
    Invalid(#[source] ConfigErrors),
}

pub(crate) struct Gate {
    pub(crate) keys: KeyRing,
    pub(crate) audience: Option<Audience>,
    pub(crate) clock: Arc<dyn EnvelopeClock + Send + Sync>,
    /// Plain (unsigned) frames are applied: no keys (and the start-up check passed), or the
    /// operator allowed them explicitly.
    pub(crate) allow_plain: bool,
    pub(crate) hook: Option<VerifyHook>,
    pub(crate) configurator: Configurator,
    pub(crate) tree: LoggerTree,
    /// The lock that serializes verify-ratchet-apply-persist; holds the ratchet.
    pub(crate) store: Mutex<Option<SeqStore>>,
}

fn reject(seq: u64, key_id: Option<KeyId>, reason: impl Into<String>) -> Outcome {
    Outcome {
        reply: ConfigReply::rejected(seq, reason),
        key_id,
    }
}

impl Gate {
    /// Processes one complete frame body and says what to reply.
    pub(crate) fn process(&self, body: Vec<u8>) -> Outcome {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = match &self.hook {
            Some(hook) => match hook(body) {
                Ok(b) => b,
                Err(why) => return reject(0, None, format!("rejected by the verify hook: {why}")),
            },
            None => body,
        };
        if bytes.is_empty() {
            return reject(0, None, "empty config");
        }
        if !is_config_envelope(&bytes) {
            if !self.allow_plain {
                return reject(
                    0,
                    None,
                    "unsigned config refused: this listener only accepts signed LWC1 configs",
                );
            }
            return match self.apply(&bytes) {
                Ok(()) => Outcome {
                    reply: ConfigReply::applied(0),
                    key_id: None,
                },
                Err(why) => reject(0, None, why.to_string()),
            };
        }
        // Unverified, only to echo the claimed seq back in a rejection.
        let claimed = ConfigEnvelope::parse(&bytes).ok();
        let claimed_seq = claimed.map_or(0, |e| e.seq());
        let claimed_key = claimed.map(|e| e.key_id());
        if self.keys.is_empty() {
            return reject(
                claimed_seq,
                claimed_key,
                "signed config, but this listener has no keys to verify it",
            );
        }
        let verified = match ConfigVerifier::new(&self.keys, &*self.clock)
            .audience(self.audience)
            .verify(&bytes)
        {
            Ok(v) => v,
            Err(e) => return reject(claimed_seq, claimed_key, e.to_string()),
        };
        let (key_id, seq) = (verified.key_id, verified.seq);
        let Some(store) = store.as_mut() else {
            return reject(seq, Some(key_id), "listener has no seq state");
        };
        if let Err(e) = store.check(key_id, seq) {
            return reject(seq, Some(key_id), e.to_string());
        }
        if let Err(why) = self.apply(verified.payload) {
            return reject(seq, Some(key_id), why.to_string());
        }
        let reply = match store.record(key_id, seq) {
            Ok(()) => ConfigReply::applied(seq),
            // The config is live and the in-memory ratchet advanced; say the file is stale.
            Err(e) => ConfigReply {
                reason: format!("applied, but the seq could not be persisted: {e}"),
                ..ConfigReply::applied(seq)
            },
        };
        Outcome {
            reply,
            key_id: Some(key_id),
        }
    }

    fn apply(&self, payload: &[u8]) -> Result<(), ApplyError> {
        let text = std::str::from_utf8(payload).map_err(|e| ApplyError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        self.configurator
            .apply_text(&self.tree, text, SourceFormat::Wire)
            .map(|_| ())
            .map_err(ApplyError::Invalid)
    }
}
