//! Synthesizer: the FFT custom op against the direct time-domain reference, finite differences,
//! the composed (non-CPU) fallback, zero insertion and the kit pool.

use candle_core::{DType, Device, Tensor, Var};
use drummernet::kit::{Kit, KitComponent};
use drummernet::model::ops::synth_fft::{
    fft_len_for, synth_conv, synth_conv_composed, synth_direct_forward,
    synth_direct_grad_activations, synth_direct_grad_waveforms, synth_fft_forward,
    synth_fft_forward_sized, synth_fft_grad_activations, synth_fft_grad_waveforms, FftSizing,
    SynthShape,
};
use drummernet::model::synthesizer::{KitDraw, KitPool, SynthSettings, Synthesizer, WaveformNorm};
use drummernet::model::upsampler::zero_insert;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HOP: usize = 16;

fn uniform(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Activations in [0, 1] with about `density` of them non-zero, like a sparsemax output.
fn sparse(rng: &mut ChaCha8Rng, n: usize, density: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if rng.random_bool(density) {
                rng.random_range(0.0f32..1.0)
            } else {
                0.0
            }
        })
        .collect()
}

fn shape(batch: usize, components: usize, frames: usize, waveform_len: usize) -> SynthShape {
    SynthShape {
        batch,
        components,
        frames,
        hop: HOP,
        waveform_len,
    }
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// max |x − y| relative to max |y|.
fn rel_err(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(x.len(), y.len());
    let d = x
        .iter()
        .zip(y)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    d / max_abs(y).max(1e-30)
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_vec1())
        .expect("tensor to vec")
}

#[test]
fn impulse_gives_scaled_waveform_at_its_frame() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let h = uniform(&mut rng, 3 * 500);
    let mut a = vec![0f32; 300];
    let (k, t0, height) = (1, 7, 0.7f32);
    a[k * 100 + t0] = height;
    let dev = Device::Cpu;
    let out = synth_conv(
        &Tensor::from_vec(a, (1, 3, 100), &dev)?,
        &Tensor::from_vec(h.clone(), (3, 500), &dev)?,
        HOP,
    )?;
    assert_eq!(out.dims(), &[1, 1600]);
    let out = to_vec(&out);
    for (n, &v) in out.iter().enumerate() {
        let want = if (HOP * t0..HOP * t0 + 500).contains(&n) {
            height * h[k * 500 + n - HOP * t0]
        } else {
            0.0
        };
        assert!((v - want).abs() < 1e-5, "sample {n}: {v} vs {want}");
    }
    Ok(())
}

#[test]
fn output_is_truncated_at_hop_times_frames() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (t, l) = (40, 500);
    let h = uniform(&mut rng, l);
    let mut a = vec![0f32; t];
    a[t - 1] = 1.0;
    let dev = Device::Cpu;
    let out = to_vec(&synth_conv(
        &Tensor::from_vec(a, (1, 1, t), &dev)?,
        &Tensor::from_vec(h.clone(), (1, l), &dev)?,
        HOP,
    )?);
    // Only the first 16 samples of the waveform fit after the last frame; nothing wraps around.
    assert_eq!(out.len(), HOP * t);
    assert!(max_abs(&out[..HOP * (t - 1)]) < 1e-5);
    for i in 0..HOP {
        assert!((out[HOP * (t - 1) + i] - h[i]).abs() < 1e-5);
    }
    Ok(())
}

#[test]
fn mix_is_linear_and_sums_components() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let s = shape(2, 3, 100, 500);
    let h = uniform(&mut rng, 3 * 500);
    let a1 = sparse(&mut rng, 600, 0.3);
    let a2 = sparse(&mut rng, 600, 0.3);
    let (alpha, beta) = (0.8f32, -1.7f32);
    let mix: Vec<f32> = a1
        .iter()
        .zip(&a2)
        .map(|(x, y)| alpha * x + beta * y)
        .collect();
    let f = |a: &[f32]| synth_fft_forward(a, &h, s, None).expect("forward");
    let lhs = f(&mix);
    let rhs: Vec<f32> = f(&a1)
        .iter()
        .zip(f(&a2))
        .map(|(x, y)| alpha * x + beta * y)
        .collect();
    assert!(rel_err(&lhs, &rhs) < 1e-5);

    // Sum over components: each component alone, added up, gives the mix.
    let mut summed = vec![0f32; 2 * 1600];
    for k in 0..3 {
        let mut only_k = vec![0f32; 600];
        for b in 0..2 {
            let r = (b * 3 + k) * 100;
            only_k[r..r + 100].copy_from_slice(&a1[r..r + 100]);
        }
        for (acc, v) in summed.iter_mut().zip(f(&only_k)) {
            *acc += v;
        }
    }
    assert!(rel_err(&summed, &f(&a1)) < 1e-5);
}

