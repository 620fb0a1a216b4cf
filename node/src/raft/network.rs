//! The client side of Raft RPCs: one long-lived connection per peer, reconnected on failure,
//! every call bounded by the timeout openraft gives it.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{EntryPayload, OptionalSend};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};

use crate::transport::{Stream, Transport};

use super::peer_auth::{HandshakeError, PeerAuth};
use super::rpc::{read_frame, write_frame, RpcRequest, RpcResponse, MAGIC, SNAPSHOT_CHUNK};
use super::snapshot::{list_files, SnapshotDir};
use super::{encode, Entry, KiwiNode, LogId, NodeId, Snapshot, TypeConfig, Vote};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a follower may take to install a snapshot once it has every file.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a single snapshot chunk write may block (a stalled follower).
const CHUNK_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of entries one AppendEntries request carries (at least one entry, which a write
/// refused up front beyond [`super::cluster::MAX_ENTRY_BYTES`] keeps within a frame). openraft
/// caps a batch by its number of entries only: a batch of large values exceeded the receiver's
/// frame limit, was refused whole, and was sent again forever.
const APPEND_BATCH_BYTES: usize = 64 << 20;

/// Test-only fault injection (`raft-fault-injection yes`): peers this node must not reach.
/// Blocking each side's outbound traffic to the other makes a symmetric partition.
#[derive(Clone, Default)]
pub struct Faults(Arc<RwLock<BTreeSet<NodeId>>>);

impl Faults {
    pub fn set_blocked(&self, peers: BTreeSet<NodeId>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = peers;
    }

    pub fn blocked(&self) -> BTreeSet<NodeId> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn is_blocked(&self, peer: NodeId) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&peer)
    }
}

#[derive(Clone)]
pub struct NetworkFactory {
    pub faults: Faults,
    auth: Arc<PeerAuth>,
    transport: Transport,
}

impl NetworkFactory {
    pub fn new(auth: Arc<PeerAuth>, transport: Transport) -> NetworkFactory {
        NetworkFactory {
            faults: Faults::default(),
            auth,
            transport,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &KiwiNode) -> PeerClient {
        PeerClient {
            target,
            addr: node.raft_addr.clone(),
            conn: None,
            faults: self.faults.clone(),
            auth: self.auth.clone(),
            transport: self.transport.clone(),
        }
    }
}

type Conn = (BufReader<ReadHalf<Stream>>, WriteHalf<Stream>);

/// An authenticated connection to a peer, for traffic other than Raft's own (published
/// messages, see `pubsub::fanout`).
pub type PeerConn = Conn;

/// Opens an authenticated peer connection to `addr`, meant for node `target`.
pub async fn connect_peer(
    transport: &Transport,
    addr: &str,
    target: NodeId,
    auth: &PeerAuth,
) -> std::io::Result<PeerConn> {
    connect(transport, addr, target, auth)
        .await
        .map_err(|e| match e {
            CallError::Connect(e) | CallError::Io(e) => e,
            CallError::Handshake(e) => std::io::Error::other(e.to_string()),
            CallError::Timeout => std::io::ErrorKind::TimedOut.into(),
            CallError::Remote(e) => std::io::Error::other(e),
        })
}

pub struct PeerClient {
    target: NodeId,
    addr: String,
    conn: Option<Conn>,
    faults: Faults,
    auth: Arc<PeerAuth>,
    transport: Transport,
}

enum CallError {
    Connect(std::io::Error),
    /// The peer refused the handshake, or failed to prove the cluster secret.
    Handshake(HandshakeError),
    Io(std::io::Error),
    Timeout,
    Remote(String),
}

impl CallError {
    fn into_rpc(self, target: NodeId, addr: &str) -> RPCError<TypeConfig> {
        match self {
            CallError::Connect(e) => RPCError::Unreachable(Unreachable::from_string(format!(
                "node {target} at {addr}: {e}"
            ))),
            CallError::Handshake(e) => RPCError::Unreachable(Unreachable::from_string(format!(
                "node {target} at {addr}: {e}"
            ))),
            CallError::Io(e) => RPCError::Network(NetworkError::from_string(format!(
                "node {target} at {addr}: {e}"
            ))),
            CallError::Timeout => RPCError::Network(NetworkError::from_string(format!(
                "node {target} at {addr}: timed out"
            ))),
            CallError::Remote(e) => RPCError::Network(NetworkError::from_string(format!(
                "node {target} at {addr} failed: {e}"
            ))),
        }
    }
}

/// How long the authentication handshake may take once connected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens an authenticated peer connection to `addr`, meant for node `target`.
async fn connect(
    transport: &Transport,
    addr: &str,
    target: NodeId,
    auth: &PeerAuth,
) -> Result<Conn, CallError> {
    let stream = transport
        .connect(addr, CONNECT_TIMEOUT)
        .await
        .map_err(|e| {
            // A certificate the peer refuses, or one this node cannot check: a configuration
            // error to show, not just a member that never answers.
            if e.kind() == std::io::ErrorKind::InvalidData {
                tracing::warn!(target, %addr, error = %e, "TLS with peer failed");
            }
            CallError::Connect(e)
        })?;
    let (rd, mut wr) = tokio::io::split(stream);
    wr.write_all(MAGIC).await.map_err(CallError::Connect)?;
    let mut rd = BufReader::new(rd);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, auth.connect(&mut rd, &mut wr, target)).await {
        Err(_) => return Err(CallError::Timeout),
        Ok(Err(e)) => {
            // Said once per connection attempt: a node with the wrong secret must be visible
            // in the logs, not only as a member that never answers.
            tracing::warn!(target, %addr, error = %e, "peer handshake failed");
            return Err(CallError::Handshake(e));
        }
        Ok(Ok(())) => {}
    }
    Ok((rd, wr))
}

