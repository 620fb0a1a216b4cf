//! Leader election among operator replicas: reconcile only while holding the Lease, and hand
//! it back on the way out, so that the standby takes over at once instead of waiting for the
//! Lease to expire.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a shutdown waits for the Lease to be handed back.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElectionError {
    #[error("the lease manager stopped")]
    ManagerStopped,
    #[error("lost the leader lease")]
    Lost,
}

/// Waits until `leading` says this replica holds the Lease, runs `work` until it ends (the
/// controller stops on SIGTERM) or the Lease is lost, then closes the channel, which makes
/// kube-lease-manager's watch task release the Lease and end, and waits (bounded) for that.
pub async fn run_while_leading<T, F>(
    mut leading: watch::Receiver<bool>,
    manager: JoinHandle<T>,
    work: F,
) -> Result<(), ElectionError>
where
    F: Future<Output = ()>,
{
    let result = async {
        while !*leading.borrow_and_update() {
            leading
                .changed()
                .await
                .map_err(|_| ElectionError::ManagerStopped)?;
        }
        tracing::info!("leading");
        tokio::select! {
            _ = work => Ok(()),
            _ = async {
                while *leading.borrow_and_update() {
                    if leading.changed().await.is_err() {
                        break;
                    }
                }
            } => {
                // Another replica may act now: stop at once rather than race it.
                Err(ElectionError::Lost)
            }
        }
    }
    .await;
    drop(leading);
    match tokio::time::timeout(RELEASE_TIMEOUT, manager).await {
        Ok(Ok(_)) => tracing::info!("leader lease released"),
        Ok(Err(e)) => tracing::warn!(error = %e, "lease manager task failed"),
        Err(_) => tracing::warn!("the leader lease was not released in time; it will expire"),
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A stand-in for kube-lease-manager's watch task, which releases the Lease when the
    /// channel closes (and only then).
    fn manager(sender: watch::Sender<bool>, released: Arc<AtomicBool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            sender.closed().await;
            released.store(true, Ordering::SeqCst);
        })
    }

    #[tokio::test]
    async fn the_lease_is_released_when_the_controller_stops() {
        let (sender, receiver) = watch::channel(true);
        let released = Arc::new(AtomicBool::new(false));
        let task = manager(sender, released.clone());
        // The controller returning is what SIGTERM leads to.
        let result = run_while_leading(receiver, task, async {}).await;
        assert_eq!(result, Ok(()));
        assert!(released.load(Ordering::SeqCst), "lease not handed back");
    }

    #[tokio::test]
    async fn work_waits_for_the_lease_and_stops_when_it_is_lost() {
        let (sender, receiver) = watch::channel(false);
        let released = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::oneshot::channel::<watch::Sender<bool>>();
        let flag = released.clone();
        let task = tokio::spawn(async move {
            let sender = rx.await.unwrap();
            sender.send(true).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            sender.send(false).unwrap();
            sender.closed().await;
            flag.store(true, Ordering::SeqCst);
        });
        tx.send(sender).unwrap();
        let s = started.clone();
        let result = run_while_leading(receiver, task, async move {
            s.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await
        })
        .await;
        assert_eq!(result, Err(ElectionError::Lost));
        assert!(started.load(Ordering::SeqCst));
        assert!(released.load(Ordering::SeqCst));
    }
}
