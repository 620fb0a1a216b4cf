//! A transaction over the column families: reads see its own pending writes, writes are buffered
//! and become one RocksDB write batch.
//!
//! The applier runs every command of a group of mutations in one `Txn`, so a command sees the
//! effects of the commands before it even though nothing has reached RocksDB yet; the whole group
//! then commits as one atomic batch.
//!
//! A reader sees one state of the database: it starts out holding the commit gate (see
//! [`Db`]) and reads RocksDB and the [`AnswerCache`] directly, and moves to a RocksDB snapshot of
//! that same state on its first scan or after a few dozen point reads, so that a long command
//! never holds commits off. A GET costs no snapshot.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::RwLockReadGuard;

use super::answers::AnswerCache;
use super::touch::{touch_of, touch_of_range, Touch};
use super::{Cf, Db, Result};

type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Point-read answers per column family (`None`: the key is absent).
type ReadCache = [HashMap<Vec<u8>, Option<Vec<u8>>>; Cf::ALL.len()];

/// What a commit changes: the batch, and what it does to the cached families.
pub(super) struct Changes {
    pub batch: rocksdb::WriteBatch,
    /// Cached families the transaction range-deleted from: forgotten whole.
    pub forgotten: Vec<Cf>,
    /// The transaction's point writes in cached families: RocksDB's answers once the batch is in.
    pub written: Vec<(Cf, Vec<u8>, Option<Vec<u8>>)>,
}

/// A reader's point reads before it trades the commit gate for a RocksDB snapshot.
const GATED_READS: usize = 32;

/// How a transaction sees one state of the database.
enum View<'a> {
    /// A reader holding the commit gate shared: no commit lands meanwhile, so RocksDB and the
    /// answer cache are read directly, with no snapshot to take. It holds commits off, so a
    /// reader stays here only for a few point reads.
    Gated {
        _gate: RwLockReadGuard<'a, ()>,
        reads: usize,
    },
    /// A reader's RocksDB snapshot, taken while it still held the gate (so it shows what the
    /// gated reads saw), for scans and long commands: those must not hold commits off.
    Snapshot(rocksdb::SnapshotWithThreadMode<'a, rocksdb::DB>),
    /// The applier's writer: the only committer, so it reads RocksDB directly.
    Writer,
}

pub struct Txn<'a> {
    db: &'a Db,
    view: RefCell<View<'a>>,
    writable: bool,
    /// Pending writes per column family: `Some` is a put, `None` a delete.
    overlay: [Overlay; Cf::ALL.len()],
    /// Pending range deletions `[from, to)`, applied before the overlay at commit.
    range_deletes: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    /// What RocksDB answered to earlier point reads of this transaction in the member families
    /// (a writer's only; the cached families have the shared cache). Nothing else commits while
    /// the single applier holds a writer, so the answers stay true until its commit; the overlay
    /// and range deletions are consulted first, so they mask them.
    read_cache: RefCell<ReadCache>,
    /// What a writer's puts and deletes changed since [`Txn::take_touches`] last drained it.
    touches: Vec<Touch>,
    /// What [`Txn::stamp`] stamped, until [`Txn::take_stamped`] drains it.
    pub(super) stamped: Vec<Touch>,
    /// How to undo the writes since [`Txn::savepoint`], while one is open.
    undo: Option<Undo>,
}

/// A key and what the overlay held for it before (`None`: nothing).
type UndoEntry = (Cf, Vec<u8>, Option<Option<Vec<u8>>>);

/// What a rollback to a savepoint restores: the overlay entries the writes since replaced (in
/// order; `None` where there was none), and the lengths of the append-only lists.
struct Undo {
    overlay: Vec<UndoEntry>,
    range_deletes: usize,
    touches: usize,
}

