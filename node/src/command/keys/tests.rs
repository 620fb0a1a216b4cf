use bytes::Bytes;

use crate::command::testing::{bulk, bulks, err, int, TestDb};
use crate::resp::Reply;

#[test]
fn del_exists_type() {
    let mut t = TestDb::new();
    t.run("SET a 1");
    t.run("SET b 2");
    assert_eq!(t.run("EXISTS a b a missing"), int(3));
    assert_eq!(t.run("TYPE a"), Reply::Simple("string".into()));
    assert_eq!(t.run("TYPE missing"), Reply::Simple("none".into()));
    assert_eq!(t.run("DEL a missing"), int(1));
    assert_eq!(t.run("UNLINK b"), int(1));
    assert_eq!(t.run("EXISTS a b"), int(0));
}

#[test]
fn expiry_commands() {
    let mut t = TestDb::new();
    t.run("SET k v");
    assert_eq!(t.run("TTL k"), int(-1));
    assert_eq!(t.run("TTL missing"), int(-2));
    assert_eq!(t.run("EXPIRE k 100"), int(1));
    assert_eq!(t.run("TTL k"), int(100));
    assert_eq!(t.run("PTTL k"), int(100_000));
    assert_eq!(t.run("EXPIRE k 50 GT"), int(0));
    assert_eq!(t.run("EXPIRE k 50 LT"), int(1));
    assert_eq!(t.run("EXPIRE k 10 NX"), int(0));
    assert_eq!(
        t.run("EXPIRE k 10 NX XX"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(t.run("EXPIRETIME k"), int((t.now_ms / 1000 + 50) as i64));
    assert_eq!(t.run("PERSIST k"), int(1));
    assert_eq!(t.run("PERSIST k"), int(0));
    assert_eq!(t.run("EXPIRE k 1 GT"), int(0), "no TTL counts as infinite");
    assert_eq!(t.run("EXPIRE missing 10"), int(0));
    assert_eq!(t.run("EXPIRE k -1"), int(1));
    assert_eq!(t.run("EXISTS k"), int(0), "a past deadline deletes the key");
    assert_eq!(
        t.run("EXPIRE k 9223372036854775807"),
        err("ERR invalid expire time in 'expire' command")
    );
}

#[test]
fn keys_scan_and_rename() {
    let mut t = TestDb::new();
    for k in ["user:1", "user:2", "other"] {
        t.run(&format!("SET {k} x"));
    }
    t.run("RPUSH list a b c");
    assert_eq!(t.run("KEYS user:*"), bulks(&["user:1", "user:2"]));
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let Reply::Array(parts) = t.run(&format!("SCAN {cursor} COUNT 1")) else {
            panic!()
        };
        let Reply::Bulk(c) = &parts[0] else { panic!() };
        let Reply::Array(keys) = &parts[1] else {
            panic!()
        };
        seen.extend(keys.iter().cloned());
        cursor = String::from_utf8(c.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 4);
    let Reply::Array(parts) = t.run("SCAN 0 TYPE list COUNT 100") else {
        panic!()
    };
    assert_eq!(parts[1], bulks(&["list"]));
    assert_eq!(t.run("RENAME list list2"), Reply::ok());
    assert_eq!(t.run("LRANGE list2 0 -1"), bulks(&["a", "b", "c"]));
    assert_eq!(t.run("EXISTS list"), int(0));
    assert_eq!(t.run("RENAME missing x"), err("ERR no such key"));
    assert_eq!(t.run("RENAMENX user:1 user:2"), int(0));
    assert_eq!(t.run("RENAMENX user:1 user:3"), int(1));
    assert_eq!(t.run("GET user:3"), bulk("x"));
    assert!(matches!(t.run("RANDOMKEY"), Reply::Bulk(_)));
}

/// Every type, with members and a deadline, for the commands that copy whole values.
fn fill(t: &mut TestDb) {
    t.run("SET s hello");
    t.run("PEXPIRE s 50000");
    t.run("RPUSH l a b c a");
    t.run("SADD t x y z");
    t.run("HSET h f1 v1 f2 v2");
    t.run("ZADD z 1 a 2.5 b -inf c");
}

/// The contents of every key `fill` made, as seen from database `db` under `prefix`.
fn contents(t: &mut TestDb, db: u8, prefix: &str) -> Vec<Reply> {
    [
        format!("GET {prefix}s"),
        format!("PTTL {prefix}s"),
        format!("LRANGE {prefix}l 0 -1"),
        format!("SMEMBERS {prefix}t"),
        format!("HGETALL {prefix}h"),
        format!("ZRANGE {prefix}z 0 -1 WITHSCORES"),
    ]
    .iter()
    .map(|line| t.run_in(db, line))
    .collect()
}

fn set_of(items: &[&str]) -> Reply {
    Reply::Set(items.iter().map(|s| bulk(s)).collect())
}

fn filled_contents() -> Vec<Reply> {
    vec![
        bulk("hello"),
        int(50_000),
        bulks(&["a", "b", "c", "a"]),
        set_of(&["x", "y", "z"]),
        Reply::Map(vec![(bulk("f1"), bulk("v1")), (bulk("f2"), bulk("v2"))]),
        Reply::Array(vec![
            bulk("c"),
            Reply::Double(f64::NEG_INFINITY),
            bulk("a"),
            Reply::Double(1.0),
            bulk("b"),
            Reply::Double(2.5),
        ]),
    ]
}

#[test]
fn copy_every_type_with_its_deadline() {
    let mut t = TestDb::new();
    fill(&mut t);
    for k in ["s", "l", "t", "h", "z"] {
        assert_eq!(t.run(&format!("COPY {k} c{k}")), int(1), "{k}");
    }
    assert_eq!(contents(&mut t, 0, "c"), filled_contents());
    assert_eq!(
        contents(&mut t, 0, ""),
        filled_contents(),
        "the source stays"
    );
    // The copy is a value of its own.
    t.run("RPUSH cl d");
    t.run("ZADD cz 9 a");
    assert_eq!(t.run("LRANGE l 0 -1"), bulks(&["a", "b", "c", "a"]));
    assert_eq!(t.run("ZSCORE z a"), Reply::Double(1.0));
    assert_eq!(t.run("DBSIZE"), int(10));

    assert_eq!(t.run("COPY s cl"), int(0), "the destination exists");
    assert_eq!(t.run("TYPE cl"), Reply::Simple("list".into()));
    assert_eq!(t.run("COPY s cl REPLACE"), int(1));
    assert_eq!(t.run("GET cl"), bulk("hello"));
    assert_eq!(t.run("COPY missing x"), int(0));
    assert_eq!(
        t.run("COPY s s"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(t.run("COPY s s DB 0"), t.run("COPY s s"));
    assert_eq!(
        t.run("COPY s s2 DB 16"),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        t.run("COPY s s2 DB -1"),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        t.run("COPY s s2 DB x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("COPY s s2 DB 3000000000"),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
    assert_eq!(t.run("COPY s s2 FOO"), err("ERR syntax error"));
    assert_eq!(t.run("COPY s s2 DB"), err("ERR syntax error"));
    assert_eq!(t.run("DBSIZE"), int(10));

    // Into another database, under the same name.
    for k in ["s", "l", "t", "h", "z"] {
        assert_eq!(t.run(&format!("COPY {k} {k} DB 3")), int(1), "{k}");
    }
    assert_eq!(contents(&mut t, 3, ""), filled_contents());
    assert_eq!(t.run_in(3, "DBSIZE"), int(5));
    assert_eq!(t.run("COPY s s DB 3"), int(0));
    assert_eq!(t.run("COPY l s DB 3 REPLACE"), int(1));
    assert_eq!(t.run_in(3, "LRANGE s 0 -1"), bulks(&["a", "b", "c", "a"]));
    assert_eq!(t.run_in(3, "DBSIZE"), int(5));
}

#[test]
fn an_expired_key_is_neither_copied_nor_in_the_way() {
    let mut t = TestDb::new();
    t.run("SET gone v");
    t.run("PEXPIRE gone 10");
    t.run("SET here v");
    t.now_ms += 20;
    assert_eq!(t.run("COPY gone x"), int(0));
    assert_eq!(t.run("COPY here gone"), int(1));
    assert_eq!(t.run("PTTL gone"), int(-1), "the new value has no deadline");
    assert_eq!(t.run("MOVE gone 1"), int(1));
    t.run("SET far v");
    t.run_in(1, "SET far old");
    t.run_in(1, "PEXPIRE far 10");
    t.now_ms += 20;
    assert_eq!(
        t.run("MOVE far 1"),
        int(1),
        "an expired key does not block MOVE"
    );
    assert_eq!(t.run_in(1, "GET far"), bulk("v"));
    assert_eq!(t.run_in(1, "PTTL far"), int(-1));
}

#[test]
fn move_between_databases() {
    let mut t = TestDb::new();
    fill(&mut t);
    for k in ["s", "l", "t", "h", "z"] {
        assert_eq!(t.run(&format!("MOVE {k} 2")), int(1), "{k}");
    }
    assert_eq!(contents(&mut t, 2, ""), filled_contents());
    assert_eq!(t.run("DBSIZE"), int(0));
    assert_eq!(t.run_in(2, "DBSIZE"), int(5));
    assert_eq!(t.run("MOVE s 2"), int(0), "nothing left to move");
    t.run("SET s other");
    assert_eq!(t.run("MOVE s 2"), int(0), "the target database has the key");
    assert_eq!(t.run("GET s"), bulk("other"));
    assert_eq!(
        t.run("MOVE s 0"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(t.run("MOVE s 16"), err("ERR DB index is out of range"));
    assert_eq!(
        t.run("MOVE s x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run_in(2, "MOVE l 0"), int(1));
    assert_eq!(t.run("LRANGE l 0 -1"), bulks(&["a", "b", "c", "a"]));
}

#[test]
fn swapdb_swaps_keys_members_deadlines_and_counts() {
    let mut t = TestDb::new();
    fill(&mut t);
    t.run_in(1, "SET only1 x");
    t.run_in(1, "SET s one");
    t.run_in(1, "PEXPIRE s 10");
    assert_eq!(t.run("SWAPDB 0 1"), Reply::ok());
    assert_eq!(contents(&mut t, 1, ""), filled_contents());
    assert_eq!(t.run_in(1, "DBSIZE"), int(5));
    assert_eq!(t.run("DBSIZE"), int(2));
    assert_eq!(t.run("GET only1"), bulk("x"));
    assert_eq!(t.run("PTTL s"), int(10));
    // The expiry index moved with the keys: the active expirer finds them in their new place.
    t.now_ms += 20;
    {
        let txn = t.db.reader();
        let due = txn.expired_keys(t.now_ms, 10).unwrap();
        assert_eq!(due, vec![(0u8, b"s".to_vec())]);
    }
    t.now_ms += 60_000;
    let txn = t.db.reader();
    let mut due = txn.expired_keys(t.now_ms, 10).unwrap();
    due.sort();
    assert_eq!(due, vec![(0u8, b"s".to_vec()), (1u8, b"s".to_vec())]);
    drop(txn);
    t.now_ms -= 60_020;
    assert_eq!(t.run("SWAPDB 1 0"), Reply::ok());
    assert_eq!(contents(&mut t, 0, ""), filled_contents());
    assert_eq!(t.run("SWAPDB 3 3"), Reply::ok());
    assert_eq!(t.run("SWAPDB 0 16"), err("ERR DB index is out of range"));
    assert_eq!(t.run("SWAPDB x 1"), err("ERR invalid first DB index"));
    assert_eq!(t.run("SWAPDB 1 x"), err("ERR invalid second DB index"));
    assert_eq!(
        t.run("SWAPDB 3000000000 1"),
        err("ERR invalid first DB index")
    );
    // An empty database swaps too.
    assert_eq!(t.run("SWAPDB 0 9"), Reply::ok());
    assert_eq!(t.run("DBSIZE"), int(0));
    assert_eq!(contents(&mut t, 9, ""), filled_contents());
}

#[test]
fn touch_counts_keys() {
    let mut t = TestDb::new();
    t.run("SET a 1");
    t.run("RPUSH l x");
    assert_eq!(t.run("TOUCH a l a missing"), int(3));
    assert_eq!(t.run("TOUCH missing"), int(0));
}

fn dump(t: &mut TestDb, db: u8, key: &str) -> Bytes {
    match t.run_in(db, &format!("DUMP {key}")) {
        Reply::Bulk(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn restore(t: &mut TestDb, db: u8, key: &str, ttl: &str, payload: &Bytes, opts: &[&str]) -> Reply {
    let mut argv = vec![
        Bytes::from("RESTORE"),
        Bytes::copy_from_slice(key.as_bytes()),
        Bytes::copy_from_slice(ttl.as_bytes()),
        payload.clone(),
    ];
    argv.extend(opts.iter().map(|o| Bytes::copy_from_slice(o.as_bytes())));
    t.run_argv_in(db, &argv)
}

#[test]
fn dump_and_restore_every_type() {
    let mut t = TestDb::new();
    fill(&mut t);
    assert_eq!(t.run("DUMP missing"), Reply::Nil);
    for k in ["s", "l", "t", "h", "z"] {
        let payload = dump(&mut t, 0, k);
        let ttl = if k == "s" { "50000" } else { "0" };
        assert_eq!(
            restore(&mut t, 4, k, ttl, &payload, &[]),
            Reply::ok(),
            "{k}"
        );
    }
    assert_eq!(contents(&mut t, 4, ""), filled_contents());
    assert_eq!(t.run_in(4, "DBSIZE"), int(5));
    // Restored values behave as any other.
    assert_eq!(t.run_in(4, "LPOP l"), bulk("a"));
    assert_eq!(t.run_in(4, "SISMEMBER t y"), int(1));
    assert_eq!(t.run_in(4, "ZRANK z b"), int(2));
    assert_eq!(t.run_in(4, "HLEN h"), int(2));
}

#[test]
fn restore_options_and_errors_in_redis_order() {
    let mut t = TestDb::new();
    t.run("RPUSH l a b");
    let payload = dump(&mut t, 0, "l");
    assert_eq!(
        restore(&mut t, 0, "l", "0", &payload, &[]),
        err("BUSYKEY Target key name already exists.")
    );
    assert_eq!(
        restore(&mut t, 0, "l", "-1", &payload, &[]),
        err("BUSYKEY Target key name already exists."),
        "an existing key is reported before the TTL"
    );
    assert_eq!(
        restore(&mut t, 0, "n", "-1", &payload, &[]),
        err("ERR Invalid TTL value, must be >= 0")
    );
    assert_eq!(
        restore(&mut t, 0, "n", "x", &payload, &[]),
        err("ERR value is not an integer or out of range")
    );
    let broken = Bytes::from(&b"not a payload"[..]);
    assert_eq!(
        restore(&mut t, 0, "n", "0", &broken, &[]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    // An empty set, with a good footer.
    let mut empty_set = vec![2u8, 0, 10, 0];
    empty_set.extend_from_slice(&super::rdb::crc64(&empty_set).to_le_bytes());
    let empty_set = Bytes::from(empty_set);
    assert_eq!(
        restore(&mut t, 0, "n", "0", &empty_set, &[]),
        err("ERR Bad data format")
    );
    for (opts, reply) in [
        (&["FOO"][..], "ERR syntax error"),
        (
            &["IDLETIME", "-1"],
            "ERR Invalid IDLETIME value, must be >= 0",
        ),
        (
            &["FREQ", "256"],
            "ERR Invalid FREQ value, must be >= 0 and <= 255",
        ),
        (&["FREQ", "1", "IDLETIME", "1"], "ERR syntax error"),
        (&["IDLETIME", "1", "FREQ", "1"], "ERR syntax error"),
        (
            &["IDLETIME", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["IDLETIME"], "ERR syntax error"),
    ] {
        assert_eq!(
            restore(&mut t, 0, "l", "0", &payload, opts),
            err(reply),
            "{opts:?}"
        );
    }
    assert_eq!(
        restore(
            &mut t,
            0,
            "n",
            "0",
            &payload,
            &["IDLETIME", "100", "REPLACE"]
        ),
        Reply::ok()
    );
    assert_eq!(
        restore(&mut t, 0, "n", "0", &payload, &["FREQ", "5", "REPLACE"]),
        Reply::ok()
    );
    // REPLACE over another type; a relative and an absolute deadline.
    t.run("SET str v");
    assert_eq!(
        restore(&mut t, 0, "str", "1500", &payload, &["REPLACE"]),
        Reply::ok()
    );
    assert_eq!(t.run("LRANGE str 0 -1"), bulks(&["a", "b"]));
    assert_eq!(t.run("PTTL str"), int(1500));
    let at = (t.now_ms + 7000).to_string();
    assert_eq!(
        restore(&mut t, 0, "abs", &at, &payload, &["ABSTTL"]),
        Reply::ok()
    );
    assert_eq!(t.run("PTTL abs"), int(7000));
    // A deadline already past: OK, and no key (REPLACE removes the old one).
    let past = (t.now_ms - 1).to_string();
    assert_eq!(
        restore(&mut t, 0, "gone", &past, &payload, &["ABSTTL"]),
        Reply::ok()
    );
    assert_eq!(t.run("EXISTS gone"), int(0));
    assert_eq!(
        restore(&mut t, 0, "abs", &past, &payload, &["ABSTTL", "REPLACE"]),
        Reply::ok()
    );
    assert_eq!(t.run("EXISTS abs"), int(0));
    assert_eq!(t.run("DBSIZE"), int(3));
}

#[test]
fn sort_numbers_strings_limits_and_directions() {
    let mut t = TestDb::new();
    t.run("RPUSH l 3 1 2 10 -1.5 1e1");
    assert_eq!(
        t.run("SORT l"),
        bulks(&["-1.5", "1", "2", "3", "10", "1e1"])
    );
    assert_eq!(
        t.run("SORT l DESC"),
        bulks(&["1e1", "10", "3", "2", "1", "-1.5"]),
        "equal numbers by their bytes, reversed too"
    );
    assert_eq!(t.run("SORT l LIMIT 1 2"), bulks(&["1", "2"]));
    assert_eq!(t.run("SORT l LIMIT -5 2"), bulks(&["-1.5", "1"]));
    assert_eq!(t.run("SORT l LIMIT 5 10"), bulks(&["1e1"]));
    assert_eq!(t.run("SORT l LIMIT 6 1"), bulks(&[]));
    assert_eq!(t.run("SORT l LIMIT 0 0"), bulks(&[]));
    assert_eq!(t.run("SORT l LIMIT 2 -1"), bulks(&["2", "3", "10", "1e1"]));
    assert_eq!(
        t.run("SORT l ALPHA"),
        bulks(&["-1.5", "1", "10", "1e1", "2", "3"])
    );
    assert_eq!(t.run("SORT l ALPHA DESC LIMIT 0 2"), bulks(&["3", "2"]));
    t.run("RPUSH w a 1");
    assert_eq!(
        t.run("SORT w"),
        err("ERR One or more scores can't be converted into double")
    );
    assert_eq!(t.run("SORT w ALPHA"), bulks(&["1", "a"]));
    t.run("SADD s 5 3 4");
    assert_eq!(t.run("SORT s"), bulks(&["3", "4", "5"]));
    t.run("ZADD z 1 30 2 10 3 20");
    assert_eq!(t.run("SORT z"), bulks(&["10", "20", "30"]));
    assert_eq!(t.run("SORT missing"), bulks(&[]));
    t.run("SET str x");
    assert_eq!(
        t.run("SORT str"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(
        t.run("SORT str LIMIT 1"),
        err("ERR syntax error"),
        "options first"
    );
    assert_eq!(
        t.run("SORT l LIMIT a 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("SORT l FOO"), err("ERR syntax error"));
    assert_eq!(t.run("SORT_RO l STORE dst"), err("ERR syntax error"));
    assert_eq!(t.run("SORT_RO l DESC LIMIT 0 1"), bulks(&["1e1"]));
}

#[test]
fn sort_by_weights_and_get_patterns() {
    let mut t = TestDb::new();
    t.run("RPUSH l a b c d");
    t.run("MSET w_a 3 w_b 1 w_c 2 name_a Ann name_b Bob");
    t.run("HSET h_a f 20 g x");
    t.run("HSET h_b f 10");
    t.run("HSET h_c f 30");
    // d has no weight: 0, before the others.
    assert_eq!(t.run("SORT l BY w_*"), bulks(&["d", "b", "c", "a"]));
    assert_eq!(t.run("SORT l BY w_* DESC"), bulks(&["a", "c", "b", "d"]));
    assert_eq!(t.run("SORT l BY h_*->f"), bulks(&["d", "b", "a", "c"]));
    assert_eq!(t.run("SORT l BY w_* ALPHA"), bulks(&["d", "b", "c", "a"]));
    // A pattern without '*' does not sort: the list's own order, reversed for DESC.
    assert_eq!(t.run("SORT l BY nosort"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(t.run("SORT l BY nosort DESC LIMIT 1 2"), bulks(&["c", "b"]));
    assert_eq!(
        t.run("SORT l BY nosort BY w_*"),
        bulks(&["a", "b", "c", "d"])
    );
    t.run("ZADD z 3 a 1 b 2 c");
    assert_eq!(t.run("SORT z BY nosort"), bulks(&["b", "c", "a"]));
    assert_eq!(t.run("SORT z BY nosort DESC LIMIT 0 2"), bulks(&["a", "c"]));
    // GET: the element, strings, hash fields; missing ones are nil.
    assert_eq!(
        t.run("SORT l BY w_* GET # GET name_* GET h_*->f"),
        Reply::Array(vec![
            bulk("d"),
            Reply::Nil,
            Reply::Nil,
            bulk("b"),
            bulk("Bob"),
            bulk("10"),
            bulk("c"),
            Reply::Nil,
            bulk("30"),
            bulk("a"),
            bulk("Ann"),
            bulk("20"),
        ])
    );
    assert_eq!(
        t.run("SORT l BY nosort GET nostar LIMIT 0 1"),
        Reply::Array(vec![Reply::Nil])
    );
    assert_eq!(
        t.run("SORT l BY nosort GET h_*->g LIMIT 0 2"),
        Reply::Array(vec![bulk("x"), Reply::Nil])
    );
    // A weight of another type counts as missing; a field of a string as missing.
    t.run("RPUSH w_d 1");
    assert_eq!(t.run("SORT l BY w_* LIMIT 0 1"), bulks(&["d"]));
    assert_eq!(
        t.run("SORT l BY nosort GET w_*->f LIMIT 0 1"),
        Reply::Array(vec![Reply::Nil])
    );
    t.run("SET w_d abc");
    assert_eq!(
        t.run("SORT l BY w_*"),
        err("ERR One or more scores can't be converted into double")
    );
}

#[test]
fn sort_store_writes_a_list() {
    let mut t = TestDb::new();
    t.run("RPUSH l 3 1 2");
    t.run("MSET v_1 one v_3 three");
    t.run("SET dst old");
    t.run("EXPIRE dst 100");
    assert_eq!(t.run("SORT l STORE dst"), int(3));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["1", "2", "3"]));
    assert_eq!(
        t.run("TTL dst"),
        int(-1),
        "the old deadline goes with the old value"
    );
    assert_eq!(t.run("SORT l GET v_* GET # STORE dst"), int(6));
    assert_eq!(
        t.run("LRANGE dst 0 -1"),
        bulks(&["one", "1", "", "2", "three", "3"]),
        "a missing value is stored as an empty string"
    );
    assert_eq!(t.run("SORT l DESC STORE l"), int(3));
    assert_eq!(t.run("LRANGE l 0 -1"), bulks(&["3", "2", "1"]));
    assert_eq!(t.run("SORT missing STORE dst"), int(0));
    assert_eq!(
        t.run("EXISTS dst"),
        int(0),
        "an empty result deletes the destination"
    );
    // A set not sorted into STORE is sorted as strings.
    t.run("SADD s b a 10 9");
    assert_eq!(t.run("SORT s BY nosort STORE dst"), int(4));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["10", "9", "a", "b"]));
    assert_eq!(t.run("DBSIZE"), int(5));
}

#[test]
fn sort_numbers_as_strtod_reads_them() {
    let mut t = TestDb::new();
    t.run("RPUSH l a b c d e");
    t.run("MSET w_a \" 5\" w_b \"\" w_c 0x10 w_d -inf w_e 1e2");
    assert_eq!(t.run("SORT l BY w_*"), bulks(&["d", "b", "a", "c", "e"]));
    for bad in ["\"5 \"", "nan", "1e400", "4e-320", "\" \"", "0x"] {
        t.run(&format!("SET w_a {bad}"));
        assert_eq!(
            t.run("SORT l BY w_*"),
            err("ERR One or more scores can't be converted into double"),
            "{bad}"
        );
    }
}
