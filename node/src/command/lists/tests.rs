use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::command::testing::{bulk, bulks, err, int, TestDb};
use crate::command::{flags, lookup};
use crate::resp::Reply;
use crate::storage::Cf;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn ints(items: &[i64]) -> Reply {
    Reply::Array(items.iter().map(|&n| int(n)).collect())
}

fn empty() -> Reply {
    Reply::Array(Vec::new())
}

/// Number of list elements stored in database 0, to catch leaked or missing entries.
fn stored_elements(t: &TestDb) -> usize {
    t.db.reader()
        .scan(Cf::List, &[0], &[1], false)
        .unwrap()
        .count()
}

#[test]
fn table_matches_redis() {
    let spec = |n: &str| lookup(n.as_bytes()).unwrap();
    for name in ["lpush", "rpush", "lpushx", "rpushx"] {
        assert_eq!(spec(name).arity, -3);
        assert_eq!(
            spec(name).flags,
            flags::WRITE | flags::DENYOOM | flags::FAST
        );
    }
    assert_eq!(spec("lpop").flags, flags::WRITE | flags::FAST);
    assert_eq!(spec("llen").flags, flags::READONLY | flags::FAST);
    assert_eq!(spec("lrange").flags, flags::READONLY);
    assert_eq!(spec("lpos").arity, -3);
    assert_eq!(spec("lmove").keys, (1, 2, 1));
    assert_eq!(spec("rpoplpush").keys, (1, 2, 1));
    assert_eq!(spec("rpoplpush").key_indexes(3), vec![1, 2]);
    assert_eq!(spec("linsert").key_indexes(5), vec![1]);
}

#[test]
fn push_and_length() {
    let mut t = TestDb::new();
    assert_eq!(t.run("LPUSH k a b c"), int(3));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["c", "b", "a"]));
    assert_eq!(t.run("RPUSH k d e"), int(5));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["c", "b", "a", "d", "e"]));
    assert_eq!(t.run("LLEN k"), int(5));
    assert_eq!(t.run("LLEN missing"), int(0));
    assert_eq!(t.run("LPUSHX missing a"), int(0));
    assert_eq!(t.run("RPUSHX missing a"), int(0));
    assert_eq!(t.run("EXISTS missing"), int(0));
    assert_eq!(t.run("LPUSHX k x y"), int(7));
    assert_eq!(t.run("RPUSHX k z"), int(8));
    assert_eq!(
        t.run("LRANGE k 0 -1"),
        bulks(&["y", "x", "c", "b", "a", "d", "e", "z"])
    );
    assert_eq!(t.run("TYPE k"), Reply::Simple("list".into()));
    assert_eq!(
        t.run("LPUSH k"),
        err("ERR wrong number of arguments for 'lpush' command")
    );
    assert_eq!(
        t.run("RPUSHX k"),
        err("ERR wrong number of arguments for 'rpushx' command")
    );
    assert_eq!(
        t.run("LLEN k extra"),
        err("ERR wrong number of arguments for 'llen' command")
    );
    assert_eq!(t.run("RPUSH bin \"\\x00\\xff\" \"\""), int(2));
    assert_eq!(
        t.run("LRANGE bin 0 -1"),
        Reply::Array(vec![Reply::bulk(&b"\x00\xff"[..]), bulk("")])
    );
    assert_eq!(stored_elements(&t), 10);
}

