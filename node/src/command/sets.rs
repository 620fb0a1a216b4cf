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
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta};

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

fn prefix_of(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Vec<u8> {
    member_prefix(ctx.db, key, meta.version)
}

fn is_member(ctx: &Ctx<'_, '_>, prefix: &[u8], member: &[u8]) -> Result<bool, CmdError> {
    Ok(ctx.txn.get(Cf::Set, &member_key(prefix, member))?.is_some())
}

/// Every member under `prefix`, in key order.
fn members(ctx: &Ctx<'_, '_>, prefix: &[u8]) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::new();
    for entry in ctx.txn.scan(Cf::Set, prefix, &prefix_end(prefix), false)? {
        let (k, _) = entry?;
        out.push(k[prefix.len()..].to_vec());
    }
    Ok(out)
}

/// The member at position `index` (in key order) of a set of `len` members, walking from
/// whichever end is nearer.
fn member_at(
    ctx: &Ctx<'_, '_>,
    prefix: &[u8],
    len: u64,
    index: u64,
) -> Result<Option<Vec<u8>>, CmdError> {
    let reverse = index >= len / 2;
    let skip = if reverse { len - 1 - index } else { index };
    let mut scan = ctx
        .txn
        .scan(Cf::Set, prefix, &prefix_end(prefix), reverse)?;
    match scan.nth(skip as usize) {
        Some(entry) => Ok(Some(entry?.0[prefix.len()..].to_vec())),
        None => Ok(None),
    }
}

