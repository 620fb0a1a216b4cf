//! Generic key commands: DEL/EXISTS/TYPE, KEYS, SCAN, RENAME, the EXPIRE family, SELECT,
//! DBSIZE/FLUSHDB, COPY/MOVE/SWAPDB/TOUCH, DUMP/RESTORE and SORT (the round trips with a real
//! redis-server are in `differential.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use kiwi_tests::cluster::TestCluster;
use kiwi_tests::*;

const CLUSTER_WAIT: Duration = Duration::from_secs(20);

#[test]
fn del_exists_type_unlink() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MSET a 1 b 2 c 3"), ok());
    assert_eq!(
        c.run("EXISTS a b a missing"),
        int(3),
        "EXISTS counts repeated keys"
    );
    assert_eq!(c.run("TYPE a"), status("string"));
    assert_eq!(c.run("TYPE missing"), status("none"));
    assert_eq!(c.run("DEL a missing a"), int(1));
    assert_eq!(c.run("DEL a"), int(0));
    assert_eq!(c.run("UNLINK b c"), int(2));
    assert_eq!(c.run("EXISTS a b c"), int(0));
    assert_eq!(c.run("DEL"), wrong_arity("del"));
    assert_eq!(c.run("EXISTS"), wrong_arity("exists"));
    assert_eq!(c.run("TYPE"), wrong_arity("type"));
}

#[test]
fn keys_glob_patterns() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("KEYS *"), arr(vec![]));
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "user:1", "user:2", "user:10", "a*b",
    ] {
        assert_eq!(c.run(&format!("SET {k} x")), ok());
    }
    assert_eq!(
        c.run("KEYS h?llo").sorted(),
        sorted(&["hallo", "hello", "hxllo"])
    );
    assert_eq!(
        c.run("KEYS h*llo").sorted(),
        sorted(&["hallo", "heeeello", "hello", "hllo", "hxllo"])
    );
    assert_eq!(c.run("KEYS h[ae]llo").sorted(), sorted(&["hallo", "hello"]));
    assert_eq!(c.run("KEYS h[^e]llo").sorted(), sorted(&["hallo", "hxllo"]));
    assert_eq!(c.run("KEYS h[a-b]llo").sorted(), sorted(&["hallo"]));
    assert_eq!(c.run("KEYS user:?").sorted(), sorted(&["user:1", "user:2"]));
    assert_eq!(
        c.run("KEYS user:*").sorted(),
        sorted(&["user:1", "user:10", "user:2"])
    );
    assert_eq!(c.run(r"KEYS a\*b"), bulks(&["a*b"]));
    assert_eq!(c.run("KEYS nomatch*"), arr(vec![]));
    assert_eq!(c.run("KEYS *").items().len(), 9);
    assert_eq!(c.run("KEYS"), wrong_arity("keys"));
}

