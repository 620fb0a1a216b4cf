use super::super::testing::{bulk, bulks, err, int, TestDb};
use super::*;
use crate::storage::keys::member_key;

fn d(x: f64) -> Reply {
    Reply::Double(x)
}

/// `[member, score, ...]` with scores as doubles.
fn ws(items: &[(&str, f64)]) -> Reply {
    Reply::Array(items.iter().flat_map(|(m, s)| [bulk(m), d(*s)]).collect())
}

fn empty() -> Reply {
    Reply::Array(Vec::new())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Both indexes agree with each other and with the count.
fn check_consistent(t: &TestDb, key: &str) {
    let txn = t.db.reader();
    let meta = txn.live_meta(0, key.as_bytes(), t.now_ms).unwrap();
    let Some(meta) = meta else { return };
    let prefix = member_prefix(0, key.as_bytes(), meta.version);
    let end = prefix_end(&prefix);
    let by_member: Vec<(Vec<u8>, Vec<u8>)> = txn
        .scan(Cf::ZSet, &prefix, &end, false)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    let by_score: Vec<Vec<u8>> = txn
        .scan(Cf::ZScore, &prefix, &end, false)
        .unwrap()
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(by_member.len() as u64, meta.count, "count of {key}");
    assert_eq!(by_score.len() as u64, meta.count, "score index of {key}");
    let mut expected: Vec<Vec<u8>> = by_member
        .iter()
        .map(|(k, v)| {
            let mut s = prefix.clone();
            s.extend_from_slice(v);
            s.extend_from_slice(&k[prefix.len()..]);
            s
        })
        .collect();
    expected.sort();
    assert_eq!(expected, by_score);
}

/// A plain set, written directly (the set commands live in another family).
fn make_set(t: &TestDb, key: &str, members: &[&str]) {
    let mut txn = t.db.writer();
    let mut meta = txn.create_key(0, key.as_bytes(), KeyType::Set).unwrap();
    let prefix = member_prefix(0, key.as_bytes(), meta.version);
    for m in members {
        txn.put(Cf::Set, member_key(&prefix, m.as_bytes()), Vec::new());
    }
    meta.count = members.len() as u64;
    txn.save_meta(0, key.as_bytes(), &meta).unwrap();
    t.db.commit(txn, false).unwrap();
}

fn setup() -> TestDb {
    let mut t = TestDb::new();
    t.run("zadd z 1 a 2 b 3 c 4 d 5 e");
    t.run("set str x");
    t
}

#[test]
fn zadd_basic_and_options() {
    let mut t = TestDb::new();
    assert_eq!(t.run("zadd z 1 a 2 b"), int(2));
    assert_eq!(t.run("zadd z 1 a 3 b 4 c"), int(1));
    assert_eq!(t.run("zscore z b"), d(3.0));
    assert_eq!(t.run("zadd z ch 1 a 5 b 6 d"), int(2));
    assert_eq!(t.run("zadd z nx 10 a 7 e"), int(1));
    assert_eq!(t.run("zscore z a"), d(1.0));
    assert_eq!(t.run("zadd z xx 10 a 8 f"), int(0));
    assert_eq!(t.run("zscore z a"), d(10.0));
    assert_eq!(t.run("zscore z f"), Reply::Nil);
    assert_eq!(t.run("zadd z xx ch 11 a 8 f"), int(1));
    // GT/LT only update in one direction but still add new members.
    assert_eq!(t.run("zadd z gt ch 5 a 12 b 1 g"), int(2));
    assert_eq!(t.run("zscore z a"), d(11.0));
    assert_eq!(t.run("zscore z b"), d(12.0));
    assert_eq!(t.run("zadd z lt ch 1 a 20 b"), int(1));
    assert_eq!(t.run("zscore z a"), d(1.0));
    assert_eq!(t.run("zscore z b"), d(12.0));
    // Same member twice: the second is an update.
    assert_eq!(t.run("zadd y 1 m 2 m"), int(1));
    assert_eq!(t.run("zscore y m"), d(2.0));
    assert_eq!(t.run("zadd y ch 3 m 3 m"), int(1));
    // XX on a missing key creates nothing.
    assert_eq!(t.run("zadd none xx 1 a"), int(0));
    assert_eq!(t.run("exists none"), int(0));
    assert_eq!(t.run("zadd inf -inf a +inf b"), int(2));
    assert_eq!(
        t.run("zrange inf 0 -1 withscores"),
        ws(&[("a", f64::NEG_INFINITY), ("b", f64::INFINITY)])
    );
    check_consistent(&t, "z");
    check_consistent(&t, "y");
}

#[test]
fn zadd_errors() {
    let mut t = setup();
    let e = |m: &str| err(&format!("ERR {m}"));
    assert_eq!(
        t.run("zadd z"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(
        t.run("zadd z 1"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(
        t.run("zadd z nx"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(t.run("zadd z 1 a 2"), err("ERR syntax error"));
    assert_eq!(t.run("zadd z nx xx"), err("ERR syntax error"));
    assert_eq!(
        t.run("zadd z xx nx 1 a"),
        e("XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        t.run("zadd z gt lt 1 a"),
        e("GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        t.run("zadd z nx gt 1 a"),
        e("GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        t.run("zadd z incr 1 a 2 b"),
        e("INCR option supports a single increment-element pair")
    );
    assert_eq!(t.run("zadd z x a"), e("value is not a valid float"));
    assert_eq!(t.run("zadd z 1 a nan b"), e("value is not a valid float"));
    // Scores are checked before the type, and nothing is applied on error.
    assert_eq!(t.run("zadd str x a"), e("value is not a valid float"));
    assert_eq!(t.run("zadd str 1 a"), err(WRONGTYPE));
    assert_eq!(t.run("zadd z 9 a x b"), e("value is not a valid float"));
    assert_eq!(t.run("zscore z a"), d(1.0));
}

#[test]
fn zadd_incr_and_zincrby() {
    let mut t = TestDb::new();
    assert_eq!(t.run("zadd z incr 2.5 a"), d(2.5));
    assert_eq!(t.run("zadd z incr -1 a"), d(1.5));
    assert_eq!(t.run("zadd z nx incr 1 a"), Reply::Nil);
    assert_eq!(t.run("zadd z xx incr 1 b"), Reply::Nil);
    assert_eq!(t.run("zadd z gt incr -1 a"), Reply::Nil);
    assert_eq!(t.run("zadd z gt incr 0 a"), Reply::Nil);
    assert_eq!(t.run("zadd z lt incr -1 a"), d(0.5));
    assert_eq!(t.run("zadd nokey xx incr 1 a"), Reply::Nil);
    assert_eq!(t.run("zadd z incr 0 a"), d(0.5));
    assert_eq!(t.run("zincrby z 2 a"), d(2.5));
    assert_eq!(t.run("zincrby z 3 new"), d(3.0));
    assert_eq!(
        t.run("zincrby z x a"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        t.run("zincrby z 1"),
        err("ERR wrong number of arguments for 'zincrby' command")
    );
    t.run("set str x");
    assert_eq!(t.run("zincrby str 1 a"), err(WRONGTYPE));
    assert_eq!(t.run("zadd inf inf x"), int(1));
    assert_eq!(
        t.run("zincrby inf -inf x"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(
        t.run("zadd inf incr -inf x"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(t.run("zscore inf x"), d(f64::INFINITY));
    assert_eq!(
        t.run("zrange z 0 -1 withscores"),
        ws(&[("a", 2.5), ("new", 3.0)])
    );
    check_consistent(&t, "z");
    check_consistent(&t, "inf");
}

#[test]
fn zrem_zscore_zmscore_zcard() {
    let mut t = setup();
    assert_eq!(t.run("zrem z a x b"), int(2));
    assert_eq!(t.run("zrem z a"), int(0));
    assert_eq!(t.run("zrem nokey a"), int(0));
    assert_eq!(t.run("zrem str a"), err(WRONGTYPE));
    assert_eq!(
        t.run("zrem z"),
        err("ERR wrong number of arguments for 'zrem' command")
    );
    assert_eq!(t.run("zcard z"), int(3));
    assert_eq!(t.run("zcard nokey"), int(0));
    assert_eq!(t.run("zcard str"), err(WRONGTYPE));
    assert_eq!(t.run("zscore z c"), d(3.0));
    assert_eq!(t.run("zscore z a"), Reply::Nil);
    assert_eq!(t.run("zscore nokey a"), Reply::Nil);
    assert_eq!(t.run("zscore str a"), err(WRONGTYPE));
    assert_eq!(
        t.run("zmscore z c a e"),
        Reply::Array(vec![d(3.0), Reply::Nil, d(5.0)])
    );
    assert_eq!(
        t.run("zmscore nokey a b"),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(t.run("zmscore str a"), err(WRONGTYPE));
    assert_eq!(
        t.run("zmscore z"),
        err("ERR wrong number of arguments for 'zmscore' command")
    );
    check_consistent(&t, "z");
    // Removing the last members deletes the key.
    assert_eq!(t.run("zrem z c d e"), int(3));
    assert_eq!(t.run("exists z"), int(0));
    assert_eq!(t.run("zadd z 1 a"), int(1));
    assert_eq!(t.run("zcard z"), int(1));
}

#[test]
fn zcount_and_score_bounds() {
    let mut t = setup();
    assert_eq!(t.run("zcount z -inf +inf"), int(5));
    assert_eq!(t.run("zcount z 2 4"), int(3));
    assert_eq!(t.run("zcount z (2 4"), int(2));
    assert_eq!(t.run("zcount z (2 (4"), int(1));
    assert_eq!(t.run("zcount z (3 (3"), int(0));
    assert_eq!(t.run("zcount z 3 3"), int(1));
    assert_eq!(t.run("zcount z 4 2"), int(0));
    assert_eq!(t.run("zcount z 5 +inf"), int(1));
    assert_eq!(t.run("zcount z (5 +inf"), int(0));
    // strtod rules: empty means 0, leading spaces are fine, trailing junk is not.
    assert_eq!(t.run_argv(&argv(&["zcount", "z", "", "2"])), int(2));
    assert_eq!(t.run_argv(&argv(&["zcount", "z", "(", "2"])), int(2));
    assert_eq!(t.run_argv(&argv(&["zcount", "z", " 2", "3"])), int(2));
    assert_eq!(
        t.run_argv(&argv(&["zcount", "z", "  ", "3"])),
        err("ERR min or max is not a float")
    );
    assert_eq!(t.run("zcount z 1x 3"), err("ERR min or max is not a float"));
    assert_eq!(
        t.run("zcount z nan 3"),
        err("ERR min or max is not a float")
    );
    assert_eq!(t.run("zcount z [1 3"), err("ERR min or max is not a float"));
    assert_eq!(t.run("zcount nokey 0 1"), int(0));
    assert_eq!(t.run("zcount str 0 1"), err(WRONGTYPE));
    assert_eq!(
        t.run("zcount str x 1"),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        t.run("zcount z 0"),
        err("ERR wrong number of arguments for 'zcount' command")
    );
    // Negative scores and zero sort correctly.
    t.run("zadd n -2 a -1.5 b 0 c -0 d 1e-300 e");
    assert_eq!(t.run("zcount n -inf (0"), int(2));
    assert_eq!(t.run("zcount n 0 0"), int(2));
    assert_eq!(
        t.run("zrangebyscore n -inf +inf"),
        bulks(&["a", "b", "c", "d", "e"])
    );
}

fn argv(items: &[&str]) -> Vec<Bytes> {
    items
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect()
}

#[test]
fn zrange_by_rank() {
    let mut t = setup();
    assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "b", "c", "d", "e"]));
    assert_eq!(
        t.run("zrange z 1 2 withscores"),
        ws(&[("b", 2.0), ("c", 3.0)])
    );
    assert_eq!(t.run("zrange z -2 -1"), bulks(&["d", "e"]));
    assert_eq!(
        t.run("zrange z -100 100"),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(t.run("zrange z 3 1"), empty());
    assert_eq!(t.run("zrange z 5 10"), empty());
    assert_eq!(t.run("zrange z 0 -6"), empty());
    assert_eq!(t.run("zrange z 4 4"), bulks(&["e"]));
    assert_eq!(t.run("zrange z 0 1 rev"), bulks(&["e", "d"]));
    assert_eq!(
        t.run("zrange z 3 -1 rev withscores"),
        ws(&[("b", 2.0), ("a", 1.0)])
    );
    assert_eq!(t.run("zrevrange z 0 1"), bulks(&["e", "d"]));
    assert_eq!(
        t.run("zrevrange z 1 3 withscores"),
        ws(&[("d", 4.0), ("c", 3.0), ("b", 2.0)])
    );
    assert_eq!(t.run("zrevrange z -1 -1"), bulks(&["a"]));
    assert_eq!(t.run("zrange nokey 0 -1"), empty());
    assert_eq!(t.run("zrange str 0 -1"), err(WRONGTYPE));
    assert_eq!(
        t.run("zrange z x 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("zrange z 0 1 foo"), err("ERR syntax error"));
    assert_eq!(t.run("zrevrange z 0 1 rev"), err("ERR syntax error"));
    assert_eq!(t.run("zrevrange z 0 1 byscore"), err("ERR syntax error"));
    assert_eq!(
        t.run("zrange z 0 -1 limit 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    // Redis only notices LIMIT when the count is not -1.
    assert_eq!(
        t.run("zrange z 0 -1 limit 0 -1"),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        t.run("zrange z 0"),
        err("ERR wrong number of arguments for 'zrange' command")
    );
}

#[test]
fn rank_ranges_walk_from_either_end() {
    let mut t = TestDb::new();
    let mut cmd = String::from("zadd big");
    for i in 0..200 {
        cmd.push_str(&format!(" {i} m{i:03}"));
    }
    t.run(&cmd);
    let names = |r: std::ops::RangeInclusive<i32>| -> Vec<String> {
        r.map(|i| format!("m{i:03}")).collect()
    };
    let want = |v: Vec<String>| Reply::bulks(v.into_iter().map(Bytes::from));
    assert_eq!(t.run("zrange big 190 195"), want(names(190..=195)));
    assert_eq!(t.run("zrange big 3 5"), want(names(3..=5)));
    assert_eq!(t.run("zrange big -3 -1"), want(names(197..=199)));
    let mut rev = names(4..=9);
    rev.reverse();
    assert_eq!(t.run("zrevrange big 190 195"), want(rev));
    let mut rev = names(195..=199);
    rev.reverse();
    assert_eq!(t.run("zrevrange big 0 4"), want(rev));
    for (m, r) in [("m000", 0), ("m057", 57), ("m150", 150), ("m199", 199)] {
        assert_eq!(t.run(&format!("zrank big {m}")), int(r));
        assert_eq!(t.run(&format!("zrevrank big {m}")), int(199 - r));
    }
    assert_eq!(t.run("zremrangebyrank big 10 189"), int(180));
    assert_eq!(t.run("zcard big"), int(20));
    assert_eq!(t.run("zrank big m195"), int(15));
    check_consistent(&t, "big");
}

#[test]
fn zrange_by_score() {
    let mut t = setup();
    assert_eq!(t.run("zrange z 2 4 byscore"), bulks(&["b", "c", "d"]));
    assert_eq!(
        t.run("zrange z (2 4 byscore withscores"),
        ws(&[("c", 3.0), ("d", 4.0)])
    );
    assert_eq!(
        t.run("zrange z -inf +inf byscore limit 1 2"),
        bulks(&["b", "c"])
    );
    assert_eq!(t.run("zrange z 4 2 byscore rev"), bulks(&["d", "c", "b"]));
    assert_eq!(t.run("zrange z 2 4 byscore rev"), empty());
    assert_eq!(
        t.run("zrange z +inf -inf byscore rev limit 1 2"),
        bulks(&["d", "c"])
    );
    assert_eq!(
        t.run("zrange z (5 (1 byscore rev limit 0 10 withscores"),
        ws(&[("d", 4.0), ("c", 3.0), ("b", 2.0)])
    );
    assert_eq!(t.run("zrangebyscore z 2 4"), bulks(&["b", "c", "d"]));
    assert_eq!(
        t.run("zrangebyscore z (1 (5 withscores limit 1 1"),
        ws(&[("c", 3.0)])
    );
    assert_eq!(
        t.run("zrangebyscore z -inf +inf limit 1 -1"),
        bulks(&["b", "c", "d", "e"])
    );
    assert_eq!(t.run("zrangebyscore z -inf +inf limit -1 5"), empty());
    assert_eq!(t.run("zrangebyscore z -inf +inf limit 0 0"), empty());
    assert_eq!(t.run("zrangebyscore z -inf +inf limit 5 1"), empty());
    assert_eq!(t.run("zrangebyscore z (3 (3"), empty());
    assert_eq!(t.run("zrangebyscore z 3 3"), bulks(&["c"]));
    assert_eq!(t.run("zrevrangebyscore z 4 2"), bulks(&["d", "c", "b"]));
    assert_eq!(
        t.run("zrevrangebyscore z +inf (4 withscores"),
        ws(&[("e", 5.0)])
    );
    assert_eq!(
        t.run("zrevrangebyscore z +inf -inf limit 2 2"),
        bulks(&["c", "b"])
    );
    assert_eq!(t.run("zrevrangebyscore z 2 4"), empty());
    assert_eq!(t.run("zrangebyscore z 0 1 rev"), err("ERR syntax error"));
    assert_eq!(t.run("zrangebyscore z 0 1 bylex"), err("ERR syntax error"));
    assert_eq!(
        t.run("zrangebyscore z 0 1 limit 0"),
        err("ERR syntax error")
    );
    assert_eq!(
        t.run("zrangebyscore z 0 1 limit x 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("zrangebyscore z x 1"),
        err("ERR min or max is not a float")
    );
    assert_eq!(t.run("zrangebyscore str 0 1"), err(WRONGTYPE));
    assert_eq!(
        t.run("zrangebyscore str x 1"),
        err("ERR min or max is not a float")
    );
    assert_eq!(t.run("zrangebyscore nokey 0 1"), empty());
    assert_eq!(t.run("zrange z - + byscore bylex"), err("ERR syntax error"));
    // Members with the same score are ordered by member.
    t.run("zadd same 1 c 1 a 1 b 0 z");
    assert_eq!(t.run("zrangebyscore same 1 1"), bulks(&["a", "b", "c"]));
    assert_eq!(t.run("zrevrangebyscore same 1 1"), bulks(&["c", "b", "a"]));
}

#[test]
fn lex_ranges() {
    let mut t = TestDb::new();
    t.run("zadd l 0 a 0 b 0 c 0 d 0 e 0 ab 0 ba");
    t.run("set str x");
    assert_eq!(
        t.run("zrangebylex l - +"),
        bulks(&["a", "ab", "b", "ba", "c", "d", "e"])
    );
    assert_eq!(t.run("zrangebylex l [b [d"), bulks(&["b", "ba", "c", "d"]));
    assert_eq!(t.run("zrangebylex l (b (d"), bulks(&["ba", "c"]));
    assert_eq!(t.run("zrangebylex l [a (b"), bulks(&["a", "ab"]));
    assert_eq!(t.run("zrangebylex l (a [ab"), bulks(&["ab"]));
    assert_eq!(t.run("zrangebylex l - (b"), bulks(&["a", "ab"]));
    assert_eq!(t.run("zrangebylex l (d +"), bulks(&["e"]));
    assert_eq!(
        t.run("zrangebylex l - + limit 2 3"),
        bulks(&["b", "ba", "c"])
    );
    assert_eq!(t.run("zrangebylex l - + limit -1 3"), empty());
    assert_eq!(t.run("zrangebylex l + -"), empty());
    assert_eq!(t.run("zrangebylex l - -"), empty());
    assert_eq!(t.run("zrangebylex l [c [c"), bulks(&["c"]));
    assert_eq!(t.run("zrangebylex l (c [c"), empty());
    assert_eq!(t.run("zrangebylex l [d [b"), empty());
    assert_eq!(
        t.run("zrevrangebylex l + -"),
        bulks(&["e", "d", "c", "ba", "b", "ab", "a"])
    );
    assert_eq!(
        t.run("zrevrangebylex l [d (b limit 1 2"),
        bulks(&["c", "ba"])
    );
    assert_eq!(t.run("zrange l [d (b bylex rev"), bulks(&["d", "c", "ba"]));
    assert_eq!(t.run("zrange l (b [d bylex limit 1 1"), bulks(&["c"]));
    assert_eq!(
        t.run("zrangebylex l - + withscores"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        t.run("zrange l - + bylex withscores"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    let bad = err("ERR min or max not valid string range item");
    assert_eq!(t.run("zrangebylex l a [b"), bad);
    assert_eq!(t.run("zrangebylex l [a +x"), bad);
    assert_eq!(t.run("zrangebylex l -a +"), bad);
    assert_eq!(t.run_argv(&argv(&["zrangebylex", "l", "", "+"])), bad);
    assert_eq!(t.run("zlexcount l a b"), bad);
    assert_eq!(t.run("zlexcount l - +"), int(7));
    assert_eq!(t.run("zlexcount l [b (c"), int(2));
    assert_eq!(t.run("zlexcount l + -"), int(0));
    assert_eq!(t.run("zlexcount nokey - +"), int(0));
    assert_eq!(t.run("zlexcount str - +"), err(WRONGTYPE));
    assert_eq!(t.run("zrangebylex str - +"), err(WRONGTYPE));
    assert_eq!(t.run("zrangebylex nokey - +"), empty());
    // Empty-string members and bounds.
    t.run("zadd e 0 '' 0 a");
    assert_eq!(t.run("zrangebylex e - ["), bulks(&[""]));
    assert_eq!(t.run("zrangebylex e ( +"), bulks(&["a"]));
    assert_eq!(t.run("zremrangebylex l [b (c"), int(2));
    assert_eq!(
        t.run("zrangebylex l - +"),
        bulks(&["a", "ab", "c", "d", "e"])
    );
    assert_eq!(t.run("zremrangebylex l x +"), bad);
    assert_eq!(t.run("zremrangebylex nokey - +"), int(0));
    assert_eq!(t.run("zremrangebylex str - +"), err(WRONGTYPE));
    assert_eq!(t.run("zremrangebylex l - +"), int(5));
    assert_eq!(t.run("exists l"), int(0));
}

#[test]
fn lex_ranges_with_mixed_scores_walk_like_redis() {
    let mut t = TestDb::new();
    // Order by score: b(0) d(1) a(2) c(3). Redis walks from the first member >= min and
    // stops at the first member > max.
    t.run("zadd m 0 b 1 d 2 a 3 c");
    assert_eq!(t.run("zrangebylex m - +"), bulks(&["b", "d", "a", "c"]));
    assert_eq!(t.run("zrangebylex m [b [c"), bulks(&["b"]));
    assert_eq!(t.run("zrevrangebylex m + [c"), bulks(&["c"]));
}

#[test]
fn zrank_and_withscore() {
    let mut t = setup();
    assert_eq!(t.run("zrank z a"), int(0));
    assert_eq!(t.run("zrank z c"), int(2));
    assert_eq!(t.run("zrank z e"), int(4));
    assert_eq!(t.run("zrevrank z e"), int(0));
    assert_eq!(t.run("zrevrank z a"), int(4));
    assert_eq!(t.run("zrank z x"), Reply::Nil);
    assert_eq!(t.run("zrank nokey x"), Reply::Nil);
    assert_eq!(
        t.run("zrank z c withscore"),
        Reply::Array(vec![int(2), d(3.0)])
    );
    assert_eq!(
        t.run("zrevrank z c WITHSCORE"),
        Reply::Array(vec![int(2), d(3.0)])
    );
    assert_eq!(t.run("zrank z x withscore"), Reply::NilArray);
    assert_eq!(t.run("zrank nokey x withscore"), Reply::NilArray);
    assert_eq!(t.run("zrank z a foo"), err("ERR syntax error"));
    assert_eq!(
        t.run("zrank z a withscore x"),
        err("ERR wrong number of arguments for 'zrank' command")
    );
    assert_eq!(
        t.run("zrevrank z a withscore x"),
        err("ERR wrong number of arguments for 'zrevrank' command")
    );
    assert_eq!(
        t.run("zrank z"),
        err("ERR wrong number of arguments for 'zrank' command")
    );
    assert_eq!(t.run("zrank str a"), err(WRONGTYPE));
}

#[test]
fn zremrange_by_rank_and_score() {
    let mut t = setup();
    assert_eq!(t.run("zremrangebyrank z 1 2"), int(2));
    assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "d", "e"]));
    assert_eq!(t.run("zremrangebyrank z -1 -1"), int(1));
    assert_eq!(t.run("zremrangebyrank z 5 10"), int(0));
    assert_eq!(t.run("zremrangebyrank z 1 0"), int(0));
    assert_eq!(
        t.run("zremrangebyrank z x 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("zremrangebyrank nokey 0 -1"), int(0));
    assert_eq!(t.run("zremrangebyrank str 0 -1"), err(WRONGTYPE));
    assert_eq!(t.run("zremrangebyrank z 0 -1"), int(2));
    assert_eq!(t.run("exists z"), int(0));

    t.run("zadd z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(t.run("zremrangebyscore z (1 3"), int(2));
    assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "d", "e"]));
    assert_eq!(t.run("zremrangebyscore z (4 (5"), int(0));
    assert_eq!(
        t.run("zremrangebyscore z x 1"),
        err("ERR min or max is not a float")
    );
    assert_eq!(t.run("zremrangebyscore nokey 0 1"), int(0));
    assert_eq!(t.run("zremrangebyscore str 0 1"), err(WRONGTYPE));
    assert_eq!(
        t.run("zremrangebyscore z 1"),
        err("ERR wrong number of arguments for 'zremrangebyscore' command")
    );
    check_consistent(&t, "z");
    assert_eq!(t.run("zremrangebyscore z -inf +inf"), int(3));
    assert_eq!(t.run("exists z"), int(0));
}

#[test]
fn zpop() {
    let mut t = setup();
    assert_eq!(t.run("zpopmin z"), ws(&[("a", 1.0)]));
    assert_eq!(t.run("zpopmax z"), ws(&[("e", 5.0)]));
    assert_eq!(t.run("zpopmin z 2"), ws(&[("b", 2.0), ("c", 3.0)]));
    assert_eq!(t.run("zpopmin z 0"), empty());
    assert_eq!(t.run("zpopmax z 10"), ws(&[("d", 4.0)]));
    assert_eq!(t.run("exists z"), int(0));
    assert_eq!(t.run("zpopmin z"), empty());
    assert_eq!(t.run("zpopmin nokey 3"), empty());
    let range = err("ERR value is out of range, must be positive");
    assert_eq!(t.run("zpopmin z -1"), range);
    assert_eq!(t.run("zpopmax z x"), range);
    assert_eq!(t.run("zpopmin z 1 2"), err("ERR syntax error"));
    assert_eq!(t.run("zpopmin str"), err(WRONGTYPE));
    assert_eq!(t.run("zpopmin str 0"), err(WRONGTYPE));
    assert_eq!(
        t.run("zpopmin"),
        err("ERR wrong number of arguments for 'zpopmin' command")
    );
    t.run("zadd y 1 a 1 b 2 c");
    assert_eq!(t.run("zpopmax y 2"), ws(&[("c", 2.0), ("b", 1.0)]));
    check_consistent(&t, "y");
}

#[test]
fn zscan_pages() {
    let mut t = TestDb::new();
    let mut cmd = String::from("zadd z");
    for i in 0..25 {
        cmd.push_str(&format!(" {i}.5 m{i:02}"));
    }
    t.run(&cmd);
    t.run("set str x");
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let Reply::Array(parts) = t.run(&format!("zscan z {cursor} count 7")) else {
            panic!()
        };
        let Reply::Bulk(next) = &parts[0] else {
            panic!()
        };
        let Reply::Array(items) = &parts[1] else {
            panic!()
        };
        for pair in items.chunks(2) {
            let (Reply::Bulk(m), Reply::Bulk(s)) = (&pair[0], &pair[1]) else {
                panic!()
            };
            seen.push((
                String::from_utf8(m.to_vec()).unwrap(),
                String::from_utf8(s.to_vec()).unwrap(),
            ));
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[3], ("m03".to_string(), "3.5".to_string()));
    assert_eq!(
        t.run("zscan z 0 match m1* count 100"),
        Reply::Array(vec![
            bulk("0"),
            Reply::Array(
                (10..20)
                    .flat_map(|i| [bulk(&format!("m{i}")), bulk(&format!("{i}.5"))])
                    .collect()
            )
        ])
    );
    assert_eq!(
        t.run("zscan nokey 0"),
        Reply::Array(vec![bulk("0"), empty()])
    );
    assert_eq!(
        t.run("zscan nokey 0 count 0"),
        Reply::Array(vec![bulk("0"), empty()])
    );
    assert_eq!(t.run("zscan z x"), err("ERR invalid cursor"));
    assert_eq!(t.run("zscan str x"), err("ERR invalid cursor"));
    assert_eq!(t.run("zscan str 0"), err(WRONGTYPE));
    assert_eq!(t.run("zscan z 0 count 0"), err("ERR syntax error"));
    assert_eq!(t.run("zscan z 0 novalues"), err("ERR syntax error"));
    assert_eq!(
        t.run("zscan z"),
        err("ERR wrong number of arguments for 'zscan' command")
    );
}

#[test]
fn union_and_inter_store() {
    let mut t = TestDb::new();
    t.run("zadd z1 1 a 2 b 3 c");
    t.run("zadd z2 10 b 20 c 30 d");
    make_set(&t, "s", &["c", "d", "e"]);
    t.run("set str x");
    assert_eq!(t.run("zunionstore out 2 z1 z2"), int(4));
    assert_eq!(
        t.run("zrange out 0 -1 withscores"),
        ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)])
    );
    assert_eq!(t.run("zinterstore out 2 z1 z2"), int(2));
    assert_eq!(
        t.run("zrange out 0 -1 withscores"),
        ws(&[("b", 12.0), ("c", 23.0)])
    );
    assert_eq!(
        t.run("zinterstore out 2 z1 z2 weights 2 0.5 aggregate max"),
        int(2)
    );
    assert_eq!(
        t.run("zrange out 0 -1 withscores"),
        ws(&[("b", 5.0), ("c", 10.0)])
    );
    assert_eq!(t.run("zunionstore out 2 z1 z2 aggregate min"), int(4));
    assert_eq!(
        t.run("zrange out 0 -1 withscores"),
        ws(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 30.0)])
    );
    // Plain sets count as score 1.
    assert_eq!(t.run("zunionstore out 2 z1 s"), int(5));
    assert_eq!(
        t.run("zrange out 0 -1 withscores"),
        ws(&[("a", 1.0), ("d", 1.0), ("e", 1.0), ("b", 2.0), ("c", 4.0)])
    );
    assert_eq!(t.run("zinterstore out 3 z1 z2 s weights 1 1 100"), int(1));
    assert_eq!(t.run("zrange out 0 -1 withscores"), ws(&[("c", 123.0)]));
    // Missing keys are empty sets; an empty result deletes the destination.
    assert_eq!(t.run("zunionstore out 2 nokey z1"), int(3));
    assert_eq!(t.run("zinterstore out 2 nokey z1"), int(0));
    assert_eq!(t.run("exists out"), int(0));
    t.run("set out x");
    assert_eq!(t.run("zinterstore out 2 z1 nokey"), int(0));
    assert_eq!(t.run("exists out"), int(0));
    // The destination may be a source; its TTL and old type are replaced.
    t.run("set dst x");
    t.run("expire dst 100");
    assert_eq!(t.run("zunionstore dst 1 z1"), int(3));
    assert_eq!(t.run("ttl dst"), int(-1));
    assert_eq!(t.run("zunionstore z1 2 z1 z2"), int(4));
    assert_eq!(
        t.run("zrange z1 0 -1 withscores"),
        ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)])
    );
    check_consistent(&t, "z1");
    check_consistent(&t, "dst");
    // inf + -inf is 0 under SUM; weight 0 * inf is 0.
    t.run("zadd pinf +inf x");
    t.run("zadd ninf -inf x");
    assert_eq!(t.run("zunionstore out 2 pinf ninf"), int(1));
    assert_eq!(t.run("zscore out x"), d(0.0));
    assert_eq!(t.run("zinterstore out 2 pinf ninf"), int(1));
    assert_eq!(t.run("zscore out x"), d(0.0));
    assert_eq!(t.run("zunionstore out 1 pinf weights 0"), int(1));
    assert_eq!(t.run("zscore out x"), d(0.0));
    assert_eq!(t.run("zinterstore out 2 pinf ninf aggregate max"), int(1));
    assert_eq!(t.run("zscore out x"), d(f64::INFINITY));
}

#[test]
fn set_operation_errors() {
    let mut t = TestDb::new();
    t.run("zadd z 1 a");
    t.run("set str x");
    assert_eq!(
        t.run("zunionstore out 0 z"),
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(
        t.run("zinterstore out -1 z"),
        err("ERR at least 1 input key is needed for 'zinterstore' command")
    );
    assert_eq!(
        t.run("zunionstore out x z"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("zunionstore out 2 z"), err("ERR syntax error"));
    assert_eq!(
        t.run("zunionstore out 1 z weights"),
        err("ERR syntax error")
    );
    assert_eq!(
        t.run("zunionstore out 1 z weights x"),
        err("ERR weight value is not a float")
    );
    assert_eq!(
        t.run("zunionstore out 1 z aggregate avg"),
        err("ERR syntax error")
    );
    assert_eq!(
        t.run("zunionstore out 1 z aggregate"),
        err("ERR syntax error")
    );
    assert_eq!(
        t.run("zunionstore out 1 z withscores"),
        err("ERR syntax error")
    );
    assert_eq!(t.run("zunionstore out 2 str z weights x"), err(WRONGTYPE));
    assert_eq!(t.run("zinterstore out 2 z str"), err(WRONGTYPE));
    assert_eq!(
        t.run("zunionstore out 1"),
        err("ERR wrong number of arguments for 'zunionstore' command")
    );
    assert_eq!(
        t.run("zdiffstore out 1 z weights 1"),
        err("ERR syntax error")
    );
    assert_eq!(
        t.run("zintercard 0 z"),
        err("ERR at least 1 input key is needed for 'zintercard' command")
    );
    assert_eq!(
        t.run("zintercard 1 z limit -1"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        t.run("zintercard 1 z limit x"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(t.run("zintercard 1 z withscores"), err("ERR syntax error"));
    assert_eq!(t.run("exists out"), int(0));
}

#[test]
fn union_inter_diff_replies() {
    let mut t = TestDb::new();
    t.run("zadd z1 1 a 2 b 3 c");
    t.run("zadd z2 10 b 20 c 30 d");
    make_set(&t, "s", &["a"]);
    assert_eq!(t.run("zunion 2 z1 z2"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(
        t.run("zunion 1 z1 weights 2 withscores"),
        ws(&[("a", 2.0), ("b", 4.0), ("c", 6.0)])
    );
    assert_eq!(
        t.run("zinter 2 z1 z2 withscores"),
        ws(&[("b", 12.0), ("c", 23.0)])
    );
    assert_eq!(t.run("zdiff 2 z1 z2 withscores"), ws(&[("a", 1.0)]));
    assert_eq!(t.run("zdiff 3 z1 s nokey"), bulks(&["b", "c"]));
    assert_eq!(t.run("zdiff 1 nokey"), empty());
    assert_eq!(t.run("zdiffstore out 2 z2 z1"), int(1));
    assert_eq!(t.run("zrange out 0 -1 withscores"), ws(&[("d", 30.0)]));
    assert_eq!(t.run("zintercard 2 z1 z2"), int(2));
    assert_eq!(t.run("zintercard 2 z1 z2 limit 1"), int(1));
    assert_eq!(t.run("zintercard 2 z1 z2 limit 0"), int(2));
    assert_eq!(t.run("zintercard 2 z1 nokey"), int(0));
    // Ordered by score, then member.
    t.run("zadd z3 5 y 5 x 1 z");
    assert_eq!(t.run("zunion 1 z3"), bulks(&["z", "x", "y"]));
}

#[test]
fn zrangestore() {
    let mut t = setup();
    assert_eq!(t.run("zrangestore dst z 1 2"), int(2));
    assert_eq!(
        t.run("zrange dst 0 -1 withscores"),
        ws(&[("b", 2.0), ("c", 3.0)])
    );
    assert_eq!(t.run("zrangestore dst z (3 +inf byscore"), int(2));
    assert_eq!(t.run("zrange dst 0 -1"), bulks(&["d", "e"]));
    assert_eq!(
        t.run("zrangestore dst z +inf -inf byscore rev limit 0 1"),
        int(1)
    );
    assert_eq!(t.run("zrange dst 0 -1"), bulks(&["e"]));
    assert_eq!(t.run("zrangestore dst z [b [c bylex"), int(2));
    assert_eq!(t.run("zrangestore dst z [x + bylex"), int(0));
    assert_eq!(t.run("exists dst"), int(0));
    assert_eq!(
        t.run("zrangestore dst z 0 -1 withscores"),
        err("ERR syntax error")
    );
    assert_eq!(t.run("zrangestore dst str 0 -1"), err(WRONGTYPE));
    assert_eq!(t.run("zrangestore dst nokey 0 -1"), int(0));
    assert_eq!(t.run("zrangestore z z 0 1"), int(2));
    assert_eq!(t.run("zrange z 0 -1"), bulks(&["a", "b"]));
    check_consistent(&t, "z");
}

#[test]
fn expired_and_retyped_keys() {
    let mut t = setup();
    t.run("pexpire z 10");
    t.now_ms += 20;
    assert_eq!(t.run("zcard z"), int(0));
    assert_eq!(t.run("zscore z a"), Reply::Nil);
    assert_eq!(t.run("zadd z 7 q"), int(1));
    assert_eq!(t.run("zrange z 0 -1 withscores"), ws(&[("q", 7.0)]));
    check_consistent(&t, "z");
    // A surviving TTL is kept by updates.
    t.run("expire z 100");
    t.run("zadd z 8 q 9 r");
    t.run("zrem z r");
    assert_eq!(t.run("ttl z"), int(100));
}

#[test]
fn scores_format_like_redis() {
    let mut t = TestDb::new();
    t.run("zadd z 0.1 a 1e20 b -3 c 2.50 d");
    let Reply::Array(parts) = t.run("zscan z 0") else {
        panic!()
    };
    assert_eq!(
        parts[1],
        Reply::Array(vec![
            bulk("a"),
            bulk("0.1"),
            bulk("b"),
            bulk("1e+20"),
            bulk("c"),
            bulk("-3"),
            bulk("d"),
            bulk("2.5")
        ])
    );
}

#[test]
fn command_table_shapes() {
    for spec in COMMANDS {
        assert!(
            super::super::lookup(spec.name.as_bytes()).is_some(),
            "{}",
            spec.name
        );
    }
    let zadd = super::super::lookup(b"ZADD").unwrap();
    assert!(zadd.is_write() && zadd.arity == -4);
    assert!(!super::super::lookup(b"zrange").unwrap().is_write());
}

#[test]
fn blocking_zset_pops_pop_what_is_there_or_answer_as_timed_out() {
    let mut t = TestDb::new();
    t.run("ZADD z 1 a 2 b 3 c");
    t.run("SET s str");
    let popped =
        |key: &str, member: &str, score: f64| Reply::Array(vec![bulk(key), bulk(member), d(score)]);
    assert_eq!(t.run("BZPOPMIN none z 0"), popped("z", "a", 1.0));
    assert_eq!(t.run("BZPOPMAX z 0.5"), popped("z", "c", 3.0));
    assert_eq!(t.run("BZPOPMIN none 0"), Reply::NilArray);
    assert_eq!(t.run("BZPOPMIN s z 0"), err(WRONGTYPE));
    assert_eq!(t.run("BZPOPMIN z -1"), err("ERR timeout is negative"));
    assert_eq!(t.run("BZPOPMAX z 0"), popped("z", "b", 2.0));
    assert_eq!(t.run("EXISTS z"), int(0));
    check_consistent(&t, "z");
}

#[test]
fn zmpop_and_bzmpop_nest_their_pairs() {
    let mut t = TestDb::new();
    t.run("ZADD z 1 a 2 b 3 c 4 d");
    let popped = |key: &str, pairs: &[(&str, f64)]| {
        Reply::Array(vec![
            bulk(key),
            Reply::Array(
                pairs
                    .iter()
                    .map(|(m, s)| Reply::Array(vec![bulk(m), d(*s)]))
                    .collect(),
            ),
        ])
    };
    assert_eq!(t.run("ZMPOP 2 none z MIN"), popped("z", &[("a", 1.0)]));
    assert_eq!(
        t.run("ZMPOP 1 z MAX COUNT 2"),
        popped("z", &[("d", 4.0), ("c", 3.0)])
    );
    assert_eq!(
        t.run("BZMPOP 0 1 z min COUNT 5"),
        popped("z", &[("b", 2.0)])
    );
    assert_eq!(t.run("ZMPOP 1 z MIN"), Reply::NilArray);
    assert_eq!(t.run("BZMPOP 0.1 1 z MAX"), Reply::NilArray);
    for (line, want) in [
        ("ZMPOP 0 z MIN", "ERR numkeys should be greater than 0"),
        ("ZMPOP 1 z LEFT", "ERR syntax error"),
        (
            "ZMPOP 1 z MIN COUNT -1",
            "ERR count should be greater than 0",
        ),
        (
            "BZMPOP x 1 z MIN",
            "ERR timeout is not a float or out of range",
        ),
    ] {
        assert_eq!(t.run(line), err(want), "{line}");
    }
    check_consistent(&t, "z");
}
