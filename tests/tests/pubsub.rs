//! Pub/Sub and keyspace notifications, against real `kiwi` processes and real clients:
//! the same scripts sent to kiwi and to redis-server 7.0.15 (raw RESP2 and RESP3 connections,
//! replies and pushed messages compared byte for byte), redis-py's PubSub client, a slow
//! subscriber cut off at its output limit, a kill -9 and restart, and a 3-node cluster whose
//! subscribers on every node get what is published on any node, before and after the leader
//! is killed. Every read has a deadline; nothing sleeps a fixed time to wait for an outcome.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiwi_tests::cluster::TestCluster;
use kiwi_tests::*;

const SECS: Duration = Duration::from_secs(10);

/// Cluster tests start three processes each: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A command as RESP: `line` split on spaces.
fn resp(line: &str) -> Vec<u8> {
    let parts: Vec<&str> = line.split(' ').collect();
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out
}

/// A connection speaking raw RESP, which reads one reply (or pushed message) at a time.
struct Client {
    conn: RawConn,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            conn: RawConn::connect(port),
        }
    }

    fn send(&mut self, line: &str) {
        self.conn.send(&resp(line));
    }

    fn read(&mut self) -> String {
        String::from_utf8_lossy(&self.conn.read_reply(SECS)).into_owned()
    }

    /// Sends `line` and reads `n` replies.
    fn call(&mut self, line: &str, n: usize) -> Vec<String> {
        self.send(line);
        (0..n).map(|_| self.read()).collect()
    }

    /// Whether anything arrives within `wait` (used to show that nothing more came).
    fn silent_for(&mut self, wait: Duration) -> bool {
        self.conn.read_until(wait, |b| !b.is_empty()).is_empty()
    }
}

/// One step of a script: `N> CMD` sends CMD on connection N, `N< K` reads K replies on it,
/// `N~` reads one reply and leaves it out of the transcript (HELLO's, whose version and id
/// differ).
fn transcript(port: u16, script: &[&str]) -> Vec<String> {
    let mut conns: Vec<Client> = Vec::new();
    let mut out = Vec::new();
    for step in script {
        let (n, rest) = step.split_at(1);
        let n: usize = n.parse().expect("connection number");
        while conns.len() <= n {
            conns.push(Client::new(port));
        }
        let c = &mut conns[n];
        if let Some(cmd) = rest.strip_prefix("> ") {
            c.send(cmd);
        } else if let Some(k) = rest.strip_prefix("< ") {
            for _ in 0..k.parse::<usize>().expect("reply count") {
                out.push(format!("{n}: {}", c.read()));
            }
        } else if rest == "~" {
            c.read();
        } else {
            panic!("bad step {step}");
        }
    }
    out
}

/// Runs `script` on kiwi and on redis-server and requires the same transcript.
fn same_as_redis(script: &[&str]) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let want = transcript(redis.port(), script);
    let got = transcript(kiwi.port(), script);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "reply {i} differs (script {script:?})");
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn subscribe_and_unsubscribe_replies_match_redis_in_resp2() {
    same_as_redis(&[
        "0> SUBSCRIBE a b",
        "0< 2",
        "0> SUBSCRIBE a",
        "0< 1",
        "0> PSUBSCRIBE n* a*",
        "0< 2",
        // A channel and a pattern that both match: the channel's message first.
        "1> PUBLISH a hello",
        "1< 1",
        "0< 2",
        "1> PUBLISH ab pattern-only",
        "1< 1",
        "0< 1",
        "1> PUBLISH news x",
        "1< 1",
        "0< 1",
        "1> PUBLISH nobody x",
        "1< 1",
        "1> PUBLISH zzz x",
        "1< 1",
        "0> UNSUBSCRIBE a nosuch",
        "0< 2",
        "0> PUNSUBSCRIBE n*",
        "0< 1",
        "0> UNSUBSCRIBE",
        "0< 1",
        "0> PUNSUBSCRIBE",
        "0< 1",
        // Subscribed to nothing: one reply with a nil channel.
        "0> UNSUBSCRIBE",
        "0< 1",
        "0> PUNSUBSCRIBE",
        "0< 1",
        "0> SUNSUBSCRIBE",
        "0< 1",
        // Out of subscribe mode again: any command.
        "0> GET k",
        "0< 1",
    ]);
}

