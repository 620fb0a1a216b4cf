//! What the blocking commands share: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP (lists),
//! BZPOPMIN, BZPOPMAX, BZMPOP (sorted sets), and XREAD and XREADGROUP with BLOCK (streams).
//!
//! A stream reader takes nothing from the stream (XREADGROUP takes from its group only), so
//! every reader waiting on a stream is woken by a change, not just the first in line (see
//! `server::blocking`).
//!
//! Applied, a blocking command never waits: it pops what is there, or answers what it answers
//! when its timeout passes (which is its reply inside MULTI, as in Redis). The waiting is the
//! connection's: it proposes the command, and when the answer is "nothing yet" it waits until
//! an applied write changes one of the keys, then proposes it again, aimed at the keys that now
//! hold something (see `server::blocking`). The pop is thus a replicated write like LPOP.

use std::time::Duration;

use bytes::Bytes;

use super::args::parse_i64;
use super::{streams, CmdError};
use crate::resp::Reply;
use crate::storage::KeyType;

/// A blocking command's waiting part, read from its arguments.
#[derive(Debug)]
pub struct Call {
    /// The positions in `argv` of the keys it waits on, in order.
    pub keys: Vec<usize>,
    /// `None`: forever (a timeout of 0).
    pub timeout: Option<Duration>,
    /// What the keys must hold for it.
    pub ty: KeyType,
}

/// Reads a blocking timeout in seconds as Redis does: a long double, then whole milliseconds.
/// 0 is forever; below 0 after truncation is an error, and so is anything too large for a
/// millisecond count (Redis's cast makes those negative too).
pub fn parse_timeout(raw: &[u8]) -> Result<Option<Duration>, CmdError> {
    let not_float = || CmdError::msg("timeout is not a float or out of range");
    let text = std::str::from_utf8(raw).map_err(|_| not_float())?;
    let seconds: f64 = text.parse().map_err(|_| not_float())?;
    if seconds.is_nan() || text.starts_with(|c: char| c.is_whitespace()) {
        return Err(not_float());
    }
    let ms = (seconds * 1000.0).trunc();
    if ms <= -1.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::msg("timeout is negative"));
    }
    Ok((ms >= 1.0).then_some(Duration::from_millis(ms as u64)))
}

/// LMPOP/ZMPOP and their blocking forms: `[timeout] numkeys key... where [COUNT count]`.
#[derive(Debug)]
pub struct MultiPop {
    /// Positions of the keys.
    pub keys: std::ops::Range<usize>,
    /// Whether `where` is the first of the two words (LEFT, MIN) rather than the second.
    pub first_side: bool,
    pub count: u64,
}

/// Parses the arguments of an *MPOP from `numkeys_at` on, as Redis checks them; `sides` are
/// the two words `where` may be.
pub fn parse_multi_pop(
    argv: &[Bytes],
    numkeys_at: usize,
    sides: [&str; 2],
) -> Result<MultiPop, CmdError> {
    let numkeys = parse_i64(&argv[numkeys_at])
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| CmdError::msg("numkeys should be greater than 0"))? as u64;
    let side = (numkeys_at as u64 + 1)
        .checked_add(numkeys)
        .filter(|i| *i < argv.len() as u64)
        .ok_or(CmdError::Syntax)? as usize;
    let first_side = argv[side].eq_ignore_ascii_case(sides[0].as_bytes());
    if !first_side && !argv[side].eq_ignore_ascii_case(sides[1].as_bytes()) {
        return Err(CmdError::Syntax);
    }
    let mut count = None;
    let mut i = side + 1;
    while i < argv.len() {
        if count.is_none() && argv[i].eq_ignore_ascii_case(b"count") && i + 1 < argv.len() {
            let n = parse_i64(&argv[i + 1])
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| CmdError::msg("count should be greater than 0"))?;
            count = Some(n as u64);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(MultiPop {
        keys: numkeys_at + 1..side,
        first_side,
        count: count.unwrap_or(1),
    })
}

/// The `where` words of LMPOP and ZMPOP.
pub const LIST_SIDES: [&str; 2] = ["left", "right"];
pub const ZSET_SIDES: [&str; 2] = ["min", "max"];

/// Whether `name` (lower case) is a blocking command.
pub fn is_blocking(name: &str) -> bool {
    matches!(
        name,
        "blpop"
            | "brpop"
            | "brpoplpush"
            | "blmove"
            | "blmpop"
            | "bzpopmin"
            | "bzpopmax"
            | "bzmpop"
            | "xread"
            | "xreadgroup"
    )
}

