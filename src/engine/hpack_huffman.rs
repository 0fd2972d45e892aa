//! HPACK Huffman coding (RFC 7541 §5.2, Appendix B): the code table and a nibble-at-a-time
//! decoder whose state table is built once, at first use, from that code table.
//!
//! `CODES` and `CODE_LENGTHS` are copied from the `h2` crate 0.4.20
//! (src/hpack/huffman/table.rs, MIT licence, © 2017 h2 authors), which generated them from
//! RFC 7541 Appendix B. EOS (symbol 256) is `EOS_CODE`/`EOS_LEN`.

use super::hpack::HpackError;
use std::sync::OnceLock;

/// Code of each byte value, right-aligned in `CODE_LENGTHS[b]` bits.
pub(crate) const CODES: [u32; 256] = [
    0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8,
    0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed,
    0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4,
    0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, 0x14, 0x3f8,
    0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
    0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb,
    0x3fc, 0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0,
    0x1ffc, 0x3ffc, 0x22, 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, 0x27, 0x6, 0x74, 0x75,
    0x28, 0x29, 0x2a, 0x7, 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe,
    0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4,
    0x3fffd5, 0x7fffd9, 0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb,
    0x7fffdf, 0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
    0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, 0x3fffda,
    0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea, 0x3fffdd,
    0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0,
    0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4,
    0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1, 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7,
    0x7ffff2, 0x3fffe8, 0x1ffffec, 0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf,
    0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7,
    0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4,
    0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
    0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, 0x3ffffeb,
    0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, 0x7ffffeb,
    0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
];

/// Length in bits of each byte's code.
pub(crate) const CODE_LENGTHS: [u8; 256] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
];

/// EOS (symbol 256): 30 one bits.
const EOS_CODE: u32 = 0x3fff_ffff;
const EOS_LEN: u8 = 30;

/// One transition of the decoder: from a state (a node of the code tree) on 4 input bits.
#[derive(Clone, Copy, Default)]
struct Step {
    /// The state after the 4 bits.
    next: u16,
    /// The byte completed on the way (valid when `flags & EMIT`).
    sym: u8,
    flags: u8,
}

/// A byte was completed within the 4 bits.
const EMIT: u8 = 1;
/// The state after the 4 bits may end the string: at the root (between codes), or at most 7 bits
/// into the all-ones path (a prefix of EOS: valid padding, §5.2).
const ACCEPT: u8 = 2;
/// The 4 bits complete EOS, which must not appear in a string (§5.2).
const FAIL: u8 = 4;

/// A child in the code tree while it is built: none yet, an inner node, or a symbol (0..=256).
#[derive(Clone, Copy)]
enum Child {
    None,
    Node(u16),
    Leaf(u16),
}

/// The decoder's table: `STEPS[state + nibble]`, `state` being 16 times an inner node's number
/// (256 inner nodes: the index fits 12 bits, so masking it needs no bounds check).
fn steps() -> &'static [Step; 4096] {
    static STEPS: OnceLock<Box<[Step; 4096]>> = OnceLock::new();
    STEPS.get_or_init(build_steps)
}

/// The code tree of `CODES` (+ EOS): each inner node's two children, and for each inner node
/// its depth if the path from the root to it is all ones (a prefix of EOS).
type Tree = (Vec<[Child; 2]>, Vec<Option<u8>>);

fn build_tree() -> Tree {
    let mut tree: Vec<[Child; 2]> = vec![[Child::None; 2]];
    let mut ones_depth: Vec<Option<u8>> = vec![Some(0)];
    let codes = CODES
        .iter()
        .zip(CODE_LENGTHS.iter())
        .map(|(&c, &l)| (c, l))
        .chain(std::iter::once((EOS_CODE, EOS_LEN)));
    for (sym, (code, len)) in codes.enumerate() {
        let mut node = 0usize;
        for i in (0..len).rev() {
            let bit = ((code >> i) & 1) as usize;
            if i == 0 {
                tree[node][bit] = Child::Leaf(sym as u16);
                break;
            }
            node = match tree[node][bit] {
                Child::Node(n) => n as usize,
                _ => {
                    let n = tree.len();
                    let depth = ones_depth[node].filter(|_| bit == 1).map(|d| d + 1);
                    tree.push([Child::None; 2]);
                    ones_depth.push(depth);
                    tree[node][bit] = Child::Node(n as u16);
                    n
                }
            };
        }
    }
    (tree, ones_depth)
}

/// The transitions of each inner node on each nibble. The code is complete (every inner node
/// has two children), so `Child::None` is never reached; it is treated as EOS (an error) rather
/// than trusted.
fn build_steps() -> Box<[Step; 4096]> {
    let (tree, ones_depth) = build_tree();
    let accepts = |n: usize| n == 0 || ones_depth[n].is_some_and(|d| d <= 7);
    let mut steps = Box::new([Step::default(); 4096]);
    // `tree` has exactly 256 inner nodes (a test checks): `zip` stops at either end anyway.
    for (state, chunk) in (0..tree.len()).zip(steps.chunks_mut(16)) {
        for (nibble, step) in chunk.iter_mut().enumerate() {
            let mut node = state;
            for i in (0..4).rev() {
                match tree[node][(nibble >> i) & 1] {
                    Child::Node(n) => node = n as usize,
                    Child::Leaf(sym) if sym < 256 => {
                        step.sym = sym as u8;
                        step.flags |= EMIT;
                        node = 0;
                    }
                    Child::Leaf(_) | Child::None => {
                        step.flags |= FAIL;
                        node = 0;
                    }
                }
            }
            step.next = (node * 16) as u16;
            if accepts(node) {
                step.flags |= ACCEPT;
            }
        }
    }
    steps
}

