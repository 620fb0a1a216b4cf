//! CONFIG GET, SET, RESETSTAT and REWRITE.

use std::sync::atomic::Ordering;

use super::Session;
use crate::command::{self, Args};
use crate::config;
use crate::resp::Reply;

/// Keys CONFIG SET may change while the node runs.
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

impl Session {
    pub(super) fn config(&mut self, args: &Args) -> Reply {
        let sub = args.upper(1).unwrap_or_default();
        match sub.as_str() {
            "GET" if args.len() >= 3 => {
                let cfg = self.state.config();
                let mut pairs = Vec::new();
                for pattern in args.from(2) {
                    for key in config::KEYS {
                        if command::glob::glob_match_nocase(pattern, key.name.as_bytes())
                            && !pairs
                                .iter()
                                .any(|(k, _): &(Reply, Reply)| *k == Reply::bulk(key.name))
                        {
                            pairs.push((Reply::bulk(key.name), Reply::bulk((key.get)(&cfg))));
                        }
                    }
                    // Keys redis-benchmark and other tools ask about; Kiwi's answers.
                    for (name, value) in [
                        ("save", ""),
                        ("appendonly", "no"),
                        ("appendfsync", "always"),
                    ] {
                        if command::glob::glob_match_nocase(pattern, name.as_bytes()) {
                            pairs.push((Reply::bulk(name), Reply::bulk(value)));
                        }
                    }
                }
                Reply::Map(pairs)
            }
            "SET" if args.len() >= 4 && args.len().is_multiple_of(2) => {
                let mut cfg = self.state.config.write().unwrap_or_else(|e| e.into_inner());
                let mut updated = cfg.clone();
                for pair in args.from(2).chunks(2) {
                    let name = String::from_utf8_lossy(&pair[0]).to_lowercase();
                    if !RUNTIME_SETTABLE.contains(&name.as_str()) {
                        return Reply::err(format!("Unsupported CONFIG parameter: {name}"));
                    }
                    if let Err(e) = updated.set_flag(&name, &String::from_utf8_lossy(&pair[1])) {
                        let why = match e {
                            config::ConfigError::Flag { message, .. } => message,
                            other => other.to_string(),
                        };
                        return Reply::err(format!(
                            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        ));
                    }
                }
                *cfg = updated;
                // Connections reload the settings they keep at hand.
                self.state.config_epoch.fetch_add(1, Ordering::Release);
                Reply::ok()
            }
            "RESETSTAT" if args.len() == 2 => {
                self.state.total_commands.store(0, Ordering::Relaxed);
                self.state.total_connections.store(0, Ordering::Relaxed);
                Reply::ok()
            }
            "REWRITE" => Reply::err("CONFIG REWRITE is not supported; edit the config file"),
            _ => Reply::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(args.from(1).first().map(|b| &b[..]).unwrap_or(b""))
            )),
        }
    }
}
