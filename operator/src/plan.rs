//! The planner: a pure function from what the operator observed to the one next step. Every
//! reconcile re-derives the step from scratch, so a step is safe to repeat and an operator that
//! crashed between two steps simply plans again. The rules are ARCHITECTURE.md's: grow by
//! learner then promotion, shrink by removing from the voters before the pod goes, never reuse
//! an id, never make a change that loses a majority, init once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use k8s_openapi::jiff::Timestamp;

use crate::admin::{NodeId, NodeStatus, Progress};
use crate::crd::{MemberStatus, OperationKind, PendingOperation};

/// One pod of the StatefulSet as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodObs {
    pub name: String,
    pub ordinal: u32,
    /// The uid of the pod's volume claim: a new uid is a new (blank) node.
    pub pvc_uid: Option<String>,
    pub ready: bool,
    /// Being deleted: the operator waits for it to go.
    pub terminating: bool,
    /// Not running yet (phase Pending): not scheduled, or its containers not started.
    pub pending: bool,
    /// The template revision the pod runs.
    pub revision: Option<String>,
    /// Where the operator reaches its admin API (the pod IP in Kubernetes); empty when none.
    pub admin_addr: String,
    /// Addresses other nodes reach it at.
    pub raft_addr: String,
    pub resp_addr: String,
    /// Its `/status`; `None` when it did not answer.
    pub node: Option<NodeStatus>,
}

/// A volume claim of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvcObs {
    pub name: String,
    pub ordinal: u32,
    /// Being deleted (held by its protection finalizer while a pod uses it).
    pub terminating: bool,
}

/// What the operator remembers in the resource's status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub bootstrapped: bool,
    pub cluster_id: Option<String>,
    pub members: Vec<MemberStatus>,
    pub retired_node_ids: BTreeSet<NodeId>,
    pub pending: Option<PendingOperation>,
}

/// Everything the planner looks at.
#[derive(Debug, Clone)]
pub struct Observed {
    pub desired_replicas: u32,
    /// The StatefulSet's replicas; `None` before it exists.
    pub sts_replicas: Option<u32>,
    pub pods: Vec<PodObs>,
    pub pvcs: Vec<PvcObs>,
    /// Follower progress as the leader reports it.
    pub progress: BTreeMap<NodeId, Progress>,
    pub memory: Memory,
    /// The template revision pods should run.
    pub revision: String,
    pub max_learner_lag: u64,
    pub catch_up_timeout: Duration,
    pub reclaim_on_scale_down: bool,
    pub now: Timestamp,
}

/// The one thing to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Converged: nothing to do.
    Idle,
    /// Something is in motion (a pod starting, a learner catching up); look again soon.
    Wait {
        reason: String,
    },
    /// The operator must not act (for example pods of two different clusters).
    Halt {
        reason: String,
    },
    /// Pods are Ready (their kubelet reaches them) but none answers the operator: the
    /// operator cannot reach pod IPs (it runs outside the cluster, or a NetworkPolicy stops it).
    Unreachable {
        ready: usize,
    },
    /// Fewer than a majority of voters reachable: no membership change at all.
    QuorumLost {
        reachable: usize,
        voters: usize,
    },
    ScaleStatefulSet {
        replicas: u32,
    },
    Init {
        pod: String,
        addr: String,
    },
    /// The pods already form a cluster the status does not know (status lost): remember it.
    Adopt {
        cluster_id: String,
    },
    AddLearner {
        leader: String,
        pod: String,
        node_id: NodeId,
        raft_addr: String,
        resp_addr: String,
    },
    Promote {
        leader: String,
        pod: String,
        node_id: NodeId,
    },
    TransferLeader {
        leader: String,
        from: NodeId,
        to: NodeId,
    },
    RemoveMember {
        leader: String,
        node_id: NodeId,
        pod: Option<String>,
        reason: RemoveReason,
    },
    DeletePod {
        pod: String,
        reason: String,
    },
    /// A pod whose kept volume belongs to a removed node: both go, the pod comes back blank.
    DeletePodAndPvc {
        pod: String,
        pvc: String,
        node_id: NodeId,
    },
    DeletePvc {
        pvc: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Scale-down.
    Shrink,
    /// Its pod came back as a different node.
    Replaced,
    /// A learner with no pod that wants it, or one that never caught up.
    StrayLearner,
}

