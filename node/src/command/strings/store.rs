//! How a string is stored: inline in the key's meta record, with its TTL.

use crate::command::{CmdError, Ctx};
use crate::storage::{KeyType, Meta};

/// What a write does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ttl {
    /// Keep the current deadline (KEEPTTL, APPEND, INCR).
    Keep,
    /// Remove any deadline (plain SET).
    Clear,
    /// Expire at this Unix time in milliseconds.
    At(u64),
}

/// Stores a string at `key`, replacing any value of any type.
pub fn put_string(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    value: Vec<u8>,
    ttl: Ttl,
) -> Result<(), CmdError> {
    let existing = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?;
    let mut meta = match existing {
        Some(m) if m.ty == KeyType::String => m,
        Some(old) => {
            let expire_at = old.expire_at;
            let mut m = ctx.txn.create_key(ctx.db, key, KeyType::String)?;
            m.expire_at = expire_at;
            m
        }
        None => ctx.txn.create_key(ctx.db, key, KeyType::String)?,
    };
    meta.value = value;
    match ttl {
        Ttl::Keep => {}
        Ttl::Clear => meta.expire_at = 0,
        Ttl::At(at) => meta.expire_at = at,
    }
    ctx.txn.save_meta(ctx.db, key, &meta)?;
    Ok(())
}

/// The string at `key`, to be changed in place and saved with [`save_string`] (SETBIT,
/// BITFIELD): its live record (TTL kept), or a new empty string when there is none.
/// WRONGTYPE for a key of another type. The value is the one copy a write makes of it: a
/// SETBIT on a 512 MB string grows and edits this buffer rather than building another.
pub fn string_for_update(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Meta, CmdError> {
    let existing = ctx.typed_meta(KeyType::String, key)?;
    or_new_string(ctx, key, existing)
}

/// `existing` (a live string at `key` from [`Ctx::typed_meta`]), or a new empty string to be
/// saved with [`save_string`], for writes that check their arguments against the old value
/// before they create anything (SETRANGE, APPEND).
pub fn or_new_string(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    existing: Option<Meta>,
) -> Result<Meta, CmdError> {
    match existing {
        Some(meta) => Ok(meta),
        None => Ok(ctx.txn.create_key(ctx.db, key, KeyType::String)?),
    }
}

/// Saves a string from [`string_for_update`].
pub fn save_string(ctx: &mut Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Result<(), CmdError> {
    Ok(ctx.txn.save_meta(ctx.db, key, meta)?)
}

/// Pads `value` with zero bytes up to `len` (SETBIT, BITFIELD and SETRANGE grow strings so).
/// A new value is allocated zeroed, which leaves its pages to the kernel until written; an old
/// one grows a block at a time, each a plain copy, which stays fast in unoptimized builds too
/// (a byte-by-byte `resize` of 512 MB takes seconds there).
pub fn grow_zeroed(value: &mut Vec<u8>, len: usize) {
    static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
    if value.len() >= len {
        return;
    }
    if value.is_empty() {
        *value = vec![0; len];
        return;
    }
    value.reserve_exact(len - value.len());
    while value.len() < len {
        let n = (len - value.len()).min(ZEROS.len());
        value.extend_from_slice(&ZEROS[..n]);
    }
}
