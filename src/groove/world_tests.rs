//! The added styles and performance settings, each measured on the notes for the trait it is
//! named for, over several seeds.

use super::generate::{generate_performance, Performance, NOTE_SECONDS};
use super::settings::{GrooveSettings, Habit};
use super::style::Style;
use crate::kit::components::DrumClass;
use crate::midi::MidiNote;

const NEW: [Style; 7] = [
    Style::Jazz,
    Style::Latin,
    Style::Blast,
    Style::Ballad,
    Style::Electro,
    Style::Trap,
    Style::Toms,
];

/// One style, no timing error (so positions can be read off the grid), no fills.
fn strict(style: Style) -> GrooveSettings {
    GrooveSettings {
        styles: vec![style],
        humanize_std_ms: 0.0,
        humanize_max_ms: 0.0,
        fill_probability: 0.0,
        ..GrooveSettings::default()
    }
}

fn notes(p: &Performance, gm: &[u8]) -> Vec<MidiNote> {
    p.notes
        .iter()
        .filter(|n| gm.contains(&n.note))
        .cloned()
        .collect()
}

/// Position of `t` in beats from the first downbeat.
fn beat_of(p: &Performance, t: f64) -> f64 {
    (t - p.first_downbeat) * p.bpm / 60.0
}

/// Position of `t` in its bar, beats in [0, 4) (rounded to 1e-6 so that a downbeat a rounding
/// error early is not read as beat 4).
fn in_bar(p: &Performance, t: f64) -> f64 {
    ((beat_of(p, t) * 1e6).round() / 1e6).rem_euclid(4.0)
}

/// Number of whole bars in the performance and the time they end.
fn whole_bars(p: &Performance) -> (usize, f64) {
    let bar = 240.0 / p.bpm;
    let n = ((p.seconds - p.first_downbeat) / bar).floor() as usize;
    (n, p.first_downbeat + n as f64 * bar)
}

#[test]
fn new_styles_are_deterministic_inside_their_seconds_and_tempo() {
    for style in NEW {
        let s = GrooveSettings {
            styles: vec![style],
            bpm_min: 30.0,
            bpm_max: 300.0,
            ..GrooveSettings::default()
        };
        let (lo, hi) = style.tempo_range().unwrap();
        for seed in 0..6 {
            let p = generate_performance(seed, 12.0, &s);
            assert_eq!(p, generate_performance(seed, 12.0, &s), "{style} {seed}");
            assert_eq!(p.style, style);
            assert!((lo..=hi).contains(&p.bpm), "{style}: {} BPM", p.bpm);
            assert!(!p.notes.is_empty());
            assert!(p.notes.iter().all(|n| n.time >= 0.0 && n.time < 12.0));
            assert!(p.notes.windows(2).all(|w| w[0].time <= w[1].time));
        }
        assert_ne!(
            generate_performance(1, 12.0, &s).notes,
            generate_performance(2, 12.0, &s).notes
        );
    }
    // Outside the style's range the nearest settings bound is kept.
    let slow = GrooveSettings {
        bpm_min: 60.0,
        bpm_max: 90.0,
        ..strict(Style::Blast)
    };
    assert_eq!(generate_performance(3, 4.0, &slow).bpm, 90.0);
}

#[test]
fn jazz_swings_the_ride_with_the_pedal_on_two_and_four() {
    let s = GrooveSettings {
        accent_crash_probability: Habit::Probability(0.0),
        ..strict(Style::Jazz)
    };
    for seed in 0..6 {
        let p = generate_performance(seed, 20.0, &s);
        let ride = notes(&p, &[51]);
        let (bars, end) = whole_bars(&p);
        let beats = 4 * bars;
        let on_beat = ride
            .iter()
            .filter(|n| n.time < end)
            .filter(|n| {
                let b = beat_of(&p, n.time);
                (b - b.round()).abs() < 0.02
            })
            .count();
        // Every beat but the crashed downbeats.
        assert!(
            on_beat * 10 >= beats * 8,
            "seed {seed}: {on_beat} of {beats}"
        );
        let offbeats: Vec<f64> = ride
            .iter()
            .map(|n| beat_of(&p, n.time).fract())
            .filter(|f| (0.1..0.9).contains(f))
            .collect();
        assert!(offbeats.len() >= bars, "seed {seed}: {}", offbeats.len());
        for f in &offbeats {
            assert!(
                (f - 2.0 / 3.0).abs() < 0.02,
                "seed {seed}: off-beat at {f}, not swung"
            );
        }
        let pedal = notes(&p, &[44]);
        assert!(pedal.len() >= 2 * bars);
        for n in &pedal {
            let b = beat_of(&p, n.time).round() as i64 % 4;
            assert!(b == 1 || b == 3, "seed {seed}: pedal on beat {}", b + 1);
        }
    }
}

