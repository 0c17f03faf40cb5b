//! The brushes family: brushes and rods. The snare is a swish (a brush swept over the head: long,
//! soft, band-limited noise swelling in) or a soft tap; the kick has a felt beater; hats, cymbals
//! and toms are the acoustic voices played softer: darker, with a rounded attack.

use super::blocks::{Biquad, Decay, Dice, OnePole, Sine, SR};
use super::{cymbals, detmath, hats, membranes, tambourine};

pub fn voice(name: &str, dice: &mut Dice, len: usize) -> Vec<f64> {
    match name {
        "KD_KD" => kick(dice, len),
        "SD_SD" => snare(dice, len),
        "HH_CHH" => soften(hats::hat(dice, hats::HatPlay::Closed, len), dice, Soft::Hat),
        "HH_OHH" => soften(hats::hat(dice, hats::HatPlay::Open, len), dice, Soft::Hat),
        "HH_PHH" => soften(hats::hat(dice, hats::HatPlay::Pedal, len), dice, Soft::Hat),
        "TT_HIT" => soften(
            membranes::tom(dice, membranes::Tom::High, len),
            dice,
            Soft::Tom,
        ),
        "TT_MHT" => soften(
            membranes::tom(dice, membranes::Tom::Mid, len),
            dice,
            Soft::Tom,
        ),
        "TT_HFT" => soften(
            membranes::tom(dice, membranes::Tom::Floor, len),
            dice,
            Soft::Tom,
        ),
        "CY_RDC" => soften(cymbals::ride(dice, len), dice, Soft::Cymbal),
        "CY_CRC" => soften(cymbals::crash(dice, len), dice, Soft::Cymbal),
        "CY_RDB" => soften(cymbals::ride_bell(dice, len), dice, Soft::Cymbal),
        _ => soften(tambourine::tambourine(dice, len), dice, Soft::Hat),
    }
}

/// Felt-beater kick: a gentler, lower sweep, no click, a rounded 2-4 ms attack.
fn kick(dice: &mut Dice, len: usize) -> Vec<f64> {
    let f_start = dice.uniform(85.0, 115.0);
    let f_end = dice.uniform(45.0, 58.0);
    let pitch_tau = dice.uniform(0.02, 0.04);
    let body_tau = dice.uniform(0.1, 0.2);
    let attack = dice.uniform(0.002, 0.004);
    let thump_level = dice.uniform(0.1, 0.25);
    let mut sweep = Decay::new(pitch_tau);
    let mut body_env = Decay::new(body_tau);
    let mut osc = Sine::new(0.0);
    // The felt's thump: noise low-passed well below where a hard beater clicks.
    let mut thump_lp = Biquad::lowpass(dice.uniform(400.0, 900.0), 0.707);
    let mut thump_env = Decay::new(0.008);
    (0..len)
        .map(|n| {
            let f = f_end + (f_start - f_end) * sweep.next_value();
            let body = osc.next_value(f) * body_env.next_value();
            let thump = thump_level * 4.0 * thump_lp.process(dice.noise()) * thump_env.next_value();
            rise(n, attack) * detmath::tanh(1.2 * (body + thump))
        })
        .collect()
}

/// Share of brush kits whose snare is a swish rather than a tap.
const SWISH_SHARE: f64 = 0.5;

/// Swish or tap. Both keep the head's tone faint: a brush barely excites the membrane.
fn snare(dice: &mut Dice, len: usize) -> Vec<f64> {
    let swish = dice.unit() < SWISH_SHARE;
    // (attack seconds, decay tau) of the noise; the swish swells in slowly and lingers.
    let (attack, tau) = if swish {
        (dice.uniform(0.04, 0.12), dice.uniform(0.12, 0.3))
    } else {
        (dice.uniform(0.008, 0.02), dice.uniform(0.04, 0.09))
    };
    // The bristles touching down: a faint contact at sample 0, before the swell.
    let contact = dice.uniform(0.05, 0.12);
    let mut bp = Biquad::bandpass(dice.uniform(1800.0, 3500.0), dice.uniform(0.5, 0.9));
    let mut lp = OnePole::lowpass(dice.uniform(3000.0, 5000.0));
    let tone_level = dice.uniform(0.05, 0.15);
    let f_head = dice.uniform(175.0, 240.0);
    let mut head = Sine::new(0.0);
    let mut head_env = Decay::new(0.06);
    let mut env = Decay::new(tau);
    (0..len)
        .map(|n| {
            let shape = contact + (1.0 - contact) * rise(n, attack);
            let e = if n as f64 >= attack * SR {
                env.next_value()
            } else {
                1.0
            };
            let wires = lp.process(bp.process(dice.noise()));
            shape * e * (3.0 * wires + tone_level * head.next_value(f_head) * head_env.next_value())
        })
        .collect()
}

