//! A small typed client of a kiwi node's admin API (`/status`, `/raft/*` on the Raft
//! address). Every call has a timeout: a hung pod must not hang a reconcile.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub type NodeId = u64;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{addr}: unreachable: {message}")]
    Unreachable { addr: String, message: String },
    #[error("{addr}: timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The node answered with an error status; `message` is its JSON error.
    #[error("{addr}{path}: HTTP {status}: {message}")]
    Refused {
        addr: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{addr}{path}: unexpected reply: {message}")]
    BadReply {
        addr: String,
        path: String,
        message: String,
    },
    /// The CA or a node's name cannot be used to verify the nodes.
    #[error("TLS: {0}")]
    Tls(String),
}

impl AdminError {
    /// The node refused because it is not the leader (the caller should re-observe).
    pub fn is_not_leader(&self) -> bool {
        matches!(self, AdminError::Refused { message, .. } if message.contains("leader"))
    }
}

/// A node's `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct NodeStatus {
    pub node_id: NodeId,
    #[serde(default)]
    pub cluster_id: Option<String>,
    pub is_leader: bool,
    #[serde(default)]
    pub leader_id: Option<NodeId>,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    #[serde(default)]
    pub last_log_index: u64,
    /// Voters.
    pub members: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    pub raft_addr: String,
    pub resp_addr: String,
}

/// Per-follower progress in a leader's `/raft/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Progress {
    pub matched: Option<u64>,
    pub lag: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct MetricsReply {
    #[serde(default)]
    replication: BTreeMap<String, Progress>,
}

/// The client. Cheap to clone; keeps connections to nodes alive between calls.
#[derive(Clone)]
pub struct AdminClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
    /// The cluster's admin tokens, sent as a bearer token: nodes refuse membership calls
    /// without one. The first is the Secret's; the next, the one it replaced, is tried when a
    /// node refuses the first, as a node still holds the old token until its mounted Secret
    /// is refreshed (up to a minute or two after a rotation).
    tokens: Vec<String>,
    /// HTTPS to the nodes, when their admin port serves TLS.
    tls: Option<Tls>,
}

/// HTTPS to the nodes: only certificates issued by the cluster's CA, each verified against
/// the stable DNS name of the pod (the name in its raft address) while dialing the pod's IP,
/// which is how the operator reaches a pod (its name may not resolve yet for a pod that is
/// still starting).
#[derive(Clone)]
struct Tls {
    connector: tokio_rustls::TlsConnector,
    /// Admin address (pod IP:port) -> the DNS name its certificate must carry.
    names: Arc<HashMap<String, String>>,
}

impl Default for AdminClient {
    fn default() -> Self {
        AdminClient::new(Duration::from_secs(5))
    }
}