#[test]
fn blasts_play_at_least_sixteen_kicks_and_snares_a_bar() {
    for seed in 0..8 {
        let p = generate_performance(seed, 12.0, &strict(Style::Blast));
        let (bars, end) = whole_bars(&p);
        let hits = notes(&p, &[36, 38])
            .iter()
            .filter(|n| n.time < end - 1e-9)
            .count();
        assert!(hits >= 16 * bars, "seed {seed}: {hits} in {bars} bars");
        assert!(p.bpm >= 160.0);
    }
}

#[test]
fn electro_kicks_every_beat() {
    for seed in 0..8 {
        let p = generate_performance(seed, 12.0, &strict(Style::Electro));
        let kicks = notes(&p, &[36]);
        for (t, _) in p.beats() {
            assert!(
                kicks.iter().any(|k| (k.time - t).abs() < 1e-6),
                "seed {seed}: no kick at {t}"
            );
        }
        assert!(notes(&p, &[38]).len() >= 2 * whole_bars(&p).0);
    }
}

#[test]
fn trap_hats_roll_faster_than_sixteenths() {
    for seed in 0..8 {
        let p = generate_performance(seed, 12.0, &strict(Style::Trap));
        let sixteenth = 15.0 / p.bpm;
        let hats = notes(&p, &[42, 46]);
        let rolls = hats
            .windows(2)
            .filter(|w| w[1].time - w[0].time < 0.8 * sixteenth)
            .count();
        assert!(rolls >= whole_bars(&p).0, "seed {seed}: {rolls} short gaps");
        // Half time: the loud snare once a bar, on 3.
        for n in notes(&p, &[38]).iter().filter(|n| n.velocity > 100) {
            let b = in_bar(&p, n.time);
            assert!((b - 2.0).abs() < 1e-6, "seed {seed}: snare at {b}");
        }
    }
}

#[test]
fn tom_grooves_are_mostly_toms() {
    for seed in 0..8 {
        let p = generate_performance(seed, 12.0, &strict(Style::Toms));
        let toms = p
            .notes
            .iter()
            .filter(|n| DrumClass::from_gm_note(n.note) == Some(DrumClass::TT))
            .count();
        assert!(
            toms * 5 >= p.notes.len() * 2,
            "seed {seed}: {toms} of {}",
            p.notes.len()
        );
    }
}

#[test]
fn ballads_are_quiet_with_long_swishes() {
    let mean = |p: &Performance| {
        p.notes.iter().map(|n| f64::from(n.velocity)).sum::<f64>() / p.notes.len() as f64
    };
    for seed in 0..8 {
        let s = GrooveSettings {
            styles: vec![Style::Ballad],
            ..GrooveSettings::default()
        };
        let p = generate_performance(seed, 16.0, &s);
        assert!(mean(&p) < 55.0, "seed {seed}: mean velocity {}", mean(&p));
        let rock = generate_performance(
            seed,
            16.0,
            &GrooveSettings {
                styles: vec![Style::Rock],
                ..s.clone()
            },
        );
        assert!(mean(&p) < mean(&rock) - 25.0);
        let swishes = notes(&p, &[38])
            .iter()
            .filter(|n| n.duration > 4.0 * NOTE_SECONDS)
            .count();
        assert!(swishes >= 3 * whole_bars(&p).0, "seed {seed}: {swishes}");
    }
}

#[test]
fn latin_plays_toms_ride_bell_and_cross_stick() {
    let mut cross_sticks = 0;
    for seed in 0..10 {
        let p = generate_performance(seed, 12.0, &strict(Style::Latin));
        let colour = notes(&p, &[41, 43, 45, 47, 48, 50, 53]).len();
        assert!(colour >= whole_bars(&p).0, "seed {seed}: {colour}");
        cross_sticks += notes(&p, &[37]).len();
    }
    assert!(cross_sticks > 0);
}

#[test]
fn ghost_styles_have_two_velocity_layers() {
    for style in [Style::Funk, Style::Jazz] {
        for seed in 0..4 {
            let p = generate_performance(
                seed,
                30.0,
                &GrooveSettings {
                    styles: vec![style],
                    accents: true,
                    ..GrooveSettings::default()
                },
            );
            let n = p.notes.len();
            let ghosts = p.notes.iter().filter(|n| n.velocity < 45).count();
            let accents = p.notes.iter().filter(|n| n.velocity > 100).count();
            assert!(ghosts * 20 >= n, "{style} {seed}: {ghosts} ghosts of {n}");
            assert!(
                accents * 20 >= n,
                "{style} {seed}: {accents} accents of {n}"
            );
        }
    }
}

#[test]
fn accented_downbeats_reach_the_top_layer() {
    let s = GrooveSettings {
        accents: true,
        ..strict(Style::Rock)
    };
    let p = generate_performance(5, 20.0, &s);
    let downbeat_kicks: Vec<u8> = notes(&p, &[36])
        .iter()
        .filter(|n| in_bar(&p, n.time) < 1e-6)
        .map(|n| n.velocity)
        .collect();
    assert!(!downbeat_kicks.is_empty());
    // Full level 127 with 6 steps of gaussian error: nearly all above 110.
    let loud = downbeat_kicks.iter().filter(|&&v| v >= 110).count();
    assert!(loud * 10 >= downbeat_kicks.len() * 9, "{downbeat_kicks:?}");
}

