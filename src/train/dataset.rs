//! Training items: random crops of drum stems (files of any format) and an endless stream of
//! synthetic grooves rendered through training kits. Labels are never produced: training is
//! unsupervised, the grooves' MIDI is thrown away.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::audio;
use crate::error::{Error, Result};
use crate::groove::{self, GrooveSettings};
use crate::kit::Kit;
use crate::train::procedural_draw::ProceduralDraw;

/// A stem file and its duration.
#[derive(Debug, Clone)]
pub struct Stem {
    pub path: PathBuf,
    pub seconds: f64,
}

/// Lists the audio files below `dirs` (recursively), with their durations. Unreadable files are
/// skipped with a warning: one bad file must not stop a long training run.
pub fn find_stems(dirs: &[PathBuf]) -> Result<Vec<Stem>> {
    let mut files = Vec::new();
    for dir in dirs {
        if dir.is_file() {
            files.push(dir.clone());
            continue;
        }
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        collect_audio_files(dir, &mut files)?;
    }
    files.sort();
    let mut stems = Vec::new();
    for path in files {
        match audio::probe(&path) {
            Ok(info) => {
                let seconds = info
                    .frames
                    .map(|f| f as f64 / info.sample_rate as f64)
                    .unwrap_or(0.0);
                if seconds > 0.0 {
                    stems.push(Stem { path, seconds });
                }
            }
            Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
        }
    }
    Ok(stems)
}

