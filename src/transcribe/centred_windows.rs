//! A stream read as windows centred on every hop: what the high band and the band spectrogram
//! both compute their spectra from, reading the input once with a short buffer.

use crate::error::Result;

use super::chunked::SampleSource;

/// Windows of `window` samples, the one of frame t centred on sample `hop * t` of the stream
/// (zeros before its start and after its end), asked for in increasing t.
pub struct CentredWindows<S> {
    source: S,
    window: usize,
    hop: usize,
    /// Samples [offset, offset + buffer.len()) of the stream, with window / 2 zeros before it.
    buffer: Vec<f32>,
    offset: usize,
    eof: bool,
}

impl<S: SampleSource> CentredWindows<S> {
    pub fn new(source: S, window: usize, hop: usize) -> Self {
        CentredWindows {
            source,
            window,
            hop,
            buffer: vec![0.0; window / 2],
            offset: 0,
            eof: false,
        }
    }

    /// The window of frame `t` (no earlier than the last frame asked for).
    pub fn at(&mut self, t: usize) -> Result<&[f32]> {
        // Keep the buffer short: drop what no later window needs.
        let start = self.hop * t - self.offset;
        if start > 1 << 16 {
            self.buffer.drain(..start);
            self.offset += start;
        }
        let start = self.hop * t - self.offset;
        while !self.eof && self.buffer.len() < start + self.window {
            match self.source.next_samples()? {
                Some(piece) => self.buffer.extend(piece),
                None => self.eof = true,
            }
        }
        if self.buffer.len() < start + self.window {
            self.buffer.resize(start + self.window, 0.0);
        }
        Ok(&self.buffer[start..start + self.window])
    }
}
