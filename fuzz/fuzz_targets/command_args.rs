//! The pure parsers behind command arguments: integers (`string2ll`), doubles (`string2d`, C's
//! `strtod`), INCRBYFLOAT's long doubles, LRANGE-style index ranges and glob patterns.
//!
//! The input is read as lines: the first two are the operands where a parser takes two (the
//! addends of a sum, a glob's pattern and text, a range's start and stop), and every number
//! parser also reads each of them and the whole input. Besides not panicking, each parser is
//! held to a property of what it accepts.
#![no_main]

use kiwi::command::args::{parse_f64, parse_i64, resolve_range};
use kiwi::command::glob::glob_match;
use kiwi::command::long_double::{strtod, sum_text, LongDouble, Parsed};
use libfuzzer_sys::fuzz_target;

/// Longest glob pattern and text tried.
const MAX_GLOB_LEN: usize = 64;
/// Most `*` in a glob pattern tried: all of them. The matcher is linear (it remembers only the
/// last `*`), so a pattern like `*a*a*a*a*b` must answer at once; one that did not would show
/// as a libFuzzer timeout.
const MAX_GLOB_STARS: usize = MAX_GLOB_LEN;

fuzz_target!(init: kiwi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let second = lines.next().unwrap_or_default();
    for text in [first, second, data] {
        integer(text);
        double(text);
        long_double(text);
    }
    if let (Some(a), Some(b)) = (LongDouble::parse(first), LongDouble::parse(second)) {
        assert_eq!(sum_text(&a, &b), sum_text(&b, &a), "{a:?} + {b:?}");
    }
    range(first, second, data);
    glob(first, second);
});

/// `string2ll` accepts exactly the canonical decimal text of an `i64`.
fn integer(text: &[u8]) {
    if let Ok(n) = parse_i64(text) {
        assert_eq!(n.to_string().as_bytes(), text);
    }
    if let Some(head) = text.first_chunk::<8>() {
        let n = i64::from_le_bytes(*head);
        assert_eq!(parse_i64(n.to_string().as_bytes()).ok(), Some(n));
    }
}

/// `string2d` never gives NaN, and gives infinity only when the text says so (an overflow is
/// refused); it agrees with `strtod`, which reads scores and score bounds.
fn double(text: &[u8]) {
    let read = strtod(text);
    if let Some(r) = read {
        if r.out_of_range {
            assert!(r.value.is_infinite() || r.value == 0.0, "{r:?}");
        }
    }
    if let Ok(v) = parse_f64(text) {
        assert!(!v.is_nan());
        let r = read.expect("what string2d reads, strtod reads");
        assert_eq!(r.value.to_bits(), v.to_bits());
        if v.is_infinite() {
            let lower = text.to_ascii_lowercase();
            assert!(
                lower.ends_with(b"inf") || lower.ends_with(b"infinity"),
                "{text:?}"
            );
        }
    }
}

/// A long double prints as Redis prints it (`%.17Lf`, trimmed), and that text reads back as a
/// value that prints the same: a client storing back what INCRBYFLOAT answered sees no drift.
/// Adding zero changes nothing printed.
fn long_double(text: &[u8]) {
    let Some(Parsed::Finite(v)) = LongDouble::parse(text) else {
        return;
    };
    let printed = v.to_redis_string();
    match LongDouble::parse(printed.as_bytes()) {
        Some(Parsed::Finite(again)) => assert_eq!(again.to_redis_string(), printed),
        other => panic!("{printed:?} (printed from {v:?}) reads back as {other:?}"),
    }
    let plus_zero = v.add(&LongDouble::ZERO).expect("adding zero is finite");
    assert_eq!(plus_zero.to_redis_string(), printed);
}

/// Index ranges, from integer lines and from raw bytes. A resolved range lies inside the length.
fn range(first: &[u8], second: &[u8], data: &[u8]) {
    if let (Ok(start), Ok(stop)) = (parse_i64(first), parse_i64(second)) {
        check_range(start, stop, data.len() as u64);
    }
    if let Some(raw) = data.first_chunk::<24>() {
        let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
        // A length is an element count: never near 2^63.
        check_range(word(0) as i64, word(1) as i64, word(2) & i64::MAX as u64);
    }
}

fn check_range(start: i64, stop: i64, len: u64) {
    let inside = 0 <= start && start <= stop && (stop as u64) < len;
    match resolve_range(start, stop, len) {
        Some((from, to)) => {
            assert!(from <= to && to < len, "{start} {stop} of {len}");
            if inside {
                assert_eq!((from, to), (start as u64, stop as u64));
            }
        }
        None => assert!(!inside, "{start} {stop} of {len}: empty"),
    }
}

/// Glob patterns: `*` matches any non-empty text (an empty text matches only the empty
/// pattern, as in Redis's stringmatchlen), a pattern without special bytes matches only itself,
/// and a text with every byte escaped matches only itself.
fn glob(pattern: &[u8], text: &[u8]) {
    let pattern = &pattern[..pattern.len().min(MAX_GLOB_LEN)];
    let text = &text[..text.len().min(MAX_GLOB_LEN)];
    if pattern.iter().filter(|&&b| b == b'*').count() <= MAX_GLOB_STARS {
        glob_match(pattern, text);
    }
    assert_eq!(glob_match(b"*", text), !text.is_empty());
    let literal = !pattern.iter().any(|b| b"*?[\\".contains(b));
    if literal {
        assert_eq!(glob_match(pattern, text), pattern == text);
    }
    let escaped: Vec<u8> = text.iter().flat_map(|&b| [b'\\', b]).collect();
    assert!(glob_match(&escaped, text), "{escaped:?}");
    if text != pattern {
        assert!(!glob_match(&escaped, pattern), "{escaped:?} {pattern:?}");
    }
}
