//! The components pane: one row per drum component, its name and its level envelope in dB
//! (attack on the left, decay to the right) or its spectrum. Draws a [`WaveformPane`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use realfft::RealFftPlanner;

use crate::audio::SAMPLE_RATE;
use crate::tui::components::waveforms::WaveformPane;

const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Dynamic range shown, in dB below the row's peak.
const RANGE_DB: f32 = 48.0;
pub const LABEL_WIDTH: usize = 7;

pub fn draw_waveforms(f: &mut Frame, area: Rect, c: &WaveformPane) {
    let title = format!(
        " Components · {} · {} ",
        c.origin(),
        if c.spectrum() { "spectrum" } else { "envelope" }
    );
    let cols = (area.width as usize).saturating_sub(2 + LABEL_WIDTH);
    let lines: Vec<Line> = c
        .names()
        .iter()
        .zip(c.waveforms())
        .enumerate()
        .map(|(i, (name, w))| {
            let bars = if c.spectrum() {
                spectrum_columns(w, cols)
            } else {
                envelope_columns(w, cols)
            };
            let text: String = bars.iter().map(|&v| level_char(v)).collect();
            Line::from(vec![
                Span::styled(
                    format!("{:<w$}", short(name, LABEL_WIDTH - 1), w = LABEL_WIDTH),
                    Style::default().fg(row_color(i)),
                ),
                Span::styled(text, Style::default().fg(row_color(i))),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

pub fn row_color(i: usize) -> Color {
    const C: [Color; 6] = [
        Color::LightRed,
        Color::LightYellow,
        Color::LightGreen,
        Color::LightCyan,
        Color::LightBlue,
        Color::LightMagenta,
    ];
    C[i % C.len()]
}

pub fn short(name: &str, n: usize) -> String {
    name.chars().take(n).collect()
}

fn level_char(v: f32) -> char {
    LEVELS[((v.clamp(0.0, 1.0) * 8.0).round() as usize).min(8)]
}

/// 0..=1 per column: peak |x| in the column's span, in dB over [-RANGE_DB, 0] of the row peak.
pub fn envelope_columns(w: &[f32], cols: usize) -> Vec<f32> {
    if cols == 0 || w.is_empty() {
        return vec![0.0; cols];
    }
    let peak = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    (0..cols)
        .map(|c| {
            let a = c * w.len() / cols;
            let b = ((c + 1) * w.len() / cols).max(a + 1).min(w.len());
            let m = w[a..b].iter().fold(0.0f32, |m, v| m.max(v.abs()));
            db_level(m, peak)
        })
        .collect()
}

fn db_level(v: f32, peak: f32) -> f32 {
    if peak <= 0.0 || v <= 0.0 {
        return 0.0;
    }
    (20.0 * (v / peak).log10() + RANGE_DB) / RANGE_DB
}

/// 0..=1 per column: magnitude spectrum of the first 4096 samples on log-spaced bands from
/// 30 Hz to Nyquist.
pub fn spectrum_columns(w: &[f32], cols: usize) -> Vec<f32> {
    const N: usize = 4096;
    if cols == 0 || w.is_empty() {
        return vec![0.0; cols];
    }
    let mut input: Vec<f32> = w.iter().take(N).copied().collect();
    input.resize(N, 0.0);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N);
    let mut spec = fft.make_output_vec();
    if fft.process(&mut input, &mut spec).is_err() {
        return vec![0.0; cols];
    }
    let mag: Vec<f32> = spec.iter().map(|c| c.norm()).collect();
    let hz_per_bin = SAMPLE_RATE as f32 / N as f32;
    let (lo, hi) = (30.0f32, SAMPLE_RATE as f32 / 2.0);
    let bands: Vec<f32> = (0..cols)
        .map(|c| {
            let f0 = lo * (hi / lo).powf(c as f32 / cols as f32);
            let f1 = lo * (hi / lo).powf((c + 1) as f32 / cols as f32);
            let a = (f0 / hz_per_bin) as usize;
            let b = ((f1 / hz_per_bin) as usize).max(a + 1).min(mag.len());
            mag[a.min(mag.len() - 1)..b]
                .iter()
                .fold(0.0f32, |m, &v| m.max(v))
        })
        .collect();
    let peak = bands.iter().fold(0.0f32, |m, &v| m.max(v));
    bands.iter().map(|&v| db_level(v, peak)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shows_attack_then_decay() {
        // 10 ms silence, instant attack, exponential decay over one second.
        let w: Vec<f32> = (0..16_000)
            .map(|i| {
                if i < 160 {
                    0.0
                } else {
                    (-(i as f32) / 2000.0).exp()
                }
            })
            .collect();
        let e = envelope_columns(&w, 20);
        assert!(e[0] > 0.95, "attack in the first column: {e:?}");
        assert!(e.windows(2).all(|p| p[1] <= p[0] + 1e-6), "decays: {e:?}");
        assert!(e[19] < 0.2);
    }

    #[test]
    fn spectrum_peaks_at_the_tone() {
        let w: Vec<f32> = (0..4096)
            .map(|i| (i as f32 * std::f32::consts::TAU * 1000.0 / 16_000.0).sin())
            .collect();
        let s = spectrum_columns(&w, 24);
        let best = s
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        // Column holding 1 kHz on the 30 Hz..8 kHz log axis.
        let expect = ((1000.0f32 / 30.0).ln() / (8000.0f32 / 30.0).ln() * 24.0) as usize;
        assert_eq!(best, expect, "{s:?}");
    }
}
