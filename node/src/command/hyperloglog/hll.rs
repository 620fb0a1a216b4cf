//! Redis's HyperLogLog value, byte for byte: what PFADD leaves in a key is the string
//! redis-server would leave there for the same elements, so a value can move between the two
//! (GET, SET, DUMP/RESTORE) and PFCOUNT gives the same number.
//!
//! Layout (Redis's hyperloglog.c): a 16-byte header, `HYLL`, the encoding (0 dense, 1 sparse),
//! three unused bytes and the cached cardinality (little-endian; the top bit of its last byte
//! set means "stale"), then the registers: 2^14 registers of 6 bits each, either packed
//! (dense: 12288 bytes) or run-length coded (sparse: ZERO, XZERO and VAL opcodes). A sparse
//! value turns dense when a register outgrows a VAL opcode (32) or the value outgrows the
//! sparse size limit, and never back.
//!
//! Every function here is a pure function of its input: applied on every replica, it leaves
//! the same bytes everywhere.

use thiserror::Error;

/// log2 of the register count.
const P: u32 = 14;
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left after the register index; a register holds at most Q + 1.
const Q: u32 = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const HEADER_LEN: usize = 16;
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * BITS).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Where the cached cardinality's "stale" bit lives (the top bit of the last byte).
const CACHE_FLAG_BYTE: usize = 15;
const STALE: u8 = 1 << 7;

// Sparse opcodes: 00xxxxxx ZERO (1-64 zero registers), 01xxxxxx yyyyyyyy XZERO (1-16384),
// 1vvvvvxx VAL (1-4 registers of value 1-32).
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;

/// Redis's default `hll-sparse-max-bytes`: past this size (header included) a sparse value is
/// turned dense.
pub const SPARSE_MAX_BYTES: usize = 3000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HllError {
    /// The string is not a HyperLogLog at all (wrong magic, encoding or length).
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// It claims to be one but its registers do not add up (a corrupt sparse encoding).
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    Corrupt,
}

/// Redis's MurmurHash64A with its HyperLogLog seed, reading 8-byte blocks little-endian.
fn murmur64a(data: &[u8]) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    const SEED: u64 = 0xadc83b19;
    let mut h = SEED ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the count it proposes for it: one more than the
/// number of trailing zeros of the hash's remaining bits (at most Q + 1).
pub fn register_and_count(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HyperLogLog: sparse, one XZERO run over every register, cached count 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; HEADER_LEN - 5]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

