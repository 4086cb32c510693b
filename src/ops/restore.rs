//! `restore`: write a backup's snapshot into a target folder, verified, never outside it (the
//! engine and its safety rules are in `extract`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::Extraction;
use super::restore_roots::{confine_to_roots, existing_entries};
use super::{Cancel, Dr, Progress};
use crate::error::{Error, Result};
use crate::present;
use crate::repo::BackupType;

/// Where a restore may write: the policy a face chooses and the operation applies, so every
/// face (command line, MCP, daemon) gets the same checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Placement {
    /// Only inside the configured restore roots (`mcp.restore_roots`); a relative target is
    /// taken inside the first root. Restoring over data needs `overwrite` and `confirm`. The
    /// default for every caller that is not a person at the command line.
    #[default]
    InsideRestoreRoots,
    /// A new folder `<backup>-restored-<time>` in the first restore root, never over data;
    /// `target_dir` is not used.
    NewFolderInRestoreRoot,
    /// Anywhere the user may write: a person chose the folder on the command line.
    Anywhere,
}

/// Options of a restore (`restore`, `restore_run`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RestoreOptions {
    /// A backup id, or "latest" (default).
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// Where to restore: a folder inside one of the configured restore roots (mcp.restore_roots);
    /// a relative path is taken inside the first root. Created if missing.
    #[arg(
        long = "target",
        value_name = "DIR",
        help = "Folder to restore into (created if missing; must be empty unless --overwrite)"
    )]
    pub target_dir: PathBuf,
    /// With backup_id "latest": the newest backup of this host (default: the host this process
    /// presents, `backup.host` or the system's host name). Ignored for a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Restore the state at this instant instead of a backup id: the newest backup or
    /// continuous point (of `host`) started at or before it. RFC 3339
    /// (2026-12-05T10:15:00Z) or "2026-12-05 10:15:00" (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Only these stored paths (files or folders, as listed in the backup); empty restores all.
    #[serde(default)]
    #[arg(
        long = "path",
        value_name = "P",
        help = "Restore only this stored path (repeatable)"
    )]
    pub paths: Vec<String>,
    /// Replace files in a target folder that is not empty (also needs confirm=true).
    #[serde(default)]
    #[arg(
        long,
        help = "Allow a non-empty target and replace files of the same name"
    )]
    pub overwrite: bool,
    /// Restore setuid, setgid and sticky bits as the backup has them; without it they are
    /// dropped (and the response warns which entries had them). Command line only: agents never
    /// restore them.
    #[serde(skip)]
    #[arg(long)]
    pub keep_special_bits: bool,
    /// Must be true to restore over existing data. On the command line the command itself is
    /// the confirmation.
    #[serde(default)]
    #[arg(skip = true)]
    pub confirm: bool,
    /// Where the restore may write (not an argument: the face's policy).
    #[serde(skip)]
    #[schemars(skip)]
    #[arg(skip = Placement::Anywhere)]
    pub placement: Placement,
}

impl RestoreOptions {
    /// A restore of `backup_id` into `target_dir`, anywhere, confirmed (machinery callers that
    /// chose the folder themselves, such as the scratch restore).
    pub fn into_folder(backup_id: &str, target_dir: PathBuf) -> RestoreOptions {
        RestoreOptions {
            backup_id: backup_id.to_string(),
            target_dir,
            host: None,
            at: None,
            paths: Vec::new(),
            overwrite: false,
            keep_special_bits: false,
            confirm: true,
            placement: Placement::Anywhere,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RestoreResponse {
    pub backup_id: String,
    pub backup_type: BackupType,
    /// The backups whose volumes were read (the chain the restore used).
    pub chain: Vec<String>,
    pub target: String,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub volumes_read: u64,
    /// Every restored file's SHA-256 was checked against the manifest.
    pub verified: bool,
    pub duration_seconds: f64,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    pub async fn restore(
        &self,
        req: &RestoreOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<RestoreResponse> {
        let at = match &req.at {
            Some(t) if req.backup_id != super::defaults::LATEST => {
                return Err(Error::usage(format!(
                    "both a backup id ({}) and a time ({t}) were given",
                    req.backup_id
                ))
                .with_guidance("give one: --at picks the backup or point holding that instant"));
            }
            Some(t) => Some(super::points::parse_instant(t)?),
            None => None,
        };
        let target = self.restore_target(req)?;
        let job = Extraction {
            at,
            backup_id: &req.backup_id,
            target: &target,
            paths: &req.paths,
            overwrite: req.overwrite,
            keep_special_bits: req.keep_special_bits,
            host: req.host.as_deref(),
        };
        let x = self.extract(&job, progress, cancel, None).await?;
        let message = format!(
            "restored {} files ({}) from {} into {}{}",
            x.files,
            present::bytes(x.bytes),
            x.backup_id,
            x.target.display(),
            if x.verified {
                ", every file verified"
            } else {
                ""
            }
        );
        Ok(RestoreResponse {
            backup_id: x.backup_id,
            backup_type: x.backup_type,
            chain: x.chain,
            target: x.target.display().to_string(),
            files: x.files,
            dirs: x.dirs,
            symlinks: x.symlinks,
            bytes: x.bytes,
            volumes_read: x.volumes_read,
            verified: x.verified,
            duration_seconds: x.duration_seconds,
            message,
            warnings: x.warnings,
        })
    }

    /// The folder a restore writes into, by the options' placement policy; refuses a target
    /// outside the restore roots, and restoring over data without `overwrite` and `confirm`.
    fn restore_target(&self, req: &RestoreOptions) -> Result<PathBuf> {
        let roots = &self.settings.settings.mcp.restore_roots;
        let target = match req.placement {
            Placement::Anywhere => req.target_dir.clone(),
            Placement::InsideRestoreRoots => confine_to_roots(&req.target_dir, roots)?,
            Placement::NewFolderInRestoreRoot => {
                let root = confine_to_roots(Path::new("."), roots)?;
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
                let name = if req.backup_id.is_empty() {
                    super::defaults::LATEST
                } else {
                    &req.backup_id
                };
                // A fresh folder: never over live data, never over an earlier restore.
                return Ok(root.join(format!("{name}-restored-{stamp}")));
            }
        };
        let existing = existing_entries(&target);
        if existing > 0 && req.placement != Placement::Anywhere && !req.overwrite {
            return Err(Error::refused(format!(
                "{} is not empty ({existing} entries); nothing was restored",
                target.display()
            ))
            .with_guidance(
                "restore into a new or empty folder, or pass overwrite=true and confirm=true to \
                 replace files of the same name",
            ));
        }
        if existing > 0 && req.overwrite && !req.confirm {
            return Err(Error::refused(format!(
                "restoring into {} would replace files among its {existing} entries and needs \
                 confirm=true; nothing was restored",
                target.display()
            ))
            .with_guidance(
                "confirm with the user, then call again with overwrite=true and confirm=true",
            ));
        }
        Ok(target)
    }
}
