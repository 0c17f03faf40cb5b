//! Line charts as SVG: panels stacked over one shared x axis, each with its own y axis, grid,
//! series and legend. Enough for learning curves (loss and F1 against items); no fonts are
//! measured, so labels are kept short and the legend has a fixed column.

use std::fmt::Write;

use super::ticks::{nice_ticks, tick_label};

/// Colour-blind-safe colours (Okabe and Ito), picked by `Series::colour` modulo their count.
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 240.0;
const LEFT: f64 = 70.0;
const LEGEND: f64 = 250.0;
const PANEL_TOP: f64 = 30.0;
const PANEL_GAP: f64 = 26.0;
const BOTTOM: f64 = 50.0;
const TITLE: f64 = 34.0;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) in data units; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
    /// Index into the palette: series of one run share a colour across panels.
    pub colour: usize,
    pub dashed: bool,
    /// Drawn thin and translucent (raw values behind their moving mean).
    pub faint: bool,
    /// Also mark every point (sparse measurements such as validation F1).
    pub markers: bool,
}

/// One chart area with its own y axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub title: String,
    pub y_label: String,
    /// Fixed y range; None = the data's range, padded by 5 %.
    pub y_range: Option<(f64, f64)>,
    pub series: Vec<Series>,
}

/// Panels over one x axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub panels: Vec<Panel>,
}

/// Maps data to pixels for one panel.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        self.left + (v - self.x0) / (self.x1 - self.x0) * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)
    }
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let panels = self.panels.len().max(1) as f64;
        let height = TITLE + panels * (PANEL_TOP + PANEL_HEIGHT + PANEL_GAP) + BOTTOM;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="16" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        let (x0, x1) = padded_range(
            self.panels
                .iter()
                .flat_map(|p| &p.series)
                .flat_map(|s| s.points.iter().map(|p| p.0)),
            0.0,
        );
        for (i, panel) in self.panels.iter().enumerate() {
            let top = TITLE + i as f64 * (PANEL_TOP + PANEL_HEIGHT + PANEL_GAP) + PANEL_TOP;
            let (y0, y1) = panel.y_range.unwrap_or_else(|| {
                padded_range(
                    panel
                        .series
                        .iter()
                        .flat_map(|s| s.points.iter().map(|p| p.1)),
                    0.05,
                )
            });
            let frame = Frame {
                x0,
                x1,
                y0,
                y1,
                left: LEFT,
                right: WIDTH - LEGEND,
                top,
                bottom: top + PANEL_HEIGHT,
            };
            let last = i + 1 == self.panels.len();
            draw_panel(
                &mut svg,
                panel,
                &frame,
                last.then_some(self.x_label.as_str()),
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn draw_panel(svg: &mut String, panel: &Panel, f: &Frame, x_label: Option<&str>) {
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-weight="bold">{}</text>"#,
        f.left,
        f.top - 8.0,
        escape(&panel.title)
    );
    for t in nice_ticks(f.y0, f.y1, 5) {
        let y = f.y(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            f.left,
            f.right,
            f.left - 6.0,
            y + 4.0,
            tick_label(t)
        );
    }
    for t in nice_ticks(f.x0, f.x1, 8) {
        let x = f.x(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/>"##,
            f.top, f.bottom
        );
        if x_label.is_some() {
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                f.bottom + 16.0,
                tick_label(t)
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/>"##,
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top
    );
    let middle = (f.top + f.bottom) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{middle:.1}" text-anchor="middle" transform="rotate(-90 16 {middle:.1})">{}</text>"#,
        escape(&panel.y_label)
    );
    if let Some(label) = x_label {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (f.left + f.right) / 2.0,
            f.bottom + 36.0,
            escape(label)
        );
    }
    // Lines are clipped to the panel: a fixed y range may cut a series.
    let clip = format!("clip{:.0}", f.top);
    let _ = writeln!(
        svg,
        r#"<clipPath id="{clip}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/></clipPath><g clip-path="url(#{clip})">"#,
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top
    );
    for s in &panel.series {
        draw_series(svg, s, f);
    }
    svg.push_str("</g>\n");
    let mut row = 0.0;
    for s in panel.series.iter().filter(|s| !s.faint) {
        let y = f.top + 12.0 + row * 16.0;
        let x = f.right + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            y - 4.0,
            x + 22.0,
            y - 4.0,
            colour(s.colour),
            if s.dashed {
                r#" stroke-dasharray="6 3""#
            } else {
                ""
            },
            x + 28.0,
            y,
            escape(&s.name)
        );
        row += 1.0;
    }
}