/// Whether this call of a blocking command may wait: XREAD and XREADGROUP only with BLOCK
/// (without it, they are a plain read and a plain write).
pub fn may_wait(name: &str, argv: &[Bytes]) -> bool {
    match name {
        "xread" | "xreadgroup" => {
            streams::parse_read(argv, name == "xreadgroup").is_ok_and(|r| r.block.is_some())
        }
        _ => true,
    }
}

/// Checks a blocking command's arguments (not its keys' types, which applying it checks) and
/// says what it waits on. The errors, and their order, are Redis's.
pub fn parse(name: &str, argv: &[Bytes]) -> Result<Call, CmdError> {
    let last = argv.len() - 1;
    let (keys, timeout, ty) = match name {
        "blpop" | "brpop" => (
            (1..last).collect(),
            parse_timeout(&argv[last])?,
            KeyType::List,
        ),
        "bzpopmin" | "bzpopmax" => (
            (1..last).collect(),
            parse_timeout(&argv[last])?,
            KeyType::ZSet,
        ),
        "brpoplpush" => (vec![1], parse_timeout(&argv[3])?, KeyType::List),
        "blmove" => {
            for i in [3, 4] {
                if !argv[i].eq_ignore_ascii_case(b"left") && !argv[i].eq_ignore_ascii_case(b"right")
                {
                    return Err(CmdError::Syntax);
                }
            }
            (vec![1], parse_timeout(&argv[5])?, KeyType::List)
        }
        "blmpop" | "bzmpop" => {
            let timeout = parse_timeout(&argv[1])?;
            let (sides, ty) = if name == "blmpop" {
                (LIST_SIDES, KeyType::List)
            } else {
                (ZSET_SIDES, KeyType::ZSet)
            };
            (parse_multi_pop(argv, 2, sides)?.keys.collect(), timeout, ty)
        }
        "xread" | "xreadgroup" => {
            let r = streams::parse_read(argv, name == "xreadgroup")?;
            let timeout = r.block.filter(|ms| *ms > 0).map(Duration::from_millis);
            (
                (r.keys_at..r.keys_at + r.nkeys).collect(),
                timeout,
                KeyType::Stream,
            )
        }
        other => {
            return Err(CmdError::msg(format!(
                "'{other}' is not a blocking command"
            )))
        }
    };
    Ok(Call { keys, timeout, ty })
}

/// What `name` answers when nothing is there: its reply once its timeout has passed.
pub fn timed_out(name: &str) -> Reply {
    match name {
        "blmove" | "brpoplpush" => Reply::Nil,
        _ => Reply::NilArray,
    }
}

