//! Sorted-set commands. Scores are chosen to print the same in every Redis version (Redis 7.0
//! prints doubles with %.17g, 7.2 with the shortest round-trip form).

use std::collections::BTreeSet;
use std::time::Duration;

use kiwi_tests::*;

#[test]
fn zadd_zscore_zcard_zrem() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(
        c.run("ZADD z 5 a 4 d"),
        int(1),
        "updated members do not count"
    );
    assert_eq!(c.run("ZCARD z"), int(4));
    assert_eq!(c.run("ZCARD nokey"), int(0));
    assert_eq!(c.run("TYPE z"), status("zset"));
    assert_eq!(c.run("ZSCORE z a"), bulk("5"));
    assert_eq!(c.run("ZSCORE z nope"), nil());
    assert_eq!(c.run("ZSCORE nokey a"), nil());
    assert_eq!(
        c.run("ZMSCORE z a nope b"),
        arr(vec![bulk("5"), nil(), bulk("2")])
    );
    assert_eq!(c.run("ZMSCORE nokey a"), arr(vec![nil()]));
    assert_eq!(c.run("ZADD z 1.5 e -2.25 f"), int(2));
    assert_eq!(c.run("ZSCORE z e"), bulk("1.5"));
    assert_eq!(c.run("ZSCORE z f"), bulk("-2.25"));
    assert_eq!(c.run("ZADD z +inf top -inf bottom"), int(2));
    assert_eq!(c.run("ZSCORE z top"), bulk("inf"));
    assert_eq!(c.run("ZSCORE z bottom"), bulk("-inf"));

    assert_eq!(c.run("ZREM z top bottom nope"), int(2));
    assert_eq!(c.run("ZREM nokey a"), int(0));
    assert_eq!(c.run("ZCARD z"), int(6));
    assert_eq!(c.run("ZREM z a b c d e f"), int(6));
    assert_eq!(
        c.run("EXISTS z"),
        int(0),
        "an empty sorted set does not exist"
    );

    assert_eq!(c.run("ZADD z abc a"), err(NOT_FLOAT));
    assert_eq!(c.run("ZADD z nan a"), err(NOT_FLOAT));
    assert_eq!(c.run("ZADD z 1"), wrong_arity("zadd"));
    assert_eq!(c.run("ZADD z 1 a 2"), err(SYNTAX));
    assert_eq!(c.run("EXISTS z"), int(0), "a rejected ZADD writes nothing");
}

#[test]
fn zadd_options() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(c.run("ZADD z NX 10 a 4 d"), int(1));
    assert_eq!(c.run("ZSCORE z a"), bulk("1"), "NX does not update");
    assert_eq!(c.run("ZADD z XX 10 a 5 e"), int(0));
    assert_eq!(c.run("ZSCORE z a"), bulk("10"), "XX updates");
    assert_eq!(c.run("ZSCORE z e"), nil(), "XX does not add");
    assert_eq!(
        c.run("ZADD z CH 11 a 2 b 9 f"),
        int(2),
        "CH counts changed and added"
    );
    assert_eq!(c.run("ZADD z GT CH 1 a 6 b"), int(1));
    assert_eq!(c.run("ZSCORE z a"), bulk("11"));
    assert_eq!(c.run("ZSCORE z b"), bulk("6"));
    assert_eq!(c.run("ZADD z LT CH 20 a 5 b"), int(1));
    assert_eq!(c.run("ZSCORE z a"), bulk("11"));
    assert_eq!(c.run("ZSCORE z b"), bulk("5"));
    assert_eq!(
        c.run("ZADD z GT 1 newgt"),
        int(1),
        "GT still adds new members"
    );

    assert_eq!(c.run("ZADD z INCR 2.5 b"), bulk("7.5"));
    assert_eq!(c.run("ZADD z INCR 1 fresh"), bulk("1"));
    assert_eq!(c.run("ZADD z XX INCR 1 nope"), nil());
    assert_eq!(c.run("ZADD z NX INCR 1 a"), nil());
    assert_eq!(c.run("ZADD z GT INCR -1 a"), nil());
    assert_eq!(c.run("ZSCORE z a"), bulk("11"));

    assert_eq!(
        c.run("ZADD z NX XX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        c.run("ZADD z GT LT 1 a"),
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        c.run("ZADD z GT NX 1 a"),
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        c.run("ZADD z INCR 1 a 2 b"),
        err("ERR INCR option supports a single increment-element pair")
    );
}

