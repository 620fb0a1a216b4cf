//! Carrying out a planned step: membership calls through the node admin API, pod and volume
//! changes through a [`Platform`] (Kubernetes in the operator, plain processes in the loopback
//! tests), and what a done step changes in the operator's memory.

use crate::admin::{AdminClient, AdminError};
use crate::plan::{Action, Memory, Pending, RemoveReason, Step};

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Platform(String),
}

/// Where pods and volumes live.
pub trait Platform {
    /// Sets how many pods the StatefulSet runs.
    fn scale(
        &self,
        replicas: u32,
    ) -> impl std::future::Future<Output = Result<(), ActError>> + Send;
    /// Deletes a pod; the StatefulSet recreates it.
    fn delete_pod(
        &self,
        pod: &str,
    ) -> impl std::future::Future<Output = Result<(), ActError>> + Send;
    /// Deletes a volume claim.
    fn delete_pvc(
        &self,
        pvc: &str,
    ) -> impl std::future::Future<Output = Result<(), ActError>> + Send;
}

/// The kind of a membership action, for metrics and events.
pub fn kind(action: &Action) -> &'static str {
    match action {
        Action::Idle => "idle",
        Action::Wait { .. } => "wait",
        Action::Halt { .. } => "halt",
        Action::Unreachable { .. } => "unreachable",
        Action::QuorumLost { .. } => "quorum_lost",
        Action::ScaleStatefulSet { .. } => "scale",
        Action::Init { .. } => "init",
        Action::Adopt { .. } => "adopt",
        Action::AddLearner { .. } => "add_learner",
        Action::Promote { .. } => "promote",
        Action::TransferLeader { .. } => "transfer_leader",
        Action::RemoveMember { .. } => "remove_member",
        Action::DeletePod { .. } => "delete_pod",
        Action::DeletePodAndPvc { .. } => "replace_volume",
        Action::DeletePvc { .. } => "delete_pvc",
    }
}

/// True for actions that change something (as opposed to waiting or reporting).
pub fn changes_something(action: &Action) -> bool {
    !matches!(
        action,
        Action::Idle
            | Action::Wait { .. }
            | Action::Halt { .. }
            | Action::Unreachable { .. }
            | Action::QuorumLost { .. }
    )
}

/// A one-line account of the action, for events and logs.
pub fn describe(action: &Action) -> String {
    match action {
        Action::Idle => "converged".into(),
        Action::Wait { reason } | Action::Halt { reason } => reason.clone(),
        Action::Unreachable { ready } => format!(
            "none of the {ready} ready pods answers the operator on its admin port ({}): the \
             operator must run inside the cluster (it talks to pod IP:{}), and any \
             NetworkPolicy must admit it to that port",
            crate::resources::RAFT_PORT,
            crate::resources::RAFT_PORT
        ),
        Action::QuorumLost { reachable, voters } => {
            format!("only {reachable} of {voters} voters reachable; no membership change")
        }
        Action::ScaleStatefulSet { replicas } => format!("StatefulSet scaled to {replicas}"),
        Action::Init { pod, .. } => format!("cluster initialized on {pod}"),
        Action::Adopt { cluster_id } => format!("adopted running cluster {cluster_id}"),
        Action::AddLearner { pod, node_id, .. } => format!("added node {node_id} ({pod}) as a learner"),
        Action::Promote { pod, node_id, .. } => format!("promoted node {node_id} ({pod}) to voter"),
        Action::TransferLeader { from, to, .. } => {
            format!("moved leadership from node {from} to node {to}")
        }
        Action::RemoveMember {
            node_id,
            pod,
            reason,
            ..
        } => {
            let why = match reason {
                RemoveReason::Shrink => "scale-down",
                RemoveReason::Replaced => "its pod came back as a new node",
                RemoveReason::StrayLearner => "learner not wanted or not catching up",
            };
            format!(
                "removed node {node_id} ({}) from the membership: {why}",
                pod.as_deref().unwrap_or("no pod")
            )
        }
        Action::DeletePod { pod, reason } => format!("deleted pod {pod}: {reason}"),
        Action::DeletePodAndPvc { pod, pvc, node_id } => format!(
            "deleted pod {pod} and volume {pvc}: it holds removed node {node_id}, which must not rejoin"
        ),
        Action::DeletePvc { pvc } => format!("deleted volume {pvc} of a removed pod"),
    }
}

