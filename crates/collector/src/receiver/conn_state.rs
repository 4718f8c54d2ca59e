//! One stream connection's state machine, without I/O: where the connection is ([`Phase`]),
//! which deadline runs, what each wake-up ([`Wake`]) does, and why it ends ([`Exit`]).
//!
//! The connection task in `stream` does the I/O (reads, judging frames, sending batches) and
//! asks this module what to do next; every decision about deadlines, oversized frames and
//! ending lives here, so it is unit-tested without sockets or clocks (instants are passed in).
//!
//! Deadlines, with their reasons:
//! * **header** ([`ReceiverOptions::header_timeout`]): from connect to the first byte, so a
//!   connection that never speaks does not hold a slot.
//! * **body** ([`ReceiverOptions::body_timeout`]): from a frame's first byte to its last,
//!   oversized frames being skipped included, so a trickled frame cannot hold its buffer.
//! * **idle** ([`ReceiverOptions::idle_timeout`], none by default): between frames. A CPython
//!   `SocketHandler` learns of a close only when a later send fails, and loses that record,
//!   so an established connection is not closed for being quiet unless asked.
//! * **drain** ([`DRAIN_QUIET`] per read, [`DRAIN_TOTAL`] in all): once the collector stops,
//!   a connection still delivering is read a little longer, then closed.
//!
//! Oversized frames: a length over the frame cap is skipped (its body read and dropped) while
//! the bytes skipped on this connection stay within [`MAX_SKIPPED_PER_CONNECTION`]; past it
//! the connection is closed ([`Exit::TooMuchSkipped`]).
//!
//! [`ReceiverOptions::header_timeout`]: super::ReceiverOptions::header_timeout
//! [`ReceiverOptions::body_timeout`]: super::ReceiverOptions::body_timeout
//! [`ReceiverOptions::idle_timeout`]: super::ReceiverOptions::idle_timeout

use std::time::Duration;
use tokio::time::Instant;

/// Bytes of oversized frames one connection may have skipped: a `SocketHandler` that logs a
/// record over the frame cap keeps its connection and its next records, but a peer that
/// sends little else than oversized frames is closed, and a length prefix announcing more
/// than what is left of this (a 4 GiB prefix) closes the connection at once, as a lost
/// framing would.
pub(crate) const MAX_SKIPPED_PER_CONNECTION: u64 = 64 << 20;

/// How long a stopping collector keeps reading a connection that still delivers data, per
/// read; bounded overall by [`DRAIN_TOTAL`].
pub(crate) const DRAIN_QUIET: Duration = Duration::from_millis(100);
pub(crate) const DRAIN_TOTAL: Duration = Duration::from_secs(2);

/// Where a connection is between two wake-ups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Connected, nothing read yet: the header deadline runs.
    Fresh,
    /// Between frames: the idle deadline runs, if one is set.
    BetweenFrames,
    /// Part of a frame is buffered, since `started`: the body deadline runs.
    InFrame { started: Instant },
    /// Dropping an oversized frame's body: `left` bytes of it still to come; the body
    /// deadline runs from `started`.
    Skipping { left: usize, started: Instant },
}

/// Why a connection ended; each has its own accounting in `stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The peer closed the stream (a partial frame is counted truncated).
    Closed,
    /// A read failed (reset by peer and the like; a partial frame is counted truncated).
    ReadFailed,
    /// The header, idle or body deadline passed.
    TimedOut,
    /// A large frame got no in-flight budget before its body deadline.
    NoInflightBudget,
    /// Oversized frames past [`MAX_SKIPPED_PER_CONNECTION`].
    TooMuchSkipped,
    /// Shed at the connection cap before sending a complete frame (see `stream::Unproven`).
    Shed,
    /// The collector stopped and the connection went quiet (or [`DRAIN_TOTAL`] passed).
    Drained,
    /// The dispatcher is gone (the collector is going down).
    DispatcherGone,
}

/// What woke the connection task while it waited.
#[derive(Debug)]
pub(crate) enum Wake<B> {
    /// The oldest queued batch is done (`None`: nothing was queued).
    Decoded(Option<B>),
    /// `n` bytes were read (`0`: the peer closed the stream).
    Read(usize),
    /// A read failed.
    ReadFailed,
    /// The deadline passed.
    Deadline,
    /// The collector is stopping.
    Stop,
    /// Quiet between frames for `BUFFER_RELEASE`: give the buffers back.
    Release,
    /// Shed at the connection cap.
    Shed,
}

/// What the task does after a wake-up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<B> {
    /// Look at the buffer again (bytes arrived, or nothing to do).
    Continue,
    /// Send this decoded batch, then continue.
    Send(B),
    /// Free the read buffers, then continue.
    ReleaseBuffers,
    /// End the connection.
    End(Exit),
}

/// The deadlines a connection keeps (from [`super::ReceiverOptions`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadlines {
    pub(crate) header: Duration,
    pub(crate) idle: Option<Duration>,
    pub(crate) body: Duration,
}

