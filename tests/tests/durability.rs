//! What was acknowledged survives `kill -9`: every write is on disk before its reply.

use std::collections::BTreeMap;
use std::time::Duration;

use kiwi_tests::*;

const N: usize = 200;

/// Everything a client can observe about the string keys written by [`write_strings`].
fn string_state(c: &mut redis::Connection) -> Vec<R> {
    let mut out = Vec::new();
    let mut get = redis::cmd("MGET");
    for i in 0..N {
        get.arg(format!("str:{i}"));
    }
    out.push(R::from(get.query::<redis::Value>(c).unwrap()));
    out.push(c.run("GET counter"));
    out.push(c.run("GET appended"));
    out.push(c.run("EXISTS deleted"));
    out.push(c.run("GET renamed-to"));
    out.push(c.run("EXISTS renamed-from"));
    out.push(c.run("GET tx:a"));
    out.push(c.run("GET tx:b"));
    out.push(c.run("TTL no-ttl"));
    out
}

fn write_strings(c: &mut redis::Connection) {
    let mut pipe = redis::pipe();
    for i in 0..N {
        pipe.cmd("SET")
            .arg(format!("str:{i}"))
            .arg(format!("value-{i}"))
            .ignore();
    }
    let () = pipe.query(c).unwrap();
    for _ in 0..50 {
        c.run("INCR counter");
    }
    for part in ["a", "b", "c"] {
        c.run(&format!("APPEND appended {part}"));
    }
    assert_eq!(c.run("SET deleted x"), ok());
    assert_eq!(c.run("DEL deleted"), int(1));
    assert_eq!(c.run("SET renamed-from moved"), ok());
    assert_eq!(c.run("RENAME renamed-from renamed-to"), ok());
    assert_eq!(c.run("MULTI"), ok());
    c.run("SET tx:a 1");
    c.run("SET tx:b 2");
    assert_eq!(c.run("EXEC"), arr(vec![ok(), ok()]));
    assert_eq!(c.run("SET no-ttl v EX 100"), ok());
    assert_eq!(c.run("PERSIST no-ttl"), int(1));
}

#[test]
fn strings_and_ttls_survive_kill9() {
    let mut s = KiwiServer::start();
    let mut c = s.client();
    write_strings(&mut c);
    assert_eq!(c.run("SET long-ttl v EX 1000"), ok());
    assert_eq!(c.run("SET short-ttl v PX 1500"), ok());
    assert_eq!(c.run("SELECT 5"), ok());
    assert_eq!(c.run("SET in-db-5 five"), ok());
    assert_eq!(c.run("SELECT 0"), ok());
    let before = string_state(&mut c);
    let dbsize = c.run("DBSIZE");
    assert_eq!(dbsize, int(N as i64 + 8), "in-db-5 is not in database 0");
    let pttl_before = c.run("PTTL long-ttl").int();
    drop(c);

    s.kill9();
    s.restart();

    let mut c = s.client();
    assert_eq!(string_state(&mut c), before);
    assert_eq!(c.run("GET counter"), bulk("50"));
    assert_eq!(c.run("GET appended"), bulk("abc"));
    assert_eq!(c.run("SELECT 5"), ok());
    assert_eq!(c.run("GET in-db-5"), bulk("five"));
    assert_eq!(c.run("SELECT 0"), ok());

    // The deadline is absolute: the TTL kept counting while the server was down.
    let pttl_after = c.run("PTTL long-ttl").int();
    assert!(
        pttl_after <= pttl_before && pttl_after > 990_000,
        "PTTL {pttl_before} -> {pttl_after}"
    );
    let mut last = pttl_after;
    eventually(
        Duration::from_secs(5),
        "long-ttl counts down after restart",
        || {
            let p = c.run("PTTL long-ttl").int();
            assert!(p <= last);
            last = p;
            (p < pttl_after - 100).then_some(())
        },
    );

    // The short TTL runs out after the restart, and the key is then gone for good.
    eventually(Duration::from_secs(10), "short-ttl expires", || {
        (c.run("EXISTS short-ttl") == int(0)).then_some(())
    });
    assert_eq!(c.run("GET short-ttl"), nil());
    eventually(
        Duration::from_secs(10),
        "DBSIZE drops by the expired key",
        || (c.run("DBSIZE") == int(N as i64 + 7)).then_some(()),
    );

    // Writes after the restart work and survive another crash.
    assert_eq!(c.run("INCR counter"), int(51));
    drop(c);
    s.kill9();
    s.restart();
    let mut c = s.client();
    assert_eq!(c.run("GET counter"), bulk("51"));
    assert_eq!(c.run("EXISTS short-ttl"), int(0));
    assert_eq!(c.run("DBSIZE"), int(N as i64 + 7));
}

#[test]
fn clean_stop_and_restart_keeps_data() {
    let mut s = KiwiServer::start();
    let mut c = s.client();
    write_strings(&mut c);
    let before = string_state(&mut c);
    drop(c);
    s.stop();
    assert!(!s.is_running());
    s.restart();
    let mut c = s.client();
    assert_eq!(string_state(&mut c), before);
}

