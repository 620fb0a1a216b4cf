//! Prometheus `/metrics`: values are read from the node at scrape time, so nothing on the hot
//! path pays for them.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, IntGauge, Opts, Registry, TextEncoder};

use super::AppState;
use crate::server::info::resident_memory_bytes;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

fn gauge(registry: &Registry, name: &str, help: &str, value: i64) {
    if let Ok(g) = IntGauge::with_opts(Opts::new(name, help)) {
        g.set(value);
        let _ = registry.register(Box::new(g));
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let registry = Registry::new();
    let m = s.cluster.metrics();
    let (voters, learners, _) = s.cluster.members();
    let srv = &s.server;
    let r = &registry;
    gauge(
        r,
        "kiwi_raft_term",
        "Current Raft term",
        m.current_term as i64,
    );
    gauge(
        r,
        "kiwi_raft_is_leader",
        "1 if this node leads",
        (m.current_leader == Some(s.cluster.id)) as i64,
    );
    gauge(
        r,
        "kiwi_raft_last_log_index",
        "Index of the last log entry",
        m.last_log_index.unwrap_or(0) as i64,
    );
    gauge(
        r,
        "kiwi_raft_commit_index",
        "Committed index known to this node",
        m.local_committed.as_ref().map(|l| l.index).unwrap_or(0) as i64,
    );
    gauge(
        r,
        "kiwi_raft_applied_index",
        "Last applied index",
        m.last_applied.as_ref().map(|l| l.index).unwrap_or(0) as i64,
    );
    gauge(
        r,
        "kiwi_raft_voters",
        "Voters in the membership",
        voters.len() as i64,
    );
    gauge(
        r,
        "kiwi_raft_learners",
        "Learners in the membership",
        learners.len() as i64,
    );
    gauge(
        r,
        "kiwi_connected_clients",
        "Open client connections",
        srv.clients().len() as i64,
    );
    gauge(
        r,
        "kiwi_commands_processed_total",
        "Commands processed",
        srv.total_commands.load(Ordering::Relaxed) as i64,
    );
    gauge(
        r,
        "kiwi_connections_received_total",
        "Connections accepted",
        srv.total_connections.load(Ordering::Relaxed) as i64,
    );
    gauge(
        r,
        "kiwi_expired_keys_total",
        "Keys deleted by expiry",
        srv.expired_keys.load(Ordering::Relaxed) as i64,
    );
    gauge(
        r,
        "kiwi_resident_memory_bytes",
        "Resident set size",
        resident_memory_bytes() as i64,
    );
    gauge(
        r,
        "kiwi_disk_live_data_bytes",
        "RocksDB estimated live data",
        srv.db.approximate_size() as i64,
    );
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
