//! Which procedural kits training draws: a seed range, in one or more kit families.

use rand::Rng;

use crate::kit::procedural::{procedural_kit_of, KitFamily};
use crate::kit::Kit;
use crate::train::TrainSettings;

/// Seeds `[first, first + count)` in each of `families`, every pair equally likely.
#[derive(Debug, Clone, PartialEq)]
pub struct ProceduralDraw {
    pub families: Vec<KitFamily>,
    pub first: u64,
    pub count: u64,
}

impl ProceduralDraw {
    pub fn from_settings(t: &TrainSettings) -> Self {
        ProceduralDraw {
            families: t.procedural_families.clone(),
            first: t.procedural_seed_first,
            count: t.procedural_seed_count,
        }
    }

    /// One kit, `length` samples a component. The seed is drawn first; the family is drawn only
    /// when there is a choice, so that an acoustic-only run (the default) takes exactly the
    /// draws, and trains on exactly the kits, it did before families existed.
    pub fn draw(&self, rng: &mut impl Rng, length: usize) -> Kit {
        let seed = self.first + rng.random_range(0..self.count);
        let family = match self.families.as_slice() {
            [only] => *only,
            [] => KitFamily::Acoustic,
            several => several[rng.random_range(0..several.len())],
        };
        procedural_kit_of(family, seed, length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use crate::kit::procedural_kit;

    #[test]
    fn acoustic_only_draws_what_training_always_drew() {
        let draw = ProceduralDraw::from_settings(&TrainSettings::default());
        assert_eq!(draw.families, [KitFamily::Acoustic]);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut before = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..3 {
            let seed = 1000 + before.random_range(0..1_000_000);
            assert_eq!(draw.draw(&mut rng, 200), procedural_kit(seed, 200));
        }
    }

    #[test]
    fn several_families_are_all_drawn_from_the_same_seeds() {
        let draw = ProceduralDraw {
            families: vec![KitFamily::Electronic, KitFamily::Room],
            first: 1000,
            count: 5,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let names: Vec<String> = (0..40).map(|_| draw.draw(&mut rng, 10).name).collect();
        for prefix in ["procedural-electronic#", "procedural-room#"] {
            assert!(names.iter().any(|n| n.starts_with(prefix)), "{names:?}");
        }
        for n in &names {
            let seed: u64 = n.rsplit_once('#').unwrap().1.parse().unwrap();
            assert!((1000..1005).contains(&seed), "{n}");
        }
    }
}
