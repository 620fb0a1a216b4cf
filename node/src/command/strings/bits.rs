//! Bitmaps: SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP, as Redis 7.0/7.2 runs them.
//!
//! A bitmap is a string read as bits, the most significant bit of byte 0 first; bits past the
//! end read as 0. Writes grow the string with zero bytes up to the byte they touch, as Redis
//! does, so a SETBIT at the highest offset (2^32 - 1) builds a 512 MB value, and an offset
//! one further is refused before anything is allocated.

use super::store::{grow_zeroed, put_string, save_string, string_for_update, Ttl};
use super::MAX_STRING_LEN;
use crate::command::args::parse_i64;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::storage::KeyType;

fn bit_offset_error() -> CmdError {
    CmdError::msg("bit offset is not an integer or out of range")
}

/// A bit offset as Redis's `getBitOffsetFromArgument` reads it: a canonical integer whose
/// byte is within `proto-max-bulk-len`. With `width` (BITFIELD), `#N` means N times `width`
/// bits; the product wraps as Redis's 64-bit multiplication does before the range check.
pub fn parse_bit_offset(raw: &[u8], width: Option<u32>) -> Result<u64, CmdError> {
    let (digits, unit) = match (raw.first(), width) {
        (Some(b'#'), Some(w)) => (&raw[1..], w as i64),
        _ => (raw, 1),
    };
    let n = parse_i64(digits)
        .map_err(|_| bit_offset_error())?
        .wrapping_mul(unit);
    if n < 0 || (n >> 3) as u64 >= MAX_STRING_LEN as u64 {
        return Err(bit_offset_error());
    }
    Ok(n as u64)
}

/// Whether a SETBIT's offset argument reaches past the first `bytes` bytes: such a write may
/// build (and store) a string that large, so it is not run on an async worker.
pub fn offset_reaches(raw: &[u8], bytes: usize) -> bool {
    parse_bit_offset(raw, None).is_ok_and(|bit| bit >> 3 >= bytes as u64)
}

/// Bit `offset` of `value` (0 past the end).
pub fn bit_at(value: &[u8], offset: u64) -> u8 {
    value
        .get((offset >> 3) as usize)
        .map_or(0, |byte| (byte >> (7 - (offset & 7))) & 1)
}

/// SETBIT key offset value: the bit's previous value.
pub fn setbit(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let offset = parse_bit_offset(args.get(2)?, None)?;
    let bit_error = || CmdError::msg("bit is not an integer or out of range");
    let on = parse_i64(args.get(3)?).map_err(|_| bit_error())?;
    if on & !1 != 0 {
        return Err(bit_error());
    }
    let key = args.get(1)?;
    let mut meta = string_for_update(ctx, key)?;
    let byte = (offset >> 3) as usize;
    let grows = meta.value.len() <= byte;
    grow_zeroed(&mut meta.value, byte + 1);
    let shift = 7 - (offset & 7);
    let old = (meta.value[byte] >> shift) & 1;
    // Redis leaves the key alone when nothing changes: neither the length nor the bit.
    if grows || i64::from(old) != on {
        meta.value[byte] = (meta.value[byte] & !(1 << shift)) | ((on as u8) << shift);
        save_string(ctx, key, &meta)?;
    }
    Ok(Reply::Int(old.into()))
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let offset = parse_bit_offset(args.get(2)?, None)?;
    Ok(Reply::Int(
        match ctx.typed_meta(KeyType::String, args.get(1)?)? {
            Some(meta) => bit_at(&meta.value, offset).into(),
            None => 0,
        },
    ))
}

/// BIT or BYTE (case-insensitive): whether a range counts bits.
fn unit_is_bit(args: &Args, i: usize) -> Result<bool, CmdError> {
    if args.is(i, "BIT") {
        Ok(true)
    } else if args.is(i, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// An inclusive range of bits, resolved against a string of `len` bytes the way BITCOUNT and
/// BITPOS resolve theirs: negative indexes count from the end, then both ends are clamped.
/// `None` when it is empty. In BYTE units the range covers whole bytes.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let resolve = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (resolve(start), resolve(end).min(total - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// Number of set bits in `bytes`, eight bytes at a time.
fn popcount(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let tail: u64 = words
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    words
        .map(|w| u64::from(u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])).count_ones()))
        .sum::<u64>()
        + tail
}

