//! Peer authentication: before a node serves a single Raft RPC on a connection, both ends prove
//! that they know the cluster secret, and the connection names the node and cluster it is for.
//!
//! The handshake follows [`super::rpc::MAGIC`], in small length-prefixed frames:
//!
//! 1. caller -> node: [`Hello`]: the target node id, the caller's cluster id (if it has one) and
//!    a fresh random nonce;
//! 2. node -> caller: [`Challenge`]: its own nonce and an HMAC-SHA256 over both nonces and the
//!    target id, keyed with the cluster secret (or a refusal: wrong node id, other cluster);
//! 3. caller -> node: [`Finish`]: the caller's HMAC over the same data, with another label;
//! 4. node -> caller: [`Verdict`].
//!
//! Both nonces are fresh for every connection, so a recorded handshake cannot be replayed, and
//! the labels keep one side's proof from serving as the other's. A node that fails step 3 is
//! answered with a refusal and disconnected before it can send a vote or an append. The
//! frames before authentication are at most [`HANDSHAKE_FRAME`] bytes, so an unauthenticated
//! caller cannot make a node reserve memory.
//!
//! A node with no `cluster-secret` is in protected mode, as Redis is without a password: it
//! proves a built-in key, which any kiwi knows, and so accepts peers on its own host only
//! (a local cluster, the tests). Nodes on several hosts need the secret.
//!
//! This authenticates the connection, not each frame: against an attacker who can rewrite
//! traffic in flight, peer TLS is the answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};

use super::rpc::{read_frame_limited, write_frame};
use super::snapshot::CLUSTER_ID_KEY;
use super::NodeId;
use crate::storage::{Cf, Db};

/// Largest handshake frame: the messages below are well under 100 bytes.
pub const HANDSHAKE_FRAME: usize = 1024;

type HmacSha256 = Hmac<Sha256>;
type Nonce = [u8; 16];
type Proof = [u8; 32];

/// The key of protected mode (no `cluster-secret`): public, so only loopback peers are taken.
const PROTECTED_MODE_KEY: &[u8] = b"kiwi peer v3: no cluster-secret configured";

const SERVER_LABEL: &[u8] = b"kiwi peer v3: node proof";
const CLIENT_LABEL: &[u8] = b"kiwi peer v3: caller proof";

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    target: NodeId,
    cluster_id: Option<String>,
    nonce: Nonce,
}

