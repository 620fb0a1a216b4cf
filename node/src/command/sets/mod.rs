//! Set commands. Each member is a key `member_prefix | member` in the `set` family with an empty
//! value; the key's meta record holds the cardinality.
//!
//! Members come back in key (byte) order wherever Redis leaves the order unspecified, and the
//! random commands draw member *indexes* from `ctx.rng` and resolve them in key order, so a
//! replica applying the same mutation with the same seed pops the same members.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::cursor::{page_reply, parse_cursor, scan_page, ScanOptions};
use super::flags::{DENYOOM, FAST, RANDOM, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{member_key, prefix_end};
use crate::storage::{Cf, KeyType};

mod store;

use store::*;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd),
    spec!("srem", -3, WRITE | FAST, (1, 1, 1), srem),
    spec!("smembers", 2, READONLY, (1, 1, 1), smembers),
    spec!("sismember", 3, READONLY | FAST, (1, 1, 1), sismember),
    spec!("smismember", -3, READONLY | FAST, (1, 1, 1), smismember),
    spec!("scard", 2, READONLY | FAST, (1, 1, 1), scard),
    spec!("spop", -2, WRITE | FAST | RANDOM, (1, 1, 1), spop),
    spec!("srandmember", -2, READONLY | RANDOM, (1, 1, 1), srandmember),
    spec!("smove", 4, WRITE | FAST, (1, 2, 1), smove),
    spec!("sinter", -2, READONLY, (1, -1, 1), sinter),
    spec!("sunion", -2, READONLY, (1, -1, 1), sunion),
    spec!("sdiff", -2, READONLY, (1, -1, 1), sdiff),
    spec!("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore),
    spec!("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore),
    spec!("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore),
    spec!("sintercard", -3, READONLY, (0, 0, 0), sintercard),
    spec!("sscan", -3, READONLY, (1, 1, 1), sscan),
];

/// Most members one SRANDMEMBER with a negative count may return. Redis streams such replies
/// in batches; replies here are built in memory, so a count like -9223372036854775807 would
/// exhaust it. Larger counts are refused instead.
pub const MAX_RANDOM_REPEATS: u64 = 10_000_000;

fn sadd(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let mut meta = match ctx.typed_meta(KeyType::Set, key)? {
        Some(m) => m,
        None => ctx.txn.create_key(ctx.db, key, KeyType::Set)?,
    };
    let prefix = prefix_of(ctx, key, &meta);
    let mut added = 0;
    for member in args.from(2) {
        if !is_member(ctx, &prefix, member)? {
            ctx.txn
                .put(Cf::Set, member_key(&prefix, member), Vec::new());
            added += 1;
        }
    }
    if added > 0 {
        meta.count += added;
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::Int(added as i64))
}

fn srem(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(mut meta) = ctx.typed_meta(KeyType::Set, key)? else {
        return Ok(Reply::Int(0));
    };
    let prefix = prefix_of(ctx, key, &meta);
    let mut removed = 0;
    for member in args.from(2) {
        if is_member(ctx, &prefix, member)? {
            ctx.txn.delete(Cf::Set, member_key(&prefix, member));
            removed += 1;
        }
    }
    if removed > 0 {
        meta.count = meta.count.saturating_sub(removed);
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::Int(removed as i64))
}

fn smembers(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    Ok(match ctx.typed_meta(KeyType::Set, key)? {
        Some(meta) => set_reply(members(ctx, &prefix_of(ctx, key, &meta))?),
        None => Reply::Set(Vec::new()),
    })
}

fn sismember(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    Ok(Reply::Int(match ctx.typed_meta(KeyType::Set, key)? {
        Some(meta) => is_member(ctx, &prefix_of(ctx, key, &meta), args.get(2)?)? as i64,
        None => 0,
    }))
}

fn smismember(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let prefix = ctx
        .typed_meta(KeyType::Set, key)?
        .map(|meta| prefix_of(ctx, key, &meta));
    let mut out = Vec::with_capacity(args.len() - 2);
    for member in args.from(2) {
        let found = match &prefix {
            Some(p) => is_member(ctx, p, member)?,
            None => false,
        };
        out.push(Reply::Int(found as i64));
    }
    Ok(Reply::Array(out))
}

fn scard(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::Int(
        ctx.typed_meta(KeyType::Set, args.get(1)?)?
            .map_or(0, |m| m.count as i64),
    ))
}

fn spop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    match args.len() {
        2 => spop_one(ctx, args.get(1)?),
        3 => {
            // Anything but a non-negative integer gets this one message, as in Redis.
            let count = args
                .int(2)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CmdError::msg("value is out of range, must be positive"))?;
            spop_count(ctx, args.get(1)?, count as u64)
        }
        _ => Err(CmdError::Syntax),
    }
}

