//! The 4-byte length-prefix reader ([`FrameDecoder`]) and the datagram splitter.

use logwire_wire::{FrameDecoder, FrameError, PREFIX_LEN};

/// What a whole stream should decode to, computed in one pass without the incremental state
/// machine: the oracle the decoder is compared with.
struct Expected {
    frames: Vec<Vec<u8>>,
    end: Result<(), FrameError>,
}

fn reference(stream: &[u8], cap: usize) -> Expected {
    let mut frames = Vec::new();
    let mut rest = stream;
    loop {
        if rest.is_empty() {
            return Expected {
                frames,
                end: Ok(()),
            };
        }
        if rest.len() < PREFIX_LEN {
            let got = rest.len();
            let end = Err(FrameError::Truncated {
                got,
                expected: PREFIX_LEN as u64,
            });
            return Expected { frames, end };
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if u64::from(len) > cap as u64 {
            let end = Err(FrameError::TooLarge {
                len: u64::from(len),
                cap,
            });
            return Expected { frames, end };
        }
        let len = len as usize;
        let body = &rest[PREFIX_LEN..];
        if body.len() < len {
            let end = Err(FrameError::Truncated {
                got: PREFIX_LEN + body.len(),
                expected: (PREFIX_LEN + len) as u64,
            });
            return Expected { frames, end };
        }
        frames.push(body[..len].to_vec());
        rest = &body[len..];
    }
}

/// Feeds `stream` in chunks of the given sizes (cycled), checking the cap after every push.
fn decode_in_chunks(stream: &[u8], cap: usize, chunks: &[usize]) -> Expected {
    let mut decoder = FrameDecoder::new(cap);
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    let mut failed: Option<FrameError> = None;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].clamp(1, rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let pushed = decoder.push(chunk);
        while let Some(f) = decoder.pop() {
            assert!(
                f.len() <= cap,
                "frame of {} bytes beyond cap {cap}",
                f.len()
            );
            frames.push(f);
        }
        if let Some(remaining) = decoder.body_remaining() {
            assert!(
                remaining <= cap,
                "decoder expects {remaining} body bytes, cap {cap}"
            );
        }
        match (pushed, &failed) {
            (Err(e), None) => failed = Some(e),
            (Err(e), Some(first)) => assert_eq!(&e, first, "a failed decoder changed its error"),
            (Ok(()), Some(_)) => panic!("a failed decoder accepted more bytes"),
            (Ok(()), None) => {}
        }
    }
    let end = match failed {
        Some(e) => {
            assert_eq!(decoder.finish(), Err(e.clone()), "finish after failure");
            Err(e)
        }
        None => decoder.finish(),
    };
    Expected { frames, end }
}

/// The stream reader and the datagram splitter.
///
/// Byte 0 picks the cap (0–1020 bytes), byte 1 the chunk sizes; the rest is the stream. The
/// decoder must give the same frames and the same end (clean, truncated, too large) for any
/// split of the stream into reads, as the one-pass reference does; no frame, and no pending
/// body, may exceed the cap; popped bytes never exceed the input.
pub fn frame_decoder(data: &[u8]) {
    let [cap_byte, split, stream @ ..] = data else {
        return;
    };
    let cap = usize::from(*cap_byte) * 4;
    let expected = reference(stream, cap);
    let total: usize = expected.frames.iter().map(|f| PREFIX_LEN + f.len()).sum();
    assert!(total <= stream.len(), "frames longer than the stream");

    let splits: [&[usize]; 3] = [
        &[stream.len().max(1)],
        &[1],
        &[usize::from(split % 7) + 1, usize::from(split >> 3) + 1, 3],
    ];
    for chunks in splits {
        let got = decode_in_chunks(stream, cap, chunks);
        assert_eq!(
            got.frames, expected.frames,
            "frames differ for chunks {chunks:?}"
        );
        assert_eq!(
            got.end, expected.end,
            "end of stream differs for chunks {chunks:?}"
        );
    }

    // The same bytes as one datagram: the prefix must announce exactly the rest.
    match logwire_wire::split_datagram(stream) {
        Ok(body) => {
            assert_eq!(body, &stream[PREFIX_LEN..]);
            assert_eq!(
                body.len() as u64,
                u64::from(u32::from_be_bytes([
                    stream[0], stream[1], stream[2], stream[3]
                ]))
            );
        }
        Err(FrameError::DatagramTooShort { len }) => {
            assert!(len < PREFIX_LEN && len == stream.len())
        }
        Err(FrameError::DatagramLengthMismatch { announced, actual }) => {
            assert_eq!(actual, stream.len() - PREFIX_LEN);
            assert_ne!(u64::from(announced), actual as u64);
        }
        Err(other) => panic!("unexpected datagram error {other:?}"),
    }
}
