//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...) from the connection's side: try, and if
//! nothing is there, wait for the keys to change and try again (see `server::blocking` for
//! the line of waiters, and `command::blocking` for the commands themselves).
//!
//! Clients are blocked on the leader only: a follower forwards the command, and its own client
//! waits for the leader's answer. While a client waits, its connection reads no more requests
//! (as in Redis) but notices a hang-up, which ends the wait and takes the client out of line.
//!
//! A leader that stops leading (a new leader was elected, leadership was handed over) ends its
//! clients' waits with `-UNBLOCKED force unblock from blocking operation, instance state
//! changed (master -> replica?)`: what Redis answers blocked clients when a failover turns
//! their master into a replica, so clients that already retry after a Redis failover retry
//! here too. A follower whose leader changes while its client waits answers the same.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::async_runtime::WatchReceiver;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::routing::{clusterdown, commit_timeout, forward_failed, outcome_reply, settle};
use super::{Session, Step};
use crate::command::blocking::{self as cmd, Call};
use crate::command::{streams, CommandSpec, Ctx, SplitMix64};
use crate::engine::{self, Mutation};
use crate::raft::cluster::Cluster;
use crate::raft::NodeId;
use crate::resp::Reply;
use crate::server::blocking::Unblock;
use crate::storage::KeyType;

/// What a blocked client waits for.
pub(super) enum Blocked {
    /// Its keys, here on the leader.
    Here {
        spec: &'static CommandSpec,
        argv: Vec<Bytes>,
        call: Call,
        db: u8,
        deadline: Option<Instant>,
        wake: Arc<Notify>,
    },
    /// The leader's answer to the command it was forwarded (after `skip` other replies).
    Forwarded {
        name: &'static str,
        skip: usize,
        leader: NodeId,
        deadline: Option<Instant>,
        wake: Arc<Notify>,
    },
}

pub(super) fn leader_lost() -> Reply {
    Reply::Error(
        "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
            .into(),
    )
}

fn unblocked_error() -> Reply {
    Reply::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
}

