//! What is drawn over the panes and takes the keys while it shows: the key help, or a prompt
//! for a path (open, export, write) or a confirmation (replace an existing file). A confirmed
//! prompt answers with the action it asked for; the other components never see its keys.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};

use crate::atomic_file::Overwrite;
use crate::tui::action::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Open,
    ExportMidi,
    WriteWav,
    /// The export's MIDI or JSON file exists: Enter replaces both.
    ReplaceExport,
    /// The WAV file exists: Enter replaces it.
    ReplaceWav,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

impl Prompt {
    pub fn title(&self) -> &'static str {
        match self.kind {
            PromptKind::Open => "Open file or folder (Tab completes, Enter opens, Esc cancels)",
            PromptKind::ExportMidi => "Export MIDI + JSON to (Enter confirms, Esc cancels)",
            PromptKind::WriteWav => "Write re-synthesis WAV to (Enter confirms, Esc cancels)",
            PromptKind::ReplaceExport | PromptKind::ReplaceWav => {
                "File exists: Enter replaces it, Esc cancels"
            }
        }
    }

    /// The action the prompt asked for, with its path.
    fn answer(&self) -> Action {
        let path = PathBuf::from(self.text.trim());
        if path.as_os_str().is_empty() {
            return Action::Error("no path given".into());
        }
        let overwrite = Overwrite::from_force(matches!(
            self.kind,
            PromptKind::ReplaceExport | PromptKind::ReplaceWav
        ));
        match self.kind {
            PromptKind::Open => Action::OpenPath(path),
            PromptKind::ExportMidi | PromptKind::ReplaceExport => {
                Action::ExportTo { path, overwrite }
            }
            PromptKind::WriteWav | PromptKind::ReplaceWav => Action::WriteWavTo { path, overwrite },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Prompt(Prompt),
}

/// The help or a prompt, when one shows.
pub struct Overlay {
    mode: Mode,
}

impl Default for Overlay {
    fn default() -> Self {
        Overlay { mode: Mode::Normal }
    }
}

impl Overlay {
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Whether the overlay takes the keys.
    pub fn is_open(&self) -> bool {
        self.mode != Mode::Normal
    }

    pub fn update(&mut self, action: &Action) -> Option<Action> {
        match action {
            Action::Help => self.mode = Mode::Help,
            Action::Ask(kind, text) => {
                self.mode = Mode::Prompt(Prompt {
                    kind: *kind,
                    text: text.clone(),
                })
            }
            _ => {}
        }
        None
    }

    /// A key while the overlay shows.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Action> {
        let Mode::Prompt(p) = &mut self.mode else {
            // Any key closes the help.
            self.mode = Mode::Normal;
            return None;
        };
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                return Some(Action::Say("cancelled".into()));
            }
            KeyCode::Enter => {
                let answer = p.answer();
                self.mode = Mode::Normal;
                return Some(answer);
            }
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Tab if p.kind == PromptKind::Open => {
                let (done, hint) = complete_path(&p.text);
                p.text = done;
                return Some(Action::Hint(hint));
            }
            KeyCode::Char(c) => p.text.push(c),
            _ => {}
        }
        None
    }
}

/// Completes `text` to the longest common prefix of the matching directory entries; the hint
/// lists the candidates (folders end in `/`, only folders and audio files are offered).
pub fn complete_path(text: &str) -> (String, String) {
    let (dir, prefix) = match text.rfind('/') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text),
    };
    let read_from = if dir.is_empty() { "." } else { dir };
    let Ok(entries) = std::fs::read_dir(read_from) else {
        return (text.to_string(), format!("{read_from}: cannot list"));
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            if path.is_dir() {
                Some(format!("{name}/"))
            } else if crate::audio::has_audio_extension(&path) {
                Some(name)
            } else {
                None
            }
        })
        .collect();
    names.sort();
    let Some(first) = names.first() else {
        return (text.to_string(), "no match".into());
    };
    let common = names.iter().fold(first.clone(), |acc, n| {
        acc.chars()
            .zip(n.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let hint = if names.len() == 1 {
        String::new()
    } else {
        names.iter().take(8).cloned().collect::<Vec<_>>().join("  ")
    };
    (format!("{dir}{common}"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, crossterm::event::KeyModifiers::NONE)
    }

    fn ask(kind: PromptKind, text: &str) -> Overlay {
        let mut o = Overlay::default();
        o.update(&Action::Ask(kind, text.into()));
        o
    }

    #[test]
    fn a_confirmed_prompt_answers_with_its_action_and_closes() {
        let mut o = ask(PromptKind::ExportMidi, " out.mid ");
        assert!(o.is_open());
        match o.handle_key(key(KeyCode::Enter)) {
            Some(Action::ExportTo { path, overwrite }) => {
                assert_eq!(path, PathBuf::from("out.mid"));
                assert_eq!(overwrite, Overwrite::Refuse);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(o.mode(), &Mode::Normal);
        // Only the replace prompts allow overwriting.
        let mut o = ask(PromptKind::ReplaceWav, "x.wav");
        assert!(matches!(
            o.handle_key(key(KeyCode::Enter)),
            Some(Action::WriteWavTo {
                overwrite: Overwrite::Allow,
                ..
            })
        ));
    }

    #[test]
    fn typing_edits_the_text_and_an_empty_path_is_refused() {
        let mut o = ask(PromptKind::Open, "a");
        o.handle_key(key(KeyCode::Backspace));
        o.handle_key(key(KeyCode::Char('b')));
        assert!(matches!(o.mode(), Mode::Prompt(p) if p.text == "b"));
        o.handle_key(key(KeyCode::Backspace));
        assert!(matches!(
            o.handle_key(key(KeyCode::Enter)),
            Some(Action::Error(m)) if m == "no path given"
        ));
        let mut o = ask(PromptKind::Open, "a");
        assert!(
            matches!(o.handle_key(key(KeyCode::Esc)), Some(Action::Say(m)) if m == "cancelled")
        );
        assert!(!o.is_open());
    }

    #[test]
    fn any_key_closes_the_help() {
        let mut o = Overlay::default();
        o.update(&Action::Help);
        assert_eq!(o.mode(), &Mode::Help);
        assert!(o.handle_key(key(KeyCode::Char('q'))).is_none());
        assert!(!o.is_open());
    }
}
