//! Key-level operations shared by every data type: lookup with expiry, creation with a fresh
//! version, deletion, TTLs and per-database key counts.
//!
//! Every change to the `meta` family goes through here so the key counts (DBSIZE) and the expiry
//! index stay exact. All of it is deterministic given the transaction's inputs, so replicas that
//! apply the same mutations end with the same bytes.

use super::keys::{self, be_u64, Meta};
use super::{Cf, KeyType, Result, Txn};

const NEXT_VERSION: &[u8] = b"next_version";

fn key_count_key(db: u8) -> Vec<u8> {
    let mut k = b"keys:".to_vec();
    k.push(db);
    k
}

impl Txn<'_> {
    /// The key's meta record, whether or not it has expired.
    pub fn raw_meta(&self, db: u8, key: &[u8]) -> Result<Option<Meta>> {
        self.get(Cf::Meta, &keys::meta_key(db, key))?
            .map(|raw| Meta::decode(&raw))
            .transpose()
    }

    /// The key's meta record if the key exists and has not expired at `now_ms`. A read
    /// command's lookup counts as a keyspace hit or miss (INFO), as Redis counts its read
    /// lookups; the applier's do not.
    pub fn live_meta(&self, db: u8, key: &[u8], now_ms: u64) -> Result<Option<Meta>> {
        let meta = self.raw_meta(db, key)?.filter(|m| !m.is_expired(now_ms));
        if !self.is_writable() {
            let counter = if meta.is_some() {
                &self.db().keyspace_hits
            } else {
                if let Some(listener) = self.db().key_miss.get() {
                    listener(db, key);
                }
                &self.db().keyspace_misses
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(meta)
    }

    /// Number of keys stored in `db`, counting expired keys not yet deleted (as Redis's DBSIZE does).
    pub fn key_count(&self, db: u8) -> Result<u64> {
        Ok(self
            .get(Cf::Sys, &key_count_key(db))?
            .map(|v| be_u64(&v))
            .unwrap_or(0))
    }

    fn adjust_key_count(&mut self, db: u8, delta: i64) -> Result<()> {
        let n = self.key_count(db)? as i64 + delta;
        self.put(
            Cf::Sys,
            key_count_key(db),
            (n.max(0) as u64).to_be_bytes().to_vec(),
        );
        Ok(())
    }

    fn next_version(&mut self) -> Result<u64> {
        let v = self
            .get(Cf::Sys, NEXT_VERSION)?
            .map(|v| be_u64(&v))
            .unwrap_or(1);
        self.put(
            Cf::Sys,
            NEXT_VERSION.to_vec(),
            (v + 1).to_be_bytes().to_vec(),
        );
        Ok(v)
    }

    /// Creates `key` as an empty value of type `ty`, replacing whatever was stored (callers have
    /// checked types). The new meta is returned but not saved: save it with [`Txn::save_meta`],
    /// which also counts the key when it is new.
    pub fn create_key(&mut self, db: u8, key: &[u8], ty: KeyType) -> Result<Meta> {
        if let Some(old) = self.raw_meta(db, key)? {
            self.drop_members(db, key, &old);
        }
        let version = self.next_version()?;
        Ok(Meta::new(ty, version))
    }

    /// Stores `meta`, keeping the expiry index in step. An empty collection is deleted instead,
    /// as Redis never keeps empty hashes, lists, sets or sorted sets; an empty stream stays (as
    /// in Redis: XDEL of its last entry keeps its groups and last ID).
    pub fn save_meta(&mut self, db: u8, key: &[u8], meta: &Meta) -> Result<()> {
        let old = self.raw_meta(db, key)?;
        if !matches!(meta.ty, KeyType::String | KeyType::Stream) && meta.count == 0 {
            if old.is_some() {
                self.delete_key(db, key)?;
            }
            return Ok(());
        }
        if old.is_none() {
            self.adjust_key_count(db, 1)?;
        }
        // A new incarnation (from `create_key`) starts without an expiry entry: `create_key`
        // dropped the old one, even when the deadline is carried over.
        let old_expire = old
            .filter(|m| m.version == meta.version)
            .map(|m| m.expire_at)
            .unwrap_or(0);
        if old_expire != meta.expire_at {
            if old_expire != 0 {
                self.delete(Cf::Expiry, keys::expiry_key(old_expire, db, key));
            }
            if meta.expire_at != 0 {
                self.put(
                    Cf::Expiry,
                    keys::expiry_key(meta.expire_at, db, key),
                    Vec::new(),
                );
            }
        }
        self.put(Cf::Meta, keys::meta_key(db, key), meta.encode());
        Ok(())
    }

    /// Deletes `key` and its members. Returns whether a key (live or expired) was there.
    pub fn delete_key(&mut self, db: u8, key: &[u8]) -> Result<bool> {
        let Some(old) = self.raw_meta(db, key)? else {
            return Ok(false);
        };
        self.drop_members(db, key, &old);
        self.delete(Cf::Meta, keys::meta_key(db, key));
        self.adjust_key_count(db, -1)?;
        Ok(true)
    }

    /// Removes the members and expiry entry of one incarnation of a key (not its meta record).
    fn drop_members(&mut self, db: u8, key: &[u8], meta: &Meta) {
        if meta.expire_at != 0 {
            self.delete(Cf::Expiry, keys::expiry_key(meta.expire_at, db, key));
        }
        if let Some(cf) = meta.ty.member_cf() {
            let prefix = keys::member_prefix(db, key, meta.version);
            let end = keys::prefix_end(&prefix);
            if meta.ty == KeyType::ZSet {
                self.delete_range(Cf::ZScore, prefix.clone(), end.clone());
            }
            self.delete_range(cf, prefix, end);
        }
    }

    /// Deletes every key of `db` (FLUSHDB).
    pub fn flush_db(&mut self, db: u8) -> Result<()> {
        for cf in Cf::KEYED_BY_DB {
            self.delete_range(cf, vec![db], vec![db + 1]);
        }
        // The expiry index is ordered by deadline, not db: drop this db's entries one by one.
        let doomed: Vec<Vec<u8>> =
            self.scan(Cf::Expiry, &[], &[0xff; 9], false)?
                .filter_map(|e| match e {
                    Ok((k, _)) => (keys::decode_expiry_key(&k).map(|(_, d, _)| d) == Some(db))
                        .then_some(Ok(k)),
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_>>()?;
        for k in doomed {
            self.delete(Cf::Expiry, k);
        }
        self.put(Cf::Sys, key_count_key(db), 0u64.to_be_bytes().to_vec());
        Ok(())
    }

    /// Swaps databases `a` and `b` (SWAPDB): every record of each, its keys, members, expiry
    /// entries and key count, moves to the other's index. Time and memory grow with the two
    /// databases: the records are read, then written back as part of this transaction.
    pub fn swap_dbs(&mut self, a: u8, b: u8) -> Result<()> {
        if a == b {
            return Ok(());
        }
        let other = |db: u8| if db == a { b } else { a };
        for cf in Cf::KEYED_BY_DB {
            let mut moved = Vec::new();
            for db in [a, b] {
                for entry in self.scan(cf, &[db], &[db + 1], false)? {
                    let (mut k, v) = entry?;
                    k[0] = other(db);
                    moved.push((k, v));
                }
            }
            for db in [a, b] {
                self.delete_range(cf, vec![db], vec![db + 1]);
            }
            for (k, v) in moved {
                self.put(cf, k, v);
            }
        }
        // The expiry index is ordered by deadline, its database after it.
        let mut entries: Vec<Vec<u8>> = Vec::new();
        for entry in self.scan(Cf::Expiry, &[], &[0xff; 9], false)? {
            let (k, _) = entry?;
            if keys::decode_expiry_key(&k).is_some_and(|(_, db, _)| db == a || db == b) {
                entries.push(k);
            }
        }
        // All deletions before any put: a swapped entry may be one deleted here.
        for k in &entries {
            self.delete(Cf::Expiry, k.clone());
        }
        for mut k in entries {
            k[8] = other(k[8]);
            self.put(Cf::Expiry, k, Vec::new());
        }
        let (count_a, count_b) = (self.key_count(a)?, self.key_count(b)?);
        self.put(Cf::Sys, key_count_key(a), count_b.to_be_bytes().to_vec());
        self.put(Cf::Sys, key_count_key(b), count_a.to_be_bytes().to_vec());
        Ok(())
    }

    /// Keys whose deadline is at or before `now_ms`, earliest first, at most `limit`.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Result<Vec<(u8, Vec<u8>)>> {
        let end = (now_ms + 1).to_be_bytes();
        let mut out = Vec::new();
        for entry in self.scan(Cf::Expiry, &[], &end, false)? {
            let (k, _) = entry?;
            if let Some((_, db, key)) = keys::decode_expiry_key(&k) {
                out.push((db, key.to_vec()));
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes `key` if it has expired at `now_ms` (the active expirer's mutation). Returns
    /// whether it deleted anything.
    pub fn delete_if_expired(&mut self, db: u8, key: &[u8], now_ms: u64) -> Result<bool> {
        match self.raw_meta(db, key)? {
            Some(meta) if meta.is_expired(now_ms) => self.delete_key(db, key),
            _ => Ok(false),
        }
    }
}

impl Txn<'_> {
    /// Deletes every key of every database (FLUSHALL).
    pub fn flush_all(&mut self) {
        for cf in Cf::DATA {
            self.delete_range(cf, Vec::new(), vec![0xff; 16]);
        }
        self.delete_range(Cf::Sys, b"keys:".to_vec(), b"keys;".to_vec());
    }
}