#[test]
fn concurrent_writers_lose_nothing_on_kill9() {
    let mut s = KiwiServer::start();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let mut c = s.client();
            std::thread::spawn(move || {
                for i in 0..100 {
                    assert_eq!(c.run(&format!("SET w{t}:{i} {i}")), ok());
                    c.run("INCR total").int();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    s.kill9();
    s.restart();
    let mut c = s.client();
    assert_eq!(c.run("GET total"), bulk("400"));
    assert_eq!(c.run("DBSIZE"), int(401));
    for t in 0..4 {
        assert_eq!(c.run(&format!("GET w{t}:99")), bulk("99"));
    }
}

/// Every type's full contents, as sorted text, plus TTLs.
fn collection_state(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in 0..N / 10 {
        let h = format!("hash:{i}");
        let fields = c.run(&format!("HGETALL {h}")).strings();
        let mut pairs: Vec<String> = fields
            .chunks(2)
            .map(|p| format!("{}={}", p[0], p[1]))
            .collect();
        pairs.sort();
        out.insert(h, pairs.join(","));
        let l = format!("list:{i}");
        out.insert(
            l.clone(),
            c.run(&format!("LRANGE {l} 0 -1")).strings().join(","),
        );
        let s = format!("set:{i}");
        out.insert(
            s.clone(),
            c.run(&format!("SMEMBERS {s}")).sorted().join(","),
        );
        let z = format!("zset:{i}");
        out.insert(
            z.clone(),
            c.run(&format!("ZRANGE {z} 0 -1 WITHSCORES"))
                .strings()
                .join(","),
        );
    }
    for k in ["ttl-hash", "ttl-list", "ttl-set", "ttl-zset"] {
        out.insert(format!("type {k}"), c.run(&format!("TYPE {k}")).text());
    }
    out.insert("dbsize".into(), format!("{:?}", c.run("DBSIZE")));
    out
}

#[test]
fn every_type_survives_kill9() {
    let mut s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..N / 10 {
        for j in 0..10 {
            pipe.cmd("HSET")
                .arg(format!("hash:{i}"))
                .arg(format!("f{j}"))
                .arg(format!("v{i}-{j}"))
                .ignore();
            pipe.cmd("RPUSH")
                .arg(format!("list:{i}"))
                .arg(format!("r{j}"))
                .ignore();
            pipe.cmd("LPUSH")
                .arg(format!("list:{i}"))
                .arg(format!("l{j}"))
                .ignore();
            pipe.cmd("SADD")
                .arg(format!("set:{i}"))
                .arg(format!("m{j}"))
                .ignore();
            pipe.cmd("ZADD")
                .arg(format!("zset:{i}"))
                .arg(j * i)
                .arg(format!("z{j}"))
                .ignore();
        }
        pipe.cmd("HDEL").arg(format!("hash:{i}")).arg("f0").ignore();
        pipe.cmd("LPOP").arg(format!("list:{i}")).ignore();
        pipe.cmd("SREM").arg(format!("set:{i}")).arg("m0").ignore();
        pipe.cmd("ZINCRBY")
            .arg(format!("zset:{i}"))
            .arg(100)
            .arg("z0")
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("HSET ttl-hash f v"), int(1));
    assert_eq!(c.run("RPUSH ttl-list a b"), int(2));
    assert_eq!(c.run("SADD ttl-set a b"), int(2));
    assert_eq!(c.run("ZADD ttl-zset 1 a"), int(1));
    for k in ["ttl-hash", "ttl-list", "ttl-set", "ttl-zset"] {
        assert_eq!(c.run(&format!("EXPIRE {k} 1000")), int(1));
    }
    assert_eq!(c.run("RPUSH short-list x"), int(1));
    assert_eq!(c.run("PEXPIRE short-list 1500"), int(1));
    let dbsize = (N / 10 * 4 + 5) as i64;
    assert_eq!(c.run("DBSIZE"), int(dbsize));
    assert_eq!(c.run("LRANGE list:3 0 2"), bulks(&["l8", "l7", "l6"]));
    assert_eq!(c.run("ZSCORE zset:3 z0"), bulk("100"));
    let before = collection_state(&mut c);
    drop(c);

    s.kill9();
    s.restart();

    let mut c = s.client();
    assert_eq!(collection_state(&mut c), before);
    for k in ["ttl-hash", "ttl-list", "ttl-set", "ttl-zset"] {
        let ttl = c.run(&format!("TTL {k}")).int();
        assert!((990..=1000).contains(&ttl), "{k} TTL {ttl}");
    }
    eventually(Duration::from_secs(10), "short-list expires", || {
        (c.run("EXISTS short-list") == int(0)).then_some(())
    });
    assert_eq!(c.run("LRANGE short-list 0 -1"), arr(vec![]));
    eventually(
        Duration::from_secs(10),
        "DBSIZE drops by the expired key",
        || (c.run("DBSIZE") == int(dbsize - 1)).then_some(()),
    );
}
