//! Where a command runs: a write is proposed to Raft on the leader, forwarded to it (or
//! redirected) on a follower; a read is served after a read barrier, or forwarded. Replies owed
//! by writes in flight and forwarded requests wait in the session's queue, in request order.

use crate::server::stats::CallTag;
use bytes::Bytes;

use super::Session;
use crate::command::{self, CmdError, CommandSpec, Ctx, SplitMix64};
use crate::engine::{self, Mutation};
use crate::raft::cluster::{ClusterError, PendingWrite, WriteOutcome};
use crate::raft::{KiwiNode, NodeId};
use crate::resp::client::RespClient;
use crate::resp::Reply;

pub(super) enum Queued {
    Ready(Reply),
    /// A write proposed on this node (the leader); the reply arrives once it is applied.
    Write(PendingWrite),
    /// A MULTI block proposed on this node holding PUBLISH commands, published (and their
    /// replies put in place) once it ran: `(position among the replies, command)`.
    Exec {
        pending: PendingWrite,
        publishes: Vec<(usize, Vec<Bytes>)>,
    },
    /// A request forwarded to the leader: read `skip` replies and drop them (MULTI, QUEUED,
    /// SELECT), then the one that answers the client.
    Forwarded {
        skip: usize,
    },
    /// A WATCH forwarded to the leader: its answer is the tokens of `keys` in `db`, kept by
    /// this session (see `watch`); the client is answered OK.
    Watch {
        skip: usize,
        db: u8,
        keys: Vec<Bytes>,
    },
}

/// The connection a follower forwards this client's commands on, in order (so a pipeline of
/// writes keeps its order, and reads see the client's earlier writes).
pub(super) struct Forward {
    pub(super) leader_addr: String,
    pub(super) client: RespClient,
    pub(super) db: u8,
    /// The protocol this connection speaks: the client's, so that the leader's replies are
    /// passed on in the shape the client expects (a RESP3 reply of pairs cannot be told from
    /// nested arrays, to flatten it for a RESP2 client).
    pub(super) resp3: bool,
    pub(super) broken: Option<String>,
}

pub(super) fn clusterdown() -> Reply {
    Reply::Error("CLUSTERDOWN No raft leader".into())
}

/// A proposed write that did not commit in time: the cluster has no working leader, but the
/// entry may still commit later, so the client is told its outcome is unknown.
pub(super) fn commit_timeout() -> Reply {
    Reply::Error(
        "CLUSTERDOWN No raft leader: the write did not commit within raft-write-timeout and may still be applied".into(),
    )
}

/// The forwarding connection to the leader broke (`why`) with a reply still owed.
pub(super) fn forward_failed(why: impl std::fmt::Display) -> Reply {
    Reply::Error(format!(
        "CLUSTERDOWN forwarding to the leader failed ({why}); the command may or may not have been applied"
    ))
}

/// The reply to a proposed write, waiting for it up to `timeout`.
pub(super) async fn settle(pending: PendingWrite, timeout: std::time::Duration) -> Reply {
    match tokio::time::timeout(timeout, pending.outcome()).await {
        Ok(outcome) => outcome_reply(outcome),
        Err(_) => commit_timeout(),
    }
}

pub(super) fn outcome_reply(outcome: WriteOutcome) -> Reply {
    match outcome {
        Ok(r) => r,
        Err(ClusterError::NotLeader { .. }) => Reply::Error(
            "TRYAGAIN leadership changed before the write committed; it may or may not have been applied".into(),
        ),
        Err(ClusterError::Timeout(_) | ClusterError::NoLeader) => clusterdown(),
        Err(e) => Reply::err(e.to_string()),
    }
}

impl Session {
    /// Waits for every submitted write and encodes all replies in order.
    pub async fn finish_pending(&mut self) {
        let timeout = self.state.config().raft_write_timeout;
        while let Some((item, tag)) = self.queue.pop_front() {
            let reply = match item {
                Queued::Ready(r) => r,
                Queued::Write(pending) => settle(pending, timeout).await,
                Queued::Exec { pending, publishes } => {
                    let mut reply = settle(pending, timeout).await;
                    // What the block publishes to this client itself comes after EXEC's reply
                    // (as Redis 7.2 has it), not inside its array.
                    self.encode_messages();
                    self.publish_queued(&mut reply, publishes);
                    self.state.stats.reply(&reply, tag.as_ref());
                    reply.encode(&mut self.out, self.resp3);
                    continue;
                }
                Queued::Forwarded { skip } => self.forwarded_reply(skip, timeout).await,
                Queued::Watch { skip, db, keys } => {
                    let answer = self.forwarded_reply(skip, timeout).await;
                    self.adopt_watch(db, keys, answer)
                }
            };
            self.encode_messages();
            self.state.stats.reply(&reply, tag.as_ref());
            reply.encode(&mut self.out, self.resp3);
        }
    }

