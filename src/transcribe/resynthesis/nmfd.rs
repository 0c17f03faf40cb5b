//! The stem re-synthesised from its events, in magnitude: each component's hits share one
//! spectro-temporal template (bands x frames after the onset), each hit has its own gain, and
//! the model of the stem is the sum of every hit's template times its gain over a per-band
//! noise floor. Templates and gains are fitted to the stem (non-negative matrix factor
//! deconvolution, NMFD, with the onsets fixed: Smaragdis 2004; Lindsay-Smith et al. 2012 for
//! drums), by the multiplicative updates of the generalised Kullback-Leibler divergence, which
//! keep both non-negative and never increase the divergence (Lee & Seung 2001).
//!
//! Why magnitudes and not waveforms: a waveform fit averages the hits of a component sample by
//! sample, and noise-like hits (hats, snares' wires, cymbals) average out to nothing across
//! hits whose noise differs; their magnitudes add up. The loss compares magnitudes too (its
//! log constant-Q terms), and so does the verification that reads this fit.

use super::spectrogram::BandSpectrogram;

/// One hit: its component and its frame in the spectrogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Onset {
    pub component: usize,
    pub frame: usize,
}

/// The fitted model of a stem.
#[derive(Debug, Clone)]
pub struct Fit {
    pub bands: usize,
    /// Frames of a template.
    pub span: usize,
    /// `templates[(component * span + lag) * bands + band]`, each component's summing to 1.
    pub templates: Vec<f32>,
    /// One gain per onset, in the onsets' order.
    pub gains: Vec<f32>,
    /// The noise floor of each band (what sounds where no hit does).
    pub floor: Vec<f32>,
    /// The model of the stem, laid out as the spectrogram's values.
    pub model: Vec<f32>,
}

/// Share of the frames below a band's floor: a low percentile, so that the floor is the
/// quietest passages' level, not the hits'.
const FLOOR_PERCENTILE: f64 = 0.1;
/// Keeps every division finite where the stem and the floor are exactly zero (digital silence).
const TINY: f32 = 1e-12;

/// Fits templates of `span` frames and the onsets' gains to `spec`, in two stages of
/// `iterations` rounds of updates each: first the components `held` marks (the classes the
/// transcription trusts) alone, then the others on what those leave, the held ones kept as
/// fitted. A doubtful hit thus only explains what the trusted ones cannot: a tom event on a
/// kick has the kick's template against it, not a share of the kick's energy. Templates start
/// as the mean spectrum above the floor (first stage) or above the first stage's model
/// (second) after each component's onsets, gains at one.
pub fn fit(
    spec: &BandSpectrogram,
    onsets: &[Onset],
    held: &[bool],
    span: usize,
    iterations: usize,
) -> Fit {
    let bands = spec.bands;
    let floor = band_floor(spec);
    let mut fit = Fit {
        bands,
        span,
        templates: vec![TINY; held.len() * span * bands],
        gains: vec![1.0; onsets.len()],
        model: Vec::new(),
        floor,
    };
    let first: Vec<bool> = onsets.iter().map(|o| held[o.component]).collect();
    let all = vec![true; onsets.len()];
    let others: Vec<bool> = held.iter().map(|h| !h).collect();
    // Refining the held templates in the second stage too was measured: twice the false toms
    // and cymbals on the development set's dtd clips (16 -> 32 and 8 -> 16 a clip).
    for (active, free) in [(&first, held), (&all, others.as_slice())] {
        if !free.contains(&true) {
            continue;
        }
        fit.rebuild(spec, onsets, active, Some(free));
        fit.start_templates(spec, onsets, active, free);
        fit.normalise(onsets, free);
        fit.rebuild(spec, onsets, active, None);
        for _ in 0..iterations {
            fit.update_templates(spec, onsets, active, free);
            fit.rebuild(spec, onsets, active, None);
            fit.update_gains(spec, onsets, active, free);
            fit.normalise(onsets, free);
            fit.rebuild(spec, onsets, active, None);
        }
    }
    fit
}

/// Each band's [`FLOOR_PERCENTILE`] over the frames.
fn band_floor(spec: &BandSpectrogram) -> Vec<f32> {
    let mut column = Vec::with_capacity(spec.frames);
    (0..spec.bands)
        .map(|b| {
            column.clear();
            column.extend((0..spec.frames).map(|t| spec.values[t * spec.bands + b]));
            if column.is_empty() {
                return 0.0;
            }
            let k = ((column.len() - 1) as f64 * FLOOR_PERCENTILE) as usize;
            *column.select_nth_unstable_by(k, f32::total_cmp).1
        })
        .collect()
}

impl Fit {
    /// Template row of `component` at `lag`.
    fn row(&self, component: usize, lag: usize) -> &[f32] {
        &self.templates[(component * self.span + lag) * self.bands..][..self.bands]
    }

    /// Frames of onset `o`'s template that lie inside a stem of `frames`.
    fn lags(&self, o: &Onset, frames: usize) -> usize {
        self.span.min(frames.saturating_sub(o.frame))
    }

