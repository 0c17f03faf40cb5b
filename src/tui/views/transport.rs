//! The transport pane: play state, position, A/B source, device, background job progress and
//! training state. Draws a [`StemDeck`], with the [`PianoRoll`]'s onset count and the
//! [`TrainingPanel`]'s state.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::audio::playback::{DeviceState, Source};
use crate::tui::components::piano_roll::PianoRoll;
use crate::tui::components::stem::StemDeck;
use crate::tui::components::training::{TrainingPanel, TrainingPhase};

fn clock(s: f64) -> String {
    let s = s.max(0.0);
    format!("{:02}:{:05.2}", (s / 60.0) as u64, s % 60.0)
}

pub fn draw_transport(
    f: &mut Frame,
    area: Rect,
    stem: &StemDeck,
    roll: &PianoRoll,
    training: &TrainingPanel,
) {
    let t = stem.transport();
    let state = if t.is_playing() {
        "▶ playing"
    } else if t.position_seconds() > 0.0 {
        "⏸ paused"
    } else {
        "■ stopped"
    };
    let width = area.width.saturating_sub(2) as usize;
    let len = t.length_seconds();
    let filled = if len > 0.0 {
        ((t.position_seconds() / len) * width as f64) as usize
    } else {
        0
    };
    let bar: String = (0..width)
        .map(|i| if i < filled { '━' } else { '─' })
        .collect();
    let source = t.source();
    let ab = |s: Source, available: bool| {
        let style = if s == source {
            Style::default()
                .fg(Color::Black)
                .bg(if available {
                    Color::Green
                } else {
                    Color::DarkGray
                })
                .add_modifier(Modifier::BOLD)
        } else if available {
            Style::default()
        } else {
            Style::default().fg(Color::DarkGray)
        };
        Span::styled(format!(" {} ", s.label()), style)
    };
    let device = match stem.device() {
        DeviceState::Opening => Line::from("audio: opening device…"),
        DeviceState::Ready(d) => match stem.underruns() {
            0 => Line::from(format!("audio: {d}")),
            n => Line::styled(
                format!("audio: {d} · {n} underrun{}", if n == 1 { "" } else { "s" }),
                Style::default().fg(Color::Yellow),
            ),
        },
        DeviceState::Unavailable(e) => Line::styled(
            format!("audio off: {e}"),
            Style::default().fg(Color::Yellow),
        ),
        DeviceState::Lost(e) => {
            Line::styled(format!("audio lost: {e}"), Style::default().fg(Color::Red))
        }
    };
    let job = match stem.busy() {
        Some(b) => Line::styled(
            format!(
                "{} {:>3.0}% ({:.1} s)",
                b.label,
                b.fraction * 100.0,
                b.since.elapsed().as_secs_f64()
            ),
            Style::default().fg(Color::Cyan),
        ),
        None => {
            let n: usize = roll.onsets().iter().map(Vec::len).sum();
            Line::from(match stem.transcription() {
                Some(_) if roll.is_picking() => "picking events...".to_string(),
                Some(_) => format!("{n} onsets at threshold {:.2}", roll.threshold()),
                None => "not transcribed".to_string(),
            })
        }
    };
    let training = Line::from(match training.phase() {
        TrainingPhase::Idle => "training: idle (t)".to_string(),
        s => format!(
            "training: {} {}/{} · {:.1} items/s",
            format!("{s:?}").to_lowercase(),
            training.step(),
            training.target(),
            training.items_per_second()
        ),
    });
    let lines = vec![
        Line::from(format!(
            "{state}  {} / {}",
            clock(t.position_seconds()),
            clock(len)
        )),
        Line::from(bar),
        Line::from(vec![
            Span::raw("A/B "),
            ab(Source::Original, stem.samples().is_some()),
            Span::raw(" "),
            ab(Source::Resynthesis, stem.transcription().is_some()),
        ]),
        job,
        training,
        device,
    ];
    f.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(Block::bordered().title(" Transport ")),
        area,
    );
}