#[test]
fn pops_with_and_without_count() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b c d e");
    assert_eq!(t.run("LPOP k"), bulk("a"));
    assert_eq!(t.run("RPOP k"), bulk("e"));
    assert_eq!(t.run("LPOP k 0"), empty());
    assert_eq!(t.run("RPOP k 2"), bulks(&["d", "c"]));
    assert_eq!(t.run("LPOP k 10"), bulks(&["b"]));
    assert_eq!(t.run("EXISTS k"), int(0), "an emptied list is deleted");
    assert_eq!(t.run("LPOP k"), Reply::Nil);
    assert_eq!(t.run("RPOP k"), Reply::Nil);
    assert_eq!(t.run("LPOP k 2"), Reply::NilArray);
    assert_eq!(t.run("RPOP k 0"), Reply::NilArray);
    assert_eq!(stored_elements(&t), 0);

    t.run("RPUSH k a b c");
    assert_eq!(t.run("LPOP k 2"), bulks(&["a", "b"]));
    assert_eq!(t.run("RPOP k 1"), bulks(&["c"]));
    assert_eq!(t.run("EXISTS k"), int(0));

    let positive = err("ERR value is out of range, must be positive");
    t.run("RPUSH k a");
    assert_eq!(t.run("LPOP k -1"), positive);
    assert_eq!(t.run("RPOP k abc"), positive);
    assert_eq!(t.run("LPOP missing -1"), positive);
    assert_eq!(t.run("LPOP k 1000000000000000000000"), positive);
    assert_eq!(
        t.run("LPOP k 1 2"),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(
        t.run("RPOP"),
        err("ERR wrong number of arguments for 'rpop' command")
    );
    t.run("SET s x");
    assert_eq!(t.run("LPOP s"), err(WRONGTYPE));
    assert_eq!(t.run("RPOP s 0"), err(WRONGTYPE));
    assert_eq!(
        t.run("LPOP s -1"),
        positive,
        "the count is checked before the type"
    );
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["a"]));
}

#[test]
fn many_elements_pop_with_range_deletes() {
    let mut t = TestDb::new();
    let values: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    t.run(&format!("RPUSH k {}", values.join(" ")));
    let popped = t.run("LPOP k 50");
    assert_eq!(
        popped,
        bulks(&values[..50].iter().map(String::as_str).collect::<Vec<_>>())
    );
    let popped = t.run("RPOP k 50");
    let expect: Vec<&str> = values[150..].iter().rev().map(String::as_str).collect();
    assert_eq!(popped, bulks(&expect));
    assert_eq!(t.run("LLEN k"), int(100));
    assert_eq!(t.run("LINDEX k 0"), bulk("50"));
    assert_eq!(t.run("LINDEX k -1"), bulk("149"));
    assert_eq!(stored_elements(&t), 100);
    t.run("LPUSH k a");
    assert_eq!(t.run("LRANGE k 0 1"), bulks(&["a", "50"]));
}

