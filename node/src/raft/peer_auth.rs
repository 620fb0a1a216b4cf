//! Peer authentication: before a node serves a single Raft RPC on a connection, both ends prove
//! that they know the cluster secret, and the connection names the node and cluster it is for.
//!
//! The handshake follows [`super::rpc::MAGIC`], in small length-prefixed frames:
//!
//! 1. caller -> node: [`Hello`]: the target node id, the caller's cluster id (if it has one) and
//!    a fresh random nonce, followed by a [`KeyId`] for each secret the caller accepts;
//! 2. node -> caller: [`Challenge`]: its own nonce and an HMAC-SHA256 over both nonces and the
//!    target id, keyed with the cluster secret (or a refusal: wrong node id, other cluster);
//! 3. caller -> node: [`Finish`]: the caller's HMAC over the same data, with another label;
//! 4. node -> caller: [`Verdict`].
//!
//! While a rotated secret settles (see [`crate::secrets`]) a node accepts two secrets, the new
//! and the old. The key ids let the node prove the one secret both sides hold: a node still on
//! the old secret and one already on the new both know the old one. A key id is an HMAC of a
//! fixed label, so it says which secret without revealing it. The ids trail the `Hello` a node
//! without rotation reads, so nodes of the previous version still understand the handshake.
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

use super::rpc::{read_frame_bytes, read_frame_limited, write_frame};
use super::snapshot::CLUSTER_ID_KEY;
use super::NodeId;
use crate::secrets::RotatingSecret;
use crate::storage::{Cf, Db};

/// Largest handshake frame: the messages below are well under 100 bytes.
pub const HANDSHAKE_FRAME: usize = 1024;

type HmacSha256 = Hmac<Sha256>;
type Nonce = [u8; 16];
type Proof = [u8; 32];
/// Names a secret without revealing it (see the module doc).
type KeyId = [u8; 8];

/// The key of protected mode (no `cluster-secret`): public, so only loopback peers are taken.
const PROTECTED_MODE_KEY: &[u8] = b"kiwi peer v3: no cluster-secret configured";

const SERVER_LABEL: &[u8] = b"kiwi peer v3: node proof";
const CLIENT_LABEL: &[u8] = b"kiwi peer v3: caller proof";
const KEY_ID_LABEL: &[u8] = b"kiwi peer v3: key id";

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
    secret: RotatingSecret,
    /// No secret configured: peers on this host only.
    protected_mode: bool,
    db: Arc<Db>,
}

impl PeerAuth {
    pub fn new(secret: RotatingSecret, db: Arc<Db>) -> PeerAuth {
        PeerAuth {
            protected_mode: secret.current().is_none(),
            secret,
            db,
        }
    }

    /// The keys this node accepts, the one it presents first.
    fn keys(&self) -> Vec<Vec<u8>> {
        if self.protected_mode {
            return vec![PROTECTED_MODE_KEY.to_vec()];
        }
        self.secret
            .accepted()
            .into_iter()
            .map(String::into_bytes)
            .collect()
    }

