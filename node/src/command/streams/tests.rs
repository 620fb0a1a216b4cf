//! Stream commands run against a real RocksDB, the way the applier runs them. Replies are
//! shown compactly: bulks as text, arrays and maps in brackets, `nil` for nils.

use crate::command::testing::TestDb;
use crate::resp::Reply;

fn show(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Simple(s) => s.clone(),
        Reply::Error(e) => format!("!{e}"),
        Reply::Int(n) => n.to_string(),
        Reply::Nil | Reply::NilArray => "nil".into(),
        Reply::Array(items) | Reply::Set(items) => {
            format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" "))
        }
        Reply::Map(pairs) | Reply::Pairs(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", show(k), show(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => format!("{other:?}"),
    }
}

fn run(t: &mut TestDb, line: &str) -> String {
    show(&t.run(line))
}

/// A map reply's field, shown.
fn field(t: &mut TestDb, line: &str, name: &str) -> String {
    match t.run(line) {
        Reply::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| show(k) == name)
            .map(|(_, v)| show(v))
            .unwrap_or_else(|| panic!("no {name} in {line}")),
        other => panic!("{line}: {}", show(&other)),
    }
}

#[test]
fn xadd_ids_explicit_automatic_and_their_errors() {
    let mut t = TestDb::new();
    assert_eq!(run(&mut t, "XADD s 1-1 f v"), "1-1");
    assert_eq!(run(&mut t, "XADD s 1-* f v"), "1-2");
    assert_eq!(run(&mut t, "XADD s 5-* f v"), "5-0");
    assert_eq!(
        run(&mut t, "XADD s 5-0 f v"),
        "!ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        run(&mut t, "XADD s 0-0 f v"),
        "!ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        run(&mut t, "XADD s 0 f v"),
        "!ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        run(&mut t, "XADD s 6-0 f"),
        "!ERR wrong number of arguments for 'xadd' command"
    );
    assert_eq!(
        run(&mut t, "XADD s x-0 f v"),
        "!ERR Invalid stream ID specified as stream command argument"
    );
    // `*` takes the mutation's clock, or the next sequence when the clock is behind.
    t.now_ms = 7;
    assert_eq!(run(&mut t, "XADD s * f v"), "7-0");
    assert_eq!(run(&mut t, "XADD s * f v"), "7-1");
    t.now_ms = 3;
    assert_eq!(run(&mut t, "XADD s * f v"), "7-2");
    assert_eq!(run(&mut t, "XADD nope NOMKSTREAM * f v"), "nil");
    assert_eq!(run(&mut t, "EXISTS nope"), "0");
    assert_eq!(run(&mut t, "XLEN s"), "6");
    assert_eq!(run(&mut t, "TYPE s"), "stream");
    assert_eq!(run(&mut t, "OBJECT ENCODING s"), "stream");
    t.run("SET str x");
    assert_eq!(
        run(&mut t, "XADD str * f v"),
        "!WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        run(
            &mut t,
            "XADD s 18446744073709551615-18446744073709551615 f v"
        ),
        "18446744073709551615-18446744073709551615"
    );
    assert_eq!(
        run(&mut t, "XADD s * f v"),
        "!ERR The stream has exhausted the last possible ID, unable to add more items"
    );
}

#[test]
fn ranges_both_ways_with_exclusive_bounds_and_count() {
    let mut t = TestDb::new();
    for i in 1..=5 {
        t.run(&format!("XADD s {i}-0 n {i}"));
    }
    assert_eq!(
        run(&mut t, "XRANGE s - + COUNT 2"),
        "[[1-0 [n 1]] [2-0 [n 2]]]"
    );
    assert_eq!(run(&mut t, "XRANGE s (2-0 4"), "[[3-0 [n 3]] [4-0 [n 4]]]");
    assert_eq!(run(&mut t, "XREVRANGE s + (4-0"), "[[5-0 [n 5]]]");
    assert_eq!(
        run(&mut t, "XREVRANGE s (4 - COUNT 1"),
        "[[4-0 [n 4]]]",
        "an exclusive end without a sequence excludes only 4-18446744073709551615"
    );
    assert_eq!(run(&mut t, "XRANGE s - + COUNT 0"), "nil");
    assert_eq!(run(&mut t, "XRANGE nokey - + COUNT 0"), "[]");
    assert_eq!(run(&mut t, "XRANGE s 4 2"), "[]");
    assert_eq!(run(&mut t, "XRANGE s - + COUNT"), "!ERR syntax error");
    assert_eq!(
        run(&mut t, "XRANGE s (- +"),
        "!ERR Invalid stream ID specified as stream command argument"
    );
}