#[test]
fn lrange_and_lindex_indexes() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b c d e");
    assert_eq!(t.run("LRANGE k 0 0"), bulks(&["a"]));
    assert_eq!(t.run("LRANGE k -3 2"), bulks(&["c"]));
    assert_eq!(t.run("LRANGE k -2 -1"), bulks(&["d", "e"]));
    assert_eq!(
        t.run("LRANGE k -100 100"),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(t.run("LRANGE k 1 -2"), bulks(&["b", "c", "d"]));
    assert_eq!(t.run("LRANGE k 3 1"), empty());
    assert_eq!(t.run("LRANGE k 5 10"), empty());
    assert_eq!(t.run("LRANGE k -10 -6"), empty());
    assert_eq!(t.run("LRANGE missing 0 -1"), empty());
    assert_eq!(
        t.run("LRANGE k a 1"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("LRANGE missing 0 b"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("LRANGE k 0"),
        err("ERR wrong number of arguments for 'lrange' command")
    );

    assert_eq!(t.run("LINDEX k 0"), bulk("a"));
    assert_eq!(t.run("LINDEX k 4"), bulk("e"));
    assert_eq!(t.run("LINDEX k -1"), bulk("e"));
    assert_eq!(t.run("LINDEX k -5"), bulk("a"));
    assert_eq!(t.run("LINDEX k 5"), Reply::Nil);
    assert_eq!(t.run("LINDEX k -6"), Reply::Nil);
    assert_eq!(t.run("LINDEX k -9223372036854775808"), Reply::Nil);
    assert_eq!(t.run("LINDEX missing 0"), Reply::Nil);
    // The key is looked up before the index is parsed, as in Redis.
    assert_eq!(t.run("LINDEX missing abc"), Reply::Nil);
    assert_eq!(
        t.run("LINDEX k abc"),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn lset_replaces_in_place() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b c");
    assert_eq!(t.run("LSET k 0 x"), Reply::ok());
    assert_eq!(t.run("LSET k -1 z"), Reply::ok());
    assert_eq!(t.run("LSET k 1 y"), Reply::ok());
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["x", "y", "z"]));
    assert_eq!(t.run("LSET k 3 w"), err("ERR index out of range"));
    assert_eq!(t.run("LSET k -4 w"), err("ERR index out of range"));
    assert_eq!(t.run("LSET missing 0 w"), err("ERR no such key"));
    assert_eq!(t.run("LSET missing abc w"), err("ERR no such key"));
    assert_eq!(
        t.run("LSET k abc w"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(t.run("EXISTS missing"), int(0));
    assert_eq!(stored_elements(&t), 3);
}

#[test]
fn lrem_directions() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b a c a b a");
    assert_eq!(t.run("LREM k 2 a"), int(2));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "a", "b", "a"]));
    assert_eq!(t.run("LREM k -1 b"), int(1));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "a", "a"]));
    assert_eq!(t.run("LREM k 0 a"), int(2));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c"]));
    assert_eq!(t.run("LREM k 0 zz"), int(0));
    assert_eq!(t.run("LREM k -5 c"), int(1));
    assert_eq!(t.run("LREM k 1 b"), int(1));
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(t.run("LREM k 0 a"), int(0));
    assert_eq!(stored_elements(&t), 0);

    t.run("RPUSH k x a y a z a w");
    assert_eq!(t.run("LREM k -2 a"), int(2));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["x", "a", "y", "z", "w"]));
    t.run("DEL k");
    t.run("RPUSH k a x y z w v a b");
    assert_eq!(t.run("LREM k 0 a"), int(2));
    assert_eq!(
        t.run("LRANGE k 0 -1"),
        bulks(&["x", "y", "z", "w", "v", "b"])
    );
    assert_eq!(stored_elements(&t), 6);

    assert_eq!(
        t.run("LREM k x a"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("LREM missing x a"),
        err("ERR value is not an integer or out of range")
    );
    t.run("SET s v");
    assert_eq!(t.run("LREM s 0 a"), err(WRONGTYPE));
}

#[test]
fn lrem_shifts_the_shorter_side() {
    let mut t = TestDb::new();
    let xs = vec!["x"; 40].join(" ");
    // Short tail: the tail part moves and the freed indexes become one range deletion.
    t.run(&format!("RPUSH k a b c d e f g h i j {xs} k l m n o"));
    assert_eq!(t.run("LREM k 0 x"), int(40));
    let expect = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    ];
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&expect));
    // Short head: the head part moves.
    t.run(&format!("RPUSH h a b c d e {xs} f g h i j k l m n o"));
    assert_eq!(t.run("LREM h -100 x"), int(40));
    assert_eq!(t.run("LRANGE h 0 -1"), bulks(&expect));
    assert_eq!(stored_elements(&t), 30);
    assert_eq!(t.run("LINSERT k BEFORE b 1"), int(16));
    assert_eq!(t.run("LINSERT h AFTER n 2"), int(16));
    assert_eq!(t.run("LINDEX k 1"), bulk("1"));
    assert_eq!(t.run("LINDEX h -2"), bulk("2"));
    assert_eq!(stored_elements(&t), 32);
}

