//! Source scanning: walk path sources (with excludes), run command sources, stamp every entry.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::repo::hash::Sha256;
use globset::{Glob, GlobMatcher};

use super::Cancel;
use super::scratch::ScratchWork;
use crate::error::{Error, Result};
use crate::repo::manifest::{Entry, EntryKind, Origin, SourceRecord};
use crate::repo::paths::stored_path_for;
use crate::settings::ResolvedSource;

/// Prefix under which command sources' outputs are stored.
pub const COMMAND_PREFIX: &str = "_commands";

/// One scanned entry and where its bytes are read from.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub entry: Entry,
    pub read_from: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct ScanResult {
    /// Sorted by stored path.
    pub items: Vec<Scanned>,
    pub sources: Vec<SourceRecord>,
    pub warnings: Vec<String>,
}

struct Exclude {
    matcher: GlobMatcher,
    dir_only: bool,
    /// Matched against the path relative to the source root (else against the file name).
    anchored: bool,
}

fn compile_excludes(patterns: &[String]) -> Result<Vec<Exclude>> {
    patterns
        .iter()
        .map(|p| {
            let dir_only = p.ends_with('/');
            let pat = p.trim_end_matches('/').trim_start_matches("./");
            let anchored = pat.contains('/');
            let glob = globset::GlobBuilder::new(pat)
                .literal_separator(true)
                .build()
                .or_else(|_| Glob::new(pat))
                .map_err(|e| {
                    Error::settings(format!("exclude pattern {p:?} is not a valid glob: {e}"))
                })?;
            Ok(Exclude {
                matcher: glob.compile_matcher(),
                dir_only,
                anchored,
            })
        })
        .collect()
}

fn excluded(ex: &[Exclude], rel: &str, name: &str, is_dir: bool) -> bool {
    ex.iter().any(|e| {
        (!e.dir_only || is_dir)
            && if e.anchored {
                e.matcher.is_match(rel)
            } else {
                e.matcher.is_match(name)
            }
    })
}

fn stamp_of(m: &std::fs::Metadata) -> String {
    format!(
        "{}:{}.{}:{}.{}:{}:{}",
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
        m.dev()
    )
}

fn entry_from(path: String, kind: EntryKind, m: &std::fs::Metadata) -> Entry {
    Entry {
        path,
        kind,
        mode: m.mode() & 0o7777,
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        size: if kind == EntryKind::File { m.size() } else { 0 },
        sha256: None,
        target: None,
        location: None,
        origin: Origin::File,
        ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        inode: m.ino(),
        dev: m.dev(),
        stamp: stamp_of(m),
        blocks: None,
    }
}

pub struct ScanContext<'a> {
    pub project_root: &'a Path,
    pub global_exclude: &'a [String],
    /// Never backed up: the repository, the key file, the scratch folder.
    pub skip: &'a [PathBuf],
    /// Whether the sources are the defaults (a missing default source is only a warning).
    pub default_sources: bool,
    /// Where command outputs are written (a backup's private work folder); None for scans that
    /// run no commands.
    pub command_dir: Option<&'a ScratchWork>,
    pub cancel: &'a Cancel,
}

pub fn scan(sources: &[ResolvedSource], cx: &ScanContext<'_>) -> Result<ScanResult> {
    let mut out = ScanResult::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for source in sources {
        match source {
            ResolvedSource::Path { path, exclude } => {
                let mut patterns = cx.global_exclude.to_vec();
                patterns.extend(exclude.iter().cloned());
                let ex = compile_excludes(&patterns)?;
                let meta = match std::fs::symlink_metadata(path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && cx.default_sources => {
                        out.warnings.push(format!(
                            "default source {} does not exist; skipped",
                            path.display()
                        ));
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::from_io("read the source", path, e).with_guidance(
                            "fix backup.sources in the settings, or create the path",
                        ));
                    }
                };
                let stored = stored_path_for(cx.project_root, path)?;
                out.sources.push(SourceRecord {
                    kind: "path".into(),
                    source: path.display().to_string(),
                    stored_as: stored.clone(),
                });
                walk(path, &stored, "", &meta, &ex, cx, &mut out, &mut seen)?;
            }
            ResolvedSource::Command { name, command } => {
                let stored = format!("{COMMAND_PREFIX}/{name}");
                let item = run_command(name, command, &stored, cx)?;
                out.sources.push(SourceRecord {
                    kind: "command".into(),
                    source: command.join(" "),
                    stored_as: stored.clone(),
                });
                push(&mut out, &mut seen, item);
            }
        }
    }
    out.items.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
    Ok(out)
}

fn push(out: &mut ScanResult, seen: &mut BTreeMap<String, usize>, item: Scanned) {
    // Overlapping sources name the same path twice; the first one wins.
    if !seen.contains_key(&item.entry.path) {
        seen.insert(item.entry.path.clone(), out.items.len());
        out.items.push(item);
    }
}

