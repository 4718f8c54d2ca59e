//! The identity of the record being handled on this thread, for handlers that need one
//! (a JetStream publisher sets `Nats-Msg-Id` from it so the stream drops resent duplicates).
//!
//! A collector knows a signed record's envelope (key id, epoch, seq) but the [`LogRecord`]
//! it hands to the tree does not carry it (it would cost every record a field that only
//! one handler reads). The collector's dispatcher sets it around the handlers' calls with
//! [`with_origin`], and a handler reads it with [`current_origin`] on the same thread. A
//! handler reached through a `QueueHandler` runs on another thread and sees `None`.
//!
//! [`LogRecord`]: crate::LogRecord

use std::cell::Cell;

/// A signed record's envelope identity: unique per record for as long as its key lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordOrigin {
    /// The signing key's id.
    pub key_id: [u8; 8],
    /// The sender's epoch (random per sender start).
    pub epoch: [u8; 16],
    /// The record's seq within the epoch (from 1).
    pub seq: u64,
}

thread_local! {
    static CURRENT: Cell<Option<RecordOrigin>> = const { Cell::new(None) };
}

/// Runs `f` with `origin` as this thread's current record identity, then restores the
/// previous one (also when `f` panics, since the value is restored by a guard).
pub fn with_origin<R>(origin: Option<RecordOrigin>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<RecordOrigin>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(origin)));
    f()
}

/// The identity of the record this thread is handling, if its caller set one.
pub fn current_origin() -> Option<RecordOrigin> {
    CURRENT.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_set_only_inside_and_nests() {
        let a = RecordOrigin {
            key_id: [1; 8],
            epoch: [2; 16],
            seq: 3,
        };
        let b = RecordOrigin { seq: 4, ..a };
        assert_eq!(current_origin(), None);
        with_origin(Some(a), || {
            assert_eq!(current_origin(), Some(a));
            with_origin(Some(b), || assert_eq!(current_origin(), Some(b)));
            assert_eq!(current_origin(), Some(a));
        });
        assert_eq!(current_origin(), None);
    }
}