/// One connection's state: its phase and what it has done so far.
#[derive(Debug)]
pub(crate) struct ConnState {
    phase: Phase,
    /// Sent a complete frame: never shed at the connection cap.
    proven: bool,
    /// The collector stopped: read until this instant at the latest.
    draining: Option<Instant>,
    /// Bytes of oversized frames skipped so far.
    skipped: u64,
    deadlines: Deadlines,
}

impl ConnState {
    pub(crate) fn new(deadlines: Deadlines) -> Self {
        ConnState {
            phase: Phase::Fresh,
            proven: false,
            draining: None,
            skipped: 0,
            deadlines,
        }
    }

    #[cfg(test)]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the connection sent a complete frame (it cannot be shed any more).
    pub(crate) fn proven(&self) -> bool {
        self.proven
    }

    /// Whether the collector is stopping (a stop no longer wakes the task).
    pub(crate) fn draining(&self) -> bool {
        self.draining.is_some()
    }

    /// Whether the connection is between frames (not inside one, not skipping one) with
    /// nothing buffered: then its buffers may be given back.
    pub(crate) fn between_frames(&self, buffered: usize) -> bool {
        buffered == 0 && !matches!(self.phase, Phase::Skipping { .. })
    }

    /// How many bytes at the front of the buffer belong to an oversized body being skipped
    /// (the caller drops them). Ends the skip once the body is through.
    pub(crate) fn skip(&mut self, buffered: usize) -> usize {
        let Phase::Skipping { left, started } = self.phase else {
            return 0;
        };
        let n = left.min(buffered);
        self.phase = if n == left {
            // Its deadline ends with it; the next frame gets its own.
            Phase::BetweenFrames
        } else {
            Phase::Skipping {
                left: left - n,
                started,
            }
        };
        n
    }

    /// Complete frames were taken from the buffer. True the first time (the connection
    /// proves itself: see `stream::Unproven`).
    pub(crate) fn frames_taken(&mut self) -> bool {
        if matches!(self.phase, Phase::InFrame { .. }) {
            self.phase = Phase::BetweenFrames;
        }
        !std::mem::replace(&mut self.proven, true)
    }

    /// A length prefix over the frame cap: skip its body (the caller drops the prefix), or
    /// end the connection once too much was skipped.
    pub(crate) fn oversized(&mut self, len: u32, now: Instant) -> Result<(), Exit> {
        if self.skipped + u64::from(len) > MAX_SKIPPED_PER_CONNECTION {
            return Err(Exit::TooMuchSkipped);
        }
        self.skipped += u64::from(len);
        let started = match self.phase {
            Phase::InFrame { started } | Phase::Skipping { started, .. } => started,
            Phase::Fresh | Phase::BetweenFrames => now,
        };
        self.phase = Phase::Skipping {
            left: len as usize,
            started,
        };
        Ok(())
    }

    /// Whether an oversized frame would still be skipped (for the reject log's wording).
    pub(crate) fn may_skip(&self, len: u32) -> bool {
        self.skipped + u64::from(len) <= MAX_SKIPPED_PER_CONNECTION
    }

    /// `buffered` bytes wait after the complete frames were taken: a frame has started.
    pub(crate) fn buffered(&mut self, buffered: usize, now: Instant) {
        if buffered > 0 && matches!(self.phase, Phase::Fresh | Phase::BetweenFrames) {
            self.phase = Phase::InFrame { started: now };
        }
    }

