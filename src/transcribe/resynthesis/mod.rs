//! Verification by re-synthesis: the stem modelled from its events alone (a magnitude
//! template per component, a gain per hit, fitted to the stem: [`nmfd`]) on the input's band
//! spectrogram ([`spectrogram`]), so that each event can be asked whether the re-synthesis
//! needs it. Read by the `verification` pass.

pub mod nmfd;
pub mod spectrogram;

pub use nmfd::{fit, Fit, Onset};
pub use spectrogram::{read_band_spectrogram, BandSpectrogram};
