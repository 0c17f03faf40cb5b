//! A training session folder: `sessions/NAME/` with the config it was started with,
//! `checkpoint-<step>.safetensors` + `latest.safetensors` (atomic), and `loss.csv`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::atomic_file::{write_atomic, write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};

pub const LATEST: &str = "latest.safetensors";
pub const LOSS_CSV: &str = "loss.csv";
pub const CONFIG_FILE: &str = "config.toml";

/// One row of `loss.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct LossRow {
    pub step: u64,
    /// Wall-clock seconds of training so far (summed over resumed runs).
    pub seconds: f64,
    pub loss: f64,
    pub per_scale: Vec<f64>,
    pub items_per_second: f64,
}

impl LossRow {
    fn to_csv(&self) -> String {
        let mut s = format!("{},{:.3},{:.6}", self.step, self.seconds, self.loss);
        for v in &self.per_scale {
            s.push_str(&format!(",{v:.6}"));
        }
        s.push_str(&format!(",{:.3}", self.items_per_second));
        s
    }

    fn header(scales: usize) -> String {
        let mut s = "step,seconds,loss".to_string();
        for i in 1..=scales {
            s.push_str(&format!(",scale{i}"));
        }
        s.push_str(",items_per_second");
        s
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub name: String,
    pub dir: PathBuf,
}

impl Session {
    /// A new session folder, or an existing one when `resume` is set. Starting a new session over
    /// an existing one would mix two runs' checkpoints, so that is refused.
    pub fn open(root: &Path, name: &str, resume: bool) -> Result<Session> {
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(Error::Invalid(format!(
                "session name `{name}`: use a plain folder name"
            )));
        }
        let dir = root.join(name);
        let session = Session {
            name: name.to_string(),
            dir,
        };
        if resume {
            if !session.latest().exists() {
                return Err(Error::Invalid(format!(
                    "{}: cannot resume: no {LATEST} in this session",
                    session.dir.display()
                )));
            }
        } else if session.dir.join(LATEST).exists() || session.dir.join(LOSS_CSV).exists() {
            return Err(Error::Invalid(format!(
                "{}: session exists already (use --resume to continue it, or another --session name)",
                session.dir.display()
            )));
        }
        fs::create_dir_all(&session.dir).map_err(|e| Error::io(&session.dir, e))?;
        // A run killed while writing a checkpoint leaves its temporary file behind.
        crate::atomic_file::remove_stale_temp_files(&session.dir);
        Ok(session)
    }

    pub fn latest(&self) -> PathBuf {
        self.dir.join(LATEST)
    }

    pub fn checkpoint_path(&self, step: u64) -> PathBuf {
        self.dir.join(format!("checkpoint-{step:08}.safetensors"))
    }

    pub fn loss_csv(&self) -> PathBuf {
        self.dir.join(LOSS_CSV)
    }

    pub fn write_config(&self, toml_text: &str) -> Result<()> {
        write_bytes_atomic(
            &self.dir.join(CONFIG_FILE),
            toml_text.as_bytes(),
            Overwrite::Allow,
        )
    }

    /// Writes `checkpoint-<step>` and then `latest` (both atomic: a crash at any moment leaves
    /// the previous `latest` valid), then prunes old numbered checkpoints beyond `keep`.
    pub fn save_checkpoint(&self, step: u64, bytes: &[u8], keep: usize) -> Result<PathBuf> {
        let path = self.checkpoint_path(step);
        write_bytes_atomic(&path, bytes, Overwrite::Allow)?;
        write_bytes_atomic(&self.latest(), bytes, Overwrite::Allow)?;
        if keep > 0 {
            let numbered = self.numbered_checkpoints()?;
            let excess = numbered.len().saturating_sub(keep);
            for (_, old) in numbered.into_iter().take(excess) {
                let _ = fs::remove_file(old);
            }
        }
        Ok(path)
    }

