//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits (unsigned up to 63) at any bit offset
//! of a string, read and written as Redis 7.0/7.2 does, overflow rules included.

use super::bits::parse_bit_offset;
use super::store::{grow_zeroed, save_string, string_for_update};
use crate::command::args::parse_i64;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::storage::KeyType;

/// What INCRBY and SET do with a result that does not fit the field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Overflow {
    /// Keep the low bits (two's complement for signed fields). The default.
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Write nothing and answer nil.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One GET, SET or INCRBY, with the OVERFLOW rule in force where it stands.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Field {
    action: Action,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// The parsed subcommands, and the last bit any write reaches (`None`: only GETs).
struct Plan {
    fields: Vec<Field>,
    last_written_bit: Option<u64>,
}

/// `i1`..`i64` or `u1`..`u63` (case-sensitive, as in Redis).
fn parse_type(raw: &[u8]) -> Result<(bool, u32), CmdError> {
    let error = || {
        CmdError::msg(
            "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match raw.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(error()),
    };
    let bits = parse_i64(&raw[1..]).map_err(|_| error())?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(error());
    }
    Ok((signed, bits as u32))
}

/// Reads the subcommands as Redis does: left to right, each error reported as met. Nothing is
/// looked up before the whole command has parsed.
fn parse(args: &Args) -> Result<Plan, CmdError> {
    let mut plan = Plan {
        fields: Vec::new(),
        last_written_bit: None,
    };
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = args.upper(j)?;
        let takes = match sub.as_str() {
            "GET" if remaining >= 2 => 2,
            "SET" | "INCRBY" if remaining >= 3 => 3,
            "OVERFLOW" if remaining >= 1 => {
                overflow = if args.is(j + 1, "WRAP") {
                    Overflow::Wrap
                } else if args.is(j + 1, "SAT") {
                    Overflow::Sat
                } else if args.is(j + 1, "FAIL") {
                    Overflow::Fail
                } else {
                    return Err(CmdError::msg("Invalid OVERFLOW type specified"));
                };
                j += 2;
                continue;
            }
            _ => return Err(CmdError::Syntax),
        };
        let (signed, bits) = parse_type(args.get(j + 1)?)?;
        let offset = parse_bit_offset(args.get(j + 2)?, Some(bits))?;
        let action = match sub.as_str() {
            "GET" => Action::Get,
            verb => {
                let last = offset + u64::from(bits) - 1;
                plan.last_written_bit = Some(plan.last_written_bit.map_or(last, |l| l.max(last)));
                let n = args.int(j + 3)?;
                if verb == "SET" {
                    Action::Set(n)
                } else {
                    Action::IncrBy(n)
                }
            }
        };
        plan.fields.push(Field {
            action,
            signed,
            bits,
            offset,
            overflow,
        });
        j += 1 + takes;
    }
    Ok(plan)
}

/// The `bits`-bit unsigned integer at bit `offset` of `value`, zero past its end.
fn get_unsigned(value: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + u64::from(bits)).fold(0, |acc, i| {
        (acc << 1) | u64::from(super::bits::bit_at(value, i))
    })
}

