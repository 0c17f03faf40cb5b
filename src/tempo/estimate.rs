//! One tempo (or a tempo map) and the bars of a drum transcription.

use serde::Serialize;

use crate::kit::components::DrumClass;
use crate::midi::MidiNote;
use crate::transcribe::DrumEvent;

use super::beats::{class_weight, downbeat_phase, envelope, track, track_varying, FRAME_RATE};
use super::grid::BeatGrid;
use super::local_tempo::local_periods;
use super::settings::TempoSettings;
use super::stretches::fit_stretches;

/// One hit as tempo estimation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    /// Seconds from the start.
    pub time: f64,
    pub class: DrumClass,
    /// Loudness, 0..=1 (MIDI velocity / 127).
    pub strength: f64,
}

impl Onset {
    pub fn of_event(e: &DrumEvent) -> Onset {
        Onset {
            time: e.time,
            class: e.class,
            strength: f64::from(e.velocity.clamp(1, 127)) / 127.0,
        }
    }

    /// A General MIDI drum note (`None` for keys that are no drum).
    pub fn of_note(n: &MidiNote) -> Option<Onset> {
        DrumClass::from_gm_note(n.note).map(|class| Onset {
            time: n.time,
            class,
            strength: f64::from(n.velocity.clamp(1, 127)) / 127.0,
        })
    }
}

/// Where the written tempo came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TempoSource {
    /// Estimated from the drums.
    Estimated,
    /// Given (`--tempo` / `midi.tempo_bpm`); only the beat phase and the bars were estimated.
    Fixed,
    /// Too few onsets to estimate: the fallback tempo, bars from 0 s.
    Fallback,
}

/// The tempo and bars of one transcription.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TempoAnalysis {
    /// The song's tempo (the median beat interval of the grid).
    pub bpm: f64,
    pub source: TempoSource,
    /// One tempo throughout (else the grid follows the tracked beats).
    pub steady: bool,
    pub grid: BeatGrid,
    /// The tempi weighed, best first, `(bpm, score)`: the runner-up is often the half or
    /// double tempo.
    pub candidates: Vec<(f64, f64)>,
}

impl TempoAnalysis {
    /// A grid at `bpm` with bars from 0 s: what is written when nothing can be estimated.
    pub fn fallback(bpm: f64, duration: f64, beats_per_bar: u32) -> TempoAnalysis {
        let bpm = if bpm.is_finite() && bpm > 0.0 {
            bpm
        } else {
            120.0
        };
        let grid = BeatGrid::uniform(bpm, 0.0, 0.0, duration.max(0.0), beats_per_bar)
            .or_else(|| BeatGrid::new(vec![0.0, 60.0 / bpm], 0, beats_per_bar.max(1)))
            .expect("a positive tempo always makes a grid");
        TempoAnalysis {
            bpm,
            source: TempoSource::Fallback,
            steady: true,
            grid,
            candidates: Vec::new(),
        }
    }
}

/// What reading the snares as a half-time feel (one every four beats) costs against a backbeat.
const HALF_TIME_COST: f64 = 0.7;

/// What time-keeping on every beat (rather than two to four times a beat) costs.
const QUARTER_HATS_COST: f64 = 0.3;

/// What a candidate loses when all its kicks and snares fall on thirty-seconds between the
/// sixteenths. A half-time feel read at half its tempo (the snare on every other beat, like a
/// backbeat) puts its sixteenth-note kicks and ghost notes there, and often nothing else tells
/// the two readings apart: strong enough to outweigh the half-time snare's cost and the prior.
const THIRTY_SECOND_COST: f64 = 12.0;

/// What each unit of mean |ln(tracked interval / period)| beyond the frames' 3 % costs (a
/// tracker bending 5 % off a period it does not hear loses 0.4).
const UNEVEN_COST: f64 = 20.0;

/// Loud snares per second from which a part is a snare stream rather than a backbeat (a
/// backbeat at 200 BPM has 1.7 a second; a blast beat at 160 BPM has 5.3).
const SNARE_STREAM: f64 = 4.0;

/// Resolution of the inter-onset-interval histogram.
const LAG_RESOLUTION: f64 = 0.001;

