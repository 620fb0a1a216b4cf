//! Hash commands. Each field is one entry of the `hash` family: `member_prefix + field -> value`;
//! the key's meta record holds the number of fields.

use std::collections::BTreeMap;

use super::args::parse_i64;
use super::cursor::{page_reply, parse_cursor, scan_page, ScanOptions};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::long_double::{sum_text, LongDouble, Parsed};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{member_key, prefix_end};
use crate::storage::{Cf, KeyType, Meta};

mod store;

use store::*;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset),
    spec!("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hmset),
    spec!("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hsetnx),
    spec!("hget", 3, READONLY | FAST, (1, 1, 1), hget),
    spec!("hmget", -3, READONLY | FAST, (1, 1, 1), hmget),
    spec!("hgetall", 2, READONLY, (1, 1, 1), hgetall),
    spec!("hdel", -3, WRITE | FAST, (1, 1, 1), hdel),
    spec!("hlen", 2, READONLY | FAST, (1, 1, 1), hlen),
    spec!("hexists", 3, READONLY | FAST, (1, 1, 1), hexists),
    spec!("hkeys", 2, READONLY, (1, 1, 1), hkeys),
    spec!("hvals", 2, READONLY, (1, 1, 1), hvals),
    spec!("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrby),
    spec!(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        hincrbyfloat
    ),
    spec!("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen),
    spec!("hscan", -3, READONLY, (1, 1, 1), hscan),
    spec!("hrandfield", -2, READONLY, (1, 1, 1), hrandfield),
];

/// Sets each (field, value) pair; returns how many fields are new.
fn set_pairs(ctx: &mut Ctx<'_, '_>, args: &Args) -> Result<i64, CmdError> {
    let key = args.get(1)?;
    let pairs = args.from(2);
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(
            String::from_utf8_lossy(args.get(0)?).to_lowercase(),
        ));
    }
    let existing = ctx.typed_meta(KeyType::Hash, key)?;
    let mut meta = hash_or_create(ctx, key, existing)?;
    let prefix = prefix_of(ctx, key, &meta);
    let mut added = 0;
    for pair in pairs.chunks(2) {
        let mk = member_key(&prefix, &pair[0]);
        if ctx.txn.get(Cf::Hash, &mk)?.is_none() {
            added += 1;
        }
        ctx.txn.put(Cf::Hash, mk, pair[1].to_vec());
    }
    meta.count += added as u64;
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::Int(set_pairs(ctx, args)?))
}

fn hmset(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    set_pairs(ctx, args)?;
    Ok(Reply::ok())
}

fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, field) = (args.get(1)?, args.get(2)?);
    let existing = ctx.typed_meta(KeyType::Hash, key)?;
    if let Some(meta) = &existing {
        if get_field(ctx, &prefix_of(ctx, key, meta), field)?.is_some() {
            return Ok(Reply::Int(0));
        }
    }
    let mut meta = hash_or_create(ctx, key, existing)?;
    let prefix = prefix_of(ctx, key, &meta);
    ctx.txn
        .put(Cf::Hash, member_key(&prefix, field), args.get(3)?.to_vec());
    meta.count += 1;
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(Reply::Int(1))
}

fn hget(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Nil);
    };
    Ok(
        match get_field(ctx, &prefix_of(ctx, key, &meta), args.get(2)?)? {
            Some(v) => Reply::bulk(v),
            None => Reply::Nil,
        },
    )
}

fn hmget(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let fields = args.from(2);
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Array(vec![Reply::Nil; fields.len()]));
    };
    let prefix = prefix_of(ctx, key, &meta);
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        out.push(match get_field(ctx, &prefix, field)? {
            Some(v) => Reply::bulk(v),
            None => Reply::Nil,
        });
    }
    Ok(Reply::Array(out))
}

fn hgetall(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Map(Vec::new()));
    };
    let pairs = entries(ctx, key, &meta)?
        .into_iter()
        .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
        .collect();
    Ok(Reply::Map(pairs))
}

fn hkeys(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::bulks(
        entries(ctx, key, &meta)?.into_iter().map(|(f, _)| f),
    ))
}

fn hvals(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::bulks(
        entries(ctx, key, &meta)?.into_iter().map(|(_, v)| v),
    ))
}

fn hdel(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(mut meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Int(0));
    };
    let prefix = prefix_of(ctx, key, &meta);
    let mut removed = 0u64;
    for field in args.from(2) {
        let mk = member_key(&prefix, field);
        if ctx.txn.get(Cf::Hash, &mk)?.is_some() {
            ctx.txn.delete(Cf::Hash, mk);
            removed += 1;
        }
    }
    if removed > 0 {
        meta.count = meta.count.saturating_sub(removed);
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::Int(removed as i64))
}

fn hlen(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::Int(
        ctx.typed_meta(KeyType::Hash, args.get(1)?)?
            .map(|m| m.count as i64)
            .unwrap_or(0),
    ))
}

fn hexists(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let found = match ctx.typed_meta(KeyType::Hash, key)? {
        Some(meta) => get_field(ctx, &prefix_of(ctx, key, &meta), args.get(2)?)?.is_some(),
        None => false,
    };
    Ok(Reply::Int(found as i64))
}

fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let len = match ctx.typed_meta(KeyType::Hash, key)? {
        Some(meta) => {
            get_field(ctx, &prefix_of(ctx, key, &meta), args.get(2)?)?.map_or(0, |v| v.len())
        }
        None => 0,
    };
    Ok(Reply::Int(len as i64))
}