    /// The model of the stem from the current templates and gains of the `active` onsets,
    /// leaving out the components `without` marks.
    fn rebuild(
        &mut self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        active: &[bool],
        without: Option<&[bool]>,
    ) {
        self.model.clear();
        for _ in 0..spec.frames {
            self.model.extend_from_slice(&self.floor);
        }
        for ((o, &g), _) in onsets
            .iter()
            .zip(&self.gains)
            .zip(active)
            .filter(|(_, &a)| a)
        {
            if without.is_some_and(|w| w[o.component]) {
                continue;
            }
            for lag in 0..self.lags(o, spec.frames) {
                let start = (o.frame + lag) * self.bands;
                let row =
                    &self.templates[(o.component * self.span + lag) * self.bands..][..self.bands];
                for (m, &w) in self.model[start..start + self.bands].iter_mut().zip(row) {
                    *m += g * w;
                }
            }
        }
    }

    /// Per component and lag, over the frames after each `active` onset of a `free`
    /// component: the sum of `weight(onset)` (den) and, per band, of `weight(onset)` times
    /// `cell(stem, model)` (num). What both template estimates are made of.
    fn accumulate(
        &self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        active: &[bool],
        free: &[bool],
        weight: impl Fn(usize) -> f32,
        cell: impl Fn(f32, f32) -> f32,
    ) -> (Vec<f32>, Vec<f32>) {
        let bands = self.bands;
        let mut num = vec![0.0f32; free.len() * self.span * bands];
        let mut den = vec![0.0f32; free.len() * self.span];
        for (i, o) in onsets.iter().enumerate() {
            if !active[i] || !free[o.component] {
                continue;
            }
            let g = weight(i);
            for lag in 0..self.lags(o, spec.frames) {
                let t = o.frame + lag;
                den[o.component * self.span + lag] += g;
                let row = &mut num[(o.component * self.span + lag) * bands..][..bands];
                let (v, m) = (spec.frame(t), &self.model[t * bands..][..bands]);
                for ((n, &v), &m) in row.iter_mut().zip(v).zip(m) {
                    *n += g * cell(v, m);
                }
            }
        }
        (num, den)
    }

    /// The `free` components' templates: the mean of what the stem holds above the current
    /// model after their `active` onsets.
    fn start_templates(
        &mut self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        active: &[bool],
        free: &[bool],
    ) {
        let (sums, counts) =
            self.accumulate(spec, onsets, active, free, |_| 1.0, |v, m| (v - m).max(0.0));
        for (i, (row, sum)) in self
            .templates
            .chunks_mut(self.bands)
            .zip(sums.chunks(self.bands))
            .enumerate()
        {
            if free[i / self.span] {
                for (w, &s) in row.iter_mut().zip(sum) {
                    *w = s / counts[i].max(1.0) + TINY;
                }
            }
        }
    }

    /// `W *= (sum_hits g V / model) / (sum_hits g)` per `free` component, lag and band, over
    /// the `active` onsets.
    fn update_templates(
        &mut self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        active: &[bool],
        free: &[bool],
    ) {
        let gains = &self.gains;
        let (num, den) = self.accumulate(
            spec,
            onsets,
            active,
            free,
            |i| gains[i],
            |v, m| v / (m + TINY),
        );
        for ((w, n), i) in self
            .templates
            .chunks_mut(self.bands)
            .zip(num.chunks(self.bands))
            .zip(0..)
        {
            if den[i] > 0.0 {
                for (w, &n) in w.iter_mut().zip(n) {
                    *w *= n / den[i];
                }
            }
        }
    }

    /// `g *= (sum W V / model) / (sum W)` over the template of each `active` onset of a
    /// `free` component.
    fn update_gains(
        &mut self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        active: &[bool],
        free: &[bool],
    ) {
        let bands = self.bands;
        for (i, o) in onsets.iter().enumerate() {
            if !active[i] || !free[o.component] {
                continue;
            }
            let (mut num, mut den) = (0.0f32, 0.0f32);
            for lag in 0..self.lags(o, spec.frames) {
                let t = o.frame + lag;
                let (v, m) = (spec.frame(t), &self.model[t * bands..][..bands]);
                for ((&w, &v), &m) in self.row(o.component, lag).iter().zip(v).zip(m) {
                    num += w * v / (m + TINY);
                    den += w;
                }
            }
            if den > 0.0 {
                self.gains[i] *= num / den;
            }
        }
    }

    /// Scales each `free` component's template to sum 1 and its hits' gains by the inverse
    /// (the model stays).
    fn normalise(&mut self, onsets: &[Onset], free: &[bool]) {
        let size = self.span * self.bands;
        let sums: Vec<f32> = (0..free.len())
            .map(|k| {
                if free[k] {
                    self.templates[k * size..][..size].iter().sum()
                } else {
                    1.0
                }
            })
            .collect();
        for (k, &s) in sums.iter().enumerate() {
            if s > 0.0 {
                self.templates[k * size..][..size]
                    .iter_mut()
                    .for_each(|w| *w /= s);
            }
        }
        for (o, g) in onsets.iter().zip(&mut self.gains) {
            *g *= sums[o.component];
        }
    }

