//! The two jobs end to end in the library: transcription (chunked inference, the passes,
//! export) and training (sessions, resume, determinism).

mod train;
mod transcribe;
