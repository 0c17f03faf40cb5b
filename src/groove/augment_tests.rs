//! The recording conditions through [`augment`] and the mixer: each deterministic, each
//! measured doing what it says, and the default settings drawing none of them.

use std::f64::consts::TAU;

use super::augment::augment;
use super::mics::{mic_placement, MicPlacement, MicSetup};
use super::render::render_through_mics;
use super::settings::AugmentSettings;
use crate::kit::{Kit, KitComponent};
use crate::midi::MidiNote;

const SR: u32 = 16_000;

/// Only the named condition: no gain, tilt, reverb, and noise far below anything measured.
fn only(f: impl FnOnce(&mut AugmentSettings)) -> AugmentSettings {
    let mut s = AugmentSettings {
        gain_db_min: 0.0,
        gain_db_max: 0.0,
        eq_tilt_db: 0.0,
        noise_db_min: -140.0,
        noise_db_max: -140.0,
        reverb_probability: 0.0,
        ..AugmentSettings::default()
    };
    f(&mut s);
    s
}

/// Decaying drum-like hits: loud attacks over long quiet tails.
fn hits() -> Vec<f32> {
    (0..32_000)
        .map(|i| {
            let t = (i % 4000) as f64 / f64::from(SR);
            (0.8 * (TAU * 180.0 * t).sin() * (-t * 12.0).exp()) as f32
        })
        .collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn peak(x: &[f32]) -> f64 {
    x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v.abs())))
}

#[test]
fn defaults_draw_no_recording_condition() {
    let d = AugmentSettings::default();
    for seed in 0..20 {
        let mut x = hits();
        let a = augment(&mut x, seed, &d, SR);
        assert_eq!(a.recording, Default::default());
        assert!(mic_placement(seed, &d).is_none());
    }
}

#[test]
fn every_condition_on_is_deterministic_and_below_the_ceiling() {
    let s = AugmentSettings {
        compression_probability: 1.0,
        low_cut_probability: 1.0,
        high_cut_probability: 1.0,
        mid_peak_probability: 1.0,
        lofi_probability: 1.0,
        mic_probability: 1.0,
        ..AugmentSettings::default()
    };
    for seed in 0..6 {
        let (mut a, mut b) = (hits(), hits());
        let ra = augment(&mut a, seed, &s, SR);
        let rb = augment(&mut b, seed, &s, SR);
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        let r = &ra.recording;
        assert!(r.compression.is_some() && r.low_cut_hz.is_some() && r.high_cut_hz.is_some());
        assert!(r.mid_peak.is_some() && r.lofi.is_some() && r.mics.is_some());
        assert!(a.iter().all(|v| v.abs() <= super::AUGMENT_CEILING));
    }
    // Switching conditions on leaves the classic draws (gain, tilt, reverb, noise) as they were.
    let (mut x, mut y) = (hits(), hits());
    let plain = augment(&mut x, 9, &AugmentSettings::default(), SR);
    let coloured = augment(&mut y, 9, &s, SR);
    assert_eq!(
        (plain.gain_db, plain.tilt_db, plain.reverb, plain.noise_db),
        (
            coloured.gain_db,
            coloured.tilt_db,
            coloured.reverb,
            coloured.noise_db
        )
    );
}

#[test]
fn compression_lowers_the_crest_factor() {
    let s = only(|s| s.compression_probability = 1.0);
    for seed in 0..4 {
        let mut x = hits();
        let crest = |x: &[f32]| peak(x) / rms(x);
        let before = crest(&x);
        let a = augment(&mut x, seed, &s, SR);
        let (threshold, ratio) = a.recording.compression.unwrap();
        assert!((-24.0..=-8.0).contains(&threshold) && (2.0..=8.0).contains(&ratio));
        assert!(
            crest(&x) < 0.85 * before,
            "seed {seed}: {before} -> {}",
            crest(&x)
        );
    }
}

#[test]
fn low_cut_removes_energy_below_its_corner() {
    let s = only(|s| {
        s.low_cut_probability = 1.0;
        s.low_cut_hz_min = 200.0;
        s.low_cut_hz_max = 250.0;
    });
    let tone = |hz: f64| -> Vec<f32> {
        (0..SR as usize)
            .map(|i| (0.4 * (TAU * hz * i as f64 / f64::from(SR)).sin()) as f32)
            .collect()
    };
    let (mut low, mut high) = (tone(50.0), tone(2000.0));
    augment(&mut low, 1, &s, SR);
    augment(&mut high, 1, &s, SR);
    let reference = 0.4 / 2f64.sqrt();
    assert!(
        rms(&low[4000..]) < 0.01 * reference,
        "{}",
        rms(&low[4000..])
    );
    assert!(rms(&high[4000..]) > 0.9 * reference);
}

#[test]
fn lofi_leaves_few_distinct_sample_values() {
    let s = only(|s| {
        s.lofi_probability = 1.0;
        s.lofi_bits_min = 4;
        s.lofi_bits_max = 5;
    });
    for seed in 0..4 {
        let mut x = hits();
        let a = augment(&mut x, seed, &s, SR);
        let (bits, hold, _) = a.recording.lofi.unwrap();
        // `+ 0.0` folds -0.0 into 0.0: one value, two bit patterns.
        let mut values: Vec<u32> = x.iter().map(|v| (v + 0.0).to_bits()).collect();
        values.sort_unstable();
        values.dedup();
        assert!(
            values.len() <= (1 << bits) + 1,
            "seed {seed}: {} values",
            values.len()
        );
        assert!(x.chunks(hold).all(|c| c.iter().all(|&v| v == c[0])));
    }
}