/// Weighted histogram of the intervals between onsets up to `max_lag` seconds, smoothed with a
/// Gaussian of 8 ms (humanised timing and transcription error both blur the intervals).
fn interval_histogram(onsets: &[Onset], max_lag: f64) -> Vec<f64> {
    let bins = (max_lag / LAG_RESOLUTION).ceil() as usize + 1;
    let mut raw = vec![0.0; bins];
    for (i, a) in onsets.iter().enumerate() {
        let wa = class_weight(a.class) * a.strength;
        for b in &onsets[i + 1..] {
            let lag = b.time - a.time;
            if lag > max_lag {
                break;
            }
            let bin = (lag / LAG_RESOLUTION).round() as usize;
            if bin > 0 && bin < bins {
                raw[bin] += wa * class_weight(b.class) * b.strength;
            }
        }
    }
    let sigma = 0.008 / LAG_RESOLUTION;
    let half = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-half..=half)
        .map(|d| (-0.5 * (d as f64 / sigma).powi(2)).exp())
        .collect();
    (0..bins)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .map(|(k, w)| {
                    let j = i as isize + k as isize - half;
                    if j >= 0 && (j as usize) < bins {
                        w * raw[j as usize]
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

fn histogram_at(h: &[f64], lag: f64) -> f64 {
    let x = lag / LAG_RESOLUTION;
    let i = x.floor() as usize;
    if i + 1 >= h.len() {
        return 0.0;
    }
    let f = x - i as f64;
    h[i] * (1.0 - f) + h[i + 1] * f
}

/// Comb salience of a beat period: intervals of one to four beats (a drum pattern repeats at
/// the beat, the half bar and the bar).
fn salience(h: &[f64], period: f64) -> f64 {
    [1.0, 0.75, 0.5, 0.5]
        .iter()
        .enumerate()
        .map(|(k, c)| c * histogram_at(h, period * (k + 1) as f64))
        .sum()
}

/// The tempi worth tracking: the strongest local maxima of the salience, and the metrical
/// relatives (half, double, 2/3, 3/2) of the strongest, inside the range.
fn candidates(h: &[f64], s: &TempoSettings) -> Vec<(f64, f64)> {
    let mut grid = Vec::new();
    let mut bpm = s.min_bpm;
    while bpm <= s.max_bpm {
        grid.push((bpm, salience(h, 60.0 / bpm)));
        bpm *= 1.004;
    }
    let mut peaks: Vec<(f64, f64)> = (1..grid.len().saturating_sub(1))
        .filter(|&i| grid[i].1 >= grid[i - 1].1 && grid[i].1 > grid[i + 1].1)
        .map(|i| grid[i])
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    peaks.truncate(4);
    let Some(&(best, _)) = peaks.first() else {
        return Vec::new();
    };
    let mut out = peaks.clone();
    for ratio in [2.0, 0.5, 1.5, 2.0 / 3.0] {
        let b = best * ratio;
        if (s.min_bpm..=s.max_bpm).contains(&b) {
            out.push((b, salience(h, 60.0 / b)));
        }
    }
    let mut unique: Vec<(f64, f64)> = Vec::new();
    for c in out {
        if unique.iter().all(|u| (u.0 / c.0 - 1.0).abs() > 0.03) {
            unique.push(c);
        }
    }
    unique
}

/// Relative position of every onset inside the beat that holds it (0 = on the beat) and that
/// beat's length in seconds, for onsets between the first and the last beat.
fn phases<'a>(
    onsets: &'a [Onset],
    beats: &'a [f64],
) -> impl Iterator<Item = (&'a Onset, f64, f64, usize)> {
    onsets.iter().filter_map(move |o| {
        let i = beats.partition_point(|&b| b <= o.time);
        if i == 0 || i >= beats.len() {
            return None;
        }
        let (a, b) = (beats[i - 1], beats[i]);
        let u = (o.time - a) / (b - a);
        Some((o, u, b - a, if u < 0.5 { i - 1 } else { i }))
    })
}

/// Whether a position `u` in a beat of `seconds` lies on an odd thirty-second of the beat and
/// neither on its sixteenths nor on its eighth triplets (within 25 ms: humanised timing and
/// transcription error): where the sixteenths of a beat twice as fast fall.
fn on_odd_thirty_second(u: f64, seconds: f64) -> bool {
    let tol = 0.025 / seconds;
    let near = |g: f64| {
        let x = u * g;
        (x - x.round()).abs() <= tol * g
    };
    near(8.0) && !near(4.0) && !near(3.0)
}

fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// What a candidate tempo's tracked beats look like, each a log-score (0 is best): see
/// [`musical_features`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Features {
    /// The tempo prior.
    prior: f64,
    /// Share of the kick and snare weight on beats.
    on_beat: f64,
    /// Accented snares about every other beat (half-time costs a little).
    backbeat: f64,
    /// Hi-hats one to four times a beat.
    time_keeping: f64,
    /// Kicks and snares on thirty-seconds between the sixteenths: the beat is too long.
    fine: f64,
    /// Tracked beats that stray from the candidate's period: the drums do not keep it.
    uneven: f64,
}

impl Features {
    fn total(&self) -> f64 {
        self.prior + self.on_beat + self.backbeat + self.time_keeping + self.fine + self.uneven
    }
}

/// How much `beats` look like the beats of a drum part (log-scores; higher is better): the
/// kick and snare fall on beats, accented snares come about every other beat (the backbeat),
/// hi-hats play one to four times a beat, kicks and snares sit on sixteenths or triplets of
/// the beat, the tracked beats keep the period, and a broad prior on the tempo. Toms and
/// cymbals are left out: on kits it never heard, the model finds several times as many of them
/// as were played.
fn musical_features(onsets: &[Onset], beats: &[f64], bpm: f64, s: &TempoSettings) -> Features {
    let n_beats = (beats.len() - 1) as f64;
    let on = |u: f64| !(0.1..=0.9).contains(&u);
    let (mut backbone, mut backbone_on) = (0.0, 0.0);
    let snare_ref = percentile(
        onsets
            .iter()
            .filter(|o| o.class == DrumClass::SD)
            .map(|o| o.strength)
            .collect(),
        0.9,
    );
    // Hi-hats only: a transcription's ride and crash channels catch the ring of other hits
    // (several times the true count on unseen kits), its hi-hats do not.
    let cymbal_ref = percentile(
        onsets
            .iter()
            .filter(|o| o.class == DrumClass::HH)
            .map(|o| o.strength)
            .collect(),
        0.9,
    );
    let (mut snares_on, mut snares, mut cymbals) = (0.0, 0.0, 0.0);
    let (mut drums, mut off_grid) = (0.0, 0.0);
    // The thirty-seconds must be far enough apart for the 25 ms tolerance to tell them from
    // the sixteenths (beats of 0.5 s and longer: 120 BPM and slower).
    let resolvable = 60.0 / bpm >= 0.5;
    // Transcriptions double some hits (a hat read as hat and ride, a snare under a kick):
    // cymbals count once per 30 ms, snares once per beat.
    let mut last_cymbal = f64::NEG_INFINITY;
    let mut last_snare_beat = usize::MAX;
    for (o, u, seconds, nearest) in phases(onsets, beats) {
        if resolvable && matches!(o.class, DrumClass::KD | DrumClass::SD) {
            drums += o.strength;
            if on_odd_thirty_second(u, seconds) {
                off_grid += o.strength;
            }
        }
        match o.class {
            DrumClass::KD | DrumClass::SD => {
                backbone += o.strength;
                if on(u) {
                    backbone_on += o.strength;
                }
                if o.class == DrumClass::SD && o.strength >= 0.6 * snare_ref {
                    snares += 1.0;
                    if on(u) && nearest != last_snare_beat {
                        snares_on += 1.0;
                        last_snare_beat = nearest;
                    }
                }
            }
            DrumClass::HH if o.strength >= 0.3 * cymbal_ref => {
                if o.time - last_cymbal > 0.03 {
                    cymbals += 1.0;
                }
                last_cymbal = o.time;
            }
            _ => {}
        }
    }
    let prior = -0.5 * ((bpm / s.prior_bpm).log2() / s.prior_octaves).powi(2);
    let on_beat = if backbone > 0.0 {
        (backbone_on / backbone).max(0.05).ln()
    } else {
        0.0
    };
    // A snare stream (blast beats: loud snares faster than a backbeat at any tempo) has no
    // backbeat to find. Counted per second, not per beat, so that it does not depend on the
    // candidate (per beat, a slow candidate would see a stream in any busy part).
    let span = beats[beats.len() - 1] - beats[0];
    let snare_stream = span > 0.0 && snares / span >= SNARE_STREAM;
    let backbeat = if snares >= 4.0 && !snare_stream {
        // The backbeat (every other beat) is the norm; half-time (every fourth) costs a little.
        let rate = (snares_on / n_beats).max(0.5 / 8.0);
        -(rate / 0.5)
            .log2()
            .abs()
            .min(HALF_TIME_COST + (rate / 0.25).log2().abs())
            .min(3.0)
    } else {
        0.0
    };
    let time_keeping = if cymbals >= 8.0 {
        let d = cymbals / n_beats;
        // Sparser than one a beat is normal on the right tempo when the time is kept on the
        // ride: the hi-hat pedal then closes on 2 and 4 only (half a hit per beat), and
        // reading that as one hit a beat halves the tempo. One a beat (quarter-note hats, as
        // played at fast tempi) costs only a little against two to four.
        if d < 0.4 {
            -QUARTER_HATS_COST - 2.0 * (0.4 / d).log2()
        } else if d < 1.7 {
            -QUARTER_HATS_COST
        } else if d <= 4.5 {
            0.0
        } else {
            -2.0 * (d / 4.5).log2()
        }
    } else {
        0.0
    };
    // Drums on thirty-seconds between the sixteenths (and triplets) of the beat: the beat is
    // too long (a half-time feel read at half its tempo puts its sixteenth kicks there).
    let fine = if drums >= 4.0 {
        -THIRTY_SECOND_COST * off_grid / drums
    } else {
        0.0
    };
    // How far the tracked beats stray from the candidate's period (mean |ln ratio|): a tempo
    // the drums do not keep (three beats over four of a fast half-time feel) is followed only
    // by bending the beats onto the hits. The envelope's 10 ms frames alone bend a beat of
    // 300 ms (200 BPM) by up to 3 %, which is free.
    let period = 60.0 / bpm;
    let stray = beats
        .windows(2)
        .map(|w| ((w[1] - w[0]) / period).ln().abs())
        .sum::<f64>()
        / n_beats;
    let uneven = -UNEVEN_COST * (stray - 0.03).max(0.0);
    tracing::debug!(
        stray,
        snares_on,
        snares,
        cymbals,
        drums,
        off_grid,
        n_beats,
        "tempo evidence"
    );
    Features {
        prior,
        on_beat,
        backbeat,
        time_keeping,
        fine,
        uneven,
    }
}

/// Least-squares line through beats indexed by whole numbers of periods, each counted from the
/// beat before (so a skipped or doubled beat does not bend the fit, and the median interval's
/// frame rounding does not accumulate): `(first beat, period)`.
fn fit_uniform(beats: &[f64]) -> (f64, f64) {
    let mut d: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    let mut period = d[d.len() / 2];
    let mut origin = beats[0];
    for _ in 0..2 {
        let mut ks = Vec::with_capacity(beats.len());
        let mut k = 0.0;
        for (i, b) in beats.iter().enumerate() {
            if i > 0 {
                k += ((b - beats[i - 1]) / period).round().max(1.0);
            }
            ks.push(k);
        }
        let n = ks.len() as f64;
        let mk = ks.iter().sum::<f64>() / n;
        let mb = beats.iter().sum::<f64>() / n;
        let cov: f64 = ks.iter().zip(beats).map(|(k, b)| (k - mk) * (b - mb)).sum();
        let var: f64 = ks.iter().map(|k| (k - mk).powi(2)).sum();
        if var <= 0.0 {
            break;
        }
        period = cov / var;
        origin = mb - period * mk;
    }
    (origin, period)
}

/// Whether the tempo of the stretches of four beats stays within `tolerance` of `period`: all
/// but a tenth of them (a skipped or doubled beat of the tracker is no tempo change).
fn steady(beats: &[f64], period: f64, tolerance: f64) -> bool {
    if beats.len() < 6 {
        return true;
    }
    let windows = beats.len() - 4;
    let off = beats
        .windows(5)
        .filter(|w| ((w[4] - w[0]) / 4.0 / period - 1.0).abs() > tolerance)
        .count();
    off * 10 <= windows
}

/// The phase of a grid of `period` through `beats`: the mean offset of each beat from its
/// nearest multiple of the period counted from the first.
fn origin_for(beats: &[f64], period: f64) -> f64 {
    let b0 = beats[0];
    let sum: f64 = beats
        .iter()
        .map(|b| b - ((b - b0) / period).round() * period)
        .sum();
    sum / beats.len() as f64
}

/// Tempo, beats and bars of `onsets` (any order) in `duration` seconds. `fixed_bpm` skips the
/// tempo search (the phase and the bars are still found); with fewer than
/// `settings.min_onsets` onsets the result is [`TempoAnalysis::fallback`] at `fallback_bpm`
/// (or the fixed tempo).
pub fn analyse(
    onsets: &[Onset],
    duration: f64,
    settings: &TempoSettings,
    fixed_bpm: Option<f64>,
    fallback_bpm: f64,
) -> TempoAnalysis {
    let mut onsets: Vec<Onset> = onsets
        .iter()
        .filter(|o| o.time.is_finite() && o.time >= 0.0 && o.strength > 0.0)
        .copied()
        .collect();
    onsets.sort_by(|a, b| a.time.total_cmp(&b.time));
    let per = settings.beats_per_bar;
    let fixed_bpm = fixed_bpm.filter(|b| b.is_finite() && *b > 0.0);
    if onsets.len() < settings.min_onsets.max(2) {
        let mut a = TempoAnalysis::fallback(fixed_bpm.unwrap_or(fallback_bpm), duration, per);
        if fixed_bpm.is_some() {
            a.source = TempoSource::Fixed;
        }
        return a;
    }
    let first = onsets[0].time;
    let last = onsets[onsets.len() - 1].time;
    let end = duration.max(last);
    let frames = ((end + 1.0) * FRAME_RATE).ceil() as usize;
    let env = envelope(&onsets, frames);
    let tried: Vec<(f64, f64)> = match fixed_bpm {
        Some(b) => vec![(b, 1.0)],
        None => {
            let h = interval_histogram(&onsets, 4.0 * 60.0 / settings.min_bpm + 0.05);
            let found = candidates(&h, settings);
            let top = found.iter().map(|c| c.1).fold(0.0, f64::max).max(1e-12);
            found.into_iter().map(|(b, sal)| (b, sal / top)).collect()
        }
    };
    let mut scored: Vec<(f64, f64, Vec<f64>)> = Vec::new();
    for (bpm, sal) in tried {
        let period = 60.0 / bpm * FRAME_RATE;
        let beats = track(&env, period, settings.tightness, (first, last));
        if beats.len() < 4 {
            continue;
        }
        let score = if fixed_bpm.is_some() {
            0.0
        } else {
            let f = musical_features(&onsets, &beats, bpm, settings);
            let salience = 0.5 * sal.max(1e-3).ln();
            tracing::debug!(
                bpm,
                salience,
                prior = f.prior,
                on_beat = f.on_beat,
                backbeat = f.backbeat,
                time_keeping = f.time_keeping,
                fine = f.fine,
                uneven = f.uneven,
                "tempo candidate"
            );
            salience + f.total()
        };
        scored.push((bpm, score, beats));
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let Some((best_bpm, _, beats)) = scored.first().cloned() else {
        let mut a = TempoAnalysis::fallback(fixed_bpm.unwrap_or(fallback_bpm), duration, per);
        if fixed_bpm.is_some() {
            a.source = TempoSource::Fixed;
        }
        return a;
    };
    let candidates: Vec<(f64, f64)> = scored.iter().map(|c| (c.0, c.1)).collect();
    let (mut origin, mut period) = fit_uniform(&beats);
    if let Some(b) = fixed_bpm {
        period = 60.0 / b;
        origin = origin_for(&beats, period);
    }
    let is_steady = fixed_bpm.is_some() || steady(&beats, period, settings.steady_tolerance);
    let source = if fixed_bpm.is_some() {
        TempoSource::Fixed
    } else {
        TempoSource::Estimated
    };
    let tracked = if is_steady {
        let k0 = ((0.0 - origin) / period).ceil();
        let k1 = ((end - origin) / period).floor();
        (k0 as i64..=k1 as i64)
            .map(|k| origin + k as f64 * period)
            .collect::<Vec<f64>>()
    } else {
        // The tracker held one period and bent beats onto it around each change; tracked
        // again along the local period, the beats follow the changes.
        let local = local_periods(&env, 60.0 / best_bpm * FRAME_RATE);
        let again = track_varying(&env, &|f| local[f], settings.tightness, (first, last));
        if again.len() >= 4 {
            fit_stretches(&again)
        } else {
            fit_stretches(&beats)
        }
    };
    let phase = downbeat_phase(&onsets, &tracked, per);
    let grid = BeatGrid::new(tracked.clone(), phase, per)
        .or_else(|| {
            BeatGrid::uniform(
                60.0 / period,
                tracked.first().copied().unwrap_or(0.0),
                0.0,
                end,
                per,
            )
        })
        .unwrap_or_else(|| TempoAnalysis::fallback(fallback_bpm, duration, per).grid);
    TempoAnalysis {
        bpm: if is_steady { 60.0 / period } else { grid.bpm() },
        source,
        steady: is_steady,
        grid,
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_fit_ignores_a_skipped_beat() {
        let beats = [1.0, 1.5, 2.0, 3.0, 3.5, 4.0];
        let (origin, period) = fit_uniform(&beats);
        assert!((period - 0.5).abs() < 1e-9 && (origin - 1.0).abs() < 1e-9);
    }

    #[test]
    fn too_few_onsets_fall_back() {
        let a = analyse(&[], 10.0, &TempoSettings::default(), None, 120.0);
        assert_eq!(a.source, TempoSource::Fallback);
        assert_eq!(a.bpm, 120.0);
        assert_eq!(a.grid.beats[a.grid.first_downbeat], 0.0);
        let a = analyse(&[], 10.0, &TempoSettings::default(), Some(90.0), 120.0);
        assert_eq!((a.source, a.bpm), (TempoSource::Fixed, 90.0));
    }

    /// A rock beat (accented kick on 1, kick on 3, snares on 2 and 4, eighth hats) with one
    /// beat period per bar, bars back to back from `start`.
    fn rock_bars(start: f64, periods: &[f64]) -> Vec<Onset> {
        let hit = |time, class, strength| Onset {
            time,
            class,
            strength,
        };
        let mut v = Vec::new();
        let mut t0 = start;
        for &p in periods {
            v.push(hit(t0, DrumClass::KD, 0.94));
            v.push(hit(t0 + 2.0 * p, DrumClass::KD, 0.78));
            v.push(hit(t0 + p, DrumClass::SD, 0.94));
            v.push(hit(t0 + 3.0 * p, DrumClass::SD, 0.94));
            for k in 0..8 {
                v.push(hit(t0 + k as f64 * p / 2.0, DrumClass::HH, 0.7));
            }
            t0 += 4.0 * p;
        }
        v
    }

    #[test]
    fn a_tempo_step_gives_a_tempo_map_with_both_tempi() {
        // 10 bars at 100 BPM, then 10 at 120: the change at 0.5 + 24 s.
        let periods: Vec<f64> = (0..20).map(|i| if i < 10 { 0.6 } else { 0.5 }).collect();
        let onsets = rock_bars(0.5, &periods);
        let change = 0.5 + 40.0 * 0.6;
        let end = change + 40.0 * 0.5;
        let a = analyse(&onsets, end, &TempoSettings::default(), None, 120.0);
        assert_eq!(a.source, TempoSource::Estimated);
        assert!(!a.steady, "one tempo written for a step: {:.1} BPM", a.bpm);
        let beats = &a.grid.beats;
        let local_bpm = |t: f64| {
            let i = beats.partition_point(|&b| b < t).clamp(1, beats.len() - 1);
            60.0 / (beats[i] - beats[i - 1])
        };
        for t in [3.0, 10.0, 20.0] {
            assert!(
                (local_bpm(t) - 100.0).abs() < 2.0,
                "at {t} s: {:.1}",
                local_bpm(t)
            );
        }
        for t in [28.0, 35.0, 42.0] {
            assert!(
                (local_bpm(t) - 120.0).abs() < 2.4,
                "at {t} s: {:.1}",
                local_bpm(t)
            );
        }
        // The tempo changes within a beat of the true change.
        let first_fast = beats
            .windows(2)
            .position(|w| w[1] - w[0] < 0.55)
            .map(|i| beats[i])
            .expect("a faster beat");
        assert!(
            (first_fast - change).abs() <= 0.6,
            "change at {first_fast:.2} s"
        );
        // And the beats are where they were played.
        let mut truth: Vec<f64> = (0..40).map(|k| 0.5 + k as f64 * 0.6).collect();
        truth.extend((0..40).map(|k| change + k as f64 * 0.5));
        let f = crate::eval::beats::f_measure(&truth, beats, 0.07);
        assert!(f > 0.97, "beat F {f:.3}");
    }
}
