//! What a drummer plays in one bar of each classic style, the section choices every style
//! shares, and the dispatch to the other styles' modules.

use rand::Rng;

use super::bar::{Bar, ACCENT, GHOST, NORMAL, SOFT};
use super::patterns_modern::{blast, electro, trap};
use super::patterns_world::{ballad, jazz, latin, toms};
use super::style::{Piece, Style};

pub(crate) const TRIPLET: f64 = 1.0 / 3.0;

/// Choices that hold for a whole phrase (a "section" of the song).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    /// Time is kept on the ride (with the foot closing the hi-hat on 2 and 4).
    pub ride: bool,
    /// Picks the kick/snare template of the style (taken modulo the number of templates).
    pub variant: usize,
    pub tambourine: Option<Tambourine>,
    /// Chance per bar of an open hi-hat accent.
    pub open_hat_chance: f64,
    /// 16th instead of 8th hi-hats where the tempo allows.
    pub sixteenth_hats: bool,
    /// Sparse style: time on the hi-hat pedal alone.
    pub pedal_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tambourine {
    Quarters,
    Backbeat,
    Eighths,
}

/// Performance-wide facts the bars depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feel {
    pub style: Style,
    pub bpm: f64,
    pub ghost_notes: bool,
}

pub(crate) fn new_section(
    feel: &Feel,
    ride_probability: f64,
    tambourine_probability: f64,
    rng: &mut impl Rng,
) -> Section {
    // Feet are busy with the double kick: no hi-hat pedal, so stay on the hats.
    let ride = feel.style != Style::DoubleKick && rng.random_bool(ride_probability);
    let tambourine =
        rng.random_bool(tambourine_probability)
            .then(|| match rng.random_range(0..3) {
                0 => Tambourine::Quarters,
                1 => Tambourine::Backbeat,
                _ => Tambourine::Eighths,
            });
    Section {
        ride,
        variant: rng.random_range(0..1_000_000),
        tambourine,
        open_hat_chance: rng.random_range(0.0..0.5),
        sixteenth_hats: rng.random_bool(0.5),
        pedal_only: rng.random_bool(0.3),
    }
}

pub(crate) fn pick<T: Copy>(templates: &[T], variant: usize) -> T {
    templates[variant % templates.len()]
}

fn straight(step: f64, on_beat: f64, off_beat: f64, weak: f64) -> Vec<(f64, f64)> {
    let n = (4.0 / step).round() as usize;
    (0..n)
        .map(|i| {
            let beat = i as f64 * step;
            let level = if beat.fract() == 0.0 {
                on_beat
            } else if (beat * 2.0).fract() == 0.0 {
                off_beat
            } else {
                weak
            };
            (beat, level)
        })
        .collect()
}

fn swung() -> Vec<(f64, f64)> {
    (0..4)
        .flat_map(|b| [(b as f64, NORMAL), (b as f64 + 2.0 * TRIPLET, SOFT)])
        .collect()
}

/// The time-keeping part on hats or ride; with the ride the foot closes the hats on 2 and 4.
fn keep_time(bar: &mut Bar, section: &Section, positions: &[(f64, f64)]) {
    let piece = if section.ride {
        Piece::Ride
    } else {
        Piece::ClosedHat
    };
    for &(beat, level) in positions {
        bar.add(beat, piece, level);
    }
    if section.ride {
        bar.add(1.0, Piece::PedalHat, SOFT);
        bar.add(3.0, Piece::PedalHat, SOFT);
    }
}

fn hats_for_tempo(feel: &Feel, section: &Section, sixteenth_max_bpm: f64) -> Vec<(f64, f64)> {
    if section.sixteenth_hats && feel.bpm <= sixteenth_max_bpm {
        straight(0.25, NORMAL, SOFT + 0.05, 0.42)
    } else if feel.bpm > 175.0 {
        straight(1.0, NORMAL, NORMAL, NORMAL)
    } else {
        straight(0.5, NORMAL, SOFT, SOFT)
    }
}

fn open_hat(bar: &mut Bar, section: &Section, candidates: &[f64], rng: &mut impl Rng) {
    if !section.ride && rng.random_bool(section.open_hat_chance) {
        let beat = candidates[rng.random_range(0..candidates.len())];
        bar.add(beat, Piece::OpenHat, NORMAL);
    }
}

fn kicks(bar: &mut Bar, beats: &[f64]) {
    for (i, &b) in beats.iter().enumerate() {
        bar.add(b, Piece::Kick, if i == 0 { ACCENT } else { NORMAL });
    }
}

fn backbeat(bar: &mut Bar, beats: &[f64]) {
    for &b in beats {
        bar.add(b, Piece::Snare, ACCENT);
    }
}

