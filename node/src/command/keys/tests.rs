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
