//! Redis data types on RocksDB.
//!
//! Layout (defined once here, checked at open):
//! - `meta`: `db | user key` -> [`keys::Meta`] (type, version, expire-at, count, string value inline).
//! - `hash`, `set`, `list`, `zset`, `zscore`: members, keyed `db | len | key | version | member`, so a
//!   DEL or overwrite only drops the meta entry and range-deletes the old version's members.
//! - `expiry`: `expire-at | db | key`, an index the active expirer scans in deadline order.
//! - `sys`: node bookkeeping (versions, key counts, last applied mutation).
//! - `touch`: the log index at which each key last changed, for WATCH (see [`touch`]).
//! - `raft_log`, `raft_state`: reserved for the Raft log and vote.
//! - `stream`: a stream's entries, nodes, header and consumer groups, keyed like members (see
//!   `command::streams::store`).

pub mod answers;
pub mod keys;
pub mod keyspace;
pub mod touch;
pub mod txn;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use answers::AnswerCache;
pub use keys::{KeyType, Meta};
pub use touch::{Stamp, Touch, TouchKind};
pub use txn::Txn;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("corrupt record in column family {cf}: {detail}")]
    Corrupt { cf: &'static str, detail: String },
    #[error("missing column family {0}")]
    MissingColumnFamily(&'static str),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Column families. The discriminant indexes per-family arrays in [`Txn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cf {
    Meta = 0,
    Hash,
    Set,
    List,
    ZSet,
    ZScore,
    Expiry,
    Sys,
    RaftLog,
    RaftState,
    Touch,
    Stream,
}

impl Cf {
    pub const ALL: [Cf; 12] = [
        Cf::Meta,
        Cf::Hash,
        Cf::Set,
        Cf::List,
        Cf::ZSet,
        Cf::ZScore,
        Cf::Expiry,
        Cf::Sys,
        Cf::RaftLog,
        Cf::RaftState,
        Cf::Touch,
        Cf::Stream,
    ];
    /// Families holding user data: what FLUSHALL clears and what a snapshot must carry.
    pub const DATA: [Cf; 8] = [
        Cf::Meta,
        Cf::Hash,
        Cf::Set,
        Cf::List,
        Cf::ZSet,
        Cf::ZScore,
        Cf::Expiry,
        Cf::Stream,
    ];

    /// The data families whose every key starts with its database's index: what FLUSHDB
    /// deletes and SWAPDB moves as ranges (the expiry index, ordered by deadline, is not one).
    pub const KEYED_BY_DB: [Cf; 7] = [
        Cf::Meta,
        Cf::Hash,
        Cf::Set,
        Cf::List,
        Cf::ZSet,
        Cf::ZScore,
        Cf::Stream,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Hash => "hash",
            Cf::Set => "set",
            Cf::List => "list",
            Cf::ZSet => "zset",
            Cf::ZScore => "zscore",
            Cf::Expiry => "expiry",
            Cf::Sys => "sys",
            Cf::RaftLog => "raft_log",
            Cf::RaftState => "raft_state",
            Cf::Touch => "touch",
            Cf::Stream => "stream",
        }
    }
}

/// RocksDB tuning from the config file.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Total memory budget (`memory`): half goes to the block cache, a quarter to write buffers,
    /// a sixteenth to the cache of meta records ([`AnswerCache`]).
    pub memory: u64,
    pub max_background_jobs: i32,
    pub max_write_buffer_number: i32,
    pub write_buffer_size: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            memory: 1 << 30,
            max_background_jobs: 4,
            max_write_buffer_number: 2,
            write_buffer_size: 64 << 20,
        }
    }
}

/// One RocksDB instance holding every column family of a node.
///
/// Data changes only by [`Db::commit`] (the state machine's applier, the only writer) and
/// [`Db::replace_all`] (installing a snapshot). Both hold the commit gate exclusively, and a
/// reader holds it shared until it moves to a RocksDB snapshot (a reader that finds the gate
/// taken starts with a snapshot): no commit lands while a reader reads without one, and the
/// [`AnswerCache`] is updated in step with RocksDB.
pub struct Db {
    rocks: rocksdb::DB,
    commit_gate: RwLock<()>,
    /// A snapshot is being installed (see [`Db::replacing`]).
    replacing: AtomicBool,
    answers: AnswerCache,
    /// What OBJECT reports against (encoding thresholds, eviction policy), as this node's CONFIG
    /// has them. Not storage's concern, and it changes nothing in how values are stored: it is
    /// kept here because a command handler sees the node only through its transaction, and
    /// every handler of this node (reads, and MULTI blocks run by the applier) reaches it so.
    object_settings: Mutex<crate::config::ObjectSettings>,
    /// Key lookups of read commands that found their key, and that did not (INFO's
    /// `keyspace_hits` and `keyspace_misses`).
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Told of each key miss of a read command (`db`, `key`): keyspace notifications' `m`
    /// class. Set once by the RESP server; see [`KeyMissListener`].
    pub key_miss: std::sync::OnceLock<KeyMissListener>,
}

/// Who hears of key misses; it decides for itself, cheaply, whether they matter now.
pub type KeyMissListener = Box<dyn Fn(u8, &[u8]) + Send + Sync>;

