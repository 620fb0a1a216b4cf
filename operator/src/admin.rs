//! A small typed client of a kiwi node's admin API (`/status`, `/raft/*` on the Raft
//! address). Every call has a timeout: a hung pod must not hang a reconcile.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub type NodeId = u64;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{addr}: unreachable: {message}")]
    Unreachable { addr: String, message: String },
    #[error("{addr}: timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The node answered with an error status; `message` is its JSON error.
    #[error("{addr}{path}: HTTP {status}: {message}")]
    Refused {
        addr: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{addr}{path}: unexpected reply: {message}")]
    BadReply {
        addr: String,
        path: String,
        message: String,
    },
}

impl AdminError {
    /// The node refused because it is not the leader (the caller should re-observe).
    pub fn is_not_leader(&self) -> bool {
        matches!(self, AdminError::Refused { message, .. } if message.contains("leader"))
    }
}

/// A node's `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    #[serde(default)]
    pub cluster_id: Option<String>,
    pub is_leader: bool,
    #[serde(default)]
    pub leader_id: Option<NodeId>,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    #[serde(default)]
    pub last_log_index: u64,
    /// Voters.
    pub members: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    pub raft_addr: String,
    pub resp_addr: String,
}

/// Per-follower progress in a leader's `/raft/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Progress {
    pub matched: Option<u64>,
    pub lag: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct MetricsReply {
    #[serde(default)]
    replication: BTreeMap<String, Progress>,
}

/// The client. Cheap to clone; keeps connections to nodes alive between calls.
#[derive(Clone)]
pub struct AdminClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    /// The cluster's admin token, sent as a bearer token: nodes refuse membership calls
    /// without it.
    token: Option<String>,
}

impl Default for AdminClient {
    fn default() -> Self {
        AdminClient::new(Duration::from_secs(5))
    }
}

impl AdminClient {
    pub fn new(timeout: Duration) -> AdminClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        AdminClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            token: None,
        }
    }

    /// The same client (sharing its connections), sending `token` with every call.
    pub fn with_token(&self, token: &str) -> AdminClient {
        AdminClient {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        addr: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> Result<T, AdminError> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request =
            request
                .body(Full::new(Bytes::from(bytes)))
                .map_err(|e| AdminError::Unreachable {
                    addr: addr.into(),
                    message: e.to_string(),
                })?;
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| AdminError::Unreachable {
                        addr: addr.into(),
                        message: e.to_string(),
                    })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| AdminError::Unreachable {
                    addr: addr.into(),
                    message: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, AdminError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| AdminError::Timeout {
                addr: addr.into(),
                timeout,
            })??;
        if status != StatusCode::OK {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(AdminError::Refused {
                addr: addr.into(),
                path: path.into(),
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| AdminError::BadReply {
            addr: addr.into(),
            path: path.into(),
            message: e.to_string(),
        })
    }

    pub async fn status(&self, addr: &str) -> Result<NodeStatus, AdminError> {
        self.call(addr, Method::GET, "/status", None, self.timeout)
            .await
    }

    /// Each follower's matched index, as the leader at `addr` sees it.
    pub async fn replication(&self, addr: &str) -> Result<BTreeMap<NodeId, Progress>, AdminError> {
        let reply: MetricsReply = self
            .call(addr, Method::GET, "/raft/metrics", None, self.timeout)
            .await?;
        Ok(reply
            .replication
            .into_iter()
            .filter_map(|(id, p)| id.parse().ok().map(|id| (id, p)))
            .collect())
    }

    /// Initializes a one-node cluster of the node at `addr`. Idempotent on the node.
    pub async fn init(&self, addr: &str) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(addr, Method::POST, "/raft/init", None, self.timeout)
            .await?;
        Ok(())
    }

    /// Adds a learner through the leader at `leader`; returns once the change is committed,
    /// without waiting for the learner to catch up.
    pub async fn add_learner(
        &self,
        leader: &str,
        node_id: NodeId,
        raft_addr: &str,
        resp_addr: &str,
    ) -> Result<(), AdminError> {
        let body = json!({
            "node_id": node_id,
            "node": { "raft_addr": raft_addr, "resp_addr": resp_addr },
            "wait": false,
            "timeout_secs": self.timeout.as_secs().max(1),
        });
        self.change(leader, "/raft/add_learner", body).await
    }

    /// A membership change through the leader: bounded by twice the call timeout, since it
    /// waits for the change to commit.
    async fn change(
        &self,
        leader: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(leader, Method::POST, path, Some(body), self.timeout * 2)
            .await?;
        Ok(())
    }

    pub async fn promote(&self, leader: &str, node_id: NodeId) -> Result<(), AdminError> {
        self.change(leader, "/raft/promote", json!({ "node_id": node_id }))
            .await
    }

    /// Removes a voter or learner.
    pub async fn remove_node(&self, leader: &str, node_id: NodeId) -> Result<(), AdminError> {
        self.change(leader, "/raft/remove_node", json!({ "node_id": node_id }))
            .await
    }

    /// Asks the leader at `leader` to hand leadership to `to`; returns once `to` leads.
    pub async fn transfer_leader(&self, leader: &str, to: NodeId) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(
                leader,
                Method::POST,
                "/raft/transfer_leader",
                Some(json!({ "to": to })),
                Duration::from_secs(15),
            )
            .await?;
        Ok(())
    }
}