#[test]
fn subscribe_mode_allows_only_its_commands_in_resp2() {
    same_as_redis(&[
        "0> SUBSCRIBE c",
        "0< 1",
        "0> GET k",
        "0< 1",
        "0> SET k v",
        "0< 1",
        "0> CLIENT LIST",
        "0< 1",
        "0> CONFIG GET port",
        "0< 1",
        "0> PUBLISH c x",
        "0< 1",
        "0> MULTI",
        "0< 1",
        "0> PING",
        "0< 1",
        "0> PING hi",
        "0< 1",
        "0> PING a b",
        "0< 1",
        "0> NOSUCHCOMMAND",
        "0< 1",
        "0> SSUBSCRIBE s",
        "0< 1",
        "0> UNSUBSCRIBE c",
        "0< 1",
        // Still subscribed to a shard channel: still in subscribe mode.
        "0> GET k",
        "0< 1",
        "0> SUNSUBSCRIBE s",
        "0< 1",
        "0> PING",
        "0< 1",
        // RESET leaves every subscription, with no reply of its own but +RESET.
        "0> PSUBSCRIBE p*",
        "0< 1",
        "0> RESET",
        "0< 1",
        "1> PUBLISH pq after-reset",
        "1< 1",
        "0> GET k",
        "0< 1",
    ]);
}

#[test]
fn resp3_pushes_and_any_command_while_subscribed_match_redis() {
    same_as_redis(&[
        "0> HELLO 3",
        "0~",
        "0> SUBSCRIBE a",
        "0< 1",
        "0> PSUBSCRIBE p*",
        "0< 1",
        "0> SSUBSCRIBE s",
        "0< 1",
        "1> PUBLISH a 1",
        "1< 1",
        "0< 1",
        "1> PUBLISH pq 2",
        "1< 1",
        "0< 1",
        "1> SPUBLISH s 3",
        "1< 1",
        "0< 1",
        "0> GET nokey",
        "0< 1",
        "0> PING",
        "0< 1",
        "0> PUBSUB NUMSUB a",
        "0< 1",
        "0> UNSUBSCRIBE",
        "0< 1",
        "0> PUNSUBSCRIBE",
        "0< 1",
        "0> SUNSUBSCRIBE",
        "0< 1",
        "0> UNSUBSCRIBE",
        "0< 1",
        // Back to RESP2 while subscribed: subscribe mode's rules apply again.
        "0> SUBSCRIBE a",
        "0< 1",
        "0> HELLO 2",
        "0~",
        "0> GET k",
        "0< 1",
        "0> PING",
        "0< 1",
    ]);
}

#[test]
fn pubsub_introspection_matches_redis() {
    same_as_redis(&[
        "0> SUBSCRIBE news.a news.b other",
        "0< 3",
        "1> SUBSCRIBE news.a",
        "1< 1",
        "0> PSUBSCRIBE x* y*",
        "0< 2",
        "1> PSUBSCRIBE x*",
        "1< 1",
        "2> SSUBSCRIBE sh",
        "2< 1",
        "3> PUBSUB CHANNELS news.b",
        "3< 1",
        "3> PUBSUB CHANNELS nomatch*",
        "3< 1",
        "3> PUBSUB NUMSUB news.a news.b nosuch",
        "3< 1",
        "3> PUBSUB NUMSUB",
        "3< 1",
        "3> PUBSUB NUMPAT",
        "3< 1",
        "3> PUBSUB SHARDCHANNELS",
        "3< 1",
        "3> PUBSUB SHARDNUMSUB sh nosuch",
        "3< 1",
        "3> PUBSUB HELP",
        "3< 1",
        "3> PUBSUB NOPE",
        "3< 1",
        "3> PUBSUB NUMPAT extra",
        "3< 1",
        "3> PUBSUB CHANNELS a b",
        "3< 1",
        "3> PUBSUB",
        "3< 1",
        "3> PUBLISH onlyone",
        "3< 1",
        "3> SUBSCRIBE",
        "3< 1",
        // PUBLISH inside MULTI publishes at EXEC, with its count in EXEC's reply.
        "3> MULTI",
        "3< 1",
        "3> PUBLISH news.a in-multi",
        "3< 1",
        "3> SET k v",
        "3< 1",
        "3> EXEC",
        "3< 1",
        "0< 1",
        "1< 1",
        "3> HELLO 3",
        "3~",
        "3> PUBSUB NUMSUB news.a",
        "3< 1",
    ]);
}

