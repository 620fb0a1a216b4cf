//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, and Redis's PFDEBUG and PFSELFTEST.
//!
//! A HyperLogLog is a string holding Redis's own encoding ([`hll`]), so TYPE says `string`,
//! GET returns the bytes redis-server would hold, and a value copied from Redis (SET, RESTORE)
//! counts here as it does there.
//!
//! PFCOUNT of one key writes the count it computed into the value's header when the cached one
//! is stale, as Redis does; that makes it a replicated write, but only then: the session routes
//! it through the log only when [`pfcount_fills_cache`] says the cache is stale, so repeated
//! PFCOUNTs stay reads. On a READONLY connection it stays a read and leaves the cache alone.
//!
//! One difference, deliberate: the sparse-to-dense threshold is Redis's default `hll-sparse-max-bytes` (3000), not the
//!   node's setting: PFADD runs on every replica, and a per-node threshold would leave
//!   different bytes on different nodes. The setting is accepted and reported, like the other
//!   encoding tunables.

use bytes::Bytes;

use super::flags::{ADMIN, DENYOOM, FAST, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::{KeyType, Meta};

pub mod hll;

use hll::{HllError, REGISTERS, SPARSE_MAX_BYTES};

pub const COMMANDS: &[CommandSpec] = &[
    spec!("pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), pfadd),
    spec!("pfcount", -2, READONLY, (1, -1, 1), pfcount),
    spec!("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), pfmerge),
    spec!("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), pfdebug),
    spec!("pfselftest", 1, ADMIN, (0, 0, 0), pfselftest),
];

impl From<HllError> for CmdError {
    fn from(e: HllError) -> CmdError {
        CmdError::Raw(e.to_string())
    }
}

/// The HyperLogLog at `key`: `None` when there is none, WRONGTYPE for another type or a
/// string that is not a HyperLogLog.
fn hll_at(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<Meta>, CmdError> {
    let meta = ctx.typed_meta(KeyType::String, key)?;
    if let Some(m) = &meta {
        hll::validate(&m.value)?;
    }
    Ok(meta)
}

/// The HyperLogLog at `key` to update (its TTL kept), or a new empty one: `(meta, created)`.
fn hll_for_update(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<(Meta, bool), CmdError> {
    match hll_at(ctx, key)? {
        Some(meta) => Ok((meta, false)),
        None => {
            let mut meta = ctx.txn.create_key(ctx.db, key, KeyType::String)?;
            meta.value = hll::new_sparse();
            Ok((meta, true))
        }
    }
}

fn pfadd(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let (mut meta, mut updated) = hll_for_update(ctx, key)?;
    for element in args.from(2) {
        updated |= hll::add(&mut meta.value, element, SPARSE_MAX_BYTES)?;
    }
    if updated {
        // A value PFADD created has its cached count marked stale too, as in Redis.
        hll::invalidate_cache(&mut meta.value);
        ctx.txn.save_meta(ctx.db, key, &meta)?;
    }
    Ok(Reply::Int(i64::from(updated)))
}

fn pfcount(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let keys = args.from(1);
    if let [key] = keys {
        let Some(mut meta) = hll_at(ctx, key)? else {
            return Ok(Reply::Int(0));
        };
        let count = hll::count(&meta.value)?;
        if ctx.txn.is_writable() && hll::cached_count(&meta.value).is_none() {
            hll::set_cached_count(&mut meta.value, count);
            ctx.txn.save_meta(ctx.db, key, &meta)?;
        }
        return Ok(Reply::Int(count as i64));
    }
    let mut max = [0u8; REGISTERS];
    for key in keys {
        if let Some(meta) = hll_at(ctx, key)? {
            hll::merge_into(&mut max, &meta.value)?;
        }
    }
    Ok(Reply::Int(hll::count_registers(&max) as i64))
}

/// Whether PFCOUNT `argv` would fill a stale cached count (one key, a HyperLogLog whose cache
/// is stale): then the session runs it as a write, through the log, as Redis replicates it.
pub fn pfcount_fills_cache(ctx: &Ctx<'_, '_>, argv: &[Bytes]) -> bool {
    let [_, key] = argv else {
        return false;
    };
    matches!(hll_at(ctx, key), Ok(Some(meta)) if hll::cached_count(&meta.value).is_none())
}

fn pfmerge(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let dest = args.get(1)?;
    // The destination is one of the sources, as in Redis.
    let mut max = [0u8; REGISTERS];
    let mut use_dense = false;
    for key in args.from(1) {
        if let Some(meta) = hll_at(ctx, key)? {
            use_dense |= !hll::is_sparse(&meta.value);
            hll::merge_into(&mut max, &meta.value)?;
        }
    }
    let (mut meta, _) = hll_for_update(ctx, dest)?;
    if use_dense {
        hll::to_dense(&mut meta.value)?;
    }
    hll::store_registers(&mut meta.value, &max, SPARSE_MAX_BYTES)?;
    ctx.txn.save_meta(ctx.db, dest, &meta)?;
    Ok(Reply::ok())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: Redis's introspection of the encoding, which
/// its own tests (and some users') rely on.
fn pfdebug(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let sub = args.get(1)?.to_ascii_lowercase();
    let key = args.get(2)?;
    let Some(mut meta) = hll_at(ctx, key)? else {
        return Err(CmdError::msg("The specified key does not exist"));
    };
    match sub.as_slice() {
        b"getreg" => {
            if hll::to_dense(&mut meta.value)? {
                ctx.txn.save_meta(ctx.db, key, &meta)?;
            }
            let registers = hll::registers(&meta.value)?;
            Ok(Reply::Array(
                registers.iter().map(|r| Reply::Int(*r as i64)).collect(),
            ))
        }
        b"decode" => {
            if !hll::is_sparse(&meta.value) {
                return Err(CmdError::msg("HLL encoding is not sparse"));
            }
            Ok(Reply::bulk(Bytes::from(hll::decode_sparse(&meta.value))))
        }
        b"encoding" => Ok(Reply::Simple(
            if hll::is_sparse(&meta.value) {
                "sparse"
            } else {
                "dense"
            }
            .into(),
        )),
        b"todense" => {
            let converted = hll::to_dense(&mut meta.value)?;
            if converted {
                ctx.txn.save_meta(ctx.db, key, &meta)?;
            }
            Ok(Reply::Int(i64::from(converted)))
        }
        _ => Err(CmdError::msg(format!(
            "Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(args.get(1)?)
        ))),
    }
}

/// PFSELFTEST: checks this build's encoding against itself, as Redis's does: every register
/// of a dense value reads back what was written, and sparse and dense values fed the same
/// elements hold the same registers and the same count, close to the truth.
fn pfselftest(ctx: &mut Ctx<'_, '_>, _args: &Args) -> CmdResult {
    let failed = |what: String| Err(CmdError::Raw(format!("ERR TESTFAILED {what}")));
    let mut registers = [0u8; REGISTERS];
    for r in registers.iter_mut() {
        *r = (ctx.rng.next_u64() % 52) as u8;
    }
    let mut dense = hll::new_sparse();
    hll::to_dense(&mut dense)?;
    hll::store_registers(&mut dense, &registers, SPARSE_MAX_BYTES)?;
    if hll::registers(&dense)? != registers {
        return failed("Register error".into());
    }
    let mut sparse = hll::new_sparse();
    let mut dense = hll::new_sparse();
    hll::to_dense(&mut dense)?;
    for i in 0..10_000u32 {
        let element = ctx.rng.next_u64().to_le_bytes();
        hll::add(&mut sparse, &element, usize::MAX)?;
        hll::add(&mut dense, &element, usize::MAX)?;
        if matches!(i, 9 | 99 | 999 | 9_999) {
            let (a, b) = (hll::count(&sparse)?, hll::count(&dense)?);
            let error = (a as f64 - f64::from(i + 1)).abs() / f64::from(i + 1);
            if a != b || error > 0.05 {
                return failed(format!(
                    "Sparse and dense counts differ or are off: {a} / {b} for {}",
                    i + 1
                ));
            }
        }
    }
    Ok(Reply::ok())
}
