//! The electronic family: drum machines. Analog-style kicks and toms (sines with a falling pitch
//! sweep), noise snares with a tonal body or hand claps, and hats and cymbals from one bank of
//! square oscillators at inharmonic ratios through band-passes, as the TR-808 makes its metal.

use super::blocks::{Biquad, Decay, Dice, OnePole, Sine, Square, SR};
use super::detmath;

pub fn voice(name: &str, dice: &mut Dice, len: usize) -> Vec<f64> {
    match name {
        "KD_KD" => kick(dice, len),
        "SD_SD" => match snare_kind(dice) {
            SnareKind::Clap => clap(dice, len),
            SnareKind::Noise => snare(dice, len),
        },
        "HH_CHH" => metal(dice, Metal::ClosedHat, len),
        "HH_OHH" => metal(dice, Metal::OpenHat, len),
        "HH_PHH" => metal(dice, Metal::PedalHat, len),
        "TT_HIT" => tom(dice, (170.0, 230.0), len),
        "TT_MHT" => tom(dice, (118.0, 160.0), len),
        "TT_HFT" => tom(dice, (78.0, 108.0), len),
        "CY_RDC" => metal(dice, Metal::Ride, len),
        "CY_CRC" => metal(dice, Metal::Crash, len),
        "CY_RDB" => metal(dice, Metal::Bell, len),
        _ => shaker(dice, len),
    }
}

/// What an electronic kit plays as its snare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnareKind {
    /// Tonal body plus noise (909 style).
    Noise,
    /// A hand clap: several short noise bursts, then a tail.
    Clap,
}

/// Share of electronic kits whose snare is a clap.
const CLAP_SHARE: f64 = 0.4;

/// The snare's first draw: which kind it is (the tests read it the same way).
pub fn snare_kind(dice: &mut Dice) -> SnareKind {
    if dice.unit() < CLAP_SHARE {
        SnareKind::Clap
    } else {
        SnareKind::Noise
    }
}

/// 808/909 kick: a sine swept down fast from a few hundred Hz to its tuning, a short click, and
/// a seeded drive. The long 808 boom and the short 909 thump are the ends of one range.
fn kick(dice: &mut Dice, len: usize) -> Vec<f64> {
    let f_end = dice.uniform(42.0, 62.0);
    let f_start = f_end * dice.uniform(3.5, 7.0);
    let pitch_tau = dice.uniform(0.006, 0.02);
    let body_tau = dice.log_uniform(0.12, 0.6);
    let click_level = dice.uniform(0.2, 0.6);
    let drive = dice.uniform(1.0, 3.0);

    let mut sweep = Decay::new(pitch_tau);
    let mut body_env = Decay::new(body_tau);
    let mut osc = Sine::new(0.0);
    // The click: a 1 ms pulse through a band-pass, as a drum machine's trigger leaks through.
    let mut click_bp = Biquad::bandpass(dice.uniform(1500.0, 4000.0), 0.8);
    let click_samples = (0.001 * SR) as usize;
    let norm = detmath::tanh(drive);
    (0..len)
        .map(|n| {
            let f = f_end + (f_start - f_end) * sweep.next_value();
            let body = osc.next_value(f) * body_env.next_value();
            let pulse = if n < click_samples { 1.0 } else { 0.0 };
            let click = click_level * 2.0 * click_bp.process(pulse);
            detmath::tanh(drive * (body + click)) / norm
        })
        .collect()
}

