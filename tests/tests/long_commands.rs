//! No command may freeze a node: a glob pattern that used to take exponential time answers at
//! once, and a command that runs long (KEYS over many keys) neither holds up other clients nor
//! costs the leader its leadership by delaying its heartbeats.
//!
//! The tests run one at a time: each loads the machine, and the other measures latencies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
    }
    out
}

/// A client that PINGs every 10 ms on its own connection and records the longest time between
/// two replies.
struct Pinger {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Duration>,
}

impl Pinger {
    fn start(port: u16) -> Pinger {
        let mut conn = RawConn::connect(port);
        conn.send(b"PING\r\n");
        assert_eq!(conn.read_reply(RAW_TIMEOUT), b"+PONG\r\n");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut last = Instant::now();
            while !stopped.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(10));
                conn.send(b"PING\r\n");
                assert_eq!(conn.read_reply(Duration::from_secs(30)), b"+PONG\r\n");
                let now = Instant::now();
                worst = worst.max(now - last);
                last = now;
            }
            worst
        });
        Pinger { stop, thread }
    }

    /// Stops pinging; returns the longest gap between two replies.
    fn stop(self) -> Duration {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the pinger failed")
    }
}

#[test]
fn nested_stars_answer_at_once_while_other_clients_are_served() {
    let _g = serial();
    let server = KiwiServer::start();
    let mut c = server.client();
    let key = "a".repeat(40);
    assert_eq!(c.run_args(&["SET", key.as_str(), "1"]), ok());
    let pinger = Pinger::start(server.port());

    // 20 stars over 40 bytes: a matcher that backtracks into every star tries about C(40, 20)
    // ways to split the key, which is days of CPU, and the command never answers.
    let mut conn = RawConn::connect(server.port());
    let no_match = "a*".repeat(20) + "b";
    let started = Instant::now();
    conn.send(&resp(&["KEYS", &no_match]));
    assert_eq!(conn.read_reply(Duration::from_secs(10)), b"*0\r\n");
    let matching = "a*".repeat(20) + "a";
    conn.send(&resp(&["KEYS", &matching]));
    assert_eq!(
        conn.read_reply(Duration::from_secs(10)),
        format!("*1\r\n$40\r\n{key}\r\n").into_bytes()
    );
    let mut scan = resp(&["SCAN", "0", "MATCH", &no_match, "COUNT", "100"]);
    scan.extend(resp(&["PING"]));
    conn.send(&scan);
    assert_eq!(
        conn.read_reply(Duration::from_secs(10)),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(conn.read_reply(Duration::from_secs(10)), b"+PONG\r\n");
    let took = started.elapsed();

    let worst = pinger.stop();
    assert!(took < Duration::from_secs(5), "the patterns took {took:?}");
    assert!(
        worst < Duration::from_millis(500),
        "another client waited {worst:?} for a PING reply"
    );
}

const T: Duration = Duration::from_secs(15);

/// Every running node's term and the leader it knows of, as far as they answer.
fn terms_and_leaders(cluster: &TestCluster) -> Vec<(u64, Option<u64>)> {
    cluster
        .nodes
        .iter()
        .filter_map(|n| {
            let m = n.metrics()?;
            Some((m["current_term"].as_u64()?, m["current_leader"].as_u64()))
        })
        .collect()
}

#[test]
fn long_keys_on_the_leader_do_not_cost_it_leadership() {
    let _g = serial();
    let cluster = TestCluster::start(3);
    cluster.wait_leader(T);

    // Matching this pattern against one of these keys takes about |key| * 100 steps even in
    // linear time (the star is retried at every position, and each try matches up to 100 `a`s
    // before it fails on `b`), so a KEYS over a few thousand keys runs for seconds in a debug
    // build. Keys are added until one KEYS takes longer than an election timeout (1 s here),
    // so that a node that ran it on its Raft threads would lose its leadership.
    let pattern = format!("*{}b", "a".repeat(100));
    let mut loaded = 0;
    let mut took = Duration::ZERO;
    while took < Duration::from_millis(1500) && loaded < 40_000 {
        for _ in 0..4 {
            let mut mset = vec!["MSET".to_string()];
            for i in loaded..loaded + 1000 {
                mset.push(format!("{i:06}:{}", "a".repeat(200)));
                mset.push("v".into());
            }
            // Loading is not what is tested: a write that met a leader change is sent again.
            let leader = cluster.wait_leader(T);
            let mut c = cluster.nodes[leader].client();
            wait_for(T, "an MSET to succeed", || {
                (c.run_args(&mset) == ok()).then_some(())
            });
            loaded += 1000;
        }
        let leader = cluster.wait_leader(T);
        let mut c = cluster.nodes[leader].client();
        let started = Instant::now();
        assert_eq!(c.run_args(&["KEYS", pattern.as_str()]), arr(vec![]));
        took = started.elapsed();
    }
    eprintln!("{loaded} keys; one KEYS alone took {took:?}");

    let leader = cluster.wait_leader(T);
    let node = &cluster.nodes[leader];
    let before = wait_for(T, "every node's term", || {
        let all = terms_and_leaders(&cluster);
        (all.len() == 3 && all.iter().all(|t| *t == all[0])).then(|| all[0])
    });
    assert_eq!(before.1, Some(node.id));

    // Three clients run KEYS back to back on the leader, more than it has cores, for a few
    // seconds; meanwhile every node's term and leader are watched.
    let until = Instant::now() + Duration::from_secs(6);
    let clients: Vec<JoinHandle<usize>> = (0..3)
        .map(|_| {
            let mut c = node.client();
            let pattern = pattern.clone();
            thread::spawn(move || {
                let mut done = 0;
                while Instant::now() < until {
                    assert_eq!(c.run_args(&["KEYS", pattern.as_str()]), arr(vec![]));
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut changed = None;
    while Instant::now() < until && changed.is_none() {
        changed = terms_and_leaders(&cluster)
            .into_iter()
            .find(|t| *t != before);
        thread::sleep(Duration::from_millis(50));
    }
    let runs: Vec<usize> = clients
        .into_iter()
        .map(|t| t.join().expect("a KEYS client failed"))
        .collect();
    let after = terms_and_leaders(&cluster);
    assert_eq!(
        changed, None,
        "a node's (term, leader) changed from {before:?}"
    );
    assert!(
        after.iter().all(|t| *t == before),
        "terms and leaders {after:?}, before {before:?}"
    );
    assert!(
        runs.iter().all(|n| *n > 0),
        "KEYS runs per client: {runs:?}"
    );
}
