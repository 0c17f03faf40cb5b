//! The workbench's key map: one table that both the key handler and the help overlay read, so
//! the help can never miss a key.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;

/// (key label for the help, action, description).
pub const KEYS: &[(&str, Action, &str)] = &[
    (
        "o",
        Action::Open,
        "open an audio file or folder (Tab completes)",
    ),
    (
        "r",
        Action::Transcribe,
        "transcribe the open stem (background)",
    ),
    ("space", Action::PlayPause, "play / pause"),
    ("s", Action::Stop, "stop (back to the start)"),
    ("← →", Action::SeekBack, "seek 1 s back / forward"),
    (
        "b",
        Action::ToggleAb,
        "A/B: original <-> re-synthesis, same position",
    ),
    (
        "w",
        Action::WriteResynthesis,
        "write the re-synthesis to a WAV",
    ),
    (
        "e",
        Action::ExportMidi,
        "export MIDI (+ JSON), path confirmed first",
    ),
    (
        "a",
        Action::Adapt,
        "learn the recording: adapt the model, transcribe",
    ),
    (
        "t",
        Action::TrainStart,
        "start training (open folder/file, session)",
    ),
    ("p", Action::TrainPause, "pause / resume training"),
    (
        "x",
        Action::TrainStop,
        "stop training (writes a checkpoint)",
    ),
    (
        "+ -",
        Action::ZoomIn,
        "zoom the piano roll in / out (or wheel)",
    ),
    ("h l", Action::ScrollLeft, "scroll the piano roll (or [ ])"),
    ("0", Action::ScrollHome, "piano roll to the start"),
    (
        ", .",
        Action::ThresholdDown,
        "peak-picking threshold down / up",
    ),
    ("c", Action::LossScales, "loss: total <-> per CQT scale"),
    ("g", Action::LossLog, "loss: linear <-> log scale"),
    ("m", Action::LossXAxis, "loss: x = step <-> time"),
    ("f", Action::Spectrum, "components: waveform <-> spectrum"),
    ("?", Action::Help, "this help"),
    ("q", Action::Quit, "quit"),
];

pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('o') => Action::Open,
        KeyCode::Char('r') => Action::Transcribe,
        KeyCode::Char(' ') => Action::PlayPause,
        KeyCode::Char('s') => Action::Stop,
        KeyCode::Left => Action::SeekBack,
        KeyCode::Right => Action::SeekForward,
        KeyCode::Char('b') => Action::ToggleAb,
        KeyCode::Char('w') => Action::WriteResynthesis,
        KeyCode::Char('e') => Action::ExportMidi,
        KeyCode::Char('a') => Action::Adapt,
        KeyCode::Char('t') => Action::TrainStart,
        KeyCode::Char('p') => Action::TrainPause,
        KeyCode::Char('x') => Action::TrainStop,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
        KeyCode::Char('-') => Action::ZoomOut,
        KeyCode::Char('h') | KeyCode::Char('[') => Action::ScrollLeft,
        KeyCode::Char('l') | KeyCode::Char(']') => Action::ScrollRight,
        KeyCode::Char('0') | KeyCode::Home => Action::ScrollHome,
        KeyCode::Char(',') => Action::ThresholdDown,
        KeyCode::Char('.') => Action::ThresholdUp,
        KeyCode::Char('c') => Action::LossScales,
        KeyCode::Char('g') => Action::LossLog,
        KeyCode::Char('m') => Action::LossXAxis,
        KeyCode::Char('f') => Action::Spectrum,
        _ => return None,
    })
}
