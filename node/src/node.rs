//! Wires a node together: storage, Raft, the RESP server, the HTTP/Raft listener and the
//! background tasks, all started by one function so `main` and the tests start nodes the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::raft::cluster::{Cluster, ClusterError};
use crate::raft::rpc::{MuxListener, PeerAddr};
use crate::secrets::RotatingSecret;
use crate::server::{self, ServerState};
use crate::storage::{Db, StorageOptions};
use crate::tls::ReloadingAcceptor;
use crate::transport::Transport;

/// How often the TLS certificate files are checked for a renewal.
const TLS_RELOAD_CHECK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open storage at {path}: {source}")]
    Storage {
        path: String,
        source: crate::storage::StorageError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("tls: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("raft: {0}")]
    Raft(#[from] ClusterError),
}

/// A running node; [`Node::shutdown`] stops it.
pub struct Node {
    pub resp_addr: SocketAddr,
    pub raft_addr: SocketAddr,
    pub state: Arc<ServerState>,
    pub cluster: Arc<Cluster>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: addr.to_string(),
            source,
        })
}

/// How the Raft/HTTP port speaks, its certificates checked now so a bad file stops the start.
pub fn cluster_transport(config: &Config) -> Result<Transport, StartError> {
    Ok(match config.cluster_tls_files()? {
        Some((server, client)) => {
            // The client side is read at each connection; read it once now to fail early.
            crate::transport::client_config(&client)?;
            Transport::Tls {
                acceptor: Arc::new(ReloadingAcceptor::load(server)?),
                client,
            }
        }
        None => Transport::Plain,
    })
}

