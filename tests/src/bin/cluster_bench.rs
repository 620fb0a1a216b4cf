//! Three-node benchmark: a Kiwi cluster against an etcd cluster, on this machine, in one run.
//! Both are started on loopback with the same election settings, driven by the same closed-loop
//! load (C connections from one event loop, one request in flight each, fixed duration), then their leader is
//! killed with SIGKILL to time the first successful write afterwards.
//!
//!   cluster_bench --etcd /usr/bin/etcd [--kiwi target/release/kiwi] [--clients 50] [--seconds 10]
//!                 [--kiwi-read-policy readindex|lease]
//!
//! Kiwi is driven over RESP; etcd over its v3 JSON gateway (HTTP/1.1 keep-alive), which costs
//! etcd some JSON/base64 work that its gRPC clients would not pay: read its numbers as a floor.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiwi_tests::free_port;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Args {
    kiwi: Option<PathBuf>,
    etcd: PathBuf,
    clients: usize,
    seconds: u64,
    read_policy: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        kiwi: None,
        etcd: PathBuf::from("/usr/bin/etcd"),
        clients: 50,
        seconds: 10,
        read_policy: "readindex".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--kiwi" => args.kiwi = Some(value.into()),
            "--etcd" => args.etcd = value.into(),
            "--clients" => args.clients = value.parse().expect("--clients N"),
            "--seconds" => args.seconds = value.parse().expect("--seconds N"),
            "--kiwi-read-policy" => args.read_policy = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    args
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Node {
    child: Option<Child>,
    client_port: u16,
    admin_port: u16,
}

struct System {
    name: &'static str,
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl System {
    async fn connect(&self, i: usize) -> std::io::Result<Client> {
        Client::connect(self.name, self.nodes[i].client_port).await
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The index of the current leader, if one is known.
    async fn leader(&self) -> Option<usize> {
        for (i, n) in self.nodes.iter().enumerate() {
            if n.child.is_none() {
                continue;
            }
            match self.name {
                "kiwi" => {
                    let r = kiwi_tests::http::get(n.admin_port, "/status").ok()?;
                    if r.body["is_leader"] == true {
                        return Some(i);
                    }
                }
                _ => {
                    let status = async {
                        let mut c = Client::connect(self.name, n.client_port).await?;
                        c.post("/v3/maintenance/status", "{}").await
                    };
                    let s = tokio::time::timeout(Duration::from_secs(2), status)
                        .await
                        .ok()?
                        .ok()?;
                    let v: serde_json::Value = serde_json::from_str(&s).ok()?;
                    if v["leader"].is_string() && v["leader"] == v["header"]["member_id"] {
                        return Some(i);
                    }
                }
            }
        }
        None
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> F,
) {
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a three-node cluster of `name` and waits for its leader.
async fn start(name: &str, args: &Args) -> System {
    match name {
        "kiwi" => {
            let bin = args.kiwi.clone().unwrap_or_else(kiwi_tests::kiwi_bin);
            start_kiwi(&bin, &args.read_policy).await
        }
        _ => start_etcd(&args.etcd).await,
    }
}

async fn start_kiwi(bin: &Path, read_policy: &str) -> System {
    let dir = tempfile::tempdir().expect("tempdir");
    let credentials = kiwi_tests::cluster::Credentials::random();
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let (port, raft) = (free_port(), free_port());
        let data = dir.path().join(format!("kiwi{id}"));
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--raft-node-id",
                &id.to_string(),
            ])
            .args([
                "--raft-addr",
                &format!("127.0.0.1:{raft}"),
                "--raft-bootstrap",
                "no",
            ])
            .args([
                "--raft-election-timeout",
                "1000",
                "--raft-heartbeat-interval",
                "100",
            ])
            .args(["--raft-read-policy", read_policy])
            .arg("--db-path")
            .arg(&data)
            .env("KIWI_ADMIN_TOKEN", &credentials.admin_token)
            .env("KIWI_CLUSTER_SECRET", &credentials.cluster_secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kiwi");
        nodes.push(Node {
            child: Some(child),
            client_port: port,
            admin_port: raft,
        });
    }
    for n in &nodes {
        wait_until("kiwi HTTP", Duration::from_secs(20), || async {
            kiwi_tests::http::get(n.admin_port, "/healthz").is_ok()
        })
        .await;
    }
    let members: Vec<serde_json::Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!([i + 1, {"raft_addr": format!("127.0.0.1:{}", n.admin_port), "resp_addr": format!("127.0.0.1:{}", n.client_port)}])
        })
        .collect();
    let r = kiwi_tests::http::post_as(
        nodes[0].admin_port,
        "/raft/init",
        &serde_json::json!({ "nodes": members }).to_string(),
        &credentials.admin_token,
    )
    .expect("init");
    assert_eq!(r.status, 200, "{}", r.body);
    let sys = System {
        name: "kiwi",
        nodes,
        _dir: dir,
    };
    wait_until("a kiwi leader", Duration::from_secs(20), || async {
        sys.leader().await.is_some()
    })
    .await;
    sys
}

