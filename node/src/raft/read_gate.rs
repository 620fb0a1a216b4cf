//! Linearizable reads share leadership confirmations.
//!
//! A read is linearizable if it is served after a confirmation (openraft's read index: the
//! leader is still leader, and everything committed is applied) that *started* after the read
//! arrived. One confirmation therefore serves every read that was waiting when it started.
//! Without sharing, 50 clients reading at once cost 50 round trips through the Raft core; with
//! it, about two: the one in flight when a read arrives cannot serve it, the next one can.
//!
//! Confirmations are numbered by generation. A read arriving while generation `g` is running
//! needs `g + 1` or later. Whoever finds no confirmation running starts the next one itself,
//! so no task is needed and an idle gate costs nothing.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;

use super::error::ClusterError;
use super::{KiwiNode, NodeId};

/// A confirmation's outcome, as every read that shares it receives it.
#[derive(Debug, Clone, PartialEq)]
enum Shared {
    Confirmed,
    NotLeader(Option<(NodeId, KiwiNode)>),
    /// No quorum answered this round: transient (CLUSTERDOWN), unlike `Failed`.
    NoLeader,
    Timeout(std::time::Duration),
    Failed(String),
}

impl Shared {
    fn of(outcome: &Result<(), ClusterError>) -> Shared {
        match outcome {
            Ok(()) => Shared::Confirmed,
            Err(ClusterError::NotLeader { leader }) => Shared::NotLeader(leader.clone()),
            Err(ClusterError::NoLeader) => Shared::NoLeader,
            Err(ClusterError::Timeout(t)) => Shared::Timeout(*t),
            Err(e) => Shared::Failed(e.to_string()),
        }
    }

    fn into_result(self) -> Result<(), ClusterError> {
        match self {
            Shared::Confirmed => Ok(()),
            Shared::NotLeader(leader) => Err(ClusterError::NotLeader { leader }),
            Shared::NoLeader => Err(ClusterError::NoLeader),
            Shared::Timeout(t) => Err(ClusterError::Timeout(t)),
            Shared::Failed(why) => Err(ClusterError::Fatal(why)),
        }
    }
}

#[derive(Debug, Default)]
struct Running {
    /// The generation of the newest confirmation started.
    started: u64,
    /// Whether that confirmation is still running.
    active: bool,
}

pub struct ReadGate {
    running: Mutex<Running>,
    /// The newest finished confirmation: its generation and outcome.
    finished: watch::Sender<(u64, Shared)>,
}

impl Default for ReadGate {
    fn default() -> Self {
        ReadGate {
            running: Mutex::default(),
            finished: watch::Sender::new((0, Shared::Confirmed)),
        }
    }
}

/// Ends a confirmation this caller started, even if the caller is cancelled mid-way: the
/// waiting reads are woken either way, so one of them can start the next confirmation.
struct Started<'a> {
    gate: &'a ReadGate,
    generation: u64,
}

impl Started<'_> {
    fn finish(self, outcome: &Result<(), ClusterError>) {
        let mut running = self.gate.lock();
        running.active = false;
        let generation = self.generation;
        self.gate.finished.send_modify(|f| {
            if f.0 < generation {
                *f = (generation, Shared::of(outcome));
            }
        });
        drop(running);
        std::mem::forget(self);
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.gate.lock().active = false;
        self.gate.finished.send_modify(|_| {});
    }
}

impl ReadGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        // The guarded state is two integers, never left half-updated: a poisoned lock is usable.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once a confirmation that started after this call has succeeded, running
    /// `confirm` itself when no confirmation is under way.
    pub async fn pass<F, Fut>(&self, confirm: F) -> Result<(), ClusterError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), ClusterError>>,
    {
        let mut finished = self.finished.subscribe();
        let needed = self.lock().started + 1;
        loop {
            {
                let latest = finished.borrow_and_update();
                if latest.0 >= needed {
                    return latest.1.clone().into_result();
                }
            }
            let mine = {
                let mut running = self.lock();
                if running.active {
                    None
                } else {
                    running.active = true;
                    running.started += 1;
                    Some(Started {
                        gate: self,
                        generation: running.started,
                    })
                }
            };
            match mine {
                Some(started) => {
                    let outcome = confirm().await;
                    started.finish(&outcome);
                    return outcome;
                }
                None => {
                    if finished.changed().await.is_err() {
                        return Err(ClusterError::Fatal("read gate closed".into()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    #[tokio::test]
    async fn concurrent_reads_share_confirmations() {
        let gate = Arc::new(ReadGate::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut reads = Vec::new();
        for _ in 0..50 {
            let (gate, runs) = (gate.clone(), runs.clone());
            reads.push(tokio::spawn(async move {
                gate.pass(|| async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(())
                })
                .await
            }));
        }
        for r in reads {
            r.await.unwrap().unwrap();
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&runs),
            "50 reads took {runs} confirmations"
        );
    }

    /// The linearizability rule: a confirmation already running when a read arrives may have
    /// read the commit index before the write the reader saw acknowledged; it must not serve it.
    #[tokio::test]
    async fn a_read_never_uses_a_confirmation_started_before_it() {
        let gate = Arc::new(ReadGate::default());
        let release = Arc::new(Notify::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let confirm = {
            let (release, runs) = (release.clone(), runs.clone());
            move || {
                let (release, runs) = (release.clone(), runs.clone());
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        release.notified().await;
                    }
                    Ok(())
                }
            }
        };
        let first = tokio::spawn({
            let (gate, confirm) = (gate.clone(), confirm.clone());
            async move { gate.pass(confirm).await }
        });
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let second = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass(confirm).await }
        });
        tokio::task::yield_now().await;
        release.notify_one();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the second read needs its own"
        );
    }

    /// Every reader that shares a confirmation gets its outcome's kind: a round without a
    /// quorum is CLUSTERDOWN for all of them, not "raft stopped" for those that waited (the
    /// soak saw that under partitions).
    #[test]
    fn a_shared_outcome_keeps_its_kind() {
        for outcome in [
            Err(ClusterError::NoLeader),
            Err(ClusterError::NotLeader { leader: None }),
            Err(ClusterError::Timeout(Duration::from_secs(1))),
            Ok(()),
        ] {
            let shared = Shared::of(&outcome).into_result();
            assert_eq!(
                shared.err().map(|e| std::mem::discriminant(&e)),
                outcome.err().map(|e| std::mem::discriminant(&e)),
            );
        }
    }

    #[tokio::test]
    async fn failures_reach_every_sharer_and_a_cancelled_starter_blocks_no_one() {
        let gate = Arc::new(ReadGate::default());
        let refused = gate
            .pass(|| async { Err(ClusterError::NotLeader { leader: None }) })
            .await;
        assert!(matches!(refused, Err(ClusterError::NotLeader { .. })));

        // A starter abandoned mid-confirmation (its client timed out) must not strand others.
        let stuck = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass(std::future::pending).await }
        });
        tokio::task::yield_now().await;
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass(|| async { Ok(()) }).await }
        });
        tokio::task::yield_now().await;
        stuck.abort();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter went on")
            .unwrap()
            .unwrap();
    }
}
