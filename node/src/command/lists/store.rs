//! How a list is stored: the loaded [`List`], its element keys and the edits on them.

use crate::command::{CmdError, Ctx};
use crate::storage::keys::{list_index, member_key, member_prefix};
use crate::storage::{Cf, KeyType, Meta, StorageError, Txn};

/// Above this many elements a contiguous deletion becomes one range tombstone.
pub(super) const RANGE_DELETE_MIN: u64 = 32;

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum End {
    Left,
    Right,
}

/// A loaded list: its meta record and the prefix of its element keys.
pub(super) struct List {
    pub(super) meta: Meta,
    pub(super) prefix: Vec<u8>,
}

impl List {
    pub(super) fn new(db: u8, key: &[u8], meta: Meta) -> List {
        let prefix = member_prefix(db, key, meta.version);
        List { meta, prefix }
    }

    pub(super) fn len(&self) -> u64 {
        self.meta.tail - self.meta.head
    }

    /// The storage key of absolute index `idx`.
    pub(super) fn key_at(&self, idx: u64) -> Vec<u8> {
        member_key(&self.prefix, &list_index(idx))
    }

    /// The storage key of logical position `pos` (0 is the head).
    pub(super) fn key_of(&self, pos: u64) -> Vec<u8> {
        self.key_at(self.meta.head + pos)
    }

    /// The element at logical position `pos`, which must be in range.
    pub(super) fn get(&self, txn: &Txn<'_>, pos: u64) -> Result<Vec<u8>, CmdError> {
        Ok(txn
            .get(Cf::List, &self.key_of(pos))?
            .ok_or_else(|| missing(pos))?)
    }

    /// Elements at logical positions `[from, to)`, in order.
    pub(super) fn read(&self, txn: &Txn<'_>, from: u64, to: u64) -> Result<Vec<Vec<u8>>, CmdError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let values = txn
            .scan(Cf::List, &self.key_of(from), &self.key_of(to), false)?
            .map(|e| e.map(|(_, v)| v))
            .collect::<Result<Vec<_>, _>>()?;
        if values.len() as u64 != to - from {
            return Err(missing(from).into());
        }
        Ok(values)
    }

    pub(super) fn put(&self, txn: &mut Txn<'_>, idx: u64, value: Vec<u8>) {
        txn.put(Cf::List, self.key_at(idx), value);
    }

    /// Deletes the elements at absolute indexes `[from, to)`.
    pub(super) fn delete_indexes(&self, txn: &mut Txn<'_>, from: u64, to: u64) {
        if to <= from {
            return;
        }
        if to - from >= RANGE_DELETE_MIN {
            txn.delete_range(Cf::List, self.key_at(from), self.key_at(to));
        } else {
            for idx in from..to {
                txn.delete(Cf::List, self.key_at(idx));
            }
        }
    }

    pub(super) fn push(&mut self, txn: &mut Txn<'_>, end: End, value: Vec<u8>) {
        match end {
            End::Left => {
                self.meta.head -= 1;
                self.put(txn, self.meta.head, value);
            }
            End::Right => {
                self.put(txn, self.meta.tail, value);
                self.meta.tail += 1;
            }
        }
    }

    /// Removes up to `n` elements from `end`, returned in the order they were popped.
    pub(super) fn pop(
        &mut self,
        txn: &mut Txn<'_>,
        end: End,
        n: u64,
    ) -> Result<Vec<Vec<u8>>, CmdError> {
        let n = n.min(self.len());
        let len = self.len();
        Ok(match end {
            End::Left => {
                let values = self.read(txn, 0, n)?;
                let head = self.meta.head;
                self.delete_indexes(txn, head, head + n);
                self.meta.head += n;
                values
            }
            End::Right => {
                let mut values = self.read(txn, len - n, len)?;
                values.reverse();
                let tail = self.meta.tail;
                self.delete_indexes(txn, tail - n, tail);
                self.meta.tail -= n;
                values
            }
        })
    }

    /// Replaces the `del` elements starting at position `at` with `mid`, moving whichever side
    /// of the list is shorter when the length changes.
    pub(super) fn splice(
        &mut self,
        txn: &mut Txn<'_>,
        at: u64,
        del: u64,
        mid: Vec<Vec<u8>>,
    ) -> Result<(), CmdError> {
        let len = self.len();
        let after = len - at - del;
        let m = mid.len() as u64;
        let (head, tail) = (self.meta.head, self.meta.tail);
        if m == del {
            for (i, v) in mid.into_iter().enumerate() {
                self.put(txn, head + at + i as u64, v);
            }
        } else if at <= after {
            // Move the part before the window; the tail stays put.
            let before = self.read(txn, 0, at)?;
            let new_head = tail - (at + m + after);
            for (i, v) in before.into_iter().chain(mid).enumerate() {
                self.put(txn, new_head + i as u64, v);
            }
            self.delete_indexes(txn, head, new_head);
            self.meta.head = new_head;
        } else {
            // Move the part after the window; the head stays put.
            let rest = self.read(txn, at + del, len)?;
            for (i, v) in mid.into_iter().chain(rest).enumerate() {
                self.put(txn, head + at + i as u64, v);
            }
            let new_tail = head + at + m + after;
            self.delete_indexes(txn, new_tail, tail);
            self.meta.tail = new_tail;
        }
        Ok(())
    }

    /// Stores the meta record (deleting the key if the list is now empty).
    pub(super) fn save(&mut self, ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<(), CmdError> {
        self.meta.count = self.len();
        ctx.txn.save_meta(ctx.db, key, &self.meta)?;
        Ok(())
    }
}

pub(super) fn missing(pos: u64) -> StorageError {
    StorageError::Corrupt {
        cf: "list",
        detail: format!("list element at position {pos} is missing"),
    }
}

/// The live list stored at `key`, or WRONGTYPE.
pub(super) fn load(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<List>, CmdError> {
    Ok(ctx
        .typed_meta(KeyType::List, key)?
        .map(|m| List::new(ctx.db, key, m)))
}

/// The list at `key`, created empty (not yet saved) if there is none.
pub(super) fn load_or_create(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<List, CmdError> {
    Ok(match load(ctx, key)? {
        Some(list) => list,
        None => {
            let meta = ctx.txn.create_key(ctx.db, key, KeyType::List)?;
            List::new(ctx.db, key, meta)
        }
    })
}
