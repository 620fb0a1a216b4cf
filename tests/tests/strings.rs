//! String commands, as a client sees them.

use kiwi_tests::*;

#[test]
fn set_get_overwrite_and_binary_values() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("GET k"), nil());
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("GET k"), bulk("v"));
    assert_eq!(c.run("SET k v2"), ok());
    assert_eq!(c.run("GET k"), bulk("v2"));
    assert_eq!(
        c.run("get K"),
        nil(),
        "keys are case-sensitive, command names are not"
    );

    let binary: &[u8] = b"\x00\xff\r\n$3\r\n*1 spaces ";
    assert_eq!(c.run_args(&[&b"SET"[..], b"bin\x00key", binary]), ok());
    assert_eq!(c.run_args(&[&b"GET"[..], b"bin\x00key"]), bulk(binary));
    assert_eq!(c.run_args(&["SET", "empty", ""]), ok());
    assert_eq!(c.run("GET empty"), bulk(""));
    assert_eq!(c.run("STRLEN empty"), int(0));
    assert_eq!(c.run("EXISTS empty"), int(1));

    let big = "x".repeat(1 << 20);
    assert_eq!(c.run_args(&["SET", "big", &big]), ok());
    assert_eq!(c.run("GET big"), bulk(&big));
    assert_eq!(c.run("STRLEN big"), int(1 << 20));
}

#[test]
fn set_options_nx_xx_get() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v NX"), ok());
    assert_eq!(c.run("SET k w NX"), nil());
    assert_eq!(c.run("GET k"), bulk("v"));
    assert_eq!(c.run("SET absent w XX"), nil());
    assert_eq!(c.run("EXISTS absent"), int(0));
    assert_eq!(c.run("SET k w XX"), ok());
    assert_eq!(c.run("GET k"), bulk("w"));
    assert_eq!(c.run("SET k x GET"), bulk("w"));
    assert_eq!(c.run("SET fresh x GET"), nil());
    assert_eq!(c.run("GET fresh"), bulk("x"));
    assert_eq!(
        c.run("SET k y nx GET"),
        bulk("x"),
        "NX refused: GET still returns the old value"
    );
    assert_eq!(c.run("GET k"), bulk("x"));
    assert_eq!(c.run("SET k z XX GET"), bulk("x"));
    assert_eq!(c.run("GET k"), bulk("z"));
}

