//! `--requirepass`: nothing but AUTH/HELLO/QUIT before authenticating.

use kiwi_tests::*;

const PASSWORD: &str = "s3cret pass";
const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn server() -> KiwiServer {
    KiwiServer::start_with(&["--requirepass", PASSWORD])
}

#[test]
fn commands_need_auth_first() {
    let s = server();
    let mut c = s.client();
    assert_eq!(c.run("GET k"), err(NOAUTH));
    assert_eq!(c.run("SET k v"), err(NOAUTH));
    assert_eq!(c.run("PING"), err(NOAUTH));
    assert_eq!(c.run("SELECT 1"), err(NOAUTH));
    assert_eq!(c.run("MULTI"), err(NOAUTH));
    // As in Redis, a command that does not exist or has the wrong arity is reported as such.
    assert_eq!(
        c.run("NOSUCH x"),
        err("ERR unknown command 'NOSUCH', with args beginning with: 'x' ")
    );
    assert_eq!(c.run("GET"), wrong_arity("get"));

    assert_eq!(c.run("AUTH wrong"), err(WRONGPASS));
    assert_eq!(c.run("GET k"), err(NOAUTH));
    assert_eq!(c.run_args(&["AUTH", "default", "wrong"]), err(WRONGPASS));
    assert_eq!(c.run_args(&["AUTH", "someone", PASSWORD]), err(WRONGPASS));
    assert_eq!(c.run_args(&["AUTH", PASSWORD]), ok());
    assert_eq!(c.run("SET k v"), ok());
    assert_eq!(c.run("GET k"), bulk("v"));
    assert_eq!(c.run("PING"), status("PONG"));

    let mut c2 = s.client();
    assert_eq!(
        c2.run("GET k"),
        err(NOAUTH),
        "authentication is per connection"
    );
    assert_eq!(c2.run_args(&["AUTH", "default", PASSWORD]), ok());
    assert_eq!(c2.run("GET k"), bulk("v"));
    assert_eq!(c2.run("AUTH a b c"), err(SYNTAX));
    assert_eq!(c2.run("AUTH"), wrong_arity("auth"));
    assert_eq!(c2.run("AUTH wrong"), err(WRONGPASS));
    assert_eq!(
        c2.run("GET k"),
        bulk("v"),
        "a failed AUTH does not log an authenticated client out"
    );
}

#[test]
fn hello_with_auth() {
    let s = server();
    let mut conn = s.raw_conn();
    conn.send(b"HELLO 3\r\n");
    let reply = String::from_utf8(conn.read_reply(RAW_TIMEOUT)).unwrap();
    assert!(
        reply.starts_with("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "),
        "{reply}"
    );
    conn.send(b"HELLO 2 AUTH default wrong\r\n");
    assert_eq!(
        conn.read_reply(RAW_TIMEOUT),
        format!("-{WRONGPASS}\r\n").into_bytes()
    );
    conn.send(b"GET k\r\n");
    assert_eq!(
        conn.read_reply(RAW_TIMEOUT),
        format!("-{NOAUTH}\r\n").into_bytes()
    );

    conn.send(format!("HELLO 2 AUTH default \"{PASSWORD}\"\r\n").as_bytes());
    let reply = String::from_utf8(conn.read_reply(RAW_TIMEOUT)).unwrap();
    assert!(reply.starts_with("*14\r\n"), "{reply}");
    assert!(reply.contains("$5\r\nproto\r\n:2\r\n"), "{reply}");
    conn.send(b"SET k v\r\nGET k\r\n");
    assert_eq!(conn.read_reply(RAW_TIMEOUT), b"+OK\r\n");
    assert_eq!(conn.read_reply(RAW_TIMEOUT), b"$1\r\nv\r\n");

    let mut conn = s.raw_conn();
    conn.send(
        format!(
            "HELLO 3 AUTH default \"{PASSWORD}\" SETNAME tester\r\nGET k\r\nCLIENT GETNAME\r\n"
        )
        .as_bytes(),
    );
    let reply = String::from_utf8(conn.read_reply(RAW_TIMEOUT)).unwrap();
    assert!(reply.starts_with("%7\r\n"), "{reply}");
    assert_eq!(conn.read_reply(RAW_TIMEOUT), b"$1\r\nv\r\n");
    assert_eq!(conn.read_reply(RAW_TIMEOUT), b"$6\r\ntester\r\n");
}

#[test]
fn quit_is_allowed_before_auth() {
    let s = server();
    let out = s.raw(b"GET k\r\nQUIT\r\n");
    assert_eq!(out, format!("-{NOAUTH}\r\n+OK\r\n").into_bytes());
}

#[test]
fn clients_that_authenticate_on_connect() {
    let s = server();
    let mut c = s.client_with_password(PASSWORD);
    assert_eq!(c.run("SET a 1"), ok());
    assert_eq!(c.run("GET a"), bulk("1"));

    assert_eq!(s.cli(&["GET", "a"]), "NOAUTH Authentication required.\n\n");
    assert_eq!(
        s.cli(&["-a", PASSWORD, "--no-auth-warning", "GET", "a"]),
        "1\n"
    );
    let bad = s.cli(&["-a", "nope", "--no-auth-warning", "GET", "a"]);
    assert!(bad.contains("NOAUTH Authentication required."), "{bad}");

    let url = format!("redis://:wrong@127.0.0.1:{}/", s.port());
    let result = redis::Client::open(url).unwrap().get_connection();
    assert!(result.is_err(), "a wrong password fails the connection");
}

#[test]
fn auth_without_requirepass() {
    let s = KiwiServer::start();
    let mut c = s.client();
    assert_eq!(c.run("PING"), status("PONG"));
    assert_eq!(
        c.run("AUTH whatever"),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    assert_eq!(c.run("PING"), status("PONG"));
}