#[allow(clippy::too_many_arguments)]
fn walk(
    abs: &Path,
    stored: &str,
    rel: &str,
    meta: &std::fs::Metadata,
    ex: &[Exclude],
    cx: &ScanContext<'_>,
    out: &mut ScanResult,
    seen: &mut BTreeMap<String, usize>,
) -> Result<()> {
    if cx.cancel.is_cancelled() {
        return Err(super::cancelled());
    }
    if cx.skip.iter().any(|s| s == abs) {
        out.warnings.push(format!(
            "{} is the repository, the key file or the scratch folder; it is never backed up",
            abs.display()
        ));
        return Ok(());
    }
    let ft = meta.file_type();
    if ft.is_file() {
        push(
            out,
            seen,
            Scanned {
                entry: entry_from(stored.to_string(), EntryKind::File, meta),
                read_from: Some(abs.to_path_buf()),
            },
        );
    } else if ft.is_symlink() {
        let target =
            std::fs::read_link(abs).map_err(|e| Error::from_io("read the link", abs, e))?;
        let mut e = entry_from(stored.to_string(), EntryKind::Symlink, meta);
        e.target = Some(target.to_string_lossy().into_owned());
        push(
            out,
            seen,
            Scanned {
                entry: e,
                read_from: None,
            },
        );
    } else if ft.is_dir() {
        push(
            out,
            seen,
            Scanned {
                entry: entry_from(stored.to_string(), EntryKind::Dir, meta),
                read_from: None,
            },
        );
        let rd = match std::fs::read_dir(abs) {
            Ok(rd) => rd,
            Err(e) => {
                out.warnings.push(format!(
                    "cannot read folder {}: {e}; skipped",
                    abs.display()
                ));
                return Ok(());
            }
        };
        let mut children: Vec<(String, PathBuf)> = Vec::new();
        for de in rd {
            let de = de.map_err(|e| Error::from_io("list", abs, e))?;
            match de.file_name().into_string() {
                Ok(name) => children.push((name, de.path())),
                Err(raw) => out.warnings.push(format!(
                    "{}: name is not UTF-8 ({raw:?}); skipped",
                    abs.display()
                )),
            }
        }
        children.sort();
        let names: std::collections::BTreeSet<&str> =
            children.iter().map(|(n, _)| n.as_str()).collect();
        let mut wal_stamps: BTreeMap<String, String> = BTreeMap::new();
        for (name, path) in &children {
            // An empty WAL holds nothing: the same database as no WAL (a reader's open, our own
            // snapshot included, creates one).
            if let Some(base) = name.strip_suffix("-wal")
                && names.contains(base)
                && let Ok(m) = std::fs::symlink_metadata(path)
                && m.size() > 0
            {
                // Not the ctime: SQLite touches the WAL's inode whenever a reader opens the
                // database (our own snapshot included); new writes change its size or mtime.
                let ws = format!("{}:{}.{}:{}", m.size(), m.mtime(), m.mtime_nsec(), m.ino());
                wal_stamps.insert(base.to_string(), ws);
            }
        }
        for (name, path) in children {
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let m = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    out.warnings
                        .push(format!("cannot stat {}: {e}; skipped", path.display()));
                    continue;
                }
            };
            if excluded(ex, &child_rel, &name, m.is_dir()) {
                continue;
            }
            let child_stored = format!("{stored}/{name}");
            let before = out.items.len();
            walk(&path, &child_stored, &child_rel, &m, ex, cx, out, seen)?;
            if let Some(ws) = wal_stamps.get(&name)
                && out.items.len() > before
            {
                let e = &mut out.items[before].entry;
                e.stamp = format!("{}|wal:{ws}", e.stamp);
            }
        }
    } else {
        out.warnings.push(format!(
            "{} is a socket, pipe or device; skipped",
            abs.display()
        ));
    }
    Ok(())
}

fn run_command(
    name: &str,
    command: &[String],
    stored: &str,
    cx: &ScanContext<'_>,
) -> Result<Scanned> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::settings(format!(
            "command source {name:?} has an empty command"
        )));
    };
    let command_dir = cx
        .command_dir
        .ok_or_else(|| Error::internal("a scan without a work folder cannot run commands"))?
        .sub("commands")?;
    let out_path = command_dir.join(name.replace('/', "_"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&out_path)
        .map_err(|e| Error::from_io("create", &out_path, e))?;
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(cx.project_root)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| {
            Error::io(format!(
                "cannot run command source {name:?} ({program}): {e}"
            ))
            .with_guidance("check that the program is installed and on PATH, or fix backup.sources")
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(Error::io(format!(
            "command source {name:?} failed ({}): {}",
            output.status,
            tail.trim()
        ))
        .with_guidance(
            "run the command by hand to see why; the backup was not made, nothing was stored",
        ));
    }
    let m = std::fs::metadata(&out_path).map_err(|e| Error::from_io("stat", &out_path, e))?;
    let mut f = std::fs::File::open(&out_path).map_err(|e| Error::from_io("read", &out_path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)
            .map_err(|e| Error::from_io("read", &out_path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let mut entry = entry_from(stored.to_string(), EntryKind::File, &m);
    entry.origin = Origin::Command;
    entry.mode = 0o600;
    entry.stamp = format!("sha256:{}", h.finish_hex());
    Ok(Scanned {
        entry,
        read_from: Some(out_path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_match_names_anchored_paths_and_folders() {
        let ex =
            compile_excludes(&["*.log".into(), "cache/".into(), "sub/skip.txt".into()]).unwrap();
        assert!(excluded(&ex, "a/b.log", "b.log", false));
        assert!(excluded(&ex, "x/cache", "cache", true));
        assert!(
            !excluded(&ex, "x/cache", "cache", false),
            "cache/ is for folders only"
        );
        assert!(excluded(&ex, "sub/skip.txt", "skip.txt", false));
        assert!(!excluded(&ex, "other/skip.txt", "skip.txt", false));
        assert!(!excluded(&ex, "keep.txt", "keep.txt", false));
    }
}