#[test]
fn scan_iterates_to_completion() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut expected = BTreeSet::new();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        let key = format!("key:{i}");
        pipe.cmd("SET").arg(&key).arg(i).ignore();
        expected.insert(key.into_bytes());
    }
    for i in 0..50 {
        pipe.cmd("SET").arg(format!("other:{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("DBSIZE"), int(1050));

    let all = scan_all(&mut c, &["SCAN"], &["COUNT", "10"], 10_000);
    let seen: BTreeSet<Vec<u8>> = all.iter().cloned().collect();
    assert_eq!(seen.len(), 1050, "every key is returned");

    let matched = scan_all(
        &mut c,
        &["SCAN"],
        &["MATCH", "key:*", "COUNT", "100"],
        10_000,
    );
    let matched: BTreeSet<Vec<u8>> = matched.into_iter().collect();
    assert_eq!(matched, expected);

    let typed = scan_all(&mut c, &["SCAN"], &["TYPE", "string"], 10_000);
    assert_eq!(typed.into_iter().collect::<BTreeSet<_>>().len(), 1050);

    // One call with the default COUNT does not return everything at once.
    let first = c.run("SCAN 0");
    let parts = first.items();
    assert_ne!(
        parts[0].text(),
        "0",
        "1050 keys take more than one default page"
    );
    assert!(!parts[1].items().is_empty());

    assert_eq!(c.run("SCAN abc"), err("ERR invalid cursor"));
    assert_eq!(c.run("SCAN 0 COUNT 0"), err(SYNTAX));
    assert_eq!(c.run("SCAN 0 COUNT x"), err(NOT_INTEGER));
    assert_eq!(c.run("SCAN 0 BOGUS 1"), err(SYNTAX));
    assert_eq!(c.run("SCAN"), wrong_arity("scan"));
}

#[test]
fn scan_on_empty_database() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SCAN 0"), arr(vec![bulk("0"), arr(vec![])]));
}

#[test]
fn rename_and_renamenx() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET a 1 EX 100"), ok());
    assert_eq!(c.run("RENAME a b"), ok());
    assert_eq!(c.run("EXISTS a"), int(0));
    assert_eq!(c.run("GET b"), bulk("1"));
    assert_eq!(c.run("TTL b"), int(100), "RENAME keeps the TTL");

    assert_eq!(c.run("SET c 3"), ok());
    assert_eq!(
        c.run("RENAME b c"),
        ok(),
        "RENAME overwrites the destination"
    );
    assert_eq!(c.run("GET c"), bulk("1"));
    assert_eq!(c.run("EXISTS b"), int(0));
    assert_eq!(c.run("RENAME c c"), ok());
    assert_eq!(c.run("GET c"), bulk("1"));
    assert_eq!(c.run("RENAME missing x"), err("ERR no such key"));
    assert_eq!(c.run("RENAME missing missing"), err("ERR no such key"));

    assert_eq!(c.run("SET d 4"), ok());
    assert_eq!(c.run("RENAMENX c d"), int(0));
    assert_eq!(c.run("GET c"), bulk("1"));
    assert_eq!(c.run("RENAMENX c e"), int(1));
    assert_eq!(c.run("GET e"), bulk("1"));
    assert_eq!(c.run("EXISTS c"), int(0));
    assert_eq!(c.run("RENAMENX e e"), int(0));
    assert_eq!(c.run("RENAMENX missing x"), err("ERR no such key"));
    assert_eq!(c.run("DBSIZE"), int(2));
}

#[test]
fn expire_family() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("TTL k"), int(-1));
    assert_eq!(c.run("PTTL k"), int(-1));
    assert_eq!(c.run("EXPIRETIME k"), int(-1));
    assert_eq!(c.run("TTL missing"), int(-2));
    assert_eq!(c.run("PTTL missing"), int(-2));
    assert_eq!(c.run("EXPIRETIME missing"), int(-2));
    assert_eq!(c.run("PEXPIRETIME missing"), int(-2));

    assert_eq!(c.run("EXPIRE k 100"), int(1));
    assert_eq!(c.run("TTL k"), int(100));
    assert_eq!(c.run("PEXPIRE k 50000"), int(1));
    let pttl = c.run("PTTL k").int();
    assert!((49_000..=50_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(c.run("TTL k"), int(50));

    let now: i64 = c.run("TIME").strings()[0].parse().unwrap();
    assert_eq!(c.run(&format!("EXPIREAT k {}", now + 1000)), int(1));
    assert_eq!(c.run("EXPIRETIME k"), int(now + 1000));
    assert_eq!(c.run("PEXPIRETIME k"), int((now + 1000) * 1000));
    assert_eq!(
        c.run(&format!("PEXPIREAT k {}", now * 1000 + 123_456)),
        int(1)
    );
    assert_eq!(c.run("PEXPIRETIME k"), int(now * 1000 + 123_456));
    assert_eq!(c.run("EXPIRETIME k"), int(now + 123));

    assert_eq!(c.run("PERSIST k"), int(1));
    assert_eq!(c.run("TTL k"), int(-1));
    assert_eq!(c.run("PERSIST k"), int(0));
    assert_eq!(c.run("PERSIST missing"), int(0));
    assert_eq!(c.run("EXPIRE missing 10"), int(0));
    assert_eq!(c.run("EXISTS missing"), int(0));

    assert_eq!(c.run("EXPIRE k abc"), err(NOT_INTEGER));
    assert_eq!(c.run("EXPIRE k"), wrong_arity("expire"));
    assert_eq!(
        c.run("EXPIRE k 9223372036854775807"),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        c.run("PEXPIRE k 9223372036854775807"),
        err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(c.run("TTL k"), int(-1), "failed EXPIREs change nothing");

    // A deadline in the past deletes the key.
    assert_eq!(c.run("EXPIRE k -1"), int(1));
    assert_eq!(c.run("EXISTS k"), int(0));
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("EXPIREAT k 1"), int(1));
    assert_eq!(c.run("GET k"), nil());
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("PEXPIRE k 0"), int(1));
    assert_eq!(c.run("EXISTS k"), int(0));
    assert_eq!(c.run("DBSIZE"), int(0));
}

