//! The room family: an acoustic voice recorded in a room rather than close. A seeded synthetic
//! room adds a few early reflections (the walls, floor and ceiling) and a diffuse tail from a
//! small feedback-delay network, all in plain arithmetic like the voices.

use super::blocks::{Dice, OnePole, SR};
use super::detmath;

/// Delay lines of the feedback-delay network: eight give a dense enough set of room modes that a
/// tonal voice (a tom) is not caught in a notch between two of them.
const LINES: usize = 8;

pub fn reverberate(dry: Vec<f64>, dice: &mut Dice) -> Vec<f64> {
    let reflections: Vec<(usize, f64)> = (0..dice_count(dice, 3, 7))
        .map(|i| {
            let delay = (dice.uniform(0.003, 0.04) * SR) as usize;
            // Alternating signs: reflections arrive with either polarity.
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            (delay.max(1), sign * dice.uniform(0.1, 0.35))
        })
        .collect();
    let rt60 = dice.uniform(1.0, 2.5);
    // Room microphones: the direct sound is no louder than the room's answer to it.
    let direct = dice.uniform(0.35, 0.8);
    let wet = dice.uniform(0.5, 1.0);
    let damping = dice.uniform(2500.0, 6000.0);
    // One line length from each of eight bands, so that their echoes do not pile up.
    let lengths: Vec<usize> = (0..LINES)
        .map(|i| {
            let lo = 0.017 + 0.007 * i as f64;
            (dice.uniform(lo, lo + 0.006) * SR) as usize
        })
        .collect();
    let signs: Vec<f64> = (0..LINES)
        .map(|_| if dice.unit() < 0.5 { -1.0 } else { 1.0 })
        .collect();
    let mut fdn = Fdn::new(&lengths, signs, rt60, damping);

    let early_norm = 1.0 / (reflections.len() as f64).sqrt();
    (0..dry.len())
        .map(|n| {
            let early: f64 = reflections
                .iter()
                .filter(|(d, _)| n >= *d)
                .map(|(d, g)| g * dry[n - d])
                .sum::<f64>()
                * early_norm;
            direct * dry[n] + early + wet * fdn.process(dry[n] + early)
        })
        .collect()
}

/// `lo..=hi`, uniformly.
fn dice_count(dice: &mut Dice, lo: usize, hi: usize) -> usize {
    lo + ((dice.unit() * (hi - lo + 1) as f64) as usize).min(hi - lo)
}

/// Delay lines mixed by a Hadamard matrix (lossless), each losing `rt60`'s share of level per
/// pass and its highs through a one-pole low-pass, as air and walls absorb them. The output taps
/// every line with a seeded sign.
struct Fdn {
    lines: Vec<Vec<f64>>,
    pos: Vec<usize>,
    gains: Vec<f64>,
    damping: Vec<OnePole>,
    signs: Vec<f64>,
}

impl Fdn {
    fn new(lengths: &[usize], signs: Vec<f64>, rt60: f64, damping_hz: f64) -> Self {
        Fdn {
            lines: lengths.iter().map(|&l| vec![0.0; l.max(1)]).collect(),
            pos: vec![0; lengths.len()],
            // -60 dB after rt60 seconds: ln(1000) = 6.9078 nepers.
            gains: lengths
                .iter()
                .map(|&l| detmath::exp(-6.907_755_278_982_137 * l as f64 / (rt60 * SR)))
                .collect(),
            damping: lengths
                .iter()
                .map(|_| OnePole::lowpass(damping_hz))
                .collect(),
            signs,
        }
    }

    fn process(&mut self, input: f64) -> f64 {
        let mut out = [0.0; LINES];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.damping[i].process(self.lines[i][self.pos[i]]) * self.gains[i];
        }
        let tap: f64 = out.iter().zip(&self.signs).map(|(o, s)| o * s).sum();
        let mixed = hadamard(out);
        let feed = input / (LINES as f64).sqrt();
        for (i, m) in mixed.iter().enumerate() {
            let p = self.pos[i];
            self.lines[i][p] = feed + m;
            self.pos[i] = (p + 1) % self.lines[i].len();
        }
        tap / (LINES as f64).sqrt()
    }
}

/// Orthonormal Hadamard transform of eight values (fast Walsh-Hadamard butterflies).
fn hadamard(mut v: [f64; LINES]) -> [f64; LINES] {
    let mut half = 1;
    while half < LINES {
        for start in (0..LINES).step_by(2 * half) {
            for i in start..start + half {
                let (a, b) = (v[i], v[i + half]);
                v[i] = a + b;
                v[i + half] = a - b;
            }
        }
        half *= 2;
    }
    let norm = 1.0 / (LINES as f64).sqrt();
    v.map(|x| x * norm)
}

#[cfg(test)]
mod tests {
    use super::super::measure::tail_ratio;
    use super::super::{procedural_kit, procedural_kit_of, KitFamily};

    /// The room keeps ringing: 200-400 ms after the peak, more energy relative to the peak than
    /// the same-seed acoustic (close) voice. Checked on the voices that die faster than a room
    /// (a tom rings about as long as the room does, so a room cannot lengthen it much): for every
    /// seed, and by at least 2 dB on average over seeds; and over all components on average.
    #[test]
    fn rooms_have_a_longer_tail() {
        const SHORT: [&str; 5] = ["KD_KD", "SD_SD", "HH_CHH", "HH_PHH", "OT_TMB"];
        const SEEDS: u64 = 8;
        let db = |ratio: f64| 10.0 * ratio.log10();
        let mut gain_by_voice = [0.0; 12];
        for seed in 1000..1000 + SEEDS {
            let room = procedural_kit_of(KitFamily::Room, seed, 16_000);
            let dry = procedural_kit(seed, 16_000);
            for (i, (r, d)) in room.components.iter().zip(&dry.components).enumerate() {
                let roomy = db(tail_ratio(&r.samples, (0.2, 0.4)));
                let close = db(tail_ratio(&d.samples, (0.2, 0.4)));
                eprintln!(
                    "seed {seed} {}: tail room {roomy:.1} dB, close {close:.1} dB",
                    r.name
                );
                if SHORT.contains(&r.name.as_str()) {
                    assert!(
                        roomy > close,
                        "seed {seed} {}: {roomy} vs {close} dB",
                        r.name
                    );
                }
                gain_by_voice[i] += (roomy - close) / SEEDS as f64;
            }
        }
        let names = crate::kit::procedural::procedural_component_names();
        for (name, gain) in names.iter().zip(gain_by_voice) {
            if SHORT.contains(&name.as_str()) {
                assert!(gain > 2.0, "{name}: the room adds {gain:.1} dB");
            }
        }
        let mean = gain_by_voice.iter().sum::<f64>() / 12.0;
        assert!(mean > 2.0, "the room adds {mean:.1} dB on average");
    }
}
