//! Tambourine: the jingles hit in a few quick, fading bursts as the frame shakes.

use super::blocks::{Biquad, Decay, Dice, Phasor, SR};

/// One jingle burst: starts at `onset` (samples) and fades from `level`.
struct Burst {
    onset: usize,
    level: f64,
    env: Decay,
}

pub fn tambourine(dice: &mut Dice, len: usize) -> Vec<f64> {
    let burst_tau = dice.uniform(0.012, 0.02);
    let mut onset_s = 0.0;
    let mut bursts: Vec<Burst> = [
        1.0,
        dice.uniform(0.4, 0.6),
        dice.uniform(0.22, 0.38),
        dice.uniform(0.1, 0.2),
    ]
    .iter()
    .enumerate()
    .map(|(i, &level)| {
        if i > 0 {
            onset_s += dice.uniform(0.010, 0.022);
        }
        Burst {
            onset: (onset_s * SR).round() as usize,
            level,
            env: Decay::new(burst_tau),
        }
    })
    .collect();
    let ring_tau = dice.uniform(0.08, 0.14);
    let mut noise_bp = Biquad::bandpass(dice.uniform(5000.0, 6500.0), dice.uniform(1.5, 2.5));
    let mut noise_hp = Biquad::highpass(3000.0, 0.707);
    let mut jingles: Vec<Phasor> = (0..6)
        .map(|_| {
            let f = dice.log_uniform(4500.0, 7500.0);
            Phasor::new(f, dice.unit())
        })
        .collect();
    let jingle_level = dice.uniform(0.25, 0.45);
    let mut ring = Decay::new(ring_tau);
    (0..len)
        .map(|n| {
            let shake: f64 = bursts
                .iter_mut()
                .filter(|b| n >= b.onset)
                .map(|b| b.level * b.env.next_value())
                .sum();
            let noise = noise_hp.process(noise_bp.process(dice.noise()));
            let ring_env = ring.next_value();
            let jingle: f64 = jingles.iter_mut().map(Phasor::next_value).sum::<f64>() / 6.0;
            2.0 * noise * (shake + 0.15 * ring_env)
                + jingle_level * jingle * ring_env * shake.min(1.0)
        })
        .collect()
}