#[test]
fn fft_matches_direct_reference_small_and_default_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for (s, density) in [
        (shape(2, 3, 100, 500), 0.2),
        (shape(2, 11, 1538, 16_000), 0.03),
    ] {
        let a = sparse(&mut rng, s.batch * s.components * s.frames, density);
        let h = uniform(&mut rng, s.components * s.waveform_len);
        let fast = synth_fft_forward(&a, &h, s, None).expect("forward");
        let direct = synth_direct_forward(&a, &h, s);
        let err = rel_err(&fast, &direct);
        assert!(err < 2e-5, "{s:?}: relative error {err}");

        let g = uniform(&mut rng, s.batch * s.out_len());
        let ga = synth_fft_grad_activations(&g, &h, None, s).expect("grad a");
        let err = rel_err(&ga, &synth_direct_grad_activations(&g, &h, s));
        assert!(err < 2e-5, "{s:?}: grad a relative error {err}");
        let gh = synth_fft_grad_waveforms(&g, &a, s).expect("grad h");
        let err = rel_err(&gh, &synth_direct_grad_waveforms(&g, &a, s));
        assert!(err < 2e-5, "{s:?}: grad h relative error {err}");
    }
}

#[test]
fn fft_length_is_large_enough_and_smooth() {
    // The training item: N + L = 24 608 + 16 000.
    assert_eq!(fft_len_for(40_608, 16, FftSizing::Smooth), 40_960);
    assert_eq!(fft_len_for(40_608, 16, FftSizing::PowerOfTwo), 65_536);
    for need in [1, 31, 32, 33, 1000, 12_345] {
        let f = fft_len_for(need, 16, FftSizing::Smooth);
        assert!(f >= need && f.is_multiple_of(32), "{need} -> {f}");
    }
}

/// Loss = Σ w·synth(a, h); central differences are exact for this bilinear map up to rounding.
#[test]
fn gradients_match_finite_differences() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (b, k, t, l) = (2, 3, 50, 300);
    let dev = Device::Cpu;
    let a0 = sparse(&mut rng, b * k * t, 0.3);
    let h0 = uniform(&mut rng, k * l);
    let w = Tensor::from_vec(uniform(&mut rng, b * HOP * t), (b, HOP * t), &dev)?
        .to_dtype(DType::F64)?;
    let loss = |a: &[f32], h: &[f32]| -> f64 {
        let a = Tensor::from_vec(a.to_vec(), (b, k, t), &dev).expect("a");
        let h = Tensor::from_vec(h.to_vec(), (k, l), &dev).expect("h");
        synth_conv(&a, &h, HOP)
            .and_then(|y| {
                Ok(y.to_dtype(DType::F64)?
                    .mul(&w)?
                    .sum_all()?
                    .to_scalar::<f64>()?)
            })
            .expect("loss")
    };

    let a_var = Var::from_vec(a0.clone(), (b, k, t), &dev)?;
    let h_var = Var::from_vec(h0.clone(), (k, l), &dev)?;
    let y = synth_conv(a_var.as_tensor(), h_var.as_tensor(), HOP)?;
    let grads = y.to_dtype(DType::F64)?.mul(&w)?.sum_all()?.backward()?;
    let ga = to_vec(grads.get(a_var.as_tensor()).expect("grad a"));
    let gh = to_vec(grads.get(h_var.as_tensor()).expect("grad h"));

    let eps = 0.25f32;
    // Zero and non-zero activations alike: the gradient is dense even where a is 0.
    for idx in [0, 7, 49, 50, 123, 200, b * k * t - 1] {
        let (mut up, mut down) = (a0.clone(), a0.clone());
        up[idx] += eps;
        down[idx] -= eps;
        let fd = (loss(&up, &h0) - loss(&down, &h0)) / (2.0 * eps as f64);
        assert!(
            (fd - ga[idx] as f64).abs() < 1e-3 * (1.0 + fd.abs()),
            "da[{idx}]: fd {fd} vs {}",
            ga[idx]
        );
    }
    for idx in [0, 1, 150, 299, 300, 517, k * l - 1] {
        let (mut up, mut down) = (h0.clone(), h0.clone());
        up[idx] += eps;
        down[idx] -= eps;
        let fd = (loss(&a0, &up) - loss(&a0, &down)) / (2.0 * eps as f64);
        assert!(
            (fd - gh[idx] as f64).abs() < 1e-3 * (1.0 + fd.abs()),
            "dh[{idx}]: fd {fd} vs {}",
            gh[idx]
        );
    }
    Ok(())
}