#[test]
fn expire_options_nx_xx_gt_lt() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("EXPIRE k 100 XX"), int(0), "XX: no TTL yet");
    assert_eq!(
        c.run("EXPIRE k 100 GT"),
        int(0),
        "no TTL counts as infinite for GT"
    );
    assert_eq!(c.run("TTL k"), int(-1));
    assert_eq!(c.run("EXPIRE k 100 NX"), int(1));
    assert_eq!(c.run("EXPIRE k 200 NX"), int(0));
    assert_eq!(c.run("TTL k"), int(100));
    assert_eq!(c.run("EXPIRE k 200 XX"), int(1));
    assert_eq!(c.run("TTL k"), int(200));
    assert_eq!(c.run("EXPIRE k 100 GT"), int(0));
    assert_eq!(c.run("EXPIRE k 300 GT"), int(1));
    assert_eq!(c.run("TTL k"), int(300));
    assert_eq!(c.run("EXPIRE k 400 LT"), int(0));
    assert_eq!(c.run("EXPIRE k 50 LT"), int(1));
    assert_eq!(c.run("TTL k"), int(50));
    assert_eq!(
        c.run("EXPIRE k 60 xx gt"),
        int(1),
        "options are case-insensitive and combine"
    );
    assert_eq!(c.run("TTL k"), int(60));
    assert_eq!(c.run("PERSIST k"), int(1));
    assert_eq!(
        c.run("EXPIRE k 100 LT"),
        int(1),
        "any TTL is less than none"
    );
    assert_eq!(c.run("TTL k"), int(100));

    assert_eq!(
        c.run("EXPIRE k 10 NX XX"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        c.run("EXPIRE k 10 NX GT"),
        err("ERR NX and XX, GT or LT options at the same time are not compatible")
    );
    assert_eq!(
        c.run("EXPIRE k 10 GT LT"),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        c.run("EXPIRE k 10 bogus"),
        err("ERR Unsupported option bogus")
    );
    assert_eq!(
        c.run("EXPIRE k abc bogus"),
        err("ERR Unsupported option bogus"),
        "options are checked first"
    );
    assert_eq!(c.run("TTL k"), int(100));
}

#[test]
fn ttl_counts_down() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v EX 3"), ok());
    assert_eq!(c.run("TTL k"), int(3));
    let first = c.run("PTTL k").int();
    assert!(first <= 3000 && first > 2000, "PTTL {first}");
    let mut last = first;
    let later = eventually(Duration::from_secs(5), "PTTL drops by 500 ms", || {
        let p = c.run("PTTL k").int();
        assert!(p <= last, "PTTL went up from {last} to {p}");
        last = p;
        (p < first - 500).then_some(p)
    });
    assert!(later > 0, "still alive at PTTL {later}");
    eventually(Duration::from_secs(5), "TTL reaches 2", || {
        (c.run("TTL k").int() <= 2).then_some(())
    });
}

#[test]
fn randomkey() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RANDOMKEY"), nil());
    assert_eq!(c.run("SET only v"), ok());
    assert_eq!(c.run("RANDOMKEY"), bulk("only"));
    assert_eq!(c.run("MSET a 1 b 2"), ok());
    for _ in 0..20 {
        let k = c.run("RANDOMKEY").text();
        assert!(
            ["only", "a", "b"].contains(&k.as_str()),
            "RANDOMKEY returned {k}"
        );
    }
}

#[test]
fn select_dbsize_flushdb_flushall() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("MSET a 1 b 2"), ok());
    assert_eq!(c.run("SELECT 1"), ok());
    assert_eq!(c.run("GET a"), nil(), "databases are separate");
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("SET a one"), ok());
    assert_eq!(c.run("SET c 3"), ok());
    assert_eq!(c.run("DBSIZE"), int(2));
    assert_eq!(c.run("KEYS *").sorted(), sorted(&["a", "c"]));
    assert_eq!(c.run("SELECT 0"), ok());
    assert_eq!(c.run("GET a"), bulk("1"));
    assert_eq!(c.run("DBSIZE"), int(2));

    let mut other = s.client();
    assert_eq!(
        other.run("GET a"),
        bulk("1"),
        "a new connection starts in database 0"
    );

    assert_eq!(c.run("SELECT 16"), err("ERR DB index is out of range"));
    assert_eq!(c.run("SELECT -1"), err("ERR DB index is out of range"));
    assert_eq!(c.run("SELECT abc"), err(NOT_INTEGER));
    assert_eq!(c.run("SELECT 15"), ok());
    assert_eq!(c.run("SELECT 0"), ok());

    assert_eq!(c.run("FLUSHDB"), ok());
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("SELECT 1"), ok());
    assert_eq!(
        c.run("DBSIZE"),
        int(2),
        "FLUSHDB only empties the selected database"
    );
    assert_eq!(c.run("FLUSHDB bogus"), err(SYNTAX));
    assert_eq!(c.run("FLUSHALL SYNC"), ok());
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("SELECT 0"), ok());
    assert_eq!(c.run("MSET x 1 y 2"), ok());
    assert_eq!(c.run("FLUSHALL ASYNC"), ok());
    assert_eq!(c.run("DBSIZE"), int(0));
    assert_eq!(c.run("KEYS *"), arr(vec![]));
}

