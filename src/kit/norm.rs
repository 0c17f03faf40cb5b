//! Source normalisation applied to every kit waveform before the synthesizer convolves with it
//! (spec section 6): it keeps loud and quiet samples on one scale, so the transcriber's
//! activations mean "how hard" rather than "how loud the sample file happened to be".

use serde::{Deserialize, Serialize};

/// L2 norm every source gets under [`SourceNorm::SqrSum`].
pub const SQRSUM_TARGET: f64 = 10.0;
/// L1 norm every source gets under [`SourceNorm::AbsSum`].
pub const ABSSUM_TARGET: f64 = 400.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceNorm {
    /// Scale to L2 norm 10 (the paper's default).
    #[default]
    SqrSum,
    /// Scale to L1 norm 400.
    AbsSum,
    /// Leave the waveform as loaded (the reference code calls it `no`).
    #[serde(alias = "no")]
    None,
}

/// The gain that brings `samples` to the norm's target: None for `SourceNorm::None` and for a
/// silent (or non-finite) waveform, which has no direction to scale.
pub fn gain(samples: &[f32], norm: SourceNorm) -> Option<f64> {
    let (current, target) = match norm {
        SourceNorm::None => return None,
        SourceNorm::SqrSum => (
            samples
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt(),
            SQRSUM_TARGET,
        ),
        SourceNorm::AbsSum => (
            samples.iter().map(|&v| f64::from(v).abs()).sum::<f64>(),
            ABSSUM_TARGET,
        ),
    };
    (current > 0.0 && current.is_finite()).then(|| target / current)
}

/// Scales `samples` in place to the norm's target. An all-zero (or non-finite) waveform is left
/// as it is: there is no direction to scale.
pub fn normalise(samples: &mut [f32], norm: SourceNorm) {
    if let Some(gain) = gain(samples, norm) {
        for v in samples.iter_mut() {
            *v = (f64::from(*v) * gain) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l2(x: &[f32]) -> f64 {
        x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt()
    }
    fn l1(x: &[f32]) -> f64 {
        x.iter().map(|&v| f64::from(v).abs()).sum()
    }

    #[test]
    fn reaches_the_targets() {
        let base: Vec<f32> = (0..1000)
            .map(|n| ((n * 37 % 101) as f32 - 50.0) / 70.0)
            .collect();
        let mut x = base.clone();
        normalise(&mut x, SourceNorm::SqrSum);
        assert!((l2(&x) - 10.0).abs() < 1e-4);
        let mut x = base.clone();
        normalise(&mut x, SourceNorm::AbsSum);
        assert!((l1(&x) - 400.0).abs() < 1e-2);
        let mut x = base.clone();
        normalise(&mut x, SourceNorm::None);
        assert_eq!(x, base);
    }

    #[test]
    fn leaves_silence_alone() {
        let mut x = vec![0.0f32; 64];
        normalise(&mut x, SourceNorm::SqrSum);
        normalise(&mut x, SourceNorm::AbsSum);
        assert!(x.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn serde_names_are_lowercase() {
        #[derive(Deserialize)]
        struct W {
            n: SourceNorm,
        }
        let w: W = toml::from_str("n = \"abssum\"").unwrap();
        assert_eq!(w.n, SourceNorm::AbsSum);
        let w: W = toml::from_str("n = \"no\"").unwrap();
        assert_eq!(w.n, SourceNorm::None);
        assert!(toml::from_str::<W>("n = \"SqrSum\"").is_err());
        assert_eq!(
            serde_json::to_string(&SourceNorm::SqrSum).unwrap(),
            "\"sqrsum\""
        );
    }
}
