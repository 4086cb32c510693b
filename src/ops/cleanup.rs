//! `backup cleanup`: apply retention (whole dependency closures only) and remove orphans.

use std::sync::Arc;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::retention::{RetentionCandidate, RetentionPlan, RetentionPolicy, plan_retention};
use super::{Dr, OperationEvent, Progress, with_lock};
use crate::error::Result;
use crate::repo::catalog::Catalog;
use crate::repo::locks::LockMode;
use crate::repo::{MANIFEST_NAME, Repository, backup_key};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupRequest {
    /// Print the plan and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrphanItem {
    /// The unfinished backup, or "tmp" for leftover temporary files.
    pub backup_id: String,
    pub objects: u64,
    pub bytes: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupResponse {
    pub dry_run: bool,
    pub policy: RetentionPolicy,
    /// Every backup, kept or removed, with the reason.
    pub plan: RetentionPlan,
    pub orphans: Vec<OrphanItem>,
    /// Stored bytes removed (or that would be, in a dry run).
    pub bytes_freed: u64,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    /// Apply retention (or plan it: `dry_run`). Emits `CleanupFinished` or `CleanupFailed` to
    /// the observer.
    pub async fn cleanup(
        &self,
        req: &CleanupRequest,
        progress: Arc<dyn Progress>,
    ) -> Result<CleanupResponse> {
        let r = async {
            let repo = self.open_repo().await?;
            let guard = self
                .lock(LockMode::Exclusive, "backup cleanup", &*progress)
                .await?;
            with_lock(guard, self.cleanup_locked(&repo, req)).await
        }
        .await;
        self.observed(
            r,
            OperationEvent::CleanupFinished,
            OperationEvent::CleanupFailed,
        )
    }

    async fn cleanup_locked(
        &self,
        repo: &Repository,
        req: &CleanupRequest,
    ) -> Result<CleanupResponse> {
        let catalog = Catalog::load(repo).await?;
        let plan = self.retention_plan(&catalog, Utc::now())?;
        let mut warnings = Vec::new();
        for u in &catalog.unreadable {
            warnings.push(format!(
                "{} has an unreadable manifest ({}); it is kept for you to inspect",
                u.backup_id, u.error.message
            ));
        }
        // We hold the exclusive lock: no backup is running, so unfinished backups are orphans.
        let mut orphans: Vec<OrphanItem> = catalog
            .unfinished
            .iter()
            .map(|u| OrphanItem {
                backup_id: u.backup_id.clone(),
                objects: u.objects.len() as u64,
                bytes: u.objects.iter().map(|o| o.size).sum(),
                reason: "unfinished backup (crashed, killed or cancelled): it has no manifest"
                    .into(),
            })
            .collect();
        let tmp = repo.storage().list(crate::storage::TMP_PREFIX).await?;
        if !tmp.is_empty() {
            orphans.push(OrphanItem {
                backup_id: "tmp".into(),
                objects: tmp.len() as u64,
                bytes: tmp.iter().map(|o| o.size).sum(),
                reason: "temporary files of interrupted writes".into(),
            });
        }
        let removed_bytes: u64 = plan
            .remove
            .iter()
            .filter_map(|p| catalog.get(&p.backup_id))
            .map(|b| b.totals.stored_bytes)
            .sum();
        let bytes_freed = removed_bytes + orphans.iter().map(|o| o.bytes).sum::<u64>();
        if !req.dry_run {
            for item in &plan.remove {
                // The manifest goes first: from that moment the backup no longer exists.
                repo.storage()
                    .delete(&backup_key(&item.backup_id, MANIFEST_NAME))
                    .await?;
                for o in repo
                    .storage()
                    .list(&format!("backups/{}/", item.backup_id))
                    .await?
                {
                    repo.storage().delete(&o.key).await?;
                }
                repo.storage()
                    .delete_folder(&format!("backups/{}/", item.backup_id))
                    .await?;
            }
            for u in &catalog.unfinished {
                for o in &u.objects {
                    repo.storage().delete(&o.key).await?;
                }
                repo.storage()
                    .delete_folder(&format!("backups/{}/", u.backup_id))
                    .await?;
            }
            for o in &tmp {
                repo.storage().delete(&o.key).await?;
            }
        }
        let verb = if req.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let message = format!(
            "{verb} {} backup(s) and {} orphan group(s), {} freed; {} backup(s) kept",
            plan.remove.len(),
            orphans.len(),
            super::human_bytes(bytes_freed),
            plan.keep.len()
        );
        Ok(CleanupResponse {
            dry_run: req.dry_run,
            policy: RetentionPolicy::from_settings(&self.settings.settings.backup)?,
            plan,
            orphans,
            bytes_freed,
            message,
            warnings,
        })
    }
}

impl Dr {
    /// The retention plan for `catalog` at `now` (no lock: cleanup holds one; the report only
    /// reads the plan).
    pub(crate) fn retention_plan(
        &self,
        catalog: &Catalog,
        now: chrono::DateTime<Utc>,
    ) -> Result<RetentionPlan> {
        let policy = RetentionPolicy::from_settings(&self.settings.settings.backup)?;
        let candidates: Vec<RetentionCandidate> = catalog
            .backups
            .iter()
            .map(|b| {
                // A backup needs the backups its files are in and its whole parent chain (so the
                // chain stays intact for validation and for the next incremental).
                let mut needs: std::collections::BTreeSet<String> =
                    b.depends_on.iter().cloned().collect();
                if let Some(p) = &b.parent {
                    needs.insert(p.clone());
                }
                RetentionCandidate {
                    backup_id: b.backup_id.clone(),
                    backup_type: b.backup_type,
                    finished: b.finished,
                    depends_on: needs.into_iter().collect(),
                }
            })
            .collect();
        Ok(plan_retention(&candidates, &policy, now))
    }
}