#[test]
fn ltrim_keeps_a_range() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b c d e f");
    assert_eq!(t.run("LTRIM k 1 -2"), Reply::ok());
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["b", "c", "d", "e"]));
    assert_eq!(t.run("LTRIM k -100 100"), Reply::ok());
    assert_eq!(t.run("LLEN k"), int(4));
    assert_eq!(t.run("LTRIM k -2 -1"), Reply::ok());
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["d", "e"]));
    assert_eq!(stored_elements(&t), 2);
    assert_eq!(t.run("LTRIM k 1 0"), Reply::ok());
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(t.run("LTRIM missing 0 1"), Reply::ok());
    assert_eq!(t.run("EXISTS missing"), int(0));
    t.run("RPUSH k a b c");
    assert_eq!(t.run("LTRIM k 5 10"), Reply::ok());
    assert_eq!(t.run("EXISTS k"), int(0));
    assert_eq!(stored_elements(&t), 0);
    let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    t.run(&format!("RPUSH big {}", values.join(" ")));
    assert_eq!(t.run("LTRIM big 40 59"), Reply::ok());
    assert_eq!(t.run("LRANGE big 0 0"), bulks(&["40"]));
    assert_eq!(t.run("LRANGE big -1 -1"), bulks(&["59"]));
    assert_eq!(stored_elements(&t), 20);
    assert_eq!(
        t.run("LTRIM big a 1"),
        err("ERR value is not an integer or out of range")
    );
    t.run("SET s v");
    assert_eq!(t.run("LTRIM s 0 1"), err(WRONGTYPE));
}

#[test]
fn linsert_before_and_after() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b c");
    assert_eq!(t.run("LINSERT k BEFORE b x"), int(4));
    assert_eq!(t.run("LINSERT k after c y"), int(5));
    assert_eq!(t.run("LINSERT k before a z"), int(6));
    assert_eq!(t.run("LINSERT k AFTER a w"), int(7));
    assert_eq!(
        t.run("LRANGE k 0 -1"),
        bulks(&["z", "a", "w", "x", "b", "c", "y"])
    );
    assert_eq!(t.run("LINSERT k BEFORE nope v"), int(-1));
    assert_eq!(t.run("LINSERT missing BEFORE a v"), int(0));
    assert_eq!(t.run("EXISTS missing"), int(0));
    assert_eq!(t.run("LINSERT k MIDDLE a v"), err("ERR syntax error"));
    assert_eq!(t.run("LINSERT missing MIDDLE a v"), err("ERR syntax error"));
    assert_eq!(
        t.run("LINSERT k BEFORE a"),
        err("ERR wrong number of arguments for 'linsert' command")
    );
    // Duplicate pivots: the first from the head is used.
    t.run("RPUSH d p p p");
    assert_eq!(t.run("LINSERT d AFTER p q"), int(4));
    assert_eq!(t.run("LRANGE d 0 -1"), bulks(&["p", "q", "p", "p"]));
    assert_eq!(stored_elements(&t), 11);
    t.run("SET s v");
    assert_eq!(t.run("LINSERT s BEFORE a b"), err(WRONGTYPE));
}

