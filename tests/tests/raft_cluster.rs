//! Raft cluster behaviour with real `kiwi` processes on loopback: the qklzl seed's scenarios
//! (election, replication, follower writes, failover, restarts, minority/majority loss,
//! durability) plus membership changes under load, snapshot catch-up, wiped nodes, leader
//! kills during write bursts, partitions, and a linearizability check.
//!
//! Cluster tests run one at a time (each starts several processes on a 2-core machine).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::linearizability::{self, OpKind};
use kiwi_tests::{bulks, int, RawConn, Run};
use serde_json::json;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const T: Duration = Duration::from_secs(15);

fn set(c: &mut redis::Connection, k: &str, v: &str) -> redis::RedisResult<String> {
    redis::cmd("SET").arg(k).arg(v).query(c)
}

#[test]
fn election_replication_and_status() {
    let _g = serial();
    let cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    // /status: exactly one leader, everyone agrees on it and on the term.
    let statuses: Vec<_> = cluster
        .nodes
        .iter()
        .map(|n| n.get("/status").body)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s["is_leader"] == json!(true))
            .count(),
        1
    );
    for s in &statuses {
        assert_eq!(s["leader_id"], json!(cluster.nodes[leader].id));
        assert_eq!(s["term"], statuses[0]["term"]);
        assert_eq!(s["members"], json!([1, 2, 3]));
    }
    // Every member names the same cluster (derived from the first membership entry).
    wait_for(T, "every node to report one cluster id", || {
        let ids: Vec<_> = cluster
            .nodes
            .iter()
            .map(|n| n.get("/status").body["cluster_id"].clone())
            .collect();
        (ids[0].is_string() && ids.iter().all(|i| *i == ids[0])).then_some(())
    });
    // qklzl API: write through the leader, read the same value from every node.
    let r = cluster.nodes[leader].post(
        "/kv",
        &json!({"op": "put", "key": "key1", "value": "value1"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    cluster.wait_converged(T);
    for n in &cluster.nodes {
        let r = n.get("/kv?key=key1");
        assert_eq!(r.status, 200);
        assert_eq!(r.body["value"], "value1");
    }
    let r = cluster.nodes[leader].post("/kv", &json!({"op": "delete", "key": "key1"}));
    assert_eq!(r.status, 200, "{}", r.body);
    cluster.wait_converged(T);
    for n in &cluster.nodes {
        assert_eq!(n.get("/kv?key=key1").status, 404);
    }
    // RESP writes reach every node's own storage.
    let mut c = cluster.nodes[leader].client();
    for i in 0..20 {
        assert_eq!(
            set(&mut c, &format!("k{i}"), &format!("v{i}")).unwrap(),
            "OK"
        );
    }
    cluster.wait_converged(T);
    for n in &cluster.nodes {
        for i in 0..20 {
            assert_eq!(
                n.local_get(&format!("k{i}")),
                Some(format!("v{i}")),
                "node {}",
                n.id
            );
        }
    }
    // Malformed bodies are 400 with a message.
    let r = cluster.nodes[leader].post("/kv", &json!({"op": "put"}));
    assert_eq!(r.status, 400);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("invalid request body"));
    let r = kiwi_tests::http::post_as(
        cluster.nodes[leader].raft_port,
        "/raft/init",
        "{not json",
        &cluster.credentials.admin_token,
    )
    .unwrap();
    assert_eq!(r.status, 400);
}

#[test]
fn follower_writes_redirect_over_http_and_forward_over_resp() {
    let _g = serial();
    let cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let follower = (leader + 1) % 3;
    let r = cluster.nodes[follower].post(
        "/kv",
        &json!({"op": "put", "key": "key3", "value": "value3"}),
    );
    assert_eq!(r.status, 307, "{}", r.body);
    assert_eq!(r.body["leader_id"], json!(cluster.nodes[leader].id));
    assert_eq!(
        r.location.as_deref(),
        Some(format!("http://127.0.0.1:{}/kv", cluster.nodes[leader].raft_port).as_str())
    );
    // RESP on a follower: forwarded to the leader, answered as if local.
    let mut c = cluster.nodes[follower].client();
    assert_eq!(set(&mut c, "fwd", "1").unwrap(), "OK");
    let n: i64 = redis::cmd("INCR").arg("fwd").query(&mut c).unwrap();
    assert_eq!(n, 2);
    let v: String = redis::cmd("GET").arg("fwd").query(&mut c).unwrap();
    assert_eq!(
        v, "2",
        "a follower's read is linearizable (served by the leader)"
    );
    assert_eq!(cluster.nodes[leader].local_get("fwd"), Some("2".into()));
    // MULTI/EXEC through a follower is one atomic block on the leader.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("fwd", 1)
        .incr("fwd", 1)
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b), (3, 4));
    // A forwarded reply keeps the shape of the client's protocol: ZPOPMIN with a count is a
    // flat list in RESP2 and a list of pairs in RESP3.
    assert_eq!(c.run("ZADD fz 1 a 2 b 3 c"), int(3));
    assert_eq!(c.run("ZPOPMIN fz 1"), bulks(&["a", "1"]));
    let mut raw = RawConn::connect(cluster.nodes[follower].resp_port);
    raw.send(b"HELLO 3\r\n");
    raw.read_reply(T);
    raw.send(b"ZPOPMIN fz 1\r\n");
    assert_eq!(raw.read_reply(T), b"*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    // With forwarding off, the follower redirects.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("raft-follower-forward")
        .arg("no")
        .query::<()>(&mut c)
        .unwrap();
    let err = set(&mut c, "x", "1").unwrap_err();
    let text = format!("{err}");
    assert!(
        text.to_lowercase().contains("moved")
            && text.contains(&format!("127.0.0.1:{}", cluster.nodes[leader].resp_port)),
        "{text}"
    );
}