/// Resolves once this node is no longer the leader.
async fn until_not_leader(cluster: &Cluster) {
    let mut rx = cluster.raft.metrics();
    loop {
        if rx.borrow_watched().state != openraft::ServerState::Leader {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves once this node knows of another leader than `leader`, or of none.
async fn until_leader_changes(cluster: &Cluster, leader: NodeId) {
    let mut rx = cluster.raft.metrics();
    loop {
        if rx.borrow_watched().current_leader != Some(leader) {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// Runs a blocking command outside MULTI: answered now if it can be, else the client is
    /// blocked ([`Step::Blocked`]) and the connection calls [`Session::wait_blocked`].
    pub(super) async fn blocking_command(
        &mut self,
        spec: &'static CommandSpec,
        argv: Vec<Bytes>,
    ) -> Step {
        let call = match cmd::parse(spec.name, &argv) {
            Ok(call) => call,
            Err(e) => {
                self.push_reply(&e.into_reply());
                return Step::Continue;
            }
        };
        // Replies owed come first, and this client's earlier writes are applied before it
        // looks at its keys.
        self.finish_pending().await;
        let deadline = call.timeout.map(|t| Instant::now() + t);
        let Some((leader, node)) = self.leader().await else {
            self.push_reply(&clusterdown());
            return Step::Continue;
        };
        if leader != self.state.cluster.id {
            if !self.may_forward(&node.resp_addr) {
                return Step::Continue;
            }
            self.forward(&node.resp_addr, vec![argv]).await;
            let Some((skip, _)) = self.take_forwarded() else {
                return Step::Continue; // could not forward: the error is queued
            };
            let wake = self.state.blocking.block(self.id, Vec::new());
            self.set_blocked(Blocked::Forwarded {
                name: spec.name,
                skip,
                leader,
                deadline,
                wake,
            });
            return Step::Blocked;
        }
        let db = self.db;
        let blocking = self.state.blocking.clone();
        // XREAD's `$` is the last ID when the client blocks, however long it then waits.
        let argv = if spec.name == "xread" {
            self.pin_last_ids(db, argv)
        } else {
            argv
        };
        // XREAD takes nothing from other readers: they all look at once.
        let shared = spec.name == "xread";
        // First come, first served: what arrives on a key others wait on is theirs first. A
        // stream reader waits only when there is nothing for it, so what it finds now is its
        // own, as Redis serves it at once.
        let stream = call.ty == KeyType::Stream;
        let free: Vec<usize> = call
            .keys
            .iter()
            .copied()
            .filter(|&i| stream || !blocking.waited_on(db, &argv[i]))
            .collect();
        // In line before trying: a change applied meanwhile still wakes this client.
        let keys = call.keys.iter().map(|&i| (db, argv[i].clone())).collect();
        let wake = blocking.block_as(self.id, keys, shared);
        if !free.is_empty() {
            let attempt = if free.len() == call.keys.len() {
                argv.clone()
            } else {
                cmd::aimed_at(spec.name, &argv, &call, &free)
            };
            let reply = self.pop_now(db, attempt).await;
            if reply != cmd::timed_out(spec.name) {
                blocking.leave(self.id);
                self.push_reply(&reply);
                return Step::Continue;
            }
        }
        self.set_blocked(Blocked::Here {
            spec,
            argv,
            call,
            db,
            deadline,
            wake,
        });
        Step::Blocked
    }

    fn set_blocked(&mut self, blocked: Blocked) {
        self.blocked = Some(blocked);
        self.update_info(|i| i.blocked = true);
    }

    /// Proposes a pop and waits for its reply.
    async fn pop_now(&self, db: u8, argv: Vec<Bytes>) -> Reply {
        let timeout = self.state.config().raft_write_timeout;
        match self.state.cluster.propose(Mutation::single(db, argv)).await {
            Ok(pending) => settle(pending, timeout).await,
            Err(e) => outcome_reply(Err(e)),
        }
    }

    /// Waits until the blocked client is answered, then leaves the line. Cancelling it (the
    /// client hung up) is safe, but a pop in flight then goes unanswered, as in Redis when a
    /// client disconnects as it is served.
    pub async fn wait_blocked(&mut self) {
        let Some(blocked) = self.blocked.take() else {
            return;
        };
        let reply = match blocked {
            Blocked::Here {
                spec,
                argv,
                call,
                db,
                deadline,
                wake,
            } => {
                self.wait_here(spec, &argv, &call, db, deadline, &wake)
                    .await
            }
            Blocked::Forwarded {
                name,
                skip,
                leader,
                deadline,
                wake,
            } => {
                self.wait_forwarded(name, skip, leader, deadline, &wake)
                    .await
            }
        };
        self.state.blocking.leave(self.id);
        self.update_info(|i| i.blocked = false);
        self.push_reply(&reply);
    }

    /// A local read of this node's applied state, with the stream commands' helpers.
    fn with_local_ctx<T>(&self, db: u8, f: impl FnOnce(&Ctx<'_, '_>) -> T) -> T {
        let mut txn = self.state.db.reader();
        // Nothing random is drawn here.
        let mut rng = SplitMix64::new(0);
        let ctx = Ctx {
            txn: &mut txn,
            db,
            now_ms: engine::now_ms(),
            rng: &mut rng,
        };
        f(&ctx)
    }

    fn pin_last_ids(&self, db: u8, argv: Vec<Bytes>) -> Vec<Bytes> {
        self.with_local_ctx(db, |ctx| streams::pin_last_ids(ctx, &argv))
    }

    /// For a blocked XREADGROUP: Redis's error if one of its streams, or its group there, is
    /// gone.
    fn readgroup_gone(&self, argv: &[Bytes], call: &Call, db: u8) -> Option<Reply> {
        let group = streams::parse_read(argv, true).ok()?.group?.0;
        self.with_local_ctx(db, |ctx| {
            call.keys
                .iter()
                .find_map(|&i| streams::readgroup_gone(ctx, &argv[i], &group))
        })
    }

    /// The positions of those of `call`'s keys that hold something for it now, locally.
    fn ready_keys(&self, argv: &[Bytes], call: &Call, db: u8) -> Vec<usize> {
        let reader = self.state.db.reader();
        let now = engine::now_ms();
        call.keys
            .iter()
            .copied()
            .filter(|&i| match reader.live_meta(db, &argv[i], now) {
                Ok(meta) => meta.is_some_and(|m| m.ty == call.ty),
                // Let the pop find out, and answer the error.
                Err(_) => true,
            })
            .collect()
    }

    async fn wait_here(
        &mut self,
        spec: &'static CommandSpec,
        argv: &[Bytes],
        call: &Call,
        db: u8,
        deadline: Option<Instant>,
        wake: &Notify,
    ) -> Reply {
        let cluster = self.state.cluster.clone();
        let lost = until_not_leader(&cluster);
        tokio::pin!(lost);
        loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = until(deadline) => return cmd::timed_out(spec.name),
                _ = &mut lost => return leader_lost(),
            }
            match self.state.blocking.unblocked(self.id) {
                Some(Unblock::Timeout) => return cmd::timed_out(spec.name),
                Some(Unblock::Error) => return unblocked_error(),
                None => {}
            }
            if spec.name == "xreadgroup" {
                if let Some(reply) = self.readgroup_gone(argv, call, db) {
                    return reply;
                }
            }
            let ready = self.ready_keys(argv, call, db);
            if ready.is_empty() {
                continue;
            }
            let reply = self
                .pop_now(db, cmd::aimed_at(spec.name, argv, call, &ready))
                .await;
            if spec.name == "xreadgroup" {
                // Served or not, whoever is next in line may find something of its own group.
                self.state.blocking.pass_on(self.id);
            }
            if reply != cmd::timed_out(spec.name) {
                return reply;
            }
            // Another client took it first: still first in line, wait on.
        }
    }

    async fn wait_forwarded(
        &mut self,
        name: &'static str,
        skip: usize,
        leader: NodeId,
        deadline: Option<Instant>,
        wake: &Notify,
    ) -> Reply {
        let cluster = self.state.cluster.clone();
        let blocking = self.state.blocking.clone();
        let id = self.id;
        // The leader answers at the deadline; past it by this much, it is not answering.
        let grace = self.state.config().raft_write_timeout + Duration::from_secs(1);
        let Some(fwd) = self.forward.as_mut() else {
            return clusterdown();
        };
        if let Some(why) = &fwd.broken {
            return forward_failed(why);
        }
        let (reply, broken) = {
            let answer = async {
                for _ in 0..skip {
                    fwd.client.recv().await?;
                }
                fwd.client.recv().await
            };
            tokio::pin!(answer);
            let changed = until_leader_changes(&cluster, leader);
            tokio::pin!(changed);
            // The leader still waits for this client when the wait ends here: the connection
            // is dropped (marked broken), which takes the client out of the leader's line.
            loop {
                tokio::select! {
                    answer = &mut answer => break match answer {
                        Ok(reply) => (reply, None),
                        Err(e) => (forward_failed(&e), Some(e.to_string())),
                    },
                    _ = wake.notified() => match blocking.unblocked(id) {
                        Some(Unblock::Timeout) => {
                            break (cmd::timed_out(name), Some("client unblocked".into()))
                        }
                        Some(Unblock::Error) => {
                            break (unblocked_error(), Some("client unblocked".into()))
                        }
                        None => {}
                    },
                    _ = &mut changed => break (leader_lost(), Some("the leader changed".into())),
                    _ = until(deadline.map(|d| d + grace)) => {
                        break (commit_timeout(), Some("timed out".into()))
                    }
                }
            }
        };
        if let Some(why) = broken {
            // The answer may still come: this connection's replies are out of step now.
            if let Some(fwd) = self.forward.as_mut() {
                fwd.broken = Some(why);
            }
        }
        reply
    }
}
