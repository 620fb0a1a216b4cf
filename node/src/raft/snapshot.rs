//! Snapshots as RocksDB checkpoints: a directory of hard-linked SST files, cheap to take and
//! streamed file by file to a follower, so a snapshot is never held in memory.
//!
//! Layout under `<db-path>/snapshots/`: `snap-<index>/` (complete snapshots, with `meta.bin`),
//! `building-*`/`incoming-*` (in progress, removed at start), and `installing` (a marker naming
//! the snapshot being copied into the live database, so a crash mid-install is finished on restart).
//!
//! A directory is kept while anything uses it: every [`SnapshotDir`] this store hands out holds
//! a lease on its directory (the snapshot a leader is streaming, the `incoming-*` directory a
//! follower is writing and then installing). A newer snapshot makes older ones garbage, but a
//! leased one is removed only when its last lease ends. Otherwise, under steady writes, each
//! new snapshot deleted the files of the transfer in flight, the transfer started over with
//! the newer snapshot, and a slow follower never caught up.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{decode, encode, io_err, LogId, Snapshot, SnapshotMeta, StoredMembership};
use crate::storage::{Cf, Db};

/// Keys of the `sys` family the state machine keeps its Raft bookkeeping under.
pub const APPLIED_KEY: &[u8] = b"raft_applied";
pub const MEMBERSHIP_KEY: &[u8] = b"raft_membership";
/// Identifies the cluster: derived from its first membership, so it is the same on every member.
pub const CLUSTER_ID_KEY: &[u8] = b"raft_cluster_id";

const META_FILE: &str = "meta.bin";
const INSTALLING: &str = "installing";

/// A snapshot's files on disk, kept there as long as this value (or a clone) lives.
#[derive(Clone)]
pub struct SnapshotDir {
    pub path: PathBuf,
    _lease: Arc<Lease>,
}

impl std::fmt::Debug for SnapshotDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotDir")
            .field("path", &self.path)
            .finish()
    }
}

impl PartialEq for SnapshotDir {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for SnapshotDir {}

/// The snapshot directories in use, with their number of leases.
struct Leases {
    root: PathBuf,
    held: Mutex<HashMap<PathBuf, usize>>,
}

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, usize>> {
        // The map stays consistent whatever panicked while holding it.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(self: &Arc<Self>, held: &mut HashMap<PathBuf, usize>, path: &Path) -> Arc<Lease> {
        *held.entry(path.to_path_buf()).or_insert(0) += 1;
        Arc::new(Lease {
            leases: self.clone(),
            path: path.to_path_buf(),
        })
    }

    /// Removes every directory that is garbage and not leased: snapshots older than the newest
    /// complete one, and incoming directories no receiver is writing any more.
    fn collect(&self, held: &HashMap<PathBuf, usize>) -> std::io::Result<()> {
        let newest = newest_snapshot(&self.root)?;
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if !held.contains_key(&path) && is_garbage(&path, newest.as_deref()) {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        Ok(())
    }
}

fn dir_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn is_garbage(path: &Path, newest: Option<&Path>) -> bool {
    let name = dir_name(path);
    name.starts_with("incoming-") || (name.starts_with("snap-") && newest.is_some_and(|n| path < n))
}

/// The newest complete snapshot directory under `root`.
fn newest_snapshot(root: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut best: Option<PathBuf> = None;
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        if dir_name(&path).starts_with("snap-")
            && path.join(META_FILE).exists()
            && best.as_ref().is_none_or(|b| path > *b)
        {
            best = Some(path);
        }
    }
    Ok(best)
}

