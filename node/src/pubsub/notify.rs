//! Keyspace notifications (`notify-keyspace-events`): the events Redis's `notifyKeyspaceEvent`
//! calls emit for each command, worked out where writes are applied.
//!
//! The applier ([`crate::engine::apply_notifying`]) calls [`before`] ahead of each command of a
//! mutation and [`after`] once it ran, with what the command changed (the transaction's
//! touches) and its reply. From those and the keys' state before and after, this module names
//! the events as Redis does (`set`, `del`, `expire`, `lpush`, `rename_from`, ...), in Redis's
//! order. Nothing here runs when notifications are off, the default: [`before`] answers `None`
//! at once. The events are published once the entries are committed (see the state machine),
//! on every node to its own subscribers.
//!
//! The classes (`g`, `$`, `l`, ... and `n` for new keys, `x` for expired ones) are those of
//! `config::tunables`. Key misses (`m`) are reads, not writes: the node that serves the read
//! reports them (see [`crate::pubsub::Hub::key_miss`]). Commands of families without events
//! here emit none.

use bytes::Bytes;

use crate::command::{self, CommandSpec};
use crate::config::tunables::{
    N_EXPIRED, N_GENERIC, N_HASH, N_KEYEVENT, N_KEYSPACE, N_LIST, N_NEW, N_SET, N_STREAM, N_STRING,
    N_ZSET,
};
use crate::resp::Reply;
use crate::storage::{StorageError, Touch, Txn};

/// One keyspace event: `name` happened to `key` of database `db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub db: u8,
    pub key: Bytes,
}

impl Event {
    /// The messages the event publishes under `flags`: to `__keyspace@<db>__:<key>` (the event
    /// name) with `K`, then to `__keyevent@<db>__:<event>` (the key) with `E`.
    pub fn messages(&self, flags: u32) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::with_capacity(2);
        if flags & self.class == 0 {
            return out;
        }
        if flags & N_KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{}__:", self.db).into_bytes();
            channel.extend_from_slice(&self.key);
            out.push((
                Bytes::from(channel),
                Bytes::from_static(self.name.as_bytes()),
            ));
        }
        if flags & N_KEYEVENT != 0 {
            let channel = format!("__keyevent@{}__:{}", self.db, self.name);
            out.push((Bytes::from(channel), self.key.clone()));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Live,
    /// Stored, past its deadline: a write that looks it up deletes it first, which Redis
    /// reports as `expired`.
    Expired,
}

/// The state of a command's keys before it ran.
pub struct Before {
    keys: Vec<(u8, Bytes, State)>,
}

impl Before {
    fn state(&self, db: u8, key: &[u8]) -> State {
        self.keys
            .iter()
            .find(|(d, k, _)| *d == db && k[..] == *key)
            .map_or(State::Absent, |(_, _, s)| *s)
    }
}

fn state(txn: &Txn<'_>, db: u8, key: &[u8], now_ms: u64) -> Result<State, StorageError> {
    Ok(match txn.raw_meta(db, key)? {
        None => State::Absent,
        Some(m) if m.is_expired(now_ms) => State::Expired,
        Some(_) => State::Live,
    })
}

/// The database and key a command writes besides its own keys: MOVE's and COPY ... DB's
/// destination in another database.
fn other_db_key(name: &str, argv: &[Bytes], db: u8) -> Option<(u8, Bytes)> {
    let parse_db = |raw: &Bytes| command::args::parse_i64(raw).ok().map(|n| n as u8);
    match name {
        "move" => Some((parse_db(argv.get(2)?)?, argv[1].clone())),
        "copy" => {
            let mut i = 3;
            let mut target = db;
            while i < argv.len() {
                if argv[i].eq_ignore_ascii_case(b"db") {
                    target = parse_db(argv.get(i + 1)?)?;
                    i += 1;
                }
                i += 1;
            }
            Some((target, argv[2].clone())).filter(|_| target != db)
        }
        _ => None,
    }
}

