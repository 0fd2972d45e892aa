//! Tests of the HPACK decoder and encoder: RFC 7541 Appendix C, hostile input, and round trips
//! against an independent implementation (`httlib-hpack`).

use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes a block into owned (name, value) pairs, values decoded.
fn decode_all(d: &mut Decoder, block: &[u8]) -> Result<Fields, HpackError> {
    let mut out = Vec::new();
    let r = d.decode(block, |f: Field<'_>| {
        let mut value = Vec::new();
        f.value.decode_into(&mut value)?;
        out.push((f.name.to_vec(), value));
        Ok::<(), HpackError>(())
    });
    match r {
        Ok(()) => Ok(out),
        Err(DecodeError::Hpack(e) | DecodeError::Field(e)) => Err(e),
    }
}

fn fields(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn dynamic(d: &Decoder) -> Fields {
    (0..d.table.entries.len())
        .map(|i| {
            let (n, v) = d.table.get(i).unwrap();
            (n.to_vec(), v.to_vec())
        })
        .collect()
}

#[test]
fn c1_integers() {
    for (value, n, bytes) in [
        (10, 5, &[0x0a][..]),
        (1337, 5, &[0x1f, 0x9a, 0x0a][..]),
        (42, 8, &[0x2a][..]),
    ] {
        let mut out = Vec::new();
        encode_int(&mut out, 0, n, value);
        assert_eq!(out, bytes);
        let mut r = Reader { buf: bytes, pos: 0 };
        assert_eq!(r.int(n), Ok(value));
        assert_eq!(r.pos, bytes.len());
    }
    // 2^32 - 1 is the largest accepted; more, or a sixth continuation byte, is an error.
    let mut out = Vec::new();
    encode_int(&mut out, 0, 5, u32::MAX as usize);
    assert_eq!(Reader { buf: &out, pos: 0 }.int(5), Ok(u32::MAX as usize));
    out.clear();
    encode_int(&mut out, 0, 5, u32::MAX as usize + 1);
    let overflow = Err(HpackError::IntegerOverflow);
    assert_eq!(Reader { buf: &out, pos: 0 }.int(5), overflow);
    let padded = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    assert_eq!(
        Reader {
            buf: &padded,
            pos: 0
        }
        .int(5),
        overflow
    );
    let truncated = Err(HpackError::Truncated);
    assert_eq!(
        Reader {
            buf: &[0x1f, 0x9a],
            pos: 0
        }
        .int(5),
        truncated
    );
}

#[test]
fn c2_field_representations() {
    let mut d = Decoder::new(4096);
    let block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let expect = fields(&[("custom-key", "custom-header")]);
    assert_eq!(decode_all(&mut d, &block), Ok(expect.clone()));
    assert_eq!((dynamic(&d), d.table_size().0), (expect, 55));

    let mut d = Decoder::new(4096);
    let block = hex("040c 2f73 616d 706c 652f 7061 7468");
    let expect = fields(&[(":path", "/sample/path")]);
    assert_eq!(decode_all(&mut d, &block), Ok(expect));
    assert_eq!((dynamic(&d), d.table_size().0), (vec![], 0));

    let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let expect = fields(&[("password", "secret")]);
    assert_eq!(decode_all(&mut d, &block), Ok(expect));
    assert_eq!((dynamic(&d), d.table_size().0), (vec![], 0));

    assert_eq!(
        decode_all(&mut d, &[0x82]),
        Ok(fields(&[(":method", "GET")]))
    );
    assert_eq!(dynamic(&d), vec![]);
}

/// Three blocks decoded by one decoder: each block's fields, then the dynamic table (newest
/// first) and its size.
fn run_blocks(max: usize, blocks: &[(&str, Fields, Fields, usize)]) {
    let mut d = Decoder::new(max);
    for (i, (block, expect, table, size)) in blocks.iter().enumerate() {
        assert_eq!(
            decode_all(&mut d, &hex(block)).as_ref(),
            Ok(expect),
            "block {i}"
        );
        assert_eq!(&dynamic(&d), table, "table after block {i}");
        assert_eq!(d.table_size().0, *size, "size after block {i}");
    }
}

fn request_blocks(b1: &'static str, b2: &'static str, b3: &'static str) {
    let auth = (":authority", "www.example.com");
    let cache = ("cache-control", "no-cache");
    let custom = ("custom-key", "custom-value");
    let (get, http, root) = ((":method", "GET"), (":scheme", "http"), (":path", "/"));
    run_blocks(
        4096,
        &[
            (b1, fields(&[get, http, root, auth]), fields(&[auth]), 57),
            (
                b2,
                fields(&[get, http, root, auth, cache]),
                fields(&[cache, auth]),
                110,
            ),
            (
                b3,
                fields(&[
                    get,
                    (":scheme", "https"),
                    (":path", "/index.html"),
                    auth,
                    custom,
                ]),
                fields(&[custom, cache, auth]),
                164,
            ),
        ],
    );
}

#[test]
fn c3_requests_without_huffman() {
    request_blocks(
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    );
}

#[test]
fn c4_requests_with_huffman() {
    request_blocks(
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    );
}

fn response_blocks(b1: &'static str, b2: &'static str, b3: &'static str) {
    let date1 = ("date", "Mon, 21 Oct 2013 20:13:21 GMT");
    let date2 = ("date", "Mon, 21 Oct 2013 20:13:22 GMT");
    let loc = ("location", "https://www.example.com");
    let private = ("cache-control", "private");
    let cookie = (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    );
    let gzip = ("content-encoding", "gzip");
    run_blocks(
        256,
        &[
            (
                b1,
                fields(&[(":status", "302"), private, date1, loc]),
                fields(&[loc, date1, private, (":status", "302")]),
                222,
            ),
            (
                b2,
                fields(&[(":status", "307"), private, date1, loc]),
                fields(&[(":status", "307"), loc, date1, private]),
                222,
            ),
            (
                b3,
                fields(&[(":status", "200"), private, date2, loc, gzip, cookie]),
                fields(&[cookie, gzip, date2]),
                215,
            ),
        ],
    );
}

#[test]
fn c5_responses_without_huffman_evict() {
    response_blocks(
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    );
}

const C6_1: &str = "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 \
                    82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3";

#[test]
fn c6_responses_with_huffman_evict() {
    response_blocks(
        C6_1,
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    );
}

#[test]
fn values_not_indexed_stay_huffman_until_asked() {
    // C.4.1's ":authority" as a literal without indexing (0x01 = name index 1), value Huffman.
    let block = hex("018c f1e3 c2e5 f23a 6ba0 ab90 f4ff");
    let mut d = Decoder::new(4096);
    let mut seen = Vec::new();
    d.decode(&block, |f: Field<'_>| {
        seen.push((
            f.name.to_vec(),
            f.value.is_huffman(),
            f.value.as_plain().is_none(),
        ));
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(seen, vec![(b":authority".to_vec(), true, true)]);
    // decode_into appends.
    let mut out = b"x=".to_vec();
    Value::Huffman(&block[2..]).decode_into(&mut out).unwrap();
    Value::Plain(b"!").decode_into(&mut out).unwrap();
    assert_eq!(out, b"x=www.example.com!");
    // Incremental indexing with a Huffman value is handed out decoded.
    let block = hex("418c f1e3 c2e5 f23a 6ba0 ab90 f4ff");
    d.decode(&block, |f: Field<'_>| {
        assert_eq!(f.value, Value::Plain(b"www.example.com"));
        Ok::<(), ()>(())
    })
    .unwrap();
}

#[test]
fn callback_error_stops_decoding() {
    let mut d = Decoder::new(4096);
    let mut calls = 0;
    let r = d.decode(&[0x82, 0x86, 0x84], |_f: Field<'_>| {
        calls += 1;
        if calls == 2 { Err("stop") } else { Ok(()) }
    });
    assert_eq!(r, Err(DecodeError::Field("stop")));
    assert_eq!(calls, 2);
}

