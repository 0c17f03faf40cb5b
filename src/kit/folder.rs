//! Kit folders.
