//! Chunked inference: any length of audio in overlapping windows whose centres are kept.
//!
//! Geometry (all in song samples, `hop` = 16, `grid` = 1 024): a window keeps the activations
//! of song samples `[s, s + chunk)` with `s` a multiple of `grid`. Its input starts at
//! `s - extra - context` and is `chunk + 2 extra + 2 context` samples long, rounded up to a
//! multiple of the model's compress ratio with further song samples (not zeros). Output frame
//! `j` of the window then stands for song sample `s - extra + hop j`: frame 0 falls on the
//! absolute `grid`, so the 64-frame time-sparsemax windows are the same in every chunk and in a
//! single pass, and kept centres concatenate with no drift. `extra` (a multiple of `grid`)
//! gives the recurrent layers context. Samples outside the song are zeros, as in the
//! release's evaluator (spec section 10), so frame `t` of the result is song time `hop t / sr`.

use std::collections::VecDeque;
use std::sync::Mutex;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::model::drummernet::DrummerNet;
use crate::model::unet::InferenceWorkspace;

use super::settings::InferenceSettings;

/// What the chunker needs from a model: geometry and a batched forward pass.
pub trait FrameModel {
    fn n_components(&self) -> usize;
    /// Samples eaten by the valid convolutions on each side (4 080 for the release).
    fn context_samples(&self) -> usize;
    /// Samples per activation frame (16).
    fn frame_hop(&self) -> usize;
    /// Input lengths must be multiples of this (1 024).
    fn compress_ratio(&self) -> usize;
    /// Frames per time-sparsemax window (64); windows are aligned to `frame_hop` times it.
    fn sparsemax_window(&self) -> usize;
    /// Activations of `batch` windows of `len` samples each (row-major in `windows`):
    /// `[window][component][frame]` with at least `(len - 2 context) / hop` frames.
    fn run(&self, windows: &[f32], batch: usize, len: usize) -> Result<Vec<Vec<Vec<f32>>>>;
}

/// A DrummerNet on a device, as a [`FrameModel`].
pub struct NetRunner<'a> {
    net: &'a DrummerNet,
    device: Device,
    /// U-Net level buffers reused from one window to the next.
    workspace: Mutex<InferenceWorkspace>,
}

impl<'a> NetRunner<'a> {
    pub fn new(net: &'a DrummerNet, device: Device) -> Self {
        NetRunner {
            net,
            device,
            workspace: Mutex::new(InferenceWorkspace::default()),
        }
    }

    pub fn net(&self) -> &DrummerNet {
        self.net
    }
}

impl FrameModel for NetRunner<'_> {
    fn n_components(&self) -> usize {
        self.net.config().n_components()
    }
    fn context_samples(&self) -> usize {
        self.net.context_samples()
    }
    fn frame_hop(&self) -> usize {
        self.net.config().frame_hop()
    }
    fn compress_ratio(&self) -> usize {
        self.net.config().compress_ratio()
    }
    fn sparsemax_window(&self) -> usize {
        self.net.config().sparsemax_window
    }
    fn run(&self, windows: &[f32], batch: usize, len: usize) -> Result<Vec<Vec<Vec<f32>>>> {
        let x = Tensor::from_slice(windows, (batch, len), &self.device)?;
        // A poisoned lock only means an earlier window failed; the buffers are still usable.
        let mut ws = self.workspace.lock().unwrap_or_else(|e| e.into_inner());
        let a = self.net.infer(&x, &mut ws)?;
        Ok(a.to_device(&Device::Cpu)?
            .to_dtype(candle_core::DType::F32)?
            .to_vec3::<f32>()?)
    }
}

/// One window of a [`ChunkPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Song sample of the window's first input sample (negative before the song).
    pub input_start: i64,
    /// First song frame the window keeps, and how many.
    pub first_frame: usize,
    pub frames: usize,
    /// Output frame of the window that is song frame `first_frame`.
    pub offset: usize,
}

/// The window layout for a song of `song_len` samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    pub hop: usize,
    pub context: usize,
    /// Kept samples per window, and recurrent context per side (multiples of the grid).
    pub chunk: usize,
    pub extra: usize,
    /// Input samples per window (a multiple of the compress ratio).
    pub window_len: usize,
    /// Activation frames of the whole song: ceil(song_len / hop).
    pub total_frames: usize,
    /// The model's compress ratio.
    pub ratio: usize,
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

