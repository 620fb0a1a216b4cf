//! Rotating the admin token and the cluster secret while the cluster runs, as Kubernetes does
//! it: each node reads its secrets from files (a mounted Secret), the files change node by node,
//! and nothing stops meanwhile. A node takes a changed file within a second and accepts the
//! value it replaced for `secret-rotation-grace`, so nodes on the old value and on the new one
//! keep talking; after the grace period the old value is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiwi_operator::admin::{AdminClient, AdminError};
use kiwi_tests::cluster::{wait_for, Credentials, TestCluster};
use kiwi_tests::*;
use serde_json::{json, Value};

/// A node's "mounted Secret": the two files it reads its credentials from.
struct SecretDir {
    dir: PathBuf,
}

impl SecretDir {
    fn new(root: &Path, name: &str, credentials: &Credentials) -> SecretDir {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let secrets = SecretDir { dir };
        secrets.write(credentials);
        secrets
    }

    /// Replaces both files at once, as kubelet swaps a Secret volume's contents.
    fn write(&self, credentials: &Credentials) {
        for (name, value) in [
            ("admin-token", &credentials.admin_token),
            ("cluster-secret", &credentials.cluster_secret),
        ] {
            let tmp = self.dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, format!("{value}\n")).unwrap();
            std::fs::rename(&tmp, self.dir.join(name)).unwrap();
        }
    }

    fn flags(&self, grace_secs: u64) -> Vec<String> {
        vec![
            "--admin-token-file".into(),
            self.dir.join("admin-token").display().to_string(),
            "--cluster-secret-file".into(),
            self.dir.join("cluster-secret").display().to_string(),
            "--secret-rotation-grace".into(),
            grace_secs.to_string(),
        ]
    }
}

/// An admin call with `token` is refused (401) or not. The call changes nothing either way:
/// add_learner without a node is refused as malformed once the token is accepted.
fn admin_refuses(port: u16, token: &str) -> bool {
    http::post_as(port, "/raft/add_learner", "{}", token)
        .map(|r| r.status == 401)
        .unwrap_or(false)
}

#[test]
fn secret_files_rotated_node_by_node_keep_the_cluster_working() {
    let root = tempfile::tempdir().unwrap();
    let old = Credentials::random();
    let new = Credentials::random();
    let mut cluster = TestCluster::launch(0, &[]);
    let mut secrets = Vec::new();
    for i in 0..3 {
        let dir = SecretDir::new(root.path(), &format!("node{i}"), &old);
        let flags = dir.flags(600);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        cluster.add_node_with(&flags, old.clone());
        secrets.push(dir);
    }
    let members: Vec<Value> = cluster
        .nodes
        .iter()
        .map(|n| json!([n.id, n.node_json()]))
        .collect();
    let r = cluster.nodes[0].post("/raft/init", &json!({ "nodes": members }));
    assert_eq!(r.status, 200, "{}", r.body);
    cluster.wait_leader(Duration::from_secs(10));

    let mut acked = Vec::new();
    // As a client would: a write that meets an election (TRYAGAIN, CLUSTERDOWN) is sent again.
    let mut write = |cluster: &TestCluster, key: String| {
        let reply = wait_for(Duration::from_secs(30), &format!("SET {key}"), || {
            let leader = cluster.leader_now()?;
            let mut c = cluster.nodes[leader].client();
            let reply: redis::RedisResult<String> =
                redis::cmd("SET").arg(&key).arg("v").query(&mut c);
            match reply {
                Err(e) if matches!(e.code(), Some("TRYAGAIN" | "CLUSTERDOWN")) => None,
                other => Some(other),
            }
        });
        assert_eq!(reply.as_deref(), Ok("OK"), "SET {key}");
        acked.push(key);
    };
    write(&cluster, "before".into());

    // Node 1 takes the new secrets first; node 3, still on the old ones, restarts: both of its
    // connections to node 1 are new handshakes, made on the one secret they share (the old).
    secrets[0].write(&new);
    let port0 = cluster.nodes[0].raft_port;
    wait_for(
        Duration::from_secs(10),
        "node 1 takes the new admin token",
        || (!admin_refuses(port0, &new.admin_token)).then_some(()),
    );
    assert!(
        !admin_refuses(port0, &old.admin_token),
        "the old token is still accepted during the grace period"
    );
    assert!(
        admin_refuses(cluster.nodes[1].raft_port, &new.admin_token),
        "node 2 has not seen the new token yet"
    );
    cluster.kill9(2);
    cluster.restart(2);
    write(&cluster, "node3-restarted".into());
    cluster.wait_converged(Duration::from_secs(20));

    // The others follow; then node 1 restarts knowing only the new secret, and is still a
    // peer of the others (who accept both).
    secrets[1].write(&new);
    secrets[2].write(&new);
    for i in [1, 2] {
        let port = cluster.nodes[i].raft_port;
        wait_for(
            Duration::from_secs(10),
            "the new admin token is taken",
            || (!admin_refuses(port, &new.admin_token)).then_some(()),
        );
    }
    for node in &mut cluster.nodes {
        node.credentials = new.clone();
    }
    cluster.kill9(0);
    cluster.restart(0);
    write(&cluster, "node1-restarted".into());
    cluster.wait_converged(Duration::from_secs(20));
    for key in &acked {
        for node in &cluster.nodes {
            assert_eq!(
                node.local_get(key).as_deref(),
                Some("v"),
                "{key} on node {}",
                node.id
            );
        }
    }
}

#[test]
fn the_old_admin_token_is_refused_after_the_grace_period_and_the_operator_falls_back_meanwhile() {
    let root = tempfile::tempdir().unwrap();
    let old = Credentials::random();
    let new = Credentials::random();
    let secrets = SecretDir::new(root.path(), "node", &old);
    let flags = secrets.flags(3);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = KiwiServer::start_with(&flags);
    let port = server.raft_port();
    let addr = format!("127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = |client: &AdminClient| rt.block_on(client.status(&addr));
    // An admin route that changes nothing here: init of the one-node cluster it already is.
    let admin_call = |client: &AdminClient| rt.block_on(client.init(&addr));

    // The operator has read the new token from the Secret before this node's files changed:
    // the node refuses it, and the operator's call goes through with the one it replaced.
    let fresh_only = AdminClient::new(Duration::from_secs(5)).with_token(&new.admin_token);
    let with_previous = AdminClient::new(Duration::from_secs(5))
        .with_tokens(&[new.admin_token.clone(), old.admin_token.clone()]);
    status(&fresh_only).expect("/status is open");
    match admin_call(&fresh_only) {
        Err(AdminError::Refused { status: 401, .. }) => {}
        other => panic!("the node does not know the new token yet: {other:?}"),
    }
    admin_call(&with_previous).expect("the old token still works");

    secrets.write(&new);
    wait_for(Duration::from_secs(10), "the new token is taken", || {
        (!admin_refuses(port, &new.admin_token)).then_some(())
    });
    admin_call(&fresh_only).expect("the new token works");
    wait_for(
        Duration::from_secs(15),
        "the old token is refused after the grace period",
        || admin_refuses(port, &old.admin_token).then_some(()),
    );
    // A half-written or emptied file does not lock the node out.
    std::fs::write(secrets.dir.join("admin-token"), "").unwrap();
    wait_for(Duration::from_secs(10), "the empty file is noticed", || {
        // The file is looked at when a token is checked.
        admin_refuses(port, &new.admin_token);
        server.log().contains("secret file unusable").then_some(())
    });
    admin_call(&fresh_only).expect("an empty file keeps the current token");
    drop(server);
}
