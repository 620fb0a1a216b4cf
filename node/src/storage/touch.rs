//! When each key last changed, as replicated state: what WATCH is checked against, and what
//! wakes clients blocked on a key.
//!
//! A writer transaction notes the user key of every put and delete it makes in the data
//! families ([`Txn::take_touches`]): whatever a command changed, down to one hash field, passes
//! through there, so nothing can change a key unnoticed. The applier stamps those keys with the
//! log index of the entry that changed them ([`Txn::stamp`]). An EXEC carries the index its
//! client's WATCH saw, and applying it compares the stamps with that index
//! ([`Txn::stamped_after`]): the check runs in log order, from replicated data, so every
//! replica aborts the same blocks, whichever node proposed them and whoever leads later.
//!
//! Layout of the `touch` family: `epoch | kind | db | key` -> index (u64, big-endian), where
//! the epoch is the index's top bits ([`EPOCH_BITS`]). A stamp is a blind put (no read on the
//! write path), and a key changed again in the same epoch overwrites its stamp. Stamps of old
//! epochs go by one range deletion each time a new epoch starts, so deleted keys leave nothing
//! behind for long: a watch older than [`KEPT_EPOCHS`] whole epochs can no longer be checked,
//! and its EXEC aborts (the client retries, as after any conflict).

use super::keys::be_u64;
use super::{Cf, Result, Txn};

/// An epoch spans 2^20 log entries (a client write is one entry, or a few share one).
pub const EPOCH_BITS: u32 = 20;
/// Whole epochs kept before the current one: a watch stays checkable for at least this many
/// epochs' worth of entries (3 Mi writes), and the family holds at most the keys changed in
/// four epochs.
pub const KEPT_EPOCHS: u64 = 3;

/// What a write changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touch {
    /// One key of one database.
    Key { db: u8, key: Vec<u8> },
    /// Every key of a database (FLUSHDB).
    Db(u8),
    /// Every key of every database (FLUSHALL).
    All,
}

/// Why keys changed, which matters to a client that watched a key already expired: the
/// deletion of that expired key is no change to it (as in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchKind {
    /// A command changed the key.
    Write,
    /// The active expirer deleted the key, expired.
    Expire,
}

/// A stamp to look for.
#[derive(Debug, Clone, Copy)]
pub enum Stamp<'a> {
    Write {
        db: u8,
        key: &'a [u8],
    },
    Expire {
        db: u8,
        key: &'a [u8],
    },
    /// FLUSHDB of `db`, or FLUSHALL.
    Flush {
        db: u8,
    },
}

const WRITE: u8 = b'w';
const EXPIRE: u8 = b'x';
const FLUSH_DB: u8 = b'f';
const FLUSH_ALL: u8 = b'F';

fn epoch(index: u64) -> u64 {
    index >> EPOCH_BITS
}

fn stamp_key(epoch: u64, kind: u8, db: Option<u8>, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + key.len());
    out.extend_from_slice(&(epoch as u32).to_be_bytes());
    out.push(kind);
    out.extend(db);
    out.extend_from_slice(key);
    out
}

/// The user key a write to `cf` at `raw` changes: meta records are `db | key`, members
/// `db | len(key) | key | version | member` (see `storage::keys`).
pub(super) fn touch_of(cf: Cf, raw: &[u8]) -> Option<Touch> {
    match cf {
        Cf::Meta => Some(Touch::Key {
            db: *raw.first()?,
            key: raw[1..].to_vec(),
        }),
        Cf::Hash | Cf::Set | Cf::List | Cf::ZSet | Cf::ZScore | Cf::Stream => {
            let len = u32::from_be_bytes(raw.get(1..5)?.try_into().ok()?) as usize;
            Some(Touch::Key {
                db: raw[0],
                key: raw.get(5..5 + len)?.to_vec(),
            })
        }
        _ => None,
    }
}

/// What a range deletion of `[from, to)` in `cf` changes: in the meta family, whole databases
/// (members are range-deleted only together with their key's meta record, noted on its own).
pub(super) fn touch_of_range(cf: Cf, from: &[u8], to: &[u8]) -> Option<Touch> {
    if cf != Cf::Meta {
        return None;
    }
    match (from, to) {
        ([db], [next]) if db.checked_add(1) == Some(*next) => Some(Touch::Db(*db)),
        _ => Some(Touch::All),
    }
}

