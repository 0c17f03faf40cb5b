//! Beat tracking by dynamic programming (Ellis, "Beat Tracking by Dynamic Programming", 2007)
//! on an onset-strength envelope made from the drum events, and the bar phase.

use crate::kit::components::DrumClass;

use super::estimate::Onset;

/// Frames per second of the envelope the tracker works on (10 ms: well inside the 70 ms a
/// beat may be off, and cheap for hour-long files).
pub const FRAME_RATE: f64 = 100.0;

/// How much a hit of each class says about the beat: kick and snare carry the metre, hi-hats
/// fill the subdivisions; toms, cymbals and the rest count little (fills and crashes are rare,
/// and a transcription's tom and cymbal channels catch the ring of other hits).
pub fn class_weight(class: DrumClass) -> f64 {
    match class {
        DrumClass::KD | DrumClass::SD => 1.0,
        DrumClass::HH => 0.5,
        DrumClass::CY => 0.25,
        DrumClass::TT | DrumClass::OT => 0.2,
    }
}

/// The onset-strength envelope at [`FRAME_RATE`]: each onset adds its weight (class weight x
/// strength) spread over +-2 frames, for `frames` frames.
pub fn envelope(onsets: &[Onset], frames: usize) -> Vec<f64> {
    const SPREAD: [f64; 5] = [0.14, 0.61, 1.0, 0.61, 0.14]; // exp(-x^2 / 2), sigma 1 frame
    let mut env = vec![0.0; frames];
    for o in onsets {
        let centre = (o.time * FRAME_RATE).round() as isize;
        let w = class_weight(o.class) * o.strength;
        for (k, s) in SPREAD.iter().enumerate() {
            let f = centre + k as isize - 2;
            if f >= 0 && (f as usize) < frames {
                env[f as usize] += w * s;
            }
        }
    }
    env
}

/// Beat times (seconds) tracked through `env` with a beat period of `period` frames: every
/// beat maximises the onset strength at it plus a penalty `tightness * ln(interval / period)^2`
/// on each interval (intervals from half to twice the period). Beats more than half a period
/// outside `[first_onset, last_onset]` are dropped.
pub fn track(env: &[f64], period: f64, tightness: f64, span: (f64, f64)) -> Vec<f64> {
    if !(period.is_finite() && period >= 2.0) {
        return Vec::new();
    }
    track_varying(env, &|_| period, tightness, span)
}

/// [`track`] with a period that changes with time: `period(frame)` is the expected interval,
/// in frames, of a beat that ends at `frame` (a tempo map's).
pub fn track_varying(
    env: &[f64],
    period: &dyn Fn(usize) -> f64,
    tightness: f64,
    span: (f64, f64),
) -> Vec<f64> {
    let n = env.len();
    if n < 2 {
        return Vec::new();
    }
    let periods: Vec<f64> = (0..n).map(period).collect();
    if periods.iter().any(|p| !(p.is_finite() && *p >= 2.0)) {
        return Vec::new();
    }
    // Normalise so that the tightness means the same for loud and quiet parts.
    let mean = env.iter().sum::<f64>() / n as f64;
    let sd = (env.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-12);
    let local: Vec<f64> = env.iter().map(|x| x / sd).collect();
    let mut score = vec![0.0; n];
    let mut back = vec![usize::MAX; n];
    // The interval penalties of the current period, rebuilt only when the period changes.
    let mut penalty: Vec<f64> = Vec::new();
    let mut penalty_period = f64::NAN;
    for t in 0..n {
        let period = periods[t];
        let lo = (period / 2.0).round().max(1.0) as usize;
        let hi = (period * 2.0).round() as usize;
        if period != penalty_period {
            penalty = (0..=hi)
                .map(|d| -tightness * (d as f64 / period).ln().powi(2))
                .collect();
            penalty_period = period;
        }
        let mut best = 0.0;
        let mut arg = usize::MAX;
        if t >= lo {
            for d in lo..=hi.min(t) {
                let s = score[t - d] + penalty[d];
                if s > best || arg == usize::MAX {
                    best = s;
                    arg = t - d;
                }
            }
        }
        // A beat may also start a chain (nothing before it is worth following).
        if best < 0.0 {
            best = 0.0;
            arg = usize::MAX;
        }
        score[t] = local[t] + best;
        back[t] = arg;
    }
    // End on the best-scoring frame of the last period with an onset near it (the chain's
    // end), as librosa does with the last strong local maximum.
    let last_onset = ((span.1 * FRAME_RATE).round() as usize).min(n - 1);
    let from = last_onset.saturating_sub((periods[last_onset] * 2.0).round() as usize);
    let mut end = from;
    for t in from..=last_onset.min(n - 1) {
        if score[t] > score[end] {
            end = t;
        }
    }
    let mut frames = vec![end];
    while let Some(&b) = frames.last() {
        match back[b] {
            usize::MAX => break,
            p => frames.push(p),
        }
    }
    frames.reverse();
    let first_onset = ((span.0 * FRAME_RATE).round().max(0.0) as usize).min(n - 1);
    let (head, tail) = (
        0.5 * periods[first_onset] / FRAME_RATE,
        0.5 * periods[last_onset] / FRAME_RATE,
    );
    frames
        .into_iter()
        .map(|f| f as f64 / FRAME_RATE)
        .filter(|&t| t >= span.0 - head && t <= span.1 + tail)
        .collect()
}