    /// The numbered checkpoints with their steps, oldest first. Sorted by the step number, not
    /// the name: past 99 999 999 steps the names grow a digit and would sort wrongly.
    pub fn numbered_checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut found: Vec<(u64, PathBuf)> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let step = p
                    .file_name()?
                    .to_str()?
                    .strip_prefix("checkpoint-")?
                    .strip_suffix(".safetensors")?
                    .parse::<u64>()
                    .ok()?;
                Some((step, p))
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// Appends rows to `loss.csv` (creating it with a header).
    pub fn append_loss(&self, rows: &[LossRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.loss_csv();
        let new = !path.exists();
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut text = String::new();
        if new {
            text.push_str(&LossRow::header(rows[0].per_scale.len()));
            text.push('\n');
        }
        for r in rows {
            text.push_str(&r.to_csv());
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io(&path, e))
    }

    /// On resume: drop rows logged after the checkpoint we resume from (a killed run may have
    /// logged steps whose weights were never saved), so the curve continues without duplicates.
    pub fn truncate_loss_after(&self, step: u64) -> Result<()> {
        let path = self.loss_csv();
        if !path.exists() {
            return Ok(());
        }
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut lines = text.lines();
        let Some(header) = lines.next() else {
            return Ok(());
        };
        // A run killed while appending leaves a partial last line: it is dropped with the other
        // rows past the checkpoint instead of making the session impossible to resume. The
        // header is kept as it was (the kept rows may be none).
        let columns = header.split(',').count();
        let kept: Vec<&str> = lines
            .filter(|line| parse_row(line, columns).is_some_and(|r| r.step <= step))
            .collect();
        write_atomic(&path, Overwrite::Allow, |w| {
            writeln!(w, "{header}").map_err(|e| Error::io(&path, e))?;
            for line in &kept {
                writeln!(w, "{line}").map_err(|e| Error::io(&path, e))?;
            }
            Ok(())
        })
    }
}

/// Reads a session's `loss.csv`; a malformed line is an error naming the file and line.
pub fn read_loss_csv(path: &Path) -> Result<Vec<LossRow>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || {
            Error::Invalid(format!(
                "{}: line {}: malformed loss row",
                path.display(),
                i + 1
            ))
        };
        rows.push(parse_row(line, 0).ok_or_else(bad)?);
    }
    Ok(rows)
}

/// One `loss.csv` row; None when malformed or (for `columns` > 0) of another width.
fn parse_row(line: &str, columns: usize) -> Option<LossRow> {
    let fields: Vec<f64> = line
        .split(',')
        .map(|f| f.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    if fields.len() < 4 || (columns > 0 && fields.len() != columns) {
        return None;
    }
    Some(LossRow {
        step: fields[0] as u64,
        seconds: fields[1],
        loss: fields[2],
        per_scale: fields[3..fields.len() - 1].to_vec(),
        items_per_second: fields[fields.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64) -> LossRow {
        LossRow {
            step,
            seconds: step as f64,
            loss: 1.0 / step as f64,
            per_scale: vec![0.5, 0.25],
            items_per_second: 3.0,
        }
    }

    #[test]
    fn loss_csv_round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::open(dir.path(), "run", false).unwrap();
        s.append_loss(&[row(1), row(2)]).unwrap();
        s.append_loss(&[row(3)]).unwrap();
        let rows = read_loss_csv(&s.loss_csv()).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!((rows[1].loss - 0.5).abs() < 1e-9 && rows[1].per_scale == vec![0.5, 0.25]);
        s.truncate_loss_after(2).unwrap();
        assert_eq!(read_loss_csv(&s.loss_csv()).unwrap().len(), 2);
    }

    #[test]
    fn truncation_survives_a_partial_last_line_and_keeps_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::open(dir.path(), "run", false).unwrap();
        s.append_loss(&[row(1), row(2), row(3)]).unwrap();
        // A run killed in the middle of appending row 4.
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(s.loss_csv())
            .unwrap();
        f.write_all(b"4,4.000,0.25").unwrap();
        drop(f);
        assert!(read_loss_csv(&s.loss_csv()).is_err());
        s.truncate_loss_after(3).unwrap();
        let rows = read_loss_csv(&s.loss_csv()).unwrap();
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(rows[1], row(2));
        // Resuming from a checkpoint before every logged row keeps the full header, so the rows
        // appended next still match it.
        s.truncate_loss_after(0).unwrap();
        s.append_loss(&[row(1)]).unwrap();
        let text = fs::read_to_string(s.loss_csv()).unwrap();
        assert_eq!(
            text,
            "step,seconds,loss,scale1,scale2,items_per_second\n1,1.000,1.000000,0.500000,0.250000,3.000\n"
        );
    }

    #[test]
    fn retention_orders_checkpoints_by_step_not_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::open(dir.path(), "run", false).unwrap();
        s.save_checkpoint(99_999_999, b"a", 2).unwrap();
        s.save_checkpoint(100_000_000, b"b", 2).unwrap();
        s.save_checkpoint(100_000_001, b"c", 2).unwrap();
        let steps: Vec<u64> = s
            .numbered_checkpoints()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(steps, vec![100_000_000, 100_000_001]);
        assert_eq!(fs::read(s.latest()).unwrap(), b"c");
    }

    #[test]
    fn refuses_to_restart_over_an_existing_session_and_to_resume_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::open(dir.path(), "run", false).unwrap();
        assert!(Session::open(dir.path(), "other", true)
            .unwrap_err()
            .to_string()
            .contains("cannot resume"));
        s.save_checkpoint(10, b"ten", 2).unwrap();
        s.save_checkpoint(20, b"twenty", 2).unwrap();
        s.save_checkpoint(30, b"thirty", 2).unwrap();
        assert!(Session::open(dir.path(), "run", false)
            .unwrap_err()
            .to_string()
            .contains("--resume"));
        assert_eq!(fs::read(s.latest()).unwrap(), b"thirty");
        assert!(!s.checkpoint_path(10).exists() && s.checkpoint_path(20).exists());
        Session::open(dir.path(), "run", true).unwrap();
        assert!(Session::open(dir.path(), "../x", false).is_err());
    }
}
