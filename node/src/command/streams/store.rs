//! A stream's records in the `stream` column family, all under its member prefix
//! (`db | len | key | version`, see `storage::keys`) so DEL and overwrite drop them with one
//! range deletion, followed by a tag byte:
//!
//! - `h` -> [`Header`]: last ID, max deleted ID, entries added, node bookkeeping.
//! - `e | id` -> the entry: its node number, then its field/value pairs. IDs are big-endian,
//!   so XRANGE is a RocksDB range scan.
//! - `n | node` -> [`Node`]: the first and last IDs appended to one node and how many entries
//!   it holds. Redis keeps entries in nodes of up to 100 (`stream-node-max-entries`'s default)
//!   and approximate trimming (`~`) removes whole nodes only: Kiwi numbers its entries into
//!   the same nodes, so `XADD ... MAXLEN ~ n` keeps what Redis keeps. The node size is fixed
//!   (not the config's): every replica must trim alike.
//! - `g | group` -> [`Group`]: last delivered ID, entries read, pending count.
//! - `p | len | group | id` -> [`Nack`]: a group's pending entry (consumer, delivery time and
//!   count).
//! - `c | len | group | consumer` -> [`Consumer`]: seen time, pending count.
//! - `q | len | group | len | consumer | id` -> nothing: the consumer's own pending list.
//!
//! Groups and consumers sort by name bytes, as Redis's radix trees list them. The key's meta
//! record counts the entries (XLEN). Everything here is written only by applied commands, with
//! times from the mutation's clock.

use bytes::Bytes;

use super::id::StreamId;
use crate::command::{CmdError, Ctx};
use crate::resp::Reply;
use crate::storage::keys::{be_u64, member_prefix, prefix_end};
use crate::storage::{Cf, KeyType, Meta, StorageError, Txn};

/// Entries per node, as Redis's default `stream-node-max-entries`.
pub const NODE_MAX_ENTRIES: u64 = 100;

const HEADER: u8 = b'h';
const ENTRY: u8 = b'e';
const NODE: u8 = b'n';
const GROUP: u8 = b'g';
const NACK: u8 = b'p';
const CONSUMER: u8 = b'c';
const CONSUMER_PEL: u8 = b'q';

fn corrupt(detail: &str) -> StorageError {
    StorageError::Corrupt {
        cf: "stream",
        detail: detail.to_string(),
    }
}

fn id_at(raw: &[u8], at: usize) -> Result<StreamId, StorageError> {
    raw.get(at..at + 16)
        .and_then(StreamId::decode)
        .ok_or_else(|| corrupt("short stream ID"))
}

fn u64_at(raw: &[u8], at: usize) -> Result<u64, StorageError> {
    raw.get(at..at + 8)
        .map(be_u64)
        .ok_or_else(|| corrupt("short stream record"))
}