#[test]
fn xdel_keeps_an_empty_stream_and_records_the_largest_deleted_id() {
    let mut t = TestDb::new();
    t.run("XADD s 1-0 a 1");
    t.run("XADD s 2-0 a 2");
    assert_eq!(run(&mut t, "XDEL s 2-0 2-0 9-9"), "1");
    assert_eq!(
        run(&mut t, "XDEL s 1-0 bad"),
        "!ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(run(&mut t, "XLEN s"), "1", "nothing deleted on a bad ID");
    assert_eq!(run(&mut t, "XDEL s 1-0"), "1");
    assert_eq!(run(&mut t, "XLEN s"), "0");
    assert_eq!(run(&mut t, "EXISTS s"), "1", "an empty stream stays");
    assert_eq!(
        field(&mut t, "XINFO STREAM s", "max-deleted-entry-id"),
        "2-0"
    );
    assert_eq!(field(&mut t, "XINFO STREAM s", "last-generated-id"), "2-0");
    assert_eq!(
        field(&mut t, "XINFO STREAM s", "recorded-first-entry-id"),
        "0-0"
    );
    assert_eq!(field(&mut t, "XINFO STREAM s", "first-entry"), "nil");
    assert_eq!(run(&mut t, "XDEL nokey 1-0"), "0");
    assert_eq!(run(&mut t, "DEL s"), "1");
    assert_eq!(run(&mut t, "XLEN s"), "0");
}

#[test]
fn exact_trimming_and_the_node_granularity_of_approximate_trimming() {
    let mut t = TestDb::new();
    for i in 1..=10 {
        t.run(&format!("XADD s {i}-0 f v"));
    }
    assert_eq!(run(&mut t, "XTRIM s MAXLEN 7"), "3");
    assert_eq!(run(&mut t, "XRANGE s - + COUNT 1"), "[[4-0 [f v]]]");
    assert_eq!(run(&mut t, "XTRIM s MINID 6"), "2");
    assert_eq!(
        run(&mut t, "XTRIM s MAXLEN ~ 1"),
        "0",
        "the only node is kept"
    );
    assert_eq!(run(&mut t, "XLEN s"), "5");
    // Redis's test: nodes of 100 entries, each XADD trimming to about 555: 600 are left.
    let mut t = TestDb::new();
    for i in 0..1000 {
        t.run(&format!("XADD big MAXLEN ~ 555 {}-0 item {i}", i + 1));
    }
    assert_eq!(run(&mut t, "XLEN big"), "600");
    assert_eq!(run(&mut t, "XTRIM big MAXLEN ~ 0 LIMIT 150"), "100");
    assert_eq!(run(&mut t, "XTRIM big MAXLEN = 250"), "250");
    assert_eq!(
        run(&mut t, "XRANGE big - + COUNT 1"),
        "[[751-0 [item 750]]]"
    );
    // The node of 701..800 holds 751..800 now: it goes whole once its last ID is below.
    assert_eq!(run(&mut t, "XTRIM big MINID ~ 800"), "0");
    assert_eq!(run(&mut t, "XTRIM big MINID ~ 801"), "50");
    for (line, error) in [
        (
            "XTRIM s MAXLEN 1 LIMIT 10",
            "!ERR syntax error, LIMIT cannot be used without the special ~ option",
        ),
        (
            "XTRIM s LIMIT 10",
            "!ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ),
        (
            "XTRIM s LIMIT 0",
            "!ERR syntax error, XTRIM must be called with a trimming strategy",
        ),
        (
            "XTRIM s MAXLEN 1 MINID 1",
            "!ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
        ),
        (
            "XTRIM s MAXLEN -1",
            "!ERR The MAXLEN argument must be >= 0.",
        ),
        (
            "XTRIM s MAXLEN ~ 1 LIMIT -1",
            "!ERR The LIMIT argument must be >= 0.",
        ),
        ("XTRIM s FOO 1", "!ERR syntax error"),
        (
            "XADD s LIMIT 5 * f v",
            "!ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ),
    ] {
        assert_eq!(run(&mut t, line), error, "{line}");
    }
}

#[test]
fn xsetid_checks_and_sets_the_stream_counters() {
    let mut t = TestDb::new();
    t.run("XADD s 5-0 f v");
    assert_eq!(run(&mut t, "XSETID nokey 1-0"), "!ERR no such key");
    assert_eq!(
        run(&mut t, "XSETID s 4-0"),
        "!ERR The ID specified in XSETID is smaller than the target stream top item"
    );
    assert_eq!(
        run(&mut t, "XSETID s 9-0 ENTRIESADDED 0"),
        "!ERR The entries_added specified in XSETID is smaller than the target stream length"
    );
    assert_eq!(
        run(&mut t, "XSETID s 9-0 MAXDELETEDID 10-0"),
        "!ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
    );
    assert_eq!(
        run(&mut t, "XSETID s 9-0 ENTRIESADDED 7 MAXDELETEDID 8-0"),
        "OK"
    );
    assert_eq!(field(&mut t, "XINFO STREAM s", "entries-added"), "7");
    // Redis 7.0 does not hold the ID to the current max deleted ID.
    assert_eq!(run(&mut t, "XSETID s 7-0"), "OK");
    assert_eq!(run(&mut t, "XSETID s 9-0"), "OK");
    assert!(run(&mut t, "XADD s 9-0 f v").starts_with('!'));
    assert_eq!(run(&mut t, "XADD s * f v"), "1700000000000-0");
}

#[test]
fn a_group_delivers_tracks_pending_and_is_acknowledged() {
    let mut t = TestDb::new();
    t.run("XADD s 1-0 a 1");
    t.run("XADD s 2-0 a 2");
    t.run("XADD s 3-0 a 3");
    assert_eq!(run(&mut t, "XGROUP CREATE s g 0"), "OK");
    assert_eq!(
        run(&mut t, "XGROUP CREATE s g $"),
        "!BUSYGROUP Consumer Group name already exists"
    );
    assert_eq!(
        run(&mut t, "XREADGROUP GROUP g alice COUNT 2 STREAMS s >"),
        "[[s [[1-0 [a 1]] [2-0 [a 2]]]]]"
    );
    t.now_ms += 100;
    assert_eq!(
        run(&mut t, "XREADGROUP GROUP g bob STREAMS s >"),
        "[[s [[3-0 [a 3]]]]]"
    );
    assert_eq!(run(&mut t, "XREADGROUP GROUP g bob STREAMS s >"), "nil");
    assert_eq!(
        run(&mut t, "XPENDING s g"),
        "[3 1-0 3-0 [[alice 2] [bob 1]]]"
    );
    assert_eq!(
        run(&mut t, "XPENDING s g - + 10"),
        "[[1-0 alice 100 1] [2-0 alice 100 1] [3-0 bob 0 1]]"
    );
    assert_eq!(
        run(&mut t, "XPENDING s g IDLE 50 - + 10"),
        "[[1-0 alice 100 1] [2-0 alice 100 1]]"
    );
    assert_eq!(run(&mut t, "XPENDING s g - + 10 bob"), "[[3-0 bob 0 1]]");
    // History: the consumer's own pending entries, each delivered once more.
    assert_eq!(
        run(&mut t, "XREADGROUP GROUP g alice STREAMS s 0"),
        "[[s [[1-0 [a 1]] [2-0 [a 2]]]]]"
    );
    assert_eq!(run(&mut t, "XPENDING s g - 1-0 1"), "[[1-0 alice 0 2]]");
    assert_eq!(run(&mut t, "XACK s g 1-0 1-0 9-0"), "1");
    assert_eq!(run(&mut t, "XACK s nogroup 1-0"), "0");
    t.run("XDEL s 2-0");
    assert_eq!(
        run(&mut t, "XREADGROUP GROUP g alice STREAMS s 0"),
        "[[s [[2-0 nil]]]]",
        "a deleted pending entry comes back as nil"
    );
    assert_eq!(
        run(&mut t, "XINFO GROUPS s"),
        "[{name=g consumers=2 pending=2 last-delivered-id=3-0 entries-read=3 lag=0}]"
    );
    assert_eq!(
        run(&mut t, "XREADGROUP GROUP nog c STREAMS s >"),
        "!NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option"
    );
    assert_eq!(run(&mut t, "XGROUP DELCONSUMER s g alice"), "1");
    assert_eq!(run(&mut t, "XPENDING s g"), "[1 3-0 3-0 [[bob 1]]]");
    assert_eq!(run(&mut t, "XGROUP DESTROY s g"), "1");
    assert_eq!(run(&mut t, "XGROUP DESTROY s g"), "0");
    assert_eq!(
        run(&mut t, "XPENDING s g"),
        "!NOGROUP No such key 's' or consumer group 'g'"
    );
}

#[test]
fn claims_move_pending_entries_and_autoclaim_reports_deleted_ones() {
    let mut t = TestDb::new();
    for i in 1..=4 {
        t.run(&format!("XADD s {i}-0 n {i}"));
    }
    t.run("XGROUP CREATE s g 0");
    t.run("XREADGROUP GROUP g a STREAMS s >");
    t.now_ms += 1000;
    assert_eq!(
        run(&mut t, "XCLAIM s g b 5000 1-0"),
        "[]",
        "not idle enough"
    );
    assert_eq!(run(&mut t, "XCLAIM s g b 500 1-0 JUSTID"), "[1-0]");
    assert_eq!(run(&mut t, "XPENDING s g - 1-0 1"), "[[1-0 b 0 1]]");
    assert_eq!(
        run(&mut t, "XCLAIM s g b 0 2-0 IDLE 300 RETRYCOUNT 7"),
        "[[2-0 [n 2]]]"
    );
    assert_eq!(run(&mut t, "XPENDING s g 2-0 2-0 1"), "[[2-0 b 300 7]]");
    t.run("XDEL s 3-0");
    assert_eq!(
        run(&mut t, "XAUTOCLAIM s g c 0 0 COUNT 2"),
        "[3-0 [[1-0 [n 1]] [2-0 [n 2]]] []]"
    );
    assert_eq!(
        run(&mut t, "XAUTOCLAIM s g c 0 3-0 JUSTID"),
        "[0-0 [4-0] [3-0]]"
    );
    assert_eq!(run(&mut t, "XPENDING s g"), "[3 1-0 4-0 [[c 3]]]");
    assert_eq!(
        run(&mut t, "XCLAIM s g d 0 9-0 FORCE"),
        "[]",
        "FORCE claims only entries there are"
    );
    t.run("XADD s 9-0 n 9");
    assert_eq!(run(&mut t, "XCLAIM s g d 0 9-0 FORCE JUSTID"), "[9-0]");
    assert_eq!(run(&mut t, "XPENDING s g 9-0 9-0 1"), "[[9-0 d 0 1]]");
    assert_eq!(
        run(&mut t, "XCLAIM s g d 0 9-0 BOGUS"),
        "!ERR Unrecognized XCLAIM option 'BOGUS'"
    );
    assert_eq!(
        run(&mut t, "XAUTOCLAIM s g d 0 0 COUNT 0"),
        "!ERR COUNT must be > 0"
    );
    assert_eq!(
        run(&mut t, "XINFO CONSUMERS s g"),
        "[{name=a pending=0 idle=1000} {name=b pending=0 idle=0} {name=c pending=3 idle=0} {name=d pending=1 idle=0}]"
    );
}

#[test]
fn xread_serves_what_is_newer_and_answers_nil_otherwise() {
    let mut t = TestDb::new();
    t.run("XADD a 1-0 f 1");
    t.run("XADD a 2-0 f 2");
    t.run("XADD b 1-0 g 1");
    assert_eq!(
        run(&mut t, "XREAD COUNT 1 STREAMS a b 0 1-0"),
        "[[a [[1-0 [f 1]]]]]"
    );
    assert_eq!(run(&mut t, "XREAD STREAMS a b $ $"), "nil");
    assert_eq!(run(&mut t, "XREAD BLOCK 100 STREAMS a nokey 2-0 0"), "nil");
    assert_eq!(
        run(&mut t, "XREAD STREAMS a >"),
        "!ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    );
    assert_eq!(
        run(&mut t, "XREAD STREAMS a b 0"),
        "!ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    );
    assert_eq!(
        run(&mut t, "XREAD BLOCK -1 STREAMS a 0"),
        "!ERR timeout is negative"
    );
}

#[test]
fn xinfo_stream_full_and_lag_after_deletions() {
    let mut t = TestDb::new();
    for i in 1..=3 {
        t.run(&format!("XADD s {i}-0 n {i}"));
    }
    t.run("XGROUP CREATE s g 0");
    t.run("XREADGROUP GROUP g a COUNT 1 STREAMS s >");
    assert_eq!(field(&mut t, "XINFO STREAM s", "length"), "3");
    assert_eq!(field(&mut t, "XINFO STREAM s", "groups"), "1");
    assert_eq!(field(&mut t, "XINFO STREAM s", "last-entry"), "[3-0 [n 3]]");
    assert_eq!(
        run(&mut t, "XINFO GROUPS s"),
        "[{name=g consumers=1 pending=1 last-delivered-id=1-0 entries-read=1 lag=2}]"
    );
    // A deletion ahead of the group makes its lag unknown.
    t.run("XDEL s 2-0");
    assert_eq!(
        run(&mut t, "XINFO GROUPS s"),
        "[{name=g consumers=1 pending=1 last-delivered-id=1-0 entries-read=1 lag=nil}]"
    );
    let now = t.now_ms;
    assert_eq!(
        field(&mut t, "XINFO STREAM s FULL", "groups"),
        format!(
            "[{{name=g last-delivered-id=1-0 entries-read=1 lag=nil pel-count=1 pending=[[1-0 a {now} 1]] consumers=[{{name=a seen-time={now} pel-count=1 pending=[[1-0 {now} 1]]}}]}}]"
        )
    );
    assert_eq!(
        field(&mut t, "XINFO STREAM s FULL COUNT 1", "entries"),
        "[[1-0 [n 1]]]"
    );
    assert_eq!(run(&mut t, "XINFO STREAM nokey"), "!ERR no such key");
    assert_eq!(
        run(&mut t, "XINFO FOO s"),
        "!ERR unknown subcommand 'FOO'. Try XINFO HELP."
    );
    assert_eq!(
        run(&mut t, "XINFO GROUPS"),
        "!ERR wrong number of arguments for 'xinfo|groups' command"
    );
    assert_eq!(
        run(&mut t, "XINFO STREAM s FULL COUNT"),
        "!ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    );
}

#[test]
fn xgroup_errors_in_redis_order() {
    let mut t = TestDb::new();
    assert_eq!(
        run(&mut t, "XGROUP CREATE s g $"),
        "!ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    assert_eq!(run(&mut t, "XGROUP CREATE s g $ MKSTREAM"), "OK");
    assert_eq!(run(&mut t, "XLEN s"), "0");
    assert_eq!(
        run(&mut t, "XGROUP SETID s nog 0"),
        "!NOGROUP No such consumer group 'nog' for key name 's'"
    );
    assert_eq!(
        run(&mut t, "XGROUP CREATE s g2 $ ENTRIESREAD -2"),
        "!ERR value for ENTRIESREAD must be positive or -1"
    );
    assert_eq!(
        run(&mut t, "XGROUP CREATE s g2 $ FOO"),
        "!ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."
    );
    assert_eq!(
        run(&mut t, "XGROUP CREATE s"),
        "!ERR wrong number of arguments for 'xgroup|create' command"
    );
    assert_eq!(run(&mut t, "XGROUP CREATECONSUMER s g c"), "1");
    assert_eq!(run(&mut t, "XGROUP CREATECONSUMER s g c"), "0");
    assert_eq!(run(&mut t, "XGROUP SETID s g 5-0 ENTRIESREAD 3"), "OK");
    assert!(run(&mut t, "XGROUP HELP").starts_with("[XGROUP <subcommand>"));
}
