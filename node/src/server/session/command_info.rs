//! COMMAND: the command table as Redis reports it.

use super::command_docs;
use crate::command::{self, flags, Args, CommandSpec};
use crate::resp::Reply;

/// COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS, COMMAND GETKEYS.
pub(super) fn command_info(args: &Args) -> Reply {
    fn describe(spec: &CommandSpec) -> Reply {
        let flag_names = flags::NAMES
            .iter()
            .filter(|(bit, _)| spec.has(*bit))
            .map(|(_, name)| Reply::Simple(name.to_string()))
            .collect();
        Reply::Array(vec![
            Reply::bulk(spec.name),
            Reply::Int(spec.arity as i64),
            Reply::Set(flag_names),
            Reply::Int(spec.keys.0 as i64),
            Reply::Int(spec.keys.1 as i64),
            Reply::Int(spec.keys.2 as i64),
            Reply::Set(Vec::new()),
            Reply::Set(Vec::new()),
            Reply::Array(Vec::new()),
            Reply::Array(Vec::new()),
        ])
    }
    let sub = args.upper(1).unwrap_or_default();
    match sub.as_str() {
        "" => Reply::Array(command::all().map(describe).collect()),
        "COUNT" => Reply::Int(command::all().count() as i64),
        "INFO" => {
            let specs: Vec<Reply> = if args.len() == 2 {
                command::all().map(describe).collect()
            } else {
                args.from(2)
                    .iter()
                    .map(|n| command::lookup(n).map(describe).unwrap_or(Reply::NilArray))
                    .collect()
            };
            Reply::Array(specs)
        }
        "DOCS" => {
            let names: Vec<&'static CommandSpec> = if args.len() == 2 {
                command::all().collect()
            } else {
                args.from(2)
                    .iter()
                    .filter_map(|n| command::lookup(n))
                    .collect()
            };
            Reply::Map(
                names
                    .into_iter()
                    .map(|spec| {
                        let doc = command_docs::docs_of(spec.name).unwrap_or_else(|| {
                            Reply::Map(vec![
                                (
                                    Reply::bulk("summary"),
                                    Reply::bulk(spec.name.to_uppercase()),
                                ),
                                (Reply::bulk("group"), Reply::bulk("generic")),
                            ])
                        });
                        (Reply::bulk(spec.name), doc)
                    })
                    .collect(),
            )
        }
        "GETKEYS" if args.len() >= 3 => {
            let argv = args.from(2);
            match command::resolve(argv) {
                Ok(spec) => {
                    let keys: Vec<Reply> = spec
                        .key_indexes(argv.len())
                        .into_iter()
                        .map(|i| Reply::bulk(argv[i].clone()))
                        .collect();
                    if keys.is_empty() {
                        Reply::err("The command has no key arguments")
                    } else {
                        Reply::Array(keys)
                    }
                }
                Err(e) => e.into_reply(),
            }
        }
        _ => Reply::err(format!("unknown subcommand '{sub}'. Try COMMAND HELP.")),
    }
}
