//! Acoustic styles from outside the rock kit's habits: jazz ride time, latin figures, brush
//! ballads and tom grooves.

use rand::Rng;

use super::bar::{Bar, ACCENT, FEATHER, GHOST, NORMAL, SOFT, SWISH};
use super::patterns::{pick, Feel, Section, TRIPLET};
use super::style::Piece;

/// The swung "a" of a beat: its last triplet, not its 8th-note half.
const SKIP: f64 = 2.0 * TRIPLET;

/// Jazz: the ride's "ding, ding-a ding" (the "a" swung onto the last triplet of beats 2 and 4),
/// the hi-hat pedal on 2 and 4, the kick feathered on the beats, and the snare comping:
/// ghost notes on the triplet grid with an occasional accented "drop".
pub(crate) fn jazz(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    for b in 0..4 {
        let beat = f64::from(b);
        // The ride leans on 2 and 4 like the hi-hat foot does.
        let level = if b % 2 == 1 { NORMAL } else { SOFT };
        bar.add(beat, Piece::Ride, level);
        if b % 2 == 1 {
            bar.add(beat + SKIP, Piece::Ride, SOFT - 0.08);
        }
    }
    bar.add(1.0, Piece::PedalHat, SOFT);
    bar.add(3.0, Piece::PedalHat, SOFT);
    // Feathered kick: felt more than heard (some drummers leave it out).
    if !section.variant.is_multiple_of(3) {
        for b in 0..4 {
            bar.add(f64::from(b), Piece::Kick, FEATHER);
        }
    }
    if feel.ghost_notes {
        for b in 0..4 {
            for t in [TRIPLET, SKIP] {
                if rng.random_bool(0.2) {
                    bar.add(
                        f64::from(b) + t,
                        Piece::Snare,
                        GHOST + rng.random_range(-0.05..0.06),
                    );
                }
            }
        }
    }
    // A comping accent ("drop") on a skip note, sometimes doubled by a kick "bomb".
    if rng.random_bool(0.35) {
        let beat = f64::from(rng.random_range(0..4u32)) + SKIP;
        bar.add(beat, Piece::Snare, ACCENT);
        if rng.random_bool(0.4) {
            bar.add(beat, Piece::Kick, ACCENT);
        }
    }
}

/// Latin figures without a cowbell: the ride bell carries the bell parts, rim-like
/// cross-sticks the clave, and the floor tom the surdo.
pub(crate) fn latin(bar: &mut Bar, feel: &Feel, section: &Section, rng: &mut impl Rng) {
    match section.variant % 3 {
        0 => bossa(bar, section),
        1 => samba(bar, feel),
        _ => songo(bar, feel, rng),
    }
}

/// Bossa nova: a clave on the cross-stick, the kick in a dotted two-feel, 8ths on the bell or
/// the hats, a soft floor-tom pickup into the next bar.
fn bossa(bar: &mut Bar, section: &Section) {
    for b in [0.0, 0.75, 1.5, 2.5, 3.0] {
        bar.add(b, Piece::CrossStick, NORMAL);
    }
    for (b, level) in [(0.0, NORMAL), (1.5, SOFT), (2.0, NORMAL), (3.5, SOFT)] {
        bar.add(b, Piece::Kick, level);
    }
    let time = if section.ride {
        Piece::RideBell
    } else {
        Piece::ClosedHat
    };
    for i in 0..8 {
        let b = f64::from(i) * 0.5;
        bar.add(b, time, if i % 2 == 0 { SOFT } else { SOFT - 0.12 });
    }
    bar.add(1.0, Piece::PedalHat, SOFT);
    bar.add(3.0, Piece::PedalHat, SOFT);
    bar.add(3.75, Piece::FloorTom, SOFT);
}

/// Samba: the surdo's accent on 2 and 4 on the floor tom, the kick's "1 . . a" pulse,
/// 16ths on the ride bell, a partido-alto figure on the cross-stick.
fn samba(bar: &mut Bar, feel: &Feel) {
    for b in 0..4 {
        let beat = f64::from(b);
        bar.add(beat, Piece::Kick, NORMAL);
        bar.add(beat + 0.75, Piece::Kick, SOFT - 0.1);
    }
    bar.add(1.0, Piece::FloorTom, ACCENT);
    bar.add(3.0, Piece::FloorTom, ACCENT);
    let step = if feel.bpm > 150.0 { 0.5 } else { 0.25 };
    let n = (4.0 / step) as u32;
    for i in 0..n {
        let b = f64::from(i) * step;
        let level = if (b * 2.0).fract() == 0.0 {
            NORMAL
        } else {
            SOFT - 0.1
        };
        bar.add(b, Piece::RideBell, level);
    }
    for b in [0.5, 1.25, 2.0, 2.75, 3.5] {
        bar.add(b, Piece::CrossStick, SOFT);
    }
    for b in 0..4 {
        bar.add(f64::from(b) + 0.5, Piece::PedalHat, 0.45);
    }
}

