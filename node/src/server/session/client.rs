//! CLIENT: the connection's name and id, and the list of connections.

use super::Session;
use crate::command::args::parse_i64;
use crate::command::Args;
use crate::resp::Reply;
use crate::server::blocking::Unblock;
use crate::server::info;

impl Session {
    pub(super) fn set_name(&self, name: &[u8]) -> Result<(), Reply> {
        if name.iter().any(|&c| c <= b' ' || c > b'~') {
            return Err(Reply::err(
                "Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        let name = String::from_utf8_lossy(name).to_string();
        self.update_info(|i| i.name = name);
        Ok(())
    }

    pub(super) fn client(&mut self, args: &Args) -> Reply {
        let sub = args.upper(1).unwrap_or_default();
        match (sub.as_str(), args.len()) {
            ("SETNAME", 3) => self
                .set_name(&args.from(2)[0])
                .map(|_| Reply::ok())
                .unwrap_or_else(|e| e),
            ("GETNAME", 2) => {
                let name = self
                    .state
                    .clients()
                    .get(&self.id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default();
                if name.is_empty() {
                    Reply::Nil
                } else {
                    Reply::bulk(name)
                }
            }
            ("ID", 2) => Reply::Int(self.id as i64),
            ("LIST", _) => {
                let clients = self.state.clients();
                let text: String = clients
                    .values()
                    .map(|c| info::client_line(c) + "\n")
                    .collect();
                Reply::Verbatim(text)
            }
            ("INFO", 2) => {
                let clients = self.state.clients();
                let line = clients
                    .get(&self.id)
                    .map(info::client_line)
                    .unwrap_or_default();
                Reply::Verbatim(line + "\n")
            }
            ("UNBLOCK", 3 | 4) => {
                let id = match parse_i64(&args.from(2)[0]) {
                    Ok(id) => id,
                    Err(e) => return e.into_reply(),
                };
                let how = if args.len() == 3 || args.is(3, "timeout") {
                    Unblock::Timeout
                } else if args.is(3, "error") {
                    Unblock::Error
                } else {
                    return Reply::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                };
                let unblocked =
                    u64::try_from(id).is_ok_and(|id| self.state.blocking.unblock(id, how));
                Reply::Int(i64::from(unblocked))
            }
            ("SETINFO", 4) => Reply::ok(),
            ("NO-EVICT", 3) | ("NO-TOUCH", 3) | ("REPLY", 3) => Reply::ok(),
            _ => Reply::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(args.from(1).first().map(|b| &b[..]).unwrap_or(b""))
            )),
        }
    }
}