/// What a subscriber to every keyspace channel sees while `commands` run on another
/// connection, up to a marker published after them.
fn notifications(port: u16, flags: &str, commands: &[&str]) -> Vec<String> {
    let mut admin = Client::new(port);
    admin.call(&format!("CONFIG SET notify-keyspace-events {flags}"), 1);
    let mut sub = Client::new(port);
    sub.call("PSUBSCRIBE __key*__:*", 1);
    sub.call("SUBSCRIBE end", 1);
    for line in commands {
        admin.call(line, 1);
    }
    admin.call("PUBLISH end .", 1);
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let m = sub.read();
        if m.contains("\r\nend\r\n") {
            return seen;
        }
        seen.push(m);
    }
    panic!("no end marker");
}

/// Runs `commands` on kiwi and redis-server with `flags` and compares the notifications.
fn same_notifications(flags: &str, commands: &[&str]) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let want = notifications(redis.port(), flags, commands);
    let got = notifications(kiwi.port(), flags, commands);
    let show = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|m| {
                m.split("\r\n")
                    .filter(|p| !p.starts_with('$') && !p.starts_with('*') && !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(show(&got), show(&want));
}

#[test]
fn keyspace_notifications_of_strings_and_keys_match_redis() {
    same_notifications(
        "KEA",
        &[
            "SET s 1",
            "SET s 2 EX 100",
            "SETNX s 3",
            "SETNX s2 3",
            "GETSET s2 4",
            "INCR n",
            "INCRBY n 5",
            "DECR n",
            "INCRBYFLOAT f 1.5",
            "APPEND s x",
            "SETRANGE s 0 y",
            "SETBIT b 3 1",
            "MSET a 1 b2 2",
            "GETDEL s",
            "GETDEL nokey",
            "SETEX e 100 v",
            "EXPIRE a 100",
            "PEXPIRE a 100000",
            "PERSIST a",
            "PERSIST a",
            "GETEX b2 EX 100",
            "GETEX b2 PERSIST",
            "RENAME a a2",
            "RENAME a2 a2",
            "COPY a2 a3",
            "MOVE a3 1",
            "DEL a2 b2 nokey",
            "UNLINK n",
            "EXPIRE f 0",
            "SET x 1",
            "SET x 2 NX",
            "PFADD h a b",
            "PFADD h a",
            "PFADD h0",
            "PFMERGE h3 h h0",
            "PFCOUNT h3",
            "FLUSHALL",
        ],
    );
}

#[test]
fn keyspace_notifications_of_streams_match_redis() {
    same_notifications(
        "KEA",
        &[
            "XADD st 1-1 f v",
            "XADD st 2-1 f v",
            "XADD st NOMKSTREAM 3-1 f v",
            "XADD nost NOMKSTREAM 1-1 f v",
            "XDEL st 1-1",
            "XDEL st 1-1",
            "XTRIM st MAXLEN 0",
            "XSETID st 9-9",
            "XGROUP CREATE st g $",
            "XGROUP CREATECONSUMER st g c",
            "XGROUP SETID st g 0",
            "XGROUP DELCONSUMER st g c",
            "XGROUP DESTROY st g",
            "XGROUP CREATE st2 g $ MKSTREAM",
            "DEL st st2",
        ],
    );
}

#[test]
fn keyspace_notifications_of_lists_sets_hashes_and_zsets_match_redis() {
    same_notifications(
        "KEA",
        &[
            "RPUSH l x y z",
            "LPUSH l w",
            "LPUSHX nol a",
            "LPOP l",
            "RPOP l",
            "LSET l 0 q",
            "LINSERT l BEFORE q p",
            "LREM l 1 p",
            "LREM l 1 nosuch",
            "RPUSH l r s",
            "LMOVE l l2 LEFT RIGHT",
            "LTRIM l 0 0",
            "RPOPLPUSH l l2",
            "LTRIM l2 5 10",
            "SADD st a b",
            "SADD st a",
            "SREM st a",
            "SREM st nosuch",
            "SMOVE st st2 b",
            "SPOP st2",
            "SADD s1 x y",
            "SADD s2 y",
            "SINTERSTORE s3 s1 s2",
            "SUNIONSTORE s3 s1 nosuch",
            "SDIFFSTORE s3 s1 s1",
            "HSET h f 1 g 2",
            "HSET h f 1",
            "HSETNX h f 9",
            "HSETNX h k 9",
            "HINCRBY h f 2",
            "HINCRBYFLOAT h g 0.5",
            "HDEL h f g nosuch",
            "HDEL h k",
            "ZADD z 1 a 2 b",
            "ZINCRBY z 3 a",
            "ZADD z INCR 1 b",
            "ZREM z a",
            "ZADD z 5 c 6 d",
            "ZREMRANGEBYSCORE z 5 5",
            "ZREMRANGEBYRANK z 0 0",
            "ZADD z 1 m 1 n",
            "ZREMRANGEBYLEX z [m [m",
            "ZPOPMIN z",
            "ZPOPMAX z",
            "ZADD z1 1 a",
            "ZUNIONSTORE z2 1 z1",
            "ZINTERSTORE z3 2 z1 nosuch",
            "ZRANGESTORE z4 z1 0 -1",
            "ZDIFFSTORE z4 1 nosuch",
        ],
    );
}

#[test]
fn new_key_and_class_filters_match_redis() {
    let commands = [
        "SET a 1",
        "SET a 2",
        "RPUSH l x",
        "RENAME l l2",
        "HSET h f v",
        "DEL a",
    ];
    same_notifications("En", &commands);
    same_notifications("K$", &commands);
    same_notifications("Elg", &commands);
    same_notifications("A", &commands);
}

#[test]
fn key_misses_of_reads_match_redis() {
    same_notifications(
        "Em",
        &[
            "GET nokey",
            "SET k v",
            "GET k",
            "HGET nohash f",
            "LRANGE nolist 0 -1",
            "SMEMBERS noset",
            "ZSCORE nozset m",
            "SET k2 v",
        ],
    );
}

#[test]
fn expired_keys_are_notified_by_kiwi_and_redis_alike() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for server in [&redis, &kiwi] {
        let mut admin = Client::new(server.port());
        admin.call("CONFIG SET notify-keyspace-events Ex", 1);
        let mut sub = Client::new(server.port());
        sub.call("SUBSCRIBE __keyevent@0__:expired", 1);
        admin.call("SET k v PX 50", 1);
        let m = sub.read();
        assert_eq!(
            m,
            "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$1\r\nk\r\n",
            "redis: {}",
            server.is_redis()
        );
    }
}

