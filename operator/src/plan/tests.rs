//! Table tests of the planner: one observed situation each, and the one step it must take.

use super::*;
use crate::crd::MemberRole;

const REV: &str = "rev-new";

fn node(id: NodeId, leader: NodeId, voters: &[NodeId], learners: &[NodeId]) -> NodeStatus {
    NodeStatus {
        node_id: id,
        cluster_id: Some("c1".into()),
        is_leader: id == leader,
        leader_id: Some(leader),
        term: 3,
        commit_index: 100,
        applied_index: 100,
        last_log_index: 100,
        members: voters.iter().copied().collect(),
        learners: learners.iter().copied().collect(),
        raft_addr: String::new(),
        resp_addr: String::new(),
    }
}

/// A node with no Raft state: a fresh volume.
fn blank(id: NodeId) -> NodeStatus {
    NodeStatus {
        cluster_id: None,
        is_leader: false,
        leader_id: None,
        term: 0,
        members: BTreeSet::new(),
        learners: BTreeSet::new(),
        ..node(id, 0, &[], &[])
    }
}

fn pod(ordinal: u32, node: Option<NodeStatus>) -> PodObs {
    PodObs {
        name: format!("demo-{ordinal}"),
        ordinal,
        pvc_uid: Some(format!("uid-{ordinal}")),
        ready: node.is_some(),
        terminating: false,
        pending: false,
        revision: Some(REV.into()),
        admin_addr: format!("demo-{ordinal}:8001"),
        raft_addr: format!("demo-{ordinal}:8001"),
        resp_addr: format!("demo-{ordinal}:7379"),
        node,
    }
}

fn member(id: NodeId, ordinal: u32) -> MemberStatus {
    MemberStatus {
        node_id: id,
        pod: Some(format!("demo-{ordinal}")),
        pvc_uid: Some(format!("uid-{ordinal}")),
        role: MemberRole::Voter,
        healthy: true,
        matched_index: Some(100),
    }
}

fn caught_up(ids: &[NodeId]) -> BTreeMap<NodeId, Progress> {
    ids.iter()
        .map(|id| {
            (
                *id,
                Progress {
                    matched: Some(100),
                    lag: 0,
                },
            )
        })
        .collect()
}

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

/// A bootstrapped cluster of `voters` (node i+1 on pod i), leader node 1, all caught up.
fn healthy(desired: u32, voters: u32) -> Observed {
    let ids: Vec<NodeId> = (1..=voters as u64).collect();
    Observed {
        desired_replicas: desired,
        sts_replicas: Some(desired.max(voters)),
        pods: (0..voters)
            .map(|i| pod(i, Some(node(i as u64 + 1, 1, &ids, &[]))))
            .collect(),
        pvcs: (0..voters)
            .map(|i| PvcObs {
                name: format!("data-demo-{i}"),
                ordinal: i,
                terminating: false,
            })
            .collect(),
        progress: caught_up(&ids),
        memory: Memory {
            bootstrapped: true,
            cluster_id: Some("c1".into()),
            members: (0..voters).map(|i| member(i as u64 + 1, i)).collect(),
            retired_node_ids: BTreeSet::new(),
            pending: None,
        },
        revision: REV.into(),
        max_learner_lag: 10,
        catch_up_timeout: Duration::from_secs(600),
        reclaim_on_scale_down: true,
        now: now(),
    }
}

/// Sets every node's view of the membership (as after a change).
fn set_membership(o: &mut Observed, leader: NodeId, voters: &[NodeId], learners: &[NodeId]) {
    for p in &mut o.pods {
        if let Some(n) = &p.node {
            let id = n.node_id;
            p.node = Some(node(id, leader, voters, learners));
        }
    }
}

fn pending(kind: OperationKind, pod: &str, node_id: NodeId, started: &str) -> PendingOperation {
    PendingOperation {
        kind,
        pod: pod.into(),
        node_id: Some(node_id),
        started_at: started.into(),
    }
}

fn action(o: &Observed) -> Action {
    plan(o).action
}

