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
        "" => Reply::Array(command::public().map(describe).collect()),
        "COUNT" => Reply::Int(command::public().count() as i64),
        "INFO" => {
            let specs: Vec<Reply> = if args.len() == 2 {
                command::public().map(describe).collect()
            } else {
                args.from(2)
                    .iter()
                    .map(|n| {
                        command::lookup_public(n)
                            .map(describe)
                            .unwrap_or(Reply::NilArray)
                    })
                    .collect()
            };
            Reply::Array(specs)
        }
        "DOCS" => {
            let names: Vec<&'static CommandSpec> = if args.len() == 2 {
                command::public().collect()
            } else {
                args.from(2)
                    .iter()
                    .filter_map(|n| command::lookup_public(n))
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
        "GETKEYS" => {
            if args.len() < 4 {
                return Reply::err("wrong number of arguments for 'command|getkeys' command");
            }
            let argv = args.from(2);
            let Some(spec) = command::lookup_public(&argv[0]) else {
                return Reply::err("Invalid command specified");
            };
            if !spec.arity_ok(argv.len()) {
                return Reply::err("Invalid number of arguments specified for command");
            }
            match command::key_positions(spec, argv) {
                None => Reply::err("Invalid arguments specified for command"),
                Some(keys) if keys.is_empty() => Reply::err("The command has no key arguments"),
                Some(keys) => Reply::Array(
                    keys.into_iter()
                        .map(|i| Reply::bulk(argv[i].clone()))
                        .collect(),
                ),
            }
        }
        _ => Reply::err(format!("unknown subcommand '{sub}'. Try COMMAND HELP.")),
    }
}
