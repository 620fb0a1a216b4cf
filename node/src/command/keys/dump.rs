//! DUMP and RESTORE, in Redis's own serialization (see [`super::rdb`]).

use super::rdb::{self, PayloadError};
use super::value::Value;
use super::{Args, CmdError, CmdResult, Ctx};
use crate::command::args::parse_i64;
use crate::resp::Reply;

/// DUMP key
pub(super) fn dump(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let Some(meta) = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? else {
        return Ok(Reply::Nil);
    };
    let value = Value::read(ctx.txn, ctx.db, key, &meta)?;
    Ok(Reply::bulk(rdb::encode(&value)))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
///
/// Checks in Redis's order: options, an existing key, the TTL, the payload. Kiwi keeps no LRU
/// clock or LFU counter, so IDLETIME and FREQ are checked and then have nothing to set.
pub(super) fn restore(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let (mut replace, mut absttl) = (false, false);
    let (mut idletime, mut freq) = (false, false);
    let mut i = 4;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args.is(i, "REPLACE") {
            replace = true;
        } else if args.is(i, "ABSTTL") {
            absttl = true;
        } else if args.is(i, "IDLETIME") && has_value && !freq {
            if parse_i64(args.get(i + 1)?)? < 0 {
                return Err(CmdError::msg("Invalid IDLETIME value, must be >= 0"));
            }
            idletime = true;
            i += 1;
        } else if args.is(i, "FREQ") && has_value && !idletime {
            if !(0..=255).contains(&parse_i64(args.get(i + 1)?)?) {
                return Err(CmdError::msg("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if !replace && ctx.txn.live_meta(ctx.db, key, ctx.now_ms)?.is_some() {
        return Err(CmdError::Raw(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = parse_i64(args.get(2)?)?;
    if ttl < 0 {
        return Err(CmdError::msg("Invalid TTL value, must be >= 0"));
    }
    let value = rdb::decode(args.get(3)?).map_err(|e| match e {
        PayloadError::VersionOrChecksum => {
            CmdError::msg("DUMP payload version or checksum are wrong")
        }
        PayloadError::BadFormat => CmdError::msg("Bad data format"),
    })?;
    // A TTL of 0 means none; ABSTTL makes it a Unix time in milliseconds.
    let expire_at = match (ttl as u64, absttl) {
        (0, _) => 0,
        (at, true) => at,
        (ttl, false) => ttl.saturating_add(ctx.now_ms),
    };
    if expire_at != 0 && expire_at <= ctx.now_ms {
        // Already expired: the key is not created, and REPLACE has deleted the old one.
        if replace {
            ctx.txn.delete_key(ctx.db, key)?;
        }
        return Ok(Reply::ok());
    }
    value.store(ctx.txn, ctx.db, key, expire_at)?;
    Ok(Reply::ok())
}
