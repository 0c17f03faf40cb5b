//! Waiting until a file is complete: a file is taken once its size and modification time have
//! not changed for the configured time. The modification time says when the file was last
//! written, so a file that arrives whole (renamed in, or present at start-up and untouched for
//! long) is ready as soon as it is seen, and a file written in chunks waits for its last chunk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::fingerprint::Stamp;

#[derive(Debug, Clone, Copy)]
struct Seen {
    stamp: Stamp,
    /// When the file was last seen to change (estimated from its modification time).
    since: Instant,
}

/// The files waiting to settle.
#[derive(Debug)]
pub struct StabilityTracker {
    wait: Duration,
    files: HashMap<PathBuf, Option<Seen>>,
}

/// What one look at the waiting files found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Files unchanged for the wait, sorted by path.
    pub ready: Vec<PathBuf>,
    /// Files that disappeared (or stopped being regular files) while waiting.
    pub gone: Vec<PathBuf>,
}

impl StabilityTracker {
    pub fn new(wait: Duration) -> Self {
        StabilityTracker {
            wait,
            files: HashMap::new(),
        }
    }

    /// Starts (or keeps) waiting for `path`; it is looked at on the next [`Self::poll`].
    pub fn notice(&mut self, path: PathBuf) {
        self.files.entry(path).or_insert(None);
    }

    /// Stops waiting for `path` and for everything below it (a removed folder).
    pub fn forget(&mut self, path: &Path) {
        self.files.retain(|p, _| !p.starts_with(path));
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Looks at every waiting file with `stat` (its current stamp, `None` when gone) at monotonic
    /// time `now` and wall time `wall`; settled and vanished files stop being tracked.
    pub fn poll(
        &mut self,
        now: Instant,
        wall: SystemTime,
        mut stat: impl FnMut(&Path) -> Option<Stamp>,
    ) -> Settled {
        let mut out = Settled::default();
        let wait = self.wait;
        self.files.retain(|path, seen| {
            let Some(stamp) = stat(path) else {
                out.gone.push(path.clone());
                return false;
            };
            let changed = seen.is_none_or(|s| s.stamp != stamp);
            if changed {
                // Time since the last write, as far as the file's own clock says (capped at the
                // wait, so a file from the future or a skewed clock never waits longer than it).
                let age = stamp.age(wall).min(wait);
                let since = now.checked_sub(age).unwrap_or(now);
                *seen = Some(Seen { stamp, since });
            }
            let settled = seen.is_some_and(|s| now.duration_since(s.since) >= wait);
            if settled {
                out.ready.push(path.clone());
            }
            !settled
        });
        out.ready.sort();
        out.gone.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn stamp(size: u64, mtime: SystemTime) -> Stamp {
        Stamp {
            size,
            mtime_ns: mtime.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64,
        }
    }

    #[test]
    fn a_file_growing_in_chunks_waits_for_its_last_chunk() {
        let wait = Duration::from_secs(2);
        let mut t = StabilityTracker::new(wait);
        let start = Instant::now();
        let wall0 = SystemTime::now();
        let p = PathBuf::from("/in/slow.wav");
        t.notice(p.clone());
        // A chunk every second for 5 s: never 2 s without a change.
        for s in 0..5u64 {
            let now = start + Duration::from_secs(s);
            let wall = wall0 + Duration::from_secs(s);
            let r = t.poll(now, wall, |_| Some(stamp(100 * (s + 1), wall)));
            assert!(r.ready.is_empty(), "taken at {s} s while still growing");
        }
        // Last write at 4 s: still waiting at 5.9 s, taken at 6 s.
        let last = wall0 + Duration::from_secs(4);
        let at = |ms: u64| {
            (
                start + Duration::from_millis(ms),
                wall0 + Duration::from_millis(ms),
            )
        };
        let (now, wall) = at(5900);
        assert!(t
            .poll(now, wall, |_| Some(stamp(500, last)))
            .ready
            .is_empty());
        let (now, wall) = at(6000);
        assert_eq!(t.poll(now, wall, |_| Some(stamp(500, last))).ready, vec![p]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_file_that_arrived_whole_is_ready_at_once_and_a_vanished_one_is_reported() {
        let mut t = StabilityTracker::new(Duration::from_secs(2));
        let wall = SystemTime::now();
        let old = wall - Duration::from_secs(60);
        t.notice("/in/renamed.wav".into());
        t.notice("/in/gone.wav".into());
        t.notice("/in/fresh.wav".into());
        let r = t.poll(Instant::now(), wall, |p| match p.to_str().unwrap() {
            "/in/renamed.wav" => Some(stamp(10, old)),
            "/in/fresh.wav" => Some(stamp(10, wall)),
            _ => None,
        });
        assert_eq!(r.ready, vec![PathBuf::from("/in/renamed.wav")]);
        assert_eq!(r.gone, vec![PathBuf::from("/in/gone.wav")]);
        assert_eq!(t.len(), 1);
        t.forget(Path::new("/in"));
        assert!(t.is_empty());
    }

    #[test]
    fn a_modification_time_in_the_future_waits_the_full_time_and_no_more() {
        let mut t = StabilityTracker::new(Duration::from_secs(2));
        let start = Instant::now();
        let wall = SystemTime::now();
        let future = stamp(10, wall + Duration::from_secs(3600));
        t.notice("/in/a.wav".into());
        assert!(t.poll(start, wall, |_| Some(future)).ready.is_empty());
        let later = start + Duration::from_secs(2);
        assert_eq!(t.poll(later, wall, |_| Some(future)).ready.len(), 1);
    }
}
