//! How a set is stored: one key per member under the set's prefix, and reading members by key order
//! or position.

use bytes::Bytes;

use crate::command::{CmdError, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{member_key, member_prefix, prefix_end};
use crate::storage::{Cf, Meta};

pub(super) fn prefix_of(ctx: &Ctx<'_, '_>, key: &[u8], meta: &Meta) -> Vec<u8> {
    member_prefix(ctx.db, key, meta.version)
}

pub(super) fn is_member(ctx: &Ctx<'_, '_>, prefix: &[u8], member: &[u8]) -> Result<bool, CmdError> {
    Ok(ctx.txn.get(Cf::Set, &member_key(prefix, member))?.is_some())
}

/// Every member under `prefix`, in key order.
pub(super) fn members(ctx: &Ctx<'_, '_>, prefix: &[u8]) -> Result<Vec<Vec<u8>>, CmdError> {
    let mut out = Vec::new();
    for entry in ctx.txn.scan(Cf::Set, prefix, &prefix_end(prefix), false)? {
        let (k, _) = entry?;
        out.push(k[prefix.len()..].to_vec());
    }
    Ok(out)
}

/// The member at position `index` (in key order) of a set of `len` members, walking from
/// whichever end is nearer.
pub(super) fn member_at(
    ctx: &Ctx<'_, '_>,
    prefix: &[u8],
    len: u64,
    index: u64,
) -> Result<Option<Vec<u8>>, CmdError> {
    let reverse = index >= len / 2;
    let skip = if reverse { len - 1 - index } else { index };
    let mut scan = ctx
        .txn
        .scan(Cf::Set, prefix, &prefix_end(prefix), reverse)?;
    match scan.nth(skip as usize) {
        Some(entry) => Ok(Some(entry?.0[prefix.len()..].to_vec())),
        None => Ok(None),
    }
}

/// The members at `indexes` (key-order positions, repeats allowed), in the order given, resolved
/// in one pass over the set.
pub(super) fn members_at(
    ctx: &Ctx<'_, '_>,
    prefix: &[u8],
    indexes: &[u64],
) -> Result<Vec<Bytes>, CmdError> {
    let mut order: Vec<usize> = (0..indexes.len()).collect();
    order.sort_by_key(|&i| indexes[i]);
    let mut out: Vec<Option<Bytes>> = vec![None; indexes.len()];
    let mut next = 0;
    for (pos, entry) in ctx
        .txn
        .scan(Cf::Set, prefix, &prefix_end(prefix), false)?
        .enumerate()
    {
        if next == order.len() {
            break;
        }
        let (k, _) = entry?;
        if indexes[order[next]] != pos as u64 {
            continue;
        }
        let member = Bytes::copy_from_slice(&k[prefix.len()..]);
        while next < order.len() && indexes[order[next]] == pos as u64 {
            out[order[next]] = Some(member.clone());
            next += 1;
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// `count` distinct key-order positions out of `len`, in the order drawn.
pub(super) fn distinct_indexes(ctx: &mut Ctx<'_, '_>, len: u64, count: u64) -> Vec<u64> {
    ctx.rng.distinct_below(len, count)
}

pub(super) fn set_reply(items: Vec<Vec<u8>>) -> Reply {
    Reply::Set(items.into_iter().map(Reply::bulk).collect())
}
