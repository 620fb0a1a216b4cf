//! Redis's conversion rules between replies and Lua values, both ways.
//!
//! A command's reply becomes a Lua value (what `redis.call` returns) according to the protocol
//! the script chose with `redis.setresp` (2 by default); a script's return value becomes the
//! client's reply. Kiwi's [`Reply`] is protocol-neutral, so a RESP3 shape (a map, a set, a
//! double, a boolean) is kept as such and the client's connection lays it out in its own
//! protocol, as Redis does.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::resp::reply::format_double;
use crate::resp::Reply;

/// Deepest nesting of a script's return value: deeper is refused rather than recursed into.
pub const MAX_DEPTH: usize = 100;

/// A Lua number as Redis makes it an integer reply: C's conversion to `long long`, which on
/// the machines Redis runs on gives the smallest integer for NaN and out-of-range values.
pub fn lua_number_to_int(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n.trunc() as i64
    }
}

/// The table `{err = text}` (Redis's error table), with the text stripped of line ends.
pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", text.trim_end_matches(['\r', '\n']))?;
    Ok(t)
}

/// RESP3 key/value pairs as Lua sees a map: `{map = {k = v, ...}}`.
fn map_table(lua: &Lua, pairs: &[(Reply, Reply)]) -> mlua::Result<Value> {
    let map = lua.create_table()?;
    for (k, v) in pairs {
        map.raw_set(reply_to_lua(lua, k, true)?, reply_to_lua(lua, v, true)?)?;
    }
    wrapped(lua, "map", map)
}

/// Pairs as an array of two-element arrays.
fn pair_tables(lua: &Lua, pairs: &[(Reply, Reply)], resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, (a, b)) in pairs.iter().enumerate() {
        let pair = lua.create_table()?;
        pair.raw_set(1, reply_to_lua(lua, a, resp3)?)?;
        pair.raw_set(2, reply_to_lua(lua, b, resp3)?)?;
        t.raw_set(i + 1, pair)?;
    }
    Ok(Value::Table(t))
}

/// A command's reply as `redis.call` returns it to the script.
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", s.as_str())?;
            Value::Table(t)
        }
        Reply::Error(e) => Value::Table(error_table(lua, e)?),
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) => array(lua, items.iter(), resp3)?,
        Reply::Set(items) => {
            if resp3 {
                let set = lua.create_table()?;
                for item in items {
                    set.raw_set(reply_to_lua(lua, item, resp3)?, true)?;
                }
                wrapped(lua, "set", set)?
            } else {
                array(lua, items.iter(), resp3)?
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                map_table(lua, pairs)?
            } else {
                array(lua, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)?
            }
        }
        // XREAD's reply: a map in RESP3, an array of [key, entries] pairs in RESP2.
        Reply::KeyedPairs(pairs) => {
            if resp3 {
                map_table(lua, pairs)?
            } else {
                pair_tables(lua, pairs, resp3)?
            }
        }
        // No command a script may call answers with a push; an array is what it carries.
        Reply::Push(items) => array(lua, items.iter(), resp3)?,
        Reply::Pairs(pairs) => {
            if resp3 {
                pair_tables(lua, pairs, resp3)?
            } else {
                array(lua, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)?
            }
        }
        Reply::Double(d) => {
            if resp3 {
                let t = lua.create_table()?;
                t.raw_set("double", *d)?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(format_double(*d))?)
            }
        }
        Reply::Verbatim(text) => {
            if resp3 {
                let inner = lua.create_table()?;
                inner.raw_set("format", "txt")?;
                inner.raw_set("string", text.as_str())?;
                wrapped(lua, "verbatim_string", inner)?
            } else {
                Value::String(lua.create_string(text)?)
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                Value::Boolean(*b)
            } else {
                Value::Number(f64::from(u8::from(*b)))
            }
        }
        Reply::BigNumber(n) => {
            if resp3 {
                let t = lua.create_table()?;
                t.raw_set("big_number", n.as_str())?;
                Value::Table(t)
            } else {
                Value::String(lua.create_string(n)?)
            }
        }
    })
}

