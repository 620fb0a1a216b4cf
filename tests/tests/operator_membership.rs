//! The operator's membership driver (planner + actions + admin client) against real `kiwi`
//! processes standing in for pods: init a one-node cluster and grow it to 3 then 5, shrink to
//! 3 under write load, wipe a node's volume (it comes back as a new id), kill the leader in the
//! middle of a shrink, roll a new revision followers-first. Every acknowledged write must still
//! be readable at the end.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiwi_operator::act;
use kiwi_operator::admin::AdminClient;
use kiwi_operator::crd::KiwiClusterStatus;
use kiwi_operator::crd::OperationKind;
use kiwi_operator::observe::probe_nodes;
use kiwi_operator::plan::{self, Action, Observed, PodObs, Timestamp};
use kiwi_operator::status;
use kiwi_tests::pods::ProcessPods;

/// Cluster tests run one at a time (each starts up to five processes on a 2-core machine).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CONVERGE: Duration = Duration::from_secs(90);

/// Runs reconcile steps the way the controller does, remembering through the status.
struct Driver {
    pods: Arc<ProcessPods>,
    admin: AdminClient,
    status: KiwiClusterStatus,
    desired: u32,
    /// Every action carried out, in order.
    actions: Vec<Action>,
}

impl Driver {
    fn new(desired: u32) -> Driver {
        let pods = Arc::new(ProcessPods::new());
        let admin =
            AdminClient::new(Duration::from_secs(2)).with_token(&pods.credentials.admin_token);
        Driver {
            pods,
            admin,
            status: KiwiClusterStatus::default(),
            desired,
            actions: Vec::new(),
        }
    }

    async fn observe(&self) -> Observed {
        let (mut pods, pvcs) = self.pods.observe();
        let progress = probe_nodes(&self.admin, &mut pods).await;
        let replicas = self.pods.replicas();
        Observed {
            desired_replicas: self.desired,
            sts_replicas: (replicas > 0).then_some(replicas),
            pods,
            pvcs,
            progress,
            memory: status::memory_of(&self.status),
            revision: self.pods.revision(),
            max_learner_lag: 100,
            catch_up_timeout: Duration::from_secs(60),
            reclaim_on_scale_down: true,
            now: Timestamp::now(),
        }
    }

    /// One reconcile: observe, plan, act, status. Returns the action planned.
    async fn step(&mut self) -> Action {
        let o = self.observe().await;
        let step = plan::plan(&o);
        let mut memory = o.memory.clone();
        let outcome = match act::execute(&step.action, &self.admin, self.pods.as_ref()).await {
            Ok(()) => {
                act::remember(&mut memory, &step);
                if act::changes_something(&step.action) {
                    eprintln!("operator: {}", act::describe(&step.action));
                    self.actions.push(step.action.clone());
                }
                status::Outcome::Done
            }
            Err(e) => {
                eprintln!("operator: {} failed: {e}", act::describe(&step.action));
                status::Outcome::Failed {
                    reason: "OperationFailed".into(),
                    message: e.to_string(),
                }
            }
        };
        self.status = status::build(
            None,
            String::new(),
            &o,
            &step,
            &outcome,
            &memory,
            &self.status,
            o.now,
        );
        step.action
    }

