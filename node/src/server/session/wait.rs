//! WAIT numreplicas timeout: how many replicas hold this client's writes.
//!
//! Every write Kiwi acknowledges is already on a majority's disks; WAIT tells a client how many
//! of the other members (voters and learners) have it, as Redis's WAIT counts the replicas that
//! acknowledged the client's writes. Before a session command runs, the session's writes in
//! flight are settled, so the leader's applied index covers all of them: a member whose matched
//! log index reaches it holds them. On a follower the command goes to the leader on the
//! session's forwarding connection, behind the writes it forwarded. Inside MULTI it does not
//! wait, as in Redis: it answers the count of the moment.

use std::time::Duration;

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;

use super::Session;
use crate::command::args::parse_i64;
use crate::engine::SettledReply;
use crate::raft::{NodeId, TypeConfig};
use crate::resp::Reply;
use openraft::RaftMetrics;

impl Session {
    /// Answers WAIT, or forwards it (then the leader's answer is relayed). `None` when the
    /// reply was queued (forwarded or redirected).
    pub(super) async fn wait_replicas(&mut self, argv: &[Bytes]) -> Option<Reply> {
        let (wanted, timeout_ms) = match parse_wait(argv) {
            Ok(parsed) => parsed,
            Err(e) => return Some(Reply::err(e)),
        };
        let Some((leader_id, leader)) = self.leader().await else {
            return Some(super::routing::clusterdown());
        };
        let cluster = self.state.cluster.clone();
        if leader_id != cluster.id {
            if self.may_forward(&leader.resp_addr) {
                self.forward(&leader.resp_addr, vec![argv.to_vec()]).await;
            }
            return None;
        }
        let mut metrics = cluster.raft.metrics();
        let target = cluster.applied_index();
        // Redis's WAIT with timeout 0 waits for as long as it takes.
        let deadline = (timeout_ms > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
        loop {
            let (holding, leading) = {
                let m = metrics.borrow_and_update();
                (
                    holding(&m, cluster.id, target),
                    m.current_leader == Some(cluster.id),
                )
            };
            // A leader that lost its office can count no more acknowledgements.
            if holding >= wanted || !leading {
                return Some(Reply::Int(holding));
            }
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() {
                    return Some(Reply::Int(holding));
                },
                _ = expired => return Some(Reply::Int(holding)),
            }
        }
    }

    /// WAIT queued in MULTI, as Redis answers it there: at once, how many members hold the
    /// client's writes so far (0 on a follower, whose EXEC the leader runs again anyway).
    pub(super) fn wait_in_multi(&self, argv: &[Bytes]) -> SettledReply {
        if let Err(e) = parse_wait(argv) {
            return SettledReply::Error(format!("ERR {e}"));
        }
        let cluster = &self.state.cluster;
        let m = cluster.metrics();
        SettledReply::Int(holding(&m, cluster.id, cluster.applied_index()))
    }
}

/// WAIT's arguments, checked as Redis checks them: numreplicas, then the timeout (ms).
fn parse_wait(argv: &[Bytes]) -> Result<(i64, u64), &'static str> {
    let wanted = parse_i64(&argv[1]).map_err(|_| "value is not an integer or out of range")?;
    match parse_i64(&argv[2]) {
        Err(_) => Err("timeout is not an integer or out of range"),
        Ok(ms) if ms < 0 => Err("timeout is negative"),
        Ok(ms) => Ok((wanted, ms as u64)),
    }
}

/// The members other than `me` whose log matches the leader's up to `target`.
fn holding(m: &RaftMetrics<TypeConfig>, me: NodeId, target: u64) -> i64 {
    m.replication
        .iter()
        .flatten()
        .filter(|(id, matched)| **id != me && matched.as_ref().is_some_and(|l| l.index >= target))
        .count() as i64
}
