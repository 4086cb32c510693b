//! The live sources against a backup: which stored paths were added, changed or removed since
//! the backup, by the change stamps an incremental uses. Restore tests (drift), `diff` and drills
//! share this one comparison.
//!
//! Only path sources are compared: command sources are not run, so their stored outputs (under
//! [`COMMAND_PREFIX`]) are left out on both sides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scan::{COMMAND_PREFIX, Scanned};
use super::{Cancel, Dr};
use crate::error::{Error, Result};
use crate::repo::hash::digest_of_file;
use crate::repo::manifest::{Entry, EntryKind, Manifest};
use crate::repo::paths::is_under;

/// How the comparison works, in one sentence for responses.
pub const METHOD: &str = "live path sources scanned and compared with the backup's manifest by \
                          change stamp (size, modification and status-change times, inode; a \
                          SQLite database's WAL); command sources are not run";

/// Paths kept in each of a restore test's drift lists.
const DRIFT_PATHS: usize = 20;

/// What changed in the live sources since the backup: what a recovery now would lose.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    /// Whether the live sources could be compared at all.
    pub compared: bool,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// Bytes of the live files added or changed since the backup.
    pub bytes_at_risk: u64,
    /// The first paths of each kind (at most 20 each).
    pub added_paths: Vec<String>,
    pub changed_paths: Vec<String>,
    pub removed_paths: Vec<String>,
    /// How it was compared.
    pub method: String,
}

/// What differs between the backup's entry and the live one at the same path.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// A file in one, a folder or symlink in the other.
    Kind,
    /// The file's size.
    Size,
    /// The file's modification time.
    Mtime,
    /// Only the rest of the change stamp (status-change time, inode, a SQLite WAL): the
    /// content may be the same.
    Stamp,
    /// The symlink's target.
    Target,
    /// The file's content, by SHA-256 (only when the content was compared).
    Content,
}

/// Which change a path shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Live, not in the backup.
    Added,
    /// In both, different.
    Changed,
    /// In the backup, not live.
    Removed,
}

/// One side of a path: what the backup holds, or what is live.
#[derive(Debug, Clone)]
pub(crate) struct Side {
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i64,
    pub target: Option<String>,
}

impl Side {
    fn of(e: &Entry) -> Side {
        Side {
            kind: e.kind,
            size: e.size,
            mtime_ns: e.mtime_ns,
            target: e.target.clone(),
        }
    }
}

/// One path that differs.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub path: String,
    pub status: Status,
    /// In the backup (changed, removed).
    pub stored: Option<Side>,
    /// Live (added, changed).
    pub live: Option<Side>,
    /// What differs (changed only), in a fixed order.
    pub differs: Vec<Difference>,
}

/// What to compare.
pub(crate) struct Scope<'a> {
    /// Only these stored paths and what lies under them; all when empty.
    pub paths: &'a [String],
    /// Files only (a restore test's drift), or files, folders and symlinks.
    pub files_only: bool,
    /// For files whose stamp differs at the same size: hash the live file and compare its
    /// SHA-256 with the backup's; an equal one is not a change.
    pub content: bool,
}

/// The comparison: every difference, sorted by path, and what was the same.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub changes: Vec<Change>,
    /// Paths compared and found the same.
    pub unchanged: u64,
    /// Of those, files whose stamp differed but whose content matched (with `content`).
    pub same_content: u64,
    /// Files hashed to compare content.
    pub hashed: u64,
    /// Requested paths that name nothing, in the backup or live.
    pub unmatched: Vec<String>,
    /// What the live scan or the hashing could not read.
    pub warnings: Vec<String>,
}

fn compared_kind(kind: EntryKind, files_only: bool) -> bool {
    !files_only || kind == EntryKind::File
}

fn is_command_output(path: &str) -> bool {
    is_under(path, COMMAND_PREFIX)
}

