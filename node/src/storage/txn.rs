//! A transaction over the column families: reads see its own pending writes, writes are buffered
//! and become one RocksDB write batch.
//!
//! The applier runs every command of a group of mutations in one `Txn`, so a command sees the
//! effects of the commands before it even though nothing has reached RocksDB yet; the whole group
//! then commits as one atomic, synced batch (group commit).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::{Cf, Db, Result};

type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Point-read answers per column family (`None`: the key is absent).
pub type ReadCache = [HashMap<Vec<u8>, Option<Vec<u8>>>; Cf::ALL.len()];

/// The families whose cached answers outlive a transaction (see [`Txn::writer_carrying`]):
/// every command reads its key's meta record and the sys counters, while member families
/// would fill the cache with elements read once.
const CARRIED: [Cf; 2] = [Cf::Meta, Cf::Sys];

/// Past this many carried answers the cache starts over, which bounds its memory.
const CARRIED_MAX_ENTRIES: usize = 250_000;

pub struct Txn<'a> {
    db: &'a Db,
    snapshot: Option<rocksdb::SnapshotWithThreadMode<'a, rocksdb::DB>>,
    writable: bool,
    /// Pending writes per column family: `Some` is a put, `None` a delete.
    overlay: [Overlay; Cf::ALL.len()],
    /// Pending range deletions `[from, to)`, applied before the overlay at commit.
    range_deletes: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    /// What RocksDB answered to earlier point reads of this transaction (a writer's only).
    /// Nothing else writes while the single applier holds a writer, so the answers stay true
    /// until commit; the overlay and range deletions are consulted first, so they mask them.
    /// A SET reads its key's meta record several times (type check, NX/XX, old expiry): only
    /// the first read reaches RocksDB.
    read_cache: RefCell<ReadCache>,
}

impl<'a> Txn<'a> {
    pub(super) fn reader(db: &'a Db) -> Txn<'a> {
        Txn {
            db,
            snapshot: Some(db.rocks().snapshot()),
            writable: false,
            overlay: Default::default(),
            range_deletes: Vec::new(),
            read_cache: RefCell::default(),
        }
    }

    pub(super) fn writer(db: &'a Db) -> Txn<'a> {
        Txn::writer_carrying(db, ReadCache::default())
    }

    /// A writer that starts from answers an earlier writer left (see [`Db::commit_carrying`]).
    /// They are still RocksDB's answers as long as nothing but writers changed the database
    /// since: the state machine, the only writer, drops them when a snapshot replaces its data.
    pub(super) fn writer_carrying(db: &'a Db, known: ReadCache) -> Txn<'a> {
        Txn {
            db,
            snapshot: None,
            writable: true,
            overlay: Default::default(),
            range_deletes: Vec::new(),
            read_cache: RefCell::new(known),
        }
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

    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(pending) = self.overlay[cf as usize].get(key) {
            return Ok(pending.clone());
        }
        if self.range_deleted(cf, key) {
            return Ok(None);
        }
        let handle = self.db.cf(cf)?;
        let Some(snap) = &self.snapshot else {
            if let Some(known) = self.read_cache.borrow()[cf as usize].get(key) {
                return Ok(known.clone());
            }
            let value = self
                .db
                .rocks()
                .get_pinned_cf(handle, key)?
                .map(|v| v.to_vec());
            self.read_cache.borrow_mut()[cf as usize].insert(key.to_vec(), value.clone());
            return Ok(value);
        };
        let value = snap.get_pinned_cf_opt(handle, key, rocksdb::ReadOptions::default())?;
        Ok(value.map(|v| v.to_vec()))
    }

    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        self.overlay[cf as usize].insert(key, Some(value));
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        self.overlay[cf as usize].insert(key, None);
    }

    /// Deletes every key in `[from, to)`: O(1) in RocksDB (a range tombstone).
    pub fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        debug_assert!(self.writable, "write in a read-only transaction");
        let overlay = &mut self.overlay[cf as usize];
        let doomed: Vec<Vec<u8>> = overlay
            .range::<[u8], _>((
                Bound::Included(from.as_slice()),
                Bound::Excluded(to.as_slice()),
            ))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            overlay.remove(&k);
        }
        self.range_deletes.push((cf, from, to));
    }

    /// Iterates `[from, to)` in key order (or reverse), merging pending writes over RocksDB.
    pub fn scan(&self, cf: Cf, from: &[u8], to: &[u8], reverse: bool) -> Result<Scan<'_>> {
        let handle = self.db.cf(cf)?;
        let mut opts = rocksdb::ReadOptions::default();
        opts.set_iterate_lower_bound(from.to_vec());
        opts.set_iterate_upper_bound(to.to_vec());
        let mut iter = match &self.snapshot {
            Some(snap) => snap.raw_iterator_cf_opt(handle, opts),
            None => self.db.rocks().raw_iterator_cf_opt(handle, opts),
        };
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

    /// The write batch, and what RocksDB will answer for the carried families once the batch
    /// is written: the answers read so far, updated with this transaction's writes.
    pub(super) fn into_batch_and_answers(self) -> Result<(rocksdb::WriteBatch, ReadCache)> {
        let batch = self.batch()?;
        let mut answers = self.read_cache.into_inner();
        let mut overlay = self.overlay;
        for (i, cache) in answers.iter_mut().enumerate() {
            let cf = Cf::ALL[i];
            let range_deleted = self.range_deletes.iter().any(|(c, _, _)| *c == cf);
            if !CARRIED.contains(&cf) || range_deleted {
                cache.clear();
                continue;
            }
            cache.extend(std::mem::take(&mut overlay[i]));
        }
        if answers.iter().map(HashMap::len).sum::<usize>() > CARRIED_MAX_ENTRIES {
            answers = ReadCache::default();
        }
        Ok((batch, answers))
    }

    /// The transaction's changes as one RocksDB write batch.
    pub(super) fn batch(&self) -> Result<rocksdb::WriteBatch> {
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

    #[test]
    fn carried_answers_match_what_rocksdb_answers_after_commit() {
        let (_dir, db) = open();
        let mut txn = db.writer();
        txn.put(Cf::Meta, b"a".to_vec(), b"1".to_vec());
        txn.put(Cf::Hash, b"h".to_vec(), b"x".to_vec());
        assert_eq!(txn.get(Cf::Meta, b"b").unwrap(), None);
        let known = db.commit_carrying(txn).unwrap();
        assert_eq!(
            known[Cf::Meta as usize].get(&b"a"[..]),
            Some(&Some(b"1".to_vec()))
        );
        assert_eq!(known[Cf::Meta as usize].get(&b"b"[..]), Some(&None));
        assert!(
            known[Cf::Hash as usize].is_empty(),
            "member families are not carried"
        );

        let mut txn = db.writer_carrying(known);
        assert_eq!(txn.get(Cf::Meta, b"a").unwrap(), Some(b"1".to_vec()));
        txn.delete(Cf::Meta, b"a".to_vec());
        txn.put(Cf::Meta, b"b".to_vec(), b"2".to_vec());
        let known = db.commit_carrying(txn).unwrap();
        let reader = db.reader();
        for key in [&b"a"[..], b"b"] {
            assert_eq!(
                known[Cf::Meta as usize].get(key).cloned().flatten(),
                reader.get(Cf::Meta, key).unwrap()
            );
        }

        // A range deletion (FLUSHALL) forgets the family rather than track what it removed.
        let mut txn = db.writer_carrying(known);
        txn.delete_range(Cf::Meta, Vec::new(), vec![0xff]);
        let known = db.commit_carrying(txn).unwrap();
        assert!(known[Cf::Meta as usize].is_empty());
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
