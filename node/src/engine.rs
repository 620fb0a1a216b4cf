//! The write path's two halves: a client write becomes a deterministic [`Mutation`], and
//! [`apply`] turns a mutation into data changes and the client's reply.
//!
//! Everything that could differ between replicas is fixed in the mutation before it is
//! proposed: the clock (`now_ms`, so relative TTLs become the same absolute deadline everywhere)
//! and the seed of every random choice (SPOP, SRANDMEMBER inside MULTI), drawn from a generator
//! whose output the seed fixes for good ([`SplitMix64`]). Applying the same mutations in the same
//! order therefore yields the same bytes on every node. The mutation carries the logical command,
//! not RocksDB puts: applied in log order, commands are serializable by construction.
//!
//! A node that fails to apply a mutation because of its own storage (a RocksDB error, a record
//! that does not decode) must not answer the client with that error and carry on: the command
//! may have half-run, and the other replicas ran it whole. [`apply`] returns such failures as
//! `Err`, and the state machine stops rather than commit anything of the entry.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::command::{self, CmdError, Ctx, SplitMix64};
use crate::pubsub::notify;
use crate::resp::Reply;
use crate::storage::{Stamp, StorageError, TouchKind, Txn};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// A client command (name and arguments) run against database `db`.
    Command { db: u8, argv: Vec<Bytes> },
    /// The active expirer's deletion of keys it saw expire; each is deleted only if it is still
    /// expired at the mutation's clock, so the outcome is the same on every replica.
    ExpireKeys { db: u8, keys: Vec<Bytes> },
    /// A queued command whose reply was settled when it was queued, but which Redis reports only
    /// at EXEC (a SELECT of a database that does not exist). `argv` is kept for forwarding.
    Settled {
        argv: Vec<Bytes>,
        reply: SettledReply,
    },
    /// WATCH: the keys a MULTI block's client watched, with what it saw. As the first op of a
    /// block, it aborts the block (EXEC answers a nil array) if any of them changed since; see
    /// [`watch_holds`]. It adds no reply of its own. (A variant added after the others, so
    /// entries written before it still decode.)
    Watch { keys: Vec<WatchedKey> },
}

/// A watched key and what its client saw of it: the state after log index `since`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedKey {
    pub db: u8,
    pub key: Bytes,
    /// The applied log index the client's WATCH read the key at.
    pub since: u64,
    pub state: WatchState,
}

/// What a watched key was when it was watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchState {
    Absent,
    Live,
    /// Stored but past its deadline: its deletion (by the expirer, or a FLUSHDB) is no change
    /// to it, as in Redis.
    Expired,
}

/// The reply of an [`Op::Settled`]: so far always an error.
///
/// It is part of the log format, so the engine owns it rather than borrowing the RESP layer's
/// `Reply`, and its encoding must never change. Entries written before this type existed hold a
/// `resp::Reply` here. postcard writes an enum as its variant index then the variant's fields,
/// and these two variants are that enum's first two (`Simple` = 0, `Error` = 1) with the same
/// fields: old entries decode, new ones are the same bytes. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SettledReply {
    /// A status line, such as `OK`.
    Status(String),
    /// An error line with its own prefix (`ERR ...`).
    Error(String),
    /// An integer (WAIT queued in MULTI). Third, as `resp::Reply::Int` was.
    Int(i64),
}

impl SettledReply {
    pub fn to_reply(&self) -> Reply {
        match self {
            SettledReply::Status(s) => Reply::Simple(s.clone()),
            SettledReply::Error(e) => Reply::Error(e.clone()),
            SettledReply::Int(n) => Reply::Int(*n),
        }
    }
}

impl From<CmdError> for SettledReply {
    fn from(e: CmdError) -> SettledReply {
        SettledReply::Error(e.to_string())
    }
}

/// What applying a log entry answers the node that proposed it (Raft's response type): the
/// client's reply. openraft hands it to the proposer in memory; it is never written to the log
/// or sent to a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response(pub Reply);

impl Response {
    /// The answer to an entry that carries no command (a blank or a membership entry).
    pub fn ok() -> Response {
        Response(Reply::ok())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    /// The accepting node's clock, read once, in Unix milliseconds.
    pub now_ms: u64,
    /// Seed for the commands' random choices.
    pub seed: u64,
    pub ops: Vec<Op>,
    /// A MULTI/EXEC block: the reply is an array of every op's reply.
    pub multi: bool,
}

impl Mutation {
    pub fn single(db: u8, argv: Vec<Bytes>) -> Mutation {
        Mutation {
            now_ms: now_ms(),
            seed: rand::random(),
            ops: vec![Op::Command { db, argv }],
            multi: false,
        }
    }

