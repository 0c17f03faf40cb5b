//! The loss chart's state: the bounded history of the training loss (see
//! [`crate::tui::loss_history`]) and how it is shown (total or per CQT scale, linear or log,
//! against step or time).

use crate::train::session::LossRow;
use crate::train::trainer::StepReport;
use crate::tui::action::Action;
use crate::tui::loss_history::{LossHistory, XAxis};

#[derive(Default)]
pub struct LossChart {
    history: LossHistory,
    per_scale: bool,
    log: bool,
    x: XAxis,
}

impl LossChart {
    /// A chart of `history` (a session's loss so far).
    pub fn new(history: LossHistory) -> Self {
        LossChart {
            history,
            ..LossChart::default()
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::LossScales => self.per_scale = !self.per_scale,
            Action::LossLog => self.log = !self.log,
            Action::LossXAxis => {
                self.x = match self.x {
                    XAxis::Step => XAxis::Seconds,
                    XAxis::Seconds => XAxis::Step,
                }
            }
            _ => {}
        }
        None
    }

    /// A training step's loss; a step whose update was skipped (not finite) is not plotted.
    pub fn on_step(&mut self, r: &StepReport) {
        if r.finite {
            self.history.push(LossRow {
                step: r.step,
                seconds: r.seconds,
                loss: r.loss,
                per_scale: r.per_scale.clone(),
                items_per_second: r.items_per_second,
            });
        }
    }

    pub fn history(&self) -> &LossHistory {
        &self.history
    }

    pub fn per_scale(&self) -> bool {
        self.per_scale
    }

    pub fn log(&self) -> bool {
        self.log
    }

    pub fn x_axis(&self) -> XAxis {
        self.x
    }
}