#[test]
fn zincrby() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZINCRBY z 1 new"), bulk("1"));
    assert_eq!(c.run("ZINCRBY z 2.5 new"), bulk("3.5"));
    assert_eq!(c.run("ZINCRBY z -10 new"), bulk("-6.5"));
    assert_eq!(c.run("ZSCORE z new"), bulk("-6.5"));
    assert_eq!(c.run("ZINCRBY z abc new"), err(NOT_FLOAT));
    assert_eq!(c.run("ZADD z +inf inf"), int(1));
    assert_eq!(
        c.run("ZINCRBY z -inf inf"),
        err("ERR resulting score is not a number (NaN)")
    );
}

#[test]
fn zrange_by_rank_score_lex() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 a 2 b 3 c 4 d 5 e"), int(5));
    assert_eq!(c.run("ZRANGE z 0 -1"), bulks(&["a", "b", "c", "d", "e"]));
    assert_eq!(
        c.run("ZRANGE z 1 2 WITHSCORES"),
        bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(c.run("ZRANGE z -2 -1"), bulks(&["d", "e"]));
    assert_eq!(c.run("ZRANGE z 3 1"), arr(vec![]));
    assert_eq!(c.run("ZRANGE z 10 20"), arr(vec![]));
    assert_eq!(c.run("ZRANGE nokey 0 -1"), arr(vec![]));
    assert_eq!(c.run("ZRANGE z 0 1 REV"), bulks(&["e", "d"]));
    assert_eq!(
        c.run("ZREVRANGE z 0 1 WITHSCORES"),
        bulks(&["e", "5", "d", "4"])
    );

    assert_eq!(c.run("ZRANGEBYSCORE z 2 4"), bulks(&["b", "c", "d"]));
    assert_eq!(c.run("ZRANGEBYSCORE z (2 4"), bulks(&["c", "d"]));
    assert_eq!(c.run("ZRANGEBYSCORE z (2 (4"), bulks(&["c"]));
    assert_eq!(
        c.run("ZRANGEBYSCORE z -inf +inf LIMIT 1 2"),
        bulks(&["b", "c"])
    );
    assert_eq!(
        c.run("ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 4 10"),
        bulks(&["e", "5"])
    );
    assert_eq!(c.run("ZRANGEBYSCORE z 4 2"), arr(vec![]));
    assert_eq!(c.run("ZREVRANGEBYSCORE z 4 2"), bulks(&["d", "c", "b"]));
    assert_eq!(
        c.run("ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 0 1"),
        bulks(&["e", "5"])
    );
    assert_eq!(
        c.run("ZRANGE z (1 +inf BYSCORE LIMIT 1 2 WITHSCORES"),
        bulks(&["c", "3", "d", "4"])
    );
    assert_eq!(c.run("ZRANGE z 4 2 BYSCORE REV"), bulks(&["d", "c", "b"]));
    assert_eq!(
        c.run("ZRANGEBYSCORE z abc 6"),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        c.run("ZRANGE z 0 1 LIMIT 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );

    assert_eq!(c.run("ZCOUNT z -inf +inf"), int(5));
    assert_eq!(c.run("ZCOUNT z (2 4"), int(2));
    assert_eq!(c.run("ZCOUNT nokey 0 1"), int(0));

    assert_eq!(c.run("ZADD l 0 a 0 b 0 c 0 d 0 e"), int(5));
    assert_eq!(c.run("ZRANGEBYLEX l [b (d"), bulks(&["b", "c"]));
    assert_eq!(
        c.run("ZRANGEBYLEX l - +"),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(c.run("ZRANGEBYLEX l - + LIMIT 1 2"), bulks(&["b", "c"]));
    assert_eq!(c.run("ZREVRANGEBYLEX l + - LIMIT 1 2"), bulks(&["d", "c"]));
    assert_eq!(c.run("ZRANGE l [d (b BYLEX REV"), bulks(&["d", "c"]));
    assert_eq!(c.run("ZRANGE l (b [d BYLEX REV"), arr(vec![]));
    assert_eq!(c.run("ZLEXCOUNT l [b +"), int(4));
    assert_eq!(c.run("ZLEXCOUNT l - +"), int(5));
    assert_eq!(
        c.run("ZRANGEBYLEX l a c"),
        err("ERR min or max not valid string range item")
    );
}

#[test]
fn ties_order_by_member() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 b 1 a 1 c 0 z 2 y"), int(5));
    assert_eq!(c.run("ZRANGE z 0 -1"), bulks(&["z", "a", "b", "c", "y"]));
    assert_eq!(
        c.run("ZRANGE z 0 -1 REV"),
        bulks(&["y", "c", "b", "a", "z"])
    );
    assert_eq!(
        c.run("ZADD n -1 neg 0 zero -0.5 half 10 ten 9 nine"),
        int(5)
    );
    assert_eq!(
        c.run("ZRANGE n 0 -1"),
        bulks(&["neg", "half", "zero", "nine", "ten"])
    );
}

#[test]
fn zrank_zrevrank() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(c.run("ZRANK z a"), int(0));
    assert_eq!(c.run("ZRANK z c"), int(2));
    assert_eq!(c.run("ZREVRANK z c"), int(0));
    assert_eq!(c.run("ZREVRANK z a"), int(2));
    assert_eq!(c.run("ZRANK z nope"), nil());
    assert_eq!(c.run("ZRANK nokey a"), nil());
}

#[test]
fn zremrange_and_pops() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1 a 2 b 3 c 4 d 5 e 6 f"), int(6));
    assert_eq!(c.run("ZREMRANGEBYRANK z 0 0"), int(1));
    assert_eq!(c.run("ZREMRANGEBYSCORE z (2 3"), int(1));
    assert_eq!(c.run("ZRANGE z 0 -1"), bulks(&["b", "d", "e", "f"]));
    assert_eq!(c.run("ZREMRANGEBYRANK z -1 -1"), int(1));
    assert_eq!(c.run("ZRANGE z 0 -1"), bulks(&["b", "d", "e"]));
    assert_eq!(c.run("ZREMRANGEBYSCORE nokey 0 1"), int(0));

    assert_eq!(c.run("ZADD l 0 a 0 b 0 c 0 d"), int(4));
    assert_eq!(c.run("ZREMRANGEBYLEX l - [b"), int(2));
    assert_eq!(c.run("ZRANGE l 0 -1"), bulks(&["c", "d"]));

    assert_eq!(c.run("ZPOPMIN z"), bulks(&["b", "2"]));
    assert_eq!(c.run("ZPOPMAX z"), bulks(&["e", "5"]));
    assert_eq!(c.run("ZPOPMIN z 0"), arr(vec![]));
    assert_eq!(c.run("ZPOPMIN nokey"), arr(vec![]));
    assert_eq!(c.run("ZADD z 7 g 8 h"), int(2));
    assert_eq!(c.run("ZPOPMAX z 2"), bulks(&["h", "8", "g", "7"]));
    assert_eq!(c.run("ZPOPMIN z 10"), bulks(&["d", "4"]));
    assert_eq!(c.run("EXISTS z"), int(0));
    assert_eq!(
        c.run("ZPOPMIN z -1"),
        err("ERR value is out of range, must be positive")
    );
}

