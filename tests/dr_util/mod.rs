//! Helpers for validate, keys, security, crash, locks and cleanup tests (beside `common`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::Project;

/// Cheap, deterministic, incompressible bytes (xorshift64*).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Cheap, deterministic, compressible bytes: a 4 KiB random block repeated, each repetition
/// stamped with its number, so every file and every block differs.
pub fn patterned(seed: u64, len: usize) -> Vec<u8> {
    let block = noise(seed, 4096);
    let mut out = Vec::with_capacity(len + 4096);
    let mut n: u64 = 0;
    while out.len() < len {
        out.extend_from_slice(&block);
        out.extend_from_slice(&n.to_le_bytes());
        n += 1;
    }
    out.truncate(len);
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Everything a user sees of a run, for assertion messages.
pub fn shown(o: &Output) -> String {
    format!(
        "exit {}\nstdout: {}\nstderr: {}",
        code(o),
        stdout(o),
        stderr(o)
    )
}

/// Assert the run did not panic (a clear error, not a crash).
pub fn assert_no_panic(o: &Output) {
    let e = stderr(o);
    assert!(
        !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
        "the binary panicked:\n{}",
        shown(o)
    );
    assert!(
        o.status.code().is_some(),
        "killed by a signal:\n{}",
        shown(o)
    );
}

/// The `--json` document on stdout of a run with `--json`, whatever the exit code.
pub fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", shown(o)))
}

/// Run `args` with `--json`, expecting exit code `want`; returns (json, stderr).
pub fn json_run(p: &Project, args: &[&str], want: i32) -> (serde_json::Value, String) {
    let mut a = args.to_vec();
    a.push("--json");
    let o = p.run(&a);
    assert_no_panic(&o);
    assert_eq!(code(&o), want, "mahavishnu-dr {args:?}:\n{}", shown(&o));
    (json_of(&o), stderr(&o))
}

/// The folder of one backup in the project's repository.
pub fn backup_dir(p: &Project, id: &str) -> PathBuf {
    p.repo().join("backups").join(id)
}

/// The volume objects (`vol-*`) of one backup, sorted by name.
pub fn volumes(p: &Project, id: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(backup_dir(p, id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("vol-"))
        .collect();
    v.sort();
    v
}

/// Every regular file under `dir`, relative path -> bytes (empty map when `dir` is missing).
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(base: &Path, d: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else {
            return;
        };
        for e in rd {
            let path = e.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if m.is_dir() {
                walk(base, &path, out);
            } else if m.is_file() {
                out.insert(rel, std::fs::read(&path).unwrap());
            } else {
                out.insert(rel, b"<link>".to_vec());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Poll `f` every 20 ms until it returns Some, or panic after `timeout` naming `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Flip one bit of the byte at `offset` of a file.
pub fn flip_byte(path: &Path, offset: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[offset] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

/// Whether the test runs as root (file modes do not stop root from reading).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