/// How the plan changes the pending operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Keep,
    Set(PendingOperation),
    Clear,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub pending: Pending,
}

impl Step {
    fn new(action: Action) -> Step {
        Step {
            action,
            pending: Pending::Keep,
        }
    }

    fn wait(reason: impl Into<String>) -> Step {
        Step::new(Action::Wait {
            reason: reason.into(),
        })
    }

    fn with(mut self, pending: Pending) -> Step {
        self.pending = pending;
        self
    }
}

pub fn majority(voters: usize) -> usize {
    voters / 2 + 1
}

/// The cluster as the leader sees it, with where each member runs.
struct View<'a> {
    leader: &'a NodeStatus,
    leader_addr: &'a str,
    voters: &'a BTreeSet<NodeId>,
    learners: &'a BTreeSet<NodeId>,
    /// Pods by the node id they report.
    pod_of: BTreeMap<NodeId, &'a PodObs>,
}

/// The pods whose node answered, with what it reported.
pub fn answering(pods: &[PodObs]) -> impl Iterator<Item = (&PodObs, &NodeStatus)> {
    pods.iter().filter_map(|p| p.node.as_ref().map(|n| (p, n)))
}

/// The leader that counts: of the nodes claiming leadership, the one with the highest term
/// (an old leader may not know yet that it was replaced).
pub fn current_leader(pods: &[PodObs]) -> Option<(&PodObs, &NodeStatus)> {
    answering(pods)
        .filter(|(_, n)| n.is_leader)
        .max_by_key(|(_, n)| n.term)
}

impl Observed {
    fn nodes(&self) -> impl Iterator<Item = (&PodObs, &NodeStatus)> {
        answering(&self.pods)
    }

    fn lag(&self, view: &View, id: NodeId) -> u64 {
        if id == view.leader.node_id {
            return 0;
        }
        self.progress.get(&id).map(|p| p.lag).unwrap_or(u64::MAX)
    }

    /// A voter counts as healthy when the operator reaches it and it is caught up.
    fn healthy(&self, view: &View, id: NodeId) -> bool {
        view.pod_of.contains_key(&id) && self.lag(view, id) <= self.max_learner_lag
    }

    /// The voters other than `id` that are healthy.
    fn healthy_others<'v>(
        &'v self,
        view: &'v View,
        id: NodeId,
    ) -> impl Iterator<Item = NodeId> + 'v {
        view.voters
            .iter()
            .copied()
            .filter(move |v| *v != id && self.healthy(view, *v))
    }

    /// Where leadership goes when voter `id` must give it up: the most caught-up healthy
    /// other voter.
    fn successor(&self, view: &View, id: NodeId) -> Option<NodeId> {
        self.healthy_others(view, id)
            .min_by_key(|v| self.lag(view, *v))
    }

    fn recorded_pod(&self, id: NodeId) -> Option<&str> {
        self.memory
            .members
            .iter()
            .find(|m| m.node_id == id)
            .and_then(|m| m.pod.as_deref())
    }

    fn pod(&self, name: &str) -> Option<&PodObs> {
        self.pods.iter().find(|p| p.name == name)
    }

    fn expired(&self, op: &PendingOperation) -> bool {
        match op.started_at.parse::<Timestamp>() {
            Ok(started) => {
                let elapsed = self.now.duration_since(started);
                elapsed.as_secs() >= 0 && elapsed.unsigned_abs() >= self.catch_up_timeout
            }
            Err(_) => true,
        }
    }

    fn pending(&self, kind: OperationKind, pod: &str, node_id: Option<NodeId>) -> Pending {
        Pending::Set(PendingOperation {
            kind,
            pod: pod.to_string(),
            node_id,
            started_at: self.now.to_string(),
        })
    }
}

/// A pod whose node must not be trusted under the id it reports: its volume is not the one
/// that node id was recorded on (a restored snapshot, an old copy: the log may be behind
/// what it acknowledged), or it belongs to another cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impostor {
    pub pod: String,
    pub ordinal: u32,
    pub node_id: NodeId,
}

