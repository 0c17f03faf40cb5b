//! Building blocks of the procedural voices: a seeded parameter source, oscillators, envelopes
//! and biquad filters. Everything runs in f64 with plain arithmetic (see [`super::detmath`]).

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use super::detmath;

/// The generator's sample rate (the model's).
pub const SR: f64 = crate::audio::SAMPLE_RATE as f64;

/// Seeded source of voice parameters and noise. Uniform values are built from raw 64-bit words so
/// that they do not depend on how a `rand` version maps bits to floats.
pub struct Dice {
    rng: ChaCha8Rng,
}

impl Dice {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Dice { rng }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in `[lo, hi)`: the natural way to spread frequencies.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * detmath::powf(hi / lo, self.unit())
    }

    /// White noise sample, uniform in `[-1, 1)`.
    pub fn noise(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }
}

/// Exponential decay `e^(-t/tau)`, advanced by one multiplication per sample.
pub struct Decay {
    value: f64,
    factor: f64,
}

impl Decay {
    pub fn new(tau_seconds: f64) -> Self {
        Decay {
            value: 1.0,
            factor: detmath::exp(-1.0 / (tau_seconds * SR)),
        }
    }

    /// Returns the current value, then steps one sample.
    pub fn next_value(&mut self) -> f64 {
        let v = self.value;
        self.value *= self.factor;
        v
    }
}

/// Sine oscillator whose frequency may change every sample (phase kept in turns).
pub struct Sine {
    phase: f64,
}

impl Sine {
    pub fn new(start_phase_turns: f64) -> Self {
        Sine {
            phase: start_phase_turns,
        }
    }

    pub fn next_value(&mut self, freq_hz: f64) -> f64 {
        let v = detmath::sin_turns(self.phase);
        self.phase += freq_hz / SR;
        if self.phase >= 1.0 {
            self.phase -= self.phase.floor();
        }
        v
    }
}

/// Fixed-frequency sine as a rotating phasor: four multiplies a sample instead of a polynomial,
/// which matters for cymbals with dozens of partials. The f64 rotation drifts by far less than
/// an f32 step over a few seconds.
pub struct Phasor {
    re: f64,
    im: f64,
    step_re: f64,
    step_im: f64,
}

impl Phasor {
    pub fn new(freq_hz: f64, start_phase_turns: f64) -> Self {
        let start = std::f64::consts::TAU * start_phase_turns;
        let step = std::f64::consts::TAU * freq_hz / SR;
        Phasor {
            re: detmath::cos(start),
            im: detmath::sin(start),
            step_re: detmath::cos(step),
            step_im: detmath::sin(step),
        }
    }

    /// Returns the sine of the current phase, then advances one sample.
    pub fn next_value(&mut self) -> f64 {
        let v = self.im;
        let re = self.re * self.step_re - self.im * self.step_im;
        self.im = self.im * self.step_re + self.re * self.step_im;
        self.re = re;
        v
    }
}

/// Naive square oscillator: its aliasing at 16 kHz only adds to the inharmonic clang the 808-style
/// metal voices want.
pub struct Square {
    phase: f64,
    step: f64,
}

impl Square {
    pub fn new(freq_hz: f64, start_phase_turns: f64) -> Self {
        Square {
            phase: start_phase_turns,
            step: freq_hz / SR,
        }
    }

    pub fn next_value(&mut self) -> f64 {
        let v = if self.phase < 0.5 { 1.0 } else { -1.0 };
        self.phase += self.step;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        v
    }
}

/// Second-order IIR section (RBJ audio-EQ cookbook), transposed direct form II.
pub struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
    z1: f64,
    z2: f64,
}

