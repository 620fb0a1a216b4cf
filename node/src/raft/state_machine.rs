//! The replicated state machine: committed entries are applied in log order by
//! [`crate::engine::apply`], and each group of entries is written as one RocksDB batch together
//! with the last applied log id and the membership, so a crash never applies an entry twice or
//! skips one.
//!
//! An entry this node cannot apply because of its own storage stops it: nothing of the group is
//! written, and `apply` returns the error to openraft, which stops Raft on this node (`/healthz`
//! then reports it). Answering the client with the error instead, as a read would, would commit
//! whatever the command wrote before it failed, while every other replica applied it whole.

use std::sync::{Arc, OnceLock};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use tokio::sync::watch;

use super::snapshot::{SnapshotDir, SnapshotStore, APPLIED_KEY, CLUSTER_ID_KEY, MEMBERSHIP_KEY};
use super::{decode, encode, io_err, LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};
use crate::command;
use crate::engine::{self, Response};
use crate::pubsub::{notify, Hub};
use crate::storage::{Cf, Db, Touch};

/// What a listener is told after each commit: the keys (or whole databases) the committed
/// entries changed.
pub type KeyListener = Box<dyn Fn(&[Touch]) + Send + Sync>;

/// Tells a listener, once entries are committed, which keys they changed: how clients blocked
/// on a key (BLPOP, ...) learn that it may hold something for them now. Set once, by the RESP
/// server; until then nobody is told anything.
#[derive(Default)]
pub struct KeyEvents {
    listener: OnceLock<KeyListener>,
    /// Where keyspace notifications go, with the classes wanted (`notify-keyspace-events`,
    /// read at each apply): the node's pub/sub hub, set once by the RESP server.
    keyspace: OnceLock<Arc<Hub>>,
}

impl KeyEvents {
    pub fn notify_to(&self, hub: Arc<Hub>) {
        if self.keyspace.set(hub).is_err() {
            tracing::warn!("a second hub for keyspace notifications was ignored");
        }
    }

    /// The keyspace notification classes wanted now; 0 (none) until a hub is set.
    fn notify_flags(&self) -> u32 {
        self.keyspace.get().map_or(0, |hub| hub.notify_flags())
    }

    fn notify(&self, events: &[notify::Event]) {
        if let Some(hub) = self.keyspace.get() {
            if !events.is_empty() {
                hub.notify(events);
            }
        }
    }

    pub fn listen(&self, listener: KeyListener) {
        if self.listener.set(listener).is_err() {
            tracing::warn!("a second listener for applied keys was ignored");
        }
    }

    fn changed(&self, touches: &[Touch]) {
        if let Some(listener) = self.listener.get() {
            if !touches.is_empty() {
                listener(touches);
            }
        }
    }
}

pub struct StateMachine {
    db: Arc<Db>,
    snapshots: Arc<SnapshotStore>,
    /// The index of the last applied entry, for readers waiting on a read index.
    applied: watch::Sender<u64>,
    events: Arc<KeyEvents>,
}

impl StateMachine {
    pub fn new(
        db: Arc<Db>,
        snapshots: Arc<SnapshotStore>,
        events: Arc<KeyEvents>,
    ) -> std::io::Result<StateMachine> {
        snapshots.resume_install(&db)?;
        let (applied, _) = watch::channel(0);
        let sm = StateMachine {
            db,
            snapshots,
            applied,
            events,
        };
        let index = sm.read_applied()?.0.map(|l| l.index).unwrap_or(0);
        sm.applied.send_replace(index);
        Ok(sm)
    }

    /// Subscribes to the applied index.
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    fn read_applied(&self) -> std::io::Result<(Option<LogId>, StoredMembership)> {
        let reader = self.db.reader();
        let applied = match reader.get(Cf::Sys, APPLIED_KEY).map_err(io_err)? {
            Some(v) => decode(&v)?,
            None => None,
        };
        let membership = match reader.get(Cf::Sys, MEMBERSHIP_KEY).map_err(io_err)? {
            Some(v) => decode(&v)?,
            None => StoredMembership::default(),
        };
        Ok((applied, membership))
    }
}

/// The index of the last entry applied to the state `txn` sees (0 before any): written in the
/// same batch as the entries' changes, so it names exactly that state.
pub fn applied_index(txn: &crate::storage::Txn<'_>) -> std::io::Result<u64> {
    Ok(match txn.get(Cf::Sys, APPLIED_KEY).map_err(io_err)? {
        Some(v) => decode::<Option<LogId>>(&v)?.map_or(0, |l| l.index),
        None => 0,
    })
}

