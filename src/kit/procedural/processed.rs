//! The processed family: an acoustic voice through a seeded mixing-desk chain, as on records that
//! squash and colour their drums: strong EQ, a compressor, saturation or clipping, and for some
//! kits a lo-fi stage (sample-rate reduction and bit-crushing).

use super::blocks::{Biquad, Dice, SR};
use super::detmath;

/// Share of kits with the lo-fi stage.
const LOFI_SHARE: f64 = 0.4;

pub fn process(x: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let x = equalise(x, dice);
    let x = compress(x, dice);
    let x = saturate(x, dice);
    if dice.unit() < LOFI_SHARE {
        crush(x, dice)
    } else {
        x
    }
}

/// A strong seeded EQ: a 6-14 dB resonant boost somewhere between 150 Hz and 5 kHz, and either
/// a high-pass (thin) or a low-pass (dull) on top.
fn equalise(mut x: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let boost = detmath::powf(10.0, dice.uniform(6.0, 14.0) / 20.0) - 1.0;
    let mut band = Biquad::bandpass(dice.log_uniform(150.0, 5000.0), dice.uniform(0.7, 2.0));
    let cut_low = dice.unit() < 0.5;
    let mut cut = if cut_low {
        Biquad::highpass(dice.log_uniform(60.0, 300.0), 0.707)
    } else {
        Biquad::lowpass(dice.log_uniform(2500.0, 7000.0), 0.707)
    };
    for v in x.iter_mut() {
        *v = cut.process(*v + boost * band.process(*v));
    }
    x
}

fn peak(x: &[f64]) -> f64 {
    x.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Feed-forward compressor: a fast-attack peak follower, and above the threshold (drawn relative
/// to the voice's own peak) the level is divided down by the ratio.
fn compress(mut x: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let threshold = peak(&x) * detmath::powf(10.0, -dice.uniform(10.0, 30.0) / 20.0);
    let ratio = dice.uniform(3.0, 20.0);
    let attack = 1.0 - detmath::exp(-1.0 / (dice.uniform(0.0001, 0.002) * SR));
    let release = 1.0 - detmath::exp(-1.0 / (dice.uniform(0.03, 0.2) * SR));
    let slope = 1.0 / ratio - 1.0;
    let mut env = 0.0;
    for v in x.iter_mut() {
        let level = v.abs();
        env += if level > env { attack } else { release } * (level - env);
        if env > threshold {
            *v *= detmath::powf(env / threshold, slope);
        }
    }
    x
}

/// Soft saturation (tanh) or hard clipping, driven relative to the voice's peak.
fn saturate(mut x: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let drive = dice.uniform(1.5, 6.0);
    let hard = dice.unit() < 0.35;
    let scale = drive / peak(&x).max(1e-12);
    for v in x.iter_mut() {
        let driven = *v * scale;
        *v = if hard {
            driven.clamp(-1.0, 1.0)
        } else {
            detmath::tanh(driven)
        };
    }
    x
}

/// Sample-and-hold every 1-4 samples and quantise to 5-10 bits of the peak.
fn crush(x: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let hold = 1 + (dice.unit() * 4.0) as usize;
    let bits = 5 + (dice.unit() * 6.0) as i32;
    let steps = (1u64 << (bits - 1)) as f64 / peak(&x).max(1e-12);
    let mut held = 0.0;
    x.iter()
        .enumerate()
        .map(|(n, &v)| {
            if n % hold == 0 {
                held = (v * steps).round() / steps;
            }
            held
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::measure::crest_factor;
    use super::super::{procedural_kit, procedural_kit_of, KitFamily};
    use crate::kit::Kit;

    fn mean_crest(kit: &Kit) -> f64 {
        kit.components
            .iter()
            .map(|c| crest_factor(&c.samples))
            .sum::<f64>()
            / kit.components.len() as f64
    }

    /// Compression and saturation squash the peaks: a lower peak-to-RMS than the same-seed
    /// acoustic kit, for most seeds and well lower on average.
    #[test]
    fn processing_lowers_the_crest_factor() {
        let (mut processed, mut acoustic, mut lower) = (0.0, 0.0, 0);
        for seed in 1000..1010 {
            let p = mean_crest(&procedural_kit_of(KitFamily::Processed, seed, 16_000));
            let a = mean_crest(&procedural_kit(seed, 16_000));
            eprintln!("seed {seed}: crest processed {p:.2}, acoustic {a:.2}");
            processed += p;
            acoustic += a;
            lower += usize::from(p < a);
        }
        assert!(lower >= 8, "only {lower} of 10 seeds lower");
        assert!(processed < 0.75 * acoustic, "{processed} vs {acoustic}");
    }
}
