//! Where the time of reading volumes goes: storage read, decryption, decompression, and (for
//! restores) writing and hashing files. Nanoseconds summed over worker threads.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stage of the read pipeline. Read, Decrypt and Decompress are measured inclusively (each
/// includes the stage below it); [`StageTimes::seconds`] separates them.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Read = 0,
    Decrypt = 1,
    Decompress = 2,
    Write = 3,
    Verify = 4,
}

#[derive(Debug, Default)]
pub struct StageTimes([AtomicU64; 5]);

/// Seconds per stage, summed over the workers that ran in parallel (so their sum can exceed
/// the wall-clock time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageSeconds {
    /// Fetching stored bytes from the repository.
    pub read: f64,
    /// AES-256-GCM opening of frames.
    pub decrypt: f64,
    /// zstd decompression and tar parsing.
    pub decompress: f64,
    /// Writing files (and setting modes and times).
    pub write: f64,
    /// SHA-256 of every restored file.
    pub verify: f64,
}

fn round_ms(ns: u64) -> f64 {
    (ns as f64 / 1e6).round() / 1000.0
}

impl StageTimes {
    pub fn add(&self, stage: Stage, d: Duration) {
        self.0[stage as usize].fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Time `f` as `stage`.
    pub fn time<T>(&self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.add(stage, t.elapsed());
        r
    }

    pub fn seconds(&self) -> StageSeconds {
        let get = |s: Stage| self.0[s as usize].load(Ordering::Relaxed);
        let read = get(Stage::Read);
        let decrypt_incl = get(Stage::Decrypt);
        let decompress_incl = get(Stage::Decompress);
        StageSeconds {
            read: round_ms(read),
            decrypt: round_ms(decrypt_incl.saturating_sub(read)),
            decompress: round_ms(decompress_incl.saturating_sub(decrypt_incl)),
            write: round_ms(get(Stage::Write)),
            verify: round_ms(get(Stage::Verify)),
        }
    }
}

/// A reader that adds the time spent in `inner.read` to one stage.
pub struct Timed<'a, R> {
    inner: R,
    times: Option<(&'a StageTimes, Stage)>,
}

impl<'a, R> Timed<'a, R> {
    pub fn new(inner: R, times: Option<&'a StageTimes>, stage: Stage) -> Self {
        Timed {
            inner,
            times: times.map(|t| (t, stage)),
        }
    }
}

impl<R: Read> Read for Timed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.times {
            None => self.inner.read(buf),
            Some((t, s)) => t.time(s, || self.inner.read(buf)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusive_stages_are_separated() {
        let t = StageTimes::default();
        t.add(Stage::Read, Duration::from_millis(100));
        t.add(Stage::Decrypt, Duration::from_millis(300));
        t.add(Stage::Decompress, Duration::from_millis(700));
        t.add(Stage::Write, Duration::from_millis(50));
        let s = t.seconds();
        assert_eq!(s.read, 0.1);
        assert_eq!(s.decrypt, 0.2);
        assert_eq!(s.decompress, 0.4);
        assert_eq!(s.write, 0.05);
        assert_eq!(s.verify, 0.0);
        let mut r = Timed::new(&b"abc"[..], Some(&t), Stage::Verify);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "abc");
    }
}
