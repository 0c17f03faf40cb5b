//! Synthetic grooves: musical content, determinism, sample-accurate rendering, consistent files.

use std::collections::BTreeSet;
use std::path::Path;

use drummernet::atomic_file::Overwrite;
use drummernet::groove::{
    annotation_lines, generate_performance, make_groove, parse_annotations, read_annotations,
    render, velocity_gain, write_groove_set, AugmentSettings, GrooveSettings, Performance, Style,
    AUGMENT_CEILING,
};
use drummernet::kit::components::{DrumClass, COMPONENTS};
use drummernet::kit::{Kit, KitComponent};
use drummernet::midi::{read_midi, MidiNote};
use drummernet::Error;

const SR: u32 = 16_000;

/// A kit of decaying tones (drums) and decaying pseudo-noise (cymbals), one per component.
fn synthetic_kit(name: &str, scale: f32) -> Kit {
    let mut state = 0x1234_5678u32;
    let components = COMPONENTS
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let freq = 50.0 + 90.0 * k as f32;
            let noisy = matches!(c.class, DrumClass::CY | DrumClass::HH | DrumClass::OT);
            let samples = (0..4000)
                .map(|i| {
                    let t = i as f32 / SR as f32;
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
                    let tone = (std::f32::consts::TAU * freq * t).sin();
                    scale * (-t * 30.0).exp() * if noisy { noise } else { tone }
                })
                .collect();
            KitComponent {
                name: c.name.to_string(),
                samples,
            }
        })
        .collect();
    Kit {
        name: name.to_string(),
        components,
    }
}

/// Every component a single unit impulse.
fn impulse_kit() -> Kit {
    Kit {
        name: "impulses".into(),
        components: COMPONENTS
            .iter()
            .map(|c| KitComponent {
                name: c.name.to_string(),
                samples: vec![1.0],
            })
            .collect(),
    }
}

fn only(style: Style) -> GrooveSettings {
    GrooveSettings {
        styles: vec![style],
        ..GrooveSettings::default()
    }
}

fn classes(p: &Performance) -> BTreeSet<DrumClass> {
    p.notes
        .iter()
        .filter_map(|n| DrumClass::from_gm_note(n.note))
        .collect()
}

fn count(p: &Performance, notes: &[u8]) -> usize {
    p.notes.iter().filter(|n| notes.contains(&n.note)).count()
}

#[test]
fn every_style_plays_kick_snare_and_hats() {
    for style in Style::ALL {
        for seed in 0..12 {
            let p = generate_performance(seed, 8.0, &only(style));
            assert_eq!(p.style, style);
            let c = classes(&p);
            // Blast beats and electro may keep time on the ride (no hi-hat at all).
            let needed: &[DrumClass] = if matches!(style, Style::Blast | Style::Electro) {
                &[DrumClass::KD, DrumClass::SD]
            } else {
                &[DrumClass::KD, DrumClass::SD, DrumClass::HH]
            };
            for &needed in needed {
                assert!(c.contains(&needed), "{style} seed {seed} lacks {needed:?}");
            }
            assert!(p.notes.windows(2).all(|w| w[0].time <= w[1].time));
            assert!(p.notes.iter().all(|n| n.time >= 0.0 && n.time < 8.0));
            assert!(p
                .notes
                .iter()
                .all(|n| (1..=127).contains(&n.velocity) && n.channel == 9));
        }
    }
}

#[test]
fn tempo_stays_in_range() {
    let narrow = GrooveSettings {
        bpm_min: 91.0,
        bpm_max: 94.5,
        ..GrooveSettings::default()
    };
    let defaults = GrooveSettings::default();
    let mut seen_slow = false;
    let mut seen_fast = false;
    for seed in 0..300 {
        let p = generate_performance(seed, 1.0, &narrow);
        assert!((91.0..=94.5).contains(&p.bpm), "{}", p.bpm);
        let q = generate_performance(seed, 1.0, &defaults);
        assert!((60.0..=200.0).contains(&q.bpm), "{}", q.bpm);
        seen_slow |= q.bpm < 80.0;
        seen_fast |= q.bpm > 180.0;
    }
    assert!(seen_slow && seen_fast, "tempi do not cover the range");
}