/// Compare `live` with the backup's `manifest` within `scope`. Reads live files only to hash
/// them (`scope.content`).
pub(crate) fn compare(
    live: &[Scanned],
    manifest: &Manifest,
    scope: &Scope<'_>,
    cancel: &Cancel,
) -> Result<Comparison> {
    let wanted = |p: &str| scope.paths.is_empty() || scope.paths.iter().any(|w| is_under(p, w));
    let stored: BTreeMap<&str, &Entry> = manifest
        .entries
        .iter()
        .filter(|e| compared_kind(e.kind, scope.files_only))
        .filter(|e| !is_command_output(&e.path) && wanted(&e.path))
        .map(|e| (e.path.as_str(), e))
        .collect();
    let mut out = Comparison::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    // The backup folds a database's WAL into its snapshot and never stores the side files.
    let dbs: BTreeSet<&str> = manifest
        .entries
        .iter()
        .filter(|e| e.origin == crate::repo::manifest::Origin::Sqlite)
        .map(|e| e.path.as_str())
        .collect();
    for item in live
        .iter()
        .filter(|i| compared_kind(i.entry.kind, scope.files_only))
        .filter(|i| wanted(&i.entry.path))
        .filter(|i| !super::sqlite::is_sidecar(&i.entry.path, &dbs))
    {
        if cancel.is_cancelled() {
            return Err(super::cancelled());
        }
        let e = &item.entry;
        seen.insert(e.path.as_str());
        let Some(old) = stored.get(e.path.as_str()) else {
            out.changes.push(Change {
                path: e.path.clone(),
                status: Status::Added,
                stored: None,
                live: Some(Side::of(e)),
                differs: Vec::new(),
            });
            continue;
        };
        let mut differs = differences(old, e);
        if differs.is_empty() {
            out.unchanged += 1;
            continue;
        }
        if scope.content
            && old.kind == EntryKind::File
            && e.kind == EntryKind::File
            && old.size == e.size
        {
            match same_content(old, item) {
                Ok(true) => {
                    out.hashed += 1;
                    out.same_content += 1;
                    out.unchanged += 1;
                    continue;
                }
                Ok(false) => {
                    out.hashed += 1;
                    differs.push(Difference::Content);
                }
                Err(why) => out
                    .warnings
                    .push(format!("{}: content not compared: {why}", e.path)),
            }
        }
        differs.sort();
        differs.dedup();
        out.changes.push(Change {
            path: e.path.clone(),
            status: Status::Changed,
            stored: Some(Side::of(old)),
            live: Some(Side::of(e)),
            differs,
        });
    }
    for (path, old) in stored.iter().filter(|(p, _)| !seen.contains(*p)) {
        out.changes.push(Change {
            path: path.to_string(),
            status: Status::Removed,
            stored: Some(Side::of(old)),
            live: None,
            differs: Vec::new(),
        });
    }
    out.changes.sort_by(|a, b| a.path.cmp(&b.path));
    out.unmatched = scope
        .paths
        .iter()
        .filter(|w| {
            !manifest.entries.iter().any(|e| is_under(&e.path, w))
                && !live.iter().any(|i| is_under(&i.entry.path, w))
        })
        .cloned()
        .collect();
    Ok(out)
}

/// What differs between a stored entry and a live one (empty: the same).
fn differences(old: &Entry, new: &Entry) -> Vec<Difference> {
    if old.kind != new.kind {
        return vec![Difference::Kind];
    }
    match new.kind {
        // A folder's own times change with every file in it; its files tell the story.
        EntryKind::Dir => Vec::new(),
        EntryKind::Symlink if old.target != new.target => vec![Difference::Target],
        EntryKind::Symlink => Vec::new(),
        EntryKind::File if old.stamp == new.stamp => Vec::new(),
        EntryKind::File => {
            let mut d = Vec::new();
            if old.size != new.size {
                d.push(Difference::Size);
            }
            if old.mtime_ns != new.mtime_ns {
                d.push(Difference::Mtime);
            }
            if d.is_empty() {
                d.push(Difference::Stamp);
            }
            d
        }
    }
}

/// Whether the live file's content has the SHA-256 the backup recorded for it.
fn same_content(old: &Entry, live: &Scanned) -> std::result::Result<bool, String> {
    let (kind, expected) = old.whole_digest().map_err(|e| e.message)?;
    let path: &PathBuf = live
        .read_from
        .as_ref()
        .ok_or_else(|| "no live file to read".to_string())?;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let (_, digest) = digest_of_file(&file, kind).map_err(|e| e.to_string())?;
    Ok(digest == expected)
}

