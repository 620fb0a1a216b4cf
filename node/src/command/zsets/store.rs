//! How a sorted set is stored (the loaded [`ZSet`], its member and score keys), and the score and
//! lex ranges that select from it.

use crate::command::args::resolve_range;
use crate::command::long_double::{is_c_space, strtod};
use crate::command::{CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{
    member_key, member_prefix, prefix_end, score_from_bytes, score_to_bytes,
};
use crate::storage::{Cf, KeyType, Meta, StorageError, Txn};

/// An encoded key bound.
pub(super) type EncodedBound = Vec<u8>;

/// A member and its score.
pub(super) type Entry = (Vec<u8>, f64);

pub(super) fn corrupt(detail: &str) -> CmdError {
    CmdError::Storage(StorageError::Corrupt {
        cf: "zscore",
        detail: detail.to_string(),
    })
}

/// A live sorted set: its meta record and the prefix of its member keys.
pub(super) struct ZSet {
    pub(super) meta: Meta,
    pub(super) prefix: Vec<u8>,
}

impl ZSet {
    /// The sorted set at `key`, `None` when there is none, WRONGTYPE for another type.
    pub(super) fn open(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<ZSet>, CmdError> {
        Ok(ctx.typed_meta(KeyType::ZSet, key)?.map(|meta| ZSet {
            prefix: member_prefix(ctx.db, key, meta.version),
            meta,
        }))
    }

    /// A new, empty sorted set replacing whatever `key` held (saved by [`ZSet::save`]).
    pub(super) fn create(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<ZSet, CmdError> {
        let meta = ctx.txn.create_key(ctx.db, key, KeyType::ZSet)?;
        Ok(ZSet {
            prefix: member_prefix(ctx.db, key, meta.version),
            meta,
        })
    }

    /// Writes the meta record (deleting the key when it became empty).
    pub(super) fn save(&self, ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<(), CmdError> {
        ctx.txn.save_meta(ctx.db, key, &self.meta)?;
        Ok(())
    }

    pub(super) fn end(&self) -> Vec<u8> {
        prefix_end(&self.prefix)
    }

    pub(super) fn score_key(&self, score: f64, member: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 8 + member.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(&score_to_bytes(score));
        k.extend_from_slice(member);
        k
    }

    /// `prefix | score`: every score-index key of members with this score starts with it.
    pub(super) fn score_prefix(&self, score: f64) -> Vec<u8> {
        self.score_key(score, b"")
    }

    pub(super) fn score(&self, txn: &Txn<'_>, member: &[u8]) -> Result<Option<f64>, CmdError> {
        Ok(txn
            .get(Cf::ZSet, &member_key(&self.prefix, member))?
            .map(|v| score_from_bytes(&v)))
    }

    /// Gives `member` (whose current score is `old`, `None` when absent) the score `score`.
    pub(super) fn set(&mut self, txn: &mut Txn<'_>, member: &[u8], old: Option<f64>, score: f64) {
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

    pub(super) fn remove(&mut self, txn: &mut Txn<'_>, member: &[u8], score: f64) {
        txn.delete(Cf::ZSet, member_key(&self.prefix, member));
        txn.delete(Cf::ZScore, self.score_key(score, member));
        self.meta.count = self.meta.count.saturating_sub(1);
    }

    /// Splits a score-index key into member and score.
    pub(super) fn decode<'k>(&self, k: &'k [u8]) -> Result<(&'k [u8], f64), CmdError> {
        let p = self.prefix.len();
        if k.len() < p + 8 {
            return Err(corrupt("score key too short"));
        }
        Ok((&k[p + 8..], score_from_bytes(&k[p..p + 8])))
    }

    /// The member at each end of the score index (first, last).
    pub(super) fn ends(
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
    pub(super) fn by_rank(
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
    pub(super) fn rank_of(&self, txn: &Txn<'_>, skey: &[u8]) -> Result<u64, CmdError> {
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
    pub(super) fn walk(
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
    pub(super) fn by_score(
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

    pub(super) fn count_score(&self, txn: &Txn<'_>, range: &ScoreRange) -> Result<i64, CmdError> {
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
    pub(super) fn by_lex(
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
    pub(super) fn lex_window(
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
pub(super) struct ScoreRange {
    pub(super) min: f64,
    pub(super) minex: bool,
    pub(super) max: f64,
    pub(super) maxex: bool,
}

impl ScoreRange {
    /// Parses like Redis's `zslParseRange` (C `strtod` rules: leading spaces allowed, an empty
    /// number is 0).
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
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

    pub(super) fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }

    /// The score-index keys `[lo, hi)` of this range within `z`.
    pub(super) fn window(&self, z: &ZSet) -> (Vec<u8>, Vec<u8>) {
        let lo = z.score_prefix(self.min);
        let lo = if self.minex { prefix_end(&lo) } else { lo };
        let hi = z.score_prefix(self.max);
        let hi = if self.maxex { hi } else { prefix_end(&hi) };
        (lo, hi)
    }
}

pub(super) fn parse_score_bound(raw: &[u8]) -> Option<(f64, bool)> {
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
pub(super) enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    pub(super) fn parse(raw: &[u8]) -> Option<LexBound> {
        Some(match raw.first()? {
            b'+' if raw.len() == 1 => LexBound::PosInf,
            b'-' if raw.len() == 1 => LexBound::NegInf,
            b'[' => LexBound::Incl(raw[1..].to_vec()),
            b'(' => LexBound::Excl(raw[1..].to_vec()),
            _ => return None,
        })
    }

    /// Order key: `-` below every string, `+` above.
    pub(super) fn order(&self) -> (u8, &[u8]) {
        match self {
            LexBound::NegInf => (0, b""),
            LexBound::Incl(v) | LexBound::Excl(v) => (1, v),
            LexBound::PosInf => (2, b""),
        }
    }

    pub(super) fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    /// As a minimum: does `m` lie at or above it?
    pub(super) fn below(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(v) => m >= v.as_slice(),
            LexBound::Excl(v) => m > v.as_slice(),
        }
    }

    /// As a maximum: does `m` lie at or below it?
    pub(super) fn above(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= v.as_slice(),
            LexBound::Excl(v) => m < v.as_slice(),
        }
    }
}

pub(super) struct LexRange {
    pub(super) min: LexBound,
    pub(super) max: LexBound,
}

impl LexRange {
    pub(super) fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
        let bad = || CmdError::msg("min or max not valid string range item");
        Ok(LexRange {
            min: LexBound::parse(min).ok_or_else(bad)?,
            max: LexBound::parse(max).ok_or_else(bad)?,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        match self.min.order().cmp(&self.max.order()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            std::cmp::Ordering::Less => false,
        }
    }
}

/// Members with their scores (flat in RESP2, pairs in RESP3), or the members alone.
pub(super) fn entries_reply(entries: Vec<Entry>, withscores: bool) -> Reply {
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
pub(super) fn store_entries(ctx: &mut Ctx<'_, '_>, dst: &[u8], entries: &[Entry]) -> CmdResult {
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