/// One use of a snapshot directory. The last lease to end on a directory that became garbage
/// meanwhile removes it.
struct Lease {
    leases: Arc<Leases>,
    path: PathBuf,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut held = self.leases.lock();
        let Some(count) = held.get_mut(&self.path) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        held.remove(&self.path);
        let newest = newest_snapshot(&self.leases.root).ok().flatten();
        if is_garbage(&self.path, newest.as_deref()) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub struct SnapshotStore {
    root: PathBuf,
    leases: Arc<Leases>,
}

/// Families a snapshot carries: the user data and the state machine's bookkeeping (the touch
/// stamps WATCH checks are part of the replicated state: every replica must judge alike).
const SNAPSHOT_CFS: [Cf; 10] = [
    Cf::Meta,
    Cf::Hash,
    Cf::Set,
    Cf::List,
    Cf::ZSet,
    Cf::ZScore,
    Cf::Expiry,
    Cf::Sys,
    Cf::Touch,
    Cf::Stream,
];

impl SnapshotStore {
    pub fn open(db_path: &Path) -> std::io::Result<SnapshotStore> {
        let root = db_path.join("snapshots");
        std::fs::create_dir_all(&root)?;
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            // Left by a build or a transfer that the process did not live to finish.
            if name.starts_with("building-") || name.starts_with("incoming-") {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        let leases = Arc::new(Leases {
            root: root.clone(),
            held: Mutex::new(HashMap::new()),
        });
        Ok(SnapshotStore { root, leases })
    }

    /// A leased handle on `path`.
    fn lease(&self, path: &Path) -> SnapshotDir {
        let lease = self.leases.take(&mut self.leases.lock(), path);
        SnapshotDir {
            path: path.to_path_buf(),
            _lease: lease,
        }
    }

    /// A fresh directory for an incoming snapshot, kept until the returned value is dropped
    /// (after the install, which moves its files away, or after a failed transfer).
    pub fn incoming_dir(&self) -> std::io::Result<SnapshotDir> {
        let dir = self
            .root
            .join(format!("incoming-{:016x}", rand::random::<u64>()));
        let leased = self.lease(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(leased)
    }

    fn snap_dir(&self, index: u64) -> PathBuf {
        self.root.join(format!("snap-{index:020}"))
    }

    /// Takes a checkpoint of `db` and records the applied log id and membership found in it.
    pub fn build(&self, db: &Db) -> std::io::Result<Snapshot> {
        let tmp = self
            .root
            .join(format!("building-{:016x}", rand::random::<u64>()));
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(db.rocks()).map_err(io_err)?;
        checkpoint.create_checkpoint(&tmp).map_err(io_err)?;
        let meta = read_meta_from_checkpoint(&tmp)?;
        std::fs::write(tmp.join(META_FILE), encode(&meta)?)?;
        let index = meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0);
        let dir = self.snap_dir(index);
        let snapshot = {
            let mut held = self.leases.lock();
            if dir.join(META_FILE).exists() {
                // Nothing applied since that snapshot: it holds this very state, and a
                // transfer may be reading it.
                let _ = std::fs::remove_dir_all(&tmp);
            } else {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                std::fs::rename(&tmp, &dir)?;
                sync_dir(&self.root)?;
            }
            let lease = self.leases.take(&mut held, &dir);
            self.leases.collect(&held)?;
            SnapshotDir {
                path: dir,
                _lease: lease,
            }
        };
        Ok(Snapshot { meta, snapshot })
    }

    /// The newest complete snapshot, leased: it stays on disk while the value lives.
    pub fn current(&self) -> std::io::Result<Option<Snapshot>> {
        // Chosen and leased in one step, so no collection can come between.
        let mut held = self.leases.lock();
        let Some(path) = newest_snapshot(&self.root)? else {
            return Ok(None);
        };
        let meta: SnapshotMeta = decode(&std::fs::read(path.join(META_FILE))?)?;
        let lease = self.leases.take(&mut held, &path);
        Ok(Some(Snapshot {
            meta,
            snapshot: SnapshotDir {
                path,
                _lease: lease,
            },
        }))
    }

    /// Replaces the live state with a received snapshot, durably. Crash-safe: a marker names
    /// the snapshot until the copy is complete, and [`SnapshotStore::resume_install`] redoes it.
    pub fn install(&self, db: &Db, meta: &SnapshotMeta, dir: &Path) -> std::io::Result<()> {
        let index = meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0);
        let target = self.snap_dir(index);
        // Leased until the install is done: a newer snapshot built meanwhile must not take it.
        let _target = self.lease(&target);
        if dir != target {
            if target.join(META_FILE).exists() {
                // This node has the snapshot of that index already (log ids of applied entries
                // are unique, so it is the same state), and may be sending it: keep it.
                let _ = std::fs::remove_dir_all(dir);
            } else {
                std::fs::write(dir.join(META_FILE), encode(meta)?)?;
                if target.exists() {
                    std::fs::remove_dir_all(&target)?;
                }
                std::fs::rename(dir, &target)?;
            }
        }
        let marker = self.root.join(INSTALLING);
        write_synced(&marker, target.to_string_lossy().as_bytes())?;
        sync_dir(&self.root)?;
        copy_into(db, &target)?;
        std::fs::remove_file(&marker)?;
        self.leases.collect(&self.leases.lock())?;
        Ok(())
    }

