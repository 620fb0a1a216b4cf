//! Redis's DUMP format, so that payloads move between redis-server and Kiwi both ways: one value
//! in RDB encoding (a type byte, then the value), the RDB version (2 bytes, little-endian) and a
//! CRC-64 of everything before it (8 bytes, little-endian).
//!
//! Kiwi writes the plain encodings every Redis since 2.x reads (a string, a list, set or hash as a
//! count then its strings, a sorted set with binary scores), with small integers int-encoded as
//! Redis writes them. It reads what Redis 2.6 to 7.4 write: those and the packed encodings
//! (ziplists, intsets, listpacks, quicklists of either), with LZF-compressed strings anywhere a
//! string goes. Streams and module values, which Kiwi does not store, are refused as Redis refuses
//! a payload it cannot load.

use super::value::Value;
use crate::command::args::parse_i64;
use crate::command::long_double::strtod;

/// The RDB version Kiwi writes: the oldest whose format has every encoding it writes (RDB 9, of
/// Redis 5 and 6), so that Redis 5.0 and every later version restore Kiwi's payloads (Redis
/// refuses a payload of a newer version than its own: 7.0 writes 10, 7.2 writes 11).
pub const WRITTEN_VERSION: u16 = 9;
/// The newest version Kiwi reads: Redis 7.4's. Its new types (hashes with field deadlines) are
/// refused like any unknown type; every other value it writes is encoded as 7.2 encodes it.
pub const MAX_READ_VERSION: u16 = 12;

/// The RDB type bytes (`RDB_TYPE_*` in Redis's rdb.h).
mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const SET_LISTPACK: u8 = 20;
}

/// Special string encodings, after a length byte `11xxxxxx` (`RDB_ENC_*`).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Why a payload was refused; each is one of Redis's RESTORE errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// "DUMP payload version or checksum are wrong".
    VersionOrChecksum,
    /// "Bad data format": the payload does not decode to a value Kiwi stores.
    BadFormat,
}

type Result<T> = std::result::Result<T, PayloadError>;

/// The DUMP payload of `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => {
            out.push(ty::STRING);
            put_string(&mut out, s);
        }
        Value::List(items) => {
            out.push(ty::LIST);
            put_strings(&mut out, items);
        }
        Value::Set(members) => {
            out.push(ty::SET);
            put_strings(&mut out, members);
        }
        Value::Hash(pairs) => {
            out.push(ty::HASH);
            put_len(&mut out, pairs.len() as u64);
            for (field, value) in pairs {
                put_string(&mut out, field);
                put_string(&mut out, value);
            }
        }
        Value::ZSet(entries) => {
            out.push(ty::ZSET_2);
            put_len(&mut out, entries.len() as u64);
            for (member, score) in entries {
                put_string(&mut out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&WRITTEN_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value a DUMP payload holds, checked as Redis checks it: version and checksum first.
pub fn decode(payload: &[u8]) -> Result<Value> {
    let body = verify(payload)?;
    let mut r = Reader { buf: body, pos: 0 };
    let value = match r.byte()? {
        ty::STRING => Value::String(r.string()?),
        ty::LIST => {
            let n = r.count(1)?;
            Value::List((0..n).map(|_| r.string()).collect::<Result<_>>()?)
        }
        ty::SET => {
            let n = r.count(1)?;
            set((0..n).map(|_| r.string()).collect::<Result<_>>()?)?
        }
        ty::HASH => {
            let n = r.count(2)?;
            let pairs = (0..n)
                .map(|_| Ok((r.string()?, r.string()?)))
                .collect::<Result<_>>()?;
            hash(pairs)?
        }
        t @ (ty::ZSET | ty::ZSET_2) => {
            let n = r.count(2)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.string()?;
                let score = if t == ty::ZSET_2 {
                    f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| bad())?)
                } else {
                    r.text_double()?
                };
                entries.push((member, score));
            }
            zset(entries)?
        }
        ty::LIST_ZIPLIST => Value::List(strings(ziplist(&r.string()?)?)),
        ty::SET_INTSET => set(intset(&r.string()?)?
            .into_iter()
            .map(|n| n.to_string().into_bytes())
            .collect())?,
        ty::SET_LISTPACK => set(strings(listpack(&r.string()?)?))?,
        ty::HASH_ZIPLIST => hash(pairs(ziplist(&r.string()?)?)?)?,
        ty::HASH_LISTPACK => hash(pairs(listpack(&r.string()?)?)?)?,
        ty::ZSET_ZIPLIST => zset(scored(ziplist(&r.string()?)?)?)?,
        ty::ZSET_LISTPACK => zset(scored(listpack(&r.string()?)?)?)?,
        t @ (ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2) => {
            let nodes = r.count(1)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let container = if t == ty::LIST_QUICKLIST_2 {
                    r.len()?
                } else {
                    CONTAINER_PACKED
                };
                let node = r.string()?;
                if node.is_empty() {
                    return Err(bad());
                }
                match container {
                    CONTAINER_PLAIN => items.push(node),
                    CONTAINER_PACKED if t == ty::LIST_QUICKLIST => {
                        items.extend(strings(ziplist(&node)?))
                    }
                    CONTAINER_PACKED => items.extend(strings(listpack(&node)?)),
                    _ => return Err(bad()),
                }
            }
            Value::List(items)
        }
        // Zipmaps (Redis 2.4), streams, modules, hashes with field deadlines: nothing Kiwi stores.
        _ => return Err(bad()),
    };
    // Redis never keeps an empty collection, and refuses a payload that holds one.
    if value.is_empty_collection() {
        return Err(bad());
    }
    Ok(value)
}

