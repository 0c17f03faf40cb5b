//! The multi-resolution pseudo-CQT loss against the independent numpy reference
//! (`tests/reference/cqt_reference.py`), and its properties and gradients.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use drummernet::model::loss::{CqtLoss, LossMetric, LossSettings};

use crate::support;
use support::{assert_gradient_matches_finite_differences, noise, run_on_one_batch, scalar};

struct Fixture {
    header: serde_json::Value,
    data: Vec<f32>,
}

impl Fixture {
    fn load() -> Fixture {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
        let header = std::fs::read_to_string(dir.join("cqt_fixture.json")).unwrap();
        let bytes = std::fs::read(dir.join("cqt_fixture.bin")).unwrap();
        let data = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Fixture {
            header: serde_json::from_str(&header).unwrap(),
            data,
        }
    }

    fn usize(&self, key: &str) -> usize {
        self.header[key].as_u64().unwrap() as usize
    }

    fn signals(&self) -> Tensor {
        let (s, n) = (self.usize("n_signals"), self.usize("n_samples"));
        Tensor::from_slice(&self.data[..s * n], (s, n), &Device::Cpu).unwrap()
    }

    /// C_s of signal `signal` at scale `scale`: bins × frames.
    fn cqt(&self, signal: usize, scale: usize) -> &[f32] {
        let (s, n) = (self.usize("n_signals"), self.usize("n_samples"));
        let (bins, frames) = (self.usize("bins"), self.usize("n_frames"));
        let scales = self.header["scales"].as_array().unwrap().len();
        let start = s * n + (signal * scales + scale) * bins * frames;
        &self.data[start..start + bins * frames]
    }
}