impl PeerClient {
    fn check_faults(&mut self) -> Result<(), CallError> {
        if self.faults.is_blocked(self.target) {
            self.conn = None;
            return Err(CallError::Connect(std::io::Error::other(
                "partitioned by fault injection",
            )));
        }
        Ok(())
    }

    async fn call(&mut self, req: RpcRequest, timeout: Duration) -> Result<RpcResponse, CallError> {
        self.check_faults()?;
        let result = tokio::time::timeout(timeout, async {
            if self.conn.is_none() {
                self.conn =
                    Some(connect(&self.transport, &self.addr, self.target, &self.auth).await?);
            }
            let (rd, wr) = self.conn.as_mut().expect("connected above");
            write_frame(wr, &req).await.map_err(CallError::Io)?;
            read_frame::<_, RpcResponse>(rd)
                .await
                .map_err(CallError::Io)
        })
        .await
        .unwrap_or(Err(CallError::Timeout));
        match result {
            Ok(RpcResponse::Error(e)) => Err(CallError::Remote(e)),
            Ok(resp) => Ok(resp),
            Err(e) => {
                // The stream may hold half a frame: start over on a new connection.
                self.conn = None;
                Err(e)
            }
        }
    }

    fn unexpected(&self, what: &str) -> RPCError<TypeConfig> {
        RPCError::Network(NetworkError::from_string(format!(
            "node {}: unexpected reply to {what}",
            self.target
        )))
    }

    async fn send_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
    ) -> Result<SnapshotResponse<TypeConfig>, CallError> {
        self.check_faults()?;
        // A dedicated connection: a snapshot must not queue behind (or in front of) appends.
        let (mut rd, mut wr) =
            connect(&self.transport, &self.addr, self.target, &self.auth).await?;
        let dir: SnapshotDir = snapshot.snapshot;
        let files = list_files(&dir.path).map_err(CallError::Io)?;
        let begin = RpcRequest::SnapshotBegin {
            vote,
            meta: snapshot.meta,
            files: files.clone(),
        };
        write_frame(&mut wr, &begin).await.map_err(CallError::Io)?;
        let mut buf = vec![0u8; SNAPSHOT_CHUNK];
        for (name, size) in &files {
            let mut file = tokio::fs::File::open(dir.path.join(name))
                .await
                .map_err(CallError::Io)?;
            let mut sent = 0u64;
            while sent < *size {
                let want = ((*size - sent) as usize).min(SNAPSHOT_CHUNK);
                file.read_exact(&mut buf[..want])
                    .await
                    .map_err(CallError::Io)?;
                let frame = RpcRequest::SnapshotChunk(buf[..want].to_vec());
                tokio::time::timeout(CHUNK_TIMEOUT, write_frame(&mut wr, &frame))
                    .await
                    .map_err(|_| CallError::Timeout)?
                    .map_err(CallError::Io)?;
                sent += want as u64;
            }
        }
        write_frame(&mut wr, &RpcRequest::SnapshotEnd)
            .await
            .map_err(CallError::Io)?;
        match tokio::time::timeout(INSTALL_TIMEOUT, read_frame::<_, RpcResponse>(&mut rd)).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Err(e)) => Err(CallError::Io(e)),
            Ok(Ok(RpcResponse::Snapshot(r))) => Ok(r),
            Ok(Ok(RpcResponse::Error(e))) => Err(CallError::Remote(e)),
            Ok(Ok(_)) => Err(CallError::Remote("unexpected reply to a snapshot".into())),
        }
    }
}

