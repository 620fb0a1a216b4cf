//! Hash commands. Each field is one entry of the `hash` family: `member_prefix + field -> value`;
//! the key's meta record holds the number of fields.

use std::collections::BTreeMap;

use super::args::parse_i64;
use super::cursor::{page_reply, parse_cursor, scan_page, ScanOptions};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::long_double::{sum_text, LongDouble, Parsed};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta};

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

/// A (field, value) pair.
type Entry = (Vec<u8>, Vec<u8>);

/// The hash at `key`, created empty (not yet saved) when missing. Call only once the command
/// can no longer fail, so a failed command never leaves a half-created key behind.
fn hash_or_create(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    existing: Option<Meta>,
) -> Result<Meta, CmdError> {
    match existing {
        Some(m) => Ok(m),
        None => Ok(ctx.txn.create_key(ctx.db, key, KeyType::Hash)?),
    }
}

fn prefix_of(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Vec<u8> {
    member_prefix(ctx.db, key, meta.version)
}

fn get_field(ctx: &Ctx<'_, '_>, prefix: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(ctx.txn.get(Cf::Hash, &member_key(prefix, field))?)
}

/// Every (field, value) pair of the hash, in field order.
fn entries(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Result<Vec<Entry>, CmdError> {
    let prefix = prefix_of(ctx, key, meta);
    let mut out = Vec::with_capacity(meta.count.min(1 << 16) as usize);
    for entry in ctx
        .txn
        .scan(Cf::Hash, &prefix, &prefix_end(&prefix), false)?
    {
        let (k, v) = entry?;
        out.push((k[prefix.len()..].to_vec(), v));
    }
    Ok(out)
}

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
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::command::testing::{bulk, bulks, err, int, TestDb};
    use crate::resp::Reply;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn map(pairs: &[(&str, &str)]) -> Reply {
        Reply::Map(pairs.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
    }

    fn strings(r: Reply) -> Vec<String> {
        match r {
            Reply::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    other => panic!("not a bulk: {other:?}"),
                })
                .collect(),
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn hset_hget_and_counts() {
        let mut t = TestDb::new();
        assert_eq!(t.run("HSET h f1 v1 f2 v2"), int(2));
        assert_eq!(t.run("HSET h f1 x f3 v3"), int(1));
        assert_eq!(
            t.run("HSET h f4 a f4 b"),
            int(1),
            "a field repeated in one call counts once"
        );
        assert_eq!(t.run("HGET h f4"), bulk("b"));
        assert_eq!(t.run("HGET h f1"), bulk("x"));
        assert_eq!(t.run("HGET h nope"), Reply::Nil);
        assert_eq!(t.run("HGET missing f"), Reply::Nil);
        assert_eq!(t.run("HLEN h"), int(4));
        assert_eq!(t.run("HLEN missing"), int(0));
        assert_eq!(t.run("TYPE h"), Reply::Simple("hash".into()));
        assert_eq!(
            t.run("HSET h f"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            t.run("HSET h f v g"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            t.run("HMSET h f v g"),
            err("ERR wrong number of arguments for 'hmset' command")
        );
        assert_eq!(t.run("HMSET h f1 y f5 z"), Reply::ok());
        assert_eq!(t.run("HLEN h"), int(5));
        assert_eq!(t.run("HSET h empty \"\""), int(1));
        assert_eq!(t.run("HGET h empty"), bulk(""));
        assert_eq!(t.run("HSTRLEN h empty"), int(0));
        assert_eq!(
            t.run("HGET h"),
            err("ERR wrong number of arguments for 'hget' command")
        );
    }

    #[test]
    fn hsetnx_hexists_hstrlen() {
        let mut t = TestDb::new();
        assert_eq!(t.run("HSETNX h f v"), int(1));
        assert_eq!(t.run("HSETNX h f w"), int(0));
        assert_eq!(t.run("HGET h f"), bulk("v"));
        assert_eq!(t.run("HSETNX h g w"), int(1));
        assert_eq!(t.run("HLEN h"), int(2));
        assert_eq!(t.run("HEXISTS h f"), int(1));
        assert_eq!(t.run("HEXISTS h nope"), int(0));
        assert_eq!(t.run("HEXISTS missing f"), int(0));
        assert_eq!(t.run("HSET h long hello"), int(1));
        assert_eq!(t.run("HSTRLEN h long"), int(5));
        assert_eq!(t.run("HSTRLEN h nope"), int(0));
        assert_eq!(t.run("HSTRLEN missing f"), int(0));
        assert_eq!(
            t.run("HSETNX h f"),
            err("ERR wrong number of arguments for 'hsetnx' command")
        );
        assert_eq!(
            t.run("HEXISTS h"),
            err("ERR wrong number of arguments for 'hexists' command")
        );
        assert_eq!(
            t.run("HSTRLEN h a b"),
            err("ERR wrong number of arguments for 'hstrlen' command")
        );
    }

    #[test]
    fn hmget_hgetall_hkeys_hvals_in_field_order() {
        let mut t = TestDb::new();
        t.run("HSET h b 2 a 1 c 3");
        assert_eq!(
            t.run("HMGET h a nope c"),
            Reply::Array(vec![bulk("1"), Reply::Nil, bulk("3")])
        );
        assert_eq!(
            t.run("HMGET missing a b"),
            Reply::Array(vec![Reply::Nil, Reply::Nil])
        );
        assert_eq!(
            t.run("HGETALL h"),
            map(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
        assert_eq!(t.run("HKEYS h"), bulks(&["a", "b", "c"]));
        assert_eq!(t.run("HVALS h"), bulks(&["1", "2", "3"]));
        assert_eq!(t.run("HGETALL missing"), Reply::Map(vec![]));
        assert_eq!(t.run("HKEYS missing"), Reply::Array(vec![]));
        assert_eq!(t.run("HVALS missing"), Reply::Array(vec![]));
        assert_eq!(
            t.run("HMGET h"),
            err("ERR wrong number of arguments for 'hmget' command")
        );
        assert_eq!(
            t.run("HGETALL h x"),
            err("ERR wrong number of arguments for 'hgetall' command")
        );
        // Another key's fields never leak in, even one whose name extends this one.
        t.run("HSET hh z 9");
        t.run("HSET g y 8");
        assert_eq!(t.run("HKEYS h"), bulks(&["a", "b", "c"]));
    }

    #[test]
    fn hdel_removes_fields_and_empty_keys() {
        let mut t = TestDb::new();
        t.run("HSET h a 1 b 2 c 3");
        assert_eq!(t.run("HDEL h a a nope"), int(1));
        assert_eq!(t.run("HLEN h"), int(2));
        assert_eq!(t.run("HDEL missing a"), int(0));
        assert_eq!(t.run("HDEL h nope"), int(0));
        assert_eq!(t.run("HDEL h b c"), int(2));
        assert_eq!(t.run("EXISTS h"), int(0), "an emptied hash is deleted");
        assert_eq!(t.run("HGETALL h"), Reply::Map(vec![]));
        // Re-created: no stale fields come back.
        assert_eq!(t.run("HSET h x 1"), int(1));
        assert_eq!(t.run("HKEYS h"), bulks(&["x"]));
        assert_eq!(
            t.run("HDEL h"),
            err("ERR wrong number of arguments for 'hdel' command")
        );
    }

    #[test]
    fn wrong_type_everywhere() {
        let mut t = TestDb::new();
        t.run("SET s v");
        for cmd in [
            "HSET s f v",
            "HMSET s f v",
            "HSETNX s f v",
            "HGET s f",
            "HMGET s f",
            "HGETALL s",
            "HDEL s f",
            "HLEN s",
            "HEXISTS s f",
            "HKEYS s",
            "HVALS s",
            "HINCRBY s f 1",
            "HINCRBYFLOAT s f 1",
            "HSTRLEN s f",
            "HSCAN s 0",
            "HSCAN s 0 BOGUS",
            "HRANDFIELD s",
            "HRANDFIELD s 0",
            "HRANDFIELD s -3 WITHVALUES",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
        assert_eq!(t.run("GET s"), bulk("v"), "the string is untouched");
        // Argument errors are reported before the type check, as in Redis.
        assert_eq!(
            t.run("HSET s f v g"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            t.run("HINCRBY s f x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT s f x"),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT s f inf"),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(t.run("HSCAN s x"), err("ERR invalid cursor"));
        assert_eq!(
            t.run("HRANDFIELD s x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("HRANDFIELD s 1 bogus"), err("ERR syntax error"));
    }

    #[test]
    fn hincrby() {
        let mut t = TestDb::new();
        assert_eq!(t.run("HINCRBY h n 5"), int(5));
        assert_eq!(t.run("HINCRBY h n -7"), int(-2));
        assert_eq!(t.run("HGET h n"), bulk("-2"));
        assert_eq!(t.run("HLEN h"), int(1));
        t.run("HSET h a abc max 9223372036854775807 neg0 -0 e \"\" min -9223372036854775808");
        assert_eq!(
            t.run("HINCRBY h a 1"),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            t.run("HINCRBY h neg0 1"),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            t.run("HINCRBY h e 1"),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            t.run("HINCRBY h max 1"),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(
            t.run("HINCRBY h min -1"),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(t.run("HINCRBY h max -1"), int(9223372036854775806));
        assert_eq!(
            t.run("HINCRBY h x 9223372036854775808"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("HINCRBY h x 1.5"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("HINCRBY h z -9223372036854775808"), int(i64::MIN));
        assert_eq!(t.run("HLEN h"), int(7));
        assert_eq!(
            t.run("HINCRBY h n"),
            err("ERR wrong number of arguments for 'hincrby' command")
        );
        assert_eq!(
            t.run("HINCRBY bad f x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("EXISTS bad"),
            int(0),
            "a failed increment creates nothing"
        );
    }

    #[test]
    fn hincrbyfloat() {
        let mut t = TestDb::new();
        assert_eq!(t.run("HINCRBYFLOAT h f 10.5"), bulk("10.5"));
        assert_eq!(t.run("HINCRBYFLOAT h f 0.1"), bulk("10.6"));
        assert_eq!(t.run("HINCRBYFLOAT h f -5.6"), bulk("5"));
        assert_eq!(t.run("HINCRBYFLOAT h g 1.0e1"), bulk("10"));
        assert_eq!(t.run("HINCRBYFLOAT h d 0.25"), bulk("0.25"));
        assert_eq!(t.run("HINCRBYFLOAT h d 0.5"), bulk("0.75"));
        assert_eq!(t.run("HINCRBYFLOAT h g -10"), bulk("0"));
        t.run("HSET h a abc neg0 -0 sp \" 1\" e \"\" i 3");
        assert_eq!(t.run("HINCRBYFLOAT h neg0 1"), bulk("1"));
        assert_eq!(t.run("HINCRBYFLOAT h i 1.5"), bulk("4.5"));
        assert_eq!(
            t.run("HINCRBYFLOAT h a 1"),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h sp 1"),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h e 1"),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h f inf"),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h f -inf"),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h f nan"),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h f abc"),
            err("ERR value is not a valid float")
        );
        // Redis adds in long double, whose range ends near 1.19e4932 (not f64's 1.8e308).
        t.run("HSET h big 1.1e4932");
        assert_eq!(
            t.run("HINCRBYFLOAT h big 1.1e4932"),
            err("ERR increment would produce NaN or Infinity")
        );
        assert_eq!(
            t.run("HGET h big"),
            bulk("1.1e4932"),
            "unchanged after the error"
        );
        assert_eq!(
            t.run("HINCRBYFLOAT h f"),
            err("ERR wrong number of arguments for 'hincrbyfloat' command")
        );
    }

    #[test]
    fn hscan_pages_through_fields() {
        let mut t = TestDb::new();
        for i in 0..25 {
            t.run(&format!("HSET h f{i:02} v{i}"));
        }
        t.run("HSET other f00 x");
        let mut seen = BTreeMap::new();
        let mut cursor = "0".to_string();
        let mut pages = 0;
        loop {
            let Reply::Array(parts) = t.run(&format!("HSCAN h {cursor} COUNT 10")) else {
                panic!("not an array");
            };
            let Reply::Bulk(next) = &parts[0] else {
                panic!("cursor not a bulk")
            };
            let items = strings(parts[1].clone());
            assert!(items.len() <= 20);
            for pair in items.chunks(2) {
                seen.insert(pair[0].clone(), pair[1].clone());
            }
            pages += 1;
            cursor = String::from_utf8(next.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 25);
        assert_eq!(seen["f07"], "v7");

        let page = t.run("HSCAN h 0 MATCH f1* COUNT 100");
        assert_eq!(
            page,
            Reply::Array(vec![
                bulk("0"),
                bulks(&[
                    "f10", "v10", "f11", "v11", "f12", "v12", "f13", "v13", "f14", "v14", "f15",
                    "v15", "f16", "v16", "f17", "v17", "f18", "v18", "f19", "v19",
                ])
            ])
        );
        let page = t.run("HSCAN h 0 MATCH f2? NOVALUES COUNT 100");
        assert_eq!(
            page,
            Reply::Array(vec![bulk("0"), bulks(&["f20", "f21", "f22", "f23", "f24"])])
        );
        let empty = Reply::Array(vec![bulk("0"), Reply::Array(vec![])]);
        assert_eq!(t.run("HSCAN missing 0"), empty);
        assert_eq!(
            t.run("HSCAN missing 0 COUNT 0"),
            empty,
            "options of a missing key go unchecked"
        );
        assert_eq!(t.run("HSCAN h 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(t.run("HSCAN h 0 TYPE hash"), err("ERR syntax error"));
        assert_eq!(t.run("HSCAN h 0 MATCH"), err("ERR syntax error"));
        assert_eq!(t.run("HSCAN h x"), err("ERR invalid cursor"));
        assert_eq!(t.run("HSCAN missing x"), err("ERR invalid cursor"));
        assert_eq!(
            t.run("HSCAN h"),
            err("ERR wrong number of arguments for 'hscan' command")
        );
    }

    #[test]
    fn hrandfield_without_count() {
        let mut t = TestDb::new();
        assert_eq!(t.run("HRANDFIELD missing"), Reply::Nil);
        t.run("HSET h a 1 b 2 c 3");
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            match t.run("HRANDFIELD h") {
                Reply::Bulk(b) => {
                    seen.insert(String::from_utf8(b.to_vec()).unwrap());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            seen,
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(
            t.run("HRANDFIELD"),
            err("ERR wrong number of arguments for 'hrandfield' command")
        );
    }

    #[test]
    fn hrandfield_with_count() {
        let mut t = TestDb::new();
        let empty = Reply::Array(vec![]);
        assert_eq!(t.run("HRANDFIELD missing 0"), empty);
        assert_eq!(t.run("HRANDFIELD missing 3 WITHVALUES"), empty);
        assert_eq!(t.run("HRANDFIELD missing -3"), empty);
        for i in 0..10 {
            t.run(&format!("HSET h f{i} v{i}"));
        }
        assert_eq!(t.run("HRANDFIELD h 0"), empty);
        assert_eq!(t.run("HRANDFIELD h 0 WITHVALUES"), empty);

        // Positive count: distinct fields, at most the hash's size.
        for n in [1, 3, 9] {
            let got = strings(t.run(&format!("HRANDFIELD h {n}")));
            assert_eq!(got.len(), n);
            assert_eq!(
                got.iter().collect::<BTreeSet<_>>().len(),
                n,
                "distinct: {got:?}"
            );
        }
        let all = strings(t.run("HRANDFIELD h 100"));
        assert_eq!(all, (0..10).map(|i| format!("f{i}")).collect::<Vec<_>>());

        // Negative count: exactly |count| fields, repetition allowed.
        let got = strings(t.run("HRANDFIELD h -50"));
        assert_eq!(got.len(), 50);
        assert!(got.iter().collect::<BTreeSet<_>>().len() < 50);
        assert!(got.iter().all(|f| f.starts_with('f')));

        // WITHVALUES interleaves each field's own value.
        for cmd in [
            "HRANDFIELD h 4 WITHVALUES",
            "HRANDFIELD h -30 withvalues",
            "HRANDFIELD h 20 WITHVALUES",
        ] {
            let got = strings(t.run(cmd));
            for pair in got.chunks(2) {
                assert_eq!(pair[1], pair[0].replace('f', "v"), "{cmd}");
            }
        }
        assert_eq!(strings(t.run("HRANDFIELD h -30 WITHVALUES")).len(), 60);
        assert_eq!(strings(t.run("HRANDFIELD h 20 WITHVALUES")).len(), 20);

        assert_eq!(t.run("HRANDFIELD h 1 WITHVALUE"), err("ERR syntax error"));
        assert_eq!(
            t.run("HRANDFIELD h 1 WITHVALUES x"),
            err("ERR syntax error")
        );
        assert_eq!(t.run("HRANDFIELD missing 1 bogus"), err("ERR syntax error"));
        assert_eq!(
            t.run("HRANDFIELD h x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("HRANDFIELD h -9223372036854775808"),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            t.run("HRANDFIELD h 9223372036854775807 WITHVALUES"),
            err("ERR value is out of range")
        );
    }

    #[test]
    fn expired_hash_is_gone_and_recreated_fresh() {
        let mut t = TestDb::new();
        t.run("HSET h a 1 b 2");
        assert_eq!(t.run("PEXPIRE h 100"), int(1));
        assert_eq!(t.run("HSET h c 3"), int(1));
        assert_eq!(t.run("PTTL h"), int(100), "writing a field keeps the TTL");
        t.now_ms += 100;
        assert_eq!(t.run("HLEN h"), int(0));
        assert_eq!(t.run("HGET h a"), Reply::Nil);
        assert_eq!(t.run("HSET h x 1"), int(1));
        assert_eq!(t.run("HGETALL h"), map(&[("x", "1")]));
        assert_eq!(t.run("TTL h"), int(-1));
    }

    #[test]
    fn command_table_entries() {
        use crate::command::{flags, lookup};
        for name in ["hset", "hmset", "hsetnx", "hincrby", "hincrbyfloat"] {
            let spec = lookup(name.as_bytes()).unwrap();
            assert_eq!(
                spec.flags,
                flags::WRITE | flags::DENYOOM | flags::FAST,
                "{name}"
            );
        }
        assert_eq!(lookup(b"hdel").unwrap().flags, flags::WRITE | flags::FAST);
        for name in ["hget", "hmget", "hlen", "hexists", "hstrlen"] {
            assert_eq!(
                lookup(name.as_bytes()).unwrap().flags,
                flags::READONLY | flags::FAST,
                "{name}"
            );
        }
        for name in ["hgetall", "hkeys", "hvals", "hscan", "hrandfield"] {
            assert_eq!(
                lookup(name.as_bytes()).unwrap().flags,
                flags::READONLY,
                "{name}"
            );
        }
        assert_eq!(lookup(b"HSET").unwrap().keys, (1, 1, 1));
    }
}