#[derive(Debug, Serialize, Deserialize)]
enum Challenge {
    Accept {
        cluster_id: Option<String>,
        nonce: Nonce,
        proof: Proof,
    },
    Refuse(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Finish {
    proof: Proof,
}

#[derive(Debug, Serialize, Deserialize)]
enum Verdict {
    Welcome,
    Refuse(String),
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The other side refused this connection; its reason.
    #[error("refused: {0}")]
    Refused(String),
    /// The other side does not know the cluster secret, or belongs to another node or cluster.
    #[error("{0}")]
    Unauthenticated(String),
}

/// Protected mode's test: a caller on this host. IPv4-mapped IPv6 loopback counts too.
pub fn is_local(peer: IpAddr) -> bool {
    match peer {
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

/// What a node knows to authenticate its peers: the cluster secret, and where its cluster id
/// is kept (it appears once the node applies, or receives in a snapshot, the first membership).
pub struct PeerAuth {
    secret: Vec<u8>,
    /// No secret configured: peers on this host only.
    protected_mode: bool,
    db: Arc<Db>,
}

impl PeerAuth {
    pub fn new(secret: Option<&str>, db: Arc<Db>) -> PeerAuth {
        PeerAuth {
            secret: secret
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_else(|| PROTECTED_MODE_KEY.to_vec()),
            protected_mode: secret.is_none(),
            db,
        }
    }

    pub fn cluster_id(&self) -> Option<String> {
        let value = self.db.reader().get(Cf::Sys, CLUSTER_ID_KEY).ok()??;
        String::from_utf8(value).ok()
    }

    fn mac(&self, label: &[u8], target: NodeId, caller: &Nonce, node: &Nonce) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(&target.to_be_bytes());
        mac.update(caller);
        mac.update(node);
        mac
    }

    fn proof(&self, label: &[u8], target: NodeId, caller: &Nonce, node: &Nonce) -> Proof {
        self.mac(label, target, caller, node)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Checks a proof in constant time.
    fn verify(
        &self,
        label: &[u8],
        target: NodeId,
        caller: &Nonce,
        node: &Nonce,
        proof: &Proof,
    ) -> bool {
        self.mac(label, target, caller, node)
            .verify_slice(proof)
            .is_ok()
    }

    /// The caller's side, right after the magic: proves the secret to node `target` and checks
    /// that node's proof.
    pub async fn connect<R, W>(
        &self,
        rd: &mut R,
        wr: &mut W,
        target: NodeId,
    ) -> Result<(), HandshakeError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let ours = self.cluster_id();
        let caller: Nonce = rand::random();
        let hello = Hello {
            target,
            cluster_id: ours.clone(),
            nonce: caller,
        };
        write_frame(wr, &hello).await?;
        let (theirs, node, proof) = match read_frame_limited(rd, HANDSHAKE_FRAME).await? {
            Challenge::Accept {
                cluster_id,
                nonce,
                proof,
            } => (cluster_id, nonce, proof),
            Challenge::Refuse(reason) => return Err(HandshakeError::Refused(reason)),
        };
        if !self.verify(SERVER_LABEL, target, &caller, &node, &proof) {
            return Err(HandshakeError::Unauthenticated(format!(
                "node {target} does not know this cluster's secret \
                 (cluster-secret differs between the nodes)"
            )));
        }
        if let Some(reason) = cluster_mismatch(ours.as_deref(), theirs.as_deref()) {
            return Err(HandshakeError::Unauthenticated(reason));
        }
        let finish = Finish {
            proof: self.proof(CLIENT_LABEL, target, &caller, &node),
        };
        write_frame(wr, &finish).await?;
        match read_frame_limited(rd, HANDSHAKE_FRAME).await? {
            Verdict::Welcome => Ok(()),
            Verdict::Refuse(reason) => Err(HandshakeError::Refused(reason)),
        }
    }

    /// The node's side, right after the magic: the caller must name this node, belong to no
    /// other cluster, and prove the secret (in protected mode: be on this host). Refusals are
    /// also sent to the caller, so its log says why.
    pub async fn accept<R, W>(
        &self,
        rd: &mut R,
        wr: &mut W,
        me: NodeId,
        caller: SocketAddr,
    ) -> Result<(), HandshakeError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let hello: Hello = read_frame_limited(rd, HANDSHAKE_FRAME).await?;
        let ours = self.cluster_id();
        let refusal = if self.protected_mode && !is_local(caller.ip()) {
            Some(format!(
                "protected mode: node {me} has no cluster-secret, so it only takes peers on its \
                 own host; set the same cluster-secret on every node"
            ))
        } else if hello.target != me {
            // A wiped node back at the same address as a new id must not answer for the node it
            // replaced: its empty log would tell the leader that committed entries are lost.
            Some(format!(
                "this is node {me}, not node {} (its data was replaced)",
                hello.target
            ))
        } else {
            cluster_mismatch(ours.as_deref(), hello.cluster_id.as_deref())
        };
        if let Some(reason) = refusal {
            write_frame(wr, &Challenge::Refuse(reason.clone())).await?;
            return Err(HandshakeError::Unauthenticated(reason));
        }
        let node: Nonce = rand::random();
        let challenge = Challenge::Accept {
            cluster_id: ours,
            nonce: node,
            proof: self.proof(SERVER_LABEL, me, &hello.nonce, &node),
        };
        write_frame(wr, &challenge).await?;
        let finish: Finish = read_frame_limited(rd, HANDSHAKE_FRAME).await?;
        if !self.verify(CLIENT_LABEL, me, &hello.nonce, &node, &finish.proof) {
            let reason = "peer authentication failed: the caller does not know this \
                          cluster's secret"
                .to_string();
            write_frame(wr, &Verdict::Refuse(reason.clone())).await?;
            return Err(HandshakeError::Unauthenticated(reason));
        }
        write_frame(wr, &Verdict::Welcome).await?;
        Ok(())
    }
}

/// Two nodes that both know their cluster must know the same one. A node that has none yet
/// (new, about to be added as a learner) may talk to any member that knows the secret.
fn cluster_mismatch(ours: Option<&str>, theirs: Option<&str>) -> Option<String> {
    match (ours, theirs) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "cluster id mismatch: this node belongs to cluster {a}, the other to {b}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;

    fn auth(secret: &str, dir: &std::path::Path) -> PeerAuth {
        let db = Db::open(dir, &StorageOptions::default()).unwrap();
        PeerAuth::new((!secret.is_empty()).then_some(secret), db)
    }

    async fn handshake(
        caller: &PeerAuth,
        node: &PeerAuth,
        target: NodeId,
        me: NodeId,
    ) -> (Result<(), HandshakeError>, Result<(), HandshakeError>) {
        handshake_from(caller, node, target, me, "127.0.0.1:5000".parse().unwrap()).await
    }

    async fn handshake_from(
        caller: &PeerAuth,
        node: &PeerAuth,
        target: NodeId,
        me: NodeId,
        from: SocketAddr,
    ) -> (Result<(), HandshakeError>, Result<(), HandshakeError>) {
        let (a, b) = tokio::io::duplex(4096);
        let (mut ard, mut awr) = tokio::io::split(a);
        let (mut brd, mut bwr) = tokio::io::split(b);
        // Each side hangs up when it is done, as a TCP connection would close: both halves
        // of a split stream must go for the other side to see the end.
        tokio::join!(
            async {
                let r = caller.connect(&mut ard, &mut awr, target).await;
                drop((ard, awr));
                r
            },
            async {
                let r = node.accept(&mut brd, &mut bwr, me, from).await;
                drop((brd, bwr));
                r
            }
        )
    }

    /// The caller was refused by the node, for a reason that says `why`.
    fn assert_refused(caller: Result<(), HandshakeError>, why: &str) {
        match caller {
            Err(HandshakeError::Refused(reason)) => assert!(reason.contains(why), "{reason}"),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_same_secret_is_welcome() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (auth("s3cret", d1.path()), auth("s3cret", d2.path()));
        let (caller, node) = handshake(&a, &b, 7, 7).await;
        caller.unwrap();
        node.unwrap();
    }

    #[tokio::test]
    async fn another_secret_is_refused_on_both_sides() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (auth("guess", d1.path()), auth("s3cret", d2.path()));
        let (caller, node) = handshake(&a, &b, 7, 7).await;
        assert!(
            matches!(caller, Err(HandshakeError::Unauthenticated(_))),
            "{caller:?}"
        );
        // The caller hangs up as soon as the node's proof fails: the node never gets to run
        // anything for it.
        assert!(node.is_err(), "{node:?}");
    }

    #[tokio::test]
    async fn a_connection_meant_for_another_node_is_refused() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (auth("s3cret", d1.path()), auth("s3cret", d2.path()));
        let (caller, node) = handshake(&a, &b, 12345, 1).await;
        assert_refused(caller, "this is node 1, not node 12345");
        assert!(node.is_err());
    }

    #[tokio::test]
    async fn another_cluster_is_refused() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (auth("s3cret", d1.path()), auth("s3cret", d2.path()));
        for (auth, id) in [(&a, "00000000000000aa"), (&b, "00000000000000bb")] {
            let mut txn = auth.db.writer();
            txn.put(Cf::Sys, CLUSTER_ID_KEY.to_vec(), id.as_bytes().to_vec());
            auth.db.commit(txn, true).unwrap();
        }
        let (caller, _) = handshake(&a, &b, 7, 7).await;
        assert_refused(caller, "cluster id mismatch");
    }

