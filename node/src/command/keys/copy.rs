//! Commands that copy or move values between keys and databases: COPY, MOVE, SWAPDB, and the
//! member copy RENAME shares with them.
//!
//! Member keys embed the database and the key name (see `storage`), so a value changes key or
//! database only by copying its members under the new prefix: these commands take time in
//! proportion to the value (SWAPDB to both databases), and run off the async workers
//! (`CommandSpec::may_run_long`).

use std::sync::atomic::{AtomicU16, Ordering};

use super::{Args, CmdError, CmdResult, Ctx};
use crate::command::args::parse_i64;
use crate::resp::Reply;
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta, Txn};

/// The number of databases (`databases` in the config), for the commands that name one. Every
/// node of a cluster must have the same, as SELECT already assumes: the check runs on each
/// replica as it applies the command.
static DATABASES: AtomicU16 = AtomicU16::new(16);

/// Sets the number of databases (at startup, from the config).
pub fn set_databases(n: u16) {
    DATABASES.store(n, Ordering::Relaxed);
}

fn out_of_range() -> CmdError {
    CmdError::msg("DB index is out of range")
}

/// A C `int` as Redis's `getIntFromObjectOrReply` reads one: an integer, then the int range.
fn parse_int(raw: &[u8]) -> Result<i64, CmdError> {
    let n = parse_i64(raw)?;
    if i32::try_from(n).is_err() {
        return Err(CmdError::msg(
            "value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Ok(n)
}

/// A database that exists, from an index already read as an integer.
fn existing_db(n: i64) -> Result<u8, CmdError> {
    if n < 0 || n >= i64::from(DATABASES.load(Ordering::Relaxed)) {
        return Err(out_of_range());
    }
    Ok(n as u8)
}

/// Copies the value at `src` of database `src_db` (live, described by `meta`) to `dst` of
/// `dst_db`, with its deadline, replacing whatever `dst` holds there.
pub(super) fn copy_value(
    txn: &mut Txn<'_>,
    (src_db, src): (u8, &[u8]),
    meta: &Meta,
    (dst_db, dst): (u8, &[u8]),
) -> Result<(), CmdError> {
    let mut copy = txn.create_key(dst_db, dst, meta.ty)?;
    copy.expire_at = meta.expire_at;
    copy.count = meta.count;
    copy.head = meta.head;
    copy.tail = meta.tail;
    copy.value = meta.value.clone();
    if let Some(cf) = meta.ty.member_cf() {
        let from = member_prefix(src_db, src, meta.version);
        let to = member_prefix(dst_db, dst, copy.version);
        let mut families = vec![cf];
        if meta.ty == KeyType::ZSet {
            families.push(Cf::ZScore);
        }
        for cf in families {
            let entries: Vec<(Vec<u8>, Vec<u8>)> = txn
                .scan(cf, &from, &prefix_end(&from), false)?
                .collect::<Result<_, _>>()?;
            for (k, v) in entries {
                txn.put(cf, member_key(&to, &k[from.len()..]), v);
            }
        }
    }
    txn.save_meta(dst_db, dst, &copy)?;
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]
pub(super) fn copy(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (src, dst) = (args.get(1)?, args.get(2)?);
    let mut dst_db = ctx.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "REPLACE") {
            replace = true;
        } else if args.is(i, "DB") && i + 1 < args.len() {
            dst_db = existing_db(parse_int(args.get(i + 1)?)?)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if dst_db == ctx.db && src == dst {
        return Err(CmdError::msg("source and destination objects are the same"));
    }
    let Some(meta) = ctx.txn.live_meta(ctx.db, src, ctx.now_ms)? else {
        return Ok(Reply::Int(0));
    };
    if !replace && ctx.txn.live_meta(dst_db, dst, ctx.now_ms)?.is_some() {
        return Ok(Reply::Int(0));
    }
    copy_value(ctx.txn, (ctx.db, src), &meta, (dst_db, dst))?;
    Ok(Reply::Int(1))
}

/// MOVE key db
pub(super) fn move_key(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let dst_db = existing_db(parse_int(args.get(2)?)?)?;
    if dst_db == ctx.db {
        return Err(CmdError::msg("source and destination objects are the same"));
    }
    let Some(meta) = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? else {
        return Ok(Reply::Int(0));
    };
    if ctx.txn.live_meta(dst_db, key, ctx.now_ms)?.is_some() {
        return Ok(Reply::Int(0));
    }
    copy_value(ctx.txn, (ctx.db, key), &meta, (dst_db, key))?;
    ctx.txn.delete_key(ctx.db, key)?;
    Ok(Reply::Int(1))
}

/// SWAPDB index1 index2
///
/// Every record of the two databases is rewritten under the other's index, in the one write
/// batch that applies the command, so every replica swaps at the same point of the log. An
/// indirection (a table from the database a client selects to the one its records carry) would
/// make the swap O(1), but every command, read or write, on every node would then translate its
/// database through that replicated table: a cost on the hot path for a rare administrative
/// command.
pub(super) fn swapdb(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let a = parse_int(args.get(1)?).map_err(|_| CmdError::msg("invalid first DB index"))?;
    let b = parse_int(args.get(2)?).map_err(|_| CmdError::msg("invalid second DB index"))?;
    let (a, b) = (existing_db(a)?, existing_db(b)?);
    ctx.txn.swap_dbs(a, b)?;
    Ok(Reply::ok())
}
