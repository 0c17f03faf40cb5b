//! Tick <-> second conversion through a tempo map.
//!
//! Every conversion starts from an absolute tick or an absolute time; nothing is accumulated
//! from rounded deltas, so error never grows with the length of a file.

/// MIDI's default tempo (120 BPM) when a file sets none.
pub const DEFAULT_MICROS_PER_BEAT: u32 = 500_000;

/// Largest tempo a Set Tempo event can hold (24 bits).
const MAX_MICROS_PER_BEAT: u32 = 0x00FF_FFFF;

/// The tempo as MIDI stores it (whole microseconds per quarter note), from beats per minute.
/// Clamped to what a Set Tempo event can hold (1..=2^24-1), i.e. about 3.6 BPM and slower all
/// map to the slowest tempo. Non-finite or non-positive input gives the default (120 BPM).
pub fn bpm_to_micros_per_beat(bpm: f64) -> u32 {
    if !bpm.is_finite() || bpm <= 0.0 {
        return DEFAULT_MICROS_PER_BEAT;
    }
    (60_000_000.0 / bpm)
        .round()
        .clamp(1.0, MAX_MICROS_PER_BEAT as f64) as u32
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// First tick of the segment.
    tick: u64,
    /// Time of `tick` in seconds.
    seconds: f64,
    /// Tick length is `numerator / denominator` seconds; kept as two numbers so that
    /// `ticks * numerator` is exact in f64 for any realistic file.
    numerator: f64,
    denominator: f64,
}

impl Segment {
    fn seconds_at(&self, tick: u64) -> f64 {
        self.seconds + (tick - self.tick) as f64 * self.numerator / self.denominator
    }
}

/// Piecewise-constant tempo: tick -> seconds and back.
#[derive(Debug, Clone, PartialEq)]
pub struct TempoMap {
    /// Sorted by tick; the first one starts at tick 0.
    segments: Vec<Segment>,
}

impl TempoMap {
    /// One tempo for the whole file.
    pub fn constant(micros_per_beat: u32, ticks_per_beat: u16) -> Self {
        Self::metrical(ticks_per_beat, &[(0, micros_per_beat)])
    }

    /// A metrical map from tempo changes `(tick, microseconds per beat)`, in any order. Before
    /// the first change the default 120 BPM applies; at equal ticks the later entry wins.
    /// Zero tempi and a zero `ticks_per_beat` must be rejected by the caller.
    pub fn metrical(ticks_per_beat: u16, changes: &[(u64, u32)]) -> Self {
        let mut changes = changes.to_vec();
        // Stable: of several changes at one tick, the one listed last wins.
        changes.sort_by_key(|&(tick, _)| tick);
        let denominator = 1e6 * f64::from(ticks_per_beat.max(1));
        let mut segments = vec![Segment {
            tick: 0,
            seconds: 0.0,
            numerator: f64::from(DEFAULT_MICROS_PER_BEAT),
            denominator,
        }];
        for (tick, micros) in changes {
            let last = *segments.last().expect("segments starts non-empty");
            let seg = Segment {
                tick,
                seconds: last.seconds_at(tick),
                numerator: f64::from(micros.max(1)),
                denominator,
            };
            if last.tick == tick {
                *segments.last_mut().expect("non-empty") = Segment {
                    seconds: last.seconds,
                    ..seg
                };
            } else {
                segments.push(seg);
            }
        }
        TempoMap { segments }
    }

    /// SMPTE timing: a fixed number of ticks per second (`fps * ticks_per_frame`); Set Tempo
    /// events have no effect on it.
    pub fn timecode(frames_per_second: f64, ticks_per_frame: u8) -> Self {
        TempoMap {
            segments: vec![Segment {
                tick: 0,
                seconds: 0.0,
                numerator: 1.0,
                denominator: frames_per_second * f64::from(ticks_per_frame.max(1)),
            }],
        }
    }

    fn segment_for_tick(&self, tick: u64) -> &Segment {
        let i = self.segments.partition_point(|s| s.tick <= tick);
        &self.segments[i.saturating_sub(1)]
    }

    /// Time of an absolute tick in seconds.
    pub fn seconds_at(&self, tick: u64) -> f64 {
        self.segment_for_tick(tick).seconds_at(tick)
    }

    /// The absolute tick nearest to `seconds` (negative times map to tick 0).
    pub fn tick_at(&self, seconds: f64) -> u64 {
        if seconds.is_nan() || seconds <= 0.0 {
            return 0;
        }
        let i = self.segments.partition_point(|s| s.seconds <= seconds);
        let seg = &self.segments[i.saturating_sub(1)];
        let ticks = ((seconds - seg.seconds) * seg.denominator / seg.numerator).round();
        // Saturating float->int cast: absurd times clamp to u64::MAX instead of wrapping.
        seg.tick.saturating_add(ticks as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpm_conversion_rounds_and_clamps() {
        assert_eq!(bpm_to_micros_per_beat(120.0), 500_000);
        assert_eq!(bpm_to_micros_per_beat(97.3), 616_650); // 616 649.5... rounds up
        assert_eq!(bpm_to_micros_per_beat(1.0), MAX_MICROS_PER_BEAT);
        assert_eq!(bpm_to_micros_per_beat(0.0), DEFAULT_MICROS_PER_BEAT);
        assert_eq!(bpm_to_micros_per_beat(f64::NAN), DEFAULT_MICROS_PER_BEAT);
        assert_eq!(bpm_to_micros_per_beat(1e12), 1);
    }

    #[test]
    fn tempo_changes_piecewise() {
        // 480 ppq: 120 BPM for 2 beats (1 s), then 60 BPM (1 s per beat).
        let map = TempoMap::metrical(480, &[(960, 1_000_000), (0, 500_000)]);
        assert_eq!(map.seconds_at(0), 0.0);
        assert!((map.seconds_at(960) - 1.0).abs() < 1e-12);
        assert!((map.seconds_at(960 + 480) - 2.0).abs() < 1e-12);
        assert_eq!(map.tick_at(2.0), 1440);
        assert_eq!(map.tick_at(0.5), 480);
        assert_eq!(map.tick_at(-3.0), 0);
    }

    #[test]
    fn later_change_at_same_tick_wins() {
        let map = TempoMap::metrical(100, &[(0, 1_000_000), (0, 2_000_000)]);
        assert!((map.seconds_at(100) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn timecode_ticks() {
        let map = TempoMap::timecode(25.0, 40); // 1000 ticks per second
        assert!((map.seconds_at(1500) - 1.5).abs() < 1e-12);
        assert_eq!(map.tick_at(1.5), 1500);
    }
}