/// `o` with the nodes of impostor pods taken out (as if they did not answer: they count for
/// no quorum, lead nothing, and their volume uid is never recorded for the id), and those pods.
/// Identity is the node id *and* the volume it lives on *and* the cluster it belongs to.
pub fn screen(o: &Observed) -> (std::borrow::Cow<'_, Observed>, Vec<Impostor>) {
    let foreign = |n: &NodeStatus| {
        matches!(
            (o.memory.cluster_id.as_deref(), n.cluster_id.as_deref()),
            (Some(ours), Some(theirs)) if ours != theirs
        )
    };
    let other_volume = |p: &PodObs, n: &NodeStatus| {
        o.memory.members.iter().any(|m| {
            m.node_id == n.node_id
                && m.pvc_uid.is_some()
                && p.pvc_uid.is_some()
                && m.pvc_uid != p.pvc_uid
        })
    };
    let impostors: Vec<Impostor> = o
        .nodes()
        .filter(|(p, n)| foreign(n) || other_volume(p, n))
        .map(|(p, n)| Impostor {
            pod: p.name.clone(),
            ordinal: p.ordinal,
            node_id: n.node_id,
        })
        .collect();
    if impostors.is_empty() {
        return (std::borrow::Cow::Borrowed(o), impostors);
    }
    let mut screened = o.clone();
    for p in &mut screened.pods {
        if impostors.iter().any(|i| i.pod == p.name) {
            p.node = None;
        }
    }
    (std::borrow::Cow::Owned(screened), impostors)
}

/// The next step for the observed cluster.
pub fn plan(o: &Observed) -> Step {
    // One node id on two pods means a copied volume: two incarnations of one Raft member.
    let mut pod_of_id: BTreeMap<NodeId, &str> = BTreeMap::new();
    for (pod, node) in o.nodes() {
        if let Some(other) = pod_of_id.insert(node.node_id, &pod.name) {
            return Step::new(Action::Halt {
                reason: format!(
                    "pods {other} and {} both report node id {} (a copied volume?); refusing to touch membership",
                    pod.name, node.node_id
                ),
            });
        }
    }

    // Not one node answers while the kubelet finds pods ready: the fault is between the
    // operator and the pods, not in the cluster (which may well be serving). Asked before the
    // screening: an impostor does answer.
    let unreachable = o
        .nodes()
        .next()
        .is_none()
        .then(|| o.pods.iter().filter(|p| p.ready && !p.terminating).count())
        .filter(|ready| *ready > 0);
    let (o, impostors) = screen(o);
    plan_screened(&o, &impostors, unreachable)
}

fn plan_screened(o: &Observed, impostors: &[Impostor], unreachable: Option<usize>) -> Step {
    let sts = o.sts_replicas.unwrap_or(0);
    // More pods first: a new pod starts blank and waits to be added, which is always safe.
    if sts < o.desired_replicas {
        return Step::new(Action::ScaleStatefulSet {
            replicas: o.desired_replicas,
        });
    }

    if let Some(step) = unstick_pods(o) {
        return step;
    }

    if let Some(ready) = unreachable {
        return Step::new(Action::Unreachable { ready });
    }

    let cluster_ids: BTreeSet<&str> = o
        .nodes()
        .filter_map(|(_, n)| n.cluster_id.as_deref())
        .chain(o.memory.cluster_id.as_deref())
        .collect();
    if cluster_ids.len() > 1 {
        let ids: Vec<&str> = cluster_ids.into_iter().collect();
        return Step::new(Action::Halt {
            reason: format!(
                "pods belong to different clusters ({}); refusing to touch membership",
                ids.join(", ")
            ),
        });
    }

    if !o.memory.bootstrapped {
        return plan_bootstrap(o, cluster_ids.into_iter().next());
    }

    let leader = current_leader(&o.pods);
    let voters: BTreeSet<NodeId> = match leader {
        Some((_, n)) => n.members.clone(),
        None => o
            .nodes()
            .max_by_key(|(_, n)| n.term)
            .map(|(_, n)| n.members.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                o.memory
                    .members
                    .iter()
                    .filter(|m| m.role != crate::crd::MemberRole::Learner)
                    .map(|m| m.node_id)
                    .collect()
            }),
    };
    let reachable = voters
        .iter()
        .filter(|v| o.nodes().any(|(_, n)| n.node_id == **v))
        .count();
    if voters.is_empty() {
        // Just initialized: the first membership is not visible yet.
        return Step::wait("no membership visible yet");
    }
    if reachable < majority(voters.len()) {
        return Step::new(Action::QuorumLost {
            reachable,
            voters: voters.len(),
        });
    }
    let Some((leader_pod, leader)) = leader else {
        return Step::wait("no leader elected yet");
    };
    let view = View {
        leader,
        leader_addr: &leader_pod.admin_addr,
        voters: &leader.members,
        learners: &leader.learners,
        pod_of: o.nodes().map(|(p, n)| (n.node_id, p)).collect(),
    };

    if let Some(step) = evict_impostors(o, &view, impostors) {
        return step;
    }
    if let Some(step) = finish_pending(o, &view) {
        return step;
    }
    if let Some(step) = settle_learners(o, &view) {
        return step;
    }
    if let Some(step) = shrink(o, &view) {
        return step;
    }
    if let Some(step) = add_new_nodes(o, &view) {
        return step;
    }
    if sts > o.desired_replicas {
        return Step::new(Action::ScaleStatefulSet {
            replicas: o.desired_replicas,
        });
    }
    if let Some(step) = reclaim_volumes(o) {
        return step;
    }
    // Idle means converged: every wanted pod runs a voter.
    let missing = (0..o.desired_replicas).find(|ordinal| {
        !o.pods.iter().any(|p| {
            p.ordinal == *ordinal
                && p.node
                    .as_ref()
                    .is_some_and(|n| view.voters.contains(&n.node_id))
        })
    });
    if let Some(ordinal) = missing {
        return Step::wait(format!("waiting for pod {ordinal} to run as a voter"));
    }
    if let Some(step) = roll(o, &view) {
        return step;
    }
    Step::new(Action::Idle)
}

