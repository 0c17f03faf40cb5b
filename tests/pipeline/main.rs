//! The two jobs end to end in the library: transcription (chunked inference, the passes,
//! export, tempo and bars of real transcriptions) and training (sessions, resume, determinism).

mod adapt;
mod tempo;
mod train;
mod transcribe;
