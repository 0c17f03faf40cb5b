//! Writing outputs so that a reader never sees half a file and an existing file is never lost:
//! write to a temporary file beside the target, flush it to disk, then rename it into place.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Whether an existing file at the target may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Allow,
    Refuse,
}

impl Overwrite {
    pub fn from_force(force: bool) -> Self {
        if force {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        }
    }
}

/// The suffix every temporary file ends with, so that watchers can ignore them.
pub const TEMP_SUFFIX: &str = ".drummernet-tmp";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path_for(target: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!(".{name}.{}.{n}{TEMP_SUFFIX}", std::process::id());
    target.with_file_name(tmp)
}

/// Fails with [`Error::OutputExists`] when `path` exists and `policy` refuses overwriting.
pub fn check_writable(path: &Path, policy: Overwrite) -> Result<()> {
    if policy == Overwrite::Refuse && path.exists() {
        return Err(Error::OutputExists {
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("is a directory, expected a file path"),
        ));
    }
    Ok(())
}

/// Writes `path` atomically with the bytes produced by `fill`. On any error the temporary file
/// is removed and the previous content of `path` (if any) is untouched.
pub fn write_atomic<F>(path: &Path, policy: Overwrite, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    check_writable(path, policy)?;
    let tmp = temp_path_for(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io(path, e))?;
        let mut writer = BufWriter::new(file);
        fill(&mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        // Re-check just before the rename: another process may have created the file meanwhile.
        check_writable(path, policy)?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a whole byte buffer atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8], policy: Overwrite) -> Result<()> {
    write_atomic(path, policy, |w| {
        w.write_all(bytes).map_err(|e| Error::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_bytes_atomic(&p, b"first", Overwrite::Refuse).unwrap();
        let err = write_bytes_atomic(&p, b"second", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, Error::OutputExists { .. }));
        assert_eq!(fs::read(&p).unwrap(), b"first");
        write_bytes_atomic(&p, b"second", Overwrite::Allow).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
    }

    #[test]
    fn failed_fill_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        fs::write(&p, b"old").unwrap();
        let err = write_atomic(&p, Overwrite::Allow, |_| Err(Error::Invalid("boom".into())));
        assert!(err.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
    }
}
