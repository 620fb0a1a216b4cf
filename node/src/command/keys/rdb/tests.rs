use super::*;

/// `body` with the footer Redis puts after it: the version, then the checksum of both.
fn payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Bytes from hex digits; `_` separates fields for the reader.
fn hex(s: &str) -> Vec<u8> {
    let s = s.replace('_', "");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| b(s)).collect())
}

#[test]
fn crc64_is_redis_jones_variant() {
    // The check value in Redis's crc64.c.
    assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    assert_eq!(crc64(b""), 0);
}

/// DUMP replies of redis-server 7.0.15 (RDB version 10), one per encoding it picks for small
/// values; the black-box tests cover large values against a live redis-server.
#[test]
fn reads_what_redis_7_dumps() {
    let cases: Vec<(&str, Value)> =
        vec![
        ("00c07b0a0048e253e1007a67b9", Value::String(b("123"))),
        ("00c290eefeff0a002875de7b13eb2800", Value::String(b("-70000"))),
        ("000568656c6c6f0a006372df766534200a", Value::String(b("hello"))),
        // 100 bytes of 'a', LZF-compressed.
        (
            "00c3094064016161e057000161610a00e8a3b507b06df271",
            Value::String(vec![b'a'; 100]),
        ),
        // A quicklist of one listpack node (LZF-compressed) with 7-, 13-, 24- and 64-bit
        // integers and 6- and 12-bit strings.
        (
            "120102c32c406c1d6c000000080081610281620201010201df9c02f270110104f400f2052a01201c03\
             09e04678e03c000148ff0a007ad0671c78e93bc7",
            Value::List(
                ["a", "b", "1", "2", "-100", "70000", "5000000000"]
                    .iter()
                    .map(|s| b(s))
                    .chain([vec![b'x'; 70]])
                    .collect(),
            ),
        ),
        // An intset of 32-bit integers.
        (
            "0b1c0400000005000000fbffffff010000000200000003000000a08601000a00d365f8d8af8752ac",
            Value::Set(
                ["-5", "1", "2", "3", "100000"]
                    .iter()
                    .map(|s| b(s))
                    .collect(),
            ),
        ),
        (
            "02030163016201610a005ea67e5623750bab",
            Value::Set(vec![b("c"), b("b"), b("a")]),
        ),
        (
            "10151500000004008266310382763103826632030201ff0a005c5ea813feec1ff5",
            Value::Hash(vec![(b("f1"), b("v1")), (b("f2"), b("2"))]),
        ),
        (
            "111d1d0000000600816302842d696e6605816102010181620283322e3504ff0a003992339be11f323d",
            Value::ZSet(vec![
                (b("c"), f64::NEG_INFINITY),
                (b("a"), 1.0),
                (b("b"), 2.5),
            ]),
        ),
    ];
    for (dump, want) in cases {
        assert_eq!(decode(&hex(dump)), Ok(want), "{dump}");
    }
}

#[test]
fn writes_strings_as_redis_does() {
    // The same bytes as redis-server's DUMP, but for the version in the footer.
    for (value, redis_body) in [
        ("123", "00c07b"),
        ("-70000", "00c290eefeff"),
        ("hello", "000568656c6c6f"),
    ] {
        let dump = encode(&Value::String(b(value)));
        assert_eq!(dump, payload(&hex(redis_body), WRITTEN_VERSION), "{value}");
    }
    // Integers Redis would not write back the same stay strings; 2^31 does not fit 32 bits.
    for value in ["+1", "01", "-0", " 1", "2147483648", "123456789012"] {
        let mut body = vec![0, value.len() as u8];
        body.extend_from_slice(value.as_bytes());
        assert_eq!(
            encode(&Value::String(b(value))),
            payload(&body, WRITTEN_VERSION)
        );
    }
    assert_eq!(
        encode(&Value::String(b("-129"))),
        payload(&hex("00c17fff"), WRITTEN_VERSION),
        "16 bits"
    );
    assert_eq!(
        encode(&Value::String(b("-2147483648"))),
        payload(&hex("00c200000080"), WRITTEN_VERSION)
    );
}

