//! Cursors for SCAN, HSCAN, SSCAN and ZSCAN.
//!
//! Redis cursors are integers (clients such as redis-py parse them), but RocksDB positions are
//! keys. A cursor therefore names a saved position: the next key to read. The table is bounded;
//! an unknown or evicted cursor starts over from the beginning, which SCAN's contract allows
//! (elements may be returned more than once, never missed while they exist throughout).

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};

use bytes::Bytes;

use super::args::parse_i64;
use super::glob::glob_match;
use super::{Args, CmdError, Ctx};
use crate::resp::Reply;
use crate::storage::{Cf, StorageError};

const MAX_CURSORS: usize = 100_000;

/// A raw (key, value) pair read from a column family.
pub type KeyValue = (Vec<u8>, Vec<u8>);

struct CursorTable {
    next_id: u64,
    positions: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
}

static CURSORS: LazyLock<Mutex<CursorTable>> = LazyLock::new(|| {
    Mutex::new(CursorTable {
        next_id: 1,
        positions: HashMap::new(),
        order: VecDeque::new(),
    })
});

fn save(position: Vec<u8>) -> u64 {
    let mut t = CURSORS.lock().unwrap_or_else(|e| e.into_inner());
    let id = t.next_id;
    // Stay below 2^53 so the cursor survives clients that hold numbers as doubles.
    t.next_id = if id >= (1 << 53) { 1 } else { id + 1 };
    t.positions.insert(id, position);
    t.order.push_back(id);
    while t.order.len() > MAX_CURSORS {
        if let Some(old) = t.order.pop_front() {
            t.positions.remove(&old);
        }
    }
    id
}

fn load(id: u64) -> Option<Vec<u8>> {
    let t = CURSORS.lock().unwrap_or_else(|e| e.into_inner());
    t.positions.get(&id).cloned()
}

/// Reads a SCAN-family cursor: an unsigned 64-bit decimal, else `ERR invalid cursor`. HSCAN,
/// SSCAN and ZSCAN check it before they look at the key, as Redis does, so a bad cursor is
/// reported even for a missing key or one of another type.
pub fn parse_cursor(raw: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::msg("invalid cursor"))
}

/// A SCAN-family reply: the cursor to continue from (0 when done), then the page's items.
pub fn page_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

/// Options shared by the SCAN family: `MATCH pattern`, `COUNT n`, and (SCAN only) `TYPE t`.
pub struct ScanOptions {
    pub cursor: u64,
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub type_filter: Option<String>,
    /// HSCAN/ZSCAN ... NOVALUES
    pub no_values: bool,
}

impl ScanOptions {
    /// Parses `cursor [MATCH p] [COUNT n] [TYPE t]` starting at argument `at` (the cursor).
    pub fn parse(
        args: &Args,
        at: usize,
        allow_type: bool,
        allow_novalues: bool,
    ) -> Result<ScanOptions, CmdError> {
        let cursor = parse_cursor(args.get(at)?)?;
        let mut opts = ScanOptions {
            cursor,
            pattern: None,
            count: 10,
            type_filter: None,
            no_values: false,
        };
        let mut i = at + 1;
        while i < args.len() {
            let opt = args.upper(i)?;
            match opt.as_str() {
                "MATCH" if i + 1 < args.len() => {
                    // Redis does not match against `*` alone (so it returns an empty name,
                    // which the matcher refuses).
                    let pattern = args.get(i + 1)?;
                    opts.pattern = (&pattern[..] != b"*").then(|| pattern.clone());
                    i += 2;
                }
                "COUNT" if i + 1 < args.len() => {
                    let n = parse_i64(args.get(i + 1)?)?;
                    if n < 1 {
                        return Err(CmdError::Syntax);
                    }
                    opts.count = n.min(100_000) as usize;
                    i += 2;
                }
                "TYPE" if allow_type && i + 1 < args.len() => {
                    opts.type_filter =
                        Some(String::from_utf8_lossy(args.get(i + 1)?).to_lowercase());
                    i += 2;
                }
                "NOVALUES" if allow_novalues => {
                    opts.no_values = true;
                    i += 1;
                }
                _ => return Err(CmdError::Syntax),
            }
        }
        Ok(opts)
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| glob_match(p, name))
    }
}

/// One page of a cursor scan over `[from, to)` of `cf`: visits at most `count` entries starting
/// at the cursor's saved position and returns them with the cursor to continue from (0 at the end).
pub fn scan_page(
    ctx: &Ctx<'_, '_>,
    cf: Cf,
    from: &[u8],
    to: &[u8],
    opts: &ScanOptions,
) -> Result<(u64, Vec<KeyValue>), CmdError> {
    let start = match opts.cursor {
        0 => from.to_vec(),
        id => load(id)
            .filter(|p| p.as_slice() >= from && p.as_slice() < to)
            .unwrap_or_else(|| from.to_vec()),
    };
    let mut out = Vec::with_capacity(opts.count.min(1024));
    let mut iter = ctx.txn.scan(cf, &start, to, false)?;
    for entry in iter.by_ref() {
        let (k, v) = entry.map_err(CmdError::from)?;
        out.push((k, v));
        if out.len() >= opts.count {
            break;
        }
    }
    // Peek whether anything is left; if so, the cursor resumes at it.
    let next = match iter.next() {
        Some(entry) => {
            let (k, _) = entry.map_err(|e: StorageError| CmdError::from(e))?;
            save(k)
        }
        None => 0,
    };
    Ok((next, out))
}