/// A (batch, n) f32 tensor of the support module's deterministic noise.
fn noise_f32(batch: usize, n: usize, seed: f64) -> Tensor {
    Tensor::from_vec(noise(batch, n, seed), (batch, n), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

fn loss_on_cpu() -> CqtLoss {
    CqtLoss::new(&LossSettings::default(), &Device::Cpu).unwrap()
}

#[test]
fn basis_matches_the_reference() {
    let fx = Fixture::load();
    let loss = loss_on_cpu();
    let rows = fx.header["basis_rows"].as_array().unwrap();
    let mut i = 0;
    for scale in loss.scales() {
        for row in &scale.rows {
            let start = rows[i]["start"].as_u64().unwrap() as usize;
            let nnz = rows[i]["nnz"].as_u64().unwrap() as usize;
            assert_eq!(row.len(), nnz, "fmin {} row {}: nnz", scale.fmin, i % 12);
            for (j, &(bin, weight)) in row.iter().enumerate() {
                let ref_bin = fx.data[start + 2 * j] as usize;
                let ref_weight = fx.data[start + 2 * j + 1];
                assert_eq!(bin, ref_bin);
                assert!(
                    (weight - ref_weight).abs() <= 1e-6 * ref_weight.abs(),
                    "fmin {} bin {bin}: {weight} vs {ref_weight}",
                    scale.fmin
                );
            }
            i += 1;
        }
    }
    assert_eq!(i, rows.len());
}

/// Tolerance: 1e-4 relative where |C| ≥ 1, 1e-4 absolute below. C is a log10, so 1e-4 in C is
/// a 2.3e-4 relative error of Cq; values near 0 are bins at the eps floor, where the f32 sums of
/// up to 4 096 products (the reference is f64) leave an absolute, not relative, error.
fn close(got: f32, want: f32) -> bool {
    (got - want).abs() <= 1e-4 * want.abs().max(1.0)
}

#[test]
fn every_cqt_value_matches_the_reference() {
    let fx = Fixture::load();
    let loss = loss_on_cpu();
    let cqts = loss.cqt(&fx.signals()).unwrap();
    let mut worst = 0f32;
    for (scale, c) in cqts.iter().enumerate() {
        let (signals, bins, frames) = c.dims3().unwrap();
        assert_eq!((bins, frames), (fx.usize("bins"), fx.usize("n_frames")));
        let c = c.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for signal in 0..signals {
            let want = fx.cqt(signal, scale);
            let got = &c[signal * bins * frames..(signal + 1) * bins * frames];
            for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
                worst = worst.max((g - w).abs() / w.abs().max(1.0));
                assert!(
                    close(g, w),
                    "signal {signal} scale {scale} bin {} frame {}: {g} vs {w}",
                    i / frames,
                    i % frames
                );
            }
        }
    }
    println!("worst scaled error {worst:e}");
}

#[test]
fn the_loss_matches_the_reference() {
    let fx = Fixture::load();
    let loss = loss_on_cpu();
    let signals = fx.signals();
    let rolled = Tensor::cat(
        &[
            signals.narrow(0, 1, 2).unwrap(),
            signals.narrow(0, 0, 1).unwrap(),
        ],
        0,
    )
    .unwrap();
    let out = loss.forward(&signals, &rolled).unwrap();
    let want: Vec<f64> = fx.header["loss_per_scale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (s, (&got, want)) in out.per_scale.iter().zip(&want).enumerate() {
        assert!(
            ((got as f64) - want).abs() <= 1e-4 * want,
            "scale {s}: {got} vs {want}"
        );
    }
    let total = fx.header["loss_total"].as_f64().unwrap();
    assert!(
        (scalar(&out.total) - total).abs() <= 1e-4 * total,
        "{} vs {total}",
        scalar(&out.total)
    );
}

#[test]
fn loss_is_zero_for_identical_signals_and_positive_otherwise() {
    let loss = loss_on_cpu();
    let n = 9_000;
    let x = noise_f32(2, n, 0.1);
    let same = loss.forward(&x, &x).unwrap();
    assert_eq!(scalar(&same.total), 0.0);
    assert!(same.per_scale.iter().all(|&v| v == 0.0));
    let quieter = (&x * 0.9).unwrap();
    let other = loss.forward(&x, &quieter).unwrap();
    assert!(
        other.per_scale.iter().all(|&v| v > 0.0),
        "{:?}",
        other.per_scale
    );
    assert!(scalar(&other.total) > 0.0);
    // A 0.9 gain lowers every unfloored log-magnitude by about log10(0.9) = −0.046, times 4 per
    // scale; floored bins change less, so each scale's term is at most 4·0.046.
    assert!(
        other.per_scale.iter().all(|&v| v <= 4.0 * 0.0458 + 1e-4),
        "{:?}",
        other.per_scale
    );
}

#[test]
fn a_sine_at_a_bin_centre_peaks_in_that_bin() {
    let loss = loss_on_cpu();
    let n = 9_000;
    for (s, scale) in loss.scales().enumerate() {
        for k in [2usize, 7] {
            let f = scale.fmin * 2f64.powf(k as f64 / 12.0);
            let y: Vec<f32> = (0..n)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 16_000.0).sin() as f32)
                .collect();
            let y = Tensor::from_vec(y, (1, n), &Device::Cpu).unwrap();
            let c = loss.cqt(&y).unwrap()[s]
                .squeeze(0)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let frame = c[0].len() / 2;
            let column: Vec<f32> = c.iter().map(|row| row[frame]).collect();
            let argmax = (0..12)
                .max_by(|&a, &b| column[a].total_cmp(&column[b]))
                .unwrap();
            assert_eq!(argmax, k, "scale {s} sine at {f:.1} Hz: {column:?}");
            assert!(column[k - 1] < column[k] && column[k + 1] < column[k]);
        }
    }
}

#[test]
fn scale_weights_multiply_each_scale_term() {
    let n = 9_000;
    let x = noise_f32(2, n, 0.1);
    let y = (&x * 0.7).unwrap();
    let plain = loss_on_cpu().forward(&x, &y).unwrap();
    let weights = vec![0.0, 1.0, 1.0, 2.0, 1.0, 1.0, 0.5, 4.0];
    let settings = LossSettings {
        scale_weights: weights.clone(),
        ..Default::default()
    };
    let weighted = CqtLoss::new(&settings, &Device::Cpu)
        .unwrap()
        .forward(&x, &y)
        .unwrap();
    let mut want = 0.0;
    for ((&p, &w), &got) in plain
        .per_scale
        .iter()
        .zip(&weights)
        .zip(&weighted.per_scale)
    {
        assert!(
            (got - p * w as f32).abs() <= 1e-6 * p.abs().max(1.0),
            "{got} vs {p} x {w}"
        );
        want += p * w as f32;
    }
    let total = scalar(&weighted.total);
    let want = f64::from(want);
    assert!((total - want).abs() <= 1e-5 * want, "{total} vs {want}");
    // One weight per scale or none: anything else names the key.
    let short = LossSettings {
        scale_weights: vec![1.0; 3],
        ..Default::default()
    };
    let err = short.validate("loss").unwrap_err().to_string();
    assert!(err.contains("loss.scale_weights"), "{err}");
}

