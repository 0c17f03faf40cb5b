//! Hi-hats, 808-style: six detuned square waves at inharmonic ratios through a band-pass, mixed
//! with high-passed noise. Closed, open and pedal share the source and differ in envelope and tone.

use super::blocks::{Biquad, Decay, Dice, Square};

/// The TR-808's six cymbal/hat oscillator frequencies (Hz).
const TR808_OSCILLATORS: [f64; 6] = [205.3, 304.4, 369.6, 522.7, 540.0, 800.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HatPlay {
    Closed,
    Open,
    /// Foot-closed: shorter, darker and softer "chick".
    Pedal,
}

pub fn hat(dice: &mut Dice, play: HatPlay, len: usize) -> Vec<f64> {
    let tune = dice.uniform(0.95, 1.3);
    let metal_mix = dice.uniform(0.35, 0.6);
    let (centre, highpass, tau) = match play {
        HatPlay::Closed => (
            dice.uniform(5000.0, 6800.0),
            dice.uniform(3800.0, 5000.0),
            dice.uniform(0.01, 0.016),
        ),
        HatPlay::Open => (
            dice.uniform(5000.0, 6800.0),
            dice.uniform(3500.0, 4800.0),
            dice.uniform(0.085, 0.13),
        ),
        HatPlay::Pedal => (
            dice.uniform(3500.0, 4500.0),
            dice.uniform(2500.0, 3500.0),
            dice.uniform(0.014, 0.022),
        ),
    };
    let mut oscillators: Vec<Square> = TR808_OSCILLATORS
        .iter()
        .map(|f| Square::new(f * tune, dice.unit()))
        .collect();
    let mut metal_bp = Biquad::bandpass(centre, 1.2);
    let mut metal_hp = Biquad::highpass(highpass, 0.707);
    let mut noise_hp = Biquad::highpass(highpass, 0.707);
    let mut env = Decay::new(tau);
    // The pedal's "chick": the two cymbals clapping together, a short low-mid noise puff.
    let mut chick_bp = Biquad::bandpass(dice.uniform(1200.0, 1800.0), 1.0);
    let mut chick_env = Decay::new(0.005);
    let chick_level = if play == HatPlay::Pedal { 0.6 } else { 0.0 };
    // Pedal attack ramps over 1 ms so the chick is softer than a stick hit.
    let ramp = if play == HatPlay::Pedal { 16 } else { 1 };
    (0..len)
        .map(|n| {
            let squares: f64 = oscillators.iter_mut().map(|o| o.next_value()).sum::<f64>() / 6.0;
            let metal = metal_hp.process(metal_bp.process(squares));
            let white = dice.noise();
            let noise = noise_hp.process(white);
            let chick = chick_level * chick_bp.process(white) * chick_env.next_value();
            let attack = ((n + 1) as f64 / ramp as f64).min(1.0);
            attack
                * (env.next_value() * (metal_mix * 2.0 * metal + (1.0 - metal_mix) * noise) + chick)
        })
        .collect()
}
