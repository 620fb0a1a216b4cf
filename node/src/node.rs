//! Wires a node together: storage, write path, RESP server and background tasks, all started by
//! one function so `main` and the tests start nodes the same way.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::engine::LocalApplier;
use crate::server::{self, ServerState};
use crate::storage::{Db, StorageOptions};

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
}

/// A running node; dropping it does not stop it, [`Node::shutdown`] does.
pub struct Node {
    pub resp_addr: SocketAddr,
    pub state: Arc<ServerState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    pub async fn start(config: Config) -> Result<Node, StartError> {
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
        let db = Db::open(&config.db_path, &storage_opts).map_err(|source| StartError::Storage {
            path: config.db_path.display().to_string(),
            source,
        })?;
        let listen = config.resp_listen_addr();
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: listen.clone(),
                source,
            })?;
        let resp_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: listen,
            source,
        })?;
        let expire_interval = config.active_expire_interval;
        let writer = LocalApplier::start(db.clone());
        let state = ServerState::new(db, writer, config);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        {
            let state = state.clone();
            let rx = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve(listener, state, rx).await {
                    tracing::error!(error = %e, "RESP server stopped");
                }
            }));
        }
        tasks.push(tokio::spawn(crate::expire::run(
            state.clone(),
            expire_interval,
            shutdown_rx,
        )));
        tracing::info!(%resp_addr, "kiwi is ready to accept connections");
        Ok(Node {
            resp_addr,
            state,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting, closes connections and waits for the background tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
