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
///
/// The history becomes a list of call and return events in time order. Walking it, a call may
/// be linearized (applied to the model and lifted out of the list with its return) if the
/// model allows its result; reaching a return whose call was not linearized means the last
/// choice was wrong: undo it and try the next call. Calls of unknown-outcome operations have no
/// return, so they may also be skipped for good. (Wing & Gong, with Lowe's memoization of
/// (linearized set, state).)
pub fn check_key(ops: &[Op]) -> Result<(), String> {
    let ops: Vec<&Op> = ops
        .iter()
        .filter(|o| !(matches!(o.kind, OpKind::Get(_)) && o.complete.is_none()))
        .collect();
    let n = ops.len();
    // Events: (time, is_return, op). Calls sort before returns at equal times (more permissive).
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, o) in ops.iter().enumerate() {
        events.push((o.invoke, false, i));
        if let Some(c) = o.complete {
            events.push((c, true, i));
        }
    }
    events.sort();
    // A doubly linked list over the events, with node 0 as the head sentinel.
    let len = events.len() + 1;
    let mut next: Vec<usize> = (1..=len).collect();
    let mut prev: Vec<usize> = (0..len).map(|i| i.wrapping_sub(1)).collect();
    next[len - 1] = usize::MAX;
    let node_of = |e: usize| e + 1;
    let mut return_node = vec![usize::MAX; n];
    for (e, ev) in events.iter().enumerate() {
        if ev.1 {
            return_node[ev.2] = node_of(e);
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = nx;
        if nx != usize::MAX {
            prev[nx] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, nx) = (prev[x], next[x]);
        next[p] = x;
        if nx != usize::MAX {
            prev[nx] = x;
        }
    };
    let mut remaining_returns = events.iter().filter(|e| e.1).count();
    let mut bits = vec![0u64; n.div_ceil(64).max(1)];
    let mut cache: HashSet<(Vec<u64>, Option<i64>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<i64>)> = Vec::new();
    let mut state: Option<i64> = None;
    let mut node = next[0];
    let mut steps = 0u64;
    while remaining_returns > 0 {
        steps += 1;
        if steps > 20_000_000 {
            return Err(format!("search budget exhausted on {n} ops"));
        }
        if node == usize::MAX {
            // Only calls were left after this point: backtrack.
            let Some((call, prev_state)) = stack.pop() else {
                return Err(describe(&ops));
            };
            let op = events[call - 1].2;
            bits[op / 64] &= !(1 << (op % 64));
            state = prev_state;
            if return_node[op] != usize::MAX {
                relink(&mut next, &mut prev, return_node[op]);
                remaining_returns += 1;
            }
            relink(&mut next, &mut prev, call);
            node = next[call];
            continue;
        }
        let (_, is_return, op) = events[node - 1];
        if !is_return {
            let known = ops[op].complete.is_some();
            if let Some(new_state) = step(state, ops[op].kind, known) {
                bits[op / 64] |= 1 << (op % 64);
                if cache.insert((bits.clone(), new_state)) {
                    stack.push((node, state));
                    state = new_state;
                    unlink(&mut next, &mut prev, node);
                    if return_node[op] != usize::MAX {
                        unlink(&mut next, &mut prev, return_node[op]);
                        remaining_returns -= 1;
                    }
                    node = next[0];
                    continue;
                }
                bits[op / 64] &= !(1 << (op % 64));
            }
            node = next[node];
        } else {
            // This op returned before it was linearized: undo the last choice.
            let Some((call, prev_state)) = stack.pop() else {
                return Err(describe(&ops));
            };
            let op = events[call - 1].2;
            bits[op / 64] &= !(1 << (op % 64));
            state = prev_state;
            if return_node[op] != usize::MAX {
                relink(&mut next, &mut prev, return_node[op]);
                remaining_returns += 1;
            }
            relink(&mut next, &mut prev, call);
            node = next[call];
        }
    }
    Ok(())
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
