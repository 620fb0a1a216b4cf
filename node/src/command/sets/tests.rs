use crate::command::testing::{bulk, bulks, err, int, TestDb};
use crate::resp::Reply;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn set(items: &[&str]) -> Reply {
    Reply::Set(items.iter().map(|s| bulk(s)).collect())
}

/// The members of a Set or Array reply, as strings.
fn strings(reply: &Reply) -> Vec<String> {
    let (Reply::Set(items) | Reply::Array(items)) = reply else {
        panic!("not a collection: {reply:?}")
    };
    items
        .iter()
        .map(|r| match r {
            Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn sadd_srem_scard_sismember() {
    let mut t = TestDb::new();
    assert_eq!(
        t.run("SADD s b a c a"),
        int(3),
        "duplicates in one call count once"
    );
    assert_eq!(t.run("SADD s a d"), int(1));
    assert_eq!(t.run("SCARD s"), int(4));
    assert_eq!(t.run("SCARD missing"), int(0));
    assert_eq!(t.run("TYPE s"), Reply::Simple("set".into()));
    assert_eq!(t.run("SISMEMBER s a"), int(1));
    assert_eq!(t.run("SISMEMBER s zz"), int(0));
    assert_eq!(t.run("SISMEMBER missing a"), int(0));
    assert_eq!(
        t.run("SMISMEMBER s a zz d a"),
        Reply::Array(vec![int(1), int(0), int(1), int(1)])
    );
    assert_eq!(
        t.run("SMISMEMBER missing a b"),
        Reply::Array(vec![int(0), int(0)])
    );
    assert_eq!(t.run("SREM s a zz a"), int(1));
    assert_eq!(t.run("SREM missing a"), int(0));
    assert_eq!(t.run("SCARD s"), int(3));
    assert_eq!(t.run("SREM s b c d"), int(3));
    assert_eq!(t.run("EXISTS s"), int(0), "an emptied set is deleted");
    assert_eq!(
        t.run("SADD e \"\""),
        int(1),
        "the empty string is a member like any other"
    );
    assert_eq!(t.run("SISMEMBER e \"\""), int(1));
    assert_eq!(t.run("SMEMBERS e"), set(&[""]));
}

#[test]
fn smembers_in_member_order() {
    let mut t = TestDb::new();
    t.run("SADD s c a b");
    assert_eq!(t.run("SMEMBERS s"), set(&["a", "b", "c"]));
    assert_eq!(t.run("SMEMBERS missing"), set(&[]));
}

#[test]
fn every_command_rejects_other_types() {
    let mut t = TestDb::new();
    t.run("SET str x");
    t.run("SADD s a");
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 0",
        "SRANDMEMBER str",
        "SRANDMEMBER str -1",
        "SMOVE str s a",
        "SMOVE s str a",
        "SINTER s str",
        "SINTER missing str",
        "SUNION str missing",
        "SDIFF missing str",
        "SDIFF s missing str",
        "SINTERSTORE d missing str",
        "SUNIONSTORE d s str",
        "SDIFFSTORE d str",
        "SINTERCARD 2 missing str",
        "SSCAN str 0",
        "SSCAN str 0 BADOPTION",
    ] {
        assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(
        t.run("EXISTS d"),
        int(0),
        "a failed *STORE leaves the destination alone"
    );
    assert_eq!(t.run("GET str"), bulk("x"));
}

#[test]
fn arity_is_checked() {
    let mut t = TestDb::new();
    for (cmd, name) in [
        ("SADD s", "sadd"),
        ("SREM s", "srem"),
        ("SMEMBERS", "smembers"),
        ("SMEMBERS a b", "smembers"),
        ("SISMEMBER s", "sismember"),
        ("SMISMEMBER s", "smismember"),
        ("SCARD", "scard"),
        ("SPOP", "spop"),
        ("SRANDMEMBER", "srandmember"),
        ("SMOVE a b", "smove"),
        ("SINTER", "sinter"),
        ("SUNION", "sunion"),
        ("SDIFF", "sdiff"),
        ("SINTERSTORE d", "sinterstore"),
        ("SUNIONSTORE d", "sunionstore"),
        ("SDIFFSTORE d", "sdiffstore"),
        ("SINTERCARD 1", "sintercard"),
        ("SSCAN s", "sscan"),
    ] {
        assert_eq!(
            t.run(cmd),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{cmd}"
        );
    }
}

#[test]
fn spop_without_count() {
    let mut t = TestDb::new();
    assert_eq!(t.run("SPOP missing"), Reply::Nil);
    t.run("SADD s a b c");
    t.run("EXPIRE s 100");
    let mut popped = Vec::new();
    for left in [2, 1] {
        let Reply::Bulk(m) = t.run("SPOP s") else {
            panic!()
        };
        popped.push(String::from_utf8(m.to_vec()).unwrap());
        assert_eq!(t.run("SCARD s"), int(left));
        assert_eq!(t.run("TTL s"), int(100), "SPOP keeps the TTL");
    }
    let mut all = strings(&t.run("SMEMBERS s"));
    all.extend(popped);
    assert_eq!(sorted(all), ["a", "b", "c"]);
    assert!(matches!(t.run("SPOP s"), Reply::Bulk(_)));
    assert_eq!(
        t.run("EXISTS s"),
        int(0),
        "popping the last member deletes the key"
    );
}

#[test]
fn spop_with_count() {
    let mut t = TestDb::new();
    t.run("SET str x");
    assert_eq!(t.run("SPOP missing 3"), set(&[]));
    assert_eq!(t.run("SPOP missing 0"), set(&[]));
    let positive = err("ERR value is out of range, must be positive");
    assert_eq!(t.run("SPOP missing -1"), positive);
    assert_eq!(
        t.run("SPOP str -1"),
        positive,
        "the count is checked before the key"
    );
    assert_eq!(t.run("SPOP missing abc"), positive);
    assert_eq!(t.run("SPOP missing 9223372036854775808"), positive);
    assert_eq!(t.run("SPOP missing 1 2"), err("ERR syntax error"));
    t.run("SADD s a b c d e f");
    assert_eq!(t.run("SPOP s 0"), set(&[]));
    let first = strings(&t.run("SPOP s 2"));
    assert!(matches!(t.run("SPOP s 1"), Reply::Set(_)));
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1]);
    assert_eq!(t.run("SCARD s"), int(3));
    let rest = strings(&t.run("SPOP s 10"));
    assert_eq!(rest.len(), 3, "a count past the size pops everything");
    assert_eq!(t.run("EXISTS s"), int(0));
    let mut seen: Vec<String> = first.into_iter().chain(rest).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "no member is popped twice");
}