fn collect_audio_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_audio_files(&path, out)?;
        } else if audio::has_audio_extension(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Divides by the peak (the release's `librosa.util.normalize`); near-silent items get faint
/// noise instead, as the release does for short reads, so the loss never sees all-zeros.
pub fn peak_normalise(samples: &mut [f32], rng: &mut ChaCha8Rng) {
    let peak = samples.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if peak > 1e-4 {
        samples.iter_mut().for_each(|x| *x /= peak);
    } else {
        samples
            .iter_mut()
            .for_each(|x| *x = rng.random_range(-0.01..0.01));
    }
}

/// One training item: mono audio, and the kit a synthetic item was rendered with (for the
/// synthesizer's per-item draw; stems have none).
pub struct TrainingItem {
    pub audio: Vec<f32>,
    pub kit: Option<Kit>,
}

/// Where the training items come from.
pub struct ItemSource {
    stems: Vec<Stem>,
    /// Share of synthetic items when stems exist.
    synthetic_share: f64,
    groove: GrooveSettings,
    /// Kits the grooves are rendered with: loaded source kits plus procedural ones made on demand.
    source_kits: Vec<Kit>,
    procedural: ProceduralDraw,
    kit_length: usize,
    /// Some(waveform length): hand out each synthetic item's kit as its recording heard it
    /// ([`groove::heard_kit`]), at the synthesizer's waveform length.
    heard_kits: Option<usize>,
    rng: ChaCha8Rng,
}

impl ItemSource {
    pub fn new(
        stems: Vec<Stem>,
        synthetic_share: f64,
        groove: GrooveSettings,
        source_kits: Vec<Kit>,
        procedural: ProceduralDraw,
        kit_length: usize,
        seed: u64,
    ) -> Self {
        ItemSource {
            stems,
            synthetic_share,
            groove,
            source_kits,
            procedural,
            kit_length,
            heard_kits: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Items' kits as their recordings heard them (`synth.item_recording`), at `waveform_len`
    /// samples (the synthesizer uses no more, and a short drum keeps its room's tail). Draws
    /// nothing extra: the item stream stays the same.
    pub fn with_heard_kits(mut self, waveform_len: usize) -> Self {
        self.heard_kits = Some(waveform_len);
        self
    }

    /// The generator's position, saved in checkpoints so a resumed run draws the same items.
    pub fn rng_word_pos(&self) -> u128 {
        self.rng.get_word_pos()
    }

    pub fn set_rng_word_pos(&mut self, pos: u128) {
        self.rng.set_word_pos(pos);
    }

    /// One mono item of `samples` samples at 16 kHz, peak-normalised.
    pub fn next_item(&mut self, samples: usize) -> Result<TrainingItem> {
        let synthetic = self.stems.is_empty() || self.rng.random_bool(self.synthetic_share);
        let (mut audio, kit) = if synthetic {
            self.groove_item(samples)
        } else {
            self.stem_item(samples)?
        };
        audio.resize(samples, 0.0);
        peak_normalise(&mut audio, &mut self.rng);
        Ok(TrainingItem { audio, kit })
    }

    fn groove_item(&mut self, samples: usize) -> (Vec<f32>, Option<Kit>) {
        let seconds = samples as f64 / audio::SAMPLE_RATE as f64;
        let use_source = !self.source_kits.is_empty() && self.rng.random_bool(0.5);
        let kit = if use_source {
            self.source_kits[self.rng.random_range(0..self.source_kits.len())].clone()
        } else {
            self.procedural.draw(&mut self.rng, self.kit_length)
        };
        // Start somewhere inside a longer performance so items do not all begin on a downbeat.
        let lead_in = self.rng.random_range(0.0..2.0);
        let perf = groove::generate_performance(self.rng.random(), seconds + lead_in, &self.groove);
        // Drawn before rendering (nothing else draws in between, so the stream is unchanged):
        // the microphone placement of this seed acts while mixing.
        let augment_seed: u64 = self.rng.random();
        let mics = groove::mic_placement(augment_seed, &self.groove.augment);
        let mut audio = groove::render_through_mics(
            &perf.notes,
            &kit,
            audio::SAMPLE_RATE,
            seconds + lead_in,
            mics.as_ref(),
        );
        let applied = groove::augment(
            &mut audio,
            augment_seed,
            &self.groove.augment,
            audio::SAMPLE_RATE,
        );
        let skip = ((lead_in * audio::SAMPLE_RATE as f64) as usize).min(audio.len());
        audio.drain(..skip);
        let kit = match self.heard_kits {
            Some(len) => groove::heard_kit(kit, &applied, len, audio::SAMPLE_RATE),
            None => kit,
        };
        (audio, Some(kit))
    }

    fn stem_item(&mut self, samples: usize) -> Result<(Vec<f32>, Option<Kit>)> {
        let stem = &self.stems[self.rng.random_range(0..self.stems.len())];
        let seconds = samples as f64 / audio::SAMPLE_RATE as f64;
        let latest_start = (stem.seconds - seconds).max(0.0);
        let start = if latest_start > 0.0 {
            self.rng.random_range(0.0..latest_start)
        } else {
            0.0
        };
        match audio::load_mono_segment(&stem.path, audio::SAMPLE_RATE, start, seconds) {
            Ok(x) => Ok((x, None)),
            Err(e) => {
                tracing::warn!("{e}; using a synthetic item instead");
                Ok(self.groove_item(samples))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::procedural::{procedural_kit, KitFamily};

    fn source(seed: u64) -> ItemSource {
        ItemSource::new(
            Vec::new(),
            1.0,
            GrooveSettings::default(),
            vec![procedural_kit(3, 8_000)],
            ProceduralDraw {
                families: vec![KitFamily::Acoustic],
                first: 1000,
                count: 4,
            },
            8_000,
            seed,
        )
    }

    /// Heard kits change the kits handed out (at the waveform length, put through the item's
    /// room and EQ) and nothing else: the items are the same audio.
    #[test]
    fn heard_kits_leave_the_items_alone_and_colour_the_kits() {
        let mut plain = source(9);
        let mut heard = source(9).with_heard_kits(4_000);
        let mut coloured = 0;
        for _ in 0..6 {
            let a = plain.next_item(8_000).unwrap();
            let b = heard.next_item(8_000).unwrap();
            assert_eq!(a.audio, b.audio);
            let (ka, kb) = (a.kit.unwrap(), b.kit.unwrap());
            assert_eq!(ka.name, kb.name);
            for (ca, cb) in ka.components.iter().zip(&kb.components) {
                assert_eq!(cb.samples.len(), 4_000);
                let n = ca.samples.len().min(4_000);
                if ca.samples[..n] != cb.samples[..n] {
                    coloured += 1;
                }
            }
        }
        // The default augmentation always tilts (up to 6 dB either way).
        assert!(coloured > 0);
    }
}