#[test]
fn notifications_are_off_by_default_and_go_to_the_right_database() {
    let kiwi = KiwiServer::start();
    let mut sub = Client::new(kiwi.port());
    sub.call("PSUBSCRIBE __key*", 1);
    let mut c = kiwi.client();
    c.run("SET k v");
    assert!(sub.silent_for(Duration::from_millis(300)), "off by default");
    c.run("CONFIG SET notify-keyspace-events KA");
    c.run("SELECT 5");
    c.run("SET k v");
    assert_eq!(
        sub.read(),
        "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n$16\r\n__keyspace@5__:k\r\n$3\r\nset\r\n"
    );
}

#[test]
fn info_and_client_list_report_subscriptions() {
    let kiwi = KiwiServer::start();
    let mut sub = Client::new(kiwi.port());
    sub.call("SUBSCRIBE a b", 2);
    sub.call("PSUBSCRIBE p*", 1);
    sub.call("SSUBSCRIBE s", 1);
    let mut c = kiwi.client();
    let info = c.run("INFO stats").text();
    for want in [
        "pubsub_channels:2\r\n",
        "pubsub_patterns:1\r\n",
        "pubsubshard_channels:1\r\n",
    ] {
        assert!(info.contains(want), "{want} in {info}");
    }
    let list = c.run("CLIENT LIST").text();
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=P ") && l.contains(" sub=2 psub=1 ssub=1 ")),
        "{list}"
    );
    drop(sub);
    eventually(SECS, "the subscriber's channels to go", || {
        c.run("INFO stats")
            .text()
            .contains("pubsub_channels:0\r\n")
            .then_some(())
    });
    assert_eq!(c.run("PUBSUB NUMPAT"), int(0));
}

