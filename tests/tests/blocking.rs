//! Blocking commands (BLPOP and kin, CLIENT UNBLOCK) and WATCH, with several real
//! connections to real `kiwi` processes: one node, and a 3-node cluster whose clients sit on a
//! follower and whose leader goes away while they wait. Every wait is bounded: a client that
//! should be answered is given a deadline, and "still blocked" is read from CLIENT LIST.

use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use kiwi_tests::blocked::{wait_blocked, Pending};
use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::*;
use serde_json::json;

/// Cluster tests start three processes each: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const SECS: Duration = Duration::from_secs(10);

#[test]
fn blpop_is_served_at_once_or_by_a_later_push_from_another_client() {
    let s = KiwiServer::start();
    let mut c = s.client();
    c.run("RPUSH k a");
    assert_eq!(c.run("BLPOP none k 0"), bulks(&["k", "a"]));

    let waiter = Pending::start(s.client(), "BLPOP none k 0");
    wait_blocked(&mut c, 1);
    let list = c.run("CLIENT LIST").text();
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=b ") && l.contains(" cmd=blpop ")),
        "{list}"
    );
    assert!(c.run("INFO clients").text().contains("blocked_clients:1"));
    assert_eq!(c.run("LPUSH k x"), int(1));
    assert_eq!(waiter.wait(SECS).0, bulks(&["k", "x"]));
    assert_eq!(c.run("EXISTS k"), int(0), "the element went to the waiter");
    wait_blocked(&mut c, 0);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let waiters: Vec<Pending> = (0..3)
        .map(|i| {
            let p = Pending::start(s.client(), "BLPOP q 0");
            wait_blocked(&mut c, i + 1);
            p
        })
        .collect();
    assert_eq!(c.run("RPUSH q a b"), int(2));
    assert_eq!(waiters[0].wait(SECS).0, bulks(&["q", "a"]));
    assert_eq!(waiters[1].wait(SECS).0, bulks(&["q", "b"]));
    wait_blocked(&mut c, 1);
    assert!(!waiters[2].answered());
    assert_eq!(c.run("RPUSH q c"), int(1));
    assert_eq!(waiters[2].wait(SECS).0, bulks(&["q", "c"]));

    // A client that comes later waits behind those already waiting on a key, and a waiter on
    // several keys is served from the one that was pushed to.
    let first = Pending::start(s.client(), "BRPOP a b 0");
    wait_blocked(&mut c, 1);
    let second = Pending::start(s.client(), "BLPOP b 0");
    wait_blocked(&mut c, 2);
    c.run("RPUSH b 1 2");
    assert_eq!(first.wait(SECS).0, bulks(&["b", "2"]));
    assert_eq!(second.wait(SECS).0, bulks(&["b", "1"]));
}

#[test]
fn timeouts_end_the_wait_with_a_nil() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let started = Instant::now();
    assert_eq!(c.run("BLPOP none 0.2"), nil());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(c.run("BLMOVE none dst LEFT RIGHT 0.05"), nil());
    assert_eq!(c.run("BZPOPMIN none 0.05"), nil());
    assert_eq!(c.run("BLMPOP 0.05 1 none LEFT"), nil());
    assert_eq!(c.run("BLPOP none -1"), err("ERR timeout is negative"));
    assert_eq!(
        c.run("BLPOP none x"),
        err("ERR timeout is not a float or out of range")
    );
    // Requests pipelined behind a blocked one wait their turn.
    let mut raw = s.raw_conn();
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$3\r\n0.1\r\n*1\r\n$4\r\nPING\r\n");
    let got = raw.read_until(SECS, |b| b.ends_with(b"+PONG\r\n"));
    assert_eq!(got, b"*-1\r\n+PONG\r\n");
}

