//! On-disk encodings of keys and values. Integers are big-endian so byte order is numeric order.

use super::{Cf, Result, StorageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String = 0,
    Hash = 1,
    List = 2,
    Set = 3,
    ZSet = 4,
    /// Added after the others: stored type bytes never change meaning.
    Stream = 5,
}

impl KeyType {
    fn from_byte(b: u8) -> Option<KeyType> {
        Some(match b {
            0 => KeyType::String,
            1 => KeyType::Hash,
            2 => KeyType::List,
            3 => KeyType::Set,
            4 => KeyType::ZSet,
            5 => KeyType::Stream,
            _ => return None,
        })
    }

    /// The name TYPE and SCAN ... TYPE use.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }

    /// The family holding this type's members (strings keep their value in the meta record).
    pub fn member_cf(self) -> Option<Cf> {
        match self {
            KeyType::String => None,
            KeyType::Hash => Some(Cf::Hash),
            KeyType::List => Some(Cf::List),
            KeyType::Set => Some(Cf::Set),
            KeyType::ZSet => Some(Cf::ZSet),
            KeyType::Stream => Some(Cf::Stream),
        }
    }
}

/// The first list index: lists grow both ways from the middle of the u64 range.
pub const LIST_MIDDLE: u64 = 1 << 63;

/// Everything known about a user key, stored under `meta_key(db, key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub ty: KeyType,
    /// Distinguishes this incarnation's members from a deleted predecessor's.
    pub version: u64,
    /// Absolute deadline in Unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Number of members (collections only; a stream's entries).
    pub count: u64,
    /// Lists: index of the first element and one past the last.
    pub head: u64,
    pub tail: u64,
    /// Strings: the value itself.
    pub value: Vec<u8>,
}

impl Meta {
    pub fn new(ty: KeyType, version: u64) -> Meta {
        Meta {
            ty,
            version,
            expire_at: 0,
            count: 0,
            head: LIST_MIDDLE,
            tail: LIST_MIDDLE,
            value: Vec::new(),
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + self.value.len().max(24));
        out.push(self.ty as u8);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.expire_at.to_be_bytes());
        match self.ty {
            KeyType::String => out.extend_from_slice(&self.value),
            KeyType::List => {
                out.extend_from_slice(&self.head.to_be_bytes());
                out.extend_from_slice(&self.tail.to_be_bytes());
            }
            _ => out.extend_from_slice(&self.count.to_be_bytes()),
        }
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Meta> {
        let corrupt = || StorageError::Corrupt {
            cf: "meta",
            detail: format!("meta record of {} bytes", raw.len()),
        };
        if raw.len() < 17 {
            return Err(corrupt());
        }
        let ty = KeyType::from_byte(raw[0]).ok_or_else(corrupt)?;
        let mut meta = Meta::new(ty, be_u64(&raw[1..9]));
        meta.expire_at = be_u64(&raw[9..17]);
        let rest = &raw[17..];
        match ty {
            KeyType::String => meta.value = rest.to_vec(),
            KeyType::List => {
                if rest.len() != 16 {
                    return Err(corrupt());
                }
                meta.head = be_u64(&rest[..8]);
                meta.tail = be_u64(&rest[8..]);
                meta.count = meta.tail - meta.head;
            }
            _ => {
                if rest.len() != 8 {
                    return Err(corrupt());
                }
                meta.count = be_u64(rest);
            }
        }
        Ok(meta)
    }
}

pub fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// `db | key`: the meta family's key.
pub fn meta_key(db: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(db);
    out.extend_from_slice(key);
    out
}

/// `db | len(key) | key | version`: every member key of one incarnation starts with this.
pub fn member_prefix(db: u8, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + key.len() + 16);
    out.push(db);
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

pub fn member_key(prefix: &[u8], member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + member.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(member);
    out
}

/// The smallest key greater than every key starting with `prefix` (for range bounds).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff: no finite bound exists; callers never build such prefixes (they start with a db byte < 0xff).
    vec![0xff; prefix.len() + 1]
}

/// `expire_at | db | key`: the expiry index, scanned in deadline order.
pub fn expiry_key(expire_at: u64, db: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + key.len());
    out.extend_from_slice(&expire_at.to_be_bytes());
    out.push(db);
    out.extend_from_slice(key);
    out
}

pub fn decode_expiry_key(raw: &[u8]) -> Option<(u64, u8, &[u8])> {
    if raw.len() < 9 {
        return None;
    }
    Some((be_u64(&raw[..8]), raw[8], &raw[9..]))
}

/// Maps an f64 to 8 bytes whose byte order is the numeric order (negative numbers flipped).
pub fn score_to_bytes(score: f64) -> [u8; 8] {
    // -0.0 and 0.0 compare equal; store both as 0.0 so they sort as one value.
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    ordered.to_be_bytes()
}

pub fn score_from_bytes(b: &[u8]) -> f64 {
    let ordered = be_u64(b);
    let bits = if ordered >> 63 == 1 {
        ordered ^ (1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

/// A list element's key suffix.
pub fn list_index(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let mut m = Meta::new(KeyType::String, 7);
        m.expire_at = 123;
        m.value = b"hello".to_vec();
        assert_eq!(Meta::decode(&m.encode()).unwrap(), m);
        let mut l = Meta::new(KeyType::List, 9);
        l.head -= 2;
        l.count = 2;
        assert_eq!(Meta::decode(&l.encode()).unwrap(), l);
        assert!(Meta::decode(b"\x09short").is_err());
    }

    #[test]
    fn scores_sort_numerically() {
        let scores = [
            f64::NEG_INFINITY,
            -1e10,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            2.0,
            1e300,
            f64::INFINITY,
        ];
        for w in scores.windows(2) {
            assert!(
                score_to_bytes(w[0]) <= score_to_bytes(w[1]),
                "{} vs {}",
                w[0],
                w[1]
            );
            assert_eq!(score_from_bytes(&score_to_bytes(w[1])), w[1]);
        }
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"\x01ab"), b"\x01ac".to_vec());
        assert_eq!(prefix_end(b"\x01a\xff"), b"\x01b".to_vec());
    }
}