/// A kick and a crash of equal level.
fn kick_and_crash() -> (Kit, Vec<MidiNote>) {
    let wave = |hz: f64| -> Vec<f32> {
        (0..4000)
            .map(|i| (0.5 * (TAU * hz * i as f64 / f64::from(SR)).sin()) as f32)
            .collect()
    };
    let kit = Kit {
        name: "two".into(),
        components: vec![
            KitComponent {
                name: "KD_KD".into(),
                samples: wave(60.0),
            },
            KitComponent {
                name: "CY_CRC".into(),
                samples: wave(5000.0),
            },
        ],
    };
    let notes = vec![
        MidiNote::drum(0.0, 36, 100, 0.05),
        MidiNote::drum(0.5, 49, 100, 0.05),
    ];
    (kit, notes)
}

#[test]
fn overheads_raise_the_cymbal_share_over_close_mics() {
    let (kit, notes) = kick_and_crash();
    let share = |setup| {
        let m = MicPlacement {
            setup,
            tip_db: 9.0,
            room_wet: 0.0,
        };
        let x = render_through_mics(&notes, &kit, SR, 1.0, Some(&m));
        let (kick, crash) = (rms(&x[..4000]), rms(&x[8000..12_000]));
        crash / (kick + crash)
    };
    let (over, close) = (share(MicSetup::Overhead), share(MicSetup::Close));
    assert!(over > 0.7 && close < 0.3, "overheads {over}, close {close}");
    // No placement is the plain render.
    assert_eq!(
        render_through_mics(&notes, &kit, SR, 1.0, None),
        super::render(&notes, &kit, SR, 1.0)
    );
}

#[test]
fn mic_placements_are_seeded_and_drawn_with_their_probability() {
    let s = AugmentSettings {
        mic_probability: 0.5,
        ..AugmentSettings::default()
    };
    let drawn: Vec<_> = (0..200).map(|seed| mic_placement(seed, &s)).collect();
    assert_eq!(
        drawn,
        (0..200)
            .map(|seed| mic_placement(seed, &s))
            .collect::<Vec<_>>()
    );
    let placed = drawn.iter().flatten().count();
    assert!((70..=130).contains(&placed), "{placed}");
    let overheads = drawn
        .iter()
        .flatten()
        .filter(|m| m.setup == MicSetup::Overhead)
        .count();
    assert!(overheads > 20 && overheads < placed - 20);
    for m in drawn.iter().flatten() {
        assert!((4.5..=9.0).contains(&m.tip_db));
        assert!(m.setup == MicSetup::Overhead || m.room_wet == 0.0);
    }
}

/// The linear stages replayed on each drum and then mixed give the augmented mix (the
/// synthesizer's per-item "heard" kits rest on this): every linear condition on, the
/// non-linear ones and the noise off.
#[test]
fn replaying_the_linear_stages_on_each_drum_gives_the_augmented_mix() {
    let (kit, notes) = kick_and_crash();
    let settings = AugmentSettings {
        gain_db_min: -6.0,
        gain_db_max: -6.0,
        eq_tilt_db: 6.0,
        noise_db_min: -140.0,
        noise_db_max: -140.0,
        reverb_probability: 1.0,
        mic_probability: 1.0,
        mic_room_wet_max: 0.25,
        low_cut_probability: 1.0,
        high_cut_probability: 1.0,
        mid_peak_probability: 1.0,
        ..AugmentSettings::default()
    };
    let mut checked = 0;
    for seed in 0..6 {
        let mics = mic_placement(seed, &settings);
        let mut mix = render_through_mics(&notes, &kit, SR, 1.0, mics.as_ref());
        let applied = augment(&mut mix, seed, &settings, SR);
        assert!(applied.reverb.is_some() && applied.recording.low_cut_hz.is_some());
        let heard = super::heard_kit(kit.clone(), &applied, SR as usize, SR);
        let replayed = render_through_mics(&notes, &heard, SR, 1.0, mics.as_ref());
        let gain = (10f64.powf(applied.gain_db / 20.0) * applied.limiter_gain) as f32;
        let err: f64 = mix
            .iter()
            .zip(&replayed)
            .map(|(&a, &b)| f64::from(a - gain * b).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm = mix
            .iter()
            .map(|&a| f64::from(a).powi(2))
            .sum::<f64>()
            .sqrt();
        // The noise (-140 dB) and the float order of filter-then-mix are all that differ.
        assert!(err < 1e-3 * norm, "seed {seed}: error {err} of {norm}");
        // And the heard kit is not the dry one: the stages did something.
        let moved: f64 = heard.components[1].samples[..4000]
            .iter()
            .zip(&kit.components[1].samples)
            .map(|(&a, &b)| f64::from(a - b).powi(2))
            .sum();
        assert!(moved > 1e-3, "seed {seed}: the crash did not change");
        checked += 1;
    }
    assert_eq!(checked, 6);
}
