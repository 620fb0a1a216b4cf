//! List commands.

use std::time::Duration;

use kiwi_tests::*;

#[test]
fn push_pop_len_range() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH l b c"), int(2));
    assert_eq!(c.run("LPUSH l a"), int(3));
    assert_eq!(
        c.run("LPUSH l y x"),
        int(5),
        "LPUSH inserts one by one: x ends up first"
    );
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["x", "y", "a", "b", "c"]));
    assert_eq!(c.run("LLEN l"), int(5));
    assert_eq!(c.run("LLEN nokey"), int(0));
    assert_eq!(c.run("TYPE l"), status("list"));

    assert_eq!(c.run("LPOP l"), bulk("x"));
    assert_eq!(c.run("RPOP l"), bulk("c"));
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["y", "a", "b"]));
    assert_eq!(c.run("LPOP nokey"), nil());
    assert_eq!(c.run("RPOP nokey"), nil());

    assert_eq!(c.run("RPUSH m 1 2 3 4 5"), int(5));
    assert_eq!(c.run("LPOP m 2"), bulks(&["1", "2"]));
    assert_eq!(c.run("RPOP m 2"), bulks(&["5", "4"]));
    assert_eq!(c.run("LPOP m 0"), arr(vec![]));
    assert_eq!(c.run("LPOP m 10"), bulks(&["3"]));
    assert_eq!(
        c.run("EXISTS m"),
        int(0),
        "popping the last element deletes the list"
    );
    assert_eq!(c.run("LPOP m 2"), nil());
    assert_eq!(
        c.run("LPOP l -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        c.run("LPOP l x"),
        err("ERR value is out of range, must be positive")
    );

    assert_eq!(c.run("LPUSHX nokey a"), int(0));
    assert_eq!(c.run("RPUSHX nokey a"), int(0));
    assert_eq!(c.run("EXISTS nokey"), int(0));
    assert_eq!(c.run("RPUSHX l z"), int(4));
    assert_eq!(c.run("LPUSHX l w"), int(5));
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["w", "y", "a", "b", "z"]));

    assert_eq!(c.run("LPUSH l"), wrong_arity("lpush"));
    assert_eq!(c.run("RPUSH"), wrong_arity("rpush"));
}

#[test]
fn lrange_indexes() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH l a b c d e"), int(5));
    assert_eq!(c.run("LRANGE l 0 0"), bulks(&["a"]));
    assert_eq!(c.run("LRANGE l 1 3"), bulks(&["b", "c", "d"]));
    assert_eq!(c.run("LRANGE l -2 -1"), bulks(&["d", "e"]));
    assert_eq!(c.run("LRANGE l -100 1"), bulks(&["a", "b"]));
    assert_eq!(c.run("LRANGE l 3 100"), bulks(&["d", "e"]));
    assert_eq!(c.run("LRANGE l 3 1"), arr(vec![]));
    assert_eq!(c.run("LRANGE l 5 10"), arr(vec![]));
    assert_eq!(c.run("LRANGE l -1 -2"), arr(vec![]));
    assert_eq!(c.run("LRANGE nokey 0 -1"), arr(vec![]));
    assert_eq!(c.run("LRANGE l x 1"), err(NOT_INTEGER));

    assert_eq!(c.run("LINDEX l 0"), bulk("a"));
    assert_eq!(c.run("LINDEX l -1"), bulk("e"));
    assert_eq!(c.run("LINDEX l 4"), bulk("e"));
    assert_eq!(c.run("LINDEX l 5"), nil());
    assert_eq!(c.run("LINDEX l -6"), nil());
    assert_eq!(c.run("LINDEX nokey 0"), nil());
    assert_eq!(c.run("LINDEX l x"), err(NOT_INTEGER));
}