fn plan_bootstrap(o: &Observed, existing: Option<&str>) -> Step {
    if let Some(id) = existing {
        return Step::new(Action::Adopt {
            cluster_id: id.to_string(),
        });
    }
    // Init exactly one node, pod 0 alone; everyone else joins like a scale-up.
    match o.pods.iter().find(|p| p.ordinal == 0) {
        Some(pod) => match &pod.node {
            Some(n) if n.members.is_empty() && n.learners.is_empty() => Step::new(Action::Init {
                pod: pod.name.clone(),
                addr: pod.admin_addr.clone(),
            }),
            Some(_) => Step::wait("pod 0 reports a membership but no cluster id yet"),
            None => Step::wait("waiting for pod 0 to answer"),
        },
        None => Step::wait("waiting for pod 0 to be created"),
    }
}

/// A pod the StatefulSet created while its claim was being deleted (kubernetes/kubernetes#74374:
/// deleting a claim and then its pod) stays Pending for ever: its claim is gone or going, and
/// the StatefulSet creates claims only for pods it creates. Deleting the pod again makes the
/// StatefulSet create both afresh. Safe at any time: no node runs in a Pending pod.
fn unstick_pods(o: &Observed) -> Option<Step> {
    o.pods
        .iter()
        .filter(|p| p.pending && !p.terminating)
        .find_map(|p| {
            let claim = o.pvcs.iter().find(|c| c.ordinal == p.ordinal);
            let why = match claim {
                None => "is missing",
                Some(c) if c.terminating => "is being deleted",
                Some(_) => return None,
            };
            Some(Step::new(Action::DeletePod {
                pod: p.name.clone(),
                reason: format!(
                    "it is Pending and its volume claim {} {why} (kubernetes/kubernetes#74374); \
                     the StatefulSet recreates both",
                    claim.map_or_else(|| format!("data-{}", p.name), |c| c.name.clone())
                ),
            }))
        })
}

/// Takes the seat of each impostor's node id away (through the usual safe removal, leadership
/// handed over first), then replaces its volume so that its pod comes back blank and joins as
/// a new member. An impostor cannot lead a healthy cluster: Raft elects only a candidate whose
/// log is at least as up to date as a majority's, which a restored old log is not.
fn evict_impostors(o: &Observed, view: &View, impostors: &[Impostor]) -> Option<Step> {
    for imp in impostors {
        let id = imp.node_id;
        if view.voters.contains(&id) {
            if let Some(step) =
                remove_voter(o, view, id, Some(imp.pod.clone()), RemoveReason::Replaced)
            {
                return Some(step);
            }
            continue;
        }
        if view.learners.contains(&id) {
            return Some(Step::new(Action::RemoveMember {
                leader: view.leader_addr.to_string(),
                node_id: id,
                pod: Some(imp.pod.clone()),
                reason: RemoveReason::Replaced,
            }));
        }
        return Some(Step::new(Action::DeletePodAndPvc {
            pod: imp.pod.clone(),
            pvc: o
                .pvcs
                .iter()
                .find(|c| c.ordinal == imp.ordinal)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| format!("data-{}", imp.pod)),
            node_id: id,
        }));
    }
    None
}