/// Noise snare: two swept sines for the body, high-passed noise for the snappy.
fn snare(dice: &mut Dice, len: usize) -> Vec<f64> {
    let f1 = dice.uniform(160.0, 240.0);
    let f2 = f1 * dice.uniform(1.5, 1.9);
    let tone_tau = dice.uniform(0.03, 0.08);
    let tone_level = dice.uniform(0.4, 0.9);
    let snappy_tau = dice.uniform(0.05, 0.18);
    let snappy_level = dice.uniform(0.6, 1.1);
    let mut snappy_hp = Biquad::highpass(dice.uniform(1500.0, 4000.0), 0.707);
    let mut snappy_lp = Biquad::lowpass(dice.uniform(6000.0, 7800.0), 0.707);

    let mut bend = Decay::new(0.01);
    let mut tone_env = Decay::new(tone_tau);
    let mut osc1 = Sine::new(0.0);
    let mut osc2 = Sine::new(0.0);
    let mut snappy_env = Decay::new(snappy_tau);
    (0..len)
        .map(|_| {
            let b = 1.0 + 0.3 * bend.next_value();
            let tone =
                (osc1.next_value(f1 * b) + 0.6 * osc2.next_value(f2 * b)) * tone_env.next_value();
            let snappy =
                snappy_lp.process(snappy_hp.process(dice.noise())) * snappy_env.next_value();
            tone_level * tone + snappy_level * 2.0 * snappy
        })
        .collect()
}

/// Clap: three to five short band-passed noise bursts 5-15 ms apart (the hands of a few people
/// not quite together), then a tail from the last one.
fn clap(dice: &mut Dice, len: usize) -> Vec<f64> {
    let bursts = 3 + (dice.unit() * 3.0) as usize;
    let mut onsets = vec![0usize];
    for _ in 1..bursts {
        let gap = dice.uniform(0.005, 0.015);
        onsets.push(onsets[onsets.len() - 1] + (gap * SR).round() as usize);
    }
    let levels: Vec<f64> = (0..bursts).map(|_| dice.uniform(0.6, 1.0)).collect();
    let burst_tau = dice.uniform(0.0015, 0.0028);
    let tail_tau = dice.uniform(0.05, 0.16);
    let tail_level = dice.uniform(0.3, 0.55);
    let mut bp = Biquad::bandpass(dice.uniform(900.0, 1800.0), dice.uniform(0.8, 1.6));
    let mut hp = Biquad::highpass(400.0, 0.707);
    let burst_factor = detmath::exp(-1.0 / (burst_tau * SR));
    let last = onsets[onsets.len() - 1];
    let mut tail = Decay::new(tail_tau);
    let mut burst_env = 0.0;
    (0..len)
        .map(|n| {
            // Each burst restarts the fast envelope at its level.
            if let Some(i) = onsets.iter().position(|&o| o == n) {
                burst_env = levels[i];
            }
            let tail_env = if n >= last {
                tail_level * tail.next_value()
            } else {
                0.0
            };
            let env = burst_env + tail_env;
            burst_env *= burst_factor;
            2.0 * hp.process(bp.process(dice.noise())) * env
        })
        .collect()
}

/// Electronic tom: a sine swept down by up to an octave and a half, a touch of noise.
fn tom(dice: &mut Dice, (f_lo, f_hi): (f64, f64), len: usize) -> Vec<f64> {
    let f0 = dice.uniform(f_lo, f_hi);
    let depth = dice.uniform(0.4, 1.4);
    let sweep_tau = dice.uniform(0.02, 0.08);
    let body_tau = dice.uniform(0.15, 0.4);
    let noise_level = dice.uniform(0.0, 0.2);
    let mut sweep = Decay::new(sweep_tau);
    let mut body_env = Decay::new(body_tau);
    let mut noise_env = Decay::new(0.01);
    let mut noise_lp = OnePole::lowpass(3000.0);
    let mut osc = Sine::new(0.0);
    (0..len)
        .map(|_| {
            let f = f0 * (1.0 + depth * sweep.next_value());
            osc.next_value(f) * body_env.next_value()
                + noise_level * noise_lp.process(dice.noise()) * noise_env.next_value()
        })
        .collect()
}

/// The voices of the metal bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metal {
    ClosedHat,
    OpenHat,
    PedalHat,
    Ride,
    Crash,
    Bell,
}

/// Inharmonic frequency ratios of the TR-808's six square oscillators to its lowest one.
const METAL_RATIOS: [f64; 6] = [1.0, 1.4827, 1.8003, 2.5460, 2.6303, 3.8967];

