//! Streams (XADD, XRANGE, XREAD, consumer groups, XINFO, ...) against real `kiwi` processes:
//! replies compared with a real redis-server 7.0 over RESP2 and RESP3 (scripted and in a
//! seeded random mix), blocking reads woken by other clients, kill -9 and restart, a 3-node
//! cluster that loses its leader, and redis-py.
//!
//! IDs are explicit wherever a reply is compared, so the two servers' clocks do not matter;
//! what depends on the clock (idle times, delivery and seen times) is masked in comparisons
//! and checked for its shape and bounds instead.

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use kiwi_tests::blocked::{wait_blocked, Pending};
use kiwi_tests::cluster::{wait_for, TestCluster};
use kiwi_tests::*;

const SECS: Duration = Duration::from_secs(10);

/// Cluster tests start three processes each: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection speaking RESP2 or RESP3.
fn client(s: &KiwiServer, protocol: u8) -> redis::Connection {
    let mut c = s.client();
    c.set_read_timeout(Some(SECS)).unwrap();
    if protocol == 3 {
        assert!(matches!(c.run("HELLO 3"), R::Map(_)));
    }
    c
}

/// What depends on the clock, replaced by 0: idle times, delivery and seen times (Unix ms),
/// and `radix-tree-nodes` (the size of Redis's radix tree, which Kiwi does not have).
fn masked(r: R) -> R {
    match r {
        R::Map(pairs) => R::Map(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let clocked = matches!(&k, R::Bulk(b) if matches!(
                        b.as_slice(),
                        b"idle" | b"seen-time" | b"radix-tree-nodes"
                    ));
                    (k, if clocked { R::Int(0) } else { masked(v) })
                })
                .collect(),
        ),
        R::Arr(items) => {
            // A pending entry: [id, consumer, idle, deliveries] (XPENDING), or
            // [id, consumer, delivery time, deliveries] / [id, delivery time, deliveries]
            // (XINFO STREAM FULL).
            let pending = matches!(items.first(), Some(R::Bulk(b)) if b.contains(&b'-'))
                && matches!(items.last(), Some(R::Int(_)))
                && (items.len() == 3 || items.len() == 4);
            let n = items.len();
            // A map as RESP2 lays it out: a flat array of names and values.
            let clocked_at: Vec<bool> = (0..n)
                .map(|i| {
                    i > 0
                        && matches!(&items[i - 1], R::Bulk(b) if matches!(
                            b.as_slice(),
                            b"idle" | b"seen-time" | b"radix-tree-nodes"
                        ))
                })
                .collect();
            R::Arr(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        if (pending && i == n - 2) || clocked_at[i] {
                            R::Int(0)
                        } else {
                            masked(item)
                        }
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

/// Sends each line to both servers (fresh, same protocol) and compares the replies.
fn compare_script(script: &[&str]) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for protocol in [2, 3] {
        let (mut k, mut r) = (client(&kiwi, protocol), client(&redis, protocol));
        k.run("FLUSHALL");
        r.run("FLUSHALL");
        for line in script {
            let (want, got) = (masked(r.run(line)), masked(k.run(line)));
            assert_eq!(got, want, "RESP{protocol}: {line}");
        }
    }
}

#[test]
fn entries_ranges_trimming_and_their_errors_match_redis() {
    compare_script(&[
        "XADD s 1-1 f v",
        "XADD s 1-* a b c d",
        "XADD s 5-* f v",
        "XADD s 5-0 f v",
        "XADD s 0-0 f v",
        "XADD s 0 f v",
        "XADD s 0-* f v",
        "XADD s 6 f",
        "XADD s 7-x f v",
        "XADD s NOMKSTREAM 7 f v",
        "XADD nokey NOMKSTREAM 7 f v",
        "EXISTS nokey",
        "XADD s MAXLEN 3 8 f v",
        "XADD s MAXLEN = 3 9 f v",
        "XADD s MAXLEN ~ 3 10 f v",
        "XADD s MAXLEN ~ 3 LIMIT 2 11 f v",
        "XADD s MINID 9 12 f v",
        "XADD s MAXLEN 1 LIMIT 2 13 f v",
        "XADD s LIMIT 0 13 f v",
        "XADD s LIMIT 1 13 f v",
        "XADD s MAXLEN 1 MINID 1 13 f v",
        "XADD s MAXLEN -1 13 f v",
        "XADD s MAXLEN x 13 f v",
        "XADD s MAXLEN",
        "XLEN s",
        "XLEN nokey",
        "XRANGE s - +",
        "XRANGE s - + COUNT 1",
        "XRANGE s - + COUNT 0",
        "XRANGE s - + COUNT -1",
        "XRANGE nokey - + COUNT 0",
        "XRANGE s (9 +",
        "XRANGE s (9-0 (12-0",
        "XRANGE s 12 9",
        "XRANGE s (- +",
        "XRANGE s - + COUNT",
        "XRANGE s - + FOO 1",
        "XRANGE s (18446744073709551615-18446744073709551615 +",
        "XRANGE s - (0-0",
        "XREVRANGE s + -",
        "XREVRANGE s + - COUNT 2",
        "XREVRANGE s (12 -",
        "XDEL s 10-0 10-0 99-0",
        "XDEL s 11-0 bad",
        "XDEL nokey 1-0",
        "XLEN s",
        "XTRIM s MAXLEN 1",
        "XTRIM s MINID 100",
        "XLEN s",
        "EXISTS s",
        "XTRIM s MAXLEN 1 LIMIT 10",
        "XTRIM s LIMIT 10",
        "XTRIM s FOO 1",
        "XTRIM s MAXLEN ~ 1 LIMIT -1",
        "XTRIM nokey MAXLEN 0",
        "XINFO STREAM s",
        "XADD s 20 f v",
        "XADD s 21 f v",
        "XINFO STREAM s",
        "XSETID s 1-0",
        "XSETID s 30-0 ENTRIESADDED 1",
        "XSETID s 30-0 ENTRIESADDED -1",
        "XSETID s 30-0 MAXDELETEDID 31-0",
        "XSETID s 30-0 ENTRIESADDED 40 MAXDELETEDID 25-0",
        "XSETID s 24-0",
        "XSETID s 30-0 FOO",
        "XSETID nokey 1-0",
        "XINFO STREAM s",
        "XADD s 30-0 f v",
        "XADD s 30-* f v",
        "XADD s 18446744073709551615-18446744073709551615 f v",
        "XADD s * f v",
        "SET str x",
        "XADD str 1 f v",
        "XLEN str",
        "XRANGE str - +",
        "XTRIM str MAXLEN 1",
        "XDEL str 1",
        "XSETID str 1",
        "XINFO STREAM str",
        "TYPE s",
        "OBJECT ENCODING s",
        "SORT s",
        "SCAN 0 TYPE stream",
    ]);
}

#[test]
fn consumer_groups_match_redis() {
    compare_script(&[
        "XADD s 1 a 1",
        "XADD s 2 a 2",
        "XADD s 3 a 3",
        "XADD s 4 a 4",
        "XGROUP CREATE s g 0",
        "XGROUP CREATE s g $",
        "XGROUP CREATE nokey g $",
        "XGROUP CREATE nokey g $ MKSTREAM",
        "XINFO STREAM nokey",
        "XGROUP CREATE s g2 $ ENTRIESREAD -2",
        "XGROUP CREATE s g2 $ ENTRIESREAD x",
        "XGROUP CREATE s g2 $ FOO",
        "XGROUP CREATE s g2 bad",
        "XGROUP CREATE s",
        "XGROUP FOO s g",
        "XGROUP HELP",
        "XGROUP SETID s nog 0",
        "XGROUP DESTROY s nog",
        "XGROUP CREATECONSUMER s nog c",
        "XGROUP DELCONSUMER s nog c",
        "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
        "XREADGROUP GROUP g bob STREAMS s >",
        "XREADGROUP GROUP g bob STREAMS s >",
        "XREADGROUP GROUP g bob STREAMS s $",
        "XREADGROUP GROUP nog bob STREAMS s >",
        "XREADGROUP GROUP g bob STREAMS nokey >",
        "XREADGROUP GROUP g bob STREAMS s",
        "XREADGROUP GROUP g bob STREAMS s a b",
        "XREADGROUP STREAMS s >",
        "XREADGROUP GROUP g bob BLOCK -1 STREAMS s >",
        "XPENDING s g",
        "XPENDING s g - + 10",
        "XPENDING s g - + 10 alice",
        "XPENDING s g - + 10 nobody",
        "XPENDING s g (1 + 1",
        "XPENDING s g IDLE 0 - + 10",
        "XPENDING s g IDLE 99999999 - + 10",
        "XPENDING s g - + 0",
        "XPENDING s g - +",
        "XPENDING s g IDLE 1 - +",
        "XPENDING s nog",
        "XPENDING nokey g",
        "XREADGROUP GROUP g alice STREAMS s 0",
        "XREADGROUP GROUP g alice COUNT 1 STREAMS s 1",
        "XREADGROUP GROUP g carol STREAMS s 0",
        "XACK s g 1 1 99",
        "XACK s g bad",
        "XACK s nog 1",
        "XACK nokey g 1",
        "XDEL s 2",
        "XREADGROUP GROUP g alice STREAMS s 0",
        "XINFO GROUPS s",
        "XINFO CONSUMERS s g",
        "XINFO CONSUMERS s nog",
        "XCLAIM s g dave 0 2 3 JUSTID",
        "XPENDING s g",
        "XCLAIM s g dave 0 3 RETRYCOUNT 5",
        "XPENDING s g 3 3 1",
        "XCLAIM s g dave 0 4 FORCE",
        "XCLAIM s g dave 0 9 FORCE",
        "XCLAIM s g dave 0 4 BOGUS",
        "XCLAIM s g dave x 4",
        "XCLAIM s g dave 0 4 IDLE x",
        "XCLAIM s g dave 0 4 LASTID 50",
        "XINFO GROUPS s",
        "XCLAIM s nog dave 0 4",
        "XADD s 5 a 5",
        "XADD s 6 a 6",
        "XREADGROUP GROUP g erin NOACK STREAMS s >",
        "XGROUP SETID s g 0",
        "XREADGROUP GROUP g erin COUNT 1 STREAMS s >",
        "XAUTOCLAIM s g frank 0 0 COUNT 1",
        "XAUTOCLAIM s g frank 0 0 JUSTID",
        "XAUTOCLAIM s g frank 0 0 COUNT 0",
        "XAUTOCLAIM s g frank x 0",
        "XAUTOCLAIM s g frank 0 0 FOO",
        "XAUTOCLAIM s nog frank 0 0",
        "XGROUP CREATECONSUMER s g zed",
        "XGROUP CREATECONSUMER s g zed",
        "XINFO CONSUMERS s g",
        "XGROUP DELCONSUMER s g frank",
        "XGROUP DELCONSUMER s g nobody",
        "XPENDING s g",
        "XGROUP SETID s g $ ENTRIESREAD 3",
        "XGROUP SETID s g 2 FOO 3",
        "XINFO GROUPS s",
        "XINFO STREAM s FULL",
        "XINFO STREAM s FULL COUNT 1",
        "XINFO STREAM s FULL COUNT",
        "XINFO STREAM s FOO",
        "XINFO HELP",
        "XINFO FOO s",
        "XINFO GROUPS",
        "XINFO GROUPS nokey",
        "XGROUP DESTROY s g",
        "XGROUP DESTROY s g",
        "XINFO GROUPS s",
        "SET str x",
        "XGROUP CREATE str g $",
        "XREADGROUP GROUP g c STREAMS str >",
        "XACK str g 1",
        "XPENDING str g",
        "XCLAIM str g c 0 1",
        "XAUTOCLAIM str g c 0 0",
    ]);
}

#[test]
fn lag_and_entries_read_match_redis() {
    compare_script(&[
        "XGROUP CREATE s g $ MKSTREAM",
        "XINFO GROUPS s",
        "XADD s 1 f v",
        "XADD s 2 f v",
        "XADD s 3 f v",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g c COUNT 1 STREAMS s >",
        "XINFO GROUPS s",
        "XDEL s 3",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g c STREAMS s >",
        "XINFO GROUPS s",
        "XGROUP CREATE s g2 0",
        "XGROUP CREATE s g3 1 ENTRIESREAD 1",
        "XINFO GROUPS s",
        "XADD s 4 f v",
        "XDEL s 1",
        "XTRIM s MAXLEN 0",
        "XINFO GROUPS s",
        "XADD s 5 f v",
        "XREADGROUP GROUP g2 c STREAMS s >",
        "XINFO GROUPS s",
        "XINFO STREAM s",
    ]);
}

#[test]
fn reads_and_reply_shapes_match_redis() {
    compare_script(&[
        "XADD a 1 f 1",
        "XADD a 2 f 2",
        "XADD b 1 g 1",
        "XREAD STREAMS a b 0 0",
        "XREAD COUNT 1 STREAMS a b 0 1",
        "XREAD STREAMS a b $ $",
        "XREAD STREAMS a nokey 1 0",
        "XREAD BLOCK 10 STREAMS a 2",
        "XREAD COUNT -5 STREAMS a 1",
        "XREAD STREAMS a >",
        "XREAD STREAMS a b 0",
        "XREAD GROUP g c STREAMS a 0",
        "XREAD NOACK STREAMS a 0",
        "XREAD BLOCK x STREAMS a 0",
        "XREAD BLOCK -1 STREAMS a 0",
        "XREAD COUNT x STREAMS a 0",
        "XREAD FOO STREAMS a 0",
        "XREAD COUNT 1 a 0",
        "XREAD STREAMS a bad",
        "SET str x",
        "XREAD STREAMS a str 0 0",
        "MULTI",
        "XREAD BLOCK 0 STREAMS a 2",
        "XADD a 3 f 3",
        "XREAD BLOCK 0 STREAMS a 2",
        "EXEC",
        "COMMAND GETKEYS XREAD COUNT 1 STREAMS a b 0 0",
        "COMMAND GETKEYS XREADGROUP GROUP g c STREAMS a b > >",
    ]);
}

#[test]
fn generic_key_commands_work_on_streams() {
    let s = KiwiServer::start();
    let mut c = s.client();
    c.run("XADD s 1 f v");
    c.run("XADD s 2 f w");
    c.run("XGROUP CREATE s g 0");
    c.run("XREADGROUP GROUP g c COUNT 1 STREAMS s >");
    assert_eq!(c.run("TYPE s"), status("stream"));
    assert_eq!(c.run("COPY s t"), int(1));
    assert_eq!(c.run("XPENDING t g"), c.run("XPENDING s g"));
    assert_eq!(c.run("XRANGE t - +"), c.run("XRANGE s - +"));
    assert_eq!(c.run("RENAME t u"), ok());
    assert_eq!(c.run("XLEN u"), int(2));
    assert_eq!(c.run("MOVE u 1"), int(1));
    assert_eq!(c.run("SELECT 1"), ok());
    assert_eq!(c.run("XINFO GROUPS u").items().len(), 1);
    assert_eq!(c.run("SWAPDB 0 1"), ok());
    assert_eq!(c.run("XLEN s"), int(2), "db 0 is now db 1");
    assert_eq!(c.run("SELECT 0"), ok());
    assert_eq!(c.run("XLEN u"), int(2));
    assert_eq!(c.run("PEXPIRE u 50"), int(1));
    eventually(SECS, "the stream expires", || {
        (c.run("EXISTS u") == int(0)).then_some(())
    });
    assert_eq!(c.run("SCAN 0 TYPE stream").items()[1], arr(vec![]));
    c.run("SELECT 1");
    assert!(
        c.run("DUMP s").is_err(),
        "DUMP of a stream is refused, not garbled"
    );
    assert_eq!(c.run("DEL s"), int(1));
    assert_eq!(c.run("XINFO STREAM s"), err("ERR no such key"));
    // A new stream at a deleted one's key starts afresh: no old groups or entries.
    c.run("XADD s 9 f v");
    assert_eq!(c.run("XINFO GROUPS s"), arr(vec![]));
    assert_eq!(c.run("XLEN s"), int(1));
    assert_eq!(c.run("FLUSHDB"), ok());
    assert_eq!(c.run("XLEN s"), int(0));
}

#[test]
fn xadd_star_takes_the_clock_and_never_goes_back() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let id = c.run("XADD s * f v").text();
    let (ms, seq) = id.split_once('-').unwrap();
    let ms: u64 = ms.parse().unwrap();
    assert!(ms >= before && ms < before + 60_000, "{id}");
    assert_eq!(seq, "0");
    // An ID in the future: `*` continues from it rather than going back.
    let future = format!("{}-5", ms + 3_600_000);
    assert_eq!(c.run(&format!("XADD s {future} f v")), bulk(&future));
    assert_eq!(c.run("XADD s * f v"), bulk(format!("{}-6", ms + 3_600_000)));
    let id = c.run(&format!("XADD s {}-* f v", ms + 3_600_000)).text();
    assert_eq!(id, format!("{}-7", ms + 3_600_000));
}

