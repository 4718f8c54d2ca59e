//! Replay tracking for `LWR1` records, apart from the stateless format in the parent
//! module: per (key_id, epoch) the highest seq and a sliding bitmap of the last
//! [`REPLAY_WINDOW`] seqs, the contiguous point cumulative acks name, and the state a
//! restarted receiver's journal restores. Bounded: a window is a fixed bitmap, and a state
//! no live window could reach is refused rather than walked.

use super::Epoch;
use crate::key::KeyId;
use std::fmt;

/// Maps keyed by key id and epoch. Only records whose tag verified are marked, so a key
/// here always comes from a key holder: foldhash's randomly seeded hasher (a fraction of
/// SipHash's cost per 16-byte epoch, with seeds per process) is enough, and `mark` runs
/// twice per signed record.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The verdict on a record's seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Not seen before: hand it to the handlers.
    New,
    /// Already seen within the window: ack again, do not store twice.
    Duplicate,
    /// Below the window (or seq 0): reject and count.
    TooOld,
}

/// Seqs remembered below the highest one.
pub const REPLAY_WINDOW: u64 = 4096;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// Highest seq plus a sliding bitmap of the last [`REPLAY_WINDOW`] seqs (RFC 6479 style:
/// bit `seq % REPLAY_WINDOW`, cleared as the window slides), for one (key_id, epoch).
///
/// It also tracks the *contiguous* point for cumulative acks: every seq `1..=contiguous`
/// has been marked, or has slid out of the window unseen and been counted as missing.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: u64,
    bits: Box<[u64; WORDS]>,
    contiguous: u64,
    missing: u64,
}

impl fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("highest", &self.highest)
            .field("contiguous", &self.contiguous)
            .field("missing", &self.missing)
            .finish_non_exhaustive()
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// A window that has seen nothing.
    pub fn new() -> Self {
        Self {
            highest: 0,
            bits: Box::new([0; WORDS]),
            contiguous: 0,
            missing: 0,
        }
    }

    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % REPLAY_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// A window for an epoch first seen at `first_seq`: everything below it counts as
    /// handled. A receiver that restarts meets a sender's stream in the middle (the sender
    /// resends from its oldest unacknowledged record, so everything earlier was acknowledged
    /// by the receiver's previous run); starting at 0 instead would hold the cumulative ack
    /// below the first seq forever.
    pub fn starting_at(first_seq: u64) -> Self {
        let base = first_seq.saturating_sub(1);
        Self {
            highest: base,
            bits: Box::new([0; WORDS]),
            contiguous: base,
            missing: 0,
        }
    }

    fn is_set(&self, seq: u64) -> bool {
        let (w, m) = Self::bit(seq);
        self.bits[w] & m != 0
    }

    /// Classifies `seq` without recording it.
    pub fn check(&self, seq: u64) -> ReplayVerdict {
        // Subtraction from the top, so seqs near u64::MAX cannot overflow.
        if seq == 0 || (seq < self.highest && self.highest - seq >= REPLAY_WINDOW) {
            ReplayVerdict::TooOld
        } else if seq <= self.contiguous && !self.is_set(seq) {
            // Below the start of a window opened mid-stream (or given up as missing).
            ReplayVerdict::TooOld
        } else if seq > self.highest {
            ReplayVerdict::New
        } else if self.is_set(seq) {
            ReplayVerdict::Duplicate
        } else {
            ReplayVerdict::New
        }
    }

    /// Classifies `seq` and, if new, records it.
    pub fn mark(&mut self, seq: u64) -> ReplayVerdict {
        let verdict = self.check(seq);
        if verdict != ReplayVerdict::New {
            return verdict;
        }
        if seq > self.highest {
            self.slide_to(seq);
        }
        let (w, m) = Self::bit(seq);
        self.bits[w] |= m;
        self.advance_contiguous();
        verdict
    }

    /// Moves the top of the window to `seq`, clearing the bits of seqs it now covers and
    /// counting seqs that fall out of the window unseen as missing.
    fn slide_to(&mut self, seq: u64) {
        // Lowest seq still inside the window once `seq` is the highest.
        let floor = seq.saturating_sub(REPLAY_WINDOW - 1).max(1);
        if self.contiguous + 1 < floor {
            // Seqs in contiguous+1 .. floor are leaving: unseen ones are missing. Those at or
            // below the old highest are in the bitmap; those above it were never seen.
            let old_top = self.highest.min(floor - 1);
            let mut q = self.contiguous + 1;
            while q <= old_top {
                if !self.is_set(q) {
                    self.missing += 1;
                }
                q += 1;
            }
            let never_seen_from = (self.contiguous + 1).max(self.highest + 1);
            self.missing += floor.saturating_sub(never_seen_from);
            self.contiguous = floor - 1;
        }
        let gap = seq - self.highest;
        if gap >= REPLAY_WINDOW {
            self.bits.fill(0);
        } else {
            for s in self.highest + 1..=seq {
                let (w, m) = Self::bit(s);
                self.bits[w] &= !m;
            }
        }
        self.highest = seq;
    }

    fn advance_contiguous(&mut self) {
        while self.contiguous < self.highest && self.is_set(self.contiguous + 1) {
            self.contiguous += 1;
        }
    }

    /// The highest seq marked (0 if none).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Every seq up to this one has been marked or given up as missing: the value for a
    /// cumulative ack.
    pub fn contiguous(&self) -> u64 {
        self.contiguous
    }

    /// Seqs that slid out of the window without ever being seen.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// The window's complete state, to persist it (see [`ReplayWindow::from_state`]).
    pub fn state(&self) -> WindowState {
        WindowState {
            highest: self.highest,
            contiguous: self.contiguous,
            missing: self.missing,
            bits: self.bits.to_vec(),
        }
    }

    /// Rebuilds a window from [`ReplayWindow::state`]; `None` if the state is one no live
    /// window can reach (a contiguous point above the highest seq or more than a window
    /// below it, more seqs missing than lie below the contiguous point, or a bitmap of the
    /// wrong size). Those bounds are what keep `mark`'s loops within one window and its
    /// counters from overflowing, so a state read from a file must meet them.
    pub fn from_state(state: &WindowState) -> Option<Self> {
        let bits: [u64; WORDS] = state.bits.as_slice().try_into().ok()?;
        let reachable = state.contiguous <= state.highest
            && state.highest - state.contiguous <= REPLAY_WINDOW
            && state.missing <= state.contiguous;
        reachable.then(|| Self {
            highest: state.highest,
            bits: Box::new(bits),
            contiguous: state.contiguous,
            missing: state.missing,
        })
    }
}

