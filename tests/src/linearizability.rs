//! A linearizability checker for histories of GET/SET/INCR on independent keys (each key is a
//! register holding an integer, or nothing).
//!
//! Histories are checked per key (linearizability is compositional) with the Wing-Gong search
//! as refined by Lowe: try to linearize, at each step, some pending operation whose invocation
//! precedes every remaining operation's completion; memoize (set of done ops, state) to prune.
//! Operations whose outcome is unknown (the client saw an error or timeout) may take effect at
//! any point after their invocation, or never.

use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// SET to a value.
    Set(i64),
    /// INCR; `Some(n)` is the reply, `None` if unknown.
    Incr(Option<i64>),
    /// GET; the reply (None = nil).
    Get(Option<i64>),
}

#[derive(Debug, Clone)]
pub struct Op {
    pub key: String,
    pub kind: OpKind,
    /// Monotonic invocation and completion times (any unit). `complete = None`: outcome unknown.
    pub invoke: u64,
    pub complete: Option<u64>,
}

/// Applies `op` to `state`; `None` if the op's observed result is impossible from `state`.
fn step(state: Option<i64>, kind: OpKind, known: bool) -> Option<Option<i64>> {
    match kind {
        OpKind::Set(v) => Some(Some(v)),
        OpKind::Incr(reply) => {
            let next = state.unwrap_or(0).checked_add(1)?;
            match reply {
                Some(r) if known && r != next => None,
                _ => Some(Some(next)),
            }
        }
        OpKind::Get(seen) => (seen == state).then_some(state),
    }
}

/// Checks one key's history; `Err` describes why no linearization exists.
pub fn check_key(ops: &[Op]) -> Result<(), String> {
    // Reads with unknown outcome carry no information; drop them.
    let ops: Vec<&Op> = ops
        .iter()
        .filter(|o| !(matches!(o.kind, OpKind::Get(_)) && o.complete.is_none()))
        .collect();
    let n = ops.len();
    if n > 4096 {
        return Err(format!("history of {n} ops is too long to check"));
    }
    let words = n.div_ceil(64).max(1);
    let mut done = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Option<i64>)> = HashSet::new();
    let end = |o: &Op| o.complete.unwrap_or(u64::MAX);

    fn is_done(done: &[u64], i: usize) -> bool {
        done[i / 64] >> (i % 64) & 1 == 1
    }

    // Depth-first search with an explicit stack of (op index chosen, previous state).
    let mut stack: Vec<(usize, Option<i64>)> = Vec::new();
    let mut state: Option<i64> = None;
    let mut next_candidate = 0usize;
    let mut remaining_known = ops.iter().filter(|o| o.complete.is_some()).count();
    let mut steps = 0u64;
    loop {
        steps += 1;
        if steps > 50_000_000 {
            return Err("search budget exhausted".into());
        }
        if remaining_known == 0 {
            // Every op with a known outcome is linearized; unknown ones may never have happened.
            return Ok(());
        }
        // The earliest completion among pending ops bounds which op may go next.
        let min_end = (0..n)
            .filter(|&i| !is_done(&done, i))
            .map(|i| end(ops[i]))
            .min()
            .unwrap_or(u64::MAX);
        let mut advanced = false;
        let mut i = next_candidate;
        while i < n {
            if !is_done(&done, i) && ops[i].invoke <= min_end {
                if let Some(next) = step(state, ops[i].kind, ops[i].complete.is_some()) {
                    done[i / 64] |= 1 << (i % 64);
                    if seen.insert((done.clone(), next)) {
                        stack.push((i, state));
                        state = next;
                        if ops[i].complete.is_some() {
                            remaining_known -= 1;
                        }
                        next_candidate = 0;
                        advanced = true;
                        break;
                    }
                    done[i / 64] &= !(1 << (i % 64));
                }
            }
            i += 1;
        }
        if advanced {
            continue;
        }
        // Backtrack.
        let Some((last, prev)) = stack.pop() else {
            return Err(describe(&ops));
        };
        done[last / 64] &= !(1 << (last % 64));
        if ops[last].complete.is_some() {
            remaining_known += 1;
        }
        state = prev;
        next_candidate = last + 1;
    }
}

fn describe(ops: &[&Op]) -> String {
    let mut sorted: Vec<&&Op> = ops.iter().collect();
    sorted.sort_by_key(|o| o.invoke);
    let lines: Vec<String> = sorted
        .iter()
        .take(40)
        .map(|o| {
            format!(
                "  [{}..{}] {:?}",
                o.invoke,
                o.complete.map(|c| c.to_string()).unwrap_or("?".into()),
                o.kind
            )
        })
        .collect();
    format!(
        "no linearization of key '{}' ({} ops); first ops:\n{}",
        ops[0].key,
        ops.len(),
        lines.join("\n")
    )
}

/// Checks a whole history, key by key.
pub fn check(history: &[Op]) -> Result<(), String> {
    let mut keys: Vec<&str> = history.iter().map(|o| o.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let ops: Vec<Op> = history.iter().filter(|o| o.key == key).cloned().collect();
        check_key(&ops)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, invoke: u64, complete: Option<u64>) -> Op {
        Op {
            key: "k".into(),
            kind,
            invoke,
            complete,
        }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            op(OpKind::Set(1), 0, Some(1)),
            op(OpKind::Get(Some(1)), 2, Some(3)),
            op(OpKind::Incr(Some(2)), 4, Some(5)),
            op(OpKind::Get(Some(2)), 6, Some(7)),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn stale_read_after_completed_write_is_rejected() {
        let h = vec![
            op(OpKind::Set(1), 0, Some(1)),
            op(OpKind::Set(2), 2, Some(3)),
            op(OpKind::Get(Some(1)), 4, Some(5)),
        ];
        assert!(check(&h).is_err());
    }

    #[test]
    fn concurrent_ops_may_take_either_order() {
        let h = vec![
            op(OpKind::Set(1), 0, Some(10)),
            op(OpKind::Set(2), 1, Some(9)),
            op(OpKind::Get(Some(1)), 11, Some(12)),
        ];
        assert!(check(&h).is_ok());
        let h = vec![
            op(OpKind::Set(1), 0, Some(10)),
            op(OpKind::Get(Some(1)), 1, Some(2)),
            op(OpKind::Get(None), 3, Some(4)),
        ];
        assert!(
            check(&h).is_err(),
            "a read cannot go back to nil after seeing 1"
        );
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_apply() {
        let h = vec![
            op(OpKind::Set(1), 0, Some(1)),
            op(OpKind::Set(5), 2, None),
            op(OpKind::Get(Some(1)), 3, Some(4)),
            op(OpKind::Get(Some(5)), 5, Some(6)),
        ];
        assert!(check(&h).is_ok());
        let h = vec![
            op(OpKind::Incr(None), 0, None),
            op(OpKind::Incr(Some(1)), 1, Some(2)),
            op(OpKind::Get(Some(1)), 3, Some(4)),
        ];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn lost_increment_is_rejected() {
        let h = vec![
            op(OpKind::Incr(Some(1)), 0, Some(1)),
            op(OpKind::Incr(Some(2)), 2, Some(3)),
            op(OpKind::Get(Some(1)), 4, Some(5)),
        ];
        assert!(check(&h).is_err());
    }
}
