//! List commands. Element `i` of a list lives in the `list` family at
//! `member_key(prefix, list_index(head + i))`, where the meta record's `head` (inclusive) and
//! `tail` (exclusive) bound the indexes in use. Both ends start at `LIST_MIDDLE`, LPUSH moves
//! `head` down and RPUSH moves `tail` up, so pushes, pops and lookups by position are point
//! operations. Edits in the middle (LINSERT, LREM) shift whichever side of the list is shorter.

use bytes::Bytes;

use super::args::{parse_i64, resolve_range};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::{spec, Args, CmdError, CmdResult, CommandSpec, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{list_index, member_key, member_prefix};
use crate::storage::{Cf, KeyType, Meta, StorageError, Txn};

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
];

/// Above this many elements a contiguous deletion becomes one range tombstone.
const RANGE_DELETE_MIN: u64 = 32;

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Left,
    Right,
}

/// A loaded list: its meta record and the prefix of its element keys.
struct List {
    meta: Meta,
    prefix: Vec<u8>,
}

impl List {
    fn new(db: u8, key: &[u8], meta: Meta) -> List {
        let prefix = member_prefix(db, key, meta.version);
        List { meta, prefix }
    }

    fn len(&self) -> u64 {
        self.meta.tail - self.meta.head
    }

    /// The storage key of absolute index `idx`.
    fn key_at(&self, idx: u64) -> Vec<u8> {
        member_key(&self.prefix, &list_index(idx))
    }

    /// The storage key of logical position `pos` (0 is the head).
    fn key_of(&self, pos: u64) -> Vec<u8> {
        self.key_at(self.meta.head + pos)
    }

    /// The element at logical position `pos`, which must be in range.
    fn get(&self, txn: &Txn<'_>, pos: u64) -> Result<Vec<u8>, CmdError> {
        Ok(txn
            .get(Cf::List, &self.key_of(pos))?
            .ok_or_else(|| missing(pos))?)
    }

    /// Elements at logical positions `[from, to)`, in order.
    fn read(&self, txn: &Txn<'_>, from: u64, to: u64) -> Result<Vec<Vec<u8>>, CmdError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let values = txn
            .scan(Cf::List, &self.key_of(from), &self.key_of(to), false)?
            .map(|e| e.map(|(_, v)| v))
            .collect::<Result<Vec<_>, _>>()?;
        if values.len() as u64 != to - from {
            return Err(missing(from).into());
        }
        Ok(values)
    }

    fn put(&self, txn: &mut Txn<'_>, idx: u64, value: Vec<u8>) {
        txn.put(Cf::List, self.key_at(idx), value);
    }

    /// Deletes the elements at absolute indexes `[from, to)`.
    fn delete_indexes(&self, txn: &mut Txn<'_>, from: u64, to: u64) {
        if to <= from {
            return;
        }
        if to - from >= RANGE_DELETE_MIN {
            txn.delete_range(Cf::List, self.key_at(from), self.key_at(to));
        } else {
            for idx in from..to {
                txn.delete(Cf::List, self.key_at(idx));
            }
        }
    }

    fn push(&mut self, txn: &mut Txn<'_>, end: End, value: Vec<u8>) {
        match end {
            End::Left => {
                self.meta.head -= 1;
                self.put(txn, self.meta.head, value);
            }
            End::Right => {
                self.put(txn, self.meta.tail, value);
                self.meta.tail += 1;
            }
        }
    }

    /// Removes up to `n` elements from `end`, returned in the order they were popped.
    fn pop(&mut self, txn: &mut Txn<'_>, end: End, n: u64) -> Result<Vec<Vec<u8>>, CmdError> {
        let n = n.min(self.len());
        let len = self.len();
        Ok(match end {
            End::Left => {
                let values = self.read(txn, 0, n)?;
                let head = self.meta.head;
                self.delete_indexes(txn, head, head + n);
                self.meta.head += n;
                values
            }
            End::Right => {
                let mut values = self.read(txn, len - n, len)?;
                values.reverse();
                let tail = self.meta.tail;
                self.delete_indexes(txn, tail - n, tail);
                self.meta.tail -= n;
                values
            }
        })
    }