    #[tokio::test]
    async fn without_a_secret_only_local_peers_are_taken() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (auth("", d1.path()), auth("", d2.path()));
        let (caller, node) = handshake(&a, &b, 7, 7).await;
        caller.unwrap();
        node.unwrap();
        let remote = "10.0.0.5:5000".parse().unwrap();
        let (caller, _) = handshake_from(&a, &b, 7, 7, remote).await;
        assert_refused(caller, "protected mode");
        // A node with a secret and one without do not mix, even locally.
        let d3 = tempfile::tempdir().unwrap();
        let c = auth("s3cret-s3cret-s3cret", d3.path());
        let (caller, _) = handshake(&a, &c, 7, 7).await;
        assert!(matches!(caller, Err(HandshakeError::Unauthenticated(_))));
    }

    #[test]
    fn proofs_bind_both_nonces_the_target_and_the_side() {
        let dir = tempfile::tempdir().unwrap();
        let a = auth("s3cret", dir.path());
        let (n1, n2) = ([1u8; 16], [2u8; 16]);
        let p = a.proof(SERVER_LABEL, 7, &n1, &n2);
        assert!(a.verify(SERVER_LABEL, 7, &n1, &n2, &p));
        assert!(!a.verify(CLIENT_LABEL, 7, &n1, &n2, &p));
        assert!(!a.verify(SERVER_LABEL, 8, &n1, &n2, &p));
        assert!(!a.verify(SERVER_LABEL, 7, &n2, &n1, &p));
    }
}