    /// Finishes an install interrupted by a crash. Call before the state machine starts.
    pub fn resume_install(&self, db: &Db) -> std::io::Result<()> {
        let marker = self.root.join(INSTALLING);
        if let Ok(raw) = std::fs::read(&marker) {
            let dir = PathBuf::from(String::from_utf8_lossy(&raw).to_string());
            tracing::warn!(snapshot = %dir.display(), "finishing an interrupted snapshot install");
            copy_into(db, &dir)?;
            std::fs::remove_file(&marker)?;
        }
        Ok(())
    }
}

fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Opens a checkpoint with the families it has: one written before a family was added (by an
/// older build) lacks it, and read-only RocksDB refuses to open a family that is not there.
fn open_checkpoint(dir: &Path) -> std::io::Result<rocksdb::DB> {
    let opts = rocksdb::Options::default();
    let names = rocksdb::DB::list_cf(&opts, dir).map_err(io_err)?;
    rocksdb::DB::open_cf_for_read_only(&opts, dir, names, false).map_err(io_err)
}

fn read_meta_from_checkpoint(dir: &Path) -> std::io::Result<SnapshotMeta> {
    let cp = open_checkpoint(dir)?;
    let sys = cp
        .cf_handle(Cf::Sys.name())
        .ok_or_else(|| io_err("checkpoint lacks sys"))?;
    let last_log_id: Option<LogId> = match cp.get_cf(sys, APPLIED_KEY).map_err(io_err)? {
        Some(v) => decode(&v)?,
        None => None,
    };
    let last_membership: StoredMembership = match cp.get_cf(sys, MEMBERSHIP_KEY).map_err(io_err)? {
        Some(v) => decode(&v)?,
        None => StoredMembership::default(),
    };
    Ok(SnapshotMeta {
        last_log_id,
        last_membership,
    })
}

/// Copies the snapshot's families into the live database, replacing their contents, in bounded
/// batches (a large snapshot is never held in memory), then syncs. Commits wait meanwhile, and
/// client reads are refused (see [`Db::replacing`]).
fn copy_into(db: &Db, dir: &Path) -> std::io::Result<()> {
    let cp = open_checkpoint(dir)?;
    let handles = SNAPSHOT_CFS
        .iter()
        .map(|cf| Ok((*cf, db.cf(*cf).map_err(io_err)?)))
        .collect::<std::io::Result<Vec<_>>>()?;
    db.replace_all(|rocks| {
        for (cf, live) in handles {
            copy_family(rocks, &cp, cf, live)?;
        }
        rocks.flush_wal(true).map_err(io_err)
    })
}

fn copy_family(
    rocks: &rocksdb::DB,
    cp: &rocksdb::DB,
    cf: Cf,
    live: &rocksdb::ColumnFamily,
) -> std::io::Result<()> {
    const BATCH_BYTES: usize = 4 << 20;
    let mut clear = rocksdb::WriteBatch::default();
    clear.delete_range_cf(live, Vec::<u8>::new(), vec![0xffu8; 32]);
    rocks.write(clear).map_err(io_err)?;
    // A family the checkpoint's build did not have yet holds nothing in it.
    let Some(src) = cp.cf_handle(cf.name()) else {
        return Ok(());
    };
    let mut iter = cp.raw_iterator_cf(src);
    iter.seek_to_first();
    let mut batch = rocksdb::WriteBatch::default();
    while let (Some(k), Some(v)) = (iter.key(), iter.value()) {
        batch.put_cf(live, k, v);
        if batch.size_in_bytes() >= BATCH_BYTES {
            rocks.write(std::mem::take(&mut batch)).map_err(io_err)?;
        }
        iter.next();
    }
    iter.status().map_err(io_err)?;
    rocks.write(batch).map_err(io_err)
}

/// The files of a snapshot directory, relative names and sizes, for streaming.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            out.push((
                entry.file_name().to_string_lossy().to_string(),
                entry.metadata()?.len(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use openraft::testing::log_id;

    use super::super::TypeConfig;
    use super::*;
    use crate::storage::StorageOptions;

    /// Commits a key and `index` as the last applied log index.
    fn apply_up_to(db: &Db, index: u64) {
        let mut txn = db.writer();
        let applied = Some(log_id::<TypeConfig>(1, 1, index));
        txn.put(Cf::Sys, APPLIED_KEY.to_vec(), encode(&applied).unwrap());
        txn.put(Cf::Meta, format!("k{index}").into_bytes(), b"v".to_vec());
        db.commit(txn, true).unwrap();
    }

    fn open(dir: &Path, name: &str) -> (std::sync::Arc<Db>, SnapshotStore) {
        let path = dir.join(name);
        let db = Db::open(&path, &StorageOptions::default()).unwrap();
        (db, SnapshotStore::open(&path).unwrap())
    }

    /// A leader streams the snapshot it picked while writes go on and newer snapshots are built:
    /// the files it streams stay until it is done, and are removed then.
    #[test]
    fn a_snapshot_being_sent_outlives_newer_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = open(dir.path(), "a");
        apply_up_to(&db, 10);
        store.build(&db).unwrap();
        let sending = store.current().unwrap().unwrap();
        let files = list_files(&sending.snapshot.path).unwrap();
        assert!(files.iter().any(|(name, _)| name == META_FILE));
        apply_up_to(&db, 20);
        store.build(&db).unwrap();
        apply_up_to(&db, 30);
        let newest = store.build(&db).unwrap();
        for (name, size) in &files {
            let path = sending.snapshot.path.join(name);
            let len = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{} was removed mid-transfer: {e}", path.display()))
                .len();
            assert_eq!(len, *size);
        }
        assert_eq!(store.current().unwrap().unwrap().meta, newest.meta);
        assert!(
            !store.snap_dir(20).exists(),
            "an unused old snapshot is removed"
        );
        let sent = sending.snapshot.path.clone();
        drop(sending);
        assert!(!sent.exists(), "removed once its transfer ended");
        assert!(store.snap_dir(30).exists());
    }

    /// A follower's own snapshot builds leave alone the directory a transfer is writing; the
    /// directory goes when the transfer fails.
    #[test]
    fn an_incoming_snapshot_is_kept_while_it_is_received() {
        let dir = tempfile::tempdir().unwrap();
        let (db, store) = open(dir.path(), "a");
        apply_up_to(&db, 10);
        let incoming = store.incoming_dir().unwrap();
        std::fs::write(incoming.path.join("000001.sst"), b"half a file").unwrap();
        store.build(&db).unwrap();
        assert!(incoming.path.join("000001.sst").exists());
        let path = incoming.path.clone();
        drop(incoming);
        assert!(!path.exists(), "an abandoned incoming directory is removed");
    }

    /// A snapshot received file by file installs, and leaves one snapshot directory behind.
    #[test]
    fn a_received_snapshot_installs() {
        let dir = tempfile::tempdir().unwrap();
        let (leader_db, leader) = open(dir.path(), "leader");
        let (follower_db, follower) = open(dir.path(), "follower");
        apply_up_to(&leader_db, 10);
        let snap = leader.build(&leader_db).unwrap();
        let incoming = follower.incoming_dir().unwrap();
        for (name, _) in list_files(&snap.snapshot.path).unwrap() {
            std::fs::copy(snap.snapshot.path.join(&name), incoming.path.join(&name)).unwrap();
        }
        follower
            .install(&follower_db, &snap.meta, &incoming.path)
            .unwrap();
        drop(incoming);
        let reader = follower_db.reader();
        assert_eq!(reader.get(Cf::Meta, b"k10").unwrap(), Some(b"v".to_vec()));
        let current = follower.current().unwrap().unwrap();
        assert_eq!(current.meta, snap.meta);
        let names: Vec<String> = std::fs::read_dir(&follower.root)
            .unwrap()
            .map(|e| dir_name(&e.unwrap().path()))
            .collect();
        assert_eq!(names, vec![dir_name(&follower.snap_dir(10))]);
    }
}
