//! Reading one length-prefixed frame from a blocking stream (a config push's reply, a
//! pushed config read without tokio), on top of [`frame`](crate::frame): the prefix is
//! decoded and checked against the cap there, before any body byte is read.
//!
//! Budgets, and why: the body buffer grows only with bytes that arrived (at most 64 KiB is
//! reserved up front, whatever the prefix announces), so a lying prefix costs nothing; the
//! whole read is bounded by a deadline checked after every read call, so a peer dripping one
//! byte at a time cannot hold the reader longer than the deadline plus one read timeout of
//! the stream (set one on the socket: a blocking read with no timeout waits forever).

use crate::frame::{FrameError, FrameHeader, PREFIX_LEN};
use std::io::{self, Read};
use std::time::Instant;

/// Bytes of body reserved before they arrive, at most.
const MAX_PREALLOC: usize = 64 * 1024;

/// Why one frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameReadError {
    /// The prefix announced more than the cap, or the stream ended mid-frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The deadline passed before the frame was whole.
    #[error("no whole frame before the deadline ({got} bytes arrived)")]
    Deadline {
        /// Bytes of the frame (prefix included) that arrived.
        got: usize,
    },
    /// The stream failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// Reads one frame: `Ok(None)` if the stream ended (or was reset) before its first byte,
/// `Ok(Some(body))` for a whole frame of at most `cap` bytes.
///
/// ```
/// use logwire_wire::{encode_frame, FrameReadError, read_frame};
///
/// let wire = encode_frame(b"hello");
/// assert_eq!(read_frame(&mut &wire[..], 16, None).unwrap().as_deref(), Some(&b"hello"[..]));
/// assert!(read_frame(&mut &[][..], 16, None).unwrap().is_none());
/// assert!(matches!(read_frame(&mut &wire[..], 4, None), Err(FrameReadError::Frame(_))));
/// assert!(matches!(read_frame(&mut &wire[..7], 16, None), Err(FrameReadError::Frame(_))));
/// ```
pub fn read_frame<R: Read + ?Sized>(
    r: &mut R,
    cap: usize,
    deadline: Option<Instant>,
) -> Result<Option<Vec<u8>>, FrameReadError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut have = 0;
    while have < PREFIX_LEN {
        check_deadline(deadline, have)?;
        match r.read(&mut prefix[have..]) {
            Ok(0) if have == 0 => return Ok(None),
            Ok(0) => {
                return Err(FrameError::Truncated {
                    got: have,
                    expected: PREFIX_LEN as u64,
                }
                .into());
            }
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A reset before anything arrived still means "nothing was sent".
            Err(e) if have == 0 && e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let len = FrameHeader::from_bytes(prefix).check(cap)?;
    let mut body = Vec::with_capacity(len.min(MAX_PREALLOC));
    let mut chunk = [0u8; 8192];
    while body.len() < len {
        check_deadline(deadline, PREFIX_LEN + body.len())?;
        let want = (len - body.len()).min(chunk.len());
        match r.read(&mut chunk[..want]) {
            Ok(0) => {
                return Err(FrameError::Truncated {
                    got: PREFIX_LEN + body.len(),
                    expected: (PREFIX_LEN + len) as u64,
                }
                .into());
            }
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(body))
}

fn check_deadline(deadline: Option<Instant>, got: usize) -> Result<(), FrameReadError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(FrameReadError::Deadline { got }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_frame;

    /// A reader that hands out one byte per call, as a slow peer would.
    struct Drip<'a>(&'a [u8]);
    impl Read for Drip<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn frames_arrive_whole_in_any_split() {
        let wire = [encode_frame(b"one"), encode_frame(b"")].concat();
        let mut r = Drip(&wire);
        assert_eq!(read_frame(&mut r, 8, None).unwrap().unwrap(), b"one");
        assert_eq!(read_frame(&mut r, 8, None).unwrap().unwrap(), b"");
        assert!(read_frame(&mut r, 8, None).unwrap().is_none());
    }

    #[test]
    fn the_cap_is_checked_on_the_prefix() {
        // 4 GiB announced, nothing behind it: refused without waiting for a body.
        let err = read_frame(&mut &[0xff, 0xff, 0xff, 0xff][..], 1 << 20, None).unwrap_err();
        assert!(
            matches!(err, FrameReadError::Frame(FrameError::TooLarge { len, .. }) if len == u64::from(u32::MAX)),
            "{err}"
        );
    }

    #[test]
    fn a_cut_prefix_or_body_is_truncated() {
        let wire = encode_frame(b"hello");
        for cut in 1..wire.len() {
            let err = read_frame(&mut &wire[..cut], 16, None).unwrap_err();
            assert!(
                matches!(err, FrameReadError::Frame(FrameError::Truncated { got, .. }) if got == cut),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn a_passed_deadline_stops_the_read() {
        let wire = encode_frame(b"hello");
        let past = Instant::now();
        let err = read_frame(&mut Drip(&wire), 16, Some(past)).unwrap_err();
        assert!(matches!(err, FrameReadError::Deadline { got: 0 }), "{err}");
    }
}
