//! Pins what the default settings produce: training resumption and determinism tests compare
//! losses, so new styles, augmentations and settings must leave the default streams exactly as
//! they were. The fingerprints were computed before those features were added.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{augment, generate_performance, AugmentSettings, GrooveSettings};

/// FNV-1a over the words, order-sensitive.
fn fnv(words: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for w in words {
        for b in w.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Times are rounded to microseconds, so a last-ulp difference of a libm does not matter.
fn performance_fingerprint(seed: u64) -> (usize, u64) {
    let p = generate_performance(seed, 30.0, &GrooveSettings::default());
    let words = p.notes.iter().flat_map(|n| {
        [
            (n.time * 1e6).round() as u64,
            u64::from(n.note),
            u64::from(n.velocity),
        ]
    });
    let head = [
        p.bpm.to_bits() >> 20,
        (p.first_downbeat * 1e6).round() as u64,
    ];
    (p.notes.len(), fnv(head.into_iter().chain(words)))
}

fn augmentation_fingerprint(seed: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut x: Vec<f32> = (0..16_000)
        .map(|i| {
            let click = if i % 2000 < 40 { 0.8 } else { 0.0 };
            click * rng.random_range(-1.0f32..1.0)
        })
        .collect();
    let a = augment(&mut x, seed, &AugmentSettings::default(), 16_000);
    let samples = x
        .iter()
        .map(|&s| (f64::from(s) * 1e5).round() as i64 as u64);
    let record = [
        (a.gain_db * 1e6).round() as i64 as u64,
        (a.tilt_db * 1e6).round() as i64 as u64,
        a.reverb.map_or(0, |(t, w)| {
            ((t * 1e6).round() as u64) ^ ((w * 1e6).round() as u64) << 32
        }),
        (a.noise_db * 1e6).round() as i64 as u64,
    ];
    fnv(record.into_iter().chain(samples))
}

#[test]
fn default_performances_are_the_pinned_ones() {
    let pinned: [(u64, usize, u64); 6] = [
        (0, 346, 5226205059459890394),
        (1, 405, 2647590478362200686),
        (7, 250, 12842633562142409443),
        (42, 171, 16895305363151354545),
        (1234, 225, 3728295557689136307),
        (987_654_321, 121, 10370495938215537064),
    ];
    for (seed, count, hash) in pinned {
        assert_eq!(performance_fingerprint(seed), (count, hash), "seed {seed}");
    }
}

#[test]
fn default_augmentation_is_the_pinned_one() {
    let pinned: [(u64, u64); 4] = [
        (0, 0x53dd_cf50_4e00_c00a),
        (3, 0x340f_771b_7d65_c25e),
        (11, 0x4b50_6851_994f_4fa1),
        (2024, 0x3b3e_2a31_0180_76f7),
    ];
    for (seed, hash) in pinned {
        assert_eq!(augmentation_fingerprint(seed), hash, "seed {seed}");
    }
}