/// Smooth rise from 0 to 1 over `seconds` (a raised-cosine half), 1 after.
fn rise(n: usize, seconds: f64) -> f64 {
    let pos = n as f64 / (seconds * SR).max(1.0);
    if pos >= 1.0 {
        1.0
    } else {
        0.5 * (1.0 - detmath::cos(std::f64::consts::PI * pos))
    }
}

/// Which acoustic voice is being softened.
#[derive(Debug, Clone, Copy)]
enum Soft {
    Hat,
    Tom,
    Cymbal,
}

/// A brush or rod on an acoustic voice: a two-pole low-pass darkens it and a short rise rounds
/// its attack. The rise starts at a tenth, so the hit still sounds at sample 0.
fn soften(mut x: Vec<f64>, dice: &mut Dice, voice: Soft) -> Vec<f64> {
    let (corner, attack) = match voice {
        Soft::Hat => (dice.uniform(3500.0, 5000.0), dice.uniform(0.002, 0.005)),
        Soft::Tom => (dice.uniform(1200.0, 2500.0), dice.uniform(0.002, 0.004)),
        Soft::Cymbal => (dice.uniform(2500.0, 4000.0), dice.uniform(0.005, 0.015)),
    };
    let mut lp1 = Biquad::lowpass(corner, 0.707);
    let mut lp2 = Biquad::lowpass(corner, 0.707);
    for (n, v) in x.iter_mut().enumerate() {
        *v = (0.1 + 0.9 * rise(n, attack)) * lp2.process(lp1.process(*v));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::super::measure::{spectral_centroid, time_to_peak};
    use super::super::{procedural_kit, procedural_kit_of, KitFamily};
    use crate::kit::Kit;

    fn samples<'a>(kit: &'a Kit, name: &str) -> &'a [f32] {
        &kit.component(name).unwrap().samples
    }

    /// Swishes and brush taps swell in: their envelope (2 ms frames) peaks much later than a
    /// stick-struck acoustic snare's.
    #[test]
    fn snares_attack_slowly() {
        let (mut brush_total, mut stick_total) = (0.0, 0.0);
        for seed in 1000..1010 {
            let brush = time_to_peak(
                samples(
                    &procedural_kit_of(KitFamily::Brushes, seed, 16_000),
                    "SD_SD",
                ),
                32,
            );
            let stick = time_to_peak(samples(&procedural_kit(seed, 16_000), "SD_SD"), 32);
            eprintln!(
                "seed {seed}: brush {:.1} ms, stick {:.1} ms",
                brush * 1e3,
                stick * 1e3
            );
            assert!(
                brush >= 0.006,
                "seed {seed}: brush snare peaks at {brush} s"
            );
            brush_total += brush;
            stick_total += stick;
        }
        assert!(
            brush_total > 5.0 * stick_total,
            "{brush_total} vs {stick_total}"
        );
    }

    /// Brushed and rod-played cymbals are darker: a lower spectral centroid than the acoustic
    /// family's, on average over seeds and for every cymbal voice.
    #[test]
    fn cymbals_are_darker() {
        for name in ["CY_RDC", "CY_CRC", "CY_RDB", "HH_OHH"] {
            let mean = |family| {
                (1000..1008)
                    .map(|seed| {
                        spectral_centroid(samples(&procedural_kit_of(family, seed, 16_000), name))
                    })
                    .sum::<f64>()
                    / 8.0
            };
            let (brush, stick) = (mean(KitFamily::Brushes), mean(KitFamily::Acoustic));
            eprintln!("{name}: centroid brushes {brush:.0} Hz, acoustic {stick:.0} Hz");
            assert!(
                brush < 0.8 * stick,
                "{name}: {brush:.0} Hz vs {stick:.0} Hz"
            );
        }
    }
}