#[test]
fn deterministic_per_seed_and_seeds_differ() {
    let s = GrooveSettings::default();
    let a = generate_performance(42, 20.0, &s);
    assert_eq!(a, generate_performance(42, 20.0, &s));
    assert_ne!(a.notes, generate_performance(43, 20.0, &s).notes);
    let kits = [synthetic_kit("a", 0.5), synthetic_kit("b", 0.3)];
    let x = make_groove(7, 4.0, &kits, &s).unwrap();
    let y = make_groove(7, 4.0, &kits, &s).unwrap();
    assert_eq!(x.audio, y.audio);
    assert_eq!(x.performance, y.performance);
    assert_eq!(x.kit_name, y.kit_name);
}

#[test]
fn styles_differ_in_character() {
    let seconds = 30.0;
    let fixed_tempo = |style| GrooveSettings {
        bpm_min: 100.0,
        bpm_max: 100.0,
        ride_probability: 0.0,
        fill_probability: 0.0,
        ..only(style)
    };
    let perf = |style, seed| generate_performance(seed, seconds, &fixed_tempo(style));
    // Same seed, different styles: different notes.
    for (i, a) in Style::ALL.iter().enumerate() {
        for b in &Style::ALL[i + 1..] {
            assert_ne!(perf(*a, 1).notes, perf(*b, 1).notes, "{a} == {b}");
        }
    }
    let bars = seconds / 2.4; // 100 BPM
    let kicks = |style| (0..5).map(|s| count(&perf(style, s), &[36])).sum::<usize>() as f64 / 5.0;
    // Double kick: 8 to 16 kicks a bar; rock 2 to 4.
    assert!(
        kicks(Style::DoubleKick) > 10.0 * bars,
        "{}",
        kicks(Style::DoubleKick)
    );
    assert!(kicks(Style::Rock) < 4.5 * bars);
    // Half-time: one backbeat per bar (plus ghosts); rock two.
    let loud_snares = |p: &Performance| {
        p.notes
            .iter()
            .filter(|n| n.note == 38 && n.velocity > 90)
            .count() as f64
    };
    let half = loud_snares(&perf(Style::HalfTime, 3));
    let rock = loud_snares(&perf(Style::Rock, 3));
    assert!((half - bars).abs() <= 2.0, "{half} vs {bars} bars");
    assert!((rock - 2.0 * bars).abs() <= 3.0, "{rock}");
    // Funk has ghost notes (quiet snares); with ghost notes off it has none.
    let ghosts = |p: &Performance| {
        p.notes
            .iter()
            .filter(|n| n.note == 38 && n.velocity < 50)
            .count()
    };
    assert!(ghosts(&perf(Style::Funk, 4)) > 10);
    let clean = generate_performance(
        4,
        seconds,
        &GrooveSettings {
            ghost_notes: false,
            humanize_std_ms: 0.0,
            velocity_std: 0.0,
            ..fixed_tempo(Style::Funk)
        },
    );
    assert_eq!(ghosts(&clean), 0);
    // Shuffle: hats on the triplet grid (beat = 0.6 s, triplet = 0.2 s), not on 8ths.
    let shuffle = generate_performance(
        5,
        seconds,
        &GrooveSettings {
            humanize_std_ms: 0.0,
            ..fixed_tempo(Style::Shuffle)
        },
    );
    let hats: Vec<f64> = shuffle
        .notes
        .iter()
        .filter(|n| n.note == 42)
        .map(|n| n.time)
        .collect();
    assert!(hats.len() > 20);
    let start = hats[0];
    let on_triplets = hats
        .iter()
        .all(|t| (((t - start) / 0.2) - ((t - start) / 0.2).round()).abs() < 1e-6);
    let has_swung = hats
        .iter()
        .any(|t| (((t - start) / 0.3) - ((t - start) / 0.3).round()).abs() > 0.1);
    assert!(on_triplets && has_swung);
    // Disco: open hats on the off-beats.
    assert!(count(&perf(Style::Disco, 6), &[46]) as f64 > 3.0 * bars);
}

