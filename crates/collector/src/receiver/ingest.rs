//! One frame's payload to an outcome: verify (`LWR1`), dedupe, map to a record, or reject.
//!
//! Shared by the stream and datagram receivers, so a frame is judged the same way whatever
//! carried it.

use super::ReceiverOptions;
use super::seqs::{SeenSeqs, StoredSeqs};
use super::stats::{Counters, ListenerId, RejectReason};
use super::work::{AckRoute, Batch, QueueBudget, Signed, Work};
use logwire_record::MappedRecord;
use logwire_record::{Format, MapError, RecordMapper};
use logwire_wire::ReplayVerdict;
use logwire_wire::{
    PayloadFormat, RecordError, RecordKeys, TagChecked, is_record_envelope, open_checked,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// State every receiver task shares.
pub(crate) struct Shared {
    pub(crate) options: ReceiverOptions,
    pub(crate) counters: Arc<Counters>,
    /// Bytes queued for the dispatcher (see [`QueueBudget`]).
    pub(crate) queue: QueueBudget,
    /// [`ReceiverOptions::keys`], each HMAC key keyed once (a keyed state is cloned per
    /// record instead of keying anew: two SHA-256 compressions saved per record).
    keys: RecordKeys,
    /// Seqs accepted at ingest (dedupe); acks use the dispatcher's [`StoredSeqs`].
    seen: SeenSeqs,
    log: RejectLog,
}

/// Where a frame came from: the sender's label (for the reject log and
/// [`ReceiverOptions::peer_field`]) and the listener it came in on (for its counters).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin<'a> {
    pub(crate) peer: &'a str,
    pub(crate) listener: ListenerId,
}

/// What became of one frame.
pub(crate) enum Outcome {
    /// A record for the handlers (with its envelope facts if it was signed).
    Record(Box<MappedRecord>, Option<Signed>),
    /// A signed record already seen: not stored again, but acked again if asked.
    Duplicate(Option<Signed>),
    /// Rejected (already counted and logged).
    Rejected,
}

impl Shared {
    /// `stored` holds what earlier runs stored (from the journal), or nothing.
    pub(crate) fn new(
        options: ReceiverOptions,
        counters: Arc<Counters>,
        stored: &StoredSeqs,
    ) -> Self {
        Shared {
            queue: QueueBudget::new(options.queue_bytes),
            keys: RecordKeys::new(&options.keys),
            options,
            counters,
            seen: SeenSeqs::from_stored(stored),
            log: RejectLog::default(),
        }
    }

    /// Names the sender in the record ([`ReceiverOptions::peer_field`]).
    fn tag_peer(&self, rec: &mut MappedRecord, peer: &str) {
        if let Some(key) = self.options.peer_field {
            rec.set_peer(key, peer);
        }
    }

    /// Counts and logs a rejected frame.
    pub(crate) fn reject(
        &self,
        from: Origin<'_>,
        reason: RejectReason,
        detail: &dyn std::fmt::Display,
    ) {
        self.counters.reject(from.listener, reason);
        if self.options.log_rejects {
            self.log.log(from.peer, reason, detail);
        }
    }

    /// Judges one frame payload (without its prefix). `ack_route` is where acks for this
    /// connection go (`None` for datagrams: unauthenticated UDP never gets a reply, and
    /// authenticated UDP has no return path a sender reads).
    pub(crate) fn judge(
        &self,
        payload: &[u8],
        mapper: &mut RecordMapper,
        from: Origin<'_>,
        ack_route: Option<&AckRoute>,
    ) -> Outcome {
        self.judge_checked(payload, None, mapper, from, ack_route)
    }

    /// Checks the tag of a signed frame payload ahead of judging it, on the task that read
    /// it: `None` if it is not an `LWR1` envelope or does not verify (then [`Shared::judge`]
    /// checks it again and rejects it with the reason).
    pub(crate) fn check_tag(&self, payload: &[u8]) -> Option<TagChecked> {
        if !is_record_envelope(payload) {
            return None;
        }
        self.keys.check_tag(payload).ok()
    }

    /// As [`Shared::judge`]; `checked` is [`Shared::check_tag`]'s verdict on this very
    /// payload, if the reading task checked it: then the tag is not computed again.
    pub(crate) fn judge_checked(
        &self,
        payload: &[u8],
        checked: Option<TagChecked>,
        mapper: &mut RecordMapper,
        from: Origin<'_>,
        ack_route: Option<&AckRoute>,
    ) -> Outcome {
        if payload.is_empty() {
            self.reject(from, RejectReason::Empty, &"zero-length frame");
            return Outcome::Rejected;
        }
        if is_record_envelope(payload) {
            return self.judge_signed(payload, checked, mapper, from, ack_route);
        }
        if !self.options.keys.is_empty() && !self.options.allow_unsigned {
            self.reject(
                from,
                RejectReason::Unsigned,
                &"unsigned frame (keys are configured)",
            );
            return Outcome::Rejected;
        }
        match mapper.map_reusable(payload, Format::Sniff) {
            Ok(mut rec) => {
                self.tag_peer(&mut rec, from.peer);
                Outcome::Record(rec, None)
            }
            Err(e) => {
                self.reject(from, map_reason(&e), &e);
                Outcome::Rejected
            }
        }
    }

