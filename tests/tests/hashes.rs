//! Hash commands. Redis returns small hashes in insertion order and large ones in hash order;
//! neither is promised, so whole-hash replies are compared as sorted field/value pairs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kiwi_tests::*;

/// A flat field/value array as a sorted map.
fn pairs(r: &R) -> BTreeMap<String, String> {
    let items = r.strings();
    assert_eq!(items.len() % 2, 0, "odd number of elements: {r:?}");
    items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

fn map(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn hset_hget_hmset_hmget() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HSET h f1 v1 f2 v2"), int(2));
    assert_eq!(c.run("HSET h f1 x f3 v3"), int(1), "only new fields count");
    assert_eq!(c.run("HGET h f1"), bulk("x"));
    assert_eq!(c.run("HGET h f2"), bulk("v2"));
    assert_eq!(c.run("HGET h nofield"), nil());
    assert_eq!(c.run("HGET nokey f"), nil());
    assert_eq!(c.run("HSET h f1 x"), int(0));
    assert_eq!(c.run("HMSET h a 1 b 2"), ok());
    assert_eq!(
        c.run("HMGET h a nofield b"),
        arr(vec![bulk("1"), nil(), bulk("2")])
    );
    assert_eq!(c.run("HMGET nokey a b"), arr(vec![nil(), nil()]));
    assert_eq!(c.run("HLEN h"), int(5));
    assert_eq!(c.run("HLEN nokey"), int(0));
    assert_eq!(
        c.run_args(&["HSET", "h", "", ""]),
        int(1),
        "empty field and value are allowed"
    );
    assert_eq!(c.run_args(&["HGET", "h", ""]), bulk(""));
    assert_eq!(c.run("TYPE h"), status("hash"));

    assert_eq!(c.run("HSET h f"), wrong_arity("hset"));
    assert_eq!(c.run("HSET h f1 v1 f2"), wrong_arity("hset"));
    assert_eq!(c.run("HMSET h a"), wrong_arity("hmset"));
    assert_eq!(c.run("HMGET h"), wrong_arity("hmget"));
    assert_eq!(c.run("HGET h"), wrong_arity("hget"));
}

#[test]
fn hgetall_hkeys_hvals_hexists_hstrlen() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HGETALL nokey"), arr(vec![]));
    assert_eq!(c.run("HKEYS nokey"), arr(vec![]));
    assert_eq!(c.run("HVALS nokey"), arr(vec![]));
    assert_eq!(c.run("HSET h name kiwi color green size 3"), int(3));
    assert_eq!(
        pairs(&c.run("HGETALL h")),
        map(&[("name", "kiwi"), ("color", "green"), ("size", "3")])
    );
    assert_eq!(
        c.run("HKEYS h").sorted(),
        sorted(&["color", "name", "size"])
    );
    assert_eq!(c.run("HVALS h").sorted(), sorted(&["3", "green", "kiwi"]));
    assert_eq!(c.run("HEXISTS h name"), int(1));
    assert_eq!(c.run("HEXISTS h nope"), int(0));
    assert_eq!(c.run("HEXISTS nokey name"), int(0));
    assert_eq!(c.run("HSTRLEN h color"), int(5));
    assert_eq!(c.run("HSTRLEN h nope"), int(0));
    assert_eq!(c.run("HSTRLEN nokey nope"), int(0));
}