#[test]
fn ping_echo_time() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("PING"), status("PONG"));
    assert_eq!(c.run("PING hello"), bulk("hello"));
    assert_eq!(c.run("PING a b"), wrong_arity("ping"));
    assert_eq!(c.run_args(&["ECHO", "hello world"]), bulk("hello world"));
    assert_eq!(c.run("ECHO"), wrong_arity("echo"));
    let t = c.run("TIME").strings();
    assert_eq!(t.len(), 2);
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 5, "TIME {secs} vs local {now}");
    assert!(micros < 1_000_000);
}

/// A value of every type, for the commands that copy whole values.
fn fill(c: &mut redis::Connection) {
    assert_eq!(c.run("SET s hello"), ok());
    assert_eq!(c.run("PEXPIRE s 100000"), int(1));
    assert_eq!(c.run("RPUSH l a b c a"), int(4));
    assert_eq!(c.run("SADD t x y z"), int(3));
    assert_eq!(c.run("HSET h f1 v1 f2 v2"), int(2));
    assert_eq!(c.run("ZADD z 1 a 2.5 b -inf c"), int(3));
}

/// What `fill` stored, read back under `prefix` (the deadline as "some", to be clock-proof).
fn contents(c: &mut redis::Connection, prefix: &str) -> Vec<R> {
    let mut out = vec![c.run(&format!("GET {prefix}s"))];
    let pttl = c.run(&format!("PTTL {prefix}s")).int();
    out.push(int(i64::from(pttl > 90_000 && pttl <= 100_000)));
    out.push(c.run(&format!("LRANGE {prefix}l 0 -1")));
    out.push(arr(c
        .run(&format!("SMEMBERS {prefix}t"))
        .sorted()
        .iter()
        .map(bulk)
        .collect()));
    out.push(c.run(&format!("HGETALL {prefix}h")));
    out.push(c.run(&format!("ZRANGE {prefix}z 0 -1 WITHSCORES")));
    out
}

fn filled() -> Vec<R> {
    vec![
        bulk("hello"),
        int(1),
        bulks(&["a", "b", "c", "a"]),
        bulks(&["x", "y", "z"]),
        bulks(&["f1", "v1", "f2", "v2"]),
        bulks(&["c", "-inf", "a", "1", "b", "2.5"]),
    ]
}