#[test]
fn fill_and_crash_settings_change_what_is_struck() {
    let base = GrooveSettings {
        styles: vec![Style::Rock],
        fill_probability: 1.0,
        bpm_min: 120.0,
        bpm_max: 120.0,
        ..GrooveSettings::default()
    };
    let toms = |p: &Performance| notes(p, &[43, 48, 50]).len();
    let snares = |p: &Performance| notes(p, &[38]).len();
    let (mut all_toms, mut no_toms) = (0, 0);
    let (mut snare_a, mut snare_b) = (0, 0);
    for seed in 0..6 {
        let a = generate_performance(
            seed,
            40.0,
            &GrooveSettings {
                tom_fill_probability: Habit::Probability(1.0),
                ..base.clone()
            },
        );
        let b = generate_performance(
            seed,
            40.0,
            &GrooveSettings {
                tom_fill_probability: Habit::Probability(0.0),
                ..base.clone()
            },
        );
        all_toms += toms(&a);
        no_toms += toms(&b);
        snare_a += snares(&a);
        snare_b += snares(&b);
    }
    assert!(
        all_toms > no_toms && snare_a < snare_b,
        "{all_toms} {no_toms} {snare_a} {snare_b}"
    );
    // Chinas and splashes replace every crash; accents bring crashes inside the bars.
    let wild = GrooveSettings {
        china_splash_probability: 1.0,
        accent_crash_probability: Habit::Probability(1.0),
        ..base.clone()
    };
    let p = generate_performance(2, 40.0, &wild);
    assert!(notes(&p, &[49]).is_empty());
    let cymbals = notes(&p, &[52, 55]);
    let inside = cymbals.iter().filter(|n| in_bar(&p, n.time) > 0.5).count();
    assert!(inside >= 12, "{inside} accents in 20 bars");
    assert!(cymbals
        .iter()
        .all(|n| n.velocity >= 100 || in_bar(&p, n.time) < 0.01));
}

#[test]
fn the_wide_world_config_loads_every_style_and_recording_condition() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/wide-world.toml");
    let cfg = crate::config::Config::load(Some(&path), &[]).unwrap();
    assert_eq!(cfg.groove.styles, Style::ALL.to_vec());
    let a = &cfg.groove.augment;
    for p in [
        a.compression_probability,
        a.low_cut_probability,
        a.high_cut_probability,
        a.mid_peak_probability,
        a.lofi_probability,
        a.mic_probability,
    ] {
        assert!(p > 0.0);
    }
    // Every style turns up, and performances stay well formed at the wide tempo range.
    for seed in 0..30 {
        let p = generate_performance(seed, 8.0, &cfg.groove);
        assert!(p.notes.iter().all(|n| n.time >= 0.0 && n.time < 8.0));
    }
}

#[test]
fn tempo_changes_move_the_beats_and_the_notes_with_them() {
    let settings = GrooveSettings {
        tempo_change_probability: 1.0,
        ..strict(Style::Electro)
    };
    let (mut steps, mut ramps) = (0, 0);
    for seed in 0..12 {
        let p = generate_performance(seed, 40.0, &settings);
        assert!(p.changes_tempo(), "seed {seed}");
        let beats = p.beats();
        // Beats run bar by bar at each bar's tempo, four to a bar.
        for (k, w) in beats.windows(2).enumerate() {
            let period = 60.0 / p.bar_bpm(k / 4);
            assert!(
                (w[1].0 - w[0].0 - period).abs() < 1e-9,
                "seed {seed} beat {k}"
            );
            assert_eq!(w[0].1, (k % 4) as u32 + 1);
        }
        // The electro kick still lands on every beat: the notes moved with the tempo.
        let kicks = notes(&p, &[36]);
        for (t, _) in &beats {
            assert!(
                kicks.iter().any(|k| (k.time - t).abs() < 1e-6),
                "seed {seed}: {t}"
            );
        }
        let last = p.bar_bpm(usize::MAX);
        let ratio = (last / p.bpm).max(p.bpm / last);
        assert!(
            (1.06 - 1e-9..=1.15 + 1e-9).contains(&ratio),
            "seed {seed}: {ratio}"
        );
        let moving_bars = p.bar_bpms.windows(2).filter(|w| w[0] != w[1]).count();
        if moving_bars == 1 {
            steps += 1;
        } else {
            ramps += 1;
        }
    }
    assert!(steps > 0 && ramps > 0, "{steps} steps, {ramps} ramps");
    // Off by default: one tempo.
    let p = generate_performance(0, 40.0, &strict(Style::Electro));
    assert!(!p.changes_tempo() && p.bar_bpms.is_empty());
}