fn draw_series(svg: &mut String, s: &Series, f: &Frame) {
    let style = format!(
        r#"fill="none" stroke="{}" stroke-width="{}"{}{}"#,
        colour(s.colour),
        if s.faint { 0.8 } else { 1.8 },
        if s.faint {
            r#" stroke-opacity="0.25""#
        } else {
            ""
        },
        if s.dashed {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        }
    );
    // One polyline per run of finite points.
    for run in s
        .points
        .split(|(x, y)| !(x.is_finite() && y.is_finite()))
        .filter(|run| !run.is_empty())
    {
        let mut coords = String::new();
        for (x, y) in run {
            let _ = write!(coords, "{:.1},{:.1} ", f.x(*x), f.y(*y));
        }
        let _ = writeln!(svg, r#"<polyline {style} points="{}"/>"#, coords.trim_end());
        if s.markers {
            for (x, y) in run {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                    f.x(*x),
                    f.y(*y),
                    colour(s.colour)
                );
            }
        }
    }
}

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The finite values' range widened by `pad` of its width on each side; (0, 1) when there are
/// none, and a unit range around a single value.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let w = hi - lo;
    (lo - pad * w, hi + pad * w)
}

/// Text for SVG character data and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            colour: 0,
            dashed: false,
            faint: false,
            markers: false,
        }
    }

    fn chart(points: Vec<(f64, f64)>) -> Chart {
        Chart {
            title: "t".into(),
            x_label: "items".into(),
            panels: vec![Panel {
                title: "F1".into(),
                y_label: "F1".into(),
                y_range: Some((0.0, 1.0)),
                series: vec![series("a <b> & \"c\"", points)],
            }],
        }
    }

    /// The polylines' coordinate lists, in order.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline ")
            .skip(1)
            .map(|rest| {
                let list = rest
                    .split("points=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                list.split(' ')
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn points_map_into_the_plot_area_with_y_upwards() {
        let svg = chart(vec![(0.0, 0.0), (10.0, 1.0), (20.0, 0.5)]).to_svg();
        let lines = polylines(&svg);
        assert_eq!(lines.len(), 1);
        let p = &lines[0];
        // x: the data range is the plot's width; y: 0 at the bottom, 1 at the top.
        assert_eq!(p[0].0, LEFT);
        assert_eq!(p[2].0, WIDTH - LEGEND);
        let (top, bottom) = (TITLE + PANEL_TOP, TITLE + PANEL_TOP + PANEL_HEIGHT);
        assert_eq!((p[0].1, p[1].1), (bottom, top));
        assert!((p[2].1 - (top + bottom) / 2.0).abs() < 0.06);
    }

    #[test]
    fn non_finite_points_break_the_line_and_text_is_escaped() {
        let svg = chart(vec![(0.0, 0.1), (1.0, f64::NAN), (2.0, 0.3), (3.0, 0.4)]).to_svg();
        let lines = polylines(&svg);
        assert_eq!(lines.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 2]);
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn ranges_pad_the_data_and_survive_degenerate_input() {
        assert_eq!(padded_range([1.0, 3.0].into_iter(), 0.5), (0.0, 4.0));
        assert_eq!(padded_range([2.0].into_iter(), 0.05), (1.5, 2.5));
        assert_eq!(padded_range([f64::NAN].into_iter(), 0.05), (0.0, 1.0));
    }
}
