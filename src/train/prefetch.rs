//! Training items made one batch ahead on a worker thread. Rendering a batch of grooves (kit
//! draw, performance, augmentation with reverb) takes about a fifth of a training step on one
//! core, while the recurrent head's sequential scans leave the other core idle: making the next
//! batch during the current step hides most of it. The batches and their order are exactly
//! those of making them in turn, so checkpoints and resumed runs are unchanged.

use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::kit::Kit;
use crate::train::dataset::ItemSource;

/// A batch: B items' audio (B x samples, item-major) and each item's kit, if it has one.
pub struct Batch {
    pub audio: Vec<f32>,
    pub kits: Vec<Option<Kit>>,
}

type Worker = JoinHandle<(ItemSource, Result<Batch>)>;

pub struct PrefetchedItems {
    /// None while a worker holds it.
    source: Option<ItemSource>,
    worker: Option<Worker>,
    /// The generator's position after the last batch handed out: where a resumed run goes on.
    consumed_pos: u128,
}

/// `batch` items of `samples` samples, one after another.
fn make_batch(source: &mut ItemSource, batch: usize, samples: usize) -> Result<Batch> {
    let mut audio = Vec::with_capacity(batch * samples);
    let mut kits = Vec::with_capacity(batch);
    for _ in 0..batch {
        let item = source.next_item(samples)?;
        audio.extend(item.audio);
        kits.push(item.kit);
    }
    Ok(Batch { audio, kits })
}

impl PrefetchedItems {
    pub fn new(source: ItemSource) -> Self {
        PrefetchedItems {
            consumed_pos: source.rng_word_pos(),
            source: Some(source),
            worker: None,
        }
    }

    /// Takes the source back from a worker (its batch comes along, or is dropped by callers
    /// that seek).
    fn join(&mut self) -> Result<Option<Result<Batch>>> {
        let Some(worker) = self.worker.take() else {
            return Ok(None);
        };
        let (source, made) = worker
            .join()
            .map_err(|_| Error::Invalid("the training-data thread panicked".into()))?;
        self.source = Some(source);
        Ok(Some(made))
    }

    fn source(&mut self) -> Result<&mut ItemSource> {
        self.source
            .as_mut()
            .ok_or_else(|| Error::Invalid("training data source lost".into()))
    }

    /// The next batch: the prefetched one when there is one.
    pub fn next_batch(&mut self, batch: usize, samples: usize) -> Result<Batch> {
        let data = match self.join()? {
            Some(made) => made?,
            None => make_batch(self.source()?, batch, samples)?,
        };
        self.consumed_pos = self.source()?.rng_word_pos();
        Ok(data)
    }

    /// Starts making the batch after the last one handed out.
    pub fn prefetch(&mut self, batch: usize, samples: usize) {
        if self.worker.is_some() {
            return;
        }
        if let Some(mut source) = self.source.take() {
            self.worker = Some(std::thread::spawn(move || {
                let made = make_batch(&mut source, batch, samples);
                (source, made)
            }));
        }
    }

    pub fn rng_word_pos(&self) -> u128 {
        self.consumed_pos
    }

    /// Continues from `pos` (a checkpoint's position); a prefetched batch is dropped.
    pub fn set_rng_word_pos(&mut self, pos: u128) -> Result<()> {
        self.join()?;
        self.source()?.set_rng_word_pos(pos);
        self.consumed_pos = pos;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groove::GrooveSettings;
    use crate::kit::procedural::{procedural_kit, KitFamily};
    use crate::train::procedural_draw::ProceduralDraw;

    fn source(seed: u64) -> ItemSource {
        let kits = vec![procedural_kit(3, 4_000)];
        ItemSource::new(
            Vec::new(),
            1.0,
            GrooveSettings::default(),
            kits,
            ProceduralDraw {
                families: vec![KitFamily::Acoustic],
                first: 1000,
                count: 10,
            },
            4_000,
            seed,
        )
    }

    #[test]
    fn prefetched_batches_equal_batches_made_in_turn_and_seeking_replays() {
        let (b, n) = (3, 2_000);
        let mut plain = PrefetchedItems::new(source(5));
        let mut ahead = PrefetchedItems::new(source(5));
        let mut positions = Vec::new();
        let mut batches = Vec::new();
        for _ in 0..4 {
            let want = plain.next_batch(b, n).unwrap();
            let got = ahead.next_batch(b, n).unwrap();
            ahead.prefetch(b, n);
            assert_eq!(got.audio, want.audio);
            let names = |b: &Batch| -> Vec<String> {
                b.kits
                    .iter()
                    .map(|k| k.as_ref().unwrap().name.clone())
                    .collect()
            };
            assert_eq!(names(&got), names(&want));
            let want = want.audio;
            // The position is the one after the batch handed out, not after the prefetched one.
            assert_eq!(ahead.rng_word_pos(), plain.rng_word_pos());
            positions.push(plain.rng_word_pos());
            batches.push(want);
        }
        // Resuming from the position after batch 1 gives batch 2 again (a prefetch in flight
        // is dropped).
        ahead.set_rng_word_pos(positions[1]).unwrap();
        assert_eq!(ahead.next_batch(b, n).unwrap().audio, batches[2]);
    }
}