    pub(super) async fn forwarded_reply(
        &mut self,
        skip: usize,
        timeout: std::time::Duration,
    ) -> Reply {
        let Some(fwd) = self.forward.as_mut() else {
            return clusterdown();
        };
        if let Some(why) = &fwd.broken {
            return forward_failed(why);
        }
        let mut last = Reply::Nil;
        for _ in 0..=skip {
            match tokio::time::timeout(timeout, fwd.client.recv()).await {
                Ok(Ok(r)) => last = r,
                Ok(Err(e)) => {
                    fwd.broken = Some(e.to_string());
                    return forward_failed(e);
                }
                Err(_) => {
                    fwd.broken = Some("timed out".into());
                    return commit_timeout();
                }
            }
        }
        last
    }

    /// Sends a write the way the cluster wants it: proposed here on the leader, forwarded to
    /// the leader (or redirected with -MOVED) on a follower, refused when there is no leader.
    /// `requests` are the client's original commands, for forwarding; `None` stands for the
    /// mutation's own single command (so the common case copies nothing).
    pub(super) async fn write(&mut self, mutation: Mutation, requests: Option<Vec<Vec<Bytes>>>) {
        let Some((leader_id, leader)) = self.leader().await else {
            self.push_reply(&clusterdown());
            return;
        };
        let cluster = self.state.cluster.clone();
        if leader_id == cluster.id {
            match cluster.propose(mutation).await {
                Ok(pending) => {
                    let tag = self.tag.take();
                    self.queue.push_back((Queued::Write(pending), tag));
                }
                Err(e) => self.push_reply(&outcome_reply(Err(e))),
            }
        } else if self.may_forward(&leader.resp_addr) {
            let requests = requests.unwrap_or_else(|| mutation.commands().cloned().collect());
            self.forward(&leader.resp_addr, requests).await;
        }
    }

    /// The leader: this node, or the one it knows of, waiting up to `raft-write-timeout` for
    /// an election; `None` when there is none (answer CLUSTERDOWN).
    pub(super) async fn leader(&self) -> Option<(NodeId, KiwiNode)> {
        let cluster = &self.state.cluster;
        if cluster.is_leader() {
            return Some((cluster.id, cluster.me.clone()));
        }
        let timeout = self.state.config().raft_write_timeout;
        cluster.wait_for_leader(timeout).await
    }

    /// Whether a follower may forward a request to the leader at `resp_addr`; if not, the
    /// client is redirected (-MOVED).
    pub(super) fn may_forward(&mut self, resp_addr: &str) -> bool {
        if self.state.config().raft_follower_forward {
            return true;
        }
        self.push_reply(&Reply::Error(format!("MOVED 0 {resp_addr}")));
        false
    }