    /// Reconciles until the plan is Idle.
    async fn converge(&mut self) {
        let deadline = Instant::now() + CONVERGE;
        let mut last = None;
        loop {
            let action = self.step().await;
            if action == Action::Idle {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "no convergence after {CONVERGE:?}; last step {action:?}; status {:#?}",
                    self.status
                );
            }
            if last.as_ref() != Some(&action) {
                eprintln!("operator: plan {action:?}");
            }
            last = Some(action);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The pods, each with the `/status` its node answered.
    async fn probed(&self) -> Vec<PodObs> {
        let (mut pods, _) = self.pods.observe();
        probe_nodes(&self.admin, &mut pods).await;
        pods
    }

    /// The voters as the leader reports them, and each pod's node id.
    async fn membership(&self) -> (BTreeSet<u64>, Vec<(u32, u64)>) {
        let pods = self.probed().await;
        let (_, leader) = plan::current_leader(&pods).expect("a leader");
        (
            leader.members.clone(),
            plan::answering(&pods)
                .map(|(p, n)| (p.ordinal, n.node_id))
                .collect(),
        )
    }

    /// Checks the cluster is exactly pods 0..n, all voters, with no learner left.
    async fn assert_voters_are_pods(&self, n: u32) -> BTreeSet<u64> {
        let (voters, ids) = self.membership().await;
        let pod_ids: BTreeSet<u64> = ids
            .iter()
            .filter(|(o, _)| *o < n)
            .map(|(_, id)| *id)
            .collect();
        assert_eq!(pod_ids.len(), n as usize, "pods answering: {ids:?}");
        assert_eq!(voters, pod_ids, "voters are the pods' nodes");
        assert_eq!(self.status.members.len(), n as usize, "{:#?}", self.status);
        voters
    }
}

/// A write load: `<prefix>-N` keys through pod 0 (falling back to any pod), recording the
/// acknowledged ones.
struct WriteLoad {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl WriteLoad {
    /// Starts the load; returns once its first write was acknowledged.
    async fn start(pods: Arc<ProcessPods>, prefix: &'static str) -> WriteLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let (stop_flag, counter) = (stop.clone(), count.clone());
        let thread = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut conn: Option<redis::Connection> = None;
            for i in 0..20_000u32 {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let key = format!("{prefix}-{i}");
                if conn.is_none() {
                    conn = (0..5u32)
                        .filter(|o| pods.running(*o))
                        .filter_map(|o| pods.resp_port(o))
                        .find_map(|port| {
                            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                                .ok()?
                                .get_connection_with_timeout(Duration::from_secs(2))
                                .ok()
                        });
                }
                let Some(c) = conn.as_mut() else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                match redis::cmd("SET").arg(&key).arg(&key).query::<String>(c) {
                    Ok(_) => {
                        acked.push(key);
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        conn = None;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            acked
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while count.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "the write load acknowledged nothing in 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        WriteLoad {
            stop,
            acked: count,
            thread,
        }
    }

    /// Stops the load; returns the acknowledged keys.
    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        let acked = self.thread.join().expect("writer thread");
        assert_eq!(acked.len(), self.acked.load(Ordering::SeqCst));
        acked
    }
}

/// Reads every acknowledged key through a live pod (a linearizable read via the leader).
fn assert_all_readable(pods: &ProcessPods, acked: &[String]) {
    assert!(!acked.is_empty(), "the write load acknowledged nothing");
    let port = (0..5u32)
        .filter(|o| pods.running(*o))
        .find_map(|o| pods.resp_port(o))
        .expect("a running pod");
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    for chunk in acked.chunks(500) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        for (key, value) in chunk.iter().zip(values) {
            assert_eq!(
                value.as_deref(),
                Some(key.as_str()),
                "acknowledged write {key} lost"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grow_one_to_three_to_five_then_shrink_to_three_under_load() {
    let _g = SERIAL.lock().await;
    let mut d = Driver::new(1);
    d.converge().await;
    assert!(d.status.bootstrapped);
    let first = d.assert_voters_are_pods(1).await;
    assert!(
        matches!(
            d.actions[..2],
            [
                Action::ScaleStatefulSet { replicas: 1 },
                Action::Init { .. }
            ]
        ),
        "{:?}",
        d.actions
    );
    let cluster_id = d.status.cluster_id.clone().expect("cluster id recorded");

    d.desired = 3;
    d.converge().await;
    let three = d.assert_voters_are_pods(3).await;
    assert!(three.is_superset(&first));
    // Ids are drawn by the nodes, not pod ordinals.
    assert!(three.iter().all(|id| *id > 3), "{three:?}");
    // Every node joined as a learner before it was promoted.
    let learners = d
        .actions
        .iter()
        .filter(|a| matches!(a, Action::AddLearner { .. }))
        .count();
    let promotions = d
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Promote { .. }))
        .count();
    assert_eq!((learners, promotions), (2, 2), "{:?}", d.actions);

    d.desired = 5;
    d.converge().await;
    d.assert_voters_are_pods(5).await;
    assert_eq!(d.status.cluster_id.as_deref(), Some(cluster_id.as_str()));

    let load = WriteLoad::start(d.pods.clone(), "grow").await;
    d.desired = 3;
    d.converge().await;
    let acked = load.finish();
    let voters = d.assert_voters_are_pods(3).await;
    assert_eq!(d.pods.replicas(), 3);
    // Removed nodes are retired and their volumes reclaimed.
    assert_eq!(d.status.retired_node_ids.len(), 2, "{:#?}", d.status);
    assert!(d
        .status
        .retired_node_ids
        .iter()
        .all(|id| !voters.contains(id)));
    assert!(!d.pods.has_volume(3) && !d.pods.has_volume(4));
    assert_all_readable(&d.pods, &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_volume_comes_back_as_a_new_node_id() {
    let _g = SERIAL.lock().await;
    let mut d = Driver::new(3);
    d.converge().await;
    let before = d.assert_voters_are_pods(3).await;
    let load = WriteLoad::start(d.pods.clone(), "wipe").await;

    let old_id = d
        .membership()
        .await
        .1
        .iter()
        .find(|(o, _)| *o == 2)
        .unwrap()
        .1;
    d.pods.wipe(2);
    kiwi_tests::pods::wait_http(&d.pods, 2);
    d.converge().await;
    let acked = load.finish();

    let after = d.assert_voters_are_pods(3).await;
    let new_id = d
        .membership()
        .await
        .1
        .iter()
        .find(|(o, _)| *o == 2)
        .unwrap()
        .1;
    assert_ne!(new_id, old_id, "a blank volume must not reuse the old id");
    assert!(!after.contains(&old_id) && after.contains(&new_id));
    assert_eq!(before.len(), after.len());
    assert!(d.status.retired_node_ids.contains(&old_id));
    assert!(d.actions.iter().any(|a| matches!(
        a,
        Action::RemoveMember { node_id, reason: plan::RemoveReason::Replaced, .. } if *node_id == old_id
    )));
    assert_all_readable(&d.pods, &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_during_a_shrink() {
    let _g = SERIAL.lock().await;
    let mut d = Driver::new(5);
    d.converge().await;
    d.assert_voters_are_pods(5).await;
    let load = WriteLoad::start(d.pods.clone(), "shrink").await;

    // Start shrinking to 3 and kill the leader as soon as the first member has left.
    d.desired = 3;
    let deadline = Instant::now() + CONVERGE;
    loop {
        let action = d.step().await;
        if matches!(action, Action::RemoveMember { .. }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no member removed; last {action:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        matches!(d.status.pending_operation, Some(ref op) if op.kind == OperationKind::Shrink),
        "{:#?}",
        d.status
    );
    let pods = d.probed().await;
    let leader_ordinal = plan::current_leader(&pods).expect("a leader").0.ordinal;
    d.pods.kill9(leader_ordinal);

    // The shrink completes on the new leader, with one of the remaining voters down.
    let deadline = Instant::now() + CONVERGE;
    while d.pods.replicas() != 3
        || d.status.pending_operation.is_some()
        || d.pods.has_volume(3)
        || d.pods.has_volume(4)
    {
        let action = d.step().await;
        assert!(
            Instant::now() < deadline,
            "shrink did not finish; last {action:?}; {:#?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(d.status.retired_node_ids.len(), 2, "{:#?}", d.status);
    // The killed pod comes back (the StatefulSet would restart it) and catches up.
    if leader_ordinal < 3 {
        d.pods.restart(leader_ordinal);
        kiwi_tests::pods::wait_http(&d.pods, leader_ordinal);
    }
    d.converge().await;
    let acked = load.finish();
    d.assert_voters_are_pods(3).await;
    assert_all_readable(&d.pods, &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_rolls_followers_first_and_the_leader_last() {
    let _g = SERIAL.lock().await;
    let mut d = Driver::new(3);
    d.converge().await;
    let voters = d.assert_voters_are_pods(3).await;
    let load = WriteLoad::start(d.pods.clone(), "roll").await;

    d.pods.set_revision("rev-2");
    let start = d.actions.len();
    d.converge().await;
    let acked = load.finish();

    let rolled: Vec<&Action> = d.actions[start..].iter().collect();
    let deleted: Vec<&str> = rolled
        .iter()
        .filter_map(|a| match a {
            Action::DeletePod { pod, .. } => Some(pod.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted.len(), 3, "every pod restarted once: {rolled:?}");
    // Leadership moved before the pod that led was restarted.
    let transfer = rolled
        .iter()
        .position(|a| matches!(a, Action::TransferLeader { .. }))
        .expect("leadership handed over before restarting the leader");
    let Action::TransferLeader { from, .. } = rolled[transfer] else {
        unreachable!()
    };
    let (_, ids) = d.membership().await;
    let leader_pod = ids
        .iter()
        .find(|(_, id)| id == from)
        .map(|(o, _)| format!("demo-{o}"))
        .unwrap();
    let leader_restart = deleted.iter().position(|p| *p == leader_pod).unwrap();
    assert_eq!(leader_restart, 2, "the leader's pod goes last: {deleted:?}");
    assert_eq!(
        d.assert_voters_are_pods(3).await,
        voters,
        "a roll keeps node ids"
    );
    let (pods, _) = d.pods.observe();
    assert!(pods.iter().all(|p| p.revision.as_deref() == Some("rev-2")));
    assert_all_readable(&d.pods, &acked);
}
