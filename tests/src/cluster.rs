//! Multi-process Kiwi clusters on loopback: start N real `kiwi` processes, initialize them,
//! kill -9 / restart / wipe nodes, cut them off from each other, and poll their state with
//! deadlines (never fixed sleeps).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http;

/// One node of a test cluster.
pub struct ClusterNode {
    pub id: u64,
    pub resp_port: u16,
    pub raft_port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub extra_args: Vec<String>,
    /// The cluster's credentials, given to the process through its environment.
    pub credentials: Credentials,
    child: Option<Child>,
}

/// A test cluster's admin token and cluster secret: random per cluster, so nodes of two tests
/// never mistake each other for peers (ports are reused between tests).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub admin_token: String,
    pub cluster_secret: String,
}

impl Credentials {
    pub fn random() -> Credentials {
        Credentials {
            admin_token: crate::random_hex(32),
            cluster_secret: crate::random_hex(32),
        }
    }
}

impl ClusterNode {
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn node_json(&self) -> Value {
        json!({ "raft_addr": format!("127.0.0.1:{}", self.raft_port), "resp_addr": format!("127.0.0.1:{}", self.resp_port) })
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.resp_port))
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to node {} on {}: {e}", self.id, self.resp_port))
    }

    pub fn get(&self, path: &str) -> http::HttpReply {
        http::get(self.raft_port, path)
            .unwrap_or_else(|e| panic!("GET {path} on node {}: {e}", self.id))
    }

    pub fn try_get(&self, path: &str) -> Option<http::HttpReply> {
        http::get(self.raft_port, path).ok()
    }

    /// A POST with the cluster's admin token.
    pub fn post(&self, path: &str, body: &Value) -> http::HttpReply {
        http::post_as(
            self.raft_port,
            path,
            &body.to_string(),
            &self.credentials.admin_token,
        )
        .unwrap_or_else(|e| panic!("POST {path} on node {}: {e}", self.id))
    }

    /// This node's locally stored string value (READONLY: no forwarding to the leader).
    pub fn local_get(&self, key: &str) -> Option<String> {
        let mut c = self.client();
        redis::cmd("READONLY")
            .query::<()>(&mut c)
            .expect("READONLY");
        redis::cmd("GET").arg(key).query(&mut c).expect("GET")
    }

    pub fn metrics(&self) -> Option<Value> {
        self.try_get("/raft/metrics")
            .filter(|r| r.status == 200)
            .map(|r| r.body)
    }
}

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<ClusterNode>,
    pub credentials: Credentials,
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl TestCluster {
    /// Starts `n` nodes (ids 1..=n) without initializing them.
    pub fn launch(n: usize, extra_args: &[&str]) -> TestCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cluster = TestCluster {
            dir,
            nodes: Vec::new(),
            credentials: Credentials::random(),
        };
        for _ in 0..n {
            cluster.add_node(extra_args);
        }
        cluster
    }

    /// Starts `n` nodes and initializes them as one cluster through node 1.
    pub fn start(n: usize) -> TestCluster {
        Self::start_with(n, &[])
    }

    pub fn start_with(n: usize, extra_args: &[&str]) -> TestCluster {
        let cluster = Self::launch(n, extra_args);
        let nodes: Vec<Value> = cluster
            .nodes
            .iter()
            .map(|nd| json!([nd.id, nd.node_json()]))
            .collect();
        let r = cluster.nodes[0].post("/raft/init", &json!({ "nodes": nodes }));
        assert_eq!(r.status, 200, "init failed: {}", r.body);
        cluster.wait_leader(Duration::from_secs(10));
        cluster
    }

    /// Adds and starts a node with the next id (not yet a member of anything).
    pub fn add_node(&mut self, extra_args: &[&str]) -> usize {
        let credentials = self.credentials.clone();
        self.add_node_with(extra_args, credentials)
    }

    /// Adds and starts a node that holds `credentials` instead of the cluster's.
    pub fn add_node_with(&mut self, extra_args: &[&str], credentials: Credentials) -> usize {
        let id = self.nodes.len() as u64 + 1;
        let data_dir = self.dir.path().join(format!("node{id}"));
        // free_port may hand out a port it handed out before: keep every node's ports apart.
        let taken: Vec<u16> = self
            .nodes
            .iter()
            .flat_map(|n| [n.resp_port, n.raft_port])
            .collect();
        let port = || loop {
            let p = crate::free_port();
            if !taken.contains(&p) {
                return p;
            }
        };
        let resp_port = port();
        let raft_port = loop {
            let p = port();
            if p != resp_port {
                break p;
            }
        };
        let mut node = ClusterNode {
            id,
            resp_port,
            raft_port,
            log: self.dir.path().join(format!("node{id}.log")),
            data_dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            credentials,
            child: None,
        };
        spawn(&mut node);
        self.nodes.push(node);
        let idx = self.nodes.len() - 1;
        self.wait_http(idx);
        idx
    }

    fn wait_http(&self, idx: usize) {
        let node = &self.nodes[idx];
        wait_for(
            Duration::from_secs(20),
            &format!("node {} HTTP", node.id),
            // The node id tells our process from another test's that took the port (a node
            // restarted with `raft-node-id auto` draws a new one, so only fixed ids are checked).
            || {
                let auto_id = node.extra_args.iter().any(|a| a == "auto");
                node.try_get("/healthz")
                    .filter(|r| r.status == 200 && (auto_id || r.body["node_id"] == node.id))
            },
        );
    }

    pub fn kill9(&mut self, idx: usize) {
        if let Some(mut child) = self.nodes[idx].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self, idx: usize) {
        self.kill9(idx);
        spawn(&mut self.nodes[idx]);
        self.wait_http(idx);
    }

    /// Kills a node and deletes its data: it comes back as a brand-new node.
    pub fn wipe(&mut self, idx: usize) {
        self.kill9(idx);
        let _ = std::fs::remove_dir_all(&self.nodes[idx].data_dir);
    }

    pub fn running(&self) -> impl Iterator<Item = (usize, &ClusterNode)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_running())
    }

    /// Running nodes that are members of the cluster (by their own account), with metrics.
    fn member_metrics(&self) -> Option<Vec<(usize, Value)>> {
        let mut out = Vec::new();
        for (i, n) in self.running() {
            let m = n.metrics()?;
            if m["membership"]["nodes"].get(m["id"].to_string()).is_some() {
                out.push((i, m));
            }
        }
        Some(out)
    }

    /// Waits until every running member reports the same leader (one of the running nodes);
    /// returns its index.
    pub fn wait_leader(&self, timeout: Duration) -> usize {
        wait_for(timeout, "an agreed leader", || self.leader_now())
    }

    /// The leader as the running members see it now, if they agree on one that runs.
    pub fn leader_now(&self) -> Option<usize> {
        let mut leader = None;
        for (_, m) in self.member_metrics()? {
            let id = m["current_leader"].as_u64()?;
            if leader.is_some_and(|l| l != id) {
                return None;
            }
            leader = Some(id);
        }
        self.nodes
            .iter()
            .position(|n| Some(n.id) == leader && n.is_running())
    }

    /// Waits until every running member has applied at least the leader's commit index.
    pub fn wait_converged(&self, timeout: Duration) {
        let leader = self.wait_leader(timeout);
        let target = wait_for(timeout, "leader commit index", || {
            self.nodes[leader].metrics()?["committed"].as_u64()
        });
        wait_for(
            timeout,
            "every running member to apply the leader's commit index",
            || {
                let members = self.member_metrics()?;
                members
                    .iter()
                    .all(|(_, m)| m["last_applied"].as_u64().is_some_and(|a| a >= target))
                    .then_some(())
            },
        );
    }

    /// Voter ids as the given node reports them.
    pub fn voters(&self, idx: usize) -> Vec<u64> {
        let m = self.nodes[idx].metrics().expect("metrics");
        m["membership"]["voters"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
            .unwrap_or_default()
    }

    /// Cuts `idx` off from every other node in both directions (fault injection in the Raft
    /// transport), or heals it.
    pub fn isolate(&self, idx: usize, isolated: bool) {
        let others: Vec<u64> = self
            .nodes
            .iter()
            .filter(|n| n.id != self.nodes[idx].id)
            .map(|n| n.id)
            .collect();
        let me = self.nodes[idx].id;
        let body = if isolated {
            json!({ "blocked": others })
        } else {
            json!({ "blocked": [] })
        };
        let r = self.nodes[idx].post("/debug/partition", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        for (_, n) in self.running() {
            if n.id == me {
                continue;
            }
            let blocked: Vec<u64> = if isolated { vec![me] } else { vec![] };
            let r = n.post("/debug/partition", &json!({ "blocked": blocked }));
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }

    /// Freezes node `idx` with SIGSTOP until [`TestCluster::resume`]: the process and its
    /// sockets stay, but nothing answers, which is how a long GC pause or a stalled VM looks to
    /// its peers. Don't poll a paused node (HTTP reads wait 30 s); `kill9` still works on it.
    pub fn pause(&self, idx: usize) {
        self.signal(idx, "STOP");
    }

    /// Lets a node frozen by [`TestCluster::pause`] run again (SIGCONT; harmless if it runs).
    pub fn resume(&self, idx: usize) {
        self.signal(idx, "CONT");
    }

    /// The exit status of node `idx` if its process ended on its own (a crash: `kill9` and
    /// `wipe` forget the process, so a node they stopped reports `None`).
    pub fn exited(&mut self, idx: usize) -> Option<std::process::ExitStatus> {
        self.nodes[idx].child.as_mut()?.try_wait().ok().flatten()
    }

    fn signal(&self, idx: usize, signal: &str) {
        let node = &self.nodes[idx];
        let Some(child) = node.child.as_ref() else {
            return;
        };
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "kill -{signal} node {}: {status:?}",
            node.id
        );
    }
}

fn spawn(node: &mut ClusterNode) {
    std::fs::create_dir_all(&node.data_dir).expect("data dir");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&node.log)
        .expect("log file");
    let mut cmd = Command::new(crate::kiwi_bin());
    cmd.arg("--port")
        .arg(node.resp_port.to_string())
        .arg("--db-path")
        .arg(&node.data_dir)
        .arg("--raft-node-id")
        .arg(node.id.to_string())
        .arg("--raft-addr")
        .arg(format!("127.0.0.1:{}", node.raft_port))
        .arg("--raft-bootstrap")
        .arg("no")
        .arg("--raft-fault-injection")
        .arg("yes")
        .arg("--raft-election-timeout")
        .arg("1000")
        .arg("--raft-heartbeat-interval")
        .arg("100")
        .args(&node.extra_args)
        .env("KIWI_ADMIN_TOKEN", &node.credentials.admin_token)
        .env("KIWI_CLUSTER_SECRET", &node.credentials.cluster_secret)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    node.child = Some(cmd.spawn().expect("spawn kiwi"));
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
        if std::thread::panicking() {
            // Leave the evidence: print each node's log tail.
            for n in &self.nodes {
                if let Ok(text) = std::fs::read_to_string(&n.log) {
                    let tail: Vec<&str> = text.lines().rev().take(30).collect();
                    eprintln!("--- node {} log (last lines) ---", n.id);
                    for l in tail.into_iter().rev() {
                        eprintln!("{l}");
                    }
                }
            }
        }
    }
}
