//! The loss pane: smoothed line over the raw points, total or per CQT scale, linear or log.
//! Draws a [`LossChart`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::tui::components::loss::LossChart;
use crate::tui::loss_history::{thin, XAxis};

const SCALE_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Yellow,
    Color::Green,
    Color::Blue,
    Color::Red,
];

/// (legend name, points, smoothed points, colour).
type Series = (String, Vec<(f64, f64)>, Vec<(f64, f64)>, Color);

pub fn draw_loss(f: &mut Frame, area: Rect, chart: &LossChart) {
    let h = chart.history();
    let (x, log) = (chart.x_axis(), chart.log());
    let title = format!(
        " Loss{}{} · x={} ",
        if chart.per_scale() { " per scale" } else { "" },
        if log { " (log10)" } else { "" },
        match x {
            XAxis::Step => "step",
            XAxis::Seconds => "time",
        }
    );
    let block = Block::bordered().title(title);
    if h.is_empty() {
        let text = "no training yet: t starts training, --session NAME shows a session's loss";
        f.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    let width = area.width.saturating_sub(10).max(8) as usize * 2;
    let series: Vec<Series> = if chart.per_scale() {
        (0..h.scales())
            .map(|s| {
                (
                    format!("s{s}"),
                    h.points(Some(s), x, log),
                    h.smoothed(Some(s), x, log),
                    SCALE_COLORS[s % SCALE_COLORS.len()],
                )
            })
            .collect()
    } else {
        vec![(
            "total".into(),
            h.points(None, x, log),
            h.smoothed(None, x, log),
            Color::Cyan,
        )]
    };
    let raw: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, p, _, _)| thin(p, width)).collect();
    let smoothed: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, _, s, _)| thin(s, width)).collect();
    let all = series.iter().flat_map(|(_, p, _, _)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1e-3_f64.max(y0.abs() * 0.01);
    }
    let mut datasets = Vec::new();
    for (i, (name, _, _, color)) in series.iter().enumerate() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(Color::DarkGray))
                .data(&raw[i]),
        );
        datasets.push(
            Dataset::default()
                .name(name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(*color))
                .data(&smoothed[i]),
        );
    }
    let fmt = |v: f64| {
        if v.abs() >= 1000.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.3}")
        }
    };
    let chart = Chart::new(datasets)
        .block(block)
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(100),
            ratatui::layout::Constraint::Percentage(100),
        ))
        .x_axis(Axis::default().bounds([x0, x1]).labels([
            Line::from(format!("{x0:.0}")),
            Line::from(format!("{x1:.0}")),
        ]))
        .y_axis(
            Axis::default()
                .bounds([y0, y1])
                .labels([Line::from(fmt(y0)), Line::from(fmt(y1))]),
        );
    f.render_widget(chart, area);
}
