//! Set commands. Sets are unordered, so member lists are compared sorted.

use std::collections::BTreeSet;
use std::time::Duration;

use kiwi_tests::*;

#[test]
fn sadd_srem_smembers_scard() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SADD s a b c"), int(3));
    assert_eq!(
        c.run("SADD s a d d"),
        int(1),
        "existing and repeated members count once"
    );
    assert_eq!(c.run("SCARD s"), int(4));
    assert_eq!(c.run("SCARD nokey"), int(0));
    assert_eq!(c.run("SMEMBERS s").sorted(), sorted(&["a", "b", "c", "d"]));
    assert_eq!(c.run("SMEMBERS nokey"), arr(vec![]));
    assert_eq!(c.run("TYPE s"), status("set"));
    assert_eq!(c.run("SISMEMBER s a"), int(1));
    assert_eq!(c.run("SISMEMBER s z"), int(0));
    assert_eq!(c.run("SISMEMBER nokey a"), int(0));
    assert_eq!(
        c.run("SMISMEMBER s a z d"),
        arr(vec![int(1), int(0), int(1)])
    );
    assert_eq!(c.run("SMISMEMBER nokey a"), arr(vec![int(0)]));

    assert_eq!(c.run("SREM s a z"), int(1));
    assert_eq!(c.run("SREM nokey a"), int(0));
    assert_eq!(c.run("SMEMBERS s").sorted(), sorted(&["b", "c", "d"]));
    assert_eq!(c.run("SREM s b c d"), int(3));
    assert_eq!(c.run("EXISTS s"), int(0), "an empty set does not exist");
    assert_eq!(c.run("DBSIZE"), int(0));

    assert_eq!(c.run("SADD s"), wrong_arity("sadd"));
    assert_eq!(c.run("SREM s"), wrong_arity("srem"));
    assert_eq!(c.run("SISMEMBER s"), wrong_arity("sismember"));
}

#[test]
fn spop_and_srandmember() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SPOP nokey"), nil());
    assert_eq!(c.run("SPOP nokey 2"), arr(vec![]));
    assert_eq!(c.run("SRANDMEMBER nokey"), nil());
    assert_eq!(c.run("SRANDMEMBER nokey 2"), arr(vec![]));
    assert_eq!(c.run("SADD s a b c d e"), int(5));
    let all = ["a", "b", "c", "d", "e"];

    for _ in 0..10 {
        let m = c.run("SRANDMEMBER s").text();
        assert!(all.contains(&m.as_str()), "{m}");
    }
    assert_eq!(c.run("SRANDMEMBER s 0"), arr(vec![]));
    let three = c.run("SRANDMEMBER s 3").strings();
    assert_eq!(
        three.iter().collect::<BTreeSet<_>>().len(),
        3,
        "distinct: {three:?}"
    );
    assert_eq!(c.run("SRANDMEMBER s 10").sorted(), sorted(&all));
    let many = c.run("SRANDMEMBER s -8").strings();
    assert_eq!(many.len(), 8);
    assert!(many.iter().all(|m| all.contains(&m.as_str())));
    assert_eq!(c.run("SCARD s"), int(5), "SRANDMEMBER does not remove");

    let popped = c.run("SPOP s").text();
    assert!(all.contains(&popped.as_str()));
    assert_eq!(c.run(&format!("SISMEMBER s {popped}")), int(0));
    assert_eq!(c.run("SCARD s"), int(4));
    assert_eq!(c.run("SPOP s 0"), arr(vec![]));
    let two = c.run("SPOP s 2").strings();
    assert_eq!(two.iter().collect::<BTreeSet<_>>().len(), 2);
    assert_eq!(c.run("SCARD s"), int(2));
    let rest = c.run("SPOP s 10").strings();
    assert_eq!(rest.len(), 2);
    let mut everything: Vec<String> = rest.into_iter().chain(two).chain([popped]).collect();
    everything.sort();
    assert_eq!(everything, sorted(&all), "every member popped exactly once");
    assert_eq!(c.run("EXISTS s"), int(0));
    assert_eq!(
        c.run("SPOP s -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(c.run("SRANDMEMBER s x"), err(NOT_INTEGER));
}

#[test]
fn smove() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SADD src a b"), int(2));
    assert_eq!(c.run("SADD dst c"), int(1));
    assert_eq!(c.run("SMOVE src dst a"), int(1));
    assert_eq!(c.run("SMEMBERS src"), bulks(&["b"]));
    assert_eq!(c.run("SMEMBERS dst").sorted(), sorted(&["a", "c"]));
    assert_eq!(c.run("SMOVE src dst nope"), int(0));
    assert_eq!(c.run("SMOVE nokey dst a"), int(0));
    assert_eq!(c.run("SMOVE src src b"), int(1));
    assert_eq!(c.run("SMOVE src new b"), int(1));
    assert_eq!(c.run("EXISTS src"), int(0));
    assert_eq!(c.run("SMEMBERS new"), bulks(&["b"]));
    assert_eq!(c.run("SET str x"), ok());
    assert_eq!(c.run("SMOVE new str b"), err(WRONGTYPE));
    assert_eq!(c.run("SMEMBERS new"), bulks(&["b"]));
}