impl AdminClient {
    pub fn new(timeout: Duration) -> AdminClient {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        AdminClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            tokens: Vec::new(),
            tls: None,
        }
    }

    /// The same client speaking HTTPS, trusting only the certificates in `ca_pem` (the TLS
    /// Secret's `ca.crt`); `names` gives, for each admin address, the DNS name its certificate
    /// must carry. An address with no name is refused rather than dialed unverified.
    pub fn with_tls(
        &self,
        ca_pem: &[u8],
        names: HashMap<String, String>,
    ) -> Result<AdminClient, AdminError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| AdminError::Tls(format!("ca.crt: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| AdminError::Tls(format!("ca.crt: {e}")))?;
        }
        if roots.is_empty() {
            return Err(AdminError::Tls("ca.crt holds no certificate".into()));
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| AdminError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(AdminClient {
            tls: Some(Tls {
                connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
                names: Arc::new(names),
            }),
            ..self.clone()
        })
    }

    /// One request over a fresh TLS connection to `addr`, verified against its name.
    async fn send_tls(
        tls: &Tls,
        addr: &str,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), AdminError> {
        let unreachable = |message: String| AdminError::Unreachable {
            addr: addr.into(),
            message,
        };
        let name = tls.names.get(addr).ok_or_else(|| {
            AdminError::Tls(format!("{addr}: no DNS name known to verify it against"))
        })?;
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| AdminError::Tls(format!("{name}: {e}")))?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let stream = tls
            .connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| unreachable(format!("TLS handshake (as {name}): {e}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(connection);
        let mut request = request;
        request.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_str(name).map_err(|e| AdminError::Tls(e.to_string()))?,
        );
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    /// The same client (sharing its connections), sending `token` with every call.
    pub fn with_token(&self, token: &str) -> AdminClient {
        self.with_tokens(&[token.to_string()])
    }

    /// The same client, sending the first of `tokens` and, where a node refuses it, the next.
    pub fn with_tokens(&self, tokens: &[String]) -> AdminClient {
        AdminClient {
            tokens: tokens.to_vec(),
            ..self.clone()
        }
    }

    /// One request and its answer, whatever its status.
    async fn exchange(
        &self,
        addr: &str,
        method: Method,
        path: &str,
        bytes: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), AdminError> {
        // Over TLS the request goes on its own connection, in origin form.
        let uri = match self.tls {
            Some(_) => path.to_string(),
            None => format!("http://{addr}{path}"),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(bytes.to_string())))
            .map_err(|e| AdminError::Unreachable {
                addr: addr.into(),
                message: e.to_string(),
            })?;
        let exchange = async {
            if let Some(tls) = &self.tls {
                return AdminClient::send_tls(tls, addr, request).await;
            }
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| AdminError::Unreachable {
                        addr: addr.into(),
                        message: e.to_string(),
                    })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| AdminError::Unreachable {
                    addr: addr.into(),
                    message: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, AdminError>((status, body))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| AdminError::Timeout {
                addr: addr.into(),
                timeout,
            })?
    }

    async fn call<T: DeserializeOwned>(
        &self,
        addr: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> Result<T, AdminError> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let tokens: Vec<Option<&str>> = if self.tokens.is_empty() {
            vec![None]
        } else {
            self.tokens.iter().map(|t| Some(t.as_str())).collect()
        };
        let mut tried = 0;
        let (status, body) = loop {
            let answer = self
                .exchange(addr, method.clone(), path, &bytes, tokens[tried], timeout)
                .await?;
            tried += 1;
            // A refused token changed nothing on the node: the next one may be tried.
            if answer.0 == StatusCode::UNAUTHORIZED && tried < tokens.len() {
                continue;
            }
            break answer;
        };
        if status != StatusCode::OK {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(AdminError::Refused {
                addr: addr.into(),
                path: path.into(),
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|e| AdminError::BadReply {
            addr: addr.into(),
            path: path.into(),
            message: e.to_string(),
        })
    }

    pub async fn status(&self, addr: &str) -> Result<NodeStatus, AdminError> {
        self.call(addr, Method::GET, "/status", None, self.timeout)
            .await
    }

    /// Each follower's matched index, as the leader at `addr` sees it.
    pub async fn replication(&self, addr: &str) -> Result<BTreeMap<NodeId, Progress>, AdminError> {
        let reply: MetricsReply = self
            .call(addr, Method::GET, "/raft/metrics", None, self.timeout)
            .await?;
        Ok(reply
            .replication
            .into_iter()
            .filter_map(|(id, p)| id.parse().ok().map(|id| (id, p)))
            .collect())
    }

    /// Initializes a one-node cluster of the node at `addr`. Idempotent on the node.
    pub async fn init(&self, addr: &str) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(addr, Method::POST, "/raft/init", None, self.timeout)
            .await?;
        Ok(())
    }

    /// Adds a learner through the leader at `leader`; returns once the change is committed,
    /// without waiting for the learner to catch up.
    pub async fn add_learner(
        &self,
        leader: &str,
        node_id: NodeId,
        raft_addr: &str,
        resp_addr: &str,
    ) -> Result<(), AdminError> {
        let body = json!({
            "node_id": node_id,
            "node": { "raft_addr": raft_addr, "resp_addr": resp_addr },
            "wait": false,
            "timeout_secs": self.timeout.as_secs().max(1),
        });
        self.change(leader, "/raft/add_learner", body).await
    }

    /// A membership change through the leader: bounded by twice the call timeout, since it
    /// waits for the change to commit.
    async fn change(
        &self,
        leader: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(leader, Method::POST, path, Some(body), self.timeout * 2)
            .await?;
        Ok(())
    }

    pub async fn promote(&self, leader: &str, node_id: NodeId) -> Result<(), AdminError> {
        self.change(leader, "/raft/promote", json!({ "node_id": node_id }))
            .await
    }

    /// Removes a voter or learner.
    pub async fn remove_node(&self, leader: &str, node_id: NodeId) -> Result<(), AdminError> {
        self.change(leader, "/raft/remove_node", json!({ "node_id": node_id }))
            .await
    }

    /// Asks the leader at `leader` to hand leadership to `to`; returns once `to` leads.
    pub async fn transfer_leader(&self, leader: &str, to: NodeId) -> Result<(), AdminError> {
        let _: serde_json::Value = self
            .call(
                leader,
                Method::POST,
                "/raft/transfer_leader",
                Some(json!({ "to": to })),
                Duration::from_secs(15),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use rustls::pki_types::PrivateKeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const NAME: &str = "demo-0.demo-headless.prod.svc";

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A CA `<ca>.crt` and, signed by it, `<ca>-server.crt`/`.key` for the DNS name `dns`.
    fn certificates(dir: &Path, ca: &str, dns: &str) {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        let (ca_key, ca_crt) = (format!("{ca}.key"), format!("{ca}.crt"));
        let subj = format!("/CN={ca}");
        args.extend([
            "-days", "2", "-subj", &subj, "-keyout", &ca_key, "-out", &ca_crt,
        ]);
        openssl(dir, &args);
        let (key, csr, crt) = (
            format!("{ca}-server.key"),
            format!("{ca}-server.csr"),
            format!("{ca}-server.crt"),
        );
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-subj", "/CN=kiwi", "-keyout", &key, "-out", &csr]);
        openssl(dir, &args);
        let ext = dir.join(format!("{ca}.ext"));
        std::fs::write(
            &ext,
            format!("subjectAltName=DNS:{dns}\nextendedKeyUsage=serverAuth\n"),
        )
        .unwrap();
        let ext = ext.to_str().unwrap().to_string();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ],
        );
    }

    /// A node's admin port over TLS answering `/status` once per connection; returns its
    /// address and, per request, the request head it read.
    async fn tls_node(
        dir: &Path,
        ca: &str,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join(format!("{ca}-server.crt")))
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
        let key = PrivateKeyDer::from_pem_file(dir.join(format!("{ca}-server.key"))).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                    let body = serde_json::json!({
                        "node_id": 1, "cluster_id": "c1", "is_leader": true, "leader_id": 1,
                        "term": 2, "commit_index": 5, "applied_index": 5, "last_log_index": 5,
                        "members": [1], "learners": [],
                        "raft_addr": format!("{NAME}:8001"), "resp_addr": format!("{NAME}:7379"),
                    })
                    .to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (addr, rx)
    }

    #[tokio::test]
    async fn https_to_a_pod_ip_verifies_the_pods_dns_name_against_the_clusters_ca() {
        let dir = tempfile::tempdir().unwrap();
        certificates(dir.path(), "ca", NAME);
        certificates(dir.path(), "other", NAME);
        let (addr, mut heads) = tls_node(dir.path(), "ca").await;
        let ca = std::fs::read(dir.path().join("ca.crt")).unwrap();
        let names = |name: &str| HashMap::from([(addr.clone(), name.to_string())]);
        let client = AdminClient::new(Duration::from_secs(5)).with_token("t0ken");

        // Dialed at its IP, verified as its DNS name: the call goes through, token and all.
        let tls = client.with_tls(&ca, names(NAME)).unwrap();
        let status = tls.status(&addr).await.expect("status over TLS");
        assert_eq!(status.node_id, 1);
        let head = heads.recv().await.unwrap();
        assert!(head.starts_with("GET /status HTTP/1.1\r\n"), "{head}");
        assert!(
            head.to_lowercase().contains(&format!("host: {NAME}")),
            "{head}"
        );
        assert!(head.contains("Bearer t0ken"), "{head}");

        // A certificate for another name is refused.
        let wrong = client
            .with_tls(&ca, names("demo-1.demo-headless.prod.svc"))
            .unwrap();
        let e = wrong.status(&addr).await.unwrap_err();
        assert!(e.to_string().contains("TLS handshake"), "{e}");
        // So is one from another CA.
        let other = std::fs::read(dir.path().join("other.crt")).unwrap();
        let e = client
            .with_tls(&other, names(NAME))
            .unwrap()
            .status(&addr)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("TLS handshake"), "{e}");
        // An address with no known name is never dialed unverified.
        let e = client
            .with_tls(&ca, HashMap::new())
            .unwrap()
            .status(&addr)
            .await
            .unwrap_err();
        assert!(matches!(e, AdminError::Tls(_)), "{e}");
        // And a CA file with no certificate is refused up front.
        assert!(client.with_tls(b"not a certificate", names(NAME)).is_err());
    }
}