#[test]
fn fills_use_toms_then_crash_and_sections_bring_ride_and_tambourine() {
    let settings = GrooveSettings {
        fill_probability: 1.0,
        ride_probability: 0.5,
        tambourine_probability: 1.0,
        bpm_min: 120.0,
        bpm_max: 120.0,
        styles: vec![Style::Rock],
        ..GrooveSettings::default()
    };
    let mut rides = 0;
    for seed in 0..6 {
        // 120 BPM: 2 s bars, 34 s = 17 bars, so at least two phrase ends.
        let p = generate_performance(seed, 34.0, &settings);
        let toms: Vec<f64> = p
            .notes
            .iter()
            .filter(|n| DrumClass::from_gm_note(n.note) == Some(DrumClass::TT))
            .map(|n| n.time)
            .collect();
        assert!(toms.len() >= 4, "seed {seed}: no fills");
        assert!(count(&p, &[54]) > 0, "no tambourine");
        // Phrase-end fills (every one, at probability 1) are followed by a crash: most fill
        // ends have a crash less than a beat later (mid-phrase pickups need not).
        let mut fill_ends: Vec<f64> = toms
            .windows(2)
            .filter(|w| w[1] - w[0] > 1.0)
            .map(|w| w[0])
            .collect();
        fill_ends.push(*toms.last().unwrap());
        let crashed = fill_ends
            .iter()
            .filter(|&&end| {
                p.notes
                    .iter()
                    .any(|n| n.note == 49 && n.time > end && n.time < end + 0.5)
            })
            .count();
        let phrase_fills = fill_ends.iter().filter(|&&e| e < 33.0).count();
        assert!(
            2 * crashed >= phrase_fills,
            "seed {seed}: {crashed} of {fill_ends:?}"
        );
        rides += count(&p, &[51]);
    }
    assert!(rides > 0, "no ride section in six performances");
}

#[test]
fn rendering_places_every_onset_on_its_sample() {
    let settings = GrooveSettings {
        augment: AugmentSettings {
            enabled: false,
            ..AugmentSettings::default()
        },
        ..GrooveSettings::default()
    };
    let kit = impulse_kit();
    for seed in 0..6 {
        let p = generate_performance(seed, 6.0, &settings);
        let audio = render(&p.notes, &kit, SR, p.seconds);
        assert_eq!(audio.len(), 96_000);
        let nonzero: Vec<usize> = (0..audio.len()).filter(|&i| audio[i] != 0.0).collect();
        for n in &p.notes {
            let at = (n.time * f64::from(SR)).round() as usize;
            let lo = at.saturating_sub(1);
            assert!(
                (lo..=at + 1).any(|i| audio.get(i).is_some_and(|v| *v != 0.0)),
                "no energy near {} s",
                n.time
            );
        }
        // And no energy anywhere else.
        for i in nonzero {
            assert!(
                p.notes
                    .iter()
                    .any(|n| ((n.time * f64::from(SR)).round() as i64 - i as i64).abs() <= 1),
                "stray sample {i}"
            );
        }
    }
}

#[test]
fn velocity_changes_amplitude_monotonically() {
    let kit = synthetic_kit("k", 1.0);
    let mut last = 0.0f32;
    for v in 1..=127u8 {
        let audio = render(&[MidiNote::drum(0.01, 38, v, 0.05)], &kit, SR, 0.3);
        let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak > last, "velocity {v}: {peak} <= {last}");
        last = peak;
    }
    assert!((velocity_gain(127) - 1.0).abs() < 1e-7);
    assert!(velocity_gain(32) < 0.15 && velocity_gain(32) > 0.1);
}

