//! Who may do what on the Raft/HTTP port: the admin API wants the admin token on every route
//! that changes membership or leadership (without one configured, only callers on the node's
//! host: protected mode), `/kv` obeys `requirepass`, peers prove the cluster secret before any
//! Raft RPC and must belong to the same cluster, and secrets are refused on the command line.
//! Tried as an attacker on the same network would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kiwi_tests::cluster::{wait_for, Credentials, TestCluster};
use kiwi_tests::{http, KiwiServer};
use serde_json::json;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const T: Duration = Duration::from_secs(15);

/// Every route that changes membership, leadership or fault injection, with a body that
/// would be valid (or at least parse) if the caller were allowed.
const ADMIN_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/raft/init", "{}"),
    (
        "POST",
        "/raft/add_learner",
        r#"{"node_id": 99, "node": {"raft_addr": "127.0.0.1:1", "resp_addr": "127.0.0.1:2"}, "wait": false}"#,
    ),
    (
        "POST",
        "/raft/join",
        r#"{"node_id": 99, "node": {"raft_addr": "127.0.0.1:1", "resp_addr": "127.0.0.1:2"}}"#,
    ),
    ("POST", "/raft/change_membership", r#"{"members": [99]}"#),
    ("POST", "/raft/promote", r#"{"node_id": 99}"#),
    ("POST", "/raft/remove_node", r#"{"node_id": 1}"#),
    ("POST", "/raft/transfer_leader", r#"{"to": 99}"#),
    ("POST", "/raft/step_down", ""),
    ("GET", "/raft/step_down", ""),
    ("POST", "/debug/partition", r#"{"blocked": [1]}"#),
];

fn call(port: u16, method: &str, path: &str, body: &str, token: Option<&str>) -> http::HttpReply {
    let r = match (method, token) {
        ("GET", None) => http::get(port, path),
        ("GET", Some(t)) => http::get_as(port, path, t),
        (_, None) => http::post(port, path, body),
        (_, Some(t)) => http::post_as(port, path, body, t),
    };
    r.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A server whose admin token is `token`, read from a file (as Kubernetes mounts Secrets).
fn start_with_token(token: &str, extra: &[&str]) -> (KiwiServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let mut flags = vec!["--admin-token-file", file.to_str().unwrap()];
    flags.extend_from_slice(extra);
    (KiwiServer::start_with(&flags), dir)
}

const TOKEN: &str = "admin-token-0123456789abcdef";

#[test]
fn admin_routes_refuse_callers_without_the_admin_token() {
    let _g = serial();
    let (server, _token_dir) = start_with_token(TOKEN, &[]);
    let port = server.raft_port();
    let token = TOKEN.to_string();
    let before = http::get(port, "/raft/metrics").unwrap().body;
    for (method, path, body) in ADMIN_ROUTES {
        for presented in [None, Some("not-the-token"), Some("")] {
            let r = call(port, method, path, body, presented);
            assert_eq!(
                r.status, 401,
                "{method} {path} with {presented:?} answered {} {}",
                r.status, r.body
            );
            assert!(
                r.body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("token")),
                "{method} {path}: {}",
                r.body
            );
        }
    }
    // Nothing changed: still the one voter, still leading.
    let after = http::get(port, "/raft/metrics").unwrap().body;
    assert_eq!(after["membership"], before["membership"]);
    assert_eq!(after["current_leader"], before["current_leader"]);
    assert_eq!(after["current_term"], before["current_term"]);

    // With the token the same routes are served (here: refused for what they ask, not for who
    // asks).
    let r = call(
        port,
        "POST",
        "/raft/promote",
        r#"{"node_id": 99}"#,
        Some(&token),
    );
    assert_ne!(r.status, 401, "{}", r.body);
    let r = call(port, "POST", "/raft/step_down", "", Some(&token));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["stepped_down"], false,
        "a lone voter stays: {}",
        r.body
    );
    let r = call(port, "POST", "/raft/init", "{not json", Some(&token));
    assert_eq!(r.status, 400, "{}", r.body);

    // Probes, metrics and read-only state stay open.
    for path in [
        "/healthz",
        "/readyz",
        "/status",
        "/raft/leader",
        "/raft/metrics",
        "/metrics",
    ] {
        let r = http::get(port, path).unwrap();
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    }
}

#[test]
fn kv_obeys_requirepass() {
    let _g = serial();
    let (server, _token_dir) = start_with_token(TOKEN, &["--requirepass", "kv-password"]);
    let port = server.raft_port();
    let put = r#"{"op": "put", "key": "k", "value": "v1"}"#;
    for token in [None, Some("wrong-password")] {
        let r = call(port, "POST", "/kv", put, token);
        assert_eq!(r.status, 401, "POST /kv with {token:?}: {}", r.body);
        let r = call(port, "GET", "/kv?key=k", "", token);
        assert_eq!(r.status, 401, "GET /kv with {token:?}: {}", r.body);
    }
    let mut c = server.client_with_password("kv-password");
    let value: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(value, None, "the refused write did not happen");

    let r = call(port, "POST", "/kv", put, Some("kv-password"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(port, "GET", "/kv?key=k", "", Some("kv-password"));
    assert_eq!((r.status, r.body["value"].as_str()), (200, Some("v1")));
    // The admin token is accepted too.
    let r = call(port, "GET", "/kv?key=k", "", Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let value: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(value.as_deref(), Some("v1"));
}

#[test]
fn kv_without_requirepass_is_as_open_as_resp() {
    let _g = serial();
    let server = KiwiServer::start();
    let port = server.raft_port();
    let r = http::post(port, "/kv", r#"{"op": "put", "key": "k", "value": "v"}"#).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http::get(port, "/kv?key=k").unwrap();
    assert_eq!(r.body["value"], "v");
}

#[test]
fn secrets_are_refused_on_the_command_line() {
    for (flag, var) in [
        ("--admin-token", "KIWI_ADMIN_TOKEN"),
        ("--cluster-secret", "KIWI_CLUSTER_SECRET"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(kiwi_tests::kiwi_bin())
            .args([flag, "0123456789abcdef0123"])
            .args(["--port", "0", "--db-path"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} must stop the start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains(var) && stderr.contains("-file"),
            "the error names the safe ways: {stderr}"
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing was started"
        );
    }
}

#[test]
fn without_an_admin_token_only_local_callers_may_change_membership() {
    let _g = serial();
    let ns = kiwi_tests::netns::Netns::create()
        .unwrap_or_else(|e| panic!("this test needs a network namespace (run as root): {e}"));
    let port = kiwi_tests::free_port();
    let _server = KiwiServer::start_with(&[
        "--raft-addr",
        &format!("127.0.0.1:{port}"),
        "--raft-bind",
        &format!("0.0.0.0:{port}"),
    ]);
    // From another host (the namespace): refused, and the reply says what to do.
    let remote = |method: &str, path: &str, body: &str| {
        let url = format!("http://{}:{port}{path}", ns.host_ip);
        let out = ns.run(
            "curl",
            &[
                "-s",
                "--max-time",
                "10",
                "-X",
                method,
                "-d",
                body,
                "-w",
                "\n%{http_code}",
                &url,
            ],
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    for (method, path, body) in ADMIN_ROUTES {
        let reply = remote(method, path, body);
        assert!(reply.ends_with("403"), "{method} {path}: {reply}");
        assert!(reply.contains("protected mode"), "{reply}");
    }
    // Read-only routes answer anyone.
    assert!(remote("GET", "/status", "").ends_with("200"));
    // On loopback the same node serves them.
    let r = call(port, "POST", "/raft/step_down", "", None);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_token_from_a_file_or_the_environment_is_the_one_required() {
    let _g = serial();
    let (server, _token_dir) = start_with_token("file-token-0123456789", &[]);
    let port = server.raft_port();
    let r = call(
        port,
        "POST",
        "/raft/step_down",
        "",
        Some("file-token-0123456789"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(port, "POST", "/raft/step_down", "", None);
    assert_eq!(r.status, 401, "{}", r.body);
    // KIWI_ADMIN_TOKEN: the cluster harness passes credentials that way.
    let cluster = TestCluster::start(1);
    let r = http::post(cluster.nodes[0].raft_port, "/raft/step_down", "").unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let r = cluster.nodes[0].post("/raft/step_down", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Sends `bytes` on a fresh connection to the Raft port and returns what comes back before
/// the node closes it (or a deadline passes).
fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn forged_peer_traffic_is_dropped_and_the_node_keeps_serving() {
    let _g = serial();
    let server = KiwiServer::start();
    let port = server.raft_port();
    // The peer magic, then a frame header announcing 256 MiB: refused at the handshake's
    // small limit, without waiting for (or reserving) the body.
    let mut forged = b"KIWIRPC3".to_vec();
    forged.extend_from_slice(&(256u32 << 20).to_be_bytes());
    let started = std::time::Instant::now();
    let reply = raw_exchange(port, &forged);
    assert!(reply.is_empty(), "no answer to a forged frame: {reply:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropped at once"
    );
    // The magic, then garbage where the handshake belongs.
    let mut garbage = b"KIWIRPC3".to_vec();
    garbage.extend_from_slice(&[0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    let _ = raw_exchange(port, &garbage);
    // The node still leads and writes.
    let mut c = server.client();
    let reply: String = redis::cmd("SET")
        .arg("still")
        .arg("here")
        .query(&mut c)
        .unwrap();
    assert_eq!(reply, "OK");
    let r = http::get(port, "/healthz").unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn a_node_without_the_cluster_secret_never_receives_the_log() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    let _: String = redis::cmd("SET")
        .arg("secret-data")
        .arg("1")
        .query(&mut c)
        .unwrap();

    // An impostor with its own secret, added as a learner by someone holding the admin token
    // (say, by mistake): the leader refuses to talk to it, so it never gets a byte of data.
    let impostor = cluster.add_node_with(&[], Credentials::random());
    let node = &cluster.nodes[impostor];
    let r = cluster.nodes[leader].post(
        "/raft/add_learner",
        &json!({"node_id": node.id, "node": node.node_json(), "wait": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A genuine learner added after it catches up, so replication to learners works.
    let genuine = cluster.add_node(&[]);
    let node = &cluster.nodes[genuine];
    let r = cluster.nodes[leader].post(
        "/raft/add_learner",
        &json!({"node_id": node.id, "node": node.node_json(), "timeout_secs": 30}),
    );
    assert_eq!(r.status, 200, "the genuine learner caught up: {}", r.body);
    wait_for(T, "the genuine learner to apply the data", || {
        (cluster.nodes[genuine].local_get("secret-data") == Some("1".into())).then_some(())
    });
    let m = cluster.nodes[impostor].metrics().expect("impostor metrics");
    assert_eq!(m["last_applied"], serde_json::Value::Null, "{m}");
    assert_eq!(cluster.nodes[impostor].local_get("secret-data"), None);
    let leader_log = std::fs::read_to_string(&cluster.nodes[leader].log).unwrap();
    assert!(
        leader_log.contains("cluster-secret differs"),
        "the leader says why the impostor gets nothing"
    );
}

#[test]
fn a_node_of_another_cluster_is_refused_even_with_the_same_secret() {
    let _g = serial();
    let cluster_a = TestCluster::start(1);
    let mut cluster_b = TestCluster::start(1);
    // Same secret, different clusters (as when one Secret is copied between two clusters).
    cluster_b.credentials = cluster_a.credentials.clone();
    let b_node = cluster_b.add_node(&[]);
    let r = cluster_b.nodes[b_node].post("/raft/init", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let b_cluster_id = wait_for(T, "cluster b's id", || {
        cluster_b.nodes[b_node].get("/status").body["cluster_id"]
            .as_str()
            .map(str::to_string)
    });
    let node = &cluster_b.nodes[b_node];
    let r = cluster_a.nodes[0].post(
        "/raft/add_learner",
        &json!({"node_id": node.id, "node": node.node_json(), "wait": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a_log = &cluster_a.nodes[0].log;
    wait_for(T, "cluster a's leader to refuse the other cluster", || {
        std::fs::read_to_string(a_log)
            .ok()?
            .contains("cluster id mismatch")
            .then_some(())
    });
    let status = cluster_b.nodes[b_node].get("/status").body;
    assert_eq!(status["cluster_id"].as_str(), Some(b_cluster_id.as_str()));
    assert_eq!(
        status["members"],
        json!([cluster_b.nodes[b_node].id]),
        "{status}"
    );
}

#[test]
fn step_down_command_uses_the_token_from_the_environment() {
    let _g = serial();
    let cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let old_id = cluster.nodes[leader].id;
    let addr = format!("127.0.0.1:{}", cluster.nodes[leader].raft_port);
    let empty = tempfile::tempdir().unwrap();
    let step_down = |token: Option<&str>| {
        let mut cmd = std::process::Command::new(kiwi_tests::kiwi_bin());
        cmd.args(["step-down", "--raft-addr", &addr, "--db-path"])
            .arg(empty.path())
            .env_remove("KIWI_ADMIN_TOKEN");
        if let Some(t) = token {
            cmd.env("KIWI_ADMIN_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    // No token: this cluster has one, so the node refuses.
    let out = step_down(None);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );
    // A wrong token: refused too, and leadership stays.
    let out = step_down(Some("wrong-token-0123456789"));
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );
    assert_eq!(cluster.leader_now(), Some(leader));
    // The cluster's token (as the preStop hook has it, from the pod's environment).
    let out = step_down(Some(&cluster.credentials.admin_token));
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("\"stepped_down\":true"), "{said}");
    let new_leader = wait_for(T, "another leader", || {
        cluster
            .leader_now()
            .filter(|l| cluster.nodes[*l].id != old_id)
    });
    assert_ne!(new_leader, leader);
}
