//! Which files of the watched folder are inputs: audio files (by extension) that are not hidden,
//! not temporary files of an atomic write, not below the output folder when that lies inside the
//! watched one, and (without `--recursive`) directly in the watched folder.

use std::path::{Path, PathBuf};

use crate::atomic_file::TEMP_SUFFIX;
use crate::audio::has_audio_extension;

/// Why a path is not an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotInput {
    /// Outside the watched folder, in a sub-folder without `--recursive`, or in the output
    /// folder nested inside the watched one.
    OutOfScope,
    /// A dot-file (also editors' and copy tools' partial files) or a temporary output.
    HiddenOrTemporary,
    /// A file the decoder would not read, judged by its extension.
    NotAudio,
}

/// The rule deciding which paths are inputs.
#[derive(Debug, Clone)]
pub struct InputFilter {
    pub root: PathBuf,
    pub recursive: bool,
    /// An output folder strictly inside `root`: never scanned.
    pub excluded: Option<PathBuf>,
}

impl InputFilter {
    /// `root` and `out_dir` should be canonical, so that prefixes compare.
    pub fn new(root: PathBuf, out_dir: &Path, recursive: bool) -> Self {
        let excluded =
            (out_dir != root && out_dir.starts_with(&root)).then(|| out_dir.to_path_buf());
        InputFilter {
            root,
            recursive,
            excluded,
        }
    }

    /// Whether a folder is walked into (scans and new folders alike).
    pub fn walks_into(&self, dir: &Path) -> bool {
        if dir == self.root {
            return true;
        }
        let Ok(rel) = dir.strip_prefix(&self.root) else {
            return false;
        };
        self.recursive
            && !self.excluded.as_ref().is_some_and(|x| dir.starts_with(x))
            && !rel.components().any(|c| is_hidden(c.as_os_str()))
    }

    /// `Ok(())` when `path` is an input file name (whether the file exists is not looked at).
    pub fn check(&self, path: &Path) -> Result<(), NotInput> {
        let (Some(parent), Ok(rel)) = (path.parent(), path.strip_prefix(&self.root)) else {
            return Err(NotInput::OutOfScope);
        };
        if rel.as_os_str().is_empty() {
            return Err(NotInput::OutOfScope);
        }
        if parent != self.root {
            if !self.recursive || self.excluded.as_ref().is_some_and(|x| path.starts_with(x)) {
                return Err(NotInput::OutOfScope);
            }
            if rel.components().any(|c| is_hidden(c.as_os_str())) {
                return Err(NotInput::HiddenOrTemporary);
            }
        }
        let name = path.file_name().unwrap_or_default();
        if is_hidden(name) || name.to_string_lossy().ends_with(TEMP_SUFFIX) {
            return Err(NotInput::HiddenOrTemporary);
        }
        if !has_audio_extension(path) {
            return Err(NotInput::NotAudio);
        }
        Ok(())
    }

    /// Every file below `dir` (itself inside the root) that is a candidate, sorted, plus the
    /// files found that are not audio (for the report). Unreadable folders are skipped; symbolic
    /// links to folders are not followed (they could loop).
    pub fn scan(&self, dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut inputs = Vec::new();
        let mut not_audio = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            if !self.walks_into(&d) {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !path.is_file() {
                    continue;
                }
                match self.check(&path) {
                    Ok(()) => inputs.push(path),
                    Err(NotInput::NotAudio) => not_audio.push(path),
                    Err(_) => {}
                }
            }
        }
        inputs.sort();
        not_audio.sort();
        (inputs, not_audio)
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_audio_files_in_scope_are_inputs() {
        let root = PathBuf::from("/w/in");
        let flat = InputFilter::new(root.clone(), Path::new("/w/out"), false);
        assert_eq!(flat.check(Path::new("/w/in/a.wav")), Ok(()));
        assert_eq!(flat.check(Path::new("/w/in/A.FLAC")), Ok(()));
        assert_eq!(
            flat.check(Path::new("/w/in/a.mid")),
            Err(NotInput::NotAudio)
        );
        assert_eq!(
            flat.check(Path::new("/w/in/.a.wav")),
            Err(NotInput::HiddenOrTemporary)
        );
        let temp = format!("/w/in/.a.mid.12.0{TEMP_SUFFIX}");
        assert_eq!(
            flat.check(Path::new(&temp)),
            Err(NotInput::HiddenOrTemporary)
        );
        assert_eq!(
            flat.check(Path::new("/w/in/sub/a.wav")),
            Err(NotInput::OutOfScope)
        );
        assert_eq!(flat.check(Path::new("/w/a.wav")), Err(NotInput::OutOfScope));

        let deep = InputFilter::new(root.clone(), Path::new("/w/in/transcriptions"), true);
        assert_eq!(deep.check(Path::new("/w/in/sub/x/a.wav")), Ok(()));
        assert_eq!(
            deep.check(Path::new("/w/in/transcriptions/a.wav")),
            Err(NotInput::OutOfScope)
        );
        assert_eq!(
            deep.check(Path::new("/w/in/.cache/a.wav")),
            Err(NotInput::HiddenOrTemporary)
        );
        // The output folder being the watched folder excludes nothing.
        let beside = InputFilter::new(root.clone(), &root, true);
        assert!(beside.excluded.is_none());
        assert_eq!(beside.check(Path::new("/w/in/a.wav")), Ok(()));
    }

    #[test]
    fn scan_finds_nested_inputs_only_when_recursive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for p in [
            "a.wav",
            "notes.txt",
            "sub/b.flac",
            "sub/deeper/c.mp3",
            ".hidden/d.wav",
        ] {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let (flat, not_audio) = InputFilter::new(root.clone(), &root, false).scan(&root);
        assert_eq!(flat, vec![root.join("a.wav")]);
        assert_eq!(not_audio, vec![root.join("notes.txt")]);
        let (deep, _) = InputFilter::new(root.clone(), &root, true).scan(&root);
        assert_eq!(
            deep,
            vec![
                root.join("a.wav"),
                root.join("sub/b.flac"),
                root.join("sub/deeper/c.mp3")
            ]
        );
    }
}