/// Hats and cymbals: six square waves at inharmonic ratios, band-passed and high-passed, with a
/// little noise. What differs between the voices is the band, the decay and how much noise.
fn metal(dice: &mut Dice, voice: Metal, len: usize) -> Vec<f64> {
    let base = dice.uniform(190.0, 330.0);
    let oscillators_hz: Vec<f64> = METAL_RATIOS
        .iter()
        .map(|r| base * r * dice.uniform(0.985, 1.015))
        .collect();
    // (band-pass centre, its Q, high-pass corner, decay tau, noise share)
    let (centre, q, highpass, tau, noise) = match voice {
        Metal::ClosedHat => (
            dice.uniform(6400.0, 7400.0),
            dice.uniform(1.5, 3.0),
            dice.uniform(5600.0, 6400.0),
            dice.uniform(0.008, 0.02),
            dice.uniform(0.0, 0.12),
        ),
        Metal::OpenHat => (
            dice.uniform(6400.0, 7400.0),
            dice.uniform(1.5, 3.0),
            dice.uniform(5600.0, 6400.0),
            dice.uniform(0.12, 0.3),
            dice.uniform(0.0, 0.12),
        ),
        Metal::PedalHat => (
            dice.uniform(5000.0, 6000.0),
            dice.uniform(1.2, 2.0),
            dice.uniform(4000.0, 4800.0),
            dice.uniform(0.01, 0.02),
            dice.uniform(0.0, 0.15),
        ),
        Metal::Ride => (
            dice.uniform(5000.0, 6500.0),
            dice.uniform(1.0, 2.0),
            dice.uniform(3500.0, 4500.0),
            dice.uniform(0.5, 0.9),
            dice.uniform(0.05, 0.2),
        ),
        Metal::Crash => (
            dice.uniform(4500.0, 6500.0),
            dice.uniform(0.6, 1.0),
            dice.uniform(2500.0, 3500.0),
            dice.uniform(0.4, 0.8),
            dice.uniform(0.2, 0.4),
        ),
        Metal::Bell => (
            dice.uniform(2500.0, 3500.0),
            dice.uniform(2.0, 4.0),
            dice.uniform(1500.0, 2200.0),
            dice.uniform(0.3, 0.6),
            0.0,
        ),
    };
    let mut squares: Vec<Square> = oscillators_hz
        .iter()
        .map(|&f| Square::new(f, dice.unit()))
        .collect();
    let mut bp = Biquad::bandpass(centre, q);
    // Two high-passes: the squares' fundamentals and low harmonics are far louder than the band.
    let mut hp1 = Biquad::highpass(highpass, 0.707);
    let mut hp2 = Biquad::highpass(highpass, 0.707);
    let mut noise_hp = Biquad::highpass(highpass, 0.707);
    let mut env = Decay::new(tau);
    // Crashes open with a brighter burst; the others' attack is the envelope's start.
    let mut burst = Decay::new(0.03);
    let burst_level = if voice == Metal::Crash { 0.8 } else { 0.0 };
    (0..len)
        .map(|_| {
            let sum = squares.iter_mut().map(Square::next_value).sum::<f64>() / 6.0;
            let tone = hp2.process(hp1.process(bp.process(sum)));
            let hiss = noise_hp.process(dice.noise());
            let e = env.next_value() + burst_level * burst.next_value();
            e * ((1.0 - noise) * 3.0 * tone + noise * hiss)
        })
        .collect()
}

