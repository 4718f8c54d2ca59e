//! The 4-byte big-endian length prefix that CPython's `SocketHandler`, `DatagramHandler`
//! and `logging.config.listen` put in front of every payload.
//!
//! CPython trusts the announced length (up to 4 GiB) and spins forever on a truncated
//! frame. Here the length is checked against a cap *before* any body byte is read or
//! buffered, memory grows only with bytes actually received, and a connection that ends
//! mid-frame yields [`FrameError::Truncated`] ("truncated frame dropped").
//!
//! ```
//! use logwire_wire::{encode_frame, FrameDecoder};
//!
//! let wire = [encode_frame(b"hello"), encode_frame(b"world")].concat();
//! let mut decoder = FrameDecoder::new(1024);
//! // Bytes may arrive in any split.
//! decoder.push(&wire[..7]).unwrap();
//! decoder.push(&wire[7..]).unwrap();
//! assert_eq!(decoder.pop().as_deref(), Some(&b"hello"[..]));
//! assert_eq!(decoder.pop().as_deref(), Some(&b"world"[..]));
//! assert!(decoder.finish().is_ok());
//! ```

use std::collections::VecDeque;

/// Length of the big-endian length prefix.
pub const PREFIX_LEN: usize = 4;

/// Body bytes reserved up front at most, whatever the announced length: the buffer
/// grows with data actually received, so a lying header costs nothing.
const MAX_PREALLOC: usize = 64 * 1024;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced length exceeds the cap; nothing of the body was read.
    #[error("frame length {len} exceeds the cap of {cap} bytes")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// The cap in force.
        cap: usize,
    },
    /// The stream ended part-way through a frame; the partial frame is dropped.
    #[error("truncated frame dropped: stream ended after {got} of {expected} bytes")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        got: usize,
        /// Bytes the frame needed (prefix included); 4 if the prefix itself was cut.
        expected: u64,
    },
    /// A datagram too short to hold the 4-byte prefix.
    #[error("datagram of {len} bytes is too short for the 4-byte length prefix")]
    DatagramTooShort {
        /// Datagram length.
        len: usize,
    },
    /// A datagram whose prefix does not equal its remaining length.
    #[error("datagram length prefix says {announced} bytes but {actual} follow it")]
    DatagramLengthMismatch {
        /// Length the prefix announced.
        announced: u32,
        /// Bytes that actually follow the prefix.
        actual: usize,
    },
    /// A payload too large to be described by a 32-bit length.
    #[error("payload of {len} bytes does not fit a 32-bit length prefix")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
    },
}

/// A decoded length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The announced body length.
    pub len: u32,
}

impl FrameHeader {
    /// Decodes the 4 prefix bytes.
    pub fn from_bytes(bytes: [u8; PREFIX_LEN]) -> Self {
        Self {
            len: u32::from_be_bytes(bytes),
        }
    }

    /// Returns the body length if it is within `cap`; call before reading the body.
    pub fn check(self, cap: usize) -> Result<usize, FrameError> {
        check_length(self.len, cap)
    }
}

/// Checks an announced length against `cap` before the body is read.
pub fn check_length(len: u32, cap: usize) -> Result<usize, FrameError> {
    // u32 -> u64 -> compare avoids any truncation on exotic targets.
    if u64::from(len) > cap as u64 {
        return Err(FrameError::TooLarge {
            len: u64::from(len),
            cap,
        });
    }
    Ok(len as usize)
}

/// Prefixes `payload` with its 4-byte big-endian length.
///
/// # Panics
/// If `payload` is 4 GiB or longer, which no capped logwire payload is; use
/// [`try_encode_frame`] when the length is not already bounded.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    try_encode_frame(payload).expect("payload does not fit a 32-bit length prefix")
}

