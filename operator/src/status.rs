//! The status written back to the KiwiCluster: phase, members, leader and conditions, derived
//! from the observation, the step taken and the operator's memory. `Available` means what it
//! says: a leader is known and a majority of voters answers, never merely "pods exist".

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::admin::NodeId;
use crate::crd::{KiwiClusterStatus, LeaderStatus, MemberRole, MemberStatus, OperationKind, Phase};
use crate::plan::{answering, current_leader, majority, Action, Memory, Observed, Step};

/// What became of the planned step: the status reports what happened, not what was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out (or there was nothing to carry out).
    Done,
    /// Not attempted: the cluster is paused.
    Paused,
    /// Attempted and failed: `reason` is a CamelCase word, `message` names what failed.
    Failed { reason: String, message: String },
}

/// Builds the status. `previous` supplies condition transition times.
#[allow(clippy::too_many_arguments)]
pub fn build(
    generation: Option<i64>,
    selector: String,
    o: &Observed,
    step: &Step,
    outcome: &Outcome,
    memory: &Memory,
    previous: &KiwiClusterStatus,
    now: Timestamp,
) -> KiwiClusterStatus {
    // Nodes on a volume or from a cluster their id was not recorded with are not the members
    // they claim to be: reported as not answering, and their volume never recorded for the id.
    let (o, _) = crate::plan::screen(o);
    let o = o.as_ref();
    // A step not carried out claims nothing: the phase and conditions then come from the
    // observation alone.
    let not_done = Step {
        action: Action::Wait {
            reason: String::new(),
        },
        pending: step.pending.clone(),
    };
    let step = match (outcome, &step.action) {
        (Outcome::Done, _) => step,
        // What the plan observed rather than did stays true.
        (_, Action::QuorumLost { .. } | Action::Halt { .. } | Action::Unreachable { .. }) => step,
        _ => &not_done,
    };
    let nodes: Vec<_> = answering(&o.pods).collect();
    let leader = current_leader(&o.pods);
    let members = match leader {
        Some((_, l)) => {
            let ids: BTreeSet<NodeId> = l.members.union(&l.learners).copied().collect();
            ids.into_iter()
                .map(|id| {
                    let pod = nodes.iter().find(|(_, n)| n.node_id == id).map(|(p, _)| *p);
                    let recorded = memory.members.iter().find(|m| m.node_id == id);
                    let leaving = memory.pending.as_ref().is_some_and(|op| {
                        op.kind == OperationKind::Shrink && op.node_id == Some(id)
                    });
                    let role = if leaving {
                        MemberRole::Leaving
                    } else if l.members.contains(&id) {
                        MemberRole::Voter
                    } else {
                        MemberRole::Learner
                    };
                    let matched = if id == l.node_id {
                        Some(l.last_log_index)
                    } else {
                        o.progress.get(&id).and_then(|p| p.matched)
                    };
                    let healthy = pod.is_some()
                        && (id == l.node_id
                            || o.progress
                                .get(&id)
                                .is_some_and(|p| p.lag <= o.max_learner_lag));
                    MemberStatus {
                        node_id: id,
                        pod: pod
                            .map(|p| p.name.clone())
                            .or_else(|| recorded.and_then(|m| m.pod.clone())),
                        pvc_uid: pod
                            .and_then(|p| p.pvc_uid.clone())
                            .or_else(|| recorded.and_then(|m| m.pvc_uid.clone())),
                        role,
                        healthy,
                        matched_index: matched,
                    }
                })
                .collect()
        }
        // Without a leader the membership is unknown: keep the last one, marked unhealthy
        // where the node does not answer.
        None => memory
            .members
            .iter()
            .map(|m| MemberStatus {
                healthy: nodes.iter().any(|(_, n)| n.node_id == m.node_id),
                ..m.clone()
            })
            .collect::<Vec<_>>(),
    };
    let voters: Vec<&MemberStatus> = members
        .iter()
        .filter(|m| m.role != MemberRole::Learner)
        .collect();
    let healthy_voters = voters.iter().filter(|m| m.healthy).count();
    let available =
        leader.is_some() && !voters.is_empty() && healthy_voters >= majority(voters.len());
    let all_healthy = !voters.is_empty() && healthy_voters == voters.len();
    let rolling = memory
        .pending
        .as_ref()
        .is_some_and(|op| op.kind == OperationKind::Roll)
        || matches!(step.action, Action::DeletePod { .. })
        || o.pods
            .iter()
            .any(|p| p.revision.as_deref() != Some(o.revision.as_str()));
    let settled = matches!(step.action, Action::Idle);
    // Scaling: the membership or the StatefulSet is not yet what the spec asks for (a member
    // that is merely down is Degraded, not Scaling).
    let scaling = o.sts_replicas != Some(o.desired_replicas)
        || voters.len() != o.desired_replicas as usize
        || members.iter().any(|m| m.role != MemberRole::Voter)
        || memory
            .pending
            .as_ref()
            .is_some_and(|op| matches!(op.kind, OperationKind::Grow | OperationKind::Shrink));
    let ready_replicas = o
        .pods
        .iter()
        .filter(|p| {
            p.ready
                && p.node
                    .as_ref()
                    .is_some_and(|n| voters.iter().any(|v| v.node_id == n.node_id))
        })
        .count() as i32;
    // Healthy in Raft's eyes is not enough: until their readiness probes pass, the client
    // Service sends nobody to the pods.
    let all_ready = ready_replicas as usize >= voters.len();
    let phase = match &step.action {
        _ if *outcome == Outcome::Paused => Phase::Paused,
        Action::Halt { .. } => Phase::Halted,
        Action::Unreachable { .. } => Phase::Unreachable,
        Action::QuorumLost { .. } => Phase::QuorumLost,
        _ if !memory.bootstrapped => Phase::Pending,
        Action::Init { .. } | Action::Adopt { .. } => Phase::Initializing,
        _ if !available => Phase::Degraded,
        _ if rolling && !settled => Phase::Rolling,
        _ if scaling => Phase::Scaling,
        _ if !all_healthy || !all_ready => Phase::Degraded,
        _ => Phase::Running,
    };

    let condition = |type_: &str, status: bool, reason: &str, message: String| {
        let status = if status { "True" } else { "False" };
        let since = previous
            .conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            last_transition_time: since,
            observed_generation: generation,
        }
    };
    let quorum_lost = matches!(step.action, Action::QuorumLost { .. });
    let mut conditions = vec![
        condition(
            "Available",
            available,
            if available {
                "QuorumReachable"
            } else {
                "NoQuorum"
            },
            format!(
                "{healthy_voters} of {} voters healthy, leader {}",
                voters.len(),
                leader.map(|(p, _)| p.name.as_str()).unwrap_or("unknown")
            ),
        ),
        match outcome {
            Outcome::Done => condition(
                "Progressing",
                crate::act::changes_something(&step.action)
                    || matches!(step.action, Action::Wait { .. }),
                crate::act::kind(&step.action),
                crate::act::describe(&step.action),
            ),
            Outcome::Paused => condition(
                "Progressing",
                false,
                "Paused",
                "spec.paused is true: the operator observes and changes nothing".into(),
            ),
            Outcome::Failed { reason, message } => {
                condition("Progressing", false, reason, message.clone())
            }
        },
        condition(
            "Degraded",
            !all_healthy || !all_ready || matches!(step.action, Action::Halt { .. }),
            if !all_healthy {
                "MembersUnhealthy"
            } else if !all_ready {
                "PodsNotReady"
            } else {
                "AllMembersHealthy"
            },
            format!(
                "{healthy_voters} of {} voters healthy, {ready_replicas} ready",
                voters.len()
            ),
        ),
        condition(
            "QuorumLost",
            quorum_lost,
            if quorum_lost {
                "MajorityUnreachable"
            } else {
                "MajorityReachable"
            },
            crate::act::describe(&step.action),
        ),
    ];
    let unreachable = matches!(step.action, Action::Unreachable { .. });
    conditions.push(condition(
        "Reachable",
        !unreachable,
        if unreachable {
            "OperatorCannotReachPods"
        } else {
            "PodsAnswer"
        },
        if unreachable {
            crate::act::describe(&step.action)
        } else {
            format!(
                "{} of {} pods answer the operator",
                nodes.len(),
                o.pods.len()
            )
        },
    ));
    if o.desired_replicas.is_multiple_of(2) {
        conditions.push(condition(
            "EvenReplicas",
            true,
            "EvenReplicas",
            format!(
                "{} voters tolerate no more failures than {}; prefer an odd number",
                o.desired_replicas,
                o.desired_replicas - 1
            ),
        ));
    }

    KiwiClusterStatus {
        observed_generation: generation,
        phase,
        replicas: o.pods.len() as i32,
        ready_replicas,
        selector,
        bootstrapped: memory.bootstrapped,
        cluster_id: memory
            .cluster_id
            .clone()
            .or_else(|| nodes.iter().find_map(|(_, n)| n.cluster_id.clone())),
        leader: leader.map(|(p, n)| LeaderStatus {
            node_id: n.node_id,
            pod: Some(p.name.clone()),
        }),
        term: nodes
            .iter()
            .map(|(_, n)| n.term)
            .max()
            .unwrap_or(previous.term),
        members,
        retired_node_ids: memory.retired_node_ids.iter().copied().collect(),
        pending_operation: memory.pending.clone(),
        current_revision: (!rolling)
            .then(|| o.revision.clone())
            .or_else(|| previous.current_revision.clone()),
        conditions,
    }
}