/// The cluster id: FNV-1a over the initial members' ids and Raft addresses, as 16 hex digits.
/// Node ids are random (`raft-node-id auto`), so two clusters initialized apart differ.
pub fn cluster_id_of(m: &openraft::Membership<super::NodeId, super::KiwiNode>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (id, node) in m.nodes() {
        for byte in format!("{id}={};", node.raft_addr).bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// What applying a group of entries gives: each entry's reply, what the group changed, and its
/// keyspace events (to publish once it is committed).
type Applied = (Vec<Response>, Vec<Touch>, Vec<notify::Event>);

/// Applies a group of entries in one transaction; returns each entry's reply, what the group
/// changed and the keyspace events of the classes `notify_flags` asks for. On a storage failure
/// nothing of the group is written.
fn apply_entries(
    db: &Db,
    entries: &[openraft::type_config::alias::EntryOf<TypeConfig>],
    notify_flags: u32,
) -> std::io::Result<Applied> {
    let mut txn = db.writer();
    let mut events = Vec::new();
    let mut replies = Vec::with_capacity(entries.len());
    let mut membership = None;
    for entry in entries {
        // Every index, whatever its entry: each node applies each index once.
        txn.forget_old_stamps(entry.log_id.index);
        let reply = match &entry.payload {
            EntryPayload::Blank => Response::ok(),
            EntryPayload::Normal(mutation) => {
                // Returning drops `txn`: none of the group's writes reach RocksDB.
                let index = entry.log_id.index;
                Response(
                    engine::apply_notifying(&mut txn, mutation, index, notify_flags, &mut events)
                        .map_err(|e| {
                        std::io::Error::other(format!(
                            "cannot apply log entry {}: {e}",
                            entry.log_id
                        ))
                    })?,
                )
            }
            EntryPayload::Membership(m) => {
                if entry.log_id.index == 0 {
                    // The entry `initialize` wrote: every member applies it (or receives it in a
                    // snapshot), so the id derived from it names the cluster on every node.
                    txn.put(
                        Cf::Sys,
                        CLUSTER_ID_KEY.to_vec(),
                        cluster_id_of(m).into_bytes(),
                    );
                }
                membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                Response::ok()
            }
        };
        replies.push(reply);
    }
    if let Some(last) = entries.last() {
        txn.put(Cf::Sys, APPLIED_KEY.to_vec(), encode(&Some(last.log_id))?);
    }
    if let Some(m) = membership {
        txn.put(Cf::Sys, MEMBERSHIP_KEY.to_vec(), encode(&m)?);
    }
    let changed = txn.take_stamped();
    // Unsynced: the log is durable, and anything lost here is re-applied from it on restart.
    db.commit(txn, false).map_err(io_err)?;
    Ok((replies, changed, events))
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotDir;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), std::io::Error> {
        self.read_applied()
    }

    async fn apply<Strm>(&mut self, entries: Strm) -> Result<(), std::io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, std::io::Error>>
            + Unpin
            + OptionalSend,
    {
        let batch: Vec<EntryResponder<TypeConfig>> = entries.try_collect().await?;
        if batch.is_empty() {
            return Ok(());
        }
        let (entries, responders): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let last_index = entries.last().map(|e| e.log_id.index).unwrap_or(0);
        // Applied in place, on this runtime thread: an unsynced RocksDB batch of a few commands
        // takes microseconds, and handing it to a blocking thread and back cost two thread
        // switches per batch (a fifth of single-node write throughput). A batch holding a
        // command that may run long (SUNIONSTORE, RENAME of a big key, ...) first hands this
        // worker's other tasks, the Raft core and its heartbeats among them, to another thread:
        // a slow command blocks applying, as it blocks Redis, but not the rest of the node.
        let long = entries
            .iter()
            .any(|e| matches!(&e.payload, EntryPayload::Normal(m) if m.may_run_long()));
        let flags = self.events.notify_flags();
        let applied = if long {
            command::run_long(|| apply_entries(&self.db, &entries, flags))
        } else {
            apply_entries(&self.db, &entries, flags)
        };
        let (replies, changed, notifications) = applied.inspect_err(|e| {
            tracing::error!(
                error = %e,
                "this node cannot apply committed log entries: Raft stops on it, with nothing of \
                 them written (/healthz reports it); the other replicas carry on. Repair the \
                 storage and restart the node, or replace it with a new node"
            );
        })?;
        drop(entries);
        self.applied.send_replace(last_index);
        self.events.changed(&changed);
        self.events.notify(&notifications);
        for (responder, reply) in responders.into_iter().zip(replies) {
            if let Some(r) = responder {
                r.send(reply);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotDir,
    ) -> Result<(), std::io::Error> {
        let db = self.db.clone();
        let store = self.snapshots.clone();
        let meta_owned = meta.clone();
        tokio::task::spawn_blocking(move || store.install(&db, &meta_owned, &snapshot.path))
            .await
            .map_err(io_err)??;
        let index = meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0);
        self.applied.send_replace(index);
        self.events.changed(&[Touch::All]);
        tracing::info!(index, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, std::io::Error> {
        self.snapshots.current()
    }
}

pub struct SnapshotBuilder {
    db: Arc<Db>,
    snapshots: Arc<SnapshotStore>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotDir;

    async fn build_snapshot(&mut self) -> Result<Snapshot, std::io::Error> {
        let db = self.db.clone();
        let store = self.snapshots.clone();
        let snap = tokio::task::spawn_blocking(move || store.build(&db))
            .await
            .map_err(io_err)??;
        tracing::info!(last = ?snap.meta.last_log_id, "built snapshot");
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use openraft::testing::blank_ent;

    use super::*;
    use crate::engine::{Mutation, Op};
    use crate::resp::Reply;
    use crate::storage::keys::meta_key;
    use crate::storage::StorageOptions;

    fn command(line: &str) -> Op {
        Op::Command {
            db: 0,
            argv: line
                .split(' ')
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect(),
        }
    }

    fn normal(index: u64, mutation: Mutation) -> openraft::type_config::alias::EntryOf<TypeConfig> {
        let mut entry = blank_ent::<TypeConfig>(1, 1, index);
        entry.payload = EntryPayload::Normal(mutation);
        entry
    }

    /// A storage failure halfway through an entry (here a meta record that does not decode, as
    /// a damaged disk would leave it) fails the whole group: the entry's earlier writes, and
    /// the entries before it, are not committed, and the applied log id does not move. A
    /// Redis-level error in the same place is an ordinary reply.
    #[test]
    fn a_storage_failure_stops_apply_and_commits_nothing_of_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        let (applied, _, _) = apply_entries(
            &db,
            &[normal(
                1,
                Mutation::single(0, vec!["SET".into(), "s".into(), "x".into()]),
            )],
            0,
        )
        .unwrap();
        assert_eq!(applied, vec![Response::ok()]);
        let mut txn = db.writer();
        txn.put(Cf::Meta, meta_key(0, b"bad"), b"\x09short".to_vec());
        db.commit(txn, false).unwrap();

        let wrongtype = normal(
            2,
            Mutation::transaction(vec![command("SET a 1"), command("LPUSH s y")]),
        );
        let failing = normal(
            3,
            Mutation::transaction(vec![command("SET b 1"), command("INCR bad")]),
        );
        let result = apply_entries(&db, &[wrongtype, failing], 0);
        let err = result.expect_err("a storage failure must fail apply");
        assert!(err.to_string().contains("cannot apply log entry"), "{err}");

        let reader = db.reader();
        for key in [&b"a"[..], b"b"] {
            assert_eq!(
                reader.raw_meta(0, key).unwrap(),
                None,
                "a partial write was committed"
            );
        }
        let last: Option<LogId> =
            decode(&reader.get(Cf::Sys, APPLIED_KEY).unwrap().unwrap()).unwrap();
        assert_eq!(last.map(|l| l.index), Some(1));
        drop(reader);

        // Without the failing entry, the WRONGTYPE is an answer like any other.
        let wrongtype = normal(
            2,
            Mutation::transaction(vec![command("SET a 1"), command("LPUSH s y")]),
        );
        let (replies, changed, _) = apply_entries(&db, &[wrongtype], 0).unwrap();
        assert_eq!(
            changed,
            vec![Touch::Key {
                db: 0,
                key: b"a".to_vec()
            }],
            "what a group changed, for blocked clients"
        );
        let Reply::Array(items) = &replies[0].0 else {
            panic!("{replies:?}")
        };
        assert_eq!(items[0], Reply::ok());
        assert!(
            matches!(&items[1], Reply::Error(e) if e.starts_with("WRONGTYPE")),
            "{items:?}"
        );
        assert!(db.reader().raw_meta(0, b"a").unwrap().is_some());
    }
}
