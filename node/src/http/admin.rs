//! Admin and data routes: `/raft/*` (cluster membership), `/status` and `/kv` (the qklzl API),
//! `/healthz`, `/readyz`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::{auth, ApiError, AppState};
use crate::engine::Mutation;
use crate::raft::{KiwiNode, NodeId};
use crate::resp::Reply;
use openraft::Instant as _;

/// The routes, each behind the credentials its kind needs (see [`super::auth`]).
pub fn routes(state: &AppState) -> Router<AppState> {
    let admin = Router::new()
        .route("/raft/init", post(init))
        .route("/raft/add_learner", post(add_learner))
        .route("/raft/join", post(join))
        .route("/raft/change_membership", post(change_membership))
        .route("/raft/promote", post(promote))
        .route("/raft/remove_node", post(remove_node))
        .route("/raft/transfer_leader", post(transfer_leader))
        .route("/raft/step_down", get(step_down).post(step_down))
        .route("/debug/partition", post(partition))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    let data = Router::new()
        .route("/kv", get(kv_get).post(kv_post))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_data_access,
        ));
    let open = Router::new()
        .route("/raft/leader", get(leader))
        .route("/raft/metrics", get(raft_metrics))
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    admin
        .merge(data)
        .merge(open)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
}

/// Parses a JSON body; a malformed one is a 400 that says what is wrong.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

#[derive(Deserialize)]
struct InitRequest {
    /// `[[id, {"raft_addr": .., "resp_addr": ..}], ...]`; absent: this node alone.
    #[serde(default)]
    nodes: Option<Vec<(NodeId, KiwiNode)>>,
}