impl<'a> Txn<'a> {
    pub(super) fn reader(db: &'a Db) -> Txn<'a> {
        Txn {
            db,
            view: RefCell::new(match db.try_shared_gate() {
                Some(gate) => View::Gated {
                    _gate: gate,
                    reads: 0,
                },
                // A commit holds or awaits the gate: waiting would block this thread.
                None => View::Snapshot(db.rocks().snapshot()),
            }),
            writable: false,
            overlay: Default::default(),
            range_deletes: Vec::new(),
            read_cache: RefCell::default(),
            touches: Vec::new(),
            stamped: Vec::new(),
            undo: None,
        }
    }

    pub(super) fn writer(db: &'a Db) -> Txn<'a> {
        Txn {
            db,
            view: RefCell::new(View::Writer),
            writable: true,
            overlay: Default::default(),
            range_deletes: Vec::new(),
            read_cache: RefCell::default(),
            touches: Vec::new(),
            stamped: Vec::new(),
            undo: None,
        }
    }

    pub(super) fn db(&self) -> &'a Db {
        self.db
    }

    /// The node's OBJECT settings (see [`Db::object_settings`]).
    pub fn object_settings(&self) -> crate::config::ObjectSettings {
        self.db.object_settings()
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// True when nothing has been written.
    pub fn is_clean(&self) -> bool {
        self.range_deletes.is_empty() && self.overlay.iter().all(|o| o.is_empty())
    }

    fn range_deleted(&self, cf: Cf, key: &[u8]) -> bool {
        self.range_deletes
            .iter()
            .any(|(c, from, to)| *c == cf && key >= from.as_slice() && key < to.as_slice())
    }

    /// Counts a reader's point read; false once it has moved to a snapshot.
    fn gated_read(&self) -> bool {
        if let View::Gated { reads, .. } = &mut *self.view.borrow_mut() {
            *reads += 1;
            if *reads <= GATED_READS {
                return true;
            }
        }
        self.settle();
        false
    }

    /// Trades a reader's gate for a RocksDB snapshot of the same state.
    fn settle(&self) {
        let mut view = self.view.borrow_mut();
        if matches!(*view, View::Gated { .. }) {
            // Taken before the old view (and its gate) is dropped.
            *view = View::Snapshot(self.db.rocks().snapshot());
        }
    }

    /// Read options for this transaction's view: a reader's snapshot once it has one.
    fn snapshot_options(&self) -> rocksdb::ReadOptions {
        let mut opts = rocksdb::ReadOptions::default();
        if let View::Snapshot(snap) = &*self.view.borrow() {
            // The snapshot lives as long as this transaction, which every iterator borrows.
            opts.set_snapshot(snap);
        }
        opts
    }

    /// A point read from RocksDB, in this transaction's view.
    fn rocks_get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let handle = self.db.cf(cf)?;
        Ok(self
            .db
            .rocks()
            .get_pinned_cf_opt(handle, key, &self.snapshot_options())?
            .map(|v| v.to_vec()))
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(pending) = self.overlay[cf as usize].get(key) {
            return Ok(pending.clone());
        }
        if self.range_deleted(cf, key) {
            return Ok(None);
        }
        if !self.writable && !self.gated_read() {
            return self.rocks_get(cf, key);
        }
        if AnswerCache::caches(cf) {
            // A gated reader or the committer: the answer read here is RocksDB's until the next
            // commit, which updates the cache itself.
            let answers = self.db.answers();
            if let Some(known) = answers.get(cf, key) {
                return Ok(known);
            }
            let value = self.rocks_get(cf, key)?;
            answers.remember(cf, key, value.as_deref());
            return Ok(value);
        }
        if !self.writable {
            return self.rocks_get(cf, key);
        }
        if let Some(known) = self.read_cache.borrow()[cf as usize].get(key) {
            return Ok(known.clone());
        }
        let value = self.rocks_get(cf, key)?;
        self.read_cache.borrow_mut()[cf as usize].insert(key.to_vec(), value.clone());
        Ok(value)
    }

    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        self.touches.extend(touch_of(cf, &key));
        self.set_pending(cf, key, Some(value));
    }

    /// Writes `value` into the overlay, remembering what it replaces while a savepoint is open.
    fn set_pending(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) {
        match &mut self.undo {
            Some(undo) => {
                let old = self.overlay[cf as usize].insert(key.clone(), value);
                undo.overlay.push((cf, key, old));
            }
            None => {
                self.overlay[cf as usize].insert(key, value);
            }
        }
    }

