//! Synthetic drum performances with exact ground truth.