/// Quiet snare strokes at some of `candidates` not already taken by the snare.
fn ghosts(bar: &mut Bar, feel: &Feel, candidates: &[f64], chance: f64, rng: &mut impl Rng) {
    if !feel.ghost_notes {
        return;
    }
    for &b in candidates {
        if !bar.has(b, Piece::Snare) && rng.random_bool(chance) {
            bar.add(b, Piece::Snare, GHOST + rng.random_range(-0.06..0.08));
        }
    }
}

const SIXTEENTH_OFFBEATS: [f64; 8] = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75];

fn rock(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const KICKS: [&[f64]; 6] = [
        &[0.0, 2.0],
        &[0.0, 2.0, 2.5],
        &[0.0, 1.5, 2.0],
        &[0.0, 0.5, 2.0, 2.5],
        &[0.0, 1.75, 2.5],
        &[0.0, 2.5],
    ];
    kicks(bar, pick(&KICKS, section.variant));
    if rng.random_bool(0.15) {
        bar.add(3.75, Piece::Kick, SOFT);
    }
    backbeat(bar, &[1.0, 3.0]);
    keep_time(bar, section, &hats_for_tempo(feel, section, 110.0));
    open_hat(bar, section, &[3.5, 1.5], rng);
}

fn funk(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const KICKS: [&[f64]; 6] = [
        &[0.0, 0.75, 2.5],
        &[0.0, 0.75, 1.75, 2.5],
        &[0.0, 2.25, 2.75],
        &[0.0, 0.5, 1.75, 2.75],
        &[0.0, 2.5, 2.75],
        &[0.0, 1.25, 2.5, 3.25],
    ];
    kicks(bar, pick(&KICKS, section.variant));
    backbeat(bar, &[1.0, 3.0]);
    if rng.random_bool(0.2) {
        bar.add(3.75, Piece::Snare, NORMAL);
    }
    ghosts(bar, feel, &SIXTEENTH_OFFBEATS, 0.35, rng);
    keep_time(bar, section, &hats_for_tempo(feel, section, 115.0));
    open_hat(bar, section, &[1.5, 3.5, 2.5], rng);
}

fn shuffle(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const KICKS: [&[f64]; 4] = [
        &[0.0, 2.0],
        &[0.0, 2.0, 2.0 + 2.0 * TRIPLET],
        &[0.0, 1.0 + 2.0 * TRIPLET, 2.0],
        &[0.0, 2.0 + 2.0 * TRIPLET, 3.0 + 2.0 * TRIPLET],
    ];
    kicks(bar, pick(&KICKS, section.variant));
    backbeat(bar, &[1.0, 3.0]);
    // The "Purdie" ghosts: the middle note of each triplet.
    let middles: Vec<f64> = (0..4).map(|b| b as f64 + TRIPLET).collect();
    ghosts(bar, feel, &middles, 0.5, rng);
    keep_time(bar, section, &swung());
    open_hat(
        bar,
        section,
        &[3.0 + 2.0 * TRIPLET, 1.0 + 2.0 * TRIPLET],
        rng,
    );
}

fn half_time(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const KICKS: [&[f64]; 6] = [
        &[0.0],
        &[0.0, 1.75],
        &[0.0, 0.75, 3.5],
        &[0.0, 1.5, 3.25],
        &[0.0, 2.5, 3.25],
        &[0.0, 0.5, 3.5],
    ];
    kicks(bar, pick(&KICKS, section.variant));
    backbeat(bar, &[2.0]);
    ghosts(bar, feel, &[0.75, 1.25, 2.75, 3.25, 3.75], 0.25, rng);
    keep_time(bar, section, &hats_for_tempo(feel, section, 100.0));
    open_hat(bar, section, &[3.5, 1.5], rng);
}

fn double_kick(bar: &mut Bar, feel: &Feel, section: &Section) {
    let feet: Vec<f64> = match section.variant % 3 {
        // Gallop: one 8th and two 16ths per beat.
        1 => (0..4)
            .flat_map(|b| [b as f64, b as f64 + 0.5, b as f64 + 0.75])
            .collect(),
        2 if feel.bpm > 150.0 => (0..8).map(|i| i as f64 * 0.5).collect(),
        _ => (0..16).map(|i| i as f64 * 0.25).collect(),
    };
    for (i, b) in feet.into_iter().enumerate() {
        // Right foot a little stronger than the left.
        let level = if i % 2 == 0 { 0.8 } else { 0.72 };
        bar.add(b, Piece::Kick, level);
    }
    backbeat(bar, &[1.0, 3.0]);
    let step = if feel.bpm < 110.0 { 0.5 } else { 1.0 };
    keep_time(bar, section, &straight(step, NORMAL, SOFT, SOFT));
}

struct Break {
    kicks: &'static [f64],
    snares: &'static [f64],
    ghosts: &'static [f64],
}

