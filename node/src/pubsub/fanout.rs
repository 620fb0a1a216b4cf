//! Forwarding published messages to the other members of the cluster (see the module above for
//! why they do not go through the log).
//!
//! Each other member has a link: a bounded queue and one task that sends what the queue holds,
//! in batches, as `Publish` frames on its own authenticated peer connection (the Raft port's
//! handshake, [`crate::raft::network::connect_peer`]). The receiving node delivers them to its
//! own subscribers and answers nothing, so the link never waits for a reply. PUBLISH only
//! offers the message to each queue: a full queue (a member slow or down) drops it, a member
//! that cannot be reached is retried at most once a second and misses what is published
//! meanwhile, and every write is bounded by a timeout. Messages from one publisher reach a
//! member in the order they were published, over one connection.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::raft::cluster::Cluster;
use crate::raft::network::{connect_peer, PeerConn};
use crate::raft::rpc::{write_frame, RpcRequest, MAX_FRAME};
use crate::raft::NodeId;
use crate::transport::Transport;

/// A message published on another member, as it travels between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerMessage {
    /// SPUBLISH (shard channels) rather than PUBLISH.
    pub shard: bool,
    pub channel: Bytes,
    pub message: Bytes,
}

impl PeerMessage {
    fn len(&self) -> usize {
        self.channel.len() + self.message.len() + 16
    }
}

/// Messages, and bytes of them, a link holds for a member that is slow to take them; beyond,
/// they are dropped.
const LINK_QUEUE: usize = 16 * 1024;
const LINK_BYTES: usize = 64 << 20;
/// Most messages, and bytes of them, in one frame.
const BATCH_MESSAGES: usize = 1024;
const BATCH_BYTES: usize = 4 << 20;
/// A message too large to send to the other members (it could never fit a peer frame) is
/// delivered on its own node only.
const MAX_MESSAGE: usize = MAX_FRAME / 2;
/// How long connecting to a member, or writing one frame to it, may take.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a link waits before it tries again to reach a member it could not reach.
const RETRY: Duration = Duration::from_secs(1);

struct Link {
    addr: String,
    tx: mpsc::Sender<PeerMessage>,
    /// Bytes of messages in the queue (see [`LINK_BYTES`]).
    queued: Arc<AtomicUsize>,
}

pub struct Fanout {
    /// Weak: the cluster holds the hub (for keyspace notifications) that holds this.
    cluster: Weak<Cluster>,
    transport: Transport,
    /// One link per other member, by node id; rebuilt when the membership changes.
    links: Mutex<BTreeMap<NodeId, Link>>,
}

impl Fanout {
    pub fn new(cluster: Arc<Cluster>, transport: Transport) -> Fanout {
        Fanout {
            cluster: Arc::downgrade(&cluster),
            transport,
            links: Mutex::new(BTreeMap::new()),
        }
    }

    /// Offers a message to every other member's link; never waits.
    pub fn send(&self, shard: bool, channel: &Bytes, message: &Bytes) {
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let members: Vec<(NodeId, String)> = {
            let metrics = cluster.raft.metrics();
            let m = metrics.borrow_watched();
            m.membership_config
                .membership()
                .nodes()
                .filter(|(id, _)| **id != cluster.id)
                .map(|(id, node)| (*id, node.raft_addr.clone()))
                .collect()
        };
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        // Members that left lose their link (its task ends with its queue).
        links.retain(|id, link| members.iter().any(|(m, a)| m == id && *a == link.addr));
        if members.is_empty() {
            return;
        }
        let msg = PeerMessage {
            shard,
            channel: channel.clone(),
            message: message.clone(),
        };
        if msg.len() > MAX_MESSAGE {
            tracing::warn!(
                bytes = msg.len(),
                "a published message too large to forward was delivered on this node only"
            );
            return;
        }
        let len = msg.len();
        for (id, addr) in members {
            let link = links.entry(id).or_insert_with(|| self.start_link(id, addr));
            // Full: the member is slow or down, and misses the message (at-most-once).
            // Counted before it is queued: the link subtracts it once it takes it.
            if link.queued.fetch_add(len, Ordering::Relaxed) + len > LINK_BYTES
                || link.tx.try_send(msg.clone()).is_err()
            {
                link.queued.fetch_sub(len, Ordering::Relaxed);
            }
        }
    }

    fn start_link(&self, id: NodeId, addr: String) -> Link {
        let (tx, rx) = mpsc::channel(LINK_QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run_link(
            id,
            addr.clone(),
            rx,
            queued.clone(),
            self.cluster.clone(),
            self.transport.clone(),
        ));
        Link { addr, tx, queued }
    }
}

/// Sends what `rx` holds to member `id` at `addr` until the link is dropped.
async fn run_link(
    id: NodeId,
    addr: String,
    mut rx: mpsc::Receiver<PeerMessage>,
    queued: Arc<AtomicUsize>,
    cluster: Weak<Cluster>,
    transport: Transport,
) {
    let mut conn: Option<PeerConn> = None;
    let mut retry_at = tokio::time::Instant::now();
    while let Some(first) = rx.recv().await {
        let mut bytes = first.len();
        let mut batch = vec![first];
        while batch.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
            match rx.try_recv() {
                Ok(m) => {
                    bytes += m.len();
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        queued.fetch_sub(bytes, Ordering::Relaxed);
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        if cluster.faults.as_ref().is_some_and(|f| f.is_blocked(id)) {
            conn = None;
            continue;
        }
        if conn.is_none() {
            if tokio::time::Instant::now() < retry_at {
                continue;
            }
            let connect = connect_peer(&transport, &addr, id, &cluster.peer_auth);
            match tokio::time::timeout(IO_TIMEOUT, connect).await {
                Ok(Ok(c)) => conn = Some(c),
                outcome => {
                    let why = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    tracing::debug!(target = id, %addr, %why, "cannot forward published messages");
                    retry_at = tokio::time::Instant::now() + RETRY;
                    continue;
                }
            }
        }
        let Some((_, wr)) = conn.as_mut() else {
            continue;
        };
        let frame = RpcRequest::Publish(batch);
        match tokio::time::timeout(IO_TIMEOUT, write_frame(wr, &frame)).await {
            Ok(Ok(())) => {}
            _ => {
                // Half a frame may have gone: start over on a new connection.
                conn = None;
                retry_at = tokio::time::Instant::now() + RETRY;
            }
        }
    }
}