/// Songo: the bell's cascara, snare and tom figures between the kick's "and of 2" and 4.
fn songo(bar: &mut Bar, feel: &Feel, rng: &mut impl Rng) {
    for b in [0.0, 1.0, 1.5, 2.5, 3.0, 3.5] {
        bar.add(b, Piece::RideBell, if b == 0.0 { NORMAL } else { SOFT });
    }
    bar.add(1.5, Piece::Kick, NORMAL);
    bar.add(3.0, Piece::Kick, NORMAL);
    bar.add(1.0, Piece::Snare, ACCENT);
    bar.add(2.75, Piece::MidTom, NORMAL);
    bar.add(3.25, Piece::FloorTom, NORMAL);
    bar.add(3.5, Piece::FloorTom, NORMAL);
    if feel.ghost_notes {
        for b in [0.5, 0.75, 2.0, 2.25] {
            if rng.random_bool(0.5) {
                bar.add(b, Piece::Snare, GHOST + rng.random_range(-0.04..0.06));
            }
        }
    }
    for b in 0..4 {
        bar.add(f64::from(b), Piece::PedalHat, 0.45);
    }
}

/// Brush ballad: the snare swished through every quarter (long, quiet notes), a light tap on
/// 2 and 4, a soft kick, the ride or the hi-hat foot keeping quiet time.
pub(crate) fn ballad(bar: &mut Bar, section: &Section, rng: &mut impl Rng) {
    for b in 0..4 {
        let level = SWISH + rng.random_range(-0.04..0.05);
        bar.add_long(f64::from(b), Piece::Snare, level, 0.9);
    }
    bar.add(1.0, Piece::Snare, 0.36);
    bar.add(3.0, Piece::Snare, 0.36);
    const KICKS: [&[f64]; 3] = [&[0.0], &[0.0, 2.0], &[0.0, 2.5]];
    for &b in pick(&KICKS, section.variant) {
        bar.add(b, Piece::Kick, 0.34);
    }
    if section.ride {
        for b in 0..4 {
            bar.add(f64::from(b), Piece::Ride, 0.32);
        }
        bar.add(1.0 + SKIP, Piece::Ride, 0.26);
        bar.add(3.0 + SKIP, Piece::Ride, 0.26);
    }
    bar.add(1.0, Piece::PedalHat, 0.3);
    bar.add(3.0, Piece::PedalHat, 0.3);
}

/// Tom grooves: the floor and mid toms carry the time (tribal, "Sing, Sing, Sing", toms for
/// hats), the snare and kick mark the beats, the hi-hat foot on 2 and 4.
pub(crate) fn toms(bar: &mut Bar, section: &Section, rng: &mut impl Rng) {
    match section.variant % 3 {
        0 => {
            for i in 0..8 {
                let b = f64::from(i) * 0.5;
                bar.add(b, Piece::FloorTom, if i % 2 == 0 { ACCENT } else { SOFT });
            }
            for b in [0.75, 1.75, 2.75, 3.25] {
                bar.add(b, Piece::MidTom, NORMAL);
            }
            bar.add(0.0, Piece::Kick, ACCENT);
            bar.add(2.0, Piece::Kick, NORMAL);
            bar.add(1.0, Piece::Snare, NORMAL);
            bar.add(3.0, Piece::Snare, NORMAL);
        }
        1 => {
            for b in [0.0, 1.0, 1.5, 1.75, 2.0, 3.0, 3.5, 3.75] {
                let level = if b == 0.0 || b == 2.0 { ACCENT } else { NORMAL };
                bar.add(b, Piece::FloorTom, level);
            }
            bar.add(2.5, Piece::HighTom, NORMAL);
            bar.add(0.0, Piece::Kick, ACCENT);
            bar.add(2.0, Piece::Kick, NORMAL);
            bar.add(3.0, Piece::Snare, ACCENT);
        }
        _ => {
            for i in 0..16 {
                let b = f64::from(i) * 0.25;
                let level = if i % 4 == 0 { ACCENT } else { 0.5 };
                let piece = if i % 8 == 6 {
                    Piece::MidTom
                } else {
                    Piece::FloorTom
                };
                bar.add(b, piece, level);
            }
            for b in [0.0, 1.5, 2.5] {
                bar.add(b, Piece::Kick, NORMAL);
            }
            bar.add(1.0, Piece::Snare, ACCENT);
            bar.add(3.0, Piece::Snare, ACCENT);
        }
    }
    if rng.random_bool(0.25) {
        // A high-tom answer at the end of the bar.
        bar.add(3.5, Piece::HighTom, NORMAL);
        bar.add(3.75, Piece::HighTom, NORMAL);
    }
    bar.add(1.0, Piece::PedalHat, SOFT);
    bar.add(3.0, Piece::PedalHat, SOFT);
}