fn is_wait(a: &Action) -> bool {
    matches!(a, Action::Wait { .. })
}

// ---- creation and init ----

#[test]
fn a_new_cluster_first_gets_its_pods() {
    let mut o = healthy(3, 0);
    o.sts_replicas = None;
    o.memory = Memory::default();
    assert_eq!(action(&o), Action::ScaleStatefulSet { replicas: 3 });
}

#[test]
fn init_happens_on_pod_zero_alone() {
    let mut o = healthy(3, 0);
    o.memory = Memory::default();
    o.pods = vec![
        pod(0, Some(blank(11))),
        pod(1, Some(blank(12))),
        pod(2, None),
    ];
    assert_eq!(
        action(&o),
        Action::Init {
            pod: "demo-0".into(),
            addr: "demo-0:8001".into()
        }
    );
}

#[test]
fn init_waits_for_pod_zero() {
    let mut o = healthy(3, 0);
    o.memory = Memory::default();
    o.pods = vec![pod(0, None), pod(1, Some(blank(12)))];
    assert!(is_wait(&action(&o)));
}

#[test]
fn a_lost_status_adopts_the_running_cluster_instead_of_initializing() {
    let mut o = healthy(3, 3);
    o.memory = Memory::default();
    assert_eq!(
        action(&o),
        Action::Adopt {
            cluster_id: "c1".into()
        }
    );
}

#[test]
fn a_bootstrapped_cluster_whose_volumes_are_all_blank_is_never_initialized_again() {
    let mut o = healthy(3, 3);
    o.pods = (0..3).map(|i| pod(i, Some(blank(20 + i as u64)))).collect();
    assert_eq!(
        action(&o),
        Action::QuorumLost {
            reachable: 0,
            voters: 3
        }
    );
}

// ---- grow ----

#[test]
fn grow_adds_one_learner_at_a_time() {
    let mut o = healthy(3, 1);
    o.pods.push(pod(1, Some(blank(42))));
    o.pods.push(pod(2, Some(blank(43))));
    let step = plan(&o);
    assert_eq!(
        step.action,
        Action::AddLearner {
            leader: "demo-0:8001".into(),
            pod: "demo-1".into(),
            node_id: 42,
            raft_addr: "demo-1:8001".into(),
            resp_addr: "demo-1:7379".into(),
        }
    );
    assert!(
        matches!(step.pending, Pending::Set(ref op) if op.kind == OperationKind::Grow && op.node_id == Some(42))
    );
}

#[test]
fn a_caught_up_learner_is_promoted() {
    let mut o = healthy(3, 1);
    o.pods.push(pod(1, Some(blank(42))));
    set_membership(&mut o, 1, &[1], &[42]);
    o.progress = caught_up(&[42]);
    o.memory.pending = Some(pending(
        OperationKind::Grow,
        "demo-1",
        42,
        "2026-11-25T11:59:00Z",
    ));
    assert_eq!(
        action(&o),
        Action::Promote {
            leader: "demo-0:8001".into(),
            pod: "demo-1".into(),
            node_id: 42
        }
    );
}

#[test]
fn a_lagging_learner_is_waited_for_then_rolled_back_after_the_deadline() {
    let mut o = healthy(3, 1);
    o.pods.push(pod(1, Some(blank(42))));
    set_membership(&mut o, 1, &[1], &[42]);
    o.progress = BTreeMap::from([(
        42,
        Progress {
            matched: Some(5),
            lag: 5000,
        },
    )]);
    o.memory.pending = Some(pending(
        OperationKind::Grow,
        "demo-1",
        42,
        "2026-11-25T11:59:00Z",
    ));
    assert!(is_wait(&action(&o)));

    o.memory.pending = Some(pending(
        OperationKind::Grow,
        "demo-1",
        42,
        "2026-11-25T11:00:00Z",
    ));
    let step = plan(&o);
    assert_eq!(
        step.action,
        Action::RemoveMember {
            leader: "demo-0:8001".into(),
            node_id: 42,
            pod: Some("demo-1".into()),
            reason: RemoveReason::StrayLearner
        }
    );
    assert_eq!(step.pending, Pending::Clear);
}

