//! Audio augmentation of rendered grooves: level, spectral tilt, room, noise, and the
//! recording conditions (mic placement's room, filters, compression, lo-fi).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::generate::gaussian;
use super::mics::{mic_placement, MicPlacement};
use super::recording::{compress, high_cut, lofi, low_cut, mid_peak};
use super::settings::AugmentSettings;
use crate::kit::Kit;

/// Largest magnitude augmented audio may reach (a hair under full scale, so 16-bit PCM
/// never clips).
pub const AUGMENT_CEILING: f32 = 0.999;

/// What [`augment`] did, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    pub gain_db: f64,
    /// Positive: highs up and lows down.
    pub tilt_db: f64,
    /// (RT60 seconds, wet ratio) when reverb was added.
    pub reverb: Option<(f64, f64)>,
    /// The gain the reverb's tail was mixed in at (its wet ratio times the dry RMS over the
    /// tail's RMS of this signal), so that [`heard_kit`] can put another sound through the
    /// same room. Not recorded in files.
    #[serde(skip)]
    pub reverb_scale: f32,
    pub noise_db: f64,
    /// Extra gain (<= 1) applied at the end to stay under [`AUGMENT_CEILING`].
    pub limiter_gain: f64,
    /// The recording conditions drawn (all `None` with the default settings).
    #[serde(default)]
    pub recording: Recording,
}

/// The recording conditions [`augment`] applied, beyond gain, tilt, reverb and noise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Microphone placement (its balance is applied while mixing, its room here).
    pub mics: Option<MicPlacement>,
    /// The gain the mics' room was mixed in at (see [`Augmentation::reverb_scale`]).
    #[serde(skip)]
    pub room_scale: f32,
    /// Low-cut corner, Hz.
    pub low_cut_hz: Option<f64>,
    /// High-cut corner, Hz.
    pub high_cut_hz: Option<f64>,
    /// Mid bell (Hz, dB).
    pub mid_peak: Option<(f64, f64)>,
    /// Compressor (threshold dB below the peak, ratio).
    pub compression: Option<(f64, f64)>,
    /// Lo-fi (bits, hold samples, band limit Hz).
    pub lofi: Option<(u32, usize, f64)>,
}

/// A salt for the recording conditions' own random stream: the classic augmentation's stream
/// of a seed stays exactly what it was, whatever is switched on.
const RECORDING_SALT: u64 = 0x7265_636f_7264; // "record"

/// `true` with probability `p`, drawing nothing when `p` is 0 (a feature that is off).
fn chance(rng: &mut impl Rng, p: f64) -> bool {
    p > 0.0 && rng.random_bool(p.min(1.0))
}

/// Mic room, filters and compression, in the order of a recording chain (the mics' room,
/// then the console's EQ, then the bus compressor).
fn recording_chain(
    samples: &mut [f32],
    rng: &mut impl Rng,
    settings: &AugmentSettings,
    mics: Option<MicPlacement>,
    sample_rate: u32,
) -> Recording {
    let mut r = Recording {
        mics,
        ..Recording::default()
    };
    if let Some(m) = mics.filter(|m| m.room_wet > 0.0) {
        // A small room: overheads hear the kit from a distance.
        r.room_scale = reverb(samples, MIC_ROOM_RT60, m.room_wet, sample_rate);
    }
    if chance(rng, settings.low_cut_probability) {
        let hz = log_uniform(rng, settings.low_cut_hz_min, settings.low_cut_hz_max);
        low_cut(samples, hz, sample_rate);
        r.low_cut_hz = Some(hz);
    }
    if chance(rng, settings.high_cut_probability) {
        let hz = log_uniform(rng, settings.high_cut_hz_min, settings.high_cut_hz_max);
        high_cut(samples, hz, sample_rate);
        r.high_cut_hz = Some(hz);
    }
    if chance(rng, settings.mid_peak_probability) {
        let hz = log_uniform(rng, 300.0, 4000.0);
        let db = uniform(rng, -settings.mid_peak_db.abs(), settings.mid_peak_db.abs());
        mid_peak(samples, hz, db, sample_rate);
        r.mid_peak = Some((hz, db));
    }
    if chance(rng, settings.compression_probability) {
        let threshold = uniform(
            rng,
            settings.compression_threshold_db_min,
            settings.compression_threshold_db_max,
        );
        let ratio = uniform(rng, 2.0, settings.compression_ratio_max.max(2.0));
        compress(samples, threshold, ratio, 80.0, sample_rate);
        r.compression = Some((threshold, ratio));
    }
    r
}

