//! The procedural kit: all twelve drum-source components synthesised from a seed, so that the
//! product runs and trains without any sample library. The seed varies tuning, decay, noise colour,
//! level and EQ within plausible ranges; the same seed gives bit-identical samples everywhere
//! (ChaCha8 parameters, arithmetic-only transcendental functions, no threads).
//!
//! Kits come in families ([`KitFamily`]), each its own sound world; `acoustic` is the original
//! generator and [`procedural_kit`] still makes exactly its kits.

mod blocks;
mod brushes;
mod cymbals;
mod detmath;
mod electronic;
mod family;
mod hats;
#[cfg(test)]
mod measure;
mod membranes;
mod processed;
mod room;
mod tambourine;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use blocks::{Dice, OnePole};
use hats::HatPlay;
use membranes::Tom;

use super::{Kit, KitComponent};

pub use family::{KitFamily, UnknownKitFamily};

/// Largest absolute sample a procedural component reaches (peak targets are drawn below it).
pub const MAX_PEAK: f32 = 0.9;

/// The components the generator makes: the model's 11 in order, then the ride bell.
pub fn procedural_component_names() -> Vec<String> {
    super::components::all_component_names()
}

/// A kit of all 12 components (`COMPONENTS` in order, then `CY_RDB`), `length` samples each at
/// 16 kHz, every attack starting at sample 0: the acoustic family's kit of `seed`.
pub fn procedural_kit(seed: u64, length: usize) -> Kit {
    procedural_kit_of(KitFamily::Acoustic, seed, length)
}

/// The kit of `seed` in `family`: the same 12 components, length and conventions in every family.
pub fn procedural_kit_of(family: KitFamily, seed: u64, length: usize) -> Kit {
    let components = procedural_component_names()
        .into_iter()
        .enumerate()
        .map(|(stream, name)| {
            let samples = render_component(family, seed, stream as u64, &name, length);
            KitComponent { name, samples }
        })
        .collect();
    Kit {
        name: family.kit_name(seed),
        components,
    }
}

/// One ChaCha stream per component: changing one voice never reshuffles the others.
fn component_dice(seed: u64, stream: u64) -> Dice {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    Dice::new(rng)
}

fn render_component(
    family: KitFamily,
    seed: u64,
    stream: u64,
    name: &str,
    length: usize,
) -> Vec<f32> {
    let mut dice = component_dice(seed, family.stream_base() + stream);
    match family {
        KitFamily::Acoustic => {
            let raw = render_voice(name, &mut dice, length);
            finish(raw, name, &mut dice)
        }
        KitFamily::Electronic => {
            let raw = electronic::voice(name, &mut dice, length);
            finish(raw, name, &mut dice)
        }
        KitFamily::Brushes => {
            let raw = brushes::voice(name, &mut dice, length);
            finish(raw, name, &mut dice)
        }
        KitFamily::Processed | KitFamily::Room => {
            // The same-seed acoustic voice, finished with its own draws, so that a processed or
            // roomy kit differs from its acoustic twin only by the effect (drawn from `dice`).
            let mut voice_dice = component_dice(seed, stream);
            let dry = render_voice(name, &mut voice_dice, length);
            let wet = match family {
                KitFamily::Processed => processed::process(dry, &mut dice),
                _ => room::reverberate(dry, &mut dice),
            };
            finish(wet, name, &mut voice_dice)
        }
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
        for family in KitFamily::ALL {
            for length in [0, 1, 100, 16_000] {
                let kit = procedural_kit_of(family, 3, length);
                assert_eq!(kit.components.len(), 12);
                assert_eq!(kit.component_names(), procedural_component_names());
                for c in &kit.components {
                    assert_eq!(c.samples.len(), length, "{family} {}", c.name);
                    assert!(c
                        .samples
                        .iter()
                        .all(|v| v.is_finite() && v.abs() <= MAX_PEAK));
                }
            }
        }
    }

    fn bits(kit: &Kit) -> Vec<Vec<u32>> {
        kit.components
            .iter()
            .map(|c| c.samples.iter().map(|v| v.to_bits()).collect())
            .collect()
    }

    #[test]
    fn every_family_renders_deterministically_and_each_seed_differs() {
        for family in KitFamily::ALL {
            let a = bits(&procedural_kit_of(family, 1042, 4000));
            assert_eq!(a, bits(&procedural_kit_of(family, 1042, 4000)), "{family}");
            let b = bits(&procedural_kit_of(family, 1043, 4000));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert_ne!(x, y, "{family} component {i}: seeds 1042 and 1043 agree");
            }
        }
    }

    #[test]
    fn families_are_distinct_sound_worlds() {
        let acoustic = bits(&procedural_kit(5, 2000));
        for family in &KitFamily::ALL[1..] {
            let other = bits(&procedural_kit_of(*family, 5, 2000));
            for (i, (x, y)) in acoustic.iter().zip(&other).enumerate() {
                assert_ne!(x, y, "{family} component {i} is the acoustic one");
            }
        }
    }

    #[test]
    fn the_acoustic_family_is_the_original_generator() {
        for seed in [0, 7, 1000, 123_456] {
            assert_eq!(
                procedural_kit_of(KitFamily::Acoustic, seed, 3000),
                procedural_kit(seed, 3000)
            );
        }
        assert_eq!(procedural_kit(4, 10).name, "procedural#4");
        assert_eq!(
            procedural_kit_of(KitFamily::Room, 4, 10).name,
            "procedural-room#4"
        );
    }

    /// Every family's components are audible, unclipped and sound from sample 0: the model's
    /// synthesizer places each onset at the sample's start.
    #[test]
    fn every_family_is_audible_and_starts_at_once() {
        for family in KitFamily::ALL {
            for seed in [0, 1, 1000, 1001] {
                let kit = procedural_kit_of(family, seed, 16_000);
                for c in &kit.components {
                    let x = &c.samples;
                    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let label = format!("{family} seed {seed} {}", c.name);
                    assert!(peak > 0.3 && peak <= MAX_PEAK, "{label}: peak {peak}");
                    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
                    assert!(rms > 0.003, "{label}: rms {rms}");
                    let first = x.iter().position(|v| v.abs() > 0.01 * peak).unwrap();
                    assert!(first < 16, "{label}: silent until sample {first}");
                }
            }
        }
    }
}
