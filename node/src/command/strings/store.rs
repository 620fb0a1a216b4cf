//! How a string is stored: inline in the key's meta record, with its TTL.

use crate::command::{CmdError, Ctx};
use crate::storage::KeyType;

/// What a write does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ttl {
    /// Keep the current deadline (KEEPTTL, APPEND, INCR, SETRANGE).
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
