//! MULTI/EXEC/DISCARD as Redis does them: queued commands run as one atomic step, a command
//! rejected while queueing aborts the whole block, and a runtime error inside EXEC only fails
//! its own command.

use kiwi_tests::*;

fn queued() -> R {
    status("QUEUED")
}

#[test]
fn exec_returns_every_reply_in_order() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET a 1"), queued());
    assert_eq!(c.run("INCR a"), queued());
    assert_eq!(c.run("GET a"), queued());
    assert_eq!(c.run("MGET a missing"), queued());
    assert_eq!(c.run("DEL a"), queued());
    assert_eq!(c.run("EXISTS a"), queued());
    assert_eq!(
        c.run("EXEC"),
        arr(vec![
            ok(),
            int(2),
            bulk("2"),
            arr(vec![bulk("2"), nil()]),
            int(1),
            int(0),
        ])
    );
    assert_eq!(c.run("EXISTS a"), int(0));
}

#[test]
fn queued_commands_are_not_visible_before_exec() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let mut other = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET k v"), queued());
    assert_eq!(other.run("GET k"), nil(), "nothing runs before EXEC");
    assert_eq!(c.run("EXEC"), arr(vec![ok()]));
    assert_eq!(other.run("GET k"), bulk("v"));
}

#[test]
fn empty_transaction() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("EXEC"), arr(vec![]));
}

#[test]
fn bad_command_while_queueing_aborts_exec() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET b 1"), queued());
    assert_eq!(
        c.run("NOSUCHCOMMAND"),
        err("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ")
    );
    assert_eq!(
        c.run("SET c 1"),
        queued(),
        "queueing goes on after the error"
    );
    assert_eq!(
        c.run("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(
        c.run("MGET b c"),
        arr(vec![nil(), nil()]),
        "nothing of the block ran"
    );

    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET b 1"), queued());
    assert_eq!(c.run("GET"), wrong_arity("get"));
    assert_eq!(
        c.run("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.run("EXISTS b"), int(0));

    // The connection is back to normal afterwards.
    assert_eq!(c.run("SET b 2"), ok());
    assert_eq!(c.run("EXEC"), err("ERR EXEC without MULTI"));
}

#[test]
fn runtime_error_does_not_abort_the_others() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET s abc"), queued());
    assert_eq!(
        c.run("INCR s"),
        queued(),
        "type errors are only found when EXEC runs"
    );
    assert_eq!(c.run("SET t 1"), queued());
    assert_eq!(c.run("SETEX u 0 v"), queued());
    assert_eq!(c.run("INCR t"), queued());
    assert_eq!(
        c.run("EXEC"),
        arr(vec![
            ok(),
            err(NOT_INTEGER),
            ok(),
            err("ERR invalid expire time in 'setex' command"),
            int(2),
        ])
    );
    assert_eq!(
        c.run("MGET s t u"),
        arr(vec![bulk("abc"), bulk("2"), nil()])
    );
}

#[test]
fn discard_and_misplaced_commands() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SET d 1"), queued());
    assert_eq!(c.run("DISCARD"), ok());
    assert_eq!(c.run("GET d"), nil());
    assert_eq!(c.run("DISCARD"), err("ERR DISCARD without MULTI"));
    assert_eq!(c.run("EXEC"), err("ERR EXEC without MULTI"));

    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("MULTI"), err("ERR MULTI calls can not be nested"));
    assert_eq!(c.run("SET e 1"), queued());
    assert_eq!(
        c.run("EXEC"),
        arr(vec![ok()]),
        "a nested MULTI does not abort the block"
    );
    assert_eq!(c.run("GET e"), bulk("1"));
}

#[test]
fn select_inside_multi() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SELECT 2"), queued());
    assert_eq!(c.run("SET k in2"), queued());
    assert_eq!(c.run("EXEC"), arr(vec![ok(), ok()]));
    assert_eq!(
        c.run("GET k"),
        bulk("in2"),
        "the SELECT inside EXEC stays in effect"
    );
    let mut other = s.client();
    assert_eq!(other.run("GET k"), nil());
    assert_eq!(other.run("SELECT 2"), ok());
    assert_eq!(other.run("GET k"), bulk("in2"));

    // A SELECT of a database that does not exist is queued too, and fails at EXEC alone: the
    // commands after it run in the database before it.
    assert_eq!(c.run("MULTI"), ok());
    assert_eq!(c.run("SELECT 99"), queued());
    assert_eq!(c.run("SET k still2"), queued());
    assert_eq!(
        c.run("EXEC"),
        arr(vec![err("ERR DB index is out of range"), ok()])
    );
    assert_eq!(c.run("GET k"), bulk("still2"));
}

#[test]
fn transactions_do_not_interleave() {
    let s = KiwiServer::start();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = s.client();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    assert_eq!(c.run("MULTI"), ok());
                    assert_eq!(c.run("INCR counter"), queued());
                    assert_eq!(c.run("INCR counter"), queued());
                    assert_eq!(c.run("INCR counter"), queued());
                    let r = c.run("EXEC").items();
                    let first = r[0].int();
                    assert_eq!(
                        r,
                        vec![int(first), int(first + 1), int(first + 2)],
                        "interleaved"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.client();
    assert_eq!(c.run("GET counter"), bulk("1200"));
}

#[test]
fn redis_rs_atomic_pipeline() {
    let s = KiwiServer::start();
    let mut c = s.client();
    let (a, b, list): (i64, i64, Vec<String>) = redis::pipe()
        .atomic()
        .cmd("INCRBY")
        .arg("x")
        .arg(5)
        .cmd("INCRBY")
        .arg("x")
        .arg(6)
        .cmd("MGET")
        .arg("x")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b), (5, 11));
    assert_eq!(list, vec!["11".to_string(), "11".to_string()]);
}

#[test]
fn multi_over_redis_cli() {
    let s = KiwiServer::start();
    let out = s.cli_stdin(&[], "MULTI\nSET a 1\nINCR a\nEXEC\nGET a\n");
    assert_eq!(out, "OK\nQUEUED\nQUEUED\nOK\n2\n2\n");
}