impl Dr {
    /// Scan the live path sources and compare them with `manifest` within `scope`; the live
    /// scan's warnings join the comparison's.
    pub(crate) fn compare_live(
        &self,
        manifest: &Manifest,
        scope: &Scope<'_>,
        cancel: &Cancel,
    ) -> Result<Comparison> {
        let live = self.live_scan(cancel)?;
        let mut c = compare(&live.items, manifest, scope, cancel)?;
        let mut warnings = live.warnings;
        warnings.append(&mut c.warnings);
        c.warnings = warnings;
        Ok(c)
    }

    /// A restore test's drift: the live files against the backup's, by change stamp, at most
    /// 20 paths of each kind listed.
    pub(crate) fn drift(&self, manifest: &Manifest, cancel: &Cancel) -> Result<Drift> {
        let scope = Scope {
            paths: &[],
            files_only: true,
            content: false,
        };
        let c = self.compare_live(manifest, &scope, cancel)?;
        let mut d = Drift {
            compared: true,
            method: METHOD.into(),
            ..Drift::default()
        };
        let push = |v: &mut Vec<String>, p: &str| {
            if v.len() < DRIFT_PATHS {
                v.push(p.to_string());
            }
        };
        for ch in &c.changes {
            let live_size = ch.live.as_ref().map_or(0, |s| s.size);
            match ch.status {
                Status::Added => {
                    d.added += 1;
                    d.bytes_at_risk += live_size;
                    push(&mut d.added_paths, &ch.path);
                }
                Status::Changed => {
                    d.changed += 1;
                    d.bytes_at_risk += live_size;
                    push(&mut d.changed_paths, &ch.path);
                }
                Status::Removed => {
                    d.removed += 1;
                    push(&mut d.removed_paths, &ch.path);
                }
            }
        }
        Ok(d)
    }
}

/// A path argument for a comparison: a stored path as the backup lists it (`data/app.db`), with
/// a trailing `/` or a leading `./` tolerated.
pub(crate) fn stored_path_arg(p: &str) -> Result<String> {
    let t = p.trim().trim_start_matches("./").trim_end_matches('/');
    if t.is_empty() || t.starts_with('/') || t.split('/').any(|c| c == ".." || c.is_empty()) {
        return Err(Error::usage(format!(
            "--path {p:?} is not a stored path: name one as the backup lists it, relative, \
             e.g. data/app.db or data"
        ))
        .with_guidance("stored paths are shown by `diff` itself and in the backup's manifest"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::manifest::Origin;

    fn entry(kind: EntryKind, size: u64, mtime_ns: i64, stamp: &str) -> Entry {
        Entry {
            path: "data/x".into(),
            kind,
            mode: 0o644,
            mtime_ns,
            size,
            sha256: None,
            target: None,
            location: None,
            origin: Origin::File,
            ctime_ns: 0,
            inode: 0,
            dev: 0,
            stamp: stamp.into(),
            blocks: None,
        }
    }

    #[test]
    fn differences_name_what_changed_by_the_stamp() {
        let old = entry(EntryKind::File, 3, 10, "a");
        assert!(differences(&old, &entry(EntryKind::File, 3, 10, "a")).is_empty());
        assert_eq!(
            differences(&old, &entry(EntryKind::File, 4, 11, "b")),
            [Difference::Size, Difference::Mtime]
        );
        assert_eq!(
            differences(&old, &entry(EntryKind::File, 3, 10, "c")),
            [Difference::Stamp]
        );
        assert_eq!(
            differences(&old, &entry(EntryKind::Dir, 0, 10, "a")),
            [Difference::Kind]
        );
        // A folder's own times are not a change.
        let dir = entry(EntryKind::Dir, 0, 1, "d1");
        assert!(differences(&dir, &entry(EntryKind::Dir, 0, 2, "d2")).is_empty());
        let mut link = entry(EntryKind::Symlink, 0, 1, "l1");
        link.target = Some("a".into());
        let mut moved = entry(EntryKind::Symlink, 0, 2, "l2");
        moved.target = Some("b".into());
        assert_eq!(differences(&link, &moved), [Difference::Target]);
    }

    #[test]
    fn path_arguments_are_relative_stored_paths() {
        assert_eq!(stored_path_arg("./data/app/").unwrap(), "data/app");
        for bad in ["", "/etc", "data/../x", "a//b", "./"] {
            assert!(stored_path_arg(bad).is_err(), "{bad:?} accepted");
        }
    }
}
