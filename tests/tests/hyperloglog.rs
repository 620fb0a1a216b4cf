//! HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG), as a client sees it: the replies, errors
//! and the very bytes redis-server keeps for the same commands, a value's journey between the
//! two servers, and HyperLogLogs through a cluster's failures.

use std::time::Duration;

use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::*;

/// The elements of a batch: distinct and reproducible.
fn elements(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn pfadd(key: &str, items: &[String]) -> Vec<String> {
    let mut args = vec!["PFADD".to_string(), key.to_string()];
    args.extend(items.iter().cloned());
    args
}

/// Steps that build HyperLogLogs through every encoding path: empty creation, sparse updates
/// that split ZERO, XZERO and VAL runs and merge neighbours, promotion by size and by a
/// register too big for the sparse encoding, dense updates, and merges of every mix.
fn steps() -> Vec<Vec<String>> {
    let mut s: Vec<Vec<String>> = Vec::new();
    let line = |l: &str| l.split(' ').map(String::from).collect::<Vec<_>>();
    s.push(line("PFADD empty"));
    s.push(line("PFADD empty"));
    s.push(line("PFADD one a"));
    s.push(line("PFADD one a"));
    s.push(line("PFADD one b c d e f g"));
    for (i, n) in [1usize, 3, 10, 40, 150, 400, 900, 1500, 3000]
        .iter()
        .enumerate()
    {
        s.push(pfadd("grow", &elements(&format!("g{i}"), *n)));
        s.push(line("GET grow"));
        s.push(line("PFDEBUG ENCODING grow"));
    }
    s.push(pfadd("small", &elements("s", 20)));
    s.push(line("PFDEBUG DECODE small"));
    s.push(pfadd("mid", &elements("m", 300)));
    s.push(line("PFMERGE merged small mid"));
    s.push(line("GET merged"));
    s.push(line("PFMERGE merged grow"));
    s.push(line("GET merged"));
    s.push(line("PFDEBUG ENCODING merged"));
    s.push(line("PFMERGE fresh small"));
    s.push(line("GET fresh"));
    s.push(line("PFMERGE nothing missing1 missing2"));
    s.push(line("GET nothing"));
    s.push(line("PFMERGE small small"));
    s.push(line("GET small"));
    s.push(line("PFDEBUG TODENSE mid"));
    s.push(line("PFDEBUG TODENSE mid"));
    s.push(line("GET mid"));
    s.push(pfadd("mid", &elements("m2", 50)));
    s.push(line("GET mid"));
    s.push(line("PFDEBUG GETREG small"));
    s.push(line("PFDEBUG ENCODING small"));
    for key in [
        "empty", "one", "grow", "small", "mid", "merged", "fresh", "nothing",
    ] {
        s.push(vec!["GET".into(), key.into()]);
        s.push(vec!["PFCOUNT".into(), key.into()]);
    }
    s.push(line("PFCOUNT one small mid missing"));
    s.push(line("PFCOUNT grow merged"));
    s.push(line("PFADD one a"));
    s.push(line("PFADD one zzz-new"));
    // Errors, in the order Redis checks them.
    s.push(line("SET str hello"));
    s.push(line("RPUSH list x"));
    s.push(line("PFADD str a"));
    s.push(line("PFADD list a"));
    s.push(line("PFCOUNT str"));
    s.push(line("PFCOUNT one list"));
    s.push(line("PFMERGE one str"));
    s.push(line("PFMERGE str one"));
    s.push(line("PFDEBUG GETREG missing"));
    s.push(line("PFDEBUG BOGUS one"));
    s.push(line("PFDEBUG DECODE mid"));
    s.push(line("PFDEBUG ENCODING str"));
    s.push(line("PFADD"));
    s.push(line("PFCOUNT"));
    s.push(line("PFMERGE"));
    s.push(line("PFDEBUG GETREG"));
    s.push(line("TYPE one"));
    s.push(line("STRLEN nothing"));
    s
}

fn compare(protocol3: bool) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    if protocol3 {
        for c in [&mut k, &mut r] {
            assert!(matches!(c.run("HELLO 3"), R::Map(_)));
        }
    }
    for (i, step) in steps().iter().enumerate() {
        let want = r.run_args(step);
        let got = k.run_args(step);
        assert_eq!(got, want, "step #{i}: {:?}", &step[..step.len().min(4)]);
    }
}

#[test]
fn hyperloglogs_are_the_bytes_and_replies_redis_gives() {
    compare(false);
}

#[test]
fn hyperloglogs_are_the_bytes_and_replies_redis_gives_over_resp3() {
    compare(true);
}