fn onset_settings(lag: usize) -> LossSettings {
    LossSettings {
        onset_weights: vec![0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.0, 2.0],
        onset_lag: lag,
        ..Default::default()
    }
}

#[test]
fn onset_term_adds_the_weighted_distance_of_the_positive_cqt_changes() {
    let n = 9_000;
    let x = noise_f32(2, n, 0.1);
    let y = noise_f32(2, n, 2.3);
    let plain = loss_on_cpu();
    let level = plain.forward(&x, &y).unwrap();
    let settings = onset_settings(3);
    let with = CqtLoss::new(&settings, &Device::Cpu)
        .unwrap()
        .forward(&x, &y)
        .unwrap();
    // The onset term by hand, from the CQT columns: max(0, C[t] - C[t - lag]).
    let onset = |c: &Tensor| -> Vec<f32> {
        let (b, k, t) = c.dims3().unwrap();
        let v: Vec<f32> = c.flatten_all().unwrap().to_vec1().unwrap();
        let mut out = Vec::new();
        for i in 0..b * k {
            for j in 3..t {
                out.push((v[i * t + j] - v[i * t + j - 3]).max(0.0));
            }
        }
        out
    };
    let (cx, cy) = (plain.cqt(&x).unwrap(), plain.cqt(&y).unwrap());
    let mut want_total = 0.0f64;
    for (s, &w) in settings.onset_weights.iter().enumerate() {
        let (ox, oy) = (onset(&cx[s]), onset(&cy[s]));
        let mean = ox
            .iter()
            .zip(&oy)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / ox.len() as f64;
        let want = f64::from(level.per_scale[s]) + 4.0 * w * mean;
        let got = f64::from(with.per_scale[s]);
        assert!(
            (got - want).abs() <= 1e-5 * want,
            "scale {s}: {got} vs {want}"
        );
        if w > 0.0 {
            assert!(
                4.0 * w * mean > 1e-3,
                "scale {s}: onsets of two noises should differ"
            );
        }
        want_total += want;
    }
    let total = scalar(&with.total);
    assert!(
        (total - want_total).abs() <= 1e-5 * want_total,
        "{total} vs {want_total}"
    );
}

#[test]
fn onset_term_ignores_a_gain_that_the_level_term_charges() {
    // A quieter copy shifts every log-CQT value by the same amount: its onsets are the
    // target's, so only the level term sees it.
    let n = 9_000;
    let x = noise_f32(1, n, 0.4);
    let y = (&x * 0.5).unwrap();
    let level = loss_on_cpu().forward(&x, &y).unwrap();
    let with = CqtLoss::new(&onset_settings(2), &Device::Cpu)
        .unwrap()
        .forward(&x, &y)
        .unwrap();
    let onset_part = scalar(&with.total) - scalar(&level.total);
    assert!(scalar(&level.total) > 1.0, "{}", scalar(&level.total));
    assert!(
        onset_part.abs() < 1e-3 * scalar(&level.total),
        "{onset_part}"
    );
    // Wrong lengths and lags name their key.
    let bad = LossSettings {
        onset_weights: vec![1.0; 2],
        ..Default::default()
    };
    assert!(bad
        .validate("loss")
        .unwrap_err()
        .to_string()
        .contains("loss.onset_weights"));
    let bad = LossSettings {
        onset_lag: 0,
        ..Default::default()
    };
    assert!(bad
        .validate("loss")
        .unwrap_err()
        .to_string()
        .contains("loss.onset_lag"));
}

#[test]
fn onset_term_gradient_matches_finite_differences() {
    let n = 2_100;
    let loss = CqtLoss::new(&onset_settings(2), &Device::Cpu).unwrap();
    let coords: Vec<usize> = [0, 1, 63, 64, 1_050, n - 1]
        .into_iter()
        .chain((0..n).step_by(131))
        .collect();
    assert_gradient_matches_finite_differences(&loss, n, 1.0, &coords);
}

/// Central finite differences at sampled coordinates of the estimate. `amplitude` scales the
/// estimate: at 1e-4 most magnitudes sit near the eps floor, where the floors inside the sqrt
/// and the log shape the gradient.
fn check_gradient(n: usize, coords: &[usize], metric: LossMetric, amplitude: f64) {
    let settings = LossSettings {
        metric,
        ..Default::default()
    };
    let loss = CqtLoss::new(&settings, &Device::Cpu).unwrap();
    assert_gradient_matches_finite_differences(&loss, n, amplitude, coords);
}