fn array<'r>(
    lua: &Lua,
    items: impl Iterator<Item = &'r Reply>,
    resp3: bool,
) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    for (i, item) in items.enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(t))
}

fn wrapped(lua: &Lua, field: &str, inner: Table) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, inner)?;
    Ok(Value::Table(t))
}

/// A script's return value as the client's reply. `resp3` is the protocol the script chose
/// with `redis.setresp`: it decides what a boolean becomes.
pub fn lua_to_reply(value: &Value, resp3: bool) -> Reply {
    to_reply(value, resp3, 0)
}

fn to_reply(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::err("reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => match (resp3, b) {
            (true, b) => Reply::Bool(*b),
            (false, true) => Reply::Int(1),
            (false, false) => Reply::Nil,
        },
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(lua_number_to_int(*n)),
        Value::Table(t) => table_to_reply(t, resp3, depth),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        return Reply::Error(err.to_string_lossy());
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        // A status line cannot hold a line break.
        let text = ok.to_string_lossy().replace(['\r', '\n'], " ");
        return Reply::Simple(text);
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(d)) => return Reply::Double(d as f64),
        _ => {}
    }
    if let Ok(Value::String(n)) = t.raw_get::<Value>("big_number") {
        return Reply::BigNumber(n.to_string_lossy().replace(['\r', '\n'], " "));
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for pair in map.pairs::<Value, Value>() {
            let Ok((k, v)) = pair else { break };
            pairs.push((
                to_reply(&k, resp3, depth + 1),
                to_reply(&v, resp3, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let mut items = Vec::new();
        for pair in set.pairs::<Value, Value>() {
            let Ok((k, _)) = pair else { break };
            items.push(to_reply(&k, resp3, depth + 1));
        }
        return Reply::Set(items);
    }
    // An array: its items from 1 up to the first nil, as Redis reads it.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_convert_as_c_does() {
        assert_eq!(lua_number_to_int(3.99), 3);
        assert_eq!(lua_number_to_int(-3.99), -3);
        assert_eq!(lua_number_to_int(1e20), i64::MIN);
        assert_eq!(lua_number_to_int(f64::INFINITY), i64::MIN);
        assert_eq!(lua_number_to_int(f64::NAN), i64::MIN);
    }

    #[test]
    fn replies_round_trip_through_lua_as_redis_converts_them() {
        let lua = Lua::new();
        let reply = Reply::Array(vec![
            Reply::Int(1),
            Reply::bulk("x"),
            Reply::Simple("OK".into()),
            Reply::Error("ERR bad".into()),
        ]);
        let v = reply_to_lua(&lua, &reply, false).unwrap();
        assert_eq!(lua_to_reply(&v, false), reply);
        // A nil bulk is false in RESP2 mode, and false comes back as a nil.
        let v = reply_to_lua(&lua, &Reply::Nil, false).unwrap();
        assert_eq!(v, Value::Boolean(false));
        assert_eq!(lua_to_reply(&v, false), Reply::Nil);
        assert_eq!(lua_to_reply(&Value::Boolean(true), false), Reply::Int(1));
        assert_eq!(
            lua_to_reply(&Value::Boolean(false), true),
            Reply::Bool(false)
        );
        // A map is flattened in RESP2 mode, a table {map=...} in RESP3 mode.
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        let flat = reply_to_lua(&lua, &map, false).unwrap();
        assert_eq!(
            lua_to_reply(&flat, false),
            Reply::Array(vec![Reply::bulk("a"), Reply::Int(1)])
        );
        let nested = reply_to_lua(&lua, &map, true).unwrap();
        assert_eq!(lua_to_reply(&nested, true), map);
        let d = reply_to_lua(&lua, &Reply::Double(1.5), true).unwrap();
        assert_eq!(lua_to_reply(&d, true), Reply::Double(1.5));
    }

    #[test]
    fn arrays_stop_at_the_first_nil() {
        let lua = Lua::new();
        let v: Value = lua.load("return {1, 2, nil, 4}").eval().unwrap();
        assert_eq!(
            lua_to_reply(&v, false),
            Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
        );
    }
}