/// Runs a blocking scenario on `s` and returns what the clients saw.
fn blocking_scenario(s: &KiwiServer, protocol: u8) -> Vec<R> {
    let mut out = Vec::new();
    let mut c = client(s, protocol);
    c.run("FLUSHALL");
    c.run("XADD s 1 f 1");
    // Data already there: answered at once, BLOCK or not.
    out.push(c.run("XREAD BLOCK 0 STREAMS s 0"));
    // `$` waits for what comes after the last entry at the time of blocking.
    let waiter = Pending::start(client(s, protocol), "XREAD BLOCK 0 STREAMS s $");
    let other = Pending::start(
        client(s, protocol),
        "XREAD COUNT 5 BLOCK 0 STREAMS nokey s 0 $",
    );
    wait_blocked(&mut c, 2);
    assert!(!waiter.answered() && !other.answered());
    out.push(c.run("XADD s 2 f 2"));
    out.push(waiter.wait(SECS).0);
    out.push(other.wait(SECS).0);
    // A timeout answers a nil.
    let (reply, took) =
        Pending::start(client(s, protocol), "XREAD BLOCK 200 STREAMS s $").wait(SECS);
    assert!(took >= Duration::from_millis(150), "{took:?}");
    out.push(reply);
    // XREADGROUP: woken by the XADD, and that read moves the group.
    c.run("XGROUP CREATE s g $");
    let reader = Pending::start(
        client(s, protocol),
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
    );
    // In line first: the first blocked is the first served.
    wait_blocked(&mut c, 1);
    let second = Pending::start(
        client(s, protocol),
        "XREADGROUP GROUP g d BLOCK 0 COUNT 1 STREAMS s >",
    );
    wait_blocked(&mut c, 2);
    out.push(c.run("XADD s 3 f 3"));
    let first = reader.wait(SECS).0;
    out.push(first);
    wait_blocked(&mut c, 1);
    out.push(c.run("XADD s 4 f 4"));
    out.push(second.wait(SECS).0);
    out.push(masked(c.run("XPENDING s g - + 10")));
    // A destroyed group, a deleted key: the blocked readers are told.
    let gone = Pending::start(
        client(s, protocol),
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
    );
    wait_blocked(&mut c, 1);
    out.push(c.run("XGROUP DESTROY s g"));
    out.push(gone.wait(SECS).0);
    c.run("XGROUP CREATE s g $");
    let deleted = Pending::start(
        client(s, protocol),
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
    );
    wait_blocked(&mut c, 1);
    out.push(c.run("DEL s"));
    out.push(deleted.wait(SECS).0);
    // Blocked without BLOCK's data: an XREADGROUP on a missing group fails at once.
    out.push(c.run("XREADGROUP GROUP g c BLOCK 0 STREAMS s >"));
    // CLIENT UNBLOCK ends an XREAD as a timeout.
    let mut c2 = client(s, protocol);
    let id = c2.run("CLIENT ID").int();
    let unblocked = Pending::start(c2, "XREAD BLOCK 0 STREAMS s $");
    wait_blocked(&mut c, 1);
    out.push(c.run(&format!("CLIENT UNBLOCK {id}")));
    out.push(unblocked.wait(SECS).0);
    out
}