#[test]
fn lset_linsert_lrem_ltrim() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH l a b c"), int(3));
    assert_eq!(c.run("LSET l 1 B"), ok());
    assert_eq!(c.run("LSET l -1 C"), ok());
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["a", "B", "C"]));
    assert_eq!(c.run("LSET l 3 x"), err("ERR index out of range"));
    assert_eq!(c.run("LSET l -4 x"), err("ERR index out of range"));
    assert_eq!(c.run("LSET nokey 0 x"), err("ERR no such key"));

    assert_eq!(c.run("LINSERT l BEFORE B x"), int(4));
    assert_eq!(c.run("LINSERT l after C y"), int(5));
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["a", "x", "B", "C", "y"]));
    assert_eq!(c.run("LINSERT l BEFORE nope z"), int(-1));
    assert_eq!(c.run("LINSERT nokey BEFORE a z"), int(0));
    assert_eq!(c.run("EXISTS nokey"), int(0));
    assert_eq!(c.run("LINSERT l MIDDLE a z"), err(SYNTAX));

    assert_eq!(c.run("DEL l"), int(1));
    assert_eq!(c.run("RPUSH l a b a c a b a"), int(7));
    assert_eq!(
        c.run("LREM l 2 a"),
        int(2),
        "positive count removes from the head"
    );
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["b", "c", "a", "b", "a"]));
    assert_eq!(
        c.run("LREM l -1 b"),
        int(1),
        "negative count removes from the tail"
    );
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["b", "c", "a", "a"]));
    assert_eq!(c.run("LREM l 0 a"), int(2), "zero removes all");
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["b", "c"]));
    assert_eq!(c.run("LREM l 0 nope"), int(0));
    assert_eq!(c.run("LREM nokey 0 a"), int(0));
    assert_eq!(c.run("LREM l x a"), err(NOT_INTEGER));

    assert_eq!(c.run("DEL l"), int(1));
    assert_eq!(c.run("RPUSH l a b c d e"), int(5));
    assert_eq!(c.run("LTRIM l 1 -2"), ok());
    assert_eq!(c.run("LRANGE l 0 -1"), bulks(&["b", "c", "d"]));
    assert_eq!(c.run("LTRIM l 0 100"), ok());
    assert_eq!(c.run("LLEN l"), int(3));
    assert_eq!(c.run("LTRIM l 2 1"), ok());
    assert_eq!(
        c.run("EXISTS l"),
        int(0),
        "trimming everything deletes the list"
    );
    assert_eq!(c.run("LTRIM nokey 0 1"), ok());
    assert_eq!(c.run("LTRIM l x 1"), err(NOT_INTEGER));
}

#[test]
fn lpos() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH l a b c 1 2 3 c c"), int(8));
    assert_eq!(c.run("LPOS l c"), int(2));
    assert_eq!(c.run("LPOS l nope"), nil());
    assert_eq!(c.run("LPOS l c RANK 2"), int(6));
    assert_eq!(c.run("LPOS l c RANK -1"), int(7));
    assert_eq!(c.run("LPOS l c COUNT 2"), arr(vec![int(2), int(6)]));
    assert_eq!(c.run("LPOS l c COUNT 0"), arr(vec![int(2), int(6), int(7)]));
    assert_eq!(c.run("LPOS l c RANK -1 COUNT 2"), arr(vec![int(7), int(6)]));
    assert_eq!(c.run("LPOS l c COUNT 0 MAXLEN 3"), arr(vec![int(2)]));
    assert_eq!(c.run("LPOS l nope COUNT 0"), arr(vec![]));
    assert_eq!(c.run("LPOS nokey a"), nil());
    assert_eq!(c.run("LPOS nokey a COUNT 2"), arr(vec![]));
    assert_eq!(
        c.run("LPOS l c RANK 0"),
        err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
    );
    assert_eq!(
        c.run("LPOS l c COUNT -1"),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        c.run("LPOS l c MAXLEN -1"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(c.run("LPOS l c BOGUS 1"), err(SYNTAX));
}

#[test]
fn lmove_and_rpoplpush() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH src a b c"), int(3));
    assert_eq!(c.run("RPOPLPUSH src dst"), bulk("c"));
    assert_eq!(c.run("LMOVE src dst LEFT RIGHT"), bulk("a"));
    assert_eq!(c.run("LRANGE src 0 -1"), bulks(&["b"]));
    assert_eq!(c.run("LRANGE dst 0 -1"), bulks(&["c", "a"]));
    assert_eq!(
        c.run("LMOVE dst dst LEFT RIGHT"),
        bulk("c"),
        "rotation on one list"
    );
    assert_eq!(c.run("LRANGE dst 0 -1"), bulks(&["a", "c"]));
    assert_eq!(c.run("LMOVE src dst RIGHT LEFT"), bulk("b"));
    assert_eq!(c.run("EXISTS src"), int(0));
    assert_eq!(c.run("LRANGE dst 0 -1"), bulks(&["b", "a", "c"]));
    assert_eq!(c.run("LMOVE nokey dst LEFT LEFT"), nil());
    assert_eq!(c.run("RPOPLPUSH nokey dst"), nil());
    assert_eq!(c.run("LLEN dst"), int(3));
    assert_eq!(c.run("LMOVE dst src UP LEFT"), err(SYNTAX));

    assert_eq!(c.run("SET str x"), ok());
    assert_eq!(c.run("LMOVE dst str LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(c.run("LLEN dst"), int(3), "a refused move pops nothing");
}

#[test]
fn many_elements_both_ends() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("RPUSH").arg("l").arg(format!("r{i}")).ignore();
        pipe.cmd("LPUSH").arg("l").arg(format!("l{i}")).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("LLEN l"), int(600));
    let all = c.run("LRANGE l 0 -1").strings();
    let expected: Vec<String> = (0..300)
        .rev()
        .map(|i| format!("l{i}"))
        .chain((0..300).map(|i| format!("r{i}")))
        .collect();
    assert_eq!(all, expected);
    assert_eq!(c.run("LINDEX l 299"), bulk("l0"));
    assert_eq!(c.run("LINDEX l 300"), bulk("r0"));
    assert_eq!(c.run("LRANGE l 298 301"), bulks(&["l1", "l0", "r0", "r1"]));
    assert_eq!(c.run("LINSERT l BEFORE r0 mid"), int(601));
    assert_eq!(c.run("LRANGE l 299 301"), bulks(&["l0", "mid", "r0"]));
    assert_eq!(c.run("LREM l 0 mid"), int(1));
    assert_eq!(c.run("LRANGE l 299 300"), bulks(&["l0", "r0"]));
}

