use bytes::Bytes;

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

fn ints(items: &[i64]) -> Reply {
    Reply::Array(items.iter().map(|n| int(*n)).collect())
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[test]
fn setbit_and_getbit() {
    let mut t = TestDb::new();
    assert_eq!(t.run("SETBIT b 7 1"), int(0));
    assert_eq!(t.run("GET b"), Reply::bulk(&b"\x01"[..]));
    assert_eq!(t.run("SETBIT b 7 1"), int(1));
    assert_eq!(t.run("SETBIT b 7 0"), int(1));
    assert_eq!(t.run("SETBIT b 17 1"), int(0));
    assert_eq!(t.run("GET b"), Reply::bulk(&b"\x00\x00\x40"[..]));
    assert_eq!(t.run("GETBIT b 17"), int(1));
    assert_eq!(t.run("GETBIT b 16"), int(0));
    assert_eq!(t.run("GETBIT b 100000"), int(0), "past the end");
    assert_eq!(t.run("GETBIT missing 0"), int(0));
    assert_eq!(t.run("SETBIT b 4294967296 1"), err(BAD_OFFSET));
    assert_eq!(t.run("SETBIT b -1 1"), err(BAD_OFFSET));
    assert_eq!(t.run("GETBIT b 4294967296"), err(BAD_OFFSET));
    assert_eq!(t.run("GETBIT b +1"), err(BAD_OFFSET));
    for bad in ["2", "-1", "x", "01"] {
        assert_eq!(
            t.run(&format!("SETBIT b 1 {bad}")),
            err("ERR bit is not an integer or out of range"),
            "{bad}"
        );
    }
    // Arguments are checked before the key's type; then WRONGTYPE.
    t.run("LPUSH l x");
    assert_eq!(t.run("SETBIT l x 1"), err(BAD_OFFSET));
    assert_eq!(t.run("SETBIT l 1 1"), err(WRONGTYPE));
    assert_eq!(t.run("GETBIT l 1"), err(WRONGTYPE));
    // The TTL stays.
    t.run("SET ttl a PX 1000");
    assert_eq!(t.run("SETBIT ttl 100 1"), int(0));
    assert_eq!(t.run("STRLEN ttl"), int(13));
    t.now_ms += 1000;
    assert_eq!(t.run("GET ttl"), Reply::Nil);
    assert_eq!(
        t.run("SETBIT ttl 3 1"),
        int(0),
        "an expired key starts over"
    );
    assert_eq!(t.run("GET ttl"), Reply::bulk(&b"\x10"[..]));
}

#[test]
fn setbit_at_the_highest_offset_builds_a_512_mb_string() {
    // Slow in a debug build (each 512 MB write and read takes seconds in RocksDB), so this
    // test does the least that shows the limits: one string at the highest offset, one
    // refused past it before anything is allocated, and BITFIELD's few bytes beyond.
    let mut t = TestDb::new();
    assert_eq!(t.run("SETBIT big 4294967295 1"), int(0));
    assert_eq!(t.run("STRLEN big"), int(512 << 20));
    assert_eq!(t.run("SETBIT big 4294967296 1"), err(BAD_OFFSET));
    assert_eq!(
        t.run("SETRANGE small 536870912 x"),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(t.run("EXISTS small"), int(0));
    // A BITFIELD write may end a few bytes past 512 MB, as in Redis.
    assert_eq!(t.run("BITFIELD far SET i64 4294967290 -1"), ints(&[0]));
    assert_eq!(
        t.run("STRLEN far"),
        int((512 << 20) + 8),
        "a field may end past 512 MB"
    );
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    let mut t = TestDb::new();
    t.run("SET k foobar");
    assert_eq!(t.run("BITCOUNT k"), int(26));
    assert_eq!(t.run("BITCOUNT k 0 0"), int(4));
    assert_eq!(t.run("BITCOUNT k 1 1"), int(6));
    assert_eq!(t.run("BITCOUNT k 1 1 BYTE"), int(6));
    assert_eq!(t.run("BITCOUNT k 5 30 BIT"), int(17));
    assert_eq!(t.run("BITCOUNT k 5 30 bit"), int(17));
    assert_eq!(t.run("BITCOUNT k -2 -1"), int(7));
    assert_eq!(t.run("BITCOUNT k 0 -1 BIT"), int(26));
    assert_eq!(t.run("BITCOUNT k 2 1"), int(0));
    assert_eq!(t.run("BITCOUNT k 100 200"), int(0));
    assert_eq!(t.run("BITCOUNT k -100 100"), int(26));
    assert_eq!(t.run("BITCOUNT k 0"), err("ERR syntax error"));
    assert_eq!(t.run("BITCOUNT k 0 1 WORD"), err("ERR syntax error"));
    assert_eq!(t.run("BITCOUNT k 0 1 BIT x"), err("ERR syntax error"));
    assert_eq!(
        t.run("BITCOUNT k -1 -3 WORD"),
        int(0),
        "an empty negative range answers before the unit is read"
    );
    assert_eq!(
        t.run("BITCOUNT k a 1"),
        err("ERR value is not an integer or out of range")
    );
    // Redis 7 looks the key up first: a missing key counts 0 whatever the arguments.
    assert_eq!(t.run("BITCOUNT missing a b"), int(0));
    assert_eq!(t.run("BITCOUNT missing 0"), int(0));
    t.run("SET e \"\"");
    assert_eq!(t.run("BITCOUNT e 0 -1 BIT"), int(0));
    t.run("LPUSH l x");
    assert_eq!(t.run("BITCOUNT l"), err(WRONGTYPE));
}

#[test]
fn bitpos_and_its_not_found_rules() {
    let mut t = TestDb::new();
    t.run("SET ff \"\\xff\\xf0\\x00\"");
    assert_eq!(t.run("BITPOS ff 0"), int(12));
    assert_eq!(t.run("BITPOS ff 1 1"), int(8));
    assert_eq!(t.run("BITPOS ff 1 2"), int(-1));
    assert_eq!(t.run("BITPOS ff 0 1 1"), int(12));
    assert_eq!(t.run("BITPOS ff 1 7 15 BIT"), int(7));
    assert_eq!(t.run("BITPOS ff 0 7 11 BIT"), int(-1));
    assert_eq!(t.run("BITPOS ff 0 7 12 BIT"), int(12));
    assert_eq!(t.run("BITPOS ff 1 -4 -1 bit"), int(-1));
    // All ones: without an end the string counts as padded with zeros; with one, -1.
    t.run("SET ones \"\\xff\\xff\"");
    assert_eq!(t.run("BITPOS ones 0"), int(16));
    assert_eq!(t.run("BITPOS ones 0 1"), int(16));
    assert_eq!(t.run("BITPOS ones 0 0 -1"), int(-1));
    assert_eq!(t.run("BITPOS ones 0 0 -1 BIT"), int(-1));
    assert_eq!(t.run("BITPOS ones 1 3 -1 BIT"), int(3));
    assert_eq!(t.run("BITPOS ones 0 5 1"), int(-1), "an empty range");
    t.run("SET zeros \"\\x00\"");
    assert_eq!(t.run("BITPOS zeros 1"), int(-1));
    assert_eq!(t.run("BITPOS zeros 0"), int(0));
    t.run("SET e \"\"");
    assert_eq!(t.run("BITPOS e 0"), int(-1), "an empty string has no bit");
    assert_eq!(t.run("BITPOS missing 0"), int(0));
    assert_eq!(t.run("BITPOS missing 1"), int(-1));
    assert_eq!(t.run("BITPOS missing 1 a b c"), int(-1));
    assert_eq!(
        t.run("BITPOS ff 2"),
        err("ERR The bit argument must be 1 or 0.")
    );
    assert_eq!(
        t.run("BITPOS missing x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("BITPOS ff 1 0 a WORD"), err("ERR syntax error"));
    assert_eq!(
        t.run("BITPOS ff 1 0 a"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("BITPOS ff 1 0 1 BIT x"), err("ERR syntax error"));
    t.run("LPUSH l x");
    assert_eq!(t.run("BITPOS l 1"), err(WRONGTYPE));
}

#[test]
fn bitop_combines_and_deletes_an_empty_result() {
    let mut t = TestDb::new();
    t.run("SET a \"\\xff\\x0f\"");
    t.run("SET b \"\\xf0\"");
    assert_eq!(t.run("BITOP AND d a b"), int(2));
    assert_eq!(t.run("GET d"), Reply::bulk(&b"\xf0\x00"[..]));
    assert_eq!(t.run("BITOP or d a b missing"), int(2));
    assert_eq!(t.run("GET d"), Reply::bulk(&b"\xff\x0f"[..]));
    assert_eq!(t.run("BITOP XOR d a b"), int(2));
    assert_eq!(t.run("GET d"), Reply::bulk(&b"\x0f\x0f"[..]));
    assert_eq!(t.run("BITOP AND d a missing"), int(2));
    assert_eq!(t.run("GET d"), Reply::bulk(&b"\x00\x00"[..]));
    assert_eq!(t.run("BITOP NOT d b"), int(1));
    assert_eq!(t.run("GET d"), Reply::bulk(&b"\x0f"[..]));
    assert_eq!(t.run("BITOP AND a a"), int(2), "a source may be the target");
    assert_eq!(
        t.run("BITOP NOT d a b"),
        err("ERR BITOP NOT must be called with a single source key.")
    );
    assert_eq!(t.run("BITOP NAND d a b"), err("ERR syntax error"));
    assert_eq!(
        t.run("BITOP DIFF d a b"),
        err("ERR syntax error"),
        "Redis 8 only"
    );
    // The target is replaced whatever it held, TTL included; nothing to store deletes it.
    t.run("LPUSH l x");
    t.run("SET d v EX 100");
    assert_eq!(t.run("BITOP OR l a"), int(2));
    assert_eq!(t.run("GET l"), Reply::bulk(&b"\xff\x0f"[..]));
    assert_eq!(t.run("BITOP OR d a"), int(2));
    assert_eq!(t.run("TTL d"), int(-1));
    assert_eq!(t.run("BITOP OR d missing other"), int(0));
    assert_eq!(t.run("EXISTS d"), int(0));
    t.run("SET e \"\"");
    t.run("SET d v");
    assert_eq!(t.run("BITOP NOT d e"), int(0));
    assert_eq!(t.run("EXISTS d"), int(0));
    t.run("RPUSH list x");
    assert_eq!(t.run("BITOP AND d a list"), err(WRONGTYPE));
}

#[test]
fn bitfield_get_set_incrby() {
    let mut t = TestDb::new();
    assert_eq!(
        t.run("BITFIELD k SET u8 0 255 GET u8 0 INCRBY u8 0 10 GET i8 0"),
        ints(&[0, 255, 9, 9])
    );
    assert_eq!(
        t.run("BITFIELD k OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 1 GET u8 0"),
        Reply::Array(vec![int(255), Reply::Nil, int(255)])
    );
    assert_eq!(
        t.run("BITFIELD k SET i5 #1 -9 GET u5 #1 GET i5 5"),
        ints(&[-4, 23, -9])
    );
    assert_eq!(
        t.run("BITFIELD k GET u63 0 GET i64 0"),
        ints(&[9142307243562106880, -162129586585337856])
    );
    assert_eq!(
        t.run("BITFIELD k SET i64 0 -9223372036854775808 INCRBY i64 0 -1"),
        ints(&[-162129586585337856, 9223372036854775807])
    );
    // SET answers the old value; the overflow rule in force applies to SET too.
    assert_eq!(
        t.run("BITFIELD s OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0"),
        ints(&[0, 127]),
        "Redis's C arithmetic saturates this one upwards"
    );
    assert_eq!(
        t.run("BITFIELD s OVERFLOW SAT SET u8 0 -1 GET u8 0"),
        ints(&[127, 255])
    );
    assert_eq!(t.run("BITFIELD s SET i8 0 200 GET i8 0"), ints(&[-1, -56]));
    // Reads past the end are zero; a missing key reads as zeros and stays missing.
    assert_eq!(
        t.run("BITFIELD missing GET u8 100 GET i64 4294967295"),
        ints(&[0, 0])
    );
    assert_eq!(t.run("EXISTS missing"), int(0));
    assert_eq!(t.run("BITFIELD missing"), Reply::Array(vec![]));
    // A write grows the key before it runs, so a FAIL-refused one still creates it.
    assert_eq!(
        t.run("BITFIELD f OVERFLOW FAIL INCRBY u2 0 10"),
        Reply::Array(vec![Reply::Nil])
    );
    assert_eq!(t.run("GET f"), Reply::bulk(&b"\x00"[..]));
}

#[test]
fn bitfield_errors_and_bitfield_ro() {
    let mut t = TestDb::new();
    t.run("SET k foobar");
    for (line, want) in [
        ("BITFIELD k GET u64 0", BAD_TYPE),
        ("BITFIELD k GET I8 0", BAD_TYPE),
        ("BITFIELD k GET i65 0", BAD_TYPE),
        ("BITFIELD k GET u8 -1", BAD_OFFSET),
        ("BITFIELD k GET u8 #-1", BAD_OFFSET),
        ("BITFIELD k GET u8 4294967296", BAD_OFFSET),
        ("BITFIELD k GET u8", "ERR syntax error"),
        ("BITFIELD k OVERFLOW", "ERR syntax error"),
        ("BITFIELD k FOO u8 0", "ERR syntax error"),
        (
            "BITFIELD k OVERFLOW NONE GET u8 0",
            "ERR Invalid OVERFLOW type specified",
        ),
        (
            "BITFIELD k SET u8 0 x",
            "ERR value is not an integer or out of range",
        ),
        (
            "BITFIELD_RO k GET u8 0 SET u8 0 1",
            "ERR BITFIELD_RO only supports the GET subcommand",
        ),
        (
            "BITFIELD_RO k INCRBY u8 0 x",
            "ERR value is not an integer or out of range",
        ),
    ] {
        assert_eq!(t.run(line), err(want), "{line}");
    }
    assert_eq!(t.run("GET k"), bulk("foobar"), "errors write nothing");
    assert_eq!(
        t.run("BITFIELD_RO k GET u8 0 OVERFLOW SAT GET i8 #1"),
        ints(&[102, 111])
    );
    t.run("LPUSH l x");
    assert_eq!(t.run("BITFIELD l"), err(WRONGTYPE));
    assert_eq!(t.run("BITFIELD l GET u8 0"), err(WRONGTYPE));
    assert_eq!(t.run("BITFIELD l SET u8 0 1"), err(WRONGTYPE));
    assert_eq!(t.run("BITFIELD_RO l GET u8 0"), err(WRONGTYPE));
    assert_eq!(
        t.run("BITFIELD l SET u8 0 x"),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn lcs_replies() {
    let mut t = TestDb::new();
    t.run("MSET a ohmytext b mynewtext");
    assert_eq!(t.run("LCS a b"), bulk("mytext"));
    assert_eq!(t.run("LCS a b LEN"), int(6));
    let run = |a: (i64, i64), b: (i64, i64), len: Option<i64>| {
        let mut items = vec![ints(&[a.0, a.1]), ints(&[b.0, b.1])];
        items.extend(len.map(int));
        Reply::Array(items)
    };
    assert_eq!(
        t.run("LCS a b IDX"),
        Reply::Map(vec![
            (
                bulk("matches"),
                Reply::Array(vec![run((4, 7), (5, 8), None), run((2, 3), (0, 1), None)])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        t.run("LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN"),
        Reply::Map(vec![
            (
                bulk("matches"),
                Reply::Array(vec![run((4, 7), (5, 8), Some(4))])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(
        t.run("LCS a b IDX MINMATCHLEN -5 WITHMATCHLEN"),
        Reply::Map(vec![
            (
                bulk("matches"),
                Reply::Array(vec![
                    run((4, 7), (5, 8), Some(4)),
                    run((2, 3), (0, 1), Some(2))
                ])
            ),
            (bulk("len"), int(6)),
        ])
    );
    assert_eq!(t.run("LCS a missing"), bulk(""));
    assert_eq!(
        t.run("LCS missing other IDX"),
        Reply::Map(vec![
            (bulk("matches"), Reply::Array(vec![])),
            (bulk("len"), int(0))
        ])
    );
    assert_eq!(
        t.run("LCS a b IDX LEN"),
        err("ERR If you want both the length and indexes, please just use IDX.")
    );
    assert_eq!(t.run("LCS a b MINMATCHLEN"), err("ERR syntax error"));
    assert_eq!(
        t.run("LCS a b MINMATCHLEN x"),
        err("ERR value is not an integer or out of range")
    );
    t.run("LPUSH l x");
    let not_strings = err("ERR The specified keys must contain string values");
    assert_eq!(t.run("LCS a l"), not_strings);
    assert_eq!(
        t.run("LCS l missing BOGUS"),
        not_strings,
        "types are checked first"
    );
    // Redis's guard: the table may not exceed proto-max-bulk-len (4 bytes a cell).
    let big = Bytes::from(vec![b'x'; 11_585]);
    t.run_argv(&[Bytes::from("SET"), Bytes::from("x1"), big.clone()]);
    t.run_argv(&[Bytes::from("SET"), Bytes::from("x2"), big]);
    assert_eq!(
        t.run("LCS x1 x2 LEN"),
        err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    );
    t.run_argv(&[
        Bytes::from("SET"),
        Bytes::from("x2"),
        Bytes::from(vec![b'x'; 300]),
    ]);
    assert_eq!(t.run("LCS x1 x2 LEN"), int(300));
}

#[test]
fn setrange_getrange_edges() {
    let mut t = TestDb::new();
    assert_eq!(t.run("SETRANGE k 5 \"\""), int(0));
    assert_eq!(t.run("EXISTS k"), int(0), "writing nothing creates nothing");
    assert_eq!(
        t.run("SETRANGE k 536870912 \"\""),
        int(0),
        "nor checks the size"
    );
    assert_eq!(
        t.run("SETRANGE k 9223372036854775807 x"),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(t.run("EXISTS k"), int(0));
    t.run("SET k hello EX 100");
    assert_eq!(t.run("SETRANGE k 9 \"\""), int(5));
    assert_eq!(t.run("SETRANGE k 1 a"), int(5));
    assert_eq!(t.run("GET k"), bulk("hallo"));
    assert!(matches!(t.run("TTL k"), Reply::Int(n) if n > 0), "TTL kept");
    assert_eq!(t.run("GETRANGE k -3 -100"), bulk(""));
    assert_eq!(t.run("GETRANGE k -100 -4"), bulk("ha"));
    assert_eq!(t.run("GETRANGE k 100 -1"), bulk(""));
    assert_eq!(t.run("GETRANGE k -1 -2"), bulk(""));
    assert_eq!(t.run("GETRANGE k 0 9223372036854775807"), bulk("hallo"));
    assert_eq!(t.run("GETRANGE k -9223372036854775808 0"), bulk("h"));
    assert_eq!(t.run("SUBSTR k 1 3"), bulk("all"));
    assert_eq!(t.run("GETRANGE missing 0 -1"), bulk(""));
    assert_eq!(
        t.run("GETRANGE missing x 1"),
        err("ERR value is not an integer or out of range")
    );
    t.run("LPUSH l x");
    assert_eq!(t.run("GETRANGE l 0 1"), err(WRONGTYPE));
    assert_eq!(t.run("SUBSTR l 0 1"), err(WRONGTYPE));
    assert_eq!(t.run("SETRANGE l 0 \"\""), err(WRONGTYPE));
    assert_eq!(t.run("SETRANGE l -1 x"), err("ERR offset is out of range"));
    assert_eq!(t.run("GETDEL l"), err(WRONGTYPE));
    assert_eq!(
        t.run("LCS l l"),
        err("ERR The specified keys must contain string values")
    );
}