fn breakbeat(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const BREAKS: [Break; 4] = [
        Break {
            kicks: &[0.0, 0.5, 2.5, 2.75],
            snares: &[1.0, 3.0],
            ghosts: &[1.75, 2.25, 3.75],
        },
        Break {
            kicks: &[0.0, 0.75, 2.5],
            snares: &[1.0, 2.25, 3.0],
            ghosts: &[3.75],
        },
        Break {
            kicks: &[0.0, 0.5, 1.75, 2.5],
            snares: &[1.0, 3.0],
            ghosts: &[0.75, 2.75, 3.25],
        },
        Break {
            kicks: &[0.0, 1.25, 2.5],
            snares: &[1.0, 3.0, 3.75],
            ghosts: &[1.5, 2.25],
        },
    ];
    let b = &BREAKS[section.variant % BREAKS.len()];
    kicks(bar, b.kicks);
    for (i, &s) in b.snares.iter().enumerate() {
        // Displaced snares are a little softer than the backbeat.
        let level = if s == 1.0 || s == 3.0 { ACCENT } else { NORMAL };
        bar.add(s, Piece::Snare, if i == 0 { ACCENT } else { level });
    }
    ghosts(bar, feel, b.ghosts, 0.8, rng);
    keep_time(bar, section, &hats_for_tempo(feel, section, 110.0));
    open_hat(bar, section, &[1.5, 3.5, 0.5], rng);
}

fn sparse(bar: &mut Bar, section: &Section, rng: &mut impl Rng) {
    bar.add(0.0, Piece::Kick, NORMAL);
    if rng.random_bool(0.35) {
        bar.add(2.5, Piece::Kick, SOFT);
    }
    if section.variant.is_multiple_of(2) {
        bar.add(2.0, Piece::Snare, NORMAL);
    } else {
        bar.add(1.0, Piece::Snare, NORMAL);
        bar.add(3.0, Piece::Snare, NORMAL);
    }
    if section.pedal_only && !section.ride {
        for b in 0..4 {
            bar.add(b as f64, Piece::PedalHat, SOFT);
        }
    } else {
        keep_time(bar, section, &straight(1.0, SOFT, SOFT, SOFT));
    }
    // A quiet part: everything a little softer.
    for h in &mut bar.hits {
        h.level *= 0.85;
    }
}

fn disco(bar: &mut Bar, section: &Section) {
    kicks(bar, &[0.0, 1.0, 2.0, 3.0]);
    backbeat(bar, &[1.0, 3.0]);
    if section.ride {
        keep_time(bar, section, &straight(0.5, NORMAL, SOFT, SOFT));
    } else {
        let closed = if section.sixteenth_hats { 0.25 } else { 1.0 };
        keep_time(bar, section, &straight(closed, SOFT, SOFT, 0.42));
        for b in 0..4 {
            bar.add(b as f64 + 0.5, Piece::OpenHat, NORMAL);
        }
    }
}

fn tambourine(bar: &mut Bar, part: Tambourine) {
    let hits: Vec<(f64, f64)> = match part {
        Tambourine::Quarters => straight(1.0, SOFT, SOFT, SOFT),
        Tambourine::Backbeat => vec![(1.0, NORMAL), (3.0, NORMAL)],
        Tambourine::Eighths => straight(0.5, SOFT, 0.45, 0.45),
    };
    for (b, level) in hits {
        bar.add(b, Piece::Tambourine, level);
    }
}

/// One bar of the style's groove.
pub(crate) fn groove_bar(feel: &Feel, section: &Section, rng: &mut impl Rng) -> Bar {
    let mut bar = Bar::default();
    match feel.style {
        Style::Rock => rock(&mut bar, feel, section, rng),
        Style::Funk => funk(&mut bar, feel, section, rng),
        Style::Shuffle => shuffle(&mut bar, feel, section, rng),
        Style::HalfTime => half_time(&mut bar, feel, section, rng),
        Style::DoubleKick => double_kick(&mut bar, feel, section),
        Style::Breakbeat => breakbeat(&mut bar, feel, section, rng),
        Style::Sparse => sparse(&mut bar, section, rng),
        Style::Disco => disco(&mut bar, section),
        Style::Jazz => jazz(&mut bar, feel, section, rng),
        Style::Latin => latin(&mut bar, feel, section, rng),
        Style::Blast => blast(&mut bar, feel, section),
        Style::Ballad => ballad(&mut bar, section, rng),
        Style::Electro => electro(&mut bar, section, rng),
        Style::Trap => trap(&mut bar, feel, section, rng),
        Style::Toms => toms(&mut bar, section, rng),
    }
    if let Some(part) = section.tambourine {
        tambourine(&mut bar, part);
    }
    bar
}
