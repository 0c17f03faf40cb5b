//! Byte mutations for the fuzzer: what corrupt files look like in practice (flipped bits,
//! truncation, lost or repeated blocks, spliced files, header fields set to boundary values,
//! numbers in text headers replaced by extreme ones) plus plain random bytes.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// Values that sit on the edges of integer fields.
const EDGES: [u32; 14] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

/// Numbers that break parsers of text fields (JSON metadata, TOML, onset lists).
const EDGE_NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "1",
    "65535",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-0.0",
    "NaN",
    "inf",
    "0.000001",
];

/// A random position, biased to the first kilobyte (headers) half of the time.
fn position(rng: &mut ChaCha8Rng, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if rng.random_bool(0.5) {
        rng.random_range(0..len.min(1024))
    } else {
        rng.random_range(0..len)
    }
}

/// `input` changed by one to four stacked mutations; `others` are splice partners. The result
/// is at most `max_len` bytes.
pub fn mutate(rng: &mut ChaCha8Rng, input: &[u8], others: &[&[u8]], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(rng, &mut out, others);
    }
    out.truncate(max_len);
    out
}

fn mutate_once(rng: &mut ChaCha8Rng, out: &mut Vec<u8>, others: &[&[u8]]) {
    let len = out.len();
    match rng.random_range(0..12) {
        0 if len > 0 => {
            let p = position(rng, len);
            out[p] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let p = position(rng, len);
            out[p] = rng.random();
        }
        2 if len > 0 => {
            let p = position(rng, len);
            out[p] = [0u8, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
        }
        3 if len >= 4 => {
            // A header field: 2 or 4 bytes, either byte order, set to an edge value.
            let width = if rng.random_bool(0.5) { 2 } else { 4 };
            let p = position(rng, len - width + 1).min(len - width);
            let v = EDGES[rng.random_range(0..EDGES.len())];
            let bytes = if rng.random_bool(0.5) {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            let field = if width == 2 {
                if rng.random_bool(0.5) {
                    &bytes[..2]
                } else {
                    &bytes[2..]
                }
            } else {
                &bytes[..]
            };
            out[p..p + width].copy_from_slice(field);
        }
        4 if len > 0 => {
            let keep = rng.random_range(0..len);
            out.truncate(keep);
        }
        5 if len > 1 => {
            let a = position(rng, len);
            let b = (a + rng.random_range(1..=len.min(512))).min(len);
            out.drain(a..b);
        }
        6 if len > 1 => {
            let a = position(rng, len);
            let b = (a + rng.random_range(1..=len.min(512))).min(len);
            let block = out[a..b].to_vec();
            let at = rng.random_range(0..=len);
            out.splice(at..at, block);
        }
        7 if !others.is_empty() => {
            let other = others[rng.random_range(0..others.len())];
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..=other.len());
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        8 => {
            let at = rng.random_range(0..=len);
            let mut block = vec![0u8; rng.random_range(1..64)];
            rng.fill_bytes(&mut block);
            out.splice(at..at, block);
        }
        9 if len > 0 => {
            let p = position(rng, len);
            let delta = rng.random_range(1..=16u8);
            out[p] = if rng.random_bool(0.5) {
                out[p].wrapping_add(delta)
            } else {
                out[p].wrapping_sub(delta)
            };
        }
        10 => replace_number(rng, out),
        _ => {
            // Zero (or 0xff-fill) a block: a lost disk sector.
            if len > 0 {
                let a = position(rng, len);
                let b = (a + rng.random_range(1..=len.min(4096))).min(len);
                let fill = if rng.random_bool(0.5) { 0 } else { 0xff };
                out[a..b].fill(fill);
            }
        }
    }
}

/// Replaces a run of ASCII digits (in the first 8 KB) with an edge number.
fn replace_number(rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let scan = out.len().min(8192);
    let starts: Vec<usize> = (0..scan)
        .filter(|&i| out[i].is_ascii_digit() && (i == 0 || !out[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let a = starts[rng.random_range(0..starts.len())];
    let b = (a..out.len())
        .find(|&i| !out[i].is_ascii_digit() && out[i] != b'.')
        .unwrap_or(out.len());
    let number = EDGE_NUMBERS[rng.random_range(0..EDGE_NUMBERS.len())];
    out.splice(a..b, number.bytes());
}

/// Random bytes of random length up to `max_len`, sometimes starting with a known magic
/// number so that the input reaches a parser rather than the "unknown format" check.
pub fn random_input(rng: &mut ChaCha8Rng, magics: &[&[u8]], max_len: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max_len.min(4096));
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    if !magics.is_empty() && rng.random_bool(0.7) {
        let magic = magics[rng.random_range(0..magics.len())];
        let n = magic.len().min(out.len());
        out[..n].copy_from_slice(&magic[..n]);
    }
    out
}
