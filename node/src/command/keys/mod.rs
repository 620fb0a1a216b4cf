//! Generic key commands: existence, deletion, renaming, copying between keys and databases,
//! iteration, TTLs, serialization (DUMP/RESTORE) and SORT.

mod copy;
mod dump;
pub(crate) mod rdb;
mod sort;
mod value;

mod object;

use super::cursor::{page_reply, scan_page, ScanOptions};
use super::flags::{DENYOOM, FAST, MOVABLEKEYS, READONLY, WRITE};
use super::glob::glob_match;
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::{Cf, Meta};

pub use copy::set_databases;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("del", -2, WRITE, (1, -1, 1), del),
    spec!("unlink", -2, WRITE | FAST, (1, -1, 1), del),
    spec!("exists", -2, READONLY | FAST, (1, -1, 1), exists),
    spec!("type", 2, READONLY | FAST, (1, 1, 1), key_type),
    spec!("keys", 2, READONLY, (0, 0, 0), keys),
    spec!("scan", -2, READONLY, (0, 0, 0), scan),
    spec!("rename", 3, WRITE, (1, 2, 1), rename),
    spec!("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx),
    spec!("randomkey", 1, READONLY, (0, 0, 0), randomkey),
    spec!("touch", -2, READONLY | FAST, (1, -1, 1), exists),
    spec!("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy::copy),
    spec!("move", 3, WRITE | FAST, (1, 1, 1), copy::move_key),
    spec!("swapdb", 3, WRITE | FAST, (0, 0, 0), copy::swapdb),
    spec!("dump", 2, READONLY, (1, 1, 1), dump::dump),
    spec!("restore", -4, WRITE | DENYOOM, (1, 1, 1), dump::restore),
    spec!(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLEKEYS,
        (1, 1, 1),
        sort::sort
    ),
    spec!(
        "sort_ro",
        -2,
        READONLY | MOVABLEKEYS,
        (1, 1, 1),
        sort::sort_ro
    ),
    spec!("expire", -3, WRITE | FAST, (1, 1, 1), expire),
    spec!("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire),
    spec!("expireat", -3, WRITE | FAST, (1, 1, 1), expireat),
    spec!("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat),
    spec!("ttl", 2, READONLY | FAST, (1, 1, 1), ttl),
    spec!("pttl", 2, READONLY | FAST, (1, 1, 1), pttl),
    spec!("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime),
    spec!("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime),
    spec!("persist", 2, WRITE | FAST, (1, 1, 1), persist),
    spec!("object", -2, READONLY, (2, 2, 1), object::object),
];

fn del(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut removed = 0;
    for key in args.from(1) {
        let live = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?.is_some();
        // An expired key is removed too, but only live keys count, as in Redis.
        if ctx.txn.delete_key(ctx.db, key)? && live {
            removed += 1;
        }
    }
    Ok(Reply::Int(removed))
}

/// EXISTS, and TOUCH, which Redis also answers with the number of keys found (a key named
/// twice counts twice); there is no access time to update here.
fn exists(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut n = 0;
    for key in args.from(1) {
        if ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?.is_some() {
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

fn key_type(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let name = match ctx.txn.live_meta(ctx.db, args.get(1)?, ctx.now_ms)? {
        Some(m) => m.ty.name(),
        None => "none",
    };
    Ok(Reply::Simple(name.into()))
}

/// Decodes a meta-family entry of database `db` into its user key and meta.
fn decode_entry(k: &[u8], v: &[u8]) -> Result<(Vec<u8>, Meta), CmdError> {
    Ok((k[1..].to_vec(), Meta::decode(v)?))
}

fn keys(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let pattern = args.get(1)?;
    // Redis lists every key for `*` without matching, and the matcher refuses an empty key.
    let all = &pattern[..] == b"*";
    let mut out = Vec::new();
    for entry in ctx.txn.scan(Cf::Meta, &[ctx.db], &[ctx.db + 1], false)? {
        let (k, v) = entry?;
        let (key, meta) = decode_entry(&k, &v)?;
        if !meta.is_expired(ctx.now_ms) && (all || glob_match(pattern, &key)) {
            out.push(key);
        }
    }
    Ok(Reply::bulks(out))
}

fn scan(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let opts = ScanOptions::parse(args, 1, true, false)?;
    let (next, page) = scan_page(ctx, Cf::Meta, &[ctx.db], &[ctx.db + 1], &opts)?;
    let mut keys = Vec::new();
    for (k, v) in page {
        let (key, meta) = decode_entry(&k, &v)?;
        if meta.is_expired(ctx.now_ms) || !opts.matches(&key) {
            continue;
        }
        if opts
            .type_filter
            .as_deref()
            .is_some_and(|t| t != meta.ty.name())
        {
            continue;
        }
        keys.push(key);
    }
    Ok(page_reply(
        next,
        keys.into_iter().map(Reply::bulk).collect(),
    ))
}

/// Moves `src` (live, described by `meta`) to `dst`, replacing `dst`.
fn rename_value(ctx: &mut Ctx<'_, '_>, src: &[u8], dst: &[u8], meta: Meta) -> Result<(), CmdError> {
    copy::copy_value(ctx.txn, (ctx.db, src), &meta, (ctx.db, dst))?;
    ctx.txn.delete_key(ctx.db, src)?;
    Ok(())
}

fn rename(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (src, dst) = (args.get(1)?, args.get(2)?);
    let meta = ctx
        .txn
        .live_meta(ctx.db, src, ctx.now_ms)?
        .ok_or(CmdError::NoSuchKey)?;
    if src != dst {
        rename_value(ctx, src, dst, meta)?;
    }
    Ok(Reply::ok())
}

fn renamenx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (src, dst) = (args.get(1)?, args.get(2)?);
    let meta = ctx
        .txn
        .live_meta(ctx.db, src, ctx.now_ms)?
        .ok_or(CmdError::NoSuchKey)?;
    if src == dst || ctx.txn.live_meta(ctx.db, dst, ctx.now_ms)?.is_some() {
        return Ok(Reply::Int(0));
    }
    rename_value(ctx, src, dst, meta)?;
    Ok(Reply::Int(1))
}

fn randomkey(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let _ = args;
    // Seek to a random point of the keyspace and take the first live key from there, wrapping.
    let mut probe = vec![ctx.db];
    probe.extend_from_slice(&ctx.rng.next_u64().to_be_bytes());
    let (from, to) = ([ctx.db], [ctx.db + 1]);
    for (lo, hi) in [(probe.as_slice(), &to[..]), (&from[..], probe.as_slice())] {
        for entry in ctx.txn.scan(Cf::Meta, lo, hi, false)? {
            let (k, v) = entry?;
            let (key, meta) = decode_entry(&k, &v)?;
            if !meta.is_expired(ctx.now_ms) {
                return Ok(Reply::bulk(key));
            }
        }
    }
    Ok(Reply::Nil)
}

/// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: `unit_ms` converts the argument to milliseconds and
/// `relative` says whether it counts from now.
fn set_expiry(ctx: &mut Ctx<'_, '_>, args: &Args, unit_ms: i64, relative: bool) -> CmdResult {
    let key = args.get(1)?;
    let name = String::from_utf8_lossy(args.get(0)?).to_lowercase();
    // Options are checked before the time argument, as in Redis.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..args.len() {
        match args.upper(i)?.as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => {
                let given = String::from_utf8_lossy(args.get(i)?);
                return Err(CmdError::msg(format!("Unsupported option {given}")));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::msg(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::msg(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let n = args.int(2)?;
    let invalid = || CmdError::msg(format!("invalid expire time in '{name}' command"));
    let mut at = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        at = at.checked_add(ctx.now_ms as i64).ok_or_else(invalid)?;
    }
    let Some(mut meta) = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? else {
        return Ok(Reply::Int(0));
    };
    // A key without a TTL counts as an infinite TTL for GT and LT.
    let current = if meta.expire_at == 0 {
        i64::MAX
    } else {
        meta.expire_at as i64
    };
    let refused = (nx && meta.expire_at != 0)
        || (xx && meta.expire_at == 0)
        || (gt && at <= current)
        || (lt && at >= current);
    if refused {
        return Ok(Reply::Int(0));
    }
    if at <= ctx.now_ms as i64 {
        ctx.txn.delete_key(ctx.db, key)?;
    } else {
        meta.expire_at = at as u64;
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::Int(1))
}

fn expire(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1000, true)
}

fn pexpire(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1, true)
}

fn expireat(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1000, false)
}

fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    set_expiry(ctx, args, 1, false)
}

/// Shared by TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without a deadline.
fn ttl_query(ctx: &mut Ctx<'_, '_>, args: &Args, f: fn(u64, u64) -> i64) -> CmdResult {
    Ok(Reply::Int(
        match ctx.txn.live_meta(ctx.db, args.get(1)?, ctx.now_ms)? {
            None => -2,
            Some(m) if m.expire_at == 0 => -1,
            Some(m) => f(m.expire_at, ctx.now_ms),
        },
    ))
}

fn ttl(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    // Rounded to the nearest second, as Redis does.
    ttl_query(ctx, args, |at, now| ((at - now + 500) / 1000) as i64)
}

fn pttl(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    ttl_query(ctx, args, |at, now| (at - now) as i64)
}

fn expiretime(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    ttl_query(ctx, args, |at, _| (at / 1000) as i64)
}

fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    ttl_query(ctx, args, |at, _| at as i64)
}

fn persist(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    match ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? {
        Some(mut m) if m.expire_at != 0 => {
            m.expire_at = 0;
            ctx.txn.save_meta(ctx.db, key, &m)?;
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

#[cfg(test)]
mod tests;