fn spop_one(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    let Some(mut meta) = ctx.typed_meta(KeyType::Set, key)? else {
        return Ok(Reply::Nil);
    };
    let prefix = prefix_of(ctx, key, &meta);
    let index = ctx.rng.below(meta.count);
    let Some(member) = member_at(ctx, &prefix, meta.count, index)? else {
        return Ok(Reply::Nil);
    };
    ctx.txn.delete(Cf::Set, member_key(&prefix, &member));
    meta.count = meta.count.saturating_sub(1);
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(Reply::bulk(member))
}

fn spop_count(ctx: &mut Ctx<'_, '_>, key: &[u8], count: u64) -> CmdResult {
    let Some(mut meta) = ctx.typed_meta(KeyType::Set, key)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let prefix = prefix_of(ctx, key, &meta);
    if count >= meta.count {
        let all = members(ctx, &prefix)?;
        ctx.txn.delete_key(ctx.db, key)?;
        return Ok(set_reply(all));
    }
    let indexes = distinct_indexes(ctx, meta.count, count);
    let popped = members_at(ctx, &prefix, &indexes)?;
    for member in &popped {
        ctx.txn.delete(Cf::Set, member_key(&prefix, member));
    }
    meta.count = meta.count.saturating_sub(popped.len() as u64);
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(Reply::Set(popped.into_iter().map(Reply::Bulk).collect()))
}

