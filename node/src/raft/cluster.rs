//! A node's view of its Raft cluster: starting openraft over the node's storage, proposing
//! mutations, read barriers, leader discovery, and the membership operations of the admin API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{ClientWriteError, RaftError};
use openraft::impls::ProgressResponder;
use openraft::raft::ClientWriteResult;
use openraft::type_config::alias::OneshotReceiverOf;
use openraft::{
    ChangeMembers, Config as RaftConfig, RaftMetrics, ReadPolicy, ServerState, SnapshotPolicy,
};
use tokio::sync::watch;

pub use super::error::ClusterError;
use super::log_store::LogStore;
use super::network::{Faults, NetworkFactory};
use super::peer_auth::PeerAuth;
use super::read_gate::ReadGate;
use super::snapshot::SnapshotStore;
use super::state_machine::{KeyEvents, StateMachine};
use super::{KiwiNode, KiwiRaft, NodeId, TypeConfig};
use crate::config::{Config, NodeIdSetting};
use crate::engine::Mutation;
use crate::resp::Reply;
use crate::secrets::RotatingSecret;
use crate::storage::Db;
use crate::transport::Transport;

/// The outcome of a proposal, once applied (or failed).
pub type WriteOutcome = Result<Reply, ClusterError>;

/// Largest encoded mutation a log entry may carry: an AppendEntries request of that one entry,
/// with its few header fields, must fit in a peer frame ([`super::rpc::MAX_FRAME`]), or it could
/// never reach a follower. `proto-max-bulk-len` admits larger values (512 MiB by default, as in
/// Redis); a write of one is refused before it is proposed.
pub const MAX_ENTRY_BYTES: usize = super::rpc::MAX_FRAME - (1 << 20);

/// A proposed write: resolves once it is committed and applied (or failed). Awaited in place
/// by the connection that proposed it, so a write costs no task of its own.
pub struct PendingWrite(OneshotReceiverOf<TypeConfig, ClientWriteResult<TypeConfig>>);

impl PendingWrite {
    pub async fn outcome(self) -> WriteOutcome {
        match self.0.await {
            Ok(Ok(resp)) => Ok(resp.data.0),
            Ok(Err(e)) => Err(write_error(e)),
            Err(_) => Err(ClusterError::Fatal(
                "the write was dropped; it may or may not have been applied".into(),
            )),
        }
    }
}

pub struct Cluster {
    pub id: NodeId,
    pub me: KiwiNode,
    pub raft: KiwiRaft,
    pub snapshots: Arc<SnapshotStore>,
    /// Proves this node's membership to peers and checks theirs.
    pub peer_auth: Arc<PeerAuth>,
    /// Present when `raft-fault-injection` is on (tests only).
    pub faults: Option<Faults>,
    /// What applied entries changed, told after each commit (see [`KeyEvents`]).
    pub key_events: Arc<KeyEvents>,
    /// The commit index this node learned at start, for readiness.
    applied: watch::Receiver<u64>,
    startup_commit: u64,
    read_policy: ReadPolicy,
    read_gate: ReadGate,
}

/// Reads the node id kept in the data dir, or establishes it: a fixed id from the config, or a
/// random one below 2^53 (safe in JSON) for `raft-node-id auto`. A data dir never changes ids.
pub fn resolve_node_id(db_path: &Path, setting: NodeIdSetting) -> Result<NodeId, ClusterError> {
    let file = db_path.join("NODE_ID");
    let stored = match std::fs::read_to_string(&file) {
        Ok(s) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| ClusterError::Invalid(format!("corrupt {}", file.display())))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let id = match (stored, setting) {
        (Some(s), NodeIdSetting::Fixed(n)) if s != n => {
            return Err(ClusterError::Invalid(format!(
                "data dir {} belongs to raft node {s}, but raft-node-id is {n}",
                db_path.display()
            )))
        }
        (Some(s), _) => return Ok(s),
        (None, NodeIdSetting::Fixed(n)) => n,
        (None, NodeIdSetting::Auto) => rand::random_range(1..(1u64 << 53)),
    };
    let tmp = db_path.join("NODE_ID.tmp");
    std::fs::write(&tmp, id.to_string())?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &file)?;
    Ok(id)
}

