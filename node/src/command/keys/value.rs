//! A whole value in memory, whatever its type: what DUMP serializes, RESTORE stores, and SORT
//! sorts and stores.

use crate::command::CmdError;
use crate::storage::keys::{
    list_index, member_key, member_prefix, prefix_end, score_from_bytes, score_to_bytes,
};
use crate::storage::{Cf, KeyType, Meta, Txn};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    /// Elements from head to tail.
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// (field, value) pairs.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// (member, score) pairs.
    ZSet(Vec<(Vec<u8>, f64)>),
}

impl Value {
    pub fn key_type(&self) -> KeyType {
        match self {
            Value::String(_) => KeyType::String,
            Value::List(_) => KeyType::List,
            Value::Set(_) => KeyType::Set,
            Value::Hash(_) => KeyType::Hash,
            Value::ZSet(_) => KeyType::ZSet,
        }
    }

    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(items) | Value::Set(items) => items.is_empty(),
            Value::Hash(pairs) => pairs.is_empty(),
            Value::ZSet(entries) => entries.is_empty(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Value::String(_) => 0,
            Value::List(items) | Value::Set(items) => items.len(),
            Value::Hash(pairs) => pairs.len(),
            Value::ZSet(entries) => entries.len(),
        }
    }

    /// The value of `key` in database `db`, whose meta record is `meta`. Sets, hashes and sorted
    /// sets come in member order.
    pub fn read(txn: &Txn<'_>, db: u8, key: &[u8], meta: &Meta) -> Result<Value, CmdError> {
        let Some(cf) = meta.ty.member_cf() else {
            return Ok(Value::String(meta.value.clone()));
        };
        if meta.ty == KeyType::Stream {
            // Redis's stream serialization (listpacks in a radix tree, consumer groups) is not
            // written by Kiwi yet.
            return Err(CmdError::msg(
                "DUMP of a stream is not supported by Kiwi yet",
            ));
        }
        let prefix = member_prefix(db, key, meta.version);
        let mut members = Vec::with_capacity(meta.count.min(1 << 16) as usize);
        for entry in txn.scan(cf, &prefix, &prefix_end(&prefix), false)? {
            let (k, v) = entry?;
            members.push((k[prefix.len()..].to_vec(), v));
        }
        Ok(match meta.ty {
            KeyType::List => Value::List(members.into_iter().map(|(_, v)| v).collect()),
            KeyType::Set => Value::Set(members.into_iter().map(|(m, _)| m).collect()),
            KeyType::Hash => Value::Hash(members),
            _ => Value::ZSet(
                members
                    .into_iter()
                    .map(|(m, s)| (m, score_from_bytes(&s)))
                    .collect(),
            ),
        })
    }

    /// Stores the value at `key` of database `db` with the deadline `expire_at` (0: none),
    /// replacing whatever the key held. An empty collection deletes the key, as Redis keeps none.
    /// Members must be distinct (RESTORE checks them).
    pub fn store(
        self,
        txn: &mut Txn<'_>,
        db: u8,
        key: &[u8],
        expire_at: u64,
    ) -> Result<(), CmdError> {
        let mut meta = txn.create_key(db, key, self.key_type())?;
        meta.expire_at = expire_at;
        meta.count = self.len() as u64;
        let prefix = member_prefix(db, key, meta.version);
        match self {
            Value::String(s) => meta.value = s,
            Value::List(items) => {
                for item in items {
                    txn.put(Cf::List, member_key(&prefix, &list_index(meta.tail)), item);
                    meta.tail += 1;
                }
            }
            Value::Set(members) => {
                for m in members {
                    txn.put(Cf::Set, member_key(&prefix, &m), Vec::new());
                }
            }
            Value::Hash(pairs) => {
                for (field, value) in pairs {
                    txn.put(Cf::Hash, member_key(&prefix, &field), value);
                }
            }
            Value::ZSet(entries) => {
                for (member, score) in entries {
                    let score = score_to_bytes(score);
                    let mut by_score = Vec::with_capacity(prefix.len() + 8 + member.len());
                    by_score.extend_from_slice(&prefix);
                    by_score.extend_from_slice(&score);
                    by_score.extend_from_slice(&member);
                    txn.put(Cf::ZScore, by_score, Vec::new());
                    txn.put(Cf::ZSet, member_key(&prefix, &member), score.to_vec());
                }
            }
        }
        txn.save_meta(db, key, &meta)?;
        Ok(())
    }
}
