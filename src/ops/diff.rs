//! `diff`: the live sources against a backup, path by path: what was added, changed or removed
//! since it, with sizes and modification times. The detection step of an incident on its own:
//! scope the damage, then restore only the affected paths.
//!
//! Read-only: it reads the backup's manifest (no backup data, no repository lock) and scans the
//! live path sources; with `content` it also reads the live files whose change stamp differs.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::drift::Difference;
use super::drift::{self, Change, METHOD, Scope, Side, Status};
use super::{Cancel, Dr};
use crate::error::{Error, Result};
use crate::present;
use crate::repo::BackupType;
use crate::repo::catalog::Catalog;
use crate::repo::manifest::EntryKind;

/// Options of a diff (`diff`, `backup_diff`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DiffOptions {
    /// The backup to compare the live sources with: a backup id, or "latest" (default).
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// With backup_id "latest": the newest backup of this host (default: the host this process
    /// presents, `backup.host` or the system's host name). Ignored for a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Only these stored paths (files or folders, as the backup lists them, e.g. data/app.db or
    /// data); empty compares everything.
    #[serde(default)]
    #[arg(
        long = "path",
        value_name = "P",
        help = "Compare only this stored path or folder (repeatable)"
    )]
    pub paths: Vec<String>,
    /// At most this many entries listed per kind (added, changed, removed); the counts are
    /// always complete. 0 lists all.
    #[serde(default = "super::defaults::diff_limit")]
    #[schemars(range(min = 0))]
    #[arg(long, value_name = "N", default_value_t = super::defaults::DIFF_LIMIT)]
    pub limit: i64,
    /// Also compare content: hash each live file whose change stamp differs at the same size
    /// and compare its SHA-256 with the backup's; a file with the same content is then not
    /// reported as changed. Reads those files.
    #[serde(default)]
    #[arg(long)]
    pub content: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            backup_id: super::defaults::latest(),
            host: None,
            paths: Vec::new(),
            limit: super::defaults::DIFF_LIMIT,
            content: false,
        }
    }
}

/// One side of a path: as the backup holds it, or as it is live.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct EntryState {
    pub kind: EntryKind,
    /// Bytes (files; 0 for folders and symlinks).
    pub size: u64,
    /// Modification time.
    pub modified: DateTime<Utc>,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub target: Option<String>,
}

impl From<&Side> for EntryState {
    fn from(s: &Side) -> Self {
        EntryState {
            kind: s.kind,
            size: s.size,
            modified: DateTime::from_timestamp_nanos(s.mtime_ns),
            target: s.target.clone(),
        }
    }
}

/// One path that differs between the backup and the live sources.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DiffEntry {
    /// The stored path, as the backup lists it (`restore --path` takes it).
    pub path: String,
    /// What it is live (added, changed) or in the backup (removed).
    pub kind: EntryKind,
    /// As the backup holds it (changed, removed; absent for added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<EntryState>,
    /// As it is live (added, changed; absent for removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<EntryState>,
    /// What differs (changed entries; empty for added and removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<Difference>,
}

impl From<&Change> for DiffEntry {
    fn from(c: &Change) -> Self {
        let kind = c
            .live
            .as_ref()
            .or(c.stored.as_ref())
            .map_or(EntryKind::File, |s| s.kind);
        DiffEntry {
            path: c.path.clone(),
            kind,
            backup: c.stored.as_ref().map(EntryState::from),
            live: c.live.as_ref().map(EntryState::from),
            differs: c.differs.clone(),
        }
    }
}

/// How many entries of one kind of change, complete (not capped by the limit).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ChangeCount {
    pub total: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Bytes of those files: live for added and changed, in the backup for removed.
    pub bytes: u64,
}

impl ChangeCount {
    fn add(&mut self, kind: EntryKind, bytes: u64) {
        self.total += 1;
        self.bytes += bytes;
        match kind {
            EntryKind::File => self.files += 1,
            EntryKind::Dir => self.dirs += 1,
            EntryKind::Symlink => self.symlinks += 1,
        }
    }
}

