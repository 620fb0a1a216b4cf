//! Asking the nodes themselves: each pod's `/status`, and the leader's view of its followers'
//! progress. Shared by the Kubernetes reconciler and the loopback tests.

use std::collections::BTreeMap;

use futures::future::join_all;

use crate::admin::{AdminClient, NodeId, Progress};
use crate::plan::{current_leader, PodObs};

/// Fills in each pod's `node` (left `None` when it does not answer) and returns the follower
/// progress reported by the leader with the highest term.
pub async fn probe_nodes(admin: &AdminClient, pods: &mut [PodObs]) -> BTreeMap<NodeId, Progress> {
    let statuses = join_all(pods.iter().map(|p| async move {
        if p.admin_addr.is_empty() {
            return None;
        }
        admin.status(&p.admin_addr).await.ok()
    }))
    .await;
    for (pod, status) in pods.iter_mut().zip(statuses) {
        pod.node = status;
    }
    match current_leader(pods) {
        Some((p, _)) => admin.replication(&p.admin_addr).await.unwrap_or_default(),
        None => BTreeMap::new(),
    }
}