/// What a stream knows beyond its entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub last_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    /// The number the next new node gets.
    pub next_node: u64,
    /// The node XADD appends to, while it has room and still exists.
    pub tail_node: Option<u64>,
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(57);
        out.extend_from_slice(&self.last_id.encode());
        out.extend_from_slice(&self.max_deleted.encode());
        out.extend_from_slice(&self.entries_added.to_be_bytes());
        out.extend_from_slice(&self.next_node.to_be_bytes());
        if let Some(n) = self.tail_node {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    fn decode(raw: &[u8]) -> Result<Header, StorageError> {
        Ok(Header {
            last_id: id_at(raw, 0)?,
            max_deleted: id_at(raw, 16)?,
            entries_added: u64_at(raw, 32)?,
            next_node: u64_at(raw, 40)?,
            tail_node: if raw.len() >= 56 {
                Some(u64_at(raw, 48)?)
            } else {
                None
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub first: StreamId,
    /// The last ID appended to the node (even if deleted since), as Redis reads it.
    pub last: StreamId,
    /// Entries still there.
    pub live: u64,
    /// Entries ever appended.
    pub total: u64,
}

impl Node {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(&self.first.encode());
        out.extend_from_slice(&self.last.encode());
        out.extend_from_slice(&self.live.to_be_bytes());
        out.extend_from_slice(&self.total.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Result<Node, StorageError> {
        Ok(Node {
            first: id_at(raw, 0)?,
            last: id_at(raw, 16)?,
            live: u64_at(raw, 32)?,
            total: u64_at(raw, 40)?,
        })
    }
}

/// Redis's `SCG_INVALID_ENTRIES_READ`: the group's read counter is unknown.
pub const UNKNOWN_READS: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    /// Entries in the group's pending list.
    pub pending: u64,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pending: 0,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.last_id.encode());
        out.extend_from_slice(&self.entries_read.to_be_bytes());
        out.extend_from_slice(&self.pending.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Result<Group, StorageError> {
        Ok(Group {
            last_id: id_at(raw, 0)?,
            entries_read: u64_at(raw, 16)? as i64,
            pending: u64_at(raw, 24)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub seen_time: u64,
    pub pending: u64,
}

impl Consumer {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&self.seen_time.to_be_bytes());
        out.extend_from_slice(&self.pending.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Result<Consumer, StorageError> {
        Ok(Consumer {
            seen_time: u64_at(raw, 0)?,
            pending: u64_at(raw, 8)?,
        })
    }
}

/// A pending entry of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Vec<u8>,
}

impl Nack {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.consumer.len());
        out.extend_from_slice(&self.delivery_time.to_be_bytes());
        out.extend_from_slice(&self.delivery_count.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        out
    }

    fn decode(raw: &[u8]) -> Result<Nack, StorageError> {
        Ok(Nack {
            delivery_time: u64_at(raw, 0)?,
            delivery_count: u64_at(raw, 8)?,
            consumer: raw[16..].to_vec(),
        })
    }
}

pub type Fields = Vec<(Bytes, Bytes)>;

fn encode_entry(node: u64, fields: &[Bytes]) -> Vec<u8> {
    let size: usize = fields.iter().map(|f| 4 + f.len()).sum();
    let mut out = Vec::with_capacity(12 + size);
    out.extend_from_slice(&node.to_be_bytes());
    out.extend_from_slice(&((fields.len() / 2) as u32).to_be_bytes());
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn entry_node(raw: &[u8]) -> Result<u64, StorageError> {
    u64_at(raw, 0)
}

fn decode_fields(raw: &[u8]) -> Result<Fields, StorageError> {
    let bad = || corrupt("stream entry");
    let pairs = raw
        .get(8..12)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(bad)? as usize;
    let mut at = 12;
    let mut take = || -> Result<Bytes, StorageError> {
        let len = raw
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(bad)? as usize;
        let value = raw.get(at + 4..at + 4 + len).ok_or_else(bad)?;
        at += 4 + len;
        Ok(Bytes::copy_from_slice(value))
    };
    let mut out = Vec::with_capacity(pairs.min(1024));
    for _ in 0..pairs {
        let f = take()?;
        let v = take()?;
        out.push((f, v));
    }
    Ok(out)
}

/// An entry as Redis replies it: `[id, [field, value, ...]]` (an array in RESP3 too).
pub fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(id.to_bytes()),
        Reply::Array(
            fields
                .iter()
                .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
                .collect(),
        ),
    ])
}

pub fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// `len(name) | name`, the start of a group's or consumer's records.
fn named(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name);
}

/// How to trim (XADD's and XTRIM's MAXLEN/MINID).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimArgs {
    pub how: Trim,
    /// `~`: whole nodes only.
    pub approx: bool,
    /// At most this many entries removed (0: no limit).
    pub limit: u64,
}

/// A stream found (or created) at a key, with its header loaded.
pub struct Stream {
    pub db: u8,
    pub key: Vec<u8>,
    pub meta: Meta,
    pub header: Header,
    prefix: Vec<u8>,
}

impl Stream {
    /// The stream at `key`: `None` if there is none, WRONGTYPE if another type is there.
    pub fn open(ctx: &Ctx<'_, '_>, key: &[u8]) -> Result<Option<Stream>, CmdError> {
        let Some(meta) = ctx.typed_meta(KeyType::Stream, key)? else {
            return Ok(None);
        };
        Ok(Some(Stream::load(ctx.txn, ctx.db, key, meta)?))
    }

    /// The stream whose meta record is `meta`.
    pub fn load(txn: &Txn<'_>, db: u8, key: &[u8], meta: Meta) -> Result<Stream, StorageError> {
        let prefix = member_prefix(db, key, meta.version);
        let mut header_key = prefix.clone();
        header_key.push(HEADER);
        let header = match txn.get(Cf::Stream, &header_key)? {
            Some(raw) => Header::decode(&raw)?,
            None => Header::default(),
        };
        Ok(Stream {
            db,
            key: key.to_vec(),
            meta,
            header,
            prefix,
        })
    }

    /// A new empty stream at `key` (callers checked that none is there).
    pub fn create(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Stream, CmdError> {
        let meta = ctx.txn.create_key(ctx.db, key, KeyType::Stream)?;
        Ok(Stream {
            db: ctx.db,
            key: key.to_vec(),
            prefix: member_prefix(ctx.db, key, meta.version),
            meta,
            header: Header::default(),
        })
    }

    /// Writes the header and the meta record (the length).
    pub fn save(&self, txn: &mut Txn<'_>) -> Result<(), StorageError> {
        txn.put(Cf::Stream, self.tagged(HEADER), self.header.encode());
        txn.save_meta(self.db, &self.key, &self.meta)
    }

    pub fn len(&self) -> u64 {
        self.meta.count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn tagged(&self, tag: u8) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 40);
        k.extend_from_slice(&self.prefix);
        k.push(tag);
        k
    }

    fn entry_key(&self, id: StreamId) -> Vec<u8> {
        let mut k = self.tagged(ENTRY);
        k.extend_from_slice(&id.encode());
        k
    }

    fn node_key(&self, node: u64) -> Vec<u8> {
        let mut k = self.tagged(NODE);
        k.extend_from_slice(&node.to_be_bytes());
        k
    }

    fn group_key(&self, group: &[u8]) -> Vec<u8> {
        let mut k = self.tagged(GROUP);
        k.extend_from_slice(group);
        k
    }

    fn nack_prefix(&self, group: &[u8]) -> Vec<u8> {
        let mut k = self.tagged(NACK);
        named(&mut k, group);
        k
    }

    fn consumer_prefix(&self, group: &[u8]) -> Vec<u8> {
        let mut k = self.tagged(CONSUMER);
        named(&mut k, group);
        k
    }

    fn cpel_prefix(&self, group: &[u8], consumer: &[u8]) -> Vec<u8> {
        let mut k = self.tagged(CONSUMER_PEL);
        named(&mut k, group);
        named(&mut k, consumer);
        k
    }

    fn group_cpel_prefix(&self, group: &[u8]) -> Vec<u8> {
        let mut k = self.tagged(CONSUMER_PEL);
        named(&mut k, group);
        k
    }

    /// The keys from `start` to `end` (both included) among those starting with `prefix` and
    /// followed by an ID.
    fn id_range(prefix: &[u8], start: StreamId, end: StreamId) -> (Vec<u8>, Vec<u8>) {
        let mut lo = prefix.to_vec();
        lo.extend_from_slice(&start.encode());
        let hi = match end.next() {
            Some(after) => {
                let mut hi = prefix.to_vec();
                hi.extend_from_slice(&after.encode());
                hi
            }
            None => prefix_end(prefix),
        };
        (lo, hi)
    }

    // ----- entries -----

    /// Entries from `start` to `end` (inclusive), in order or reversed, at most `count`
    /// (0: all).
    pub fn range(
        &self,
        txn: &Txn<'_>,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: u64,
    ) -> Result<Vec<(StreamId, Fields)>, StorageError> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let entries = self.tagged(ENTRY);
        let (lo, hi) = Self::id_range(&entries, start, end);
        for item in txn.scan(Cf::Stream, &lo, &hi, rev)? {
            let (k, v) = item?;
            out.push((id_at(&k, entries.len())?, decode_fields(&v)?));
            if count != 0 && out.len() as u64 >= count {
                break;
            }
        }
        Ok(out)
    }

    pub fn entry(&self, txn: &Txn<'_>, id: StreamId) -> Result<Option<Fields>, StorageError> {
        txn.get(Cf::Stream, &self.entry_key(id))?
            .map(|raw| decode_fields(&raw))
            .transpose()
    }

    pub fn has_entry(&self, txn: &Txn<'_>, id: StreamId) -> Result<bool, StorageError> {
        Ok(txn.get(Cf::Stream, &self.entry_key(id))?.is_some())
    }

    /// The ID of the first (or last) entry there is.
    pub fn edge_id(&self, txn: &Txn<'_>, last: bool) -> Result<Option<StreamId>, StorageError> {
        if self.is_empty() {
            return Ok(None);
        }
        let entries = self.tagged(ENTRY);
        let hi = prefix_end(&entries);
        match txn.scan(Cf::Stream, &entries, &hi, last)?.next() {
            Some(item) => Ok(Some(id_at(&item?.0, entries.len())?)),
            None => Ok(None),
        }
    }

    /// Redis's `first_id`: the first entry's ID, 0-0 when empty.
    pub fn first_id(&self, txn: &Txn<'_>) -> Result<StreamId, StorageError> {
        Ok(self.edge_id(txn, false)?.unwrap_or_default())
    }

    /// Appends an entry with `fields` (field, value, ...) at `id`, above the last ID.
    pub fn append(
        &mut self,
        txn: &mut Txn<'_>,
        id: StreamId,
        fields: &[Bytes],
    ) -> Result<(), StorageError> {
        let tail = match self.header.tail_node {
            Some(n) => txn
                .get(Cf::Stream, &self.node_key(n))?
                .map(|raw| Node::decode(&raw))
                .transpose()?
                .filter(|node| node.total < NODE_MAX_ENTRIES)
                .map(|node| (n, node)),
            None => None,
        };
        let (number, node) = match tail {
            Some((n, mut node)) => {
                node.last = id;
                node.live += 1;
                node.total += 1;
                (n, node)
            }
            None => {
                let n = self.header.next_node;
                self.header.next_node += 1;
                self.header.tail_node = Some(n);
                (
                    n,
                    Node {
                        first: id,
                        last: id,
                        live: 1,
                        total: 1,
                    },
                )
            }
        };
        txn.put(Cf::Stream, self.node_key(number), node.encode());
        txn.put(Cf::Stream, self.entry_key(id), encode_entry(number, fields));
        self.meta.count += 1;
        self.header.entries_added += 1;
        self.header.last_id = id;
        Ok(())
    }

    /// Deletes the entry at `id` if there is one (XDEL), its node with it once empty.
    pub fn delete(&mut self, txn: &mut Txn<'_>, id: StreamId) -> Result<bool, StorageError> {
        let key = self.entry_key(id);
        let Some(raw) = txn.get(Cf::Stream, &key)? else {
            return Ok(false);
        };
        txn.delete(Cf::Stream, key);
        let number = entry_node(&raw)?;
        let node_key = self.node_key(number);
        if let Some(raw) = txn.get(Cf::Stream, &node_key)? {
            let mut node = Node::decode(&raw)?;
            node.live = node.live.saturating_sub(1);
            if node.live == 0 {
                txn.delete(Cf::Stream, node_key);
            } else {
                txn.put(Cf::Stream, node_key, node.encode());
            }
        }
        self.meta.count = self.meta.count.saturating_sub(1);
        Ok(true)
    }

    /// The first node from `from` on.
    fn node_from(&self, txn: &Txn<'_>, from: u64) -> Result<Option<(u64, Node)>, StorageError> {
        let nodes = self.tagged(NODE);
        let lo = self.node_key(from);
        let hi = prefix_end(&nodes);
        match txn.scan(Cf::Stream, &lo, &hi, false)?.next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some((u64_at(&k, nodes.len())?, Node::decode(&v)?)))
            }
            None => Ok(None),
        }
    }

    /// Trims as Redis's `streamTrim` does: whole nodes from the oldest while the whole node
    /// may go; then, unless approximate, entries of the next node one by one. Returns how
    /// many entries went.
    pub fn trim(&mut self, txn: &mut Txn<'_>, args: TrimArgs) -> Result<u64, StorageError> {
        let mut deleted = 0u64;
        let mut from = 0u64;
        while let Some((number, mut node)) = self.node_from(txn, from)? {
            from = number + 1;
            if let Trim::MaxLen(max) = args.how {
                if self.len() <= max {
                    break;
                }
            }
            let entries = node.live;
            if args.limit != 0 && deleted + entries > args.limit {
                break;
            }
            let whole = match args.how {
                Trim::MaxLen(max) => self.len() - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if whole {
                let entries_prefix = self.tagged(ENTRY);
                let (lo, hi) = Self::id_range(&entries_prefix, node.first, node.last);
                txn.delete_range(Cf::Stream, lo, hi);
                txn.delete(Cf::Stream, self.node_key(number));
                self.meta.count -= entries;
                deleted += entries;
                continue;
            }
            if args.approx {
                break;
            }
            let doomed: Vec<StreamId> = {
                let entries_prefix = self.tagged(ENTRY);
                let (lo, hi) = Self::id_range(&entries_prefix, node.first, node.last);
                let mut doomed = Vec::new();
                let mut len = self.len();
                for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
                    let id = id_at(&item?.0, entries_prefix.len())?;
                    let stop = match args.how {
                        Trim::MaxLen(max) => len <= max,
                        Trim::MinId(min) => id >= min,
                    };
                    if stop {
                        break;
                    }
                    doomed.push(id);
                    len -= 1;
                }
                doomed
            };
            for id in &doomed {
                txn.delete(Cf::Stream, self.entry_key(*id));
            }
            let gone = doomed.len() as u64;
            node.live -= gone;
            self.meta.count -= gone;
            deleted += gone;
            if node.live == 0 {
                txn.delete(Cf::Stream, self.node_key(number));
            } else {
                txn.put(Cf::Stream, self.node_key(number), node.encode());
            }
            break;
        }
        Ok(deleted)
    }

    /// Number of nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self, txn: &Txn<'_>) -> Result<u64, StorageError> {
        let nodes = self.tagged(NODE);
        let hi = prefix_end(&nodes);
        let mut n = 0;
        for item in txn.scan(Cf::Stream, &nodes, &hi, false)? {
            item?;
            n += 1;
        }
        Ok(n)
    }

    // ----- lag bookkeeping (Redis 7's entries-read and lag) -----

    /// Redis's `streamRangeHasTombstones` from `start` to the end.
    pub fn has_tombstones_from(
        &self,
        txn: &Txn<'_>,
        start: StreamId,
    ) -> Result<bool, StorageError> {
        let max_deleted = self.header.max_deleted;
        if self.is_empty() || max_deleted.is_zero() {
            return Ok(false);
        }
        if self.first_id(txn)? > max_deleted {
            return Ok(false);
        }
        Ok(start <= max_deleted)
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the read counter of `id`, when it
    /// can be known.
    pub fn estimate_reads(&self, txn: &Txn<'_>, id: StreamId) -> Result<Option<i64>, StorageError> {
        let h = &self.header;
        if h.entries_added == 0 {
            return Ok(Some(0));
        }
        if self.is_empty() && id <= h.last_id {
            return Ok(Some(h.entries_added as i64));
        }
        if id == h.last_id {
            return Ok(Some(h.entries_added as i64));
        }
        if id > h.last_id {
            return Ok(None);
        }
        let first = self.first_id(txn)?;
        if h.max_deleted.is_zero() || h.max_deleted < first {
            if id < first {
                return Ok(Some((h.entries_added - self.len()) as i64));
            }
            if id == first {
                return Ok(Some((h.entries_added - self.len() + 1) as i64));
            }
        }
        Ok(None)
    }

    /// A group's lag (`None`: not known), as XINFO reports it.
    pub fn lag(&self, txn: &Txn<'_>, group: &Group) -> Result<Option<i64>, StorageError> {
        let added = self.header.entries_added as i64;
        if added == 0 {
            return Ok(Some(0));
        }
        if group.entries_read != UNKNOWN_READS && !self.has_tombstones_from(txn, group.last_id)? {
            return Ok(Some(added - group.entries_read));
        }
        Ok(self
            .estimate_reads(txn, group.last_id)?
            .map(|reads| added - reads))
    }

    // ----- groups -----

    pub fn group(&self, txn: &Txn<'_>, name: &[u8]) -> Result<Option<Group>, StorageError> {
        txn.get(Cf::Stream, &self.group_key(name))?
            .map(|raw| Group::decode(&raw))
            .transpose()
    }

    pub fn put_group(&self, txn: &mut Txn<'_>, name: &[u8], group: &Group) {
        txn.put(Cf::Stream, self.group_key(name), group.encode());
    }

    /// Every group, by name.
    pub fn groups(&self, txn: &Txn<'_>) -> Result<Vec<(Vec<u8>, Group)>, StorageError> {
        let lo = self.tagged(GROUP);
        let hi = prefix_end(&lo);
        let mut out = Vec::new();
        for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
            let (k, v) = item?;
            out.push((k[lo.len()..].to_vec(), Group::decode(&v)?));
        }
        Ok(out)
    }

    pub fn group_count(&self, txn: &Txn<'_>) -> Result<u64, StorageError> {
        let lo = self.tagged(GROUP);
        let hi = prefix_end(&lo);
        let mut n = 0;
        for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Deletes a group with its pending list and consumers.
    pub fn destroy_group(&self, txn: &mut Txn<'_>, name: &[u8]) {
        txn.delete(Cf::Stream, self.group_key(name));
        for prefix in [
            self.nack_prefix(name),
            self.consumer_prefix(name),
            self.group_cpel_prefix(name),
        ] {
            let end = prefix_end(&prefix);
            txn.delete_range(Cf::Stream, prefix, end);
        }
    }

    // ----- consumers -----

    pub fn consumer(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
        name: &[u8],
    ) -> Result<Option<Consumer>, StorageError> {
        let mut k = self.consumer_prefix(group);
        k.extend_from_slice(name);
        txn.get(Cf::Stream, &k)?
            .map(|raw| Consumer::decode(&raw))
            .transpose()
    }

    pub fn put_consumer(&self, txn: &mut Txn<'_>, group: &[u8], name: &[u8], c: &Consumer) {
        let mut k = self.consumer_prefix(group);
        k.extend_from_slice(name);
        txn.put(Cf::Stream, k, c.encode());
    }

    /// The group's consumers, by name.
    pub fn consumers(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
    ) -> Result<Vec<(Vec<u8>, Consumer)>, StorageError> {
        let lo = self.consumer_prefix(group);
        let hi = prefix_end(&lo);
        let mut out = Vec::new();
        for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
            let (k, v) = item?;
            out.push((k[lo.len()..].to_vec(), Consumer::decode(&v)?));
        }
        Ok(out)
    }

    /// Deletes a consumer and its pending entries (from the group's list too); returns how
    /// many it had.
    pub fn delete_consumer(
        &self,
        txn: &mut Txn<'_>,
        group_name: &[u8],
        group: &mut Group,
        name: &[u8],
    ) -> Result<u64, StorageError> {
        let Some(consumer) = self.consumer(txn, group_name, name)? else {
            return Ok(0);
        };
        let ids = self.consumer_pending(txn, group_name, name, StreamId::MIN, StreamId::MAX, 0)?;
        for id in &ids {
            txn.delete(Cf::Stream, self.nack_key(group_name, *id));
        }
        group.pending = group.pending.saturating_sub(ids.len() as u64);
        let prefix = self.cpel_prefix(group_name, name);
        let end = prefix_end(&prefix);
        txn.delete_range(Cf::Stream, prefix, end);
        let mut k = self.consumer_prefix(group_name);
        k.extend_from_slice(name);
        txn.delete(Cf::Stream, k);
        Ok(consumer.pending)
    }

    // ----- pending entries -----

    fn nack_key(&self, group: &[u8], id: StreamId) -> Vec<u8> {
        let mut k = self.nack_prefix(group);
        k.extend_from_slice(&id.encode());
        k
    }

    fn cpel_key(&self, group: &[u8], consumer: &[u8], id: StreamId) -> Vec<u8> {
        let mut k = self.cpel_prefix(group, consumer);
        k.extend_from_slice(&id.encode());
        k
    }

    pub fn nack(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
        id: StreamId,
    ) -> Result<Option<Nack>, StorageError> {
        txn.get(Cf::Stream, &self.nack_key(group, id))?
            .map(|raw| Nack::decode(&raw))
            .transpose()
    }

    /// The group's pending entries from `start` to `end`, at most `count` (0: all).
    pub fn pending(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
        start: StreamId,
        end: StreamId,
        count: u64,
    ) -> Result<Vec<(StreamId, Nack)>, StorageError> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let prefix = self.nack_prefix(group);
        let (lo, hi) = Self::id_range(&prefix, start, end);
        for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
            let (k, v) = item?;
            out.push((id_at(&k, prefix.len())?, Nack::decode(&v)?));
            if count != 0 && out.len() as u64 >= count {
                break;
            }
        }
        Ok(out)
    }

    /// The first (or last) pending ID of the group.
    pub fn pending_edge(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
        last: bool,
    ) -> Result<Option<StreamId>, StorageError> {
        let prefix = self.nack_prefix(group);
        let hi = prefix_end(&prefix);
        match txn.scan(Cf::Stream, &prefix, &hi, last)?.next() {
            Some(item) => Ok(Some(id_at(&item?.0, prefix.len())?)),
            None => Ok(None),
        }
    }

    /// A consumer's pending IDs from `start` to `end`, at most `count` (0: all).
    pub fn consumer_pending(
        &self,
        txn: &Txn<'_>,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        count: u64,
    ) -> Result<Vec<StreamId>, StorageError> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let prefix = self.cpel_prefix(group, consumer);
        let (lo, hi) = Self::id_range(&prefix, start, end);
        for item in txn.scan(Cf::Stream, &lo, &hi, false)? {
            out.push(id_at(&item?.0, prefix.len())?);
            if count != 0 && out.len() as u64 >= count {
                break;
            }
        }
        Ok(out)
    }

    /// Writes a pending entry as `nack` says, owned by `nack.consumer`. `previous` is the
    /// consumer that owned it before (if it was pending): the counts of both move with it.
    pub fn put_nack(
        &self,
        txn: &mut Txn<'_>,
        group_name: &[u8],
        group: &mut Group,
        id: StreamId,
        nack: &Nack,
        previous: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        match previous {
            None => group.pending += 1,
            Some(old) if old != nack.consumer.as_slice() => {
                txn.delete(Cf::Stream, self.cpel_key(group_name, old, id));
                if let Some(mut c) = self.consumer(txn, group_name, old)? {
                    c.pending = c.pending.saturating_sub(1);
                    self.put_consumer(txn, group_name, old, &c);
                }
            }
            Some(_) => {}
        }
        if previous != Some(nack.consumer.as_slice()) {
            txn.put(
                Cf::Stream,
                self.cpel_key(group_name, &nack.consumer, id),
                Vec::new(),
            );
            if let Some(mut c) = self.consumer(txn, group_name, &nack.consumer)? {
                c.pending += 1;
                self.put_consumer(txn, group_name, &nack.consumer, &c);
            }
        }
        txn.put(Cf::Stream, self.nack_key(group_name, id), nack.encode());
        Ok(())
    }

    /// Removes a pending entry from the group's and its consumer's lists.
    pub fn remove_nack(
        &self,
        txn: &mut Txn<'_>,
        group_name: &[u8],
        group: &mut Group,
        id: StreamId,
        nack: &Nack,
    ) -> Result<(), StorageError> {
        txn.delete(Cf::Stream, self.nack_key(group_name, id));
        txn.delete(Cf::Stream, self.cpel_key(group_name, &nack.consumer, id));
        group.pending = group.pending.saturating_sub(1);
        if let Some(mut c) = self.consumer(txn, group_name, &nack.consumer)? {
            c.pending = c.pending.saturating_sub(1);
            self.put_consumer(txn, group_name, &nack.consumer, &c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let h = Header {
            last_id: StreamId::new(5, 6),
            max_deleted: StreamId::new(1, 2),
            entries_added: 9,
            next_node: 3,
            tail_node: Some(2),
        };
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let h = Header {
            tail_node: None,
            ..h
        };
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let g = Group {
            last_id: StreamId::new(1, 1),
            entries_read: UNKNOWN_READS,
            pending: 4,
        };
        assert_eq!(Group::decode(&g.encode()).unwrap(), g);
        let n = Nack {
            delivery_time: 17,
            delivery_count: 2,
            consumer: b"alice".to_vec(),
        };
        assert_eq!(Nack::decode(&n.encode()).unwrap(), n);
        let fields = [
            Bytes::from("f"),
            Bytes::from(""),
            Bytes::from("g"),
            Bytes::from("v"),
        ];
        let raw = encode_entry(7, &fields);
        assert_eq!(entry_node(&raw).unwrap(), 7);
        assert_eq!(
            decode_fields(&raw).unwrap(),
            vec![
                (Bytes::from("f"), Bytes::from("")),
                (Bytes::from("g"), Bytes::from("v"))
            ]
        );
        assert!(decode_fields(&raw[..raw.len() - 1]).is_err());
    }
}
