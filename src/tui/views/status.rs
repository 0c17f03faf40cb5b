//! The status bar: model, session, device, training step and speed, frame time, last message.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::App;

pub fn draw_status(f: &mut Frame, area: Rect, app: &App) {
    let model = match &app.model_path {
        Some(p) => p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        None => "no trained model".into(),
    };
    let info = format!(
        " {model} │ {} │ {:?} │ step {} {:.1}/s │ {:.1} ms │ ",
        app.session,
        app.config.device.device,
        app.training.step,
        app.training.items_per_second,
        app.frame_ms
    )
    .to_lowercase();
    let msg_style = if app.message_is_error {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    };
    let line = Line::from(vec![
        Span::styled(info, Style::default().fg(Color::Black).bg(Color::Gray)),
        Span::styled(format!(" {}", app.message), msg_style),
    ]);
    f.render_widget(Paragraph::new(line), area);
}
