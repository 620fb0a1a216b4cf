//! Raft RPCs between nodes: a binary protocol on the Raft address, beside the HTTP admin API.
//!
//! A peer connection starts with [`MAGIC`] and a handshake in which both ends prove that they
//! know the cluster secret and the caller names the node and cluster it means (see
//! [`super::peer_auth`]). Then it carries length-prefixed postcard frames, request and response
//! alternating on one long-lived connection. Connections that do not start with the magic are
//! HTTP and go to the admin API (see [`MuxListener`]).
//!
//! The node id matters when a node's data is wiped: it comes back at the same address as a new
//! node. Were it to answer the leader's appends for the node it replaced, its empty log would
//! tell the leader that entries a quorum accepted are lost, and openraft's core stops on that.
//! It refuses instead, so the old member just looks unreachable until it is removed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::peer_auth::{HandshakeError, PeerAuth};
use super::snapshot::{SnapshotDir, SnapshotStore};
use super::{decode, encode, KiwiRaft, Snapshot, SnapshotMeta, TypeConfig, Vote};
use crate::pubsub::fanout::PeerMessage;
use crate::pubsub::Hub;
use crate::transport::{Prefixed, Stream, Transport};

/// Version 3: the magic is followed by the authentication handshake of [`PeerAuth`].
pub const MAGIC: &[u8; 8] = b"KIWIRPC3";

/// Largest frame accepted from an authenticated peer: entries are batched by openraft,
/// snapshots are chunked.
pub const MAX_FRAME: usize = 256 << 20;

/// A frame's buffer grows as its bytes arrive, from at most this much: a length prefix alone
/// reserves nothing large.
const FRAME_BUFFER_START: usize = 64 << 10;

/// Size of the file chunks a snapshot is streamed in.
pub const SNAPSHOT_CHUNK: usize = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub enum RpcRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// Starts a snapshot transfer: the files follow as chunks, in this order, then `SnapshotEnd`.
    SnapshotBegin {
        vote: Vote,
        meta: SnapshotMeta,
        files: Vec<(String, u64)>,
    },
    SnapshotChunk(Vec<u8>),
    SnapshotEnd,
    /// Messages published on the sending node, for this node's subscribers (see
    /// `pubsub::fanout`). Answered with nothing: the sender never waits on it. Last, so the
    /// other requests keep their encoding.
    Publish(Vec<PeerMessage>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RpcResponse {
    AppendEntries(AppendEntriesResponse<TypeConfig>),
    Vote(VoteResponse<TypeConfig>),
    TransferLeader(TransferLeaderResponse<TypeConfig>),
    Snapshot(SnapshotResponse<TypeConfig>),
    /// The receiver failed (Raft stopped, storage error, bad frame).
    Error(String),
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> std::io::Result<()> {
    let body = encode(value)?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf).await?;
    w.flush().await
}

pub async fn read_frame<R: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    r: &mut R,
) -> std::io::Result<T> {
    read_frame_limited(r, MAX_FRAME).await
}

/// Reads one frame of at most `limit` bytes. The length is checked before anything is
/// allocated, and the buffer grows with the bytes that actually arrive.
pub async fn read_frame_limited<R: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    r: &mut R,
    limit: usize,
) -> std::io::Result<T> {
    decode(&read_frame_bytes(r, limit).await?)
}

/// One frame's body, refused before anything is allocated when it is longer than `limit`.
pub async fn read_frame_bytes<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {limit}"),
        ));
    }
    let mut body = Vec::with_capacity(len.min(FRAME_BUFFER_START));
    let read = r.take(len as u64).read_to_end(&mut body).await?;
    if read < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("frame cut short: {read} of {len} bytes"),
        ));
    }
    Ok(body)
}

