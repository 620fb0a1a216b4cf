//! Kiwi answers as Redis does: the same random command sequences go to `kiwi` and to a real
//! `redis-server`, and every reply must be the same.
//!
//! The commands mix every data type over a dozen keys, so they hit wrong types, missing keys,
//! out-of-range indexes, bad numbers and empty results, in states no hand-written test thought
//! of. Replies whose order Redis does not define (SMEMBERS, HGETALL, KEYS, ...) are compared
//! sorted; commands whose answer is random or clock-bound (SPOP, RANDOMKEY, TTL's exact value)
//! are left out or compared by what a client can rely on.

use kiwi_tests::*;

/// A small deterministic generator (xorshift64*): a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn int(&mut self, lo: i64, hi: i64) -> String {
        (lo + self.below((hi - lo + 1) as usize) as i64).to_string()
    }

    /// A relative expire time in seconds (`unit` 1) or milliseconds (`unit` 1000): invalid or
    /// already past (-1, 0), or far enough ahead (100 s or more) that no key expires during a
    /// run. A key expiring between the command to Redis and the one to Kiwi, or being found
    /// by one server's active expiry and not the other's, would make the replies differ.
    fn ttl(&mut self, unit: i64) -> String {
        match self.below(4) {
            0 => "-1".into(),
            1 => "0".into(),
            _ => self.int(100 * unit, 1000 * unit),
        }
    }
}

const STRINGS: [&str; 3] = ["s0", "s1", "s2"];
const HASHES: [&str; 2] = ["h0", "h1"];
const LISTS: [&str; 2] = ["l0", "l1"];
const SETS: [&str; 3] = ["t0", "t1", "t2"];
const ZSETS: [&str; 3] = ["z0", "z1", "z2"];
const ALL: [&str; 14] = [
    "s0", "s1", "s2", "h0", "h1", "l0", "l1", "t0", "t1", "t2", "z0", "z1", "z2", "none",
];
const VALUES: [&str; 19] = [
    "+1",
    "01",
    "-0",
    "a",
    "b",
    "c",
    "hello",
    "",
    "0",
    "1",
    "-7",
    "42",
    "3.5",
    "1e3",
    "x y",
    "9223372036854775807",
    "-9223372036854775808",
    "\0bin\u{7f}",
    " 1",
];
const MEMBERS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const FLOATS: [&str; 14] = [
    "0.1",
    "-0.25",
    "1.5",
    "10",
    "-3",
    "1e2",
    "0",
    "inf",
    "abc",
    "9223372036854775807",
    "1e400",
    "-1e-400",
    "0x10",
    "1.",
];
const SCORES: [&str; 16] = [
    "0", "1", "1", "2", "2.5", "-1", "3", "10", "-inf", "+inf", "1e1", "nan", "1e400", "-1e-400",
    " 1", "0x10",
];
const MIN_MAX: [&str; 11] = [
    "-inf", "+inf", "0", "1", "(1", "2", "(2.5", "10", "x", "(inf", "1e400",
];
/// Glob patterns as Redis's stringmatchlen reads them: classes, ranges (either way round),
/// negation with `^`, escapes, and malformed classes.
const KEY_PATTERNS: [&str; 16] = [
    "*", "s*", "?0", "[hz]1", "none", "[a-l]*", "[l-a]?", "[^s]*", "*[0-1]", "\\s*", "s\\0", "[",
    "[s", "*[^]", "?", "**0",
];
const MEMBER_PATTERNS: [&str; 8] = ["*", "a*", "[bc]", "?", "[^a]", "[a-", "\\*", "[]]"];
const LEX: [&str; 8] = ["-", "+", "[a", "(a", "[c", "(d", "[f", "b"];

/// How a reply is compared.
#[derive(Clone, Copy)]
enum Compare {
    Exact,
    /// An array whose order Redis does not define.
    Unordered,
    /// A flat field/value array whose pair order Redis does not define (HGETALL).
    UnorderedPairs,
    /// A TTL or a deadline: only "no key", "no deadline" or "some deadline" is compared.
    TtlKind,
    /// Sorted-set replies: a score is compared as the number it stands for. Debian's Redis
    /// 7.0 prints 0.1 as "0.10000000000000001" (`%.17g`); Redis 7.2, which Kiwi follows,
    /// prints the shortest string that reads back as the same double ("0.1").
    Scores,
    /// A SCAN-family reply with a COUNT larger than the collection: the cursor, then every
    /// element (or field/value or member/score pair) in an order Redis does not define.
    WholeScan {
        pairs: bool,
    },
}

struct Generated {
    args: Vec<String>,
    compare: Compare,
}

