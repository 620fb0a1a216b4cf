//! The Raft log and vote on the node's RocksDB (`raft_log`, `raft_state` column families).
//!
//! Appends are written at once (so readers see them immediately) and made durable by a flusher
//! thread that syncs the WAL once for everything appended since its last sync, then completes
//! all waiting callbacks: group commit, one fsync for many client writes.
//!
//! The newest entries are also kept in memory ([`RecentEntries`]): the state machine reads
//! each entry back right after it commits, and serving that from memory spares a RocksDB scan
//! and a decode per applied batch.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

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

/// How much of the log's tail [`RecentEntries`] keeps: enough for every entry between append
/// and apply under load, little enough to be no memory concern.
const RECENT_MAX_ENTRIES: usize = 4096;
const RECENT_MAX_BYTES: usize = 32 << 20;

/// A contiguous tail of the log, in memory. Appends extend it at the back, truncation cuts the
/// back, and the front is dropped when it grows past its bounds or is purged; so whatever it
/// holds is exactly what RocksDB holds at those indexes.
#[derive(Default)]
struct RecentEntries {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl RecentEntries {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn push(&mut self, entry: Entry, size: usize) {
        let follows = self
            .entries
            .back()
            .is_none_or(|(last, _)| last.log_id.index + 1 == entry.log_id.index);
        if !follows {
            self.clear();
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.entries.len() > RECENT_MAX_ENTRIES || self.bytes > RECENT_MAX_BYTES {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Drops every entry at or after `from`.
    fn truncate_from(&mut self, from: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= from)
        {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Drops every entry at or before `upto`.
    fn purge_through(&mut self, upto: u64) {
        while self.first_index().is_some_and(|i| i <= upto) {
            self.pop_front();
        }
    }

    /// The entries in `[start, end)`, if every one of them is held here. Each index held has
    /// the value RocksDB has (every write of the log goes through `push`, `truncate_from` or
    /// `purge_through`), so a fully covered range is the log's own.
    fn range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.first_index()?;
        let last = self.entries.back()?.0.log_id.index;
        if start < first || end > last + 1 || start > end {
            return None;
        }
        let skip = (start - first) as usize;
        let take = (end - start) as usize;
        Some(
            self.entries
                .iter()
                .skip(skip)
                .take(take)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<Db>,
    flusher: mpsc::Sender<IOFlushed<TypeConfig>>,
    recent: Arc<Mutex<RecentEntries>>,
    /// The commit index openraft last reported, written with the next append rather than on
    /// its own: it is only a hint for restart (a lower bound re-derived from a quorum anyway),
    /// and a RocksDB write per commit cost as much as the append itself.
    unsaved_committed: Arc<Mutex<Option<Option<LogId>>>>,
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
        LogStore {
            db,
            flusher: tx,
            recent: Arc::default(),
            unsaved_committed: Arc::default(),
        }
    }

    fn recent(&self) -> MutexGuard<'_, RecentEntries> {
        // Every mutation of the cache leaves it consistent before it can panic.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unsaved_committed(&self) -> MutexGuard<'_, Option<Option<LogId>>> {
        self.unsaved_committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn state_get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> std::io::Result<Option<T>> {
        let cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
        match self.db.rocks().get_pinned_cf(cf, key).map_err(io_err)? {
            Some(v) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Writes a Raft state record, synced: on disk when this returns.
    fn state_put_synced<T: serde::Serialize>(&self, key: &[u8], value: &T) -> std::io::Result<()> {
        let cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
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
        if let Some(held) = end.and_then(|end| self.recent().range(start, end)) {
            return Ok(held);
        }
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
        self.state_put_synced(VOTE, vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), std::io::Error> {
        // Kept for the next append's batch; losing it only means re-deriving the commit index
        // from a quorum.
        *self.unsaved_committed() = Some(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, std::io::Error> {
        if let Some(committed) = *self.unsaved_committed() {
            return Ok(committed);
        }
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
        let mut appended = Vec::new();
        for entry in entries {
            let bytes = encode(&entry)?;
            batch.put_cf(cf, index_key(entry.log_id.index), &bytes);
            appended.push((entry, bytes.len()));
        }
        if let Some(committed) = self.unsaved_committed().take() {
            let state_cf = self.db.cf(Cf::RaftState).map_err(io_err)?;
            batch.put_cf(state_cf, COMMITTED, encode(&committed)?);
        }
        self.db.rocks().write(batch).map_err(io_err)?;
        let mut recent = self.recent();
        for (entry, size) in appended {
            recent.push(entry, size);
        }
        drop(recent);
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
        self.recent().truncate_from(from);
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
        self.recent().purge_through(log_id.index);
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.rocks().write_opt(batch, &wo).map_err(io_err)
    }
}

#[cfg(test)]
mod recent_tests {
    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        openraft::testing::blank_ent::<TypeConfig>(term, 1, index)
    }

    fn indexes(held: Option<Vec<Entry>>) -> Option<Vec<(u64, u64)>> {
        held.map(|v| {
            v.iter()
                .map(|e| (e.log_id.committed_leader_id().term, e.log_id.index))
                .collect()
        })
    }

    #[test]
    fn serves_only_fully_held_ranges() {
        let mut recent = RecentEntries::default();
        for i in 5..10 {
            recent.push(entry(1, i), 10);
        }
        assert_eq!(
            indexes(recent.range(6, 9)),
            Some(vec![(1, 6), (1, 7), (1, 8)])
        );
        assert_eq!(
            recent.range(4, 7).map(|v| v.len()),
            None,
            "index 4 is not held"
        );
        assert_eq!(
            recent.range(8, 11).map(|v| v.len()),
            None,
            "index 10 is not held"
        );
    }

    #[test]
    fn truncation_purge_and_overwrites_never_leave_a_stale_entry() {
        let mut recent = RecentEntries::default();
        for i in 1..=6 {
            recent.push(entry(1, i), 10);
        }
        recent.truncate_from(4);
        recent.push(entry(2, 4), 10);
        assert_eq!(indexes(recent.range(3, 5)), Some(vec![(1, 3), (2, 4)]));
        assert_eq!(recent.range(5, 6).map(|v| v.len()), None);
        recent.purge_through(2);
        assert_eq!(recent.range(2, 4).map(|v| v.len()), None);
        // An append that does not follow the tail (after a snapshot, say) starts afresh.
        recent.push(entry(3, 100), 10);
        assert_eq!(recent.range(3, 4).map(|v| v.len()), None);
        assert_eq!(indexes(recent.range(100, 101)), Some(vec![(3, 100)]));
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut recent = RecentEntries::default();
        for i in 0..(RECENT_MAX_ENTRIES as u64 + 10) {
            recent.push(entry(1, i), 1);
        }
        assert_eq!(recent.entries.len(), RECENT_MAX_ENTRIES);
        assert_eq!(recent.first_index(), Some(10));
        recent.push(entry(1, RECENT_MAX_ENTRIES as u64 + 10), RECENT_MAX_BYTES);
        assert_eq!(recent.entries.len(), 1);
        assert_eq!(recent.bytes, RECENT_MAX_BYTES);
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
            let sm = StateMachine::new(db.clone(), snapshots, Default::default())
                .expect("state machine");
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