#[test]
fn constant_waveforms_get_no_gradient() -> drummernet::Result<()> {
    let dev = Device::Cpu;
    let a = Var::from_vec(vec![0.5f32; 2 * 20], (1, 2, 20), &dev)?;
    let h = Tensor::ones((2, 40), DType::F32, &dev)?;
    let grads = synth_conv(a.as_tensor(), &h, HOP)?.sum_all()?.backward()?;
    assert!(grads.get(&h).is_none());
    // d/da[k,t] Σ_n y[n] = Σ of the waveform samples that fit before N.
    let ga = to_vec(grads.get(a.as_tensor()).expect("grad a"));
    let n = HOP * 20;
    for (i, g) in ga.iter().enumerate() {
        let t = i % 20;
        let want = 40.min(n - HOP * t) as f32;
        assert!((g - want).abs() < 1e-4, "{i}: {g} vs {want}");
    }
    Ok(())
}

#[test]
fn composed_fallback_matches_fft_op() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // L not a multiple of 16, and L shorter than one frame (a single polyphase tap).
    for (b, k, t, l) in [(2, 3, 60, 250), (2, 2, 10, 9)] {
        let dev = Device::Cpu;
        let a = Var::from_vec(sparse(&mut rng, b * k * t, 0.3), (b, k, t), &dev)?;
        let h = Tensor::from_vec(uniform(&mut rng, k * l), (k, l), &dev)?;
        let w = Tensor::from_vec(uniform(&mut rng, b * HOP * t), (b, HOP * t), &dev)?;
        let fast = synth_conv(a.as_tensor(), &h, HOP)?;
        let composed = synth_conv_composed(a.as_tensor(), &h, HOP)?;
        let err = rel_err(&to_vec(&composed), &to_vec(&fast));
        assert!(err < 1e-5, "L = {l}: forward relative error {err}");
        // Activation gradients agree (candle's CPU conv1d weight gradient is known to be
        // wrong, so the waveform gradient of the fallback is only trusted on other devices).
        let g_fast = fast.mul(&w)?.sum_all()?.backward()?;
        let g_comp = composed.mul(&w)?.sum_all()?.backward()?;
        let (x, y) = (
            to_vec(g_comp.get(a.as_tensor()).expect("grad")),
            to_vec(g_fast.get(a.as_tensor()).expect("grad")),
        );
        let err = rel_err(&x, &y);
        assert!(err < 1e-5, "L = {l}: grad a relative error {err}");
    }
    Ok(())
}

#[test]
fn synthesis_equals_convolving_the_zero_inserted_tracks() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (b, k, t, l) = (1, 2, 30, 100);
    let dev = Device::Cpu;
    let a = Tensor::from_vec(sparse(&mut rng, b * k * t, 0.5), (b, k, t), &dev)?;
    let h = uniform(&mut rng, k * l);
    let y = to_vec(&zero_insert(&a, HOP)?);
    let n = HOP * t;
    let mut want = vec![0f32; n];
    for kk in 0..k {
        for (i, out) in want.iter_mut().enumerate() {
            for m in 0..l.min(i + 1) {
                *out += y[kk * n + i - m] * h[kk * l + m];
            }
        }
    }
    let got = to_vec(&synth_conv(&a, &Tensor::from_vec(h, (k, l), &dev)?, HOP)?);
    assert!(rel_err(&got, &want) < 1e-5);
    Ok(())
}