#[test]
fn every_type_round_trips() {
    let long = vec![b'z'; 20_000];
    let values = [
        Value::String(Vec::new()),
        Value::String(long.clone()),
        list(&["a", "", "7", "-7", "a"]),
        Value::List((0..300).map(|i| format!("e{i}").into_bytes()).collect()),
        Value::Set(vec![b("1"), b("x"), long.clone()]),
        Value::Hash(vec![(b("f"), b("")), (b(""), b("9")), (long.clone(), long)]),
        Value::ZSet(vec![
            (b("a"), 1.5),
            (b("b"), f64::INFINITY),
            (b("c"), -0.1),
            (b("d"), 1e300),
        ]),
    ];
    for v in values {
        assert_eq!(decode(&encode(&v)), Ok(v.clone()));
    }
}

#[test]
fn lengths_use_every_width() {
    for n in [
        0u64,
        63,
        64,
        16383,
        16384,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
    ] {
        let mut out = Vec::new();
        put_len(&mut out, n);
        let mut r = Reader { buf: &out, pos: 0 };
        assert_eq!(r.len().ok(), Some(n));
        assert_eq!(r.pos, out.len());
    }
}

/// A ziplist written out by hand from its format: entries "a", 5 (a 4-bit immediate), 300
/// (16 bits), -2 (8 bits), 100000 (24 bits), -100000 (32 bits), 5000000000 (64 bits) and 70
/// bytes of 'x' (a 14-bit length).
fn ziplist_fixture() -> Vec<u8> {
    let mut zl = hex("75000000_2b000000_0800_000161_03f6_02c02c01_04fefe_03f0a08601_05d06079feff_06e000f2052a01000000");
    zl.extend_from_slice(&[10, 0x40, 70]);
    zl.extend_from_slice(&[b'x'; 70]);
    zl.push(0xff);
    assert_eq!(zl.len(), 117);
    zl
}

fn string_of(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, blob.len() as u64);
    out.extend_from_slice(blob);
    out
}

#[test]
fn reads_the_ziplists_of_older_redis() {
    let zl = ziplist_fixture();
    let want = Value::List(
        ["a", "5", "300", "-2", "100000", "-100000", "5000000000"]
            .iter()
            .map(|s| b(s))
            .chain([vec![b'x'; 70]])
            .collect(),
    );
    let mut body = vec![ty::LIST_ZIPLIST];
    body.extend(string_of(&zl));
    assert_eq!(decode(&payload(&body, 6)), Ok(want.clone()));
    // A quicklist of two ziplist nodes (Redis 3.2 to 6.2).
    let mut body = vec![ty::LIST_QUICKLIST, 2];
    body.extend(string_of(&zl));
    body.extend(string_of(&zl));
    let Value::List(one) = want else { panic!() };
    let twice: Vec<Vec<u8>> = one.iter().chain(one.iter()).cloned().collect();
    assert_eq!(decode(&payload(&body, 9)), Ok(Value::List(twice)));
    // Hashes and sorted sets as ziplists: field, value, field, value...; member, score, ...
    let pairs = hex("17000000_12000000_0400_000166_030161_03f2_02c0e803_ff");
    let mut body = vec![ty::HASH_ZIPLIST];
    body.extend(string_of(&pairs));
    assert_eq!(
        decode(&payload(&body, 9)),
        Ok(Value::Hash(vec![(b("f"), b("a")), (b("1"), b("1000"))]))
    );
    let mut body = vec![ty::ZSET_ZIPLIST];
    body.extend(string_of(&pairs));
    assert_eq!(
        decode(&payload(&body, 9)),
        Err(PayloadError::BadFormat),
        "'a' is no score"
    );
    let scores = hex("17000000_14000000_0400_000166_0303312e35_05f1_02f2_ff");
    let mut body = vec![ty::ZSET_ZIPLIST];
    body.extend(string_of(&scores));
    assert_eq!(
        decode(&payload(&body, 9)),
        Ok(Value::ZSet(vec![(b("f"), 1.5), (b("0"), 1.0)]))
    );
}