fn raft_config(cfg: &Config) -> Result<RaftConfig, ClusterError> {
    let hb = cfg.raft_heartbeat_interval.as_millis() as u64;
    let election = cfg.raft_election_timeout.as_millis() as u64;
    RaftConfig {
        cluster_name: "kiwi".into(),
        heartbeat_interval: hb,
        // openraft waits out the leader lease (election_timeout_max) and then a random
        // timeout in [min, max] before a follower campaigns: with these bounds an election
        // starts 1.0-1.2x `raft-election-timeout` after the last heartbeat.
        election_timeout_min: election * 2 / 5,
        election_timeout_max: election * 3 / 5,
        install_snapshot_timeout: 60_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.raft_snapshot_logs),
        max_in_snapshot_log_to_keep: cfg.raft_snapshot_logs.min(1000),
        replication_lag_threshold: cfg.raft_snapshot_logs * 2,
        purge_batch_size: 256,
        max_payload_entries: 512,
        ..Default::default()
    }
    .validate()
    .map_err(|e| ClusterError::Invalid(e.to_string()))
}

impl Cluster {
    pub async fn start(
        cfg: &Config,
        db: Arc<Db>,
        transport: Transport,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let id = resolve_node_id(&cfg.db_path, cfg.raft_node_id)?;
        let me = KiwiNode {
            raft_addr: cfg.raft_addr.clone(),
            resp_addr: cfg.advertised_resp_addr(),
        };
        let snapshots = Arc::new(SnapshotStore::open(&cfg.raft_dir())?);
        let key_events = Arc::new(KeyEvents::default());
        let sm = StateMachine::new(db.clone(), snapshots.clone(), key_events.clone())?;
        let applied = sm.applied_index();
        let log = LogStore::new(db.clone());
        let secret = RotatingSecret::configured(
            cfg.cluster_secret.clone(),
            cfg.cluster_secret_file.as_deref(),
            cfg.secret_rotation_grace,
        );
        let peer_auth = Arc::new(PeerAuth::new(secret, db.clone()));
        let network = NetworkFactory::new(peer_auth.clone(), transport);
        let faults = cfg.raft_fault_injection.then(|| network.faults.clone());
        let raft = KiwiRaft::new(id, Arc::new(raft_config(cfg)?), network, log, sm)
            .await
            .map_err(|e| ClusterError::Fatal(e.to_string()))?;
        let startup_commit = raft
            .with_raft_state(|st| st.local_committed().map(|l| l.index).unwrap_or(0))
            .await
            .unwrap_or(0);
        Ok(Arc::new(Cluster {
            id,
            me,
            raft,
            snapshots,
            peer_auth,
            faults,
            key_events,
            applied,
            startup_commit,
            read_policy: if cfg.raft_lease_read {
                ReadPolicy::LeaseRead
            } else {
                ReadPolicy::ReadIndex
            },
            read_gate: ReadGate::default(),
        }))
    }

    /// The id of the cluster this node belongs to; `None` until it has applied (or received in
    /// a snapshot) the cluster's first membership entry.
    /// The index of the last entry this node's state machine applied: updated before the
    /// clients of those entries get their replies, so it covers every write a client has seen
    /// acknowledged (Raft's metrics report it later).
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    pub fn cluster_id(&self) -> Option<String> {
        self.peer_auth.cluster_id()
    }

