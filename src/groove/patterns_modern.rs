//! Styles of extreme and electronic music: blast beats, four-on-the-floor dance grooves and
//! trap's half-time with hi-hat rolls.

use rand::Rng;

use super::bar::{Bar, ACCENT, FULL, NORMAL, SOFT};
use super::patterns::{pick, Feel, Section};
use super::style::Piece;

/// Blast beats: kick and snare in 16ths (alternating, or in unison 8ths/16ths, or the "bomb"
/// blast's 16th kicks under 8th snares), the cymbal hand on the ride, crash or china.
pub(crate) fn blast(bar: &mut Bar, feel: &Feel, section: &Section) {
    let sixteenths = (0..16).map(|i| f64::from(i) * 0.25);
    match section.variant % 3 {
        // Traditional: kick on the 8ths, snare on the 16ths between.
        0 => {
            for (i, b) in sixteenths.enumerate() {
                let piece = if i % 2 == 0 {
                    Piece::Kick
                } else {
                    Piece::Snare
                };
                bar.add(b, piece, if i % 4 == 0 { ACCENT } else { NORMAL });
            }
        }
        // Hammer blast: both feet and the snare hand together.
        1 => {
            let step = if feel.bpm < 200.0 { 0.25 } else { 0.5 };
            let n = (4.0 / step) as u32;
            for i in 0..n {
                let b = f64::from(i) * step;
                bar.add(b, Piece::Kick, NORMAL);
                bar.add(
                    b,
                    Piece::Snare,
                    if b.fract() == 0.0 { ACCENT } else { NORMAL },
                );
            }
        }
        // Bomb blast: 16th kicks, 8th snares.
        _ => {
            for (i, b) in sixteenths.enumerate() {
                bar.add(b, Piece::Kick, if i % 2 == 0 { NORMAL } else { 0.72 });
                if i % 2 == 0 {
                    bar.add(b, Piece::Snare, if i % 4 == 0 { ACCENT } else { NORMAL });
                }
            }
        }
    }
    let cymbal = pick(
        &[Piece::Ride, Piece::Crash, Piece::China, Piece::ClosedHat],
        section.variant / 3,
    );
    let step = if cymbal == Piece::Crash || cymbal == Piece::China {
        1.0
    } else {
        0.5
    };
    let n = (4.0 / step) as u32;
    for i in 0..n {
        let level = if i == 0 { FULL } else { ACCENT };
        bar.add(f64::from(i) * step, cymbal, level);
    }
}

/// Electronic four-on-the-floor: a kick on every beat, clap (snare) on 2 and 4, closed hats
/// in 16ths with open hats on the off-beats (or the ride in 8ths).
pub(crate) fn electro(bar: &mut Bar, section: &Section, rng: &mut impl Rng) {
    for b in 0..4 {
        bar.add(
            f64::from(b),
            Piece::Kick,
            if b == 0 { FULL } else { ACCENT },
        );
    }
    bar.add(1.0, Piece::Snare, ACCENT);
    bar.add(3.0, Piece::Snare, ACCENT);
    if section.ride {
        for i in 0..8 {
            bar.add(
                f64::from(i) * 0.5,
                Piece::Ride,
                if i % 2 == 1 { NORMAL } else { SOFT },
            );
        }
    } else {
        let step = if section.sixteenth_hats { 0.25 } else { 0.5 };
        let n = (4.0 / step) as u32;
        for i in 0..n {
            let b = f64::from(i) * step;
            bar.add(
                b,
                Piece::ClosedHat,
                if b.fract() == 0.0 { SOFT } else { 0.45 },
            );
        }
        for b in 0..4 {
            bar.add(f64::from(b) + 0.5, Piece::OpenHat, NORMAL);
        }
    }
    // A kick pickup into the next bar, as a producer would program one.
    if rng.random_bool(0.2) {
        bar.add(3.75, Piece::Kick, NORMAL);
    }
}

/// Trap: half time (the clap/snare on 3), syncopated 808-style kicks, hats in 8ths or 16ths
/// with rolls of 32nds or 16th triplets on one or two beats of the bar.
pub(crate) fn trap(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    const KICKS: [&[f64]; 4] = [
        &[0.0, 0.75, 2.5],
        &[0.0, 1.5, 1.75, 3.25],
        &[0.0, 0.5, 2.75, 3.5],
        &[0.0, 2.25, 2.5, 3.75],
    ];
    for (i, &b) in pick(&KICKS, section.variant).iter().enumerate() {
        bar.add(b, Piece::Kick, if i == 0 { FULL } else { ACCENT });
    }
    bar.add(2.0, Piece::Snare, ACCENT);
    if rng.random_bool(0.3) {
        bar.add(3.75, Piece::Snare, SOFT);
    }
    let step = if section.sixteenth_hats && feel.bpm <= 150.0 {
        0.25
    } else {
        0.5
    };
    let rolls: Vec<u32> = if rng.random_bool(0.35) {
        let first = rng.random_range(0..4u32);
        vec![first, (first + 2) % 4]
    } else {
        vec![rng.random_range(0..4u32)]
    };
    for b in 0..4u32 {
        let beat = f64::from(b);
        if rolls.contains(&b) {
            // 32nds or 16th triplets over the whole beat, or only its second half.
            let (per_beat, from): (u32, u32) = match rng.random_range(0..4) {
                0 => (8, 0),
                1 => (6, 0),
                2 => (8, 4),
                _ => (6, 3),
            };
            if from > 0 {
                bar.add(beat, Piece::ClosedHat, NORMAL);
            }
            for (k, j) in (from..per_beat).enumerate() {
                // A roll swells towards the next beat.
                let level = 0.38 + 0.3 * k as f64 / f64::from(per_beat - from);
                bar.add(
                    beat + f64::from(j) / f64::from(per_beat),
                    Piece::ClosedHat,
                    level,
                );
            }
        } else {
            let n = (1.0 / step) as u32;
            for j in 0..n {
                let level = if j == 0 { NORMAL } else { 0.5 };
                bar.add(beat + f64::from(j) * step, Piece::ClosedHat, level);
            }
        }
    }
    if rng.random_bool(0.2) {
        bar.add(3.5, Piece::OpenHat, NORMAL);
    }
}