async fn init(State(s): State<AppState>, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let req: InitRequest = if body.is_empty() {
        InitRequest { nodes: None }
    } else {
        parse(&body)?
    };
    let nodes: BTreeMap<NodeId, KiwiNode> = match req.nodes {
        Some(list) => {
            let n = list.len();
            let map: BTreeMap<_, _> = list.into_iter().collect();
            if map.len() != n {
                return Err(ApiError::bad_request("duplicate node id in nodes"));
            }
            map
        }
        None => BTreeMap::from([(s.cluster.id, s.cluster.me.clone())]),
    };
    s.cluster.init(nodes.clone()).await?;
    Ok(Json(
        json!({ "initialized": true, "members": nodes.keys().collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
struct AddLearnerRequest {
    node_id: NodeId,
    node: KiwiNode,
    /// Seconds to wait for the learner to catch up (default 60).
    #[serde(default)]
    timeout_secs: Option<u64>,
    /// Wait until the learner has caught up (default true); false returns once it was added.
    #[serde(default)]
    wait: Option<bool>,
}

async fn add_learner(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: AddLearnerRequest = parse(&body)?;
    if req.node_id == 0 || req.node_id >= 1 << 53 {
        return Err(ApiError::bad_request(
            "node_id must be between 1 and 2^53-1",
        ));
    }
    let timeout = Duration::from_secs(req.timeout_secs.unwrap_or(60));
    let index = s
        .cluster
        .add_learner(req.node_id, req.node, timeout, req.wait.unwrap_or(true))
        .await?;
    Ok(Json(json!({ "node_id": req.node_id, "log_index": index })))
}

/// `kiwi --join`: add the node as a learner, wait for it to catch up, promote it to voter.
async fn join(State(s): State<AppState>, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let req: AddLearnerRequest = parse(&body)?;
    if req.node_id == 0 || req.node_id >= 1 << 53 {
        return Err(ApiError::bad_request(
            "node_id must be between 1 and 2^53-1",
        ));
    }
    let timeout = Duration::from_secs(req.timeout_secs.unwrap_or(60));
    let index = s.cluster.join_voter(req.node_id, req.node, timeout).await?;
    Ok(Json(json!({ "node_id": req.node_id, "log_index": index })))
}

#[derive(Deserialize)]
struct ChangeMembershipRequest {
    members: BTreeSet<NodeId>,
}

async fn change_membership(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: ChangeMembershipRequest = parse(&body)?;
    let index = s.cluster.change_membership(req.members.clone()).await?;
    Ok(Json(json!({ "members": req.members, "log_index": index })))
}

#[derive(Deserialize)]
struct NodeIdRequest {
    node_id: NodeId,
}

/// Makes a caught-up learner a voter; other members stay as they are.
async fn promote(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: NodeIdRequest = parse(&body)?;
    let index = s.cluster.promote(req.node_id).await?;
    Ok(Json(json!({ "promoted": req.node_id, "log_index": index })))
}

async fn remove_node(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: NodeIdRequest = parse(&body)?;
    let index = s.cluster.remove_node(req.node_id).await?;
    Ok(Json(json!({ "removed": req.node_id, "log_index": index })))
}

#[derive(Deserialize)]
struct TransferLeaderRequest {
    to: NodeId,
}

async fn transfer_leader(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: TransferLeaderRequest = parse(&body)?;
    s.cluster
        .transfer_leader(req.to, Duration::from_secs(10))
        .await?;
    Ok(Json(json!({ "leader_id": req.to })))
}

/// Longest a step-down takes in all: a preStop hook that never answers holds a pod until its
/// grace period ends, then the pod is killed anyway.
const STEP_DOWN_BUDGET: Duration = Duration::from_secs(8);

/// Hands leadership to a healthy voter if this node leads; a no-op otherwise. Healthy: it
/// acknowledged this leader within an election timeout (when a whole cluster is deleted the
/// other voters stop too, and a transfer to one of them can only time out). The most
/// caught-up is tried first, each within what is left of [`STEP_DOWN_BUDGET`]; with no healthy
/// voter, or none taking over in time, it answers `stepped_down: false` and why.
/// Also answers GET, because a Kubernetes `preStop` HTTP hook can only send GET.
async fn step_down(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let deadline = tokio::time::Instant::now() + STEP_DOWN_BUDGET;
    let m = s.cluster.metrics();
    if m.current_leader != Some(s.cluster.id) {
        return Ok(Json(
            json!({ "stepped_down": false, "leader_id": m.current_leader }),
        ));
    }
    let (voters, _, _) = s.cluster.members();
    let fresh = Duration::from_millis(s.cluster.raft.config().election_timeout_min);
    let acked_recently = |id: &NodeId| {
        m.heartbeat
            .as_ref()
            .and_then(|h| h.get(id).cloned().flatten())
            .is_some_and(|at| at.elapsed() < fresh)
    };
    let mut successors: Vec<(NodeId, Option<u64>)> = m
        .replication
        .iter()
        .flatten()
        .filter(|(id, _)| **id != s.cluster.id && voters.contains(*id) && acked_recently(id))
        .map(|(id, matched)| (*id, matched.as_ref().map(|l| l.index)))
        .collect();
    successors.sort_by_key(|(_, matched)| std::cmp::Reverse(*matched));
    let mut tried = Vec::new();
    for (to, _) in successors {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match s.cluster.transfer_leader(to, left).await {
            Ok(()) => return Ok(Json(json!({ "stepped_down": true, "leader_id": to }))),
            Err(e) => {
                tracing::warn!(to, error = %e, "step-down: leadership transfer failed");
                tried.push(to);
            }
        }
    }
    let reason = if tried.is_empty() {
        "no other voter has acknowledged this leader recently".to_string()
    } else {
        format!("no voter took over within {STEP_DOWN_BUDGET:?} (tried {tried:?})")
    };
    Ok(Json(
        json!({ "stepped_down": false, "leader_id": s.cluster.id, "reason": reason }),
    ))
}

async fn leader(State(s): State<AppState>) -> Json<serde_json::Value> {
    match s.cluster.leader() {
        Some((id, node)) => Json(json!({ "leader_id": id, "leader": node })),
        None => Json(json!({ "leader_id": null, "leader": null })),
    }
}

async fn raft_metrics(State(s): State<AppState>) -> Json<serde_json::Value> {
    let m = s.cluster.metrics();
    let (voters, learners, nodes) = s.cluster.members();
    let last_log = m.last_log_index.unwrap_or(0);
    let replication: BTreeMap<String, serde_json::Value> = m
        .replication
        .as_ref()
        .map(|r| {
            r.iter()
                .map(|(id, matched)| {
                    let matched = matched.as_ref().map(|l| l.index);
                    let lag = last_log.saturating_sub(matched.unwrap_or(0));
                    (id.to_string(), json!({ "matched": matched, "lag": lag }))
                })
                .collect()
        })
        .unwrap_or_default();
    Json(json!({
        "id": m.id,
        "cluster_id": s.cluster.cluster_id(),
        "state": format!("{:?}", m.state),
        "current_term": m.current_term,
        "vote": m.vote.to_string(),
        "last_log_index": m.last_log_index,
        "last_applied": m.last_applied.as_ref().map(|l| l.index),
        "committed": m.local_committed.as_ref().map(|l| l.index),
        "snapshot": m.snapshot.as_ref().map(|l| l.index),
        "purged": m.purged.as_ref().map(|l| l.index),
        "current_leader": m.current_leader,
        "membership": { "voters": voters, "learners": learners, "nodes": nodes },
        "replication": replication,
        "running": m.running_state.is_ok(),
    }))
}

async fn status(State(s): State<AppState>) -> Json<serde_json::Value> {
    let m = s.cluster.metrics();
    let (voters, learners, nodes) = s.cluster.members();
    Json(json!({
        "node_id": s.cluster.id,
        // Which process answers: scripts that start a node check that it is theirs.
        "pid": std::process::id(),
        "cluster_id": s.cluster.cluster_id(),
        "is_leader": m.current_leader == Some(s.cluster.id),
        "leader_id": m.current_leader,
        "term": m.current_term,
        "commit_index": m.local_committed.as_ref().map(|l| l.index).unwrap_or(0),
        "applied_index": m.last_applied.as_ref().map(|l| l.index).unwrap_or(0),
        "last_log_index": m.last_log_index.unwrap_or(0),
        "members": voters,
        "learners": learners,
        "nodes": nodes,
        "raft_addr": s.cluster.me.raft_addr,
        "resp_addr": s.cluster.me.resp_addr,
    }))
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

async fn kv_get(
    State(s): State<AppState>,
    Query(q): Query<KeyQuery>,
) -> Result<Response, ApiError> {
    let key = q
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter 'key'"))?;
    if s.cluster.is_leader() {
        s.cluster.read_barrier(Duration::from_secs(2)).await?;
    }
    let reader = s.server.db.reader();
    let meta = reader
        .live_meta(0, key.as_bytes(), crate::engine::now_ms())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match meta {
        Some(m) if m.ty == crate::storage::KeyType::String => Ok(Json(json!({
            "key": key,
            "value": String::from_utf8_lossy(&m.value),
        }))
        .into_response()),
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "key holds a non-string value",
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("key '{key}' not found"),
        )),
    }
}

#[derive(Deserialize)]
struct KvWrite {
    op: String,
    key: String,
    #[serde(default)]
    value: Option<String>,
}

async fn kv_post(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: KvWrite = parse(&body)?;
    let argv: Vec<bytes::Bytes> = match (req.op.as_str(), &req.value) {
        ("put", Some(v)) => vec!["SET".into(), req.key.clone().into(), v.clone().into()],
        ("put", None) => return Err(ApiError::bad_request("op 'put' needs a value")),
        ("delete", _) => vec!["DEL".into(), req.key.clone().into()],
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "unknown op '{other}' (use put or delete)"
            )))
        }
    };
    if !s.cluster.is_leader() {
        let leader = s.cluster.leader();
        let mut resp = ApiError::from(crate::raft::cluster::ClusterError::NotLeader {
            leader: leader.clone(),
        })
        .into_response();
        if let Some((_, node)) = leader {
            if let Ok(v) = format!("http://{}/kv", node.raft_addr).parse() {
                resp.headers_mut().insert(header::LOCATION, v);
            }
        }
        return Ok(resp);
    }
    let timeout = s.server.config().raft_write_timeout;
    let reply = s.cluster.write(Mutation::single(0, argv), timeout).await?;
    match reply {
        Reply::Error(e) => Err(ApiError::new(StatusCode::CONFLICT, e)),
        Reply::Int(n) => Ok(Json(
            json!({ "ok": true, "op": req.op, "key": req.key, "deleted": n }),
        )
        .into_response()),
        _ => Ok(Json(json!({ "ok": true, "op": req.op, "key": req.key })).into_response()),
    }
}

#[derive(Deserialize)]
struct PartitionRequest {
    blocked: BTreeSet<NodeId>,
}

/// Fault injection for tests: stop sending Raft traffic to `blocked` peers.
async fn partition(
    State(s): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(faults) = &s.cluster.faults else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "fault injection is disabled (raft-fault-injection no)",
        ));
    };
    let req: PartitionRequest = parse(&body)?;
    faults.set_blocked(req.blocked);
    Ok(Json(json!({ "blocked": faults.blocked() })))
}

async fn healthz(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match s.cluster.metrics().running_state {
        Ok(()) => Ok(Json(json!({ "status": "ok", "node_id": s.cluster.id }))),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("raft stopped: {e}"),
        )),
    }
}

async fn readyz(State(s): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    s.cluster
        .readiness()
        .map(|_| Json(json!({ "ready": true, "node_id": s.cluster.id })))
        .map_err(|reason| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason))
}
