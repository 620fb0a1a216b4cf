//! Snapshots as RocksDB checkpoints: a directory of hard-linked SST files, cheap to take and
//! streamed file by file to a follower, so a snapshot is never held in memory.
//!
//! Layout under `<db-path>/snapshots/`: `snap-<index>/` (complete snapshots, with `meta.bin`),
//! `building-*`/`incoming-*` (in progress, removed at start), and `installing` (a marker naming
//! the snapshot being copied into the live database, so a crash mid-install is finished on restart).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{decode, encode, io_err, LogId, Snapshot, SnapshotMeta, StoredMembership};
use crate::storage::{Cf, Db};

/// Keys of the `sys` family the state machine keeps its Raft bookkeeping under.
pub const APPLIED_KEY: &[u8] = b"raft_applied";
pub const MEMBERSHIP_KEY: &[u8] = b"raft_membership";
/// Identifies the cluster: derived from its first membership, so it is the same on every member.
pub const CLUSTER_ID_KEY: &[u8] = b"raft_cluster_id";

const META_FILE: &str = "meta.bin";
const INSTALLING: &str = "installing";

/// A snapshot's files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDir {
    pub path: PathBuf,
}

pub struct SnapshotStore {
    root: PathBuf,
}

/// Families a snapshot carries: the user data and the state machine's bookkeeping.
const SNAPSHOT_CFS: [Cf; 8] = [
    Cf::Meta,
    Cf::Hash,
    Cf::Set,
    Cf::List,
    Cf::ZSet,
    Cf::ZScore,
    Cf::Expiry,
    Cf::Sys,
];

impl SnapshotStore {
    pub fn open(db_path: &Path) -> std::io::Result<SnapshotStore> {
        let root = db_path.join("snapshots");
        std::fs::create_dir_all(&root)?;
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("building-") {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(SnapshotStore { root })
    }

    /// A fresh directory for an incoming snapshot.
    pub fn incoming_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self
            .root
            .join(format!("incoming-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
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
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::rename(&tmp, &dir)?;
        sync_dir(&self.root)?;
        self.remove_older_than(index)?;
        Ok(Snapshot {
            meta,
            snapshot: SnapshotDir { path: dir },
        })
    }

    /// The newest complete snapshot.
    pub fn current(&self) -> std::io::Result<Option<Snapshot>> {
        let mut best: Option<PathBuf> = None;
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.starts_with("snap-")
                && path.join(META_FILE).exists()
                && best.as_ref().is_none_or(|b| path > *b)
            {
                best = Some(path);
            }
        }
        let Some(path) = best else { return Ok(None) };
        let meta: SnapshotMeta = decode(&std::fs::read(path.join(META_FILE))?)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: SnapshotDir { path },
        }))
    }

    fn remove_older_than(&self, index: u64) -> std::io::Result<()> {
        let keep = self.snap_dir(index);
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if (name.starts_with("snap-") && path < keep)
                || name.starts_with("incoming-") && path != keep
            {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        Ok(())
    }

    /// Replaces the live state with a received snapshot, durably. Crash-safe: a marker names
    /// the snapshot until the copy is complete, and [`SnapshotStore::resume_install`] redoes it.
    pub fn install(&self, db: &Db, meta: &SnapshotMeta, dir: &Path) -> std::io::Result<()> {
        let index = meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0);
        let target = self.snap_dir(index);
        if dir != target {
            std::fs::write(dir.join(META_FILE), encode(meta)?)?;
            if target.exists() {
                std::fs::remove_dir_all(&target)?;
            }
            std::fs::rename(dir, &target)?;
        }
        let marker = self.root.join(INSTALLING);
        write_synced(&marker, target.to_string_lossy().as_bytes())?;
        sync_dir(&self.root)?;
        copy_into(db, &target)?;
        std::fs::remove_file(&marker)?;
        self.remove_older_than(index)?;
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

fn open_checkpoint(dir: &Path) -> std::io::Result<rocksdb::DB> {
    let opts = rocksdb::Options::default();
    let names: Vec<&str> = Cf::ALL.iter().map(|c| c.name()).collect();
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
    let src = cp
        .cf_handle(cf.name())
        .ok_or_else(|| io_err(format!("checkpoint lacks {}", cf.name())))?;
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