/// Appends the Huffman decoding of `src` to `out`. Errors on EOS in the string and on padding
/// that is longer than 7 bits or not all ones (§5.2). `out` grows by at most `src.len() * 8 / 5`
/// bytes (the shortest code is 5 bits), reserved once.
pub(crate) fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HpackError> {
    let steps = steps();
    out.reserve(src.len() * 8 / 5 + 1);
    let mut state = 0usize;
    let mut flags = ACCEPT;
    let mut failed = 0;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = steps[(state | nibble as usize) & 0xfff];
            if step.flags & EMIT != 0 {
                out.push(step.sym);
            }
            state = step.next as usize;
            flags = step.flags;
            failed |= flags;
        }
    }
    // EOS is rare enough to be checked once, at the end (what was pushed meanwhile is garbage
    // the caller drops with the error).
    if failed & FAIL != 0 {
        return Err(HpackError::HuffmanEos);
    }
    if flags & ACCEPT == 0 {
        return Err(HpackError::HuffmanPadding);
    }
    Ok(())
}

/// Huffman-encodes `src` (test-only: our encoder sends raw strings), padding with the most
/// significant bits of EOS.
#[cfg(test)]
pub(crate) fn encode(src: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let len = u32::from(CODE_LENGTHS[b as usize]);
        acc = (acc << len) | u64::from(CODES[b as usize]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(src: &[u8]) -> Result<Vec<u8>, HpackError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn tree_has_256_inner_nodes_and_at_most_one_byte_per_nibble() {
        // 257 symbols in a complete prefix code: 256 inner nodes, 16 steps each, all 4096 used.
        let (tree, _) = build_tree();
        assert_eq!(tree.len(), 256);
        assert!(tree.iter().flatten().all(|c| !matches!(c, Child::None)));
        // A nibble completes at most one byte: the shortest code is 5 bits.
        assert_eq!(CODE_LENGTHS.iter().min(), Some(&5));
        let steps = steps();
        assert!(
            steps
                .iter()
                .all(|s| (s.next as usize) < 4096 && s.next % 16 == 0)
        );
        // Every state is reachable and used: each inner node's 16 steps were filled (an unfilled
        // one would be all zeros: no byte, no ACCEPT, state 0, which no real step is).
        assert!(steps.iter().all(|s| s.flags != 0 || s.next != 0));
    }

    #[test]
    fn every_byte_round_trips_alone_and_all_together() {
        for b in 0..=255u8 {
            let mut enc = Vec::new();
            encode(&[b], &mut enc);
            assert_eq!(
                dec(&enc),
                Ok(vec![b]),
                "byte {b:#04x} encoded as {enc:02x?}"
            );
        }
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(dec(&enc), Ok(all));
    }

    #[test]
    fn rfc_examples_decode() {
        // C.4.1: "www.example.com"; C.6.1: "Mon, 21 Oct 2013 20:13:21 GMT".
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(dec(&www).as_deref(), Ok(&b"www.example.com"[..]));
        let mut enc = Vec::new();
        encode(b"www.example.com", &mut enc);
        assert_eq!(enc, www);
        assert_eq!(dec(&[]).as_deref(), Ok(&b""[..]));
    }

    #[test]
    fn invalid_padding_and_eos_are_rejected() {
        // 'a' is 00011 (5 bits): padding 000 is not the MSBs of EOS.
        assert_eq!(dec(&[0b0001_1000]), Err(HpackError::HuffmanPadding));
        // 'a' then padding 111 is fine; a whole byte of ones after it is 11 bits of padding.
        assert_eq!(dec(&[0b0001_1111]).as_deref(), Ok(&b"a"[..]));
        assert_eq!(dec(&[0b0001_1111, 0xff]), Err(HpackError::HuffmanPadding));
        // Padding of 8 ones alone (no symbol) is longer than 7 bits.
        assert_eq!(dec(&[0xff]), Err(HpackError::HuffmanPadding));
        // Padding with a zero in it: 'a' + 101.
        assert_eq!(dec(&[0b0001_1101]), Err(HpackError::HuffmanPadding));
        // EOS (30 ones) followed by 2 bits of padding, and EOS after a symbol.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(HpackError::HuffmanEos));
        // 'a' (00011) + EOS (30 ones) + 5 ones of padding = 40 bits.
        let bits: u64 = (0b00011 << 35) | (EOS_CODE as u64) << 5 | 0b11111;
        let bytes: Vec<u8> = (0..5).rev().map(|i| (bits >> (i * 8)) as u8).collect();
        assert_eq!(dec(&bytes), Err(HpackError::HuffmanEos));
    }
}