#[test]
fn blocked_readers_are_woken_as_redis_wakes_them() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    for protocol in [2, 3] {
        let want = blocking_scenario(&redis, protocol);
        let got = blocking_scenario(&kiwi, protocol);
        assert_eq!(got, want, "RESP{protocol}");
    }
}

/// A small deterministic generator (xorshift64*): a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One random stream command over a few keys, groups and consumers. `next_ms` keeps XADD's
/// explicit IDs mostly increasing (sometimes not: the errors are compared too).
fn random_command(rng: &mut Rng, next_ms: &mut u64) -> String {
    let key = rng.pick(&["s1", "s2", "s3"]);
    let group = rng.pick(&["g1", "g2"]);
    let consumer = rng.pick(&["alice", "bob", "carol"]);
    let id = |rng: &mut Rng, top: u64| -> String {
        match rng.below(6) {
            0 => "-".into(),
            1 => "+".into(),
            2 => format!("({}", rng.below(top + 2)),
            _ => format!("{}-{}", rng.below(top + 2), rng.below(3)),
        }
    };
    let top = *next_ms;
    match rng.below(25) {
        0..=4 => {
            *next_ms += rng.below(3);
            let trim = match rng.below(6) {
                0 => format!("MAXLEN {} ", rng.below(8)),
                1 => format!("MAXLEN ~ {} ", rng.below(8)),
                2 => format!("MINID {} ", rng.below(top + 1)),
                _ => String::new(),
            };
            let seq = rng.pick(&["0", "1", "*", "5"]);
            format!(
                "XADD {key} {trim}{}-{seq} f {} g x",
                *next_ms,
                rng.below(100)
            )
        }
        5 => format!(
            "XDEL {key} {}-0 {}-1",
            rng.below(top + 1),
            rng.below(top + 1)
        ),
        6 => format!(
            "XTRIM {key} {} {}",
            rng.pick(&["MAXLEN", "MINID", "MAXLEN =", "MINID ~"]),
            rng.below(top + 1)
        ),
        7 => format!(
            "XRANGE {key} {} {} COUNT {}",
            id(rng, top),
            id(rng, top),
            rng.below(4)
        ),
        8 => format!("XREVRANGE {key} {} {}", id(rng, top), id(rng, top)),
        9 => format!("XLEN {key}"),
        10 => format!(
            "XREAD COUNT {} STREAMS s1 s2 {}-0 $",
            rng.below(3),
            rng.below(top + 1)
        ),
        11 => format!(
            "XGROUP {} {key} {group} {}",
            rng.pick(&["CREATE", "SETID", "CREATE", "DESTROY"]),
            rng.pick(&["0", "$", "1-0"])
        ),
        12 => format!(
            "XGROUP {} {key} {group} {consumer}",
            rng.pick(&["CREATECONSUMER", "DELCONSUMER"])
        ),
        13 | 14 => format!(
            "XREADGROUP GROUP {group} {consumer} COUNT {} {}STREAMS {key} {}",
            rng.below(3),
            rng.pick(&["", "", "NOACK "]),
            rng.pick(&[">", ">", "0", "1-0"])
        ),
        15 => format!(
            "XACK {key} {group} {}-0 {}-1",
            rng.below(top + 1),
            rng.below(top + 1)
        ),
        16 => format!(
            "XCLAIM {key} {group} {consumer} 0 {}-0 {}-1 JUSTID",
            rng.below(top + 1),
            rng.below(top + 1)
        ),
        17 => format!(
            "XAUTOCLAIM {key} {group} {consumer} 0 {}-0 COUNT {} JUSTID",
            rng.below(top + 1),
            1 + rng.below(3)
        ),
        18 => format!("XPENDING {key} {group}"),
        19 => format!("XINFO GROUPS {key}"),
        20 => format!(
            "XINFO STREAM {key}{}",
            rng.pick(&["", " FULL", " FULL COUNT 3"])
        ),
        21 => format!(
            "XPENDING {key} {group} {} + {}{}",
            id(rng, top),
            rng.below(5),
            rng.pick(&["", " alice", " bob"])
        ),
        22 => format!("XINFO CONSUMERS {key} {group}"),
        23 => format!(
            "XCLAIM {key} {group} {consumer} 0 {}-0 {}{}",
            rng.below(top + 1),
            rng.pick(&["", "FORCE ", "RETRYCOUNT 3 "]),
            rng.pick(&["", "LASTID 2-0"])
        ),
        _ => format!("XSETID {key} {}-9", top + rng.below(3)),
    }
}