/// The kit's twelfth voice: a drum-machine shaker/tambourine, two quick bursts of the metal bank's
/// top with noise.
fn shaker(dice: &mut Dice, len: usize) -> Vec<f64> {
    let gap = (dice.uniform(0.02, 0.04) * SR) as usize;
    let second = dice.uniform(0.4, 0.7);
    let tau = dice.uniform(0.02, 0.05);
    let mut hp = Biquad::highpass(dice.uniform(5000.0, 6500.0), 0.707);
    let mut bp = Biquad::bandpass(dice.uniform(6500.0, 7500.0), 1.0);
    let mut first_env = Decay::new(tau);
    let mut second_env = Decay::new(tau);
    (0..len)
        .map(|n| {
            let env = first_env.next_value()
                + if n >= gap {
                    second * second_env.next_value()
                } else {
                    0.0
                };
            2.0 * bp.process(hp.process(dice.noise())) * env
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::measure::{
        energy_peaks, frame_energy, peak_concentration, share_above, zero_crossing_hz,
    };
    use super::super::{component_dice, procedural_kit, procedural_kit_of, KitFamily};
    use super::*;
    use crate::kit::Kit;

    fn samples<'a>(kit: &'a Kit, name: &str) -> &'a [f32] {
        &kit.component(name).unwrap().samples
    }

    fn kit(seed: u64) -> Kit {
        procedural_kit_of(KitFamily::Electronic, seed, 16_000)
    }

    /// The 808/909 kick's sweep: well above its tuning over the first 10 ms.
    #[test]
    fn kicks_fall_in_pitch() {
        for seed in 1000..1012 {
            let kick = samples(&kit(seed), "KD_KD").to_vec();
            let early = zero_crossing_hz(&kick, 1000.0, (0, 160));
            let late = zero_crossing_hz(&kick, 1000.0, (960, 1920));
            eprintln!("seed {seed}: kick {early:.0} Hz -> {late:.0} Hz");
            assert!(
                early > 1.8 * late && (35.0..75.0).contains(&late),
                "seed {seed}: kick {early:.0} Hz -> {late:.0} Hz"
            );
        }
    }

    /// A clap is several bursts: at least three separated energy peaks (2 ms frames) in its first
    /// 40 ms, where a noise snare has one attack.
    #[test]
    fn claps_have_several_bursts() {
        let mut claps = 0;
        for seed in 1000..1020 {
            let mut dice = component_dice(seed, KitFamily::Electronic.stream_base() + 1);
            let kind = snare_kind(&mut dice);
            let snare = samples(&kit(seed), "SD_SD")[..640].to_vec();
            let peaks = energy_peaks(&frame_energy(&snare, 32), 0.1);
            eprintln!("seed {seed}: {kind:?} {peaks} peaks");
            match kind {
                SnareKind::Clap => {
                    claps += 1;
                    assert!(peaks >= 3, "seed {seed}: clap with {peaks} bursts");
                }
                SnareKind::Noise => assert!(peaks <= 2, "seed {seed}: snare with {peaks}"),
            }
        }
        assert!((4..=14).contains(&claps), "{claps} claps in 20 kits");
    }

    /// The hats are the metal bank's top: mostly above 5 kHz, and a spectrum of discrete lines
    /// (the top 5% of bins hold most of the band's power) where the acoustic hat is noisier.
    #[test]
    fn hats_are_metallic() {
        let (mut electronic, mut acoustic) = (0.0, 0.0);
        for seed in 1000..1008 {
            let kit = kit(seed);
            for name in ["HH_CHH", "HH_OHH"] {
                let high = share_above(&samples(&kit, name)[..4096], 5000.0);
                assert!(high > 0.6, "seed {seed} {name}: {high:.2} above 5 kHz");
            }
            let lines = |kit: &Kit| {
                peak_concentration(&samples(kit, "HH_OHH")[..4096], (5000.0, 7800.0), 0.05)
            };
            let (e, a) = (lines(&kit), lines(&procedural_kit(seed, 16_000)));
            eprintln!("seed {seed}: line concentration electronic {e:.2} acoustic {a:.2}");
            assert!(e > 0.5, "seed {seed}: open hat concentration {e:.2}");
            electronic += e;
            acoustic += a;
        }
        assert!(electronic > 1.5 * acoustic, "{electronic} vs {acoustic}");
    }
}