#[test]
fn blocking_commands_never_block_inside_multi() {
    let s = KiwiServer::start();
    let mut c = s.client();
    c.run("MULTI");
    for line in [
        "BLPOP none 0",
        "BLMOVE none d LEFT LEFT 0",
        "BZPOPMAX none 0",
        "LPUSH l x",
        "BRPOP l 0",
    ] {
        assert_eq!(c.run(line), status("QUEUED"));
    }
    assert_eq!(
        c.run("EXEC"),
        arr(vec![nil(), nil(), nil(), int(1), bulks(&["l", "x"])])
    );

    // A push that the same block undoes wakes nobody for good.
    let waiter = Pending::start(s.client(), "BLPOP k 0");
    wait_blocked(&mut c, 1);
    c.run("MULTI");
    c.run("LPUSH k x");
    c.run("DEL k");
    assert_eq!(c.run("EXEC"), arr(vec![int(1), int(1)]));
    // The waiter looked and found nothing: still blocked, until a push that stays.
    assert_eq!(c.run("LPUSH other y"), int(1));
    wait_blocked(&mut c, 1);
    assert!(!waiter.answered());
    c.run("MULTI");
    c.run("LPUSH k 1");
    c.run("LPUSH k 2");
    c.run("LPUSH k 3");
    c.run("EXEC");
    assert_eq!(
        waiter.wait(SECS).0,
        bulks(&["k", "3"]),
        "sees the whole block"
    );
}

#[test]
fn every_blocking_command_is_woken_by_a_write() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let cases: [(&str, &str, R); 6] = [
        ("BRPOPLPUSH src dst 0", "RPUSH src a", bulk("a")),
        ("BLMOVE src dst RIGHT LEFT 0", "RPUSH src b", bulk("b")),
        (
            "BLMPOP 0 2 x src RIGHT COUNT 5",
            "RPUSH src c d",
            arr(vec![bulk("src"), bulks(&["d", "c"])]),
        ),
        (
            "BZPOPMIN z1 0",
            "ZADD z1 2 two 1 one",
            arr(vec![bulk("z1"), bulk("one"), bulk("1")]),
        ),
        (
            "BZPOPMAX z2 0",
            "ZADD z2 3 three",
            arr(vec![bulk("z2"), bulk("three"), bulk("3")]),
        ),
        (
            "BZMPOP 0 1 z3 MIN COUNT 2",
            "ZADD z3 4 four 2 two",
            arr(vec![
                bulk("z3"),
                arr(vec![bulks(&["two", "2"]), bulks(&["four", "4"])]),
            ]),
        ),
    ];
    for (blocking, write, want) in cases {
        let waiter = Pending::start(s.client(), blocking);
        wait_blocked(&mut c, 1);
        c.run(write);
        assert_eq!(waiter.wait(SECS).0, want, "{blocking}");
        wait_blocked(&mut c, 0);
    }
    assert_eq!(c.run("LRANGE dst 0 -1"), bulks(&["b", "a"]));
    // A key that becomes another type keeps its waiters waiting, as in Redis 7.0.
    let waiter = Pending::start(s.client(), "BLPOP t 0");
    wait_blocked(&mut c, 1);
    c.run("SET t string");
    c.run("DEL t");
    c.run("RPUSH t v");
    assert_eq!(waiter.wait(SECS).0, bulks(&["t", "v"]));
}

#[test]
fn client_unblock_ends_a_wait_as_timeout_or_error() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut blocked_con = s.client();
    let id = blocked_con.run("CLIENT ID").int();
    let waiter = Pending::start(blocked_con, "BLPOP k 0");
    wait_blocked(&mut c, 1);
    assert_eq!(c.run(&format!("CLIENT UNBLOCK {id}")), int(1));
    assert_eq!(waiter.wait(SECS).0, nil());
    assert_eq!(
        c.run(&format!("CLIENT UNBLOCK {id}")),
        int(0),
        "no longer blocked"
    );

    let mut blocked_con = s.client();
    let id = blocked_con.run("CLIENT ID").int();
    let waiter = Pending::start(blocked_con, "BLMOVE k d LEFT LEFT 0");
    wait_blocked(&mut c, 1);
    assert_eq!(c.run(&format!("CLIENT UNBLOCK {id} ERROR")), int(1));
    assert_eq!(
        waiter.wait(SECS).0,
        err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    assert_eq!(
        c.run(&format!("CLIENT UNBLOCK {id} MAYBE")),
        err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    assert_eq!(c.run("CLIENT UNBLOCK x"), err(NOT_INTEGER));
}

#[test]
fn a_client_that_hangs_up_leaves_the_line() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut raw = s.raw_conn();
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n");
    wait_blocked(&mut c, 1);
    drop(raw);
    eventually(SECS, "the hung-up client's waiter to go", || {
        c.run("INFO clients")
            .text()
            .contains("blocked_clients:0")
            .then_some(())
    });
    assert_eq!(c.run("LPUSH k x"), int(1));
    assert_eq!(c.run("LLEN k"), int(1), "nobody took it");
}

fn queued() -> R {
    status("QUEUED")
}