    /// Replaces the `del` elements starting at position `at` with `mid`, moving whichever side
    /// of the list is shorter when the length changes.
    fn splice(
        &mut self,
        txn: &mut Txn<'_>,
        at: u64,
        del: u64,
        mid: Vec<Vec<u8>>,
    ) -> Result<(), CmdError> {
        let len = self.len();
        let after = len - at - del;
        let m = mid.len() as u64;
        let (head, tail) = (self.meta.head, self.meta.tail);
        if m == del {
            for (i, v) in mid.into_iter().enumerate() {
                self.put(txn, head + at + i as u64, v);
            }
        } else if at <= after {
            // Move the part before the window; the tail stays put.
            let before = self.read(txn, 0, at)?;
            let new_head = tail - (at + m + after);
            for (i, v) in before.into_iter().chain(mid).enumerate() {
                self.put(txn, new_head + i as u64, v);
            }
            self.delete_indexes(txn, head, new_head);
            self.meta.head = new_head;
        } else {
            // Move the part after the window; the head stays put.
            let rest = self.read(txn, at + del, len)?;
            for (i, v) in mid.into_iter().chain(rest).enumerate() {
                self.put(txn, head + at + i as u64, v);
            }
            let new_tail = head + at + m + after;
            self.delete_indexes(txn, new_tail, tail);
            self.meta.tail = new_tail;
        }
        Ok(())
    }