fn compare_random(seed: u64, commands: usize, protocol: u8) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (client(&kiwi, protocol), client(&redis, protocol));
    let mut rng = Rng(seed);
    let mut next_ms = 1;
    let mut history = Vec::new();
    for i in 0..commands {
        let line = random_command(&mut rng, &mut next_ms);
        history.push(line.clone());
        let (want, got) = (masked(r.run(&line)), masked(k.run(&line)));
        if got != want {
            let recent = history[history.len().saturating_sub(15)..].join("\n  ");
            panic!(
                "seed {seed}, RESP{protocol}, command #{i}: {line}\n  redis: {want:?}\n  kiwi:  {got:?}\nthe last commands:\n  {recent}"
            );
        }
    }
}

#[test]
fn random_stream_commands_match_redis() {
    compare_random(0x5eed_0001, 1500, 2);
    compare_random(0x5eed_0002, 1500, 3);
}

/// A longer hunt: `STREAM_HUNT_SEEDS=50 cargo test --test streams -- --ignored` runs 3000
/// commands for each of that many seeds, every other one over RESP3.
#[test]
#[ignore]
fn long_hunt_over_many_seeds() {
    let seeds: u64 = std::env::var("STREAM_HUNT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for seed in 1..=seeds {
        compare_random(0x1000 + seed, 3000, if seed % 2 == 0 { 3 } else { 2 });
    }
}