#[test]
fn zunionstore_zinterstore() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD a 1 x 2 y"), int(2));
    assert_eq!(c.run("ZADD b 10 y 20 z"), int(2));
    assert_eq!(c.run("ZUNIONSTORE out 2 a b"), int(3));
    assert_eq!(
        c.run("ZRANGE out 0 -1 WITHSCORES"),
        bulks(&["x", "1", "y", "12", "z", "20"])
    );
    assert_eq!(
        c.run("ZUNIONSTORE out 2 a b WEIGHTS 2 1 AGGREGATE MAX"),
        int(3)
    );
    assert_eq!(
        c.run("ZRANGE out 0 -1 WITHSCORES"),
        bulks(&["x", "2", "y", "10", "z", "20"])
    );
    assert_eq!(c.run("ZINTERSTORE out 2 a b"), int(1));
    assert_eq!(c.run("ZRANGE out 0 -1 WITHSCORES"), bulks(&["y", "12"]));
    assert_eq!(c.run("ZINTERSTORE out 2 a b AGGREGATE MIN"), int(1));
    assert_eq!(c.run("ZSCORE out y"), bulk("2"));
    assert_eq!(c.run("ZINTERSTORE out 2 a nokey"), int(0));
    assert_eq!(c.run("EXISTS out"), int(0));
    assert_eq!(
        c.run("ZUNIONSTORE out 0 a"),
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(c.run("ZUNIONSTORE out 2 a"), err(SYNTAX));
}

#[test]
fn zscan_to_completion() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("ZADD")
            .arg("big")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("ZCARD big"), int(500));
    let flat = scan_all(&mut c, &["ZSCAN", "big"], &["COUNT", "20"], 10_000);
    assert_eq!(flat.len() % 2, 0);
    let mut seen = BTreeSet::new();
    for p in flat.chunks(2) {
        let member = String::from_utf8(p[0].clone()).unwrap();
        let score = String::from_utf8(p[1].clone()).unwrap();
        assert_eq!(member, format!("m{score}"));
        seen.insert(member);
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(c.run("ZSCAN nokey 0"), arr(vec![bulk("0"), arr(vec![])]));
    assert_eq!(c.run("ZRANGE big 0 2"), bulks(&["m0", "m1", "m2"]));
    assert_eq!(
        c.run("ZRANGEBYSCORE big 250 252"),
        bulks(&["m250", "m251", "m252"])
    );
}