impl Txn<'_> {
    /// Stamps `touches` with `index`, the log index of the entry that made them, and keeps them
    /// for [`Txn::take_stamped`].
    pub fn stamp(&mut self, touches: Vec<Touch>, kind: TouchKind, index: u64) {
        let e = epoch(index);
        let value = index.to_be_bytes();
        for touch in &touches {
            let key = match (touch, kind) {
                (Touch::Key { db, key }, TouchKind::Write) => stamp_key(e, WRITE, Some(*db), key),
                (Touch::Key { db, key }, TouchKind::Expire) => stamp_key(e, EXPIRE, Some(*db), key),
                (Touch::Db(db), _) => stamp_key(e, FLUSH_DB, Some(*db), &[]),
                (Touch::All, _) => stamp_key(e, FLUSH_ALL, None, &[]),
            };
            self.put(Cf::Touch, key, value.to_vec());
        }
        self.stamped.extend(touches);
    }

    /// Everything stamped since the last call: what the entries applied so far changed, for
    /// waking clients blocked on those keys once they are committed.
    pub fn take_stamped(&mut self) -> Vec<Touch> {
        std::mem::take(&mut self.stamped)
    }

    /// Whether the stamp `what` was set after log index `since`, as seen by the entry at
    /// `index`; also true when stamps that old are gone (the answer is then unknown, and a
    /// watch must take it as changed).
    pub fn stamped_after(&self, what: Stamp<'_>, since: u64, index: u64) -> Result<bool> {
        let (first, last) = (epoch(since), epoch(index));
        if first + KEPT_EPOCHS < last {
            return Ok(true);
        }
        for e in first..=last {
            let key = match what {
                Stamp::Write { db, key } => stamp_key(e, WRITE, Some(db), key),
                Stamp::Expire { db, key } => stamp_key(e, EXPIRE, Some(db), key),
                Stamp::Flush { db } => {
                    let all = self.get(Cf::Touch, &stamp_key(e, FLUSH_ALL, None, &[]))?;
                    if all.is_some_and(|v| be_u64(&v) > since) {
                        return Ok(true);
                    }
                    stamp_key(e, FLUSH_DB, Some(db), &[])
                }
            };
            if self
                .get(Cf::Touch, &key)?
                .is_some_and(|v| be_u64(&v) > since)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Called for every log index before its entry is applied: the first index of an epoch
    /// drops the stamps of epochs no watch may still ask about.
    pub fn forget_old_stamps(&mut self, index: u64) {
        let e = epoch(index);
        if index & ((1 << EPOCH_BITS) - 1) == 0 && e > KEPT_EPOCHS {
            let below = ((e - KEPT_EPOCHS) as u32).to_be_bytes().to_vec();
            self.delete_range(Cf::Touch, Vec::new(), below);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::keys::{member_key, member_prefix, meta_key};
    use crate::storage::{Db, StorageOptions};

    #[test]
    fn writes_name_the_user_key_they_change() {
        let key = Touch::Key {
            db: 3,
            key: b"k".to_vec(),
        };
        assert_eq!(touch_of(Cf::Meta, &meta_key(3, b"k")), Some(key.clone()));
        let member = member_key(&member_prefix(3, b"k", 9), b"field");
        for cf in [
            Cf::Hash,
            Cf::Set,
            Cf::List,
            Cf::ZSet,
            Cf::ZScore,
            Cf::Stream,
        ] {
            assert_eq!(touch_of(cf, &member), Some(key.clone()), "{cf:?}");
        }
        assert_eq!(touch_of(Cf::Sys, b"keys:\x03"), None);
        assert_eq!(touch_of(Cf::Expiry, &member), None);
        assert_eq!(touch_of_range(Cf::Meta, &[4], &[5]), Some(Touch::Db(4)));
        assert_eq!(touch_of_range(Cf::Meta, &[], &[0xff; 16]), Some(Touch::All));
        assert_eq!(touch_of_range(Cf::Hash, &[4], &[5]), None);
    }

    #[test]
    fn stamps_answer_what_changed_after_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), &StorageOptions::default()).unwrap();
        let mut txn = db.writer();
        let k = Touch::Key {
            db: 0,
            key: b"k".to_vec(),
        };
        txn.stamp(vec![k.clone()], TouchKind::Write, 10);
        txn.stamp(vec![Touch::Db(1)], TouchKind::Write, 12);
        let write = Stamp::Write { db: 0, key: b"k" };
        let expire = Stamp::Expire { db: 0, key: b"k" };
        assert!(txn.stamped_after(write, 9, 20).unwrap());
        assert!(!txn.stamped_after(write, 10, 20).unwrap());
        assert!(!txn.stamped_after(expire, 9, 20).unwrap());
        assert!(txn.stamped_after(Stamp::Flush { db: 1 }, 11, 20).unwrap());
        assert!(!txn.stamped_after(Stamp::Flush { db: 0 }, 11, 20).unwrap());
        txn.stamp(vec![Touch::All], TouchKind::Write, 13);
        assert!(txn.stamped_after(Stamp::Flush { db: 0 }, 11, 20).unwrap());
        db.commit(txn, false).unwrap();

        // A stamp in a later epoch is found from an index in an earlier one.
        let later = (1 << EPOCH_BITS) + 5;
        let mut txn = db.writer();
        txn.stamp(vec![k.clone()], TouchKind::Expire, later);
        assert_eq!(txn.take_stamped(), vec![k.clone()]);
        assert!(txn.stamped_after(expire, 30, later).unwrap());
        // Epochs roll over: old stamps go, and a watch from before them counts as changed.
        let mut index = later;
        for e in 2..=(KEPT_EPOCHS + 2) {
            index = e << EPOCH_BITS;
            txn.forget_old_stamps(index);
        }
        let stale = Stamp::Write { db: 0, key: b"k" };
        assert!(txn.stamped_after(stale, 11, index).unwrap(), "too old");
        assert!(!txn
            .stamped_after(stale, (2 << EPOCH_BITS) + 1, index)
            .unwrap());
        db.commit(txn, false).unwrap();
        let reader = db.reader();
        let first_epoch = stamp_key(0, WRITE, Some(0), b"k");
        assert_eq!(reader.get(Cf::Touch, &first_epoch).unwrap(), None);
    }
}