#[test]
fn zero_insert_round_trips_and_backpropagates() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let dev = Device::Cpu;
    let a = Var::from_vec(uniform(&mut rng, 2 * 3 * 5), (2, 3, 5), &dev)?;
    let y = zero_insert(a.as_tensor(), HOP)?;
    assert_eq!(y.dims(), &[2, 3, 80]);
    // Decimating gives a back; the other 15 of every 16 samples are zero.
    let y4 = y.reshape((2, 3, 5, HOP))?;
    let kept = y4.narrow(3, 0, 1)?.squeeze(3)?;
    assert_eq!(to_vec(&kept), to_vec(a.as_tensor()));
    assert_eq!(max_abs(&to_vec(&y4.narrow(3, 1, HOP - 1)?)), 0.0);
    let w = Tensor::from_vec(uniform(&mut rng, 2 * 3 * 80), (2, 3, 80), &dev)?;
    let grads = y.mul(&w)?.sum_all()?.backward()?;
    let g = to_vec(grads.get(a.as_tensor()).expect("grad"));
    let want = to_vec(&w.reshape((2, 3, 5, HOP))?.narrow(3, 0, 1)?);
    assert_eq!(g, want);
    Ok(())
}

fn test_kit(name: &str, rng: &mut ChaCha8Rng, names: &[&str], len: usize) -> Kit {
    Kit {
        name: name.into(),
        components: names
            .iter()
            .map(|n| KitComponent {
                name: n.to_string(),
                samples: uniform(rng, len),
            })
            .collect(),
    }
}

fn component_names() -> Vec<String> {
    drummernet::kit::components::default_component_names()
}

#[test]
fn kit_pool_draws_deterministically_and_normalises() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let names = component_names();
    let mut reversed: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    reversed.reverse(); // kit files in another order than the model
    let kits: Vec<Kit> = (0..4)
        .map(|i| test_kit(&format!("kit{i}"), &mut rng, &reversed, 20_000 - i * 6_000))
        .collect();
    let settings = SynthSettings::default();
    let pool = KitPool::new(&kits, &names, &settings, &Device::Cpu)?;
    assert_eq!(pool.waveform_len(), 16_000);

    let draw = |seed: u64, mode: KitDraw| -> (Vec<usize>, Vec<f32>) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let idx = pool.draw_indices(&mut r, mode);
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let h = pool.draw(&mut r, mode).expect("draw");
        assert_eq!(h.dims(), &[11, 16_000]);
        (idx, to_vec(&h))
    };
    let (idx_c, h_c) = draw(42, KitDraw::PerComponent);
    assert_eq!(
        draw(42, KitDraw::PerComponent),
        (idx_c.clone(), h_c.clone())
    );
    assert!(idx_c.iter().any(|&i| i != idx_c[0]), "{idx_c:?}");
    let (idx_b, h_b) = draw(42, KitDraw::PerBatch);
    assert!(idx_b.iter().all(|&i| i == idx_b[0]));
    assert_ne!(draw(43, KitDraw::PerComponent).0, idx_c);

    for h in [&h_c, &h_b] {
        for row in h.chunks(16_000) {
            let l2 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((l2 - 10.0).abs() < 1e-3, "L2 {l2}");
        }
    }
    // Row k is component names[k] of the drawn kit, cut or zero-padded to 16 000 samples.
    for (k, &i) in idx_c.iter().enumerate() {
        let src = &kits[i].component(&names[k]).expect("component").samples;
        let row = &h_c[k * 16_000..(k + 1) * 16_000];
        let n = src.len().min(16_000);
        let gain = row[0] / src[0];
        for j in [1, 100, n - 1] {
            assert!((row[j] - gain * src[j]).abs() < 1e-5);
        }
        assert!(row[n..].iter().all(|&v| v == 0.0));
    }

    // The per-item draw: any kit (here one outside the pool) in the model's component order,
    // normalised as the pool's; a kit of the pool gives exactly that kit's rows.
    let outsider = test_kit("outsider", &mut rng, &reversed, 9_000);
    let own = to_vec(&pool.kit_waveforms(&outsider)?);
    let alone = KitPool::new(&[outsider], &names, &settings, &Device::Cpu)?;
    assert_eq!(own, to_vec(&alone.waveforms(&[0; 11])?));
    assert_eq!(
        to_vec(&pool.kit_waveforms(&kits[2])?),
        to_vec(&pool.waveforms(&[2; 11])?)
    );
    // Items without a kit fall back to per-component draws.
    let mut r = ChaCha8Rng::seed_from_u64(42);
    assert_eq!(pool.draw_indices(&mut r, KitDraw::PerItem), idx_c);
    Ok(())
}

#[test]
fn kit_pool_names_a_missing_component() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let kit = test_kit("studio", &mut rng, &["KD_KD", "SD_SD"], 100);
    let err = KitPool::new(
        &[kit],
        &component_names(),
        &SynthSettings::default(),
        &Device::Cpu,
    )
    .expect_err("missing components");
    let msg = err.to_string();
    assert!(msg.contains("studio") && msg.contains("HH_CHH"), "{msg}");
}