#[test]
fn invalid_blocks_are_errors() {
    let err = |block: &[u8], max: usize| decode_all(&mut Decoder::new(max), block).unwrap_err();
    assert_eq!(err(&[0x80], 4096), HpackError::InvalidIndex(0));
    assert_eq!(err(&[0xbe], 4096), HpackError::InvalidIndex(62));
    assert_eq!(err(&[0x40 | 62, 0x00], 4096), HpackError::InvalidIndex(62));
    assert_eq!(err(&[0x0f, 0x30, 0x00], 4096), HpackError::InvalidIndex(63));
    // Size update above what we advertised; after a field; several at the start are fine.
    let too_large = HpackError::TableSizeTooLarge {
        size: 4097,
        max: 4096,
    };
    assert_eq!(err(&hex("3fe2 1f"), 4096), too_large);
    assert_eq!(
        err(&[0x82, 0x20], 4096),
        HpackError::TableSizeUpdateNotAtStart
    );
    assert_eq!(
        decode_all(&mut Decoder::new(4096), &[0x20, 0x3f, 0x01, 0x82]).map(|f| f.len()),
        Ok(1)
    );
    // Truncated: a string longer than the block, a field cut after its name.
    assert_eq!(err(&[0x00, 0x05, b'a'], 4096), HpackError::Truncated);
    assert_eq!(err(&[0x00, 0x01, b'a'], 4096), HpackError::Truncated);
    assert_eq!(err(&[0x00, 0x01, b'a', 0x7f], 4096), HpackError::Truncated);
    // A Huffman name with bad padding ('a' + 000), and EOS in a value.
    assert_eq!(
        err(&[0x00, 0x81, 0x18, 0x00], 4096),
        HpackError::HuffmanPadding
    );
    assert_eq!(err(&hex("4184 ffff ffff"), 4096), HpackError::HuffmanEos);
}