#[test]
fn wrong_type_and_key_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET s x"), ok());
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPOP s",
        "LRANGE s 0 -1",
        "LLEN s",
        "LINDEX s 0",
        "LSET s 0 a",
        "LREM s 0 a",
    ] {
        assert_eq!(c.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(c.run("RPUSH l a b c"), int(3));
    assert_eq!(c.run("GET l"), err(WRONGTYPE));
    assert_eq!(c.run("HGET l f"), err(WRONGTYPE));
    assert_eq!(c.run("EXPIRE l 100"), int(1));
    assert_eq!(c.run("RPUSH l d"), int(4));
    assert_eq!(c.run("TTL l"), int(100), "pushing keeps the TTL");
    assert_eq!(c.run("RENAME l l2"), ok());
    assert_eq!(c.run("LRANGE l2 0 -1"), bulks(&["a", "b", "c", "d"]));
    assert_eq!(c.run("LLEN l"), int(0));
    assert_eq!(c.run("RPUSH l fresh"), int(1));
    assert_eq!(
        c.run("LRANGE l 0 -1"),
        bulks(&["fresh"]),
        "no members left behind by RENAME"
    );
    assert_eq!(c.run("DEL l2"), int(1));
    assert_eq!(c.run("RPUSH l2 new"), int(1));
    assert_eq!(
        c.run("LRANGE l2 0 -1"),
        bulks(&["new"]),
        "no members left behind by DEL"
    );

    assert_eq!(c.run("PEXPIRE l2 100"), int(1));
    eventually(Duration::from_secs(5), "list expires", || {
        (c.run("LLEN l2") == int(0)).then_some(())
    });
    assert_eq!(c.run("RPUSH l2 again"), int(1));
    assert_eq!(c.run("LRANGE l2 0 -1"), bulks(&["again"]));
}

#[test]
fn set_keepttl_over_a_list_still_expires() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("RPUSH k a"), int(1));
    assert_eq!(c.run("PEXPIRE k 200"), int(1));
    assert_eq!(
        c.run("SET k v KEEPTTL"),
        ok(),
        "SET replaces the list and keeps its deadline"
    );
    assert_eq!(c.run("TYPE k"), status("string"));
    let pttl = c.run("PTTL k").int();
    assert!(pttl > 0 && pttl <= 200, "PTTL {pttl}");
    // Only DBSIZE from here: the server itself must expire the key.
    eventually(
        Duration::from_secs(10),
        "k is expired by the server",
        || (c.run("DBSIZE") == int(0)).then_some(()),
    );
}