#[test]
fn a_finished_grow_clears_the_pending_operation() {
    let mut o = healthy(2, 2);
    o.memory.pending = Some(pending(
        OperationKind::Grow,
        "demo-1",
        2,
        "2026-11-25T11:59:00Z",
    ));
    assert_eq!(plan(&o).pending, Pending::Clear);
}

// ---- shrink ----

#[test]
fn shrink_removes_the_highest_ordinal_voter_first() {
    let o = healthy(3, 5);
    let step = plan(&o);
    assert_eq!(
        step.action,
        Action::RemoveMember {
            leader: "demo-0:8001".into(),
            node_id: 5,
            pod: Some("demo-4".into()),
            reason: RemoveReason::Shrink
        }
    );
    assert!(matches!(step.pending, Pending::Set(ref op) if op.kind == OperationKind::Shrink));
}

#[test]
fn shrink_moves_leadership_off_the_victim_first() {
    let mut o = healthy(2, 3);
    set_membership(&mut o, 3, &[1, 2, 3], &[]);
    assert_eq!(
        action(&o),
        Action::TransferLeader {
            leader: "demo-2:8001".into(),
            from: 3,
            to: 1
        }
    );
}

#[test]
fn shrink_is_refused_when_the_rest_would_not_be_a_healthy_majority() {
    let mut o = healthy(2, 3);
    o.pods[1].node = None; // node 2 down
    let a = action(&o);
    assert!(
        matches!(a, Action::Wait { ref reason } if reason.contains("refusing")),
        "{a:?}"
    );
}

#[test]
fn the_statefulset_shrinks_only_after_the_voters_left() {
    let mut o = healthy(3, 5);
    set_membership(&mut o, 1, &[1, 2, 3], &[]);
    assert_eq!(action(&o), Action::ScaleStatefulSet { replicas: 3 });
}

#[test]
fn volumes_of_removed_pods_are_reclaimed_or_kept_per_policy() {
    let mut o = healthy(3, 3);
    o.pvcs.push(PvcObs {
        name: "data-demo-3".into(),
        ordinal: 3,
        terminating: false,
    });
    assert_eq!(
        action(&o),
        Action::DeletePvc {
            pvc: "data-demo-3".into()
        }
    );
    o.reclaim_on_scale_down = false;
    assert_eq!(action(&o), Action::Idle);
}

