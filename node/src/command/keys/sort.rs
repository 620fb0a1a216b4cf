//! SORT and SORT_RO: a list, set or sorted set's elements sorted as numbers or strings, by
//! themselves or by weights in other keys, then limited, mapped through GET patterns, and
//! returned or stored as a list.
//!
//! Redis's rules, kept here:
//! - options are read first (a bad LIMIT or an unknown word is an error before the key is
//!   looked at), and SORT_RO knows no STORE;
//! - BY with a pattern without `*` means "don't sort" (and stays so, whatever later BY says);
//! - a number is what C's `strtod` reads from the whole string (leading spaces and an empty
//!   string, which reads as 0, included); anything else, NaN or out of range fails the command
//!   with "One or more scores can't be converted into double", after every element is read;
//! - equal numbers are ordered by the elements' bytes, so the result is defined; equal ALPHA
//!   weights keep the elements' order (Redis leaves them in its quicksort's order);
//! - a missing weight counts as 0 (numbers) or sorts first (ALPHA);
//! - `GET #` is the element, `GET pat` the string at the key `pat` names (`*` replaced by the
//!   element), `GET pat->field` a field of the hash there; missing is nil (an empty string in
//!   a STORE);
//! - a set sorted without sorting into STORE is sorted ALPHA, so that replicas store the same
//!   list (here sets come in byte order anyway).

use std::cmp::Ordering;

use super::value::Value;
use super::{Args, CmdError, CmdResult, Ctx};
use crate::command::args::parse_i64;
use crate::command::long_double::{is_c_space, strtod};
use crate::resp::Reply;
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta};

pub(super) fn sort(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    run(ctx, args, false)
}

pub(super) fn sort_ro(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    run(ctx, args, true)
}

struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count, as given.
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    dont_sort: bool,
    get: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

