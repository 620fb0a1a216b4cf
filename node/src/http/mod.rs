//! HTTP on the Raft address: the admin API (`/raft/*`), the qklzl-compatible `/status` and
//! `/kv`, health and readiness probes, and Prometheus `/metrics`. Every reply is JSON (metrics
//! aside); every error has a status code and a `{"error": ...}` message. Mutating routes need
//! credentials ([`auth`]).

pub mod admin;
pub mod auth;
pub mod client;
pub mod metrics;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::raft::cluster::{Cluster, ClusterError};
use crate::secrets::RotatingSecret;
use crate::server::ServerState;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub cluster: Arc<Cluster>,
    pub server: Arc<ServerState>,
    /// `http`, or `https` with `tls-cluster`: what redirects to another node start with.
    pub scheme: &'static str,
    /// The admin token, read again from its file when it is rotated.
    pub admin_token: Arc<RotatingSecret>,
}

/// An HTTP error: a status and a JSON body `{"error": message, ...extra}`.
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
    location: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            location: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        match e {
            ClusterError::NotLeader { leader } => {
                let (id, node) = match &leader {
                    Some((id, node)) => (json!(id), json!(node)),
                    None => (json!(null), json!(null)),
                };
                ApiError {
                    status: if leader.is_some() {
                        StatusCode::TEMPORARY_REDIRECT
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    },
                    body: json!({ "error": "not the leader", "leader_id": id, "leader": node }),
                    location: leader.map(|(_, n)| format!("http://{}", n.raft_addr)),
                }
            }
            ClusterError::NoLeader => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no raft leader")
            }
            ClusterError::Timeout(d) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("timed out after {d:?}"),
            ),
            ClusterError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            ClusterError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
            ClusterError::Fatal(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            ClusterError::Io(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        if let Some(loc) = self.location {
            // The path is appended by the handler that knows it; here the leader's base URL.
            if let Ok(v) = loc.parse() {
                resp.headers_mut().insert(header::LOCATION, v);
            }
        }
        resp
    }
}

pub fn router(state: AppState) -> axum::Router {
    let scheme = state.scheme;
    admin::routes(&state)
        .merge(metrics::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(move |resp| {
            redirect_with_scheme(resp, scheme)
        }))
}

/// Redirects to another node (307 to the leader) are written as `http://`; on a TLS port they
/// must say `https://`.
async fn redirect_with_scheme(mut resp: Response, scheme: &'static str) -> Response {
    if scheme != "http" {
        let rewritten = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("http://"))
            .and_then(|rest| format!("{scheme}://{rest}").parse().ok());
        if let Some(v) = rewritten {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    resp
}