#[test]
fn random_choices_are_deterministic_and_cover_the_set() {
    let script = [
        "SADD s m0 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11 m12 m13 m14 m15",
        "SPOP s",
        "SPOP s 3",
        "SRANDMEMBER s",
        "SRANDMEMBER s 4",
        "SRANDMEMBER s -6",
        "SPOP s",
        "SPOP s 5",
        "SMEMBERS s",
    ];
    let run = |script: &[&str]| {
        let mut t = TestDb::new();
        script.iter().map(|c| t.run(c)).collect::<Vec<_>>()
    };
    let a = run(&script);
    assert_eq!(a, run(&script), "same seed, same choices");
    // Over many pops every member comes out once: the draws are not stuck on one end.
    let mut t = TestDb::new();
    t.run("SADD s m0 m1 m2 m3 m4 m5 m6 m7 m8 m9");
    let mut order = Vec::new();
    while let Reply::Bulk(m) = t.run("SPOP s") {
        order.push(String::from_utf8(m.to_vec()).unwrap());
    }
    assert_eq!(order.len(), 10);
    assert_ne!(
        order,
        sorted(order.clone()),
        "pops are not simply in member order"
    );
    assert_eq!(sorted(order).len(), 10);
}

#[test]
fn srandmember_variants() {
    let mut t = TestDb::new();
    t.run("SET str x");
    assert_eq!(t.run("SRANDMEMBER missing"), Reply::Nil);
    assert_eq!(t.run("SRANDMEMBER missing 5"), Reply::Array(vec![]));
    assert_eq!(t.run("SRANDMEMBER missing -5"), Reply::Array(vec![]));
    assert_eq!(
        t.run("SRANDMEMBER missing x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("SRANDMEMBER str x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("SRANDMEMBER missing -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(t.run("SRANDMEMBER missing 1 2"), err("ERR syntax error"));
    t.run("SADD s a b c d e");
    assert!(matches!(t.run("SRANDMEMBER s"), Reply::Bulk(_)));
    assert_eq!(t.run("SRANDMEMBER s 0"), Reply::Array(vec![]));
    let three = strings(&t.run("SRANDMEMBER s 3"));
    assert_eq!(three.len(), 3);
    assert_eq!(
        sorted(three.clone())
            .windows(2)
            .filter(|w| w[0] == w[1])
            .count(),
        0
    );
    assert!(
        matches!(t.run("SRANDMEMBER s 3"), Reply::Array(_)),
        "an array, not a set, in RESP3"
    );
    assert_eq!(t.run("SRANDMEMBER s 10"), bulks(&["a", "b", "c", "d", "e"]));
    let many = strings(&t.run("SRANDMEMBER s -50"));
    assert_eq!(many.len(), 50, "a negative count repeats members");
    assert!(many
        .iter()
        .all(|m| ["a", "b", "c", "d", "e"].contains(&m.as_str())));
    assert!(sorted(many).windows(2).any(|w| w[0] == w[1]));
    assert!(
        t.run("SRANDMEMBER s -10000001").is_error(),
        "huge repeat counts are refused"
    );
    assert_eq!(t.run("SCARD s"), int(5), "SRANDMEMBER changes nothing");
}

#[test]
fn smove_cases() {
    let mut t = TestDb::new();
    t.run("SET str x");
    t.run("SADD s a b c");
    t.run("SADD d c x");
    t.run("EXPIRE d 100");
    assert_eq!(
        t.run("SMOVE missing str a"),
        int(0),
        "a missing source wins over a bad destination"
    );
    assert_eq!(t.run("SMOVE s s a"), int(1));
    assert_eq!(t.run("SMOVE s s zz"), int(0));
    assert_eq!(t.run("SMOVE s d zz"), int(0));
    assert_eq!(t.run("SMOVE s d a"), int(1));
    assert_eq!(
        t.run("SMOVE s d c"),
        int(1),
        "already in the destination: still moved"
    );
    assert_eq!(t.run("SMEMBERS s"), set(&["b"]));
    assert_eq!(t.run("SMEMBERS d"), set(&["a", "c", "x"]));
    assert_eq!(t.run("TTL d"), int(100));
    assert_eq!(t.run("SMOVE s fresh b"), int(1));
    assert_eq!(t.run("EXISTS s"), int(0), "the emptied source is deleted");
    assert_eq!(t.run("SMEMBERS fresh"), set(&["b"]));
    assert_eq!(t.run("TTL fresh"), int(-1));
}

#[test]
fn algebra() {
    let mut t = TestDb::new();
    t.run("SADD a 1 2 3 4 5");
    t.run("SADD b 3 4 5 6");
    t.run("SADD c 4 5 9");
    assert_eq!(t.run("SINTER a b c"), set(&["4", "5"]));
    assert_eq!(t.run("SINTER c a"), set(&["4", "5"]));
    assert_eq!(t.run("SINTER a"), set(&["1", "2", "3", "4", "5"]));
    assert_eq!(t.run("SINTER a a"), set(&["1", "2", "3", "4", "5"]));
    assert_eq!(t.run("SINTER a missing"), set(&[]));
    assert_eq!(
        t.run("SUNION a b c missing"),
        set(&["1", "2", "3", "4", "5", "6", "9"])
    );
    assert_eq!(t.run("SUNION missing"), set(&[]));
    assert_eq!(t.run("SDIFF a b"), set(&["1", "2"]));
    assert_eq!(t.run("SDIFF a b c"), set(&["1", "2"]));
    assert_eq!(t.run("SDIFF b a"), set(&["6"]));
    assert_eq!(t.run("SDIFF a missing"), set(&["1", "2", "3", "4", "5"]));
    assert_eq!(t.run("SDIFF missing a"), set(&[]));
    assert_eq!(t.run("SDIFF a a"), set(&[]));
}

#[test]
fn store_variants() {
    let mut t = TestDb::new();
    t.run("SADD a 1 2 3");
    t.run("SADD b 2 3 4");
    t.run("SET dst x");
    t.run("EXPIRE dst 100");
    assert_eq!(t.run("SINTERSTORE dst a b"), int(2));
    assert_eq!(t.run("TYPE dst"), Reply::Simple("set".into()));
    assert_eq!(t.run("SMEMBERS dst"), set(&["2", "3"]));
    assert_eq!(t.run("TTL dst"), int(-1), "the destination is a new key");
    assert_eq!(t.run("SUNIONSTORE dst a b"), int(4));
    assert_eq!(t.run("SMEMBERS dst"), set(&["1", "2", "3", "4"]));
    assert_eq!(t.run("SDIFFSTORE dst a b"), int(1));
    assert_eq!(t.run("SMEMBERS dst"), set(&["1"]), "old members are gone");
    assert_eq!(t.run("SDIFFSTORE dst a a"), int(0));
    assert_eq!(
        t.run("EXISTS dst"),
        int(0),
        "an empty result deletes the destination"
    );
    assert_eq!(t.run("SINTERSTORE dst a missing"), int(0));
    assert_eq!(t.run("EXISTS dst"), int(0));
    t.run("SET str x");
    assert_eq!(t.run("SINTERSTORE str missing"), int(0));
    assert_eq!(
        t.run("EXISTS str"),
        int(0),
        "an empty result deletes a destination of any type"
    );
    // The destination may be one of the sources.
    assert_eq!(t.run("SUNIONSTORE a a b"), int(4));
    assert_eq!(t.run("SMEMBERS a"), set(&["1", "2", "3", "4"]));
    assert_eq!(t.run("SINTERSTORE a a b"), int(3));
    assert_eq!(t.run("SMEMBERS a"), set(&["2", "3", "4"]));
    assert_eq!(t.run("SCARD a"), int(3));
}

#[test]
fn sintercard_cases() {
    let mut t = TestDb::new();
    t.run("SADD a 1 2 3 4 5");
    t.run("SADD b 2 3 4 5 6");
    t.run("SET str x");
    assert_eq!(t.run("SINTERCARD 2 a b"), int(4));
    assert_eq!(t.run("SINTERCARD 1 a"), int(5));
    assert_eq!(t.run("SINTERCARD 2 a b LIMIT 2"), int(2));
    assert_eq!(
        t.run("SINTERCARD 2 a b limit 0"),
        int(4),
        "LIMIT 0 means no limit"
    );
    assert_eq!(t.run("SINTERCARD 2 a b LIMIT 10"), int(4));
    assert_eq!(
        t.run("SINTERCARD 1 a LIMIT 2 LIMIT 3"),
        int(3),
        "the last LIMIT wins"
    );
    assert_eq!(t.run("SINTERCARD 2 a missing"), int(0));
    let numkeys = err("ERR numkeys should be greater than 0");
    assert_eq!(t.run("SINTERCARD 0 a"), numkeys);
    assert_eq!(t.run("SINTERCARD -1 a"), numkeys);
    assert_eq!(t.run("SINTERCARD x a"), numkeys);
    let too_many = err("ERR Number of keys can't be greater than number of args");
    assert_eq!(t.run("SINTERCARD 3 a b"), too_many);
    assert_eq!(t.run("SINTERCARD 9223372036854775807 a"), too_many);
    let negative = err("ERR LIMIT can't be negative");
    assert_eq!(t.run("SINTERCARD 1 a LIMIT -1"), negative);
    assert_eq!(t.run("SINTERCARD 1 a LIMIT x"), negative);
    assert_eq!(
        t.run("SINTERCARD 1 str LIMIT -1"),
        negative,
        "options are checked before keys"
    );
    assert_eq!(t.run("SINTERCARD 1 a LIMIT"), err("ERR syntax error"));
    assert_eq!(t.run("SINTERCARD 1 a b"), err("ERR syntax error"));
    assert_eq!(t.run("SINTERCARD 2 str missing"), err(WRONGTYPE));
}

#[test]
fn sscan_pages_through_members() {
    let mut t = TestDb::new();
    t.run("SADD s a1 a2 a3 b1 b2");
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    let mut pages = 0;
    loop {
        let Reply::Array(parts) = t.run(&format!("SSCAN s {cursor} COUNT 2")) else {
            panic!()
        };
        let Reply::Bulk(c) = &parts[0] else { panic!() };
        seen.extend(strings(&parts[1]));
        cursor = String::from_utf8(c.to_vec()).unwrap();
        pages += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["a1", "a2", "a3", "b1", "b2"]);
    let empty = Reply::Array(vec![bulk("0"), bulks(&[])]);
    assert_eq!(
        t.run("SSCAN s 0 MATCH b* COUNT 100"),
        Reply::Array(vec![bulk("0"), bulks(&["b1", "b2"])])
    );
    assert_eq!(t.run("SSCAN missing 0"), empty);
    assert_eq!(
        t.run("SSCAN missing 0 BADOPTION"),
        empty,
        "a missing key ignores the options"
    );
    assert_eq!(t.run("SSCAN missing x"), err("ERR invalid cursor"));
    assert_eq!(t.run("SSCAN s 0 BADOPTION"), err("ERR syntax error"));
    assert_eq!(t.run("SSCAN s 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(t.run("SSCAN s 0 MATCH"), err("ERR syntax error"));
    assert_eq!(t.run("SSCAN s 0 NOVALUES"), err("ERR syntax error"));
}

#[test]
fn expired_sets_are_missing() {
    let mut t = TestDb::new();
    t.run("SADD s a b");
    t.run("SADD other a");
    t.run("PEXPIRE s 10");
    t.now_ms += 20;
    assert_eq!(t.run("SCARD s"), int(0));
    assert_eq!(t.run("SMEMBERS s"), set(&[]));
    assert_eq!(t.run("SINTER other s"), set(&[]));
    assert_eq!(
        t.run("SADD s c"),
        int(1),
        "a new incarnation, without the old members"
    );
    assert_eq!(t.run("SMEMBERS s"), set(&["c"]));
    assert_eq!(t.run("TTL s"), int(-1));
}