/// Strength of the strongest onset of `class` within `tol` seconds of `t` (onsets sorted).
fn strength_near(onsets: &[Onset], class: DrumClass, t: f64, tol: f64) -> f64 {
    let i = onsets.partition_point(|o| o.time < t - tol);
    onsets[i..]
        .iter()
        .take_while(|o| o.time <= t + tol)
        .filter(|o| o.class == class)
        .map(|o| o.strength * o.strength)
        .fold(0.0, f64::max)
}

/// Tom activity in `[a, b)`: fills, which end bars.
fn toms_between(onsets: &[Onset], a: f64, b: f64) -> f64 {
    let i = onsets.partition_point(|o| o.time < a);
    onsets[i..]
        .iter()
        .take_while(|o| o.time < b)
        .filter(|o| o.class == DrumClass::TT)
        .map(|o| o.strength)
        .sum()
}

/// Which beat (index 0..beats_per_bar) of `beats` is the first downbeat: the phase whose beats
/// have the strongest (accented) kicks and crashes and the fewest snares, with snares on the
/// beats between and tom fills in the beats before. Onsets sorted by time.
pub fn downbeat_phase(onsets: &[Onset], beats: &[f64], beats_per_bar: u32) -> usize {
    let per = beats_per_bar.max(1) as usize;
    if beats.len() < 2 || per == 1 {
        return 0;
    }
    // Mean evidence per position in the bar, for each phase candidate's position 0.
    let mut kick = vec![0.0; per];
    let mut snare = vec![0.0; per];
    let mut cymbal = vec![0.0; per];
    let mut toms = vec![0.0; per];
    let mut count = vec![0.0_f64; per];
    for (i, &b) in beats.iter().enumerate() {
        let ibi = if i + 1 < beats.len() {
            beats[i + 1] - b
        } else {
            b - beats[i - 1]
        };
        let tol = (0.15 * ibi).min(0.07);
        let j = i % per;
        kick[j] += strength_near(onsets, DrumClass::KD, b, tol);
        snare[j] += strength_near(onsets, DrumClass::SD, b, tol);
        cymbal[j] += strength_near(onsets, DrumClass::CY, b, tol);
        toms[j] += toms_between(onsets, b - tol, b + ibi - tol);
        count[j] += 1.0;
    }
    for v in [&mut kick, &mut snare, &mut cymbal, &mut toms] {
        for (x, c) in v.iter_mut().zip(&count) {
            *x /= c.max(1.0_f64);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mk, ms, mc, mt) = (mean(&kick), mean(&snare), mean(&cymbal), mean(&toms));
    let score = |phi: usize| {
        let at = |k: usize| (phi + k) % per;
        // Snares on the downbeat count against it only mildly: a transcription puts a snare
        // under many accented kicks.
        let mut s = 2.0 * (kick[phi] - mk) + 2.0 * (cymbal[phi] - mc) - 0.5 * (snare[phi] - ms);
        if per.is_multiple_of(2) {
            // Backbeat: snares on the even beats of the bar (2 and 4 of 4).
            let evens: f64 = (1..per).step_by(2).map(|k| snare[at(k)] - ms).sum();
            s += 0.5 * evens / (per / 2) as f64;
        }
        // A fill lies in the last beat(s) of a bar (toms weigh little: a transcription of an
        // unseen kit finds toms everywhere).
        s += 0.05 * (toms[at(per - 1)] - mt);
        s
    };
    tracing::debug!(
        ?kick,
        ?snare,
        ?cymbal,
        ?toms,
        "downbeat evidence per beat of the bar"
    );
    (0..per)
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(time: f64, class: DrumClass, strength: f64) -> Onset {
        Onset {
            time,
            class,
            strength,
        }
    }

    /// A rock bar at 100 BPM: accented kick on 1, kick on 3, snares on 2 and 4, 8th hats.
    fn rock(bars: usize, offset: f64) -> Vec<Onset> {
        let p = 0.6;
        let mut v = Vec::new();
        for bar in 0..bars {
            let t0 = offset + bar as f64 * 4.0 * p;
            v.push(hit(t0, DrumClass::KD, 0.94));
            v.push(hit(t0 + 2.0 * p, DrumClass::KD, 0.78));
            v.push(hit(t0 + p, DrumClass::SD, 0.94));
            v.push(hit(t0 + 3.0 * p, DrumClass::SD, 0.94));
            for k in 0..8 {
                v.push(hit(t0 + k as f64 * p / 2.0, DrumClass::HH, 0.7));
            }
        }
        v.sort_by(|a, b| a.time.total_cmp(&b.time));
        v
    }

    #[test]
    fn tracks_a_steady_groove_and_finds_the_bar() {
        let onsets = rock(8, 0.37);
        let frames = (21.0 * FRAME_RATE) as usize;
        let env = envelope(&onsets, frames);
        let beats = track(
            &env,
            0.6 * FRAME_RATE,
            100.0,
            (0.37, onsets.last().unwrap().time),
        );
        assert!(beats.len() >= 30, "{beats:?}");
        for b in &beats {
            let k = ((b - 0.37) / 0.6).round();
            assert!((b - 0.37 - k * 0.6).abs() < 0.015, "beat {b} off the grid");
        }
        let phase = downbeat_phase(&onsets, &beats, 4);
        let first = beats[phase];
        let k = ((first - 0.37) / 0.6).round() as i64;
        assert_eq!(k.rem_euclid(4), 0, "first downbeat {first}");
    }
}