    pub fn cluster_id(&self) -> Option<String> {
        let value = self.db.reader().get(Cf::Sys, CLUSTER_ID_KEY).ok()??;
        String::from_utf8(value).ok()
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
        let keys = self.keys();
        let caller: Nonce = rand::random();
        let hello = Hello {
            target,
            cluster_id: ours.clone(),
            nonce: caller,
        };
        let key_ids: Vec<KeyId> = keys.iter().map(|k| key_id(k)).collect();
        write_frame(wr, &(hello, key_ids)).await?;
        let (theirs, node, node_proof) = match read_frame_limited(rd, HANDSHAKE_FRAME).await? {
            Challenge::Accept {
                cluster_id,
                nonce,
                proof,
            } => (cluster_id, nonce, proof),
            Challenge::Refuse(reason) => return Err(HandshakeError::Refused(reason)),
        };
        let shared = keys
            .iter()
            .find(|key| verify(key, SERVER_LABEL, target, &caller, &node, &node_proof));
        let Some(shared) = shared else {
            return Err(HandshakeError::Unauthenticated(format!(
                "node {target} does not know this cluster's secret \
                 (cluster-secret differs between the nodes)"
            )));
        };
        if let Some(reason) = cluster_mismatch(ours.as_deref(), theirs.as_deref()) {
            return Err(HandshakeError::Unauthenticated(reason));
        }
        let finish = Finish {
            proof: proof(shared, CLIENT_LABEL, target, &caller, &node),
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
        let (hello, caller_keys) = read_hello(rd).await?;
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
        // The first of this node's keys the caller holds too; a caller that names none (a node
        // of the previous version) gets the current one.
        let keys = self.keys();
        let key = keys
            .iter()
            .find(|k| caller_keys.contains(&key_id(k)))
            .unwrap_or(&keys[0]);
        let node: Nonce = rand::random();
        let challenge = Challenge::Accept {
            cluster_id: ours,
            nonce: node,
            proof: proof(key, SERVER_LABEL, me, &hello.nonce, &node),
        };
        write_frame(wr, &challenge).await?;
        let finish: Finish = read_frame_limited(rd, HANDSHAKE_FRAME).await?;
        if !verify(key, CLIENT_LABEL, me, &hello.nonce, &node, &finish.proof) {
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

/// Reads a [`Hello`] and the key ids that follow it (none from a node of the previous version).
async fn read_hello<R: AsyncRead + Unpin>(
    rd: &mut R,
) -> Result<(Hello, Vec<KeyId>), HandshakeError> {
    let body = read_frame_bytes(rd, HANDSHAKE_FRAME).await?;
    let invalid = |e: postcard::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let (hello, rest) = postcard::take_from_bytes::<Hello>(&body).map_err(invalid)?;
    let key_ids = if rest.is_empty() {
        Vec::new()
    } else {
        postcard::from_bytes(rest).map_err(invalid)?
    };
    Ok((hello, key_ids))
}

fn key_id(key: &[u8]) -> KeyId {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(KEY_ID_LABEL);
    let full = mac.finalize().into_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&full[..8]);
    id
}

fn mac(key: &[u8], label: &[u8], target: NodeId, caller: &Nonce, node: &Nonce) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.update(&target.to_be_bytes());
    mac.update(caller);
    mac.update(node);
    mac
}

fn proof(key: &[u8], label: &[u8], target: NodeId, caller: &Nonce, node: &Nonce) -> Proof {
    mac(key, label, target, caller, node)
        .finalize()
        .into_bytes()
        .into()
}

/// Checks a proof in constant time.
fn verify(
    key: &[u8],
    label: &[u8],
    target: NodeId,
    caller: &Nonce,
    node: &Nonce,
    proof: &Proof,
) -> bool {
    mac(key, label, target, caller, node)
        .verify_slice(proof)
        .is_ok()
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
        PeerAuth::new(
            RotatingSecret::fixed((!secret.is_empty()).then(|| secret.to_string())),
            db,
        )
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

    #[tokio::test]
    async fn mid_rotation_nodes_agree_on_the_secret_both_hold() {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let db = |i: usize| Db::open(dirs[i].path(), &StorageOptions::default()).unwrap();
        let (old, new) = ("0123456789abcdef-old", "0123456789abcdef-new");
        let rotated = PeerAuth::new(RotatingSecret::rotated(new, old), db(0));
        let not_yet = PeerAuth::new(RotatingSecret::fixed(Some(old.into())), db(1));
        let restarted = PeerAuth::new(RotatingSecret::fixed(Some(new.into())), db(2));
        // Both ways between a node that took the new secret and one that has not yet.
        for (caller, node) in [(&rotated, &not_yet), (&not_yet, &rotated)] {
            let (c, n) = handshake(caller, node, 7, 7).await;
            c.unwrap();
            n.unwrap();
        }
        // A node that knows only the new secret (restarted meanwhile) and a rotated one.
        for (caller, node) in [(&rotated, &restarted), (&restarted, &rotated)] {
            let (c, n) = handshake(caller, node, 7, 7).await;
            c.unwrap();
            n.unwrap();
        }
        // No secret in common: refused.
        let (c, _) = handshake(&restarted, &not_yet, 7, 7).await;
        assert!(
            matches!(c, Err(HandshakeError::Unauthenticated(_))),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn a_caller_that_names_no_keys_is_proved_the_current_secret() {
        // A node of the previous version sends a bare Hello: the node proves its current
        // secret, as before.
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let node = auth("0123456789abcdef", d1.path());
        let _ = d2;
        let (a, b) = tokio::io::duplex(4096);
        let (mut ard, mut awr) = tokio::io::split(a);
        let (mut brd, mut bwr) = tokio::io::split(b);
        let caller = async {
            let hello = Hello {
                target: 7,
                cluster_id: None,
                nonce: [3u8; 16],
            };
            write_frame(&mut awr, &hello).await.unwrap();
            let challenge: Challenge = read_frame_limited(&mut ard, HANDSHAKE_FRAME).await.unwrap();
            drop((ard, awr));
            challenge
        };
        let accept = async {
            let r = node
                .accept(&mut brd, &mut bwr, 7, "127.0.0.1:1".parse().unwrap())
                .await;
            drop((brd, bwr));
            r
        };
        let (challenge, _) = tokio::join!(caller, accept);
        let Challenge::Accept {
            nonce, proof: p, ..
        } = challenge
        else {
            panic!("accepted")
        };
        assert!(verify(
            b"0123456789abcdef",
            SERVER_LABEL,
            7,
            &[3u8; 16],
            &nonce,
            &p
        ));
    }

    #[test]
    fn a_node_of_the_previous_version_reads_the_hello_and_ignores_the_key_ids() {
        let hello = Hello {
            target: 9,
            cluster_id: Some("c1".into()),
            nonce: [5u8; 16],
        };
        let bytes = postcard::to_allocvec(&(hello, vec![[1u8; 8], [2u8; 8]])).unwrap();
        let old: Hello = crate::raft::decode(&bytes).unwrap();
        assert_eq!((old.target, old.cluster_id.as_deref()), (9, Some("c1")));
    }

    #[test]
    fn proofs_bind_both_nonces_the_target_and_the_side() {
        let dir = tempfile::tempdir().unwrap();
        let _ = dir;
        let key = b"s3cret";
        let (n1, n2) = ([1u8; 16], [2u8; 16]);
        let p = proof(key, SERVER_LABEL, 7, &n1, &n2);
        assert!(verify(key, SERVER_LABEL, 7, &n1, &n2, &p));
        assert!(!verify(key, CLIENT_LABEL, 7, &n1, &n2, &p));
        assert!(!verify(key, SERVER_LABEL, 8, &n1, &n2, &p));
        assert!(!verify(key, SERVER_LABEL, 7, &n2, &n1, &p));
        assert!(!verify(b"other", SERVER_LABEL, 7, &n1, &n2, &p));
    }
}
