//! Redis's glob-style patterns (KEYS, the SCAN family's MATCH, CONFIG GET), answering exactly
//! what Redis 7's `stringmatchlen` (util.c) answers, in O(len(pattern) * len(text)) time.
//!
//! Redis matches by recursion on every `*`; a matcher that backtracks into every `*` takes
//! exponential time on a pattern such as `a*a*a*...*b` against a long run of `a` (Kiwi's first one
//! did, and froze the worker that ran it). Here a `*` is matched greedily with a single remembered
//! backtrack point, the last `*` seen:
//! every other element consumes exactly one byte, so when a later `*` is reached, giving an
//! earlier `*` more bytes can never help (the later one can absorb them instead).
//!
//! Elements, as `stringmatchlen` reads them:
//! - `*` any run of bytes (consecutive stars are one);
//! - `?` any one byte;
//! - `[...]` one byte in the class: `^` first negates it, `\x` is `x` itself (case-sensitive
//!   even in the no-case variant), `a-z` is a range either way round and compares bytes as C's
//!   signed `char` of x86-64 (so `[a-\xff]` is `\xff..=a`, which holds `5` but not `\xe9`); an
//!   unterminated class ends with the pattern, and a lone `[` at the end matches nothing;
//! - `\x` is `x`; a trailing `\` is itself;
//! - any other byte is itself.
//!
//! Two quirks of Redis are kept on purpose: an empty text matches only the empty pattern (`**`
//! does not match an empty member; KEYS and SCAN skip matching for the pattern `*` alone, see
//! their callers), and a pattern needing more than 1000 nested `*` (Redis's recursion limit,
//! CVE-2024-31228) matches nothing.

/// Redis's recursion limit in `stringmatchlen_impl`: a call nested deeper answers "no match".
const MAX_NESTING: usize = 1000;

/// Case-sensitive match (KEYS, SCAN MATCH, HSCAN, SSCAN, ZSCAN).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    string_match::<false>(pattern, text)
}

/// Case-insensitive match, Redis's `nocase` variant (CONFIG GET). Only ASCII letters fold, as C's
/// `tolower` does in the "C" locale Redis runs its matching in.
pub fn glob_match_nocase(pattern: &[u8], text: &[u8]) -> bool {
    string_match::<true>(pattern, text)
}

fn string_match<const NOCASE: bool>(p: &[u8], t: &[u8]) -> bool {
    // Redis's loop runs only while both pattern and text are left.
    if t.is_empty() {
        return p.is_empty();
    }
    if nested_stars(p) > MAX_NESTING {
        return false;
    }
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen: where the pattern resumes after it, and the text position it was last
    // tried at. Retrying means giving the star one more byte.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            if p[pi] == b'*' {
                while pi < p.len() && p[pi] == b'*' {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                star = Some((pi, ti));
                continue;
            }
            if let Some(&c) = t.get(ti) {
                let (matched, next) = match p[pi] {
                    b'?' | b'[' | b'\\' => element(p, pi, c, NOCASE),
                    b => (same(b, c, NOCASE), pi + 1),
                };
                if matched {
                    pi = next;
                    ti += 1;
                    continue;
                }
            }
        } else if ti == t.len() {
            return true;
        }
        match star {
            Some((resume, tried)) if tried < t.len() => {
                star = Some((resume, tried + 1));
                pi = resume;
                ti = tried + 1;
            }
            _ => return false,
        }
    }
}

/// How deep Redis's recursion goes to match `p`: the number of `*` runs before the last element
/// that consumes a byte. A run after it ends the match without a nested call.
fn nested_stars(p: &[u8]) -> usize {
    let (mut pi, mut runs, mut before_last) = (0, 0, 0);
    while pi < p.len() {
        if p[pi] == b'*' {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            runs += 1;
        } else {
            before_last = runs;
            pi = element(p, pi, 0, false).1;
        }
    }
    before_last
}

/// Matches the one-byte element at `p[pi]` (anything but `*`) against `c`; returns whether it
/// matched and where the next element starts. The element's extent never depends on `c`.
fn element(p: &[u8], pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => class(p, pi + 1, c, nocase),
        b'\\' if pi + 1 < p.len() => (same(p[pi + 1], c, nocase), pi + 2),
        b => (same(b, c, nocase), pi + 1),
    }
}

