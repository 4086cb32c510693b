//! Helpers for the round-trip, incremental, SQLite, property and settings tests: a strict
//! snapshot of a folder (kinds, modes, nanosecond mtimes of files and folders, contents, link
//! targets), a readable diff, and builders for test trees. Used next to `tests/common`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::{RngCore, SeedableRng};
use serde_json::Value;

use crate::common::{Project, rand_suffix};

/// One filesystem object as a user sees it.
#[derive(Clone, PartialEq, Eq)]
pub enum Node {
    File {
        mode: u32,
        mtime_ns: i64,
        content: Vec<u8>,
    },
    Dir {
        mode: u32,
        mtime_ns: i64,
    },
    Symlink {
        target: String,
    },
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::File {
                mode,
                mtime_ns,
                content,
            } => {
                let preview: String = String::from_utf8_lossy(&content[..content.len().min(24)])
                    .chars()
                    .map(|c| if c.is_control() { '.' } else { c })
                    .collect();
                write!(
                    f,
                    "file mode {mode:o} mtime {mtime_ns} {} bytes {preview:?}",
                    content.len()
                )
            }
            Node::Dir { mode, mtime_ns } => write!(f, "dir mode {mode:o} mtime {mtime_ns}"),
            Node::Symlink { target } => write!(f, "symlink -> {target:?}"),
        }
    }
}

/// Relative path (`/`-separated, the root itself is not included) -> node.
pub type Snap = BTreeMap<String, Node>;

/// Everything under `root` (not `root` itself).
pub fn snapshot(root: &Path) -> Snap {
    let mut out = Snap::new();
    walk(root, root, &mut out);
    out
}

/// `root` itself (as `"."`) and everything under it.
pub fn snapshot_with_root(root: &Path) -> Snap {
    let mut out = snapshot(root);
    out.insert(".".into(), node_of(root));
    out
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.mtime() * 1_000_000_000 + m.mtime_nsec()
}

fn node_of(path: &Path) -> Node {
    let m =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    if m.file_type().is_symlink() {
        Node::Symlink {
            target: std::fs::read_link(path)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        }
    } else if m.is_dir() {
        Node::Dir {
            mode: m.mode() & 0o7777,
            mtime_ns: mtime_ns(&m),
        }
    } else {
        Node::File {
            mode: m.mode() & 0o7777,
            mtime_ns: mtime_ns(&m),
            content: std::fs::read(path).unwrap(),
        }
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Snap) {
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display()));
    for e in rd {
        let path = e.unwrap().path();
        let rel = path
            .strip_prefix(base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let node = node_of(&path);
        let is_dir = matches!(node, Node::Dir { .. });
        out.insert(rel, node);
        if is_dir {
            walk(base, &path, out);
        }
    }
}

