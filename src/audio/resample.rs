//! Band-limited, delay-compensated resampling (rubato's windowed-sinc resampler).
//!
//! `StreamResampler` accepts input in pieces of any size but always feeds rubato the same fixed
//! chunks, so the output does not depend on how the input was split. Its start is aligned so that
//! input time t lands at output time t exactly, and its total length is round(len * to / from).

use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::error::{Error, Result};

/// Input frames per rubato call.
const CHUNK: usize = 1024;
/// Filter length measured at the lower of the two rates: sets the transition band width.
const TAPS_AT_LOW_RATE: usize = 256;
/// Upper bound on the filter length at the input rate (cost per output sample).
const MAX_SINC_LEN: usize = 2048;
const WINDOW: WindowFunction = WindowFunction::BlackmanHarris2;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// round(n * to / from), halves rounded up, without overflow.
pub fn output_len(n: u64, from: u32, to: u32) -> u64 {
    let num = n as u128 * to as u128 * 2 + from as u128;
    (num / (2 * from as u128)) as u64
}

/// A resampler for one mono stream.
pub struct StreamResampler {
    inner: Option<Box<SincFixedIn<f32>>>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    in_buf: Vec<Vec<f32>>,
    out_buf: Vec<Vec<f32>>,
    /// Output samples still to drop at the start (the filter delay).
    skip: u64,
    consumed: u64,
    produced: u64,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::Invalid(format!(
                "cannot resample from {from} Hz to {to} Hz: sample rates must be positive"
            )));
        }
        let mut me = StreamResampler {
            inner: None,
            from,
            to,
            pending: Vec::new(),
            in_buf: vec![vec![0.0; CHUNK]],
            out_buf: Vec::new(),
            skip: 0,
            consumed: 0,
            produced: 0,
        };
        if from == to {
            return Ok(me);
        }
        let ratio = to as f64 / from as f64;
        let stretch = (from as f64 / to as f64).max(1.0);
        let sinc_len = ((TAPS_AT_LOW_RATE as f64 * stretch).ceil() as usize).min(MAX_SINC_LEN);
        let sinc_len = sinc_len.div_ceil(8) * 8;
        let low_rate_taps = ((sinc_len as f64 / stretch) as usize).clamp(32, 2048);
        let params = SincInterpolationParameters {
            sinc_len,
            f_cutoff: calculate_cutoff(low_rate_taps, WINDOW),
            oversampling_factor: 256,
            interpolation: SincInterpolationType::Linear,
            window: WINDOW,
        };
        let inner = SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK, 1)
            .map_err(|e| Error::Invalid(format!("resampler: {e}")))?;
        me.out_buf = inner.output_buffer_allocate(true);
        // rubato's output n interpolates the input at position (n + 1) * from / to - 1 (plus
        // 1/256 of a frame from its oversampled table). With `from_r - 1` zeros in front and the
        // first `to_r - 1` outputs dropped, output m lands exactly on input position m * from / to.
        let g = gcd(from as u64, to as u64);
        let (from_r, to_r) = (from as u64 / g, to as u64 / g);
        let pad = from_r - 1;
        me.skip = to_r - 1;
        me.inner = Some(Box::new(inner));
        me.pending.resize(pad as usize, 0.0);
        Ok(me)
    }

    /// Resamples `input`, appending what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.consumed += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= CHUNK {
            self.in_buf[0].copy_from_slice(&self.pending[start..start + CHUNK]);
            start += CHUNK;
            self.process_chunk(out, u64::MAX)?;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the filter tail; afterwards the total output is round(total_in * to / from).
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<()> {
        let target = output_len(self.consumed, self.from, self.to);
        if self.inner.is_none() {
            return Ok(());
        }
        let mut tail = std::mem::take(&mut self.pending);
        while self.produced < target {
            let n = tail.len().min(CHUNK);
            self.in_buf[0][..n].copy_from_slice(&tail[..n]);
            self.in_buf[0][n..].fill(0.0);
            tail.drain(..n);
            self.process_chunk(out, target)?;
        }
        Ok(())
    }

    fn process_chunk(&mut self, out: &mut Vec<f32>, limit: u64) -> Result<()> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let (_, n) = inner
            .process_into_buffer(&self.in_buf, &mut self.out_buf, None)
            .map_err(|e| Error::Invalid(format!("resampler: {e}")))?;
        let mut fresh = &self.out_buf[0][..n];
        let drop = self.skip.min(fresh.len() as u64) as usize;
        self.skip -= drop as u64;
        fresh = &fresh[drop..];
        let room = limit.saturating_sub(self.produced).min(fresh.len() as u64) as usize;
        out.extend_from_slice(&fresh[..room]);
        self.produced += room as u64;
        Ok(())
    }
}

/// Band-limited resampling of a whole signal; see the module documentation.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let mut r = StreamResampler::new(from, to)?;
    let mut out = Vec::with_capacity(output_len(samples.len() as u64, from, to) as usize);
    r.push(samples, &mut out)?;
    r.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click_position(from: u32, to: u32, at: usize) -> f64 {
        let mut x = vec![0.0f32; from as usize];
        x[at] = 1.0;
        let y = resample(&x, from, to).unwrap();
        let (i, _) = y
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
            .unwrap();
        // The kernel is symmetric, so the energy centroid around the peak is its centre.
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (j, &v) in y.iter().enumerate().take(i + 40).skip(i - 40) {
            num += j as f64 * (v as f64).powi(2);
            den += (v as f64).powi(2);
        }
        num / den
    }

    #[test]
    fn click_keeps_its_time() {
        for &(from, to, at) in &[
            (44_100u32, 16_000u32, 20_000usize),
            (48_000, 16_000, 12_345),
            (8_000, 16_000, 3_001),
            (192_000, 16_000, 100_003),
            (22_050, 16_000, 7_777),
        ] {
            let expected = at as f64 * to as f64 / from as f64;
            let got = click_position(from, to, at);
            eprintln!("{from}->{to}: click at {expected:.3}, found {got:.3}");
            assert!(
                (got - expected).abs() < 0.05,
                "{from}->{to}: {got} vs {expected}"
            );
        }
    }
}
