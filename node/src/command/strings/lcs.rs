//! LCS: the longest common subsequence of two strings, with Redis 7's table, walk, replies
//! and memory guard.

use super::MAX_STRING_LEN;
use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::resp::Reply;
use crate::storage::KeyType;

/// A run of contiguous matches: its inclusive range of positions in `a`, then in `b`.
type Run = ((usize, usize), (usize, usize));

/// The LCS length table for `a` and `b`, `(a.len() + 1) x (b.len() + 1)` cells row-major:
/// cell (i, j) is the length of the LCS of `a[..i]` and `b[..j]`.
struct Table<'s> {
    a: &'s [u8],
    b: &'s [u8],
    cells: Vec<u32>,
}

impl<'s> Table<'s> {
    fn build(a: &'s [u8], b: &'s [u8]) -> Table<'s> {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        // Row i + 1 from row i: cell (i + 1, j + 1) compares a[i] with b[j].
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                let (up, here) = (i * width + j + 1, (i + 1) * width + j + 1);
                cells[here] = if x == y {
                    cells[up - 1] + 1
                } else {
                    cells[up].max(cells[here - 1])
                };
            }
        }
        Table { a, b, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.b.len() + 1) + j]
    }

    fn len(&self) -> u32 {
        self.at(self.a.len(), self.b.len())
    }

    /// Walks back from the end as Redis does (on a tie it drops a byte of `b`), returning the
    /// subsequence and the runs of contiguous matches, last run first, as (a range, b range).
    fn walk(&self) -> (Vec<u8>, Vec<Run>) {
        let mut seq = vec![0u8; self.len() as usize];
        let mut runs = Vec::new();
        let mut left = seq.len();
        // The run being extended backwards: (a start, a end, b start, b end).
        let mut run: Option<(usize, usize, usize, usize)> = None;
        let (mut i, mut j) = (self.a.len(), self.b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if self.a[i - 1] == self.b[j - 1] {
                seq[left - 1] = self.a[i - 1];
                left -= 1;
                run = match run {
                    None => Some((i - 1, i - 1, j - 1, j - 1)),
                    Some((a0, a1, b0, b1)) if a0 == i && b0 == j => Some((a0 - 1, a1, b0 - 1, b1)),
                    Some(other) => {
                        emit = true;
                        Some(other)
                    }
                };
                // A run that reached the start of either string ends here.
                if run.is_some_and(|(a0, _, b0, _)| a0 == 0 || b0 == 0) {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if emit {
                if let Some((a0, a1, b0, b1)) = run.take() {
                    runs.push(((a0, a1), (b0, b1)));
                }
            }
        }
        (seq, runs)
    }
}

/// Redis's guard: the table, 4 bytes a cell, may not be larger than `proto-max-bulk-len`.
fn table_fits(a: usize, b: usize) -> bool {
    (a as u64 + 1) * (b as u64 + 1) * 4 <= MAX_STRING_LEN as u64
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
///
/// Missing keys are empty strings; a key of another type is refused with Redis's own message
/// (not WRONGTYPE), before the options are read. The table takes 4 bytes per pair of
/// positions, and like Redis the command refuses to build one larger than
/// `proto-max-bulk-len`: two strings of about 11,600 bytes each.
pub fn lcs(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let mut values = [Vec::new(), Vec::new()];
    let mut wrong_type = false;
    for (n, value) in values.iter_mut().enumerate() {
        match ctx.typed_meta(KeyType::String, args.get(n + 1)?) {
            Ok(meta) => *value = meta.map(|m| m.value).unwrap_or_default(),
            Err(CmdError::WrongType) => wrong_type = true,
            Err(e) => return Err(e),
        }
    }
    if wrong_type {
        return Err(CmdError::msg(
            "The specified keys must contain string values",
        ));
    }
    let (mut want_len, mut want_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "IDX") {
            want_idx = true;
        } else if args.is(i, "LEN") {
            want_len = true;
        } else if args.is(i, "WITHMATCHLEN") {
            with_match_len = true;
        } else if args.is(i, "MINMATCHLEN") && i + 1 < args.len() {
            min_match_len = args.int(i + 1)?.max(0);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CmdError::msg(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    let [a, b] = &values;
    if !table_fits(a.len(), b.len()) {
        return Err(CmdError::msg(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = Table::build(a, b);
    if want_len {
        return Ok(Reply::Int(table.len().into()));
    }
    let (seq, runs) = table.walk();
    if !want_idx {
        return Ok(Reply::bulk(seq));
    }
    let pair = |(from, to): (usize, usize)| {
        Reply::Array(vec![Reply::Int(from as i64), Reply::Int(to as i64)])
    };
    let matches = runs
        .into_iter()
        .filter(|((a0, a1), _)| (a1 - a0 + 1) as i64 >= min_match_len)
        .map(|(in_a, in_b)| {
            let mut entry = vec![pair(in_a), pair(in_b)];
            if with_match_len {
                entry.push(Reply::Int((in_a.1 - in_a.0 + 1) as i64));
            }
            Reply::Array(entry)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk("matches"), Reply::Array(matches)),
        (Reply::bulk("len"), Reply::Int(table.len().into())),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_finds_redis_runs() {
        // The example of Redis's documentation.
        let table = Table::build(b"ohmytext", b"mynewtext");
        assert_eq!(table.len(), 6);
        let (seq, runs) = table.walk();
        assert_eq!(seq, b"mytext");
        assert_eq!(runs, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
        assert!(table_fits(11_583, 11_585));
        assert!(!table_fits(11_585, 11_585));
        assert!(table_fits(134_217_727, 0));
        assert!(!table_fits(134_217_728, 0));
        let empty = Table::build(b"", b"abc");
        assert_eq!(empty.walk(), (Vec::new(), Vec::new()));
    }
}
