//! The RESP server: a listener that admits connections up to `maxclients`, one task per
//! connection, and the node-wide state those tasks share.

pub mod blocking;
pub mod connection;
pub mod info;
pub mod session;
pub mod stats;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::Config;
use crate::pubsub::Hub;
use crate::raft::cluster::Cluster;
use crate::resp::FrameLimits;
use crate::storage::{Db, Touch};
use crate::tls::ReloadingAcceptor;
use blocking::Blocking;

/// Redis version reported to clients (INFO, HELLO), which use it for feature detection.
pub const REDIS_VERSION: &str = "7.2.0";

/// What CLIENT LIST shows of a connection.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub name: String,
    pub db: u8,
    pub connected_at: Instant,
    pub last_command: &'static str,
    pub resp: u8,
    /// Waiting in a blocking command (CLIENT LIST's `b` flag).
    pub blocked: bool,
    /// Channels, patterns and shard channels subscribed to (CLIENT LIST's `sub`, `psub`,
    /// `ssub`, and its `P` flag).
    pub subscriptions: [usize; 3],
}

/// State shared by every connection of a node.
pub struct ServerState {
    pub db: Arc<Db>,
    pub cluster: Arc<Cluster>,
    /// Clients blocked on keys, woken as applied entries change them.
    pub blocking: Arc<Blocking>,
    /// Subscribers, and the delivery of published messages and keyspace notifications.
    pub pubsub: Arc<Hub>,
    /// Settings CONFIG SET may change at run time.
    pub config: RwLock<Config>,
    /// Bumped by every CONFIG SET, so that connections know when to reload the settings they
    /// keep at hand (limits, timeouts) without locking `config` on every request.
    pub config_epoch: AtomicU64,
    pub limits: FrameLimits,
    pub started: Instant,
    pub run_id: String,
    pub next_client_id: AtomicU64,
    pub clients: Mutex<BTreeMap<u64, ClientInfo>>,
    pub total_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    /// INFO commandstats, errorstats and instantaneous_ops_per_sec.
    pub stats: stats::Stats,
    /// Unix time (seconds) of the start: INFO's `rdb_last_save_time` (Kiwi's data is always
    /// on disk).
    pub started_unix: u64,
    /// Highest resident memory INFO has seen (`used_memory_peak`).
    pub memory_peak: AtomicU64,
}

impl ServerState {
    pub fn new(db: Arc<Db>, cluster: Arc<Cluster>, config: Config) -> Arc<ServerState> {
        let limits = FrameLimits {
            max_bulk_len: config.proto_max_bulk_len,
            ..FrameLimits::default()
        };
        // OBJECT answers against this node's thresholds from the start.
        db.set_object_settings(config.object_settings());
        let blocking = Arc::new(Blocking::default());
        let woken = blocking.clone();
        cluster
            .key_events
            .listen(Box::new(move |touches: &[Touch]| {
                woken.keys_changed(touches)
            }));
        let pubsub = Arc::new(Hub::new(config.client_output_buffer_limit.pubsub));
        pubsub_config_changed(&pubsub, &config);
        cluster.key_events.notify_to(pubsub.clone());
        let missed = pubsub.clone();
        if db
            .key_miss
            .set(Box::new(move |db, key| missed.key_miss(db, key)))
            .is_err()
        {
            tracing::warn!("a second listener for key misses was ignored");
        }
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
            .collect();
        Arc::new(ServerState {
            db,
            cluster,
            blocking,
            pubsub,
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(0),
            limits,
            started: Instant::now(),
            run_id,
            next_client_id: AtomicU64::new(1),
            clients: Mutex::new(BTreeMap::new()),
            total_connections: AtomicU64::new(0),
            total_commands: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            stats: stats::Stats::default(),
            started_unix: crate::engine::now_ms() / 1000,
            memory_peak: AtomicU64::new(0),
        })
    }

