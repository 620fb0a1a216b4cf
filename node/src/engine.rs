//! The write path's two halves: a client write becomes a deterministic [`Mutation`], and
//! [`apply`] turns a mutation into data changes and the client's reply.
//!
//! Everything that could differ between replicas is fixed in the mutation before it is
//! proposed: the clock (`now_ms`, so relative TTLs become the same absolute deadline everywhere)
//! and the seed of every random choice (SPOP, SRANDMEMBER inside MULTI). Applying the same
//! mutations in the same order therefore yields the same bytes on every node. The mutation
//! carries the logical command, not RocksDB puts: applied in log order, commands are
//! serializable by construction.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::command::{self, Ctx};
use crate::resp::Reply;
use crate::storage::Txn;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// A client command (name and arguments) run against database `db`.
    Command { db: u8, argv: Vec<Bytes> },
    /// The active expirer's deletion of keys it saw expire; each is deleted only if it is still
    /// expired at the mutation's clock, so the outcome is the same on every replica.
    ExpireKeys { db: u8, keys: Vec<Bytes> },
    /// A queued command whose reply was settled when it was queued, but which Redis reports only
    /// at EXEC (a SELECT of a database that does not exist). `argv` is kept for forwarding.
    Settled { argv: Vec<Bytes>, reply: Reply },
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
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Applies one mutation inside `txn` and returns the client's reply. Deterministic: it reads
/// nothing but the transaction and the mutation.
pub fn apply(txn: &mut Txn<'_>, mutation: &Mutation) -> Reply {
    let mut rng = StdRng::seed_from_u64(mutation.seed);
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
                    command::execute(&mut ctx, spec, argv)
                }
                Err(e) => e.into_reply(),
            },
            Op::ExpireKeys { db, keys } => {
                let mut deleted = 0;
                for key in keys {
                    match txn.delete_if_expired(*db, key, mutation.now_ms) {
                        Ok(true) => deleted += 1,
                        Ok(false) => {}
                        Err(e) => return Reply::err(format!("storage failure: {e}")),
                    }
                }
                Reply::Int(deleted)
            }
            Op::Settled { reply, .. } => reply.clone(),
        };
        replies.push(reply);
    }
    if mutation.multi {
        Reply::Array(replies)
    } else {
        replies
            .pop()
            .unwrap_or_else(|| Reply::err("empty mutation"))
    }
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
            let replies: Vec<Reply> = mutations.iter().map(|m| apply(&mut txn, m)).collect();
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
