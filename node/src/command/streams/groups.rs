//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM, with Redis
//! 7.0's replies, errors and bookkeeping (entries read, delivery times and counts, seen times).
//! Every time is the mutation's clock (`ctx.now_ms`), so replicas agree on it.

use bytes::Bytes;

use super::id::{parse_end, parse_loose, parse_start, parse_strict, StreamId};
use super::store::{entry_reply, id_reply, Consumer, Group, Nack, Stream, UNKNOWN_READS};
use super::{parse_read, read_reply};
use crate::command::args::parse_i64;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn help_reply(lines: &[&str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Simple(l.to_string())).collect())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A container command's subcommand, checked as Redis 7 checks them: known, then its arity.
pub(super) fn subcommand(
    args: &Args,
    container: &str,
    table: &[(&str, i32)],
) -> Result<String, CmdError> {
    let raw = args.get(1)?;
    let sub = lossy(raw).to_ascii_lowercase();
    let Some((_, arity)) = table.iter().find(|(name, _)| *name == sub) else {
        return Err(CmdError::msg(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            lossy(raw),
            container.to_ascii_uppercase()
        )));
    };
    let n = args.len() as i32;
    if (*arity >= 0 && n != *arity) || (*arity < 0 && n < -*arity) {
        return Err(CmdError::WrongArity(format!("{container}|{sub}")));
    }
    Ok(sub)
}

pub(super) fn subcommand_syntax(args: &Args, container: &str) -> CmdError {
    CmdError::msg(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        args.get(1).map(|b| lossy(b)).unwrap_or_default(),
        container.to_ascii_uppercase()
    ))
}