/// Checks that `value` is a HyperLogLog as Redis's isHLLObjectOrReply does.
pub fn validate(value: &[u8]) -> Result<(), HllError> {
    if value.len() < HEADER_LEN || &value[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    match value[4] {
        DENSE if value.len() == DENSE_LEN => Ok(()),
        SPARSE => Ok(()),
        _ => Err(HllError::NotHll),
    }
}

pub fn is_sparse(value: &[u8]) -> bool {
    value[4] == SPARSE
}

/// The cached cardinality, if it is not stale.
pub fn cached_count(value: &[u8]) -> Option<u64> {
    let card: [u8; 8] = value[8..16].try_into().expect("header");
    (card[7] & STALE == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `count` as the cached count (fresh).
pub fn set_cached_count(value: &mut [u8], count: u64) {
    value[8..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
}

/// Marks the cached count stale (every change does).
pub fn invalidate_cache(value: &mut [u8]) {
    value[CACHE_FLAG_BYTE] |= STALE;
}

/// Adds `element`; `Ok(true)` when a register grew.
pub fn add(value: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, HllError> {
    let (index, count) = register_and_count(element);
    set_register(value, index, count, sparse_max_bytes)
}

/// Raises register `index` to `count` if it is lower; `Ok(true)` when it did. Invalidates the
/// cached count when anything changed.
pub fn set_register(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, HllError> {
    let changed = if is_sparse(value) {
        sparse_set(value, index, count, sparse_max_bytes)?
    } else {
        dense_set(&mut value[HEADER_LEN..], index, count)
    };
    if changed {
        invalidate_cache(value);
    }
    Ok(changed)
}

fn dense_get(registers: &[u8], index: usize) -> u8 {
    let bit = index * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let b0 = registers[byte] as u16;
    let b1 = registers.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> shift) | (b1 << (8 - shift))) as u8) & REGISTER_MAX
}

fn dense_put(registers: &mut [u8], index: usize, count: u8) {
    let bit = index * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let v = count as u16;
    registers[byte] &= !((REGISTER_MAX as u16) << shift) as u8;
    registers[byte] |= (v << shift) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !((REGISTER_MAX as u16) >> (8 - shift)) as u8;
        *next |= (v >> (8 - shift)) as u8;
    }
}

fn dense_set(registers: &mut [u8], index: usize, count: u8) -> bool {
    if dense_get(registers, index) < count {
        dense_put(registers, index, count);
        true
    } else {
        false
    }
}

/// A decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// `len` zero registers (ZERO or XZERO).
    Zero {
        len: usize,
        extended: bool,
    },
    Val {
        value: u8,
        len: usize,
    },
}

impl Op {
    fn at(bytes: &[u8], i: usize) -> Option<Op> {
        let b = *bytes.get(i)?;
        Some(if b & 0x80 != 0 {
            Op::Val {
                value: ((b >> 2) & 0x1f) + 1,
                len: (b & 0x3) as usize + 1,
            }
        } else if b & 0x40 == 0 {
            Op::Zero {
                len: (b & 0x3f) as usize + 1,
                extended: false,
            }
        } else {
            let low = *bytes.get(i + 1)?;
            Op::Zero {
                len: ((((b & 0x3f) as usize) << 8) | low as usize) + 1,
                extended: true,
            }
        })
    }

    fn width(self) -> usize {
        match self {
            Op::Zero { extended: true, .. } => 2,
            _ => 1,
        }
    }

    fn len(self) -> usize {
        match self {
            Op::Zero { len, .. } | Op::Val { len, .. } => len,
        }
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push(0x40 | (l >> 8) as u8);
    out.push((l & 0xff) as u8);
}

/// A run of `len` zero registers as Redis writes it when it splits one: ZERO up to 64, XZERO
/// above.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Redis's hllSparseSet, step for step, so that the opcodes it leaves are the ones Redis
/// leaves: find the opcode covering `index`, update it in place or split it, merge equal VAL
/// neighbours in a short window, or turn the value dense when the split would outgrow
/// `sparse_max_bytes` or `count` does not fit a VAL opcode.
fn sparse_set(
    value: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, HllError> {
    if count > VAL_MAX_VALUE {
        return promote_and_set(value, index, count);
    }
    // Step 1: the opcode covering `index`, where it starts, and the opcode before it.
    let mut at = HEADER_LEN;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let op = loop {
        let Some(op) = Op::at(value, at) else {
            return Err(HllError::Corrupt);
        };
        if index < first + op.len() {
            break op;
        }
        prev = Some(at);
        at += op.width();
        first += op.len();
    };
    let span = op.len();

    // Step 2: the cases that change the opcode in place.
    match op {
        Op::Val { value: old, .. } if old >= count => return Ok(false),
        Op::Val { len: 1, .. }
        | Op::Zero {
            len: 1,
            extended: false,
        } => {
            value[at] = val_byte(count, 1);
        }
        _ => {
            // The general case: split the opcode into up to three.
            let last = first + span - 1;
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Zero { .. } => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
                Op::Val { value: current, .. } => {
                    if index != first {
                        seq.push(val_byte(current, index - first));
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        seq.push(val_byte(current, last - index));
                    }
                }
            }
            let old_width = op.width();
            if seq.len() > old_width && value.len() + seq.len() - old_width > sparse_max_bytes {
                return promote_and_set(value, index, count);
            }
            value.splice(at..at + old_width, seq);
        }
    }

    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to five opcodes from the
    // one before the change.
    let mut p = prev.unwrap_or(HEADER_LEN);
    let mut scan = 5;
    while p < value.len() && scan > 0 {
        scan -= 1;
        let b = value[p];
        if b & 0x80 == 0 {
            p += if b & 0x40 != 0 { 2 } else { 1 };
            continue;
        }
        if let (Some(Op::Val { value: v1, len: l1 }), Some(Op::Val { value: v2, len: l2 })) =
            (Op::at(value, p), Op::at(value, p + 1))
        {
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                value[p + 1] = val_byte(v1, l1 + l2);
                value.remove(p);
                // Try the merged run against its right neighbour too (without moving on).
                continue;
            }
        }
        p += 1;
    }
    Ok(true)
}

fn promote_and_set(value: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(value)?;
    Ok(dense_set(&mut value[HEADER_LEN..], index, count))
}

/// Turns a sparse value dense in place (the header, cached count included, is kept); `Ok(true)`
/// when it was sparse.
pub fn to_dense(value: &mut Vec<u8>) -> Result<bool, HllError> {
    if !is_sparse(value) {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&value[..HEADER_LEN]);
    dense[4] = DENSE;
    let mut index = 0;
    for op in sparse_ops(value)? {
        if let Op::Val { value: v, len } = op {
            for i in index..index + len {
                dense_put(&mut dense[HEADER_LEN..], i, v);
            }
        }
        index += op.len();
    }
    *value = dense;
    Ok(true)
}

/// The opcodes of a sparse value, checked to cover exactly every register.
fn sparse_ops(value: &[u8]) -> Result<Vec<Op>, HllError> {
    let mut ops = Vec::new();
    let mut at = HEADER_LEN;
    let mut covered = 0;
    while at < value.len() {
        let op = Op::at(value, at).ok_or(HllError::Corrupt)?;
        covered += op.len();
        if covered > REGISTERS {
            return Err(HllError::Corrupt);
        }
        ops.push(op);
        at += op.width();
    }
    if covered != REGISTERS {
        return Err(HllError::Corrupt);
    }
    Ok(ops)
}

/// Raises every register of `max` (one byte per register) to at least the value's.
pub fn merge_into(max: &mut [u8; REGISTERS], value: &[u8]) -> Result<(), HllError> {
    if is_sparse(value) {
        let mut index = 0;
        for op in sparse_ops(value)? {
            if let Op::Val { value: v, len } = op {
                for m in &mut max[index..index + len] {
                    *m = (*m).max(v);
                }
            }
            index += op.len();
        }
    } else {
        let registers = &value[HEADER_LEN..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(registers, i));
        }
    }
    Ok(())
}