    /// When the current frame's body deadline passes (`None` between frames).
    pub(crate) fn body_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::InFrame { started } | Phase::Skipping { started, .. } => {
                Some(started + self.deadlines.body)
            }
            Phase::Fresh | Phase::BetweenFrames => None,
        }
    }

    /// When the wait that starts `now` ends (`None`: no deadline).
    pub(crate) fn deadline(&self, now: Instant) -> Option<Instant> {
        let own = match self.phase {
            Phase::Fresh => Some(now + self.deadlines.header),
            Phase::BetweenFrames => self.deadlines.idle.map(|t| now + t),
            Phase::InFrame { .. } | Phase::Skipping { .. } => self.body_deadline(),
        };
        match self.draining {
            Some(end) => {
                let quiet = end.min(now + DRAIN_QUIET);
                Some(own.map_or(quiet, |d| d.min(quiet)))
            }
            None => own,
        }
    }

    /// What a wake-up means.
    pub(crate) fn on_wake<B>(&mut self, wake: Wake<B>, now: Instant) -> Next<B> {
        match wake {
            Wake::Decoded(Some(batch)) => Next::Send(batch),
            Wake::Decoded(None) => Next::Continue,
            Wake::Read(0) => Next::End(Exit::Closed),
            Wake::Read(_) => {
                if self.phase == Phase::Fresh {
                    self.phase = Phase::BetweenFrames;
                }
                Next::Continue
            }
            Wake::ReadFailed => Next::End(Exit::ReadFailed),
            Wake::Deadline if self.draining.is_some() => Next::End(Exit::Drained),
            Wake::Deadline => Next::End(Exit::TimedOut),
            Wake::Stop => {
                self.draining = Some(now + DRAIN_TOTAL);
                Next::Continue
            }
            Wake::Release => Next::ReleaseBuffers,
            Wake::Shed if self.proven => Next::Continue,
            Wake::Shed => Next::End(Exit::Shed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn state(idle: Option<Duration>) -> ConnState {
        ConnState::new(Deadlines {
            header: 10 * SEC,
            idle,
            body: 30 * SEC,
        })
    }

    #[test]
    fn deadlines_follow_the_phase() {
        let t0 = Instant::now();
        let mut s = state(None);
        assert_eq!(s.deadline(t0), Some(t0 + 10 * SEC), "header deadline first");
        assert_eq!(s.on_wake::<()>(Wake::Read(3), t0), Next::Continue);
        assert_eq!(s.phase(), Phase::BetweenFrames);
        s.buffered(3, t0);
        assert_eq!(s.phase(), Phase::InFrame { started: t0 });
        // The body deadline runs from the frame's first byte, not from each read.
        assert_eq!(s.deadline(t0 + 5 * SEC), Some(t0 + 30 * SEC));
        s.buffered(9, t0 + 5 * SEC);
        assert_eq!(s.body_deadline(), Some(t0 + 30 * SEC));
        assert!(
            s.frames_taken(),
            "the first complete frame proves the connection"
        );
        assert!(!s.frames_taken());
        assert_eq!(s.phase(), Phase::BetweenFrames);
        assert_eq!(
            s.deadline(t0 + 6 * SEC),
            None,
            "no idle deadline unless asked"
        );
        let with_idle = state(Some(60 * SEC));
        let mut w = with_idle;
        w.on_wake::<()>(Wake::Read(1), t0);
        assert_eq!(w.deadline(t0), Some(t0 + 60 * SEC));
    }

    #[test]
    fn each_exit_is_named() {
        let t0 = Instant::now();
        let mut s = state(None);
        assert_eq!(s.on_wake::<()>(Wake::Read(0), t0), Next::End(Exit::Closed));
        assert_eq!(
            s.on_wake::<()>(Wake::ReadFailed, t0),
            Next::End(Exit::ReadFailed)
        );
        assert_eq!(
            s.on_wake::<()>(Wake::Deadline, t0),
            Next::End(Exit::TimedOut)
        );
        assert_eq!(s.on_wake::<()>(Wake::Shed, t0), Next::End(Exit::Shed));
        assert_eq!(s.on_wake::<()>(Wake::Release, t0), Next::ReleaseBuffers);
        assert_eq!(s.on_wake(Wake::Decoded(Some(7)), t0), Next::Send(7));
        assert_eq!(s.on_wake::<()>(Wake::Decoded(None), t0), Next::Continue);
        s.frames_taken();
        assert_eq!(
            s.on_wake::<()>(Wake::Shed, t0),
            Next::Continue,
            "a proven connection is never shed"
        );
    }

    #[test]
    fn a_stop_drains_then_ends_quietly() {
        let t0 = Instant::now();
        let mut s = state(None);
        s.on_wake::<()>(Wake::Read(1), t0);
        assert!(!s.draining());
        assert_eq!(s.on_wake::<()>(Wake::Stop, t0), Next::Continue);
        assert!(s.draining());
        // Between frames with no deadline of its own: a short quiet wait.
        assert_eq!(s.deadline(t0), Some(t0 + DRAIN_QUIET));
        // Never past the drain's end.
        assert_eq!(s.deadline(t0 + DRAIN_TOTAL), Some(t0 + DRAIN_TOTAL));
        assert_eq!(
            s.on_wake::<()>(Wake::Deadline, t0),
            Next::End(Exit::Drained)
        );
    }

    #[test]
    fn oversized_frames_are_skipped_up_to_the_budget() {
        let t0 = Instant::now();
        let mut s = state(None);
        s.on_wake::<()>(Wake::Read(4), t0);
        let len = 10 << 20;
        assert!(s.may_skip(len));
        s.oversized(len, t0).unwrap();
        assert!(!s.between_frames(0), "skipping is inside a frame");
        assert_eq!(s.body_deadline(), Some(t0 + 30 * SEC));
        assert_eq!(s.skip(4 << 20), 4 << 20);
        assert_eq!(s.skip(100 << 20), 6 << 20, "only the rest of the body");
        assert_eq!(s.phase(), Phase::BetweenFrames);
        assert_eq!(s.skip(5), 0);
        for _ in 0..5 {
            s.oversized(len, t0).unwrap();
            s.skip(usize::MAX);
        }
        // 60 MiB skipped: another 10 MiB is past the 64 MiB budget.
        assert!(!s.may_skip(len));
        assert_eq!(s.oversized(len, t0), Err(Exit::TooMuchSkipped));
        assert_eq!(
            state(None).oversized(u32::MAX, t0),
            Err(Exit::TooMuchSkipped),
            "a 4 GiB prefix closes at once"
        );
    }
}