#[test]
fn rendered_grooves_never_clip() {
    let loud = [synthetic_kit("loud", 4.0)];
    let hot = GrooveSettings {
        augment: AugmentSettings {
            gain_db_min: 0.0,
            gain_db_max: 0.0,
            eq_tilt_db: 12.0,
            reverb_probability: 1.0,
            reverb_wet_max: 1.0,
            noise_db_max: -20.0,
            ..AugmentSettings::default()
        },
        ..GrooveSettings::default()
    };
    for seed in 0..6 {
        let take = make_groove(seed, 5.0, &loud, &hot).unwrap();
        assert_eq!(take.audio.len(), 80_000);
        let peak = take.audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= AUGMENT_CEILING && peak > 0.1, "{peak}");
        assert!(take.mix_gain < 1.0);
    }
    // Without augmentation the peak is exactly the configured level.
    let plain = GrooveSettings {
        augment: AugmentSettings {
            enabled: false,
            ..AugmentSettings::default()
        },
        ..GrooveSettings::default()
    };
    let take = make_groove(1, 5.0, &loud, &plain).unwrap();
    let peak = take.audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!((peak - 10f32.powf(-1.0 / 20.0)).abs() < 1e-5);
}

#[test]
fn groove_set_files_agree_with_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set");
    let kits = [synthetic_kit("a", 0.5), synthetic_kit("b", 0.8)];
    let settings = GrooveSettings::default();
    let wavs = write_groove_set(&out, 3, 4.0, &kits, 9, &settings, Overwrite::Refuse).unwrap();
    assert_eq!(wavs.len(), 3);
    assert_eq!(wavs[0].file_name().unwrap(), "groove_0000.wav");
    for wav in &wavs {
        let reader = hound::WavReader::open(wav).unwrap();
        assert_eq!(reader.spec().sample_rate, SR);
        assert_eq!(reader.spec().channels, 1);
        assert_eq!(reader.duration(), 64_000);
        let notes = read_midi(&wav.with_extension("mid")).unwrap();
        let from_txt = read_annotations(&wav.with_extension("txt")).unwrap();
        let from_mid = parse_annotations(&annotation_lines(&notes), Path::new("mem")).unwrap();
        assert!(!from_txt.is_empty());
        assert_eq!(from_txt, from_mid);
        let header = std::fs::read_to_string(wav.with_extension("txt")).unwrap();
        assert!(header.starts_with("# drummernet synthetic groove"));
        assert!(header.contains("mix_gain_db="));
    }
    // Reproducible: the same set written elsewhere is byte-identical.
    let again = dir.path().join("again");
    write_groove_set(&again, 3, 4.0, &kits, 9, &settings, Overwrite::Refuse).unwrap();
    for name in ["groove_0002.wav", "groove_0002.mid", "groove_0002.txt"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(again.join(name)).unwrap(),
            "{name}"
        );
    }
    // Refusing to overwrite fails before touching anything.
    std::fs::remove_file(out.join("groove_0000.txt")).unwrap();
    let before = std::fs::read(out.join("groove_0000.wav")).unwrap();
    let err = write_groove_set(&out, 3, 4.0, &kits, 10, &settings, Overwrite::Refuse).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }));
    assert!(!out.join("groove_0000.txt").exists());
    assert_eq!(std::fs::read(out.join("groove_0000.wav")).unwrap(), before);
    // No kit is an error, not a panic.
    assert!(write_groove_set(&out, 1, 4.0, &[], 1, &settings, Overwrite::Allow).is_err());
}

