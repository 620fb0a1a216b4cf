//! Who may call what on the HTTP port. Three kinds of route:
//! - open: health, readiness, metrics and read-only cluster state (`/healthz`, `/readyz`,
//!   `/metrics`, `/status`, `/raft/leader`, `/raft/metrics`), for probes and monitoring;
//! - admin: everything that changes membership or leadership (`/raft/*` writes,
//!   `/debug/partition`): `Authorization: Bearer <admin-token>`. A node with no admin token
//!   configured is in protected mode, as Redis is without a password: it answers these routes
//!   for callers on its own host (loopback) only;
//! - data (`/kv`): what RESP asks, `requirepass`, presented as the bearer token; the admin
//!   token is accepted too.
//!
//! A missing or wrong credential is 401 with a JSON message and a `WWW-Authenticate` header
//! (RFC 6750); a remote caller of a node in protected mode gets 403.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::raft::peer_auth::is_local;
use crate::raft::rpc::PeerAddr;

/// The bearer token a request presents, if any.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at(value.iter().position(|b| *b == b' ')?);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Compares a presented credential with the expected one in time that depends on neither's
/// contents (both are hashed first, so not even the length leaks).
pub fn matches(presented: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(presented), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    Unauthorized(&'static str),
    Forbidden(&'static str),
}

/// `expected`: the admin tokens accepted now (the current one and, while a rotation settles,
/// the one it replaced; see [`crate::secrets`]); none configured is protected mode.
fn admin_verdict(token: Option<&[u8]>, expected: &[String], peer: Option<IpAddr>) -> Verdict {
    match (expected, token) {
        ([], _) if peer.is_some_and(is_local) => Verdict::Allow,
        ([], _) => Verdict::Forbidden(
            "protected mode: this node has no admin-token, so it answers admin routes only for \
             callers on its own host; set admin-token (config file, KIWI_ADMIN_TOKEN or \
             --admin-token-file) to manage it remotely",
        ),
        (_, None) => Verdict::Unauthorized(
            "this route needs the admin token: send 'Authorization: Bearer <admin-token>'",
        ),
        (expected, Some(token)) if any_matches(token, expected) => Verdict::Allow,
        (_, Some(_)) => Verdict::Unauthorized("invalid admin token"),
    }
}

/// Whether `presented` is one of `expected`, each compared in constant time and all of them
/// compared (no early exit that would tell which one matched).
fn any_matches(presented: &[u8], expected: &[String]) -> bool {
    expected
        .iter()
        .fold(false, |found, e| matches(presented, e.as_bytes()) | found)
}

fn data_verdict(token: Option<&[u8]>, password: Option<&str>, admin: &[String]) -> Verdict {
    let Some(password) = password else {
        return Verdict::Allow;
    };
    match token {
        None => Verdict::Unauthorized(
            "authentication required: send 'Authorization: Bearer <requirepass>' (or the admin token)",
        ),
        Some(token)
            if matches(token, password.as_bytes())
                || any_matches(token, admin) =>
        {
            Verdict::Allow
        }
        Some(_) => Verdict::Unauthorized("invalid password"),
    }
}

async fn enforce(verdict: Verdict, req: Request, next: Next) -> Response {
    match verdict {
        Verdict::Allow => next.run(req).await,
        Verdict::Forbidden(message) => {
            ApiError::new(StatusCode::FORBIDDEN, message).into_response()
        }
        Verdict::Unauthorized(message) => {
            let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kiwi\""),
            );
            resp
        }
    }
}

fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| addr.ip())
}

/// Admin routes: the admin token, or (with none configured) a caller on this host.
pub async fn require_admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let expected = s.admin_token.accepted();
    let verdict = admin_verdict(bearer(req.headers()), &expected, peer_ip(&req));
    enforce(verdict, req, next).await
}

/// `/kv`: open when no `requirepass` is set (as RESP is), else the password or the admin token.
pub async fn require_data_access(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let password = s.server.config().requirepass.clone();
    let admin = s.admin_token.accepted();
    let verdict = data_verdict(bearer(req.headers()), password.as_deref(), &admin);
    enforce(verdict, req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_trimmed() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn a_configured_token_is_required_from_everyone() {
        let local: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let remote: Option<IpAddr> = Some("10.1.2.3".parse().unwrap());
        let tok = ["tok".to_string()];
        for peer in [local, remote, None] {
            assert_eq!(admin_verdict(Some(b"tok"), &tok, peer), Verdict::Allow);
            assert!(matches!(
                admin_verdict(None, &tok, peer),
                Verdict::Unauthorized(_)
            ));
            assert!(matches!(
                admin_verdict(Some(b"tok2"), &tok, peer),
                Verdict::Unauthorized(_)
            ));
        }
    }

    #[test]
    fn without_a_token_only_local_callers_are_served() {
        for ip in ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"] {
            let peer = Some(ip.parse().unwrap());
            assert_eq!(admin_verdict(None, &[], peer), Verdict::Allow, "{ip}");
        }
        for ip in ["10.1.2.3", "192.168.0.7", "::ffff:10.0.0.1", "fe80::1"] {
            let peer = Some(ip.parse().unwrap());
            assert!(
                matches!(admin_verdict(None, &[], peer), Verdict::Forbidden(_)),
                "{ip}"
            );
            // Presenting some token does not help a node that has none.
            assert!(matches!(
                admin_verdict(Some(b"x"), &[], peer),
                Verdict::Forbidden(_)
            ));
        }
        assert!(matches!(
            admin_verdict(None, &[], None),
            Verdict::Forbidden(_)
        ));
    }

    #[test]
    fn kv_follows_requirepass() {
        let adm = ["adm".to_string()];
        assert_eq!(data_verdict(None, None, &[]), Verdict::Allow);
        assert!(matches!(
            data_verdict(None, Some("pw"), &[]),
            Verdict::Unauthorized(_)
        ));
        assert_eq!(data_verdict(Some(b"pw"), Some("pw"), &[]), Verdict::Allow);
        assert_eq!(data_verdict(Some(b"adm"), Some("pw"), &adm), Verdict::Allow);
        assert!(matches!(
            data_verdict(Some(b"nope"), Some("pw"), &adm),
            Verdict::Unauthorized(_)
        ));
    }

    #[test]
    fn during_a_rotation_the_old_token_works_too() {
        let both = ["new-token".to_string(), "old-token".to_string()];
        for token in [&b"new-token"[..], b"old-token"] {
            assert_eq!(admin_verdict(Some(token), &both, None), Verdict::Allow);
            assert_eq!(data_verdict(Some(token), Some("pw"), &both), Verdict::Allow);
        }
        assert!(matches!(
            admin_verdict(Some(b"older-token"), &both, None),
            Verdict::Unauthorized(_)
        ));
    }

    #[test]
    fn matching() {
        assert!(matches(b"abc", b"abc"));
        assert!(!matches(b"abc", b"abd"));
        assert!(!matches(b"abc", b"abcd"));
        assert!(!matches(b"", b"abc"));
    }
}
