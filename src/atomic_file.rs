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
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_parent(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Flushes the folder entry of a renamed file, so that a power cut after the rename keeps the
/// new name. Best effort: some filesystems refuse to sync a directory, and the data is safe
/// against a crashed process either way.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Removes the temporary files that a killed process (SIGKILL, power cut) left in `dir`: those
/// whose writer's process id no longer runs. Files of running processes are left alone, as is
/// everything when process ids cannot be checked (no `/proc`). Returns how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let proc_root = Path::new("/proc/self");
    if !proc_root.exists() {
        return 0;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = temp_file_pid(&name.to_string_lossy()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists()
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The writer's process id in a temporary file name `.<name>.<pid>.<n>.drummernet-tmp`.
fn temp_file_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_suffix(TEMP_SUFFIX)?;
    let mut parts = rest.rsplitn(3, '.');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next().filter(|head| head.starts_with('.'))?;
    Some(pid)
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
    fn stale_temp_files_of_dead_processes_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = std::process::id();
        // Process ids are below 2^22 on Linux: this one cannot run.
        let dead = 4_194_304 + 17;
        let names = [
            format!(".latest.safetensors.{dead}.3{TEMP_SUFFIX}"),
            format!(".latest.safetensors.{live}.4{TEMP_SUFFIX}"),
            "latest.safetensors".to_string(),
            format!("notes.{dead}.1{TEMP_SUFFIX}"),
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        let removed = remove_stale_temp_files(dir.path());
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        if Path::new("/proc/self").exists() {
            assert_eq!(removed, 1);
            let mut want = names[1..].to_vec();
            want.sort();
            assert_eq!(left, want);
        } else {
            assert_eq!(removed, 0);
        }
        assert_eq!(temp_file_pid(&names[0]), Some(dead));
        assert_eq!(temp_file_pid("latest.safetensors"), None);
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