fn key_of(rng: &mut Rng, typed: &[&'static str]) -> String {
    // Mostly a key of the right type; sometimes any key, for WRONGTYPE and missing keys.
    if rng.chance(85) {
        rng.pick(typed).to_string()
    } else {
        rng.pick(&ALL).to_string()
    }
}

fn generate_one(rng: &mut Rng) -> Generated {
    use Compare::*;
    let mut compare = Exact;
    let s = |v: &str| v.to_string();
    let args: Vec<String> = match rng.below(8) {
        6 => copies_and_sorts(rng, &mut compare),
        // Strings and keys.
        0 => {
            let k = key_of(rng, &STRINGS);
            let v = s(rng.pick(&VALUES));
            match rng.below(24) {
                0 => {
                    let mut a = vec![s("SET"), k, v];
                    match rng.below(5) {
                        0 => a.push(s("NX")),
                        1 => a.push(s("XX")),
                        2 => a.push(s("GET")),
                        3 => a.extend([s("EX"), rng.ttl(1)]),
                        _ => {}
                    }
                    a
                }
                1 => vec![s("GET"), k],
                2 => vec![s("GETSET"), k, v],
                3 => vec![s("GETDEL"), k],
                4 => vec![s("APPEND"), k, v],
                5 => vec![s("STRLEN"), k],
                6 => vec![s("INCR"), k],
                7 => vec![s("DECRBY"), k, rng.int(-5, 5)],
                8 => vec![s("INCRBYFLOAT"), k, s(rng.pick(&FLOATS))],
                9 => vec![s("GETRANGE"), k, rng.int(-6, 6), rng.int(-6, 6)],
                10 => vec![s("SETRANGE"), k, rng.int(-1, 8), v],
                11 => vec![s("MGET"), k, s(rng.pick(&ALL))],
                12 => vec![s("MSET"), k, v, s(rng.pick(&STRINGS)), s("m")],
                13 => vec![s("MSETNX"), k, v, s(rng.pick(&STRINGS)), s("m")],
                14 => vec![s("SETNX"), k, v],
                15 => vec![s("INCRBY"), k, s(rng.pick(&FLOATS))],
                16 => vec![s("DEL"), k, s(rng.pick(&ALL))],
                17 => vec![s("EXISTS"), k.clone(), s(rng.pick(&ALL)), k],
                18 => vec![s("TYPE"), s(rng.pick(&ALL))],
                19 => vec![s("RENAME"), s(rng.pick(&ALL)), s(rng.pick(&ALL))],
                20 => vec![s("RENAMENX"), s(rng.pick(&ALL)), s(rng.pick(&ALL))],
                21 => {
                    compare = TtlKind;
                    vec![s("TTL"), s(rng.pick(&ALL))]
                }
                22 => {
                    let mut a = vec![s("EXPIRE"), s(rng.pick(&ALL)), rng.int(100, 1000)];
                    if rng.chance(50) {
                        a.push(s(rng.pick(&["NX", "XX", "GT", "LT"])));
                    }
                    a
                }
                _ => vec![s("PERSIST"), s(rng.pick(&ALL))],
            }
        }
        1 => {
            let k = key_of(rng, &HASHES);
            let f = s(rng.pick(&MEMBERS));
            let v = s(rng.pick(&VALUES));
            match rng.below(14) {
                0 => vec![s("HSET"), k, f, v, s(rng.pick(&MEMBERS)), s("1")],
                1 => vec![s("HSETNX"), k, f, v],
                2 => vec![s("HGET"), k, f],
                3 => vec![s("HMGET"), k, f, s(rng.pick(&MEMBERS))],
                4 => vec![s("HDEL"), k, f, s(rng.pick(&MEMBERS))],
                5 => vec![s("HLEN"), k],
                6 => vec![s("HEXISTS"), k, f],
                7 => {
                    compare = Unordered;
                    vec![s(rng.pick(&["HKEYS", "HVALS"])), k]
                }
                8 => {
                    compare = UnorderedPairs;
                    vec![s("HGETALL"), k]
                }
                9 => vec![s("HINCRBY"), k, f, s(rng.pick(&FLOATS))],
                10 => vec![s("HINCRBYFLOAT"), k, f, s(rng.pick(&FLOATS))],
                11 => vec![s("HSTRLEN"), k, f],
                12 => vec![s("HMSET"), k, f, v],
                _ => vec![s("HINCRBY"), k, f, rng.int(-3, 3)],
            }
        }
        2 => {
            let k = key_of(rng, &LISTS);
            let v = s(rng.pick(&MEMBERS));
            let count = || ["1", "2", "5", "0", "-1"];
            match rng.below(17) {
                0 => vec![s("LPUSH"), k, v, s(rng.pick(&MEMBERS))],
                1 => vec![s("RPUSH"), k, v],
                2 => vec![s(rng.pick(&["LPUSHX", "RPUSHX"])), k, v],
                3 => {
                    let mut a = vec![s(rng.pick(&["LPOP", "RPOP"])), k];
                    if rng.chance(50) {
                        a.push(s(rng.pick(&count())));
                    }
                    a
                }
                4 => vec![s("LLEN"), k],
                5 => vec![s("LRANGE"), k, rng.int(-8, 8), rng.int(-8, 8)],
                6 => vec![s("LINDEX"), k, rng.int(-6, 6)],
                7 => vec![s("LSET"), k, rng.int(-4, 4), v],
                8 => vec![s("LREM"), k, rng.int(-2, 2), v],
                9 => vec![s("LTRIM"), k, rng.int(-6, 6), rng.int(-6, 6)],
                10 => vec![
                    s("LINSERT"),
                    k,
                    s(rng.pick(&["BEFORE", "AFTER", "MIDDLE"])),
                    s(rng.pick(&MEMBERS)),
                    v,
                ],
                11 => {
                    let mut a = vec![s("LPOS"), k, v];
                    if rng.chance(50) {
                        a.extend([s("RANK"), s(rng.pick(&["1", "-1", "2", "0"]))]);
                    }
                    if rng.chance(50) {
                        a.extend([s("COUNT"), s(rng.pick(&["0", "1", "3"]))]);
                    }
                    a
                }
                12 => vec![s("RPOPLPUSH"), k, key_of(rng, &LISTS)],
                13 => vec![
                    s("LMOVE"),
                    k,
                    key_of(rng, &LISTS),
                    s(rng.pick(&["LEFT", "RIGHT"])),
                    s(rng.pick(&["LEFT", "RIGHT", "UP"])),
                ],
                _ => vec![
                    s("RPUSH"),
                    k,
                    v,
                    s(rng.pick(&MEMBERS)),
                    s(rng.pick(&MEMBERS)),
                ],
            }
        }
        3 => {
            let k = key_of(rng, &SETS);
            let m = s(rng.pick(&MEMBERS));
            match rng.below(12) {
                0 | 1 => vec![s("SADD"), k, m, s(rng.pick(&MEMBERS))],
                2 => vec![s("SREM"), k, m],
                3 => {
                    compare = Unordered;
                    vec![s("SMEMBERS"), k]
                }
                4 => vec![s("SISMEMBER"), k, m],
                5 => vec![s("SMISMEMBER"), k, m, s(rng.pick(&MEMBERS))],
                6 => vec![s("SCARD"), k],
                7 => vec![s("SMOVE"), k, key_of(rng, &SETS), m],
                8 => {
                    compare = Unordered;
                    vec![
                        s(rng.pick(&["SINTER", "SUNION", "SDIFF"])),
                        k,
                        key_of(rng, &SETS),
                    ]
                }
                9 => vec![
                    s(rng.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])),
                    key_of(rng, &SETS),
                    k,
                    key_of(rng, &SETS),
                ],
                10 => {
                    let mut a = vec![s("SINTERCARD"), s("2"), k, key_of(rng, &SETS)];
                    if rng.chance(50) {
                        a.extend([s("LIMIT"), rng.int(0, 2)]);
                    }
                    a
                }
                _ => vec![s("SADD"), k, m],
            }
        }
        4 => {
            compare = Scores;
            let k = key_of(rng, &ZSETS);
            let m = s(rng.pick(&MEMBERS));
            let score = s(rng.pick(&SCORES));
            match rng.below(20) {
                0 | 1 => {
                    let mut a = vec![s("ZADD"), k];
                    if rng.chance(30) {
                        a.push(s(rng.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"])));
                    }
                    a.extend([score, m]);
                    a
                }
                2 => vec![s("ZREM"), k, m],
                3 => vec![s("ZSCORE"), k, m],
                4 => vec![s("ZMSCORE"), k, m, s(rng.pick(&MEMBERS))],
                5 => vec![s("ZINCRBY"), k, s(rng.pick(&FLOATS)), m],
                6 => vec![s("ZCARD"), k],
                7 => vec![s("ZCOUNT"), k, s(rng.pick(&MIN_MAX)), s(rng.pick(&MIN_MAX))],
                8 => {
                    let mut a = vec![s("ZRANGE"), k, rng.int(-4, 4), rng.int(-4, 4)];
                    if rng.chance(50) {
                        a.push(s("WITHSCORES"));
                    }
                    a
                }
                9 => {
                    let rev = rng.chance(50);
                    let (lo, hi) = (s(rng.pick(&MIN_MAX)), s(rng.pick(&MIN_MAX)));
                    let mut a = vec![s("ZRANGE"), k, lo, hi, s("BYSCORE")];
                    if rev {
                        a.push(s("REV"));
                    }
                    if rng.chance(40) {
                        a.extend([s("LIMIT"), rng.int(0, 2), rng.int(-1, 3)]);
                    }
                    if rng.chance(50) {
                        a.push(s("WITHSCORES"));
                    }
                    a
                }
                10 => vec![s("ZRANGEBYLEX"), k, s(rng.pick(&LEX)), s(rng.pick(&LEX))],
                11 => vec![
                    s("ZREVRANGEBYSCORE"),
                    k,
                    s(rng.pick(&MIN_MAX)),
                    s(rng.pick(&MIN_MAX)),
                    s("WITHSCORES"),
                ],
                12 => vec![s(rng.pick(&["ZRANK", "ZREVRANK"])), k, m],
                13 => vec![s("ZREMRANGEBYRANK"), k, rng.int(-3, 3), rng.int(-3, 3)],
                14 => vec![
                    s("ZREMRANGEBYSCORE"),
                    k,
                    s(rng.pick(&MIN_MAX)),
                    s(rng.pick(&MIN_MAX)),
                ],
                15 => vec![
                    s(rng.pick(&["ZLEXCOUNT", "ZREMRANGEBYLEX"])),
                    k,
                    s(rng.pick(&LEX)),
                    s(rng.pick(&LEX)),
                ],
                16 => {
                    let mut a = vec![s(rng.pick(&["ZPOPMIN", "ZPOPMAX"])), k];
                    if rng.chance(50) {
                        a.push(rng.int(-1, 3));
                    }
                    a
                }
                17 => {
                    let mut a = vec![
                        s(rng.pick(&["ZUNIONSTORE", "ZINTERSTORE"])),
                        key_of(rng, &ZSETS),
                        s("2"),
                        k,
                        key_of(rng, &ZSETS),
                    ];
                    if rng.chance(40) {
                        a.extend([s("WEIGHTS"), s(rng.pick(&FLOATS)), s("1")]);
                    }
                    if rng.chance(40) {
                        a.extend([s("AGGREGATE"), s(rng.pick(&["SUM", "MIN", "MAX", "AVG"]))]);
                    }
                    a
                }
                18 => vec![s("ZREVRANGE"), k, rng.int(-4, 4), rng.int(-4, 4)],
                _ => vec![
                    s("ZADD"),
                    k,
                    score,
                    m,
                    s(rng.pick(&SCORES)),
                    s(rng.pick(&MEMBERS)),
                ],
            }
        }
        5 => generate_bits(rng),
        // Keyspace, databases and deadlines.
        _ => {
            let k = s(rng.pick(&ALL));
            match rng.below(29) {
                0 => vec![s("DBSIZE")],
                1 => {
                    compare = Unordered;
                    vec![s("KEYS"), s(rng.pick(&KEY_PATTERNS))]
                }
                2 => vec![
                    s("SELECT"),
                    s(rng.pick(&["0", "0", "1", "2", "16", "-1", "x"])),
                ],
                3 => vec![s("SETEX"), key_of(rng, &STRINGS), rng.ttl(1), s("v")],
                4 => vec![s("PSETEX"), key_of(rng, &STRINGS), rng.ttl(1000), s("v")],
                5 => {
                    let mut a = vec![s("GETEX"), key_of(rng, &STRINGS)];
                    match rng.below(4) {
                        0 => a.push(s("PERSIST")),
                        1 => a.extend([s("EX"), rng.ttl(1)]),
                        2 => a.extend([s("PXAT"), s("4102444800000")]),
                        _ => {}
                    }
                    a
                }
                6 => {
                    let mut a = vec![s("SET"), key_of(rng, &STRINGS), s(rng.pick(&VALUES))];
                    a.extend(match rng.below(5) {
                        0 => vec![s("PX"), rng.ttl(1000)],
                        1 => vec![s("EXAT"), s("4102444800")],
                        2 => vec![s("KEEPTTL")],
                        3 => vec![s("EX"), s("10"), s("KEEPTTL")],
                        _ => vec![s("NX"), s("XX")],
                    });
                    a
                }
                7 => vec![
                    s(rng.pick(&["EXPIREAT", "PEXPIREAT"])),
                    k,
                    s(rng.pick(&["4102444800", "4102444800000", "1", "0"])),
                ],
                8 => {
                    // Deadlines set relative to the clock differ by the time between the two
                    // servers' commands.
                    compare = TtlKind;
                    vec![s(rng.pick(&["EXPIRETIME", "PEXPIRETIME"])), k]
                }
                9 => {
                    compare = TtlKind;
                    vec![s("PTTL"), k]
                }
                10 => vec![s("PEXPIRE"), k, rng.ttl(1000)],
                11 => vec![s("FLUSHDB")],
                12 => vec![s("NOSUCHCOMMAND"), k],
                13 => vec![s("UNLINK"), k, s(rng.pick(&ALL))],
                14 => vec![s("EXISTS"), k],
                // Random choices, in the cases where the answer is not random.
                15 => {
                    compare = Unordered;
                    vec![
                        s(rng.pick(&["SPOP", "SRANDMEMBER"])),
                        key_of(rng, &SETS),
                        s(rng.pick(&["100", "0"])),
                    ]
                }
                16 => {
                    compare = Unordered;
                    vec![
                        s("HRANDFIELD"),
                        key_of(rng, &HASHES),
                        s(rng.pick(&["100", "0"])),
                    ]
                }
                // A key no command writes ("none" is absent only until one stores there).
                17 => vec![
                    s(rng.pick(&["SPOP", "SRANDMEMBER", "HRANDFIELD"])),
                    s("absent"),
                ],
                18 => {
                    let mut a = vec![s("ZADD"), key_of(rng, &ZSETS)];
                    for _ in 0..2 {
                        a.push(s(rng.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"])));
                    }
                    a.extend([s(rng.pick(&SCORES)), s(rng.pick(&MEMBERS))]);
                    if rng.chance(30) {
                        a.extend([s("2"), s("b")]);
                    }
                    compare = Scores;
                    a
                }
                19 => {
                    let mut a = vec![s("ZRANGE"), key_of(rng, &ZSETS)];
                    let (lo, hi) = (s(rng.pick(&LEX)), s(rng.pick(&LEX)));
                    a.extend([lo, hi, s("BYLEX")]);
                    if rng.chance(50) {
                        a.push(s("REV"));
                    }
                    if rng.chance(50) {
                        a.extend([s("LIMIT"), rng.int(-1, 2), rng.int(-1, 3)]);
                    }
                    a
                }
                20 => vec![
                    s("LPOS"),
                    key_of(rng, &LISTS),
                    s(rng.pick(&MEMBERS)),
                    s("MAXLEN"),
                    rng.int(-1, 4),
                    s("COUNT"),
                    s("0"),
                ],
                21 => vec![s(rng.pick(&["ECHO", "PING"])), s(rng.pick(&VALUES))],
                22 => vec![s("HSET"), key_of(rng, &HASHES), s("a"), s("1"), s("b")],
                23 => vec![
                    s("SET"),
                    key_of(rng, &STRINGS),
                    s("v"),
                    s(rng.pick(&["EX", "PX", "EXAT"])),
                    s(rng.pick(&["0", "-1", "abc", "9223372036854775807"])),
                ],
                24 => vec![
                    s(rng.pick(&["SETRANGE", "GETRANGE"])),
                    key_of(rng, &STRINGS),
                    s(rng.pick(&["536870912", "-1", "x"])),
                    s("v"),
                ],
                25 => {
                    compare = WholeScan { pairs: false };
                    let mut a = vec![s("SCAN"), s("0"), s("COUNT"), s("1000")];
                    if rng.chance(50) {
                        a.extend([s("MATCH"), s(rng.pick(&KEY_PATTERNS))]);
                    }
                    if rng.chance(40) {
                        a.extend([s("TYPE"), s(rng.pick(&["string", "hash", "zset", "x"]))]);
                    }
                    a
                }
                26 => {
                    let (cmd, typed): (&str, &[&'static str]) = match rng.below(3) {
                        0 => ("SSCAN", &SETS),
                        1 => ("HSCAN", &HASHES),
                        _ => ("ZSCAN", &ZSETS),
                    };
                    compare = WholeScan {
                        pairs: cmd != "SSCAN",
                    };
                    let mut a = vec![s(cmd), key_of(rng, typed), s("0"), s("COUNT"), s("1000")];
                    if rng.chance(50) {
                        a.extend([s("MATCH"), s(rng.pick(&MEMBER_PATTERNS))]);
                    }
                    a
                }
                // Integers as Redis reads them: no '+', no leading zero, no space.
                27 => {
                    let n = s(rng.pick(&["+1", "01", "-0", " 1", "1 ", "0", "-1", "1e2"]));
                    match rng.below(4) {
                        0 => vec![s("LINDEX"), key_of(rng, &LISTS), n],
                        1 => vec![s("INCRBY"), key_of(rng, &STRINGS), n],
                        2 => vec![s("HINCRBY"), key_of(rng, &HASHES), s("a"), n],
                        _ => vec![s("LRANGE"), key_of(rng, &LISTS), n, s("-1")],
                    }
                }
                _ => vec![s("TYPE"), k],
            }
        }
    };
    Generated { args, compare }
}

/// Bit offsets: mostly within a few bytes, sometimes at or past Redis's limits.
const BIT_OFFSETS: [&str; 12] = [
    "0",
    "1",
    "7",
    "8",
    "13",
    "31",
    "63",
    "100",
    "4294967296",
    "-1",
    "x",
    "01",
];
/// BITFIELD types, valid and not.
const FIELD_TYPES: [&str; 12] = [
    "u1", "u3", "u8", "i5", "i8", "i16", "u63", "i64", "u64", "i0", "I8", "x",
];
/// GETRANGE/SUBSTR indexes: in range, from the end, far past either end.
const RANGE_ENDS: [&str; 6] = [
    "0",
    "-1",
    "-100",
    "5",
    "9223372036854775807",
    "-9223372036854775808",
];
/// BITFIELD values and increments, extremes included.
const FIELD_VALUES: [&str; 12] = [
    "0",
    "1",
    "-1",
    "100",
    "-100",
    "255",
    "300",
    "9223372036854775807",
    "-9223372036854775808",
    "127",
    "-128",
    "x",
];

/// Bitmaps (SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD), LCS and the range commands, over the
/// string keys (and sometimes any key, for WRONGTYPE and missing keys).
fn generate_bits(rng: &mut Rng) -> Vec<String> {
    let s = |v: &str| v.to_string();
    let k = key_of(rng, &STRINGS);
    let range = |rng: &mut Rng, a: &mut Vec<String>, unit: bool| {
        let bits = rng.chance(30);
        let span = if bits { 40 } else { 6 };
        a.push(rng.int(-span, span));
        a.push(rng.int(-span, span));
        if unit && rng.chance(60) {
            a.push(s(if bits {
                rng.pick(&["BIT", "bit", "BYTE", "WORD"])
            } else {
                rng.pick(&["BYTE", "byte", "BIT"])
            }));
        }
    };
    match rng.below(16) {
        0 | 1 => {
            let offset = if rng.chance(85) {
                rng.int(0, 70)
            } else {
                s(rng.pick(&BIT_OFFSETS))
            };
            let bit = s(rng.pick(&["0", "1", "1", "0", "2", "-1", "x"]));
            vec![s("SETBIT"), k, offset, bit]
        }
        2 => vec![s("GETBIT"), k, s(rng.pick(&BIT_OFFSETS))],
        3 => vec![s("GETBIT"), k, rng.int(0, 70)],
        4 | 5 => {
            let mut a = vec![s("BITCOUNT"), k];
            match rng.below(5) {
                0 => {}
                1 => a.push(rng.int(-3, 3)),
                _ => range(rng, &mut a, true),
            }
            if rng.chance(5) {
                a.push(s("x"));
            }
            a
        }
        6 | 7 => {
            let mut a = vec![s("BITPOS"), k, s(rng.pick(&["0", "1", "0", "1", "2", "x"]))];
            match rng.below(4) {
                0 => {}
                1 => a.push(rng.int(-6, 6)),
                _ => range(rng, &mut a, true),
            }
            a
        }
        8 => {
            let op = s(rng.pick(&["AND", "OR", "XOR", "NOT", "and", "NAND"]));
            let mut a = vec![s("BITOP"), op, key_of(rng, &STRINGS), k];
            for _ in 0..rng.below(3) {
                a.push(key_of(rng, &STRINGS));
            }
            a
        }
        9 | 10 => {
            let mut a = vec![
                s(if rng.chance(80) {
                    "BITFIELD"
                } else {
                    "BITFIELD_RO"
                }),
                k,
            ];
            for _ in 0..=rng.below(3) {
                let ty = if rng.chance(85) {
                    s(rng.pick(&FIELD_TYPES[..8]))
                } else {
                    s(rng.pick(&FIELD_TYPES))
                };
                let offset = match rng.below(10) {
                    0 => format!("#{}", rng.int(0, 3)),
                    1 => s(rng.pick(&BIT_OFFSETS)),
                    _ => rng.int(0, 40),
                };
                match rng.below(9) {
                    0..=2 => a.extend([s("GET"), ty, offset]),
                    3 | 4 => a.extend([s("SET"), ty, offset, s(rng.pick(&FIELD_VALUES))]),
                    5 | 6 => a.extend([s("INCRBY"), ty, offset, s(rng.pick(&FIELD_VALUES))]),
                    7 => a.extend([
                        s("OVERFLOW"),
                        s(rng.pick(&["WRAP", "SAT", "FAIL", "fail", "NONE"])),
                    ]),
                    _ => a.extend([s(rng.pick(&["GET", "SET", "OVERFLOW", "FOO"])), ty]),
                }
            }
            a
        }
        11 | 12 => {
            let mut a = vec![s("LCS"), k, key_of(rng, &STRINGS)];
            match rng.below(5) {
                0 => a.push(s("LEN")),
                1 | 2 => {
                    a.push(s("IDX"));
                    if rng.chance(50) {
                        a.extend([s("MINMATCHLEN"), s(rng.pick(&["0", "1", "2", "-1", "x"]))]);
                    }
                    if rng.chance(50) {
                        a.push(s("WITHMATCHLEN"));
                    }
                }
                3 => match rng.below(3) {
                    0 => a.extend([s("IDX"), s("LEN")]),
                    1 => a.push(s("BOGUS")),
                    _ => a.push(s("MINMATCHLEN")),
                },
                _ => {}
            }
            a
        }
        13 => vec![
            s(rng.pick(&["GETRANGE", "SUBSTR"])),
            k,
            s(rng.pick(&RANGE_ENDS)),
            s(rng.pick(&RANGE_ENDS)),
        ],
        14 => vec![
            s("SETRANGE"),
            k,
            s(rng.pick(&[
                "0",
                "3",
                "10",
                // Past the limit with any value: a valid 512 MB write would outlast the
                // client's timeout in a debug build.
                "536870912",
                "9223372036854775807",
            ])),
            s(rng.pick(&["", "", "ab", "\x00"])),
        ],
        _ => vec![s("GETDEL"), k],
    }
}

/// Keys SORT reads weights from (`w_*`, `hw_*->f`), for the elements of LISTS, SETS and ZSETS.
const WEIGHTS: [&str; 8] = ["1", "2", "2", "-1.5", "10", "abc", "", " 3"];
const SORT_PATTERNS: [&str; 6] = ["w_*", "w_*", "hw_*->f", "nosort", "#", "w_*->f"];

/// COPY, MOVE, SWAPDB, TOUCH, SORT and SORT_RO over the keys of every type, and the weights
/// SORT reads. Replies Redis does not order are compared unordered: a set SORTed without
/// sorting (its hash order; lists and sorted sets are compared so too, as a key's type is not
/// known here), and ALPHA weights that tie (its quicksort's order).
fn copies_and_sorts(rng: &mut Rng, compare: &mut Compare) -> Vec<String> {
    let s = |v: &str| v.to_string();
    match rng.below(10) {
        0 => {
            let mut a = vec![s("COPY"), s(rng.pick(&ALL)), s(rng.pick(&ALL))];
            if rng.chance(40) {
                a.extend([s("DB"), s(rng.pick(&["0", "1", "1", "16", "x"]))]);
            }
            if rng.chance(50) {
                a.push(s("REPLACE"));
            }
            a
        }
        1 => vec![
            s("MOVE"),
            s(rng.pick(&ALL)),
            s(rng.pick(&["0", "1", "2", "16"])),
        ],
        2 => vec![
            s("SWAPDB"),
            s(rng.pick(&["0", "1"])),
            s(rng.pick(&["0", "1", "2", "x"])),
        ],
        3 => vec![s("TOUCH"), s(rng.pick(&ALL)), s(rng.pick(&ALL))],
        4 => vec![
            s("MSET"),
            format!("w_{}", rng.pick(&MEMBERS)),
            s(rng.pick(&WEIGHTS)),
            format!("w_{}", rng.pick(&MEMBERS)),
            s(rng.pick(&WEIGHTS)),
        ],
        5 => vec![
            s("HSET"),
            format!("hw_{}", rng.pick(&MEMBERS)),
            s("f"),
            s(rng.pick(&WEIGHTS)),
        ],
        _ => {
            let typed: &[&'static str] = match rng.below(4) {
                0 => &LISTS,
                1 => &SETS,
                2 => &ZSETS,
                _ => &ALL,
            };
            let key = key_of(rng, typed);
            let ro = rng.chance(25);
            let mut a = vec![s(if ro { "SORT_RO" } else { "SORT" }), key.clone()];
            let by = rng.chance(50).then(|| rng.pick(&SORT_PATTERNS));
            if let Some(by) = by {
                a.extend([s("BY"), s(by)]);
            }
            let alpha = rng.chance(40);
            if alpha {
                a.push(s("ALPHA"));
            }
            if rng.chance(40) {
                a.push(s(rng.pick(&["ASC", "DESC"])));
            }
            for _ in 0..rng.below(3) {
                a.extend([s("GET"), s(rng.pick(&["#", "w_*", "hw_*->f", "s0"]))]);
            }
            // Any key may hold a set by now (RENAME, COPY and MOVE carry types across names).
            let dont_sort = by.is_some_and(|p| !p.contains('*'));
            let alpha_ties = alpha && by.is_some_and(|p| p.contains('*'));
            // Stored in an order Redis does not define, the list would differ from then on. A
            // set that is not sorted is sorted ALPHA into a STORE, so that one may be stored.
            let store = !ro && !alpha_ties && rng.chance(30);
            let undefined_order = !store && (dont_sort || alpha_ties);
            if store {
                a.extend([s("STORE"), key_of(rng, &LISTS)]);
            } else if undefined_order {
                *compare = Compare::Unordered;
            }
            // In an order Redis does not define, LIMIT would pick different elements.
            if !undefined_order && rng.chance(30) {
                a.extend([s("LIMIT"), rng.int(-1, 3), rng.int(-2, 3)]);
            }
            a
        }
    }
}

/// The next step of a run: mostly one command, sometimes a MULTI block or a command cut short.
fn generate(rng: &mut Rng) -> Vec<Generated> {
    // Commands whose reply is compared as is, so that they can sit inside an EXEC reply.
    let exact = |rng: &mut Rng| loop {
        let g = generate_one(rng);
        // SORT needs a step before it on Redis (see `clear_errno`), which would be queued too.
        if matches!(g.compare, Compare::Exact)
            && !matches!(g.args[0].as_str(), "FLUSHDB" | "SORT" | "SORT_RO")
        {
            return g;
        }
    };
    let plain = |args: &[&str]| Generated {
        args: args.iter().map(|a| a.to_string()).collect(),
        compare: Compare::Exact,
    };
    match rng.below(100) {
        0..=3 => {
            let mut steps = vec![plain(&["MULTI"])];
            for _ in 0..=rng.below(4) {
                steps.push(exact(rng));
            }
            steps.push(plain(&[if rng.chance(10) { "DISCARD" } else { "EXEC" }]));
            steps
        }
        4..=7 => {
            let mut g = exact(rng);
            if g.args.len() > 1 {
                let keep = 1 + rng.below(g.args.len() - 1);
                g.args.truncate(keep);
            }
            vec![g]
        }
        _ => {
            let mut g = generate_one(rng);
            if rng.chance(15) {
                g.args[0] = g.args[0].to_lowercase();
            }
            vec![g]
        }
    }
}

fn sort_key(r: &R) -> String {
    format!("{r:?}")
}

/// A bulk string that is a number, written in one canonical form.
fn canonical_score(reply: R) -> R {
    match reply {
        R::Bulk(b) => match std::str::from_utf8(&b)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
        {
            Some(n) => R::Bulk(format!("{n:?}").into_bytes()),
            None => R::Bulk(b),
        },
        R::Arr(items) => R::Arr(items.into_iter().map(canonical_score).collect()),
        other => other,
    }
}

fn sorted_pairs(items: Vec<R>) -> R {
    let mut pairs: Vec<Vec<R>> = items.chunks(2).map(<[R]>::to_vec).collect();
    pairs.sort_by_key(|p| sort_key(&p[0]));
    R::Arr(pairs.into_iter().flatten().collect())
}

fn normalize(reply: R, compare: Compare) -> R {
    match (compare, reply) {
        (Compare::Scores, reply) => canonical_score(reply),
        (Compare::Unordered, R::Arr(mut items) | R::Set(mut items)) => {
            items.sort_by_key(sort_key);
            R::Arr(items)
        }
        (Compare::UnorderedPairs, R::Arr(items)) => sorted_pairs(items),
        (Compare::UnorderedPairs, R::Map(mut pairs)) => {
            pairs.sort_by_key(|(k, _)| sort_key(k));
            R::Map(pairs)
        }
        (Compare::WholeScan { pairs }, R::Arr(mut parts)) if parts.len() == 2 => {
            let items = match parts.pop() {
                Some(R::Arr(items)) => items,
                other => return R::Arr(parts.into_iter().chain(other).collect()),
            };
            let items = if pairs {
                canonical_score(sorted_pairs(items))
            } else {
                normalize(R::Arr(items), Compare::Unordered)
            };
            parts.push(items);
            R::Arr(parts)
        }
        (Compare::TtlKind, R::Int(n)) if n >= 0 => R::Status("some deadline".into()),
        (_, other) => other,
    }
}

/// A key's type and contents, to show in a failure.
fn describe(c: &mut redis::Connection, key: &str) -> String {
    let kind = c.run_args(&["TYPE", key]);
    let contents = match &kind {
        R::Status(t) if t == "string" => c.run_args(&["GET", key]),
        R::Status(t) if t == "hash" => c.run_args(&["HGETALL", key]),
        R::Status(t) if t == "list" => c.run_args(&["LRANGE", key, "0", "-1"]),
        R::Status(t) if t == "set" => c.run_args(&["SMEMBERS", key]),
        R::Status(t) if t == "zset" => c.run_args(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        _ => R::Nil,
    };
    format!("{key}: {kind:?} {contents:?}")
}

/// The protocol both connections speak.
#[derive(Clone, Copy)]
enum Protocol {
    Resp2,
    /// After `HELLO 3`: maps, sets, doubles, booleans and nulls of their own type.
    Resp3,
}

/// Redis 7 reads SORT's weights with `strtod` and then checks `errno` without clearing it first,
/// so after any command that left ERANGE there (a ZADD of 1e400, a range bound of -1e-400)
/// every numeric SORT fails with "One or more scores can't be converted into double" until a
/// command clears it. Parsing a score does (`string2d` sets errno to 0): a ZADD XX of a key that
/// never exists changes nothing.
fn clear_errno(redis: &mut redis::Connection) {
    assert_eq!(redis.run("ZADD errno:clear XX 0 m"), int(0));
}

fn compare_runs(seed: u64, commands: usize, protocol: Protocol) {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    if let Protocol::Resp3 = protocol {
        for c in [&mut k, &mut r] {
            assert!(
                matches!(c.run("HELLO 3"), R::Map(_)),
                "HELLO 3 answers a map"
            );
        }
    }
    let mut rng = Rng(seed);
    let mut history: Vec<String> = Vec::new();
    let mut i = 0;
    while i < commands {
        for g in generate(&mut rng) {
            i += 1;
            history.push(g.args.join(" "));
            if matches!(g.args[0].to_ascii_uppercase().as_str(), "SORT" | "SORT_RO") {
                clear_errno(&mut r);
            }
            let want = normalize(r.run_args(&g.args), g.compare);
            let got = normalize(k.run_args(&g.args), g.compare);
            if got != want {
                let recent = history[history.len().saturating_sub(12)..].join("\n  ");
                let key = g.args.get(1).cloned().unwrap_or_default();
                panic!(
                    "seed {seed}, command #{i}: {:?}\n  redis: {want:?}\n  kiwi:  {got:?}\n\
                 the key now, in redis: {}\n  in kiwi: {}\nthe last commands:\n  {recent}",
                    g.args,
                    describe(&mut r, &key),
                    describe(&mut k, &key),
                );
            }
        }
    }
}

#[test]
fn random_commands_get_the_replies_redis_gives_seed_1() {
    compare_runs(0x9e37_79b9_7f4a_7c15, 3000, Protocol::Resp2);
}

#[test]
fn random_commands_get_the_replies_redis_gives_seed_2() {
    compare_runs(0xd1b5_4a32_d192_ed03, 3000, Protocol::Resp2);
}

#[test]
fn random_commands_get_the_replies_redis_gives_over_resp3() {
    compare_runs(0x2545_f491_4f6c_dd1d, 3000, Protocol::Resp3);
}

/// The corners of the bitmap, LCS and range commands, each sent to both servers in order
/// (a state builds up), over RESP2 and RESP3: limits, extremes, every error in the order
/// Redis checks them, and missing keys and keys of other types.
#[test]
fn bit_lcs_and_range_corners_get_the_replies_redis_gives() {
    let x = "x".repeat(11_585);
    let script: Vec<Vec<String>> = [
        "SET s foobar",
        "RPUSH l a",
        "SET e ''",
        // Offsets and bit values.
        "SETBIT b 4294967296 1",
        "SETBIT b -1 1",
        "SETBIT b 01 1",
        "SETBIT l x 1",
        "SETBIT b 0 2",
        "SETBIT b 0 -1",
        "SETBIT b 0 x",
        "SETBIT l 0 1",
        "SETBIT b 99 1",
        "SETBIT b 99 1",
        "SETBIT b 99 0",
        "GET b",
        "GETBIT b 4294967295",
        "GETBIT b 4294967296",
        "GETBIT nokey 3",
        "GETBIT l 3",
        // BITCOUNT: missing keys answer before the arguments are read.
        "BITCOUNT nokey a b",
        "BITCOUNT nokey 0",
        "BITCOUNT s 0",
        "BITCOUNT s a 1",
        "BITCOUNT s 1 a",
        "BITCOUNT s -1 -3 BOGUS",
        "BITCOUNT s 0 -1 BOGUS",
        "BITCOUNT s 0 -1 bit",
        "BITCOUNT s -9223372036854775808 9223372036854775807 BIT",
        "BITCOUNT s 9223372036854775807 -9223372036854775808",
        "BITCOUNT e",
        "BITCOUNT e 0 -1 BIT",
        "BITCOUNT l",
        "BITCOUNT l a b",
        // BITPOS.
        "BITPOS s 2",
        "BITPOS nokey 2",
        "BITPOS nokey x",
        "BITPOS nokey 0 a b c",
        "BITPOS nokey 1 a b c",
        "BITPOS s 1 a",
        "BITPOS s 1 0 a BOGUS",
        "BITPOS s 1 0 a BIT",
        "BITPOS s 1 0 1 BIT x",
        "BITPOS s 0 -1",
        "BITPOS s 0 0 -1 BIT",
        "BITPOS s 1 -9223372036854775808 9223372036854775807 BIT",
        "BITPOS e 0",
        "BITPOS e 1",
        "BITPOS l 1",
        "BITPOS l 2",
        // BITOP.
        "BITOP NOT d s s",
        "BITOP NOT d",
        "BITOP DIFF d s s",
        "BITOP and d s nokey",
        "GET d",
        "BITOP OR l2 s",
        "BITOP XOR d s s",
        "GET d",
        "SET d v EX 100",
        "BITOP OR d nokey e",
        "EXISTS d",
        "BITOP AND d s l",
        "BITOP NOT l s",
        "TYPE l",
        "RPUSH l a",
        // BITFIELD and BITFIELD_RO.
        "BITFIELD f",
        "BITFIELD f GET",
        "BITFIELD f GET u8",
        "BITFIELD f GET u64 0",
        "BITFIELD f GET i65 0",
        "BITFIELD f GET i0 0",
        "BITFIELD f GET U8 0",
        "BITFIELD f GET i08 0",
        "BITFIELD f GET u8 #",
        "BITFIELD f GET u8 #-1",
        "BITFIELD f GET u8 -1",
        "BITFIELD f GET u8 4294967296",
        "BITFIELD f GET i64 4294967295",
        "BITFIELD f SET u8 #2305843009213693952 7",
        "BITFIELD f SET u8 #2305843009213693953 7",
        "BITFIELD f OVERFLOW",
        "BITFIELD f OVERFLOW NOPE GET u8 0",
        "BITFIELD f FOO u8 0",
        "BITFIELD f SET u8 0",
        "BITFIELD f SET u8 0 x",
        "BITFIELD f INCRBY u8 0 9223372036854775808",
        "BITFIELD f SET i64 0 -9223372036854775808 INCRBY i64 0 -1 INCRBY i64 0 1",
        "BITFIELD f OVERFLOW SAT INCRBY i64 0 9223372036854775807 INCRBY i64 0 -9223372036854775808",
        "BITFIELD f OVERFLOW SAT SET i8 0 -9223372036854775808 SET i8 0 9223372036854775807",
        "BITFIELD f OVERFLOW WRAP SET i8 0 -9223372036854775808 SET u8 0 -1 GET u8 0",
        "BITFIELD f OVERFLOW FAIL SET u8 0 256 SET u8 0 255 INCRBY u8 0 1 GET u8 0",
        "BITFIELD f OVERFLOW SAT INCRBY u63 0 -1 INCRBY u63 0 9223372036854775807 GET u63 0",
        "BITFIELD f SET i5 #3 -16 INCRBY i5 #3 -1 GET i5 15 GET u1 15",
        "BITFIELD g OVERFLOW FAIL INCRBY u2 100 4",
        "GET g",
        "BITFIELD nokey GET i64 4294967295 GET u8 0",
        "EXISTS nokey",
        "BITFIELD_RO f GET u8 0 OVERFLOW SAT GET i8 #1",
        "BITFIELD_RO f SET u8 0 1",
        "BITFIELD_RO f INCRBY u8 0 x",
        "BITFIELD_RO l GET u8 0",
        "BITFIELD l",
        "BITFIELD l SET u8 0 1",
        "BITFIELD l SET u8 0 x",
        // LCS.
        "SET a ohmytext",
        "SET c mynewtext",
        "LCS a c",
        "LCS a c LEN",
        "LCS a c IDX",
        "LCS a c IDX MINMATCHLEN 4 WITHMATCHLEN",
        "LCS a c WITHMATCHLEN MINMATCHLEN -3 IDX",
        "LCS a c IDX LEN",
        "LCS a c LEN IDX",
        "LCS a c MINMATCHLEN",
        "LCS a c MINMATCHLEN x",
        "LCS a c BOGUS",
        "LCS a nokey IDX",
        "LCS nokey nokey",
        "LCS a l",
        "LCS l nokey BOGUS",
        // GETRANGE, SUBSTR, SETRANGE, GETDEL.
        "GETRANGE s -3 -100",
        "GETRANGE s -100 -4",
        "GETRANGE s 100 -1",
        "GETRANGE s -1 -2",
        "GETRANGE s 0 9223372036854775807",
        "GETRANGE s -9223372036854775808 0",
        "GETRANGE s x 0",
        "GETRANGE nokey 0 -1",
        "GETRANGE nokey x y",
        "GETRANGE l 0 -1",
        "SUBSTR s 1 3",
        "SUBSTR l 1 3",
        "SETRANGE n 5 ''",
        "EXISTS n",
        "SETRANGE n 536870912 ''",
        "SETRANGE n 536870912 x",
        "SETRANGE n 536870911 xy",
        "SETRANGE n 9223372036854775807 x",
        "SETRANGE n -1 x",
        "SETRANGE n x x",
        "SETRANGE s 100 ''",
        "SETRANGE s 8 xy",
        "GET s",
        "SETRANGE l 0 ''",
        "SETRANGE l 0 x",
        "GETDEL s",
        "GETDEL s",
        "GETDEL l",
    ]
    .iter()
    .map(|line| {
        line.split(' ')
            .map(|a| if a == "''" { String::new() } else { a.to_string() })
            .collect()
    })
    .chain([
        // LCS's guard on the table it would build: just over it. (Just under, a debug build
        // takes longer than the client's timeout to fill the 512 MB table.)
        vec!["SET".into(), "x".into(), x],
        vec!["LCS".into(), "x".into(), "x".into(), "LEN".into()],
        vec!["LCS".into(), "x".into(), "nokey".into(), "LEN".into()],
    ])
    .collect();
    for protocol in ["2", "3"] {
        let kiwi = KiwiServer::start();
        let redis = KiwiServer::start_reference_redis();
        let (mut k, mut r) = (kiwi.client(), redis.client());
        for c in [&mut k, &mut r] {
            assert!(!c.run(&format!("HELLO {protocol}")).is_err());
        }
        for args in &script {
            let want = r.run_args(args);
            let got = k.run_args(args);
            let shown: String = args.join(" ").chars().take(120).collect();
            assert_eq!(got, want, "RESP{protocol}: {shown}");
        }
    }
}

/// A longer search, for after a change to a command: `HUNT_SEEDS=30 cargo test --workspace
/// --test differential -- --ignored` runs 20,000 commands for each of that many seeds, every
/// other seed over RESP3.
#[test]
#[ignore]
fn long_hunt_over_many_seeds() {
    let seeds: u64 = std::env::var("HUNT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for s in 1..=seeds {
        let protocol = if s % 2 == 0 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        compare_runs(s.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, 20_000, protocol);
    }
}

/// A key's type and whole contents, in an order that does not depend on the server: members
/// of sets and fields of hashes sorted, scores as the numbers they stand for.
fn contents(c: &mut redis::Connection, key: &str) -> (R, R) {
    let kind = c.run_args(&["TYPE", key]);
    let value = match &kind {
        R::Status(t) if t == "string" => c.run_args(&["GET", key]),
        R::Status(t) if t == "list" => c.run_args(&["LRANGE", key, "0", "-1"]),
        R::Status(t) if t == "set" => normalize(c.run_args(&["SMEMBERS", key]), Compare::Unordered),
        R::Status(t) if t == "hash" => {
            normalize(c.run_args(&["HGETALL", key]), Compare::UnorderedPairs)
        }
        R::Status(t) if t == "zset" => {
            canonical_score(c.run_args(&["ZRANGE", key, "0", "-1", "WITHSCORES"]))
        }
        _ => R::Nil,
    };
    (kind, value)
}

/// Commands that build one value, named by `{k}`, sized to pick each encoding redis-server
/// gives a value of its type: integers and raw and LZF-compressed strings; lists of one
/// listpack node and of many (their nodes LZF-compressed in a DUMP), and with an element
/// larger than a node; intsets, listpacks and hash tables for sets, hashes and sorted sets
/// (by count and by element size).
fn encodings() -> Vec<(&'static str, Vec<Vec<String>>)> {
    let s = |v: &str| v.to_string();
    let many = |n: usize, f: &dyn Fn(usize) -> Vec<String>| -> Vec<String> {
        (0..n).flat_map(f).collect()
    };
    let with = |head: &[&str], rest: Vec<String>| -> Vec<Vec<String>> {
        vec![head.iter().map(|h| s(h)).chain(rest).collect()]
    };
    let compressible = "abcd".repeat(500);
    let incompressible: String = (0..3000u32)
        .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 25) as u8 % 90))
        .collect();
    vec![
        ("int8", with(&["SET", "{k}", "-7"], vec![])),
        ("int16", with(&["SET", "{k}", "300"], vec![])),
        ("int32", with(&["SET", "{k}", "-70000"], vec![])),
        ("int64", with(&["SET", "{k}", "12345678901234"], vec![])),
        ("not an int", with(&["SET", "{k}", "007"], vec![])),
        ("empty string", with(&["SET", "{k}", ""], vec![])),
        ("short string", with(&["SET", "{k}", "hello"], vec![])),
        ("lzf string", with(&["SET", "{k}", &compressible], vec![])),
        ("raw string", with(&["SET", "{k}", &incompressible], vec![])),
        (
            "small list",
            with(
                &["RPUSH", "{k}", "a", "1", "-100", "70000", "5000000000", ""],
                vec![],
            ),
        ),
        (
            "long list",
            with(
                &["RPUSH", "{k}"],
                many(5000, &|i| vec![format!("element-{i}")]),
            ),
        ),
        (
            "list with a big element",
            with(
                &["RPUSH", "{k}", "a", &incompressible.repeat(4), "b"],
                vec![],
            ),
        ),
        (
            "intset",
            with(&["SADD", "{k}", "1", "-5", "100000", "5000000000"], vec![]),
        ),
        (
            "big intset",
            with(&["SADD", "{k}"], many(600, &|i| vec![i.to_string()])),
        ),
        ("small set", with(&["SADD", "{k}", "a", "b", "12"], vec![])),
        (
            "big set",
            with(&["SADD", "{k}"], many(1000, &|i| vec![format!("m{i}")])),
        ),
        (
            "small hash",
            with(&["HSET", "{k}", "f1", "v1", "f2", "2"], vec![]),
        ),
        (
            "hash with a long value",
            with(&["HSET", "{k}", "f", &compressible], vec![]),
        ),
        (
            "big hash",
            with(
                &["HSET", "{k}"],
                many(300, &|i| vec![format!("f{i}"), i.to_string()]),
            ),
        ),
        (
            "small zset",
            with(
                &["ZADD", "{k}", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d"],
                vec![],
            ),
        ),
        (
            "zset with a long member",
            with(&["ZADD", "{k}", "1", &compressible], vec![]),
        ),
        (
            "big zset",
            with(
                &["ZADD", "{k}"],
                many(300, &|i| {
                    vec![format!("{}", i as f64 / 7.0), format!("m{i}")]
                }),
            ),
        ),
    ]
}

/// DUMP on redis-server, RESTORE on Kiwi, and the other way: the value arrives whole, with its
/// TTL, for every encoding redis-server picks (and those Kiwi writes).
#[test]
fn dump_payloads_move_between_redis_and_kiwi_both_ways() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    for (name, commands) in encodings() {
        for c in [&mut k, &mut r] {
            for cmd in &commands {
                let args: Vec<String> = cmd.iter().map(|a| a.replace("{k}", "orig")).collect();
                assert!(!c.run_args(&args).is_err(), "{name}: {}", args[0]);
            }
        }
        let want = contents(&mut r, "orig");
        assert_eq!(
            contents(&mut k, "orig"),
            want,
            "{name}: the same value on both"
        );
        for redis_first in [true, false] {
            let (from, to, what) = if redis_first {
                (&mut r, &mut k, "redis -> kiwi")
            } else {
                (&mut k, &mut r, "kiwi -> redis")
            };
            let R::Bulk(payload) = from.run_args(&["DUMP", "orig"]) else {
                panic!("{name}: DUMP on {what}");
            };
            let restore = |to: &mut redis::Connection, key: &str, ttl: &str, opts: &[&str]| {
                let mut args: Vec<&[u8]> = Vec::new();
                args.push(b"RESTORE");
                args.extend([key.as_bytes(), ttl.as_bytes(), payload.as_slice()]);
                args.extend(opts.iter().map(|o| o.as_bytes()));
                to.run_args(&args)
            };
            assert_eq!(restore(to, "copy", "0", &[]), ok(), "{name}: {what}");
            assert_eq!(contents(to, "copy"), want, "{name}: {what}");
            assert_eq!(to.run_args(&["PTTL", "copy"]), int(-1), "{name}: {what}");
            assert_eq!(
                restore(to, "copy", "0", &[]),
                err("BUSYKEY Target key name already exists."),
                "{name}: {what}"
            );
            assert_eq!(
                restore(to, "copy", "100000", &["REPLACE", "IDLETIME", "5"]),
                ok()
            );
            assert_eq!(contents(to, "copy"), want, "{name}: {what}");
            let pttl = to.run_args(&["PTTL", "copy"]).int();
            assert!(
                (90_000..=100_000).contains(&pttl),
                "{name}: {what}: PTTL {pttl}"
            );
            // A payload damaged anywhere is refused the same way by both.
            let mut damaged = payload.clone();
            damaged[payload.len() / 2] ^= 0x20;
            let damaged_args: [&[u8]; 4] = [b"RESTORE", b"damaged", b"0", &damaged];
            assert_eq!(
                to.run_args(&damaged_args),
                err("ERR DUMP payload version or checksum are wrong"),
                "{name}: {what}"
            );
            to.run_args(&["DEL", "copy"]);
        }
        for c in [&mut k, &mut r] {
            c.run_args(&["DEL", "orig"]);
        }
    }
}

/// Kiwi's DUMP of a string is byte for byte what redis-server writes, but for the version in the
/// footer (Kiwi writes RDB 9, which Redis 5 and 6 also read; Redis 7.0 writes 10).
#[test]
fn kiwi_dumps_strings_as_redis_does() {
    let kiwi = KiwiServer::start();
    let redis = KiwiServer::start_reference_redis();
    let (mut k, mut r) = (kiwi.client(), redis.client());
    for value in [
        "-7",
        "300",
        "-70000",
        "2147483647",
        "2147483648",
        "007",
        "",
        "hello",
        "x y",
    ] {
        for c in [&mut k, &mut r] {
            assert_eq!(c.run_args(&["SET", "s", value]), ok());
        }
        let (R::Bulk(kd), R::Bulk(rd)) = (k.run_args(&["DUMP", "s"]), r.run_args(&["DUMP", "s"]))
        else {
            panic!("DUMP {value:?}");
        };
        assert_eq!(kd[..kd.len() - 10], rd[..rd.len() - 10], "{value:?}");
    }
}