/// `previous` with the Progressing condition set to False for `reason`: a reconcile that
/// stopped before it could observe the pods says why, and changes nothing else it reported.
pub fn with_failure(
    previous: &KiwiClusterStatus,
    generation: Option<i64>,
    reason: &str,
    message: String,
    now: Timestamp,
) -> KiwiClusterStatus {
    let mut status = previous.clone();
    status.observed_generation = generation;
    let since = previous
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    status.conditions.retain(|c| c.type_ != "Progressing");
    status.conditions.push(Condition {
        type_: "Progressing".into(),
        status: "False".into(),
        reason: reason.into(),
        message,
        last_transition_time: since,
        observed_generation: generation,
    });
    status
}

/// The memory the planner starts from: what the last status recorded.
pub fn memory_of(status: &KiwiClusterStatus) -> Memory {
    Memory {
        bootstrapped: status.bootstrapped,
        cluster_id: status.cluster_id.clone(),
        members: status.members.clone(),
        retired_node_ids: status.retired_node_ids.iter().copied().collect(),
        pending: status.pending_operation.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use super::*;
    use crate::admin::{NodeStatus, Progress};
    use crate::plan::{PodObs, Timestamp};

    fn observed(leader: Option<u64>, answering: &[u64]) -> Observed {
        let voters: BTreeSet<u64> = [1, 2, 3].into();
        let pods = (1..=3u64)
            .map(|id| PodObs {
                name: format!("demo-{}", id - 1),
                ordinal: id as u32 - 1,
                pvc_uid: Some(format!("uid-{id}")),
                ready: answering.contains(&id),
                terminating: false,
                pending: false,
                revision: Some("r".into()),
                admin_addr: String::new(),
                raft_addr: String::new(),
                resp_addr: String::new(),
                node: answering.contains(&id).then(|| NodeStatus {
                    node_id: id,
                    cluster_id: Some("c1".into()),
                    is_leader: leader == Some(id),
                    leader_id: leader,
                    term: 2,
                    commit_index: 10,
                    applied_index: 10,
                    last_log_index: 10,
                    members: voters.clone(),
                    learners: BTreeSet::new(),
                    raft_addr: String::new(),
                    resp_addr: String::new(),
                }),
            })
            .collect();
        Observed {
            desired_replicas: 3,
            sts_replicas: Some(3),
            pods,
            pvcs: Vec::new(),
            progress: answering
                .iter()
                .map(|id| {
                    (
                        *id,
                        Progress {
                            matched: Some(10),
                            lag: 0,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            memory: Memory {
                bootstrapped: true,
                cluster_id: Some("c1".into()),
                ..Memory::default()
            },
            revision: "r".into(),
            max_learner_lag: 10,
            catch_up_timeout: Duration::from_secs(60),
            reclaim_on_scale_down: true,
            now: Timestamp::UNIX_EPOCH,
        }
    }

    fn condition<'a>(s: &'a KiwiClusterStatus, type_: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    fn build_for(o: &Observed) -> KiwiClusterStatus {
        let step = crate::plan::plan(o);
        build(
            Some(4),
            "sel".into(),
            o,
            &step,
            &Outcome::Done,
            &o.memory,
            &KiwiClusterStatus::default(),
            o.now,
        )
    }

    #[test]
    fn a_healthy_cluster_is_running_and_available() {
        let s = build_for(&observed(Some(1), &[1, 2, 3]));
        assert_eq!(s.phase, Phase::Running);
        assert_eq!(condition(&s, "Available").status, "True");
        assert_eq!(condition(&s, "Degraded").status, "False");
        assert_eq!(s.ready_replicas, 3);
        assert_eq!(s.leader.as_ref().map(|l| l.node_id), Some(1));
        assert_eq!(s.members.len(), 3);
        assert!(s
            .members
            .iter()
            .all(|m| m.healthy && m.role == MemberRole::Voter));
        assert_eq!(s.observed_generation, Some(4));
    }

    #[test]
    fn one_member_down_is_degraded_but_available() {
        let s = build_for(&observed(Some(1), &[1, 2]));
        assert_eq!(s.phase, Phase::Degraded);
        assert_eq!(condition(&s, "Available").status, "True");
        assert_eq!(condition(&s, "Degraded").status, "True");
        assert_eq!(s.members.iter().filter(|m| !m.healthy).count(), 1);
        assert_eq!(s.ready_replicas, 2);
    }

    #[test]
    fn a_membership_short_of_the_spec_is_scaling() {
        let mut o = observed(Some(1), &[1, 2, 3]);
        o.desired_replicas = 5;
        o.sts_replicas = Some(5);
        let s = build_for(&o);
        assert_eq!(s.phase, Phase::Scaling);
        assert_eq!(condition(&s, "Available").status, "True");
    }

    #[test]
    fn a_cluster_whose_pods_are_not_ready_is_not_running() {
        let mut o = observed(Some(1), &[1, 2, 3]);
        for p in &mut o.pods {
            p.ready = false;
        }
        let s = build_for(&o);
        assert_eq!(s.ready_replicas, 0);
        assert_eq!(s.phase, Phase::Degraded);
        assert_eq!(condition(&s, "Degraded").reason, "PodsNotReady");
    }

    #[test]
    fn ready_pods_none_of_which_answers_mean_the_operator_cannot_reach_them() {
        let mut o = observed(Some(1), &[]);
        for p in &mut o.pods {
            p.ready = true;
        }
        let s = build_for(&o);
        assert_eq!(s.phase, Phase::Unreachable);
        let reachable = condition(&s, "Reachable");
        assert_eq!(reachable.status, "False");
        assert_eq!(reachable.reason, "OperatorCannotReachPods");
        assert!(
            reachable.message.contains("inside the cluster"),
            "{}",
            reachable.message
        );
        assert_eq!(condition(&s, "QuorumLost").status, "False");
        // Pods that are down themselves are what QuorumLost is for.
        let s = build_for(&observed(Some(1), &[1]));
        assert_eq!(s.phase, Phase::QuorumLost);
        assert_eq!(condition(&s, "Reachable").status, "True");
    }

    #[test]
    fn pods_without_a_reachable_majority_are_never_available() {
        let s = build_for(&observed(Some(1), &[1]));
        assert_eq!(s.phase, Phase::QuorumLost);
        assert_eq!(condition(&s, "Available").status, "False");
        assert_eq!(condition(&s, "QuorumLost").status, "True");
        // No leader known: not available either, whatever the pods say.
        let s = build_for(&observed(None, &[1, 2, 3]));
        assert_eq!(condition(&s, "Available").status, "False");
    }
}