    /// How much onset `i`'s hit improves the re-synthesis where it is a large part of it: over
    /// `frames` frames from the onset, the cells (frame, band) where the hit makes at least
    /// `min_part` of the model, the mean of how much closer (dB of log-magnitude distance) the
    /// model comes to the stem with the hit than without. 0 where the hit is nowhere that
    /// large a part (a hit the others explain, or one with a small gain). Measured where the
    /// hit matters rather than over every band, so that a hat, which only touches the top
    /// bands, counts as much as a kick; `eps` is the magnitude under which differences stop
    /// counting (the loss's log floor).
    pub fn needed_db(
        &self,
        spec: &BandSpectrogram,
        onsets: &[Onset],
        i: usize,
        frames: usize,
        min_part: f32,
        eps: f32,
    ) -> f64 {
        let o = &onsets[i];
        let g = self.gains[i];
        let (mut gain, mut cells) = (0.0f64, 0usize);
        for lag in 0..self.lags(o, spec.frames).min(frames) {
            let t = o.frame + lag;
            let (v, m) = (spec.frame(t), &self.model[t * self.bands..][..self.bands]);
            for ((&w, &v), &m) in self.row(o.component, lag).iter().zip(v).zip(m) {
                let part = g * w;
                if part < min_part * m {
                    continue;
                }
                let target = (v + eps).ln();
                let with = (target - (m + eps).ln()).abs();
                let without = (target - ((m - part).max(0.0) + eps).ln()).abs();
                gain += f64::from(without - with);
                cells += 1;
            }
        }
        if cells == 0 {
            return 0.0;
        }
        // Nepers to decibels of magnitude.
        gain / cells as f64 * 20.0 / std::f64::consts::LN_10
    }

    /// The generalised KL divergence of the model from the stem (what the updates lower).
    pub fn divergence(&self, spec: &BandSpectrogram) -> f64 {
        spec.values
            .iter()
            .zip(&self.model)
            .map(|(&v, &m)| {
                let (v, m) = (f64::from(v), f64::from(m) + f64::from(TINY));
                if v > 0.0 {
                    v * (v / m).ln() - v + m
                } else {
                    m
                }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stem of `frames` x 4 bands made from two known templates at known onsets, gain 2 and
    /// 1 alternating per component, over a floor of 1e-3.
    fn stem(onsets: &[Onset], frames: usize) -> BandSpectrogram {
        let templates = [
            [[1.0, 0.5, 0.0, 0.0], [0.5, 0.2, 0.0, 0.0]],
            [[0.0, 0.0, 0.8, 1.0], [0.0, 0.0, 0.1, 0.3]],
        ];
        let mut values = vec![1e-3f32; frames * 4];
        for (i, o) in onsets.iter().enumerate() {
            let g = if (i / 2) % 2 == 0 { 2.0 } else { 1.0 };
            for (lag, row) in templates[o.component].iter().enumerate() {
                for (b, w) in row.iter().enumerate() {
                    values[(o.frame + lag) * 4 + b] += g * w;
                }
            }
        }
        BandSpectrogram {
            bands: 4,
            frames,
            values,
        }
    }

    fn onsets() -> Vec<Onset> {
        (0..12)
            .map(|i| Onset {
                component: i % 2,
                frame: 5 + 7 * i,
            })
            .collect()
    }

    #[test]
    fn the_updates_lower_the_divergence_and_fit_a_stem_made_of_templates() {
        let onsets = onsets();
        let spec = stem(&onsets, 100);
        let divergences: Vec<f64> = [0, 1, 5, 50]
            .iter()
            .map(|&n| fit(&spec, &onsets, &[false, false], 2, n).divergence(&spec))
            .collect();
        assert!(
            divergences.windows(2).all(|d| d[1] <= d[0] * 1.0001),
            "{divergences:?}"
        );
        assert!(
            divergences[3] < 1e-3 * divergences[0].max(1e-9) + 1e-4,
            "{divergences:?}"
        );
        // Every hit is needed where it sounds alone.
        let f = fit(&spec, &onsets, &[false, false], 2, 50);
        for i in 0..onsets.len() {
            assert!(f.needed_db(&spec, &onsets, i, 2, 0.5, 1e-4) > 6.0);
        }
        // The gains come out 2:1 as made.
        assert!(
            (f.gains[0] / f.gains[2] - 2.0).abs() < 0.05,
            "{:?}",
            f.gains
        );
    }

    #[test]
    fn an_onset_where_nothing_sounds_is_not_needed() {
        let real = onsets();
        let spec = stem(&real, 100);
        let mut with_false = real.clone();
        // Component 1 claims a hit at frame 93, where only the floor is.
        with_false.push(Onset {
            component: 1,
            frame: 93,
        });
        let f = fit(&spec, &with_false, &[false, false], 2, 50);
        let last = with_false.len() - 1;
        assert!(f.needed_db(&spec, &with_false, last, 2, 0.5, 1e-4) < 0.5);
        assert!(f.needed_db(&spec, &with_false, 0, 2, 0.5, 1e-4) > 6.0);
    }
}