/// The event `action` of a step: what was done and to which node, so that the event recorder
/// (which folds events with the same type, reason, action and objects into one series that
/// keeps the first note) never folds steps about different nodes or pods into one.
pub fn event_action(action: &Action) -> String {
    let s = match action {
        Action::Idle => "Idle".to_string(),
        Action::Wait { .. } => "Wait".to_string(),
        Action::Halt { .. } => "Halt".to_string(),
        Action::Unreachable { ready } => format!("Unreachable {ready}"),
        Action::QuorumLost { reachable, voters } => format!("QuorumLost {reachable}/{voters}"),
        Action::ScaleStatefulSet { replicas } => format!("Scale to {replicas}"),
        Action::Init { pod, .. } => format!("Init {pod}"),
        Action::Adopt { cluster_id } => format!("Adopt {cluster_id}"),
        Action::AddLearner { node_id, .. } => format!("AddLearner node {node_id}"),
        Action::Promote { node_id, .. } => format!("Promote node {node_id}"),
        Action::TransferLeader { from, to, .. } => format!("TransferLeader node {from} to {to}"),
        Action::RemoveMember { node_id, .. } => format!("RemoveMember node {node_id}"),
        Action::DeletePod { pod, .. } => format!("DeletePod {pod}"),
        Action::DeletePodAndPvc { pod, node_id, .. } => {
            format!("ReplaceVolume {pod} node {node_id}")
        }
        Action::DeletePvc { pvc } => format!("DeletePvc {pvc}"),
    };
    // events.k8s.io refuses an action longer than 128 characters.
    s.chars().take(128).collect()
}

/// The pod a step is about, if any (the event's related object).
pub fn subject_pod(action: &Action) -> Option<&str> {
    match action {
        Action::Init { pod, .. }
        | Action::AddLearner { pod, .. }
        | Action::Promote { pod, .. }
        | Action::DeletePod { pod, .. }
        | Action::DeletePodAndPvc { pod, .. } => Some(pod),
        Action::RemoveMember { pod, .. } => pod.as_deref(),
        _ => None,
    }
}

/// Performs the step's action.
pub async fn execute<P: Platform>(
    action: &Action,
    admin: &AdminClient,
    platform: &P,
) -> Result<(), ActError> {
    match action {
        Action::Idle
        | Action::Wait { .. }
        | Action::Halt { .. }
        | Action::Unreachable { .. }
        | Action::QuorumLost { .. }
        | Action::Adopt { .. } => Ok(()),
        Action::ScaleStatefulSet { replicas } => platform.scale(*replicas).await,
        Action::Init { addr, .. } => Ok(admin.init(addr).await?),
        Action::AddLearner {
            leader,
            node_id,
            raft_addr,
            resp_addr,
            ..
        } => Ok(admin
            .add_learner(leader, *node_id, raft_addr, resp_addr)
            .await?),
        Action::Promote {
            leader, node_id, ..
        } => Ok(admin.promote(leader, *node_id).await?),
        Action::TransferLeader { leader, to, .. } => Ok(admin.transfer_leader(leader, *to).await?),
        Action::RemoveMember {
            leader, node_id, ..
        } => Ok(admin.remove_node(leader, *node_id).await?),
        Action::DeletePod { pod, .. } => platform.delete_pod(pod).await,
        Action::DeletePodAndPvc { pod, pvc, .. } => {
            // The claim first: it stays (protected) until the pod is gone, and the pod then
            // comes back on a fresh one.
            platform.delete_pvc(pvc).await?;
            platform.delete_pod(pod).await
        }
        Action::DeletePvc { pvc } => platform.delete_pvc(pvc).await,
    }
}

/// What must be in the status before the step is carried out, so that an operator that stops
/// (or fails) half-way resumes it instead of forgetting it: the pending operation it starts,
/// and the id it retires (retired before it leaves: an id is never reused, even if the removal
/// then fails and the id stays a member a while longer).
pub fn intend(memory: &mut Memory, step: &Step) {
    if let Pending::Set(op) = &step.pending {
        memory.pending = Some(op.clone());
    }
    if let Action::RemoveMember { node_id, .. } = &step.action {
        memory.retired_node_ids.insert(*node_id);
    }
}

/// What a step, once carried out, changes in the operator's memory.
pub fn remember(memory: &mut Memory, step: &Step) {
    match &step.pending {
        Pending::Keep => {}
        Pending::Set(op) => memory.pending = Some(op.clone()),
        Pending::Clear => memory.pending = None,
    }
    match &step.action {
        Action::Init { .. } => memory.bootstrapped = true,
        Action::Adopt { cluster_id } => {
            memory.bootstrapped = true;
            memory.cluster_id = Some(cluster_id.clone());
        }
        Action::RemoveMember { node_id, .. } => {
            memory.retired_node_ids.insert(*node_id);
        }
        _ => {}
    }
}