async fn start_etcd(bin: &Path) -> System {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
    let initial: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
        .collect();
    let mut nodes = Vec::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        let child = Command::new(bin)
            .args(["--name", &format!("e{i}")])
            .arg("--data-dir")
            .arg(dir.path().join(format!("e{i}")))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
            ])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
            ])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--election-timeout", "1000", "--heartbeat-interval", "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn etcd");
        nodes.push(Node {
            child: Some(child),
            client_port: *client,
            admin_port: *client,
        });
    }
    let sys = System {
        name: "etcd",
        nodes,
        _dir: dir,
    };
    wait_until("an etcd leader", Duration::from_secs(30), || async {
        sys.leader().await.is_some()
    })
    .await;
    sys
}

struct LoadResult {
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// One connection to a node: RESP to kiwi, HTTP/1.1 keep-alive to etcd's JSON gateway.
enum Client {
    Resp(BufReader<TcpStream>),
    Etcd(u16, BufReader<TcpStream>),
}

impl Client {
    async fn connect(system: &str, port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        s.set_nodelay(true)?;
        let s = BufReader::new(s);
        Ok(if system == "kiwi" {
            Client::Resp(s)
        } else {
            Client::Etcd(port, s)
        })
    }

    async fn put(&mut self, key: &str, value: &str) -> std::io::Result<()> {
        match self {
            Client::Resp(s) => resp_call(s, &["SET", key, value]).await,
            Client::Etcd(..) => {
                let body = format!(r#"{{"key":"{}","value":"{}"}}"#, b64(key), b64(value));
                self.post("/v3/kv/put", &body).await.map(|_| ())
            }
        }
    }

    async fn get(&mut self, key: &str) -> std::io::Result<()> {
        match self {
            Client::Resp(s) => resp_call(s, &["GET", key]).await,
            // Linearizable by default (serializable: false).
            Client::Etcd(..) => {
                let body = format!(r#"{{"key":"{}"}}"#, b64(key));
                self.post("/v3/kv/range", &body).await.map(|_| ())
            }
        }
    }

    /// POSTs a JSON body to etcd; returns the response body.
    async fn post(&mut self, path: &str, body: &str) -> std::io::Result<String> {
        let Client::Etcd(port, s) = self else {
            return Err(std::io::Error::other("not an etcd connection"));
        };
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.get_mut().write_all(req.as_bytes()).await?;
        let mut status = String::new();
        s.read_line(&mut status).await?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut h = String::new();
            s.read_line(&mut h).await?;
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if h.starts_with("transfer-encoding:") && h.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                s.read_line(&mut size).await?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                s.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            s.read_exact(&mut body).await?;
        }
        if !status.contains(" 200 ") {
            return Err(std::io::Error::other(format!(
                "{}: {}",
                status.trim(),
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// Sends one RESP command and reads its reply; an error reply is an error.
async fn resp_call(s: &mut BufReader<TcpStream>, parts: &[&str]) -> std::io::Result<()> {
    let mut req = format!("*{}\r\n", parts.len());
    for p in parts {
        req.push_str(&format!("${}\r\n{p}\r\n", p.len()));
    }
    s.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    s.read_line(&mut line).await?;
    match line.as_bytes().first() {
        Some(b'-') => Err(std::io::Error::other(line.trim().to_string())),
        Some(b'$') => {
            let n: i64 = line[1..].trim().parse().unwrap_or(-1);
            if n >= 0 {
                let mut buf = vec![0; n as usize + 2];
                s.read_exact(&mut buf).await?;
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None => Err(std::io::ErrorKind::UnexpectedEof.into()),
    }
}

/// `clients` connections spread over the nodes, one request in flight each, for `seconds`,
/// all driven from one thread (like redis-benchmark), so the load generator's own CPU use
/// stays small and the same for both systems.
async fn load(sys: &System, clients: usize, seconds: u64, write: bool) -> LoadResult {
    let ports: Vec<u16> = sys.nodes.iter().map(|n| n.client_port).collect();
    let system = sys.name;
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let value = "v".repeat(64);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (errors, value) = (errors.clone(), value.clone());
            let port = ports[c % ports.len()];
            tokio::spawn(async move {
                let mut conn = Client::connect(system, port).await.expect("connect");
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while tokio::time::Instant::now() < deadline {
                    let key = format!("k{c}-{}", i % 1000);
                    i += 1;
                    let t = Instant::now();
                    let r = if write {
                        conn.put(&key, &value).await
                    } else {
                        conn.get(&key).await
                    };
                    match r {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    LoadResult {
        ops_per_sec: all.len() as f64 / seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// Kills the leader and returns the time until a write through a survivor succeeds. Requests
/// time out after 250 ms and are retried on a fresh connection, so a request stuck on the dead
/// leader does not count against either system.
async fn failover(sys: &mut System) -> Duration {
    let leader = sys.leader().await.expect("a leader");
    let survivor = (0..sys.nodes.len()).find(|i| *i != leader).unwrap();
    let timeout = Duration::from_millis(250);
    let mut conn = sys.connect(survivor).await.expect("connect survivor");
    conn.put("failover-warmup", "x")
        .await
        .expect("write before the kill");
    let start = Instant::now();
    sys.kill(leader);
    let mut i = 0;
    loop {
        i += 1;
        let put = tokio::time::timeout(timeout, conn.put(&format!("failover-{i}"), "x")).await;
        if matches!(put, Ok(Ok(()))) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{}: no write within 60 s",
            sys.name
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        if let Ok(Ok(c)) = tokio::time::timeout(timeout, sys.connect(survivor)).await {
            conn = c;
        }
    }
}

/// `redis-benchmark` (SET, INCR; 50 clients; with and without -P 16) against one kiwi node:
/// rows of (test, ops/s, p50 ms, p99 ms).
fn redis_benchmark(port: u16, pipeline: u32) -> Vec<(String, f64, f64, f64)> {
    let requests = if pipeline > 1 { "200000" } else { "50000" };
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-t",
            "set,incr",
            "-c",
            "50",
            "-n",
            requests,
        ])
        .args(["-P", &pipeline.to_string(), "--csv"])
        .output()
        .expect("redis-benchmark (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<String> = line
                .split(',')
                .map(|x| x.trim_matches('"').to_string())
                .collect();
            // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
            Some((
                f.first()?.clone(),
                f.get(1)?.parse().ok()?,
                f.get(4)?.parse().ok()?,
                f.get(6)?.parse().ok()?,
            ))
        })
        .collect()
}

fn rss_kb(sys: &System) -> u64 {
    sys.nodes
        .iter()
        .filter_map(|n| n.child.as_ref())
        .filter_map(|c| std::fs::read_to_string(format!("/proc/{}/status", c.id())).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

// One thread drives everything, the load included (like redis-benchmark), so the load
// generator's own CPU use stays small and the same for both systems.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    println!(
        "3-node clusters on loopback, {} clients (one request in flight each), {} s per test, 64-byte values, kiwi reads: {}",
        args.clients, args.seconds, args.read_policy
    );
    let mut rows = Vec::new();
    for name in ["kiwi", "etcd"] {
        let mut sys = start(name, &args).await;
        if name == "kiwi" {
            let leader = sys.leader().await.expect("a leader");
            let follower = (0..3).find(|i| *i != leader).unwrap();
            println!("redis-benchmark against the kiwi cluster (50 clients):");
            println!("| via | test | pipeline | ops/s | p50 ms | p99 ms |");
            println!("| --- | --- | --- | --- | --- | --- |");
            for (via, node) in [("leader", leader), ("follower", follower)] {
                for pipeline in [1, 16] {
                    for (test, rps, p50, p99) in
                        redis_benchmark(sys.nodes[node].client_port, pipeline)
                    {
                        println!(
                            "| {via} | {test} | {pipeline} | {rps:.0} | {p50:.3} | {p99:.3} |"
                        );
                    }
                }
            }
        }
        let put = load(&sys, args.clients, args.seconds, true).await;
        let get = load(&sys, args.clients, args.seconds, false).await;
        let rss = rss_kb(&sys);
        // Failover is noisy (randomized election timeouts): three fresh clusters, the median.
        let mut fails = vec![failover(&mut sys).await];
        drop(sys);
        for _ in 0..2 {
            let mut sys = start(name, &args).await;
            fails.push(failover(&mut sys).await);
        }
        println!(
            "{name}: leader kill -9 -> first write: {:?} ms",
            fails.iter().map(|d| d.as_millis()).collect::<Vec<_>>()
        );
        fails.sort();
        let fail = fails[1];
        rows.push((name, put, get, rss, fail));
    }
    println!("| system | write ops/s | write p50/p99 ms | read ops/s | read p50/p99 ms | errors | RSS (3 nodes) | leader kill -> first write (median of 3) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, put, get, rss, fail) in &rows {
        println!(
            "| {name} | {:.0} | {:.2}/{:.2} | {:.0} | {:.2}/{:.2} | {} | {} MB | {} ms |",
            put.ops_per_sec,
            put.p50_ms,
            put.p99_ms,
            get.ops_per_sec,
            get.p50_ms,
            get.p99_ms,
            put.errors + get.errors,
            rss / 1024,
            fail.as_millis()
        );
    }
    let (k, e) = (&rows[0], &rows[1]);
    println!(
        "kiwi/etcd: writes {:.2}x, reads {:.2}x, memory {:.2}x, failover time {:.2}x",
        k.1.ops_per_sec / e.1.ops_per_sec,
        k.2.ops_per_sec / e.2.ops_per_sec,
        k.3 as f64 / e.3 as f64,
        k.4.as_secs_f64() / e.4.as_secs_f64()
    );
}