    /// Opens a savepoint: [`Txn::rollback_to_savepoint`] then undoes every write made after
    /// it, [`Txn::release_savepoint`] keeps them. One at a time: a script's writes are undone
    /// whole when it is aborted (see `command::scripting`).
    pub fn savepoint(&mut self) {
        debug_assert!(self.undo.is_none(), "nested savepoint");
        self.undo = Some(Undo {
            overlay: Vec::new(),
            range_deletes: self.range_deletes.len(),
            touches: self.touches.len(),
        });
    }

    /// Keeps the writes made since the savepoint and closes it.
    pub fn release_savepoint(&mut self) {
        self.undo = None;
    }

    /// Undoes the writes made since the savepoint and closes it.
    pub fn rollback_to_savepoint(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        for (cf, key, old) in undo.overlay.into_iter().rev() {
            let overlay = &mut self.overlay[cf as usize];
            match old {
                Some(v) => overlay.insert(key, v),
                None => overlay.remove(&key),
            };
        }
        self.range_deletes.truncate(undo.range_deletes);
        self.touches.truncate(undo.touches);
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        self.touches.extend(touch_of(cf, &key));
        self.set_pending(cf, key, None);
    }

    /// The keys (or whole databases) changed by the puts and deletes since the last call, each
    /// once (sorted); see [`super::touch`].
    pub fn take_touches(&mut self) -> Vec<Touch> {
        let mut touches = std::mem::take(&mut self.touches);
        touches.sort_unstable();
        touches.dedup();
        touches
    }

    /// Deletes every key in `[from, to)`: O(1) in RocksDB (a range tombstone).
    pub fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        self.touches.extend(touch_of_range(cf, &from, &to));
        let overlay = &mut self.overlay[cf as usize];
        let doomed: Vec<Vec<u8>> = overlay
            .range::<[u8], _>((
                Bound::Included(from.as_slice()),
                Bound::Excluded(to.as_slice()),
            ))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            let old = overlay.remove(&k);
            if let Some(undo) = &mut self.undo {
                undo.overlay.push((cf, k, old));
            }
        }
        self.range_deletes.push((cf, from, to));
    }

    /// Iterates `[from, to)` in key order (or reverse), merging pending writes over RocksDB.
    pub fn scan(&self, cf: Cf, from: &[u8], to: &[u8], reverse: bool) -> Result<Scan<'_>> {
        let handle = self.db.cf(cf)?;
        self.settle();
        let mut opts = self.snapshot_options();
        opts.set_iterate_lower_bound(from.to_vec());
        opts.set_iterate_upper_bound(to.to_vec());
        let mut iter = self.db.rocks().raw_iterator_cf_opt(handle, opts);
        if reverse {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        let range = (Bound::Included(from), Bound::Excluded(to));
        let mut pending: Vec<(Vec<u8>, Option<Vec<u8>>)> = self.overlay[cf as usize]
            .range::<[u8], _>(range)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !reverse {
            pending.reverse(); // popped from the back
        }
        let tombstones = self
            .range_deletes
            .iter()
            .filter(|(c, _, _)| *c == cf)
            .map(|(_, f, t)| (f.clone(), t.clone()))
            .collect();
        Ok(Scan {
            iter,
            pending,
            tombstones,
            reverse,
        })
    }

    /// The transaction's changes, for [`Db::commit`].
    pub(super) fn into_changes(self) -> Result<Changes> {
        let batch = self.batch()?;
        let mut forgotten = Vec::new();
        let mut written = Vec::new();
        for (i, overlay) in self.overlay.into_iter().enumerate() {
            let cf = Cf::ALL[i];
            if !AnswerCache::caches(cf) {
                continue;
            }
            if self.range_deletes.iter().any(|(c, _, _)| *c == cf) {
                forgotten.push(cf);
            }
            written.extend(overlay.into_iter().map(|(k, v)| (cf, k, v)));
        }
        Ok(Changes {
            batch,
            forgotten,
            written,
        })
    }

    /// The transaction's changes as one RocksDB write batch.
    fn batch(&self) -> Result<rocksdb::WriteBatch> {
        let mut batch = rocksdb::WriteBatch::default();
        for (cf, from, to) in &self.range_deletes {
            batch.delete_range_cf(self.db.cf(*cf)?, from, to);
        }
        for cf in Cf::ALL {
            let handle = self.db.cf(cf)?;
            for (k, v) in &self.overlay[cf as usize] {
                match v {
                    Some(v) => batch.put_cf(handle, k, v),
                    None => batch.delete_cf(handle, k),
                }
            }
        }
        Ok(batch)
    }
}