/// Carries on (or rolls back) what a previous reconcile started.
fn finish_pending(o: &Observed, view: &View) -> Option<Step> {
    let op = o.memory.pending.as_ref()?;
    match op.kind {
        OperationKind::Grow => {
            let id = op.node_id?;
            if view.voters.contains(&id) || !view.learners.contains(&id) {
                // Promoted, or gone: either way nothing of it is left to finish.
                return Some(Step::wait("growth step finished").with(Pending::Clear));
            }
            if o.lag(view, id) <= o.max_learner_lag && view.pod_of.contains_key(&id) {
                return Some(Step::new(Action::Promote {
                    leader: view.leader_addr.to_string(),
                    pod: op.pod.clone(),
                    node_id: id,
                }));
            }
            if o.expired(op) {
                // Roll back: a learner that cannot catch up is removed; the pod is retried.
                return Some(
                    Step::new(Action::RemoveMember {
                        leader: view.leader_addr.to_string(),
                        node_id: id,
                        pod: Some(op.pod.clone()),
                        reason: RemoveReason::StrayLearner,
                    })
                    .with(Pending::Clear),
                );
            }
            Some(Step::wait(format!(
                "learner {id} ({}) catching up, {} entries behind",
                op.pod,
                o.lag(view, id)
            )))
        }
        OperationKind::Shrink => {
            let id = op.node_id?;
            if !view.voters.contains(&id) && !view.learners.contains(&id) {
                return Some(Step::wait("node removed").with(Pending::Clear));
            }
            remove_voter(o, view, id, Some(op.pod.clone()), RemoveReason::Shrink)
        }
        OperationKind::Roll => {
            let done = o.pod(&op.pod).is_some_and(|p| {
                !p.terminating
                    && p.ready
                    && p.revision.as_deref() == Some(o.revision.as_str())
                    && p.node.as_ref().is_some_and(|n| {
                        o.healthy(view, n.node_id) && view.voters.contains(&n.node_id)
                    })
            });
            let not_deleted = o
                .pod(&op.pod)
                .filter(|p| !p.terminating && p.revision.as_deref() != Some(o.revision.as_str()));
            if done {
                Some(Step::wait(format!("{} restarted", op.pod)).with(Pending::Clear))
            } else if let Some(p) = not_deleted {
                // The intent was recorded but the pod was never deleted (the operator stopped,
                // or the call failed): delete it now, under the same rules as the roll.
                let id = p.node.as_ref().map(|n| n.node_id);
                let others = id.map_or(0, |id| o.healthy_others(view, id).count());
                if id == Some(view.leader.node_id) || others < majority(view.voters.len()) {
                    // Let the roll plan it afresh (handing leadership over first).
                    return Some(
                        Step::wait(format!("{} not restarted yet", op.pod)).with(Pending::Clear),
                    );
                }
                Some(Step::new(Action::DeletePod {
                    pod: op.pod.clone(),
                    reason: format!("rolling onto revision {}", o.revision),
                }))
            } else if o.pod(&op.pod).is_some_and(|p| {
                p.node.as_ref().is_some_and(|n| {
                    !view.voters.contains(&n.node_id) && !view.learners.contains(&n.node_id)
                })
            }) {
                // It came back as a different node (its volume was lost): replacement rules apply.
                Some(Step::wait(format!("{} came back as a new node", op.pod)).with(Pending::Clear))
            } else {
                Some(Step::wait(format!(
                    "waiting for {} to restart and catch up",
                    op.pod
                )))
            }
        }
    }
}