/// The class whose body starts at `p[i]` (just after `[`), as `stringmatchlen` walks it.
fn class(p: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = p.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        let left = p.len() - i;
        if left >= 2 && p[i] == b'\\' {
            i += 1;
            matched |= p[i] == c;
        } else if left >= 1 && p[i] == b']' {
            break;
        } else if left == 0 {
            // Unterminated: the class ends with the pattern.
            return (matched != negate, p.len());
        } else if left >= 3 && p[i + 1] == b'-' {
            let (mut lo, mut hi) = (signed(p[i]), signed(p[i + 2]));
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let mut c = signed(c);
            if nocase {
                (lo, hi, c) = (to_lower(lo), to_lower(hi), to_lower(c));
            }
            matched |= lo <= c && c <= hi;
            i += 2;
        } else {
            matched |= same(p[i], c, nocase);
        }
        i += 1;
    }
    (matched != negate, i + 1)
}

/// A byte as the signed `char` Redis compares ranges with (x86-64).
fn signed(b: u8) -> i32 {
    b as i8 as i32
}

/// C's `tolower` in the "C" locale: only `A`-`Z` fold.
fn to_lower(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[inline]
fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn stars_questions_and_literals() {
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:age"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("a**b", "ab"));
        assert!(m("a*", "a"));
        assert!(m("*b", "ab"));
        assert!(!m("*b", "ba"));
        assert!(m("*ab", "aab"), "the star retries after a partial match");
        assert!(m("*aab", "aaab"));
        assert!(!m("abc", "ab"));
        assert!(!m("ab", "abc"));
    }

    #[test]
    fn escapes() {
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
        assert!(m("a\\", "a\\"), "a trailing backslash is itself");
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(m("h[a-c]llo", "hbllo"));
        assert!(m("h[c-a]llo", "hbllo"), "ranges either way round");
        assert!(!m("h[a-c]llo", "hdllo"));
        assert!(m("[\\]]", "]"));
        assert!(
            !m("[]]", "]"),
            "an empty class, which matches nothing, then `]`"
        );
        assert!(m("[\\-]", "-"));
        assert!(
            m("[a-]", "_"),
            "`a-]` is the range `]`..=`a`, and the class is unterminated"
        );
        assert!(m("[a-", "a"), "unterminated: the members are `a` and `-`");
        assert!(m("[a-", "-"));
        assert!(!m("[a-", "b"));
        assert!(m("*[^]", "]"), "`[^]` negates the empty class: any byte");
        assert!(m("*[^]", "x]"));
        assert!(!m("[", "["), "a lone `[` at the end matches nothing");
        assert!(!m("[", "a"));
        assert!(m("[^", "x"), "`[^` at the end matches any byte");
        assert!(m("[s", "s"));
        assert!(!m("[s", "t"));
        assert!(
            m("[a\\", "\\"),
            "a backslash ending an unterminated class is itself"
        );
    }

    #[test]
    fn ranges_compare_signed_chars() {
        assert!(glob_match(b"[a-\xff]", b"5"));
        assert!(!glob_match(b"[a-\xff]", b"\xe9"));
        assert!(glob_match(b"[\x80-\xff]", b"\xe9"));
        assert!(glob_match(b"\xe9", b"\xe9"));
    }

    #[test]
    fn empty_text_matches_only_the_empty_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn nesting_is_limited_as_in_redis() {
        let text = "a".repeat(1002);
        assert!(m(&("a*".repeat(1000) + "a"), &text));
        assert!(!m(&("a*".repeat(1001) + "a"), &text));
        assert!(
            m(&("a*".repeat(1001)), &text),
            "trailing stars nest no call"
        );
    }

    #[test]
    fn nocase() {
        assert!(glob_match_nocase(b"MAXMEMORY*", b"maxmemory-policy"));
        assert!(glob_match_nocase(b"[A-Z]ave", b"save"));
        assert!(
            !glob_match_nocase(b"[Z-a]ave", b"save"),
            "folded after swapping: `z`..=`a`"
        );
        assert!(
            !glob_match_nocase(b"[\\S]ave", b"save"),
            "escapes in a class keep case"
        );
        assert!(glob_match_nocase(b"\\Save", b"save"));
        assert!(!glob_match(b"SAVE", b"save"));
    }

    #[test]
    fn nested_stars_finish_in_linear_passes() {
        let text = "a".repeat(40);
        assert!(!m(&("a*".repeat(20) + "b"), &text));
        let long = "a".repeat(100_000);
        assert!(!m(&("*a".repeat(500) + "*b"), &long));
        assert!(m(&("*a".repeat(500) + "*"), &long));
    }
}
