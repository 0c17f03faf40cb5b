//! Signal processing: constant-Q filterbank, peak picking, onset metrics.
pub mod cqt_basis;