#[test]
fn set_option_errors() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v NX XX"), err(SYNTAX));
    assert_eq!(c.run("SET k v EX 10 PX 100"), err(SYNTAX));
    assert_eq!(c.run("SET k v EX 10 KEEPTTL"), err(SYNTAX));
    assert_eq!(c.run("SET k v EX"), err(SYNTAX));
    assert_eq!(c.run("SET k v BOGUS"), err(SYNTAX));
    assert_eq!(
        c.run("SET k v EX 0"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        c.run("SET k v PX -5"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        c.run("SET k v EX 9223372036854775807"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(c.run("SET k v EX ten"), err(NOT_INTEGER));
    assert_eq!(c.run("EXISTS k"), int(0), "a rejected SET writes nothing");
    assert_eq!(c.run("SET k"), wrong_arity("set"));
    assert_eq!(c.run("GET"), wrong_arity("get"));
    assert_eq!(c.run("GET a b"), wrong_arity("get"));
}

#[test]
fn set_ttl_options() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v EX 100"), ok());
    assert_eq!(c.run("TTL k"), int(100));
    let pttl = c.run("PTTL k").int();
    assert!((99_000..=100_000).contains(&pttl), "PTTL {pttl}");

    assert_eq!(c.run("SET k v2 KEEPTTL"), ok());
    assert_eq!(c.run("TTL k"), int(100));
    assert_eq!(c.run("GET k"), bulk("v2"));
    assert_eq!(c.run("SET k v3"), ok());
    assert_eq!(c.run("TTL k"), int(-1), "a plain SET clears the TTL");

    assert_eq!(c.run("SET p v PX 50000"), ok());
    let pttl = c.run("PTTL p").int();
    assert!((49_000..=50_000).contains(&pttl), "PTTL {pttl}");

    let now: i64 = c.run("TIME").strings()[0].parse().unwrap();
    assert_eq!(c.run(&format!("SET at v EXAT {}", now + 200)), ok());
    let ttl = c.run("TTL at").int();
    assert!((198..=200).contains(&ttl), "TTL {ttl}");
    assert_eq!(c.run("EXPIRETIME at"), int(now + 200));
    assert_eq!(
        c.run(&format!("SET pat v PXAT {}", now * 1000 + 300_000)),
        ok()
    );
    assert_eq!(c.run("PEXPIRETIME pat"), int(now * 1000 + 300_000));

    assert_eq!(c.run("SETEX sx 10 v"), ok());
    assert_eq!(c.run("TTL sx"), int(10));
    assert_eq!(c.run("GET sx"), bulk("v"));
    assert_eq!(c.run("PSETEX psx 20000 v"), ok());
    assert_eq!(c.run("TTL psx"), int(20));
    assert_eq!(
        c.run("SETEX sx 0 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        c.run("PSETEX sx -1 v"),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(c.run("SETEX sx abc v"), err(NOT_INTEGER));
    assert_eq!(c.run("SETEX sx 10"), wrong_arity("setex"));
}

#[test]
fn short_ttl_key_disappears() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v PX 100"), ok());
    eventually(std::time::Duration::from_secs(5), "k expires", || {
        (c.run("GET k") == nil()).then_some(())
    });
    assert_eq!(c.run("EXISTS k"), int(0));
    assert_eq!(c.run("TTL k"), int(-2));
    assert_eq!(
        c.run("SET k v NX"),
        ok(),
        "an expired key does not block NX"
    );
}

#[test]
fn counters() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("INCR n"), int(1));
    assert_eq!(c.run("INCRBY n 41"), int(42));
    assert_eq!(c.run("DECR n"), int(41));
    assert_eq!(c.run("DECRBY n 1"), int(40));
    assert_eq!(c.run("INCRBY n -50"), int(-10));
    assert_eq!(c.run("GET n"), bulk("-10"));
    assert_eq!(c.run("DECR fresh"), int(-1));

    assert_eq!(c.run("SET n 9223372036854775807"), ok());
    assert_eq!(
        c.run("INCR n"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        c.run("GET n"),
        bulk("9223372036854775807"),
        "a failed INCR changes nothing"
    );
    assert_eq!(c.run("SET n -9223372036854775808"), ok());
    assert_eq!(
        c.run("DECR n"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.run("SET n 0"), ok());
    assert_eq!(
        c.run("DECRBY n -9223372036854775808"),
        err("ERR decrement would overflow")
    );

    assert_eq!(c.run("SET s abc"), ok());
    assert_eq!(c.run("INCR s"), err(NOT_INTEGER));
    assert_eq!(c.run("SET s 1.5"), ok());
    assert_eq!(c.run("INCR s"), err(NOT_INTEGER));
    assert_eq!(c.run_args(&["SET", "s", " 1"]), ok());
    assert_eq!(c.run("INCR s"), err(NOT_INTEGER));
    assert_eq!(c.run("INCRBY n abc"), err(NOT_INTEGER));
    assert_eq!(c.run("INCRBY n 99999999999999999999"), err(NOT_INTEGER));

    assert_eq!(c.run("SET k 10 EX 100"), ok());
    assert_eq!(c.run("INCR k"), int(11));
    assert_eq!(c.run("TTL k"), int(100), "INCR keeps the TTL");
}

#[test]
fn incrbyfloat() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET f 10.50"), ok());
    assert_eq!(c.run("INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(c.run("INCRBYFLOAT f -5"), bulk("5.6"));
    assert_eq!(c.run("GET f"), bulk("5.6"));
    assert_eq!(c.run("SET f 5.0e3"), ok());
    assert_eq!(c.run("INCRBYFLOAT f 2.0e2"), bulk("5200"));
    assert_eq!(c.run("INCRBYFLOAT new 3"), bulk("3"));
    assert_eq!(c.run("INCRBYFLOAT new 1.5"), bulk("4.5"));
    assert_eq!(c.run("INCRBYFLOAT new -4.5"), bulk("0"));
    assert_eq!(c.run("INCRBYFLOAT f abc"), err(NOT_FLOAT));
    assert_eq!(c.run("SET s abc"), ok());
    assert_eq!(c.run("INCRBYFLOAT s 1"), err(NOT_FLOAT));
    assert_eq!(c.run("INCRBYFLOAT f"), wrong_arity("incrbyfloat"));
    // Redis adds in x87 long double and prints 17 decimals: not what an f64 sum prints.
    assert_eq!(c.run("SET f 997"), ok());
    assert_eq!(c.run("INCRBYFLOAT f 0.1"), bulk("997.09999999999999998"));
    assert_eq!(c.run("SET f 1e308"), ok());
    assert_eq!(c.run("INCRBYFLOAT f 1e308").text().len(), 309);
    // The key's type is checked before the increment is read.
    assert_eq!(c.run("RPUSH list a"), int(1));
    assert_eq!(c.run("INCRBYFLOAT list abc"), err(WRONGTYPE));
}

#[test]
fn append_strlen_getrange_setrange() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("APPEND k Hello"), int(5));
    assert_eq!(c.run_args(&["APPEND", "k", " World"]), int(11));
    assert_eq!(c.run("GET k"), bulk("Hello World"));
    assert_eq!(c.run("STRLEN k"), int(11));
    assert_eq!(c.run("STRLEN missing"), int(0));

    assert_eq!(c.run("GETRANGE k 0 4"), bulk("Hello"));
    assert_eq!(c.run("GETRANGE k -5 -1"), bulk("World"));
    assert_eq!(c.run("GETRANGE k 0 -1"), bulk("Hello World"));
    assert_eq!(c.run("GETRANGE k 6 1000"), bulk("World"));
    assert_eq!(c.run("GETRANGE k 5 3"), bulk(""));
    assert_eq!(c.run("GETRANGE k -100 2"), bulk("Hel"));
    assert_eq!(c.run("GETRANGE missing 0 -1"), bulk(""));
    assert_eq!(c.run("GETRANGE k a 1"), err(NOT_INTEGER));
    assert_eq!(c.run("SUBSTR k 0 4"), bulk("Hello"));

    assert_eq!(c.run("SETRANGE k 6 Redis"), int(11));
    assert_eq!(c.run("GET k"), bulk("Hello Redis"));
    assert_eq!(c.run("SETRANGE k 11 !"), int(12));
    assert_eq!(c.run("GET k"), bulk("Hello Redis!"));
    assert_eq!(c.run("SETRANGE pad 3 x"), int(4));
    assert_eq!(c.run("GET pad"), bulk(b"\x00\x00\x00x"));
    assert_eq!(c.run("SETRANGE k -1 x"), err("ERR offset is out of range"));
    assert_eq!(c.run_args(&["SETRANGE", "nothing", "5", ""]), int(0));
    assert_eq!(
        c.run("EXISTS nothing"),
        int(0),
        "an empty SETRANGE creates no key"
    );
    assert_eq!(c.run_args(&["SETRANGE", "k", "0", ""]), int(12));

    assert_eq!(c.run("SET t v EX 100"), ok());
    assert_eq!(c.run("APPEND t w"), int(2));
    assert_eq!(c.run("TTL t"), int(100), "APPEND keeps the TTL");
}

#[test]
fn multi_key_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MSET a 1 b 2 c 3"), ok());
    assert_eq!(
        c.run("MGET a b missing c"),
        arr(vec![bulk("1"), bulk("2"), nil(), bulk("3")])
    );
    assert_eq!(c.run("MSET a"), wrong_arity("mset"));
    assert_eq!(c.run("MSET a 1 b"), wrong_arity("mset"));
    assert_eq!(c.run("MGET"), wrong_arity("mget"));
    assert_eq!(c.run("MSET a x a y"), ok());
    assert_eq!(
        c.run("GET a"),
        bulk("y"),
        "the last value for a repeated key wins"
    );

    assert_eq!(c.run("MSETNX c 9 d 4"), int(0));
    assert_eq!(
        c.run("EXISTS d"),
        int(0),
        "MSETNX sets nothing when any key exists"
    );
    assert_eq!(c.run("GET c"), bulk("3"));
    assert_eq!(c.run("MSETNX d 4 e 5"), int(1));
    assert_eq!(c.run("MGET d e"), bulks(&["4", "5"]));
    assert_eq!(c.run("MSETNX d"), wrong_arity("msetnx"));
}

#[test]
fn getset_getdel_getex_setnx() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET a 1 EX 100"), ok());
    assert_eq!(c.run("GETSET a 10"), bulk("1"));
    assert_eq!(c.run("GET a"), bulk("10"));
    assert_eq!(c.run("TTL a"), int(-1), "GETSET clears the TTL");
    assert_eq!(c.run("GETSET new x"), nil());
    assert_eq!(c.run("GET new"), bulk("x"));

    assert_eq!(c.run("GETDEL a"), bulk("10"));
    assert_eq!(c.run("GETDEL a"), nil());
    assert_eq!(c.run("EXISTS a"), int(0));

    assert_eq!(c.run("SETNX b x"), int(1));
    assert_eq!(c.run("SETNX b y"), int(0));
    assert_eq!(c.run("GET b"), bulk("x"));

    assert_eq!(c.run("GETEX b"), bulk("x"));
    assert_eq!(c.run("TTL b"), int(-1));
    assert_eq!(c.run("GETEX b EX 100"), bulk("x"));
    assert_eq!(c.run("TTL b"), int(100));
    assert_eq!(c.run("GETEX b PX 50000"), bulk("x"));
    assert_eq!(c.run("TTL b"), int(50));
    assert_eq!(c.run("GETEX b PERSIST"), bulk("x"));
    assert_eq!(c.run("TTL b"), int(-1));
    assert_eq!(c.run("GETEX missing EX 10"), nil());
    // The expire time is only checked for a key that is there.
    assert_eq!(c.run("GETEX missing EX 0"), nil());
    assert_eq!(c.run("GETEX missing EX x"), nil());
    assert_eq!(c.run("EXISTS missing"), int(0));
    assert_eq!(c.run("GETEX b EX 10 PX 10"), err(SYNTAX));
    assert_eq!(
        c.run("GETEX b EX 0"),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(c.run("GETEX b BOGUS"), err(SYNTAX));
}

#[test]
fn redis_rs_typed_api() {
    use redis::Commands;
    let s = KiwiServer::start();
    let mut c = s.client();
    let _: () = c.set("typed", 42).unwrap();
    let v: i64 = c.get("typed").unwrap();
    assert_eq!(v, 42);
    let n: i64 = c.incr("typed", 8).unwrap();
    assert_eq!(n, 50);
    let missing: Option<String> = c.get("nope").unwrap();
    assert_eq!(missing, None);
    let _: () = c.mset(&[("x", "1"), ("y", "2")]).unwrap();
    let values: Vec<Option<String>> = c.mget(&["x", "nope", "y"]).unwrap();
    assert_eq!(values, vec![Some("1".into()), None, Some("2".into())]);
    let _: () = c.set("word", "abc").unwrap();
    let e = c.incr::<_, _, i64>("word", 1).unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    assert_eq!(e.detail(), Some("value is not an integer or out of range"));
}

/// A reply of integers (nil for `None`).
fn ints(items: &[Option<i64>]) -> R {
    arr(items.iter().map(|n| n.map_or(R::Nil, int)).collect())
}

#[test]
fn bitmaps_setbit_getbit_bitcount_bitpos_bitop() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SETBIT b 7 1"), int(0));
    assert_eq!(c.run("SETBIT b 7 1"), int(1));
    assert_eq!(c.run("GET b"), bulk(b"\x01"));
    assert_eq!(c.run("SETBIT b 12 1"), int(0));
    assert_eq!(c.run("GET b"), bulk(b"\x01\x08"));
    assert_eq!(c.run("GETBIT b 12"), int(1));
    assert_eq!(c.run("GETBIT b 999"), int(0));
    assert_eq!(c.run("BITCOUNT b"), int(2));
    assert_eq!(c.run("BITCOUNT b 1 1"), int(1));
    assert_eq!(c.run("BITCOUNT b 8 11 BIT"), int(0));
    assert_eq!(c.run("BITPOS b 1"), int(7));
    assert_eq!(c.run("BITPOS b 1 8 -1 BIT"), int(12));
    assert_eq!(c.run("BITPOS b 0 1"), int(8));
    let offset_err = err("ERR bit offset is not an integer or out of range");
    assert_eq!(c.run("SETBIT b 4294967296 1"), offset_err);
    assert_eq!(c.run("GETBIT b -1"), offset_err);
    assert_eq!(
        c.run("SETBIT b 1 2"),
        err("ERR bit is not an integer or out of range")
    );
    assert_eq!(c.run_args(&[&b"SET"[..], b"x", b"\xff"]), ok());
    assert_eq!(c.run("BITOP AND d b x missing"), int(2));
    assert_eq!(c.run("GET d"), bulk(b"\x00\x00"));
    assert_eq!(c.run("BITOP XOR d b b"), int(2));
    assert_eq!(c.run("BITOP NOT d d"), int(2));
    assert_eq!(c.run("GET d"), bulk(b"\xff\xff"));
    assert_eq!(c.run("BITOP OR d missing"), int(0));
    assert_eq!(
        c.run("EXISTS d"),
        int(0),
        "an empty result deletes the target"
    );
    assert_eq!(
        c.run("BITOP NOT d b x"),
        err("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(c.run("RPUSH l a"), int(1));
    for cmd in [
        "SETBIT l 0 1",
        "GETBIT l 0",
        "BITCOUNT l",
        "BITPOS l 1",
        "BITOP AND d b l",
        "BITFIELD l GET u8 0",
        "BITFIELD_RO l GET u8 0",
        "GETRANGE l 0 1",
        "SUBSTR l 0 1",
        "SETRANGE l 0 x",
        "GETDEL l",
    ] {
        assert_eq!(c.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(
        c.run("LCS l b"),
        err("ERR The specified keys must contain string values")
    );
}

#[test]
fn bitfield_and_lcs_reply_shapes_in_resp2_and_resp3() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("BITFIELD k SET u8 0 200 INCRBY u8 0 100 OVERFLOW FAIL INCRBY u8 0 250 GET i8 0"),
        ints(&[Some(0), Some(44), None, Some(44)])
    );
    assert_eq!(c.run("BITFIELD_RO k GET u4 #1"), ints(&[Some(12)]));
    assert_eq!(
        c.run("BITFIELD_RO k SET u4 0 1"),
        err("ERR BITFIELD_RO only supports the GET subcommand")
    );
    assert_eq!(c.run("MSET a ohmytext b mynewtext"), ok());
    assert_eq!(c.run("LCS a b"), bulk("mytext"));
    let idx_resp2 = "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                     *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n";
    let mut raw = s.raw_conn();
    raw.send(b"LCS a b IDX WITHMATCHLEN\r\n");
    assert_eq!(
        String::from_utf8_lossy(&raw.read_reply(RAW_TIMEOUT)),
        idx_resp2
    );
    raw.send(b"BITFIELD k OVERFLOW FAIL INCRBY u8 0 250\r\n");
    assert_eq!(raw.read_reply(RAW_TIMEOUT), b"*1\r\n$-1\r\n");
    raw.send(b"HELLO 3\r\n");
    assert!(raw.read_reply(RAW_TIMEOUT).starts_with(b"%"));
    raw.send(b"LCS a b IDX WITHMATCHLEN\r\n");
    assert_eq!(
        String::from_utf8_lossy(&raw.read_reply(RAW_TIMEOUT)),
        idx_resp2.replacen("*4", "%2", 1)
    );
    raw.send(b"BITFIELD k OVERFLOW FAIL INCRBY u8 0 250\r\n");
    assert_eq!(raw.read_reply(RAW_TIMEOUT), b"*1\r\n_\r\n");
}

/// Writes past the limits are refused before anything is allocated, and LCS refuses a table
/// larger than proto-max-bulk-len before building it. (A 512 MB string itself is built by a
/// unit test: in a debug build its write takes longer than a client's write timeout.)
#[test]
fn bit_and_range_limits() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(
        c.run("SETBIT big 4294967296 1"),
        err("ERR bit offset is not an integer or out of range")
    );
    assert_eq!(
        c.run("BITFIELD big SET u8 #536870912 1"),
        err("ERR bit offset is not an integer or out of range")
    );
    let too_long = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    assert_eq!(c.run("SETRANGE big 536870912 x"), too_long);
    assert_eq!(c.run("SETRANGE big 536870911 ab"), too_long);
    assert_eq!(c.run("SETRANGE big 9223372036854775807 x"), too_long);
    assert_eq!(c.run("EXISTS big"), int(0));
    assert_eq!(c.run("GETBIT big 4294967295"), int(0));
    assert_eq!(c.run("BITFIELD big GET i64 4294967295"), ints(&[Some(0)]));
    let x = "x".repeat(11_585);
    assert_eq!(c.run_args(&["MSET", "x1", &x, "x2", &x]), ok());
    assert_eq!(
        c.run("LCS x1 x2 LEN"),
        err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    );
    assert_eq!(c.run("PING"), status("PONG"));
}

/// SETBIT, BITFIELD, BITOP and SETRANGE are replicated as the commands themselves: every node
/// applies them to its own copy and ends with the same bytes, which a follower answers from
/// its own storage (READONLY), before and after the whole cluster restarts.
#[test]
fn bit_writes_replicate_to_followers_and_survive_a_restart() {
    use kiwi_tests::cluster::TestCluster;
    use std::time::Duration;
    const T: Duration = Duration::from_secs(20);

    let mut cluster = TestCluster::start(3);
    let leader = cluster.wait_leader(T);
    let mut c = cluster.nodes[leader].client();
    assert_eq!(c.run("SETBIT b 7 1"), int(0));
    assert_eq!(c.run("SETBIT b 100 1"), int(0));
    assert_eq!(c.run("SETBIT b 7 0"), int(1));
    assert_eq!(
        c.run("BITFIELD f SET i16 #1 -300 INCRBY u8 0 7 OVERFLOW SAT INCRBY i16 #1 -40000"),
        ints(&[Some(0), Some(7), Some(-32768)])
    );
    assert_eq!(
        c.run("BITFIELD f OVERFLOW FAIL INCRBY u8 0 250"),
        ints(&[None])
    );
    assert_eq!(c.run("BITOP XOR x b f"), int(13));
    assert_eq!(c.run("SETRANGE s 3 xy"), int(5));
    let keys = ["b", "f", "x", "s"];
    let want: Vec<R> = keys.iter().map(|k| c.run(&format!("GET {k}"))).collect();
    assert_eq!(want[1], bulk(b"\x07\x00\x80\x00"));

    let check_followers = |cluster: &TestCluster, leader: usize| {
        cluster.wait_converged(T);
        for (i, node) in cluster.nodes.iter().enumerate() {
            if i == leader {
                continue;
            }
            let mut f = node.client();
            assert_eq!(f.run("READONLY"), ok());
            for (k, v) in keys.iter().zip(&want) {
                assert_eq!(&f.run(&format!("GET {k}")), v, "{k} on node {}", node.id);
            }
            assert_eq!(f.run("GETBIT b 100"), int(1));
            assert_eq!(f.run("BITCOUNT b"), int(1));
            assert_eq!(f.run("BITPOS b 1"), int(100));
            assert_eq!(
                f.run("BITFIELD_RO f GET u8 0 GET i16 #1"),
                ints(&[Some(7), Some(-32768)])
            );
        }
    };
    check_followers(&cluster, leader);

    for i in 0..3 {
        cluster.kill9(i);
    }
    for i in [2, 0, 1] {
        cluster.restart(i);
    }
    let leader = cluster.wait_leader(T);
    check_followers(&cluster, leader);
    // Writes go on from the recovered state, through a follower too (forwarded).
    let follower = (leader + 1) % 3;
    let mut f = cluster.nodes[follower].client();
    assert_eq!(f.run("SETBIT b 101 1"), int(0));
    assert_eq!(f.run("BITFIELD f INCRBY u8 0 1"), ints(&[Some(8)]));
    assert_eq!(cluster.nodes[leader].client().run("BITCOUNT b"), int(2));
}