/// The members at `indexes` (key-order positions, repeats allowed), in the order given, resolved
/// in one pass over the set.
fn members_at(ctx: &Ctx<'_, '_>, prefix: &[u8], indexes: &[u64]) -> Result<Vec<Bytes>, CmdError> {
    let mut order: Vec<usize> = (0..indexes.len()).collect();
    order.sort_by_key(|&i| indexes[i]);
    let mut out: Vec<Option<Bytes>> = vec![None; indexes.len()];
    let mut next = 0;
    for (pos, entry) in ctx
        .txn
        .scan(Cf::Set, prefix, &prefix_end(prefix), false)?
        .enumerate()
    {
        if next == order.len() {
            break;
        }
        let (k, _) = entry?;
        if indexes[order[next]] != pos as u64 {
            continue;
        }
        let member = Bytes::copy_from_slice(&k[prefix.len()..]);
        while next < order.len() && indexes[order[next]] == pos as u64 {
            out[order[next]] = Some(member.clone());
            next += 1;
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// `count` distinct key-order positions out of `len`, in the order drawn.
fn distinct_indexes(ctx: &mut Ctx<'_, '_>, len: u64, count: u64) -> Vec<u64> {
    ctx.rng.distinct_below(len, count)
}

fn set_reply(items: Vec<Vec<u8>>) -> Reply {
    Reply::Set(items.into_iter().map(Reply::bulk).collect())
}

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
    let prefix = ctx.typed_meta(KeyType::Set, key)?.map(|meta| prefix_of(ctx, key, &meta));
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
        ctx.typed_meta(KeyType::Set, args.get(1)?)?.map_or(0, |m| m.count as i64),
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
        .map(|key| Ok(ctx.typed_meta(KeyType::Set, key)?.map(|meta| (prefix_of(ctx, key, &meta), meta.count))))
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
mod tests {
    use crate::command::testing::{bulk, bulks, err, int, TestDb};
    use crate::resp::Reply;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn set(items: &[&str]) -> Reply {
        Reply::Set(items.iter().map(|s| bulk(s)).collect())
    }

    /// The members of a Set or Array reply, as strings.
    fn strings(reply: &Reply) -> Vec<String> {
        let (Reply::Set(items) | Reply::Array(items)) = reply else {
            panic!("not a collection: {reply:?}")
        };
        items
            .iter()
            .map(|r| match r {
                Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect()
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn sadd_srem_scard_sismember() {
        let mut t = TestDb::new();
        assert_eq!(
            t.run("SADD s b a c a"),
            int(3),
            "duplicates in one call count once"
        );
        assert_eq!(t.run("SADD s a d"), int(1));
        assert_eq!(t.run("SCARD s"), int(4));
        assert_eq!(t.run("SCARD missing"), int(0));
        assert_eq!(t.run("TYPE s"), Reply::Simple("set".into()));
        assert_eq!(t.run("SISMEMBER s a"), int(1));
        assert_eq!(t.run("SISMEMBER s zz"), int(0));
        assert_eq!(t.run("SISMEMBER missing a"), int(0));
        assert_eq!(
            t.run("SMISMEMBER s a zz d a"),
            Reply::Array(vec![int(1), int(0), int(1), int(1)])
        );
        assert_eq!(
            t.run("SMISMEMBER missing a b"),
            Reply::Array(vec![int(0), int(0)])
        );
        assert_eq!(t.run("SREM s a zz a"), int(1));
        assert_eq!(t.run("SREM missing a"), int(0));
        assert_eq!(t.run("SCARD s"), int(3));
        assert_eq!(t.run("SREM s b c d"), int(3));
        assert_eq!(t.run("EXISTS s"), int(0), "an emptied set is deleted");
        assert_eq!(
            t.run("SADD e \"\""),
            int(1),
            "the empty string is a member like any other"
        );
        assert_eq!(t.run("SISMEMBER e \"\""), int(1));
        assert_eq!(t.run("SMEMBERS e"), set(&[""]));
    }

    #[test]
    fn smembers_in_member_order() {
        let mut t = TestDb::new();
        t.run("SADD s c a b");
        assert_eq!(t.run("SMEMBERS s"), set(&["a", "b", "c"]));
        assert_eq!(t.run("SMEMBERS missing"), set(&[]));
    }

    #[test]
    fn every_command_rejects_other_types() {
        let mut t = TestDb::new();
        t.run("SET str x");
        t.run("SADD s a");
        for cmd in [
            "SADD str a",
            "SREM str a",
            "SMEMBERS str",
            "SISMEMBER str a",
            "SMISMEMBER str a",
            "SCARD str",
            "SPOP str",
            "SPOP str 0",
            "SRANDMEMBER str",
            "SRANDMEMBER str -1",
            "SMOVE str s a",
            "SMOVE s str a",
            "SINTER s str",
            "SINTER missing str",
            "SUNION str missing",
            "SDIFF missing str",
            "SDIFF s missing str",
            "SINTERSTORE d missing str",
            "SUNIONSTORE d s str",
            "SDIFFSTORE d str",
            "SINTERCARD 2 missing str",
            "SSCAN str 0",
            "SSCAN str 0 BADOPTION",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
        assert_eq!(
            t.run("EXISTS d"),
            int(0),
            "a failed *STORE leaves the destination alone"
        );
        assert_eq!(t.run("GET str"), bulk("x"));
    }

    #[test]
    fn arity_is_checked() {
        let mut t = TestDb::new();
        for (cmd, name) in [
            ("SADD s", "sadd"),
            ("SREM s", "srem"),
            ("SMEMBERS", "smembers"),
            ("SMEMBERS a b", "smembers"),
            ("SISMEMBER s", "sismember"),
            ("SMISMEMBER s", "smismember"),
            ("SCARD", "scard"),
            ("SPOP", "spop"),
            ("SRANDMEMBER", "srandmember"),
            ("SMOVE a b", "smove"),
            ("SINTER", "sinter"),
            ("SUNION", "sunion"),
            ("SDIFF", "sdiff"),
            ("SINTERSTORE d", "sinterstore"),
            ("SUNIONSTORE d", "sunionstore"),
            ("SDIFFSTORE d", "sdiffstore"),
            ("SINTERCARD 1", "sintercard"),
            ("SSCAN s", "sscan"),
        ] {
            assert_eq!(
                t.run(cmd),
                err(&format!(
                    "ERR wrong number of arguments for '{name}' command"
                )),
                "{cmd}"
            );
        }
    }

    #[test]
    fn spop_without_count() {
        let mut t = TestDb::new();
        assert_eq!(t.run("SPOP missing"), Reply::Nil);
        t.run("SADD s a b c");
        t.run("EXPIRE s 100");
        let mut popped = Vec::new();
        for left in [2, 1] {
            let Reply::Bulk(m) = t.run("SPOP s") else {
                panic!()
            };
            popped.push(String::from_utf8(m.to_vec()).unwrap());
            assert_eq!(t.run("SCARD s"), int(left));
            assert_eq!(t.run("TTL s"), int(100), "SPOP keeps the TTL");
        }
        let mut all = strings(&t.run("SMEMBERS s"));
        all.extend(popped);
        assert_eq!(sorted(all), ["a", "b", "c"]);
        assert!(matches!(t.run("SPOP s"), Reply::Bulk(_)));
        assert_eq!(
            t.run("EXISTS s"),
            int(0),
            "popping the last member deletes the key"
        );
    }

    #[test]
    fn spop_with_count() {
        let mut t = TestDb::new();
        t.run("SET str x");
        assert_eq!(t.run("SPOP missing 3"), set(&[]));
        assert_eq!(t.run("SPOP missing 0"), set(&[]));
        let positive = err("ERR value is out of range, must be positive");
        assert_eq!(t.run("SPOP missing -1"), positive);
        assert_eq!(
            t.run("SPOP str -1"),
            positive,
            "the count is checked before the key"
        );
        assert_eq!(t.run("SPOP missing abc"), positive);
        assert_eq!(t.run("SPOP missing 9223372036854775808"), positive);
        assert_eq!(t.run("SPOP missing 1 2"), err("ERR syntax error"));
        t.run("SADD s a b c d e f");
        assert_eq!(t.run("SPOP s 0"), set(&[]));
        let first = strings(&t.run("SPOP s 2"));
        assert!(matches!(t.run("SPOP s 1"), Reply::Set(_)));
        assert_eq!(first.len(), 2);
        assert_ne!(first[0], first[1]);
        assert_eq!(t.run("SCARD s"), int(3));
        let rest = strings(&t.run("SPOP s 10"));
        assert_eq!(rest.len(), 3, "a count past the size pops everything");
        assert_eq!(t.run("EXISTS s"), int(0));
        let mut seen: Vec<String> = first.into_iter().chain(rest).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5, "no member is popped twice");
    }

    #[test]
    fn random_choices_are_deterministic_and_cover_the_set() {
        let script = [
            "SADD s m0 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11 m12 m13 m14 m15",
            "SPOP s",
            "SPOP s 3",
            "SRANDMEMBER s",
            "SRANDMEMBER s 4",
            "SRANDMEMBER s -6",
            "SPOP s",
            "SPOP s 5",
            "SMEMBERS s",
        ];
        let run = |script: &[&str]| {
            let mut t = TestDb::new();
            script.iter().map(|c| t.run(c)).collect::<Vec<_>>()
        };
        let a = run(&script);
        assert_eq!(a, run(&script), "same seed, same choices");
        // Over many pops every member comes out once: the draws are not stuck on one end.
        let mut t = TestDb::new();
        t.run("SADD s m0 m1 m2 m3 m4 m5 m6 m7 m8 m9");
        let mut order = Vec::new();
        while let Reply::Bulk(m) = t.run("SPOP s") {
            order.push(String::from_utf8(m.to_vec()).unwrap());
        }
        assert_eq!(order.len(), 10);
        assert_ne!(
            order,
            sorted(order.clone()),
            "pops are not simply in member order"
        );
        assert_eq!(sorted(order).len(), 10);
    }

    #[test]
    fn srandmember_variants() {
        let mut t = TestDb::new();
        t.run("SET str x");
        assert_eq!(t.run("SRANDMEMBER missing"), Reply::Nil);
        assert_eq!(t.run("SRANDMEMBER missing 5"), Reply::Array(vec![]));
        assert_eq!(t.run("SRANDMEMBER missing -5"), Reply::Array(vec![]));
        assert_eq!(
            t.run("SRANDMEMBER missing x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("SRANDMEMBER str x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("SRANDMEMBER missing -9223372036854775808"),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(t.run("SRANDMEMBER missing 1 2"), err("ERR syntax error"));
        t.run("SADD s a b c d e");
        assert!(matches!(t.run("SRANDMEMBER s"), Reply::Bulk(_)));
        assert_eq!(t.run("SRANDMEMBER s 0"), Reply::Array(vec![]));
        let three = strings(&t.run("SRANDMEMBER s 3"));
        assert_eq!(three.len(), 3);
        assert_eq!(
            sorted(three.clone())
                .windows(2)
                .filter(|w| w[0] == w[1])
                .count(),
            0
        );
        assert!(
            matches!(t.run("SRANDMEMBER s 3"), Reply::Array(_)),
            "an array, not a set, in RESP3"
        );
        assert_eq!(t.run("SRANDMEMBER s 10"), bulks(&["a", "b", "c", "d", "e"]));
        let many = strings(&t.run("SRANDMEMBER s -50"));
        assert_eq!(many.len(), 50, "a negative count repeats members");
        assert!(many
            .iter()
            .all(|m| ["a", "b", "c", "d", "e"].contains(&m.as_str())));
        assert!(sorted(many).windows(2).any(|w| w[0] == w[1]));
        assert!(
            t.run("SRANDMEMBER s -10000001").is_error(),
            "huge repeat counts are refused"
        );
        assert_eq!(t.run("SCARD s"), int(5), "SRANDMEMBER changes nothing");
    }

    #[test]
    fn smove_cases() {
        let mut t = TestDb::new();
        t.run("SET str x");
        t.run("SADD s a b c");
        t.run("SADD d c x");
        t.run("EXPIRE d 100");
        assert_eq!(
            t.run("SMOVE missing str a"),
            int(0),
            "a missing source wins over a bad destination"
        );
        assert_eq!(t.run("SMOVE s s a"), int(1));
        assert_eq!(t.run("SMOVE s s zz"), int(0));
        assert_eq!(t.run("SMOVE s d zz"), int(0));
        assert_eq!(t.run("SMOVE s d a"), int(1));
        assert_eq!(
            t.run("SMOVE s d c"),
            int(1),
            "already in the destination: still moved"
        );
        assert_eq!(t.run("SMEMBERS s"), set(&["b"]));
        assert_eq!(t.run("SMEMBERS d"), set(&["a", "c", "x"]));
        assert_eq!(t.run("TTL d"), int(100));
        assert_eq!(t.run("SMOVE s fresh b"), int(1));
        assert_eq!(t.run("EXISTS s"), int(0), "the emptied source is deleted");
        assert_eq!(t.run("SMEMBERS fresh"), set(&["b"]));
        assert_eq!(t.run("TTL fresh"), int(-1));
    }

    #[test]
    fn algebra() {
        let mut t = TestDb::new();
        t.run("SADD a 1 2 3 4 5");
        t.run("SADD b 3 4 5 6");
        t.run("SADD c 4 5 9");
        assert_eq!(t.run("SINTER a b c"), set(&["4", "5"]));
        assert_eq!(t.run("SINTER c a"), set(&["4", "5"]));
        assert_eq!(t.run("SINTER a"), set(&["1", "2", "3", "4", "5"]));
        assert_eq!(t.run("SINTER a a"), set(&["1", "2", "3", "4", "5"]));
        assert_eq!(t.run("SINTER a missing"), set(&[]));
        assert_eq!(
            t.run("SUNION a b c missing"),
            set(&["1", "2", "3", "4", "5", "6", "9"])
        );
        assert_eq!(t.run("SUNION missing"), set(&[]));
        assert_eq!(t.run("SDIFF a b"), set(&["1", "2"]));
        assert_eq!(t.run("SDIFF a b c"), set(&["1", "2"]));
        assert_eq!(t.run("SDIFF b a"), set(&["6"]));
        assert_eq!(t.run("SDIFF a missing"), set(&["1", "2", "3", "4", "5"]));
        assert_eq!(t.run("SDIFF missing a"), set(&[]));
        assert_eq!(t.run("SDIFF a a"), set(&[]));
    }

    #[test]
    fn store_variants() {
        let mut t = TestDb::new();
        t.run("SADD a 1 2 3");
        t.run("SADD b 2 3 4");
        t.run("SET dst x");
        t.run("EXPIRE dst 100");
        assert_eq!(t.run("SINTERSTORE dst a b"), int(2));
        assert_eq!(t.run("TYPE dst"), Reply::Simple("set".into()));
        assert_eq!(t.run("SMEMBERS dst"), set(&["2", "3"]));
        assert_eq!(t.run("TTL dst"), int(-1), "the destination is a new key");
        assert_eq!(t.run("SUNIONSTORE dst a b"), int(4));
        assert_eq!(t.run("SMEMBERS dst"), set(&["1", "2", "3", "4"]));
        assert_eq!(t.run("SDIFFSTORE dst a b"), int(1));
        assert_eq!(t.run("SMEMBERS dst"), set(&["1"]), "old members are gone");
        assert_eq!(t.run("SDIFFSTORE dst a a"), int(0));
        assert_eq!(
            t.run("EXISTS dst"),
            int(0),
            "an empty result deletes the destination"
        );
        assert_eq!(t.run("SINTERSTORE dst a missing"), int(0));
        assert_eq!(t.run("EXISTS dst"), int(0));
        t.run("SET str x");
        assert_eq!(t.run("SINTERSTORE str missing"), int(0));
        assert_eq!(
            t.run("EXISTS str"),
            int(0),
            "an empty result deletes a destination of any type"
        );
        // The destination may be one of the sources.
        assert_eq!(t.run("SUNIONSTORE a a b"), int(4));
        assert_eq!(t.run("SMEMBERS a"), set(&["1", "2", "3", "4"]));
        assert_eq!(t.run("SINTERSTORE a a b"), int(3));
        assert_eq!(t.run("SMEMBERS a"), set(&["2", "3", "4"]));
        assert_eq!(t.run("SCARD a"), int(3));
    }

    #[test]
    fn sintercard_cases() {
        let mut t = TestDb::new();
        t.run("SADD a 1 2 3 4 5");
        t.run("SADD b 2 3 4 5 6");
        t.run("SET str x");
        assert_eq!(t.run("SINTERCARD 2 a b"), int(4));
        assert_eq!(t.run("SINTERCARD 1 a"), int(5));
        assert_eq!(t.run("SINTERCARD 2 a b LIMIT 2"), int(2));
        assert_eq!(
            t.run("SINTERCARD 2 a b limit 0"),
            int(4),
            "LIMIT 0 means no limit"
        );
        assert_eq!(t.run("SINTERCARD 2 a b LIMIT 10"), int(4));
        assert_eq!(
            t.run("SINTERCARD 1 a LIMIT 2 LIMIT 3"),
            int(3),
            "the last LIMIT wins"
        );
        assert_eq!(t.run("SINTERCARD 2 a missing"), int(0));
        let numkeys = err("ERR numkeys should be greater than 0");
        assert_eq!(t.run("SINTERCARD 0 a"), numkeys);
        assert_eq!(t.run("SINTERCARD -1 a"), numkeys);
        assert_eq!(t.run("SINTERCARD x a"), numkeys);
        let too_many = err("ERR Number of keys can't be greater than number of args");
        assert_eq!(t.run("SINTERCARD 3 a b"), too_many);
        assert_eq!(t.run("SINTERCARD 9223372036854775807 a"), too_many);
        let negative = err("ERR LIMIT can't be negative");
        assert_eq!(t.run("SINTERCARD 1 a LIMIT -1"), negative);
        assert_eq!(t.run("SINTERCARD 1 a LIMIT x"), negative);
        assert_eq!(
            t.run("SINTERCARD 1 str LIMIT -1"),
            negative,
            "options are checked before keys"
        );
        assert_eq!(t.run("SINTERCARD 1 a LIMIT"), err("ERR syntax error"));
        assert_eq!(t.run("SINTERCARD 1 a b"), err("ERR syntax error"));
        assert_eq!(t.run("SINTERCARD 2 str missing"), err(WRONGTYPE));
    }

    #[test]
    fn sscan_pages_through_members() {
        let mut t = TestDb::new();
        t.run("SADD s a1 a2 a3 b1 b2");
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        let mut pages = 0;
        loop {
            let Reply::Array(parts) = t.run(&format!("SSCAN s {cursor} COUNT 2")) else {
                panic!()
            };
            let Reply::Bulk(c) = &parts[0] else { panic!() };
            seen.extend(strings(&parts[1]));
            cursor = String::from_utf8(c.to_vec()).unwrap();
            pages += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, ["a1", "a2", "a3", "b1", "b2"]);
        let empty = Reply::Array(vec![bulk("0"), bulks(&[])]);
        assert_eq!(
            t.run("SSCAN s 0 MATCH b* COUNT 100"),
            Reply::Array(vec![bulk("0"), bulks(&["b1", "b2"])])
        );
        assert_eq!(t.run("SSCAN missing 0"), empty);
        assert_eq!(
            t.run("SSCAN missing 0 BADOPTION"),
            empty,
            "a missing key ignores the options"
        );
        assert_eq!(t.run("SSCAN missing x"), err("ERR invalid cursor"));
        assert_eq!(t.run("SSCAN s 0 BADOPTION"), err("ERR syntax error"));
        assert_eq!(t.run("SSCAN s 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(t.run("SSCAN s 0 MATCH"), err("ERR syntax error"));
        assert_eq!(t.run("SSCAN s 0 NOVALUES"), err("ERR syntax error"));
    }

    #[test]
    fn expired_sets_are_missing() {
        let mut t = TestDb::new();
        t.run("SADD s a b");
        t.run("SADD other a");
        t.run("PEXPIRE s 10");
        t.now_ms += 20;
        assert_eq!(t.run("SCARD s"), int(0));
        assert_eq!(t.run("SMEMBERS s"), set(&[]));
        assert_eq!(t.run("SINTER other s"), set(&[]));
        assert_eq!(
            t.run("SADD s c"),
            int(1),
            "a new incarnation, without the old members"
        );
        assert_eq!(t.run("SMEMBERS s"), set(&["c"]));
        assert_eq!(t.run("TTL s"), int(-1));
    }
}