impl Biquad {
    fn from_rbj(b: [f64; 3], a: [f64; 3]) -> Self {
        Biquad {
            b0: b[0] / a[0],
            b1: b[1] / a[0],
            b2: b[2] / a[0],
            a1: a[1] / a[0],
            a2: a[2] / a[0],
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// `(cos w0, alpha)` for a corner frequency clamped below Nyquist.
    fn prewarp(freq_hz: f64, q: f64) -> (f64, f64) {
        let f = freq_hz.clamp(10.0, 0.49 * SR);
        let w0 = std::f64::consts::TAU * f / SR;
        (detmath::cos(w0), detmath::sin(w0) / (2.0 * q))
    }

    pub fn lowpass(freq_hz: f64, q: f64) -> Self {
        let (c, alpha) = Self::prewarp(freq_hz, q);
        Self::from_rbj(
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    pub fn highpass(freq_hz: f64, q: f64) -> Self {
        let (c, alpha) = Self::prewarp(freq_hz, q);
        Self::from_rbj(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// Band-pass with 0 dB gain at the centre.
    pub fn bandpass(freq_hz: f64, q: f64) -> Self {
        let (c, alpha) = Self::prewarp(freq_hz, q);
        Self::from_rbj([alpha, 0.0, -alpha], [1.0 + alpha, -2.0 * c, 1.0 - alpha])
    }

    pub fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.z1;
        self.z1 = self.b1 * x - self.a1 * y + self.z2;
        self.z2 = self.b2 * x - self.a2 * y;
        y
    }
}

/// One-pole low-pass, used for noise colour and the final tilt EQ.
pub struct OnePole {
    a: f64,
    state: f64,
}

impl OnePole {
    pub fn lowpass(freq_hz: f64) -> Self {
        OnePole {
            a: 1.0 - detmath::exp(-std::f64::consts::TAU * freq_hz / SR),
            state: 0.0,
        }
    }

    pub fn process(&mut self, x: f64) -> f64 {
        self.state += self.a * (x - self.state);
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady_gain(mut filter: Biquad, freq_hz: f64) -> f64 {
        let mut osc = Sine::new(0.0);
        let mut peak: f64 = 0.0;
        for n in 0..16_000 {
            let y = filter.process(osc.next_value(freq_hz));
            if n > 8_000 {
                peak = peak.max(y.abs());
            }
        }
        peak
    }

    #[test]
    fn biquads_pass_and_stop_where_they_should() {
        assert!((steady_gain(Biquad::bandpass(2000.0, 1.0), 2000.0) - 1.0).abs() < 0.01);
        assert!(steady_gain(Biquad::bandpass(2000.0, 1.0), 200.0) < 0.12);
        assert!(steady_gain(Biquad::highpass(4000.0, 0.707), 400.0) < 0.02);
        assert!(steady_gain(Biquad::lowpass(500.0, 0.707), 5000.0) < 0.02);
        assert!((steady_gain(Biquad::lowpass(500.0, 0.707), 50.0) - 1.0).abs() < 0.01);
    }

    #[test]
    fn decay_reaches_one_over_e_after_tau() {
        let mut d = Decay::new(0.1);
        let v: Vec<f64> = (0..1601).map(|_| d.next_value()).collect();
        assert!((v[1600] - (-1.0f64).exp()).abs() < 1e-9);
    }

    #[test]
    fn phasor_tracks_a_sine() {
        let mut p = Phasor::new(1234.5, 0.25);
        for n in 0..64_000 {
            let expected = (std::f64::consts::TAU * (0.25 + 1234.5 * n as f64 / SR)).sin();
            assert!((p.next_value() - expected).abs() < 1e-9, "sample {n}");
        }
    }

    #[test]
    fn dice_stays_in_range() {
        use rand::SeedableRng;
        let mut dice = Dice::new(ChaCha8Rng::seed_from_u64(7));
        for _ in 0..10_000 {
            let u = dice.uniform(2.0, 3.0);
            assert!((2.0..3.0).contains(&u));
            let l = dice.log_uniform(100.0, 8000.0);
            assert!((100.0..8000.0 + 1e-9).contains(&l));
        }
    }
}
