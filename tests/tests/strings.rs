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
