//! Cymbals: ride, crash and ride bell, built from banks of inharmonic decaying sine partials (the
//! plate's modes) plus filtered noise for the wash.

use super::blocks::{Biquad, Decay, Dice, Phasor};
use super::detmath;

/// A bank of decaying sine partials; higher partials die sooner, as on a real plate.
struct Partials {
    oscillators: Vec<(Phasor, f64, Decay)>,
    norm: f64,
}

impl Partials {
    /// `count` partials log-uniformly spread over `[f_lo, f_hi)`, amplitudes falling as
    /// `f^-tilt`, decay `tau * (1000/f)^decay_slope`.
    fn spread(
        dice: &mut Dice,
        count: usize,
        (f_lo, f_hi): (f64, f64),
        tilt: f64,
        tau: f64,
        decay_slope: f64,
    ) -> Self {
        let freqs: Vec<f64> = (0..count).map(|_| dice.log_uniform(f_lo, f_hi)).collect();
        Self::at(dice, &freqs, tilt, tau, decay_slope)
    }

    fn at(dice: &mut Dice, freqs: &[f64], tilt: f64, tau: f64, decay_slope: f64) -> Self {
        let oscillators: Vec<_> = freqs
            .iter()
            .map(|&f| {
                let amp = dice.uniform(0.4, 1.0) * detmath::powf(f / 1000.0, -tilt);
                let tau_f = tau * detmath::powf(1000.0 / f, decay_slope);
                // A random start phase: a struck plate is already moving at sample 0.
                (Phasor::new(f, dice.unit()), amp, Decay::new(tau_f))
            })
            .collect();
        let power: f64 = oscillators.iter().map(|o| o.1 * o.1 / 2.0).sum();
        Partials {
            oscillators,
            norm: 1.0 / power.sqrt().max(1e-9),
        }
    }

    fn next_value(&mut self) -> f64 {
        let sum: f64 = self
            .oscillators
            .iter_mut()
            .map(|(osc, amp, env)| *amp * osc.next_value() * env.next_value())
            .sum();
        sum * self.norm
    }
}

/// Noise through a high-pass, with an exponential envelope.
struct Wash {
    filter: Biquad,
    env: Decay,
}

impl Wash {
    fn new(highpass_hz: f64, tau: f64) -> Self {
        Wash {
            filter: Biquad::highpass(highpass_hz, 0.707),
            env: Decay::new(tau),
        }
    }

    fn next_value(&mut self, white: f64) -> f64 {
        self.filter.process(white) * self.env.next_value()
    }
}

/// Ride: a long metallic ring with a defined stick "ping" on top.
pub fn ride(dice: &mut Dice, len: usize) -> Vec<f64> {
    let tau = dice.uniform(0.9, 1.4);
    let mut body = Partials::spread(dice, 40, (400.0, 7800.0), 0.15, tau, 0.4);
    let ping_tau = dice.uniform(0.05, 0.12);
    let mut ping = Partials::spread(dice, 6, (2000.0, 4500.0), 0.0, ping_tau, 0.0);
    let ping_level = dice.uniform(0.4, 0.7);
    let mut wash = Wash::new(dice.uniform(2500.0, 3500.0), dice.uniform(0.3, 0.5));
    let wash_level = dice.uniform(0.1, 0.25);
    let mut stick = Wash::new(4000.0, 0.002);
    (0..len)
        .map(|_| {
            let white = dice.noise();
            body.next_value()
                + ping_level * ping.next_value()
                + wash_level * 2.0 * wash.next_value(white)
                + 0.8 * stick.next_value(white)
        })
        .collect()
}

/// Crash: a dense noisy metallic wash with a long decay and a bright attack.
pub fn crash(dice: &mut Dice, len: usize) -> Vec<f64> {
    let tau = dice.uniform(0.7, 1.1);
    let mut body = Partials::spread(dice, 80, (300.0, 7800.0), 0.15, tau, 0.3);
    let mut wash = Wash::new(dice.uniform(1500.0, 2500.0), tau * dice.uniform(0.6, 0.9));
    let wash_level = dice.uniform(0.8, 1.2);
    let mut sizzle = Wash::new(dice.uniform(4500.0, 5500.0), dice.uniform(0.03, 0.06));
    let sizzle_level = dice.uniform(0.8, 1.3);
    (0..len)
        .map(|_| {
            let white = dice.noise();
            0.6 * body.next_value()
                + wash_level * 2.0 * wash.next_value(white)
                + sizzle_level * 2.0 * sizzle.next_value(white)
        })
        .collect()
}

/// Ride bell: a few strong bell partials over a quieter ride body.
pub fn ride_bell(dice: &mut Dice, len: usize) -> Vec<f64> {
    const BELL_RATIOS: [f64; 6] = [1.0, 2.02, 2.74, 3.41, 4.25, 5.37];
    let f0 = dice.uniform(800.0, 1150.0);
    let freqs: Vec<f64> = BELL_RATIOS
        .iter()
        .map(|r| f0 * r * dice.uniform(0.99, 1.01))
        .collect();
    let tau = dice.uniform(0.7, 1.1);
    let mut bell = Partials::at(dice, &freqs, 0.2, tau, 0.5);
    let mut body = Partials::spread(dice, 30, (400.0, 7800.0), 0.1, tau * 0.8, 0.4);
    let body_level = dice.uniform(0.5, 0.8);
    let mut stick = Wash::new(3000.0, 0.002);
    (0..len)
        .map(|_| {
            bell.next_value()
                + body_level * body.next_value()
                + 0.6 * stick.next_value(dice.noise())
        })
        .collect()
}
