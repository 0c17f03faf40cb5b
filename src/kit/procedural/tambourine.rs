//! Tambourine: the jingles hit in a few quick, fading bursts as the frame shakes.

use super::blocks::{seconds, Biquad, Decay, Dice, Sine};
use super::detmath;

pub fn tambourine(dice: &mut Dice, len: usize) -> Vec<f64> {
    let mut onsets = [0.0; 4];
    for i in 1..4 {
        onsets[i] = onsets[i - 1] + dice.uniform(0.010, 0.022);
    }
    let levels = [
        1.0,
        dice.uniform(0.4, 0.6),
        dice.uniform(0.22, 0.38),
        dice.uniform(0.1, 0.2),
    ];
    let burst_tau = dice.uniform(0.012, 0.02);
    let ring_tau = dice.uniform(0.08, 0.14);
    let mut noise_bp = Biquad::bandpass(dice.uniform(5000.0, 6500.0), dice.uniform(1.5, 2.5));
    let mut noise_hp = Biquad::highpass(3000.0, 0.707);
    let mut jingles: Vec<(Sine, f64)> = (0..6)
        .map(|_| (Sine::new(dice.unit()), dice.log_uniform(4500.0, 7500.0)))
        .collect();
    let jingle_level = dice.uniform(0.25, 0.45);
    let mut ring = Decay::new(ring_tau);
    (0..len)
        .map(|n| {
            let t = seconds(n);
            let bursts: f64 = onsets
                .iter()
                .zip(levels)
                .filter(|(onset, _)| t >= **onset)
                .map(|(onset, level)| level * detmath::exp(-(t - onset) / burst_tau))
                .sum();
            let noise = noise_hp.process(noise_bp.process(dice.noise()));
            let ring_env = ring.next_value();
            let jingle: f64 = jingles
                .iter_mut()
                .map(|(osc, f)| osc.next_value(*f))
                .sum::<f64>()
                / 6.0;
            2.0 * noise * (bursts + 0.15 * ring_env)
                + jingle_level * jingle * ring_env * bursts.min(1.0)
        })
        .collect()
}
