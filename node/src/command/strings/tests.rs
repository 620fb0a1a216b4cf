use crate::command::testing::{bulk, err, int, TestDb};
use crate::resp::Reply;

#[test]
fn set_get_and_options() {
    let mut t = TestDb::new();
    assert_eq!(t.run("SET k v"), Reply::ok());
    assert_eq!(t.run("GET k"), bulk("v"));
    assert_eq!(t.run("SET k w NX"), Reply::Nil);
    assert_eq!(t.run("SET k w XX GET"), bulk("v"));
    assert_eq!(t.run("SET other w XX"), Reply::Nil);
    assert_eq!(t.run("SET k v NX XX"), err("ERR syntax error"));
    assert_eq!(
        t.run("SET k v EX 0"),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        t.run("SET k v EX abc"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("GET missing"), Reply::Nil);
    assert_eq!(
        t.run("GET"),
        err("ERR wrong number of arguments for 'get' command")
    );
}

#[test]
fn ttl_options_are_absolute_deadlines() {
    let mut t = TestDb::new();
    t.run("SET k v PX 100");
    assert_eq!(t.run("GET k"), bulk("v"));
    t.now_ms += 100;
    assert_eq!(
        t.run("GET k"),
        Reply::Nil,
        "expired exactly at the deadline"
    );
    t.run("SET k v EX 10");
    t.run("SET k w KEEPTTL");
    t.now_ms += 10_000;
    assert_eq!(t.run("GET k"), Reply::Nil, "KEEPTTL kept the deadline");
}

#[test]
fn counters() {
    let mut t = TestDb::new();
    assert_eq!(t.run("INCR n"), int(1));
    assert_eq!(t.run("INCRBY n 41"), int(42));
    assert_eq!(t.run("DECRBY n 2"), int(40));
    assert_eq!(t.run("DECR n"), int(39));
    t.run("SET n 9223372036854775807");
    assert_eq!(
        t.run("INCR n"),
        err("ERR increment or decrement would overflow")
    );
    t.run("SET s abc");
    assert_eq!(
        t.run("INCR s"),
        err("ERR value is not an integer or out of range")
    );
    t.run("SET f 10.50");
    assert_eq!(t.run("INCRBYFLOAT f 0.1"), bulk("10.6"));
    assert_eq!(t.run("INCRBYFLOAT f -5.6"), bulk("5"));
    assert_eq!(t.run("INCRBYFLOAT f 5.0e3"), bulk("5005"));
    assert_eq!(
        t.run("INCRBYFLOAT f inf"),
        err("ERR increment would produce NaN or Infinity")
    );
}

#[test]
fn ranges_and_appends() {
    let mut t = TestDb::new();
    assert_eq!(t.run("APPEND k Hello"), int(5));
    assert_eq!(t.run("APPEND k \" World\""), int(11));
    assert_eq!(t.run("GETRANGE k 0 3"), bulk("Hell"));
    assert_eq!(t.run("GETRANGE k -3 -1"), bulk("rld"));
    assert_eq!(t.run("GETRANGE k 0 -1"), bulk("Hello World"));
    assert_eq!(t.run("GETRANGE k 10 100"), bulk("d"));
    assert_eq!(t.run("GETRANGE k 5 3"), bulk(""));
    assert_eq!(t.run("SETRANGE k 6 Redis"), int(11));
    assert_eq!(t.run("GET k"), bulk("Hello Redis"));
    assert_eq!(t.run("SETRANGE pad 3 x"), int(4));
    assert_eq!(t.run("GET pad"), Reply::bulk(&b"\0\0\0x"[..]));
    assert_eq!(t.run("SETRANGE k -1 x"), err("ERR offset is out of range"));
    assert_eq!(t.run("STRLEN k"), int(11));
}

#[test]
fn multi_key_and_getters() {
    let mut t = TestDb::new();
    assert_eq!(t.run("MSET a 1 b 2"), Reply::ok());
    assert_eq!(
        t.run("MSET a 1 b"),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(t.run("MSETNX b 3 c 4"), int(0));
    assert_eq!(t.run("MSETNX c 3 d 4"), int(1));
    t.run("LPUSH list x");
    assert_eq!(
        t.run("MGET a b missing list"),
        Reply::Array(vec![bulk("1"), bulk("2"), Reply::Nil, Reply::Nil])
    );
    assert_eq!(t.run("GETSET a 10"), bulk("1"));
    assert_eq!(t.run("GETDEL a"), bulk("10"));
    assert_eq!(t.run("GETDEL a"), Reply::Nil);
    assert_eq!(
        t.run("GET list"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(t.run("SETNX b x"), int(0));
    assert_eq!(
        t.run("SETEX e 0 v"),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(t.run("GETEX b EX 10"), bulk("2"));
    assert_eq!(t.run("GETEX b PERSIST"), bulk("2"));
}