#[test]
fn size_update_evicts_and_oversized_entry_empties_the_table() {
    let mut d = Decoder::new(4096);
    // custom-key: custom-header (55 bytes), then a size update to 0 empties the table.
    let add = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    decode_all(&mut d, &add).unwrap();
    decode_all(&mut d, &[0x20]).unwrap();
    assert_eq!((dynamic(&d), d.table_size()), (vec![], (0, 0)));
    // Back to 54: the 55-byte entry is larger than the table, which stays empty but the field
    // is still delivered.
    let mut block = hex("3f17");
    block.extend_from_slice(&add);
    let got = decode_all(&mut d, &block).unwrap();
    assert_eq!(got, fields(&[("custom-key", "custom-header")]));
    assert_eq!((dynamic(&d), d.table_size()), (vec![], (0, 54)));
}

#[test]
fn entry_naming_the_entry_it_evicts() {
    // Table of 64: "aaaa: bbbb" (40) is in; a new entry named by index 62 with a 20-byte value
    // (56) evicts it, and must still get its name.
    let mut d = Decoder::new(64);
    decode_all(&mut d, &hex("4004 6161 6161 0462 6262 62")).unwrap();
    let mut block = vec![0x40 | 62, 20];
    block.extend_from_slice(&[b'x'; 20]);
    let got = decode_all(&mut d, &block).unwrap();
    assert_eq!(got, vec![(b"aaaa".to_vec(), vec![b'x'; 20])]);
    assert_eq!(dynamic(&d), vec![(b"aaaa".to_vec(), vec![b'x'; 20])]);
}

#[test]
fn many_insertions_compact_the_buffer_without_growing_it() {
    let mut d = Decoder::new(4096);
    let cap = d.table.data.capacity();
    let mut enc = httlib_hpack::Encoder::with_dynamic_size(4096);
    for i in 0..2000u32 {
        let mut block = Vec::new();
        let value = format!("value-{i}-{}", "v".repeat((i % 97) as usize)).into_bytes();
        let flags = httlib_hpack::Encoder::WITH_INDEXING | httlib_hpack::Encoder::HUFFMAN_VALUE;
        enc.encode((b"x-n".to_vec(), value.clone(), flags), &mut block)
            .unwrap();
        enc.encode((b"x-n".to_vec(), value.clone(), 0x10), &mut block)
            .unwrap();
        let got = decode_all(&mut d, &block).unwrap();
        assert_eq!(got, vec![(b"x-n".to_vec(), value.clone()); 2], "block {i}");
        assert!(d.table_size().0 <= 4096);
    }
    assert_eq!(d.table.data.capacity(), cap);
}