/// A [`ReplayWindow`]'s state as plain data, for persisting replay protection across
/// restarts: a restarted receiver that forgot which seqs it stored would store resent
/// records twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowState {
    /// The highest seq marked.
    pub highest: u64,
    /// The cumulative-ack point.
    pub contiguous: u64,
    /// Seqs given up as missing.
    pub missing: u64,
    /// The bitmap: [`REPLAY_WINDOW`] / 64 words, bit `seq % REPLAY_WINDOW`.
    pub bits: Vec<u64>,
}

#[derive(Debug, Clone)]
struct TrackedEpoch {
    window: ReplayWindow,
    last_used: u64,
}

/// Replay windows for many (key_id, epoch) pairs, with at most `max_epochs_per_key`
/// epochs tracked per key: a new epoch beyond that evicts the least recently used one,
/// so a flood of epochs costs bounded memory.
///
/// A record from an evicted epoch is seen as new again; only a key holder can make
/// valid epochs, and the cap should exceed the number of live senders per key.
#[derive(Debug, Clone)]
pub struct ReplayTracker {
    max_epochs_per_key: usize,
    keys: HashMap<KeyId, HashMap<Epoch, TrackedEpoch>>,
    clock: u64,
    evicted: u64,
}

impl ReplayTracker {
    /// A tracker keeping at most `max_epochs_per_key` epochs (at least 1) per key.
    pub fn new(max_epochs_per_key: usize) -> Self {
        Self {
            max_epochs_per_key: max_epochs_per_key.max(1),
            keys: HashMap::default(),
            clock: 0,
            evicted: 0,
        }
    }

    /// Classifies a seq without recording it.
    pub fn check(&self, key_id: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        match self.window(key_id, epoch) {
            Some(w) => w.check(seq),
            None => ReplayWindow::starting_at(seq).check(seq),
        }
    }

    /// Classifies a seq and records it if new; call only for records whose tag verified.
    pub fn mark(&mut self, key_id: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        if seq == 0 {
            return ReplayVerdict::TooOld;
        }
        self.clock += 1;
        let now = self.clock;
        let epochs = self.keys.entry(key_id).or_default();
        // One lookup for a tracked epoch (every record but an epoch's first).
        if let Some(tracked) = epochs.get_mut(&epoch) {
            tracked.last_used = now;
            return tracked.window.mark(seq);
        }
        let now = self.make_room(key_id, epoch);
        let mut window = ReplayWindow::starting_at(seq);
        let verdict = window.mark(seq);
        self.keys.entry(key_id).or_default().insert(
            epoch,
            TrackedEpoch {
                window,
                last_used: now,
            },
        );
        verdict
    }

    /// Ticks the LRU clock and, if `epoch` is new for a key at its cap, evicts the key's
    /// least recently used epoch. Returns the new clock value.
    fn make_room(&mut self, key_id: KeyId, epoch: Epoch) -> u64 {
        self.clock += 1;
        let epochs = self.keys.entry(key_id).or_default();
        if !epochs.contains_key(&epoch) && epochs.len() >= self.max_epochs_per_key {
            // Linear scan is fine: the cap is small.
            if let Some(oldest) = epochs
                .iter()
                .min_by_key(|(_, t)| t.last_used)
                .map(|(e, _)| *e)
            {
                epochs.remove(&oldest);
                self.evicted += 1;
            }
        }
        self.clock
    }