/// The payload without its footer, if the version is one Kiwi reads and the checksum matches.
fn verify(payload: &[u8]) -> Result<&[u8]> {
    if payload.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (data, crc) = payload.split_at(payload.len() - 8);
    let (body, version) = data.split_at(data.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > MAX_READ_VERSION
        || crc64(data).to_le_bytes() != crc
    {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(body)
}

fn bad() -> PayloadError {
    PayloadError::BadFormat
}

fn set(members: Vec<Vec<u8>>) -> Result<Value> {
    unique(members.iter().map(Vec::as_slice))?;
    Ok(Value::Set(members))
}

fn hash(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Value> {
    unique(pairs.iter().map(|(f, _)| f.as_slice()))?;
    Ok(Value::Hash(pairs))
}

fn zset(entries: Vec<(Vec<u8>, f64)>) -> Result<Value> {
    unique(entries.iter().map(|(m, _)| m.as_slice()))?;
    if entries.iter().any(|(_, s)| s.is_nan()) {
        return Err(bad());
    }
    Ok(Value::ZSet(entries))
}

/// Refuses repeated members, as Redis refuses them ("Duplicate set members detected"): a
/// collection's count must be its number of distinct members.
fn unique<'a>(items: impl Iterator<Item = &'a [u8]>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(bad());
        }
    }
    Ok(())
}

/// An element of a ziplist or listpack: a string, or an integer stored as one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Packed<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Packed<'_> {
    fn bytes(self) -> Vec<u8> {
        match self {
            Packed::Str(s) => s.to_vec(),
            Packed::Int(n) => n.to_string().into_bytes(),
        }
    }

    /// A sorted-set score, as Redis reads one from a packed encoding.
    fn score(self) -> Result<f64> {
        match self {
            Packed::Int(n) => Ok(n as f64),
            Packed::Str(s) => strtod(s).map(|n| n.value).ok_or_else(bad),
        }
    }
}

fn strings(items: Vec<Packed<'_>>) -> Vec<Vec<u8>> {
    items.into_iter().map(Packed::bytes).collect()
}

fn pairs(items: Vec<Packed<'_>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(bad());
    }
    Ok(items
        .chunks(2)
        .map(|p| (p[0].bytes(), p[1].bytes()))
        .collect())
}

fn scored(items: Vec<Packed<'_>>) -> Result<Vec<(Vec<u8>, f64)>> {
    if !items.len().is_multiple_of(2) {
        return Err(bad());
    }
    items
        .chunks(2)
        .map(|p| Ok((p[0].bytes(), p[1].score()?)))
        .collect()
}

