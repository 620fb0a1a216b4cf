//! Stream commands (Redis 7.0): XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID and XREAD
//! here; consumer groups (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) in
//! [`groups`]; XINFO in [`info`]. The layout on disk is in [`store`], IDs in [`id`].
//!
//! Every write is a replicated command like any other: `*` IDs come from the mutation's clock
//! (`ctx.now_ms`), delivery and seen times too, so every replica stores the same bytes.
//! XREADGROUP moves its group's cursor and pending list, so it is a write; XREAD is a read.
//! The blocking forms (BLOCK) wait on the connection's side (`command::blocking`).

pub mod groups;
pub mod id;
pub mod info;
pub mod store;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::args::parse_i64;
use super::flags::{BLOCKING, DENYOOM, FAST, MOVABLEKEYS, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::KeyType;
use id::{parse_end, parse_id_with, parse_start, parse_strict, Seq, StreamId};
use store::{entry_reply, id_reply, Stream, Trim, TrimArgs, NODE_MAX_ENTRIES};

pub const COMMANDS: &[CommandSpec] = &[
    spec!("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), xadd),
    spec!("xlen", 2, READONLY | FAST, (1, 1, 1), xlen),
    spec!("xrange", -4, READONLY, (1, 1, 1), xrange),
    spec!("xrevrange", -4, READONLY, (1, 1, 1), xrevrange),
    spec!("xdel", -3, WRITE | FAST, (1, 1, 1), xdel),
    spec!("xtrim", -4, WRITE, (1, 1, 1), xtrim),
    spec!("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), xsetid),
    spec!(
        "xread",
        -4,
        READONLY | BLOCKING | MOVABLEKEYS,
        (0, 0, 0),
        xread
    ),
    spec!(
        "xreadgroup",
        -7,
        WRITE | BLOCKING | MOVABLEKEYS,
        (0, 0, 0),
        groups::xreadgroup
    ),
    spec!("xgroup", -2, WRITE, (2, 2, 1), groups::xgroup),
    spec!("xack", -4, WRITE | FAST, (1, 1, 1), groups::xack),
    spec!("xpending", -3, READONLY, (1, 1, 1), groups::xpending),
    spec!("xclaim", -6, WRITE | FAST, (1, 1, 1), groups::xclaim),
    spec!(
        "xautoclaim",
        -6,
        WRITE | FAST,
        (1, 1, 1),
        groups::xautoclaim
    ),
    spec!("xinfo", -2, READONLY, (2, 2, 1), info::xinfo),
];

/// Approximate trimming without LIMIT removes at most this many entries per call, as Redis's
/// default (`100 * stream-node-max-entries`).
const DEFAULT_APPROX_LIMIT: u64 = 100 * NODE_MAX_ENTRIES;

/// XADD's and XTRIM's options, as Redis's `streamParseAddOrTrimArgsOrReply` reads them.
struct AddOrTrim {
    trim: Option<TrimArgs>,
    nomkstream: bool,
    /// XADD: the ID argument's position and what it says (`None`: `*`).
    id_at: usize,
    id: Option<(StreamId, Seq)>,
}

fn parse_add_or_trim(args: &Args, xadd: bool) -> Result<AddOrTrim, CmdError> {
    let argv = args.all();
    let both = || {
        CmdError::msg("syntax error, MAXLEN and MINID options at the same time are not compatible")
    };
    let mut how: Option<Trim> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut nomkstream = false;
    let mut id = None;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if how.is_some() {
                return Err(both());
            }
            // `~` or `=` is the operator only when a threshold follows it.
            let operator = (more >= 2).then(|| argv[i + 1].as_ref());
            approx = operator == Some(b"~".as_slice());
            if matches!(operator, Some(b"~" | b"=")) {
                i += 1;
            }
            let threshold = &argv[i + 1];
            how = Some(if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = parse_i64(threshold)?;
                if n < 0 {
                    return Err(CmdError::msg("The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict(threshold)?)
            });
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err(CmdError::msg("The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = Some(parse_id_with(opt, true, 0, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit.is_some_and(|n| n != 0) && how.is_none() {
        return Err(CmdError::msg(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && how.is_none() {
        return Err(CmdError::msg(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    let limit = match limit {
        Some(_) if !approx => {
            return Err(CmdError::msg(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(n) => n as u64,
        None if approx => DEFAULT_APPROX_LIMIT,
        None => 0,
    };
    Ok(AddOrTrim {
        trim: how.map(|how| TrimArgs { how, approx, limit }),
        nomkstream,
        id_at: i,
        id,
    })
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let parsed = parse_add_or_trim(args, true)?;
    let fields = args.from(parsed.id_at + 1);
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    if let Some((id, Seq::Given)) = parsed.id {
        if id.is_zero() {
            return Err(CmdError::msg(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let mut stream = match Stream::open(ctx, key)? {
        Some(s) => s,
        None if parsed.nomkstream => return Ok(Reply::Nil),
        None => Stream::create(ctx, key)?,
    };
    let last = stream.header.last_id;
    if last == StreamId::MAX {
        return Err(CmdError::msg(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let too_small = || {
        CmdError::msg(
            "The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    let id = match parsed.id {
        None => {
            if ctx.now_ms > last.ms {
                StreamId::new(ctx.now_ms, 0)
            } else {
                last.next().ok_or_else(too_small)?
            }
        }
        Some((id, Seq::Given)) => id,
        Some((id, Seq::Auto)) => {
            if id.ms == last.ms {
                if last.seq == u64::MAX {
                    return Err(too_small());
                }
                StreamId::new(last.ms, last.seq + 1)
            } else {
                id
            }
        }
    };
    if id <= last {
        return Err(too_small());
    }
    stream.append(ctx.txn, id, fields)?;
    if let Some(trim) = parsed.trim {
        stream.trim(ctx.txn, trim)?;
    }
    stream.save(ctx.txn)?;
    Ok(id_reply(id))
}

/// XLEN key
fn xlen(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let meta = ctx.typed_meta(KeyType::Stream, args.get(1)?)?;
    Ok(Reply::Int(meta.map_or(0, |m| m.count as i64)))
}

fn range_generic(ctx: &mut Ctx<'_, '_>, args: &Args, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args.get(3)?, args.get(2)?)
    } else {
        (args.get(2)?, args.get(3)?)
    };
    let start = parse_start(start_arg)?;
    let end = parse_end(end_arg)?;
    let mut count: Option<u64> = None;
    let mut i = 4;
    while i < args.len() {
        if args.is(i, "COUNT") && i + 1 < args.len() {
            count = Some(parse_i64(args.get(i + 1)?)?.max(0) as u64);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let Some(stream) = Stream::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    let entries = stream.range(ctx.txn, start, end, rev, count.unwrap_or(0))?;
    Ok(Reply::Array(
        entries.iter().map(|(id, f)| entry_reply(*id, f)).collect(),
    ))
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    range_generic(ctx, args, true)
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let Some(mut stream) = Stream::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    // All IDs are checked before anything is deleted: the command runs whole or not at all.
    let ids = args
        .from(2)
        .iter()
        .map(|raw| parse_strict(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0;
    for id in ids {
        if stream.delete(ctx.txn, id)? {
            if id > stream.header.max_deleted {
                stream.header.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        stream.save(ctx.txn)?;
    }
    Ok(Reply::Int(deleted))
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let parsed = parse_add_or_trim(args, false)?;
    let Some(mut stream) = Stream::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    let Some(trim) = parsed.trim else {
        return Ok(Reply::Int(0));
    };
    let deleted = stream.trim(ctx.txn, trim)?;
    if deleted > 0 {
        stream.save(ctx.txn)?;
    }
    Ok(Reply::Int(deleted as i64))
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let id = parse_strict(args.get(2)?)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if args.is(i, "ENTRIESADDED") && more {
            let n = parse_i64(args.get(i + 1)?)?;
            if n < 0 {
                return Err(CmdError::msg("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if args.is(i, "MAXDELETEDID") && more {
            max_deleted = parse_strict(args.get(i + 1)?)?;
            if id < max_deleted {
                return Err(CmdError::msg(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    // Redis 7.0 checks the new ID against the top entry only (not the stream's current max
    // deleted ID, as later versions do).
    let mut stream = Stream::open(ctx, args.get(1)?)?.ok_or(CmdError::NoSuchKey)?;
    if !stream.is_empty() {
        let top = stream.edge_id(ctx.txn, true)?.unwrap_or_default();
        if id < top {
            return Err(CmdError::msg(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| n < stream.len()) {
            return Err(CmdError::msg(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    stream.header.last_id = id;
    if let Some(n) = entries_added {
        stream.header.entries_added = n;
    }
    if !max_deleted.is_zero() {
        stream.header.max_deleted = max_deleted;
    }
    stream.save(ctx.txn)?;
    Ok(Reply::ok())
}

/// XREAD's and XREADGROUP's options.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadArgs {
    /// BLOCK's milliseconds (0: forever); `None` without BLOCK.
    pub block: Option<u64>,
    /// COUNT (0: no limit).
    pub count: u64,
    pub group: Option<(Bytes, Bytes)>,
    pub noack: bool,
    /// Position of the first key.
    pub keys_at: usize,
    pub nkeys: usize,
}

/// Reads XREAD's or XREADGROUP's options as Redis does, in its order (IDs are read later,
/// against the data).
pub fn parse_read(argv: &[Bytes], group_cmd: bool) -> Result<ReadArgs, CmdError> {
    let mut out = ReadArgs {
        block: None,
        count: 0,
        group: None,
        noack: false,
        keys_at: 0,
        nkeys: 0,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i];
        if o.eq_ignore_ascii_case(b"BLOCK") && more > 0 {
            i += 1;
            let ms = parse_i64(&argv[i])
                .map_err(|_| CmdError::msg("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::msg("timeout is negative"));
            }
            out.block = Some(ms as u64);
        } else if o.eq_ignore_ascii_case(b"COUNT") && more > 0 {
            i += 1;
            out.count = parse_i64(&argv[i])?.max(0) as u64;
        } else if o.eq_ignore_ascii_case(b"STREAMS") && more > 0 {
            let n = argv.len() - (i + 1);
            if !n.is_multiple_of(2) {
                return Err(CmdError::msg(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            out.keys_at = i + 1;
            out.nkeys = n / 2;
            break;
        } else if o.eq_ignore_ascii_case(b"GROUP") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::msg(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"NOACK") {
            if !group_cmd {
                return Err(CmdError::msg(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if out.keys_at == 0 {
        return Err(CmdError::Syntax);
    }
    if group_cmd && out.group.is_none() {
        return Err(CmdError::msg("Missing GROUP option for XREADGROUP"));
    }
    Ok(out)
}

/// The reply of XREAD and XREADGROUP: per stream served, its name and entries (pairs in
/// RESP2, a map in RESP3), or a nil array when none was.
fn read_reply(served: Vec<(Reply, Reply)>) -> Reply {
    if served.is_empty() {
        Reply::NilArray
    } else {
        Reply::KeyedPairs(served)
    }
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
///
/// Applied or read, it never waits: BLOCK is the connection's business (and inside MULTI,
/// Redis answers at once too).
fn xread(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let argv = args.all();
    let r = parse_read(argv, false)?;
    let mut after = Vec::with_capacity(r.nkeys);
    for k in 0..r.nkeys {
        let key = &argv[r.keys_at + k];
        let raw = &argv[r.keys_at + r.nkeys + k];
        let stream = Stream::open(ctx, key)?;
        let id = match raw.as_ref() {
            b"$" => stream.map(|s| s.header.last_id).unwrap_or_default(),
            b">" => {
                return Err(CmdError::msg(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            _ => parse_strict(raw)?,
        };
        after.push(id);
    }
    let mut served = Vec::new();
    for (k, gt) in after.into_iter().enumerate() {
        let key = &argv[r.keys_at + k];
        let Some(stream) = Stream::open(ctx, key)? else {
            continue;
        };
        let Some(last) = stream.edge_id(ctx.txn, true)? else {
            continue;
        };
        if last <= gt {
            continue;
        }
        let Some(start) = gt.next() else {
            continue;
        };
        let entries = stream.range(ctx.txn, start, StreamId::MAX, false, r.count)?;
        served.push((
            Reply::Bulk(key.clone()),
            Reply::Array(entries.iter().map(|(id, f)| entry_reply(*id, f)).collect()),
        ));
    }
    Ok(read_reply(served))
}

/// XREAD's arguments with each `$` replaced by the last ID its stream has now (0-0 for a
/// missing stream): what a blocked XREAD waits beyond, however long it waits. A key holding
/// another type keeps its `$`, for the command to answer WRONGTYPE.
pub fn pin_last_ids(ctx: &Ctx<'_, '_>, argv: &[Bytes]) -> Vec<Bytes> {
    let mut out = argv.to_vec();
    let Ok(r) = parse_read(argv, false) else {
        return out;
    };
    for k in 0..r.nkeys {
        let at = r.keys_at + r.nkeys + k;
        if argv[at].as_ref() != b"$" {
            continue;
        }
        if let Ok(stream) = Stream::open(ctx, &argv[r.keys_at + k]) {
            let last = stream.map(|s| s.header.last_id).unwrap_or_default();
            out[at] = last.to_bytes();
        }
    }
    out
}

/// What a blocked XREADGROUP finds at its key when woken: the error Redis answers it when
/// the stream or its group went away, if they did.
pub fn readgroup_gone(ctx: &Ctx<'_, '_>, key: &[u8], group: &[u8]) -> Option<Reply> {
    match Stream::open(ctx, key) {
        Ok(None) | Err(CmdError::WrongType) => Some(Reply::Error(
            "UNBLOCKED the stream key no longer exists".into(),
        )),
        Ok(Some(stream)) => match stream.group(ctx.txn, group) {
            Ok(None) => Some(Reply::Error(
                "NOGROUP the consumer group this client was blocked on no longer exists".into(),
            )),
            _ => None,
        },
        Err(_) => None,
    }
}