#[test]
fn redis_py_pubsub_works() {
    let kiwi = KiwiServer::start();
    let script = r#"
import sys, time, redis
r = redis.Redis(port=int(sys.argv[1]))
p = r.pubsub()
p.subscribe('news')
p.psubscribe('n*')
def next_message(deadline=10):
    end = time.time() + deadline
    while time.time() < end:
        m = p.get_message(timeout=1)
        if m is not None:
            return m
    raise SystemExit('no message')
assert next_message()['type'] == 'subscribe'
assert next_message()['type'] == 'psubscribe'
assert r.publish('news', 'hi') == 2
m = next_message()
assert (m['type'], m['channel'], m['data']) == ('message', b'news', b'hi'), m
m = next_message()
assert (m['type'], m['pattern'], m['data']) == ('pmessage', b'n*', b'hi'), m
assert r.pubsub_numsub('news') == [(b'news', 1)]
assert r.pubsub_numpat() == 1
p.unsubscribe('news')
assert next_message()['type'] == 'unsubscribe'
p.close()
r3 = redis.Redis(port=int(sys.argv[1]), protocol=3)
p3 = r3.pubsub()
p3.subscribe('c3')
p = p3
assert next_message()['type'] == 'subscribe'
r.publish('c3', 'resp3')
m = next_message()
assert (m['type'], m['data']) == ('message', b'resp3'), m
print('ok')
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(kiwi.port().to_string())
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "redis-py: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_subscriber_that_does_not_read_is_disconnected_past_its_limit() {
    let kiwi = KiwiServer::start_with(&["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let mut sub = Client::new(kiwi.port());
    sub.call("SUBSCRIBE flood", 1);
    let mut c = kiwi.client();
    let payload = "x".repeat(64 * 1024);
    // Far more than the limit plus what the socket buffers can hold.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut published = 0;
    while c.run("PUBSUB NUMSUB flood") != arr(vec![bulk("flood"), int(0)]) {
        assert!(
            Instant::now() < deadline && published < 4000,
            "still subscribed after {published} messages"
        );
        c.run_args(&["PUBLISH", "flood", &payload]);
        published += 1;
    }
    let (_, closed) = sub.conn.read_until_closed(SECS);
    assert!(closed, "the subscriber's connection was not closed");
    // The node is fine.
    assert_eq!(c.run("PING"), status("PONG"));
}

#[test]
fn notifications_keep_working_after_kill9_and_restart() {
    let mut kiwi = KiwiServer::start_with(&["--notify-keyspace-events", "KEA"]);
    let mut c = kiwi.client();
    c.run("SET kept v");
    c.run("SET later v EX 1000");
    kiwi.kill9();
    kiwi.restart();
    let mut sub = Client::new(kiwi.port());
    sub.call("SUBSCRIBE __keyevent@0__:expired __keyevent@0__:del", 2);
    let mut c = kiwi.client();
    assert_eq!(c.run("GET kept"), bulk("v"), "data survived");
    // A key written before the crash expires after it, and is notified.
    assert_eq!(c.run("PEXPIRE later 100"), int(1));
    assert_eq!(
        sub.read(),
        "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$5\r\nlater\r\n"
    );
    c.run("DEL kept");
    assert_eq!(
        sub.read(),
        "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$4\r\nkept\r\n"
    );
}

fn message(channel: &str, payload: &str) -> String {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
}

#[test]
fn a_cluster_delivers_on_every_node_before_and_after_the_leader_dies() {
    let _serial = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(SECS);
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut subs: Vec<Client> = cluster
        .nodes
        .iter()
        .map(|n| {
            let mut c = Client::new(n.resp_port);
            c.call("SUBSCRIBE news", 1);
            c
        })
        .collect();
    // Keyspace events on a follower, for a write made through the leader.
    let follower = followers[0];
    let mut on_follower = Client::new(cluster.nodes[follower].resp_port);
    on_follower.call("CONFIG SET notify-keyspace-events KEA", 1);
    let mut ks = Client::new(cluster.nodes[follower].resp_port);
    ks.call("PSUBSCRIBE __keyspace@0__:*", 1);

    // Published on a follower, then on the leader: every node's subscriber gets each once.
    for (from, text) in [(followers[1], "from-follower"), (leader, "from-leader")] {
        let mut publisher = cluster.nodes[from].client();
        assert_eq!(
            publisher.run(&format!("PUBLISH news {text}")),
            int(1),
            "receivers on the node that answered"
        );
        for sub in subs.iter_mut() {
            assert_eq!(sub.read(), message("news", text));
        }
    }
    for sub in subs.iter_mut() {
        assert!(
            sub.silent_for(Duration::from_millis(200)),
            "delivered twice"
        );
    }
    // PUBLISH inside MULTI on a follower: the block is forwarded, the leader publishes at EXEC.
    let mut tx = Client::new(cluster.nodes[followers[1]].resp_port);
    assert_eq!(tx.call("MULTI", 1), ["+OK\r\n"]);
    assert_eq!(tx.call("PUBLISH news in-multi", 1), ["+QUEUED\r\n"]);
    assert_eq!(tx.call("EXEC", 1), ["*1\r\n:1\r\n"]);
    for sub in subs.iter_mut() {
        assert_eq!(sub.read(), message("news", "in-multi"));
    }

    let mut writer = cluster.nodes[leader].client();
    assert_eq!(writer.run("SET k v"), ok());
    assert_eq!(
        ks.read(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n"
    );
    assert!(
        ks.silent_for(Duration::from_millis(200)),
        "a keyspace event is never forwarded between nodes"
    );

    // The leader dies; once another is elected, publishing still reaches the survivors.
    cluster.kill9(leader);
    let new_leader = cluster.wait_leader(Duration::from_secs(30));
    let mut publisher = cluster.nodes[new_leader].client();
    assert_eq!(publisher.run("PUBLISH news after-failover"), int(1));
    for i in followers.iter().copied() {
        assert_eq!(subs[i].read(), message("news", "after-failover"));
    }
    // Writes after the failover are still notified on the follower that kept its settings.
    // (Leadership may still move right after an election: the write is retried, and SET
    // twice is the same key set.)
    let survivor = followers
        .iter()
        .copied()
        .find(|i| *i != follower)
        .unwrap_or(follower);
    let mut writer = cluster.nodes[survivor].client();
    eventually(SECS, "a write after the failover", || {
        (writer.run("SET after v") == ok()).then_some(())
    });
    assert_eq!(
        ks.read(),
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$20\r\n__keyspace@0__:after\r\n$3\r\nset\r\n"
    );
    // And the data written before the failover is intact on the new leader.
    let state = eventually(SECS, "a read after the failover", || {
        Some(writer.run("GET k")).filter(|r| !r.is_err())
    });
    assert_eq!(state, bulk("v"));
}