impl ChunkPlan {
    pub fn new(
        model: &dyn FrameModel,
        settings: &InferenceSettings,
        sample_rate: u32,
        song_len: usize,
    ) -> ChunkPlan {
        let hop = model.frame_hop();
        let grid = lcm(model.compress_ratio(), hop * model.sparsemax_window());
        let round_up = |s: f64, m: usize| -> usize {
            let n = (s * sample_rate as f64).ceil().max(0.0) as usize;
            n.div_ceil(m) * m
        };
        let chunk = round_up(settings.chunk_seconds, grid).max(grid);
        let extra = round_up(settings.context_seconds, grid);
        let context = model.context_samples();
        let ratio = model.compress_ratio();
        let window_len = (chunk + 2 * extra + 2 * context).div_ceil(ratio) * ratio;
        ChunkPlan {
            hop,
            context,
            chunk,
            extra,
            window_len,
            total_frames: song_len.div_ceil(hop),
            ratio,
        }
    }

    /// The windows in song order. Windows are clamped to the input a single pass over the whole
    /// song would see (`context` zeros before the song; after it, the song padded to the grid,
    /// `context` zeros and the compress-ratio padding), so the first and last windows see exactly
    /// the single pass's edges; a song that fits in one window gets exactly that input.
    pub fn windows(&self) -> impl Iterator<Item = Window> + '_ {
        let per_chunk = self.chunk / self.hop;
        let n = self.total_frames.div_ceil(per_chunk);
        let ctx = self.context as i64;
        let whole = self.single_pass_len() as i64;
        let len = self.window_len as i64;
        (0..n).map(move |i| {
            let first_frame = i * per_chunk;
            let s = (i * self.chunk) as i64;
            let input_start = if whole <= len {
                -ctx
            } else {
                (s - self.extra as i64 - ctx).clamp(-ctx, whole - len - ctx)
            };
            Window {
                input_start,
                first_frame,
                frames: per_chunk.min(self.total_frames - first_frame),
                offset: ((s - input_start - ctx) / self.hop as i64) as usize,
            }
        })
    }

    /// Input length of a single pass over the whole song (the release's evaluator).
    pub fn single_pass_len(&self) -> usize {
        let song = (self.total_frames * self.hop).div_ceil(self.ratio) * self.ratio;
        (song + 2 * self.context).div_ceil(self.ratio) * self.ratio
    }

    /// Input samples per window for this song: `window_len`, or less for a short song.
    pub fn input_len(&self) -> usize {
        self.window_len.min(self.single_pass_len())
    }
}

/// A stream of mono samples (e.g. [`crate::audio::MonoReader`]).
pub trait SampleSource {
    fn next_samples(&mut self) -> Result<Option<Vec<f32>>>;
}

impl SampleSource for crate::audio::MonoReader {
    fn next_samples(&mut self) -> Result<Option<Vec<f32>>> {
        self.next_chunk()
    }
}

/// A slice as a stream, in pieces of `piece` samples.
pub struct SliceSource<'a> {
    pub samples: &'a [f32],
    pub piece: usize,
}

impl<'a> SliceSource<'a> {
    /// `samples` in pieces of 16 384 (about a second).
    pub fn whole(samples: &'a [f32]) -> Self {
        SliceSource {
            samples,
            piece: 1 << 14,
        }
    }
}

impl SampleSource for SliceSource<'_> {
    fn next_samples(&mut self) -> Result<Option<Vec<f32>>> {
        if self.samples.is_empty() {
            return Ok(None);
        }
        let n = self.piece.max(1).min(self.samples.len());
        let (head, tail) = self.samples.split_at(n);
        self.samples = tail;
        Ok(Some(head.to_vec()))
    }
}

/// Keeps only the part of the stream that pending windows still need.
struct Feeder<S> {
    source: S,
    buf: VecDeque<f32>,
    /// Song sample of `buf[0]`.
    start: usize,
    done: bool,
    /// Largest number of samples ever buffered.
    high_water: usize,
}

impl<S: SampleSource> Feeder<S> {
    /// Appends `[lo, hi)` of the song times `gain` (zeros outside the stream) to `out`.
    fn copy(&mut self, lo: i64, hi: i64, gain: f32, out: &mut Vec<f32>) -> Result<()> {
        while !self.done && ((self.start + self.buf.len()) as i64) < hi {
            match self.source.next_samples()? {
                Some(s) => self.buf.extend(s),
                None => self.done = true,
            }
            self.high_water = self.high_water.max(self.buf.len());
        }
        let end = (self.start + self.buf.len()) as i64;
        for n in lo..hi {
            let v = if n >= self.start as i64 && n < end {
                self.buf[(n - self.start as i64) as usize] * gain
            } else {
                0.0
            };
            out.push(v);
        }
        Ok(())
    }