/// Prefixes `payload` with its 4-byte big-endian length, refusing payloads of 4 GiB or more.
pub fn try_encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u32::try_from(payload.len())
        .map_err(|_| FrameError::PayloadTooLarge { len: payload.len() })?;
    let mut out = Vec::with_capacity(PREFIX_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The complete frames at the front of a read buffer, found by their prefixes alone
/// ([`scan_frames`]): what a bulk reader needs to hand them on without copying them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameScan {
    /// Where the complete frames end (prefixes included).
    pub end: usize,
    /// How many complete frames there are.
    pub frames: usize,
    /// How many of them `is_special` said yes to (say, signed envelopes).
    pub special: usize,
    /// The length prefix right after them, if it is over the cap: the framing is lost there
    /// (the reader skips the body or closes the connection).
    pub too_large: Option<u32>,
}

/// Finds the complete frames at the front of `buf` without copying or allocating, checking
/// every announced length against `cap` before its body is looked at; stops at the first
/// incomplete frame or at a length over the cap ([`FrameScan::too_large`]). `is_special` is
/// asked about each complete payload (a cheap look at its first bytes, say).
///
/// ```
/// use logwire_wire::{encode_frame, payloads, scan_frames};
///
/// let mut wire = [encode_frame(b"hello"), encode_frame(b"world")].concat();
/// wire.extend_from_slice(&[0, 0, 0, 9, b'p']); // the start of a third frame
/// let scan = scan_frames(&wire, 1024, |p| p.starts_with(b"w"));
/// assert_eq!((scan.frames, scan.special, scan.end), (2, 1, 18));
/// let got: Vec<&[u8]> = payloads(&wire[..scan.end]).collect();
/// assert_eq!(got, [&b"hello"[..], &b"world"[..]]);
/// ```
pub fn scan_frames(buf: &[u8], cap: usize, mut is_special: impl FnMut(&[u8]) -> bool) -> FrameScan {
    let mut scan = FrameScan::default();
    while let Some((prefix, rest)) = buf[scan.end..].split_first_chunk::<PREFIX_LEN>() {
        let len = u32::from_be_bytes(*prefix);
        let Ok(n) = check_length(len, cap) else {
            scan.too_large = Some(len);
            break;
        };
        let Some(payload) = rest.get(..n) else {
            break;
        };
        scan.special += usize::from(is_special(payload));
        scan.end += PREFIX_LEN + n;
        scan.frames += 1;
    }
    scan
}

/// The length the frame at the front of `buf` announces, once its prefix is there (not
/// checked against any cap: see [`check_length`]).
pub fn peek_length(buf: &[u8]) -> Option<u32> {
    buf.first_chunk::<PREFIX_LEN>()
        .map(|p| u32::from_be_bytes(*p))
}

/// The payloads of complete frames (prefixes included, as [`scan_frames`] found them), as
/// slices of `frames`: no copy, no allocation. Stops at anything incomplete.
pub fn payloads(mut frames: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (prefix, rest) = frames.split_first_chunk::<PREFIX_LEN>()?;
        let len = u32::from_be_bytes(*prefix) as usize;
        let (payload, rest) = rest.split_at_checked(len)?;
        frames = rest;
        Some(payload)
    })
}

/// Returns the payload of a `DatagramHandler` datagram, whose 4-byte prefix must equal
/// the number of bytes after it.
pub fn split_datagram(datagram: &[u8]) -> Result<&[u8], FrameError> {
    let Some((prefix, body)) = datagram.split_first_chunk::<PREFIX_LEN>() else {
        return Err(FrameError::DatagramTooShort {
            len: datagram.len(),
        });
    };
    let announced = u32::from_be_bytes(*prefix);
    if u64::from(announced) != body.len() as u64 {
        return Err(FrameError::DatagramLengthMismatch {
            announced,
            actual: body.len(),
        });
    }
    Ok(body)
}

/// Where the decoder is inside the current frame.
#[derive(Debug)]
enum State {
    /// Collecting the 4 prefix bytes (`have` of them so far).
    Header {
        bytes: [u8; PREFIX_LEN],
        have: usize,
    },
    /// Collecting a body of `len` bytes.
    Body { len: usize, body: Vec<u8> },
    /// A fatal error happened; the connection should be closed.
    Failed(FrameError),
}

