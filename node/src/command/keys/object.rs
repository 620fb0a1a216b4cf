//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP.
//!
//! Kiwi keeps every value as RocksDB records whatever its size, so it has no encodings of its
//! own. OBJECT ENCODING answers what Redis 7.2 would choose for the value as it is now, under
//! this node's thresholds (`hash-max-listpack-entries`, `list-max-listpack-size`, ... set by
//! CONFIG SET): Redis's test suite and some clients assert these after changing the thresholds.
//!
//! The approximation: Redis converts encodings one way only while a value lives (a set that
//! became a hashtable stays one when shrunk, a string changed by APPEND or SETRANGE is `raw`
//! even when short, a list turns back into a listpack only once it is half the limit). Kiwi does
//! not record a value's history, so it answers from the value's current size and contents, as
//! Redis would for the same value freshly written.
//!
//! FREQ and IDLETIME: Kiwi tracks neither access times nor access frequencies. FREQ answers
//! Redis's initial counter (5) and IDLETIME 0, each refused with Redis's error under the other
//! kind of eviction policy, as Redis does.

use crate::command::{Args, CmdError, CmdResult, Ctx};
use crate::config::ObjectSettings;
use crate::resp::Reply;
use crate::storage::keys::{member_prefix, prefix_end};
use crate::storage::{KeyType, Meta};

/// Redis's LFU counter of a new key (`LFU_INIT_VAL`).
const LFU_INIT_VAL: i64 = 5;
/// The reference count Redis shows for its shared objects (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integers below this (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;
/// Longest string Redis stores embedded in its object header (`embstr`).
const EMBSTR_MAX: usize = 44;

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const LRU_NOTE: &str = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

pub(super) fn object(ctx: &mut Ctx<'_, '_>, args: &Args) -> CmdResult {
    let sub = String::from_utf8_lossy(args.get(1)?).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "help" => 2,
        "encoding" | "freq" | "idletime" | "refcount" => 3,
        _ => {
            return Err(CmdError::msg(format!(
                "unknown subcommand '{}'. Try OBJECT HELP.",
                String::from_utf8_lossy(args.get(1)?)
            )))
        }
    };
    if args.len() != arity {
        return Err(CmdError::WrongArity(format!("object|{sub}")));
    }
    if sub == "help" {
        return Ok(Reply::Array(
            HELP.iter().map(|l| Reply::Simple(l.to_string())).collect(),
        ));
    }
    let key = args.get(2)?;
    let Some(meta) = ctx.txn.live_meta(ctx.db, key, ctx.now_ms)? else {
        return Ok(Reply::Nil);
    };
    let settings = ctx.txn.object_settings();
    match sub.as_str() {
        "encoding" => Ok(Reply::bulk(encoding(ctx, key, &meta, &settings)?)),
        "freq" if !settings.lfu => Err(CmdError::msg(format!(
            "An LFU maxmemory policy is not selected, access frequency not tracked. {LRU_NOTE}"
        ))),
        "freq" => Ok(Reply::Int(LFU_INIT_VAL)),
        "idletime" if settings.lfu => Err(CmdError::msg(format!(
            "An LFU maxmemory policy is selected, idle time not tracked. {LRU_NOTE}"
        ))),
        "idletime" => Ok(Reply::Int(0)),
        _ => Ok(Reply::Int(refcount(&meta, &settings))),
    }
}

/// 1, or Redis's count for a shared integer.
fn refcount(meta: &Meta, settings: &ObjectSettings) -> i64 {
    if meta.ty == KeyType::String && settings.shared_integers {
        if let Some(n) = as_integer(&meta.value) {
            if (0..SHARED_INTEGERS).contains(&n) {
                return SHARED_REFCOUNT;
            }
        }
    }
    1
}

/// The value as Redis's `string2ll` reads an integer (no sign but `-`, no leading zeros, no
/// spaces), at most 20 bytes long.
fn as_integer(v: &[u8]) -> Option<i64> {
    if v.len() > 20 {
        return None;
    }
    crate::command::args::parse_i64(v).ok()
}

fn encoding(
    ctx: &Ctx<'_, '_>,
    key: &[u8],
    meta: &Meta,
    s: &ObjectSettings,
) -> Result<&'static str, CmdError> {
    let members = || Members::new(ctx, key, meta);
    Ok(match meta.ty {
        KeyType::String => {
            if as_integer(&meta.value).is_some() {
                "int"
            } else if meta.value.len() <= EMBSTR_MAX {
                "embstr"
            } else {
                "raw"
            }
        }
        KeyType::List => {
            if list_fits_listpack(members(), meta.count, s.list_max_listpack_size)? {
                "listpack"
            } else {
                "quicklist"
            }
        }
        KeyType::Set => set_encoding(members(), meta.count, s)?,
        KeyType::Hash => {
            let fits = meta.count <= s.hash_max_listpack_entries
                && members().all(|field, value| {
                    field.len() as u64 <= s.hash_max_listpack_value
                        && value.len() as u64 <= s.hash_max_listpack_value
                })?;
            if fits {
                "listpack"
            } else {
                "hashtable"
            }
        }
        KeyType::ZSet => {
            let fits = meta.count <= s.zset_max_listpack_entries
                && members().all(|member, _| member.len() as u64 <= s.zset_max_listpack_value)?;
            if fits {
                "listpack"
            } else {
                "skiplist"
            }
        }
        KeyType::Stream => "stream",
    })
}