/// The signed integer there: the unsigned one with its top bit extended.
fn get_signed(value: &[u8], offset: u64, bits: u32) -> i64 {
    let raw = get_unsigned(value, offset, bits);
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `field` at bit `offset` (within `value`).
fn set_bits(value: &mut [u8], offset: u64, bits: u32, field: u64) {
    for j in 0..u64::from(bits) {
        let on = (field >> (u64::from(bits) - 1 - j)) & 1;
        let at = offset + j;
        let (byte, shift) = ((at >> 3) as usize, 7 - (at & 7));
        value[byte] = (value[byte] & !(1 << shift)) | ((on as u8) << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `None` when `value + incr` fits in `bits` bits,
/// else the value WRAP or SAT stores instead (FAIL stores nothing). The arithmetic is C's,
/// wrapping included, so that every corner answers as Redis does.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    if value > max || (incr > 0 && incr > max_incr) {
        Some(if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if incr < 0 && incr < min_incr {
        Some(if overflow == Overflow::Sat {
            0
        } else {
            wrapped()
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, with its C arithmetic (see [`unsigned_overflow`]).
fn signed_overflow(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Some(if overflow == Overflow::Sat {
            max
        } else {
            wrapped()
        })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Some(if overflow == Overflow::Sat {
            min
        } else {
            wrapped()
        })
    } else {
        None
    }
}

/// Runs one subcommand on `value` (grown to hold every field written): its reply (nil when
/// FAIL refused a write) and whether the value changed.
fn run_field(value: &mut [u8], field: &Field) -> (Reply, bool) {
    let Field {
        signed,
        bits,
        offset,
        overflow,
        ..
    } = *field;
    let (arg, incr) = match field.action {
        Action::Get => return (read_field(value, field), false),
        Action::Set(n) => (n, false),
        Action::IncrBy(n) => (n, true),
    };
    // Old and new values as bit patterns, the reply (INCRBY: the new value, SET: the old one),
    // and whether the result overflowed.
    let (old, new, reply, overflowed) = if signed {
        let old = get_signed(value, offset, bits);
        let start = if incr { old } else { arg };
        let step = if incr { arg } else { 0 };
        let (new, over) = match signed_overflow(start, step, bits, overflow) {
            Some(limit) => (limit, true),
            None => (start.wrapping_add(step), false),
        };
        (old as u64, new as u64, if incr { new } else { old }, over)
    } else {
        let old = get_unsigned(value, offset, bits);
        let start = if incr { old } else { arg as u64 };
        let step = if incr { arg } else { 0 };
        let (new, over) = match unsigned_overflow(start, step, bits, overflow) {
            Some(limit) => (limit, true),
            None => (start.wrapping_add(step as u64), false),
        };
        (old, new, (if incr { new } else { old }) as i64, over)
    };
    if overflowed && overflow == Overflow::Fail {
        return (Reply::Nil, false);
    }
    set_bits(value, offset, bits, new);
    (Reply::Int(reply), old != new)
}

fn read_field(value: &[u8], field: &Field) -> Reply {
    Reply::Int(if field.signed {
        get_signed(value, field.offset, field.bits)
    } else {
        get_unsigned(value, field.offset, field.bits) as i64
    })
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
/// OVERFLOW WRAP|SAT|FAIL] ...
///
/// A command with a write grows the string (creating the key) with zero bytes up to the last
/// bit written before any subcommand runs, as Redis does, so even a write FAIL refused leaves
/// the key there.
pub fn bitfield(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    run(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset] ...: BITFIELD for reads only.
pub fn bitfield_ro(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    run(ctx, args, true)
}

fn run(ctx: &mut Ctx<'_, '_>, args: &Args, read_only: bool) -> CmdResult {
    let plan = parse(args)?;
    let key = args.get(1)?;
    let Some(last_bit) = plan.last_written_bit else {
        let value = ctx
            .typed_meta(KeyType::String, key)?
            .map(|m| m.value)
            .unwrap_or_default();
        return Ok(Reply::Array(
            plan.fields.iter().map(|f| read_field(&value, f)).collect(),
        ));
    };
    if read_only {
        return Err(CmdError::msg(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let mut meta = string_for_update(ctx, key)?;
    let len = (last_bit >> 3) as usize + 1;
    let mut changed = meta.value.len() < len;
    grow_zeroed(&mut meta.value, len);
    let mut replies = Vec::with_capacity(plan.fields.len());
    for field in &plan.fields {
        let (reply, wrote) = run_field(&mut meta.value, field);
        changed |= wrote;
        replies.push(reply);
    }
    if changed {
        save_string(ctx, key, &meta)?;
    }
    Ok(Reply::Array(replies))
}

/// Whether a BITFIELD's writes reach past the first `bytes` bytes of the string (see
/// [`super::bits::offset_reaches`]). A command that does not parse reaches nowhere.
pub fn writes_reach(argv: &[bytes::Bytes], bytes: usize) -> bool {
    parse(&Args::new(argv))
        .ok()
        .and_then(|plan| plan.last_written_bit)
        .is_some_and(|bit| bit >> 3 >= bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_like_redis() {
        assert_eq!(parse_type(b"i64").unwrap(), (true, 64));
        assert_eq!(parse_type(b"u63").unwrap(), (false, 63));
        assert_eq!(parse_type(b"u1").unwrap(), (false, 1));
        for bad in ["u64", "i65", "i0", "I8", "U8", "i", "u08", "x8", "", "i+8"] {
            assert!(parse_type(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_read_and_write_across_bytes() {
        let mut v = vec![0u8; 3];
        set_bits(&mut v, 7, 5, 23);
        assert_eq!(v, [0b0000_0001, 0b0111_0000, 0]);
        assert_eq!(get_unsigned(&v, 7, 5), 23);
        assert_eq!(get_signed(&v, 7, 5), -9);
        assert_eq!(get_unsigned(&v, 20, 64), 0, "zero past the end");
        set_bits(&mut v, 0, 8, 0xff);
        assert_eq!(get_signed(&v, 0, 8), -1);
        assert_eq!(get_signed(&[0x80, 0, 0, 0, 0, 0, 0, 0], 0, 64), i64::MIN);
    }

    #[test]
    fn overflow_rules() {
        use Overflow::*;
        assert_eq!(unsigned_overflow(250, 10, 8, Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Sat), Some(0));
        assert_eq!(unsigned_overflow(5, -10, 8, Wrap), Some(251));
        assert_eq!(unsigned_overflow(5, 10, 8, Wrap), None);
        assert_eq!(
            unsigned_overflow(u64::MAX, 0, 8, Wrap),
            Some(255),
            "SET u8 -1"
        );
        assert_eq!(signed_overflow(127, 1, 8, Wrap), Some(-128));
        assert_eq!(signed_overflow(127, 1, 8, Sat), Some(127));
        assert_eq!(signed_overflow(-128, -1, 8, Sat), Some(-128));
        assert_eq!(signed_overflow(-128, -1, 8, Wrap), Some(127));
        assert_eq!(signed_overflow(100, 0, 8, Wrap), None);
        assert_eq!(signed_overflow(200, 0, 8, Wrap), Some(-56));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Sat), Some(i64::MAX));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Sat), Some(i64::MIN));
        assert_eq!(signed_overflow(i64::MIN, 0, 64, Sat), None);
    }
}
