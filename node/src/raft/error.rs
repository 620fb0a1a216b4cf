//! What a cluster operation (a write, a read barrier, a membership change) can fail with. Its
//! own module, so the read gate and the cluster handle both use it without importing each other.

use std::time::Duration;

use super::{KiwiNode, NodeId};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("not the leader")]
    NotLeader { leader: Option<(NodeId, KiwiNode)> },
    #[error("no raft leader")]
    NoLeader,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("raft stopped: {0}")]
    Fatal(String),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}
