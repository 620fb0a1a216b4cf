//! Raft replication with openraft: every write is a log entry, committed on a majority's disks
//! before it is applied and acknowledged.
//!
//! openraft is an alpha pinned exactly (see ARCHITECTURE.md); everything that names its types
//! lives under this module so an upgrade touches one place.

pub mod cluster;
pub mod error;
pub mod log_store;
pub mod network;
pub mod peer_auth;
mod read_gate;
pub mod rpc;
pub mod snapshot;
pub mod state_machine;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::engine::{Mutation, Response};

/// How other nodes and clients reach a node: its Raft/HTTP address and its RESP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KiwiNode {
    pub raft_addr: String,
    pub resp_addr: String,
}

impl fmt::Display for KiwiNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{raft {}, resp {}}}", self.raft_addr, self.resp_addr)
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mutation({} ops at {})", self.ops.len(), self.now_ms)
    }
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Mutation,
        R = Response,
        NodeId = u64,
        Node = KiwiNode,
);

pub type NodeId = u64;
pub type KiwiRaft = openraft::Raft<TypeConfig, state_machine::StateMachine>;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, snapshot::SnapshotDir>;
pub type Membership = openraft::Membership<NodeId, KiwiNode>;

/// Encodes a value for the log, the state machine's bookkeeping and the wire (compact binary).
pub fn encode<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    postcard::to_allocvec(value)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

pub fn io_err(e: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}