#[test]
fn algebra() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SADD a 1 2 3 4"), int(4));
    assert_eq!(c.run("SADD b 3 4 5"), int(3));
    assert_eq!(c.run("SADD c 4 5 6"), int(3));

    assert_eq!(c.run("SINTER a b").sorted(), sorted(&["3", "4"]));
    assert_eq!(c.run("SINTER a b c").sorted(), sorted(&["4"]));
    assert_eq!(c.run("SINTER a nokey"), arr(vec![]));
    assert_eq!(
        c.run("SUNION a b").sorted(),
        sorted(&["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        c.run("SUNION a nokey").sorted(),
        sorted(&["1", "2", "3", "4"])
    );
    assert_eq!(c.run("SDIFF a b").sorted(), sorted(&["1", "2"]));
    assert_eq!(c.run("SDIFF a b c").sorted(), sorted(&["1", "2"]));
    assert_eq!(c.run("SDIFF nokey a"), arr(vec![]));
    assert_eq!(
        c.run("SDIFF a nokey").sorted(),
        sorted(&["1", "2", "3", "4"])
    );

    assert_eq!(c.run("SINTERSTORE dst a b"), int(2));
    assert_eq!(c.run("SMEMBERS dst").sorted(), sorted(&["3", "4"]));
    assert_eq!(c.run("SUNIONSTORE dst a c"), int(6));
    assert_eq!(c.run("SCARD dst"), int(6));
    assert_eq!(c.run("SDIFFSTORE dst a b"), int(2));
    assert_eq!(c.run("SMEMBERS dst").sorted(), sorted(&["1", "2"]));
    assert_eq!(c.run("SET dst plain"), ok());
    assert_eq!(c.run("SINTERSTORE dst a nokey"), int(0));
    assert_eq!(
        c.run("EXISTS dst"),
        int(0),
        "an empty result deletes the destination"
    );
    assert_eq!(
        c.run("SDIFFSTORE a a b"),
        int(2),
        "the destination may be a source"
    );
    assert_eq!(c.run("SMEMBERS a").sorted(), sorted(&["1", "2"]));

    assert_eq!(c.run("SINTERCARD 2 b c"), int(2));
    assert_eq!(c.run("SINTERCARD 2 b c LIMIT 1"), int(1));
    assert_eq!(c.run("SINTERCARD 2 b nokey"), int(0));
    assert_eq!(
        c.run("SINTERCARD 0 b"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        c.run("SINTERCARD 1 b LIMIT -1"),
        err("ERR LIMIT can't be negative")
    );

    assert_eq!(c.run("SET str x"), ok());
    assert_eq!(c.run("SINTER nokey str"), err(WRONGTYPE));
    assert_eq!(c.run("SUNION b str"), err(WRONGTYPE));
    assert_eq!(c.run("SDIFF b str"), err(WRONGTYPE));
    assert_eq!(
        c.run("SUNIONSTORE str b c"),
        int(4),
        "a STORE destination of another type is replaced"
    );
    assert_eq!(c.run("TYPE str"), status("set"));
}

#[test]
fn sscan_to_completion() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..700 {
        pipe.cmd("SADD").arg("big").arg(format!("m{i}")).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(c.run("SCARD big"), int(700));
    let all = scan_all(&mut c, &["SSCAN", "big"], &["COUNT", "33"], 10_000);
    let got: BTreeSet<Vec<u8>> = all.into_iter().collect();
    let expected: BTreeSet<Vec<u8>> = (0..700).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, expected);
    let matched = scan_all(
        &mut c,
        &["SSCAN", "big"],
        &["MATCH", "m69?", "COUNT", "1000"],
        100,
    );
    let got: BTreeSet<Vec<u8>> = matched.into_iter().collect();
    let expected: BTreeSet<Vec<u8>> = (690..700).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, expected);
    assert_eq!(c.run("SSCAN nokey 0"), arr(vec![bulk("0"), arr(vec![])]));
}

#[test]
fn wrong_type_and_key_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET str x"), ok());
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SCARD str",
        "SISMEMBER str a",
        "SPOP str",
        "SRANDMEMBER str",
    ] {
        assert_eq!(c.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(c.run("SADD s a b"), int(2));
    assert_eq!(c.run("GET s"), err(WRONGTYPE));
    assert_eq!(c.run("LPUSH s x"), err(WRONGTYPE));
    assert_eq!(c.run("EXPIRE s 100"), int(1));
    assert_eq!(c.run("SADD s c"), int(1));
    assert_eq!(c.run("TTL s"), int(100));
    assert_eq!(c.run("RENAME s s2"), ok());
    assert_eq!(c.run("SMEMBERS s2").sorted(), sorted(&["a", "b", "c"]));
    assert_eq!(c.run("SADD s z"), int(1));
    assert_eq!(c.run("SMEMBERS s"), bulks(&["z"]));
    assert_eq!(c.run("DEL s2"), int(1));
    assert_eq!(c.run("SADD s2 y"), int(1));
    assert_eq!(
        c.run("SMEMBERS s2"),
        bulks(&["y"]),
        "DEL removed the old members"
    );
    assert_eq!(c.run("PEXPIRE s2 100"), int(1));
    eventually(Duration::from_secs(5), "set expires", || {
        (c.run("SCARD s2") == int(0)).then_some(())
    });
    assert_eq!(c.run("SISMEMBER s2 y"), int(0));
    assert_eq!(c.run("SADD s2 w"), int(1));
    assert_eq!(c.run("SMEMBERS s2"), bulks(&["w"]));
}