    /// The client commands the mutation carries, in order (what a follower forwards).
    pub fn commands(&self) -> impl Iterator<Item = &Vec<Bytes>> {
        self.ops.iter().filter_map(|op| match op {
            Op::Command { argv, .. } | Op::Settled { argv, .. } => Some(argv),
            Op::ExpireKeys { .. } | Op::Watch { .. } => None,
        })
    }

    /// Whether applying the mutation may take long (see [`command::CommandSpec::may_run_long`]).
    /// The expirer's deletions are bounded by its batch size.
    pub fn may_run_long(&self) -> bool {
        self.ops.len() > command::LONG_ARGC
            || self.ops.iter().any(|op| match op {
                Op::Command { argv, .. } => argv
                    .first()
                    .and_then(|name| command::lookup(name))
                    .is_some_and(|spec| spec.may_run_long(argv)),
                Op::ExpireKeys { .. } | Op::Settled { .. } | Op::Watch { .. } => false,
            })
    }

    pub fn transaction(ops: Vec<Op>) -> Mutation {
        Mutation {
            now_ms: now_ms(),
            seed: rand::random(),
            ops,
            multi: true,
        }
    }

    /// At least the size of the mutation's encoding in a log entry, computed without encoding
    /// it (a write of hundreds of MiB is checked against the Raft frame before it is copied).
    /// postcard writes integers and lengths as varints of at most 10 bytes.
    pub fn encoded_len_bound(&self) -> usize {
        const VARINT: usize = 10;
        let args = |argv: &[Bytes]| VARINT + argv.iter().map(|a| VARINT + a.len()).sum::<usize>();
        let ops: usize = self
            .ops
            .iter()
            .map(|op| {
                VARINT
                    + match op {
                        Op::Command { argv, .. } => 1 + args(argv),
                        Op::ExpireKeys { keys, .. } => 1 + args(keys),
                        // A settled reply is a short error; encoding it is cheap and exact.
                        Op::Settled { argv, reply } => {
                            args(argv) + postcard::to_allocvec(reply).map_or(0, |v| v.len())
                        }
                        Op::Watch { keys } => {
                            VARINT
                                + keys
                                    .iter()
                                    .map(|k| 2 + 2 * VARINT + k.key.len())
                                    .sum::<usize>()
                        }
                    }
            })
            .sum();
        4 * VARINT + ops
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Applies one mutation, the log entry at `index`, inside `txn` and returns the client's
/// reply. Deterministic: it reads nothing but the transaction and the mutation. A Redis-level
/// error is a reply; a storage failure is `Err`, and leaves `txn` half-written: the caller must
/// drop it, not commit it.
///
/// Every key an op changes is stamped with `index` (see [`crate::storage::touch`]), which is
/// what later WATCH checks read.
pub fn apply(txn: &mut Txn<'_>, mutation: &Mutation, index: u64) -> Result<Reply, StorageError> {
    apply_notifying(txn, mutation, index, 0, &mut Vec::new())
}

/// [`apply`], also naming in `events` the keyspace events of the classes `notify_flags` asks
/// for (`notify-keyspace-events`, see [`notify`]). The events are this node's business, not
/// replicated state: they change nothing that is written. With no flags (the default) nothing
/// is looked at for them.
pub fn apply_notifying(
    txn: &mut Txn<'_>,
    mutation: &Mutation,
    index: u64,
    notify_flags: u32,
    events: &mut Vec<notify::Event>,
) -> Result<Reply, StorageError> {
    let mut rng = SplitMix64::new(mutation.seed);
    let mut replies = Vec::with_capacity(mutation.ops.len());
    for (i, op) in mutation.ops.iter().enumerate() {
        let mut notifying = None;
        let reply = match op {
            Op::Command { db, argv } => match command::resolve(argv) {
                Ok(spec) => {
                    let before =
                        notify::before(txn, notify_flags, spec, argv, *db, mutation.now_ms)?;
                    let mut ctx = Ctx {
                        txn,
                        db: *db,
                        now_ms: mutation.now_ms,
                        rng: &mut rng,
                    };
                    let reply = command::execute(&mut ctx, spec, argv)?;
                    notifying = before.map(|b| (b, spec, *db, argv));
                    reply
                }
                Err(e) => e.into_reply(),
            },
            Op::ExpireKeys { db, keys } => {
                let mut deleted = 0;
                for key in keys {
                    if txn.delete_if_expired(*db, key, mutation.now_ms)? {
                        deleted += 1;
                        if notify_flags != 0 {
                            events.push(notify::expired(*db, key));
                        }
                    }
                }
                Reply::Int(deleted)
            }
            Op::Settled { reply, .. } => reply.to_reply(),
            Op::Watch { keys } => {
                if i == 0 && !watch_holds(txn, keys, mutation.now_ms, index)? {
                    return Ok(Reply::NilArray);
                }
                continue;
            }
        };
        let touches = txn.take_touches();
        if let Some((before, spec, db, argv)) = notifying {
            notify::after(
                txn,
                &before,
                spec,
                argv,
                &reply,
                &touches,
                db,
                mutation.now_ms,
                events,
            )?;
        }
        if !touches.is_empty() {
            let kind = match op {
                Op::ExpireKeys { .. } => TouchKind::Expire,
                _ => TouchKind::Write,
            };
            txn.stamp(touches, kind, index);
        }
        replies.push(reply);
    }
    Ok(if mutation.multi {
        Reply::Array(replies)
    } else {
        replies
            .pop()
            .unwrap_or_else(|| Reply::err("empty mutation"))
    })
}

/// Whether none of `keys` changed since its client watched it, judged by the entry at `index`
/// (whose clock is `now_ms`), as Redis judges it at EXEC:
/// - any command that changed the key after the watch counts;
/// - a key that was live also counts as changed if the expirer deleted it, a FLUSHDB or
///   FLUSHALL emptied its database, or it is past its deadline now;
/// - a key already expired when watched does not change by being deleted (by the expirer or a
///   flush);
/// - a key absent when watched changes only by being written.
pub fn watch_holds(
    txn: &Txn<'_>,
    keys: &[WatchedKey],
    now_ms: u64,
    index: u64,
) -> Result<bool, StorageError> {
    for w in keys {
        let (db, key) = (w.db, &w.key[..]);
        if txn.stamped_after(Stamp::Write { db, key }, w.since, index)? {
            return Ok(false);
        }
        if w.state == WatchState::Live
            && (txn.stamped_after(Stamp::Expire { db, key }, w.since, index)?
                || txn.stamped_after(Stamp::Flush { db }, w.since, index)?
                || txn.raw_meta(db, key)?.is_some_and(|m| m.is_expired(now_ms)))
        {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Cf, Db, StorageOptions};

    fn argv(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    /// A reply as text: bulks by value, arrays and sets as their items joined by spaces.
    fn text(reply: &Reply) -> String {
        match reply {
            Reply::Bulk(b) => String::from_utf8_lossy(b).to_string(),
            Reply::Int(n) => n.to_string(),
            Reply::Array(items) | Reply::Set(items) => {
                items.iter().map(text).collect::<Vec<_>>().join(" ")
            }
            Reply::Pairs(pairs) => pairs
                .iter()
                .map(|(a, b)| format!("{}={}", text(a), text(b)))
                .collect::<Vec<_>>()
                .join(" "),
            other => format!("{other:?}"),
        }
    }

    /// The random picks a seed makes are pinned: a replica of any build, with any version of
    /// any crate, applying this mutation must make these same choices.
    #[test]
    fn random_picks_are_fixed_by_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        let lines = [
            "SADD s a b c d e f g h i j",
            "SPOP s 3",
            "SPOP s",
            "SRANDMEMBER s -4",
            "SRANDMEMBER s 2",
            "SRANDMEMBER s",
            "HSET h f1 1 f2 2 f3 3 f4 4",
            "HRANDFIELD h 2",
            "HRANDFIELD h -3 WITHVALUES",
            "HRANDFIELD h",
        ];
        let mutation = Mutation {
            now_ms: 1_700_000_000_000,
            seed: 0x5eed,
            ops: lines
                .iter()
                .map(|line| Op::Command {
                    db: 0,
                    argv: argv(line),
                })
                .collect(),
            multi: true,
        };
        let mut txn = db.writer();
        let Reply::Array(replies) = apply(&mut txn, &mutation, 1).unwrap() else {
            panic!("not an array");
        };
        let got: Vec<String> = replies.iter().map(text).collect();
        assert_eq!(got, PINNED_PICKS);
    }

    /// Also worked out by hand from an independent Python transcription of [`SplitMix64`].
    const PINNED_PICKS: [&str; 10] = [
        "10",
        "a d e",
        "g",
        "b f b b",
        "j f",
        "f",
        "4",
        "f2 f1",
        "f1=1 f3=3 f3=3",
        "f4",
    ];

    #[test]
    fn encoded_len_bound_is_at_least_the_encoding() {
        let big = Bytes::from(vec![b'x'; 300_000]);
        let mutations = [
            Mutation::single(0, argv("SET k v")),
            Mutation::single(15, vec![Bytes::from("SET"), Bytes::from("k"), big.clone()]),
            Mutation::transaction(vec![
                Op::Command {
                    db: 1,
                    argv: argv("SADD s a b c"),
                },
                Op::ExpireKeys {
                    db: 2,
                    keys: vec![big, Bytes::from("k")],
                },
                Op::Settled {
                    argv: argv("SELECT 99"),
                    reply: SettledReply::Error("ERR DB index is out of range".into()),
                },
            ]),
        ];
        for m in mutations {
            let exact = crate::raft::encode(&m).unwrap().len();
            let bound = m.encoded_len_bound();
            assert!(bound >= exact, "bound {bound} < {exact}");
            assert!(bound <= exact + 400, "bound {bound} far above {exact}");
        }
    }

    /// `Op` as it was when a settled reply was a `resp::Reply`: entries in existing logs.
    #[derive(Serialize)]
    enum OpWithReply {
        #[allow(dead_code)]
        Command {
            db: u8,
            argv: Vec<Bytes>,
        },
        #[allow(dead_code)]
        ExpireKeys {
            db: u8,
            keys: Vec<Bytes>,
        },
        Settled {
            argv: Vec<Bytes>,
            reply: Reply,
        },
    }

    /// The log format did not change when the settled reply became the engine's own type: the
    /// same bytes both ways, and an entry written the old way decodes to the same op.
    #[test]
    fn a_settled_reply_keeps_the_encoding_of_a_resp_reply() {
        for (old, new) in [
            (
                Reply::err("DB index is out of range"),
                SettledReply::Error("ERR DB index is out of range".into()),
            ),
            (Reply::ok(), SettledReply::Status("OK".into())),
            (Reply::Int(2), SettledReply::Int(2)),
        ] {
            let old = OpWithReply::Settled {
                argv: argv("SELECT 99"),
                reply: old,
            };
            let new = Op::Settled {
                argv: argv("SELECT 99"),
                reply: new,
            };
            let old_bytes = crate::raft::encode(&old).unwrap();
            assert_eq!(old_bytes, crate::raft::encode(&new).unwrap());
            assert_eq!(crate::raft::decode::<Op>(&old_bytes).unwrap(), new);
        }
    }

    /// Applies each list of ops as one MULTI block, at indexes from `first` on, at `now_ms`.
    fn run_at(db: &Db, first: u64, now_ms: u64, ops: Vec<Vec<Op>>) -> Vec<Reply> {
        let mut txn = db.writer();
        let replies = ops
            .into_iter()
            .enumerate()
            .map(|(i, ops)| {
                let m = Mutation {
                    now_ms,
                    seed: 1,
                    ops,
                    multi: true,
                };
                apply(&mut txn, &m, first + i as u64).unwrap()
            })
            .collect();
        db.commit(txn, false).unwrap();
        replies
    }

    fn cmd(line: &str) -> Op {
        Op::Command {
            db: 0,
            argv: argv(line),
        }
    }

    fn watched(key: &str, since: u64, state: WatchState) -> Op {
        Op::Watch {
            keys: vec![WatchedKey {
                db: 0,
                key: Bytes::copy_from_slice(key.as_bytes()),
                since,
                state,
            }],
        }
    }

    /// EXEC after WATCH: aborted (a nil array, nothing run) when the key changed after the
    /// watch, whoever changed it; run when nothing did.
    #[test]
    fn a_watched_block_aborts_when_its_key_changed_after_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        let now = 1_700_000_000_000;
        run_at(
            &db,
            1,
            now,
            vec![vec![cmd("SET k 1")], vec![cmd("HSET h f 1")]],
        );
        // Watched at index 2: nothing since, so the block runs.
        let replies = run_at(
            &db,
            3,
            now,
            vec![
                vec![watched("k", 2, WatchState::Live), cmd("INCR k")],
                // A change to one field of a hash is a change to the hash.
                vec![cmd("HSET h f 2")],
                vec![watched("h", 2, WatchState::Live), cmd("SET k aborted")],
                vec![watched("k", 3, WatchState::Live), cmd("INCR k")],
                // Writes that change nothing are no change.
                vec![cmd("SETNX k nope"), cmd("LPUSHX nolist x")],
                vec![
                    Op::Watch {
                        keys: [
                            watched("k", 6, WatchState::Live),
                            watched("nolist", 0, WatchState::Absent),
                        ]
                        .into_iter()
                        .flat_map(|op| match op {
                            Op::Watch { keys } => keys,
                            _ => Vec::new(),
                        })
                        .collect(),
                    },
                    cmd("INCR k"),
                ],
                // Nothing queued: the check still runs.
                vec![watched("h", 1, WatchState::Live)],
                vec![watched("h", 5, WatchState::Live)],
            ],
        );
        assert_eq!(replies[0], Reply::Array(vec![Reply::Int(2)]));
        assert_eq!(replies[2], Reply::NilArray);
        assert_eq!(replies[3], Reply::Array(vec![Reply::Int(3)]));
        assert_eq!(replies[5], Reply::Array(vec![Reply::Int(4)]));
        assert_eq!(replies[6], Reply::NilArray);
        assert_eq!(replies[7], Reply::Array(Vec::new()));
        // The aborted block ran nothing.
        assert_eq!(
            db.reader().raw_meta(0, b"k").unwrap().unwrap().value,
            b"4".to_vec()
        );
        // A key created after a watch that saw it absent, then deleted: still a change.
        let replies = run_at(
            &db,
            11,
            now,
            vec![
                vec![cmd("SET fresh 1"), cmd("DEL fresh")],
                vec![watched("fresh", 10, WatchState::Absent), cmd("PING")],
            ],
        );
        assert_eq!(replies[1], Reply::NilArray);
    }

    /// Expiry and flushes, as Redis judges them for a watched key.
    #[test]
    fn expiry_and_flushes_change_a_live_watched_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        let now = 1_700_000_000_000;
        run_at(
            &db,
            1,
            now,
            vec![vec![
                cmd("SET live 1 PX 50"),
                cmd("SET stale 1 PX 10"),
                cmd("SET other 1"),
            ]],
        );
        let later = now + 60;
        let replies = run_at(
            &db,
            2,
            later,
            vec![
                // Past its deadline at EXEC, deleted or not: changed.
                vec![watched("live", 1, WatchState::Live), cmd("PING")],
                // Already expired when watched, and still: no change.
                vec![watched("stale", 1, WatchState::Expired), cmd("PING")],
                vec![Op::ExpireKeys {
                    db: 0,
                    keys: vec![Bytes::from("stale")],
                }],
                // Its deletion by the expirer is no change either...
                vec![watched("stale", 1, WatchState::Expired), cmd("PING")],
                // ...but is one for a client that watched it live.
                vec![watched("stale", 1, WatchState::Live), cmd("PING")],
            ],
        );
        assert_eq!(replies[0], Reply::NilArray);
        assert_eq!(replies[1], Reply::Array(vec![Reply::Simple("PONG".into())]));
        assert_eq!(replies[3], Reply::Array(vec![Reply::Simple("PONG".into())]));
        assert_eq!(replies[4], Reply::NilArray);

        let replies = run_at(
            &db,
            10,
            later,
            vec![
                vec![cmd("FLUSHALL")],
                // A live key flushed away: changed; an absent one: not.
                vec![watched("other", 9, WatchState::Live), cmd("PING")],
                vec![watched("never", 9, WatchState::Absent), cmd("PING")],
            ],
        );
        assert_eq!(replies[1], Reply::NilArray);
        assert_eq!(replies[2], Reply::Array(vec![Reply::Simple("PONG".into())]));
    }

    #[test]
    fn same_mutations_give_same_state_on_two_replicas() {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let dbs: Vec<_> = dirs
            .iter()
            .map(|d| Db::open(d.path(), &StorageOptions::default()).unwrap())
            .collect();
        let mutations = [
            Mutation::single(0, argv("SADD s a b c d e f g")),
            Mutation::single(0, argv("SET k v EX 100")),
            Mutation::single(0, argv("SPOP s 3")),
            Mutation::transaction(vec![
                Op::Command {
                    db: 0,
                    argv: argv("INCR n"),
                },
                Op::Command {
                    db: 0,
                    argv: argv("INCR n"),
                },
            ]),
        ];
        let mut outcomes = Vec::new();
        for db in &dbs {
            let mut txn = db.writer();
            let replies: Vec<Reply> = mutations
                .iter()
                .enumerate()
                .map(|(i, m)| apply(&mut txn, m, i as u64 + 1).unwrap())
                .collect();
            db.commit(txn, false).unwrap();
            let reader = db.reader();
            let members: Vec<_> = reader
                .scan(Cf::Set, &[0], &[1], false)
                .unwrap()
                .map(|e| e.unwrap())
                .collect();
            let meta = reader.raw_meta(0, b"k").unwrap().unwrap();
            outcomes.push((replies, members, meta.expire_at));
        }
        assert_eq!(outcomes[0], outcomes[1]);
        assert_eq!(
            outcomes[0].0[3],
            Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
        );
        assert_eq!(outcomes[0].2, mutations[1].now_ms + 100_000);
    }
}