fn entries_read_arg(raw: &[u8]) -> Result<i64, CmdError> {
    let n = parse_i64(raw)?;
    if n < 0 && n != UNKNOWN_READS {
        return Err(CmdError::msg(
            "value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(n)
}

/// The consumer `name` of the group, created if missing, seen now (Redis's lookup with
/// `SLC_DEFAULT`, or `streamCreateConsumer`).
fn touch_consumer(
    ctx: &mut Ctx<'_, '_>,
    stream: &Stream,
    group: &[u8],
    name: &[u8],
) -> Result<(), CmdError> {
    let consumer = match stream.consumer(ctx.txn, group, name)? {
        Some(mut c) => {
            c.seen_time = ctx.now_ms;
            c
        }
        None => Consumer {
            seen_time: ctx.now_ms,
            pending: 0,
        },
    };
    stream.put_consumer(ctx.txn, group, name, &consumer);
    Ok(())
}

/// XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP
pub(super) fn xgroup(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let sub = subcommand(
        args,
        "xgroup",
        &[
            ("create", -5),
            ("setid", -5),
            ("destroy", 4),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("help", 2),
        ],
    )?;
    if sub == "help" {
        return Ok(help_reply(XGROUP_HELP));
    }
    let mut mkstream = false;
    let mut entries_read = UNKNOWN_READS;
    if sub == "create" {
        let mut i = 5;
        while i < args.len() {
            if args.is(i, "MKSTREAM") {
                mkstream = true;
            } else if args.is(i, "ENTRIESREAD") && i + 1 < args.len() {
                entries_read = entries_read_arg(args.get(i + 1)?)?;
                i += 1;
            } else {
                return Err(subcommand_syntax(args, "xgroup"));
            }
            i += 1;
        }
    } else if sub == "setid" {
        if args.len() == 7 {
            if !args.is(5, "ENTRIESREAD") {
                return Err(subcommand_syntax(args, "xgroup"));
            }
            entries_read = entries_read_arg(args.get(6)?)?;
        } else if args.len() != 5 {
            return Err(subcommand_syntax(args, "xgroup"));
        }
    }
    let key = args.get(2)?;
    let name = args.get(3)?;
    let stream = Stream::open(ctx, key)?;
    if !mkstream && stream.is_none() {
        return Err(CmdError::msg(
            "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let group = match &stream {
        Some(s) => s.group(ctx.txn, name)?,
        None => None,
    };
    if group.is_none() && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
        return Err(CmdError::Raw(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            lossy(name),
            lossy(key)
        )));
    }
    match sub.as_str() {
        "create" => {
            if args.len() > 8 {
                return Err(subcommand_syntax(args, "xgroup"));
            }
            let raw = args.get(4)?;
            let id = if raw.as_ref() == b"$" {
                stream
                    .as_ref()
                    .map(|s| s.header.last_id)
                    .unwrap_or_default()
            } else {
                parse_strict(raw)?
            };
            let stream = match stream {
                Some(s) => s,
                None => {
                    let s = Stream::create(ctx, key)?;
                    s.save(ctx.txn)?;
                    s
                }
            };
            if group.is_some() {
                return Err(CmdError::Raw(
                    "BUSYGROUP Consumer Group name already exists".into(),
                ));
            }
            stream.put_group(ctx.txn, name, &Group::new(id, entries_read));
            Ok(Reply::ok())
        }
        "setid" => {
            let (Some(stream), Some(mut group)) = (stream, group) else {
                return Err(CmdError::Syntax);
            };
            let raw = args.get(4)?;
            let id = if raw.as_ref() == b"$" {
                stream.header.last_id
            } else {
                parse_loose(raw)?
            };
            group.last_id = id;
            group.entries_read = entries_read;
            stream.put_group(ctx.txn, name, &group);
            Ok(Reply::ok())
        }
        "destroy" => {
            let Some(stream) = stream else {
                return Ok(Reply::Int(0));
            };
            if group.is_none() {
                return Ok(Reply::Int(0));
            }
            stream.destroy_group(ctx.txn, name);
            Ok(Reply::Int(1))
        }
        "createconsumer" => {
            let Some(stream) = stream else {
                return Ok(Reply::Int(0));
            };
            let consumer = args.get(4)?;
            if stream.consumer(ctx.txn, name, consumer)?.is_some() {
                return Ok(Reply::Int(0));
            }
            touch_consumer(ctx, &stream, name, consumer)?;
            Ok(Reply::Int(1))
        }
        _ => {
            let (Some(stream), Some(mut group)) = (stream, group) else {
                return Ok(Reply::Int(0));
            };
            let pending = stream.delete_consumer(ctx.txn, name, &mut group, args.get(4)?)?;
            stream.put_group(ctx.txn, name, &group);
            Ok(Reply::Int(pending as i64))
        }
    }
}

fn nogroup_readgroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Raw(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        lossy(key),
        lossy(group)
    ))
}

/// XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key ... id ...
///
/// `>` delivers entries past the group's last delivered ID, moving it and adding them to the
/// pending lists (unless NOACK); any other ID replays the consumer's own pending entries
/// after it. Applied, it never waits (see [`super::xread`]).
pub(super) fn xreadgroup(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let argv = args.all();
    let r = parse_read(argv, true)?;
    let (group_name, consumer) = r.group.clone().ok_or(CmdError::Syntax)?;
    // Checked for every stream before any is served: an error answers the whole command.
    let mut targets: Vec<(Bytes, Option<StreamId>)> = Vec::with_capacity(r.nkeys);
    for k in 0..r.nkeys {
        let key = &argv[r.keys_at + k];
        let raw = &argv[r.keys_at + r.nkeys + k];
        let exists = match Stream::open(ctx, key)? {
            Some(s) => s.group(ctx.txn, &group_name)?.is_some(),
            None => false,
        };
        if !exists {
            return Err(nogroup_readgroup(key, &group_name));
        }
        let id = match raw.as_ref() {
            b"$" => {
                return Err(CmdError::msg(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => None,
            _ => Some(parse_strict(raw)?),
        };
        targets.push((key.clone(), id));
    }
    let mut served = Vec::new();
    for (key, id) in targets {
        let Some(stream) = Stream::open(ctx, &key)? else {
            continue;
        };
        let Some(mut group) = stream.group(ctx.txn, &group_name)? else {
            continue;
        };
        let entries = match id {
            Some(after) => {
                touch_consumer(ctx, &stream, &group_name, &consumer)?;
                let start = after.next().unwrap_or(StreamId::MAX);
                history(ctx, &stream, &group_name, &consumer, start, r.count)?
            }
            None => {
                let last = stream.edge_id(ctx.txn, true)?;
                if last.is_none_or(|last| last <= group.last_id) {
                    continue;
                }
                touch_consumer(ctx, &stream, &group_name, &consumer)?;
                let out = deliver(
                    ctx,
                    &stream,
                    &group_name,
                    &mut group,
                    &consumer,
                    r.count,
                    r.noack,
                )?;
                stream.put_group(ctx.txn, &group_name, &group);
                out
            }
        };
        served.push((Reply::Bulk(key), Reply::Array(entries)));
    }
    Ok(read_reply(served))
}

/// Delivers the entries after the group's last ID to `consumer` (`>`).
fn deliver(
    ctx: &mut Ctx<'_, '_>,
    stream: &Stream,
    group_name: &[u8],
    group: &mut Group,
    consumer: &[u8],
    count: u64,
    noack: bool,
) -> Result<Vec<Reply>, CmdError> {
    let Some(start) = group.last_id.next() else {
        return Ok(Vec::new());
    };
    let entries = stream.range(ctx.txn, start, StreamId::MAX, false, count)?;
    let mut out = Vec::with_capacity(entries.len());
    for (id, fields) in &entries {
        if *id > group.last_id {
            if group.entries_read != UNKNOWN_READS && !stream.has_tombstones_from(ctx.txn, *id)? {
                group.entries_read += 1;
            } else if stream.header.entries_added != 0 {
                group.entries_read = stream
                    .estimate_reads(ctx.txn, *id)?
                    .unwrap_or(UNKNOWN_READS);
            }
            group.last_id = *id;
        }
        out.push(entry_reply(*id, fields));
        if !noack {
            let previous = stream.nack(ctx.txn, group_name, *id)?;
            let nack = Nack {
                delivery_time: ctx.now_ms,
                delivery_count: 1,
                consumer: consumer.to_vec(),
            };
            stream.put_nack(
                ctx.txn,
                group_name,
                group,
                *id,
                &nack,
                previous.as_ref().map(|n| n.consumer.as_slice()),
            )?;
        }
    }
    Ok(out)
}

/// Replays `consumer`'s pending entries from `start` on: each still in the stream counts one
/// more delivery; a deleted one comes as `[id, nil]`.
fn history(
    ctx: &mut Ctx<'_, '_>,
    stream: &Stream,
    group_name: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: u64,
) -> Result<Vec<Reply>, CmdError> {
    let ids =
        stream.consumer_pending(ctx.txn, group_name, consumer, start, StreamId::MAX, count)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match stream.entry(ctx.txn, id)? {
            Some(fields) => {
                out.push(entry_reply(id, &fields));
                if let Some(mut nack) = stream.nack(ctx.txn, group_name, id)? {
                    nack.delivery_time = ctx.now_ms;
                    nack.delivery_count += 1;
                    let mut unchanged = Group::new(StreamId::MIN, 0);
                    stream.put_nack(
                        ctx.txn,
                        group_name,
                        &mut unchanged,
                        id,
                        &nack,
                        Some(consumer),
                    )?;
                }
            }
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
        }
    }
    Ok(out)
}

/// XACK key group id [id ...]
pub(super) fn xack(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let name = args.get(2)?;
    let Some(stream) = Stream::open(ctx, args.get(1)?)? else {
        return Ok(Reply::Int(0));
    };
    let Some(mut group) = stream.group(ctx.txn, name)? else {
        return Ok(Reply::Int(0));
    };
    let ids = args
        .from(3)
        .iter()
        .map(|raw| parse_strict(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acked = 0;
    for id in ids {
        if let Some(nack) = stream.nack(ctx.txn, name, id)? {
            stream.remove_nack(ctx.txn, name, &mut group, id, &nack)?;
            acked += 1;
        }
    }
    if acked > 0 {
        stream.put_group(ctx.txn, name, &group);
    }
    Ok(Reply::Int(acked))
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Raw(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

/// XPENDING key group [[IDLE min-idle-time] start end count [consumer]]
pub(super) fn xpending(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, name) = (args.get(1)?, args.get(2)?);
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if args.is(3, "IDLE") {
            min_idle = parse_i64(args.get(4)?)?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = parse_i64(args.get(at + 2)?)?.max(0) as u64;
        let start = parse_start(args.get(at)?)?;
        let end = parse_end(args.get(at + 1)?)?;
        let consumer = args.get(at + 3).ok().cloned();
        range = Some((min_idle, start, end, count, consumer));
    }
    let Some(stream) = Stream::open(ctx, key)? else {
        return Err(nogroup(key, name));
    };
    let Some(group) = stream.group(ctx.txn, name)? else {
        return Err(nogroup(key, name));
    };
    let Some((min_idle, start, end, count, consumer)) = range else {
        // The summary: how many, the first and last IDs, and who holds them.
        if group.pending == 0 {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = stream
            .pending_edge(ctx.txn, name, false)?
            .unwrap_or_default();
        let last = stream
            .pending_edge(ctx.txn, name, true)?
            .unwrap_or_default();
        let holders = stream
            .consumers(ctx.txn, name)?
            .into_iter()
            .filter(|(_, c)| c.pending > 0)
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::Bulk(Bytes::from(n)),
                    Reply::Bulk(Bytes::from(c.pending.to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(group.pending as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(holders),
        ]));
    };
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let now = ctx.now_ms as i64;
    let mut out = Vec::new();
    let shown = |id: StreamId, nack: &Nack| {
        let idle = now - nack.delivery_time as i64;
        (min_idle == 0 || idle >= min_idle).then(|| {
            Reply::Array(vec![
                id_reply(id),
                Reply::Bulk(Bytes::copy_from_slice(&nack.consumer)),
                Reply::Int(idle.max(0)),
                Reply::Int(nack.delivery_count as i64),
            ])
        })
    };
    match consumer {
        Some(c) => {
            if stream.consumer(ctx.txn, name, &c)?.is_none() {
                return Ok(Reply::Array(Vec::new()));
            }
            // Without IDLE only `count` entries are read; with it, each pending ID in the
            // range is looked at once, as Redis's walk does.
            let limit = if min_idle == 0 { count } else { 0 };
            for id in stream.consumer_pending(ctx.txn, name, &c, start, end, limit)? {
                if out.len() as u64 >= count {
                    break;
                }
                if let Some(nack) = stream.nack(ctx.txn, name, id)? {
                    out.extend(shown(id, &nack));
                }
            }
        }
        None => {
            let limit = if min_idle == 0 { count } else { 0 };
            for (id, nack) in stream.pending(ctx.txn, name, start, end, limit)? {
                if out.len() as u64 >= count {
                    break;
                }
                out.extend(shown(id, &nack));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]
pub(super) fn xclaim(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, name, claimer) = (args.get(1)?, args.get(2)?, args.get(3)?);
    let Some(stream) = Stream::open(ctx, key)? else {
        return Err(nogroup(key, name));
    };
    let Some(mut group) = stream.group(ctx.txn, name)? else {
        return Err(nogroup(key, name));
    };
    let min_idle = parse_i64(args.get(4)?)
        .map_err(|_| CmdError::msg("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let argv = args.all();
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict(&argv[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms as i64;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: Option<i64> = None;
    let mut delivery: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let int = |at: usize, what: &str| {
            parse_i64(&argv[at])
                .map_err(|_| CmdError::msg(format!("Invalid {what} option argument for XCLAIM")))
        };
        if args.is(j, "FORCE") {
            force = true;
        } else if args.is(j, "JUSTID") {
            justid = true;
        } else if args.is(j, "IDLE") && more {
            j += 1;
            delivery = Some(now.wrapping_sub(int(j, "IDLE")?));
        } else if args.is(j, "TIME") && more {
            j += 1;
            delivery = Some(int(j, "TIME")?);
        } else if args.is(j, "RETRYCOUNT") && more {
            j += 1;
            retrycount = Some(int(j, "RETRYCOUNT")?);
        } else if args.is(j, "LASTID") && more {
            j += 1;
            last_id = parse_strict(&argv[j])?;
        } else {
            return Err(CmdError::msg(format!(
                "Unrecognized XCLAIM option '{}'",
                lossy(&argv[j])
            )));
        }
        j += 1;
    }
    if last_id > group.last_id {
        group.last_id = last_id;
    }
    // A bogus time (negative, or in the future) is taken as now, as Redis takes it.
    let delivery_time = match delivery {
        Some(t) if t >= 0 && t <= now => t as u64,
        _ => ctx.now_ms,
    };
    let mut out = Vec::new();
    let mut consumer_ready = false;
    for id in ids {
        let nack = stream.nack(ctx.txn, name, id)?;
        if !stream.has_entry(ctx.txn, id)? {
            // Gone from the stream: gone from the pending list too.
            if let Some(nack) = nack {
                stream.remove_nack(ctx.txn, name, &mut group, id, &nack)?;
            }
            continue;
        }
        let (mut nack, previous) = match nack {
            Some(n) => {
                if min_idle != 0 && now - (n.delivery_time as i64) < min_idle {
                    continue;
                }
                let previous = n.consumer.clone();
                (n, Some(previous))
            }
            None if force => (
                Nack {
                    delivery_time: ctx.now_ms,
                    delivery_count: 1,
                    consumer: Vec::new(),
                },
                None,
            ),
            None => continue,
        };
        if !consumer_ready {
            touch_consumer(ctx, &stream, name, claimer)?;
            consumer_ready = true;
        }
        nack.delivery_time = delivery_time;
        match retrycount {
            Some(n) if n >= 0 => nack.delivery_count = n as u64,
            _ if !justid => nack.delivery_count += 1,
            _ => {}
        }
        nack.consumer = claimer.to_vec();
        stream.put_nack(ctx.txn, name, &mut group, id, &nack, previous.as_deref())?;
        if justid {
            out.push(id_reply(id));
        } else {
            match stream.entry(ctx.txn, id)? {
                Some(fields) => out.push(entry_reply(id, &fields)),
                None => out.push(Reply::Nil),
            }
        }
    }
    stream.put_group(ctx.txn, name, &group);
    Ok(Reply::Array(out))
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
///
/// Redis 7's reply: the cursor to continue from, the claimed entries, and the IDs it found
/// pending but deleted from the stream (which it drops from the pending list).
pub(super) fn xautoclaim(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (key, name, claimer) = (args.get(1)?, args.get(2)?, args.get(3)?);
    let min_idle = parse_i64(args.get(4)?)
        .map_err(|_| CmdError::msg("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_start(args.get(5)?)?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        if args.is(j, "COUNT") && j + 1 < args.len() {
            let bad = || CmdError::msg("COUNT must be > 0");
            let n = parse_i64(args.get(j + 1)?).map_err(|_| bad())?;
            if !(1..=i64::MAX / 16).contains(&n) {
                return Err(bad());
            }
            count = n as u64;
            j += 1;
        } else if args.is(j, "JUSTID") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let Some(stream) = Stream::open(ctx, key)? else {
        return Err(nogroup(key, name));
    };
    let Some(mut group) = stream.group(ctx.txn, name)? else {
        return Err(nogroup(key, name));
    };
    let now = ctx.now_ms as i64;
    let mut attempts = count.saturating_mul(10);
    // Every entry the walk below can look at, and the one after (the next cursor).
    let candidates = stream.pending(
        ctx.txn,
        name,
        start,
        StreamId::MAX,
        attempts.saturating_add(1),
    )?;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut visited = 0usize;
    let mut consumer_ready = false;
    let mut eof = false;
    loop {
        if attempts == 0 {
            break;
        }
        attempts -= 1;
        if count == 0 {
            break;
        }
        let Some((id, nack)) = candidates.get(visited) else {
            eof = true;
            break;
        };
        visited += 1;
        let (id, mut nack) = (*id, nack.clone());
        if !stream.has_entry(ctx.txn, id)? {
            stream.remove_nack(ctx.txn, name, &mut group, id, &nack)?;
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        }
        if min_idle != 0 && now - (nack.delivery_time as i64) < min_idle {
            continue;
        }
        if !consumer_ready {
            touch_consumer(ctx, &stream, name, claimer)?;
            consumer_ready = true;
        }
        let previous = nack.consumer.clone();
        nack.delivery_time = ctx.now_ms;
        if !justid {
            nack.delivery_count += 1;
        }
        nack.consumer = claimer.to_vec();
        stream.put_nack(
            ctx.txn,
            name,
            &mut group,
            id,
            &nack,
            Some(previous.as_slice()),
        )?;
        if justid {
            claimed.push(id_reply(id));
        } else {
            match stream.entry(ctx.txn, id)? {
                Some(fields) => claimed.push(entry_reply(id, &fields)),
                None => claimed.push(Reply::Nil),
            }
        }
        count -= 1;
    }
    let cursor = if eof {
        StreamId::MIN
    } else {
        candidates
            .get(visited)
            .map(|(id, _)| *id)
            .unwrap_or(StreamId::MIN)
    };
    stream.put_group(ctx.txn, name, &group);
    Ok(Reply::Array(vec![
        id_reply(cursor),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}
