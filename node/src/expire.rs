//! Active expiry: a background task finds keys whose deadline has passed and deletes them
//! through the write path (as a mutation), so every replica deletes the same keys. Reads never
//! see an expired key in between: they check deadlines themselves.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use crate::engine::{now_ms, Mutation, Op};
use crate::resp::Reply;
use crate::server::ServerState;

/// Most keys one sweep deletes; the next sweep continues immediately when this many were found.
const SWEEP_LIMIT: usize = 500;

pub async fn run(state: Arc<ServerState>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        let found = sweep(&state).await;
        if found < SWEEP_LIMIT {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Deletes up to [`SWEEP_LIMIT`] expired keys; returns how many candidates it found.
pub async fn sweep(state: &ServerState) -> usize {
    // Only the leader proposes deletions; followers apply them from the log.
    if !state.cluster.is_leader() {
        return 0;
    }
    let now = now_ms();
    let candidates = match state.db.reader().expired_keys(now, SWEEP_LIMIT) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "active expiry scan failed");
            return 0;
        }
    };
    if candidates.is_empty() {
        return 0;
    }
    let found = candidates.len();
    let mut by_db: std::collections::BTreeMap<u8, Vec<Bytes>> = Default::default();
    for (db, key) in candidates {
        by_db.entry(db).or_default().push(Bytes::from(key));
    }
    let ops = by_db
        .into_iter()
        .map(|(db, keys)| Op::ExpireKeys { db, keys })
        .collect();
    let mutation = Mutation {
        now_ms: now,
        seed: 0,
        ops,
        multi: true,
    };
    let timeout = state.config().raft_write_timeout;
    if let Ok(Reply::Array(counts)) = state.cluster.write(mutation, timeout).await {
        {
            let deleted: i64 = counts
                .iter()
                .map(|r| if let Reply::Int(n) = r { *n } else { 0 })
                .sum();
            state
                .expired_keys
                .fetch_add(deleted as u64, Ordering::Relaxed);
        }
    }
    found
}
