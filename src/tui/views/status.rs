//! The status bar: model, session, device, training step and speed, frame time, last message.
//! Draws a [`StatusLine`] and a [`TrainingPanel`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::components::status::StatusLine;
use crate::tui::components::training::TrainingPanel;

pub fn draw_status(f: &mut Frame, area: Rect, status: &StatusLine, training: &TrainingPanel) {
    let model = match training.model() {
        Some(p) => p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        None => "no trained model".into(),
    };
    let info = format!(
        " {model} │ {} │ {} │ step {} {:.1}/s │ {:.1} ms │ ",
        training.session(),
        status.device(),
        training.step(),
        training.items_per_second(),
        status.frame_ms()
    )
    .to_lowercase();
    let msg_style = if status.is_error() {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    };
    let line = Line::from(vec![
        Span::styled(info, Style::default().fg(Color::Black).bg(Color::Gray)),
        Span::styled(format!(" {}", status.message()), msg_style),
    ]);
    f.render_widget(Paragraph::new(line), area);
}
