//! Overlays drawn over the panes: the key help and the path prompt.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::components::prompt::Prompt;
use crate::tui::keys::KEYS;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [_, v, _] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(h.min(area.height)),
        Constraint::Min(0),
    ])
    .areas(area);
    let [_, r, _] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(w.min(area.width)),
        Constraint::Min(0),
    ])
    .areas(v);
    r
}

pub fn draw_help(f: &mut Frame, area: Rect) {
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, _, d)| {
            Line::from(vec![
                Span::styled(format!("{k:>6}  "), Style::default().fg(Color::Yellow)),
                Span::raw(*d),
            ])
        })
        .collect();
    let r = centered(area, 62, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys (any key closes) ")),
        r,
    );
}

pub fn draw_prompt(f: &mut Frame, area: Rect, p: &Prompt, hint: &str) {
    let r = centered(area, area.width.saturating_sub(4), 4);
    f.render_widget(Clear, r);
    let lines = vec![
        Line::from(vec![
            Span::raw(p.text.clone()),
            Span::styled("█", Style::default().fg(Color::Yellow)),
        ]),
        Line::styled(hint.to_string(), Style::default().fg(Color::DarkGray)),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" {} ", p.title()))),
        r,
    );
}