/// The cached count: PFADD marks it stale whenever a register changed (and when it created the
/// key), PFCOUNT fills it in, as Redis does; a READONLY follower read answers the same count
/// and leaves it alone.
#[test]
fn pfadd_marks_the_cached_count_stale_as_redis_does() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for s in [&kiwi, &redis] {
        let mut c = s.client();
        assert_eq!(c.run("PFADD h"), int(1));
        assert_eq!(c.run("GETRANGE h 15 15"), bulk(b"\x80"), "{}", s.is_redis());
        assert_eq!(c.run("PFADD h a b c"), int(1));
        assert_eq!(c.run("PFCOUNT h"), int(3));
        assert_eq!(c.run("PFADD h a b c"), int(0));
        assert_eq!(c.run("PFCOUNT h"), int(3));
        assert_eq!(c.run("PFADD h 1 2 3"), int(1));
        assert_eq!(c.run("GETRANGE h 15 15"), bulk(b"\x80"));
        assert_eq!(c.run("PFCOUNT h"), int(6));
    }
}

/// A HyperLogLog made by one server counts the same on the other, both ways, and a corrupt one
/// is refused by both with the same error.
#[test]
fn values_move_between_redis_and_kiwi() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    for (n, key) in [(50usize, "sparse"), (5000, "dense")] {
        r.run_args(&pfadd(key, &elements("r", n)));
        let R::Bulk(bytes) = r.run_args(&["GET", key]) else {
            panic!("GET {key} from redis")
        };
        assert_eq!(
            k.run_args(&[b"SET".as_slice(), key.as_bytes(), &bytes]),
            ok()
        );
        assert_eq!(k.run_args(&["PFCOUNT", key]), r.run_args(&["PFCOUNT", key]));
        k.run_args(&pfadd(key, &elements("k", n)));
        let R::Bulk(back) = k.run_args(&["GET", key]) else {
            panic!("GET {key} from kiwi")
        };
        assert_eq!(r.run_args(&[b"SET".as_slice(), b"back", &back]), ok());
        assert_eq!(r.run("PFCOUNT back"), k.run_args(&["PFCOUNT", key]));
    }
    // A sparse value whose runs cover fewer registers than there are.
    let mut corrupt = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80".to_vec();
    corrupt.extend_from_slice(&[0x7f, 0x00]);
    for c in [&mut k, &mut r] {
        assert_eq!(c.run_args(&[b"SET".as_slice(), b"bad", &corrupt]), ok());
    }
    for cmd in [
        "PFCOUNT bad",
        "PFCOUNT bad sparse",
        "PFMERGE out bad",
        "PFADD bad x y z",
    ] {
        assert_eq!(k.run(cmd), r.run(cmd), "{cmd}");
    }
    assert_eq!(k.run("PFSELFTEST"), ok());
}

/// HyperLogLogs through a cluster: every node holds the same bytes, counts alike on every node,
/// and keeps them across a leader's death and a full restart.
#[test]
fn hyperloglogs_survive_a_leader_change_and_a_full_restart() {
    const T: Duration = Duration::from_secs(20);
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    assert_eq!(c.run_args(&pfadd("visitors", &elements("v", 2000))), int(1));
    assert_eq!(c.run_args(&pfadd("small", &elements("s", 10))), int(1));
    assert_eq!(c.run("PFMERGE all visitors small"), ok());
    let count = c.run("PFCOUNT all");
    let R::Int(n) = count else {
        panic!("PFCOUNT answered {count:?}")
    };
    assert!((1950..=2070).contains(&n), "estimate {n} for 2010");
    let bytes = c.run("GET all");

    let same_everywhere = |cluster: &TestCluster| {
        cluster.wait_converged(T);
        for node in cluster.nodes.iter().filter(|n| n.is_running()) {
            let mut f = node.client();
            assert_eq!(f.run("READONLY"), ok());
            assert_eq!(f.run("GET all"), bytes, "node {}", node.id);
            assert_eq!(f.run("PFCOUNT all"), count, "node {}", node.id);
            assert_eq!(f.run("PFCOUNT visitors small"), count, "node {}", node.id);
        }
    };
    same_everywhere(&cluster);

    cluster.kill9(leader);
    let new_leader = wait_for(T, "a new leader", || {
        cluster.leader_now().filter(|l| *l != leader)
    });
    let mut c = cluster.nodes[new_leader].client();
    // Already counted elements change nothing, wherever the write lands.
    assert_eq!(c.run_args(&pfadd("all", &elements("v", 100))), int(0));
    assert_eq!(c.run("PFCOUNT all"), count);
    cluster.restart(leader);
    same_everywhere(&cluster);

    for i in 0..3 {
        cluster.kill9(i);
    }
    for i in [1, 2, 0] {
        cluster.restart(i);
    }
    cluster.wait_leader(T);
    same_everywhere(&cluster);
}