/// Stores `value` at `field`, creating the hash if needed (HINCRBY, HINCRBYFLOAT).
fn store_field(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    existing: Option<Meta>,
    field: &[u8],
    value: Vec<u8>,
    is_new: bool,
) -> Result<(), CmdError> {
    let mut meta = hash_or_create(ctx, key, existing)?;
    let prefix = prefix_of(ctx, key, &meta);
    ctx.txn.put(Cf::Hash, member_key(&prefix, field), value);
    if is_new {
        meta.count += 1;
    }
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(())
}

fn hincrby(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, field) = (args.get(1)?, args.get(2)?);
    let delta = args.int(3)?;
    let existing = ctx.typed_meta(KeyType::Hash, key)?;
    let current = match &existing {
        Some(meta) => get_field(ctx, &prefix_of(ctx, key, meta), field)?,
        None => None,
    };
    let is_new = current.is_none();
    let old = match current {
        Some(v) => parse_i64(&v).map_err(|_| CmdError::msg("hash value is not an integer"))?,
        None => 0,
    };
    let next = old.checked_add(delta).ok_or(CmdError::Overflow)?;
    store_field(
        ctx,
        key,
        existing,
        field,
        next.to_string().into_bytes(),
        is_new,
    )?;
    Ok(Reply::Int(next))
}

fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, field) = (args.get(1)?, args.get(2)?);
    // Unlike INCRBYFLOAT, Redis reads the increment first.
    let delta = LongDouble::parse(args.get(3)?).ok_or(CmdError::NotFloat)?;
    if delta == Parsed::Infinite {
        return Err(CmdError::msg("value is NaN or Infinity"));
    }
    let existing = ctx.typed_meta(KeyType::Hash, key)?;
    let current = match &existing {
        Some(meta) => get_field(ctx, &prefix_of(ctx, key, meta), field)?,
        None => None,
    };
    let is_new = current.is_none();
    let old = match current {
        Some(v) => {
            LongDouble::parse(&v).ok_or_else(|| CmdError::msg("hash value is not a float"))?
        }
        None => Parsed::Finite(LongDouble::ZERO),
    };
    let text = sum_text(&old, &delta)
        .ok_or_else(|| CmdError::msg("increment would produce NaN or Infinity"))?;
    store_field(ctx, key, existing, field, text.clone().into_bytes(), is_new)?;
    Ok(Reply::bulk(text))
}

fn hscan(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    // Redis checks the cursor, then the key, and only then the options.
    parse_cursor(args.get(2)?)?;
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(page_reply(0, Vec::new()));
    };
    let opts = ScanOptions::parse(args, 2, false, true)?;
    let prefix = prefix_of(ctx, key, &meta);
    let (next, page) = scan_page(ctx, Cf::Hash, &prefix, &prefix_end(&prefix), &opts)?;
    let mut items = Vec::with_capacity(page.len() * 2);
    for (k, v) in page {
        let field = &k[prefix.len()..];
        if !opts.matches(field) {
            continue;
        }
        items.push(Reply::bulk(field.to_vec()));
        if !opts.no_values {
            items.push(Reply::bulk(v));
        }
    }
    Ok(page_reply(next, items))
}

/// The entries at the given positions (in field order) of the hash, one per position, in the
/// order asked; one walk over the hash however many positions repeat.
fn entries_at(
    ctx: &Ctx<'_, '_>,
    key: &[u8],
    meta: &Meta,
    positions: &[u64],
) -> Result<Vec<Entry>, CmdError> {
    let mut wanted: BTreeMap<u64, Option<Entry>> = positions.iter().map(|&p| (p, None)).collect();
    let Some(&last) = wanted.keys().next_back() else {
        return Ok(Vec::new());
    };
    let prefix = prefix_of(ctx, key, meta);
    for (i, entry) in ctx
        .txn
        .scan(Cf::Hash, &prefix, &prefix_end(&prefix), false)?
        .enumerate()
    {
        let i = i as u64;
        if i > last {
            break;
        }
        let (k, v) = entry?;
        if let Some(slot) = wanted.get_mut(&i) {
            *slot = Some((k[prefix.len()..].to_vec(), v));
        }
    }
    Ok(positions
        .iter()
        .filter_map(|p| wanted.get(p).cloned().flatten())
        .collect())
}

fn hrandfield(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    if args.len() < 3 {
        let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
            return Ok(Reply::Nil);
        };
        if meta.count == 0 {
            return Ok(Reply::Nil);
        }
        let at = ctx.rng.below(meta.count);
        return Ok(match entries_at(ctx, key, &meta, &[at])?.pop() {
            Some((field, _)) => Reply::bulk(field),
            None => Reply::Nil,
        });
    }
    let count = args.int(2)?;
    if count == i64::MIN {
        return Err(CmdError::msg(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match args.len() {
        3 => false,
        4 if args.is(3, "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("value is out of range"));
    }
    let Some(meta) = ctx.typed_meta(KeyType::Hash, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 || meta.count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let size = meta.count;
    let positions: Vec<u64> = if count < 0 || count == 1 {
        // With repetition: each pick is independent.
        (0..count.unsigned_abs())
            .map(|_| ctx.rng.below(size))
            .collect()
    } else if count as u64 >= size {
        // The whole hash, as Redis replies in that case.
        (0..size).collect()
    } else {
        ctx.rng.distinct_below(size, count as u64)
    };
    let picked = entries_at(ctx, key, &meta, &positions)?;
    if with_values {
        return Ok(Reply::Pairs(
            picked
                .into_iter()
                .map(|(field, value)| (Reply::bulk(field), Reply::bulk(value)))
                .collect(),
        ));
    }
    Ok(Reply::Array(
        picked.into_iter().map(|(f, _)| Reply::bulk(f)).collect(),
    ))
}

#[cfg(test)]
mod tests;