/// Learners: promote the caught-up ones that a pod wants, remove the ones nobody wants.
fn settle_learners(o: &Observed, view: &View) -> Option<Step> {
    for &id in view.learners {
        let wanted = view
            .pod_of
            .get(&id)
            .is_some_and(|p| p.ordinal < o.desired_replicas && !p.terminating);
        let recorded_wanted = o
            .recorded_pod(id)
            .and_then(|name| o.pod(name))
            .is_some_and(|p| p.ordinal < o.desired_replicas && p.node.is_none());
        if wanted {
            let pod = view.pod_of[&id];
            if o.lag(view, id) <= o.max_learner_lag {
                return Some(Step::new(Action::Promote {
                    leader: view.leader_addr.to_string(),
                    pod: pod.name.clone(),
                    node_id: id,
                }));
            }
            return Some(
                Step::wait(format!("learner {id} ({}) catching up", pod.name)).with(o.pending(
                    OperationKind::Grow,
                    &pod.name,
                    Some(id),
                )),
            );
        }
        if recorded_wanted {
            // Its pod is restarting; it keeps its place.
            continue;
        }
        return Some(Step::new(Action::RemoveMember {
            leader: view.leader_addr.to_string(),
            node_id: id,
            pod: view.pod_of.get(&id).map(|p| p.name.clone()),
            reason: RemoveReason::StrayLearner,
        }));
    }
    None
}

/// Removes the voter of the highest-ordinal pod beyond the desired count.
fn shrink(o: &Observed, view: &View) -> Option<Step> {
    let victim = view
        .voters
        .iter()
        .filter_map(|&id| {
            let pod = view
                .pod_of
                .get(&id)
                .map(|p| (p.ordinal, p.name.clone()))
                .or_else(|| {
                    let name = o.recorded_pod(id)?;
                    let ordinal = name.rsplit('-').next()?.parse().ok()?;
                    Some((ordinal, name.to_string()))
                })?;
            (pod.0 >= o.desired_replicas).then_some((pod, id))
        })
        .max()?;
    let ((_, pod), id) = victim;
    remove_voter(o, view, id, Some(pod), RemoveReason::Shrink)
}

/// Removes voter `id` if what remains is a healthy majority; hands leadership away first.
fn remove_voter(
    o: &Observed,
    view: &View,
    id: NodeId,
    pod: Option<String>,
    reason: RemoveReason,
) -> Option<Step> {
    let pending = match (reason, &pod) {
        (RemoveReason::Shrink, Some(pod)) => o.pending(OperationKind::Shrink, pod, Some(id)),
        _ => Pending::Keep,
    };
    let pending = match (&o.memory.pending, pending) {
        (Some(op), Pending::Set(_))
            if op.kind == OperationKind::Shrink && op.node_id == Some(id) =>
        {
            Pending::Keep
        }
        (_, p) => p,
    };
    if !view.voters.contains(&id) {
        return Some(Step::new(Action::RemoveMember {
            leader: view.leader_addr.to_string(),
            node_id: id,
            pod,
            reason,
        }));
    }
    let remaining: Vec<NodeId> = view.voters.iter().copied().filter(|v| *v != id).collect();
    if remaining.is_empty() {
        return Some(Step::new(Action::Halt {
            reason: format!("refusing to remove node {id}: it is the last voter"),
        }));
    }
    let healthy = o.healthy_others(view, id).count();
    if healthy < majority(remaining.len()) {
        return Some(Step::wait(format!(
            "refusing to remove node {id}: only {healthy} of the {} remaining voters are healthy",
            remaining.len()
        )));
    }
    if id == view.leader.node_id {
        let to = o.successor(view, id)?;
        return Some(
            Step::new(Action::TransferLeader {
                leader: view.leader_addr.to_string(),
                from: id,
                to,
            })
            .with(pending),
        );
    }
    Some(
        Step::new(Action::RemoveMember {
            leader: view.leader_addr.to_string(),
            node_id: id,
            pod,
            reason,
        })
        .with(pending),
    )
}

