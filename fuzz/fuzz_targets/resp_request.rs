//! The RESP request parser, fed as a connection feeds it: bytes appended to a buffer, frames
//! parsed off its front until it wants more bytes or the framing is broken.
//!
//! Each input is also delivered in two reads, cut at many points. A partial frame must only ever
//! mean "read more": the frames that come out are the same however the bytes arrived, except
//! that a limit may stop a stream cut short earlier (a line longer than the limit with no newline
//! yet is refused, as Redis refuses it).
#![no_main]

use bytes::{Bytes, BytesMut};
use kiwi::resp::{FrameLimits, RequestParser};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that short inputs reach the "too big" paths as well.
const TIGHT: FrameLimits = FrameLimits {
    max_bulk_len: 8,
    max_multibulk_len: 4,
    max_inline_len: 16,
};

/// Cut points tried per input when it is too long to try them all.
const SAMPLED_CUTS: u32 = 16;

/// What a connection made of a stream of bytes.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Vec<Bytes>>,
    /// Ended on a protocol error: the server answers it and closes the connection.
    broken: bool,
    /// Bytes left in the buffer, waiting for the rest of a frame.
    rest: Vec<u8>,
}

fuzz_target!(init: kiwi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    for limits in [FrameLimits::default(), TIGHT] {
        let whole = feed(data, &[data.len()], &limits);
        for cut in cuts(data) {
            let split = feed(data, &[cut, data.len()], &limits);
            assert!(
                whole.frames.starts_with(&split.frames),
                "cut at {cut}: {split:?} is not a prefix of {whole:?}"
            );
            if !split.broken {
                assert_eq!(split, whole, "cut at {cut}");
            }
        }
    }
});

/// Appends `data[..end]` for each `end` in turn, parsing all it can after each read.
fn feed(data: &[u8], ends: &[usize], limits: &FrameLimits) -> Outcome {
    let mut buf = BytesMut::new();
    // One parser per connection: it keeps its progress through a frame between reads.
    let mut parser = RequestParser::default();
    let mut frames = Vec::new();
    let (mut consumed, mut fed) = (0, 0);
    for &end in ends {
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
        loop {
            let before = buf.len();
            match parser.parse(&mut buf, limits, false) {
                Ok(Some(args)) => {
                    let used = before
                        .checked_sub(buf.len())
                        .expect("parsing a frame grew the buffer");
                    assert!(used > 0, "a frame took no bytes: the connection would spin");
                    check_frame(&data[consumed..consumed + used], &args, limits);
                    consumed += used;
                    frames.push(args);
                }
                Ok(None) => {
                    assert_eq!(
                        &buf[..],
                        &data[consumed..fed],
                        "wanting more bytes, the parser changed the buffer"
                    );
                    break;
                }
                Err(_) => {
                    return Outcome {
                        frames,
                        broken: true,
                        rest: Vec::new(),
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        broken: false,
        rest: buf.to_vec(),
    }
}

/// One parsed frame, given the bytes it was parsed from.
fn check_frame(frame: &[u8], args: &[Bytes], limits: &FrameLimits) {
    if frame[0] == b'*' {
        assert!(args.len() <= limits.max_multibulk_len, "{args:?}");
        for arg in args {
            assert!(arg.len() <= limits.max_bulk_len, "{arg:?}");
        }
    }
    let payload: usize = args.iter().map(Bytes::len).sum();
    assert!(payload <= frame.len(), "{args:?} from {frame:?}");
    // A frame ends where the parser said: its own bytes alone give the same arguments, nothing
    // after it was needed, and nothing of it is left over.
    let mut alone = BytesMut::from(frame);
    let again = RequestParser::default()
        .parse(&mut alone, limits, false)
        .expect("the frame alone parses");
    assert_eq!(again.as_deref(), Some(args), "the frame alone: {frame:?}");
    assert!(alone.is_empty(), "the frame alone leaves {alone:?}");
}

/// Where to cut the input into two reads: everywhere in a short input, else at points spread
/// by a hash of the input (the same points for the same input, so a crash reproduces).
fn cuts(data: &[u8]) -> Vec<usize> {
    if data.len() <= 64 {
        return (1..data.len()).collect();
    }
    // FNV-1a.
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..SAMPLED_CUTS)
        .map(|i| 1 + (hash.rotate_left(i * 4) % (data.len() as u64 - 1)) as usize)
        .collect()
}
