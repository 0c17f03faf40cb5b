//! Drum-head voices: kick, snare and toms. Each is one or two pitch-swept sine modes (a struck
//! membrane starts sharp and relaxes to its tuning) plus a noise transient for the beater or stick.

use super::blocks::{Biquad, Decay, Dice, OnePole, Sine};
use super::detmath;

/// Kick: a sine swept from ~150 Hz to ~50 Hz, a beater click, soft saturation.
pub fn kick(dice: &mut Dice, len: usize) -> Vec<f64> {
    let f_start = dice.uniform(130.0, 180.0);
    let f_end = dice.uniform(44.0, 58.0);
    let pitch_tau = dice.uniform(0.02, 0.045);
    let body_tau = dice.uniform(0.08, 0.15);
    let click_level = dice.uniform(0.25, 0.55);
    let click_lp = dice.uniform(3000.0, 6000.0);
    let drive = dice.uniform(1.0, 2.5);

    let mut sweep = Decay::new(pitch_tau);
    let mut body_env = Decay::new(body_tau);
    let mut osc = Sine::new(0.0);
    let mut click_env = Decay::new(0.003);
    let mut click_filter = Biquad::lowpass(click_lp, 0.707);
    let norm = detmath::tanh(drive);
    (0..len)
        .map(|_| {
            let f = f_end + (f_start - f_end) * sweep.next_value();
            let body = osc.next_value(f) * body_env.next_value();
            let click = click_level * click_filter.process(dice.noise()) * click_env.next_value();
            detmath::tanh(drive * (body + click)) / norm
        })
        .collect()
}

/// Snare: two tonal head modes (~180-250 Hz) and bright band-passed noise for the wires.
pub fn snare(dice: &mut Dice, len: usize) -> Vec<f64> {
    let f1 = dice.uniform(175.0, 200.0);
    let f2 = dice.uniform(215.0, 250.0);
    let tone_tau = dice.uniform(0.05, 0.09);
    let tone_level = dice.uniform(0.45, 0.8);
    let wire_centre = dice.uniform(2000.0, 4000.0);
    let wire_q = dice.uniform(0.5, 0.9);
    let wire_tau = dice.uniform(0.045, 0.1);
    let wire_level = dice.uniform(0.7, 1.1);
    // 0 = white, 1 = darker: how much of the noise goes through a one-pole low-pass first.
    let darkness = dice.uniform(0.0, 0.6);

    let mut drop = Decay::new(0.008);
    let mut tone_env = Decay::new(tone_tau);
    let mut osc1 = Sine::new(0.0);
    let mut osc2 = Sine::new(0.0);
    let mut colour = OnePole::lowpass(3000.0);
    let mut wire_hp = Biquad::highpass(500.0, 0.707);
    let mut wire_bp = Biquad::bandpass(wire_centre, wire_q);
    let mut wire_fast = Decay::new(wire_tau);
    let mut wire_slow = Decay::new(wire_tau * 2.2);
    (0..len)
        .map(|_| {
            let bend = 1.0 + 0.15 * drop.next_value();
            let tone = (osc1.next_value(f1 * bend) + 0.7 * osc2.next_value(f2 * bend))
                * tone_env.next_value();
            let white = dice.noise();
            let noise = white + darkness * (colour.process(white) - white);
            let wires = wire_bp.process(wire_hp.process(noise))
                * (0.7 * wire_fast.next_value() + 0.3 * wire_slow.next_value());
            tone_level * tone + wire_level * 2.0 * wires
        })
        .collect()
}

/// The three toms, from high to floor.
#[derive(Debug, Clone, Copy)]
pub enum Tom {
    High,
    Mid,
    Floor,
}

/// Ideal circular membrane mode ratios above the fundamental (0,1): (1,1) (2,1) (0,2) (3,1) (1,2).
const MEMBRANE_MODES: [f64; 5] = [1.59, 2.14, 2.30, 2.65, 2.92];

/// Tom: pitch-swept fundamental, the next membrane modes (quieter, shorter) and stick noise. The
/// tuning ranges do not overlap, so high > mid > floor for every seed.
pub fn tom(dice: &mut Dice, size: Tom, len: usize) -> Vec<f64> {
    let (f_lo, f_hi, tau_lo, tau_hi) = match size {
        Tom::High => (130.0, 165.0, 0.14, 0.2),
        Tom::Mid => (98.0, 122.0, 0.17, 0.24),
        Tom::Floor => (70.0, 88.0, 0.2, 0.3),
    };
    let f0 = dice.uniform(f_lo, f_hi);
    let body_tau = dice.uniform(tau_lo, tau_hi);
    let sweep_depth = dice.uniform(0.25, 0.5);
    let sweep_tau = dice.uniform(0.03, 0.06);
    let stick_level = dice.uniform(0.25, 0.45);
    let stick_centre = dice.uniform(1000.0, 2500.0);

    let mut sweep = Decay::new(sweep_tau);
    let mut body_env = Decay::new(body_tau);
    let mut fundamental = Sine::new(0.0);
    let mut modes: Vec<(f64, f64, Sine, Decay)> = MEMBRANE_MODES
        .iter()
        .enumerate()
        .map(|(i, &ratio)| {
            let level = dice.uniform(0.15, 0.35) / (1.0 + 0.5 * i as f64);
            let tau = body_tau * dice.uniform(0.2, 0.45);
            (ratio, level, Sine::new(0.0), Decay::new(tau))
        })
        .collect();
    let mut stick_env = Decay::new(0.006);
    let mut stick_bp = Biquad::bandpass(stick_centre, 0.7);
    (0..len)
        .map(|_| {
            let f = f0 * (1.0 + sweep_depth * sweep.next_value());
            let overtones: f64 = modes
                .iter_mut()
                .map(|(ratio, level, osc, env)| {
                    *level * osc.next_value(*ratio * f) * env.next_value()
                })
                .sum();
            let body = fundamental.next_value(f) * body_env.next_value() + overtones;
            let stick = stick_level * 2.0 * stick_bp.process(dice.noise()) * stick_env.next_value();
            detmath::tanh(1.3 * (body + stick))
        })
        .collect()
}