/// A merged iterator over RocksDB and a transaction's pending writes.
pub struct Scan<'t> {
    iter: rocksdb::DBRawIteratorWithThreadMode<'t, rocksdb::DB>,
    /// Pending writes in range, next one at the back.
    pending: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    tombstones: Vec<(Vec<u8>, Vec<u8>)>,
    reverse: bool,
}

impl Scan<'_> {
    fn advance_db(&mut self) {
        if self.reverse {
            self.iter.prev()
        } else {
            self.iter.next()
        }
    }

    /// Takes the next live entry, or `None` at the end of the range.
    fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            let db_key = if self.iter.valid() {
                self.iter.key().map(|k| k.to_vec())
            } else {
                self.iter.status()?;
                None
            };
            let use_pending = match (&db_key, self.pending.last()) {
                (None, None) => return Ok(None),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(dk), Some((pk, _))) => {
                    if dk == pk {
                        self.advance_db(); // the pending write shadows the stored value
                        true
                    } else {
                        (pk < dk) != self.reverse
                    }
                }
            };
            if use_pending {
                let (k, v) = self.pending.pop().expect("checked above");
                if let Some(v) = v {
                    return Ok(Some((k, v)));
                }
                continue;
            }
            let key = db_key.expect("checked above");
            let deleted = self
                .tombstones
                .iter()
                .any(|(f, t)| key.as_slice() >= f.as_slice() && key.as_slice() < t.as_slice());
            let value = self.iter.value().map(|v| v.to_vec()).unwrap_or_default();
            self.advance_db();
            if !deleted {
                return Ok(Some((key, value)));
            }
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::{View, GATED_READS};
    use crate::storage::{Db, StorageOptions};

    fn open() -> (tempfile::TempDir, std::sync::Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        (dir, db)
    }

    fn keys(scan: Scan<'_>) -> Vec<Vec<u8>> {
        scan.map(|e| e.unwrap().0).collect()
    }

    #[test]
    fn reads_see_pending_writes_and_commit_is_atomic() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"a".to_vec(), b"1".to_vec());
        assert_eq!(txn.get(Cf::Meta, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.reader().get(Cf::Meta, b"a").unwrap(), None);
        db.commit(txn, true).unwrap();
        assert_eq!(
            db.reader().get(Cf::Meta, b"a").unwrap(),
            Some(b"1".to_vec())
        );
    }

    /// What the cache holds for `key` is what RocksDB holds, after every kind of commit.
    fn assert_cache_agrees(db: &Db, cf: Cf, key: &[u8]) {
        let stored = db
            .rocks()
            .get_cf(db.cf(cf).unwrap(), key)
            .unwrap()
            .map(|v| v.to_vec());
        if let Some(known) = db.answers().get(cf, key) {
            assert_eq!(known, stored, "cached answer for {key:?}");
        }
        assert_eq!(db.reader().get(cf, key).unwrap(), stored);
    }

    #[test]
    fn cached_answers_follow_commits() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"a".to_vec(), b"1".to_vec());
        txn.put(Cf::Hash, b"h".to_vec(), b"x".to_vec());
        assert_eq!(txn.get(Cf::Meta, b"b").unwrap(), None);
        db.commit(txn, false).unwrap();
        assert_eq!(db.answers().get(Cf::Meta, b"a"), Some(Some(b"1".to_vec())));
        assert_eq!(
            db.answers().get(Cf::Meta, b"b"),
            Some(None),
            "absence is remembered"
        );
        assert_eq!(db.answers().get(Cf::Hash, b"h"), None);

        let mut txn = db.writer();
        assert_eq!(txn.get(Cf::Meta, b"a").unwrap(), Some(b"1".to_vec()));
        txn.delete(Cf::Meta, b"a".to_vec());
        txn.put(Cf::Meta, b"b".to_vec(), b"2".to_vec());
        db.commit(txn, false).unwrap();
        for key in [&b"a"[..], b"b"] {
            assert_cache_agrees(&db, Cf::Meta, key);
        }

        // A range deletion (FLUSHALL) forgets the family rather than track what it removed.
        let mut txn = db.writer();
        txn.delete_range(Cf::Meta, Vec::new(), vec![0xff]);
        db.commit(txn, false).unwrap();
        assert_eq!(db.answers().get(Cf::Meta, b"b"), None);
        assert_cache_agrees(&db, Cf::Meta, b"b");

        // Installing a snapshot replaces data behind the transactions' back: all is forgotten.
        db.reader().get(Cf::Sys, b"s").unwrap();
        assert_eq!(db.answers().get(Cf::Sys, b"s"), Some(None));
        db.replace_all(|rocks| {
            assert!(db.replacing(), "client reads are refused meanwhile");
            rocks.put_cf(db.cf(Cf::Sys).unwrap(), b"s", b"new")
        })
        .unwrap();
        assert!(!db.replacing());
        assert_cache_agrees(&db, Cf::Sys, b"s");
    }

    #[test]
    fn a_reader_sees_no_commit_land_during_its_life() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"x".to_vec(), b"1".to_vec());
        txn.put(Cf::Meta, b"y".to_vec(), b"1".to_vec());
        db.commit(txn, false).unwrap();
        let (reader_has_read, go) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let txn = db.reader();
                let x = txn.get(Cf::Meta, b"x").unwrap();
                reader_has_read.send(()).unwrap();
                // The commit below is waiting for this reader now (or will be): y is unchanged.
                std::thread::sleep(std::time::Duration::from_millis(50));
                (x, txn.get(Cf::Meta, b"y").unwrap())
            });
            go.recv().unwrap();
            let mut txn = db.writer();
            txn.put(Cf::Meta, b"x".to_vec(), b"2".to_vec());
            txn.put(Cf::Meta, b"y".to_vec(), b"2".to_vec());
            db.commit(txn, false).unwrap();
            let (x, y) = reader.join().unwrap();
            assert_eq!(x, y, "one reader saw both sides of a commit");
        });
        assert_eq!(
            db.reader().get(Cf::Meta, b"y").unwrap(),
            Some(b"2".to_vec())
        );
    }

    #[test]
    fn a_scanning_reader_keeps_its_state_without_holding_commits_off() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        for k in [b"x", b"y"] {
            txn.put(Cf::Meta, k.to_vec(), b"1".to_vec());
            txn.put(Cf::Set, k.to_vec(), Vec::new());
        }
        db.commit(txn, false).unwrap();
        let reader = db.reader();
        assert_eq!(reader.get(Cf::Meta, b"x").unwrap(), Some(b"1".to_vec()));
        assert_eq!(reader.scan(Cf::Set, b"", b"z", false).unwrap().count(), 2);
        std::thread::scope(|s| {
            let (committed, done) = std::sync::mpsc::channel();
            let db = &db;
            s.spawn(move || {
                let mut txn = db.writer();
                txn.put(Cf::Meta, b"y".to_vec(), b"2".to_vec());
                txn.delete(Cf::Set, b"y".to_vec());
                db.commit(txn, false).unwrap();
                committed.send(()).unwrap();
            });
            done.recv_timeout(std::time::Duration::from_secs(10))
                .expect("a commit waited for a reader that had moved to a snapshot");
        });
        assert_eq!(reader.get(Cf::Meta, b"y").unwrap(), Some(b"1".to_vec()));
        assert_eq!(reader.scan(Cf::Set, b"", b"z", false).unwrap().count(), 2);
        drop(reader);
        assert_eq!(
            db.reader().get(Cf::Meta, b"y").unwrap(),
            Some(b"2".to_vec())
        );
    }

    #[test]
    fn a_reader_never_waits_for_a_commit() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"k".to_vec(), b"v".to_vec());
        db.commit(txn, false).unwrap();
        // A commit (or a snapshot install) holding the gate: on this thread, a reader that
        // waited for it would wait forever.
        let gate = db.commit_gate.write().unwrap();
        let reader = db.reader();
        assert_eq!(reader.get(Cf::Meta, b"k").unwrap(), Some(b"v".to_vec()));
        assert!(matches!(*reader.view.borrow(), View::Snapshot(_)));
        drop(reader);
        drop(gate);
        assert!(matches!(*db.reader().view.borrow(), View::Gated { .. }));
    }

    #[test]
    fn a_reader_with_many_point_reads_moves_to_a_snapshot() {
        let (_dir, db) = open();
        let reader = db.reader();
        for i in 0..=GATED_READS {
            reader.get(Cf::Meta, &i.to_be_bytes()).unwrap();
        }
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"k".to_vec(), b"v".to_vec());
        // Would wait forever on this thread if the reader still held the gate.
        db.commit(txn, false).unwrap();
        assert_eq!(reader.get(Cf::Meta, b"k").unwrap(), None);
    }

    /// A rollback to a savepoint undoes the puts, deletes and range deletions made after it,
    /// restoring what the overlay held before, and keeps what came before it.
    #[test]
    fn a_rollback_undoes_the_writes_after_the_savepoint() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Set, b"a".to_vec(), b"1".to_vec());
        txn.put(Cf::Set, b"b".to_vec(), b"1".to_vec());
        txn.savepoint();
        txn.put(Cf::Set, b"a".to_vec(), b"2".to_vec());
        txn.delete(Cf::Set, b"b".to_vec());
        txn.put(Cf::Set, b"c".to_vec(), b"2".to_vec());
        txn.delete_range(Cf::Set, b"a".to_vec(), b"z".to_vec());
        txn.put(Cf::Set, b"d".to_vec(), b"2".to_vec());
        assert_eq!(
            keys(txn.scan(Cf::Set, b"a", b"z", false).unwrap()),
            vec![b"d".to_vec()]
        );
        txn.rollback_to_savepoint();
        assert_eq!(txn.get(Cf::Set, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get(Cf::Set, b"b").unwrap(), Some(b"1".to_vec()));
        assert_eq!(txn.get(Cf::Set, b"c").unwrap(), None);
        assert_eq!(txn.get(Cf::Set, b"d").unwrap(), None);
        // A released savepoint keeps its writes.
        txn.savepoint();
        txn.put(Cf::Set, b"e".to_vec(), b"3".to_vec());
        txn.release_savepoint();
        db.commit(txn, false).unwrap();
        let after = keys(db.reader().scan(Cf::Set, b"a", b"z", false).unwrap());
        assert_eq!(after, vec![b"a".to_vec(), b"b".to_vec(), b"e".to_vec()]);
    }

    #[test]
    fn scan_merges_pending_writes_deletes_and_ranges() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        for k in [b"k1", b"k3", b"k5", b"k7"] {
            txn.put(Cf::Set, k.to_vec(), vec![]);
        }
        db.commit(txn, false).unwrap();

        let mut txn = db.writer();
        txn.put(Cf::Set, b"k2".to_vec(), vec![]);
        txn.delete(Cf::Set, b"k3".to_vec());
        txn.put(Cf::Set, b"k5".to_vec(), b"new".to_vec());
        txn.delete_range(Cf::Set, b"k6".to_vec(), b"k8".to_vec());
        txn.put(Cf::Set, b"k6x".to_vec(), vec![]); // written after the range delete: survives
        let fwd = keys(txn.scan(Cf::Set, b"k", b"l", false).unwrap());
        assert_eq!(
            fwd,
            vec![
                b"k1".to_vec(),
                b"k2".to_vec(),
                b"k5".to_vec(),
                b"k6x".to_vec()
            ]
        );
        let rev = keys(txn.scan(Cf::Set, b"k", b"l", true).unwrap());
        assert_eq!(rev, fwd.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!(txn.get(Cf::Set, b"k7").unwrap(), None);
        assert_eq!(txn.get(Cf::Set, b"k5").unwrap(), Some(b"new".to_vec()));
        db.commit(txn, false).unwrap();
        let after = keys(db.reader().scan(Cf::Set, b"k", b"l", false).unwrap());
        assert_eq!(after, fwd);
    }
}