/// The keys of `argv` and their databases.
fn keys_of(spec: &CommandSpec, argv: &[Bytes], db: u8) -> Vec<(u8, Bytes)> {
    let mut keys: Vec<(u8, Bytes)> = command::key_positions(spec, argv)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| argv.get(i).map(|k| (db, k.clone())))
        .collect();
    keys.extend(other_db_key(spec.name, argv, db));
    keys
}

/// What the command's keys are before it runs; `None` when no notification is wanted (the
/// default), so that nothing else is done.
pub fn before(
    txn: &Txn<'_>,
    flags: u32,
    spec: &CommandSpec,
    argv: &[Bytes],
    db: u8,
    now_ms: u64,
) -> Result<Option<Before>, StorageError> {
    if flags & (N_KEYSPACE | N_KEYEVENT) == 0 || !spec.is_write() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for (d, key) in keys_of(spec, argv, db) {
        let s = state(txn, d, &key, now_ms)?;
        keys.push((d, key, s));
    }
    Ok(Some(Before { keys }))
}

/// What [`after`] looks at once the command ran.
struct View<'a, 't> {
    txn: &'a Txn<'t>,
    touches: &'a [Touch],
    now_ms: u64,
    db: u8,
    events: Vec<Event>,
}

impl View<'_, '_> {
    fn touched_in(&self, db: u8, key: &[u8]) -> bool {
        self.touches.iter().any(|t| match t {
            Touch::Key { db: d, key: k } => *d == db && k[..] == *key,
            Touch::Db(d) => *d == db,
            Touch::All => true,
        })
    }

    fn touched(&self, key: &[u8]) -> bool {
        self.touched_in(self.db, key)
    }

    fn exists_in(&self, db: u8, key: &[u8]) -> Result<bool, StorageError> {
        Ok(state(self.txn, db, key, self.now_ms)? == State::Live)
    }

    fn exists(&self, key: &[u8]) -> Result<bool, StorageError> {
        self.exists_in(self.db, key)
    }

    fn emit_in(&mut self, class: u32, name: &'static str, db: u8, key: &Bytes) {
        self.events.push(Event {
            class,
            name,
            db,
            key: key.clone(),
        });
    }

    fn emit(&mut self, class: u32, name: &'static str, key: &Bytes) {
        let db = self.db;
        self.emit_in(class, name, db, key);
    }

    /// `name` if the command changed `key`, then `del` if that emptied it away: what every
    /// command that removes elements emits.
    fn removed(&mut self, class: u32, name: &'static str, key: &Bytes) -> Result<(), StorageError> {
        if self.touched(key) {
            self.emit(class, name, key);
            if !self.exists(key)? {
                self.emit(N_GENERIC, "del", key);
            }
        }
        Ok(())
    }

    /// A *STORE command's destination: `name` when it holds the result, `del` when the empty
    /// result deleted what was there.
    fn stored(&mut self, class: u32, name: &'static str, key: &Bytes) -> Result<(), StorageError> {
        if self.exists(key)? {
            if self.touched(key) {
                self.emit(class, name, key);
            }
        } else if self.touched(key) {
            self.emit(N_GENERIC, "del", key);
        }
        Ok(())
    }

    /// `name` if the command changed `key`.
    fn changed(&mut self, class: u32, name: &'static str, key: &Bytes) {
        if self.touched(key) {
            self.emit(class, name, key);
        }
    }
}

fn positive(reply: &Reply) -> bool {
    matches!(reply, Reply::Int(n) if *n > 0)
}

fn has_option(argv: &[Bytes], from: usize, options: &[&str]) -> bool {
    argv.iter()
        .skip(from)
        .any(|a| options.iter().any(|o| a.eq_ignore_ascii_case(o.as_bytes())))
}