impl<'a> Options<'a> {
    fn parse(args: &Args<'a>, readonly: bool) -> Result<Options<'a>, CmdError> {
        let mut o = Options {
            desc: false,
            alpha: false,
            limit: None,
            by: None,
            dont_sort: false,
            get: Vec::new(),
            store: None,
        };
        let mut i = 2;
        while i < args.len() {
            let left = args.len() - i - 1;
            if args.is(i, "ASC") {
                o.desc = false;
            } else if args.is(i, "DESC") {
                o.desc = true;
            } else if args.is(i, "ALPHA") {
                o.alpha = true;
            } else if args.is(i, "LIMIT") && left >= 2 {
                o.limit = Some((parse_i64(args.get(i + 1)?)?, parse_i64(args.get(i + 2)?)?));
                i += 2;
            } else if args.is(i, "STORE") && left >= 1 && !readonly {
                o.store = Some(&args.get(i + 1)?[..]);
                i += 1;
            } else if args.is(i, "BY") && left >= 1 {
                let pattern: &'a [u8] = args.get(i + 1)?;
                if !c_str(pattern).contains(&b'*') {
                    o.dont_sort = true;
                }
                o.by = Some(pattern);
                i += 1;
            } else if args.is(i, "GET") && left >= 1 {
                o.get.push(args.get(i + 1)?);
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }
}

/// A string as SORT compares it: as bytes for a STORE, otherwise as C's strcoll does (in the C
/// locale, byte order up to the first NUL).
fn text(s: &[u8], binary: bool) -> &[u8] {
    if binary {
        s
    } else {
        c_str(s)
    }
}

/// What C sees of `s`: the bytes before the first NUL.
fn c_str(s: &[u8]) -> &[u8] {
    s.iter().position(|b| *b == 0).map_or(s, |n| &s[..n])
}

/// One element to sort and what it is sorted by.
struct Item {
    element: Vec<u8>,
    score: f64,
    /// The ALPHA weight from BY (`None`: missing).
    weight: Option<Vec<u8>>,
}

fn run(ctx: &mut Ctx<'_, '_>, args: &Args, readonly: bool) -> CmdResult {
    let mut o = Options::parse(args, readonly)?;
    let key = args.get(1)?;
    let meta = match ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? {
        Some(m) if !matches!(m.ty, KeyType::List | KeyType::Set | KeyType::ZSet) => {
            return Err(CmdError::WrongType);
        }
        other => other,
    };
    let is_set = meta.as_ref().is_some_and(|m| m.ty == KeyType::Set);
    if o.dont_sort && is_set && o.store.is_some() {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut elements = match &meta {
        Some(meta) => elements(ctx, key, meta)?,
        None => Vec::new(),
    };
    // Redis walks a list or sorted set it does not sort from the tail for DESC.
    if o.dont_sort && o.desc && !is_set {
        elements.reverse();
    }
    let (start, end) = window(o.limit, elements.len());
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            weight: None,
        })
        .collect();
    if !o.dont_sort {
        let mut bad_number = false;
        for item in &mut items {
            let by = match o.by {
                Some(pattern) => match lookup(ctx, pattern, &item.element)? {
                    Some(v) => v,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.weight = Some(by);
                }
            } else {
                match number(&by) {
                    Some(n) => item.score = n,
                    None => bad_number = true,
                }
            }
        }
        if bad_number {
            return Err(CmdError::msg(
                "One or more scores can't be converted into double",
            ));
        }
        // Redis compares strings with strcoll (C strings) for a reply, as bytes for a STORE.
        let binary = o.store.is_some();
        let by = o.by.is_some();
        items.sort_by(|x, y| {
            let ord = if !o.alpha {
                x.score
                    .partial_cmp(&y.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| x.element.cmp(&y.element))
            } else if by {
                match (&x.weight, &y.weight) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(a), Some(b)) => text(a, binary).cmp(text(b, binary)),
                }
            } else {
                text(&x.element, binary).cmp(text(&y.element, binary))
            };
            if o.desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    let chosen = items.into_iter().skip(start).take(end - start);
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for item in chosen {
        if o.get.is_empty() {
            out.push(Some(item.element));
            continue;
        }
        for pattern in &o.get {
            out.push(lookup(ctx, pattern, &item.element)?);
        }
    }
    let Some(dst) = o.store else {
        return Ok(Reply::Array(
            out.into_iter()
                .map(|v| v.map_or(Reply::Nil, Reply::bulk))
                .collect(),
        ));
    };
    let n = out.len() as i64;
    // An empty result deletes the destination (an empty list is no key).
    Value::List(out.into_iter().map(Option::unwrap_or_default).collect())
        .store(ctx.txn, ctx.db, dst, 0)?;
    Ok(Reply::Int(n))
}

/// The elements of the list, set or sorted set at `key`: a list's in order, a set's in byte
/// order, a sorted set's by score.
fn elements(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Result<Vec<Vec<u8>>, CmdError> {
    let prefix = member_prefix(ctx.db, key, meta.version);
    let end = prefix_end(&prefix);
    let (cf, skip) = match meta.ty {
        KeyType::List => (Cf::List, None),
        KeyType::Set => (Cf::Set, Some(0)),
        // A score-index key is `prefix | score | member`.
        _ => (Cf::ZScore, Some(8)),
    };
    let mut out = Vec::with_capacity(meta.count.min(1 << 16) as usize);
    for entry in ctx.txn.scan(cf, &prefix, &end, false)? {
        let (k, v) = entry?;
        out.push(match skip {
            None => v,
            Some(n) => k.get(prefix.len() + n..).unwrap_or_default().to_vec(),
        });
    }
    Ok(out)
}

/// The `[start, end)` range of `len` sorted elements that LIMIT selects, clamped as Redis
/// clamps it.
fn window(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let len = len as i64;
    let (offset, count) = limit.unwrap_or((0, -1));
    let start = offset.max(0).min(len);
    let count = count.max(-1).min(len);
    let end = if count < 0 {
        len
    } else {
        (start + count).min(len)
    };
    (start as usize, end.max(start) as usize)
}

/// A weight as SORT reads it: C's `strtod` of the string up to its first NUL, which must be
/// all of it (spaces may lead; nothing at all reads as 0), finite or infinite but not NaN, and
/// not out of range.
fn number(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    if s.is_empty() {
        return Some(0.0);
    }
    let body = &s[s.iter().position(|b| !is_c_space(*b))?..];
    let n = strtod(body)?;
    let subnormal = n.value != 0.0 && n.value.abs() < f64::MIN_POSITIVE;
    (!n.out_of_range && !subnormal && !n.value.is_nan()).then_some(n.value)
}

/// What a BY or GET pattern names for `element`: `#` is the element itself; otherwise the first
/// `*` is replaced by the element, and the result names a string, or with `->field` after the
/// `*` a hash's field. `None` when the pattern has no `*` or nothing of the right type is there.
fn lookup(ctx: &Ctx<'_, '_>, pattern: &[u8], element: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    if c_str(pattern) == b"#" {
        return Ok(Some(element.to_vec()));
    }
    let visible = c_str(pattern);
    let Some(star) = visible.iter().position(|b| *b == b'*') else {
        return Ok(None);
    };
    // `->` followed by at least one character (in C's view) makes the rest a field name.
    let arrow = visible[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&a| a + 2 < visible.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut name = Vec::with_capacity(pattern.len() + element.len());
    name.extend_from_slice(&pattern[..star]);
    name.extend_from_slice(element);
    name.extend_from_slice(&pattern[star + 1..key_end]);
    let Some(meta) = ctx.txn.live_meta(ctx.db, &name, ctx.now_ms)? else {
        return Ok(None);
    };
    Ok(match (arrow, meta.ty) {
        (None, KeyType::String) => Some(meta.value),
        (Some(a), KeyType::Hash) => {
            let field = &pattern[a + 2..];
            let prefix = member_prefix(ctx.db, &name, meta.version);
            ctx.txn.get(Cf::Hash, &member_key(&prefix, field))?
        }
        _ => None,
    })
}
