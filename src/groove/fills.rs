//! What breaks the groove: tom fills at phrase ends, crashes on downbeats and crash accents.

use rand::Rng;

use super::bar::{Bar, FULL, NORMAL};
use super::patterns::Feel;
use super::style::Piece;

/// Replaces the last `beats` beats of the bar with a fill moving down the toms, getting
/// louder, with the kick under some beats. `toms_only`: the chance that the fill stays on the
/// toms; `None` keeps the classic styles' original draw (one fill in six on the toms alone).
pub(crate) fn add_fill(
    bar: &mut Bar,
    feel: &Feel,
    beats: u32,
    toms_only: Option<f64>,
    rng: &mut impl Rng,
) {
    let beats = beats.clamp(1, 4);
    let start = 4.0 - f64::from(beats);
    bar.clear_from(start);
    let per_beat = if feel.style.subdivision() == 3 {
        3
    } else if feel.bpm > 170.0 {
        if rng.random_bool(0.5) {
            2
        } else {
            3
        }
    } else {
        4
    };
    let n = (beats * per_beat) as usize;
    const SNARE_DOWN: [&[Piece]; 3] = [
        &[Piece::Snare, Piece::Snare, Piece::FloorTom],
        &[Piece::Snare, Piece::MidTom, Piece::FloorTom],
        &[Piece::Snare, Piece::HighTom, Piece::MidTom, Piece::FloorTom],
    ];
    const TOMS_DOWN: [&[Piece]; 3] = [
        &[Piece::HighTom, Piece::MidTom, Piece::FloorTom],
        &[Piece::MidTom, Piece::FloorTom],
        &[
            Piece::HighTom,
            Piece::FloorTom,
            Piece::MidTom,
            Piece::FloorTom,
        ],
    ];
    let drums: &[Piece] = match toms_only {
        // The original draw, kept draw for draw.
        None => match rng.random_range(0..6) {
            0 => SNARE_DOWN[0],
            1 => TOMS_DOWN[0],
            2 => SNARE_DOWN[1],
            _ => SNARE_DOWN[2],
        },
        Some(p) if rng.random_bool(p.clamp(0.0, 1.0)) => TOMS_DOWN[rng.random_range(0..3)],
        Some(_) => SNARE_DOWN[rng.random_range(0..3)],
    };
    let scale = feel.style.fill_level();
    for j in 0..n {
        let first_or_last = j == 0 || j + 1 == n;
        if !first_or_last && rng.random_bool(0.12) {
            continue;
        }
        let beat = start + j as f64 / f64::from(per_beat);
        let piece = drums[j * drums.len() / n];
        let level = (0.62 + 0.33 * j as f64 / (n.max(2) - 1) as f64) * scale;
        bar.add(beat, piece, level);
        if j % per_beat as usize == 0 && rng.random_bool(0.5) {
            bar.add(beat, Piece::Kick, NORMAL * scale);
        }
    }
}

/// The cymbal of a crash: mostly the crash, a china or a splash with `china_splash`
/// probability (no draw at all when it is 0, so the classic streams are kept).
pub(crate) fn crash_cymbal(china_splash: f64, rng: &mut impl Rng) -> Piece {
    if china_splash > 0.0 && rng.random_bool(china_splash.min(1.0)) {
        if rng.random_bool(0.5) {
            Piece::China
        } else {
            Piece::Splash
        }
    } else {
        Piece::Crash
    }
}

/// A crash with the kick at `beat` at `level` (after a fill, at a section start, or an accent);
/// the crash takes the time-keeping hand's place.
pub(crate) fn crash_at(bar: &mut Bar, beat: f64, cymbal: Piece, level: f64) {
    bar.remove_at(beat, Piece::is_timekeeping_cymbal);
    bar.add(beat, cymbal, level);
    bar.add(beat, Piece::Kick, level);
}

/// A crash accent somewhere inside the bar: on beats 2-4 or an off-beat 8th, at full
/// velocity (the top layer of the dynamics) times the style's fill level.
pub(crate) fn crash_accent(bar: &mut Bar, feel: &Feel, cymbal: Piece, rng: &mut impl Rng) {
    const BEATS: [f64; 6] = [1.0, 2.0, 3.0, 1.5, 2.5, 3.5];
    let beat = BEATS[rng.random_range(0..BEATS.len())];
    crash_at(bar, beat, cymbal, FULL * feel.style.fill_level());
}

/// Accented downbeat: the kick and any cymbal on beat 1 at full velocity.
pub(crate) fn accent_downbeat(bar: &mut Bar) {
    for h in &mut bar.hits {
        if h.beat.abs() < 1e-6 && (h.piece == Piece::Kick || h.piece.is_crash()) {
            h.level = FULL;
        }
    }
}
