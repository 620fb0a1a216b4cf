//! Sorted-set commands.
//!
//! Every sorted set keeps two indexes under `member_prefix(db, key, version)`, changed together:
//! - `Cf::ZSet`: `prefix | member` -> `score_to_bytes(score)`: the score of a member.
//! - `Cf::ZScore`: `prefix | score_to_bytes(score) | member` -> empty: the members in Redis's order
//!   (by score, then by member bytes), so score ranges are one seek and rank ranges one walk.
//!
//! `meta.count` is the cardinality. Ranges never load the whole set: score ranges seek to their
//! encoded bounds, rank ranges walk from whichever end is nearer, and lex ranges seek inside the
//! common score when all members share one (the case Redis defines them for).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::args::{parse_f64, parse_i64};
use super::blocking::{parse_multi_pop, parse_timeout, ZSET_SIDES};
use super::cursor::{page_reply, parse_cursor, scan_page, ScanOptions};
use super::flags::{BLOCKING, DENYOOM, FAST, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::reply::format_double;
use crate::resp::Reply;
use crate::storage::keys::{member_prefix, prefix_end, score_from_bytes, score_to_bytes};
use crate::storage::{Cf, KeyType, Meta};

mod store;

use store::*;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd),
    spec!("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby),
    spec!("zrem", -3, WRITE | FAST, (1, 1, 1), zrem),
    spec!("zscore", 3, READONLY | FAST, (1, 1, 1), zscore),
    spec!("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore),
    spec!("zcard", 2, READONLY | FAST, (1, 1, 1), zcard),
    spec!("zcount", 4, READONLY | FAST, (1, 1, 1), zcount),
    spec!("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount),
    spec!("zrange", -4, READONLY, (1, 1, 1), zrange),
    spec!("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore),
    spec!("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore),
    spec!("zrevrange", -4, READONLY, (1, 1, 1), zrevrange),
    spec!(
        "zrevrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        zrevrangebyscore
    ),
    spec!("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex),
    spec!("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex),
    spec!("zrank", -3, READONLY | FAST, (1, 1, 1), zrank),
    spec!("zrevrank", -3, READONLY | FAST, (1, 1, 1), zrevrank),
    spec!("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank),
    spec!("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore),
    spec!("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex),
    spec!("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin),
    spec!("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax),
    spec!("zmpop", -4, WRITE, (0, 0, 0), zmpop),
    // Applied, these never wait: see `command::blocking`.
    spec!(
        "bzpopmin",
        -3,
        WRITE | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmin
    ),
    spec!(
        "bzpopmax",
        -3,
        WRITE | FAST | BLOCKING,
        (1, -2, 1),
        bzpopmax
    ),
    spec!("bzmpop", -5, WRITE | BLOCKING, (0, 0, 0), bzmpop),
    spec!("zscan", -3, READONLY, (1, 1, 1), zscan),
    spec!("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore),
    spec!("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore),
    spec!("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore),
    spec!("zunion", -3, READONLY, (0, 0, 0), zunion),
    spec!("zinter", -3, READONLY, (0, 0, 0), zinter),
    spec!("zdiff", -3, READONLY, (0, 0, 0), zdiff),
    spec!("zintercard", -3, READONLY, (0, 0, 0), zintercard),
];

fn cmd_name(args: &Args) -> String {
    args.get(0)
        .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        match args.upper(i)?.as_str() {
            "NX" => f.nx = true,
            "XX" => f.xx = true,
            "GT" => f.gt = true,
            "LT" => f.lt = true,
            "CH" => f.ch = true,
            "INCR" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    let pairs = args.from(i);
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::msg(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::msg(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && pairs.len() > 2 {
        return Err(CmdError::msg(
            "INCR option supports a single increment-element pair",
        ));
    }
    let mut items = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        items.push((parse_f64(&pair[0])?, &pair[1]));
    }
    zadd_apply(ctx, args.get(1)?, &f, &items)
}

fn zincrby(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let by = args.float(2)?;
    zadd_apply(ctx, args.get(1)?, &f, &[(by, args.get(3)?)])
}

/// The body of ZADD (Redis's `zsetAdd` per element), after the options were checked.
fn zadd_apply(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: &AddFlags,
    items: &[(f64, &Bytes)],
) -> CmdResult {
    let nothing = || {
        if f.incr {
            Reply::Nil
        } else {
            Reply::Int(0)
        }
    };
    let mut z = match ZSet::open(ctx, key)? {
        Some(z) => z,
        None if f.xx => return Ok(nothing()),
        None => ZSet::create(ctx, key)?,
    };
    let before = z.meta.count;
    let is_new = before == 0;
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    for &(score, member) in items {
        match z.score(ctx.txn, member)? {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let mut score = score;
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        if z.meta.count != before || is_new {
                            z.save(ctx, key)?;
                        }
                        return Err(CmdError::msg("resulting score is not a number (NaN)"));
                    }
                }
                if (f.lt && score >= cur) || (f.gt && score <= cur) {
                    continue;
                }
                last = score;
                processed += 1;
                if score != cur {
                    z.set(ctx.txn, member, Some(cur), score);
                    updated += 1;
                }
            }
            None if !f.xx => {
                z.set(ctx.txn, member, None, score);
                last = score;
                added += 1;
                processed += 1;
            }
            None => {}
        }
    }
    if z.meta.count != before || is_new {
        z.save(ctx, key)?;
    }
    Ok(if f.incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if f.ch { added + updated } else { added })
    })
}

// ---------------------------------------------------------------------------------------------
// Members

fn zrem(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(mut z) = ZSet::open(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut removed = 0;
    for member in args.from(2) {
        if let Some(score) = z.score(ctx.txn, member)? {
            z.remove(ctx.txn, member, score);
            removed += 1;
        }
    }
    if removed > 0 {
        z.save(ctx, key)?;
    }
    Ok(Reply::Int(removed))
}

fn zscore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let Some(z) = ZSet::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Nil);
    };
    Ok(z.score(ctx.txn, args.get(2)?)?
        .map_or(Reply::Nil, Reply::Double))
}

fn zmscore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let z = ZSet::open(ctx, args.get(1)?)?;
    let mut out = Vec::with_capacity(args.len() - 2);
    for member in args.from(2) {
        let score = match &z {
            Some(z) => z.score(ctx.txn, member)?,
            None => None,
        };
        out.push(score.map_or(Reply::Nil, Reply::Double));
    }
    Ok(Reply::Array(out))
}

fn zcard(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::Int(
        ZSet::open(ctx, args.get(1)?)?.map_or(0, |z| z.meta.count as i64),
    ))
}

fn zcount(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let range = ScoreRange::parse(args.get(2)?, args.get(3)?)?;
    let Some(z) = ZSet::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(z.count_score(ctx.txn, &range)?))
}

fn zlexcount(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let range = LexRange::parse(args.get(2)?, args.get(3)?)?;
    let Some(z) = ZSet::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(
        z.by_lex(ctx.txn, &range, false, 0, -1)?.len() as i64
    ))
}

fn zrank(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// ZRANK/ZREVRANK key member [WITHSCORE] (Redis 7.2).
fn rank_generic(ctx: &mut Ctx<'_, '_>, args: &Args, rev: bool) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::WrongArity(cmd_name(args)));
    }
    let withscore = args.len() == 4;
    if withscore && !args.is(3, "withscore") {
        return Err(CmdError::Syntax);
    }
    let missing = if withscore {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let Some(z) = ZSet::open(ctx, args.get(1)?)? else {
        return Ok(missing);
    };
    let member = args.get(2)?;
    let Some(score) = z.score(ctx.txn, member)? else {
        return Ok(missing);
    };
    let rank = z.rank_of(ctx.txn, &z.score_key(score, member))?;
    let rank = if rev {
        z.meta.count.saturating_sub(rank + 1)
    } else {
        rank
    };
    Ok(if withscore {
        Reply::Array(vec![Reply::Int(rank as i64), Reply::Double(score)])
    } else {
        Reply::Int(rank as i64)
    })
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and friends

#[derive(Clone, Copy, PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

fn zrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Auto, Dir::Auto)
}

fn zrangestore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 2, true, By::Auto, Dir::Auto)
}

fn zrangebyscore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Score, Dir::Fwd)
}

fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Rank, Dir::Rev)
}

fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Score, Dir::Rev)
}

fn zrangebylex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Lex, Dir::Fwd)
}

fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, 1, false, By::Lex, Dir::Rev)
}

enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Redis's `zrangeGenericCommand`: the source key is argument `at`, followed by the two range
/// bounds and options; `store` writes the result to argument 1 (ZRANGESTORE).
fn range_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &Args,
    at: usize,
    store: bool,
    mut by: By,
    mut dir: Dir,
) -> CmdResult {
    let key = args.get(at)?;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        if !store && args.is(j, "withscores") {
            withscores = true;
        } else if args.is(j, "limit") && left >= 2 {
            offset = args.int(j + 1)?;
            limit = args.int(j + 2)?;
            j += 2;
        } else if dir == Dir::Auto && args.is(j, "rev") {
            dir = Dir::Rev;
        } else if by == By::Auto && args.is(j, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && args.is(j, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir == Dir::Rev;
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(CmdError::msg(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::msg(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Score and lex ranges are given as max, min when reversed.
    let (lo, hi) = if rev && by != By::Rank {
        (args.get(at + 2)?, args.get(at + 1)?)
    } else {
        (args.get(at + 1)?, args.get(at + 2)?)
    };
    let bounds = match by {
        By::Score => Bounds::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Bounds::Lex(LexRange::parse(lo, hi)?),
        _ => Bounds::Rank(parse_i64(lo)?, parse_i64(hi)?),
    };
    let entries = match ZSet::open(ctx, key)? {
        None => Vec::new(),
        Some(z) => match &bounds {
            Bounds::Rank(start, stop) => z.by_rank(ctx.txn, *start, *stop, rev)?,
            Bounds::Score(range) => z.by_score(ctx.txn, range, rev, offset, limit)?,
            Bounds::Lex(range) => z.by_lex(ctx.txn, range, rev, offset, limit)?,
        },
    };
    if store {
        return store_entries(ctx, args.get(1)?, &entries);
    }
    Ok(entries_reply(entries, withscores))
}

// ---------------------------------------------------------------------------------------------
// Removing ranges, popping

fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let bounds = Bounds::Rank(args.int(2)?, args.int(3)?);
    remove_range(ctx, args, bounds)
}

fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let bounds = Bounds::Score(ScoreRange::parse(args.get(2)?, args.get(3)?)?);
    remove_range(ctx, args, bounds)
}

fn zremrangebylex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let bounds = Bounds::Lex(LexRange::parse(args.get(2)?, args.get(3)?)?);
    remove_range(ctx, args, bounds)
}

fn remove_range(ctx: &mut Ctx<'_, '_>, args: &Args, bounds: Bounds) -> CmdResult {
    let key = args.get(1)?;
    let Some(mut z) = ZSet::open(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let doomed = match &bounds {
        Bounds::Rank(start, stop) => z.by_rank(ctx.txn, *start, *stop, false)?,
        Bounds::Score(range) => z.by_score(ctx.txn, range, false, 0, -1)?,
        Bounds::Lex(range) => z.by_lex(ctx.txn, range, false, 0, -1)?,
    };
    for (m, s) in &doomed {
        z.remove(ctx.txn, m, *s);
    }
    if !doomed.is_empty() {
        z.save(ctx, key)?;
    }
    Ok(Reply::Int(doomed.len() as i64))
}

fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    pop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    pop_generic(ctx, args, true)
}

/// ZPOPMIN/ZPOPMAX key [count]: `[member, score]`, or with a count a list of pairs.
fn pop_generic(ctx: &mut Ctx<'_, '_>, args: &Args, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = if args.len() == 3 {
        parse_i64(args.get(2)?)
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| CmdError::msg("value is out of range, must be positive"))?
    } else {
        1
    };
    let key = args.get(1)?;
    let Some(mut z) = ZSet::open(ctx, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let popped = pop_entries(ctx, &mut z, key, max, count as u64)?;
    if args.len() == 3 {
        return Ok(entries_reply(popped, true));
    }
    // Without a count, the one member and its score are a flat array in RESP3 too.
    Ok(Reply::Array(
        popped
            .into_iter()
            .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
            .collect(),
    ))
}

/// Pops up to `count` members from the low (or, with `max`, the high) end of `z`, at `key`.
fn pop_entries(
    ctx: &mut Ctx<'_, '_>,
    z: &mut ZSet,
    key: &[u8],
    max: bool,
    count: u64,
) -> Result<Vec<Entry>, CmdError> {
    let mut popped = Vec::new();
    if count == 0 {
        return Ok(popped);
    }
    for entry in ctx.txn.scan(Cf::ZScore, &z.prefix, &z.end(), max)? {
        let (k, _) = entry?;
        let (m, s) = z.decode(&k)?;
        popped.push((m.to_vec(), s));
        if popped.len() as u64 >= count {
            break;
        }
    }
    for (m, s) in &popped {
        z.remove(ctx.txn, m, *s);
    }
    if !popped.is_empty() {
        z.save(ctx, key)?;
    }
    Ok(popped)
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: `[key, member, score]` from the first key holding
/// a sorted set, or a nil array (see `command::blocking`).
fn blocking_pop(ctx: &mut Ctx<'_, '_>, args: &Args, max: bool) -> CmdResult {
    let argv = args.all();
    parse_timeout(&argv[argv.len() - 1])?;
    for key in &argv[1..argv.len() - 1] {
        let Some(mut z) = ZSet::open(ctx, key)? else {
            continue;
        };
        if let Some((m, s)) = pop_entries(ctx, &mut z, key, max, 1)?.pop() {
            return Ok(Reply::Array(vec![
                Reply::bulk(key.clone()),
                Reply::bulk(m),
                Reply::Double(s),
            ]));
        }
    }
    Ok(Reply::NilArray)
}

fn bzpopmin(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    blocking_pop(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    blocking_pop(ctx, args, true)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] (and BZMPOP after its timeout):
/// `[key, [[member, score] ...]]` from the first key holding a sorted set, or a nil array.
fn multi_pop(ctx: &mut Ctx<'_, '_>, args: &Args, numkeys_at: usize) -> CmdResult {
    let argv = args.all();
    let m = parse_multi_pop(argv, numkeys_at, ZSET_SIDES)?;
    for key in &argv[m.keys] {
        let Some(mut z) = ZSet::open(ctx, key)? else {
            continue;
        };
        let popped = pop_entries(ctx, &mut z, key, !m.first_side, m.count)?;
        // Pairs nested in RESP2 too, as Redis answers *MPOP.
        let pairs = popped
            .into_iter()
            .map(|(member, score)| Reply::Array(vec![Reply::bulk(member), Reply::Double(score)]))
            .collect();
        return Ok(Reply::Array(vec![
            Reply::bulk(key.clone()),
            Reply::Array(pairs),
        ]));
    }
    Ok(Reply::NilArray)
}

fn zmpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    multi_pop(ctx, args, 1)
}

fn bzmpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    parse_timeout(args.get(1)?)?;
    multi_pop(ctx, args, 2)
}

fn zscan(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    // Redis checks the cursor before the key, and the options after it.
    parse_cursor(args.get(2)?)?;
    let Some(z) = ZSet::open(ctx, args.get(1)?)? else {
        return Ok(page_reply(0, Vec::new()));
    };
    let opts = ScanOptions::parse(args, 2, false, false)?;
    let (next, page) = scan_page(ctx, Cf::ZSet, &z.prefix, &z.end(), &opts)?;
    let mut out = Vec::new();
    for (k, v) in page {
        let member = &k[z.prefix.len()..];
        if !opts.matches(member) {
            continue;
        }
        if v.len() != 8 {
            return Err(corrupt("score value is not 8 bytes"));
        }
        out.push(Reply::bulk(member.to_vec()));
        out.push(Reply::bulk(format_double(score_from_bytes(&v))));
    }
    Ok(page_reply(next, out))
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (and their STORE forms), ZINTERCARD

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            // inf + -inf: Redis keeps the convention that the result is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// One input of a set operation: its members sorted by member bytes, and its weight.
struct Source {
    entries: Vec<Entry>,
    weight: f64,
}

impl Source {
    fn find(&self, member: &[u8]) -> Option<f64> {
        self.entries
            .binary_search_by(|(m, _)| m.as_slice().cmp(member))
            .ok()
            .map(|i| self.entries[i].1)
    }
}

/// Members of a sorted set (with scores) or a plain set (score 1), in member order.
fn load_source(ctx: &Ctx<'_, '_>, key: &[u8], meta: Option<&Meta>) -> Result<Vec<Entry>, CmdError> {
    let Some(meta) = meta else {
        return Ok(Vec::new());
    };
    let prefix = member_prefix(ctx.db, key, meta.version);
    let cf = if meta.ty == KeyType::ZSet {
        Cf::ZSet
    } else {
        Cf::Set
    };
    let mut out = Vec::with_capacity(meta.count.min(1 << 16) as usize);
    for entry in ctx.txn.scan(cf, &prefix, &prefix_end(&prefix), false)? {
        let (k, v) = entry?;
        let member = k[prefix.len()..].to_vec();
        let score = if cf == Cf::ZSet {
            if v.len() != 8 {
                return Err(corrupt("score value is not 8 bytes"));
            }
            score_from_bytes(&v)
        } else {
            1.0
        };
        out.push((member, score));
    }
    Ok(out)
}

fn zunionstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, true, 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, true, 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, true, 2, SetOp::Diff, false)
}

fn zunion(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, false, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, false, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, false, 1, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    setop_generic(ctx, args, false, 1, SetOp::Inter, true)
}

/// Redis's `zunionInterDiffGenericCommand`. With `store` the destination is argument 1.
fn setop_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &Args,
    store: bool,
    numkeys_at: usize,
    op: SetOp,
    card_only: bool,
) -> CmdResult {
    let setnum = args.int(numkeys_at)?;
    if setnum < 1 {
        return Err(CmdError::msg(format!(
            "at least 1 input key is needed for '{}' command",
            cmd_name(args)
        )));
    }
    if setnum > (args.len() - numkeys_at - 1) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args.all()[numkeys_at + 1..numkeys_at + 1 + setnum];
    let mut metas = Vec::with_capacity(setnum);
    for key in keys {
        metas.push(match ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? {
            Some(m) if m.ty == KeyType::ZSet || m.ty == KeyType::Set => Some(m),
            Some(_) => return Err(CmdError::WrongType),
            None => None,
        });
    }

    let mut weights = vec![1.0; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && !card_only && remaining > setnum && args.is(j, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_f64(args.get(j + 1 + i)?)
                    .map_err(|_| CmdError::msg("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && args.is(j, "aggregate") {
            how = match args.upper(j + 1)?.as_str() {
                "SUM" => Aggregate::Sum,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if !store && !card_only && args.is(j, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args.is(j, "limit") {
            limit = parse_i64(args.get(j + 1)?)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CmdError::msg("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let mut srcs = Vec::with_capacity(setnum);
    for ((key, meta), weight) in keys.iter().zip(&metas).zip(weights) {
        srcs.push(Source {
            entries: load_source(ctx, key, meta.as_ref())?,
            weight,
        });
    }
    if op != SetOp::Diff {
        // Smallest first, as Redis orders them (it matters for the order of SUM additions).
        srcs.sort_by_key(|s| s.entries.len());
    }

    let mut result: Vec<Entry> = Vec::new();
    let mut cardinality = 0i64;
    match op {
        SetOp::Inter => {
            let (first, rest) = srcs.split_first().expect("at least one source");
            'members: for (member, score) in &first.entries {
                let mut total = first.weight * score;
                if total.is_nan() {
                    total = 0.0;
                }
                for src in rest {
                    match src.find(member) {
                        Some(v) => aggregate(&mut total, v * src.weight, how),
                        None => continue 'members,
                    }
                }
                if card_only {
                    cardinality += 1;
                    if limit > 0 && cardinality >= limit {
                        break;
                    }
                } else {
                    result.push((member.clone(), total));
                }
            }
        }
        SetOp::Union => {
            let mut acc: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for src in &srcs {
                for (member, score) in &src.entries {
                    let mut value = src.weight * score;
                    if value.is_nan() {
                        value = 0.0;
                    }
                    match acc.get_mut(member) {
                        Some(total) => aggregate(total, value, how),
                        None => {
                            acc.insert(member.clone(), value);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let (first, rest) = srcs.split_first().expect("at least one source");
            for (member, score) in &first.entries {
                if rest.iter().all(|src| src.find(member).is_none()) {
                    result.push((member.clone(), *score));
                }
            }
        }
    }

    if card_only {
        return Ok(Reply::Int(cardinality));
    }
    if store {
        return store_entries(ctx, args.get(1)?, &result);
    }
    result.sort_by(|a, b| (score_to_bytes(a.1), &a.0).cmp(&(score_to_bytes(b.1), &b.0)));
    Ok(entries_reply(result, withscores))
}

#[cfg(test)]
mod tests;