/// Panic with every difference between `expected` and `actual`, naming `what`.
pub fn assert_snap_eq(what: &str, expected: &Snap, actual: &Snap) {
    let mut problems = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => problems.push(format!("missing: {k:?} ({v:?})")),
            Some(a) if a != v => problems.push(format!(
                "differs: {k:?}\n    expected {v:?}\n    got      {a:?}"
            )),
            Some(_) => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            problems.push(format!("unexpected: {k:?} ({v:?})"));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Compare two folders strictly (root folder included).
pub fn assert_same_dir(what: &str, expected: &Path, actual: &Path) {
    assert_snap_eq(
        what,
        &snapshot_with_root(expected),
        &snapshot_with_root(actual),
    );
}

/// Only the files of a snapshot (what a file-level assertion needs).
pub fn files_of(s: &Snap) -> Vec<&str> {
    s.iter()
        .filter(|(_, n)| matches!(n, Node::File { .. }))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// Deterministic pseudo-random bytes (incompressible).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Set a file's or folder's mtime (seconds and nanoseconds since the epoch).
pub fn set_mtime(path: &Path, secs: u64, nanos: u32) {
    let t = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.set_modified(t)
        .unwrap_or_else(|e| panic!("set mtime {}: {e}", path.display()));
}

pub fn write_file(path: &Path, content: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    set_mode(path, mode);
}

pub const MIB: usize = 1 << 20;

/// A long folder name, so stored paths exceed the 100 bytes of a classic tar header.
pub fn long_name() -> String {
    format!("a-rather-long-folder-name-{}", "x".repeat(90))
}

/// The rich tree the round-trip tests use, under `data`: nested folders, an empty folder, files of
/// 0 bytes, 1 byte and a few MiB (random, so `volume_size_mb: 1` splits them into volumes),
/// modes 0600/0640/0644/0755, folders 0700/0750, relative, absolute and dangling symlinks, hidden
/// files, spaces and unicode in names, a stored path over 100 bytes, an old mtime with
/// nanoseconds, names with tabs, newlines, backslashes and glob characters. Returns the number of
/// regular files written.
pub fn build_rich_tree(data: &Path) -> usize {
    let f = |rel: &str, content: &[u8], mode: u32| write_file(&data.join(rel), content, mode);
    f("zero.bin", b"", 0o644);
    f("one.bin", b"\x00", 0o600);
    f("docs/readme.txt", b"read me\n", 0o640);
    f("docs/nested/run.sh", b"#!/bin/sh\necho hello\n", 0o755);
    f(
        "docs/nested/deeper/deepest/leaf.txt",
        b"four levels down\n",
        0o644,
    );
    f("private/secret.key", &random_bytes(1, 32), 0o600);
    let big = |name: &str, seed: u64, len: usize, mode: u32| {
        write_file(&data.join("big").join(name), &random_bytes(seed, len), mode)
    };
    big("random-1.5MiB.bin", 2, MIB * 3 / 2, 0o644);
    big("random-1.1MiB.bin", 3, MIB * 11 / 10, 0o640);
    big("random-300KiB.bin", 4, 300 << 10, 0o600);
    let text = b"the same line again and again\n".repeat(MIB * 11 / 10 / 30);
    f("big/compressible-1.1MiB.txt", &text, 0o644);
    f("name with spaces.txt", b"spaces in the name\n", 0o644);
    f(
        "ünïcødé 日本語/файл с пробелами.txt",
        "unicode content: ✓ λ 日本\n".as_bytes(),
        0o640,
    );
    f(".hidden", b"dotfile\n", 0o600);
    f(
        "docs/nested-not-this.txt",
        b"a sibling that shares a prefix\n",
        0o644,
    );
    f("odd names/tab\tand\\backslash", b"tab\n", 0o644);
    f(
        "odd names/star*question?colon:",
        b"glob characters\n",
        0o644,
    );
    f("odd names/new\nline", b"newline in the name\n", 0o644);
    f("odd names/-dash-first", b"dash\n", 0o644);
    f(".config/app.toml", b"key = \"value\"\n", 0o644);
    let long = format!("{}/{}/file-at-the-end.txt", long_name(), long_name());
    f(&long, b"long path\n", 0o644);
    let old = data.join("docs/old-file.txt");
    write_file(&old, b"from 2001\n", 0o644);
    set_mtime(&old, 981_173_106, 123_456_789);

    std::fs::create_dir_all(data.join("empty")).unwrap();
    std::fs::create_dir_all(data.join("empty-private/also empty")).unwrap();
    set_mode(&data.join("private"), 0o700);
    set_mode(&data.join("empty-private"), 0o750);
    set_mode(&data.join("empty-private/also empty"), 0o700);
    std::os::unix::fs::symlink("docs/readme.txt", data.join("link-to-readme")).unwrap();
    std::os::unix::fs::symlink("../zero.bin", data.join("docs/link up")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", data.join("dangling")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", data.join("absolute-link")).unwrap();
    // A folder mtime that is not "now", so a restore that forgets folder times shows.
    set_mtime(&data.join("docs/nested"), 1_000_000_000, 42);
    21
}

/// `restore --backup-id ID --target <fresh>` plus `extra` args; returns (JSON, target).
pub fn restore_json(p: &Project, id: &str, extra: &[&str]) -> (Value, PathBuf) {
    let target = p.root().join(format!("restore-{}", rand_suffix()));
    let v = p.json(&Project::restore_args(id, &target, extra), 0);
    (v, target)
}

/// The backup id of a `backup run` response.
pub fn id_of(v: &Value) -> String {
    v["backup_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no backup_id in {v}"))
        .to_string()
}

/// A `totals` counter of a `backup run` response.
pub fn total(v: &Value, key: &str) -> u64 {
    v["totals"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no totals.{key} in {v}"))
}