#[test]
fn rendered_onsets_match_the_midi_file() {
    // The WAV's impulses sit exactly where the MIDI file says (within one sample).
    let dir = tempfile::tempdir().unwrap();
    let settings = GrooveSettings {
        augment: AugmentSettings {
            enabled: false,
            ..AugmentSettings::default()
        },
        ..GrooveSettings::default()
    };
    let wavs = write_groove_set(
        dir.path(),
        1,
        3.0,
        &[impulse_kit()],
        5,
        &settings,
        Overwrite::Refuse,
    )
    .unwrap();
    let notes = read_midi(&wavs[0].with_extension("mid")).unwrap();
    let samples: Vec<i16> = hound::WavReader::open(&wavs[0])
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    assert!(!notes.is_empty());
    for n in &notes {
        let at = (n.time * f64::from(SR)).round() as usize;
        assert!(
            (at.saturating_sub(1)..=at + 1).any(|i| samples.get(i).is_some_and(|v| *v != 0)),
            "MIDI onset {} s has no sound",
            n.time
        );
    }
}

/// Kit 1 of the paper's drum sources, loaded at 16 kHz (first second of each file).
fn drum_sources_kit() -> Option<Kit> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/drum_sources");
    if !dir.is_dir() {
        println!("skipped: {} not found", dir.display());
        return None;
    }
    let components = COMPONENTS
        .iter()
        .map(|c| {
            let path = dir.join(format!("1){}.wav", c.name));
            let mut samples = drummernet::audio::load_mono(&path, SR).unwrap();
            samples.truncate(SR as usize);
            KitComponent {
                name: c.name.to_string(),
                samples,
            }
        })
        .collect();
    Some(Kit {
        name: "drum_sources#1".into(),
        components,
    })
}

#[test]
fn real_kit_groove_has_energy_rising_at_annotated_onsets() {
    let Some(kit) = drum_sources_kit() else {
        return;
    };
    let settings = GrooveSettings {
        augment: AugmentSettings {
            enabled: false,
            ..AugmentSettings::default()
        },
        ..GrooveSettings::default()
    };
    let started = std::time::Instant::now();
    let take = make_groove(3, 30.0, std::slice::from_ref(&kit), &settings).unwrap();
    println!(
        "30-s {} groove at {:.1} BPM ({} notes) rendered in {:?}",
        take.performance.style,
        take.performance.bpm,
        take.performance.notes.len(),
        started.elapsed()
    );
    let peak = take.audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(peak <= 0.9 && peak > 0.85);
    // Energy in the 10 ms after each kick or snare onset exceeds the 10 ms before it.
    let energy = |a: usize, b: usize| -> f64 {
        take.audio[a..b.min(take.audio.len())]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum()
    };
    let (mut rising, mut total) = (0, 0);
    for n in take
        .performance
        .notes
        .iter()
        .filter(|n| n.note == 36 || n.note == 38)
    {
        let at = (n.time * f64::from(SR)).round() as usize;
        if at < 160 || n.velocity < 80 {
            continue;
        }
        total += 1;
        if energy(at, at + 160) > 1.5 * energy(at - 160, at) {
            rising += 1;
        }
    }
    assert!(total > 20);
    assert!(rising * 10 >= total * 9, "{rising} of {total} onsets");
}