/// Set bits among bits `first..=last` of `value` (both within it).
fn count_bits(value: &[u8], first: u64, last: u64) -> u64 {
    let (a, b) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut count = popcount(&value[a..=b]);
    // Bits of the edge bytes outside the range.
    let head = value[a] & !(0xffu8 >> (first & 7));
    let tail = value[b] & (0x7fu8 >> (last & 7));
    count -= u64::from(head.count_ones()) + u64::from(tail.count_ones());
    count
}

/// BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7, a missing key counts 0 before the
/// arguments are looked at.
pub fn bitcount(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let Some(meta) = ctx.typed_meta(KeyType::String, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    let value = &meta.value;
    let range = match args.len() {
        2 => bit_range(0, -1, value.len(), false),
        4 | 5 => {
            let (start, end) = (args.int(2)?, args.int(3)?);
            // Checked before the unit, as Redis does: then a bad unit is not even seen.
            if start < 0 && end < 0 && start > end {
                return Ok(Reply::Int(0));
            }
            let in_bits = args.len() == 5 && unit_is_bit(args, 4)?;
            bit_range(start, end, value.len(), in_bits)
        }
        _ => return Err(CmdError::Syntax),
    };
    Ok(Reply::Int(match range {
        Some((first, last)) => count_bits(value, first, last) as i64,
        None => 0,
    }))
}

/// The first bit equal to `bit` among bits `first..=last` of `value` (both within it).
fn find_bit(value: &[u8], first: u64, last: u64, bit: u8) -> Option<u64> {
    let in_byte = |byte: u8, from: u64, to: u64| (from..=to).find(|i| (byte >> (7 - i)) & 1 == bit);
    let (a, b) = (first >> 3, last >> 3);
    if a == b {
        return in_byte(value[a as usize], first & 7, last & 7).map(|i| a * 8 + i);
    }
    if let Some(i) = in_byte(value[a as usize], first & 7, 7) {
        return Some(a * 8 + i);
    }
    // Whole bytes between the edges: skip those with no such bit.
    let skip = if bit == 1 { 0x00 } else { 0xff };
    let middle = &value[(a + 1) as usize..b as usize];
    if let Some(j) = middle.iter().position(|&byte| byte != skip) {
        let at = a + 1 + j as u64;
        return in_byte(value[at as usize], 0, 7).map(|i| at * 8 + i);
    }
    in_byte(value[b as usize], 0, last & 7).map(|i| b * 8 + i)
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros (0 for a clear bit, -1
/// for a set one) whatever the range, as in Redis 7. Looking for a clear bit without an
/// explicit end, the string counts as padded with zeros: all ones answer the bit after the
/// range. With an end given, or looking for a set bit, not found is -1.
pub fn bitpos(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let bit = args.int(2)?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::msg("The bit argument must be 1 or 0."));
    }
    let Some(meta) = ctx.typed_meta(KeyType::String, args.get(1)?)? else {
        return Ok(Reply::Int(if bit == 1 { -1 } else { 0 }));
    };
    let value = &meta.value;
    let (range, end_given) = match args.len() {
        3 => (bit_range(0, -1, value.len(), false), false),
        4..=6 => {
            let start = args.int(3)?;
            // The unit is read before the end, as Redis does.
            let in_bits = args.len() == 6 && unit_is_bit(args, 5)?;
            let end = if args.len() >= 5 { args.int(4)? } else { -1 };
            (bit_range(start, end, value.len(), in_bits), args.len() >= 5)
        }
        _ => return Err(CmdError::Syntax),
    };
    let Some((first, last)) = range else {
        return Ok(Reply::Int(-1));
    };
    Ok(Reply::Int(match find_bit(value, first, last, bit as u8) {
        Some(pos) => pos as i64,
        None if bit == 0 && !end_given => last as i64 + 1,
        None => -1,
    }))
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: stores the result (as long as the longest
/// source, shorter ones and missing keys counting as zero bytes) at destkey, replacing any
/// value and TTL there, or deletes destkey when every source is empty. Answers the length.
pub fn bitop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let op = match args.upper(1)?.as_str() {
        "AND" => BitOp::And,
        "OR" => BitOp::Or,
        "XOR" => BitOp::Xor,
        "NOT" => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::msg(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for key in args.from(3) {
        sources.push(
            ctx.typed_meta(KeyType::String, key)?
                .map(|m| m.value)
                .unwrap_or_default(),
        );
    }
    let dest = args.get(2)?;
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    if len == 0 {
        ctx.txn.delete_key(ctx.db, dest)?;
        return Ok(Reply::Int(0));
    }
    let mut sources = sources.into_iter();
    // The first source, padded, is where the result is built.
    let mut out = sources.next().unwrap_or_default();
    grow_zeroed(&mut out, len);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for src in sources {
                // Past a shorter source's end its bytes are zero, and so is the AND.
                out[src.len()..].fill(0);
                out.iter_mut().zip(&src).for_each(|(o, s)| *o &= s);
            }
        }
        BitOp::Or => {
            for src in sources {
                out.iter_mut().zip(&src).for_each(|(o, s)| *o |= s);
            }
        }
        BitOp::Xor => {
            for src in sources {
                out.iter_mut().zip(&src).for_each(|(o, s)| *o ^= s);
            }
        }
    }
    put_string(ctx, dest, out, Ttl::Clear)?;
    Ok(Reply::Int(len as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "1111 0000 ..." as bytes, eight digits a byte.
    fn bits_of(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|c| *c != b' ').collect();
        digits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |acc, d| (acc << 1) | (d - b'0')))
            .collect()
    }

    #[test]
    fn offsets_parse_like_redis() {
        assert_eq!(parse_bit_offset(b"0", None).unwrap(), 0);
        assert_eq!(
            parse_bit_offset(b"4294967295", None).unwrap(),
            (1 << 32) - 1
        );
        for bad in ["4294967296", "-1", "+1", "01", "x", "", "#1", "1.0"] {
            assert!(parse_bit_offset(bad.as_bytes(), None).is_err(), "{bad:?}");
        }
        assert_eq!(parse_bit_offset(b"#3", Some(8)).unwrap(), 24);
        assert_eq!(parse_bit_offset(b"3", Some(8)).unwrap(), 3);
        for bad in ["#", "#-1", "#536870912", "##1"] {
            assert!(
                parse_bit_offset(bad.as_bytes(), Some(8)).is_err(),
                "{bad:?}"
            );
        }
        // 2^61 * 8 wraps to 0 in Redis's 64-bit multiplication, and so here.
        assert_eq!(
            parse_bit_offset(b"#2305843009213693952", Some(8)).unwrap(),
            0
        );
        assert!(offset_reaches(b"8388608", 1 << 20));
        assert!(!offset_reaches(b"8388607", 1 << 20));
        assert!(!offset_reaches(b"x", 0));
    }

    #[test]
    fn counting_and_finding_respect_the_range_edges() {
        let v = bits_of("1111 0000 1010 1010 0000 0001");
        assert_eq!(popcount(&v), 9);
        assert_eq!(count_bits(&v, 0, 23), 9);
        assert_eq!(count_bits(&v, 2, 9), 3);
        assert_eq!(count_bits(&v, 8, 8), 1);
        assert_eq!(count_bits(&v, 9, 9), 0);
        let long = vec![0xffu8; 1000];
        assert_eq!(count_bits(&long, 3, 7995), 7993);
        assert_eq!(find_bit(&v, 0, 23, 0), Some(4));
        assert_eq!(find_bit(&v, 0, 3, 0), None);
        assert_eq!(find_bit(&v, 4, 23, 1), Some(8));
        assert_eq!(find_bit(&v, 17, 22, 1), None);
        assert_eq!(find_bit(&v, 17, 23, 1), Some(23));
        let mut ones = vec![0xffu8; 100];
        assert_eq!(find_bit(&ones, 0, 799, 0), None);
        ones[77] = 0xfe;
        assert_eq!(find_bit(&ones, 1, 798, 0), Some(77 * 8 + 7));
        assert_eq!(bit_at(&v, 8), 1);
        assert_eq!(bit_at(&v, 9), 0);
        assert_eq!(bit_at(&v, 1000), 0);
    }

    #[test]
    fn ranges_resolve_like_bitcount() {
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(1, 1, 3, false), Some((8, 15)));
        assert_eq!(bit_range(5, 100, 3, true), Some((5, 23)));
        assert_eq!(bit_range(-100, -1, 3, true), Some((0, 23)));
        assert_eq!(bit_range(3, 10, 3, false), None);
        assert_eq!(bit_range(0, -1, 0, false), None);
        assert_eq!(bit_range(2, 1, 3, false), None);
    }
}
