//! The libraries Redis gives scripts beyond Lua's own: `bit` (LuaBitOp), `cjson`, `cmsgpack`,
//! Redis's `math.random` (rand48; reseeded with 0 for every run, so that every replica draws
//! the same numbers, where redis-server 7.0 keeps its state across scripts), and
//! `redis.sha1hex`.
//!
//! Functions that can fail return `(false, message)` to a Lua wrapper in the prelude that
//! raises the message at the caller's line, as the C libraries' `luaL_error` does in Redis.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{Lua, MultiValue, Table, Value};
use sha1::{Digest, Sha1};

/// rand48's state after `srand48(0)`, where Redis starts every script.
pub const RAND48_SEED0: u64 = 0x330E;
const RAND48_MASK: u64 = (1 << 48) - 1;

/// rand48's state after `srand48(seed)`.
pub fn rand48_seed(seed: i32) -> u64 {
    (u64::from(seed as u32) << 16) | 0x330E
}

/// The next `lrand48()` (31 bits), advancing `state`.
pub fn lrand48(state: &Cell<u64>) -> i32 {
    let next = (0x5_DEEC_E66D_u64.wrapping_mul(state.get()) + 0xB) & RAND48_MASK;
    state.set(next);
    (next >> 17) as i32
}

/// SHA1 of `data` in lower-case hex, as Redis names scripts.
pub fn sha1_hex(data: &[u8]) -> String {
    let digest = Sha1::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Installs `bit` and `cjson` as globals, and the raw functions the prelude wraps into `raw`.
pub fn install(lua: &Lua, raw: &Table, rand: Rc<Cell<u64>>) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("bit", bit(lua)?)?;
    globals.raw_set("cjson", lua.create_table()?)?;
    globals.raw_set("cmsgpack", lua.create_table()?)?;

    raw.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Ok((
                    false,
                    Value::String(lua.create_string("wrong number of arguments")?),
                ));
            }
            let data = match args.into_iter().next().map(|v| lua.coerce_string(v)) {
                Some(Ok(Some(s))) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            Ok((true, Value::String(lua.create_string(sha1_hex(&data))?)))
        })?,
    )?;
    {
        let rand = rand.clone();
        raw.set(
            "random",
            lua.create_function(move |lua, args: MultiValue| {
                // Redis's redis_math_random: rand48 scaled to [0, 1).
                let r = f64::from(lrand48(&rand) % i32::MAX) / f64::from(i32::MAX);
                let int_arg = |v: &Value| -> Option<i64> {
                    match v {
                        Value::Integer(n) => Some(*n),
                        Value::Number(n) => Some(*n as i64),
                        Value::String(s) => s
                            .to_str()
                            .ok()?
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .map(|n| n as i64),
                        _ => None,
                    }
                };
                let err = |msg: &str| -> mlua::Result<(bool, Value)> {
                    Ok((false, Value::String(lua.create_string(msg)?)))
                };
                let args: Vec<Value> = args.into_iter().collect();
                let n = match args.as_slice() {
                    [] => r,
                    [u] => {
                        let Some(u) = int_arg(u) else {
                            return err("bad argument #1 to 'random' (number expected)");
                        };
                        if u < 1 {
                            return err("bad argument #1 to 'random' (interval is empty)");
                        }
                        (r * u as f64).floor() + 1.0
                    }
                    [l, u] => {
                        let (Some(l), Some(u)) = (int_arg(l), int_arg(u)) else {
                            return err("bad argument to 'random' (number expected)");
                        };
                        if l > u {
                            return err("bad argument #2 to 'random' (interval is empty)");
                        }
                        (r * (u - l + 1) as f64).floor() + l as f64
                    }
                    _ => return err("wrong number of arguments"),
                };
                Ok((true, Value::Number(n)))
            })?,
        )?;
    }
    raw.set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            rand.set(rand48_seed(seed as i64 as i32));
            Ok(())
        })?,
    )?;
    raw.set(
        "cjson_encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            Ok(match json_encode(lua, &v, &mut out, 0) {
                Ok(()) => (true, Value::String(lua.create_string(&out)?)),
                Err(msg) => (false, Value::String(lua.create_string(msg)?)),
            })
        })?,
    )?;
    raw.set(
        "cjson_decode",
        lua.create_function(|lua, v: mlua::String| {
            Ok(
                match serde_json::from_slice::<serde_json::Value>(&v.as_bytes()) {
                    Ok(json) => (true, json_to_lua(lua, &json)?),
                    Err(e) => {
                        let at = if e.line() <= 1 {
                            e.column().max(1)
                        } else {
                            e.column()
                        };
                        let msg =
                            format!("Expected value but found invalid token at character {at}");
                        (false, Value::String(lua.create_string(msg)?))
                    }
                },
            )
        })?,
    )?;
    raw.set(
        "cmsgpack_pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                let msg = "bad argument #0 to 'pack' (MessagePack pack needs input.)";
                return Ok((false, Value::String(lua.create_string(msg)?)));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                msgpack_encode(v, &mut out, 0);
            }
            Ok((true, Value::String(lua.create_string(&out)?)))
        })?,
    )?;
    raw.set(
        "cmsgpack_unpack",
        lua.create_function(|lua, data: mlua::String| {
            let data = data.as_bytes();
            let values = lua.create_table()?;
            let mut pos = 0;
            let mut n = 0;
            while pos < data.len() {
                match msgpack_decode(lua, &data, &mut pos, 0)? {
                    Ok(v) => {
                        n += 1;
                        values.raw_set(n, v)?;
                    }
                    Err(msg) => {
                        return Ok((false, Value::String(lua.create_string(msg)?), 0));
                    }
                }
            }
            Ok((true, Value::Table(values), n))
        })?,
    )?;
    Ok(())
}