/// How many registers hold each value (0..=Q+1): what the estimator reads.
fn histogram_of_value(value: &[u8]) -> Result<[u32; 64], HllError> {
    let mut histogram = [0u32; 64];
    if is_sparse(value) {
        for op in sparse_ops(value)? {
            match op {
                Op::Zero { len, .. } => histogram[0] += len as u32,
                Op::Val { value, len } => histogram[value as usize] += len as u32,
            }
        }
    } else {
        let registers = &value[HEADER_LEN..];
        for i in 0..REGISTERS {
            histogram[dense_get(registers, i) as usize] += 1;
        }
    }
    Ok(histogram)
}

/// The estimated cardinality of a value (its cached count if that is fresh).
pub fn count(value: &[u8]) -> Result<u64, HllError> {
    if let Some(cached) = cached_count(value) {
        return Ok(cached);
    }
    Ok(estimate(&histogram_of_value(value)?))
}

/// The estimated cardinality of merged registers (one byte each).
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram = [0u32; 64];
    for r in registers {
        histogram[*r as usize] += 1;
    }
    estimate(&histogram)
}

/// Otmar Ertl's improved raw estimator, as Redis (5 and later) computes it: same operations in
/// the same order, so the same double and the same rounded count.
fn estimate(histogram: &[u32; 64]) -> u64 {
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histogram[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// Writes `registers` into `value` (PFMERGE's destination): dense directly, sparse through
/// the same updates PFADD makes, in register order, so the opcodes are Redis's.
pub fn store_registers(
    value: &mut Vec<u8>,
    registers: &[u8; REGISTERS],
    sparse_max_bytes: usize,
) -> Result<(), HllError> {
    for (i, r) in registers.iter().enumerate() {
        if *r == 0 {
            continue;
        }
        if is_sparse(value) {
            sparse_set(value, i, *r, sparse_max_bytes)?;
        } else {
            dense_set(&mut value[HEADER_LEN..], i, *r);
        }
    }
    invalidate_cache(value);
    Ok(())
}

/// Every register's value (PFDEBUG GETREG reads them off a dense value).
pub fn registers(value: &[u8]) -> Result<Vec<u8>, HllError> {
    let mut max = [0u8; REGISTERS];
    merge_into(&mut max, value)?;
    Ok(max.to_vec())
}

/// A sparse value's opcodes as PFDEBUG DECODE prints them (`z:3 Z:100 v:2,1 ...`).
pub fn decode_sparse(value: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while let Some(op) = Op::at(value, at) {
        out.push(match op {
            Op::Zero {
                len,
                extended: false,
            } => format!("z:{len}"),
            Op::Zero {
                len,
                extended: true,
            } => format!("Z:{len}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        });
        at += op.width();
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(elements: impl IntoIterator<Item = String>) -> Vec<u8> {
        let mut v = new_sparse();
        for e in elements {
            add(&mut v, e.as_bytes(), SPARSE_MAX_BYTES).unwrap();
        }
        v
    }

    #[test]
    fn a_new_value_is_redis_empty_sparse_hll() {
        let v = new_sparse();
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[5..16], &[0; 11]);
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(count(&v), Ok(0));
        validate(&v).unwrap();
    }

    #[test]
    fn murmur_matches_redis_hash() {
        // From the reference C MurmurHash64A with Redis's seed: the empty tail, a one-byte
        // tail, a tail of five, one whole block, and blocks plus a tail.
        assert_eq!(murmur64a(b""), 0xd8dfea6585bc9732);
        assert_eq!(murmur64a(b"a"), 0x53d2470a9b43b1a7);
        assert_eq!(murmur64a(b"hello"), 0x0f656f01eecfe400);
        assert_eq!(murmur64a(b"12345678"), 0x95ebb86389132953);
        assert_eq!(murmur64a(b"hello world, kiwi!"), 0x990521ab5cc0f49b);
    }

    #[test]
    fn sparse_and_dense_agree_on_every_register_and_count() {
        let sparse = with((0..500).map(|i| format!("e{i}")));
        assert!(is_sparse(&sparse));
        let mut dense = sparse.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_LEN);
        assert_eq!(registers(&sparse), registers(&dense));
        assert_eq!(count(&sparse), count(&dense));
    }

    #[test]
    fn estimates_are_within_a_few_percent() {
        for n in [10usize, 1000, 20_000] {
            let v = with((0..n).map(|i| format!("element:{i}")));
            let c = count(&v).unwrap() as f64;
            let err = (c - n as f64).abs() / n as f64;
            assert!(err < 0.05, "n={n} estimated {c}");
        }
    }

    #[test]
    fn a_sparse_value_turns_dense_past_the_size_limit() {
        let mut v = new_sparse();
        let mut turned_at = None;
        for i in 0..5000 {
            add(&mut v, format!("x{i}").as_bytes(), 200).unwrap();
            if !is_sparse(&v) {
                turned_at = Some(i);
                break;
            }
            assert!(v.len() <= 200);
        }
        assert!(turned_at.is_some());
        assert_eq!(v.len(), DENSE_LEN);
    }

    #[test]
    fn adding_twice_changes_nothing_the_second_time() {
        let mut v = new_sparse();
        assert_eq!(add(&mut v, b"foo", SPARSE_MAX_BYTES), Ok(true));
        let after = v.clone();
        assert_eq!(add(&mut v, b"foo", SPARSE_MAX_BYTES), Ok(false));
        assert_eq!(v, after);
    }

    #[test]
    fn corrupt_values_are_refused_not_panicked_on() {
        assert_eq!(validate(b"HYLL"), Err(HllError::NotHll));
        assert_eq!(
            validate(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        let mut dense_short = vec![0u8; DENSE_LEN - 1];
        dense_short[..4].copy_from_slice(b"HYLL");
        assert_eq!(validate(&dense_short), Err(HllError::NotHll));
        // A sparse value whose runs cover too few or too many registers.
        let mut short = new_sparse();
        short.truncate(HEADER_LEN);
        short.push(0x00);
        short[15] |= STALE;
        assert_eq!(count(&short), Err(HllError::Corrupt));
        let mut long = new_sparse();
        long.push(0x00);
        long[15] |= STALE;
        assert_eq!(count(&long), Err(HllError::Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &long), Err(HllError::Corrupt));
        // A truncated XZERO.
        let mut cut = new_sparse();
        cut.pop();
        cut[15] |= STALE;
        assert_eq!(count(&cut), Err(HllError::Corrupt));
        assert_eq!(
            add(&mut cut, b"a", SPARSE_MAX_BYTES),
            Err(HllError::Corrupt)
        );
    }
}
