use std::collections::{BTreeMap, BTreeSet};

use crate::command::testing::{bulk, bulks, err, int, TestDb};
use crate::resp::Reply;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn map(pairs: &[(&str, &str)]) -> Reply {
    Reply::Map(pairs.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
}

fn strings(r: Reply) -> Vec<String> {
    match r {
        Reply::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn hset_hget_and_counts() {
    let mut t = TestDb::new();
    assert_eq!(t.run("HSET h f1 v1 f2 v2"), int(2));
    assert_eq!(t.run("HSET h f1 x f3 v3"), int(1));
    assert_eq!(
        t.run("HSET h f4 a f4 b"),
        int(1),
        "a field repeated in one call counts once"
    );
    assert_eq!(t.run("HGET h f4"), bulk("b"));
    assert_eq!(t.run("HGET h f1"), bulk("x"));
    assert_eq!(t.run("HGET h nope"), Reply::Nil);
    assert_eq!(t.run("HGET missing f"), Reply::Nil);
    assert_eq!(t.run("HLEN h"), int(4));
    assert_eq!(t.run("HLEN missing"), int(0));
    assert_eq!(t.run("TYPE h"), Reply::Simple("hash".into()));
    assert_eq!(
        t.run("HSET h f"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        t.run("HSET h f v g"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        t.run("HMSET h f v g"),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    assert_eq!(t.run("HMSET h f1 y f5 z"), Reply::ok());
    assert_eq!(t.run("HLEN h"), int(5));
    assert_eq!(t.run("HSET h empty \"\""), int(1));
    assert_eq!(t.run("HGET h empty"), bulk(""));
    assert_eq!(t.run("HSTRLEN h empty"), int(0));
    assert_eq!(
        t.run("HGET h"),
        err("ERR wrong number of arguments for 'hget' command")
    );
}

#[test]
fn hsetnx_hexists_hstrlen() {
    let mut t = TestDb::new();
    assert_eq!(t.run("HSETNX h f v"), int(1));
    assert_eq!(t.run("HSETNX h f w"), int(0));
    assert_eq!(t.run("HGET h f"), bulk("v"));
    assert_eq!(t.run("HSETNX h g w"), int(1));
    assert_eq!(t.run("HLEN h"), int(2));
    assert_eq!(t.run("HEXISTS h f"), int(1));
    assert_eq!(t.run("HEXISTS h nope"), int(0));
    assert_eq!(t.run("HEXISTS missing f"), int(0));
    assert_eq!(t.run("HSET h long hello"), int(1));
    assert_eq!(t.run("HSTRLEN h long"), int(5));
    assert_eq!(t.run("HSTRLEN h nope"), int(0));
    assert_eq!(t.run("HSTRLEN missing f"), int(0));
    assert_eq!(
        t.run("HSETNX h f"),
        err("ERR wrong number of arguments for 'hsetnx' command")
    );
    assert_eq!(
        t.run("HEXISTS h"),
        err("ERR wrong number of arguments for 'hexists' command")
    );
    assert_eq!(
        t.run("HSTRLEN h a b"),
        err("ERR wrong number of arguments for 'hstrlen' command")
    );
}

#[test]
fn hmget_hgetall_hkeys_hvals_in_field_order() {
    let mut t = TestDb::new();
    t.run("HSET h b 2 a 1 c 3");
    assert_eq!(
        t.run("HMGET h a nope c"),
        Reply::Array(vec![bulk("1"), Reply::Nil, bulk("3")])
    );
    assert_eq!(
        t.run("HMGET missing a b"),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(
        t.run("HGETALL h"),
        map(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    assert_eq!(t.run("HKEYS h"), bulks(&["a", "b", "c"]));
    assert_eq!(t.run("HVALS h"), bulks(&["1", "2", "3"]));
    assert_eq!(t.run("HGETALL missing"), Reply::Map(vec![]));
    assert_eq!(t.run("HKEYS missing"), Reply::Array(vec![]));
    assert_eq!(t.run("HVALS missing"), Reply::Array(vec![]));
    assert_eq!(
        t.run("HMGET h"),
        err("ERR wrong number of arguments for 'hmget' command")
    );
    assert_eq!(
        t.run("HGETALL h x"),
        err("ERR wrong number of arguments for 'hgetall' command")
    );
    // Another key's fields never leak in, even one whose name extends this one.
    t.run("HSET hh z 9");
    t.run("HSET g y 8");
    assert_eq!(t.run("HKEYS h"), bulks(&["a", "b", "c"]));
}

#[test]
fn hdel_removes_fields_and_empty_keys() {
    let mut t = TestDb::new();
    t.run("HSET h a 1 b 2 c 3");
    assert_eq!(t.run("HDEL h a a nope"), int(1));
    assert_eq!(t.run("HLEN h"), int(2));
    assert_eq!(t.run("HDEL missing a"), int(0));
    assert_eq!(t.run("HDEL h nope"), int(0));
    assert_eq!(t.run("HDEL h b c"), int(2));
    assert_eq!(t.run("EXISTS h"), int(0), "an emptied hash is deleted");
    assert_eq!(t.run("HGETALL h"), Reply::Map(vec![]));
    // Re-created: no stale fields come back.
    assert_eq!(t.run("HSET h x 1"), int(1));
    assert_eq!(t.run("HKEYS h"), bulks(&["x"]));
    assert_eq!(
        t.run("HDEL h"),
        err("ERR wrong number of arguments for 'hdel' command")
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut t = TestDb::new();
    t.run("SET s v");
    for cmd in [
        "HSET s f v",
        "HMSET s f v",
        "HSETNX s f v",
        "HGET s f",
        "HMGET s f",
        "HGETALL s",
        "HDEL s f",
        "HLEN s",
        "HEXISTS s f",
        "HKEYS s",
        "HVALS s",
        "HINCRBY s f 1",
        "HINCRBYFLOAT s f 1",
        "HSTRLEN s f",
        "HSCAN s 0",
        "HSCAN s 0 BOGUS",
        "HRANDFIELD s",
        "HRANDFIELD s 0",
        "HRANDFIELD s -3 WITHVALUES",
    ] {
        assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(t.run("GET s"), bulk("v"), "the string is untouched");
    // Argument errors are reported before the type check, as in Redis.
    assert_eq!(
        t.run("HSET s f v g"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        t.run("HINCRBY s f x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT s f x"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT s f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(t.run("HSCAN s x"), err("ERR invalid cursor"));
    assert_eq!(
        t.run("HRANDFIELD s x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("HRANDFIELD s 1 bogus"), err("ERR syntax error"));
}

#[test]
fn hincrby() {
    let mut t = TestDb::new();
    assert_eq!(t.run("HINCRBY h n 5"), int(5));
    assert_eq!(t.run("HINCRBY h n -7"), int(-2));
    assert_eq!(t.run("HGET h n"), bulk("-2"));
    assert_eq!(t.run("HLEN h"), int(1));
    t.run("HSET h a abc max 9223372036854775807 neg0 -0 e \"\" min -9223372036854775808");
    assert_eq!(
        t.run("HINCRBY h a 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        t.run("HINCRBY h neg0 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        t.run("HINCRBY h e 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        t.run("HINCRBY h max 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        t.run("HINCRBY h min -1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(t.run("HINCRBY h max -1"), int(9223372036854775806));
    assert_eq!(
        t.run("HINCRBY h x 9223372036854775808"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("HINCRBY h x 1.5"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("HINCRBY h z -9223372036854775808"), int(i64::MIN));
    assert_eq!(t.run("HLEN h"), int(7));
    assert_eq!(
        t.run("HINCRBY h n"),
        err("ERR wrong number of arguments for 'hincrby' command")
    );
    assert_eq!(
        t.run("HINCRBY bad f x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("EXISTS bad"),
        int(0),
        "a failed increment creates nothing"
    );
}

#[test]
fn hincrbyfloat() {
    let mut t = TestDb::new();
    assert_eq!(t.run("HINCRBYFLOAT h f 10.5"), bulk("10.5"));
    assert_eq!(t.run("HINCRBYFLOAT h f 0.1"), bulk("10.6"));
    assert_eq!(t.run("HINCRBYFLOAT h f -5.6"), bulk("5"));
    assert_eq!(t.run("HINCRBYFLOAT h g 1.0e1"), bulk("10"));
    assert_eq!(t.run("HINCRBYFLOAT h d 0.25"), bulk("0.25"));
    assert_eq!(t.run("HINCRBYFLOAT h d 0.5"), bulk("0.75"));
    assert_eq!(t.run("HINCRBYFLOAT h g -10"), bulk("0"));
    t.run("HSET h a abc neg0 -0 sp \" 1\" e \"\" i 3");
    assert_eq!(t.run("HINCRBYFLOAT h neg0 1"), bulk("1"));
    assert_eq!(t.run("HINCRBYFLOAT h i 1.5"), bulk("4.5"));
    assert_eq!(
        t.run("HINCRBYFLOAT h a 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h sp 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h e 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h f inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h f -inf"),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h f nan"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h f abc"),
        err("ERR value is not a valid float")
    );
    // Redis adds in long double, whose range ends near 1.19e4932 (not f64's 1.8e308).
    t.run("HSET h big 1.1e4932");
    assert_eq!(
        t.run("HINCRBYFLOAT h big 1.1e4932"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(
        t.run("HGET h big"),
        bulk("1.1e4932"),
        "unchanged after the error"
    );
    assert_eq!(
        t.run("HINCRBYFLOAT h f"),
        err("ERR wrong number of arguments for 'hincrbyfloat' command")
    );
}

#[test]
fn hscan_pages_through_fields() {
    let mut t = TestDb::new();
    for i in 0..25 {
        t.run(&format!("HSET h f{i:02} v{i}"));
    }
    t.run("HSET other f00 x");
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut pages = 0;
    loop {
        let Reply::Array(parts) = t.run(&format!("HSCAN h {cursor} COUNT 10")) else {
            panic!("not an array");
        };
        let Reply::Bulk(next) = &parts[0] else {
            panic!("cursor not a bulk")
        };
        let items = strings(parts[1].clone());
        assert!(items.len() <= 20);
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        pages += 1;
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    assert_eq!(seen["f07"], "v7");

    let page = t.run("HSCAN h 0 MATCH f1* COUNT 100");
    assert_eq!(
        page,
        Reply::Array(vec![
            bulk("0"),
            bulks(&[
                "f10", "v10", "f11", "v11", "f12", "v12", "f13", "v13", "f14", "v14", "f15", "v15",
                "f16", "v16", "f17", "v17", "f18", "v18", "f19", "v19",
            ])
        ])
    );
    let page = t.run("HSCAN h 0 MATCH f2? NOVALUES COUNT 100");
    assert_eq!(
        page,
        Reply::Array(vec![bulk("0"), bulks(&["f20", "f21", "f22", "f23", "f24"])])
    );
    let empty = Reply::Array(vec![bulk("0"), Reply::Array(vec![])]);
    assert_eq!(t.run("HSCAN missing 0"), empty);
    assert_eq!(
        t.run("HSCAN missing 0 COUNT 0"),
        empty,
        "options of a missing key go unchecked"
    );
    assert_eq!(t.run("HSCAN h 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(t.run("HSCAN h 0 TYPE hash"), err("ERR syntax error"));
    assert_eq!(t.run("HSCAN h 0 MATCH"), err("ERR syntax error"));
    assert_eq!(t.run("HSCAN h x"), err("ERR invalid cursor"));
    assert_eq!(t.run("HSCAN missing x"), err("ERR invalid cursor"));
    assert_eq!(
        t.run("HSCAN h"),
        err("ERR wrong number of arguments for 'hscan' command")
    );
}

#[test]
fn hrandfield_without_count() {
    let mut t = TestDb::new();
    assert_eq!(t.run("HRANDFIELD missing"), Reply::Nil);
    t.run("HSET h a 1 b 2 c 3");
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        match t.run("HRANDFIELD h") {
            Reply::Bulk(b) => {
                seen.insert(String::from_utf8(b.to_vec()).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(
        t.run("HRANDFIELD"),
        err("ERR wrong number of arguments for 'hrandfield' command")
    );
}

#[test]
fn hrandfield_with_count() {
    let mut t = TestDb::new();
    let empty = Reply::Array(vec![]);
    assert_eq!(t.run("HRANDFIELD missing 0"), empty);
    assert_eq!(t.run("HRANDFIELD missing 3 WITHVALUES"), empty);
    assert_eq!(t.run("HRANDFIELD missing -3"), empty);
    for i in 0..10 {
        t.run(&format!("HSET h f{i} v{i}"));
    }
    assert_eq!(t.run("HRANDFIELD h 0"), empty);
    assert_eq!(t.run("HRANDFIELD h 0 WITHVALUES"), empty);

    // Positive count: distinct fields, at most the hash's size.
    for n in [1, 3, 9] {
        let got = strings(t.run(&format!("HRANDFIELD h {n}")));
        assert_eq!(got.len(), n);
        assert_eq!(
            got.iter().collect::<BTreeSet<_>>().len(),
            n,
            "distinct: {got:?}"
        );
    }
    let all = strings(t.run("HRANDFIELD h 100"));
    assert_eq!(all, (0..10).map(|i| format!("f{i}")).collect::<Vec<_>>());

    // Negative count: exactly |count| fields, repetition allowed.
    let got = strings(t.run("HRANDFIELD h -50"));
    assert_eq!(got.len(), 50);
    assert!(got.iter().collect::<BTreeSet<_>>().len() < 50);
    assert!(got.iter().all(|f| f.starts_with('f')));

    // WITHVALUES interleaves each field's own value.
    for cmd in [
        "HRANDFIELD h 4 WITHVALUES",
        "HRANDFIELD h -30 withvalues",
        "HRANDFIELD h 20 WITHVALUES",
    ] {
        let got = strings(t.run(cmd));
        for pair in got.chunks(2) {
            assert_eq!(pair[1], pair[0].replace('f', "v"), "{cmd}");
        }
    }
    assert_eq!(strings(t.run("HRANDFIELD h -30 WITHVALUES")).len(), 60);
    assert_eq!(strings(t.run("HRANDFIELD h 20 WITHVALUES")).len(), 20);

    assert_eq!(t.run("HRANDFIELD h 1 WITHVALUE"), err("ERR syntax error"));
    assert_eq!(
        t.run("HRANDFIELD h 1 WITHVALUES x"),
        err("ERR syntax error")
    );
    assert_eq!(t.run("HRANDFIELD missing 1 bogus"), err("ERR syntax error"));
    assert_eq!(
        t.run("HRANDFIELD h x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("HRANDFIELD h -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        t.run("HRANDFIELD h 9223372036854775807 WITHVALUES"),
        err("ERR value is out of range")
    );
}

#[test]
fn expired_hash_is_gone_and_recreated_fresh() {
    let mut t = TestDb::new();
    t.run("HSET h a 1 b 2");
    assert_eq!(t.run("PEXPIRE h 100"), int(1));
    assert_eq!(t.run("HSET h c 3"), int(1));
    assert_eq!(t.run("PTTL h"), int(100), "writing a field keeps the TTL");
    t.now_ms += 100;
    assert_eq!(t.run("HLEN h"), int(0));
    assert_eq!(t.run("HGET h a"), Reply::Nil);
    assert_eq!(t.run("HSET h x 1"), int(1));
    assert_eq!(t.run("HGETALL h"), map(&[("x", "1")]));
    assert_eq!(t.run("TTL h"), int(-1));
}

#[test]
fn command_table_entries() {
    use crate::command::{flags, lookup};
    for name in ["hset", "hmset", "hsetnx", "hincrby", "hincrbyfloat"] {
        let spec = lookup(name.as_bytes()).unwrap();
        assert_eq!(
            spec.flags,
            flags::WRITE | flags::DENYOOM | flags::FAST,
            "{name}"
        );
    }
    assert_eq!(lookup(b"hdel").unwrap().flags, flags::WRITE | flags::FAST);
    for name in ["hget", "hmget", "hlen", "hexists", "hstrlen"] {
        assert_eq!(
            lookup(name.as_bytes()).unwrap().flags,
            flags::READONLY | flags::FAST,
            "{name}"
        );
    }
    for name in ["hgetall", "hkeys", "hvals", "hscan", "hrandfield"] {
        assert_eq!(
            lookup(name.as_bytes()).unwrap().flags,
            flags::READONLY,
            "{name}"
        );
    }
    assert_eq!(lookup(b"HSET").unwrap().keys, (1, 1, 1));
}
