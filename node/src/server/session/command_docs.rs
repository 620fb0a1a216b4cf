//! COMMAND DOCS: Redis's own documentation of each command Kiwi implements (summary, since,
//! group, complexity, history, arguments, subcommands), so that clients and tools that read it
//! (redis-cli's hints, client generators) see what they see on Redis.
//!
//! command_docs.json is written by `scripts/gen_command_docs.py` from a real redis-server's
//! RESP3 reply, with its types kept: `{"%": [[k, v], ...]}` is a map, `{"~": [...]}` a set,
//! `{"+": "..."}` a simple string, a JSON string a bulk string, a number an integer.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::resp::Reply;

static DOCS: LazyLock<HashMap<String, Reply>> = LazyLock::new(|| {
    let file: Value = serde_json::from_str(include_str!("command_docs.json")).unwrap_or_default();
    let mut docs = HashMap::new();
    if let Some(Reply::Map(pairs)) = file.get("docs").map(to_reply) {
        for (name, doc) in pairs {
            if let Reply::Bulk(name) = name {
                docs.insert(String::from_utf8_lossy(&name).into_owned(), doc);
            }
        }
    }
    docs
});

/// Redis's documentation of the command `name` (lower case), if Redis has it.
pub(super) fn docs_of(name: &str) -> Option<Reply> {
    DOCS.get(name).cloned()
}

/// One value of the generated file as the reply Redis gave.
fn to_reply(value: &Value) -> Reply {
    match value {
        Value::String(s) => Reply::bulk(s.clone().into_bytes()),
        Value::Number(n) => Reply::Int(n.as_i64().unwrap_or_default()),
        Value::Array(items) => Reply::Array(items.iter().map(to_reply).collect()),
        Value::Object(tagged) => match tagged.iter().next() {
            Some((tag, Value::Array(items))) if tag == "%" => Reply::Map(
                items
                    .iter()
                    .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                        Some([k, v]) => Some((to_reply(k), to_reply(v))),
                        _ => None,
                    })
                    .collect(),
            ),
            Some((tag, Value::Array(items))) if tag == "~" => {
                Reply::Set(items.iter().map(to_reply).collect())
            }
            Some((tag, Value::String(s))) if tag == "+" => Reply::Simple(s.clone()),
            _ => Reply::Nil,
        },
        Value::Null | Value::Bool(_) => Reply::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(doc: &'a Reply, key: &str) -> Option<&'a Reply> {
        match doc {
            Reply::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| *k == Reply::bulk(key.to_string().into_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    #[test]
    fn every_command_kiwi_implements_has_redis_docs() {
        let missing: Vec<&str> = crate::command::all()
            .map(|spec| spec.name)
            // Kiwi's internal commands (`kiwi.*`, between its own nodes) have no Redis docs.
            .filter(|name| !name.starts_with("kiwi.") && docs_of(name).is_none())
            .collect();
        assert!(missing.is_empty(), "no Redis docs for {missing:?}");
    }

    #[test]
    fn docs_keep_redis_types_and_order() {
        let set = docs_of("set").unwrap();
        let Reply::Map(pairs) = &set else {
            panic!("a map: {set:?}")
        };
        assert_eq!(pairs[0].0, Reply::bulk("summary"));
        assert_eq!(
            field(&set, "summary"),
            Some(&Reply::bulk("Set the string value of a key"))
        );
        assert_eq!(field(&set, "group"), Some(&Reply::bulk("string")));
        assert!(matches!(field(&set, "history"), Some(Reply::Set(_))));
        let Some(Reply::Array(arguments)) = field(&set, "arguments") else {
            panic!("arguments")
        };
        assert_eq!(field(&arguments[0], "name"), Some(&Reply::bulk("key")));
        assert_eq!(field(&arguments[0], "key_spec_index"), Some(&Reply::Int(0)));
        let flags = field(&arguments[2], "flags");
        assert_eq!(
            flags,
            Some(&Reply::Set(vec![Reply::Simple("optional".into())]))
        );
    }
}