#[test]
fn reads_set_listpacks_plain_list_nodes_and_old_sorted_sets() {
    // Redis 7.2 keeps small sets of strings as listpacks.
    let mut body = vec![ty::SET_LISTPACK];
    body.extend(string_of(&hex("0d000000_0200_816102_816202_ff")));
    assert_eq!(
        decode(&payload(&body, 11)),
        Ok(Value::Set(vec![b("a"), b("b")]))
    );
    // A quicklist node holding one large element as it is.
    let mut body = vec![ty::LIST_QUICKLIST_2, 1, 1];
    body.extend(string_of(b"big"));
    assert_eq!(decode(&payload(&body, 10)), Ok(list(&["big"])));
    // Scores as text (Redis before 4.0), with the infinities' length codes.
    let mut body = vec![
        ty::ZSET,
        3,
        1,
        b'a',
        3,
        b'1',
        b'.',
        b'5',
        1,
        b'b',
        254,
        1,
        b'c',
        255,
    ];
    assert_eq!(
        decode(&payload(&body, 6)),
        Ok(Value::ZSet(vec![
            (b("a"), 1.5),
            (b("b"), f64::INFINITY),
            (b("c"), f64::NEG_INFINITY)
        ]))
    );
    body[10] = 253; // NaN
    assert_eq!(decode(&payload(&body, 6)), Err(PayloadError::BadFormat));
}

#[test]
fn refuses_what_redis_refuses() {
    let good = encode(&Value::String(b("v")));
    let mut flipped = good.clone();
    flipped[2] ^= 1;
    assert_eq!(decode(&flipped), Err(PayloadError::VersionOrChecksum));
    assert_eq!(decode(&good[..9]), Err(PayloadError::VersionOrChecksum));
    assert_eq!(decode(b""), Err(PayloadError::VersionOrChecksum));
    let body = [0u8, 1, b'v'];
    assert!(decode(&payload(&body, MAX_READ_VERSION)).is_ok());
    assert_eq!(
        decode(&payload(&body, MAX_READ_VERSION + 1)),
        Err(PayloadError::VersionOrChecksum)
    );
    for body in [
        &[][..],                                                    // no type
        &[0, 5, b'v'],                   // a string shorter than its length
        &[2, 0],                         // an empty set
        &[1, 0],                         // an empty list
        &[2, 2, 1, b'a', 1, b'a'],       // a repeated member
        &[4, 2, 1, b'f', 0, 1, b'f', 0], // a repeated field
        &[5, 1, 1, b'a', 0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // a NaN score
        &[15, 0],                        // a stream
        &[7, 0],                         // a module value
        &[9, 0],                         // a zipmap
        &[1, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // a forged length
        &[0, 0xc3, 2, 10, 0x01, b'a'],   // LZF that decodes short of its length
        &[0, 0xc4],                      // an unknown string encoding
        &[18, 1, 3, 1, b'x'],            // an unknown quicklist container
    ] {
        assert_eq!(
            decode(&payload(body, 10)),
            Err(PayloadError::BadFormat),
            "{body:?}"
        );
    }
}

/// Every prefix of a valid payload, and every single-byte change to it, with a matching
/// footer: each is decoded or refused, never a panic or a runaway allocation.
#[test]
fn damaged_payloads_are_refused_cleanly() {
    let mut body = vec![ty::LIST_QUICKLIST, 1];
    body.extend(string_of(&ziplist_fixture()));
    let bodies = [
        body,
        hex("120102c32c406c1d6c000000080081610281620201010201df9c02f270110104f400f2052a01201c0309e04678e03c000148ff"),
        hex("111d1d0000000600816302842d696e6605816102010181620283322e3504ff"),
        hex("0b1c0400000005000000fbffffff010000000200000003000000a0860100"),
    ];
    for body in bodies {
        for cut in 0..body.len() {
            let _ = decode(&payload(&body[..cut], 10));
        }
        for i in 0..body.len() {
            for x in [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xf0, 0xfe, 0xff] {
                let mut damaged = body.clone();
                damaged[i] = x;
                let _ = decode(&payload(&damaged, 10));
            }
        }
    }
}

#[test]
fn lzf_copies_literals_and_overlapping_references() {
    // "abc" then a reference 3 back of length 9: "abcabcabcabc".
    let input = [0x02, b'a', b'b', b'c', (7 << 5), 0, 2];
    assert_eq!(
        lzf_decompress(&input, 12).as_deref(),
        Some(&b"abcabcabcabc"[..])
    );
    assert_eq!(lzf_decompress(&input, 11), None, "longer than declared");
    assert_eq!(lzf_decompress(&input, 13), None, "shorter than declared");
    assert_eq!(
        lzf_decompress(&[0x20, 5], 3),
        None,
        "a reference before the start"
    );
    assert_eq!(
        lzf_decompress(&[0x05, b'a'], 6),
        None,
        "a literal past the input"
    );
}