#[test]
fn encoder_uses_static_table() {
    let mut out = Vec::new();
    encode_field(&mut out, b":method", b"GET");
    encode_field(&mut out, b":scheme", b"https");
    encode_field(&mut out, b":path", b"/");
    encode_field(&mut out, b":authority", b"www.example.com");
    encode_field(&mut out, b":path", b"/fast");
    encode_field(&mut out, b"x-custom", b"1");
    let mut expect = hex("8287 8401 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d 0405 2f66 6173 74");
    expect.extend_from_slice(b"\x00\x08x-custom\x01\x31");
    assert_eq!(out, expect);
    // Name index 61 needs a continuation byte in a 4-bit prefix.
    out.clear();
    encode_field(&mut out, b"www-authenticate", b"x");
    assert_eq!(out, [0x0f, 61 - 15, 0x01, b'x']);
}

/// Header lists for the round trips: static-table names and values, and random ones.
fn header_list() -> impl Strategy<Value = Fields> {
    let name = prop_oneof![
        (0..61usize).prop_map(|i| STATIC_TABLE[i].0.to_vec()),
        "[a-z0-9-]{1,20}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    let value = prop_oneof![
        (0..61usize).prop_map(|i| STATIC_TABLE[i].1.to_vec()),
        "[ -~]{0,60}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
    ];
    proptest::collection::vec((name, value), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(
        blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..4),
        max in prop_oneof![Just(0usize), Just(64), Just(4096)],
    ) {
        let mut d = Decoder::new(max);
        for block in &blocks {
            let _ = decode_all(&mut d, block);
            prop_assert!(d.table_size().0 <= d.table_size().1);
        }
    }

    /// Valid blocks (nginx's, C.6's) with bytes changed, cut or appended: errors or fields,
    /// never a panic, and the table stays within its size.
    #[test]
    fn mutated_valid_blocks_never_panic(
        which in 0..2usize,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut block = hex([NGINX_FAST, C6_1][which]);
        for (at, byte) in &edits {
            let i = at.index(block.len());
            block[i] = *byte;
        }
        block.truncate(cut.index(block.len() + 1));
        block.extend_from_slice(&tail);
        let mut d = Decoder::new(256);
        for _ in 0..3 {
            let _ = decode_all(&mut d, &block);
            prop_assert!(d.table_size().0 <= d.table_size().1);
        }
    }

    /// Blocks from httlib-hpack's encoder on one connection decode to the input: Huffman names
    /// and values, incremental indexing, never indexed, references to both tables (each block is
    /// sent twice, so the second refers to what the first added), size updates, eviction.
    #[test]
    fn oracle_encoded_blocks_round_trip(
        blocks in proptest::collection::vec(
            (
                header_list(),
                proptest::collection::vec(any::<u8>(), 12),
                proptest::option::of(0..=4096u32),
            ),
            1..5,
        ),
        size in prop_oneof![Just(4096u32), Just(256), Just(100), Just(0)],
    ) {
        let mut enc = httlib_hpack::Encoder::with_dynamic_size(size);
        let mut d = Decoder::new(size as usize);
        for (list, flags, update) in &blocks {
            for _ in 0..2 {
                let mut bytes = Vec::new();
                if let Some(new_size) = update {
                    enc.update_max_dynamic_size(new_size % (size + 1), &mut bytes).unwrap();
                }
                for (i, (n, v)) in list.iter().enumerate() {
                    // 0x1 Huffman name, 0x2 Huffman value, 0x4 incremental indexing,
                    // 0x8 never indexed, 0x10 use the tables.
                    let f = flags[i % flags.len()] & 0x1f;
                    enc.encode((n.clone(), v.clone(), f), &mut bytes).unwrap();
                }
                let got = decode_all(&mut d, &bytes);
                prop_assert_eq!(got.as_ref(), Ok(list));
            }
        }
    }

    /// Our encoder's output decoded by httlib-hpack's decoder and by ours gives the fields back.
    #[test]
    fn our_encoding_decodes_in_both(list in header_list()) {
        let mut bytes = Vec::new();
        for (n, v) in &list {
            encode_field(&mut bytes, n, v);
        }
        prop_assert_eq!(decode_all(&mut Decoder::new(4096), &bytes), Ok(list.clone()));
        let mut theirs = Vec::new();
        httlib_hpack::Decoder::default().decode(&mut bytes.clone(), &mut theirs).unwrap();
        let theirs: Fields = theirs.into_iter().map(|(n, v, _)| (n, v)).collect();
        prop_assert_eq!(theirs, list);
    }
}