#[test]
fn watch_aborts_exec_when_another_client_changed_a_key() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut other = s.client();
    c.run("SET k 1");
    assert_eq!(c.run("WATCH k"), ok());
    assert_eq!(c.run("GET k"), bulk("1"));
    other.run("SET k 2");
    c.run("MULTI");
    assert_eq!(c.run("SET k 3"), queued());
    assert_eq!(c.run("EXEC"), nil(), "aborted");
    assert_eq!(c.run("GET k"), bulk("2"));

    // Untouched: runs; and EXEC unwatched the key.
    assert_eq!(c.run("WATCH k"), ok());
    c.run("MULTI");
    c.run("INCR k");
    assert_eq!(c.run("EXEC"), arr(vec![int(3)]));
    other.run("SET k 9");
    c.run("MULTI");
    c.run("INCR k");
    assert_eq!(c.run("EXEC"), arr(vec![int(10)]));

    // A client's own writes before WATCH are no change.
    c.run("SET k 1");
    c.run("WATCH k");
    c.run("MULTI");
    c.run("GET k");
    assert_eq!(c.run("EXEC"), arr(vec![bulk("1")]));

    // UNWATCH, DISCARD and a watched hash field.
    c.run("WATCH k");
    assert_eq!(c.run("UNWATCH"), ok());
    other.run("SET k 5");
    c.run("MULTI");
    assert_eq!(c.run("EXEC"), arr(vec![]));
    c.run("HSET h f 1");
    c.run("WATCH h");
    c.run("MULTI");
    assert_eq!(c.run("DISCARD"), ok());
    other.run("HSET h f 2");
    c.run("MULTI");
    c.run("PING");
    assert_eq!(c.run("EXEC"), arr(vec![status("PONG")]));
    c.run("WATCH h");
    other.run("HSET h f 3");
    c.run("MULTI");
    assert_eq!(c.run("EXEC"), nil(), "nothing queued, still checked");

    // WATCH inside MULTI is refused without failing the block; UNWATCH is queued.
    c.run("MULTI");
    assert_eq!(
        c.run("WATCH k"),
        err("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(c.run("UNWATCH"), queued());
    assert_eq!(c.run("EXEC"), arr(vec![ok()]));

    // FLUSHALL changes a watched key that existed, not one that did not.
    c.run("SET k 1");
    c.run("WATCH k nothere");
    other.run("FLUSHALL");
    c.run("MULTI");
    assert_eq!(c.run("EXEC"), nil());
    c.run("WATCH nothere");
    other.run("FLUSHALL");
    c.run("MULTI");
    c.run("PING");
    assert_eq!(c.run("EXEC"), arr(vec![status("PONG")]));
}

#[test]
fn watch_aborts_exec_when_the_key_expired() {
    let s = KiwiServer::start();
    let mut c = s.client();
    c.run("SET k 1 PX 300");
    c.run("WATCH k");
    eventually(SECS, "k to expire", || {
        (c.run("EXISTS k") == int(0)).then_some(())
    });
    c.run("MULTI");
    c.run("SET k 2");
    assert_eq!(c.run("EXEC"), nil());
    // A key already expired when watched does not change by being deleted.
    c.run("SET s 1 PX 50");
    eventually(SECS, "s to expire", || {
        (c.run("EXISTS s") == int(0)).then_some(())
    });
    c.run("WATCH s");
    thread::sleep(Duration::from_millis(200)); // lets the active expirer delete it, or not
    c.run("MULTI");
    c.run("PING");
    assert_eq!(c.run("EXEC"), arr(vec![status("PONG")]));
}

/// The same sequences of commands to Kiwi and to a real redis-server give the same replies:
/// argument errors, the non-blocking answers of the blocking commands, LMPOP/ZMPOP, WATCH in
/// every place it can be sent.
#[test]
fn replies_match_redis() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let script = [
        "RPUSH l a b c",
        "ZADD z 1 a 2 b 3 c",
        "SET s str",
        "BLPOP l 0",
        "BRPOP l s 0",
        "BLPOP s l 0",
        "BLPOP l -1",
        "BLPOP l abc",
        "BLPOP l 1e400",
        "BLMOVE l d LEFT UP -1",
        "BRPOPLPUSH l d -1",
        "BLMPOP 0 0 l LEFT",
        "BLMPOP 0 1 l LEFT COUNT 0",
        "BLMPOP 0 2 l LEFT",
        "BLMPOP 0 1 l UP",
        "BZMPOP 0 1 z LEFT",
        "BZMPOP 0 1 z MIN COUNT -1",
        "LMPOP 1 l RIGHT COUNT 10",
        "LMPOP 1 l RIGHT",
        "ZMPOP 2 none z MAX COUNT 2",
        "BZPOPMIN z 0",
        "BZPOPMIN s 0",
        "CLIENT UNBLOCK 999999",
        "CLIENT UNBLOCK 999999 ERROR",
        "CLIENT UNBLOCK 999999 NOPE",
        "MULTI",
        "BLPOP none 0",
        "BLMOVE none d LEFT LEFT 0",
        "BRPOPLPUSH none d 0",
        "BZPOPMAX none 0",
        "BLMPOP 0 1 none LEFT",
        "BZMPOP 0 1 none MIN",
        "WATCH x",
        "UNWATCH",
        "EXEC",
        "WATCH s",
        "SET s changed",
        "MULTI",
        "GET s",
        "EXEC",
        "WATCH s",
        "UNWATCH",
        "SET s again",
        "MULTI",
        "GET s",
        "EXEC",
        "EXEC",
        "UNWATCH",
        "WATCH",
    ];
    for protocol in [2, 3] {
        let (mut k, mut r) = (kiwi.client(), redis.client());
        if protocol == 3 {
            k.run("HELLO 3");
            r.run("HELLO 3");
        }
        k.run("FLUSHALL");
        r.run("FLUSHALL");
        for line in script {
            assert_eq!(k.run(line), r.run(line), "RESP{protocol}: {line}");
        }
    }
}

