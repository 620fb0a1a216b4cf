//! XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP, with Redis 7.0's fields.
//!
//! `radix-tree-keys` is the number of nodes Kiwi counts its entries into (as Redis's listpacks,
//! see `store`); `radix-tree-nodes`, the size of Redis's radix tree over them, has no Kiwi
//! counterpart and is estimated from it.

use bytes::Bytes;

use super::groups::{help_reply, subcommand, subcommand_syntax};
use super::id::StreamId;
use super::store::{entry_reply, id_reply, Stream, UNKNOWN_READS};
use crate::command::args::parse_i64;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;

const HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (Reply::Bulk(Bytes::from(name.to_string())), value)
}

fn entries_read(n: i64) -> Reply {
    if n == UNKNOWN_READS {
        Reply::Nil
    } else {
        Reply::Int(n)
    }
}

fn lag(stream: &Stream, ctx: &Ctx<'_, '_>, group: &super::store::Group) -> Result<Reply, CmdError> {
    Ok(match stream.lag(ctx.txn, group)? {
        Some(n) => Reply::Int(n),
        None => Reply::Nil,
    })
}

pub(super) fn xinfo(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let sub = subcommand(
        args,
        "xinfo",
        &[("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)],
    )?;
    if sub == "help" {
        return Ok(help_reply(HELP));
    }
    let key = args.get(2)?;
    let stream = Stream::open(ctx, key)?.ok_or(CmdError::NoSuchKey)?;
    match sub.as_str() {
        "consumers" => {
            let name = args.get(3)?;
            if stream.group(ctx.txn, name)?.is_none() {
                return Err(CmdError::Raw(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(key)
                )));
            }
            let now = ctx.now_ms as i64;
            let consumers = stream
                .consumers(ctx.txn, name)?
                .into_iter()
                .map(|(n, c)| {
                    Reply::Map(vec![
                        field("name", Reply::Bulk(Bytes::from(n))),
                        field("pending", Reply::Int(c.pending as i64)),
                        field("idle", Reply::Int((now - c.seen_time as i64).max(0))),
                    ])
                })
                .collect();
            Ok(Reply::Array(consumers))
        }
        "groups" => {
            let mut out = Vec::new();
            for (name, group) in stream.groups(ctx.txn)? {
                let consumers = stream.consumers(ctx.txn, &name)?.len() as i64;
                out.push(Reply::Map(vec![
                    field("name", Reply::Bulk(Bytes::from(name))),
                    field("consumers", Reply::Int(consumers)),
                    field("pending", Reply::Int(group.pending as i64)),
                    field("last-delivered-id", id_reply(group.last_id)),
                    field("entries-read", entries_read(group.entries_read)),
                    field("lag", lag(&stream, ctx, &group)?),
                ]));
            }
            Ok(Reply::Array(out))
        }
        _ => stream_info(ctx, args, &stream),
    }
}

fn stream_info(ctx: &mut Ctx<'_, '_>, args: &Args, stream: &Stream) -> CmdResult {
    let mut full = None;
    match args.len() {
        3 => {}
        4 if args.is(3, "FULL") => full = Some(10),
        6 if args.is(3, "FULL") && args.is(4, "COUNT") => {
            let n = parse_i64(args.get(5)?)?;
            full = Some(if n < 0 { 10 } else { n as u64 });
        }
        _ => return Err(subcommand_syntax(args, "xinfo")),
    }
    let txn = &*ctx.txn;
    let h = &stream.header;
    let keys = stream.node_count(txn)? as i64;
    let mut out = vec![
        field("length", Reply::Int(stream.len() as i64)),
        field("radix-tree-keys", Reply::Int(keys)),
        field("radix-tree-nodes", Reply::Int(keys + 1)),
        field("last-generated-id", id_reply(h.last_id)),
        field("max-deleted-entry-id", id_reply(h.max_deleted)),
        field("entries-added", Reply::Int(h.entries_added as i64)),
        field("recorded-first-entry-id", id_reply(stream.first_id(txn)?)),
    ];
    let Some(count) = full else {
        out.push(field("groups", Reply::Int(stream.group_count(txn)? as i64)));
        for (name, last) in [("first-entry", false), ("last-entry", true)] {
            let entry = stream.range(txn, StreamId::MIN, StreamId::MAX, last, 1)?;
            out.push(field(
                name,
                match entry.first() {
                    Some((id, f)) => entry_reply(*id, f),
                    None => Reply::Nil,
                },
            ));
        }
        return Ok(Reply::Map(out));
    };
    let entries = stream.range(txn, StreamId::MIN, StreamId::MAX, false, count)?;
    out.push(field(
        "entries",
        Reply::Array(entries.iter().map(|(id, f)| entry_reply(*id, f)).collect()),
    ));
    let mut groups = Vec::new();
    for (name, group) in stream.groups(txn)? {
        let pel = stream.pending(txn, &name, StreamId::MIN, StreamId::MAX, count)?;
        let pending = pel
            .iter()
            .map(|(id, n)| {
                Reply::Array(vec![
                    id_reply(*id),
                    Reply::Bulk(Bytes::copy_from_slice(&n.consumer)),
                    Reply::Int(n.delivery_time as i64),
                    Reply::Int(n.delivery_count as i64),
                ])
            })
            .collect();
        let mut consumers = Vec::new();
        for (cname, c) in stream.consumers(txn, &name)? {
            let ids =
                stream.consumer_pending(txn, &name, &cname, StreamId::MIN, StreamId::MAX, count)?;
            let mut own = Vec::with_capacity(ids.len());
            for id in ids {
                let (time, deliveries) = match stream.nack(txn, &name, id)? {
                    Some(n) => (n.delivery_time as i64, n.delivery_count as i64),
                    None => (0, 0),
                };
                own.push(Reply::Array(vec![
                    id_reply(id),
                    Reply::Int(time),
                    Reply::Int(deliveries),
                ]));
            }
            consumers.push(Reply::Map(vec![
                field("name", Reply::Bulk(Bytes::from(cname))),
                field("seen-time", Reply::Int(c.seen_time as i64)),
                field("pel-count", Reply::Int(c.pending as i64)),
                field("pending", Reply::Array(own)),
            ]));
        }
        groups.push(Reply::Map(vec![
            field("name", Reply::Bulk(Bytes::from(name))),
            field("last-delivered-id", id_reply(group.last_id)),
            field("entries-read", entries_read(group.entries_read)),
            field("lag", lag(stream, ctx, &group)?),
            field("pel-count", Reply::Int(group.pending as i64)),
            field("pending", Reply::Array(pending)),
            field("consumers", Reply::Array(consumers)),
        ]));
    }
    out.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(out))
}