/// nginx 1.22.1's response block for `/fast` over h2c (captured from `return 200 "ok"` with
/// `default_type text/plain`): `:status 200` indexed, then server, date, content-type and
/// content-length each as a literal with incremental indexing (nginx never refers to its
/// dynamic table), the first three Huffman-coded. Every response repeats it.
const NGINX_FAST: &str = "887689aa6355e580ae212e1f6196e4593e940094be52282009c500f5c03b71a794c5a37\
                          f5f87497ca58ae819aa5c0132";

#[test]
fn nginx_block_decodes() {
    let mut d = Decoder::new(4096);
    let block = hex(NGINX_FAST);
    for _ in 0..100 {
        let got = decode_all(&mut d, &block).unwrap();
        let expect = [
            (":status", "200"),
            ("server", "nginx/1.22.1"),
            ("date", "Wed, 02 Dec 2026 08:07:48 GMT"),
            ("content-type", "text/plain"),
            ("content-length", "2"),
        ];
        assert_eq!(got, fields(&expect));
    }
}

/// Micro-measure, not a test: `cargo test --release --lib hpack::tests::measure -- --ignored
/// --nocapture` prints ns per nginx response block (and httlib-hpack's, for scale).
#[test]
#[ignore]
fn measure_nginx_block() {
    let block = hex(NGINX_FAST);
    let n = 1_000_000u32;
    let mut d = Decoder::new(4096);
    let mut status = Vec::with_capacity(8);
    let start = std::time::Instant::now();
    for _ in 0..n {
        d.decode(std::hint::black_box(&block), |f: Field<'_>| {
            if f.name == b":status" {
                status.clear();
                f.value.decode_into(&mut status)?;
            }
            Ok::<(), HpackError>(())
        })
        .unwrap();
    }
    let ours = start.elapsed().as_nanos() as f64 / f64::from(n);
    assert_eq!(status, b"200");
    let mut theirs = httlib_hpack::Decoder::with_dynamic_size(4096);
    let m = n / 10;
    let start = std::time::Instant::now();
    for _ in 0..m {
        let mut buf = block.clone();
        let mut out = Vec::new();
        theirs.decode(&mut buf, &mut out).unwrap();
        std::hint::black_box(out);
    }
    let httlib = start.elapsed().as_nanos() as f64 / f64::from(m);
    // The Huffman part alone: the block's three Huffman strings (server, date, content-type).
    let strings = [&block[3..12], &block[14..36], &block[38..45]];
    let mut out = Vec::with_capacity(64);
    let start = std::time::Instant::now();
    for _ in 0..n {
        for s in std::hint::black_box(strings) {
            out.clear();
            super::huffman::decode(s, &mut out).unwrap();
        }
    }
    let huff = start.elapsed().as_nanos() as f64 / f64::from(n);
    assert_eq!(out, b"text/plain");
    println!(
        "nginx /fast response block: ours {ours:.0} ns (of which Huffman {huff:.0} ns), \
         httlib-hpack {httlib:.0} ns"
    );
}