/// The key a blocking or multi-key pop answered for: the first item of its reply.
fn popped_key(reply: &Reply) -> Option<Bytes> {
    match reply {
        Reply::Array(items) => match items.first() {
            Some(Reply::Bulk(k)) => Some(k.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The events of a command that ran, in Redis's order, appended to `out`.
#[allow(clippy::too_many_arguments)]
pub fn after(
    txn: &Txn<'_>,
    before: &Before,
    spec: &CommandSpec,
    argv: &[Bytes],
    reply: &Reply,
    touches: &[Touch],
    db: u8,
    now_ms: u64,
    out: &mut Vec<Event>,
) -> Result<(), StorageError> {
    if touches.is_empty() {
        return Ok(());
    }
    let mut v = View {
        txn,
        touches,
        now_ms,
        db,
        events: Vec::new(),
    };
    // A write that looked up a key already past its deadline deleted it first (`expired`);
    // a key it then created is `new` (Redis's dbAdd).
    for (d, key, s) in &before.keys {
        if *s == State::Expired && v.touched_in(*d, key) {
            v.emit_in(N_EXPIRED, "expired", *d, key);
        }
    }
    for (d, key, s) in &before.keys {
        if *s != State::Live
            && v.exists_in(*d, key)?
            && !v
                .events
                .iter()
                .any(|e| e.name == "new" && e.db == *d && e.key == key)
        {
            v.emit_in(N_NEW, "new", *d, key);
        }
    }
    command_events(&mut v, before, spec.name, argv, reply)?;
    out.extend(v.events);
    Ok(())
}

// One arm per command, each saying when it emits what: conditions stay inside the arms (as
// guards, a false one would fall through to the arms below).
#[allow(clippy::collapsible_match)]
fn command_events(
    v: &mut View<'_, '_>,
    before: &Before,
    name: &str,
    argv: &[Bytes],
    reply: &Reply,
) -> Result<(), StorageError> {
    let key = argv.get(1).cloned().unwrap_or_default();
    match name {
        // Strings.
        "set" | "setnx" | "getset" => {
            if v.touched(&key) {
                v.emit(N_STRING, "set", &key);
                if name == "set" && has_option(argv, 3, &["ex", "px", "exat", "pxat"]) {
                    v.emit(N_GENERIC, "expire", &key);
                }
            }
        }
        "setex" | "psetex" => {
            if v.touched(&key) {
                v.emit(N_STRING, "set", &key);
                v.emit(N_GENERIC, "expire", &key);
            }
        }
        "mset" | "msetnx" => {
            for k in argv.iter().skip(1).step_by(2) {
                v.changed(N_STRING, "set", k);
            }
        }
        "append" | "setrange" | "setbit" => {
            let event = match name {
                "append" => "append",
                "setrange" => "setrange",
                _ => "setbit",
            };
            v.changed(N_STRING, event, &key)
        }
        "bitfield" => v.changed(N_STRING, "setbit", &key),
        // HyperLogLogs (Redis's hyperloglog.c): PFMERGE is reported as a PFADD.
        "pfadd" => {
            if positive(reply) {
                v.emit(N_STRING, "pfadd", &key);
            }
        }
        "pfmerge" => v.changed(N_STRING, "pfadd", &key),
        "incr" | "decr" | "incrby" | "decrby" => v.changed(N_STRING, "incrby", &key),
        "incrbyfloat" => v.changed(N_STRING, "incrbyfloat", &key),
        "getdel" => v.changed(N_GENERIC, "del", &key),
        "getex" => {
            if v.touched(&key) {
                if !v.exists(&key)? {
                    v.emit(N_GENERIC, "del", &key);
                } else if has_option(argv, 2, &["persist"]) {
                    v.emit(N_GENERIC, "persist", &key);
                } else {
                    v.emit(N_GENERIC, "expire", &key);
                }
            }
        }
        "bitop" => {
            if let Some(dest) = argv.get(2).cloned() {
                v.stored(N_STRING, "set", &dest)?;
            }
        }
        // Keys.
        "del" | "unlink" => {
            for k in &argv[1..] {
                v.changed(N_GENERIC, "del", k);
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            if v.touched(&key) {
                let event = if v.exists(&key)? { "expire" } else { "del" };
                v.emit(N_GENERIC, event, &key);
            }
        }
        "persist" => v.changed(N_GENERIC, "persist", &key),
        "rename" | "renamenx" => {
            let dest = argv.get(2).cloned().unwrap_or_default();
            if dest != key && v.touched(&key) {
                v.emit(N_GENERIC, "rename_from", &key);
                v.emit(N_GENERIC, "rename_to", &dest);
            }
        }
        "move" => {
            if let (Reply::Int(1), Some((to, k))) = (reply, other_db_key(name, argv, v.db)) {
                v.emit(N_GENERIC, "move_from", &k);
                v.emit_in(N_GENERIC, "move_to", to, &k);
            }
        }
        "copy" => {
            if let Reply::Int(1) = reply {
                let (to, dest) = other_db_key(name, argv, v.db)
                    .unwrap_or((v.db, argv.get(2).cloned().unwrap_or_default()));
                v.emit_in(N_GENERIC, "copy_to", to, &dest);
            }
        }
        "restore" => {
            if matches!(reply, Reply::Simple(s) if s == "OK") {
                v.emit(N_GENERIC, "restore", &key);
            }
        }
        "sort" => {
            let store = argv
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"store"))
                .and_then(|i| argv.get(i + 1).cloned());
            if let Some(dest) = store {
                v.stored(N_LIST, "sortstore", &dest)?;
            }
        }
        // Lists.
        "lpush" | "lpushx" => v.changed(N_LIST, "lpush", &key),
        "rpush" | "rpushx" => v.changed(N_LIST, "rpush", &key),
        "linsert" => v.changed(N_LIST, "linsert", &key),
        "lset" => v.changed(N_LIST, "lset", &key),
        "lpop" => v.removed(N_LIST, "lpop", &key)?,
        "rpop" => v.removed(N_LIST, "rpop", &key)?,
        "lrem" => {
            if positive(reply) {
                v.removed(N_LIST, "lrem", &key)?;
            }
        }
        "ltrim" => {
            // Redis reports LTRIM whenever the list exists, trimmed or not.
            if matches!(reply, Reply::Simple(_)) && before.state(v.db, &key) == State::Live {
                v.emit(N_LIST, "ltrim", &key);
                if !v.exists(&key)? {
                    v.emit(N_GENERIC, "del", &key);
                }
            }
        }
        "blpop" | "brpop" => {
            if let Some(k) = popped_key(reply) {
                let event = if name == "blpop" { "lpop" } else { "rpop" };
                v.removed(N_LIST, event, &k)?;
            }
        }
        "lmpop" | "blmpop" => {
            if let Some(k) = popped_key(reply) {
                let event = if has_option(argv, 2, &["left"]) {
                    "lpop"
                } else {
                    "rpop"
                };
                v.removed(N_LIST, event, &k)?;
            }
        }
        "rpoplpush" | "brpoplpush" | "lmove" | "blmove" => {
            if let Reply::Bulk(_) = reply {
                let dest = argv.get(2).cloned().unwrap_or_default();
                let (from_left, to_left) = match name {
                    "rpoplpush" | "brpoplpush" => (false, true),
                    _ => (
                        argv.get(3).is_some_and(|a| a.eq_ignore_ascii_case(b"left")),
                        argv.get(4).is_some_and(|a| a.eq_ignore_ascii_case(b"left")),
                    ),
                };
                // The push to the destination comes first, then the pop (Redis's lmoveGenericCommand).
                v.emit(N_LIST, if to_left { "lpush" } else { "rpush" }, &dest);
                v.emit(N_LIST, if from_left { "lpop" } else { "rpop" }, &key);
                if !v.exists(&key)? {
                    v.emit(N_GENERIC, "del", &key);
                }
            }
        }
        // Sets.
        "sadd" => {
            if positive(reply) {
                v.emit(N_SET, "sadd", &key);
            }
        }
        "srem" => {
            if positive(reply) {
                v.removed(N_SET, "srem", &key)?;
            }
        }
        "spop" => v.removed(N_SET, "spop", &key)?,
        "smove" => {
            let dest = argv.get(2).cloned().unwrap_or_default();
            if matches!(reply, Reply::Int(1)) && dest != key {
                v.removed(N_SET, "srem", &key)?;
                v.changed(N_SET, "sadd", &dest);
            }
        }
        "sinterstore" | "sunionstore" | "sdiffstore" => {
            let event = match name {
                "sinterstore" => "sinterstore",
                "sunionstore" => "sunionstore",
                _ => "sdiffstore",
            };
            v.stored(N_SET, event, &key)?;
        }
        // Hashes.
        "hset" | "hmset" | "hsetnx" => v.changed(N_HASH, "hset", &key),
        "hdel" => {
            if positive(reply) {
                v.removed(N_HASH, "hdel", &key)?;
            }
        }
        "hincrby" => v.changed(N_HASH, "hincrby", &key),
        "hincrbyfloat" => v.changed(N_HASH, "hincrbyfloat", &key),
        // Sorted sets.
        "zadd" => {
            let event = if has_option(argv, 2, &["incr"]) {
                "zincr"
            } else {
                "zadd"
            };
            v.changed(N_ZSET, event, &key)
        }
        "zincrby" => v.changed(N_ZSET, "zincr", &key),
        "zrem" => {
            if positive(reply) {
                v.removed(N_ZSET, "zrem", &key)?;
            }
        }
        "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" => {
            let event = match name {
                "zremrangebyscore" => "zremrangebyscore",
                "zremrangebyrank" => "zremrangebyrank",
                _ => "zremrangebylex",
            };
            if positive(reply) {
                v.removed(N_ZSET, event, &key)?;
            }
        }
        "zpopmin" => v.removed(N_ZSET, "zpopmin", &key)?,
        "zpopmax" => v.removed(N_ZSET, "zpopmax", &key)?,
        "bzpopmin" | "bzpopmax" => {
            if let Some(k) = popped_key(reply) {
                let event = if name == "bzpopmin" {
                    "zpopmin"
                } else {
                    "zpopmax"
                };
                v.removed(N_ZSET, event, &k)?;
            }
        }
        "zmpop" | "bzmpop" => {
            if let Some(k) = popped_key(reply) {
                let event = if has_option(argv, 2, &["min"]) {
                    "zpopmin"
                } else {
                    "zpopmax"
                };
                v.removed(N_ZSET, event, &k)?;
            }
        }
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => {
            let event = match name {
                "zunionstore" => "zunionstore",
                "zinterstore" => "zinterstore",
                "zdiffstore" => "zdiffstore",
                _ => "zrangestore",
            };
            v.stored(N_ZSET, event, &key)?;
        }
        // Streams (Redis's t_stream.c), for the commands as Redis names them; a stream family
        // that writes no such command emits nothing.
        "xadd" => v.changed(N_STREAM, "xadd", &key),
        "xdel" | "xtrim" => {
            if positive(reply) {
                v.emit(
                    N_STREAM,
                    if name == "xdel" { "xdel" } else { "xtrim" },
                    &key,
                );
            }
        }
        "xsetid" => {
            if matches!(reply, Reply::Simple(s) if s == "OK") {
                v.emit(N_STREAM, "xsetid", &key);
            }
        }
        "xgroup" => {
            // XGROUP <subcommand> <key> ...
            let stream = argv.get(2).cloned().unwrap_or_default();
            let sub = argv
                .get(1)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            let ok = matches!(reply, Reply::Simple(s) if s == "OK");
            let one = matches!(reply, Reply::Int(1));
            let event = match sub.as_slice() {
                b"create" if ok => Some("xgroup-create"),
                b"setid" if ok => Some("xgroup-setid"),
                b"destroy" if one => Some("xgroup-destroy"),
                b"createconsumer" if one => Some("xgroup-createconsumer"),
                b"delconsumer" if matches!(reply, Reply::Int(_)) => Some("xgroup-delconsumer"),
                _ => None,
            };
            if let Some(event) = event {
                v.emit(N_STREAM, event, &stream);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The expirer deleted `key` of `db`: `expired`.
pub fn expired(db: u8, key: &Bytes) -> Event {
    Event {
        class: N_EXPIRED,
        name: "expired",
        db,
        key: key.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::testing::TestDb;
    use crate::config::tunables::notify_flag_bits;
    use crate::engine::{apply_notifying, Mutation, Op};

    /// The `(event, key)` pairs a line of commands emits, each applied as its own mutation.
    fn events(t: &TestDb, lines: &[&str]) -> Vec<String> {
        let flags = notify_flag_bits("KEA").unwrap() | N_NEW;
        let mut out = Vec::new();
        for line in lines {
            let argv = crate::resp::request::split_args(line.as_bytes()).unwrap();
            let m = Mutation {
                now_ms: t.now_ms,
                seed: 1,
                ops: vec![Op::Command { db: 0, argv }],
                multi: false,
            };
            let mut txn = t.db.writer();
            let mut events = Vec::new();
            apply_notifying(&mut txn, &m, 1, flags, &mut events).unwrap();
            t.db.commit(txn, false).unwrap();
            out.extend(
                events
                    .into_iter()
                    .map(|e| format!("{}:{}", e.name, String::from_utf8_lossy(&e.key))),
            );
        }
        out
    }

    #[test]
    fn string_and_generic_events_follow_redis() {
        let t = TestDb::new();
        assert_eq!(
            events(
                &t,
                &[
                    "SET a 1",
                    "SET a 2 EX 100",
                    "SETNX a 3",
                    "INCR a",
                    "APPEND a x",
                    "RENAME a b",
                    "EXPIRE b 100",
                    "PERSIST b",
                    "PERSIST b",
                    "DEL b nokey",
                ]
            ),
            [
                "new:a",
                "set:a",
                "set:a",
                "expire:a",
                "incrby:a",
                "append:a",
                "new:b",
                "rename_from:a",
                "rename_to:b",
                "expire:b",
                "persist:b",
                "del:b"
            ]
        );
    }

    #[test]
    fn removing_the_last_element_also_deletes_the_key() {
        let t = TestDb::new();
        assert_eq!(
            events(
                &t,
                &[
                    "RPUSH l a b",
                    "LPOP l",
                    "LMOVE l m LEFT RIGHT",
                    "SADD s x",
                    "SADD s x",
                    "SREM s x",
                    "HSET h f v",
                    "HDEL h f",
                    "ZADD z 1 m",
                    "ZPOPMIN z",
                    "SINTERSTORE d nothing",
                ]
            ),
            [
                "new:l",
                "rpush:l",
                "lpop:l",
                "new:m",
                "rpush:m",
                "lpop:l",
                "del:l",
                "new:s",
                "sadd:s",
                "srem:s",
                "del:s",
                "new:h",
                "hset:h",
                "hdel:h",
                "del:h",
                "new:z",
                "zadd:z",
                "zpopmin:z",
                "del:z",
            ]
        );
    }

    /// A write that finds its key past its deadline deletes it first (`expired`), then
    /// creates it anew (`new`), as Redis's lookupKeyWrite and dbAdd report it.
    #[test]
    fn a_write_to_an_expired_key_reports_it_expired_then_new() {
        let mut t = TestDb::new();
        assert_eq!(
            events(&t, &["SET k v PX 10"]),
            ["new:k", "set:k", "expire:k"]
        );
        t.now_ms += 20;
        assert_eq!(events(&t, &["SET k v2"]), ["expired:k", "new:k", "set:k"]);
        assert_eq!(events(&t, &["SET k v3"]), ["set:k"]);
    }

    #[test]
    fn messages_go_to_keyspace_then_keyevent_channels() {
        let e = Event {
            class: N_STRING,
            name: "set",
            db: 3,
            key: Bytes::from_static(b"k"),
        };
        let both = notify_flag_bits("KEA").unwrap();
        assert_eq!(
            e.messages(both),
            vec![
                (
                    Bytes::from_static(b"__keyspace@3__:k"),
                    Bytes::from_static(b"set")
                ),
                (
                    Bytes::from_static(b"__keyevent@3__:set"),
                    Bytes::from_static(b"k")
                ),
            ]
        );
        assert!(e.messages(notify_flag_bits("Kl").unwrap()).is_empty());
        assert_eq!(e.messages(notify_flag_bits("E$").unwrap()).len(), 1);
    }
}