/// The complete counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct DiffCounts {
    pub added: ChangeCount,
    pub changed: ChangeCount,
    pub removed: ChangeCount,
    /// Paths compared and found the same.
    pub unchanged: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DiffResponse {
    /// The backup compared with.
    pub backup_id: String,
    pub backup_type: BackupType,
    /// When that backup finished: every difference happened after it.
    pub backup_finished: DateTime<Utc>,
    /// The host that made it.
    pub host: String,
    /// The stored paths compared (empty: everything the live path sources and the backup hold).
    pub paths: Vec<String>,
    /// Whether anything differs.
    pub differences: bool,
    /// Live, not in the backup (at most `limit`, by path).
    pub added: Vec<DiffEntry>,
    /// In both, different (at most `limit`, by path).
    pub changed: Vec<DiffEntry>,
    /// In the backup, missing live: what restoring these paths brings back (at most `limit`).
    pub removed: Vec<DiffEntry>,
    /// Complete counts per kind of change.
    pub counts: DiffCounts,
    /// Whether a list above was cut at `limit` (the counts are complete).
    pub truncated: bool,
    /// The limit applied per list (0: none).
    pub limit: i64,
    /// Bytes of the live files added or changed since the backup: what restoring the whole
    /// backup over the live sources would lose.
    pub bytes_at_risk: u64,
    /// Bytes of the backup's files that were changed or removed live: what restoring the
    /// affected paths brings back.
    pub bytes_to_restore: u64,
    /// Whether content was compared by SHA-256 (`content`), and how many files were hashed.
    pub content_compared: bool,
    pub files_hashed: u64,
    /// How it was compared, and what was not (command sources).
    pub method: String,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    /// Compare the live sources with a backup. Differences are the result, not an error;
    /// errors are for what stops the comparison (settings, key, an unknown backup, a path that
    /// names nothing).
    pub async fn diff(&self, req: &DiffOptions, cancel: &Cancel) -> Result<DiffResponse> {
        if req.limit < 0 {
            return Err(Error::usage(format!(
                "limit must be 0 (all) or more, not {}",
                req.limit
            )));
        }
        let paths = req
            .paths
            .iter()
            .map(|p| drift::stored_path_arg(p))
            .collect::<Result<Vec<String>>>()?;
        let repo = self.open_repo().await?;
        let catalog = Catalog::load(&repo).await?;
        super::hosts::check_host_arg(req.host.as_deref())?;
        let summary = self
            .resolve_backup(&catalog, &req.backup_id, req.host.as_deref())?
            .clone();
        let manifest = repo.read_manifest(&summary.backup_id).await?;

        let dr = self.clone();
        let scope_paths = paths.clone();
        let content = req.content;
        let token = cancel.clone();
        let c = tokio::task::spawn_blocking(move || {
            let scope = Scope {
                paths: &scope_paths,
                files_only: false,
                content,
            };
            dr.compare_live(&manifest, &scope, &token)
        })
        .await
        .map_err(|e| Error::internal(format!("the comparison failed: {e}")))??;

        if !c.unmatched.is_empty() {
            return Err(Error::usage(format!(
                "{} names nothing in {} or in the live sources",
                c.unmatched
                    .iter()
                    .map(|p| format!("--path {p}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                summary.backup_id
            ))
            .with_guidance(
                "paths are stored paths as the backup lists them (e.g. data/app.db, or a folder \
                 such as data); run diff without --path to see them",
            ));
        }

        let mut warnings = c.warnings;
        if paths
            .iter()
            .any(|p| p.starts_with(super::scan::COMMAND_PREFIX))
        {
            warnings.push(format!(
                "command outputs ({}/...) are not compared: their commands are not run",
                super::scan::COMMAND_PREFIX
            ));
        }
        let cap = usize::try_from(req.limit).unwrap_or(usize::MAX);
        let cap = if cap == 0 { usize::MAX } else { cap };
        let mut counts = DiffCounts {
            unchanged: c.unchanged,
            ..DiffCounts::default()
        };
        let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        let mut truncated = false;
        let mut bytes_at_risk = 0;
        let mut bytes_to_restore = 0;
        for ch in &c.changes {
            let live = ch.live.as_ref().map_or(0, file_bytes);
            let stored = ch.stored.as_ref().map_or(0, file_bytes);
            let entry = DiffEntry::from(ch);
            let (count, list, bytes) = match ch.status {
                Status::Added => {
                    bytes_at_risk += live;
                    (&mut counts.added, &mut added, live)
                }
                Status::Changed => {
                    bytes_at_risk += live;
                    bytes_to_restore += stored;
                    (&mut counts.changed, &mut changed, live)
                }
                Status::Removed => {
                    bytes_to_restore += stored;
                    (&mut counts.removed, &mut removed, stored)
                }
            };
            count.add(entry.kind, bytes);
            if list.len() < cap {
                list.push(entry);
            } else {
                truncated = true;
            }
        }
        let differences = !c.changes.is_empty();
        let scope = if paths.is_empty() {
            String::new()
        } else {
            format!(" under {}", paths.join(", "))
        };
        let message = if differences {
            format!(
                "since {} ({}){scope}: {} added, {} changed, {} removed; {} of the backup's \
                 files to restore, {} added or changed live since",
                summary.backup_id,
                present::timestamp(summary.finished),
                counts.added.total,
                counts.changed.total,
                counts.removed.total,
                present::bytes(bytes_to_restore),
                present::bytes(bytes_at_risk),
            )
        } else {
            format!(
                "no differences{scope} between the live sources and {} ({})",
                summary.backup_id,
                present::timestamp(summary.finished)
            )
        };
        let method = if content {
            format!(
                "{METHOD}; with content: a file whose stamp differs at the same size is hashed \
                 and compared by SHA-256 (equal content is not a change)"
            )
        } else {
            METHOD.to_string()
        };
        Ok(DiffResponse {
            backup_id: summary.backup_id.clone(),
            backup_type: summary.backup_type,
            backup_finished: summary.finished,
            host: summary.host.clone(),
            paths,
            differences,
            added,
            changed,
            removed,
            counts,
            truncated,
            limit: req.limit,
            bytes_at_risk,
            bytes_to_restore,
            content_compared: content,
            files_hashed: c.hashed,
            method,
            message,
            warnings,
        })
    }
}

/// The bytes a side holds: a file's size, 0 for folders and symlinks.
fn file_bytes(s: &Side) -> u64 {
    if s.kind == EntryKind::File { s.size } else { 0 }
}