fn srandmember(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    match args.len() {
        2 => {
            let Some(meta) = ctx.typed_meta(KeyType::Set, key)? else {
                return Ok(Reply::Nil);
            };
            let index = ctx.rng.below(meta.count);
            Ok(
                match member_at(ctx, &prefix_of(ctx, key, &meta), meta.count, index)? {
                    Some(m) => Reply::bulk(m),
                    None => Reply::Nil,
                },
            )
        }
        3 => {
            let n = args.int(2)?;
            if n == i64::MIN {
                return Err(CmdError::msg(format!(
                    "value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )));
            }
            let (count, repeats) = (n.unsigned_abs(), n < 0);
            let Some(meta) = ctx.typed_meta(KeyType::Set, key)? else {
                return Ok(Reply::Array(Vec::new()));
            };
            if count == 0 {
                return Ok(Reply::Array(Vec::new()));
            }
            let prefix = prefix_of(ctx, key, &meta);
            if repeats {
                if count > MAX_RANDOM_REPEATS {
                    return Err(CmdError::msg(format!(
                        "SRANDMEMBER count is out of range, at most {MAX_RANDOM_REPEATS} repeated members per call"
                    )));
                }
                let indexes: Vec<u64> = (0..count).map(|_| ctx.rng.below(meta.count)).collect();
                let picked = members_at(ctx, &prefix, &indexes)?;
                return Ok(Reply::Array(picked.into_iter().map(Reply::Bulk).collect()));
            }
            if count >= meta.count {
                return Ok(Reply::bulks(members(ctx, &prefix)?));
            }
            let indexes = distinct_indexes(ctx, meta.count, count);
            let picked = members_at(ctx, &prefix, &indexes)?;
            Ok(Reply::Array(picked.into_iter().map(Reply::Bulk).collect()))
        }
        _ => Err(CmdError::Syntax),
    }
}

fn smove(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (src, dst, member) = (args.get(1)?, args.get(2)?, args.get(3)?);
    // A missing source answers 0 before the destination's type is looked at, as in Redis.
    let Some(mut src_meta) = ctx.typed_meta(KeyType::Set, src)? else {
        return Ok(Reply::Int(0));
    };
    let dst_meta = ctx.typed_meta(KeyType::Set, dst)?;
    let src_prefix = prefix_of(ctx, src, &src_meta);
    if !is_member(ctx, &src_prefix, member)? {
        return Ok(Reply::Int(0));
    }
    if src == dst {
        return Ok(Reply::Int(1));
    }
    ctx.txn.delete(Cf::Set, member_key(&src_prefix, member));
    src_meta.count = src_meta.count.saturating_sub(1);
    ctx.txn.save_meta(ctx.db, src, &src_meta)?;
    let mut dst_meta = match dst_meta {
        Some(m) => m,
        None => ctx.txn.create_key(ctx.db, dst, KeyType::Set)?,
    };
    let dst_prefix = prefix_of(ctx, dst, &dst_meta);
    if !is_member(ctx, &dst_prefix, member)? {
        ctx.txn
            .put(Cf::Set, member_key(&dst_prefix, member), Vec::new());
        dst_meta.count += 1;
        ctx.txn.save_meta(ctx.db, dst, &dst_meta)?;
    }
    Ok(Reply::Int(1))
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The sets named by `keys` (None for a missing key), after checking every key's type, as
/// Redis does before computing anything.
/// A set's member prefix and cardinality, or `None` for a missing key.
type LoadedSet = Option<(Vec<u8>, u64)>;

fn load_sets(ctx: &Ctx<'_, '_>, keys: &[Bytes]) -> Result<Vec<LoadedSet>, CmdError> {
    keys.iter()
        .map(|key| {
            Ok(ctx
                .typed_meta(KeyType::Set, key)?
                .map(|meta| (prefix_of(ctx, key, &meta), meta.count)))
        })
        .collect()
}

/// The members of the intersection of `sets`, in key order of the smallest set, stopping after
/// `limit` members (0: no limit).
fn intersect(
    ctx: &Ctx<'_, '_>,
    sets: &[Option<(Vec<u8>, u64)>],
    limit: u64,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let Some(mut sets) = sets.iter().cloned().collect::<Option<Vec<_>>>() else {
        return Ok(Vec::new()); // a missing key is an empty set
    };
    sets.sort_by_key(|(_, count)| *count);
    let Some(((smallest, _), others)) = sets.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in ctx
        .txn
        .scan(Cf::Set, smallest, &prefix_end(smallest), false)?
    {
        let (k, _) = entry?;
        let member = &k[smallest.len()..];
        let mut everywhere = true;
        for (prefix, _) in others {
            if prefix != smallest && !is_member(ctx, prefix, member)? {
                everywhere = false;
                break;
            }
        }
        if everywhere {
            out.push(member.to_vec());
            if limit != 0 && out.len() as u64 >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// SINTER/SUNION/SDIFF over `keys`; the result is in key order.
fn combine(ctx: &Ctx<'_, '_>, op: Op, keys: &[Bytes]) -> Result<Vec<Vec<u8>>, CmdError> {
    let sets = load_sets(ctx, keys)?;
    match op {
        // The smallest set is walked in key order, so the intersection comes out sorted too.
        Op::Inter => intersect(ctx, &sets, 0),
        Op::Union => {
            let mut all = BTreeSet::new();
            for (prefix, _) in sets.iter().flatten() {
                all.extend(members(ctx, prefix)?);
            }
            Ok(all.into_iter().collect())
        }
        Op::Diff => {
            let Some(Some((first, _))) = sets.first() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for member in members(ctx, first)? {
                let mut elsewhere = false;
                for (prefix, _) in sets[1..].iter().flatten() {
                    if is_member(ctx, prefix, &member)? {
                        elsewhere = true;
                        break;
                    }
                }
                if !elsewhere {
                    out.push(member);
                }
            }
            Ok(out)
        }
    }
}

fn sinter(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(set_reply(combine(ctx, Op::Inter, args.from(1))?))
}

fn sunion(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(set_reply(combine(ctx, Op::Union, args.from(1))?))
}

fn sdiff(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(set_reply(combine(ctx, Op::Diff, args.from(1))?))
}

/// The *STORE variants: the result replaces the destination whatever its type (an empty result
/// deletes it), and the reply is the result's cardinality.
fn store(ctx: &mut Ctx<'_, '_>, args: &Args, op: Op) -> CmdResult {
    let dst = args.get(1)?;
    let result = combine(ctx, op, args.from(2))?;
    if result.is_empty() {
        ctx.txn.delete_key(ctx.db, dst)?;
        return Ok(Reply::Int(0));
    }
    let mut meta = ctx.txn.create_key(ctx.db, dst, KeyType::Set)?;
    let prefix = prefix_of(ctx, dst, &meta);
    for member in &result {
        ctx.txn
            .put(Cf::Set, member_key(&prefix, member), Vec::new());
    }
    meta.count = result.len() as u64;
    ctx.txn.save_meta(ctx.db, dst, &meta)?;
    Ok(Reply::Int(result.len() as i64))
}

fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    store(ctx, args, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    store(ctx, args, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    store(ctx, args, Op::Diff)
}

fn sintercard(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let numkeys = args
        .int(1)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CmdError::msg("numkeys should be greater than 0"))? as u64;
    if numkeys > (args.len() - 2) as u64 {
        return Err(CmdError::msg(
            "Number of keys can't be greater than number of args",
        ));
    }
    let first_option = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = first_option;
    while i < args.len() {
        if args.is(i, "limit") && i + 1 < args.len() {
            limit = args
                .int(i + 1)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CmdError::msg("LIMIT can't be negative"))?
                as u64;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let sets = load_sets(ctx, &args.all()[2..first_option])?;
    Ok(Reply::Int(intersect(ctx, &sets, limit)?.len() as i64))
}

fn sscan(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    // Redis checks the cursor, then the key (a missing key answers an empty page whatever the
    // options), then the type, and only then the options.
    parse_cursor(args.get(2)?)?;
    let Some(meta) = ctx.typed_meta(KeyType::Set, key)? else {
        return Ok(page_reply(0, Vec::new()));
    };
    let opts = ScanOptions::parse(args, 2, false, false)?;
    let prefix = prefix_of(ctx, key, &meta);
    let (next, page) = scan_page(ctx, Cf::Set, &prefix, &prefix_end(&prefix), &opts)?;
    let found = page
        .into_iter()
        .map(|(k, _)| k[prefix.len()..].to_vec())
        .filter(|m| opts.matches(m))
        .map(Reply::bulk)
        .collect();
    Ok(page_reply(next, found))
}

#[cfg(test)]
mod tests;