#[test]
fn settings_parse_and_validate() {
    let s: SynthSettings =
        toml::from_str("draw = \"perbatch\"\nnorm = \"abssum\"\nwaveform_seconds = 0.5").unwrap();
    assert_eq!(s.draw, KitDraw::PerBatch);
    assert_eq!(s.waveform_len(), 8_000);
    assert!(s.validate("synth").is_ok());
    assert!(toml::from_str::<SynthSettings>("bogus = 1").is_err());
    let bad = SynthSettings {
        waveform_seconds: 0.0,
        ..SynthSettings::default()
    };
    let msg = bad.validate("synth").unwrap_err().to_string();
    assert!(msg.contains("synth.waveform_seconds"), "{msg}");
}

#[test]
fn kit_balance_keeps_each_kits_levels_and_gives_its_loudest_component_the_norm(
) -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let names = component_names();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    // Two kits whose components differ in level (component k at 1 / (k + 1)), the second
    // 5x quieter overall and with its loudest component elsewhere.
    let mut kits: Vec<Kit> = (0..2)
        .map(|i| test_kit(&format!("kit{i}"), &mut rng, &refs, 16_000))
        .collect();
    for (i, kit) in kits.iter_mut().enumerate() {
        for (k, c) in kit.components.iter_mut().enumerate() {
            let level = if i == 0 {
                1.0 / (k + 1) as f32
            } else {
                0.2 / (11 - k) as f32
            };
            c.samples.iter_mut().for_each(|v| *v *= level);
        }
    }
    let l2 = |x: &[f32]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    for norm in [WaveformNorm::SqrSum, WaveformNorm::AbsSum] {
        let settings = SynthSettings {
            kit_balance: true,
            norm,
            ..SynthSettings::default()
        };
        let pool = KitPool::new(&kits, &names, &settings, &Device::Cpu)?;
        for (i, kit) in kits.iter().enumerate() {
            let rows = to_vec(&pool.waveforms(&[i; 11])?);
            let rows: Vec<&[f32]> = rows.chunks(16_000).collect();
            // One gain for the whole kit: every row is its source times the same number.
            let gain = rows[0][5] / kit.components[0].samples[5];
            for (row, c) in rows.iter().zip(&kit.components) {
                for j in [0, 777, 15_999] {
                    assert!(
                        (row[j] - gain * c.samples[j]).abs() <= 1e-5 * gain.abs(),
                        "kit {i}"
                    );
                }
            }
            // The loudest row is at the norm's target, as it alone would be.
            let loudest = if i == 0 { 0 } else { 10 };
            let mut alone = kit.components[loudest].samples.clone();
            drummernet::kit::normalise(&mut alone, norm);
            assert!(
                (l2(rows[loudest]) - l2(&alone)).abs() < 1e-3 * l2(&alone),
                "kit {i}"
            );
            assert!(rows
                .iter()
                .all(|r| l2(r) <= l2(rows[loudest]) * (1.0 + 1e-6)));
        }
    }
    // Off (the default), every row has the norm's target on its own.
    let pool = KitPool::new(&kits, &names, &SynthSettings::default(), &Device::Cpu)?;
    let rows = to_vec(&pool.waveforms(&[0; 11])?);
    assert!(rows.chunks(16_000).all(|r| (l2(r) - 10.0).abs() < 1e-3));
    // Learned waveforms or no norm: there is no kit to balance.
    for bad in [
        SynthSettings {
            kit_balance: true,
            trainable: true,
            ..SynthSettings::default()
        },
        SynthSettings {
            kit_balance: true,
            norm: WaveformNorm::None,
            ..SynthSettings::default()
        },
    ] {
        let msg = bad.validate("synth").unwrap_err().to_string();
        assert!(msg.contains("synth.kit_balance"), "{msg}");
    }
    Ok(())
}

