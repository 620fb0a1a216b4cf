//! WAIT numreplicas timeout: how many replicas hold this client's writes.
//!
//! Every write Kiwi acknowledges is already on a majority's disks; WAIT tells a client how many
//! of the other members (voters and learners) have it, as Redis's WAIT counts the replicas that
//! acknowledged the client's writes. Before a session command runs, the session's writes in
//! flight are settled, so the leader's applied index covers all of them: a member whose matched
//! log index reaches it holds them. On a follower the command goes to the leader on the
//! session's forwarding connection, behind the writes it forwarded.

use std::time::Duration;

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;

use super::Session;
use crate::command::args::parse_i64;
use crate::resp::Reply;

impl Session {
    /// Answers WAIT, or forwards it (then the leader's answer is relayed). `None` when the
    /// reply was queued (forwarded or redirected).
    pub(super) async fn wait_replicas(&mut self, argv: &[Bytes]) -> Option<Reply> {
        let Ok(wanted) = parse_i64(&argv[1]) else {
            return Some(Reply::err("value is not an integer or out of range"));
        };
        let timeout_ms = match parse_i64(&argv[2]) {
            Err(_) => return Some(Reply::err("timeout is not an integer or out of range")),
            Ok(ms) if ms < 0 => return Some(Reply::err("timeout is negative")),
            Ok(ms) => ms as u64,
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
        let target = metrics
            .borrow_watched()
            .last_applied
            .as_ref()
            .map(|l| l.index)
            .unwrap_or(0);
        // Redis's WAIT with timeout 0 waits for as long as it takes.
        let deadline = (timeout_ms > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
        loop {
            let (holding, leading) = {
                let m = metrics.borrow_and_update();
                let holding = m
                    .replication
                    .iter()
                    .flatten()
                    .filter(|(id, matched)| {
                        **id != cluster.id && matched.as_ref().is_some_and(|l| l.index >= target)
                    })
                    .count() as i64;
                (holding, m.current_leader == Some(cluster.id))
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
}