#[test]
fn a_shrink_interrupted_by_a_leader_change_resumes_on_the_new_leader() {
    let mut o = healthy(2, 3);
    o.memory.pending = Some(pending(
        OperationKind::Shrink,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    // Old leader (node 1) killed; node 2 leads now, node 3 still a voter.
    o.pods[0].node = None;
    set_membership(&mut o, 2, &[1, 2, 3], &[]);
    o.progress = caught_up(&[3]);
    let a = action(&o);
    // Removing 3 would leave {1, 2} with node 1 down: refused until node 1 is back.
    assert!(
        matches!(a, Action::Wait { ref reason } if reason.contains("refusing")),
        "{a:?}"
    );

    o.pods[0].node = Some(node(1, 2, &[1, 2, 3], &[]));
    o.progress = caught_up(&[1, 3]);
    assert_eq!(
        action(&o),
        Action::RemoveMember {
            leader: "demo-1:8001".into(),
            node_id: 3,
            pod: Some("demo-2".into()),
            reason: RemoveReason::Shrink
        }
    );
}

#[test]
fn a_shrink_with_no_leader_waits() {
    let mut o = healthy(2, 3);
    o.memory.pending = Some(pending(
        OperationKind::Shrink,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    o.pods[0].node = None;
    for p in &mut o.pods {
        if let Some(n) = &mut p.node {
            n.is_leader = false;
            n.leader_id = None;
        }
    }
    assert!(is_wait(&action(&o)));
}

#[test]
fn a_finished_shrink_clears_the_pending_operation() {
    let mut o = healthy(2, 3);
    set_membership(&mut o, 1, &[1, 2], &[]);
    o.memory.pending = Some(pending(
        OperationKind::Shrink,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    assert_eq!(plan(&o).pending, Pending::Clear);
}

#[test]
fn a_learner_nobody_wants_is_removed() {
    let mut o = healthy(3, 3);
    o.pods.push(pod(3, Some(node(99, 1, &[1, 2, 3], &[99]))));
    set_membership(&mut o, 1, &[1, 2, 3], &[99]);
    assert_eq!(
        action(&o),
        Action::RemoveMember {
            leader: "demo-0:8001".into(),
            node_id: 99,
            pod: Some("demo-3".into()),
            reason: RemoveReason::StrayLearner
        }
    );
}

// ---- replace ----

#[test]
fn a_pod_back_with_a_blank_volume_replaces_its_old_id() {
    let mut o = healthy(3, 3);
    o.pods[2] = pod(2, Some(blank(77)));
    o.pods[2].pvc_uid = Some("uid-new".into());
    assert_eq!(
        action(&o),
        Action::RemoveMember {
            leader: "demo-0:8001".into(),
            node_id: 3,
            pod: Some("demo-2".into()),
            reason: RemoveReason::Replaced
        }
    );
    // Once the old id is gone the new node joins as a learner.
    set_membership(&mut o, 1, &[1, 2], &[]);
    assert!(matches!(action(&o), Action::AddLearner { node_id: 77, .. }));
}

#[test]
fn a_kept_volume_of_a_removed_node_never_rejoins_under_its_old_id() {
    let mut o = healthy(3, 2);
    o.memory.retired_node_ids.insert(3);
    o.pods.push(pod(2, Some(node(3, 3, &[1, 2, 3], &[]))));
    o.pods[2].node.as_mut().unwrap().is_leader = false;
    o.pvcs.push(PvcObs {
        name: "data-demo-2".into(),
        ordinal: 2,
        terminating: false,
    });
    assert_eq!(
        action(&o),
        Action::DeletePodAndPvc {
            pod: "demo-2".into(),
            pvc: "data-demo-2".into(),
            node_id: 3
        }
    );
}

// ---- roll ----

#[test]
fn roll_restarts_followers_first_highest_ordinal_first() {
    let mut o = healthy(3, 3);
    for p in &mut o.pods {
        p.revision = Some("rev-old".into());
    }
    let step = plan(&o);
    assert!(matches!(step.action, Action::DeletePod { ref pod, .. } if pod == "demo-2"));
    assert!(matches!(step.pending, Pending::Set(ref op) if op.kind == OperationKind::Roll));
}

#[test]
fn roll_moves_leadership_before_restarting_the_leader() {
    let mut o = healthy(3, 3);
    o.pods[0].revision = Some("rev-old".into());
    assert_eq!(
        action(&o),
        Action::TransferLeader {
            leader: "demo-0:8001".into(),
            from: 1,
            to: 2
        }
    );
}

#[test]
fn roll_waits_while_a_follower_lags() {
    let mut o = healthy(3, 3);
    o.pods[2].revision = Some("rev-old".into());
    o.progress.insert(
        2,
        Progress {
            matched: Some(1),
            lag: 99,
        },
    );
    assert!(is_wait(&action(&o)));
}

#[test]
fn roll_waits_for_the_restarted_pod_before_the_next() {
    let mut o = healthy(3, 3);
    o.pods[1].revision = Some("rev-old".into());
    o.pods[2].ready = false;
    o.pods[2].node = None;
    o.memory.pending = Some(pending(
        OperationKind::Roll,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    assert!(is_wait(&action(&o)));
    // Back, ready and caught up: the pending roll step is cleared.
    let mut back = healthy(3, 3);
    back.pods[1].revision = Some("rev-old".into());
    back.memory.pending = o.memory.pending.clone();
    assert_eq!(plan(&back).pending, Pending::Clear);
}

#[test]
fn a_single_node_rolls_in_place() {
    let mut o = healthy(1, 1);
    o.pods[0].revision = Some("rev-old".into());
    assert!(matches!(action(&o), Action::DeletePod { ref pod, .. } if pod == "demo-0"));
}

// ---- failures ----

#[test]
fn quorum_lost_changes_nothing() {
    let mut o = healthy(5, 3);
    o.pods[1].node = None;
    o.pods[2].node = None;
    assert_eq!(
        action(&o),
        Action::QuorumLost {
            reachable: 1,
            voters: 3
        }
    );
}

#[test]
fn pods_from_two_clusters_halt_the_operator_when_it_does_not_know_its_own() {
    let mut o = healthy(3, 3);
    o.memory.cluster_id = None;
    o.pods[2].node.as_mut().unwrap().cluster_id = Some("other".into());
    assert!(matches!(action(&o), Action::Halt { .. }));
}

#[test]
fn a_node_of_another_cluster_loses_the_seat_of_its_id_and_its_volume() {
    let mut o = healthy(3, 3);
    o.pods[2].node.as_mut().unwrap().cluster_id = Some("other".into());
    // Its id is a voter here: that seat goes first (the two others are a healthy majority).
    assert_eq!(
        action(&o),
        Action::RemoveMember {
            leader: "demo-0:8001".into(),
            node_id: 3,
            pod: Some("demo-2".into()),
            reason: RemoveReason::Replaced,
        }
    );
    // Then the volume, so that the pod comes back blank as a new member.
    set_membership(&mut o, 1, &[1, 2], &[]);
    o.pods[2].node.as_mut().unwrap().cluster_id = Some("other".into());
    assert_eq!(
        action(&o),
        Action::DeletePodAndPvc {
            pod: "demo-2".into(),
            pvc: "data-demo-2".into(),
            node_id: 3,
        }
    );
}

#[test]
fn a_node_on_another_volume_does_not_vote_under_its_old_id() {
    // Pod 2's claim was recreated from an older snapshot: node 3 is back with an old log.
    let mut o = healthy(3, 3);
    o.pods[2].pvc_uid = Some("uid-restored".into());
    let (screened, impostors) = screen(&o);
    assert_eq!(
        impostors,
        [Impostor {
            pod: "demo-2".into(),
            ordinal: 2,
            node_id: 3
        }]
    );
    assert!(screened.pods[2].node.is_none(), "it counts for no quorum");
    assert!(matches!(
        action(&o),
        Action::RemoveMember {
            node_id: 3,
            reason: RemoveReason::Replaced,
            ..
        }
    ));
    // With only one other voter healthy, its seat is not taken (that would lose the
    // majority), and it is not trusted either: the cluster waits.
    o.pods[1].node = None;
    assert!(matches!(
        action(&o),
        Action::QuorumLost {
            reachable: 1,
            voters: 3
        }
    ));
    // The status keeps the volume the id was recorded on, so the check holds next time.
    let o = healthy(3, 3);
    let mut restored = o.clone();
    restored.pods[2].pvc_uid = Some("uid-restored".into());
    let step = plan(&restored);
    let status = crate::status::build(
        None,
        String::new(),
        &restored,
        &step,
        &crate::status::Outcome::Done,
        &restored.memory,
        &Default::default(),
        restored.now,
    );
    let m3 = status.members.iter().find(|m| m.node_id == 3).unwrap();
    assert_eq!(m3.pvc_uid.as_deref(), Some("uid-2"));
    assert!(!m3.healthy);
}

#[test]
fn a_volume_without_a_recorded_uid_is_trusted() {
    let mut o = healthy(3, 3);
    for m in &mut o.memory.members {
        m.pvc_uid = None;
    }
    o.pods[2].pvc_uid = Some("uid-other".into());
    assert_eq!(action(&o), Action::Idle);
}

#[test]
fn two_pods_reporting_one_node_id_halt_the_operator() {
    let mut o = healthy(3, 3);
    o.pods[2].node = Some(node(2, 1, &[1, 2, 3], &[]));
    assert!(matches!(action(&o), Action::Halt { ref reason } if reason.contains("node id 2")));
}

#[test]
fn the_highest_term_leader_counts() {
    let mut o = healthy(3, 3);
    // Node 1 still believes it leads at term 3; node 2 leads at term 4.
    let mut n2 = node(2, 2, &[1, 2, 3], &[]);
    n2.term = 4;
    o.pods[1].node = Some(n2);
    o.pods[2].revision = Some("rev-old".into());
    assert!(matches!(action(&o), Action::DeletePod { .. }));
    let o2 = {
        let mut o2 = o.clone();
        o2.desired_replicas = 2;
        o2
    };
    assert!(matches!(
        action(&o2),
        Action::RemoveMember { ref leader, .. } if leader == "demo-1:8001"
    ));
}

#[test]
fn a_converged_cluster_is_idle() {
    assert_eq!(action(&healthy(3, 3)), Action::Idle);
}

#[test]
fn a_roll_recorded_but_never_carried_out_deletes_the_pod_on_resume() {
    // The intent (pending Roll of demo-2) reached the status, the delete did not happen.
    let mut o = healthy(3, 3);
    o.pods[2].revision = Some("rev-old".into());
    o.memory.pending = Some(pending(
        OperationKind::Roll,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    assert!(matches!(action(&o), Action::DeletePod { ref pod, .. } if pod == "demo-2"));
    // Deleted: the pod is terminating, then absent, then back on the new revision.
    o.pods[2].terminating = true;
    assert!(is_wait(&action(&o)));
    o.pods[2].terminating = false;
    o.pods[2].revision = Some(REV.into());
    let step = plan(&o);
    assert!(is_wait(&step.action));
    assert_eq!(step.pending, Pending::Clear);
    // Not while the rest lacks a caught-up majority.
    let mut o = healthy(3, 3);
    o.pods[2].revision = Some("rev-old".into());
    o.memory.pending = Some(pending(
        OperationKind::Roll,
        "demo-2",
        3,
        "2026-11-25T11:59:00Z",
    ));
    o.progress.get_mut(&2).unwrap().lag = 1_000;
    assert!(!matches!(action(&o), Action::DeletePod { .. }));
}

#[test]
fn a_pending_pod_whose_claim_is_gone_or_going_is_deleted_again() {
    // kubernetes/kubernetes#74374: pod 2 was recreated while its claim was being deleted.
    let mut o = healthy(3, 3);
    o.pods[2].node = None;
    o.pods[2].ready = false;
    o.pods[2].pending = true;
    o.pvcs[2].terminating = true;
    assert!(matches!(
        action(&o),
        Action::DeletePod { ref pod, ref reason } if pod == "demo-2" && reason.contains("being deleted")
    ));
    o.pvcs.remove(2);
    assert!(matches!(
        action(&o),
        Action::DeletePod { ref pod, ref reason } if pod == "demo-2" && reason.contains("missing")
    ));
    // A Pending pod with its claim in place is merely starting.
    let mut o = healthy(3, 3);
    o.pods[2].node = None;
    o.pods[2].ready = false;
    o.pods[2].pending = true;
    assert!(!matches!(action(&o), Action::DeletePod { .. }));
    // And one already being deleted is left to go.
    o.pvcs.remove(2);
    o.pods[2].terminating = true;
    assert!(!matches!(action(&o), Action::DeletePod { .. }));
}

#[test]
fn pods_that_answer_as_impostors_are_not_unreachable() {
    // Every pod answers, but as a node of another cluster: reachable, and no quorum of ours.
    let mut o = healthy(3, 3);
    for p in &mut o.pods {
        p.node.as_mut().unwrap().cluster_id = Some("other".into());
    }
    assert_eq!(
        action(&o),
        Action::QuorumLost {
            reachable: 0,
            voters: 3
        }
    );
    // None answering at all, while ready, is the operator's reach.
    for p in &mut o.pods {
        p.node = None;
        p.ready = true;
    }
    assert_eq!(action(&o), Action::Unreachable { ready: 3 });
}