#[test]
fn trainable_waveforms_learn_and_keep_their_norm() -> drummernet::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let dev = Device::Cpu;
    let init = Tensor::from_vec(uniform(&mut rng, 2 * 64), (2, 64), &dev)?;
    let synth = Synthesizer::trainable(&init, HOP, WaveformNorm::SqrSum)?;
    let var = synth.learned_waveforms().expect("trainable").clone();
    let a = Tensor::from_vec(sparse(&mut rng, 2 * 10, 0.5), (1, 2, 10), &dev)?;
    let y = synth.forward_learned(&a)?;
    let grads = y.sqr()?.sum_all()?.backward()?;
    let g = grads.get(var.as_tensor()).expect("waveform gradient");
    // A gradient step that grows the waveforms, then the projection pulls them back to norm 10.
    var.set(&(var.as_tensor() + g.affine(0.1, 0.0)?)?)?;
    synth.project_norm()?;
    let norms = to_vec(&var.as_tensor().sqr()?.sum_keepdim(1)?.sqrt()?);
    for n in norms {
        assert!((n - 10.0).abs() < 1e-4, "{n}");
    }
    assert!(Synthesizer::new(HOP, WaveformNorm::SqrSum)
        .forward_learned(&a)
        .is_err());
    Ok(())
}

/// Timing report (not a test): `cargo test --release --test model synth:: -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_timings() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let s = shape(16, 11, 1538, 16_000);
    let dense: Vec<f32> = (0..s.batch * s.components * s.frames)
        .map(|_| rng.random_range(0.0f32..1.0))
        .collect();
    let sparse5 = sparse(&mut rng, dense.len(), 0.05);
    let h = uniform(&mut rng, s.components * s.waveform_len);
    let g = uniform(&mut rng, s.batch * s.out_len());
    // The machine is shared: report the fastest of a few runs.
    let time = |f: &dyn Fn()| {
        f(); // warm-up (plans, pages)
        (0..4)
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .fold(f64::INFINITY, f64::min)
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            for (label, a) in [("dense", &dense), ("5% non-zero", &sparse5)] {
                let fwd = time(&|| {
                    synth_fft_forward(a, &h, s, None).expect("fwd");
                });
                let ga = time(&|| {
                    synth_fft_grad_activations(&g, &h, None, s).expect("ga");
                });
                let gh = time(&|| {
                    synth_fft_grad_waveforms(&g, a, s).expect("gh");
                });
                println!(
                    "fft    {threads} thr {label:>12}: fwd {fwd:8.1} ms  grad a {ga:8.1} ms  grad h {gh:8.1} ms"
                );
            }
            let pow2 = fft_len_for(s.out_len() + s.waveform_len, HOP, FftSizing::PowerOfTwo);
            let fwd = time(&|| {
                synth_fft_forward_sized(&dense, &h, s, None, pow2).expect("fwd");
            });
            println!("fft    {threads} thr        dense: fwd {fwd:8.1} ms at F = {pow2} (power of two, kit spectra included)");
            let fwd = time(&|| {
                synth_fft_forward(&dense, &h, s, None).expect("fwd");
            });
            println!("fft    {threads} thr        dense: fwd {fwd:8.1} ms at F = {} (5-smooth, kit spectra included)", s.fft_len());
            let fwd = time(&|| {
                synth_direct_forward(&sparse5, &h, s);
            });
            let gh = time(&|| {
                synth_direct_grad_waveforms(&g, &sparse5, s);
            });
            // The direct activation gradient cannot skip anything (the output gradient is
            // dense): B·K·T·L multiply-adds, timed once.
            let start = std::time::Instant::now();
            synth_direct_grad_activations(&g, &h, s);
            let ga = start.elapsed().as_secs_f64() * 1000.0;
            println!("direct {threads} thr  5% non-zero: fwd {fwd:8.1} ms  grad a {ga:8.1} ms  grad h {gh:8.1} ms");
            let dev = Device::Cpu;
            let a_var = Var::from_vec(sparse5.clone(), (16, 11, 1538), &dev).expect("var");
            let h_t = Tensor::from_vec(h.clone(), (11, 16_000), &dev).expect("h");
            let op = time(&|| {
                let y = synth_conv(a_var.as_tensor(), &h_t, HOP).expect("op");
                y.sum_all().and_then(|l| l.backward()).expect("bwd");
            });
            println!("op     {threads} thr  candle fwd+bwd(a), kit spectra included: {op:8.1} ms");
            let h_var = Var::from_tensor(&h_t).expect("var");
            let op = time(&|| {
                let y = synth_conv(a_var.as_tensor(), h_var.as_tensor(), HOP).expect("op");
                y.sum_all().and_then(|l| l.backward()).expect("bwd");
            });
            println!("op     {threads} thr  candle fwd+bwd(a, h), trainable waveforms: {op:8.1} ms");
        });
    }
}