/// Redis 7.2: a set of integers only is an intset up to `set-max-intset-entries` (past it, a
/// hashtable); any other set is a listpack while it has at most `set-max-listpack-entries`
/// members of at most `set-max-listpack-value` bytes.
fn set_encoding(
    members: Members<'_, '_, '_>,
    count: u64,
    s: &ObjectSettings,
) -> Result<&'static str, CmdError> {
    if count > s.set_max_intset_entries && count > s.set_max_listpack_entries {
        return Ok("hashtable");
    }
    let mut all_integers = true;
    let mut longest = 0;
    members.all(|member, _| {
        all_integers &= as_integer(member).is_some();
        longest = longest.max(member.len() as u64);
        true
    })?;
    Ok(if all_integers {
        if count <= s.set_max_intset_entries {
            "intset"
        } else {
            "hashtable"
        }
    } else if count <= s.set_max_listpack_entries && longest <= s.set_max_listpack_value {
        "listpack"
    } else {
        "hashtable"
    })
}

/// The listpack size limits of `list-max-listpack-size` (Redis's `quicklistNodeLimit`): a
/// positive value counts entries, -1..-5 allow 4..64 KiB of listpack.
fn list_fits_listpack(
    members: Members<'_, '_, '_>,
    count: u64,
    fill: i64,
) -> Result<bool, CmdError> {
    /// Past this many bytes even a count-limited listpack is split (`SIZE_SAFETY_LIMIT`).
    const SIZE_SAFETY_LIMIT: u64 = 8192;
    const OPTIMIZATION_LEVEL: [u64; 5] = [4096, 8192, 16384, 32768, 65536];
    let byte_limit = if fill >= 0 {
        if count > (fill.max(1) as u64) {
            return Ok(false);
        }
        SIZE_SAFETY_LIMIT
    } else {
        let level = ((-fill - 1) as usize).min(OPTIMIZATION_LEVEL.len() - 1);
        OPTIMIZATION_LEVEL[level]
    };
    // Header (total bytes, entry count) and end byte.
    let mut bytes = 6 + 1;
    members.all(|_, element| {
        bytes += listpack_entry_size(element);
        bytes <= byte_limit
    })
}

/// Bytes one element takes in a listpack (Redis's listpack.c): integers in 1 to 9 bytes,
/// strings with a 1, 2 or 5 byte header, then the entry's length written backwards.
fn listpack_entry_size(v: &[u8]) -> u64 {
    let encoded: u64 = match as_integer(v) {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..=4095).contains(&n) => 2,
        Some(n) if (-32768..=32767).contains(&n) => 3,
        Some(n) if (-8_388_608..=8_388_607).contains(&n) => 4,
        Some(n) if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) => 5,
        Some(_) => 9,
        None => {
            let len = v.len() as u64;
            len + match len {
                0..=63 => 1,
                64..=4095 => 2,
                _ => 5,
            }
        }
    };
    encoded + super::rdb::listpack_backlen_size(encoded)
}

/// The records of a collection, walked in key order: (member or field, value) for hashes and
/// sorted sets (the value is the score's bytes), (member, empty) for sets, (index, element)
/// for lists.
struct Members<'c, 't, 'a> {
    ctx: &'c Ctx<'t, 'a>,
    ty: KeyType,
    prefix: Vec<u8>,
}

impl<'c, 't, 'a> Members<'c, 't, 'a> {
    fn new(ctx: &'c Ctx<'t, 'a>, key: &[u8], meta: &Meta) -> Self {
        Members {
            ctx,
            ty: meta.ty,
            prefix: member_prefix(ctx.db, key, meta.version),
        }
    }

