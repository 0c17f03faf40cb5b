//! The piano roll: components down, time across; shade = activation (per-component normalised),
//! ◆ = picked onset, a red column = the playhead. Draws a [`PianoRoll`] and the playhead of a
//! [`StemDeck`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::waveforms::{row_color, short, LABEL_WIDTH};
use crate::audio::SAMPLE_RATE;
use crate::tui::components::piano_roll::PianoRoll;
use crate::tui::components::stem::StemDeck;
use crate::tui::jobs::FRAME_HOP;

const SHADES: [&str; 5] = [" ", "░", "▒", "▓", "█"];
const FRAMES_PER_SECOND: f64 = (SAMPLE_RATE as usize / FRAME_HOP) as f64;

pub fn draw_piano_roll(f: &mut Frame, area: Rect, roll: &PianoRoll, stem: &StemDeck) {
    let (first_frame, frames_per_column) = (roll.first_frame(), roll.frames_per_column());
    let inner_w = (area.width as usize).saturating_sub(2 + LABEL_WIDTH);
    let t0 = first_frame as f64 / FRAMES_PER_SECOND;
    let t1 = (first_frame + inner_w * frames_per_column) as f64 / FRAMES_PER_SECOND;
    let title = format!(
        " Piano roll {t0:.2}-{t1:.2} s · {frames_per_column} ms/col · threshold {:.2} ",
        roll.threshold()
    );
    let block = Block::bordered().title(title);
    let Some(a) = roll.analysis() else {
        let text = match stem.path() {
            Some(p) => format!("{}: not transcribed yet (r)", p.display()),
            None => "no stem open: o opens a file".into(),
        };
        f.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let inner = block.inner(area);
    f.render_widget(block, area);
    let buf = f.buffer_mut();
    let playhead = {
        let frame = (stem.transport().position_seconds() * FRAMES_PER_SECOND) as usize;
        (frame >= first_frame)
            .then(|| (frame - first_frame) / frames_per_column)
            .filter(|&c| c < inner_w)
    };
    for (row, (act, name)) in a.activations.iter().zip(&a.components).enumerate() {
        if row >= inner.height as usize {
            break;
        }
        let y = inner.y + row as u16;
        let color = row_color(row);
        let label = format!("{:<w$}", short(name, LABEL_WIDTH - 1), w = LABEL_WIDTH);
        buf.set_string(inner.x, y, label, Style::default().fg(color));
        let max = act.iter().fold(0.0f32, |m, &x| m.max(x));
        let onsets = roll.onsets().get(row);
        for col in 0..inner_w {
            let a = first_frame + col * frames_per_column;
            let b = (a + frames_per_column).min(act.len());
            let x = inner.x + (LABEL_WIDTH + col) as u16;
            if x >= inner.x + inner.width {
                break;
            }
            let (mut symbol, mut style) = (" ", Style::default());
            if a < act.len() {
                let m = act[a..b].iter().fold(0.0f32, |m, &x| m.max(x));
                let level = if max > 0.0 { m / max } else { 0.0 };
                let i = (level.sqrt() * 4.0).ceil().min(4.0) as usize;
                symbol = SHADES[i];
                style = style.fg(color);
                let hit = onsets.is_some_and(|o| o.iter().any(|&(fr, _)| fr >= a && fr < b));
                if hit {
                    symbol = "◆";
                    style = Style::default()
                        .fg(Color::Black)
                        .bg(color)
                        .add_modifier(Modifier::BOLD);
                }
            }
            if playhead == Some(col) {
                style = style.bg(Color::Red);
                if symbol == " " {
                    symbol = "│";
                }
            }
            buf[(x, y)].set_symbol(symbol).set_style(style);
        }
    }
}
