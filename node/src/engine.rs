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
use crate::resp::Reply;
use crate::storage::{StorageError, Txn};

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
}

impl SettledReply {
    pub fn to_reply(&self) -> Reply {
        match self {
            SettledReply::Status(s) => Reply::Simple(s.clone()),
            SettledReply::Error(e) => Reply::Error(e.clone()),
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
            Op::ExpireKeys { .. } => None,
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
                Op::ExpireKeys { .. } | Op::Settled { .. } => false,
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

/// Applies one mutation inside `txn` and returns the client's reply. Deterministic: it reads
/// nothing but the transaction and the mutation. A Redis-level error is a reply; a storage
/// failure is `Err`, and leaves `txn` half-written: the caller must drop it, not commit it.
pub fn apply(txn: &mut Txn<'_>, mutation: &Mutation) -> Result<Reply, StorageError> {
    let mut rng = SplitMix64::new(mutation.seed);
    let mut replies = Vec::with_capacity(mutation.ops.len());
    for op in &mutation.ops {
        let reply = match op {
            Op::Command { db, argv } => match command::resolve(argv) {
                Ok(spec) => {
                    let mut ctx = Ctx {
                        txn,
                        db: *db,
                        now_ms: mutation.now_ms,
                        rng: &mut rng,
                    };
                    command::execute(&mut ctx, spec, argv)?
                }
                Err(e) => e.into_reply(),
            },
            Op::ExpireKeys { db, keys } => {
                let mut deleted = 0;
                for key in keys {
                    if txn.delete_if_expired(*db, key, mutation.now_ms)? {
                        deleted += 1;
                    }
                }
                Reply::Int(deleted)
            }
            Op::Settled { reply, .. } => reply.to_reply(),
        };
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
        let Reply::Array(replies) = apply(&mut txn, &mutation).unwrap() else {
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
                .map(|m| apply(&mut txn, m).unwrap())
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