/// How long a caller may take over the handshake before it is disconnected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one peer connection, whose magic has been read, until it closes.
pub async fn serve_peer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    caller: SocketAddr,
    raft: KiwiRaft,
    snapshots: Arc<SnapshotStore>,
    auth: Arc<PeerAuth>,
    hub: Arc<Hub>,
) -> Result<(), HandshakeError> {
    let me = raft.metrics().borrow_watched().id;
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = tokio::io::BufReader::new(rd);
    tokio::time::timeout(HANDSHAKE_TIMEOUT, auth.accept(&mut rd, &mut wr, me, caller))
        .await
        .map_err(|_| HandshakeError::Unauthenticated("handshake timed out".into()))??;
    loop {
        let req: RpcRequest = match read_frame(&mut rd).await {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let resp = match req {
            RpcRequest::Publish(messages) => {
                for m in messages {
                    hub.deliver(m.shard, &m.channel, &m.message);
                }
                continue;
            }
            RpcRequest::AppendEntries(rpc) => match raft.append_entries(rpc).await {
                Ok(r) => RpcResponse::AppendEntries(r),
                Err(e) => RpcResponse::Error(e.to_string()),
            },
            RpcRequest::Vote(rpc) => match raft.vote(rpc).await {
                Ok(r) => RpcResponse::Vote(r),
                Err(e) => RpcResponse::Error(e.to_string()),
            },
            RpcRequest::TransferLeader(rpc) => match raft.handle_transfer_leader(rpc).await {
                Ok(r) => RpcResponse::TransferLeader(r),
                Err(e) => RpcResponse::Error(e.to_string()),
            },
            RpcRequest::SnapshotBegin { vote, meta, files } => {
                match receive_snapshot(&mut rd, &snapshots, &files).await {
                    Ok(dir) => {
                        let snapshot = Snapshot {
                            meta,
                            snapshot: dir,
                        };
                        match raft.install_full_snapshot(vote, snapshot).await {
                            Ok(r) => RpcResponse::Snapshot(r),
                            Err(e) => RpcResponse::Error(e.to_string()),
                        }
                    }
                    Err(e) => RpcResponse::Error(format!("receiving snapshot: {e}")),
                }
            }
            RpcRequest::SnapshotChunk(_) | RpcRequest::SnapshotEnd => {
                RpcResponse::Error("snapshot data without SnapshotBegin".into())
            }
        };
        write_frame(&mut wr, &resp).await?;
    }
}

/// Writes the streamed files of a snapshot into a fresh directory, file by file. The directory
/// is leased (kept from garbage collection) until the returned value is dropped.
async fn receive_snapshot<R: AsyncRead + Unpin>(
    rd: &mut R,
    snapshots: &SnapshotStore,
    files: &[(String, u64)],
) -> std::io::Result<SnapshotDir> {
    let dir = snapshots.incoming_dir()?;
    for (name, size) in files {
        if name.contains('/') || name.contains("..") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad snapshot file name",
            ));
        }
        let mut file = tokio::fs::File::create(dir.path.join(name)).await?;
        let mut written = 0u64;
        while written < *size {
            match read_frame::<_, RpcRequest>(rd).await? {
                RpcRequest::SnapshotChunk(data) => {
                    file.write_all(&data).await?;
                    written += data.len() as u64;
                }
                _ => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "expected a snapshot chunk",
                    ))
                }
            }
        }
        file.sync_all().await?;
    }
    match read_frame::<_, RpcRequest>(rd).await? {
        RpcRequest::SnapshotEnd => Ok(dir),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "expected the end of the snapshot",
        )),
    }
}

/// Accepts connections on the Raft address (TLS first, with `tls-cluster`) and sorts them:
/// peers (starting with [`MAGIC`]) are served here, everything else is handed to the HTTP
/// server through `accept`.
pub struct MuxListener {
    local: SocketAddr,
    http: mpsc::Receiver<(HttpStream, SocketAddr)>,
}

/// What the HTTP server reads: the connection with the bytes read to sort it given back.
pub type HttpStream = Prefixed<Stream>;

impl MuxListener {
    pub fn start(
        listener: TcpListener,
        transport: Transport,
        raft: KiwiRaft,
        snapshots: Arc<SnapshotStore>,
        auth: Arc<PeerAuth>,
        hub: Arc<Hub>,
    ) -> std::io::Result<MuxListener> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "raft accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (tx, transport, raft, snapshots, auth, hub) = (
                    tx.clone(),
                    transport.clone(),
                    raft.clone(),
                    snapshots.clone(),
                    auth.clone(),
                    hub.clone(),
                );
                tokio::spawn(async move {
                    let mut stream = match transport.accept(tcp).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake on the raft port failed");
                            return;
                        }
                    };
                    let first = read_first_bytes(&mut stream).await;
                    if first == MAGIC {
                        match serve_peer(stream, peer, raft, snapshots, auth, hub).await {
                            Err(HandshakeError::Unauthenticated(reason)) => {
                                tracing::warn!(%peer, %reason, "refused a peer connection")
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "peer connection closed"),
                            Ok(()) => {}
                        }
                    } else {
                        let _ = tx.send((Prefixed::new(first, stream), peer)).await;
                    }
                });
            }
        });
        Ok(MuxListener { local, http: rx })
    }
}

/// Reads (waiting briefly) as many of the first bytes as tell a peer from an HTTP caller: up
/// to the length of [`MAGIC`], stopping early at the first byte that differs from it.
async fn read_first_bytes<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut buf = vec![0u8; MAGIC.len()];
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while n < buf.len() && buf[..n] == MAGIC[..n] {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf[n..])).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => n += read,
        }
    }
    buf.truncate(n);
    buf
}

/// The address of an HTTP caller on the Raft port, for handlers (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, MuxListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, MuxListener>) -> PeerAddr {
        PeerAddr(*stream.remote_addr())
    }
}

impl axum::serve::Listener for MuxListener {
    type Io = HttpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.http.recv().await {
            Some(conn) => conn,
            // The acceptor task never ends while the runtime lives; park forever if it did.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_length_over_the_limit_is_refused_before_reading_on() {
        // One byte over MAX_FRAME (256 MiB).
        let mut input: &[u8] = &[0x10, 0, 0, 1, 1, 2, 3];
        let e = read_frame_limited::<_, Vec<u8>>(&mut input, MAX_FRAME)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("exceeds the limit"), "{e}");
    }

    #[tokio::test]
    async fn a_large_length_with_little_data_fails_when_the_data_ends() {
        // 200 MiB announced, 3 bytes sent.
        let mut header = ((200u32 << 20).to_be_bytes()).to_vec();
        header.extend_from_slice(&[1, 2, 3]);
        let mut input = &header[..];
        let e = read_frame_limited::<_, Vec<u8>>(&mut input, MAX_FRAME)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("3 of 209715200"), "{e}");
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &vec![7u8; 100_000]).await.unwrap();
        let mut input = &buf[..];
        let back: Vec<u8> = read_frame(&mut input).await.unwrap();
        assert_eq!(back, vec![7u8; 100_000]);
    }
}