/// Lo-fi comes last, after the noise: a cheap converter digitises everything before it.
fn lofi_stage(
    samples: &mut [f32],
    rng: &mut impl Rng,
    settings: &AugmentSettings,
    sample_rate: u32,
) -> Option<(u32, usize, f64)> {
    if !chance(rng, settings.lofi_probability) {
        return None;
    }
    let bits_hi = settings.lofi_bits_max.max(settings.lofi_bits_min);
    let bits = rng.random_range(settings.lofi_bits_min..=bits_hi);
    let hold = rng.random_range(1..=settings.lofi_hold_max.max(1)) as usize;
    // Band-limited to well inside the held rate's Nyquist, as a cheap sampler would be.
    let band = uniform(rng, 0.25, 0.45) * f64::from(sample_rate) / hold as f64;
    lofi(samples, bits, hold, band, sample_rate);
    Some((bits, hold, band))
}

fn log_uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    uniform(rng, lo.max(1e-3).ln(), hi.max(1e-3).ln()).exp()
}

fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

fn db_to_gain(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

/// First-order tilt around ~800 Hz: the one-pole low band goes down by half the tilt and the
/// rest up by half (or the reverse for a negative tilt).
fn tilt(samples: &mut [f32], tilt_db: f64, sample_rate: u32) {
    let a = (-std::f64::consts::TAU * 800.0 / f64::from(sample_rate)).exp() as f32;
    let low_gain = db_to_gain(-tilt_db / 2.0);
    let high_gain = db_to_gain(tilt_db / 2.0);
    let mut low = 0.0f32;
    for s in samples.iter_mut() {
        low = (1.0 - a) * *s + a * low;
        let high = *s - low;
        *s = low * low_gain + high * high_gain;
    }
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// RT60 of the overhead mics' small room, seconds.
const MIC_ROOM_RT60: f64 = 0.35;

/// A Schroeder room (four parallel feedback combs, two series all-passes), mixed in at
/// `wet` times the dry signal's RMS; returns the tail's gain (0 when there is no tail). Linear
/// time O(n), so long grooves stay cheap.
fn reverb(samples: &mut [f32], rt60: f64, wet: f64, sample_rate: u32) -> f32 {
    let tail = reverb_tail(samples, rt60, sample_rate);
    let (dry, wet_rms) = (rms(samples), rms(&tail));
    if wet_rms == 0.0 || !wet_rms.is_finite() {
        return 0.0;
    }
    let scale = (wet * dry / wet_rms) as f32;
    mix_tail(samples, &tail, scale);
    scale
}

fn mix_tail(samples: &mut [f32], tail: &[f32], scale: f32) {
    for (s, t) in samples.iter_mut().zip(tail) {
        *s += scale * t;
    }
}

/// The room's response to `samples` (without the dry sound).
fn reverb_tail(samples: &[f32], rt60: f64, sample_rate: u32) -> Vec<f32> {
    let sr = f64::from(sample_rate);
    let mut tail = vec![0.0f32; samples.len()];
    for delay_ms in [29.7, 37.1, 41.1, 43.7] {
        let d = ((delay_ms / 1000.0 * sr).round() as usize).max(1);
        let g = 10f64.powf(-3.0 * (d as f64 / sr) / rt60) as f32;
        let mut line = vec![0.0f32; d];
        for (i, (t, &x)) in tail.iter_mut().zip(samples.iter()).enumerate() {
            let y = line[i % d];
            line[i % d] = x + g * y;
            *t += y;
        }
    }
    for delay_ms in [5.0, 1.7] {
        let d = ((delay_ms / 1000.0 * sr).round() as usize).max(1);
        let g = 0.7f32;
        let mut line = vec![0.0f32; d];
        for (i, t) in tail.iter_mut().enumerate() {
            let delayed = line[i % d];
            let v = *t + g * delayed;
            line[i % d] = v;
            *t = delayed - g * v;
        }
    }
    tail
}

/// `kit` as a recording with `applied`'s augmentation heard it: every component zero-padded or
/// cut to `len` samples (so a short drum keeps its room's tail up to there) and put through
/// the augmentation's linear stages ([`replay_linear`]). Grooves rendered through this kit are
/// the augmented grooves, but for compression, lo-fi, noise and overall gain. For the
/// synthesizer's per-item kits (`synth.item_recording`).
pub fn heard_kit(mut kit: Kit, applied: &Augmentation, len: usize, sample_rate: u32) -> Kit {
    for c in &mut kit.components {
        c.samples.resize(len, 0.0);
        replay_linear(&mut c.samples, applied, sample_rate);
    }
    kit
}

/// Puts `samples` (another sound, e.g. one drum of the kit) through the linear stages that
/// [`augment`] applied to a mix, in the same order and with the same gains: the mics' room, the
/// low and high cuts, the mid bell, the tilt and the room reverb. Every stage is linear and
/// time-invariant, so a mix of sounds replayed this way is the replay of the mix. The rest is
/// left out: compression and lo-fi are not linear, the noise is not the drums', and the overall
/// gain and limiter are a scale that the synthesizer's waveform norm removes anyway.
fn replay_linear(samples: &mut [f32], applied: &Augmentation, sample_rate: u32) {
    let r = &applied.recording;
    if r.room_scale > 0.0 {
        let tail = reverb_tail(samples, MIC_ROOM_RT60, sample_rate);
        mix_tail(samples, &tail, r.room_scale);
    }
    if let Some(hz) = r.low_cut_hz {
        low_cut(samples, hz, sample_rate);
    }
    if let Some(hz) = r.high_cut_hz {
        high_cut(samples, hz, sample_rate);
    }
    if let Some((hz, db)) = r.mid_peak {
        mid_peak(samples, hz, db, sample_rate);
    }
    tilt(samples, applied.tilt_db, sample_rate);
    if let Some((rt60, _)) = applied.reverb {
        let tail = reverb_tail(samples, rt60, sample_rate);
        mix_tail(samples, &tail, applied.reverb_scale);
    }
}

/// Randomly re-colours `samples` in place (deterministic per `seed`): the recording conditions
/// switched on in the settings (the mics' room, low/high cut, a mid bell, compression),
/// spectral tilt, optional room reverb, overall gain, white noise, lo-fi, and finally a gain
/// reduction if anything would exceed [`AUGMENT_CEILING`]. The mics' balance between drums is
/// not applied here: render with [`render_through_mics`](super::render_through_mics) and
/// [`mic_placement`] of the same seed. Onset times are unchanged, so annotations stay exact.
/// Does nothing when `settings.enabled` is false.
pub fn augment(
    samples: &mut [f32],
    seed: u64,
    settings: &AugmentSettings,
    sample_rate: u32,
) -> Augmentation {
    let mut applied = Augmentation {
        gain_db: 0.0,
        tilt_db: 0.0,
        reverb: None,
        reverb_scale: 0.0,
        noise_db: f64::NEG_INFINITY,
        limiter_gain: 1.0,
        recording: Recording::default(),
    };
    if !settings.enabled || samples.is_empty() || sample_rate == 0 {
        return applied;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut recording_rng = ChaCha8Rng::seed_from_u64(seed ^ RECORDING_SALT);
    let mics = mic_placement(seed, settings);
    applied.recording = recording_chain(samples, &mut recording_rng, settings, mics, sample_rate);
    let max_tilt = settings.eq_tilt_db.abs();
    applied.tilt_db = uniform(&mut rng, -max_tilt, max_tilt);
    tilt(samples, applied.tilt_db, sample_rate);
    if rng.random_bool(settings.reverb_probability.clamp(0.0, 1.0)) {
        let rt60 = uniform(&mut rng, 0.2, settings.reverb_seconds_max.max(0.2));
        let wet = uniform(&mut rng, 0.0, settings.reverb_wet_max.clamp(0.0, 1.0));
        applied.reverb_scale = reverb(samples, rt60, wet, sample_rate);
        applied.reverb = Some((rt60, wet));
    }
    applied.gain_db = uniform(&mut rng, settings.gain_db_min, settings.gain_db_max);
    let gain = db_to_gain(applied.gain_db);
    applied.noise_db = uniform(&mut rng, settings.noise_db_min, settings.noise_db_max);
    let noise = f64::from(db_to_gain(applied.noise_db));
    for s in samples.iter_mut() {
        *s = *s * gain + (gaussian(&mut rng) * noise) as f32;
    }
    applied.recording.lofi = lofi_stage(samples, &mut recording_rng, settings, sample_rate);
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > AUGMENT_CEILING {
        let g = AUGMENT_CEILING / peak;
        // The clamp only catches the last ulp of rounding in the product.
        samples
            .iter_mut()
            .for_each(|s| *s = (*s * g).clamp(-AUGMENT_CEILING, AUGMENT_CEILING));
        applied.limiter_gain = f64::from(g);
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clicks(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| if i % 4000 == 100 { 0.9 } else { 0.0 })
            .collect()
    }

    #[test]
    fn deterministic_and_never_above_the_ceiling() {
        let settings = AugmentSettings {
            gain_db_min: 0.0,
            gain_db_max: 0.0,
            eq_tilt_db: 12.0,
            reverb_probability: 1.0,
            reverb_wet_max: 1.0,
            ..AugmentSettings::default()
        };
        for seed in 0..8 {
            let mut a = clicks(16_000);
            let mut b = clicks(16_000);
            let ra = augment(&mut a, seed, &settings, 16_000);
            let rb = augment(&mut b, seed, &settings, 16_000);
            assert_eq!(a, b);
            assert_eq!(ra, rb);
            assert!(a.iter().all(|s| s.abs() <= AUGMENT_CEILING));
            assert!(ra.reverb.is_some());
        }
    }

    #[test]
    fn reverb_adds_a_decaying_tail() {
        let mut x = vec![0.0f32; 16_000];
        x[0] = 1.0;
        reverb(&mut x, 0.5, 0.5, 16_000);
        let energy = |r: std::ops::Range<usize>| x[r].iter().map(|v| v * v).sum::<f32>();
        let early = energy(800..2400);
        let late = energy(8000..9600);
        assert!(early > 0.0 && late > 0.0);
        // RT60 0.5 s: 0.45 s later the level is down by ~54 dB in energy terms, allow slack.
        assert!(late < early * 1e-3, "early {early} late {late}");
    }

    #[test]
    fn positive_tilt_brightens() {
        let sr = 16_000;
        let tone = |f: f64| -> Vec<f32> {
            (0..sr)
                .map(|i| (std::f64::consts::TAU * f * i as f64 / f64::from(sr)).sin() as f32 * 0.5)
                .collect()
        };
        let (mut low, mut high) = (tone(60.0), tone(6000.0));
        tilt(&mut low, 12.0, sr);
        tilt(&mut high, 12.0, sr);
        let (l, h) = (rms(&low[4000..]), rms(&high[4000..]));
        let ref_rms = 0.5 / 2f64.sqrt();
        assert!(l < ref_rms * 0.6, "low band should drop: {l}");
        assert!(h > ref_rms * 1.4, "high band should rise: {h}");
    }

    #[test]
    fn disabled_changes_nothing() {
        let mut x = clicks(8000);
        let settings = AugmentSettings {
            enabled: false,
            ..AugmentSettings::default()
        };
        augment(&mut x, 3, &settings, 16_000);
        assert_eq!(x, clicks(8000));
    }
}
