//! Evaluation: onset P/R/F1 per clip and class against ground truth, the evaluation set's
//! conventions (`eval-dev/score.py`) reproduced exactly, with where the errors went ([`confusion`]); beats, downbeats and tempo
//! ([`beats`]) the mir_eval way.

pub mod beats;
pub mod confusion;
pub mod onsets;
pub mod score;
pub mod table;

pub use confusion::Confusion;
pub use onsets::{read_onsets, Onsets};
pub use score::{score_dir, score_with, ClipSpec, EvalResult};
pub use table::table;