/// Streams, groups, pending lists and counters, as a client can read them.
fn stream_state(c: &mut redis::Connection) -> Vec<R> {
    [
        "XRANGE s - +",
        "XINFO GROUPS s",
        "XPENDING s g - + 100",
        "XINFO CONSUMERS s g",
        "XINFO STREAM s FULL",
        "XLEN empty",
        "XINFO GROUPS empty",
        "TYPE s",
    ]
    .iter()
    .map(|line| masked(c.run(line)))
    .collect()
}

#[test]
fn streams_groups_and_pending_lists_survive_kill9() {
    let mut s = KiwiServer::start();
    let mut c = s.client();
    for i in 1..=50 {
        c.run(&format!("XADD s {i} n {i}"));
    }
    c.run("XDEL s 7");
    c.run("XTRIM s MAXLEN 45");
    c.run("XGROUP CREATE s g 0");
    c.run("XREADGROUP GROUP g alice COUNT 10 STREAMS s >");
    c.run("XREADGROUP GROUP g bob COUNT 5 STREAMS s >");
    c.run("XACK s g 8 9");
    c.run("XCLAIM s g carol 0 10 11");
    c.run("XGROUP CREATE empty g $ MKSTREAM");
    let before = stream_state(&mut c);
    s.kill9();
    s.restart();
    let mut c = s.client();
    assert_eq!(stream_state(&mut c), before);
    // And it goes on from there: the group's cursor and the stream's last ID were kept.
    assert_eq!(
        c.run("XREADGROUP GROUP g alice COUNT 1 STREAMS s >")
            .items()
            .len(),
        1
    );
    assert_eq!(
        c.run("XADD s 50 f v"),
        err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
}

#[test]
fn a_cluster_wakes_readers_on_followers_and_keeps_groups_across_a_leader_change() {
    let _serial = serial();
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(SECS);
    let follower = (leader + 1) % 3;
    let mut on_leader = cluster.nodes[leader].client();
    on_leader.set_read_timeout(Some(SECS)).unwrap();
    assert_eq!(on_leader.run("XADD s 1 f 1"), bulk("1-0"));
    assert_eq!(on_leader.run("XGROUP CREATE s g 0"), ok());

    // Readers blocked through a follower are woken by an XADD on the leader.
    let reader = Pending::start(
        cluster.nodes[follower].client(),
        "XREAD BLOCK 0 STREAMS s $",
    );
    let grouped = Pending::start(
        cluster.nodes[follower].client(),
        "XREADGROUP GROUP g c BLOCK 0 COUNT 5 STREAMS s >",
    );
    // The group reader is served at once (entry 1 is new to the group); the XREAD waits.
    let (first, _) = grouped.wait(SECS);
    assert_eq!(
        first,
        R::Arr(vec![arr(vec![
            bulk("s"),
            arr(vec![arr(vec![bulk("1-0"), bulks(&["f", "1"])])])
        ])])
    );
    wait_blocked(&mut on_leader, 1);
    assert_eq!(on_leader.run("XADD s 2 f 2"), bulk("2-0"));
    assert_eq!(
        reader.wait(SECS).0,
        R::Arr(vec![arr(vec![
            bulk("s"),
            arr(vec![arr(vec![bulk("2-0"), bulks(&["f", "2"])])])
        ])])
    );
    let mut on_follower = cluster.nodes[follower].client();
    assert_eq!(
        on_follower.run("XREADGROUP GROUP g d STREAMS s >"),
        R::Arr(vec![arr(vec![
            bulk("s"),
            arr(vec![arr(vec![bulk("2-0"), bulks(&["f", "2"])])])
        ])])
    );
    let before = [
        masked(on_follower.run("XPENDING s g - + 10")),
        on_follower.run("XINFO GROUPS s"),
        on_follower.run("XRANGE s - +"),
    ];

    // The leader dies: a new one has every entry, the group's cursor and its pending list.
    cluster.kill9(leader);
    let new_leader = wait_for(Duration::from_secs(30), "a new leader", || {
        cluster.leader_now().filter(|l| *l != leader)
    });
    let mut c = cluster.nodes[new_leader].client();
    c.set_read_timeout(Some(SECS)).unwrap();
    let after = [
        masked(c.run("XPENDING s g - + 10")),
        c.run("XINFO GROUPS s"),
        c.run("XRANGE s - +"),
    ];
    assert_eq!(after, before);
    assert_eq!(c.run("XACK s g 1 2"), int(2));
    assert_eq!(c.run("XADD s 3 f 3"), bulk("3-0"));
    assert_eq!(
        c.run("XREADGROUP GROUP g c STREAMS s >"),
        R::Arr(vec![arr(vec![
            bulk("s"),
            arr(vec![arr(vec![bulk("3-0"), bulks(&["f", "3"])])])
        ])])
    );
}

#[test]
fn redis_py_streams_work() {
    let s = KiwiServer::start();
    let script = format!(
        r#"
import redis
r = redis.Redis(host="127.0.0.1", port={port}, decode_responses=True)
first = r.xadd("events", {{"kind": "signup", "user": "7"}})
second = r.xadd("events", {{"kind": "login"}}, id="*")
assert r.xlen("events") == 2
r.xgroup_create("events", "workers", id="0")
got = r.xreadgroup("workers", "w1", {{"events": ">"}}, count=10)
assert got[0][0] == "events", got
assert [e[0] for e in got[0][1]] == [first, second], got
assert got[0][1][0][1] == {{"kind": "signup", "user": "7"}}, got
pending = r.xpending("events", "workers")
assert pending["pending"] == 2 and pending["consumers"][0]["name"] == "w1", pending
assert r.xack("events", "workers", first) == 1
claimed = r.xautoclaim("events", "workers", "w2", min_idle_time=0, start_id="0-0")
assert claimed[1][0][0] == second, claimed
info = r.xinfo_stream("events")
assert info["length"] == 2 and info["last-generated-id"] == second, info
groups = r.xinfo_groups("events")
assert groups[0]["name"] == "workers" and groups[0]["pending"] == 1, groups
assert not r.xread({{"events": "$"}}, block=100)
assert r.xtrim("events", maxlen=1, approximate=False) == 1
print("ok")
"#,
        port = s.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 with redis-py");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Streams, reading this node's own storage (READONLY): what a follower holds.
fn local_stream_state(node: &kiwi_tests::cluster::ClusterNode) -> Vec<R> {
    let mut c = node.client();
    c.set_read_timeout(Some(SECS)).unwrap();
    assert_eq!(c.run("READONLY"), ok());
    [
        "XRANGE s - +",
        "XINFO GROUPS s",
        "XPENDING s g - + 1000",
        "XINFO STREAM s",
    ]
    .iter()
    .map(|line| masked(c.run(line)))
    .collect()
}

#[test]
fn a_lagging_follower_gets_streams_and_groups_by_snapshot() {
    let _serial = serial();
    let mut cluster = TestCluster::start_with(3, &["--raft-snapshot-logs", "50"]);
    let leader = cluster.wait_leader(SECS);
    let lagger = (leader + 1) % 3;
    cluster.kill9(lagger);
    let mut c = cluster.nodes[leader].client();
    c.set_read_timeout(Some(SECS)).unwrap();
    assert_eq!(c.run("XGROUP CREATE s g 0 MKSTREAM"), ok());
    // Enough entries for the leader to snapshot and purge past what the lagger has.
    for i in 1..=600 {
        // The cluster may hold an election meanwhile (a loaded machine): an XADD refused for it
        // is sent again, and one that may have been applied before the refusal finds its ID
        // taken on the retry.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut retried = false;
        loop {
            match c.run(&format!("XADD s {i} n {i}")) {
                R::Err(e)
                    if (e.starts_with("CLUSTERDOWN") || e.starts_with("TRYAGAIN"))
                        && Instant::now() < deadline =>
                {
                    retried = true;
                    thread::sleep(Duration::from_millis(50));
                }
                R::Err(e) if retried && e.contains("equal or smaller") => break,
                other => {
                    assert_eq!(other, bulk(format!("{i}-0")), "XADD {i}");
                    break;
                }
            }
        }
    }
    assert_eq!(c.run("XDEL s 5"), int(1));
    assert_eq!(
        c.run("XREADGROUP GROUP g alice COUNT 40 STREAMS s >")
            .items()
            .len(),
        1
    );
    assert_eq!(c.run("XACK s g 1 2 3"), int(3));
    // The leader has snapshotted and purged the entries the lagger is missing.
    let purged = (0..300).find_map(|_| {
        let m = cluster.nodes[leader].metrics()?;
        if m["purged"].as_u64()? > 10 {
            return Some(());
        }
        thread::sleep(Duration::from_millis(100));
        None
    });
    if purged.is_none() {
        let log = std::fs::read_to_string(&cluster.nodes[leader].log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "the leader did not purge its log: {}\n{}",
            cluster.nodes[leader].metrics().unwrap_or_default(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let want = local_stream_state(&cluster.nodes[leader]);
    cluster.restart(lagger);
    cluster.wait_converged(Duration::from_secs(30));
    let m = cluster.nodes[lagger].metrics().unwrap();
    assert!(
        m["snapshot"].as_u64().is_some(),
        "the lagger installed a snapshot: {m}"
    );
    assert_eq!(local_stream_state(&cluster.nodes[lagger]), want);
}