    /// Forgets samples before song sample `pos`.
    fn release_before(&mut self, pos: i64) {
        let drop = (pos - self.start as i64).clamp(0, self.buf.len() as i64) as usize;
        self.buf.drain(..drop);
        self.start += drop;
    }
}

/// Activations of a whole song plus facts about the run.
#[derive(Debug, Clone)]
pub struct ChunkedActivations {
    /// `[component][frame]`, frame t = song sample hop t.
    pub curves: Vec<Vec<f32>>,
    pub plan: ChunkPlan,
    /// Most samples the stream buffer ever held (bounded by the batch's input span).
    pub buffered_high_water: usize,
    pub windows: usize,
}

/// Runs `model` over a song of `song_len` samples read from `source`, each sample multiplied
/// by `gain`; memory is the batch's windows plus the activation curves.
pub fn stream_activations<S: SampleSource>(
    model: &dyn FrameModel,
    source: S,
    song_len: usize,
    gain: f32,
    settings: &InferenceSettings,
    sample_rate: u32,
    progress: &dyn Fn(f64),
) -> Result<ChunkedActivations> {
    let plan = ChunkPlan::new(model, settings, sample_rate, song_len);
    let k = model.n_components();
    let mut curves = vec![vec![0.0f32; plan.total_frames]; k];
    let mut feeder = Feeder {
        source,
        buf: VecDeque::new(),
        start: 0,
        done: false,
        high_water: 0,
    };
    let windows: Vec<Window> = plan.windows().collect();
    let len = plan.input_len();
    let mut input = Vec::with_capacity(len * settings.batch_windows);
    let per_batch = settings.batch_windows.max(1);
    for (bi, batch) in windows.chunks(per_batch).enumerate() {
        input.clear();
        for w in batch {
            feeder.copy(w.input_start, w.input_start + len as i64, gain, &mut input)?;
        }
        let out = model.run(&input, batch.len(), len)?;
        for (w, acts) in batch.iter().zip(&out) {
            if acts.len() != k {
                return Err(Error::Invalid(format!(
                    "model gave {} components, expected {k}",
                    acts.len()
                )));
            }
            for (c, curve) in acts.iter().enumerate() {
                let src = curve.get(w.offset..w.offset + w.frames).ok_or_else(|| {
                    Error::Invalid(format!(
                        "model gave {} frames for a {}-sample window",
                        curve.len(),
                        len
                    ))
                })?;
                curves[c][w.first_frame..w.first_frame + w.frames].copy_from_slice(src);
            }
        }
        if let Some(next) = windows.get((bi + 1) * per_batch) {
            feeder.release_before(next.input_start);
        }
        let done = batch.last().map_or(0, |w| w.first_frame + w.frames);
        progress(done as f64 / plan.total_frames.max(1) as f64);
    }
    Ok(ChunkedActivations {
        curves,
        buffered_high_water: feeder.high_water,
        windows: windows.len(),
        plan,
    })
}

/// Peak of |x| over a stream, and its length.
pub fn peak_and_len<S: SampleSource>(mut source: S) -> Result<(f32, usize)> {
    let (mut peak, mut len) = (0.0f32, 0usize);
    while let Some(s) = source.next_samples()? {
        len += s.len();
        peak = s.iter().fold(peak, |m, &x| m.max(x.abs()));
    }
    Ok((peak, len))
}

/// The gain that normalises a song of peak `peak` (spec: divide by max |x|), or None when the
/// song is silent (below `silence_dbfs`).
pub fn normalising_gain(peak: f32, silence_dbfs: f64) -> Option<f32> {
    let floor = 10f64.powf(silence_dbfs / 20.0);
    (peak.is_finite() && peak as f64 > floor).then(|| 1.0 / peak)
}

/// Activations of in-memory samples, normalised by their peak (zeros for silence).
pub fn activations_for(
    model: &dyn FrameModel,
    samples: &[f32],
    settings: &InferenceSettings,
    sample_rate: u32,
) -> Result<Vec<Vec<f32>>> {
    let (peak, len) = peak_and_len(SliceSource {
        samples,
        piece: 1 << 16,
    })?;
    match normalising_gain(peak, settings.silence_dbfs) {
        Some(gain) => Ok(stream_activations(
            model,
            SliceSource {
                samples,
                piece: 1 << 14,
            },
            len,
            gain,
            settings,
            sample_rate,
            &|_| {},
        )?
        .curves),
        None => Ok(vec![
            vec![0.0; len.div_ceil(model.frame_hop())];
            model.n_components()
        ]),
    }
}