#[test]
fn through_a_follower_blocking_and_watch_behave_the_same_and_a_lost_leader_unblocks() {
    let _serial = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(SECS);
    let follower = (leader + 1) % 3;
    let mut on_leader = cluster.nodes[leader].client();
    let mut on_follower = cluster.nodes[follower].client();
    on_leader.set_read_timeout(Some(SECS)).unwrap();
    on_follower.set_read_timeout(Some(SECS)).unwrap();

    // A client blocked through the follower waits on the leader, and is woken by a push
    // from a client of the leader.
    let waiter = Pending::start(cluster.nodes[follower].client(), "BLPOP k 0");
    wait_blocked(&mut on_leader, 1);
    wait_blocked(&mut on_follower, 1);
    assert_eq!(on_leader.run("RPUSH k x"), int(1));
    assert_eq!(waiter.wait(SECS).0, bulks(&["k", "x"]));
    let waiter = Pending::start(cluster.nodes[follower].client(), "BLPOP k 0.2");
    assert_eq!(waiter.wait(SECS).0, nil());

    // WATCH through the follower: a write by a client of the leader aborts, and the
    // follower's own earlier write does not.
    assert_eq!(on_follower.run("SET w 1"), ok());
    assert_eq!(on_follower.run("WATCH w"), ok());
    on_follower.run("MULTI");
    on_follower.run("INCR w");
    assert_eq!(on_follower.run("EXEC"), arr(vec![int(2)]));
    on_follower.run("WATCH w");
    on_leader.run("SET w 10");
    on_follower.run("MULTI");
    on_follower.run("INCR w");
    assert_eq!(on_follower.run("EXEC"), nil());
    assert_eq!(on_leader.run("GET w"), bulk("10"));

    // The leader hands over leadership: its blocked client is told, at once.
    let waiter = Pending::start(cluster.nodes[leader].client(), "BLPOP q 0");
    wait_blocked(&mut on_leader, 1);
    let r = cluster.nodes[leader].post("/raft/step_down", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    let (reply, _) = waiter.wait(Duration::from_secs(20));
    assert!(
        matches!(&reply, R::Err(e) if e.starts_with("UNBLOCKED")),
        "{reply:?}"
    );
    let leader = wait_for(SECS, "a new leader", || {
        cluster.leader_now().filter(|l| *l != leader)
    });

    // The leader is killed while a client of a follower waits: an error within bounded time.
    let follower = (leader + 1) % 3;
    let waiter = Pending::start(cluster.nodes[follower].client(), "BLPOP q 0");
    let mut watcher = cluster.nodes[leader].client();
    watcher.set_read_timeout(Some(SECS)).unwrap();
    wait_blocked(&mut watcher, 1);
    cluster.kill9(leader);
    let (reply, took) = waiter.wait(Duration::from_secs(30));
    assert!(reply.is_err(), "{reply:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}