#[test]
fn copy_move_swapdb_and_touch() {
    let s = KiwiServer::start();
    let mut c = s.client();
    fill(&mut c);
    for k in ["s", "l", "t", "h", "z"] {
        assert_eq!(c.run(&format!("COPY {k} c{k}")), int(1), "{k}");
    }
    assert_eq!(contents(&mut c, "c"), filled());
    assert_eq!(c.run("COPY s cl"), int(0));
    assert_eq!(c.run("COPY s cl REPLACE"), int(1));
    assert_eq!(c.run("TYPE cl"), status("string"));
    assert_eq!(
        c.run("COPY s s"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        c.run("COPY s s2 DB 16"),
        err("ERR DB index is out of range")
    );
    assert_eq!(c.run("COPY s s2 REPLACE BAD"), err(SYNTAX));
    assert_eq!(c.run("COPY s"), wrong_arity("copy"));
    assert_eq!(c.run("COPY nothing x"), int(0));
    assert_eq!(c.run("TOUCH s l nothing s"), int(3));
    assert_eq!(c.run("TOUCH"), wrong_arity("touch"));

    // To database 5 by COPY ... DB and by MOVE, then swapped back into view.
    assert_eq!(c.run("COPY s s DB 5"), int(1));
    for k in ["l", "t", "h", "z"] {
        assert_eq!(c.run(&format!("MOVE {k} 5")), int(1), "{k}");
    }
    assert_eq!(c.run("MOVE s 5"), int(0), "database 5 has s");
    assert_eq!(
        c.run("MOVE s 0"),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(c.run("MOVE s 99"), err("ERR DB index is out of range"));
    assert_eq!(c.run("DBSIZE"), int(6));
    assert_eq!(c.run("SELECT 5"), ok());
    assert_eq!(contents(&mut c, ""), filled());
    assert_eq!(c.run("DBSIZE"), int(5));
    assert_eq!(c.run("SWAPDB 5 0"), ok());
    assert_eq!(
        c.run("DBSIZE"),
        int(6),
        "this connection sees the other database now"
    );
    assert_eq!(c.run("GET cs"), bulk("hello"));
    let mut other = s.client();
    assert_eq!(contents(&mut other, ""), filled());
    assert_eq!(other.run("DBSIZE"), int(5));
    assert_eq!(other.run("SWAPDB 0 x"), err("ERR invalid second DB index"));
    assert_eq!(
        other.run("SWAPDB 0 16"),
        err("ERR DB index is out of range")
    );
}

#[test]
fn dump_and_restore_within_kiwi() {
    let s = KiwiServer::start();
    let mut c = s.client();
    fill(&mut c);
    // Large values too: many members, long members, integers of every width.
    let big: Vec<String> = (0..2000)
        .map(|i| format!("{i}-{}", "x".repeat(i % 300)))
        .collect();
    let mut args = vec!["RPUSH".to_string(), "bl".to_string()];
    args.extend(big.iter().cloned());
    c.run_args(&args);
    args[0] = "SADD".into();
    args[1] = "bt".into();
    c.run_args(&args);
    for k in ["s", "l", "t", "h", "z", "bl", "bt"] {
        let R::Bulk(payload) = c.run(&format!("DUMP {k}")) else {
            panic!("DUMP {k}")
        };
        let ttl = if k == "s" { "100000" } else { "0" };
        assert_eq!(
            c.run_args(&[
                b"RESTORE".as_slice(),
                format!("r{k}").as_bytes(),
                ttl.as_bytes(),
                payload.as_slice()
            ]),
            ok(),
            "{k}"
        );
        assert_eq!(
            c.run_args(&[
                b"RESTORE".as_slice(),
                format!("r{k}").as_bytes(),
                b"0".as_slice(),
                payload.as_slice()
            ]),
            err("BUSYKEY Target key name already exists.")
        );
    }
    assert_eq!(contents(&mut c, "r"), filled());
    assert_eq!(c.run("LRANGE rbl 0 -1"), c.run("LRANGE bl 0 -1"));
    assert_eq!(
        c.run("SMEMBERS rbt").sorted(),
        c.run("SMEMBERS bt").sorted()
    );
    assert_eq!(c.run("DUMP nothing"), nil());
    assert_eq!(
        c.run("RESTORE k 0 garbage"),
        err("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(
        c.run("RESTORE k -5 garbage"),
        err("ERR Invalid TTL value, must be >= 0")
    );
}

#[test]
fn sort_and_sort_ro() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH l 3 1 2"), int(3));
    assert_eq!(c.run("MSET w_1 30 w_2 10 w_3 20 n_1 one n_2 two"), ok());
    assert_eq!(c.run("HSET h_1 f b"), int(1));
    assert_eq!(c.run("HSET h_2 f a"), int(1));
    assert_eq!(c.run("SORT l"), bulks(&["1", "2", "3"]));
    assert_eq!(c.run("SORT_RO l DESC"), bulks(&["3", "2", "1"]));
    assert_eq!(c.run("SORT l BY w_*"), bulks(&["2", "3", "1"]));
    assert_eq!(c.run("SORT l BY h_*->f ALPHA"), bulks(&["3", "2", "1"]));
    assert_eq!(c.run("SORT l BY nosort DESC"), bulks(&["2", "1", "3"]));
    assert_eq!(
        c.run("SORT l BY w_* GET # GET n_* LIMIT 0 2"),
        arr(vec![bulk("2"), bulk("two"), bulk("3"), nil()])
    );
    assert_eq!(c.run("SORT l ALPHA LIMIT 1 1 STORE dst"), int(1));
    assert_eq!(c.run("LRANGE dst 0 -1"), bulks(&["2"]));
    assert_eq!(c.run("SORT_RO l STORE dst"), err(SYNTAX));
    assert_eq!(c.run("RPUSH bad x"), int(1));
    assert_eq!(
        c.run("SORT bad"),
        err("ERR One or more scores can't be converted into double")
    );
    assert_eq!(c.run("SORT n_1"), err(WRONGTYPE));
    assert_eq!(c.run("SORT"), wrong_arity("sort"));
    assert_eq!(c.run("SORT_RO"), wrong_arity("sort_ro"));
}

/// COMMAND INFO lists the new commands with Redis 7's arity, flags and key positions.
#[test]
fn command_info_of_the_keyspace_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    for (name, arity, flags, keys) in [
        ("copy", -3, &["write", "denyoom"][..], (1, 2, 1)),
        ("move", 3, &["write", "fast"], (1, 1, 1)),
        ("swapdb", 3, &["write", "fast"], (0, 0, 0)),
        ("touch", -2, &["readonly", "fast"], (1, -1, 1)),
        ("dump", 2, &["readonly"], (1, 1, 1)),
        ("restore", -4, &["write", "denyoom"], (1, 1, 1)),
        ("sort", -2, &["write", "denyoom", "movablekeys"], (1, 1, 1)),
        ("sort_ro", -2, &["readonly", "movablekeys"], (1, 1, 1)),
        ("randomkey", 1, &["readonly"], (0, 0, 0)),
    ] {
        let info = c.run(&format!("COMMAND INFO {name}")).items()[0].items();
        assert_eq!(info[0], bulk(name));
        assert_eq!(info[1], int(arity), "{name}");
        let mut got: Vec<String> = info[2].items().iter().map(R::text).collect();
        got.sort();
        let mut want: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            (info[3].int(), info[4].int(), info[5].int()),
            keys,
            "{name}"
        );
    }
}

