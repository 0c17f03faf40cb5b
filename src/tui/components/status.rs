//! The status line's state: the latest message (a note or an error), the device the model runs
//! on and the smoothed time to draw a frame. Every component's message arrives here as an
//! [`Action::Say`], [`Action::Error`] or [`Action::Hint`].

use std::time::Duration;

use crate::tui::action::Action;

pub struct StatusLine {
    message: String,
    is_error: bool,
    /// The configured device, as the status line names it.
    device: String,
    /// Smoothed time to draw one frame (ms).
    frame_ms: f64,
}

impl StatusLine {
    pub fn new(device: String) -> Self {
        StatusLine {
            message: String::new(),
            is_error: false,
            device,
            frame_ms: 0.0,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::Say(m) => {
                self.set(m, false);
                tracing::info!("{m}");
            }
            Action::Error(m) => {
                self.set(m, true);
                tracing::warn!("{m}");
            }
            Action::Hint(m) => self.set(m, false),
            _ => {}
        }
        None
    }

    fn set(&mut self, m: &str, is_error: bool) {
        self.message = m.to_string();
        self.is_error = is_error;
    }

    pub fn note_frame_time(&mut self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        self.frame_ms = if self.frame_ms == 0.0 {
            ms
        } else {
            0.9 * self.frame_ms + 0.1 * ms
        };
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_error(&self) -> bool {
        self.is_error
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn frame_ms(&self) -> f64 {
        self.frame_ms
    }
}