    pub fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The leader this node knows of, with its addresses.
    pub fn leader(&self) -> Option<(NodeId, KiwiNode)> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().state == ServerState::Leader
    }

    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    /// Waits until a leader is known, up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<(NodeId, KiwiNode)> {
        let mut rx = self.raft.metrics();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                return Some(l);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// Proposes a mutation on this node (which must lead). Submission order is log order, so a
    /// connection's pipelined writes apply in the order it sent them. The receiver yields the
    /// reply once the entry is committed and applied.
    pub async fn propose(&self, mutation: Mutation) -> Result<PendingWrite, ClusterError> {
        let size = mutation.encoded_len_bound();
        if size > MAX_ENTRY_BYTES {
            return Err(ClusterError::Invalid(format!(
                "write too large to replicate: {size} bytes, and a Raft log entry carries at most {MAX_ENTRY_BYTES}"
            )));
        }
        let (responder, rx) = ProgressResponder::complete_only();
        self.raft
            .client_write_ff(mutation, Some(responder))
            .await
            .map_err(|e| ClusterError::Fatal(e.to_string()))?;
        Ok(PendingWrite(rx))
    }

    /// Proposes and waits, bounded by `timeout`.
    pub async fn write(&self, mutation: Mutation, timeout: Duration) -> WriteOutcome {
        let pending = self.propose(mutation).await?;
        match tokio::time::timeout(timeout, pending.outcome()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ClusterError::Timeout(timeout)),
        }
    }

    /// Returns once this node (the leader) has confirmed its leadership with a quorum and
    /// applied everything committed before the call: reads after it are linearizable.
    /// Concurrent reads share confirmations (see [`ReadGate`]).
    pub async fn read_barrier(&self, timeout: Duration) -> Result<(), ClusterError> {
        if self.sole_voter_leader_caught_up() {
            return Ok(());
        }
        let confirm = || async {
            match self
                .raft
                .ensure_linearizable(self.read_policy.clone())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => match (e.forward_to_leader(), &e) {
                    (Some(f), _) => Err(ClusterError::NotLeader {
                        leader: f.leader_id.zip(f.leader_node.clone()),
                    }),
                    (None, RaftError::Fatal(f)) => Err(ClusterError::Fatal(f.to_string())),
                    // The leader could not hear from a quorum this round (a partition, a
                    // paused follower): transient, so CLUSTERDOWN, not "raft stopped".
                    (None, _) => Err(ClusterError::NoLeader),
                },
            }
        };
        match tokio::time::timeout(timeout, self.read_gate.pass(confirm)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ClusterError::Timeout(timeout)),
        }
    }

    /// A leader that is the only voter, and has applied an entry of its own term (so everything
    /// earlier leaders committed), can serve reads from its applied state with no confirmation:
    /// no other node can lead until a membership change adds voters, and that change enters
    /// this node's log (and its metrics) long before another node could win an election (which
    /// takes an election timeout). Every acknowledged write is applied here before it is
    /// acknowledged, so such a read sees all of them. This is the single-node case.
    fn sole_voter_leader_caught_up(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if m.state != ServerState::Leader {
            return false;
        }
        let configs = m.membership_config.membership().get_joint_config();
        let sole = configs.len() == 1 && configs[0].len() == 1 && configs[0].contains(&self.id);
        let own_term_applied = m
            .last_applied
            .as_ref()
            .is_some_and(|applied| applied.committed_leader_id() == m.vote.leader_id());
        sole && own_term_applied
    }

    /// Readiness: a member of an initialized cluster that knows a leader and has applied up to
    /// the commit index it had at start.
    pub fn readiness(&self) -> Result<(), String> {
        let m = self.metrics();
        if m.membership_config
            .membership()
            .get_node(&self.id)
            .is_none()
        {
            return Err("not a member of a cluster".into());
        }
        if m.current_leader.is_none() {
            return Err("no known leader".into());
        }
        let applied = *self.applied.borrow();
        if applied < self.startup_commit {
            return Err(format!(
                "catching up: applied {applied} of {}",
                self.startup_commit
            ));
        }
        Ok(())
    }

    pub fn members(
        &self,
    ) -> (
        BTreeSet<NodeId>,
        BTreeSet<NodeId>,
        BTreeMap<NodeId, KiwiNode>,
    ) {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        let voters = membership.voter_ids().collect();
        let learners = membership.learner_ids().collect();
        let nodes = membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
        (voters, learners, nodes)
    }

    /// Initializes the cluster with `nodes`. Idempotent: the same membership again succeeds, a
    /// different one is a conflict.
    pub async fn init(&self, nodes: BTreeMap<NodeId, KiwiNode>) -> Result<(), ClusterError> {
        if nodes.is_empty() {
            return Err(ClusterError::Invalid("nodes must not be empty".into()));
        }
        if !nodes.contains_key(&self.id) {
            return Err(ClusterError::Invalid(format!(
                "nodes must include this node ({})",
                self.id
            )));
        }
        if self.is_initialized().await {
            let (voters, _, current) = self.members();
            let wanted: BTreeSet<NodeId> = nodes.keys().copied().collect();
            if voters == wanted && current == nodes {
                return Ok(());
            }
            return Err(ClusterError::Conflict(format!(
                "already initialized with members {voters:?}; clean the data to re-initialize"
            )));
        }
        self.raft
            .initialize(nodes)
            .await
            .map_err(|e| ClusterError::Conflict(e.to_string()))
    }

    fn leader_only(&self) -> Result<(), ClusterError> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(ClusterError::NotLeader {
                leader: self.leader(),
            })
        }
    }

    /// Adds a learner and waits (bounded) until it has caught up.
    pub async fn add_learner(
        &self,
        id: NodeId,
        node: KiwiNode,
        timeout: Duration,
        wait_caught_up: bool,
    ) -> Result<u64, ClusterError> {
        self.leader_only()?;
        if let Some(existing) = self.members().2.get(&id) {
            if *existing != node {
                return Err(ClusterError::Conflict(format!(
                    "node {id} is already a member at {existing}"
                )));
            }
        }
        match tokio::time::timeout(timeout, self.raft.add_learner(id, node, wait_caught_up)).await {
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(e)) => Err(write_error_raft(e)),
            Err(_) => Err(ClusterError::Timeout(timeout)),
        }
    }

    /// Adds a node as a voter the safe way: learner first, caught up, then promoted. Used by
    /// `kiwi --join`; promotion adds this one id, so concurrent joins do not undo each other.
    pub async fn join_voter(
        &self,
        id: NodeId,
        node: KiwiNode,
        timeout: Duration,
    ) -> Result<u64, ClusterError> {
        let (voters, _, _) = self.members();
        if voters.contains(&id) {
            return Ok(0);
        }
        self.add_learner(id, node, timeout, true).await?;
        self.add_voter(id).await
    }

    /// Makes exactly `members` the voters (they must be learners or voters already).
    pub async fn change_membership(&self, members: BTreeSet<NodeId>) -> Result<u64, ClusterError> {
        self.leader_only()?;
        if members.is_empty() {
            return Err(ClusterError::Invalid("members must not be empty".into()));
        }
        let nodes = self.members().2;
        if let Some(missing) = members.iter().find(|id| !nodes.contains_key(id)) {
            return Err(ClusterError::Invalid(format!(
                "node {missing} is not a learner; add it first"
            )));
        }
        match self.raft.change_membership(members, false).await {
            Ok(resp) => Ok(resp.log_id.index),
            Err(e) => Err(write_error_raft(e)),
        }
    }

    /// Makes a learner a voter, leaving every other member as it is.
    pub async fn promote(&self, id: NodeId) -> Result<u64, ClusterError> {
        self.leader_only()?;
        let (voters, learners, _) = self.members();
        if voters.contains(&id) {
            return Ok(0);
        }
        if !learners.contains(&id) {
            return Err(ClusterError::Invalid(format!(
                "node {id} is not a learner; add it first"
            )));
        }
        self.add_voter(id).await
    }

    /// Adds this one id to the voters, every other member staying as it is (so concurrent
    /// promotions do not undo each other).
    async fn add_voter(&self, id: NodeId) -> Result<u64, ClusterError> {
        match self
            .raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
        {
            Ok(resp) => Ok(resp.log_id.index),
            Err(e) => Err(write_error_raft(e)),
        }
    }

    /// Removes a node from the cluster (voter or learner). Refuses to remove the last voter.
    pub async fn remove_node(&self, id: NodeId) -> Result<u64, ClusterError> {
        self.leader_only()?;
        let (voters, learners, _) = self.members();
        if voters.contains(&id) {
            if voters.len() == 1 {
                return Err(ClusterError::Conflict(
                    "cannot remove the last voter".into(),
                ));
            }
            let remaining: BTreeSet<NodeId> = voters.iter().copied().filter(|v| *v != id).collect();
            let resp = self
                .raft
                .change_membership(remaining, false)
                .await
                .map_err(write_error_raft)?;
            return Ok(resp.log_id.index);
        }
        if learners.contains(&id) {
            let resp = self
                .raft
                .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                .await
                .map_err(write_error_raft)?;
            return Ok(resp.log_id.index);
        }
        Err(ClusterError::Invalid(format!("node {id} is not a member")))
    }

    /// Asks the leader to hand leadership to `to`; returns once `to` leads or `timeout` passes.
    pub async fn transfer_leader(&self, to: NodeId, timeout: Duration) -> Result<(), ClusterError> {
        self.leader_only()?;
        let (voters, _, _) = self.members();
        if !voters.contains(&to) {
            return Err(ClusterError::Invalid(format!("node {to} is not a voter")));
        }
        if to == self.id {
            return Ok(());
        }
        self.raft
            .trigger()
            .transfer_leader(to)
            .await
            .map_err(|e| ClusterError::Fatal(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.raft.metrics();
        loop {
            if self.metrics().current_leader == Some(to) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return Err(ClusterError::Timeout(timeout));
            }
        }
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}

fn write_error(e: ClientWriteError<TypeConfig>) -> ClusterError {
    match e {
        ClientWriteError::ForwardToLeader(f) | ClientWriteError::LogEntryDiscarded(f) => {
            ClusterError::NotLeader {
                leader: f.leader_id.zip(f.leader_node),
            }
        }
        ClientWriteError::ChangeMembershipError(c) => ClusterError::Conflict(c.to_string()),
        other => ClusterError::Conflict(other.to_string()),
    }
}

fn write_error_raft(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> ClusterError {
    match e {
        RaftError::APIError(api) => write_error(api),
        RaftError::Fatal(f) => ClusterError::Fatal(f.to_string()),
    }
}