#[test]
fn hdel_removes_fields_and_empty_hash() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HSET h a 1 b 2 c 3"), int(3));
    assert_eq!(c.run("HDEL h a nofield a"), int(1));
    assert_eq!(c.run("HLEN h"), int(2));
    assert_eq!(c.run("HDEL nokey a"), int(0));
    assert_eq!(c.run("HDEL h b c"), int(2));
    assert_eq!(
        c.run("EXISTS h"),
        int(0),
        "a hash without fields does not exist"
    );
    assert_eq!(c.run("TYPE h"), status("none"));
    assert_eq!(c.run("HGETALL h"), arr(vec![]));
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("HDEL h"), wrong_arity("hdel"));

    assert_eq!(
        c.run("HSET h x 1"),
        int(1),
        "a deleted hash starts over empty"
    );
    assert_eq!(pairs(&c.run("HGETALL h")), map(&[("x", "1")]));
    assert_eq!(c.run("DEL h"), int(1));
    assert_eq!(c.run("HGETALL h"), arr(vec![]));
    assert_eq!(c.run("HSET h y 2"), int(1));
    assert_eq!(
        pairs(&c.run("HGETALL h")),
        map(&[("y", "2")]),
        "DEL removed the old fields"
    );
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HINCRBY h n 5"), int(5));
    assert_eq!(c.run("HINCRBY h n -7"), int(-2));
    assert_eq!(c.run("HGET h n"), bulk("-2"));
    assert_eq!(c.run("HSET h s abc m 9223372036854775807"), int(2));
    assert_eq!(
        c.run("HINCRBY h s 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(c.run("HINCRBY h n abc"), err(NOT_INTEGER));
    assert_eq!(c.run("HINCRBY h n 1.5"), err(NOT_INTEGER));
    assert_eq!(
        c.run("HINCRBY h m 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.run("HGET h m"), bulk("9223372036854775807"));

    assert_eq!(c.run("HINCRBYFLOAT h f 10.5"), bulk("10.5"));
    assert_eq!(c.run("HINCRBYFLOAT h f 0.1"), bulk("10.6"));
    assert_eq!(c.run("HINCRBYFLOAT h f -0.6"), bulk("10"));
    assert_eq!(c.run("HINCRBYFLOAT h n 1.5"), bulk("-0.5"));
    assert_eq!(
        c.run("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(c.run("HINCRBYFLOAT h f abc"), err(NOT_FLOAT));
    assert_eq!(c.run("HGET h f"), bulk("10"));
}

#[test]
fn hsetnx() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HSETNX h a 1"), int(1));
    assert_eq!(c.run("HSETNX h a 2"), int(0));
    assert_eq!(c.run("HGET h a"), bulk("1"));
    assert_eq!(c.run("HSETNX h b 2"), int(1));
    assert_eq!(c.run("HLEN h"), int(2));
    assert_eq!(c.run("HSETNX h a"), wrong_arity("hsetnx"));
}

#[test]
fn hrandfield() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HRANDFIELD nokey"), nil());
    assert_eq!(c.run("HRANDFIELD nokey 3"), arr(vec![]));
    assert_eq!(c.run("HSET h a 1 b 2 c 3 d 4"), int(4));
    let all = ["a", "b", "c", "d"];
    for _ in 0..10 {
        let f = c.run("HRANDFIELD h").text();
        assert!(all.contains(&f.as_str()), "{f}");
    }
    assert_eq!(c.run("HRANDFIELD h 0"), arr(vec![]));
    let two = c.run("HRANDFIELD h 2").strings();
    assert_eq!(two.len(), 2);
    assert_eq!(
        two.iter().collect::<BTreeSet<_>>().len(),
        2,
        "a positive count gives distinct fields"
    );
    assert_eq!(
        c.run("HRANDFIELD h 10").sorted(),
        sorted(&all),
        "count above the size gives every field"
    );
    let many = c.run("HRANDFIELD h -10").strings();
    assert_eq!(many.len(), 10, "a negative count may repeat fields");
    assert!(many.iter().all(|f| all.contains(&f.as_str())));

    let with = pairs(&c.run("HRANDFIELD h 4 WITHVALUES"));
    assert_eq!(with, map(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]));
    let with = c.run("HRANDFIELD h -3 WITHVALUES").strings();
    assert_eq!(with.len(), 6);
    for p in with.chunks(2) {
        let expected = (all.iter().position(|f| *f == p[0]).unwrap() + 1).to_string();
        assert_eq!(p[1], expected, "value belongs to its field");
    }
    assert_eq!(c.run("HRANDFIELD h 2 WITHVALUES x"), err(SYNTAX));
    assert_eq!(c.run("HRANDFIELD h x"), err(NOT_INTEGER));
}

#[test]
fn hscan_to_completion() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..600 {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("field:{i}"))
            .arg(i)
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("HLEN big"), int(600));
    let flat = scan_all(&mut c, &["HSCAN", "big"], &["COUNT", "25"], 10_000);
    assert_eq!(flat.len() % 2, 0);
    let got: BTreeMap<String, String> = flat
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8(p[0].clone()).unwrap(),
                String::from_utf8(p[1].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), 600);
    for (f, v) in &got {
        assert_eq!(f, &format!("field:{v}"));
    }
    let matched = scan_all(
        &mut c,
        &["HSCAN", "big"],
        &["MATCH", "field:1?", "COUNT", "1000"],
        100,
    );
    let fields: BTreeSet<String> = matched
        .chunks(2)
        .map(|p| String::from_utf8(p[0].clone()).unwrap())
        .collect();
    let expected: BTreeSet<String> = (10..20).map(|i| format!("field:{i}")).collect();
    assert_eq!(fields, expected);
    assert_eq!(c.run("HSCAN nokey 0"), arr(vec![bulk("0"), arr(vec![])]));
    assert_eq!(c.run("HSCAN big abc"), err("ERR invalid cursor"));
}

