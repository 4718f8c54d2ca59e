//! The two sets of signed (`LWR1`) seqs a collector keeps per (key id, epoch), one name each.
//! Both are [`ReplayTracker`]s underneath, but they answer different questions and move at
//! different points, so mixing them up loses records or acks:
//!
//! * [`SeenSeqs`] — seqs *accepted at ingest*: the judge marks a seq here as soon as its tag
//!   verified and its record mapped, and a second frame with it is a duplicate (stored once).
//!   Shared by every connection task, decode thread and the dispatcher (a mutex, held for one
//!   mark).
//! * [`StoredSeqs`] — seqs *handed to the handlers*: only the dispatcher marks them, after
//!   the record's handlers ran; their contiguous point is the cumulative `LWA1` ack, and they
//!   are what the replay journal persists. A seen seq is not stored yet (it may still be
//!   queued, or dropped when the output closes), so acking from `SeenSeqs` would promise too
//!   much.
//!
//! Both start from what earlier runs stored (the journal), so a restarted collector neither
//! stores a resent record twice nor acks less than it did. Memory: each is bounded by
//! [`ReplayTracker`]'s epochs per key times its fixed window bitmap.

use logwire_wire::{Epoch, KeyId, ReplayTracker, ReplayVerdict};
use std::sync::Mutex;

/// Seqs accepted at ingest (dedupe); see the module docs.
#[derive(Debug)]
pub(crate) struct SeenSeqs(Mutex<ReplayTracker>);

impl SeenSeqs {
    /// Starts from the seqs earlier runs stored.
    pub(crate) fn from_stored(stored: &StoredSeqs) -> Self {
        SeenSeqs(Mutex::new(stored.0.clone()))
    }

    /// Marks a verified record's seq: `New` the first time, `Duplicate` after, `TooOld`
    /// below its epoch's window.
    pub(crate) fn admit(&self, key_id: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .mark(key_id, epoch, seq)
    }
}

/// Seqs handed to the handlers (acks and the journal); see the module docs.
#[derive(Debug)]
pub(crate) struct StoredSeqs(ReplayTracker);

impl StoredSeqs {
    /// What earlier runs stored (from the replay journal), or a fresh tracker.
    pub(crate) fn new(tracker: ReplayTracker) -> Self {
        StoredSeqs(tracker)
    }

    /// Notes that a record's handlers ran; true the first time for this seq (the journal
    /// notes it then).
    pub(crate) fn mark_stored(&mut self, key_id: KeyId, epoch: Epoch, seq: u64) -> bool {
        self.0.mark(key_id, epoch, seq) == ReplayVerdict::New
    }

    /// The cumulative ack for (key, epoch): every seq up to it is stored (0: none yet).
    pub(crate) fn ack_point(&self, key_id: KeyId, epoch: Epoch) -> u64 {
        self.0.window(key_id, epoch).map_or(0, |w| w.contiguous())
    }

    /// The tracker, for the replay journal to persist.
    pub(crate) fn tracker(&self) -> &ReplayTracker {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seq seen at ingest is not acked until it is stored; both start from what an earlier
    /// run stored.
    #[test]
    fn seen_is_not_stored() {
        let (key, epoch) = (KeyId([1; 8]), Epoch([7; 16]));
        let mut stored = StoredSeqs::new(ReplayTracker::new(2));
        assert!(stored.mark_stored(key, epoch, 1));
        let seen = SeenSeqs::from_stored(&stored);
        assert_eq!(seen.admit(key, epoch, 1), ReplayVerdict::Duplicate);
        assert_eq!(seen.admit(key, epoch, 2), ReplayVerdict::New);
        assert_eq!(stored.ack_point(key, epoch), 1, "seq 2 is only seen");
        assert!(stored.mark_stored(key, epoch, 2));
        assert!(!stored.mark_stored(key, epoch, 2));
        assert_eq!(stored.ack_point(key, epoch), 2);
    }
}
