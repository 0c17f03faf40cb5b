//! Signal processing: constant-Q filterbank, peak picking, onset metrics, analysis windows.
pub mod cqt_basis;
pub mod onset_metrics;
pub mod peak_pick;
pub mod window;
