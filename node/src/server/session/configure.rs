//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP, with Redis 7's replies and error texts.
//!
//! Every setting is this node's own, as in Redis: CONFIG SET on one member of a cluster changes
//! nothing on the others.

use std::sync::atomic::Ordering;

use super::Session;
use crate::command::Args;
use crate::config::{self, Param};
use crate::resp::Reply;

/// Kiwi's own keys CONFIG SET may change while the node runs; the others are read at start.
/// (Redis's tunables say for themselves, see `config::tunables`.)
pub(super) const RUNTIME_SETTABLE: &[&str] = &[
    "requirepass",
    "maxclients",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "timeout",
    "tcp-keepalive",
    "loglevel",
    "raft-write-timeout",
    "raft-follower-forward",
];

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn wrong_arity(sub: &str) -> Reply {
    Reply::err(format!(
        "wrong number of arguments for 'config|{sub}' command"
    ))
}

/// Why CONFIG SET refuses a parameter before trying any value.
fn refusal(param: &Param, protected_allowed: bool) -> Option<&'static str> {
    let immutable = match param {
        Param::Kiwi(k) => !RUNTIME_SETTABLE.contains(&k.name),
        Param::Redis { .. } => param.immutable(),
    };
    if immutable {
        Some("can't set immutable config")
    } else if param.protected() && !protected_allowed {
        Some("can't set protected config")
    } else {
        None
    }
}

impl Session {
    pub(super) fn config(&mut self, args: &Args) -> Reply {
        let sub = text(args.get(1).map(|b| &b[..]).unwrap_or(&b""[..])).to_ascii_lowercase();
        match sub.as_str() {
            "get" if args.len() >= 3 => self.config_get(args),
            "set" if args.len() >= 4 => self.config_set(args),
            "resetstat" if args.len() == 2 => {
                self.state.reset_stats();
                Reply::ok()
            }
            "rewrite" if args.len() == 2 => match self.state.config().rewrite_config_file() {
                Ok(()) => {
                    tracing::info!("CONFIG REWRITE executed with success");
                    Reply::ok()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "CONFIG REWRITE failed");
                    Reply::err(e.to_string())
                }
            },
            "help" if args.len() == 2 => {
                Reply::Array(HELP.iter().map(|l| Reply::Simple(l.to_string())).collect())
            }
            "get" | "set" | "resetstat" | "rewrite" | "help" => wrong_arity(&sub),
            _ => Reply::err(format!(
                "unknown subcommand '{}'. Try CONFIG HELP.",
                text(args.get(1).map(|b| &b[..]).unwrap_or(&b""[..]))
            )),
        }
    }

    /// Every parameter matching any of the patterns, once, in the table's order.
    fn config_get(&self, args: &Args) -> Reply {
        let cfg = self.state.config();
        let patterns = args.from(2);
        let pairs = config::params()
            .filter(|p| patterns.iter().any(|pat| p.matches(pat)))
            .map(|p| (Reply::bulk(p.name()), Reply::bulk(p.get(&cfg))))
            .collect();
        Reply::Map(pairs)
    }

    /// All the pairs or none: each name is checked first, then the values are applied to a copy
    /// that replaces the node's configuration only if every one was accepted.
    fn config_set(&self, args: &Args) -> Reply {
        if args.len() % 2 == 1 {
            return Reply::err("syntax error");
        }
        let pairs: Vec<(String, String)> = args
            .from(2)
            .chunks(2)
            .map(|pair| (text(&pair[0]), text(&pair[1])))
            .collect();
        let mut cfg = self.state.config.write().unwrap_or_else(|e| e.into_inner());
        let protected_allowed = cfg.tunables.value("enable-protected-configs") != "no";
        let mut params: Vec<Param> = Vec::with_capacity(pairs.len());
        for (name, _) in &pairs {
            let Some(param) = config::find_param(name) else {
                return Reply::err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let why = refusal(&param, protected_allowed).or_else(|| {
                params
                    .iter()
                    .any(|p| p.name() == param.name())
                    .then_some("duplicate parameter")
            });
            if let Some(why) = why {
                return Reply::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                ));
            }
            params.push(param);
        }
        let mut updated = cfg.clone();
        for (param, (_, value)) in params.iter().zip(&pairs) {
            if let Err(why) = param.set(&mut updated, value) {
                return Reply::err(format!(
                    "CONFIG SET failed (possibly related to argument '{}') - {why}",
                    param.name()
                ));
            }
        }
        self.state.db.set_object_settings(updated.object_settings());
        crate::server::pubsub_config_changed(&self.state.pubsub, &updated);
        *cfg = updated;
        // Connections reload the settings they keep at hand.
        self.state.config_epoch.fetch_add(1, Ordering::Release);
        Reply::ok()
    }
}