/// Values made by COPY, MOVE, SWAPDB, RESTORE and SORT ... STORE are replicated as the commands
/// that made them: every node of a 3-node cluster holds them, from its own storage, and still
/// does after every node restarts.
#[test]
fn copied_restored_and_sorted_values_reach_followers_and_survive_restarts() {
    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(CLUSTER_WAIT);
    let mut c = cluster.nodes[leader].client();
    assert_eq!(c.run("RPUSH src 3 1 2"), int(3));
    assert_eq!(c.run("ZADD z 1 a 2 b"), int(2));
    assert_eq!(c.run("COPY src copied"), int(1));
    assert_eq!(c.run("COPY z z DB 1"), int(1));
    assert_eq!(c.run("SORT src STORE sorted"), int(3));
    let R::Bulk(payload) = c.run("DUMP z") else {
        panic!("DUMP z")
    };
    let restore: [&[u8]; 4] = [b"RESTORE", b"restored", b"0", &payload];
    assert_eq!(c.run_args(&restore), ok());
    assert_eq!(c.run("SELECT 2"), ok());
    assert_eq!(c.run("SET moved v"), ok());
    assert_eq!(c.run("MOVE moved 3"), int(1));
    assert_eq!(c.run("SWAPDB 1 2"), ok());

    let check = |cluster: &TestCluster| {
        cluster.wait_converged(CLUSTER_WAIT);
        for node in &cluster.nodes {
            let mut c = node.client();
            assert_eq!(c.run("READONLY"), ok());
            let id = node.id;
            assert_eq!(
                c.run("LRANGE copied 0 -1"),
                bulks(&["3", "1", "2"]),
                "node {id}"
            );
            assert_eq!(
                c.run("LRANGE sorted 0 -1"),
                bulks(&["1", "2", "3"]),
                "node {id}"
            );
            let z = bulks(&["a", "1", "b", "2"]);
            assert_eq!(c.run("ZRANGE restored 0 -1 WITHSCORES"), z, "node {id}");
            assert_eq!(
                c.run("SORT_RO src DESC"),
                bulks(&["3", "2", "1"]),
                "node {id}"
            );
            assert_eq!(c.run("SELECT 2"), ok());
            assert_eq!(
                c.run("ZRANGE z 0 -1 WITHSCORES"),
                z,
                "node {id}: swapped in"
            );
            assert_eq!(c.run("SELECT 3"), ok());
            assert_eq!(c.run("GET moved"), bulk("v"), "node {id}");
        }
    };
    check(&cluster);
    for i in 0..cluster.nodes.len() {
        cluster.restart(i);
    }
    check(&cluster);
}
