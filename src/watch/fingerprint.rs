//! What identifies a version of a file: its size and modification time (cheap, from `stat`) and
//! a 64-bit hash of its bytes (decisive when the cheap pair differs, e.g. after a `touch` or a
//! copy that kept the content).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// Size and modification time of a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Nanoseconds since the Unix epoch (0 for times before it).
    pub mtime_ns: u64,
}

impl Stamp {
    pub fn from_metadata(meta: &std::fs::Metadata) -> Stamp {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64);
        Stamp {
            size: meta.len(),
            mtime_ns,
        }
    }

    /// How long ago the file was last written, by the wall clock (zero for times in the future).
    pub fn age(&self, now: SystemTime) -> Duration {
        let mtime = UNIX_EPOCH + Duration::from_nanos(self.mtime_ns);
        now.duration_since(mtime).unwrap_or(Duration::ZERO)
    }
}

/// The stamp of `path` when it is a regular file (following symbolic links); `None` when it is
/// gone or is something else.
pub fn stamp_of(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| Stamp::from_metadata(&meta))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A streaming 64-bit content hash: FNV-1a over little-endian 8-byte words (rotated after every
/// multiply so that high bits reach the low ones), the tail bytes zero-padded to a last word, the
/// length mixed in, then the splitmix64 finaliser. Every step is a bijection of the state, so two
/// inputs that differ in one word always hash differently. Not cryptographic: it notices
/// changes, it does not resist forgery. The value is part of the journal's format; keep it fixed.
#[derive(Debug, Clone)]
pub struct ContentHasher {
    state: u64,
    len: u64,
    pending: [u8; 8],
    pending_len: usize,
}

impl Default for ContentHasher {
    fn default() -> Self {
        ContentHasher {
            state: FNV_OFFSET,
            len: 0,
            pending: [0; 8],
            pending_len: 0,
        }
    }
}

impl ContentHasher {
    fn word(&mut self, w: u64) {
        self.state = (self.state ^ w).wrapping_mul(FNV_PRIME).rotate_left(29);
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.pending_len > 0 {
            let take = (8 - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.pending));
            self.pending_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    pub fn finish(mut self) -> u64 {
        if self.pending_len > 0 {
            self.pending[self.pending_len..].fill(0);
            self.word(u64::from_le_bytes(self.pending));
        }
        self.word(self.len);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The hash of a byte slice, as 16 hex digits.
pub fn hash_bytes(bytes: &[u8]) -> String {
    let mut h = ContentHasher::default();
    h.update(bytes);
    format!("{:016x}", h.finish())
}

/// The hash of a file's bytes, as 16 hex digits, read in 1 MiB blocks.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = ContentHasher::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        h.update(&buf[..n]);
    }
    Ok(format!("{:016x}", h.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_does_not_depend_on_how_the_bytes_are_split() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = hash_bytes(&bytes);
        for split in [1, 3, 7, 8, 9, 500, 999] {
            let mut h = ContentHasher::default();
            for part in bytes.chunks(split) {
                h.update(part);
            }
            assert_eq!(format!("{:016x}", h.finish()), whole, "split {split}");
        }
    }

    #[test]
    fn hash_sees_one_flipped_bit_a_moved_byte_and_trailing_zeros() {
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        let base = hash_bytes(&bytes);
        for pos in [0, 7, 8, 2047, 4095] {
            for bit in [0, 7] {
                let mut b = bytes.clone();
                b[pos] ^= 1 << bit;
                assert_ne!(hash_bytes(&b), base, "bit {bit} of byte {pos}");
            }
        }
        let mut swapped = bytes.clone();
        swapped.swap(100, 3000);
        assert_ne!(hash_bytes(&swapped), base);
        let mut padded = bytes.clone();
        padded.push(0);
        assert_ne!(
            hash_bytes(&padded),
            base,
            "a trailing zero byte is a change"
        );
        assert_ne!(hash_bytes(&[]), hash_bytes(&[0]));
    }

    #[test]
    fn file_hash_equals_byte_hash_and_stamp_reads_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(hash_file(&p).unwrap(), hash_bytes(&bytes));
        assert_eq!(stamp_of(&p).unwrap().size, 3_000_000);
        assert_eq!(stamp_of(dir.path()), None, "a folder has no stamp");
        assert_eq!(stamp_of(&dir.path().join("missing")), None);
    }
}
