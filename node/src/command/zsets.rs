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

use super::args::{parse_f64, parse_i64, resolve_range};
use super::cursor::{page_reply, parse_cursor, scan_page, ScanOptions};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::long_double::{is_c_space, strtod};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::reply::format_double;
use crate::resp::Reply;
use crate::storage::keys::{
    member_key, member_prefix, prefix_end, score_from_bytes, score_to_bytes,
};
use crate::storage::{Cf, KeyType, Meta, StorageError, Txn};

/// An encoded key bound.
type EncodedBound = Vec<u8>;

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
    spec!("zscan", -3, READONLY, (1, 1, 1), zscan),
    spec!("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore),
    spec!("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore),
    spec!("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore),
    spec!("zunion", -3, READONLY, (0, 0, 0), zunion),
    spec!("zinter", -3, READONLY, (0, 0, 0), zinter),
    spec!("zdiff", -3, READONLY, (0, 0, 0), zdiff),
    spec!("zintercard", -3, READONLY, (0, 0, 0), zintercard),
];

/// A member and its score.
type Entry = (Vec<u8>, f64);

fn corrupt(detail: &str) -> CmdError {
    CmdError::Storage(StorageError::Corrupt {
        cf: "zscore",
        detail: detail.to_string(),
    })
}

/// A live sorted set: its meta record and the prefix of its member keys.
struct ZSet {
    meta: Meta,
    prefix: Vec<u8>,
}

impl ZSet {
    /// The sorted set at `key`, `None` when there is none, WRONGTYPE for another type.
    fn open(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<ZSet>, CmdError> {
        Ok(ctx.typed_meta(KeyType::ZSet, key)?.map(|meta| ZSet {
            prefix: member_prefix(ctx.db, key, meta.version),
            meta,
        }))
    }

    /// A new, empty sorted set replacing whatever `key` held (saved by [`ZSet::save`]).
    fn create(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<ZSet, CmdError> {
        let meta = ctx.txn.create_key(ctx.db, key, KeyType::ZSet)?;
        Ok(ZSet {
            prefix: member_prefix(ctx.db, key, meta.version),
            meta,
        })
    }

    /// Writes the meta record (deleting the key when it became empty).
    fn save(&self, ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<(), CmdError> {
        ctx.txn.save_meta(ctx.db, key, &self.meta)?;
        Ok(())
    }

    fn end(&self) -> Vec<u8> {
        prefix_end(&self.prefix)
    }

    fn score_key(&self, score: f64, member: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 8 + member.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(&score_to_bytes(score));
        k.extend_from_slice(member);
        k
    }

    /// `prefix | score`: every score-index key of members with this score starts with it.
    fn score_prefix(&self, score: f64) -> Vec<u8> {
        self.score_key(score, b"")
    }

    fn score(&self, txn: &Txn<'_>, member: &[u8]) -> Result<Option<f64>, CmdError> {
        Ok(txn
            .get(Cf::ZSet, &member_key(&self.prefix, member))?
            .map(|v| score_from_bytes(&v)))
    }

    /// Gives `member` (whose current score is `old`, `None` when absent) the score `score`.
    fn set(&mut self, txn: &mut Txn<'_>, member: &[u8], old: Option<f64>, score: f64) {
        match old {
            Some(old) if score_to_bytes(old) == score_to_bytes(score) => return,
            Some(old) => txn.delete(Cf::ZScore, self.score_key(old, member)),
            None => self.meta.count += 1,
        }
        txn.put(
            Cf::ZSet,
            member_key(&self.prefix, member),
            score_to_bytes(score).to_vec(),
        );
        txn.put(Cf::ZScore, self.score_key(score, member), Vec::new());
    }

    fn remove(&mut self, txn: &mut Txn<'_>, member: &[u8], score: f64) {
        txn.delete(Cf::ZSet, member_key(&self.prefix, member));
        txn.delete(Cf::ZScore, self.score_key(score, member));
        self.meta.count = self.meta.count.saturating_sub(1);
    }

    /// Splits a score-index key into member and score.
    fn decode<'k>(&self, k: &'k [u8]) -> Result<(&'k [u8], f64), CmdError> {
        let p = self.prefix.len();
        if k.len() < p + 8 {
            return Err(corrupt("score key too short"));
        }
        Ok((&k[p + 8..], score_from_bytes(&k[p..p + 8])))
    }

    /// The member at each end of the score index (first, last).
    fn ends(
        &self,
        txn: &Txn<'_>,
    ) -> Result<(Option<EncodedBound>, Option<EncodedBound>), CmdError> {
        let end = self.end();
        let first = txn
            .scan(Cf::ZScore, &self.prefix, &end, false)?
            .next()
            .transpose()?;
        let last = txn
            .scan(Cf::ZScore, &self.prefix, &end, true)?
            .next()
            .transpose()?;
        Ok((first.map(|e| e.0), last.map(|e| e.0)))
    }

    /// The members at ranks `start..=stop` (Redis indexes, negative from the end), in order or
    /// (`rev`) counted from the highest score. Walks from whichever end is nearer.
    fn by_rank(
        &self,
        txn: &Txn<'_>,
        start: i64,
        stop: i64,
        rev: bool,
    ) -> Result<Vec<Entry>, CmdError> {
        let n = self.meta.count;
        let Some((a, b)) = resolve_range(start, stop, n) else {
            return Ok(Vec::new());
        };
        // Ascending positions [lo, hi].
        let (lo, hi) = if rev { (n - 1 - b, n - 1 - a) } else { (a, b) };
        let take = (hi - lo + 1) as usize;
        let from_end = n - 1 - hi;
        let (mut skip, backwards) = if lo <= from_end {
            (lo, false)
        } else {
            (from_end, true)
        };
        let mut out = Vec::with_capacity(take.min(1024));
        for entry in txn.scan(Cf::ZScore, &self.prefix, &self.end(), backwards)? {
            let (k, _) = entry?;
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let (m, s) = self.decode(&k)?;
            out.push((m.to_vec(), s));
            if out.len() == take {
                break;
            }
        }
        if backwards != rev {
            out.reverse();
        }
        Ok(out)
    }

    /// 0-based rank of the score-index key `skey` (which must exist), counted from the lowest
    /// score. Walks from both ends at once and stops at whichever reaches it first.
    fn rank_of(&self, txn: &Txn<'_>, skey: &[u8]) -> Result<u64, CmdError> {
        let end = self.end();
        let mut below = txn.scan(Cf::ZScore, &self.prefix, skey, false)?;
        let mut above = txn.scan(Cf::ZScore, skey, &end, true)?;
        let (mut lower, mut upper) = (0u64, 0u64);
        loop {
            match below.next() {
                None => return Ok(lower),
                Some(e) => {
                    e?;
                    lower += 1;
                }
            }
            match above.next() {
                // `above` counted the member itself and everything after it.
                None => return Ok(self.meta.count.saturating_sub(upper)),
                Some(e) => {
                    e?;
                    upper += 1;
                }
            }
        }
    }

    /// Walks `[lo, hi)` of the score index as Redis walks its skiplist for a range: entries
    /// before the first one passing `starts` are passed over, `offset` more are skipped, then
    /// entries are taken while `within` holds, at most `limit` (negative: no limit).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        txn: &Txn<'_>,
        lo: &[u8],
        hi: &[u8],
        rev: bool,
        offset: i64,
        limit: i64,
        starts: &dyn Fn(&[u8], f64) -> bool,
        within: &dyn Fn(&[u8], f64) -> bool,
    ) -> Result<Vec<Entry>, CmdError> {
        let mut out = Vec::new();
        // Redis's `while (ln && offset--)` runs off the end for a negative offset.
        if offset < 0 || limit == 0 || lo >= hi {
            return Ok(out);
        }
        let mut skip = offset;
        let mut started = false;
        for entry in txn.scan(Cf::ZScore, lo, hi, rev)? {
            let (k, _) = entry?;
            let (m, s) = self.decode(&k)?;
            if !started {
                if !starts(m, s) {
                    continue;
                }
                started = true;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if !within(m, s) {
                break;
            }
            out.push((m.to_vec(), s));
            if limit > 0 && out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Members with scores in `range`, ascending or (`rev`) descending, after `offset`, at most
    /// `limit` (negative: all).
    fn by_score(
        &self,
        txn: &Txn<'_>,
        range: &ScoreRange,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Entry>, CmdError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let (lo, hi) = range.window(self);
        let all = |_: &[u8], _: f64| true;
        self.walk(txn, &lo, &hi, rev, offset, limit, &all, &all)
    }

    fn count_score(&self, txn: &Txn<'_>, range: &ScoreRange) -> Result<i64, CmdError> {
        if range.is_empty() {
            return Ok(0);
        }
        let (lo, hi) = range.window(self);
        let mut n = 0;
        for entry in txn.scan(Cf::ZScore, &lo, &hi, false)? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// Members in the lex `range` (meaningful when all scores are equal, as Redis documents).
    fn by_lex(
        &self,
        txn: &Txn<'_>,
        range: &LexRange,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Entry>, CmdError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let Some((lo, hi)) = self.lex_window(txn, range)? else {
            return Ok(Vec::new());
        };
        let gte_min = |m: &[u8], _: f64| range.min.below(m);
        let lte_max = |m: &[u8], _: f64| range.max.above(m);
        if rev {
            self.walk(txn, &lo, &hi, true, offset, limit, &lte_max, &gte_min)
        } else {
            self.walk(txn, &lo, &hi, false, offset, limit, &gte_min, &lte_max)
        }
    }

    /// The part of the score index a lex range can touch: when every member has the same score
    /// the range is exactly `score | min .. score | max`; otherwise the whole set. `None` when
    /// Redis's quick test finds the range empty (the last member below min or the first above
    /// max).
    fn lex_window(
        &self,
        txn: &Txn<'_>,
        range: &LexRange,
    ) -> Result<Option<crate::command::cursor::KeyValue>, CmdError> {
        let p = self.prefix.len();
        let (Some(first), Some(last)) = self.ends(txn)? else {
            return Ok(None);
        };
        let (first_member, _) = self.decode(&first)?;
        let (last_member, _) = self.decode(&last)?;
        if !range.min.below(last_member) || !range.max.above(first_member) {
            return Ok(None);
        }
        if first[..p + 8] != last[..p + 8] {
            return Ok(Some((self.prefix.clone(), self.end())));
        }
        let sp = &first[..p + 8];
        let at = |v: &[u8], successor: bool| {
            let mut k = member_key(sp, v);
            if successor {
                k.push(0);
            }
            k
        };
        let lo = match &range.min {
            LexBound::NegInf => sp.to_vec(),
            LexBound::PosInf => prefix_end(sp),
            LexBound::Incl(v) => at(v, false),
            LexBound::Excl(v) => at(v, true),
        };
        let hi = match &range.max {
            LexBound::NegInf => sp.to_vec(),
            LexBound::PosInf => prefix_end(sp),
            LexBound::Incl(v) => at(v, true),
            LexBound::Excl(v) => at(v, false),
        };
        Ok(Some((lo, hi)))
    }
}

/// A score interval: `(` makes a bound exclusive; `-inf`/`+inf` are accepted.
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    /// Parses like Redis's `zslParseRange` (C `strtod` rules: leading spaces allowed, an empty
    /// number is 0).
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bad = || CmdError::msg("min or max is not a float");
        let (min, minex) = parse_score_bound(min).ok_or_else(bad)?;
        let (max, maxex) = parse_score_bound(max).ok_or_else(bad)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }

    /// The score-index keys `[lo, hi)` of this range within `z`.
    fn window(&self, z: &ZSet) -> (Vec<u8>, Vec<u8>) {
        let lo = z.score_prefix(self.min);
        let lo = if self.minex { prefix_end(&lo) } else { lo };
        let hi = z.score_prefix(self.max);
        let hi = if self.maxex { hi } else { prefix_end(&hi) };
        (lo, hi)
    }
}

fn parse_score_bound(raw: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, body) = match raw.first() {
        Some(b'(') => (true, &raw[1..]),
        _ => (false, raw),
    };
    if body.is_empty() {
        return Some((0.0, exclusive));
    }
    let start = body.iter().position(|c| !is_c_space(*c))?;
    // Unlike a score, a bound out of range is taken as strtod returns it (inf or 0).
    let n = strtod(&body[start..])?;
    if n.value.is_nan() {
        return None;
    }
    Some((n.value, exclusive))
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(raw: &[u8]) -> Option<LexBound> {
        Some(match raw.first()? {
            b'+' if raw.len() == 1 => LexBound::PosInf,
            b'-' if raw.len() == 1 => LexBound::NegInf,
            b'[' => LexBound::Incl(raw[1..].to_vec()),
            b'(' => LexBound::Excl(raw[1..].to_vec()),
            _ => return None,
        })
    }

    /// Order key: `-` below every string, `+` above.
    fn order(&self) -> (u8, &[u8]) {
        match self {
            LexBound::NegInf => (0, b""),
            LexBound::Incl(v) | LexBound::Excl(v) => (1, v),
            LexBound::PosInf => (2, b""),
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    /// As a minimum: does `m` lie at or above it?
    fn below(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(v) => m >= v.as_slice(),
            LexBound::Excl(v) => m > v.as_slice(),
        }
    }

    /// As a maximum: does `m` lie at or below it?
    fn above(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= v.as_slice(),
            LexBound::Excl(v) => m < v.as_slice(),
        }
    }
}

struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        let bad = || CmdError::msg("min or max not valid string range item");
        Ok(LexRange {
            min: LexBound::parse(min).ok_or_else(bad)?,
            max: LexBound::parse(max).ok_or_else(bad)?,
        })
    }

    fn is_empty(&self) -> bool {
        match self.min.order().cmp(&self.max.order()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            std::cmp::Ordering::Less => false,
        }
    }
}

/// Members with their scores (flat in RESP2, pairs in RESP3), or the members alone.
fn entries_reply(entries: Vec<Entry>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            entries
                .into_iter()
                .map(|(m, s)| (Reply::bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(entries.into_iter().map(|(m, _)| Reply::bulk(m)).collect())
    }
}

/// Replaces `dst` with a sorted set of `entries` (distinct members); an empty result deletes it.
fn store_entries(ctx: &mut Ctx<'_, '_>, dst: &[u8], entries: &[Entry]) -> CmdResult {
    if entries.is_empty() {
        ctx.txn.delete_key(ctx.db, dst)?;
        return Ok(Reply::Int(0));
    }
    let mut z = ZSet::create(ctx, dst)?;
    for (m, s) in entries {
        z.set(ctx.txn, m, None, *s);
    }
    z.save(ctx, dst)?;
    Ok(Reply::Int(z.meta.count as i64))
}

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
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let mut popped = Vec::new();
    for entry in ctx.txn.scan(Cf::ZScore, &z.prefix, &z.end(), max)? {
        let (k, _) = entry?;
        let (m, s) = z.decode(&k)?;
        popped.push((m.to_vec(), s));
        if popped.len() as i64 >= count {
            break;
        }
    }
    for (m, s) in &popped {
        z.remove(ctx.txn, m, *s);
    }
    if !popped.is_empty() {
        z.save(ctx, key)?;
    }
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
mod tests {
    use super::super::testing::{bulk, bulks, err, int, TestDb};
    use super::*;

    fn d(x: f64) -> Reply {
        Reply::Double(x)
    }

    /// `[member, score, ...]` with scores as doubles.
    fn ws(items: &[(&str, f64)]) -> Reply {
        Reply::Array(items.iter().flat_map(|(m, s)| [bulk(m), d(*s)]).collect())
    }

    fn empty() -> Reply {
        Reply::Array(Vec::new())
    }

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    /// Both indexes agree with each other and with the count.
    fn check_consistent(t: &TestDb, key: &str) {
        let txn = t.db.reader();
        let meta = txn.live_meta(0, key.as_bytes(), t.now_ms).unwrap();
        let Some(meta) = meta else { return };
        let prefix = member_prefix(0, key.as_bytes(), meta.version);
        let end = prefix_end(&prefix);
        let by_member: Vec<(Vec<u8>, Vec<u8>)> = txn
            .scan(Cf::ZSet, &prefix, &end, false)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        let by_score: Vec<Vec<u8>> = txn
            .scan(Cf::ZScore, &prefix, &end, false)
            .unwrap()
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(by_member.len() as u64, meta.count, "count of {key}");
        assert_eq!(by_score.len() as u64, meta.count, "score index of {key}");
        let mut expected: Vec<Vec<u8>> = by_member
            .iter()
            .map(|(k, v)| {
                let mut s = prefix.clone();
                s.extend_from_slice(v);
                s.extend_from_slice(&k[prefix.len()..]);
                s
            })
            .collect();
        expected.sort();
        assert_eq!(expected, by_score);
    }

    /// A plain set, written directly (the set commands live in another family).
    fn make_set(t: &TestDb, key: &str, members: &[&str]) {
        let mut txn = t.db.writer();
        let mut meta = txn.create_key(0, key.as_bytes(), KeyType::Set).unwrap();
        let prefix = member_prefix(0, key.as_bytes(), meta.version);
        for m in members {
            txn.put(Cf::Set, member_key(&prefix, m.as_bytes()), Vec::new());
        }
        meta.count = members.len() as u64;
        txn.save_meta(0, key.as_bytes(), &meta).unwrap();
        t.db.commit(txn, false).unwrap();
    }

    fn setup() -> TestDb {
        let mut t = TestDb::new();
        t.run("zadd z 1 a 2 b 3 c 4 d 5 e");
        t.run("set str x");
        t
    }

    #[test]
    fn zadd_basic_and_options() {
        let mut t = TestDb::new();
        assert_eq!(t.run("zadd z 1 a 2 b"), int(2));
        assert_eq!(t.run("zadd z 1 a 3 b 4 c"), int(1));
        assert_eq!(t.run("zscore z b"), d(3.0));
        assert_eq!(t.run("zadd z ch 1 a 5 b 6 d"), int(2));
        assert_eq!(t.run("zadd z nx 10 a 7 e"), int(1));
        assert_eq!(t.run("zscore z a"), d(1.0));
        assert_eq!(t.run("zadd z xx 10 a 8 f"), int(0));
        assert_eq!(t.run("zscore z a"), d(10.0));
        assert_eq!(t.run("zscore z f"), Reply::Nil);
        assert_eq!(t.run("zadd z xx ch 11 a 8 f"), int(1));
        // GT/LT only update in one direction but still add new members.
        assert_eq!(t.run("zadd z gt ch 5 a 12 b 1 g"), int(2));
        assert_eq!(t.run("zscore z a"), d(11.0));
        assert_eq!(t.run("zscore z b"), d(12.0));
        assert_eq!(t.run("zadd z lt ch 1 a 20 b"), int(1));
        assert_eq!(t.run("zscore z a"), d(1.0));
        assert_eq!(t.run("zscore z b"), d(12.0));
        // Same member twice: the second is an update.
        assert_eq!(t.run("zadd y 1 m 2 m"), int(1));
        assert_eq!(t.run("zscore y m"), d(2.0));
        assert_eq!(t.run("zadd y ch 3 m 3 m"), int(1));
        // XX on a missing key creates nothing.
        assert_eq!(t.run("zadd none xx 1 a"), int(0));
        assert_eq!(t.run("exists none"), int(0));
        assert_eq!(t.run("zadd inf -inf a +inf b"), int(2));
        assert_eq!(
            t.run("zrange inf 0 -1 withscores"),
            ws(&[("a", f64::NEG_INFINITY), ("b", f64::INFINITY)])
        );
        check_consistent(&t, "z");
        check_consistent(&t, "y");
    }

    #[test]
    fn zadd_errors() {
        let mut t = setup();
        let e = |m: &str| err(&format!("ERR {m}"));
        assert_eq!(
            t.run("zadd z"),
            err("ERR wrong number of arguments for 'zadd' command")
        );
        assert_eq!(
            t.run("zadd z 1"),
            err("ERR wrong number of arguments for 'zadd' command")
        );
        assert_eq!(
            t.run("zadd z nx"),
            err("ERR wrong number of arguments for 'zadd' command")
        );
        assert_eq!(t.run("zadd z 1 a 2"), err("ERR syntax error"));
        assert_eq!(t.run("zadd z nx xx"), err("ERR syntax error"));
        assert_eq!(
            t.run("zadd z xx nx 1 a"),
            e("XX and NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("zadd z gt lt 1 a"),
            e("GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("zadd z nx gt 1 a"),
            e("GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("zadd z incr 1 a 2 b"),
            e("INCR option supports a single increment-element pair")
        );
        assert_eq!(t.run("zadd z x a"), e("value is not a valid float"));
        assert_eq!(t.run("zadd z 1 a nan b"), e("value is not a valid float"));
        // Scores are checked before the type, and nothing is applied on error.
        assert_eq!(t.run("zadd str x a"), e("value is not a valid float"));
        assert_eq!(t.run("zadd str 1 a"), err(WRONGTYPE));
        assert_eq!(t.run("zadd z 9 a x b"), e("value is not a valid float"));
        assert_eq!(t.run("zscore z a"), d(1.0));
    }

    #[test]
    fn zadd_incr_and_zincrby() {
        let mut t = TestDb::new();
        assert_eq!(t.run("zadd z incr 2.5 a"), d(2.5));
        assert_eq!(t.run("zadd z incr -1 a"), d(1.5));
        assert_eq!(t.run("zadd z nx incr 1 a"), Reply::Nil);
        assert_eq!(t.run("zadd z xx incr 1 b"), Reply::Nil);
        assert_eq!(t.run("zadd z gt incr -1 a"), Reply::Nil);
        assert_eq!(t.run("zadd z gt incr 0 a"), Reply::Nil);
        assert_eq!(t.run("zadd z lt incr -1 a"), d(0.5));
        assert_eq!(t.run("zadd nokey xx incr 1 a"), Reply::Nil);
        assert_eq!(t.run("zadd z incr 0 a"), d(0.5));
        assert_eq!(t.run("zincrby z 2 a"), d(2.5));
        assert_eq!(t.run("zincrby z 3 new"), d(3.0));
        assert_eq!(
            t.run("zincrby z x a"),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            t.run("zincrby z 1"),
            err("ERR wrong number of arguments for 'zincrby' command")
        );
        t.run("set str x");
        assert_eq!(t.run("zincrby str 1 a"), err(WRONGTYPE));
        assert_eq!(t.run("zadd inf inf x"), int(1));
        assert_eq!(
            t.run("zincrby inf -inf x"),
            err("ERR resulting score is not a number (NaN)")
        );
        assert_eq!(
            t.run("zadd inf incr -inf x"),
            err("ERR resulting score is not a number (NaN)")
        );
        assert_eq!(t.run("zscore inf x"), d(f64::INFINITY));
        assert_eq!(
            t.run("zrange z 0 -1 withscores"),
            ws(&[("a", 2.5), ("new", 3.0)])
        );
        check_consistent(&t, "z");
        check_consistent(&t, "inf");
    }

    #[test]
    fn zrem_zscore_zmscore_zcard() {
        let mut t = setup();
        assert_eq!(t.run("zrem z a x b"), int(2));
        assert_eq!(t.run("zrem z a"), int(0));
        assert_eq!(t.run("zrem nokey a"), int(0));
        assert_eq!(t.run("zrem str a"), err(WRONGTYPE));
        assert_eq!(
            t.run("zrem z"),
            err("ERR wrong number of arguments for 'zrem' command")
        );
        assert_eq!(t.run("zcard z"), int(3));
        assert_eq!(t.run("zcard nokey"), int(0));
        assert_eq!(t.run("zcard str"), err(WRONGTYPE));
        assert_eq!(t.run("zscore z c"), d(3.0));
        assert_eq!(t.run("zscore z a"), Reply::Nil);
        assert_eq!(t.run("zscore nokey a"), Reply::Nil);
        assert_eq!(t.run("zscore str a"), err(WRONGTYPE));
        assert_eq!(
            t.run("zmscore z c a e"),
            Reply::Array(vec![d(3.0), Reply::Nil, d(5.0)])
        );
        assert_eq!(
            t.run("zmscore nokey a b"),
            Reply::Array(vec![Reply::Nil, Reply::Nil])
        );
        assert_eq!(t.run("zmscore str a"), err(WRONGTYPE));
        assert_eq!(
            t.run("zmscore z"),
            err("ERR wrong number of arguments for 'zmscore' command")
        );
        check_consistent(&t, "z");
        // Removing the last members deletes the key.
        assert_eq!(t.run("zrem z c d e"), int(3));
        assert_eq!(t.run("exists z"), int(0));
        assert_eq!(t.run("zadd z 1 a"), int(1));
        assert_eq!(t.run("zcard z"), int(1));
    }

    #[test]
    fn zcount_and_score_bounds() {
        let mut t = setup();
        assert_eq!(t.run("zcount z -inf +inf"), int(5));
        assert_eq!(t.run("zcount z 2 4"), int(3));
        assert_eq!(t.run("zcount z (2 4"), int(2));
        assert_eq!(t.run("zcount z (2 (4"), int(1));
        assert_eq!(t.run("zcount z (3 (3"), int(0));
        assert_eq!(t.run("zcount z 3 3"), int(1));
        assert_eq!(t.run("zcount z 4 2"), int(0));
        assert_eq!(t.run("zcount z 5 +inf"), int(1));
        assert_eq!(t.run("zcount z (5 +inf"), int(0));
        // strtod rules: empty means 0, leading spaces are fine, trailing junk is not.
        assert_eq!(t.run_argv(&argv(&["zcount", "z", "", "2"])), int(2));
        assert_eq!(t.run_argv(&argv(&["zcount", "z", "(", "2"])), int(2));
        assert_eq!(t.run_argv(&argv(&["zcount", "z", " 2", "3"])), int(2));
        assert_eq!(
            t.run_argv(&argv(&["zcount", "z", "  ", "3"])),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("zcount z 1x 3"), err("ERR min or max is not a float"));
        assert_eq!(
            t.run("zcount z nan 3"),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("zcount z [1 3"), err("ERR min or max is not a float"));
        assert_eq!(t.run("zcount nokey 0 1"), int(0));
        assert_eq!(t.run("zcount str 0 1"), err(WRONGTYPE));
        assert_eq!(
            t.run("zcount str x 1"),
            err("ERR min or max is not a float")
        );
        assert_eq!(
            t.run("zcount z 0"),
            err("ERR wrong number of arguments for 'zcount' command")
        );
        // Negative scores and zero sort correctly.
        t.run("zadd n -2 a -1.5 b 0 c -0 d 1e-300 e");
        assert_eq!(t.run("zcount n -inf (0"), int(2));
        assert_eq!(t.run("zcount n 0 0"), int(2));
        assert_eq!(
            t.run("zrangebyscore n -inf +inf"),
            bulks(&["a", "b", "c", "d", "e"])
        );
    }

    fn argv(items: &[&str]) -> Vec<Bytes> {
        items
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn zrange_by_rank() {
        let mut t = setup();
        assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(
            t.run("zrange z 1 2 withscores"),
            ws(&[("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(t.run("zrange z -2 -1"), bulks(&["d", "e"]));
        assert_eq!(
            t.run("zrange z -100 100"),
            bulks(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(t.run("zrange z 3 1"), empty());
        assert_eq!(t.run("zrange z 5 10"), empty());
        assert_eq!(t.run("zrange z 0 -6"), empty());
        assert_eq!(t.run("zrange z 4 4"), bulks(&["e"]));
        assert_eq!(t.run("zrange z 0 1 rev"), bulks(&["e", "d"]));
        assert_eq!(
            t.run("zrange z 3 -1 rev withscores"),
            ws(&[("b", 2.0), ("a", 1.0)])
        );
        assert_eq!(t.run("zrevrange z 0 1"), bulks(&["e", "d"]));
        assert_eq!(
            t.run("zrevrange z 1 3 withscores"),
            ws(&[("d", 4.0), ("c", 3.0), ("b", 2.0)])
        );
        assert_eq!(t.run("zrevrange z -1 -1"), bulks(&["a"]));
        assert_eq!(t.run("zrange nokey 0 -1"), empty());
        assert_eq!(t.run("zrange str 0 -1"), err(WRONGTYPE));
        assert_eq!(
            t.run("zrange z x 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("zrange z 0 1 foo"), err("ERR syntax error"));
        assert_eq!(t.run("zrevrange z 0 1 rev"), err("ERR syntax error"));
        assert_eq!(t.run("zrevrange z 0 1 byscore"), err("ERR syntax error"));
        assert_eq!(
            t.run("zrange z 0 -1 limit 0 1"),
            err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        );
        // Redis only notices LIMIT when the count is not -1.
        assert_eq!(
            t.run("zrange z 0 -1 limit 0 -1"),
            bulks(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(
            t.run("zrange z 0"),
            err("ERR wrong number of arguments for 'zrange' command")
        );
    }

    #[test]
    fn rank_ranges_walk_from_either_end() {
        let mut t = TestDb::new();
        let mut cmd = String::from("zadd big");
        for i in 0..200 {
            cmd.push_str(&format!(" {i} m{i:03}"));
        }
        t.run(&cmd);
        let names = |r: std::ops::RangeInclusive<i32>| -> Vec<String> {
            r.map(|i| format!("m{i:03}")).collect()
        };
        let want = |v: Vec<String>| Reply::bulks(v.into_iter().map(Bytes::from));
        assert_eq!(t.run("zrange big 190 195"), want(names(190..=195)));
        assert_eq!(t.run("zrange big 3 5"), want(names(3..=5)));
        assert_eq!(t.run("zrange big -3 -1"), want(names(197..=199)));
        let mut rev = names(4..=9);
        rev.reverse();
        assert_eq!(t.run("zrevrange big 190 195"), want(rev));
        let mut rev = names(195..=199);
        rev.reverse();
        assert_eq!(t.run("zrevrange big 0 4"), want(rev));
        for (m, r) in [("m000", 0), ("m057", 57), ("m150", 150), ("m199", 199)] {
            assert_eq!(t.run(&format!("zrank big {m}")), int(r));
            assert_eq!(t.run(&format!("zrevrank big {m}")), int(199 - r));
        }
        assert_eq!(t.run("zremrangebyrank big 10 189"), int(180));
        assert_eq!(t.run("zcard big"), int(20));
        assert_eq!(t.run("zrank big m195"), int(15));
        check_consistent(&t, "big");
    }

    #[test]
    fn zrange_by_score() {
        let mut t = setup();
        assert_eq!(t.run("zrange z 2 4 byscore"), bulks(&["b", "c", "d"]));
        assert_eq!(
            t.run("zrange z (2 4 byscore withscores"),
            ws(&[("c", 3.0), ("d", 4.0)])
        );
        assert_eq!(
            t.run("zrange z -inf +inf byscore limit 1 2"),
            bulks(&["b", "c"])
        );
        assert_eq!(t.run("zrange z 4 2 byscore rev"), bulks(&["d", "c", "b"]));
        assert_eq!(t.run("zrange z 2 4 byscore rev"), empty());
        assert_eq!(
            t.run("zrange z +inf -inf byscore rev limit 1 2"),
            bulks(&["d", "c"])
        );
        assert_eq!(
            t.run("zrange z (5 (1 byscore rev limit 0 10 withscores"),
            ws(&[("d", 4.0), ("c", 3.0), ("b", 2.0)])
        );
        assert_eq!(t.run("zrangebyscore z 2 4"), bulks(&["b", "c", "d"]));
        assert_eq!(
            t.run("zrangebyscore z (1 (5 withscores limit 1 1"),
            ws(&[("c", 3.0)])
        );
        assert_eq!(
            t.run("zrangebyscore z -inf +inf limit 1 -1"),
            bulks(&["b", "c", "d", "e"])
        );
        assert_eq!(t.run("zrangebyscore z -inf +inf limit -1 5"), empty());
        assert_eq!(t.run("zrangebyscore z -inf +inf limit 0 0"), empty());
        assert_eq!(t.run("zrangebyscore z -inf +inf limit 5 1"), empty());
        assert_eq!(t.run("zrangebyscore z (3 (3"), empty());
        assert_eq!(t.run("zrangebyscore z 3 3"), bulks(&["c"]));
        assert_eq!(t.run("zrevrangebyscore z 4 2"), bulks(&["d", "c", "b"]));
        assert_eq!(
            t.run("zrevrangebyscore z +inf (4 withscores"),
            ws(&[("e", 5.0)])
        );
        assert_eq!(
            t.run("zrevrangebyscore z +inf -inf limit 2 2"),
            bulks(&["c", "b"])
        );
        assert_eq!(t.run("zrevrangebyscore z 2 4"), empty());
        assert_eq!(t.run("zrangebyscore z 0 1 rev"), err("ERR syntax error"));
        assert_eq!(t.run("zrangebyscore z 0 1 bylex"), err("ERR syntax error"));
        assert_eq!(
            t.run("zrangebyscore z 0 1 limit 0"),
            err("ERR syntax error")
        );
        assert_eq!(
            t.run("zrangebyscore z 0 1 limit x 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("zrangebyscore z x 1"),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("zrangebyscore str 0 1"), err(WRONGTYPE));
        assert_eq!(
            t.run("zrangebyscore str x 1"),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("zrangebyscore nokey 0 1"), empty());
        assert_eq!(t.run("zrange z - + byscore bylex"), err("ERR syntax error"));
        // Members with the same score are ordered by member.
        t.run("zadd same 1 c 1 a 1 b 0 z");
        assert_eq!(t.run("zrangebyscore same 1 1"), bulks(&["a", "b", "c"]));
        assert_eq!(t.run("zrevrangebyscore same 1 1"), bulks(&["c", "b", "a"]));
    }

    #[test]
    fn lex_ranges() {
        let mut t = TestDb::new();
        t.run("zadd l 0 a 0 b 0 c 0 d 0 e 0 ab 0 ba");
        t.run("set str x");
        assert_eq!(
            t.run("zrangebylex l - +"),
            bulks(&["a", "ab", "b", "ba", "c", "d", "e"])
        );
        assert_eq!(t.run("zrangebylex l [b [d"), bulks(&["b", "ba", "c", "d"]));
        assert_eq!(t.run("zrangebylex l (b (d"), bulks(&["ba", "c"]));
        assert_eq!(t.run("zrangebylex l [a (b"), bulks(&["a", "ab"]));
        assert_eq!(t.run("zrangebylex l (a [ab"), bulks(&["ab"]));
        assert_eq!(t.run("zrangebylex l - (b"), bulks(&["a", "ab"]));
        assert_eq!(t.run("zrangebylex l (d +"), bulks(&["e"]));
        assert_eq!(
            t.run("zrangebylex l - + limit 2 3"),
            bulks(&["b", "ba", "c"])
        );
        assert_eq!(t.run("zrangebylex l - + limit -1 3"), empty());
        assert_eq!(t.run("zrangebylex l + -"), empty());
        assert_eq!(t.run("zrangebylex l - -"), empty());
        assert_eq!(t.run("zrangebylex l [c [c"), bulks(&["c"]));
        assert_eq!(t.run("zrangebylex l (c [c"), empty());
        assert_eq!(t.run("zrangebylex l [d [b"), empty());
        assert_eq!(
            t.run("zrevrangebylex l + -"),
            bulks(&["e", "d", "c", "ba", "b", "ab", "a"])
        );
        assert_eq!(
            t.run("zrevrangebylex l [d (b limit 1 2"),
            bulks(&["c", "ba"])
        );
        assert_eq!(t.run("zrange l [d (b bylex rev"), bulks(&["d", "c", "ba"]));
        assert_eq!(t.run("zrange l (b [d bylex limit 1 1"), bulks(&["c"]));
        assert_eq!(
            t.run("zrangebylex l - + withscores"),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        assert_eq!(
            t.run("zrange l - + bylex withscores"),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        let bad = err("ERR min or max not valid string range item");
        assert_eq!(t.run("zrangebylex l a [b"), bad);
        assert_eq!(t.run("zrangebylex l [a +x"), bad);
        assert_eq!(t.run("zrangebylex l -a +"), bad);
        assert_eq!(t.run_argv(&argv(&["zrangebylex", "l", "", "+"])), bad);
        assert_eq!(t.run("zlexcount l a b"), bad);
        assert_eq!(t.run("zlexcount l - +"), int(7));
        assert_eq!(t.run("zlexcount l [b (c"), int(2));
        assert_eq!(t.run("zlexcount l + -"), int(0));
        assert_eq!(t.run("zlexcount nokey - +"), int(0));
        assert_eq!(t.run("zlexcount str - +"), err(WRONGTYPE));
        assert_eq!(t.run("zrangebylex str - +"), err(WRONGTYPE));
        assert_eq!(t.run("zrangebylex nokey - +"), empty());
        // Empty-string members and bounds.
        t.run("zadd e 0 '' 0 a");
        assert_eq!(t.run("zrangebylex e - ["), bulks(&[""]));
        assert_eq!(t.run("zrangebylex e ( +"), bulks(&["a"]));
        assert_eq!(t.run("zremrangebylex l [b (c"), int(2));
        assert_eq!(
            t.run("zrangebylex l - +"),
            bulks(&["a", "ab", "c", "d", "e"])
        );
        assert_eq!(t.run("zremrangebylex l x +"), bad);
        assert_eq!(t.run("zremrangebylex nokey - +"), int(0));
        assert_eq!(t.run("zremrangebylex str - +"), err(WRONGTYPE));
        assert_eq!(t.run("zremrangebylex l - +"), int(5));
        assert_eq!(t.run("exists l"), int(0));
    }

    #[test]
    fn lex_ranges_with_mixed_scores_walk_like_redis() {
        let mut t = TestDb::new();
        // Order by score: b(0) d(1) a(2) c(3). Redis walks from the first member >= min and
        // stops at the first member > max.
        t.run("zadd m 0 b 1 d 2 a 3 c");
        assert_eq!(t.run("zrangebylex m - +"), bulks(&["b", "d", "a", "c"]));
        assert_eq!(t.run("zrangebylex m [b [c"), bulks(&["b"]));
        assert_eq!(t.run("zrevrangebylex m + [c"), bulks(&["c"]));
    }

    #[test]
    fn zrank_and_withscore() {
        let mut t = setup();
        assert_eq!(t.run("zrank z a"), int(0));
        assert_eq!(t.run("zrank z c"), int(2));
        assert_eq!(t.run("zrank z e"), int(4));
        assert_eq!(t.run("zrevrank z e"), int(0));
        assert_eq!(t.run("zrevrank z a"), int(4));
        assert_eq!(t.run("zrank z x"), Reply::Nil);
        assert_eq!(t.run("zrank nokey x"), Reply::Nil);
        assert_eq!(
            t.run("zrank z c withscore"),
            Reply::Array(vec![int(2), d(3.0)])
        );
        assert_eq!(
            t.run("zrevrank z c WITHSCORE"),
            Reply::Array(vec![int(2), d(3.0)])
        );
        assert_eq!(t.run("zrank z x withscore"), Reply::NilArray);
        assert_eq!(t.run("zrank nokey x withscore"), Reply::NilArray);
        assert_eq!(t.run("zrank z a foo"), err("ERR syntax error"));
        assert_eq!(
            t.run("zrank z a withscore x"),
            err("ERR wrong number of arguments for 'zrank' command")
        );
        assert_eq!(
            t.run("zrevrank z a withscore x"),
            err("ERR wrong number of arguments for 'zrevrank' command")
        );
        assert_eq!(
            t.run("zrank z"),
            err("ERR wrong number of arguments for 'zrank' command")
        );
        assert_eq!(t.run("zrank str a"), err(WRONGTYPE));
    }

    #[test]
    fn zremrange_by_rank_and_score() {
        let mut t = setup();
        assert_eq!(t.run("zremrangebyrank z 1 2"), int(2));
        assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "d", "e"]));
        assert_eq!(t.run("zremrangebyrank z -1 -1"), int(1));
        assert_eq!(t.run("zremrangebyrank z 5 10"), int(0));
        assert_eq!(t.run("zremrangebyrank z 1 0"), int(0));
        assert_eq!(
            t.run("zremrangebyrank z x 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("zremrangebyrank nokey 0 -1"), int(0));
        assert_eq!(t.run("zremrangebyrank str 0 -1"), err(WRONGTYPE));
        assert_eq!(t.run("zremrangebyrank z 0 -1"), int(2));
        assert_eq!(t.run("exists z"), int(0));

        t.run("zadd z 1 a 2 b 3 c 4 d 5 e");
        assert_eq!(t.run("zremrangebyscore z (1 3"), int(2));
        assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "d", "e"]));
        assert_eq!(t.run("zremrangebyscore z (4 (5"), int(0));
        assert_eq!(
            t.run("zremrangebyscore z x 1"),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("zremrangebyscore nokey 0 1"), int(0));
        assert_eq!(t.run("zremrangebyscore str 0 1"), err(WRONGTYPE));
        assert_eq!(
            t.run("zremrangebyscore z 1"),
            err("ERR wrong number of arguments for 'zremrangebyscore' command")
        );
        check_consistent(&t, "z");
        assert_eq!(t.run("zremrangebyscore z -inf +inf"), int(3));
        assert_eq!(t.run("exists z"), int(0));
    }

    #[test]
    fn zpop() {
        let mut t = setup();
        assert_eq!(t.run("zpopmin z"), ws(&[("a", 1.0)]));
        assert_eq!(t.run("zpopmax z"), ws(&[("e", 5.0)]));
        assert_eq!(t.run("zpopmin z 2"), ws(&[("b", 2.0), ("c", 3.0)]));
        assert_eq!(t.run("zpopmin z 0"), empty());
        assert_eq!(t.run("zpopmax z 10"), ws(&[("d", 4.0)]));
        assert_eq!(t.run("exists z"), int(0));
        assert_eq!(t.run("zpopmin z"), empty());
        assert_eq!(t.run("zpopmin nokey 3"), empty());
        let range = err("ERR value is out of range, must be positive");
        assert_eq!(t.run("zpopmin z -1"), range);
        assert_eq!(t.run("zpopmax z x"), range);
        assert_eq!(t.run("zpopmin z 1 2"), err("ERR syntax error"));
        assert_eq!(t.run("zpopmin str"), err(WRONGTYPE));
        assert_eq!(t.run("zpopmin str 0"), err(WRONGTYPE));
        assert_eq!(
            t.run("zpopmin"),
            err("ERR wrong number of arguments for 'zpopmin' command")
        );
        t.run("zadd y 1 a 1 b 2 c");
        assert_eq!(t.run("zpopmax y 2"), ws(&[("c", 2.0), ("b", 1.0)]));
        check_consistent(&t, "y");
    }

    #[test]
    fn zscan_pages() {
        let mut t = TestDb::new();
        let mut cmd = String::from("zadd z");
        for i in 0..25 {
            cmd.push_str(&format!(" {i}.5 m{i:02}"));
        }
        t.run(&cmd);
        t.run("set str x");
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        loop {
            let Reply::Array(parts) = t.run(&format!("zscan z {cursor} count 7")) else {
                panic!()
            };
            let Reply::Bulk(next) = &parts[0] else {
                panic!()
            };
            let Reply::Array(items) = &parts[1] else {
                panic!()
            };
            for pair in items.chunks(2) {
                let (Reply::Bulk(m), Reply::Bulk(s)) = (&pair[0], &pair[1]) else {
                    panic!()
                };
                seen.push((
                    String::from_utf8(m.to_vec()).unwrap(),
                    String::from_utf8(s.to_vec()).unwrap(),
                ));
            }
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 25);
        assert_eq!(seen[3], ("m03".to_string(), "3.5".to_string()));
        assert_eq!(
            t.run("zscan z 0 match m1* count 100"),
            Reply::Array(vec![
                bulk("0"),
                Reply::Array(
                    (10..20)
                        .flat_map(|i| [bulk(&format!("m{i}")), bulk(&format!("{i}.5"))])
                        .collect()
                )
            ])
        );
        assert_eq!(
            t.run("zscan nokey 0"),
            Reply::Array(vec![bulk("0"), empty()])
        );
        assert_eq!(
            t.run("zscan nokey 0 count 0"),
            Reply::Array(vec![bulk("0"), empty()])
        );
        assert_eq!(t.run("zscan z x"), err("ERR invalid cursor"));
        assert_eq!(t.run("zscan str x"), err("ERR invalid cursor"));
        assert_eq!(t.run("zscan str 0"), err(WRONGTYPE));
        assert_eq!(t.run("zscan z 0 count 0"), err("ERR syntax error"));
        assert_eq!(t.run("zscan z 0 novalues"), err("ERR syntax error"));
        assert_eq!(
            t.run("zscan z"),
            err("ERR wrong number of arguments for 'zscan' command")
        );
    }

    #[test]
    fn union_and_inter_store() {
        let mut t = TestDb::new();
        t.run("zadd z1 1 a 2 b 3 c");
        t.run("zadd z2 10 b 20 c 30 d");
        make_set(&t, "s", &["c", "d", "e"]);
        t.run("set str x");
        assert_eq!(t.run("zunionstore out 2 z1 z2"), int(4));
        assert_eq!(
            t.run("zrange out 0 -1 withscores"),
            ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)])
        );
        assert_eq!(t.run("zinterstore out 2 z1 z2"), int(2));
        assert_eq!(
            t.run("zrange out 0 -1 withscores"),
            ws(&[("b", 12.0), ("c", 23.0)])
        );
        assert_eq!(
            t.run("zinterstore out 2 z1 z2 weights 2 0.5 aggregate max"),
            int(2)
        );
        assert_eq!(
            t.run("zrange out 0 -1 withscores"),
            ws(&[("b", 5.0), ("c", 10.0)])
        );
        assert_eq!(t.run("zunionstore out 2 z1 z2 aggregate min"), int(4));
        assert_eq!(
            t.run("zrange out 0 -1 withscores"),
            ws(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 30.0)])
        );
        // Plain sets count as score 1.
        assert_eq!(t.run("zunionstore out 2 z1 s"), int(5));
        assert_eq!(
            t.run("zrange out 0 -1 withscores"),
            ws(&[("a", 1.0), ("d", 1.0), ("e", 1.0), ("b", 2.0), ("c", 4.0)])
        );
        assert_eq!(t.run("zinterstore out 3 z1 z2 s weights 1 1 100"), int(1));
        assert_eq!(t.run("zrange out 0 -1 withscores"), ws(&[("c", 123.0)]));
        // Missing keys are empty sets; an empty result deletes the destination.
        assert_eq!(t.run("zunionstore out 2 nokey z1"), int(3));
        assert_eq!(t.run("zinterstore out 2 nokey z1"), int(0));
        assert_eq!(t.run("exists out"), int(0));
        t.run("set out x");
        assert_eq!(t.run("zinterstore out 2 z1 nokey"), int(0));
        assert_eq!(t.run("exists out"), int(0));
        // The destination may be a source; its TTL and old type are replaced.
        t.run("set dst x");
        t.run("expire dst 100");
        assert_eq!(t.run("zunionstore dst 1 z1"), int(3));
        assert_eq!(t.run("ttl dst"), int(-1));
        assert_eq!(t.run("zunionstore z1 2 z1 z2"), int(4));
        assert_eq!(
            t.run("zrange z1 0 -1 withscores"),
            ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)])
        );
        check_consistent(&t, "z1");
        check_consistent(&t, "dst");
        // inf + -inf is 0 under SUM; weight 0 * inf is 0.
        t.run("zadd pinf +inf x");
        t.run("zadd ninf -inf x");
        assert_eq!(t.run("zunionstore out 2 pinf ninf"), int(1));
        assert_eq!(t.run("zscore out x"), d(0.0));
        assert_eq!(t.run("zinterstore out 2 pinf ninf"), int(1));
        assert_eq!(t.run("zscore out x"), d(0.0));
        assert_eq!(t.run("zunionstore out 1 pinf weights 0"), int(1));
        assert_eq!(t.run("zscore out x"), d(0.0));
        assert_eq!(t.run("zinterstore out 2 pinf ninf aggregate max"), int(1));
        assert_eq!(t.run("zscore out x"), d(f64::INFINITY));
    }

    #[test]
    fn set_operation_errors() {
        let mut t = TestDb::new();
        t.run("zadd z 1 a");
        t.run("set str x");
        assert_eq!(
            t.run("zunionstore out 0 z"),
            err("ERR at least 1 input key is needed for 'zunionstore' command")
        );
        assert_eq!(
            t.run("zinterstore out -1 z"),
            err("ERR at least 1 input key is needed for 'zinterstore' command")
        );
        assert_eq!(
            t.run("zunionstore out x z"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("zunionstore out 2 z"), err("ERR syntax error"));
        assert_eq!(
            t.run("zunionstore out 1 z weights"),
            err("ERR syntax error")
        );
        assert_eq!(
            t.run("zunionstore out 1 z weights x"),
            err("ERR weight value is not a float")
        );
        assert_eq!(
            t.run("zunionstore out 1 z aggregate avg"),
            err("ERR syntax error")
        );
        assert_eq!(
            t.run("zunionstore out 1 z aggregate"),
            err("ERR syntax error")
        );
        assert_eq!(
            t.run("zunionstore out 1 z withscores"),
            err("ERR syntax error")
        );
        assert_eq!(t.run("zunionstore out 2 str z weights x"), err(WRONGTYPE));
        assert_eq!(t.run("zinterstore out 2 z str"), err(WRONGTYPE));
        assert_eq!(
            t.run("zunionstore out 1"),
            err("ERR wrong number of arguments for 'zunionstore' command")
        );
        assert_eq!(
            t.run("zdiffstore out 1 z weights 1"),
            err("ERR syntax error")
        );
        assert_eq!(
            t.run("zintercard 0 z"),
            err("ERR at least 1 input key is needed for 'zintercard' command")
        );
        assert_eq!(
            t.run("zintercard 1 z limit -1"),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(
            t.run("zintercard 1 z limit x"),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(t.run("zintercard 1 z withscores"), err("ERR syntax error"));
        assert_eq!(t.run("exists out"), int(0));
    }

    #[test]
    fn union_inter_diff_replies() {
        let mut t = TestDb::new();
        t.run("zadd z1 1 a 2 b 3 c");
        t.run("zadd z2 10 b 20 c 30 d");
        make_set(&t, "s", &["a"]);
        assert_eq!(t.run("zunion 2 z1 z2"), bulks(&["a", "b", "c", "d"]));
        assert_eq!(
            t.run("zunion 1 z1 weights 2 withscores"),
            ws(&[("a", 2.0), ("b", 4.0), ("c", 6.0)])
        );
        assert_eq!(
            t.run("zinter 2 z1 z2 withscores"),
            ws(&[("b", 12.0), ("c", 23.0)])
        );
        assert_eq!(t.run("zdiff 2 z1 z2 withscores"), ws(&[("a", 1.0)]));
        assert_eq!(t.run("zdiff 3 z1 s nokey"), bulks(&["b", "c"]));
        assert_eq!(t.run("zdiff 1 nokey"), empty());
        assert_eq!(t.run("zdiffstore out 2 z2 z1"), int(1));
        assert_eq!(t.run("zrange out 0 -1 withscores"), ws(&[("d", 30.0)]));
        assert_eq!(t.run("zintercard 2 z1 z2"), int(2));
        assert_eq!(t.run("zintercard 2 z1 z2 limit 1"), int(1));
        assert_eq!(t.run("zintercard 2 z1 z2 limit 0"), int(2));
        assert_eq!(t.run("zintercard 2 z1 nokey"), int(0));
        // Ordered by score, then member.
        t.run("zadd z3 5 y 5 x 1 z");
        assert_eq!(t.run("zunion 1 z3"), bulks(&["z", "x", "y"]));
    }

    #[test]
    fn zrangestore() {
        let mut t = setup();
        assert_eq!(t.run("zrangestore dst z 1 2"), int(2));
        assert_eq!(
            t.run("zrange dst 0 -1 withscores"),
            ws(&[("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(t.run("zrangestore dst z (3 +inf byscore"), int(2));
        assert_eq!(t.run("zrange dst 0 -1"), bulks(&["d", "e"]));
        assert_eq!(
            t.run("zrangestore dst z +inf -inf byscore rev limit 0 1"),
            int(1)
        );
        assert_eq!(t.run("zrange dst 0 -1"), bulks(&["e"]));
        assert_eq!(t.run("zrangestore dst z [b [c bylex"), int(2));
        assert_eq!(t.run("zrangestore dst z [x + bylex"), int(0));
        assert_eq!(t.run("exists dst"), int(0));
        assert_eq!(
            t.run("zrangestore dst z 0 -1 withscores"),
            err("ERR syntax error")
        );
        assert_eq!(t.run("zrangestore dst str 0 -1"), err(WRONGTYPE));
        assert_eq!(t.run("zrangestore dst nokey 0 -1"), int(0));
        assert_eq!(t.run("zrangestore z z 0 1"), int(2));
        assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "b"]));
        check_consistent(&t, "z");
    }

    #[test]
    fn expired_and_retyped_keys() {
        let mut t = setup();
        t.run("pexpire z 10");
        t.now_ms += 20;
        assert_eq!(t.run("zcard z"), int(0));
        assert_eq!(t.run("zscore z a"), Reply::Nil);
        assert_eq!(t.run("zadd z 7 q"), int(1));
        assert_eq!(t.run("zrange z 0 -1 withscores"), ws(&[("q", 7.0)]));
        check_consistent(&t, "z");
        // A surviving TTL is kept by updates.
        t.run("expire z 100");
        t.run("zadd z 8 q 9 r");
        t.run("zrem z r");
        assert_eq!(t.run("ttl z"), int(100));
    }

    #[test]
    fn scores_format_like_redis() {
        let mut t = TestDb::new();
        t.run("zadd z 0.1 a 1e20 b -3 c 2.50 d");
        let Reply::Array(parts) = t.run("zscan z 0") else {
            panic!()
        };
        assert_eq!(
            parts[1],
            Reply::Array(vec![
                bulk("a"),
                bulk("0.1"),
                bulk("b"),
                bulk("1e+20"),
                bulk("c"),
                bulk("-3"),
                bulk("d"),
                bulk("2.5")
            ])
        );
    }

    #[test]
    fn command_table_shapes() {
        for spec in COMMANDS {
            assert!(
                super::super::lookup(spec.name.as_bytes()).is_some(),
                "{}",
                spec.name
            );
        }
        let zadd = super::super::lookup(b"ZADD").unwrap();
        assert!(zadd.is_write() && zadd.arity == -4);
        assert!(!super::super::lookup(b"zrange").unwrap().is_write());
    }
}