/// `n` bytes of `buf` from `at`, or an error past its end.
fn slice(buf: &[u8], at: usize, n: usize) -> Result<&[u8]> {
    buf.get(at..at.checked_add(n).ok_or_else(bad)?)
        .ok_or_else(bad)
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A little-endian two's-complement integer of `b.len()` bytes (1 to 8).
fn le_signed(b: &[u8]) -> i64 {
    let mut raw = [0u8; 8];
    raw[..b.len()].copy_from_slice(b);
    let bits = 64 - 8 * b.len() as u32;
    (i64::from_le_bytes(raw) << bits) >> bits
}

/// The entries of a listpack (Redis 7's packed encoding): a 6-byte header (total bytes, entry
/// count), entries that each end with their own length backwards, and a 0xFF terminator.
fn listpack(lp: &[u8]) -> Result<Vec<Packed<'_>>> {
    if lp.len() < 7 || le_u32(lp) as usize != lp.len() || lp[lp.len() - 1] != 0xff {
        return Err(bad());
    }
    let declared = le_u16(&lp[4..]);
    let mut out = Vec::new();
    let mut p = 6;
    loop {
        let b = *lp.get(p).ok_or_else(bad)?;
        if b == 0xff {
            break;
        }
        // (header bytes, the element, bytes of the element after the header)
        let (header, item, body) = match b {
            0x00..=0x7f => (1, Packed::Int(i64::from(b)), 0),
            0x80..=0xbf => {
                let n = usize::from(b & 0x3f);
                (1, Packed::Str(slice(lp, p + 1, n)?), n)
            }
            0xc0..=0xdf => {
                let raw = slice(lp, p, 2)?;
                let n = (i64::from(b & 0x1f) << 8) | i64::from(raw[1]);
                (
                    2,
                    Packed::Int(if n >= 1 << 12 { n - (1 << 13) } else { n }),
                    0,
                )
            }
            0xe0..=0xef => {
                let n = (usize::from(b & 0x0f) << 8) | usize::from(slice(lp, p + 1, 1)?[0]);
                (2, Packed::Str(slice(lp, p + 2, n)?), n)
            }
            0xf0 => {
                let n = le_u32(slice(lp, p + 1, 4)?) as usize;
                (5, Packed::Str(slice(lp, p + 5, n)?), n)
            }
            0xf1..=0xf4 => {
                let n = [2, 3, 4, 8][usize::from(b - 0xf1)];
                (1, Packed::Int(le_signed(slice(lp, p + 1, n)?)), n)
            }
            _ => return Err(bad()),
        };
        let entry = header + body;
        p += entry + listpack_backlen_size(entry as u64) as usize;
        out.push(item);
    }
    if p != lp.len() - 1 || (declared != u16::MAX && usize::from(declared) != out.len()) {
        return Err(bad());
    }
    Ok(out)
}

/// The entries of a ziplist (the packed encoding before Redis 7): a 10-byte header (total bytes,
/// offset of the last entry, entry count), entries that each start with the previous entry's
/// length, and a 0xFF terminator.
fn ziplist(zl: &[u8]) -> Result<Vec<Packed<'_>>> {
    if zl.len() < 11 || le_u32(zl) as usize != zl.len() || zl[zl.len() - 1] != 0xff {
        return Err(bad());
    }
    let declared = le_u16(&zl[8..]);
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let b = *zl.get(p).ok_or_else(bad)?;
        if b == 0xff {
            break;
        }
        p += match b {
            254 => 5,
            _ => 1,
        };
        let e = *zl.get(p).ok_or_else(bad)?;
        let (header, item, body) = match e >> 6 {
            0 => {
                let n = usize::from(e & 0x3f);
                (1, Packed::Str(slice(zl, p + 1, n)?), n)
            }
            1 => {
                let n = (usize::from(e & 0x3f) << 8) | usize::from(slice(zl, p + 1, 1)?[0]);
                (2, Packed::Str(slice(zl, p + 2, n)?), n)
            }
            2 => {
                let raw = slice(zl, p + 1, 4)?;
                let n = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
                (5, Packed::Str(slice(zl, p + 5, n)?), n)
            }
            _ => match e {
                0xf1..=0xfd => (1, Packed::Int(i64::from(e & 0x0f) - 1), 0),
                _ => {
                    let n = match e {
                        0xfe => 1,
                        0xc0 => 2,
                        0xf0 => 3,
                        0xd0 => 4,
                        0xe0 => 8,
                        _ => return Err(bad()),
                    };
                    (1, Packed::Int(le_signed(slice(zl, p + 1, n)?)), n)
                }
            },
        };
        p += header + body;
        out.push(item);
    }
    if p != zl.len() - 1 || (declared != u16::MAX && usize::from(declared) != out.len()) {
        return Err(bad());
    }
    Ok(out)
}

/// The members of an intset: element width (2, 4 or 8 bytes), count, then the integers.
fn intset(is: &[u8]) -> Result<Vec<i64>> {
    if is.len() < 8 {
        return Err(bad());
    }
    let width = le_u32(is) as usize;
    let count = le_u32(&is[4..]) as usize;
    if !matches!(width, 2 | 4 | 8) || Some(is.len() - 8) != count.checked_mul(width) {
        return Err(bad());
    }
    Ok(is[8..].chunks(width).map(le_signed).collect())
}

