//! The procedural kit: all twelve drum-source components synthesised from a seed, so that the
//! product runs and trains without any sample library. The seed varies tuning, decay, noise colour,
//! level and EQ within plausible ranges; the same seed gives bit-identical samples everywhere
//! (ChaCha8 parameters, arithmetic-only transcendental functions, no threads).

mod blocks;
mod cymbals;
mod detmath;
mod hats;
mod membranes;
mod tambourine;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use blocks::{Dice, OnePole};
use hats::HatPlay;
use membranes::Tom;

use super::{Kit, KitComponent};

/// Largest absolute sample a procedural component reaches (peak targets are drawn below it).
pub const MAX_PEAK: f32 = 0.9;

/// The components the generator makes: the model's 11 in order, then the ride bell.
pub fn procedural_component_names() -> Vec<String> {
    super::components::all_component_names()
}

/// A kit of all 12 components (`COMPONENTS` in order, then `CY_RDB`), `length` samples each at
/// 16 kHz, every attack starting at sample 0.
pub fn procedural_kit(seed: u64, length: usize) -> Kit {
    let components = procedural_component_names()
        .into_iter()
        .enumerate()
        .map(|(stream, name)| {
            // One ChaCha stream per component: changing one voice never reshuffles the others.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream as u64);
            let mut dice = Dice::new(rng);
            let raw = render_voice(&name, &mut dice, length);
            let samples = finish(raw, &name, &mut dice);
            KitComponent { name, samples }
        })
        .collect();
    Kit {
        name: format!("procedural#{seed}"),
        components,
    }
}

fn render_voice(name: &str, dice: &mut Dice, len: usize) -> Vec<f64> {
    match name {
        "KD_KD" => membranes::kick(dice, len),
        "SD_SD" => membranes::snare(dice, len),
        "HH_CHH" => hats::hat(dice, HatPlay::Closed, len),
        "HH_OHH" => hats::hat(dice, HatPlay::Open, len),
        "HH_PHH" => hats::hat(dice, HatPlay::Pedal, len),
        "TT_HIT" => membranes::tom(dice, Tom::High, len),
        "TT_MHT" => membranes::tom(dice, Tom::Mid, len),
        "TT_HFT" => membranes::tom(dice, Tom::Floor, len),
        "CY_RDC" => cymbals::ride(dice, len),
        "CY_CRC" => cymbals::crash(dice, len),
        "CY_RDB" => cymbals::ride_bell(dice, len),
        _ => tambourine::tambourine(dice, len),
    }
}

/// Seeded tilt EQ, a short fade at the cut (the sample is truncated mid-ring; a hard edge would
/// click when the synthesizer convolves with it), then scaling to a seeded peak level.
fn finish(mut x: Vec<f64>, name: &str, dice: &mut Dice) -> Vec<f32> {
    // Positive tilt brightens, negative darkens: x + g * (x - lowpass(x)).
    let tilt = dice.uniform(-0.25, 0.3);
    let mut lp = OnePole::lowpass(dice.uniform(1000.0, 2500.0));
    for v in x.iter_mut() {
        *v += tilt * (*v - lp.process(*v));
    }
    let fade = (x.len() / 10).min(320);
    let start = x.len() - fade;
    for (i, v) in x[start..].iter_mut().enumerate() {
        let pos = (i + 1) as f64 / fade as f64;
        *v *= 0.5 * (1.0 + detmath::cos(std::f64::consts::PI * pos));
    }
    let softer = if name == "HH_PHH" { 0.75 } else { 1.0 };
    let target = softer * dice.uniform(0.6, f64::from(MAX_PEAK));
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let gain = if peak > 0.0 { target / peak } else { 0.0 };
    x.iter().map(|v| (v * gain) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_component_at_the_requested_length() {
        for length in [0, 1, 100, 16_000] {
            let kit = procedural_kit(3, length);
            assert_eq!(kit.components.len(), 12);
            assert_eq!(kit.component_names(), procedural_component_names());
            for c in &kit.components {
                assert_eq!(c.samples.len(), length, "{}", c.name);
                assert!(c
                    .samples
                    .iter()
                    .all(|v| v.is_finite() && v.abs() <= MAX_PEAK));
            }
        }
    }
}