/// `argv` aimed at `keys` only (positions among its keys, in their order), for trying again
/// once some of its keys hold something: a client is served from the keys that became ready,
/// as Redis serves it, rather than failing on another key that changed type meanwhile.
pub fn aimed_at(name: &str, argv: &[Bytes], call: &Call, keys: &[usize]) -> Vec<Bytes> {
    let picked = keys.iter().map(|&i| argv[i].clone());
    match name {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let mut out = vec![argv[0].clone()];
            out.extend(picked);
            out.push(argv[argv.len() - 1].clone());
            out
        }
        "blmpop" | "bzmpop" => {
            let after = call.keys.last().map_or(argv.len(), |i| i + 1);
            let mut out = vec![
                argv[0].clone(),
                argv[1].clone(),
                Bytes::from(keys.len().to_string()),
            ];
            out.extend(picked);
            out.extend(argv[after..].iter().cloned());
            out
        }
        "xread" | "xreadgroup" => {
            // Each key's ID follows the keys, as many places on.
            let (Some(first), n) = (call.keys.first(), call.keys.len()) else {
                return argv.to_vec();
            };
            let mut out = argv[..*first].to_vec();
            out.extend(picked);
            out.extend(keys.iter().map(|&i| argv[i + n].clone()));
            out
        }
        // One key: nothing to aim.
        _ => argv.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<Bytes> {
        crate::resp::request::split_args(line.as_bytes()).unwrap()
    }

    fn err(r: Result<Call, CmdError>) -> String {
        r.expect_err("an error").to_string()
    }

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"0.0009").unwrap(),
            None,
            "under 1 ms is forever"
        );
        assert_eq!(parse_timeout(b"-0.0001").unwrap(), None, "truncated to 0");
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_timeout(b"2").unwrap(), Some(Duration::from_secs(2)));
        for bad in [&b"-1"[..], b"1e400", b"inf", b"-inf"] {
            assert_eq!(
                parse_timeout(bad).unwrap_err().to_string(),
                "ERR timeout is negative",
                "{bad:?}"
            );
        }
        for bad in [&b"abc"[..], b"", b" 1", b"nan", b"1s"] {
            assert_eq!(
                parse_timeout(bad).unwrap_err().to_string(),
                "ERR timeout is not a float or out of range",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn calls_name_their_keys_and_check_arguments_in_redis_order() {
        let c = parse("blpop", &argv("BLPOP a b 0")).unwrap();
        assert_eq!((c.keys, c.timeout, c.ty), (vec![1, 2], None, KeyType::List));
        let c = parse("bzpopmax", &argv("BZPOPMAX z 0.5")).unwrap();
        assert_eq!(c.keys, vec![1]);
        assert_eq!(c.ty, KeyType::ZSet);
        let c = parse("blmove", &argv("BLMOVE s d left RIGHT 1")).unwrap();
        assert_eq!(c.keys, vec![1]);
        assert_eq!(
            err(parse("blmove", &argv("BLMOVE s d left up -1"))),
            "ERR syntax error",
            "the sides are checked before the timeout"
        );
        let c = parse("blmpop", &argv("BLMPOP 0 2 a b LEFT COUNT 3")).unwrap();
        assert_eq!(c.keys, vec![3, 4]);
        let c = parse("bzmpop", &argv("BZMPOP 0 1 z min")).unwrap();
        assert_eq!(c.keys, vec![3]);
        for (line, want) in [
            ("BLMPOP -1 1 a LEFT", "ERR timeout is negative"),
            ("BLMPOP 0 0 a LEFT", "ERR numkeys should be greater than 0"),
            ("BLMPOP 0 3 a LEFT", "ERR syntax error"),
            ("BLMPOP 0 1 a UP", "ERR syntax error"),
            (
                "BLMPOP 0 1 a LEFT COUNT 0",
                "ERR count should be greater than 0",
            ),
            ("BLMPOP 0 1 a LEFT COUNT 1 COUNT 2", "ERR syntax error"),
            ("BLMPOP 0 1 a LEFT COUNT", "ERR syntax error"),
            ("BLMPOP 0 1 a UP COUNT 0", "ERR syntax error"),
            ("BZMPOP 0 1 a LEFT", "ERR syntax error"),
            (
                "BZMPOP 0 1 a MIN COUNT -1",
                "ERR count should be greater than 0",
            ),
            (
                "BLMPOP 0 99999999999999999999 a LEFT",
                "ERR numkeys should be greater than 0",
            ),
            ("BLMPOP 0 9223372036854775807 a LEFT", "ERR syntax error"),
        ] {
            let a = argv(line);
            let name = line.split(' ').next().unwrap().to_lowercase();
            assert_eq!(err(parse(&name, &a)), want, "{line}");
        }
    }

    #[test]
    fn a_call_is_aimed_at_the_keys_that_became_ready() {
        let a = argv("BLPOP a b c 5");
        let call = parse("blpop", &a).unwrap();
        assert_eq!(aimed_at("blpop", &a, &call, &[3]), argv("BLPOP c 5"));
        let a = argv("BZMPOP 0 3 a b c MAX COUNT 2");
        let call = parse("bzmpop", &a).unwrap();
        assert_eq!(
            aimed_at("bzmpop", &a, &call, &[3, 5]),
            argv("BZMPOP 0 2 a c MAX COUNT 2")
        );
        let a = argv("BLMOVE s d LEFT LEFT 0");
        let call = parse("blmove", &a).unwrap();
        assert_eq!(aimed_at("blmove", &a, &call, &[1]), a);
        let a = argv("XREAD COUNT 2 BLOCK 0 STREAMS a b c 1-0 2-0 3-0");
        let call = parse("xread", &a).unwrap();
        assert_eq!((call.keys.clone(), call.timeout), (vec![6, 7, 8], None));
        assert_eq!(
            aimed_at("xread", &a, &call, &[6, 8]),
            argv("XREAD COUNT 2 BLOCK 0 STREAMS a c 1-0 3-0")
        );
        let a = argv("XREADGROUP GROUP g c BLOCK 1500 STREAMS s >");
        let call = parse("xreadgroup", &a).unwrap();
        assert_eq!(call.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(aimed_at("xreadgroup", &a, &call, &[7]), a);
        assert!(may_wait("xread", &argv("XREAD BLOCK 5 STREAMS s 0")));
        assert!(!may_wait("xread", &argv("XREAD STREAMS s 0")));
        assert!(may_wait("blpop", &argv("BLPOP k 0")));
    }
}