#[test]
fn midi_files_render_to_wav_through_a_kit() {
    use drummernet::audio::WavFormat;
    use drummernet::groove::render_midi_file;
    use drummernet::midi::{write_midi, MidiWriteOptions};
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("pattern.mid");
    let notes = [
        MidiNote::drum(0.0, 36, 127, 0.05),
        MidiNote::drum(0.5, 38, 64, 0.05),
        MidiNote::drum(0.75, 100, 64, 0.05), // not a drum
    ];
    write_midi(
        &mid,
        &notes,
        &MidiWriteOptions::default(),
        Overwrite::Refuse,
    )
    .unwrap();
    let wav = dir.path().join("out.wav");
    let kit = impulse_kit();
    let r = render_midi_file(
        &mid,
        &kit,
        &wav,
        -6.0,
        WavFormat::Float32,
        Overwrite::Refuse,
    )
    .unwrap();
    assert_eq!((r.notes, r.unplayable), (3, 1));
    assert!((r.seconds - (0.5 + 1.0 / 16_000.0)).abs() < 1e-9);
    let samples: Vec<f32> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<f32>()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(samples.len(), 8001);
    let peak = 10f32.powf(-6.0 / 20.0);
    assert!((samples[0] - peak).abs() < 1e-6);
    assert!((samples[8000] - peak * velocity_gain(64)).abs() < 1e-6);
    assert_eq!(samples.iter().filter(|s| **s != 0.0).count(), 2);
    // Existing output is refused; a MIDI file the kit cannot play is an error naming it.
    let again = render_midi_file(&mid, &kit, &wav, -6.0, WavFormat::Pcm16, Overwrite::Refuse);
    assert!(matches!(again, Err(Error::OutputExists { .. })));
    let odd = dir.path().join("odd.mid");
    write_midi(
        &odd,
        &notes[2..],
        &MidiWriteOptions::default(),
        Overwrite::Refuse,
    )
    .unwrap();
    let err = render_midi_file(
        &odd,
        &kit,
        &dir.path().join("o.wav"),
        -6.0,
        WavFormat::Pcm16,
        Overwrite::Refuse,
    )
    .unwrap_err();
    assert!(err.to_string().contains("odd.mid"), "{err}");
}

#[test]
fn degenerate_requests_do_not_panic() {
    let s = GrooveSettings::default();
    assert!(generate_performance(1, 0.0, &s).notes.is_empty());
    assert!(generate_performance(1, f64::NAN, &s).notes.is_empty());
    let odd = GrooveSettings {
        bpm_min: f64::NAN,
        bpm_max: -5.0,
        styles: vec![],
        fill_probability: 7.0,
        ..GrooveSettings::default()
    };
    assert!(odd.validate("groove").is_err());
    let p = generate_performance(1, 4.0, &odd);
    assert!(p.bpm.is_finite() && p.bpm > 0.0);
    let kits = [impulse_kit()];
    assert!(make_groove(1, 0.0, &kits, &s).is_err());
    assert_eq!(make_groove(1, 0.001, &kits, &s).unwrap().audio.len(), 16);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any seed and length: notes inside the performance, sorted, valid; the annotation keeps
    /// every evaluated note at its time (to the printed microsecond).
    #[test]
    fn performances_are_well_formed(seed in proptest::prelude::any::<u64>(), seconds in 0.01f64..30.0) {
        let p = generate_performance(seed, seconds, &GrooveSettings::default());
        proptest::prop_assert!((60.0..=200.0).contains(&p.bpm));
        proptest::prop_assert!(p.notes.windows(2).all(|w| w[0].time <= w[1].time));
        proptest::prop_assert!(p.notes.iter().all(|n| n.time >= 0.0 && n.time < seconds));
        proptest::prop_assert!(p.notes.iter().all(|n| (1..=127).contains(&n.velocity)));
        let parsed = parse_annotations(&annotation_lines(&p.notes), Path::new("p")).unwrap();
        let mut expected: Vec<(f64, DrumClass)> = p
            .notes
            .iter()
            .filter_map(|n| DrumClass::from_gm_note(n.note).filter(|c| *c != DrumClass::OT).map(|c| (n.time, c)))
            .collect();
        // Ordered as the annotation lists them: by printed microsecond, then class (two notes
        // less than a microsecond apart print at the same time).
        let micros = |t: f64| (t * 1e6).round() as i64;
        expected.sort_by(|a, b| micros(a.0).cmp(&micros(b.0)).then(a.1.cmp(&b.1)));
        let mut parsed = parsed;
        parsed.sort_by(|a, b| micros(a.0).cmp(&micros(b.0)).then(a.1.cmp(&b.1)));
        proptest::prop_assert_eq!(parsed.len(), expected.len());
        for (a, b) in parsed.iter().zip(&expected) {
            proptest::prop_assert!((a.0 - b.0).abs() <= 5e-7 && a.1 == b.1);
        }
    }
}
