//! The Raft log and vote on the node's RocksDB (`raft_log`, `raft_state` column families).
//!
//! Appends are written at once (so readers see them immediately) and made durable by a flusher
//! thread that syncs the WAL once for everything appended since its last sync, then completes
//! all waiting callbacks: group commit, one fsync for many client writes.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;

use super::{decode, encode, io_err, Entry, LogId, TypeConfig, Vote};
use crate::storage::{Cf, Db};

const VOTE: &[u8] = b"vote";
const LAST_PURGED: &[u8] = b"last_purged";
const COMMITTED: &[u8] = b"committed";

/// Log keys are big-endian indexes, so RocksDB's byte order is log order.
fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<Db>,
    flusher: mpsc::Sender<IOFlushed<TypeConfig>>,
}

impl LogStore {
    pub fn new(db: Arc<Db>) -> LogStore {
        let (tx, rx) = mpsc::channel::<IOFlushed<TypeConfig>>();
        // Weak: the database closes when the store and state machine let go of it, on their
        // thread, never in this detached one racing process exit (RocksDB aborts when a DB
        // closes while its static globals are being destroyed).
        let flush_db = Arc::downgrade(&db);
        std::thread::Builder::new()
            .name("kiwi-log-flush".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiting = vec![first];
                    waiting.extend(rx.try_iter());
                    // One WAL sync makes every append issued before it durable.
                    let result = match flush_db.upgrade() {
                        Some(db) => db.rocks().flush_wal(true).map_err(io_err),
                        None => Err(std::io::Error::other("the log store was closed")),
                    };
                    for cb in waiting {
                        cb.io_completed(result.as_ref().map(|_| ()).map_err(io_err));
                    }
                }
            })
            .expect("spawn log flusher");
        LogStore { db, flusher: tx }
    }

    fn state_get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> std::io::Result<Option<T>> {
        let cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
        match self.db.rocks().get_pinned_cf(cf, key).map_err(io_err)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    fn state_put<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
        sync: bool,
    ) -> std::io::Result<()> {
        let cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        self.db
            .rocks()
            .put_cf_opt(cf, key, encode(value)?, &wo)
            .map_err(io_err)
    }

    fn last_entry(&self) -> std::io::Result<Option<LogId>> {
        let cf = self.db.cf(Cf::RaftLog).map_err(io_err)?;
        let mut iter = self.db.rocks().raw_iterator_cf(cf);
        iter.seek_to_last();
        match iter.value() {
            Some(v) => Ok(Some(decode::<Entry>(v)?.log_id)),
            None => {
                iter.status().map_err(io_err)?;
                Ok(None)
            }
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, std::io::Error> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => Some(i + 1),
            Bound::Excluded(&i) => Some(i),
            Bound::Unbounded => None,
        };
        let cf = self.db.cf(Cf::RaftLog).map_err(io_err)?;
        let mut opts = rocksdb::ReadOptions::default();
        if let Some(end) = end {
            opts.set_iterate_upper_bound(index_key(end).to_vec());
        }
        let mut iter = self.db.rocks().raw_iterator_cf_opt(cf, opts);
        iter.seek(index_key(start));
        let mut out = Vec::new();
        while let Some(v) = iter.value() {
            out.push(decode::<Entry>(v)?);
            iter.next();
        }
        iter.status().map_err(io_err)?;
        Ok(out)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, std::io::Error> {
        self.state_get(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, std::io::Error> {
        let last_purged: Option<LogId> = self.state_get(LAST_PURGED)?;
        let last = self.last_entry()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), std::io::Error> {
        // A vote must be on disk before it is answered, or a restart could vote twice in a term.
        self.state_put(VOTE, vote, true)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), std::io::Error> {
        // Unsynced: losing it only means re-deriving the commit index from a quorum.
        self.state_put(COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, std::io::Error> {
        Ok(self.state_get::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), std::io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let cf = self.db.cf(Cf::RaftLog).map_err(io_err)?;
        let mut batch = rocksdb::WriteBatch::default();
        for entry in entries {
            batch.put_cf(cf, index_key(entry.log_id.index), encode(&entry)?);
        }
        self.db.rocks().write(batch).map_err(io_err)?;
        self.flusher
            .send(callback)
            .map_err(|_| io_err("log flusher stopped"))?;
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), std::io::Error> {
        let from = last_log_id.map(|l| l.index + 1).unwrap_or(0);
        let cf = self.db.cf(Cf::RaftLog).map_err(io_err)?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete_range_cf(cf, index_key(from), index_key(u64::MAX));
        batch.delete_cf(cf, index_key(u64::MAX));
        self.db.rocks().write_opt(batch, &wo).map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), std::io::Error> {
        // `last_purged` and the deletion go in one batch: the log state can never claim entries
        // that are gone without recording that they were purged.
        let state_cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
        let log_cf = self.db.cf(Cf::RaftLog).map_err(io_err)?;
        let mut batch = rocksdb::WriteBatch::default();
        batch.put_cf(state_cf, LAST_PURGED, encode(&log_id)?);
        batch.delete_range_cf(log_cf, index_key(0), index_key(log_id.index + 1));
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.rocks().write_opt(batch, &wo).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::LogStore;
    use crate::raft::snapshot::SnapshotStore;
    use crate::raft::state_machine::StateMachine;
    use crate::raft::TypeConfig;
    use crate::storage::{Db, StorageOptions};

    struct Builder;

    impl openraft::testing::log::StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir>
        for Builder
    {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachine), openraft::StorageError<TypeConfig>>
        {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = Db::open(dir.path(), &StorageOptions::default()).expect("open db");
            let snapshots = Arc::new(SnapshotStore::open(dir.path()).expect("snapshot store"));
            let sm = StateMachine::new(db.clone(), snapshots).expect("state machine");
            Ok((dir, LogStore::new(db), sm))
        }
    }

    /// openraft's own conformance suite against the RocksDB log store and state machine.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openraft_storage_suite() {
        openraft::testing::log::Suite::test_all(Builder)
            .await
            .expect("storage suite");
    }
}
