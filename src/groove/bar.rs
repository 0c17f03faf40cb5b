//! One bar of hits on a beat grid, before humanisation.

use super::style::Piece;

/// Nominal loudness levels (fraction of full velocity).
pub(crate) const ACCENT: f64 = 0.94;
pub(crate) const NORMAL: f64 = 0.78;
pub(crate) const SOFT: f64 = 0.6;
pub(crate) const GHOST: f64 = 0.22;
/// Accents over the groove's normal level (velocity 127): accented downbeats, crash accents.
pub(crate) const FULL: f64 = 1.0;
/// A jazz drummer's "feathered" kick: felt more than heard.
pub(crate) const FEATHER: f64 = 0.24;
/// A brush swish across the snare head.
pub(crate) const SWISH: f64 = 0.24;

/// A hit at `beat` (0.0..4.0 within a 4/4 bar) with a nominal level in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlannedHit {
    pub beat: f64,
    pub piece: Piece,
    pub level: f64,
    /// How long the note is held, in beats (0: a plain hit of `NOTE_SECONDS`); brushes swish.
    pub length: f64,
}

fn same_beat(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Bar {
    pub hits: Vec<PlannedHit>,
}

impl Bar {
    /// Adds a hit. The same piece twice at one beat keeps the louder level; a time-keeping
    /// cymbal replaces another one at the same beat (one hand cannot play both).
    pub fn add(&mut self, beat: f64, piece: Piece, level: f64) {
        self.add_long(beat, piece, level, 0.0);
    }

    /// [`Bar::add`] with a note held `length` beats (the longer length wins on a merge).
    pub fn add_long(&mut self, beat: f64, piece: Piece, level: f64, length: f64) {
        if piece.is_timekeeping_cymbal() {
            self.hits
                .retain(|h| !(h.piece.is_timekeeping_cymbal() && same_beat(h.beat, beat)));
        }
        if let Some(h) = self
            .hits
            .iter_mut()
            .find(|h| h.piece == piece && same_beat(h.beat, beat))
        {
            h.level = h.level.max(level);
            h.length = h.length.max(length);
            return;
        }
        self.hits.push(PlannedHit {
            beat,
            piece,
            level,
            length,
        });
    }

    pub fn has(&self, beat: f64, piece: Piece) -> bool {
        self.hits
            .iter()
            .any(|h| h.piece == piece && same_beat(h.beat, beat))
    }

    /// Removes every hit from `beat` to the end of the bar.
    pub fn clear_from(&mut self, beat: f64) {
        self.hits.retain(|h| h.beat < beat - 1e-6);
    }

    pub fn remove_at(&mut self, beat: f64, drop: impl Fn(Piece) -> bool) {
        self.hits
            .retain(|h| !(same_beat(h.beat, beat) && drop(h.piece)));
    }

    /// Whether `hit` is a hi-hat stroke on the same beat as a snare stroke.
    pub fn is_hat_on_snare(&self, hit: &PlannedHit) -> bool {
        hit.piece.is_hihat()
            && self
                .hits
                .iter()
                .any(|h| h.piece.is_snare() && same_beat(h.beat, hit.beat))
    }

    pub fn sort(&mut self) {
        self.hits
            .sort_by(|a, b| a.beat.total_cmp(&b.beat).then(a.piece.cmp(&b.piece)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hand_one_cymbal_and_no_duplicates() {
        let mut bar = Bar::default();
        bar.add(0.5, Piece::ClosedHat, SOFT);
        bar.add(0.5, Piece::OpenHat, NORMAL);
        bar.add(0.5, Piece::Kick, NORMAL);
        bar.add(0.5, Piece::Kick, ACCENT);
        assert_eq!(bar.hits.len(), 2);
        assert!(bar.has(0.5, Piece::OpenHat) && !bar.has(0.5, Piece::ClosedHat));
        assert!(bar
            .hits
            .iter()
            .any(|h| h.piece == Piece::Kick && h.level == ACCENT));
        bar.add(3.0, Piece::Snare, ACCENT);
        bar.clear_from(2.0);
        assert_eq!(bar.hits.len(), 2);
    }
}