#[test]
fn wrong_type_errors() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET s x"), ok());
    assert_eq!(c.run("HSET h f v"), int(1));
    for cmd in [
        "HGET s f",
        "HSET s f v",
        "HGETALL s",
        "HDEL s f",
        "HLEN s",
        "HINCRBY s f 1",
        "HEXISTS s f",
        "HKEYS s",
        "HMGET s f",
        "HRANDFIELD s",
        "HSCAN s 0",
    ] {
        assert_eq!(c.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(c.run("GET h"), err(WRONGTYPE));
    assert_eq!(c.run("INCR h"), err(WRONGTYPE));
    assert_eq!(c.run("APPEND h x"), err(WRONGTYPE));
    assert_eq!(
        c.run("MGET h s"),
        arr(vec![nil(), bulk("x")]),
        "MGET answers nil for other types"
    );
    assert_eq!(c.run("SET h plain"), ok(), "SET replaces a key of any type");
    assert_eq!(c.run("GET h"), bulk("plain"));
    assert_eq!(c.run("HGETALL h"), err(WRONGTYPE));
}

#[test]
fn hash_keys_rename_expire_and_scan_type() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("HSET h a 1 b 2"), int(2));
    assert_eq!(c.run("EXPIRE h 100"), int(1));
    assert_eq!(c.run("HSET h c 3"), int(1));
    assert_eq!(c.run("TTL h"), int(100), "adding fields keeps the TTL");
    assert_eq!(c.run("RENAME h h2"), ok());
    assert_eq!(c.run("EXISTS h"), int(0));
    assert_eq!(c.run("HGETALL h"), arr(vec![]));
    assert_eq!(
        pairs(&c.run("HGETALL h2")),
        map(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    assert_eq!(c.run("TTL h2"), int(100));
    assert_eq!(c.run("SET str x"), ok());
    let typed = scan_all(&mut c, &["SCAN"], &["TYPE", "hash"], 100);
    assert_eq!(typed, vec![b"h2".to_vec()]);

    assert_eq!(c.run("PEXPIRE h2 100"), int(1));
    eventually(Duration::from_secs(5), "hash expires", || {
        (c.run("EXISTS h2") == int(0)).then_some(())
    });
    assert_eq!(c.run("HGETALL h2"), arr(vec![]));
    assert_eq!(c.run("HLEN h2"), int(0));
    assert_eq!(
        c.run("HSET h2 z 9"),
        int(1),
        "an expired hash starts over empty"
    );
    assert_eq!(pairs(&c.run("HGETALL h2")), map(&[("z", "9")]));
    assert_eq!(c.run("TTL h2"), int(-1));
}

#[test]
fn redis_rs_typed_hash_api() {
    use redis::Commands;
    let s = KiwiServer::start();
    let mut c = s.client();
    let _: () = c
        .hset_multiple("user:1", &[("name", "Ann"), ("age", "41")])
        .unwrap();
    let all: std::collections::HashMap<String, String> = c.hgetall("user:1").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["name"], "Ann");
    let age: i64 = c.hincr("user:1", "age", 1).unwrap();
    assert_eq!(age, 42);
    let name: Option<String> = c.hget("user:1", "nope").unwrap();
    assert_eq!(name, None);
}
