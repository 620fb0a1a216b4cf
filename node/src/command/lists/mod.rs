//! List commands. Element `i` of a list lives in the `list` family at
//! `member_key(prefix, list_index(head + i))`, where the meta record's `head` (inclusive) and
//! `tail` (exclusive) bound the indexes in use. Both ends start at `LIST_MIDDLE`, LPUSH moves
//! `head` down and RPUSH moves `tail` up, so pushes, pops and lookups by position are point
//! operations. Edits in the middle (LINSERT, LREM) shift whichever side of the list is shorter.

use bytes::Bytes;

use super::args::{parse_i64, resolve_range};
use super::blocking::{parse_multi_pop, parse_timeout, LIST_SIDES};
use super::flags::{BLOCKING, DENYOOM, FAST, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::Cf;

mod store;

use store::*;

pub const COMMANDS: &[CommandSpec] = &[
    spec!("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush),
    spec!("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush),
    spec!("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx),
    spec!("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx),
    spec!("lpop", -2, WRITE | FAST, (1, 1, 1), lpop),
    spec!("rpop", -2, WRITE | FAST, (1, 1, 1), rpop),
    spec!("llen", 2, READONLY | FAST, (1, 1, 1), llen),
    spec!("lrange", 4, READONLY, (1, 1, 1), lrange),
    spec!("lindex", 3, READONLY, (1, 1, 1), lindex),
    spec!("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset),
    spec!("lrem", 4, WRITE, (1, 1, 1), lrem),
    spec!("ltrim", 4, WRITE, (1, 1, 1), ltrim),
    spec!("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert),
    spec!("lpos", -3, READONLY, (1, 1, 1), lpos),
    spec!("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush),
    spec!("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove),
    spec!("lmpop", -4, WRITE, (0, 0, 0), lmpop),
    // Applied, these never wait: see `command::blocking`.
    spec!("blpop", -3, WRITE | BLOCKING, (1, -2, 1), blpop),
    spec!("brpop", -3, WRITE | BLOCKING, (1, -2, 1), brpop),
    spec!(
        "brpoplpush",
        4,
        WRITE | DENYOOM | BLOCKING,
        (1, 2, 1),
        brpoplpush
    ),
    spec!("blmove", 6, WRITE | DENYOOM | BLOCKING, (1, 2, 1), blmove),
    spec!("blmpop", -5, WRITE | BLOCKING, (0, 0, 0), blmpop),
];

fn push_generic(ctx: &mut Ctx<'_, '_>, args: &Args, end: End, only_existing: bool) -> CmdResult {
    let key = args.get(1)?;
    let mut list = if only_existing {
        match load(ctx, key)? {
            Some(list) => list,
            None => return Ok(Reply::Int(0)),
        }
    } else {
        load_or_create(ctx, key)?
    };
    for value in args.from(2) {
        list.push(ctx.txn, end, value.to_vec());
    }
    list.save(ctx, key)?;
    Ok(Reply::Int(list.len() as i64))
}

fn lpush(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    push_generic(ctx, args, End::Right, true)
}

fn bulk(v: Vec<u8>) -> Reply {
    Reply::bulk(Bytes::from(v))
}

fn pop_generic(ctx: &mut Ctx<'_, '_>, args: &Args, end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity(args.upper(0)?.to_lowercase()));
    }
    let count = if args.len() == 3 {
        let positive = || CmdError::msg("value is out of range, must be positive");
        let n = parse_i64(args.get(2)?).map_err(|_| positive())?;
        if n < 0 {
            return Err(positive());
        }
        Some(n as u64)
    } else {
        None
    };
    let key = args.get(1)?;
    let Some(mut list) = load(ctx, key)? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    match count {
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let values = list.pop(ctx.txn, end, n)?;
            list.save(ctx, key)?;
            Ok(Reply::Array(values.into_iter().map(bulk).collect()))
        }
        None => {
            let mut values = list.pop(ctx.txn, end, 1)?;
            list.save(ctx, key)?;
            Ok(values.pop().map(bulk).unwrap_or(Reply::Nil))
        }
    }
}

fn lpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    pop_generic(ctx, args, End::Right)
}

fn llen(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    Ok(Reply::Int(
        load(ctx, args.get(1)?)?.map(|l| l.len()).unwrap_or(0) as i64,
    ))
}

fn lrange(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let Some(list) = load(ctx, args.get(1)?)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((from, to)) = resolve_range(start, stop, list.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let values = list.read(ctx.txn, from, to + 1)?;
    Ok(Reply::Array(values.into_iter().map(bulk).collect()))
}

/// Resolves a possibly negative index against `len`.
fn position(index: i64, len: u64) -> Option<u64> {
    let pos = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&pos).then_some(pos as u64)
}

fn lindex(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let Some(list) = load(ctx, args.get(1)?)? else {
        return Ok(Reply::Nil);
    };
    let index = args.int(2)?;
    Ok(match position(index, list.len()) {
        Some(pos) => bulk(list.get(ctx.txn, pos)?),
        None => Reply::Nil,
    })
}

fn lset(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let list = load(ctx, key)?.ok_or(CmdError::NoSuchKey)?;
    let index = args.int(2)?;
    let pos = position(index, list.len()).ok_or(CmdError::IndexOutOfRange)?;
    list.put(ctx.txn, list.meta.head + pos, args.get(3)?.to_vec());
    Ok(Reply::ok())
}

fn lrem(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let count = args.int(2)?;
    let element = args.get(3)?;
    let Some(mut list) = load(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let limit = count.unsigned_abs();
    let from_tail = count < 0;
    // Walk from the chosen end, remembering everything from the first match on: the window
    // between the first and last removed elements is rewritten without the matches.
    let mut window: Vec<(bool, Vec<u8>)> = Vec::new();
    let mut first = None;
    let mut removed = 0u64;
    {
        let (from, to) = (list.key_of(0), list.key_of(list.len()));
        for (i, entry) in ctx.txn.scan(Cf::List, &from, &to, from_tail)?.enumerate() {
            let (_, value) = entry?;
            let matched = value.as_slice() == element.as_ref();
            if matched {
                removed += 1;
                first.get_or_insert(i as u64);
            }
            if first.is_some() {
                window.push((matched, value));
            }
            if matched && limit != 0 && removed == limit {
                break;
            }
        }
    }
    let Some(first) = first else {
        return Ok(Reply::Int(0));
    };
    // Drop anything after the last match and put the window in head-to-tail order.
    while window.last().is_some_and(|(matched, _)| !matched) {
        window.pop();
    }
    let span = window.len() as u64;
    let at = if from_tail {
        window.reverse();
        list.len() - first - span
    } else {
        first
    };
    let kept = window
        .into_iter()
        .filter(|(m, _)| !m)
        .map(|(_, v)| v)
        .collect();
    list.splice(ctx.txn, at, span, kept)?;
    list.save(ctx, key)?;
    Ok(Reply::Int(removed as i64))
}

fn ltrim(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let Some(mut list) = load(ctx, key)? else {
        return Ok(Reply::ok());
    };
    let (head, tail) = (list.meta.head, list.meta.tail);
    match resolve_range(start, stop, list.len()) {
        Some((from, to)) => {
            list.delete_indexes(ctx.txn, head, head + from);
            list.delete_indexes(ctx.txn, head + to + 1, tail);
            list.meta.head = head + from;
            list.meta.tail = head + to + 1;
        }
        // Everything goes: saving an empty list deletes the key and its elements.
        None => list.meta.tail = head,
    }
    list.save(ctx, key)?;
    Ok(Reply::ok())
}

fn linsert(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let after = if args.is(2, "AFTER") {
        true
    } else if args.is(2, "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (pivot, element) = (args.get(3)?, args.get(4)?);
    let Some(mut list) = load(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut found = None;
    {
        let (from, to) = (list.key_of(0), list.key_of(list.len()));
        for (i, entry) in ctx.txn.scan(Cf::List, &from, &to, false)?.enumerate() {
            if entry?.1.as_slice() == pivot.as_ref() {
                found = Some(i as u64);
                break;
            }
        }
    }
    let Some(pos) = found else {
        return Ok(Reply::Int(-1));
    };
    let at = if after { pos + 1 } else { pos };
    list.splice(ctx.txn, at, 0, vec![element.to_vec()])?;
    list.save(ctx, key)?;
    Ok(Reply::Int(list.len() as i64))
}

fn lpos(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let key = args.get(1)?;
    let element = args.get(2)?;
    let (mut rank, mut count, mut maxlen) = (1i64, None::<u64>, 0u64);
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args.is(i, "RANK") && has_value {
            rank = args.int(i + 1)?;
            if rank == i64::MIN {
                return Err(CmdError::msg(format!(
                    "value is out of range, value must between {} and {}",
                    -i64::MAX,
                    i64::MAX
                )));
            }
            if rank == 0 {
                return Err(CmdError::msg(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
        } else if args.is(i, "COUNT") && has_value {
            count = Some(non_negative(args.get(i + 1)?, "COUNT can't be negative")?);
        } else if args.is(i, "MAXLEN") && has_value {
            maxlen = non_negative(args.get(i + 1)?, "MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let Some(list) = load(ctx, key)? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let from_tail = rank < 0;
    let skip = rank.unsigned_abs() - 1;
    let len = list.len();
    let mut matches = 0u64;
    let mut found = Vec::new();
    let (from, to) = (list.key_of(0), list.key_of(len));
    for (i, entry) in ctx.txn.scan(Cf::List, &from, &to, from_tail)?.enumerate() {
        let i = i as u64;
        if maxlen != 0 && i >= maxlen {
            break;
        }
        if entry?.1.as_slice() != element.as_ref() {
            continue;
        }
        matches += 1;
        if matches <= skip {
            continue;
        }
        found.push(if from_tail { len - 1 - i } else { i });
        match count {
            None => break,
            Some(c) if c != 0 && found.len() as u64 >= c => break,
            Some(_) => {}
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found.into_iter().map(|p| Reply::Int(p as i64)).collect()),
        None => found
            .first()
            .map(|&p| Reply::Int(p as i64))
            .unwrap_or(Reply::Nil),
    })
}

/// Redis's `getPositiveLongFromObjectOrReply` with a custom message (for bad input too).
fn non_negative(raw: &[u8], msg: &str) -> Result<u64, CmdError> {
    match parse_i64(raw) {
        Ok(n) if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::msg(msg)),
    }
}

fn parse_end(args: &Args, i: usize) -> Result<End, CmdError> {
    if args.is(i, "LEFT") {
        Ok(End::Left)
    } else if args.is(i, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Pops from `src` at `from` and pushes onto `dst` at `to`; `dst` is type-checked before
/// anything is popped.
fn move_generic(ctx: &mut Ctx<'_, '_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let Some(mut source) = load(ctx, src)? else {
        return Ok(Reply::Nil);
    };
    if src == dst {
        let Some(value) = source.pop(ctx.txn, from, 1)?.pop() else {
            return Ok(Reply::Nil);
        };
        source.push(ctx.txn, to, value.clone());
        source.save(ctx, src)?;
        return Ok(bulk(value));
    }
    load(ctx, dst)?; // WRONGTYPE before popping
    let Some(value) = source.pop(ctx.txn, from, 1)?.pop() else {
        return Ok(Reply::Nil);
    };
    source.save(ctx, src)?;
    let mut target = load_or_create(ctx, dst)?;
    target.push(ctx.txn, to, value.clone());
    target.save(ctx, dst)?;
    Ok(bulk(value))
}

fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    move_generic(ctx, args.get(1)?, args.get(2)?, End::Right, End::Left)
}

fn lmove(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let from = parse_end(args, 3)?;
    let to = parse_end(args, 4)?;
    move_generic(ctx, args.get(1)?, args.get(2)?, from, to)
}

/// BLPOP/BRPOP key [key ...] timeout: `[key, element]` from the first key holding a list, or
/// a nil array (see `command::blocking`).
fn blocking_pop(ctx: &mut Ctx<'_, '_>, args: &Args, end: End) -> CmdResult {
    let argv = args.all();
    parse_timeout(&argv[argv.len() - 1])?;
    for key in &argv[1..argv.len() - 1] {
        let Some(mut list) = load(ctx, key)? else {
            continue;
        };
        let Some(value) = list.pop(ctx.txn, end, 1)?.pop() else {
            continue;
        };
        list.save(ctx, key)?;
        return Ok(Reply::Array(vec![Reply::bulk(key.clone()), bulk(value)]));
    }
    Ok(Reply::NilArray)
}

fn blpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    blocking_pop(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    blocking_pop(ctx, args, End::Right)
}

fn brpoplpush(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    parse_timeout(args.get(3)?)?;
    move_generic(ctx, args.get(1)?, args.get(2)?, End::Right, End::Left)
}

fn blmove(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let from = parse_end(args, 3)?;
    let to = parse_end(args, 4)?;
    parse_timeout(args.get(5)?)?;
    move_generic(ctx, args.get(1)?, args.get(2)?, from, to)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] (and BLMPOP after its timeout):
/// `[key, [element ...]]` from the first key holding a list, or a nil array.
fn multi_pop(ctx: &mut Ctx<'_, '_>, args: &Args, numkeys_at: usize) -> CmdResult {
    let argv = args.all();
    let m = parse_multi_pop(argv, numkeys_at, LIST_SIDES)?;
    let end = if m.first_side { End::Left } else { End::Right };
    for key in &argv[m.keys] {
        let Some(mut list) = load(ctx, key)? else {
            continue;
        };
        let values = list.pop(ctx.txn, end, m.count)?;
        list.save(ctx, key)?;
        return Ok(Reply::Array(vec![
            Reply::bulk(key.clone()),
            Reply::Array(values.into_iter().map(bulk).collect()),
        ]));
    }
    Ok(Reply::NilArray)
}

fn lmpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    multi_pop(ctx, args, 1)
}

fn blmpop(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    parse_timeout(args.get(1)?)?;
    multi_pop(ctx, args, 2)
}

#[cfg(test)]
mod tests;