#[test]
fn resp3_scores_are_doubles() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 1.5 a"), int(1));
    let mut raw = s.raw_conn();
    raw.send(b"HELLO 3\r\n");
    let hello = raw.read_reply(RAW_TIMEOUT);
    assert!(
        hello.starts_with(b"%"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    raw.send(b"ZSCORE z a\r\n");
    assert_eq!(raw.read_reply(RAW_TIMEOUT), b",1.5\r\n");
    raw.send(b"ZSCORE z nope\r\n");
    assert_eq!(raw.read_reply(RAW_TIMEOUT), b"_\r\n");
    // Member/score lists are pairs in RESP3; ZPOPMIN without a count stays flat.
    assert_eq!(c.run("ZADD z 2 b 3 c"), int(2));
    raw.send(b"ZRANGE z 0 0 WITHSCORES\r\n");
    assert_eq!(
        raw.read_reply(RAW_TIMEOUT),
        b"*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n"
    );
    raw.send(b"ZPOPMIN z 1\r\n");
    assert_eq!(
        raw.read_reply(RAW_TIMEOUT),
        b"*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n"
    );
    raw.send(b"ZPOPMIN z\r\n");
    assert_eq!(raw.read_reply(RAW_TIMEOUT), b"*2\r\n$1\r\nb\r\n,2\r\n");
    raw.send(b"HSET h f v\r\n");
    raw.read_reply(RAW_TIMEOUT);
    raw.send(b"HRANDFIELD h 1 WITHVALUES\r\n");
    assert_eq!(
        raw.read_reply(RAW_TIMEOUT),
        b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    // RESP2 keeps the flat layout.
    assert_eq!(c.run("ZRANGE z 0 -1 WITHSCORES"), bulks(&["c", "3"]));
}

#[test]
fn wrong_type_and_key_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET str x"), ok());
    for cmd in [
        "ZADD str 1 a",
        "ZSCORE str a",
        "ZRANGE str 0 -1",
        "ZCARD str",
        "ZREM str a",
        "ZRANK str a",
        "ZINCRBY str 1 a",
    ] {
        assert_eq!(c.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(c.run("ZADD z 1 a 2 b"), int(2));
    assert_eq!(c.run("GET z"), err(WRONGTYPE));
    assert_eq!(c.run("SADD z x"), err(WRONGTYPE));
    assert_eq!(c.run("EXPIRE z 100"), int(1));
    assert_eq!(c.run("ZADD z 3 c"), int(1));
    assert_eq!(c.run("TTL z"), int(100));
    assert_eq!(c.run("RENAME z z2"), ok());
    assert_eq!(
        c.run("ZRANGE z2 0 -1 WITHSCORES"),
        bulks(&["a", "1", "b", "2", "c", "3"])
    );
    assert_eq!(c.run("ZSCORE z2 b"), bulk("2"));
    assert_eq!(
        c.run("ZRANGEBYSCORE z2 2 3"),
        bulks(&["b", "c"]),
        "the score index moved too"
    );
    assert_eq!(c.run("ZADD z 9 fresh"), int(1));
    assert_eq!(c.run("ZRANGE z 0 -1"), bulks(&["fresh"]));
    assert_eq!(c.run("DEL z2"), int(1));
    assert_eq!(c.run("ZADD z2 5 only"), int(1));
    assert_eq!(
        c.run("ZRANGEBYSCORE z2 -inf +inf"),
        bulks(&["only"]),
        "DEL removed the old scores"
    );
    assert_eq!(c.run("PEXPIRE z2 100"), int(1));
    eventually(Duration::from_secs(5), "zset expires", || {
        (c.run("ZCARD z2") == int(0)).then_some(())
    });
    assert_eq!(c.run("ZRANGE z2 0 -1"), arr(vec![]));
}

#[test]
fn scores_and_bounds_are_read_as_c_strtod_reads_them() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("ZADD z 0x10 hex"), int(1));
    assert_eq!(c.run("ZSCORE z hex"), bulk("16"));
    // Out of a double's range: refused as a score...
    for score in ["1e400", "-1e-400", " 1", "1 "] {
        assert_eq!(
            c.run_args(&["ZADD", "z", score, "m"]),
            err("ERR value is not a valid float"),
            "{score:?}"
        );
    }
    // ...but a bound takes what strtod gives (inf, 0), and may start with spaces.
    assert_eq!(c.run_args(&["ZCOUNT", "z", "-1e400", "1e400"]), int(1));
    assert_eq!(c.run_args(&["ZCOUNT", "z", " 1e-400", "(0x11"]), int(1));
}