#[test]
fn gradient_matches_finite_differences_on_a_short_signal() {
    // 2 100 samples is legal for every scale here (the reflection needs N > n_fft/8).
    let n = 2_100;
    let coords: Vec<usize> = [
        0,
        1,
        2,
        15,
        31,
        63,
        64,
        500,
        1_050,
        2_047,
        2_048,
        n - 64,
        n - 2,
        n - 1,
    ]
    .into_iter()
    .chain((0..n).step_by(97))
    .collect();
    check_gradient(n, &coords, LossMetric::Mae, 1.0);
    check_gradient(n, &[0, 3, 700, n - 1], LossMetric::Mse, 1.0);
    check_gradient(n, &[0, 5, 64, 1_000, n - 1], LossMetric::Mae, 1e-4);
}

#[test]
fn gradient_matches_finite_differences_at_full_size() {
    let n = 9_000;
    check_gradient(n, &[0, 1, 2_000, 4_500, 8_191, n - 1], LossMetric::Mae, 1.0);
}

#[test]
fn composed_path_equals_the_fused_op_in_value_and_gradient() {
    let n = 9_000;
    let fused = loss_on_cpu();
    let composed = loss_on_cpu().composed_only();
    let results = run_on_one_batch(&[&fused, &composed], n);
    let (a, b) = (&results[0], &results[1]);
    assert!(
        (a.total - b.total).abs() <= 1e-5 * a.total,
        "{} vs {}",
        a.total,
        b.total
    );
    for (x, y) in a.per_scale.iter().zip(&b.per_scale) {
        assert!((x - y).abs() <= 1e-5 * x.abs());
    }
    let scale = a.grad.iter().fold(0f32, |m, g| m.max(g.abs()));
    for (i, (x, y)) in a.grad.iter().zip(&b.grad).enumerate() {
        assert!((x - y).abs() <= 1e-3 * scale, "sample {i}: {x} vs {y}");
    }
}

#[test]
fn mismatched_shapes_and_short_signals_are_errors() {
    let loss = loss_on_cpu();
    let a = Tensor::zeros((1, 9_000), DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::zeros((1, 9_064), DType::F32, &Device::Cpu).unwrap();
    assert!(loss.forward(&a, &b).is_err());
    let short = Tensor::zeros((1, 2_000), DType::F32, &Device::Cpu).unwrap();
    assert!(loss.forward(&short, &short).is_err());
    let (b3, a3) = (a.unsqueeze(1).unwrap(), a.unsqueeze(1).unwrap());
    assert!(loss.forward(&a3, &b3).is_ok());
}

/// Process CPU seconds (user + system) from /proc, so timings on a shared machine can be read
/// as work done rather than wall time; None off Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `cargo test --release --test model -- --ignored --nocapture timing`
#[test]
#[ignore]
fn timing_batch_16_of_24608_samples() {
    let (batch, n) = (16, 24_608);
    let fused = loss_on_cpu();
    let composed = loss_on_cpu().composed_only();
    let signal = |seed| noise_f32(batch, n, seed);
    let (target, base) = (signal(0.5), signal(1.5));
    let estimate = Var::from_tensor(&base).unwrap();
    for (name, loss, runs) in [("fused", &fused, 10), ("composed", &composed, 2)] {
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        for _ in 0..runs {
            loss.forward(&target, estimate.as_tensor()).unwrap();
        }
        let forward = wall.elapsed().as_secs_f64() / runs as f64;
        let forward_cpu = cpu_seconds().zip(cpu).map(|(b, a)| (b - a) / runs as f64);
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        for _ in 0..runs {
            let out = loss.forward(&target, estimate.as_tensor()).unwrap();
            out.total.backward().unwrap();
        }
        let both = wall.elapsed().as_secs_f64() / runs as f64;
        let both_cpu = cpu_seconds().zip(cpu).map(|(b, a)| (b - a) / runs as f64);
        println!(
            "CQT loss ({name}) B={batch} N={n}: forward {:.1} ms wall ({:.1} ms CPU), \
             forward+backward {:.1} ms wall ({:.1} ms CPU), mean of {runs}, {} rayon threads",
            forward * 1e3,
            forward_cpu.unwrap_or(f64::NAN) * 1e3,
            both * 1e3,
            both_cpu.unwrap_or(f64::NAN) * 1e3,
            rayon::current_num_threads()
        );
    }
}