    /// CONFIG RESETSTAT: every counter INFO shows goes back to zero.
    pub fn reset_stats(&self) {
        for n in [
            &self.total_commands,
            &self.total_connections,
            &self.rejected_connections,
            &self.expired_keys,
            &self.memory_peak,
            &self.db.keyspace_hits,
            &self.db.keyspace_misses,
        ] {
            n.store(0, Ordering::Relaxed);
        }
        self.stats.reset();
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn clients(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ClientInfo>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn count_command(&self) {
        self.total_commands.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes the pub/sub settings of `config` (at start, and after each CONFIG SET): the output
/// limit of new subscribers and the keyspace notification classes.
pub fn pubsub_config_changed(hub: &Hub, config: &Config) {
    hub.set_limit(config.client_output_buffer_limit.pubsub);
    let flags =
        crate::config::tunables::notify_flag_bits(config.tunables.value("notify-keyspace-events"))
            .unwrap_or(0);
    hub.notify_flags.store(flags, Ordering::Relaxed);
}

/// Samples the command rate every 100 ms for INFO's `instantaneous_ops_per_sec`, as Redis's
/// server cron does, until `shutdown` flips to true.
pub async fn sample_ops(state: Arc<ServerState>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => state.stats.sample_ops(state.total_commands.load(Ordering::Relaxed)),
            _ = shutdown.changed() => return,
        }
    }
}

/// Counts client connections against `maxclients`. Not a semaphore of fixed size: CONFIG SET
/// may change `maxclients` at any time, and the next connection is admitted against the new
/// value (connections already open stay, as in Redis).
#[derive(Default)]
struct ClientSlots {
    used: AtomicUsize,
}

/// A connection's place among `maxclients`; given back when dropped.
struct ClientSlot(Arc<ClientSlots>);

impl ClientSlots {
    fn try_take(self: &Arc<Self>, max: usize) -> Option<ClientSlot> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ClientSlot(self.clone()))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Socket options of an accepted client connection. `tcp-keepalive` as Redis applies it: probes
/// start after that many idle seconds, repeat every third of it, and 3 unanswered probes drop
/// the connection, so a vanished peer frees its slot instead of holding it forever.
fn configure_client_socket(socket: &TcpStream, keepalive_secs: u64) {
    let _ = socket.set_nodelay(true);
    if keepalive_secs > 0 {
        let time = Duration::from_secs(keepalive_secs);
        let params = TcpKeepalive::new()
            .with_time(time)
            .with_interval((time / 3).max(Duration::from_secs(1)))
            .with_retries(3);
        if let Err(e) = SockRef::from(socket).set_tcp_keepalive(&params) {
            tracing::debug!(error = %e, "cannot set TCP keepalive");
        }
    }
}

/// The `tls-port` listener and the acceptor (certificates reloaded as they change).
pub struct TlsListener {
    pub listener: TcpListener,
    pub acceptor: Arc<ReloadingAcceptor>,
}

/// How long a client may take over the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts on `listener`, or never when there is none.
async fn accept_on(
    listener: Option<&TcpListener>,
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Accepts RESP connections, plain and (with `tls-port`) TLS, until `shutdown` flips to true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsListener>,
    state: Arc<ServerState>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Bounds concurrent connections (both ports together); a connection over the limit is
    // told so and closed, as Redis does, instead of queueing in the accept backlog.
    let slots = Arc::new(ClientSlots::default());
    loop {
        let (accepted, secure) = tokio::select! {
            accepted = listener.accept() => (accepted, false),
            accepted = accept_on(tls.as_ref().map(|t| &t.listener)) => (accepted, true),
            _ = shutdown.changed() => return Ok(()),
        };
        let (socket, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (maxclients, keepalive) = {
            let config = state.config();
            (config.maxclients, config.tcp_keepalive)
        };
        state.total_connections.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = slots.try_take(maxclients) else {
            state.rejected_connections.fetch_add(1, Ordering::Relaxed);
            if !secure {
                tokio::spawn(connection::reject(socket));
            }
            continue;
        };
        configure_client_socket(&socket, keepalive);
        let state = state.clone();
        let shutdown = shutdown.clone();
        let acceptor = tls
            .as_ref()
            .filter(|_| secure)
            .map(|t| t.acceptor.acceptor());
        tokio::spawn(async move {
            let result = match acceptor {
                None => connection::run(socket, peer, state, shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await
                    {
                        Ok(Ok(stream)) => connection::run(stream, peer, state, shutdown).await,
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_slots_follow_the_current_limit() {
        let slots = Arc::new(ClientSlots::default());
        let a = slots.try_take(2).expect("first");
        let _b = slots.try_take(2).expect("second");
        assert!(slots.try_take(2).is_none(), "over the limit");
        assert!(
            slots.try_take(1).is_none(),
            "a lower limit admits nobody new"
        );
        let c = slots.try_take(3).expect("a raised limit admits at once");
        drop(a);
        drop(c);
        assert!(
            slots.try_take(2).is_some(),
            "closed connections give their slot back"
        );
    }
}