    /// Stores the meta record (deleting the key if the list is now empty).
    fn save(&mut self, ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<(), CmdError> {
        self.meta.count = self.len();
        ctx.txn.save_meta(ctx.db, key, &self.meta)?;
        Ok(())
    }
}

fn missing(pos: u64) -> StorageError {
    StorageError::Corrupt {
        cf: "list",
        detail: format!("list element at position {pos} is missing"),
    }
}

/// The live list stored at `key`, or WRONGTYPE.
fn load(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<List>, CmdError> {
    Ok(ctx
        .typed_meta(KeyType::List, key)?
        .map(|m| List::new(ctx.db, key, m)))
}

/// The list at `key`, created empty (not yet saved) if there is none.
fn load_or_create(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<List, CmdError> {
    Ok(match load(ctx, key)? {
        Some(list) => list,
        None => {
            let meta = ctx.txn.create_key(ctx.db, key, KeyType::List)?;
            List::new(ctx.db, key, meta)
        }
    })
}

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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use crate::command::testing::{bulk, bulks, err, int, TestDb};
    use crate::command::{flags, lookup};
    use crate::resp::Reply;
    use crate::storage::Cf;

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    fn ints(items: &[i64]) -> Reply {
        Reply::Array(items.iter().map(|&n| int(n)).collect())
    }

    fn empty() -> Reply {
        Reply::Array(Vec::new())
    }

    /// Number of list elements stored in database 0, to catch leaked or missing entries.
    fn stored_elements(t: &TestDb) -> usize {
        t.db.reader()
            .scan(Cf::List, &[0], &[1], false)
            .unwrap()
            .count()
    }

    #[test]
    fn table_matches_redis() {
        let spec = |n: &str| lookup(n.as_bytes()).unwrap();
        for name in ["lpush", "rpush", "lpushx", "rpushx"] {
            assert_eq!(spec(name).arity, -3);
            assert_eq!(
                spec(name).flags,
                flags::WRITE | flags::DENYOOM | flags::FAST
            );
        }
        assert_eq!(spec("lpop").flags, flags::WRITE | flags::FAST);
        assert_eq!(spec("llen").flags, flags::READONLY | flags::FAST);
        assert_eq!(spec("lrange").flags, flags::READONLY);
        assert_eq!(spec("lpos").arity, -3);
        assert_eq!(spec("lmove").keys, (1, 2, 1));
        assert_eq!(spec("rpoplpush").keys, (1, 2, 1));
        assert_eq!(spec("rpoplpush").key_indexes(3), vec![1, 2]);
        assert_eq!(spec("linsert").key_indexes(5), vec![1]);
    }

    #[test]
    fn push_and_length() {
        let mut t = TestDb::new();
        assert_eq!(t.run("LPUSH k a b c"), int(3));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["c", "b", "a"]));
        assert_eq!(t.run("RPUSH k d e"), int(5));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["c", "b", "a", "d", "e"]));
        assert_eq!(t.run("LLEN k"), int(5));
        assert_eq!(t.run("LLEN missing"), int(0));
        assert_eq!(t.run("LPUSHX missing a"), int(0));
        assert_eq!(t.run("RPUSHX missing a"), int(0));
        assert_eq!(t.run("EXISTS missing"), int(0));
        assert_eq!(t.run("LPUSHX k x y"), int(7));
        assert_eq!(t.run("RPUSHX k z"), int(8));
        assert_eq!(
            t.run("LRANGE k 0 -1"),
            bulks(&["y", "x", "c", "b", "a", "d", "e", "z"])
        );
        assert_eq!(t.run("TYPE k"), Reply::Simple("list".into()));
        assert_eq!(
            t.run("LPUSH k"),
            err("ERR wrong number of arguments for 'lpush' command")
        );
        assert_eq!(
            t.run("RPUSHX k"),
            err("ERR wrong number of arguments for 'rpushx' command")
        );
        assert_eq!(
            t.run("LLEN k extra"),
            err("ERR wrong number of arguments for 'llen' command")
        );
        assert_eq!(t.run("RPUSH bin \"\\x00\\xff\" \"\""), int(2));
        assert_eq!(
            t.run("LRANGE bin 0 -1"),
            Reply::Array(vec![Reply::bulk(&b"\x00\xff"[..]), bulk("")])
        );
        assert_eq!(stored_elements(&t), 10);
    }

    #[test]
    fn pops_with_and_without_count() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b c d e");
        assert_eq!(t.run("LPOP k"), bulk("a"));
        assert_eq!(t.run("RPOP k"), bulk("e"));
        assert_eq!(t.run("LPOP k 0"), empty());
        assert_eq!(t.run("RPOP k 2"), bulks(&["d", "c"]));
        assert_eq!(t.run("LPOP k 10"), bulks(&["b"]));
        assert_eq!(t.run("EXISTS k"), int(0), "an emptied list is deleted");
        assert_eq!(t.run("LPOP k"), Reply::Nil);
        assert_eq!(t.run("RPOP k"), Reply::Nil);
        assert_eq!(t.run("LPOP k 2"), Reply::NilArray);
        assert_eq!(t.run("RPOP k 0"), Reply::NilArray);
        assert_eq!(stored_elements(&t), 0);

        t.run("RPUSH k a b c");
        assert_eq!(t.run("LPOP k 2"), bulks(&["a", "b"]));
        assert_eq!(t.run("RPOP k 1"), bulks(&["c"]));
        assert_eq!(t.run("EXISTS k"), int(0));

        let positive = err("ERR value is out of range, must be positive");
        t.run("RPUSH k a");
        assert_eq!(t.run("LPOP k -1"), positive);
        assert_eq!(t.run("RPOP k abc"), positive);
        assert_eq!(t.run("LPOP missing -1"), positive);
        assert_eq!(t.run("LPOP k 1000000000000000000000"), positive);
        assert_eq!(
            t.run("LPOP k 1 2"),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        assert_eq!(
            t.run("RPOP"),
            err("ERR wrong number of arguments for 'rpop' command")
        );
        t.run("SET s x");
        assert_eq!(t.run("LPOP s"), err(WRONGTYPE));
        assert_eq!(t.run("RPOP s 0"), err(WRONGTYPE));
        assert_eq!(
            t.run("LPOP s -1"),
            positive,
            "the count is checked before the type"
        );
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["a"]));
    }

    #[test]
    fn many_elements_pop_with_range_deletes() {
        let mut t = TestDb::new();
        let values: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        t.run(&format!("RPUSH k {}", values.join(" ")));
        let popped = t.run("LPOP k 50");
        assert_eq!(
            popped,
            bulks(&values[..50].iter().map(String::as_str).collect::<Vec<_>>())
        );
        let popped = t.run("RPOP k 50");
        let expect: Vec<&str> = values[150..].iter().rev().map(String::as_str).collect();
        assert_eq!(popped, bulks(&expect));
        assert_eq!(t.run("LLEN k"), int(100));
        assert_eq!(t.run("LINDEX k 0"), bulk("50"));
        assert_eq!(t.run("LINDEX k -1"), bulk("149"));
        assert_eq!(stored_elements(&t), 100);
        t.run("LPUSH k a");
        assert_eq!(t.run("LRANGE k 0 1"), bulks(&["a", "50"]));
    }

    #[test]
    fn lrange_and_lindex_indexes() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b c d e");
        assert_eq!(t.run("LRANGE k 0 0"), bulks(&["a"]));
        assert_eq!(t.run("LRANGE k -3 2"), bulks(&["c"]));
        assert_eq!(t.run("LRANGE k -2 -1"), bulks(&["d", "e"]));
        assert_eq!(
            t.run("LRANGE k -100 100"),
            bulks(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(t.run("LRANGE k 1 -2"), bulks(&["b", "c", "d"]));
        assert_eq!(t.run("LRANGE k 3 1"), empty());
        assert_eq!(t.run("LRANGE k 5 10"), empty());
        assert_eq!(t.run("LRANGE k -10 -6"), empty());
        assert_eq!(t.run("LRANGE missing 0 -1"), empty());
        assert_eq!(
            t.run("LRANGE k a 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("LRANGE missing 0 b"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("LRANGE k 0"),
            err("ERR wrong number of arguments for 'lrange' command")
        );

        assert_eq!(t.run("LINDEX k 0"), bulk("a"));
        assert_eq!(t.run("LINDEX k 4"), bulk("e"));
        assert_eq!(t.run("LINDEX k -1"), bulk("e"));
        assert_eq!(t.run("LINDEX k -5"), bulk("a"));
        assert_eq!(t.run("LINDEX k 5"), Reply::Nil);
        assert_eq!(t.run("LINDEX k -6"), Reply::Nil);
        assert_eq!(t.run("LINDEX k -9223372036854775808"), Reply::Nil);
        assert_eq!(t.run("LINDEX missing 0"), Reply::Nil);
        // The key is looked up before the index is parsed, as in Redis.
        assert_eq!(t.run("LINDEX missing abc"), Reply::Nil);
        assert_eq!(
            t.run("LINDEX k abc"),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn lset_replaces_in_place() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b c");
        assert_eq!(t.run("LSET k 0 x"), Reply::ok());
        assert_eq!(t.run("LSET k -1 z"), Reply::ok());
        assert_eq!(t.run("LSET k 1 y"), Reply::ok());
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["x", "y", "z"]));
        assert_eq!(t.run("LSET k 3 w"), err("ERR index out of range"));
        assert_eq!(t.run("LSET k -4 w"), err("ERR index out of range"));
        assert_eq!(t.run("LSET missing 0 w"), err("ERR no such key"));
        assert_eq!(t.run("LSET missing abc w"), err("ERR no such key"));
        assert_eq!(
            t.run("LSET k abc w"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(t.run("EXISTS missing"), int(0));
        assert_eq!(stored_elements(&t), 3);
    }

    #[test]
    fn lrem_directions() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b a c a b a");
        assert_eq!(t.run("LREM k 2 a"), int(2));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "a", "b", "a"]));
        assert_eq!(t.run("LREM k -1 b"), int(1));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "a", "a"]));
        assert_eq!(t.run("LREM k 0 a"), int(2));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c"]));
        assert_eq!(t.run("LREM k 0 zz"), int(0));
        assert_eq!(t.run("LREM k -5 c"), int(1));
        assert_eq!(t.run("LREM k 1 b"), int(1));
        assert_eq!(t.run("EXISTS k"), int(0));
        assert_eq!(t.run("LREM k 0 a"), int(0));
        assert_eq!(stored_elements(&t), 0);

        t.run("RPUSH k x a y a z a w");
        assert_eq!(t.run("LREM k -2 a"), int(2));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["x", "a", "y", "z", "w"]));
        t.run("DEL k");
        t.run("RPUSH k a x y z w v a b");
        assert_eq!(t.run("LREM k 0 a"), int(2));
        assert_eq!(
            t.run("LRANGE k 0 -1"),
            bulks(&["x", "y", "z", "w", "v", "b"])
        );
        assert_eq!(stored_elements(&t), 6);

        assert_eq!(
            t.run("LREM k x a"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("LREM missing x a"),
            err("ERR value is not an integer or out of range")
        );
        t.run("SET s v");
        assert_eq!(t.run("LREM s 0 a"), err(WRONGTYPE));
    }

    #[test]
    fn lrem_shifts_the_shorter_side() {
        let mut t = TestDb::new();
        let xs = vec!["x"; 40].join(" ");
        // Short tail: the tail part moves and the freed indexes become one range deletion.
        t.run(&format!("RPUSH k a b c d e f g h i j {xs} k l m n o"));
        assert_eq!(t.run("LREM k 0 x"), int(40));
        let expect = [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
        ];
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&expect));
        // Short head: the head part moves.
        t.run(&format!("RPUSH h a b c d e {xs} f g h i j k l m n o"));
        assert_eq!(t.run("LREM h -100 x"), int(40));
        assert_eq!(t.run("LRANGE h 0 -1"), bulks(&expect));
        assert_eq!(stored_elements(&t), 30);
        assert_eq!(t.run("LINSERT k BEFORE b 1"), int(16));
        assert_eq!(t.run("LINSERT h AFTER n 2"), int(16));
        assert_eq!(t.run("LINDEX k 1"), bulk("1"));
        assert_eq!(t.run("LINDEX h -2"), bulk("2"));
        assert_eq!(stored_elements(&t), 32);
    }

    #[test]
    fn ltrim_keeps_a_range() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b c d e f");
        assert_eq!(t.run("LTRIM k 1 -2"), Reply::ok());
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "d", "e"]));
        assert_eq!(t.run("LTRIM k -100 100"), Reply::ok());
        assert_eq!(t.run("LLEN k"), int(4));
        assert_eq!(t.run("LTRIM k -2 -1"), Reply::ok());
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["d", "e"]));
        assert_eq!(stored_elements(&t), 2);
        assert_eq!(t.run("LTRIM k 1 0"), Reply::ok());
        assert_eq!(t.run("EXISTS k"), int(0));
        assert_eq!(t.run("LTRIM missing 0 1"), Reply::ok());
        assert_eq!(t.run("EXISTS missing"), int(0));
        t.run("RPUSH k a b c");
        assert_eq!(t.run("LTRIM k 5 10"), Reply::ok());
        assert_eq!(t.run("EXISTS k"), int(0));
        assert_eq!(stored_elements(&t), 0);
        let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        t.run(&format!("RPUSH big {}", values.join(" ")));
        assert_eq!(t.run("LTRIM big 40 59"), Reply::ok());
        assert_eq!(t.run("LRANGE big 0 0"), bulks(&["40"]));
        assert_eq!(t.run("LRANGE big -1 -1"), bulks(&["59"]));
        assert_eq!(stored_elements(&t), 20);
        assert_eq!(
            t.run("LTRIM big a 1"),
            err("ERR value is not an integer or out of range")
        );
        t.run("SET s v");
        assert_eq!(t.run("LTRIM s 0 1"), err(WRONGTYPE));
    }

    #[test]
    fn linsert_before_and_after() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b c");
        assert_eq!(t.run("LINSERT k BEFORE b x"), int(4));
        assert_eq!(t.run("LINSERT k after c y"), int(5));
        assert_eq!(t.run("LINSERT k before a z"), int(6));
        assert_eq!(t.run("LINSERT k AFTER a w"), int(7));
        assert_eq!(
            t.run("LRANGE k 0 -1"),
            bulks(&["z", "a", "w", "x", "b", "c", "y"])
        );
        assert_eq!(t.run("LINSERT k BEFORE nope v"), int(-1));
        assert_eq!(t.run("LINSERT missing BEFORE a v"), int(0));
        assert_eq!(t.run("EXISTS missing"), int(0));
        assert_eq!(t.run("LINSERT k MIDDLE a v"), err("ERR syntax error"));
        assert_eq!(t.run("LINSERT missing MIDDLE a v"), err("ERR syntax error"));
        assert_eq!(
            t.run("LINSERT k BEFORE a"),
            err("ERR wrong number of arguments for 'linsert' command")
        );
        // Duplicate pivots: the first from the head is used.
        t.run("RPUSH d p p p");
        assert_eq!(t.run("LINSERT d AFTER p q"), int(4));
        assert_eq!(t.run("LRANGE d 0 -1"), bulks(&["p", "q", "p", "p"]));
        assert_eq!(stored_elements(&t), 11);
        t.run("SET s v");
        assert_eq!(t.run("LINSERT s BEFORE a b"), err(WRONGTYPE));
    }

    #[test]
    fn lpos_options() {
        let mut t = TestDb::new();
        t.run("RPUSH l a b c a b c a");
        assert_eq!(t.run("LPOS l a"), int(0));
        assert_eq!(t.run("LPOS l c"), int(2));
        assert_eq!(t.run("LPOS l zz"), Reply::Nil);
        assert_eq!(t.run("LPOS l a RANK 2"), int(3));
        assert_eq!(t.run("LPOS l a RANK -1"), int(6));
        assert_eq!(t.run("LPOS l a RANK -2"), int(3));
        assert_eq!(t.run("LPOS l a RANK 5"), Reply::Nil);
        assert_eq!(t.run("LPOS l a RANK 5 COUNT 1"), empty());
        assert_eq!(t.run("LPOS l a COUNT 0"), ints(&[0, 3, 6]));
        assert_eq!(t.run("LPOS l a COUNT 2"), ints(&[0, 3]));
        assert_eq!(t.run("LPOS l a RANK -1 COUNT 2"), ints(&[6, 3]));
        assert_eq!(t.run("LPOS l a rank 2 count 0 maxlen 5"), ints(&[3]));
        assert_eq!(t.run("LPOS l c RANK -1 MAXLEN 2"), int(5));
        assert_eq!(t.run("LPOS l c RANK -1 MAXLEN 1"), Reply::Nil);
        assert_eq!(t.run("LPOS l zz COUNT 0"), empty());
        assert_eq!(t.run("LPOS missing a"), Reply::Nil);
        assert_eq!(t.run("LPOS missing a COUNT 0"), empty());

        let rank_zero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list";
        assert_eq!(t.run("LPOS l a RANK 0"), err(rank_zero));
        assert_eq!(
            t.run("LPOS l a RANK -9223372036854775808"),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            t.run("LPOS l a RANK abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            t.run("LPOS l a COUNT -1"),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            t.run("LPOS l a COUNT abc"),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            t.run("LPOS l a MAXLEN -1"),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(
            t.run("LPOS l a MAXLEN abc"),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(t.run("LPOS l a RANK"), err("ERR syntax error"));
        assert_eq!(t.run("LPOS missing a FOO 1"), err("ERR syntax error"));
        assert_eq!(
            t.run("LPOS missing a RANK 0"),
            err(rank_zero),
            "options before the key"
        );
        assert_eq!(
            t.run("LPOS l"),
            err("ERR wrong number of arguments for 'lpos' command")
        );
        t.run("SET s v");
        assert_eq!(t.run("LPOS s a"), err(WRONGTYPE));
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut t = TestDb::new();
        t.run("RPUSH src a b c");
        assert_eq!(t.run("RPOPLPUSH src dst"), bulk("c"));
        assert_eq!(t.run("LMOVE src dst LEFT RIGHT"), bulk("a"));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["c", "a"]));
        assert_eq!(t.run("lmove src dst right left"), bulk("b"));
        assert_eq!(t.run("EXISTS src"), int(0));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(t.run("RPOPLPUSH src dst"), Reply::Nil);
        assert_eq!(t.run("LMOVE src dst LEFT LEFT"), Reply::Nil);

        // Rotation within one list.
        assert_eq!(t.run("RPOPLPUSH dst dst"), bulk("a"));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["a", "b", "c"]));
        assert_eq!(t.run("LMOVE dst dst LEFT RIGHT"), bulk("a"));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(t.run("LMOVE dst dst LEFT LEFT"), bulk("b"));
        assert_eq!(t.run("LMOVE dst dst RIGHT RIGHT"), bulk("a"));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        t.run("RPUSH one x");
        assert_eq!(t.run("RPOPLPUSH one one"), bulk("x"));
        assert_eq!(t.run("LRANGE one 0 -1"), bulks(&["x"]));
        assert_eq!(stored_elements(&t), 4);

        // A destination of another type: nothing is popped.
        t.run("SET s v");
        assert_eq!(t.run("RPOPLPUSH dst s"), err(WRONGTYPE));
        assert_eq!(t.run("LMOVE dst s LEFT LEFT"), err(WRONGTYPE));
        assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(t.run("LMOVE s dst LEFT LEFT"), err(WRONGTYPE));
        assert_eq!(
            t.run("RPOPLPUSH missing s"),
            Reply::Nil,
            "a missing source wins"
        );
        assert_eq!(t.run("LMOVE dst s UP LEFT"), err("ERR syntax error"));
        assert_eq!(t.run("LMOVE missing s LEFT DOWN"), err("ERR syntax error"));
        assert_eq!(
            t.run("LMOVE a b LEFT"),
            err("ERR wrong number of arguments for 'lmove' command")
        );
        assert_eq!(
            t.run("RPOPLPUSH a"),
            err("ERR wrong number of arguments for 'rpoplpush' command")
        );
    }

    #[test]
    fn wrong_type_everywhere() {
        let mut t = TestDb::new();
        t.run("SET s v");
        for cmd in [
            "LPUSH s a",
            "RPUSH s a",
            "LPUSHX s a",
            "RPUSHX s a",
            "LPOP s",
            "RPOP s 1",
            "LLEN s",
            "LRANGE s 0 -1",
            "LINDEX s 0",
            "LSET s 0 a",
            "LREM s 0 a",
            "LTRIM s 0 1",
            "LINSERT s BEFORE a b",
            "LPOS s a",
            "RPOPLPUSH s x",
            "LMOVE s x LEFT RIGHT",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
        assert_eq!(t.run("GET s"), bulk("v"));
        assert_eq!(t.run("EXISTS x"), int(0));
    }

    #[test]
    fn expiry_is_kept_and_respected() {
        let mut t = TestDb::new();
        t.run("RPUSH k a b");
        assert_eq!(t.run("PEXPIRE k 1000"), int(1));
        t.run("RPUSH k c");
        t.run("LPOP k");
        t.run("LINSERT k BEFORE c x");
        t.run("LREM k 0 x");
        assert_eq!(t.run("PTTL k"), int(1000));
        t.now_ms += 1000;
        assert_eq!(t.run("LLEN k"), int(0));
        assert_eq!(t.run("LRANGE k 0 -1"), empty());
        assert_eq!(t.run("LPUSHX k z"), int(0));
        assert_eq!(t.run("RPUSH k fresh"), int(1));
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["fresh"]));
        assert_eq!(t.run("PTTL k"), int(-1));
        assert_eq!(stored_elements(&t), 1);
    }

    /// Several commands in one transaction, as the applier runs a group or a MULTI block: puts
    /// into indexes an earlier command range-deleted must survive the commit.
    #[test]
    fn one_transaction_many_commands() {
        use crate::command::{execute, resolve, Ctx};
        let mut t = TestDb::new();
        let mut rng = crate::command::SplitMix64::new(1);
        let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let script = [
            format!("RPUSH k {}", values.join(" ")),
            "LTRIM k 0 9".to_string(),
            "RPUSH k a b c".to_string(),
            "LPOP k 5".to_string(),
            "LPUSH k x y".to_string(),
            "LINSERT k AFTER 7 mid".to_string(),
            "LREM k 1 8".to_string(),
            "LRANGE k 0 -1".to_string(),
        ];
        let mut txn = t.db.writer();
        let mut last = Reply::Nil;
        for line in &script {
            let argv = crate::resp::request::split_args(line.as_bytes()).unwrap();
            let spec = resolve(&argv).unwrap();
            let mut ctx = Ctx {
                txn: &mut txn,
                db: 0,
                now_ms: t.now_ms,
                rng: &mut rng,
            };
            last = execute(&mut ctx, spec, &argv).unwrap();
        }
        let expect = ["y", "x", "5", "6", "7", "mid", "9", "a", "b", "c"];
        assert_eq!(last, bulks(&expect));
        t.db.commit(txn, false).unwrap();
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&expect));
        assert_eq!(stored_elements(&t), expect.len());
    }

    /// Random operations against a `VecDeque` model, checking contents and stored entries.
    #[test]
    fn random_operations_match_a_model() {
        let mut t = TestDb::new();
        let mut rng = StdRng::seed_from_u64(42);
        let mut model: VecDeque<String> = VecDeque::new();
        for step in 0..1500 {
            let v = format!("v{}", rng.random_range(0..6));
            let len = model.len() as i64;
            let idx = rng.random_range(-(len + 2)..=len + 2);
            match rng.random_range(0..10) {
                0 => {
                    t.run(&format!("LPUSH k {v} {v}x"));
                    model.push_front(v.clone());
                    model.push_front(format!("{v}x"));
                }
                1 => {
                    // Now and then a run of equal values, so LREM and LTRIM delete ranges.
                    let n = if rng.random_range(0..8) == 0 { 40 } else { 1 };
                    t.run(&format!("RPUSH k {}", vec![v.as_str(); n].join(" ")));
                    model.extend(std::iter::repeat_n(v, n));
                }
                2 => {
                    let n = rng.random_range(0..4usize);
                    let left = rng.random::<bool>();
                    let reply = t.run(&format!("{} k {n}", if left { "LPOP" } else { "RPOP" }));
                    if model.is_empty() {
                        assert_eq!(reply, Reply::NilArray);
                    }
                    let mut popped = Vec::new();
                    while popped.len() < n {
                        match if left {
                            model.pop_front()
                        } else {
                            model.pop_back()
                        } {
                            Some(x) => popped.push(x),
                            None => break,
                        }
                    }
                    if !reply.is_error() && reply != Reply::NilArray {
                        let popped: Vec<&str> = popped.iter().map(String::as_str).collect();
                        assert_eq!(reply, bulks(&popped));
                    }
                }
                3 => {
                    let before = rng.random::<bool>();
                    let where_ = if before { "BEFORE" } else { "AFTER" };
                    let reply = t.run(&format!("LINSERT k {where_} {v} new{step}"));
                    if let Some(p) = model.iter().position(|x| *x == v) {
                        model.insert(if before { p } else { p + 1 }, format!("new{step}"));
                        assert_eq!(reply, int(model.len() as i64));
                    } else {
                        assert_eq!(reply, int(if model.is_empty() { 0 } else { -1 }));
                    }
                }
                4 => {
                    let count = rng.random_range(-3..=3i64);
                    let reply = t.run(&format!("LREM k {count} {v}"));
                    let removed = model_lrem(&mut model, count, &v);
                    assert_eq!(reply, int(removed), "LREM k {count} {v}");
                }
                5 => {
                    let stop = rng.random_range(-(len + 2)..=len + 2);
                    t.run(&format!("LTRIM k {idx} {stop}"));
                    model = match super::resolve_range(idx, stop, len as u64) {
                        Some((a, b)) => model.range(a as usize..=b as usize).cloned().collect(),
                        None => VecDeque::new(),
                    };
                }
                6 => {
                    let reply = t.run(&format!("LSET k {idx} set{step}"));
                    match super::position(idx, len as u64) {
                        Some(p) if len > 0 => {
                            assert_eq!(reply, Reply::ok());
                            model[p as usize] = format!("set{step}");
                        }
                        _ => assert!(reply.is_error()),
                    }
                }
                7 => {
                    let (from, to) = (rng.random::<bool>(), rng.random::<bool>());
                    let side = |left: bool| if left { "LEFT" } else { "RIGHT" };
                    let reply = t.run(&format!("LMOVE k k {} {}", side(from), side(to)));
                    let popped = if from {
                        model.pop_front()
                    } else {
                        model.pop_back()
                    };
                    match popped {
                        Some(x) => {
                            assert_eq!(reply, bulk(&x));
                            if to {
                                model.push_front(x);
                            } else {
                                model.push_back(x);
                            }
                        }
                        None => assert_eq!(reply, Reply::Nil),
                    }
                }
                8 => {
                    let reply = t.run(&format!("LINDEX k {idx}"));
                    let expect = super::position(idx, len as u64)
                        .map(|p| bulk(&model[p as usize]))
                        .unwrap_or(Reply::Nil);
                    assert_eq!(reply, expect);
                }
                _ => {
                    let reply = t.run(&format!("LPOS k {v} RANK -1 COUNT 0"));
                    let expect: Vec<i64> = (0..model.len())
                        .rev()
                        .filter(|&i| model[i] == v)
                        .map(|i| i as i64)
                        .collect();
                    assert_eq!(reply, ints(&expect));
                }
            }
            let all: Vec<&str> = model.iter().map(String::as_str).collect();
            assert_eq!(t.run("LRANGE k 0 -1"), bulks(&all), "step {step}");
            assert_eq!(t.run("LLEN k"), int(model.len() as i64));
            assert_eq!(stored_elements(&t), model.len(), "step {step}");
        }
    }

    fn model_lrem(model: &mut VecDeque<String>, count: i64, v: &str) -> i64 {
        let limit = count.unsigned_abs() as usize;
        let mut positions: Vec<usize> = (0..model.len()).filter(|&i| model[i] == v).collect();
        if count < 0 {
            positions.reverse();
        }
        if limit != 0 {
            positions.truncate(limit);
        }
        positions.sort_unstable();
        for &p in positions.iter().rev() {
            model.remove(p);
        }
        positions.len() as i64
    }
}