    /// The window for a (key_id, epoch), if tracked.
    pub fn window(&self, key_id: KeyId, epoch: Epoch) -> Option<&ReplayWindow> {
        self.keys.get(&key_id)?.get(&epoch).map(|t| &t.window)
    }

    /// Number of epochs tracked for a key.
    pub fn epochs_tracked(&self, key_id: KeyId) -> usize {
        self.keys.get(&key_id).map_or(0, HashMap::len)
    }

    /// How many epochs have been evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Every tracked window, in no particular order.
    pub fn windows(&self) -> impl Iterator<Item = (KeyId, Epoch, &ReplayWindow)> {
        self.keys
            .iter()
            .flat_map(|(k, epochs)| epochs.iter().map(move |(e, t)| (*k, *e, &t.window)))
    }

    /// Puts a window back (replacing any tracked for the same key and epoch), evicting the
    /// least recently used epoch of the key if it is at its cap.
    pub fn restore(&mut self, key_id: KeyId, epoch: Epoch, window: ReplayWindow) {
        let now = self.make_room(key_id, epoch);
        self.keys.entry(key_id).or_default().insert(
            epoch,
            TrackedEpoch {
                window,
                last_used: now,
            },
        );
    }

    /// Drops every window of a key (e.g. when it is removed from the key ring).
    pub fn forget_key(&mut self, key_id: KeyId) {
        self.keys.remove(&key_id);
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    #[test]
    fn a_window_opened_mid_stream_acks_from_its_first_seq() {
        // A receiver restarted while seqs 1..=100 were already acknowledged by its previous
        // run: the sender resends from 101.
        let mut t = ReplayTracker::new(4);
        let (k, e) = (KeyId([1; 8]), Epoch([2; 16]));
        assert_eq!(t.mark(k, e, 101), ReplayVerdict::New);
        assert_eq!(t.mark(k, e, 102), ReplayVerdict::New);
        assert_eq!(t.window(k, e).unwrap().contiguous(), 102);
        assert_eq!(t.mark(k, e, 101), ReplayVerdict::Duplicate);
        assert_eq!(
            t.mark(k, e, 50),
            ReplayVerdict::TooOld,
            "below the window's start"
        );
        assert_eq!(t.window(k, e).unwrap().missing(), 0);
    }

    #[test]
    fn a_restored_tracker_judges_like_the_original() {
        let mut t = ReplayTracker::new(4);
        let (k, e) = (KeyId([3; 8]), Epoch([4; 16]));
        // A window opened mid-stream, with a gap and a run above it.
        for seq in (200..=260).chain(270..=280) {
            t.mark(k, e, seq);
        }
        let mut restored = ReplayTracker::new(4);
        for (key, epoch, w) in t.windows() {
            restored.restore(key, epoch, ReplayWindow::from_state(&w.state()).unwrap());
        }
        for seq in [1, 150, 199, 200, 230, 260, 261, 265, 270, 280, 281, 9000] {
            assert_eq!(restored.check(k, e, seq), t.check(k, e, seq), "seq {seq}");
        }
        assert_eq!(restored.window(k, e).unwrap().contiguous(), 260);
        let mut bad = t.window(k, e).unwrap().state();
        bad.contiguous = bad.highest + 1;
        assert!(ReplayWindow::from_state(&bad).is_none());
        bad.contiguous = 0;
        bad.bits.pop();
        assert!(ReplayWindow::from_state(&bad).is_none());
    }

    /// States a live window never reaches would let `mark` walk ~2^64 seqs (a contiguous
    /// point far below the highest, every bit set) or overflow `missing`: refused.
    #[test]
    fn unreachable_states_are_refused() {
        let full = WindowState {
            highest: u64::MAX - 1,
            contiguous: 0,
            missing: 0,
            bits: vec![u64::MAX; WORDS],
        };
        assert!(
            ReplayWindow::from_state(&full).is_none(),
            "gap over a window"
        );
        let edge = WindowState {
            contiguous: full.highest - REPLAY_WINDOW,
            ..full.clone()
        };
        assert!(
            ReplayWindow::from_state(&edge).is_some(),
            "exactly a window"
        );
        let overcounted = WindowState {
            missing: edge.contiguous + 1,
            ..edge.clone()
        };
        assert!(
            ReplayWindow::from_state(&overcounted).is_none(),
            "missing > contiguous"
        );
        let mut w = ReplayWindow::from_state(&edge).unwrap();
        assert_eq!(w.mark(u64::MAX), ReplayVerdict::New);
    }
}