/// lua_cmsgpack's limit on nested tables (deeper ones are encoded as nil).
const MSGPACK_MAX_NESTING: usize = 16;

fn msgpack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn msgpack_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && (n as i64) as f64 == n {
        msgpack_int(n as i64, out);
    } else if f64::from(n as f32) == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn msgpack_header(len: usize, fix: u8, fix_max: usize, op16: u8, out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(op16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(op16 + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// lua_cmsgpack's encoder, as Redis ships it.
fn msgpack_encode(v: &Value, out: &mut Vec<u8>, level: usize) {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => msgpack_int(*n, out),
        Value::Number(n) => msgpack_number(*n, out),
        Value::Table(t) if level < MSGPACK_MAX_NESTING => {
            // An array when its keys are exactly 1..n (so an empty table is an empty array).
            let mut count = 0usize;
            let mut max = 0i64;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let Ok((k, _)) = pair else {
                    array = false;
                    break;
                };
                let index = match k {
                    Value::Integer(i) if i > 0 => Some(i),
                    Value::Number(n) if n > 0.0 && n.fract() == 0.0 => Some(n as i64),
                    _ => None,
                };
                match index {
                    Some(i) => {
                        max = max.max(i);
                        count += 1;
                    }
                    None => {
                        array = false;
                        break;
                    }
                }
            }
            if array && max as usize == count {
                msgpack_header(count, 0x90, 15, 0xdc, out);
                for i in 1..=count {
                    let item: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    msgpack_encode(&item, out, level + 1);
                }
            } else {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().filter_map(Result::ok).collect();
                msgpack_header(pairs.len(), 0x80, 15, 0xde, out);
                for (k, item) in &pairs {
                    msgpack_encode(k, out, level + 1);
                    msgpack_encode(item, out, level + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

/// Decodes one MessagePack object at `*pos`: the value, or lua_cmsgpack's error message.
fn msgpack_decode(
    lua: &Lua,
    data: &[u8],
    pos: &mut usize,
    depth: usize,
) -> mlua::Result<Result<Value, &'static str>> {
    const MISSING: &str = "Missing bytes in input.";
    if depth > 1000 {
        return Ok(Err("Bad data format in input."));
    }
    let take = |pos: &mut usize, n: usize| -> Option<Vec<u8>> {
        let s = data.get(*pos..*pos + n)?.to_vec();
        *pos += n;
        Some(s)
    };
    macro_rules! take {
        ($n:expr) => {
            match take(pos, $n) {
                Some(b) => b,
                None => return Ok(Err(MISSING)),
            }
        };
    }
    macro_rules! be {
        ($t:ty) => {{
            let b = take!(std::mem::size_of::<$t>());
            <$t>::from_be_bytes(b.as_slice().try_into().expect("sized"))
        }};
    }
    let first = take!(1)[0];
    let string =
        |lua: &Lua, b: Vec<u8>| -> mlua::Result<Value> { Ok(Value::String(lua.create_string(b)?)) };
    let (array_len, map_len) = match first {
        0x00..=0x7f => return Ok(Ok(Value::Integer(i64::from(first)))),
        0xe0..=0xff => return Ok(Ok(Value::Integer(i64::from(first as i8)))),
        0xa0..=0xbf => return Ok(Ok(string(lua, take!(usize::from(first & 0x1f)))?)),
        0x90..=0x9f => (Some(usize::from(first & 0x0f)), None),
        0x80..=0x8f => (None, Some(usize::from(first & 0x0f))),
        0xc0 => return Ok(Ok(Value::Nil)),
        0xc2 => return Ok(Ok(Value::Boolean(false))),
        0xc3 => return Ok(Ok(Value::Boolean(true))),
        0xca => return Ok(Ok(Value::Number(f64::from(be!(f32))))),
        0xcb => return Ok(Ok(Value::Number(be!(f64)))),
        0xcc => return Ok(Ok(Value::Integer(i64::from(be!(u8))))),
        0xcd => return Ok(Ok(Value::Integer(i64::from(be!(u16))))),
        0xce => return Ok(Ok(Value::Integer(i64::from(be!(u32))))),
        0xcf => return Ok(Ok(Value::Number(be!(u64) as f64))),
        0xd0 => return Ok(Ok(Value::Integer(i64::from(be!(i8))))),
        0xd1 => return Ok(Ok(Value::Integer(i64::from(be!(i16))))),
        0xd2 => return Ok(Ok(Value::Integer(i64::from(be!(i32))))),
        0xd3 => return Ok(Ok(Value::Number(be!(i64) as f64))),
        0xc4 | 0xd9 => {
            let n = usize::from(be!(u8));
            return Ok(Ok(string(lua, take!(n))?));
        }
        0xc5 | 0xda => {
            let n = usize::from(be!(u16));
            return Ok(Ok(string(lua, take!(n))?));
        }
        0xc6 | 0xdb => {
            let n = be!(u32) as usize;
            return Ok(Ok(string(lua, take!(n))?));
        }
        0xdc => (Some(usize::from(be!(u16))), None),
        0xdd => (Some(be!(u32) as usize), None),
        0xde => (None, Some(usize::from(be!(u16)))),
        0xdf => (None, Some(be!(u32) as usize)),
        _ => return Ok(Err("Bad data format in input.")),
    };
    // Every element takes at least a byte: a count beyond the input is missing bytes.
    let remaining = data.len() - *pos;
    let t = lua.create_table()?;
    if let Some(n) = array_len {
        if n > remaining {
            return Ok(Err(MISSING));
        }
        for i in 1..=n {
            match msgpack_decode(lua, data, pos, depth + 1)? {
                Ok(v) => t.raw_set(i, v)?,
                Err(e) => return Ok(Err(e)),
            }
        }
    } else if let Some(n) = map_len {
        if n.saturating_mul(2) > remaining {
            return Ok(Err(MISSING));
        }
        for _ in 0..n {
            let k = match msgpack_decode(lua, data, pos, depth + 1)? {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            let v = match msgpack_decode(lua, data, pos, depth + 1)? {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
    }
    Ok(Ok(Value::Table(t)))
}

/// LuaBitOp's normalisation of a number to a signed 32-bit integer (modulo 2^32).
pub fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary =
        |f: fn(i32) -> i32| lua.create_function(move |_, x: f64| Ok(f64::from(f(tobit(x)))));
    let shift = |f: fn(i32, u32) -> i32| {
        lua.create_function(move |_, (x, n): (f64, f64)| {
            Ok(f64::from(f(tobit(x), tobit(n) as u32 & 31)))
        })
    };
    let fold = |f: fn(i32, i32) -> i32| {
        lua.create_function(move |_, args: mlua::Variadic<f64>| {
            let mut acc = tobit(*args.first().unwrap_or(&0.0));
            for x in args.iter().skip(1) {
                acc = f(acc, tobit(*x));
            }
            Ok(f64::from(acc))
        })
    };
    t.set("tobit", unary(|x| x)?)?;
    t.set("bnot", unary(|x| !x)?)?;
    t.set("bswap", unary(|x| x.swap_bytes())?)?;
    t.set("band", fold(|a, b| a & b)?)?;
    t.set("bor", fold(|a, b| a | b)?)?;
    t.set("bxor", fold(|a, b| a ^ b)?)?;
    t.set("lshift", shift(|x, n| ((x as u32) << n) as i32)?)?;
    t.set("rshift", shift(|x, n| ((x as u32) >> n) as i32)?)?;
    t.set("arshift", shift(|x, n| x >> n)?)?;
    t.set("rol", shift(|x, n| (x as u32).rotate_left(n) as i32)?)?;
    t.set("ror", shift(|x, n| (x as u32).rotate_right(n) as i32)?)?;
    t.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut n = n.map_or(8, tobit);
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(0, 8) as usize;
            let b = tobit(x) as u32;
            let full = if upper {
                format!("{b:08X}")
            } else {
                format!("{b:08x}")
            };
            Ok(full[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

/// A number as Lua prints it (`%.14g`), which is how cjson writes numbers.
fn lua_number(lua: &Lua, v: &Value) -> Result<String, String> {
    match v {
        Value::Number(n) if !n.is_finite() => {
            Err("Cannot serialise number: must not be NaN or Inf".into())
        }
        _ => match lua.coerce_string(v.clone()) {
            Ok(Some(s)) => Ok(s.to_string_lossy()),
            _ => Err("Cannot serialise number".into()),
        },
    }
}

fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// cjson's encoder: a table whose keys are all positive integers is an array (unless it is
/// excessively sparse), any other an object; an empty table is `{}`.
fn json_encode(lua: &Lua, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > 1000 {
        return Err(format!(
            "Cannot serialise, excessive nesting ({})",
            depth + 1
        ));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(_) | Value::Number(_) => {
            out.extend_from_slice(lua_number(lua, v)?.as_bytes())
        }
        Value::String(s) => json_string(out, &s.as_bytes()),
        Value::Table(t) => {
            let mut max = 0i64;
            let mut items = 0i64;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair.map_err(|e| e.to_string())?;
                let index = match k {
                    Value::Integer(i) if i >= 1 => Some(i),
                    Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as i64),
                    _ => None,
                };
                match index {
                    Some(i) => {
                        max = max.max(i);
                        items += 1;
                    }
                    None => {
                        array = false;
                        break;
                    }
                }
            }
            if array && max > items * 2 && max > 10 {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            if array && max > 0 {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    json_encode(lua, &item, out, depth + 1)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair.map_err(|e| e.to_string())?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match &k {
                        Value::String(s) => json_string(out, &s.as_bytes()),
                        Value::Integer(_) | Value::Number(_) => {
                            json_string(out, lua_number(lua, &k)?.as_bytes())
                        }
                        _ => {
                            return Err(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            )
                        }
                    }
                    out.push(b':');
                    json_encode(lua, &item, out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k.as_str(), json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rand48 from `srand48(0)`, worked out by hand from its definition (X' = 0x5DEECE66D X +
    /// 0xB mod 2^48, output X >> 17) in an independent Python transcription.
    #[test]
    fn rand48_draws_are_pinned() {
        let state = Cell::new(RAND48_SEED0);
        let r = f64::from(lrand48(&state) % i32::MAX) / f64::from(i32::MAX);
        assert_eq!(format!("{r:.14}"), "0.17082803611217");
        let r = f64::from(lrand48(&state) % i32::MAX) / f64::from(i32::MAX);
        assert_eq!((r * 100.0).floor() + 1.0, 75.0);
        let r = f64::from(lrand48(&state) % i32::MAX) / f64::from(i32::MAX);
        assert_eq!((r * 6.0).floor() + 5.0, 5.0);
    }

    #[test]
    fn bit_ops_normalise_to_32_bits() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(255.0), 255);
    }

    #[test]
    fn sha1_names_scripts() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