#[test]
fn leader_failover_and_restarted_node_catches_up() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let old = cluster.wait_leader(T);
    let old_term = cluster.nodes[old].metrics().unwrap()["current_term"]
        .as_u64()
        .unwrap();
    let mut c = cluster.nodes[old].client();
    assert_eq!(set(&mut c, "before", "1").unwrap(), "OK");
    cluster.kill9(old);
    let new = cluster.wait_leader(T);
    assert_ne!(new, old);
    let new_term = cluster.nodes[new].metrics().unwrap()["current_term"]
        .as_u64()
        .unwrap();
    assert!(new_term > old_term, "term {new_term} after {old_term}");
    let mut c = cluster.nodes[new].client();
    for i in 0..50 {
        assert_eq!(set(&mut c, &format!("during{i}"), "x").unwrap(), "OK");
    }
    // The old leader comes back as a follower and catches up.
    cluster.restart(old);
    cluster.wait_converged(T);
    assert_eq!(cluster.nodes[old].local_get("during49"), Some("x".into()));
    assert_eq!(cluster.nodes[old].local_get("before"), Some("1".into()));
}

#[test]
fn minority_loss_keeps_serving_majority_loss_fails_fast() {
    let _g = serial();
    let mut cluster = TestCluster::start_with(3, &["--raft-write-timeout", "1500"]);
    let leader = cluster.wait_leader(T);
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    cluster.kill9(followers[0]);
    let mut c = cluster.nodes[leader].client();
    assert_eq!(
        set(&mut c, "k4", "value4").unwrap(),
        "OK",
        "two of three nodes still commit"
    );
    cluster.kill9(followers[1]);
    let started = Instant::now();
    let err = set(&mut c, "k5", "value5").unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        format!("{err}").to_lowercase().contains("clusterdown"),
        "{err}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "write failed only after {elapsed:?}"
    );
    let started = Instant::now();
    let r = cluster.nodes[leader].post("/kv", &json!({"op": "put", "key": "k5", "value": "v"}));
    assert!(r.status >= 500, "{} {}", r.status, r.body);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn full_cluster_restart_keeps_acknowledged_writes_even_with_another_first_node() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    for i in 0..200 {
        assert_eq!(set(&mut c, &format!("p{i}"), &i.to_string()).unwrap(), "OK");
    }
    let _: i64 = redis::cmd("RPUSH")
        .arg("list")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    for i in 0..3 {
        cluster.kill9(i);
    }
    // Restart in a different order: node 2 first, then 3, then 1.
    for i in [1, 2, 0] {
        cluster.restart(i);
    }
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    for i in 0..200 {
        let v: Option<String> = redis::cmd("GET")
            .arg(format!("p{i}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(v, Some(i.to_string()));
    }
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(list, vec!["a", "b"]);
    cluster.wait_converged(T);
    for n in &cluster.nodes {
        assert_eq!(n.local_get("p199"), Some("199".into()));
    }
}

/// Runs SETs of unique values from a thread against whichever node `target` picks, recording
/// every acknowledged write, until `stop`.
fn writer(
    ports: Arc<Mutex<Vec<u16>>>,
    stop: Arc<AtomicBool>,
    prefix: &'static str,
) -> std::thread::JoinHandle<Vec<(String, String)>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut i = 0u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let port = {
                let p = ports.lock().unwrap();
                p[(i as usize) % p.len()]
            };
            let conn = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .ok()
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)).ok());
            let Some(mut conn) = conn else {
                std::thread::sleep(Duration::from_millis(20));
                i += 1;
                continue;
            };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            for _ in 0..20 {
                let (k, v) = (format!("{prefix}{}", i % 500), format!("v{i}"));
                i += 1;
                match set(&mut conn, &k, &v) {
                    Ok(_) => acked.push((k, v)),
                    Err(_) => break,
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        acked
    })
}