impl Db {
    pub fn open(path: &Path, opts: &StorageOptions) -> Result<Arc<Db>> {
        let cache = rocksdb::Cache::new_lru_cache((opts.memory / 2) as usize);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let mut cf_opts = rocksdb::Options::default();
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_write_buffer_size(opts.write_buffer_size as usize);
        cf_opts.set_max_write_buffer_number(opts.max_write_buffer_number);
        cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);

        let mut db_opts = cf_opts.clone();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(opts.max_background_jobs);
        db_opts.set_db_write_buffer_size((opts.memory / 4) as usize);

        let descriptors = Cf::ALL.iter().map(|cf| {
            let mut opts = cf_opts.clone();
            if *cf == Cf::RaftLog {
                // The log is transient (purged after each snapshot) and each entry is read back
                // at most a few times: compressing it on every flush only cost CPU, a tenth
                // of a pipelined SET's.
                opts.set_compression_type(rocksdb::DBCompressionType::None);
            }
            rocksdb::ColumnFamilyDescriptor::new(cf.name(), opts)
        });
        let rocks = rocksdb::DB::open_cf_descriptors(&db_opts, path, descriptors)?;
        let db = Db {
            rocks,
            commit_gate: RwLock::new(()),
            replacing: AtomicBool::new(false),
            answers: AnswerCache::new((opts.memory / 16) as usize),
            object_settings: Mutex::default(),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            key_miss: std::sync::OnceLock::new(),
        };
        for cf in Cf::ALL {
            db.cf(cf)?;
        }
        Ok(Arc::new(db))
    }

    pub fn cf(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily> {
        self.rocks
            .cf_handle(cf.name())
            .ok_or(StorageError::MissingColumnFamily(cf.name()))
    }

    pub fn rocks(&self) -> &rocksdb::DB {
        &self.rocks
    }

    /// A transaction that may not write, and sees one state of the database. It may hold the
    /// commit gate shared (see [`Txn`]), so it must not live across an await (it is `!Send`)
    /// nor be held by a thread that commits.
    pub fn reader(&self) -> Txn<'_> {
        Txn::reader(self)
    }

    /// A transaction whose writes are buffered until [`Db::commit`]. Only the single applier
    /// creates these: nothing else writes meanwhile, so reads need no snapshot.
    pub fn writer(&self) -> Txn<'_> {
        Txn::writer(self)
    }

    /// The commit gate, shared, if no commit holds or awaits it. Readers never wait for it:
    /// they run on the async runtime's few threads, and a commit stalled in RocksDB or a
    /// snapshot install would stall every one of them.
    fn try_shared_gate(&self) -> Option<RwLockReadGuard<'_, ()>> {
        match self.commit_gate.try_read() {
            Ok(gate) => Some(gate),
            // The gate guards no data of its own: a panic elsewhere cannot leave it inconsistent.
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    pub fn object_settings(&self) -> crate::config::ObjectSettings {
        *self
            .object_settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Called at start and by every CONFIG SET.
    pub fn set_object_settings(&self, settings: crate::config::ObjectSettings) {
        *self
            .object_settings
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = settings;
    }

    pub(crate) fn answers(&self) -> &AnswerCache {
        &self.answers
    }

    /// Writes a transaction's changes atomically; with `sync` the WAL is on disk on return.
    pub fn commit(&self, txn: Txn<'_>, sync: bool) -> Result<()> {
        let changes = txn.into_changes()?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(sync);
        let _gate = self.commit_gate.write().unwrap_or_else(|e| e.into_inner());
        self.rocks.write_opt(changes.batch, &wo)?;
        for cf in changes.forgotten {
            self.answers.forget(cf);
        }
        for (cf, key, value) in changes.written {
            self.answers.remember(cf, &key, value.as_deref());
        }
        Ok(())
    }

    /// Runs `replace` with commits and gated readers shut out and the cached answers forgotten:
    /// for installing a snapshot, which rewrites the data outside any transaction.
    pub fn replace_all<T>(&self, replace: impl FnOnce(&rocksdb::DB) -> T) -> T {
        /// Lowers the flag however `replace` ends, panics included.
        struct Replacing<'a>(&'a AtomicBool);
        impl Drop for Replacing<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        self.replacing.store(true, Ordering::SeqCst);
        let _flag = Replacing(&self.replacing);
        let _gate = self.commit_gate.write().unwrap_or_else(|e| e.into_inner());
        // Cleared first: nothing refills it meanwhile (readers fall back to snapshots, which
        // bypass it), so even a `replace` that panics halfway leaves no stale answer behind.
        self.answers.clear();
        replace(&self.rocks)
    }

    /// Whether a snapshot install is under way. A reader started now would read a snapshot of
    /// the half-installed data, so client reads are refused instead, as Redis refuses them
    /// while it loads its dataset.
    pub fn replacing(&self) -> bool {
        self.replacing.load(Ordering::SeqCst)
    }

    /// Approximate on-disk size of live data, for INFO.
    pub fn approximate_size(&self) -> u64 {
        Cf::ALL
            .iter()
            .filter_map(|cf| {
                let h = self.cf(*cf).ok()?;
                self.rocks
                    .property_int_value_cf(h, "rocksdb.estimate-live-data-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }
}