#[test]
fn lpos_options() {
    let mut t = TestDb::new();
    t.run("RPUSH l a b c a b c a");
    assert_eq!(t.run("LPOS l a"), int(0));
    assert_eq!(t.run("LPOS l c"), int(2));
    assert_eq!(t.run("LPOS l zz"), Reply::Nil);
    assert_eq!(t.run("LPOS l a RANK 2"), int(3));
    assert_eq!(t.run("LPOS l a RANK -1"), int(6));
    assert_eq!(t.run("LPOS l a RANK -2"), int(3));
    assert_eq!(t.run("LPOS l a RANK 5"), Reply::Nil);
    assert_eq!(t.run("LPOS l a RANK 5 COUNT 1"), empty());
    assert_eq!(t.run("LPOS l a COUNT 0"), ints(&[0, 3, 6]));
    assert_eq!(t.run("LPOS l a COUNT 2"), ints(&[0, 3]));
    assert_eq!(t.run("LPOS l a RANK -1 COUNT 2"), ints(&[6, 3]));
    assert_eq!(t.run("LPOS l a rank 2 count 0 maxlen 5"), ints(&[3]));
    assert_eq!(t.run("LPOS l c RANK -1 MAXLEN 2"), int(5));
    assert_eq!(t.run("LPOS l c RANK -1 MAXLEN 1"), Reply::Nil);
    assert_eq!(t.run("LPOS l zz COUNT 0"), empty());
    assert_eq!(t.run("LPOS missing a"), Reply::Nil);
    assert_eq!(t.run("LPOS missing a COUNT 0"), empty());

    let rank_zero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list";
    assert_eq!(t.run("LPOS l a RANK 0"), err(rank_zero));
    assert_eq!(
        t.run("LPOS l a RANK -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        t.run("LPOS l a RANK abc"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        t.run("LPOS l a COUNT -1"),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        t.run("LPOS l a COUNT abc"),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        t.run("LPOS l a MAXLEN -1"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(
        t.run("LPOS l a MAXLEN abc"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(t.run("LPOS l a RANK"), err("ERR syntax error"));
    assert_eq!(t.run("LPOS missing a FOO 1"), err("ERR syntax error"));
    assert_eq!(
        t.run("LPOS missing a RANK 0"),
        err(rank_zero),
        "options before the key"
    );
    assert_eq!(
        t.run("LPOS l"),
        err("ERR wrong number of arguments for 'lpos' command")
    );
    t.run("SET s v");
    assert_eq!(t.run("LPOS s a"), err(WRONGTYPE));
}

#[test]
fn lmove_and_rpoplpush() {
    let mut t = TestDb::new();
    t.run("RPUSH src a b c");
    assert_eq!(t.run("RPOPLPUSH src dst"), bulk("c"));
    assert_eq!(t.run("LMOVE src dst LEFT RIGHT"), bulk("a"));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["c", "a"]));
    assert_eq!(t.run("lmove src dst right left"), bulk("b"));
    assert_eq!(t.run("EXISTS src"), int(0));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
    assert_eq!(t.run("RPOPLPUSH src dst"), Reply::Nil);
    assert_eq!(t.run("LMOVE src dst LEFT LEFT"), Reply::Nil);

    // Rotation within one list.
    assert_eq!(t.run("RPOPLPUSH dst dst"), bulk("a"));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["a", "b", "c"]));
    assert_eq!(t.run("LMOVE dst dst LEFT RIGHT"), bulk("a"));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
    assert_eq!(t.run("LMOVE dst dst LEFT LEFT"), bulk("b"));
    assert_eq!(t.run("LMOVE dst dst RIGHT RIGHT"), bulk("a"));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
    t.run("RPUSH one x");
    assert_eq!(t.run("RPOPLPUSH one one"), bulk("x"));
    assert_eq!(t.run("LRANGE one 0 -1"), bulks(&["x"]));
    assert_eq!(stored_elements(&t), 4);

    // A destination of another type: nothing is popped.
    t.run("SET s v");
    assert_eq!(t.run("RPOPLPUSH dst s"), err(WRONGTYPE));
    assert_eq!(t.run("LMOVE dst s LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
    assert_eq!(t.run("LMOVE s dst LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(
        t.run("RPOPLPUSH missing s"),
        Reply::Nil,
        "a missing source wins"
    );
    assert_eq!(t.run("LMOVE dst s UP LEFT"), err("ERR syntax error"));
    assert_eq!(t.run("LMOVE missing s LEFT DOWN"), err("ERR syntax error"));
    assert_eq!(
        t.run("LMOVE a b LEFT"),
        err("ERR wrong number of arguments for 'lmove' command")
    );
    assert_eq!(
        t.run("RPOPLPUSH a"),
        err("ERR wrong number of arguments for 'rpoplpush' command")
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut t = TestDb::new();
    t.run("SET s v");
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 1",
        "LLEN s",
        "LRANGE s 0 -1",
        "LINDEX s 0",
        "LSET s 0 a",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LINSERT s BEFORE a b",
        "LPOS s a",
        "RPOPLPUSH s x",
        "LMOVE s x LEFT RIGHT",
    ] {
        assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    assert_eq!(t.run("GET s"), bulk("v"));
    assert_eq!(t.run("EXISTS x"), int(0));
}

#[test]
fn expiry_is_kept_and_respected() {
    let mut t = TestDb::new();
    t.run("RPUSH k a b");
    assert_eq!(t.run("PEXPIRE k 1000"), int(1));
    t.run("RPUSH k c");
    t.run("LPOP k");
    t.run("LINSERT k BEFORE c x");
    t.run("LREM k 0 x");
    assert_eq!(t.run("PTTL k"), int(1000));
    t.now_ms += 1000;
    assert_eq!(t.run("LLEN k"), int(0));
    assert_eq!(t.run("LRANGE k 0 -1"), empty());
    assert_eq!(t.run("LPUSHX k z"), int(0));
    assert_eq!(t.run("RPUSH k fresh"), int(1));
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&["fresh"]));
    assert_eq!(t.run("PTTL k"), int(-1));
    assert_eq!(stored_elements(&t), 1);
}

/// Several commands in one transaction, as the applier runs a group or a MULTI block: puts
/// into indexes an earlier command range-deleted must survive the commit.
#[test]
fn one_transaction_many_commands() {
    use crate::command::{execute, resolve, Ctx};
    let mut t = TestDb::new();
    let mut rng = crate::command::SplitMix64::new(1);
    let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let script = [
        format!("RPUSH k {}", values.join(" ")),
        "LTRIM k 0 9".to_string(),
        "RPUSH k a b c".to_string(),
        "LPOP k 5".to_string(),
        "LPUSH k x y".to_string(),
        "LINSERT k AFTER 7 mid".to_string(),
        "LREM k 1 8".to_string(),
        "LRANGE k 0 -1".to_string(),
    ];
    let mut txn = t.db.writer();
    let mut last = Reply::Nil;
    for line in &script {
        let argv = crate::resp::request::split_args(line.as_bytes()).unwrap();
        let spec = resolve(&argv).unwrap();
        let mut ctx = Ctx {
            txn: &mut txn,
            db: 0,
            now_ms: t.now_ms,
            rng: &mut rng,
        };
        last = execute(&mut ctx, spec, &argv).unwrap();
    }
    let expect = ["y", "x", "5", "6", "7", "mid", "9", "a", "b", "c"];
    assert_eq!(last, bulks(&expect));
    t.db.commit(txn, false).unwrap();
    assert_eq!(t.run("LRANGE k 0 -1"), bulks(&expect));
    assert_eq!(stored_elements(&t), expect.len());
}

/// Random operations against a `VecDeque` model, checking contents and stored entries.
#[test]
fn random_operations_match_a_model() {
    let mut t = TestDb::new();
    let mut rng = StdRng::seed_from_u64(42);
    let mut model: VecDeque<String> = VecDeque::new();
    for step in 0..1500 {
        let v = format!("v{}", rng.random_range(0..6));
        let len = model.len() as i64;
        let idx = rng.random_range(-(len + 2)..=len + 2);
        match rng.random_range(0..10) {
            0 => {
                t.run(&format!("LPUSH k {v} {v}x"));
                model.push_front(v.clone());
                model.push_front(format!("{v}x"));
            }
            1 => {
                // Now and then a run of equal values, so LREM and LTRIM delete ranges.
                let n = if rng.random_range(0..8) == 0 { 40 } else { 1 };
                t.run(&format!("RPUSH k {}", vec![v.as_str(); n].join(" ")));
                model.extend(std::iter::repeat_n(v, n));
            }
            2 => {
                let n = rng.random_range(0..4usize);
                let left = rng.random::<bool>();
                let reply = t.run(&format!("{} k {n}", if left { "LPOP" } else { "RPOP" }));
                if model.is_empty() {
                    assert_eq!(reply, Reply::NilArray);
                }
                let mut popped = Vec::new();
                while popped.len() < n {
                    match if left {
                        model.pop_front()
                    } else {
                        model.pop_back()
                    } {
                        Some(x) => popped.push(x),
                        None => break,
                    }
                }
                if !reply.is_error() && reply != Reply::NilArray {
                    let popped: Vec<&str> = popped.iter().map(String::as_str).collect();
                    assert_eq!(reply, bulks(&popped));
                }
            }
            3 => {
                let before = rng.random::<bool>();
                let where_ = if before { "BEFORE" } else { "AFTER" };
                let reply = t.run(&format!("LINSERT k {where_} {v} new{step}"));
                if let Some(p) = model.iter().position(|x| *x == v) {
                    model.insert(if before { p } else { p + 1 }, format!("new{step}"));
                    assert_eq!(reply, int(model.len() as i64));
                } else {
                    assert_eq!(reply, int(if model.is_empty() { 0 } else { -1 }));
                }
            }
            4 => {
                let count = rng.random_range(-3..=3i64);
                let reply = t.run(&format!("LREM k {count} {v}"));
                let removed = model_lrem(&mut model, count, &v);
                assert_eq!(reply, int(removed), "LREM k {count} {v}");
            }
            5 => {
                let stop = rng.random_range(-(len + 2)..=len + 2);
                t.run(&format!("LTRIM k {idx} {stop}"));
                model = match super::resolve_range(idx, stop, len as u64) {
                    Some((a, b)) => model.range(a as usize..=b as usize).cloned().collect(),
                    None => VecDeque::new(),
                };
            }
            6 => {
                let reply = t.run(&format!("LSET k {idx} set{step}"));
                match super::position(idx, len as u64) {
                    Some(p) if len > 0 => {
                        assert_eq!(reply, Reply::ok());
                        model[p as usize] = format!("set{step}");
                    }
                    _ => assert!(reply.is_error()),
                }
            }
            7 => {
                let (from, to) = (rng.random::<bool>(), rng.random::<bool>());
                let side = |left: bool| if left { "LEFT" } else { "RIGHT" };
                let reply = t.run(&format!("LMOVE k k {} {}", side(from), side(to)));
                let popped = if from {
                    model.pop_front()
                } else {
                    model.pop_back()
                };
                match popped {
                    Some(x) => {
                        assert_eq!(reply, bulk(&x));
                        if to {
                            model.push_front(x);
                        } else {
                            model.push_back(x);
                        }
                    }
                    None => assert_eq!(reply, Reply::Nil),
                }
            }
            8 => {
                let reply = t.run(&format!("LINDEX k {idx}"));
                let expect = super::position(idx, len as u64)
                    .map(|p| bulk(&model[p as usize]))
                    .unwrap_or(Reply::Nil);
                assert_eq!(reply, expect);
            }
            _ => {
                let reply = t.run(&format!("LPOS k {v} RANK -1 COUNT 0"));
                let expect: Vec<i64> = (0..model.len())
                    .rev()
                    .filter(|&i| model[i] == v)
                    .map(|i| i as i64)
                    .collect();
                assert_eq!(reply, ints(&expect));
            }
        }
        let all: Vec<&str> = model.iter().map(String::as_str).collect();
        assert_eq!(t.run("LRANGE k 0 -1"), bulks(&all), "step {step}");
        assert_eq!(t.run("LLEN k"), int(model.len() as i64));
        assert_eq!(stored_elements(&t), model.len(), "step {step}");
    }
}

fn model_lrem(model: &mut VecDeque<String>, count: i64, v: &str) -> i64 {
    let limit = count.unsigned_abs() as usize;
    let mut positions: Vec<usize> = (0..model.len()).filter(|&i| model[i] == v).collect();
    if count < 0 {
        positions.reverse();
    }
    if limit != 0 {
        positions.truncate(limit);
    }
    positions.sort_unstable();
    for &p in positions.iter().rev() {
        model.remove(p);
    }
    positions.len() as i64
}

/// Applied, the blocking pops never wait: they pop what is there or give their timed-out
/// reply (which is also what they answer inside MULTI).
#[test]
fn blocking_pops_pop_what_is_there_or_answer_as_timed_out() {
    let mut t = TestDb::new();
    t.run("RPUSH b x y");
    t.run("SET s str");
    assert_eq!(t.run("BLPOP none b 0"), bulks(&["b", "x"]));
    assert_eq!(t.run("BRPOP none b 1.5"), bulks(&["b", "y"]));
    assert_eq!(t.run("EXISTS b"), int(0), "an emptied list is deleted");
    assert_eq!(t.run("BLPOP none b 0"), Reply::NilArray);
    assert_eq!(t.run("BLPOP s b 0"), err(WRONGTYPE));
    t.run("RPUSH b z");
    assert_eq!(
        t.run("BLPOP b s 0"),
        bulks(&["b", "z"]),
        "served before the wrong type is reached, as in Redis"
    );
    assert_eq!(
        t.run("BLPOP b -1"),
        err("ERR timeout is negative"),
        "the timeout is checked first"
    );
    assert_eq!(
        t.run("BLPOP s abc"),
        err("ERR timeout is not a float or out of range")
    );

    t.run("RPUSH src a b");
    assert_eq!(t.run("BRPOPLPUSH src dst 0"), bulk("b"));
    assert_eq!(t.run("BLMOVE src dst LEFT RIGHT 0"), bulk("a"));
    assert_eq!(t.run("LRANGE dst 0 -1"), bulks(&["b", "a"]));
    assert_eq!(t.run("BLMOVE src dst LEFT RIGHT 0"), Reply::Nil);
    assert_eq!(t.run("BRPOPLPUSH src dst 0"), Reply::Nil);
    assert_eq!(
        t.run("BLMOVE src dst LEFT UP -1"),
        err("ERR syntax error"),
        "the sides are checked before the timeout"
    );
    assert_eq!(t.run("BRPOPLPUSH dst s 0"), err(WRONGTYPE));
    assert_eq!(
        t.run("BRPOPLPUSH src dst -1"),
        err("ERR timeout is negative")
    );
    assert_eq!(stored_elements(&t), 2);
}

#[test]
fn lmpop_and_blmpop() {
    let mut t = TestDb::new();
    t.run("RPUSH l a b c d");
    t.run("SET s str");
    let popped = |key: &str, items: &[&str]| Reply::Array(vec![bulk(key), bulks(items)]);
    assert_eq!(t.run("LMPOP 2 none l LEFT"), popped("l", &["a"]));
    assert_eq!(t.run("LMPOP 1 l RIGHT COUNT 2"), popped("l", &["d", "c"]));
    assert_eq!(t.run("BLMPOP 0 1 l left count 9"), popped("l", &["b"]));
    assert_eq!(t.run("LMPOP 1 l LEFT"), Reply::NilArray);
    assert_eq!(t.run("BLMPOP 0.1 2 l none RIGHT"), Reply::NilArray);
    assert_eq!(t.run("LMPOP 2 s l LEFT"), err(WRONGTYPE));
    for (line, want) in [
        ("LMPOP 0 l LEFT", "ERR numkeys should be greater than 0"),
        ("LMPOP 2 l LEFT", "ERR syntax error"),
        ("LMPOP 1 l UP", "ERR syntax error"),
        (
            "LMPOP 1 l LEFT COUNT 0",
            "ERR count should be greater than 0",
        ),
        ("LMPOP 1 l LEFT COUNT 1 COUNT 1", "ERR syntax error"),
        ("BLMPOP -1 1 l LEFT", "ERR timeout is negative"),
        ("BLMPOP 0 0 l LEFT", "ERR numkeys should be greater than 0"),
    ] {
        assert_eq!(t.run(line), err(want), "{line}");
    }
    assert_eq!(
        t.run("LMPOP 1"),
        err("ERR wrong number of arguments for 'lmpop' command")
    );
    assert_eq!(stored_elements(&t), 0);
}

#[test]
fn blocking_commands_are_in_the_table_as_in_redis() {
    let spec = |n: &str| lookup(n.as_bytes()).unwrap();
    for (name, arity) in [
        ("blpop", -3),
        ("brpop", -3),
        ("brpoplpush", 4),
        ("blmove", 6),
        ("blmpop", -5),
    ] {
        assert_eq!(spec(name).arity, arity, "{name}");
        assert!(
            spec(name).has(flags::BLOCKING) && spec(name).is_write(),
            "{name}"
        );
    }
    assert_eq!(spec("lmpop").arity, -4);
    assert!(!spec("lmpop").has(flags::BLOCKING));
    assert_eq!(spec("blpop").key_indexes(4), vec![1, 2]);
}