/// The last acknowledged value of each key, per the writer's own order (one writer per prefix).
fn last_values(acked: &[(String, String)]) -> BTreeMap<String, String> {
    acked.iter().cloned().collect()
}

#[test]
fn membership_grows_to_five_and_shrinks_to_three_under_load() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let ports = Arc::new(Mutex::new(
        cluster
            .nodes
            .iter()
            .map(|n| n.resp_port)
            .collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(ports.clone(), stop.clone(), "m");
    for _ in 0..2 {
        let idx = cluster.add_node(&[]);
        let leader = cluster.wait_leader(T);
        let node = &cluster.nodes[idx];
        let r = cluster.nodes[leader].post(
            "/raft/add_learner",
            &json!({"node_id": node.id, "node": node.node_json()}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let leader = cluster.wait_leader(T);
    let r = cluster.nodes[leader].post(
        "/raft/change_membership",
        &json!({"members": [1, 2, 3, 4, 5]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for(T, "five voters", || {
        (cluster.voters(leader).len() == 5).then_some(())
    });
    ports
        .lock()
        .unwrap()
        .extend([cluster.nodes[3].resp_port, cluster.nodes[4].resp_port]);
    // Shrink back: remove 5 and 4 (one at a time, by the rules), under the same load.
    for id in [5u64, 4] {
        let leader = cluster.wait_leader(T);
        let r = cluster.nodes[leader].post("/raft/remove_node", &json!({"node_id": id}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let leader = cluster.wait_leader(T);
    wait_for(T, "three voters", || {
        (cluster.voters(leader) == vec![1, 2, 3]).then_some(())
    });
    *ports.lock().unwrap() = cluster.nodes[..3].iter().map(|n| n.resp_port).collect();
    // Removed nodes are stopped, as an operator would after removing them from the voters.
    cluster.kill9(3);
    cluster.kill9(4);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(acked.len() > 50, "only {} writes acknowledged", acked.len());
    cluster.wait_converged(T);
    let mut c = cluster.nodes[leader].client();
    for (k, v) in last_values(&acked) {
        let got: Option<String> = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
        assert_eq!(got, Some(v), "acknowledged write to {k} lost");
    }
}

#[test]
fn lagging_follower_catches_up_by_snapshot() {
    let _g = serial();
    let mut cluster = TestCluster::start_with(3, &["--raft-snapshot-logs", "50"]);
    let leader = cluster.wait_leader(T);
    let lagger = (leader + 1) % 3;
    cluster.kill9(lagger);
    let mut c = cluster.nodes[leader].client();
    for i in 0..400 {
        assert_eq!(set(&mut c, &format!("s{i}"), &i.to_string()).unwrap(), "OK");
    }
    // The leader has snapshotted and purged the entries the lagger is missing.
    wait_for(T, "the leader to purge its log", || {
        let m = cluster.nodes[leader].metrics()?;
        (m["purged"].as_u64()? > 10).then_some(())
    });
    cluster.restart(lagger);
    cluster.wait_converged(Duration::from_secs(30));
    assert_eq!(cluster.nodes[lagger].local_get("s0"), Some("0".into()));
    assert_eq!(cluster.nodes[lagger].local_get("s399"), Some("399".into()));
    let m = cluster.nodes[lagger].metrics().unwrap();
    assert!(
        m["snapshot"].as_u64().is_some(),
        "the lagger installed a snapshot: {m}"
    );
}

/// Sends `pipe` through the given nodes in turn until one acknowledges it. For batches of SETs
/// of fixed values, which are idempotent: a batch whose outcome a leadership change left unknown
/// (on a busy machine an election can come in the middle of megabytes of writes) is sent again.
fn send_until_acked(cluster: &TestCluster, through: &[usize], pipe: &redis::Pipeline) {
    let mut attempts = 0;
    wait_for(T, "a batch of writes to be acknowledged", || {
        attempts += 1;
        let mut c = cluster.nodes[through[attempts % through.len()]].client();
        pipe.query::<()>(&mut c).ok()
    })
}

/// A follower cut off while the leader snapshots and purges, then healed while writes go on,
/// catches up through a snapshot: the leader keeps building newer snapshots during the transfer,
/// and the one being streamed stays on disk until its transfer ends (deleting it restarted the
/// transfer with the next snapshot, again and again). It ends with every acknowledged write.
#[test]
fn partitioned_follower_catches_up_by_snapshot_under_steady_writes() {
    let _g = serial();
    let cluster = TestCluster::start_with(3, &["--raft-snapshot-logs", "50"]);
    let leader = cluster.wait_leader(T);
    let lagger = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    // Some 48 MiB of data, so that streaming and installing a snapshot outlasts the building
    // of the next few.
    let filler = "f".repeat(8 << 10);
    for batch in 0..60 {
        let mut pipe = redis::pipe();
        for i in 0..100 {
            pipe.set(format!("fill{}", batch * 100 + i), &filler)
                .ignore();
        }
        send_until_acked(&cluster, &[leader, other], &pipe);
    }
    cluster.isolate(lagger, true);
    let ports = Arc::new(Mutex::new(vec![
        cluster.nodes[leader].resp_port,
        cluster.nodes[other].resp_port,
    ]));
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(ports, stop.clone(), "w");
    let lagger_last = cluster.nodes[lagger].metrics().unwrap()["last_log_index"]
        .as_u64()
        .unwrap_or(0);
    wait_for(T, "the leader to purge what the lagger lacks", || {
        let m = cluster.nodes[leader].metrics()?;
        (m["purged"].as_u64()? > lagger_last + 100).then_some(())
    });
    cluster.isolate(lagger, false);
    // Caught up by a snapshot, and then following the log, while the writes go on.
    let healed_at = cluster.nodes[leader].metrics().unwrap()["committed"]
        .as_u64()
        .unwrap();
    wait_for(
        Duration::from_secs(60),
        "the lagger to install a snapshot and follow the log past it",
        || {
            let m = cluster.nodes[lagger].metrics()?;
            let snapshot = m["snapshot"].as_u64()?;
            let applied = m["last_applied"].as_u64()?;
            (snapshot > lagger_last && applied > healed_at + 200).then_some(())
        },
    );
    stop.store(true, Ordering::Relaxed);
    let acked = w.join().unwrap();
    assert!(
        acked.len() > 200,
        "only {} writes acknowledged",
        acked.len()
    );
    cluster.wait_converged(Duration::from_secs(30));
    let lagger = &cluster.nodes[lagger];
    for (k, v) in last_values(&acked) {
        assert_eq!(lagger.local_get(&k), Some(v), "the lagger lacks {k}");
    }
    assert_eq!(lagger.local_get("fill5999"), Some(filler));
}

/// Entries are batched by bytes as well as by count. A write too large for any peer frame is
/// refused before it is proposed (proposed, it could never replicate, and everything after it
/// would wait behind it). A follower that missed more than a frame's worth of 1 MiB values
/// catches up (openraft's batch of up to 512 entries is sent in parts), and a large single
/// value reaches every node.
#[test]
fn large_values_replicate_and_a_lagging_follower_catches_up() {
    let _g = serial();
    // Appending and syncing megabytes can hold a debug build's heartbeats up for a while on a
    // busy machine: a longer election timeout keeps the leader in place.
    let cluster = TestCluster::start_with(3, &["--raft-election-timeout", "3000"]);
    let leader = cluster.wait_leader(T);
    let lagger = (leader + 1) % 3;
    let mut c = cluster.nodes[leader].client();
    let too_large = vec![b'h'; 257 << 20];
    let err = redis::cmd("SET")
        .arg("too-large")
        .arg(&too_large)
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("too large to replicate"), "{err}");
    drop(too_large);
    assert_eq!(set(&mut c, "after", "1").unwrap(), "OK");

    cluster.isolate(lagger, true);
    let majority: Vec<usize> = (0..3).filter(|i| *i != lagger).collect();
    let send = |pipe: &redis::Pipeline| send_until_acked(&cluster, &majority, pipe);
    // 270 MiB in all: more than one frame (256 MiB) carries.
    let value = |i: usize| format!("{i:08}{}", "v".repeat((1 << 20) - 8));
    for batch in 0..27 {
        let mut pipe = redis::pipe();
        for i in batch * 10..batch * 10 + 10 {
            pipe.set(format!("big{i}"), value(i)).ignore();
        }
        send(&pipe);
    }
    let huge = "H".repeat(24 << 20);
    send(redis::pipe().set("huge", &huge).ignore());
    cluster.isolate(lagger, false);
    cluster.wait_converged(Duration::from_secs(90));
    for node in &cluster.nodes {
        assert_eq!(
            node.local_get("after"),
            Some("1".into()),
            "node {}",
            node.id
        );
        assert!(
            node.local_get("huge") == Some(huge.clone()),
            "node {} lacks the 24 MiB value",
            node.id
        );
    }
    let lagger = &cluster.nodes[lagger];
    for i in 0..270 {
        assert!(
            lagger.local_get(&format!("big{i}")) == Some(value(i)),
            "the lagger lacks big{i}"
        );
    }
}

#[test]
fn wiped_node_comes_back_as_a_new_id() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let victim = (leader + 2) % 3;
    let old_id = cluster.nodes[victim].id;
    let mut c = cluster.nodes[leader].client();
    assert_eq!(set(&mut c, "before-wipe", "1").unwrap(), "OK");
    cluster.wipe(victim);
    let r = cluster.nodes[leader].post("/raft/remove_node", &json!({"node_id": old_id}));
    assert_eq!(r.status, 200, "{}", r.body);
    let leader_http = format!("127.0.0.1:{}", cluster.nodes[leader].raft_port);
    cluster.nodes[victim].extra_args = vec![
        "--raft-node-id".into(),
        "auto".into(),
        "--join".into(),
        leader_http,
    ];
    cluster.restart(victim);
    let new_id = wait_for(T, "the wiped node to report an id", || {
        cluster.nodes[victim].metrics()?["id"].as_u64()
    });
    assert_ne!(new_id, old_id);
    wait_for(
        Duration::from_secs(30),
        "the new id to become a voter",
        || {
            let voters = cluster.voters(leader);
            (voters.contains(&new_id) && !voters.contains(&old_id)).then_some(())
        },
    );
    cluster.wait_converged(T);
    assert_eq!(
        cluster.nodes[victim].local_get("before-wipe"),
        Some("1".into())
    );
    // The new node learned the cluster's id with its data.
    assert_eq!(
        cluster.nodes[victim].get("/status").body["cluster_id"],
        cluster.nodes[leader].get("/status").body["cluster_id"]
    );
}

#[test]
fn killing_the_leader_during_a_write_burst_loses_no_acknowledged_write() {
    let _g = serial();
    let mut cluster = TestCluster::start(3);
    let ports = Arc::new(Mutex::new(
        cluster
            .nodes
            .iter()
            .map(|n| n.resp_port)
            .collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|p| writer(ports.clone(), stop.clone(), p))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let leader = cluster.wait_leader(T);
    cluster.kill9(leader);
    let dead_port = cluster.nodes[leader].resp_port;
    ports.lock().unwrap().retain(|p| *p != dead_port);
    cluster.wait_leader(T);
    std::thread::sleep(Duration::from_millis(500));
    cluster.restart(leader);
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<Vec<(String, String)>> =
        writers.into_iter().map(|w| w.join().unwrap()).collect();
    cluster.wait_converged(T);
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    let mut checked = 0;
    for writer_acks in &acked {
        for (k, v) in last_values(writer_acks) {
            let got: Option<String> = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
            assert_eq!(got, Some(v), "acknowledged write to {k} lost");
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} keys written");
}

#[test]
fn partitioned_leader_stops_acknowledging_and_the_majority_moves_on() {
    let _g = serial();
    let cluster = TestCluster::start_with(3, &["--raft-write-timeout", "1500"]);
    let old = cluster.wait_leader(T);
    let mut old_conn = cluster.nodes[old].client();
    assert_eq!(set(&mut old_conn, "p", "before").unwrap(), "OK");
    cluster.isolate(old, true);
    // The old leader cannot commit any more.
    let err = set(&mut old_conn, "p", "lost").unwrap_err();
    assert!(
        format!("{err}").to_lowercase().contains("clusterdown")
            || format!("{err}").to_lowercase().contains("tryagain"),
        "{err}"
    );
    // The majority elects a new leader and serves writes.
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    // The first write may meet a leader still establishing itself: retry, as a client would.
    wait_for(
        T,
        "a write acknowledged by a new leader on the majority side",
        || {
            let m = cluster.nodes[others[0]].metrics()?;
            let id = m["current_leader"].as_u64()?;
            let new = others
                .iter()
                .copied()
                .find(|i| cluster.nodes[*i].id == id)?;
            let mut c = cluster.nodes[new].client();
            set(&mut c, "p", "after").ok().filter(|r| r == "OK")
        },
    );
    cluster.isolate(old, false);
    cluster.wait_converged(T);
    for n in &cluster.nodes {
        assert_eq!(n.local_get("p"), Some("after".into()), "node {}", n.id);
    }
}

/// Whether a failed command may still have taken effect: the server says so, or the connection
/// broke after the command was sent. Refusals ("No raft leader" before proposing, "cannot reach
/// the leader") mean it was not applied.
fn maybe_applied(e: &redis::RedisError) -> bool {
    let text = e.to_string().to_lowercase();
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || text.contains("may")
        || text.contains("tryagain")
}

#[test]
fn concurrent_history_with_leader_restart_is_linearizable() {
    let _g = serial();
    let mut cluster = TestCluster::start_with(3, &["--raft-write-timeout", "2000"]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.resp_port).collect();
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let history = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (ports, stop, history) = (ports.clone(), stop.clone(), history.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let port = ports[(t + n as usize) % ports.len()];
                    let Ok(mut conn) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                    else {
                        n += 1;
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
                    for _ in 0..10 {
                        n += 1;
                        let key = format!("lin{}", n % 3);
                        let invoke = epoch.elapsed().as_micros() as u64;
                        // Ok(reply) / Err(true): outcome unknown / Err(false): surely not applied.
                        let (kind, outcome) = match (n / 3 + t as u64) % 3 {
                            0 => {
                                let v = (t as i64) * 1_000_000 + n as i64;
                                let r: redis::RedisResult<String> =
                                    redis::cmd("SET").arg(&key).arg(v).query(&mut conn);
                                (OpKind::Set(v), r.map(|_| ()).map_err(|e| maybe_applied(&e)))
                            }
                            1 => {
                                let r: redis::RedisResult<i64> =
                                    redis::cmd("INCR").arg(&key).query(&mut conn);
                                match r {
                                    Ok(v) => (OpKind::Incr(Some(v)), Ok(())),
                                    Err(e) => (OpKind::Incr(None), Err(maybe_applied(&e))),
                                }
                            }
                            _ => {
                                let r: redis::RedisResult<Option<i64>> =
                                    redis::cmd("GET").arg(&key).query(&mut conn);
                                match r {
                                    Ok(v) => (OpKind::Get(v), Ok(())),
                                    Err(_) => (OpKind::Get(None), Err(false)),
                                }
                            }
                        };
                        let ok = outcome.is_ok();
                        if outcome == Err(false) {
                            break;
                        }
                        let complete = ok.then(|| epoch.elapsed().as_micros() as u64);
                        history.lock().unwrap().push(linearizability::Op {
                            key,
                            kind,
                            invoke,
                            complete,
                        });
                        if !ok {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let leader = cluster.wait_leader(T);
    cluster.kill9(leader);
    cluster.wait_leader(T);
    std::thread::sleep(Duration::from_millis(500));
    cluster.restart(leader);
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let history = history.lock().unwrap().clone();
    let completed = history.iter().filter(|o| o.complete.is_some()).count();
    assert!(completed > 200, "only {completed} operations completed");
    if let Err(e) = linearizability::check(&history) {
        let dump = cluster.dir.path().join("history.txt");
        let text: String = history
            .iter()
            .map(|o| format!("{} {:?} {} {:?}\n", o.key, o.kind, o.invoke, o.complete))
            .collect();
        let _ = std::fs::write(&dump, text);
        let _ = std::fs::copy(
            &dump,
            std::env::temp_dir().join("kiwi-linearizability-history.txt"),
        );
        panic!(
            "history of {} ops is not linearizable (written to {}): {e}",
            history.len(),
            dump.display()
        );
    }
}
