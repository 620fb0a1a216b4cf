//! String commands. The value lives inline in the key's meta record, so GET is one point lookup.

use bytes::Bytes;

use super::args::parse_i64;
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::long_double::{sum_text, LongDouble, Parsed};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::KeyType;

/// Largest string value (Redis's default `proto-max-bulk-len`).
pub const MAX_STRING_LEN: usize = 512 * 1024 * 1024;

mod bitfield;
mod bits;
mod lcs;
mod store;

pub use bitfield::writes_reach as bitfield_writes_reach;
pub use bits::offset_reaches as setbit_offset_reaches;
use store::*;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("get", 2, READONLY | FAST, (1, 1, 1), get),
    spec!("set", -3, WRITE | DENYOOM, (1, 1, 1), set),
    spec!("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx),
    spec!("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex),
    spec!("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex),
    spec!("mget", -2, READONLY | FAST, (1, -1, 1), mget),
    spec!("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset),
    spec!("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx),
    spec!("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset),
    spec!("getdel", 2, WRITE | FAST, (1, 1, 1), getdel),
    spec!("getex", -2, WRITE | FAST, (1, 1, 1), getex),
    spec!("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append),
    spec!("strlen", 2, READONLY | FAST, (1, 1, 1), strlen),
    spec!("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr),
    spec!("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr),
    spec!("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby),
    spec!("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby),
    spec!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        incrbyfloat
    ),
    spec!("getrange", 4, READONLY, (1, 1, 1), getrange),
    spec!("substr", 4, READONLY, (1, 1, 1), getrange),
    spec!("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange),
    spec!("lcs", -3, READONLY, (1, 2, 1), lcs::lcs),
    spec!("setbit", 4, WRITE | DENYOOM, (1, 1, 1), bits::setbit),
    spec!("getbit", 3, READONLY | FAST, (1, 1, 1), bits::getbit),
    spec!("bitcount", -2, READONLY, (1, 1, 1), bits::bitcount),
    spec!("bitpos", -3, READONLY, (1, 1, 1), bits::bitpos),
    spec!("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bits::bitop),
    spec!(
        "bitfield",
        -2,
        WRITE | DENYOOM,
        (1, 1, 1),
        bitfield::bitfield
    ),
    spec!(
        "bitfield_ro",
        -2,
        READONLY | FAST,
        (1, 1, 1),
        bitfield::bitfield_ro
    ),
];

fn get(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(match ctx.typed_meta(KeyType::String, args.get(1)?)? {
        Some(m) => Reply::bulk(m.value),
        None => Reply::Nil,
    })
}

/// Turns an EX/PX/EXAT/PXAT argument into an absolute deadline, with Redis's checks.
pub fn deadline(ctx: &Ctx<'_, '_>, unit: &str, raw: &Bytes, cmd: &str) -> Result<u64, CmdError> {
    let n = parse_i64(raw)?;
    let invalid = || CmdError::msg(format!("invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        "EX" | "EXAT" => n.checked_mul(1000).ok_or_else(invalid)?,
        _ => n,
    };
    let at = match unit {
        "EX" | "PX" => (ctx.now_ms as i64).checked_add(ms).ok_or_else(invalid)?,
        _ => ms,
    };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let value = args.get(2)?;
    let (mut nx, mut xx, mut want_old) = (false, false, false);
    let mut ttl = Ttl::Clear;
    let mut ttl_given = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.upper(i)?;
        match opt.as_str() {
            "NX" if !xx => nx = true,
            "XX" if !nx => xx = true,
            "GET" => want_old = true,
            "KEEPTTL" if !ttl_given => {
                ttl = Ttl::Keep;
                ttl_given = true;
            }
            "EX" | "PX" | "EXAT" | "PXAT" if !ttl_given && i + 1 < args.len() => {
                ttl = Ttl::At(deadline(ctx, &opt, args.get(i + 1)?, "set")?);
                ttl_given = true;
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    // Without GET a value of another type is simply replaced; a storage failure still fails.
    let old = match ctx.typed_meta(KeyType::String, key) {
        Err(CmdError::WrongType) if !want_old => None,
        other => other?,
    };
    let exists = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?.is_some();
    let old_reply = || match &old {
        Some(m) => Reply::bulk(m.value.clone()),
        None => Reply::Nil,
    };
    if (nx && exists) || (xx && !exists) {
        return Ok(if want_old { old_reply() } else { Reply::Nil });
    }
    put_string(ctx, key, value.to_vec(), ttl)?;
    Ok(if want_old { old_reply() } else { Reply::ok() })
}

fn setnx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    if ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?.is_some() {
        return Ok(Reply::Int(0));
    }
    put_string(ctx, key, args.get(2)?.to_vec(), Ttl::Clear)?;
    Ok(Reply::Int(1))
}

fn setex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let at = deadline(ctx, "EX", args.get(2)?, "setex")?;
    put_string(ctx, args.get(1)?, args.get(3)?.to_vec(), Ttl::At(at))?;
    Ok(Reply::ok())
}

fn psetex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let at = deadline(ctx, "PX", args.get(2)?, "psetex")?;
    put_string(ctx, args.get(1)?, args.get(3)?.to_vec(), Ttl::At(at))?;
    Ok(Reply::ok())
}

fn mget(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut out = Vec::with_capacity(args.len() - 1);
    for key in args.from(1) {
        // MGET answers nil, not WRONGTYPE, for keys of other types.
        out.push(match ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? {
            Some(m) if m.ty == KeyType::String => Reply::bulk(m.value),
            _ => Reply::Nil,
        });
    }
    Ok(Reply::Array(out))
}

fn mset(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let pairs = args.from(1);
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(
            String::from_utf8_lossy(args.get(0)?).to_lowercase(),
        ));
    }
    for kv in pairs.chunks(2) {
        put_string(ctx, &kv[0], kv[1].to_vec(), Ttl::Clear)?;
    }
    Ok(Reply::ok())
}

fn msetnx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let pairs = args.from(1);
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity("msetnx".into()));
    }
    for kv in pairs.chunks(2) {
        if ctx.txn.live_meta(ctx.db, &kv[0], ctx.now_ms)?.is_some() {
            return Ok(Reply::Int(0));
        }
    }
    for kv in pairs.chunks(2) {
        put_string(ctx, &kv[0], kv[1].to_vec(), Ttl::Clear)?;
    }
    Ok(Reply::Int(1))
}

fn getset(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let old = ctx.typed_meta(KeyType::String, key)?;
    put_string(ctx, key, args.get(2)?.to_vec(), Ttl::Clear)?;
    Ok(old.map(|m| Reply::bulk(m.value)).unwrap_or(Reply::Nil))
}

fn getdel(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    match ctx.typed_meta(KeyType::String, key)? {
        Some(m) => {
            ctx.txn.delete_key(ctx.db, key)?;
            Ok(Reply::bulk(m.value))
        }
        None => Ok(Reply::Nil),
    }
}

fn getex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    // The options' syntax is checked first; their values only once the key is known to be a
    // string (Redis answers nil for a missing key whatever the expire time).
    let mut persist = false;
    let mut expire: Option<(String, &Bytes)> = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args.upper(i)?;
        let unset = !persist && expire.is_none();
        match opt.as_str() {
            "PERSIST" if unset => persist = true,
            "EX" | "PX" | "EXAT" | "PXAT" if unset && i + 1 < args.len() => {
                expire = Some((opt, args.get(i + 1)?));
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    let Some(mut meta) = ctx.typed_meta(KeyType::String, key)? else {
        return Ok(Reply::Nil);
    };
    let value = meta.value.clone();
    if let Some((opt, raw)) = expire {
        meta.expire_at = deadline(ctx, &opt, raw, "getex")?;
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    } else if persist && meta.expire_at != 0 {
        meta.expire_at = 0;
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::bulk(value))
}

/// The error of a write that would make a string longer than `proto-max-bulk-len`.
fn too_long() -> CmdError {
    CmdError::msg("string exceeds maximum allowed size (proto-max-bulk-len)")
}

fn append(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let suffix = args.get(2)?;
    let existing = ctx.typed_meta(KeyType::String, key)?;
    if existing.as_ref().map_or(0, |m| m.value.len()) + suffix.len() > MAX_STRING_LEN {
        return Err(too_long());
    }
    // Extended in place: the old value is not copied into a new one.
    let mut meta = or_new_string(ctx, key, existing)?;
    meta.value.extend_from_slice(suffix);
    save_string(ctx, key, &meta)?;
    Ok(Reply::Int(meta.value.len() as i64))
}

fn strlen(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let len = ctx
        .typed_meta(KeyType::String, args.get(1)?)?
        .map(|m| m.value.len())
        .unwrap_or(0);
    Ok(Reply::Int(len as i64))
}

fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) -> CmdResult {
    let current = match ctx.typed_meta(KeyType::String, key)? {
        Some(m) => parse_i64(&m.value)?,
        None => 0,
    };
    let next = current.checked_add(delta).ok_or(CmdError::Overflow)?;
    put_string(ctx, key, next.to_string().into_bytes(), Ttl::Keep)?;
    Ok(Reply::Int(next))
}

fn incr(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1)?, 1)
}

fn decr(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1)?, -1)
}

fn incrby(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    incr_by(ctx, args.get(1)?, args.int(2)?)
}

fn decrby(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let delta = args.int(2)?;
    if delta == i64::MIN {
        return Err(CmdError::msg("decrement would overflow"));
    }
    incr_by(ctx, args.get(1)?, -delta)
}

fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    // Redis checks the key's type and current value before it reads the increment.
    let current = match ctx.typed_meta(KeyType::String, key)? {
        Some(m) => LongDouble::parse(&m.value).ok_or(CmdError::NotFloat)?,
        None => Parsed::Finite(LongDouble::ZERO),
    };
    let delta = LongDouble::parse(args.get(2)?).ok_or(CmdError::NotFloat)?;
    let text = sum_text(&current, &delta)
        .ok_or_else(|| CmdError::msg("increment would produce NaN or Infinity"))?;
    put_string(ctx, key, text.clone().into_bytes(), Ttl::Keep)?;
    Ok(Reply::bulk(text))
}

fn getrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (start, end) = (args.int(2)?, args.int(3)?);
    let value = ctx
        .typed_meta(KeyType::String, args.get(1)?)?
        .map(|m| m.value)
        .unwrap_or_default();
    let len = value.len() as i64;
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return Ok(Reply::bulk(""));
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end || start >= len {
        return Ok(Reply::bulk(""));
    }
    Ok(Reply::bulk(value[start as usize..=end as usize].to_vec()))
}

/// SETRANGE key offset value: the new length. Writing nothing changes nothing: a missing key
/// stays missing (answering 0, whatever the offset), an existing one answers its length.
fn setrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let offset = args.int(2)?;
    let patch = args.get(3)?;
    if offset < 0 {
        return Err(CmdError::msg("offset is out of range"));
    }
    let existing = ctx.typed_meta(KeyType::String, key)?;
    if patch.is_empty() {
        return Ok(Reply::Int(
            existing.map(|m| m.value.len()).unwrap_or(0) as i64
        ));
    }
    // Checked before anything is created or grown: `offset` may be as large as i64 allows.
    let end = (offset as u64).saturating_add(patch.len() as u64);
    if end > MAX_STRING_LEN as u64 {
        return Err(too_long());
    }
    let mut meta = or_new_string(ctx, key, existing)?;
    let (offset, end) = (offset as usize, end as usize);
    grow_zeroed(&mut meta.value, end);
    meta.value[offset..end].copy_from_slice(patch);
    save_string(ctx, key, &meta)?;
    Ok(Reply::Int(meta.value.len() as i64))
}

#[cfg(test)]
mod tests;