    /// Takes back the reply slot [`Session::forward`] just queued, for a caller that reads
    /// the leader's answer itself; returns how many replies come before it and the command's
    /// stats tag (`None` when the request could not be forwarded, whose error is queued
    /// instead).
    pub(super) fn take_forwarded(&mut self) -> Option<(usize, Option<CallTag>)> {
        match self.queue.back() {
            Some((Queued::Forwarded { .. }, _)) => match self.queue.pop_back() {
                Some((Queued::Forwarded { skip }, tag)) => Some((skip, tag)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Queues `requests` on the forwarding connection to the leader; only the last reply is
    /// the client's.
    pub(super) async fn forward(&mut self, leader_addr: &str, requests: Vec<Vec<Bytes>>) {
        let resp3 = self.resp3;
        let stale = self
            .forward
            .as_ref()
            .is_none_or(|f| f.leader_addr != leader_addr || f.broken.is_some() || f.resp3 != resp3);
        if stale {
            // Replies still owed by the old connection are read before it is replaced.
            self.finish_pending().await;
            let password = self.state.config().requirepass.clone();
            let connect = RespClient::connect(leader_addr, password.as_deref(), resp3);
            let failure =
                match tokio::time::timeout(std::time::Duration::from_secs(2), connect).await {
                    Ok(Ok(client)) => {
                        self.forward = Some(Forward {
                            leader_addr: leader_addr.to_string(),
                            client,
                            db: 0,
                            resp3,
                            broken: None,
                        });
                        None
                    }
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("timed out".to_string()),
                };
            if let Some(why) = failure {
                self.push_reply(&Reply::Error(format!(
                    "CLUSTERDOWN cannot reach the leader at {leader_addr}: {why}"
                )));
                return;
            }
        }
        let db = self.db;
        let Some(fwd) = self.forward.as_mut() else {
            return;
        };
        let mut skip = requests.len() - 1;
        if fwd.db != db {
            fwd.client
                .send(&[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]);
            fwd.db = db;
            skip += 1;
        }
        for req in &requests {
            fwd.client.send(req);
        }
        if let Err(e) = fwd.client.flush().await {
            fwd.broken = Some(e.to_string());
        }
        let tag = self.tag.take();
        self.queue.push_back((Queued::Forwarded { skip }, tag));
    }

    /// Runs a read. Linearizable by default: the leader confirms its leadership (read index)
    /// first, a follower forwards to the leader. After READONLY a follower reads locally,
    /// possibly stale. Earlier replies of this connection are settled first, so a client
    /// always reads its own writes.
    pub(super) async fn read(&mut self, spec: &CommandSpec, argv: Vec<Bytes>) {
        let cluster = self.state.cluster.clone();
        if !self.readonly && !cluster.is_leader() {
            match self.leader().await {
                Some((id, leader)) if id != cluster.id => {
                    if self.may_forward(&leader.resp_addr) {
                        self.forward(&leader.resp_addr, vec![argv]).await;
                    }
                    return;
                }
                Some(_) => {}
                None => {
                    self.push_reply(&clusterdown());
                    return;
                }
            }
        }
        self.finish_pending().await;
        if !self.readonly && !self.barrier_covers_batch {
            let timeout = self.state.config().raft_write_timeout;
            if let Err(e) = cluster.read_barrier(timeout).await {
                self.push_reply(&outcome_reply(Err(e)));
                return;
            }
            self.barrier_covers_batch = true;
        }
        if self.state.db.replacing() {
            self.push_reply(&Reply::Error(
                "LOADING Kiwi is installing a snapshot from the leader".into(),
            ));
            return;
        }
        let reply = if spec.may_run_long(&argv) {
            command::run_long(|| self.execute_local(spec, &argv))
        } else {
            self.execute_local(spec, &argv)
        };
        self.push_reply(&reply);
    }

    /// Whether a read command must go through the log this time: a PFCOUNT that fills its
    /// key's stale cached count, which Redis does and replicates (see `command::hyperloglog`).
    /// A READONLY connection's reads stay local reads.
    pub(super) fn read_must_write(&self, spec: &CommandSpec, argv: &[Bytes]) -> bool {
        if spec.name != "pfcount" || self.readonly {
            return false;
        }
        self.with_local_read(|ctx| command::hyperloglog::pfcount_fills_cache(ctx, argv))
    }

    pub(super) fn execute_local(&self, spec: &CommandSpec, argv: &[Bytes]) -> Reply {
        // A read that meets a storage failure just answers it: it changed nothing.
        self.with_local_read(|ctx| {
            command::execute(ctx, spec, argv).unwrap_or_else(|e| CmdError::Storage(e).into_reply())
        })
    }

    /// Runs `f` on this node's current data, as a read: a snapshot of the selected database at
    /// this node's clock.
    fn with_local_read<T>(&self, f: impl FnOnce(&mut Ctx<'_, '_>) -> T) -> T {
        let db = self.state.db.clone();
        let mut txn = db.reader();
        // A read's random picks stay on this node: any seed will do.
        let mut rng = SplitMix64::new(rand::random());
        let mut ctx = Ctx {
            txn: &mut txn,
            db: self.db,
            now_ms: engine::now_ms(),
            rng: &mut rng,
        };
        f(&mut ctx)
    }
}