/// Pods the cluster wants whose node is not a member: stale volumes go, replaced nodes'
/// old ids are removed, new nodes are added as learners (one at a time).
fn add_new_nodes(o: &Observed, view: &View) -> Option<Step> {
    let mut wanted: Vec<&PodObs> = o
        .pods
        .iter()
        .filter(|p| p.ordinal < o.desired_replicas && !p.terminating)
        .collect();
    wanted.sort_by_key(|p| p.ordinal);
    for pod in wanted {
        let Some(node) = &pod.node else { continue };
        let id = node.node_id;
        if view.voters.contains(&id) || view.learners.contains(&id) {
            continue;
        }
        if o.memory.retired_node_ids.contains(&id) {
            return Some(Step::new(Action::DeletePodAndPvc {
                pod: pod.name.clone(),
                pvc: o
                    .pvcs
                    .iter()
                    .find(|c| c.ordinal == pod.ordinal)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| format!("data-{}", pod.name)),
                node_id: id,
            }));
        }
        // The pod's previous incarnation still holds a voter seat: free it first.
        let old = o
            .memory
            .members
            .iter()
            .filter(|m| m.pod.as_deref() == Some(pod.name.as_str()) && m.node_id != id)
            .map(|m| m.node_id)
            .find(|old| view.voters.contains(old) || view.learners.contains(old));
        if let Some(old) = old {
            if view.learners.contains(&old) {
                return Some(Step::new(Action::RemoveMember {
                    leader: view.leader_addr.to_string(),
                    node_id: old,
                    pod: Some(pod.name.clone()),
                    reason: RemoveReason::Replaced,
                }));
            }
            return remove_voter(o, view, old, Some(pod.name.clone()), RemoveReason::Replaced);
        }
        return Some(
            Step::new(Action::AddLearner {
                leader: view.leader_addr.to_string(),
                pod: pod.name.clone(),
                node_id: id,
                raft_addr: pod.raft_addr.clone(),
                resp_addr: pod.resp_addr.clone(),
            })
            .with(o.pending(OperationKind::Grow, &pod.name, Some(id))),
        );
    }
    None
}

/// Volumes of ordinals the StatefulSet no longer runs, once their pods are gone.
fn reclaim_volumes(o: &Observed) -> Option<Step> {
    if !o.reclaim_on_scale_down {
        return None;
    }
    o.pvcs
        .iter()
        .filter(|c| c.ordinal >= o.desired_replicas)
        .find(|c| !o.pods.iter().any(|p| p.ordinal == c.ordinal))
        .map(|c| {
            Step::new(Action::DeletePvc {
                pvc: c.name.clone(),
            })
        })
}

/// Restarts pods on an old revision: followers first (highest ordinal first), leader last,
/// each only while the other voters keep a caught-up majority.
fn roll(o: &Observed, view: &View) -> Option<Step> {
    let mut stale: Vec<&PodObs> = o
        .pods
        .iter()
        .filter(|p| p.ordinal < o.desired_replicas)
        .filter(|p| p.revision.as_deref() != Some(o.revision.as_str()))
        .collect();
    if stale.is_empty() {
        return None;
    }
    // Only from a settled cluster: every wanted pod a healthy voter.
    let unsettled =
        o.pods
            .iter()
            .filter(|p| p.ordinal < o.desired_replicas)
            .find(|p| {
                p.terminating
                    || !p.ready
                    || !p.node.as_ref().is_some_and(|n| {
                        view.voters.contains(&n.node_id) && o.healthy(view, n.node_id)
                    })
            });
    if let Some(p) = unsettled {
        return Some(Step::wait(format!(
            "waiting for {} to be a ready, caught-up voter before rolling",
            p.name
        )));
    }
    let leader_id = view.leader.node_id;
    stale.sort_by_key(|p| {
        let leads = p.node.as_ref().is_some_and(|n| n.node_id == leader_id);
        (leads, std::cmp::Reverse(p.ordinal))
    });
    let pod = stale[0];
    let id = pod.node.as_ref()?.node_id;
    if view.voters.len() > 1 {
        let caught_up_others = o.healthy_others(view, id).count();
        if caught_up_others < majority(view.voters.len()) {
            return Some(Step::wait(format!(
                "not restarting {}: only {caught_up_others} other voters are caught up",
                pod.name
            )));
        }
        if id == leader_id {
            let to = o.successor(view, id)?;
            return Some(Step::new(Action::TransferLeader {
                leader: view.leader_addr.to_string(),
                from: id,
                to,
            }));
        }
    }
    Some(
        Step::new(Action::DeletePod {
            pod: pod.name.clone(),
            reason: format!("rolling onto revision {}", o.revision),
        })
        .with(o.pending(OperationKind::Roll, &pod.name, Some(id))),
    )
}

#[cfg(test)]
mod tests;
