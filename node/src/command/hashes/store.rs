//! How a hash is stored: one key per field under the hash's prefix, the value beside it.

use crate::command::{CmdError, Ctx};
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta};

/// A (field, value) pair.
pub(super) type Entry = (Vec<u8>, Vec<u8>);

/// The hash at `key`, created empty (not yet saved) when missing. Call only once the command
/// can no longer fail, so a failed command never leaves a half-created key behind.
pub(super) fn hash_or_create(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    existing: Option<Meta>,
) -> Result<Meta, CmdError> {
    match existing {
        Some(m) => Ok(m),
        None => Ok(ctx.txn.create_key(ctx.db, key, KeyType::Hash)?),
    }
}

pub(super) fn prefix_of(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Vec<u8> {
    member_prefix(ctx.db, key, meta.version)
}

pub(super) fn get_field(
    ctx: &Ctx<'_, '_>,
    prefix: &[u8],
    field: &[u8],
) -> Result<Option<Vec<u8>>, CmdError> {
    Ok(ctx.txn.get(Cf::Hash, &member_key(prefix, field))?)
}

/// Every (field, value) pair of the hash, in field order.
pub(super) fn entries(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Result<Vec<Entry>, CmdError> {
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