    /// Whether `f` holds for every record; stops at the first that fails.
    fn all(&self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<bool, CmdError> {
        let Some(cf) = self.ty.member_cf() else {
            return Ok(true);
        };
        for entry in self
            .ctx
            .txn
            .scan(cf, &self.prefix, &prefix_end(&self.prefix), false)?
        {
            let (k, v) = entry?;
            if !f(&k[self.prefix.len()..], &v) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::command::testing::{bulk, err, int, TestDb};
    use crate::config::ObjectSettings;
    use crate::resp::Reply;

    fn encoding(t: &mut TestDb, key: &str) -> Reply {
        t.run(&format!("OBJECT ENCODING {key}"))
    }

    #[test]
    fn strings_by_content_and_length() {
        let mut t = TestDb::new();
        t.run("SET i 12345");
        t.run("SET neg -7");
        t.run("SET lead 0123");
        t.run(&format!("SET short {}", "x".repeat(44)));
        t.run(&format!("SET long {}", "x".repeat(45)));
        t.run("SET big 123456789012345678901");
        assert_eq!(encoding(&mut t, "i"), bulk("int"));
        assert_eq!(encoding(&mut t, "neg"), bulk("int"));
        assert_eq!(encoding(&mut t, "lead"), bulk("embstr"));
        assert_eq!(encoding(&mut t, "short"), bulk("embstr"));
        assert_eq!(encoding(&mut t, "long"), bulk("raw"));
        assert_eq!(encoding(&mut t, "big"), bulk("embstr"));
        assert_eq!(encoding(&mut t, "missing"), Reply::Nil);
    }

    #[test]
    fn collections_follow_the_thresholds() {
        let mut t = TestDb::new();
        t.run("HSET h a 1 b 2");
        t.run("SADD ints 1 2 3");
        t.run("SADD words a b");
        t.run("ZADD z 1 a");
        t.run("RPUSH l a b c");
        assert_eq!(encoding(&mut t, "h"), bulk("listpack"));
        assert_eq!(encoding(&mut t, "ints"), bulk("intset"));
        assert_eq!(encoding(&mut t, "words"), bulk("listpack"));
        assert_eq!(encoding(&mut t, "z"), bulk("listpack"));
        assert_eq!(encoding(&mut t, "l"), bulk("listpack"));

        t.db.set_object_settings(ObjectSettings {
            hash_max_listpack_entries: 1,
            set_max_intset_entries: 2,
            set_max_listpack_entries: 1,
            zset_max_listpack_value: 0,
            list_max_listpack_size: 2,
            ..ObjectSettings::default()
        });
        assert_eq!(encoding(&mut t, "h"), bulk("hashtable"));
        assert_eq!(encoding(&mut t, "ints"), bulk("hashtable"));
        assert_eq!(encoding(&mut t, "words"), bulk("hashtable"));
        assert_eq!(encoding(&mut t, "z"), bulk("skiplist"));
        assert_eq!(encoding(&mut t, "l"), bulk("quicklist"));
    }

    #[test]
    fn values_too_long_leave_the_listpack() {
        let mut t = TestDb::new();
        let long = "x".repeat(65);
        t.run(&format!("HSET h f {long}"));
        t.run(&format!("SADD s {long}"));
        t.run(&format!("ZADD z 1 {long}"));
        assert_eq!(encoding(&mut t, "h"), bulk("hashtable"));
        assert_eq!(encoding(&mut t, "s"), bulk("hashtable"));
        assert_eq!(encoding(&mut t, "z"), bulk("skiplist"));
        // The default list limit is 8 KiB of listpack.
        let big = "y".repeat(5000);
        t.run(&format!("RPUSH l {big}"));
        assert_eq!(encoding(&mut t, "l"), bulk("listpack"));
        t.run(&format!("RPUSH l {big}"));
        assert_eq!(encoding(&mut t, "l"), bulk("quicklist"));
    }

    #[test]
    fn freq_idletime_refcount_and_errors() {
        let mut t = TestDb::new();
        t.run("SET k v");
        t.run("SET n 100");
        assert_eq!(
            t.run("OBJECT FREQ k"),
            err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        );
        assert_eq!(t.run("OBJECT IDLETIME k"), int(0));
        assert_eq!(t.run("OBJECT REFCOUNT k"), int(1));
        assert_eq!(t.run("OBJECT REFCOUNT n"), int(i32::MAX as i64));
        assert_eq!(t.run("OBJECT FREQ missing"), Reply::Nil);
        t.db.set_object_settings(ObjectSettings {
            lfu: true,
            ..ObjectSettings::default()
        });
        assert_eq!(t.run("OBJECT FREQ k"), int(5));
        assert_eq!(
            t.run("OBJECT IDLETIME k"),
            err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        );
        assert_eq!(
            t.run("OBJECT foo k"),
            err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
        );
        assert_eq!(
            t.run("OBJECT ENCODING"),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            t.run("OBJECT ENCODING a b"),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            t.run("OBJECT"),
            err("ERR wrong number of arguments for 'object' command")
        );
        let Reply::Array(help) = t.run("OBJECT HELP") else {
            panic!("help is an array")
        };
        assert_eq!(help.len(), 15);
    }
}
