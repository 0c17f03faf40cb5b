//! Drawing: each pane is a function of the components it shows, read through their
//! accessors, and writes into the frame; nothing here changes state. [`draw`] lays out the
//! whole screen from the [`App`].

mod loss;
mod overlay;
mod piano_roll;
mod status;
mod transport;
mod waveforms;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use super::app::App;
use super::components::prompt::Mode;

pub use loss::draw_loss;
pub use piano_roll::draw_piano_roll;
pub use status::draw_status;
pub use transport::draw_transport;
pub use waveforms::draw_waveforms;

/// The panes' rectangles for a terminal of `area` (80x24 and up).
pub struct Panes {
    pub components: Rect,
    pub roll: Rect,
    pub loss: Rect,
    pub transport: Rect,
    pub status: Rect,
}

pub fn layout(area: Rect, components: usize) -> Panes {
    let [main, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let wanted = (components as u16 + 2).max(main.height * 55 / 100);
    let top_h = wanted.min(main.height.saturating_sub(6));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Min(0)]).areas(main);
    let comp_w = (top.width / 3).clamp(20, 48);
    let [components, roll] =
        Layout::horizontal([Constraint::Length(comp_w), Constraint::Min(0)]).areas(top);
    let [loss, transport] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(bottom);
    Panes {
        components,
        roll,
        loss,
        transport,
        status,
    }
}

pub fn draw(f: &mut Frame, app: &App) {
    let p = layout(f.area(), app.waveforms().names().len());
    draw_waveforms(f, p.components, app.waveforms());
    draw_piano_roll(f, p.roll, app.roll(), app.stem());
    draw_loss(f, p.loss, app.loss());
    draw_transport(f, p.transport, app.stem(), app.roll(), app.training());
    draw_status(f, p.status, app.status(), app.training());
    match app.overlay().mode() {
        Mode::Help => overlay::draw_help(f, f.area()),
        Mode::Prompt(pr) => overlay::draw_prompt(f, f.area(), pr, app.status().message()),
        Mode::Normal => {}
    }
}
