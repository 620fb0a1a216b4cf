//! Stream entry IDs: `<ms>-<seq>`, two unsigned 64-bit numbers ordered as a pair, and the ways
//! Redis reads them from arguments (strict IDs, `-` and `+`, `(` exclusive bounds, `<ms>-*`).

use std::fmt;

use crate::command::CmdError;

/// An entry ID. Stored big-endian (ms then seq), so byte order is ID order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    pub fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn decode(raw: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?);
        Some(StreamId { ms, seq })
    }

    /// The next ID, `None` past the last possible one (Redis's `streamIncrID` failing).
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, `None` before 0-0 (`streamDecrID` failing).
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    pub fn to_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from(self.to_string())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

pub fn invalid_id() -> CmdError {
    CmdError::msg("Invalid stream ID specified as stream command argument")
}

/// An unsigned number as Redis's `string2ull` reads it: a canonical integer (which must not be
/// negative), or else whatever C's `strtoull` accepts whole in base 10 (leading spaces, a sign,
/// leading zeros; a `-` wraps around as in C), refusing overflow.
pub fn parse_u64(raw: &[u8]) -> Option<u64> {
    if let Ok(n) = crate::command::args::parse_i64(raw) {
        return u64::try_from(n).ok();
    }
    let mut rest = raw;
    while let [c, tail @ ..] = rest {
        if crate::command::long_double::is_c_space(*c) {
            rest = tail;
        } else {
            break;
        }
    }
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in rest {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// How an ID argument was written, for XADD's `<ms>-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seq {
    /// The sequence was given (or implied by `-`, `+`, or a missing part).
    Given,
    /// `<ms>-*`: the sequence is to be generated.
    Auto,
}

/// Redis's `streamGenericParseIDOrReply`: `-` and `+` (unless `strict`), `<ms>-<seq>`, `<ms>`
/// (the sequence then is `missing_seq`), and with `auto_seq` also `<ms>-*`.
pub fn parse_id_with(
    raw: &[u8],
    strict: bool,
    missing_seq: u64,
    auto_seq: bool,
) -> Result<(StreamId, Seq), CmdError> {
    if raw.len() > 127 {
        return Err(invalid_id());
    }
    match raw {
        b"-" if !strict => return Ok((StreamId::MIN, Seq::Given)),
        b"+" if !strict => return Ok((StreamId::MAX, Seq::Given)),
        b"-" | b"+" => return Err(invalid_id()),
        _ => {}
    }
    // C strings end at the first NUL: what follows it is not seen.
    let raw = match raw.iter().position(|&c| c == 0) {
        Some(at) => &raw[..at],
        None => raw,
    };
    let (ms_part, seq_part) = match raw.iter().position(|&c| c == b'-') {
        Some(at) => (&raw[..at], Some(&raw[at + 1..])),
        None => (raw, None),
    };
    let ms = parse_u64(ms_part).ok_or_else(invalid_id)?;
    match seq_part {
        Some(b"*") if auto_seq => Ok((StreamId::new(ms, 0), Seq::Auto)),
        Some(seq) => Ok((
            StreamId::new(ms, parse_u64(seq).ok_or_else(invalid_id)?),
            Seq::Given,
        )),
        None => Ok((StreamId::new(ms, missing_seq), Seq::Given)),
    }
}

/// A strict ID (no `-` or `+`), a missing sequence being 0.
pub fn parse_strict(raw: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_with(raw, true, 0, false).map(|(id, _)| id)
}

/// An ID that may also be `-` or `+`, a missing sequence being 0.
pub fn parse_loose(raw: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_with(raw, false, 0, false).map(|(id, _)| id)
}

/// The start of an interval (XRANGE, XPENDING, XAUTOCLAIM): `-`, an ID, or `(ID` exclusive.
pub fn parse_start(raw: &[u8]) -> Result<StreamId, CmdError> {
    let (id, exclusive) = parse_interval(raw, 0)?;
    if exclusive {
        return id
            .next()
            .ok_or_else(|| CmdError::msg("invalid start ID for the interval"));
    }
    Ok(id)
}

/// The end of an interval: `+`, an ID (a missing sequence is the largest), or `(ID` exclusive.
pub fn parse_end(raw: &[u8]) -> Result<StreamId, CmdError> {
    let (id, exclusive) = parse_interval(raw, u64::MAX)?;
    if exclusive {
        return id
            .prev()
            .ok_or_else(|| CmdError::msg("invalid end ID for the interval"));
    }
    Ok(id)
}

fn parse_interval(raw: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if raw.len() > 1 && raw[0] == b'(' {
        let (id, _) = parse_id_with(&raw[1..], true, missing_seq, false)?;
        Ok((id, true))
    } else {
        let (id, _) = parse_id_with(raw, false, missing_seq, false)?;
        Ok((id, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    #[test]
    fn ids_order_as_their_bytes() {
        let ids = [
            id(0, 0),
            id(0, 1),
            id(0, u64::MAX),
            id(1, 0),
            id(255, 7),
            id(256, 0),
            id(u64::MAX, u64::MAX),
        ];
        for w in ids.windows(2) {
            assert!(w[0] < w[1]);
            assert!(w[0].encode() < w[1].encode());
            assert_eq!(StreamId::decode(&w[1].encode()), Some(w[1]));
        }
        assert_eq!(id(3, 4).to_string(), "3-4");
    }

    #[test]
    fn next_and_prev_carry_and_stop_at_the_ends() {
        assert_eq!(id(1, u64::MAX).next(), Some(id(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(id(2, 0).prev(), Some(id(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
    }

    #[test]
    fn ids_parse_as_redis_parses_them() {
        assert_eq!(parse_strict(b"5-3").unwrap(), id(5, 3));
        assert_eq!(parse_strict(b"5").unwrap(), id(5, 0));
        assert_eq!(parse_end(b"5").unwrap(), id(5, u64::MAX));
        assert_eq!(parse_loose(b"-").unwrap(), StreamId::MIN);
        assert_eq!(parse_loose(b"+").unwrap(), StreamId::MAX);
        // strtoull's leniency once the canonical form fails.
        assert_eq!(parse_strict(b"007-01").unwrap(), id(7, 1));
        assert_eq!(parse_strict(b" 7-+1").unwrap(), id(7, 1));
        assert_eq!(
            parse_strict(b"18446744073709551615-18446744073709551615").unwrap(),
            StreamId::MAX
        );
        for bad in [
            &b"-"[..],
            b"+",
            b"",
            b"x",
            b"1-x",
            b"1-",
            b"-1",
            b"1--1",
            b"18446744073709551616",
            b"1-2-3",
            b"1-*",
        ] {
            assert_eq!(
                parse_strict(bad).unwrap_err().to_string(),
                "ERR Invalid stream ID specified as stream command argument",
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_id_with(b"5-*", true, 0, true).unwrap(),
            (id(5, 0), Seq::Auto)
        );
        assert_eq!(
            parse_id_with(b"5", true, 0, true).unwrap(),
            (id(5, 0), Seq::Given)
        );
    }

    #[test]
    fn exclusive_bounds_step_past_their_id() {
        assert_eq!(parse_start(b"(5-3").unwrap(), id(5, 4));
        assert_eq!(parse_end(b"(5-3").unwrap(), id(5, 2));
        assert_eq!(parse_end(b"(5").unwrap(), id(5, u64::MAX - 1));
        assert_eq!(
            parse_start(b"(18446744073709551615-18446744073709551615")
                .unwrap_err()
                .to_string(),
            "ERR invalid start ID for the interval"
        );
        assert_eq!(
            parse_end(b"(0-0").unwrap_err().to_string(),
            "ERR invalid end ID for the interval"
        );
        assert!(parse_start(b"(-").is_err(), "an exclusive bound is strict");
        assert_eq!(
            parse_start(b"(").unwrap_err().to_string(),
            invalid_id().to_string()
        );
    }
}