/// An incremental, bounded decoder for length-prefixed streams.
///
/// Push received bytes in with [`push`](Self::push), take complete frames out with
/// [`pop`](Self::pop), and call [`finish`](Self::finish) at end of stream. After a
/// [`FrameError::TooLarge`] the decoder stays failed: the stream cannot be resynchronised,
/// so the connection should be closed.
#[derive(Debug)]
pub struct FrameDecoder {
    cap: usize,
    state: State,
    ready: VecDeque<Vec<u8>>,
}

impl FrameDecoder {
    /// A decoder refusing frames whose announced length exceeds `cap`.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            state: State::Header {
                bytes: [0; PREFIX_LEN],
                have: 0,
            },
            ready: VecDeque::new(),
        }
    }

    /// The cap on a frame's body length.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Feeds received bytes. Complete frames become available through [`pop`](Self::pop),
    /// including those completed before an error in the same call.
    pub fn push(&mut self, mut input: &[u8]) -> Result<(), FrameError> {
        while !input.is_empty() {
            match &mut self.state {
                State::Failed(err) => return Err(err.clone()),
                State::Header { bytes, have } => {
                    let take = (PREFIX_LEN - *have).min(input.len());
                    bytes[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    if *have == PREFIX_LEN {
                        let header = FrameHeader::from_bytes(*bytes);
                        match header.check(self.cap) {
                            Ok(0) => self.complete(Vec::new()),
                            Ok(len) => {
                                let body = Vec::with_capacity(len.min(MAX_PREALLOC));
                                self.state = State::Body { len, body };
                            }
                            Err(err) => {
                                self.state = State::Failed(err.clone());
                                return Err(err);
                            }
                        }
                    }
                }
                State::Body { len, body } => {
                    let take = (*len - body.len()).min(input.len());
                    body.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if body.len() == *len {
                        let body = std::mem::take(body);
                        self.complete(body);
                    }
                }
            }
        }
        match &self.state {
            State::Failed(err) => Err(err.clone()),
            _ => Ok(()),
        }
    }

    fn complete(&mut self, body: Vec<u8>) {
        self.ready.push_back(body);
        self.state = State::Header {
            bytes: [0; PREFIX_LEN],
            have: 0,
        };
    }

    /// Takes the oldest complete frame's payload, if any.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.ready.pop_front()
    }

    /// True while part of a frame (prefix or body) has been received but not completed.
    /// Callers use it to switch from the idle/header deadline to the body deadline.
    pub fn is_mid_frame(&self) -> bool {
        match &self.state {
            State::Header { have, .. } => *have > 0,
            State::Body { .. } => true,
            State::Failed(_) => false,
        }
    }

    /// Bytes still needed to complete the current frame's body, once its prefix is known.
    pub fn body_remaining(&self) -> Option<usize> {
        match &self.state {
            State::Body { len, body } => Some(len - body.len()),
            _ => None,
        }
    }

    /// Reports end of stream: `Ok` on a frame boundary, [`FrameError::Truncated`] if a
    /// partial frame is being dropped. Complete frames stay poppable.
    pub fn finish(&self) -> Result<(), FrameError> {
        match &self.state {
            State::Header { have: 0, .. } => Ok(()),
            State::Header { have, .. } => Err(FrameError::Truncated {
                got: *have,
                expected: PREFIX_LEN as u64,
            }),
            State::Body { len, body } => Err(FrameError::Truncated {
                got: PREFIX_LEN + body.len(),
                expected: (PREFIX_LEN + *len) as u64,
            }),
            State::Failed(err) => Err(err.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_stops_at_a_length_over_the_cap_and_at_a_partial_frame() {
        let mut wire = [encode_frame(b"ab"), encode_frame(b"")].concat();
        wire.extend_from_slice(&[0, 1, 0, 0, 1, 2]);
        let scan = scan_frames(&wire, 1000, |_| false);
        assert_eq!(scan.frames, 2);
        assert_eq!(scan.end, 10);
        assert_eq!(scan.too_large, Some(0x1_0000));
        let partial = scan_frames(&wire[..9], 1000, |_| true);
        assert_eq!(
            (partial.frames, partial.special, partial.too_large),
            (1, 1, None)
        );
        assert_eq!(peek_length(&wire[6..]), Some(0));
        assert_eq!(peek_length(&wire[..3]), None);
        assert_eq!(
            payloads(&wire[..7]).count(),
            1,
            "an incomplete frame is not a payload"
        );
    }

    #[test]
    fn huge_length_fails_before_buffering() {
        let mut d = FrameDecoder::new(1 << 20);
        let mut wire = vec![0xFF, 0xFF, 0xFF, 0xFF];
        wire.extend_from_slice(&[7u8; 100]);
        let err = d.push(&wire).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                len: 0xFFFF_FFFF,
                cap: 1 << 20
            }
        );
        assert!(d.body_remaining().is_none());
        assert!(d.pop().is_none());
        // Stays failed.
        assert!(d.push(b"x").is_err());
        assert!(d.finish().is_err());
    }

    #[test]
    fn header_alone_is_checked() {
        let mut d = FrameDecoder::new(10);
        assert!(d.push(&[0, 0, 0]).is_ok());
        assert!(d.is_mid_frame());
        assert!(matches!(
            d.push(&[11]),
            Err(FrameError::TooLarge { len: 11, cap: 10 })
        ));
    }

    #[test]
    fn exact_cap_accepted_and_empty_frames() {
        let mut d = FrameDecoder::new(3);
        d.push(&[encode_frame(b"abc"), encode_frame(b"")].concat())
            .unwrap();
        assert_eq!(d.pop().unwrap(), b"abc");
        assert_eq!(d.pop().unwrap(), b"");
        assert!(d.pop().is_none());
        assert!(!d.is_mid_frame());
    }

    #[test]
    fn byte_at_a_time() {
        let frames: Vec<&[u8]> = vec![b"one", b"", b"three33"];
        let wire: Vec<u8> = frames.iter().flat_map(|f| encode_frame(f)).collect();
        let mut d = FrameDecoder::new(100);
        let mut out = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b)).unwrap();
            while let Some(f) = d.pop() {
                out.push(f);
            }
        }
        assert_eq!(out, frames);
        d.finish().unwrap();
    }

    #[test]
    fn truncation_is_reported_at_every_cut() {
        let wire = encode_frame(b"hello world");
        for cut in 1..wire.len() {
            let mut d = FrameDecoder::new(100);
            d.push(&wire[..cut]).unwrap();
            assert!(d.pop().is_none());
            let err = d.finish().unwrap_err();
            assert!(matches!(err, FrameError::Truncated { got, .. } if got == cut));
            assert!(err.to_string().contains("truncated frame dropped"));
        }
    }

    #[test]
    fn frames_before_an_error_are_kept() {
        let mut wire = encode_frame(b"ok");
        wire.extend_from_slice(&[0, 0, 1, 0]);
        let mut d = FrameDecoder::new(10);
        assert!(d.push(&wire).is_err());
        assert_eq!(d.pop().unwrap(), b"ok");
    }

    #[test]
    fn check_length_bounds() {
        assert_eq!(check_length(5, 5), Ok(5));
        assert!(check_length(6, 5).is_err());
        assert_eq!(FrameHeader::from_bytes([0, 0, 1, 0]).check(256), Ok(256));
        assert!(check_length(u32::MAX, usize::MAX).is_ok());
    }

    #[test]
    fn datagrams() {
        let dg = encode_frame(b"rec");
        assert_eq!(split_datagram(&dg).unwrap(), b"rec");
        assert_eq!(split_datagram(&[0, 0, 0, 0]).unwrap(), b"");
        for len in 0..4 {
            assert!(matches!(
                split_datagram(&dg[..len]),
                Err(FrameError::DatagramTooShort { .. })
            ));
        }
        assert!(matches!(
            split_datagram(&dg[..dg.len() - 1]),
            Err(FrameError::DatagramLengthMismatch { .. })
        ));
        let mut long = dg.clone();
        long.push(0);
        assert!(split_datagram(&long).is_err());
        assert!(split_datagram(&[0xFF, 0xFF, 0xFF, 0xFF, 1]).is_err());
    }
}
