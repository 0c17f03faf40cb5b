//! Signal processing: constant-Q filterbank, peak picking, onset metrics.
pub mod cqt_basis;
pub mod onset_metrics;
pub mod peak_pick;