impl Node {
    pub async fn start(config: Config) -> Result<Node, StartError> {
        // MOVE, COPY ... DB and SWAPDB check database indexes as they are applied.
        crate::command::keys::set_databases(config.databases);
        std::fs::create_dir_all(&config.db_path).map_err(|source| StartError::DataDir {
            path: config.db_path.display().to_string(),
            source,
        })?;
        let storage_opts = StorageOptions {
            memory: config.memory,
            max_background_jobs: config.rocksdb_max_background_jobs,
            max_write_buffer_number: config.rocksdb_max_write_buffer_number,
            write_buffer_size: config.rocksdb_write_buffer_size,
        };
        let db =
            Db::open(&config.db_path, &storage_opts).map_err(|source| StartError::Storage {
                path: config.db_path.display().to_string(),
                source,
            })?;
        // Bind both ports before starting Raft, so a port clash fails fast and cleanly.
        let resp_listener = bind(&config.resp_listen_addr()).await?;
        let raft_listener = bind(&config.raft_listen_addr()).await?;
        // RESP over TLS: certificates checked now, so a bad file stops the start.
        let tls = match config.tls_files()? {
            Some(files) => Some(server::TlsListener {
                listener: bind(&format!("{}:{}", config.binding, config.tls_port)).await?,
                acceptor: Arc::new(ReloadingAcceptor::load(files)?),
            }),
            None => None,
        };
        let resp_addr = resp_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: config.resp_listen_addr(),
                source,
            })?;
        let raft_addr = raft_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: config.raft_listen_addr(),
                source,
            })?;
        let transport = cluster_transport(&config)?;
        let cluster = Cluster::start(&config, db.clone(), transport.clone()).await?;
        tracing::info!(node_id = cluster.id, %resp_addr, %raft_addr, "raft started");

        let bootstrap = config.raft_bootstrap.unwrap_or(false);
        let join = config.raft_join.clone();
        let admin_token = Arc::new(RotatingSecret::configured(
            config.admin_token.clone(),
            config.admin_token_file.as_deref(),
            config.secret_rotation_grace,
        ));
        let expire_interval = config.active_expire_interval;
        let state = ServerState::new(db, cluster.clone(), config);
        // PUBLISH reaches the subscribers of every member (see `pubsub`).
        state.pubsub.set_fanout(crate::pubsub::fanout::Fanout::new(
            cluster.clone(),
            transport.clone(),
        ));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let mux = MuxListener::start(
            raft_listener,
            transport.clone(),
            cluster.raft.clone(),
            cluster.snapshots.clone(),
            cluster.peer_auth.clone(),
            state.pubsub.clone(),
        )
        .map_err(|source| StartError::Listen {
            addr: raft_addr.to_string(),
            source,
        })?;
        let router = http::router(AppState {
            cluster: cluster.clone(),
            server: state.clone(),
            scheme: transport.scheme(),
            admin_token: admin_token.clone(),
        });
        {
            let mut rx = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                // The caller's address reaches the handlers: protected mode serves admin routes
                // to local callers only.
                let app = router.into_make_service_with_connect_info::<PeerAddr>();
                let serve = axum::serve(mux, app).with_graceful_shutdown(async move {
                    let _ = rx.changed().await;
                });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "HTTP server stopped");
                }
            }));
        }
        {
            let state = state.clone();
            let rx = shutdown_rx.clone();
            if let Some(tls) = &tls {
                tasks.push(tokio::spawn(
                    tls.acceptor.clone().watch(TLS_RELOAD_CHECK, rx.clone()),
                ));
            }
            if let Transport::Tls { acceptor, .. } = &transport {
                tasks.push(tokio::spawn(
                    acceptor.clone().watch(TLS_RELOAD_CHECK, rx.clone()),
                ));
            }
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve(resp_listener, tls, state, rx).await {
                    tracing::error!(error = %e, "RESP server stopped");
                }
            }));
        }
        tasks.push(tokio::spawn(crate::expire::run(
            state.clone(),
            expire_interval,
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(server::sample_ops(
            state.clone(),
            shutdown_rx.clone(),
        )));

        // A node with Raft state restarts as what it was: never re-initialized, never re-joined.
        if !cluster.is_initialized().await {
            if let Some(addr) = join {
                tasks.push(tokio::spawn(join_cluster(
                    cluster.clone(),
                    transport.clone(),
                    addr,
                    admin_token,
                    shutdown_rx,
                )));
            } else if bootstrap {
                let me = std::collections::BTreeMap::from([(cluster.id, cluster.me.clone())]);
                cluster.init(me).await?;
                tracing::info!(node_id = cluster.id, "bootstrapped a one-node cluster");
            } else {
                tracing::info!("waiting to be initialized (POST /raft/init) or added to a cluster");
            }
        }
        tracing::info!(%resp_addr, "kiwi is ready to accept connections");
        Ok(Node {
            resp_addr,
            raft_addr,
            state,
            cluster,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting, closes connections, stops Raft and waits for the background tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.cluster.shutdown().await;
    }
}

/// Asks the cluster (through any member) to add this node, retrying until it is a voter. The
/// cluster's admin token must be this node's too (or, with none, the member must be local).
async fn join_cluster(
    cluster: Arc<Cluster>,
    transport: Transport,
    addr: String,
    admin_token: Arc<RotatingSecret>,
    mut shutdown: watch::Receiver<bool>,
) {
    let body = json!({ "node_id": cluster.id, "node": cluster.me, "timeout_secs": 120 });
    let mut delay = Duration::from_millis(200);
    loop {
        let timeout = Duration::from_secs(130);
        let target = http::client::Target::new(&addr);
        let token = admin_token.current();
        let call = http::client::post_json(
            &transport,
            &target,
            "/raft/join",
            &body,
            token.as_deref(),
            timeout,
        );
        match call.await {
            Ok(resp) if resp.status == 200 => {
                tracing::info!(node_id = cluster.id, via = %addr, "joined the cluster");
                return;
            }
            Ok(resp) => {
                tracing::warn!(status = resp.status, body = %resp.body, "join refused; retrying")
            }
            Err(e) => tracing::warn!(error = %e, via = %addr, "join failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
