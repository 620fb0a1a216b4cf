//! AUTH and HELLO: authentication and the protocol version a connection speaks.

use bytes::Bytes;

use super::Session;
use crate::command::{self, Args, CmdError};
use crate::resp::Reply;
use crate::server::REDIS_VERSION;

pub(super) fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

impl Session {
    pub(super) fn auth(&mut self, args: &Args) -> Reply {
        let Some(required) = self.state.config().requirepass.clone() else {
            return Reply::err(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        };
        let (user, pass) = match args.len() {
            2 => (Bytes::from_static(b"default"), args.from(1)[0].clone()),
            3 => (args.from(1)[0].clone(), args.from(2)[0].clone()),
            _ => return CmdError::Syntax.into_reply(),
        };
        if &user[..] == b"default" && pass[..] == *required.as_bytes() {
            self.authenticated = true;
            Reply::ok()
        } else {
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
        }
    }

    pub(super) fn hello(&mut self, args: &Args) -> Reply {
        let mut proto = if self.resp3 { 3 } else { 2 };
        let mut i = 1;
        if args.len() > 1 {
            match command::args::parse_i64(&args.from(1)[0]) {
                Ok(v @ 2..=3) => proto = v,
                Ok(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
                Err(_) => return Reply::err("Protocol version is not an integer or out of range"),
            }
            i = 2;
        }
        let mut name = None;
        while i < args.len() {
            if args.is(i, "auth") && i + 2 < args.len() {
                let auth_args = [
                    Bytes::from_static(b"auth"),
                    args.from(i + 1)[0].clone(),
                    args.from(i + 2)[0].clone(),
                ];
                let reply = self.auth(&Args::new(&auth_args));
                if reply.is_error() {
                    return reply;
                }
                i += 3;
            } else if args.is(i, "setname") && i + 1 < args.len() {
                name = Some(args.from(i + 1)[0].clone());
                i += 2;
            } else {
                return Reply::err(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args.from(i)[0])
                ));
            }
        }
        if !self.authenticated {
            return Reply::Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
        }
        if let Some(name) = name {
            if let Err(e) = self.set_name(&name) {
                return e;
            }
        }
        self.resp3 = proto == 3;
        self.update_info(|i| i.resp = proto as u8);
        let s = |v: &str| Reply::bulk(v.to_string());
        Reply::Map(vec![
            (s("server"), s("redis")),
            (s("version"), s(REDIS_VERSION)),
            (s("proto"), Reply::Int(proto)),
            (s("id"), Reply::Int(self.id as i64)),
            (s("mode"), s("standalone")),
            (s("role"), s("master")),
            (s("modules"), Reply::Array(Vec::new())),
        ])
    }
}