/// Reads RDB lengths and strings from a payload's body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// An RDB length, or the marker of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let out = slice(self.buf, self.pos, n)?;
        self.pos += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// `00xxxxxx`: 6 bits; `01xxxxxx xxxxxxxx`: 14 bits; 0x80 then 32 bits, or 0x81 then 64
    /// bits, big-endian; `11xxxxxx`: a special string encoding.
    fn len_or_encoding(&mut self) -> Result<Len> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3f)),
            1 => Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?)),
            3 => Len::Encoded(b & 0x3f),
            _ => match b {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().map_err(|_| bad())?,
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(
                    self.take(8)?.try_into().map_err(|_| bad())?,
                )),
                _ => return Err(bad()),
            },
        })
    }

    fn len(&mut self) -> Result<u64> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(bad()),
        }
    }

    /// A collection's length, each of whose elements takes at least `min_bytes`: a length the
    /// rest of the payload cannot hold is refused before anything is allocated for it.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = usize::try_from(self.len()?).map_err(|_| bad())?;
        if n.saturating_mul(min_bytes) > self.buf.len() - self.pos {
            return Err(bad());
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(self.take(usize::try_from(n).map_err(|_| bad())?)?.to_vec()),
            Len::Encoded(ENC_INT8) => Ok(le_signed(self.take(1)?).to_string().into_bytes()),
            Len::Encoded(ENC_INT16) => Ok(le_signed(self.take(2)?).to_string().into_bytes()),
            Len::Encoded(ENC_INT32) => Ok(le_signed(self.take(4)?).to_string().into_bytes()),
            Len::Encoded(ENC_LZF) => {
                let compressed = usize::try_from(self.len()?).map_err(|_| bad())?;
                let len = usize::try_from(self.len()?).map_err(|_| bad())?;
                lzf_decompress(self.take(compressed)?, len).ok_or_else(bad)
            }
            Len::Encoded(_) => Err(bad()),
        }
    }

    /// A score of the old sorted-set type: a length byte, with 253, 254 and 255 standing for
    /// NaN, +inf and -inf, then the number as text.
    fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(usize::from(n))?;
                strtod(text).map(|n| n.value).ok_or_else(bad)
            }
        }
    }
}

fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn put_strings(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    put_len(out, items.len() as u64);
    for item in items {
        put_string(out, item);
    }
}

/// A string as Redis writes one: a decimal integer of up to 11 characters that fits 32 bits
/// (written back the same, so no sign, zero or space is lost) as 1, 2 or 4 bytes; any other
/// string as its length and bytes. Redis also LZF-compresses long strings; an uncompressed one
/// is as valid, and saves the CPU.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Ok(n) = parse_i64(s) {
            if let Ok(n) = i8::try_from(n) {
                out.extend_from_slice(&[0xc0 | ENC_INT8, n as u8]);
                return;
            }
            if let Ok(n) = i16::try_from(n) {
                out.push(0xc0 | ENC_INT16);
                out.extend_from_slice(&n.to_le_bytes());
                return;
            }
            if let Ok(n) = i32::try_from(n) {
                out.push(0xc0 | ENC_INT32);
                out.extend_from_slice(&n.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// LZF decompression (liblzf's format, which Redis uses): a control byte below 32 copies that
/// many plus one literal bytes; any other is a back reference, its top 3 bits a length (7: one
/// more length byte follows) and the rest, with the next byte, an offset back into the output.
/// `None` unless the input decodes to exactly `len` bytes.
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    // Grown as it fills, so a forged length allocates nothing up front.
    let mut out: Vec<u8> = Vec::with_capacity(len.min(input.len().saturating_mul(4)));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            if out.len() + run.len() > len {
                return None;
            }
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            n += 2;
            let from = out.len().checked_sub(back)?;
            if out.len() + n > len {
                return None;
            }
            // Byte by byte: a reference may overlap the bytes it produces (a run).
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

/// CRC-64 as Redis computes it ("Jones": polynomial 0xad93d23594c935a9, reflected, initial value
/// 0, no final xor), one table lookup per byte.
pub fn crc64(data: &[u8]) -> u64 {
    data.iter().fold(0, |crc, &b| {
        CRC64_TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

static CRC64_TABLE: [u64; 256] = {
    // The polynomial with its bits reversed, for the reflected (least significant bit first) form.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Bytes a listpack entry's back-length takes (Redis's listpack.c `lpEncodeBacklen`): the
/// entry's length, 7 bits per byte.
pub(super) fn listpack_backlen_size(entry: u64) -> u64 {
    match entry {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests;