    fn judge_signed(
        &self,
        bytes: &[u8],
        checked: Option<TagChecked>,
        mapper: &mut RecordMapper,
        from: Origin<'_>,
        ack_route: Option<&AckRoute>,
    ) -> Outcome {
        let opened = match checked {
            Some(checked) => open_checked(bytes, checked),
            None => self.keys.open(bytes),
        };
        let env = match opened {
            Ok(env) => env,
            Err(e) => {
                let reason = match e {
                    RecordError::BadTag => RejectReason::BadTag,
                    RecordError::UnknownKey { .. } | RecordError::AlgMismatch { .. } => {
                        RejectReason::UnknownKey
                    }
                    _ => RejectReason::BadEnvelope,
                };
                self.reject(from, reason, &e);
                return Outcome::Rejected;
            }
        };
        // The tag verified: the record is authentic. Map it before marking its seq, so a
        // malformed (but signed) record does not burn a seq the sender may resend fixed.
        let mapped = match env.format {
            PayloadFormat::Pickle => mapper.map_reusable(env.payload, Format::Pickle),
            PayloadFormat::Json => mapper.map_reusable(env.payload, Format::Json),
        };
        let rec = match mapped {
            Ok(mut rec) => {
                self.tag_peer(&mut rec, from.peer);
                rec
            }
            Err(e) => {
                self.reject(from, map_reason(&e), &e);
                return Outcome::Rejected;
            }
        };
        let signed = Signed {
            key_id: env.key_id,
            epoch: env.epoch,
            seq: env.seq,
            ack: if env.ack_requested {
                ack_route.cloned()
            } else {
                None
            },
        };
        let verdict = self.seen.admit(env.key_id, env.epoch, env.seq);
        match verdict {
            ReplayVerdict::New => Outcome::Record(rec, Some(signed)),
            ReplayVerdict::Duplicate => Outcome::Duplicate(Some(signed)),
            ReplayVerdict::TooOld => {
                self.reject(
                    from,
                    RejectReason::ReplayTooOld,
                    &format_args!("seq {} is below the replay window", env.seq),
                );
                Outcome::Rejected
            }
        }
    }
}

/// Outcomes of one batch, counted locally and added to the shared counters once per batch:
/// each shared add is an atomic on a cache line the dispatcher's core writes too.
pub(crate) struct Tally {
    listener: ListenerId,
    records: u64,
    duplicates: u64,
}

impl Tally {
    /// Counts for frames that came in on `listener`.
    pub(crate) fn new(listener: ListenerId) -> Self {
        Tally {
            listener,
            records: 0,
            duplicates: 0,
        }
    }

    /// Counts an outcome and returns what the dispatcher is to do with it, if anything: a
    /// record to store, or an ack owed for a duplicate.
    pub(crate) fn count(&mut self, outcome: Outcome) -> Option<Work> {
        match outcome {
            Outcome::Record(rec, signed) => {
                self.records += 1;
                Some(Work::Record(rec, signed))
            }
            Outcome::Duplicate(signed) => {
                self.duplicates += 1;
                signed.filter(|s| s.ack.is_some()).map(Work::AckOnly)
            }
            Outcome::Rejected => None,
        }
    }

    /// Adds an outcome to the batch for the dispatcher.
    pub(crate) fn push(&mut self, outcome: Outcome, batch: &mut Batch) {
        batch.extend(self.count(outcome));
    }

    /// Publishes the counts; call before the batch goes to the dispatcher, which counts its
    /// records out of `pending`.
    pub(crate) fn publish(self, counters: &Counters) {
        self.publish_with_pending(counters, self.records);
    }

    /// Publishes the counts of outcomes the dispatcher judged and handled itself: its records
    /// were never `pending` (the caller counts them `stored` after this).
    pub(crate) fn publish_handled(self, counters: &Counters) {
        self.publish_with_pending(counters, 0);
    }

    fn publish_with_pending(&self, counters: &Counters, pending: u64) {
        let received = self.records + self.duplicates;
        if received == 0 {
            return;
        }
        // `received` first, outcomes after it with Release: a snapshot reads the outcomes
        // (Acquire) and `received` last, so it never sees more outcomes than frames.
        counters.add_received(self.listener, received);
        counters.add_pending(self.listener, pending);
        counters.add_duplicates(self.listener, self.duplicates);
    }
}

fn map_reason(e: &MapError) -> RejectReason {
    match e {
        MapError::BadPickle(_) => RejectReason::BadPickle,
        MapError::BadJson(_) => RejectReason::BadJson,
        MapError::Empty => RejectReason::Empty,
        _ => RejectReason::BadRecord,
    }
}

/// Logs rejected frames on stderr, at most [`RejectLog::PER_SECOND`] lines a second: a flood
/// of garbage must not become a flood of diagnostics. Suppressed lines are counted and
/// announced with the next line that gets through.
#[derive(Default)]
struct RejectLog {
    second: AtomicU64,
    lines: AtomicU64,
    suppressed: AtomicU64,
}

impl RejectLog {
    const PER_SECOND: u64 = 20;

    fn log(&self, peer: &str, reason: RejectReason, detail: &dyn std::fmt::Display) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.lines.store(0, Ordering::Relaxed);
        }
        if self.lines.fetch_add(1, Ordering::Relaxed) >= Self::PER_SECOND {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        let detail = detail.to_string();
        let detail = super::escape_text(&detail);
        if suppressed > 0 {
            eprintln!(
                "logwire: rejected frame from {peer}: {reason}: {detail} ({suppressed} similar lines suppressed)"
            );
        } else {
            eprintln!("logwire: rejected frame from {peer}: {reason}: {detail}");
        }
    }
}
