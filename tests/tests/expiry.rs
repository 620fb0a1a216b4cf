//! Active expiry: keys past their deadline are deleted in the background, without anyone
//! reading them, and reads never see an expired key in the meantime.

use std::time::Duration;

use kiwi_tests::*;

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<i64> {
    let info = c.run(&format!("INFO {section}"));
    let text = match info {
        R::Bulk(b) => String::from_utf8(b).unwrap(),
        R::Verbatim(t) => t,
        other => panic!("INFO returned {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().parse().unwrap())
}

#[test]
fn expired_keys_leave_dbsize_without_being_read() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("SET")
            .arg(format!("temp:{i}"))
            .arg(i)
            .arg("PX")
            .arg(100)
            .ignore();
    }
    for i in 0..5 {
        pipe.cmd("SET").arg(format!("keep:{i}")).arg(i).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    let expired_before = info_field(&mut c, "stats", "expired_keys").unwrap_or(0);
    // Only DBSIZE and INFO from here on: nothing touches the expiring keys.
    eventually(
        Duration::from_secs(10),
        "DBSIZE drops to the 5 keys without TTL",
        || (c.run("DBSIZE") == int(5)).then_some(()),
    );
    // The expirer counts its deletions once its write returns, a moment after DBSIZE sees them.
    eventually(
        Duration::from_secs(10),
        "INFO stats expired_keys counts the 100 keys",
        || {
            let expired = info_field(&mut c, "stats", "expired_keys").unwrap_or(0);
            (expired - expired_before == 100).then_some(())
        },
    );
    let expired = info_field(&mut c, "stats", "expired_keys").unwrap_or(0);
    assert_eq!(expired - expired_before, 100, "no key counted twice");
    assert_eq!(
        c.run("KEYS *").sorted(),
        sorted(&["keep:0", "keep:1", "keep:2", "keep:3", "keep:4"])
    );
}

#[test]
fn expiry_in_every_database() {
    let s = KiwiServer::start();
    let mut c = s.client();
    for db in [0, 3, 15] {
        assert_eq!(c.run(&format!("SELECT {db}")), ok());
        assert_eq!(c.run("SET t v PX 100"), ok());
        assert_eq!(c.run("SET keep v"), ok());
    }
    for db in [0, 3, 15] {
        assert_eq!(c.run(&format!("SELECT {db}")), ok());
        eventually(
            Duration::from_secs(10),
            &format!("db {db} expires its key"),
            || (c.run("DBSIZE") == int(1)).then_some(()),
        );
    }
}

#[test]
fn expired_key_is_invisible_before_it_is_deleted() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET k v PX 150"), ok());
    assert_eq!(c.run("GET k"), bulk("v"));
    eventually(Duration::from_secs(5), "GET k returns nil", || {
        (c.run("GET k") == nil()).then_some(())
    });
    assert_eq!(c.run("EXISTS k"), int(0));
    assert_eq!(c.run("TTL k"), int(-2));
    assert_eq!(c.run("TYPE k"), status("none"));
    assert_eq!(c.run("KEYS *"), arr(vec![]));
    assert_eq!(
        c.run("INCR k"),
        int(1),
        "an expired value is gone, not reused"
    );
    assert_eq!(c.run("TTL k"), int(-1));
}

#[test]
fn persist_and_overwrite_cancel_expiry() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET persisted v PX 300"), ok());
    assert_eq!(c.run("SET overwritten v PX 300"), ok());
    assert_eq!(c.run("SET clock v PX 400"), ok());
    assert_eq!(c.run("PERSIST persisted"), int(1));
    assert_eq!(c.run("SET overwritten v2"), ok());
    // When `clock` (the longest deadline) is gone, the others' deadlines have passed as well.
    eventually(Duration::from_secs(10), "clock expires", || {
        (c.run("DBSIZE") == int(2)).then_some(())
    });
    assert_eq!(c.run("GET persisted"), bulk("v"));
    assert_eq!(c.run("GET overwritten"), bulk("v2"));
    assert_eq!(c.run("TTL persisted"), int(-1));
}

#[test]
fn extending_a_ttl_delays_expiry() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("SET extended v PX 200"), ok());
    assert_eq!(c.run("SET clock v PX 400"), ok());
    assert_eq!(c.run("PEXPIRE extended 100000"), int(1));
    eventually(Duration::from_secs(10), "clock expires", || {
        (c.run("EXISTS clock") == int(0)).then_some(())
    });
    assert_eq!(c.run("GET extended"), bulk("v"));
    let ttl = c.run("TTL extended").int();
    assert!((99..=100).contains(&ttl), "TTL {ttl}");
}

#[test]
fn many_keys_expire_in_bulk() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("SET")
            .arg(format!("bulk:{i}"))
            .arg(i)
            .arg("PX")
            .arg(50 + (i % 200))
            .ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    eventually(Duration::from_secs(20), "3000 keys expire", || {
        (c.run("DBSIZE") == int(0)).then_some(())
    });
    assert_eq!(
        c.run("SCAN 0 COUNT 1000"),
        arr(vec![bulk("0"), arr(vec![])])
    );
}