/// At least the encoded size of `entry`, computed without encoding a large one.
fn entry_len_bound(entry: &Entry) -> usize {
    match &entry.payload {
        // The log id and the payload's tag.
        EntryPayload::Normal(mutation) => 64 + mutation.encoded_len_bound(),
        // Blank and membership entries are small and rare: measured.
        _ => encode(entry).map_or(64 << 10, |v| v.len()),
    }
}

/// Cuts `entries` to its longest prefix of at most `budget` bytes, keeping at least one entry.
/// Returns the bytes kept and, if it cut, the log id of the last entry kept.
fn cut_to_budget(entries: &mut Vec<Entry>, budget: usize) -> (usize, Option<LogId>) {
    let mut total = 0;
    for (i, entry) in entries.iter().enumerate() {
        let len = entry_len_bound(entry);
        if i > 0 && total + len > budget {
            let last = entries[i - 1].log_id;
            entries.truncate(i);
            return (total, Some(last));
        }
        total += len;
    }
    (total, None)
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotDir;

    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // A batch too large for one frame goes in parts: this part is reported as a partial
        // success, and openraft sends the rest next.
        let (bytes, cut) = cut_to_budget(&mut rpc.entries, APPEND_BATCH_BYTES);
        // Big batches (catch-up, large values) need more than a heartbeat's budget: 5 s, and
        // a second more for every 10 MiB.
        let big = rpc.entries.len() > 64 || bytes > 1 << 20;
        let timeout = option.soft_ttl().max(if big {
            Duration::from_secs(5 + (bytes / (10 << 20)) as u64)
        } else {
            Duration::ZERO
        });
        match self.call(RpcRequest::AppendEntries(rpc), timeout).await {
            Ok(RpcResponse::AppendEntries(r)) => Ok(match (r, cut) {
                (AppendEntriesResponse::Success, Some(last)) => {
                    AppendEntriesResponse::PartialSuccess(Some(last))
                }
                (r, _) => r,
            }),
            Ok(_) => Err(self.unexpected("append_entries")),
            Err(e) => Err(e.into_rpc(self.target, &self.addr)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(RpcRequest::Vote(rpc), option.soft_ttl()).await {
            Ok(RpcResponse::Vote(r)) => Ok(r),
            Ok(_) => Err(self.unexpected("vote")),
            Err(e) => Err(e.into_rpc(self.target, &self.addr)),
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(RpcRequest::TransferLeader(req), option.soft_ttl())
            .await
        {
            Ok(RpcResponse::TransferLeader(r)) => Ok(r),
            Ok(_) => Err(self.unexpected("transfer_leader")),
            Err(e) => Err(e.into_rpc(self.target, &self.addr)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let (target, addr) = (self.target, self.addr.clone());
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            result = self.send_snapshot(vote, snapshot) => result.map_err(|e| match e.into_rpc(target, &addr) {
                RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                RPCError::Network(n) => StreamingError::Network(n),
                other => StreamingError::Network(NetworkError::from_string(other.to_string())),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use openraft::testing::blank_ent;

    use super::*;
    use crate::engine::Mutation;

    fn entry(index: u64, value_len: usize) -> Entry {
        let mut entry = blank_ent::<TypeConfig>(1, 1, index);
        let argv = vec![
            Bytes::from("SET"),
            Bytes::from(format!("k{index}")),
            Bytes::from(vec![b'v'; value_len]),
        ];
        entry.payload = EntryPayload::Normal(Mutation::single(0, argv));
        entry
    }

    #[test]
    fn a_batch_is_cut_to_its_byte_budget() {
        let mut entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1000)).collect();
        // Each entry counts 1160 bytes: four fit in 4700.
        let (bytes, cut) = cut_to_budget(&mut entries, 4700);
        assert_eq!(entries.len(), 4);
        assert_eq!(cut.map(|l| l.index), Some(4));
        assert!(bytes <= 4700);
        let encoded = encode(&entries).unwrap().len();
        assert!(bytes >= encoded, "{bytes} bytes counted, {encoded} encoded");

        let mut entries: Vec<Entry> = (1..=3).map(|i| entry(i, 1000)).collect();
        assert_eq!(cut_to_budget(&mut entries, 1 << 20).1, None);
        assert_eq!(entries.len(), 3);

        // An entry beyond the budget still goes, alone: the write path refused the ones that
        // would not fit a frame.
        let mut entries = vec![entry(1, 9000), entry(2, 10)];
        assert_eq!(
            cut_to_budget(&mut entries, 4500).1.map(|l| l.index),
            Some(1)
        );
        assert_eq!(entries.len(), 1);
    }
}
