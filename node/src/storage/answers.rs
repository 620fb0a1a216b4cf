//! RocksDB's current answers for the `meta` and `sys` families, shared by the applier and by
//! readers.
//!
//! Every command starts by reading its key's meta record, and the applier reads the `sys`
//! counters on every write. A hash lookup here spares RocksDB's memtable and block lookups,
//! the largest cost of a GET outside the kernel.
//!
//! What is kept stays true because [`super::Db`] changes these families only in a commit, and a
//! commit updates this cache while it holds the commit gate exclusively: an answer remembered
//! by anyone (a reader under the shared gate, or the applier, the only committer) is RocksDB's
//! answer at that moment, and stays so until the next commit replaces it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

// Seeded per process, so keys chosen by clients cannot be aimed at one bucket, and several
// times faster than std's SipHash on short keys (hashing was a tenth of a SET's cache cost).
use foldhash::fast::RandomState;

use super::Cf;

/// The families cached here.
pub const CACHED: [Cf; 2] = [Cf::Meta, Cf::Sys];

const SHARDS: usize = 32;
/// Values larger than this are not kept: a few big strings would crowd out many small records.
const MAX_VALUE: usize = 16 << 10;
/// Bytes charged per entry on top of its key and value (table slot, two allocations).
const ENTRY_OVERHEAD: usize = 64;

type Family = HashMap<Vec<u8>, Option<Vec<u8>>, RandomState>;

#[derive(Default)]
struct Shard {
    families: [Family; CACHED.len()],
    bytes: usize,
}

impl Shard {
    fn clear(&mut self) {
        for family in &mut self.families {
            *family = Family::default();
        }
        self.bytes = 0;
    }
}

fn charge(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

fn slot(cf: Cf) -> Option<usize> {
    CACHED.iter().position(|c| *c == cf)
}

/// A sharded map of answers, bounded in bytes: a shard past its share of the budget starts
/// over (it is a cache; whatever it forgets is read from RocksDB again).
pub struct AnswerCache {
    shards: Vec<Mutex<Shard>>,
    shard_budget: usize,
    hasher: RandomState,
}

impl AnswerCache {
    pub fn new(budget_bytes: usize) -> AnswerCache {
        AnswerCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget: budget_bytes / SHARDS,
            hasher: RandomState::default(),
        }
    }

    pub fn caches(cf: Cf) -> bool {
        slot(cf).is_some()
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A shard is consistent between statements; a panic cannot leave it half-updated.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What RocksDB answers for `key`, if known: `Some(None)` means the key is absent.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let family = slot(cf)?;
        self.shard(key).families[family].get(key).cloned()
    }

    /// Records RocksDB's answer for `key`. Callers must hold the commit gate (shared or
    /// exclusive) or be the committer, so that the answer cannot change under them.
    pub fn remember(&self, cf: Cf, key: &[u8], value: Option<&[u8]>) {
        let Some(family) = slot(cf) else {
            return;
        };
        let mut shard = self.shard(key);
        if let Some(old) = shard.families[family].remove(key) {
            shard.bytes -= charge(key, old.as_deref());
        }
        if value.is_some_and(|v| v.len() > MAX_VALUE) {
            return;
        }
        let cost = charge(key, value);
        if shard.bytes + cost > self.shard_budget {
            shard.clear();
        }
        shard.bytes += cost;
        shard.families[family].insert(key.to_vec(), value.map(<[u8]>::to_vec));
    }

    /// Forgets a whole family (after a range deletion in it).
    pub fn forget(&self, cf: Cf) {
        let Some(family) = slot(cf) else {
            return;
        };
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let removed: usize = shard.families[family]
                .iter()
                .map(|(k, v)| charge(k, v.as_deref()))
                .sum();
            shard.families[family] = Family::default();
            shard.bytes -= removed;
        }
    }

    /// Forgets everything (after a snapshot replaced the data).
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_presence_and_absence_per_family() {
        let cache = AnswerCache::new(1 << 20);
        assert_eq!(cache.get(Cf::Meta, b"k"), None);
        cache.remember(Cf::Meta, b"k", Some(b"v"));
        cache.remember(Cf::Sys, b"k", None);
        assert_eq!(cache.get(Cf::Meta, b"k"), Some(Some(b"v".to_vec())));
        assert_eq!(cache.get(Cf::Sys, b"k"), Some(None));
        cache.remember(Cf::Hash, b"k", Some(b"v"));
        assert_eq!(
            cache.get(Cf::Hash, b"k"),
            None,
            "member families are not cached"
        );
        cache.forget(Cf::Meta);
        assert_eq!(cache.get(Cf::Meta, b"k"), None);
        assert_eq!(cache.get(Cf::Sys, b"k"), Some(None));
        cache.clear();
        assert_eq!(cache.get(Cf::Sys, b"k"), None);
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn stays_within_its_budget_and_skips_big_values() {
        let budget = 64 << 10;
        let cache = AnswerCache::new(budget);
        for i in 0..10_000u32 {
            cache.remember(Cf::Meta, &i.to_be_bytes(), Some(&[0u8; 100]));
        }
        assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        cache.remember(Cf::Meta, b"big", Some(b"small"));
        cache.remember(Cf::Meta, b"big", Some(&vec![0u8; MAX_VALUE + 1]));
        assert_eq!(
            cache.get(Cf::Meta, b"big"),
            None,
            "an oversized answer replaces the old one with nothing"
        );
        // Overwrites are charged once.
        let cache = AnswerCache::new(1 << 20);
        for _ in 0..100 {
            cache.remember(Cf::Meta, b"k", Some(b"value"));
        }
        assert_eq!(cache.bytes(), charge(b"k", Some(b"value")));
    }
}
