//! Charts the project draws itself (learning curves for `drummernet curves`), written as SVG
//! text so that they need no font or graphics library and diff as text in the repository.

pub mod line_chart;
pub mod ticks;
